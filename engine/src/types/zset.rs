//! The sorted set type: distinct members ordered by (score, member), scores IEEE doubles that are
//! never NaN, members binary strings compared byte by byte. Two representations, reported by
//! OBJECT ENCODING under Redis's names:
//!
//! - `listpack`, while there are at most `zset-max-listpack-entries` members of at most
//!   `zset-max-listpack-value` bytes (the thresholds come from [`Encodings`]): the entries packed in order in one exactly sized buffer,
//!   each `score (8 bytes, little endian) | member length (LEB128) | member`. A small sorted set
//!   is one allocation and 9 bytes per member beyond the member itself; every operation walks at
//!   most 128 entries, as Redis's listpack does.
//! - `skiplist` beyond: a [`ScanTable`] from member to score (O(1) ZSCORE, real ZSCAN cursors)
//!   plus an order index, the two sharing each member's bytes (`Arc<[u8]>`).
//!
//! The order index is not a skip list but an order-statistic chunked list (`OrderIndex`):
//! sorted chunks of at most `CHUNK_LEN_MAX` entries and a Fenwick tree over their lengths.
//! Finding an entry, its rank, or the entry at a rank costs O(log n); inserting or removing one
//! moves at most a chunk's entries; splits and merges (at most one per `CHUNK_LEN_MIN` updates
//! of a chunk) rebuild the Fenwick tree in O(n / CHUNK_LEN_MIN). That is Redis's skip list
//! complexity without a node allocation and a tower of pointers per member, and with range walks
//! over contiguous memory. (A `BTreeSet` would order the entries but answer ranks in O(n).)
//!
//! A sorted set converts one way, listpack to skiplist, when a member would break either limit.
//! Everything is addressed by rank: score and lex intervals become rank ranges (by bisection),
//! so the commands need only rank ranges to count, walk, remove or pop.

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;

use crate::keyspace::hash_key;
use crate::types::encodings::Encodings;
use crate::types::scan::ScanTable;
use crate::value::parse_f64;

/// Most entries of one chunk of the order index: a chunk that grows past it splits in two.
/// Inserting moves up to this many 24-byte entries (6 KiB), a fraction of a microsecond. Unit
/// tests use tiny chunks, so that small sets already split and merge chunks everywhere.
const CHUNK_LEN_MAX: usize = if cfg!(test) { 8 } else { 256 };
/// A chunk shorter than this merges with a neighbour, so chunks stay at least a quarter full
/// and the Fenwick tree small.
const CHUNK_LEN_MIN: usize = CHUNK_LEN_MAX / 4;

/// Bytes of a packed entry's score.
const SCORE_LEN: usize = 8;

/// Orders two scores. Stored scores are never NaN, so this is a total order; like Redis it
/// holds -0 and 0 equal (the member then decides).
fn compare_scores(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// The order of a sorted set: by score, then by member bytes.
pub fn compare_entries(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    compare_scores(a_score, b_score).then_with(|| a_member.cmp(b_member))
}

// ---------------------------------------------------------------------------------------------
// Intervals

/// One end of a score interval as ZRANGEBYSCORE writes it: `1.5`, `(1.5` (exclusive), `-inf`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

impl ScoreBound {
    /// Parses `[(]<double>`; `None` if the rest is not a double (NaN included).
    pub fn parse(arg: &[u8]) -> Option<ScoreBound> {
        let (exclusive, number) = match arg.split_first() {
            Some((b'(', rest)) => (true, rest),
            _ => (false, arg),
        };
        parse_f64(number).map(|value| ScoreBound { value, exclusive })
    }
}

/// A score interval (empty when its ends cross).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: ScoreBound,
    pub max: ScoreBound,
}

impl ScoreRange {
    /// Parses ZRANGEBYSCORE's `min max`.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        Some(ScoreRange {
            min: ScoreBound::parse(min)?,
            max: ScoreBound::parse(max)?,
        })
    }

    fn below_min(&self, score: f64) -> bool {
        if self.min.exclusive {
            score <= self.min.value
        } else {
            score < self.min.value
        }
    }

    fn within_max(&self, score: f64) -> bool {
        if self.max.exclusive {
            score < self.max.value
        } else {
            score <= self.max.value
        }
    }
}

/// One end of a lexicographic interval as ZRANGEBYLEX writes it: `-`, `+`, `[a`, `(a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: before every member.
    Lowest,
    /// `+`: after every member.
    Highest,
    /// `[member`.
    Inclusive(&'a [u8]),
    /// `(member`.
    Exclusive(&'a [u8]),
}

impl<'a> LexBound<'a> {
    /// Parses one end; `None` for anything else (Redis's "not valid string range item").
    pub fn parse(arg: &'a [u8]) -> Option<LexBound<'a>> {
        match arg.split_first()? {
            (b'-', []) => Some(LexBound::Lowest),
            (b'+', []) => Some(LexBound::Highest),
            (b'[', rest) => Some(LexBound::Inclusive(rest)),
            (b'(', rest) => Some(LexBound::Exclusive(rest)),
            _ => None,
        }
    }
}

/// A lexicographic interval. It is meant for sorted sets whose members share one score: with
/// mixed scores the members are not in byte order and the result is unspecified, as in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl<'a> LexRange<'a> {
    /// Parses ZRANGEBYLEX's `min max`.
    pub fn parse(min: &'a [u8], max: &'a [u8]) -> Option<LexRange<'a>> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    fn below_min(&self, member: &[u8]) -> bool {
        match self.min {
            LexBound::Lowest => false,
            LexBound::Highest => true,
            LexBound::Inclusive(min) => member < min,
            LexBound::Exclusive(min) => member <= min,
        }
    }

    fn within_max(&self, member: &[u8]) -> bool {
        match self.max {
            LexBound::Lowest => false,
            LexBound::Highest => true,
            LexBound::Inclusive(max) => member <= max,
            LexBound::Exclusive(max) => member < max,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD's rules

/// ZADD's conditions (NX, XX, GT, LT) and INCR. The caller refuses the combinations Redis
/// refuses (NX with XX, GT or LT; GT with LT).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddRule {
    /// NX: only add new members.
    pub only_new: bool,
    /// XX: only update existing members.
    pub only_existing: bool,
    /// GT: only update when the new score is greater.
    pub only_greater: bool,
    /// LT: only update when the new score is less.
    pub only_less: bool,
    /// INCR: add the score to the current one (0 for a new member).
    pub increment: bool,
}

/// What [`SortedSetValue::add`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddOutcome {
    /// A new member with this score.
    Added(f64),
    /// An existing member now has this score.
    Updated(f64),
    /// An existing member already had this score.
    Unchanged(f64),
    /// A condition (NX, XX, GT, LT) skipped the member.
    Skipped,
    /// INCR would make the score NaN (`inf` plus `-inf`): nothing changed.
    NotANumber,
}

/// Which end of the order POP takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopEnd {
    /// The lowest scores (ZPOPMIN).
    Min,
    /// The highest scores (ZPOPMAX).
    Max,
}

// ---------------------------------------------------------------------------------------------
// The sorted set

/// A sorted set value.
#[derive(Debug, Clone)]
pub struct SortedSetValue {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Packed(Packed),
    /// Boxed: big sorted sets are rare next to small ones, which stay two words for it.
    Indexed(Box<Indexed>),
}

impl Default for SortedSetValue {
    fn default() -> Self {
        SortedSetValue::new()
    }
}

/// Two sorted sets are equal when they hold the same members with the same scores, whatever
/// their representations.
impl PartialEq for SortedSetValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl SortedSetValue {
    /// An empty sorted set (a key never holds one: fill it before storing it).
    pub fn new() -> SortedSetValue {
        SortedSetValue {
            repr: Repr::Packed(Packed::default()),
        }
    }

    /// A sorted set of `entries`, in the representation Redis would pick for that content. A
    /// member given twice keeps its first score; scores must not be NaN.
    pub fn from_entries(mut entries: Vec<(Bytes, f64)>, limits: &Encodings) -> SortedSetValue {
        debug_assert!(entries.iter().all(|(_, score)| !score.is_nan()));
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
        entries.sort_by(|a, b| compare_entries(a.1, &a.0, b.1, &b.0));
        let fits_listpack = entries.len() <= limits.zset_entries()
            && entries
                .iter()
                .all(|(member, _)| member.len() <= limits.zset_max_listpack_value);
        let repr = if fits_listpack {
            Repr::Packed(Packed::from_sorted(
                entries.iter().map(|(m, s)| (&m[..], *s)),
            ))
        } else {
            Repr::Indexed(Box::new(Indexed::from_sorted(
                entries.into_iter().map(|(m, s)| (Arc::from(&m[..]), s)),
            )))
        };
        SortedSetValue { repr }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(packed) => packed.len,
            Repr::Indexed(indexed) => indexed.order.len,
        }
    }

    /// Whether there is no member (a key never holds an empty sorted set).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name for the current representation.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Indexed(_) => "skiplist",
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Packed(packed) => packed.find(member).map(|(_, entry)| entry.score),
            Repr::Indexed(indexed) => indexed.score(member),
        }
    }

    /// The rank of `member` (0 for the lowest score) and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Packed(packed) => packed.find(member).map(|(rank, entry)| (rank, entry.score)),
            Repr::Indexed(indexed) => {
                let score = indexed.score(member)?;
                let at = indexed.order.find(score, member)?;
                Some((indexed.order.rank_at(at), score))
            }
        }
    }

    /// The member of rank `rank` and its score.
    pub fn get_by_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.range(rank..rank.saturating_add(1)).next()
    }

    /// Adds or updates `member` under ZADD's `rule` (`score` is the increment under INCR),
    /// converting where `limits` say.
    pub fn add(
        &mut self,
        member: &[u8],
        score: f64,
        rule: AddRule,
        limits: &Encodings,
    ) -> AddOutcome {
        let Some(current) = self.score(member) else {
            if rule.only_existing {
                return AddOutcome::Skipped;
            }
            self.insert_new(member, score, limits);
            return AddOutcome::Added(score);
        };
        if rule.only_new {
            return AddOutcome::Skipped;
        }
        let target = if rule.increment {
            current + score
        } else {
            score
        };
        if target.is_nan() {
            return AddOutcome::NotANumber;
        }
        if (rule.only_less && target >= current) || (rule.only_greater && target <= current) {
            return AddOutcome::Skipped;
        }
        // Like Redis, -0 and 0 are the same score: no update between them.
        if target == current {
            return AddOutcome::Unchanged(current);
        }
        self.rescore(member, target);
        AddOutcome::Updated(target)
    }

    /// Sets the score of `member` (adding it if absent, converting where `limits` say); the
    /// previous score if it had one. `score` must not be NaN.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &Encodings) -> Option<f64> {
        debug_assert!(!score.is_nan());
        let previous = self.score(member);
        match previous {
            Some(current) if current == score => {}
            Some(_) => self.rescore(member, score),
            None => self.insert_new(member, score, limits),
        }
        previous
    }

    /// Adds a member known to be absent, converting to the indexed form first if the listpack
    /// would break a limit.
    fn insert_new(&mut self, member: &[u8], score: f64, limits: &Encodings) {
        if let Repr::Packed(packed) = &self.repr {
            if packed.len >= limits.zset_entries() || member.len() > limits.zset_max_listpack_value
            {
                self.repr = Repr::Indexed(Box::new(Indexed::from_packed(packed)));
            }
        }
        match &mut self.repr {
            Repr::Packed(packed) => packed.insert(member, score),
            Repr::Indexed(indexed) => indexed.insert_new(Arc::from(member), score),
        }
    }

    /// Gives the existing `member` a new score.
    fn rescore(&mut self, member: &[u8], score: f64) {
        match &mut self.repr {
            Repr::Packed(packed) => {
                packed.remove(member);
                packed.insert(member, score);
            }
            Repr::Indexed(indexed) => indexed.rescore(member, score),
        }
    }

    /// Removes `member`; its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Packed(packed) => packed.remove(member),
            Repr::Indexed(indexed) => indexed.remove(member),
        }
    }

    /// The members of ranks `ranks` (clamped to the set) with their scores, in order; walk it
    /// backwards with `rev()`.
    pub fn range(&self, ranks: Range<usize>) -> RangeIter<'_> {
        let ranks = clamp_ranks(ranks, self.len());
        match &self.repr {
            Repr::Packed(packed) => RangeIter(RangeRepr::Packed(packed.range(ranks).into_iter())),
            Repr::Indexed(indexed) => RangeIter(RangeRepr::Indexed(indexed.order.range(ranks))),
        }
    }

    /// Every member with its score, in order.
    pub fn iter(&self) -> RangeIter<'_> {
        self.range(0..self.len())
    }

    /// Number of leading members (in order) for which `before(score, member)` holds; `before`
    /// must hold for a prefix of the order, as the tests of interval ends do.
    fn partition_point(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Packed(packed) => packed
                .entries()
                .take_while(|entry| before(entry.score, entry.member))
                .count(),
            Repr::Indexed(indexed) => indexed
                .order
                .partition_point(|entry| before(entry.score, &entry.member)),
        }
    }

    /// The ranks of the members whose scores lie in `range`.
    pub fn score_ranks(&self, range: &ScoreRange) -> Range<usize> {
        let start = self.partition_point(|score, _| range.below_min(score));
        let end = self.partition_point(|score, _| range.within_max(score));
        start..end.max(start)
    }

    /// The ranks of the members that lie in `range` (members sharing one score).
    pub fn lex_ranks(&self, range: &LexRange<'_>) -> Range<usize> {
        let start = self.partition_point(|_, member| range.below_min(member));
        let end = self.partition_point(|_, member| range.within_max(member));
        start..end.max(start)
    }

    /// Removes the members of ranks `ranks`; returns how many there were.
    pub fn remove_ranks(&mut self, ranks: Range<usize>) -> usize {
        let ranks = clamp_ranks(ranks, self.len());
        match &mut self.repr {
            Repr::Packed(packed) => packed.remove_ranks(ranks),
            Repr::Indexed(indexed) => indexed.remove_ranks(ranks).len(),
        }
    }

    /// Removes up to `count` members from `end` and returns them with their scores, in the
    /// order popped (ascending from the minimum, descending from the maximum).
    pub fn pop(&mut self, end: PopEnd, count: usize) -> Vec<(Bytes, f64)> {
        let len = self.len();
        let count = count.min(len);
        let ranks = match end {
            PopEnd::Min => 0..count,
            PopEnd::Max => len - count..len,
        };
        let mut popped: Vec<(Bytes, f64)> = match &mut self.repr {
            Repr::Packed(packed) => {
                let taken = packed
                    .range(ranks.clone())
                    .into_iter()
                    .map(|(member, score)| (Bytes::copy_from_slice(member), score))
                    .collect();
                packed.remove_ranks(ranks);
                taken
            }
            Repr::Indexed(indexed) => indexed
                .remove_ranks(ranks)
                .into_iter()
                .map(|entry| (Bytes::copy_from_slice(&entry.member), entry.score))
                .collect(),
        };
        if end == PopEnd::Max {
            popped.reverse();
        }
        popped
    }

    /// Random members with their scores (none from an empty set). Distinct (`unique`): at most
    /// the whole set, which then comes in descending order as Redis returns it, else a uniform
    /// sample. Otherwise exactly `count` independent draws (the caller bounds `count`).
    pub fn random_members<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        count: usize,
        unique: bool,
    ) -> Vec<(&[u8], f64)> {
        let len = self.len();
        if len == 0 {
            return Vec::new();
        }
        if unique && count >= len {
            return self.iter().rev().collect();
        }
        match &self.repr {
            Repr::Packed(packed) => {
                let entries = packed.range(0..len);
                if unique {
                    let mut ranks = rand::seq::index::sample(rng, len, count).into_vec();
                    ranks.sort_unstable();
                    ranks.into_iter().map(|rank| entries[rank]).collect()
                } else {
                    (0..count).map(|_| entries[rng.gen_range(0..len)]).collect()
                }
            }
            Repr::Indexed(indexed) => {
                let ranks: Vec<usize> = if unique {
                    rand::seq::index::sample(rng, len, count).into_vec()
                } else {
                    (0..count).map(|_| rng.gen_range(0..len)).collect()
                };
                ranks
                    .into_iter()
                    .filter_map(|rank| indexed.order.get(rank))
                    .map(|entry| (&entry.member[..], entry.score))
                    .collect()
            }
        }
    }

    /// ZSCAN: visits members from `cursor` on and returns the next cursor (0 at the end). A
    /// listpack is visited whole in one call with cursor 0, as Redis does; the indexed form
    /// walks up to `count` buckets of its hash table.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Packed(packed) => {
                for entry in packed.entries() {
                    visit(entry.member, entry.score);
                }
                0
            }
            Repr::Indexed(indexed) => indexed
                .scores
                .scan(cursor, count, |scored| visit(&scored.member, scored.score)),
        }
    }
}

/// `ranks` cut to `0..len`.
fn clamp_ranks(ranks: Range<usize>, len: usize) -> Range<usize> {
    let end = ranks.end.min(len);
    ranks.start.min(end)..end
}

/// The members of a rank range with their scores, from either end.
#[derive(Debug)]
pub struct RangeIter<'a>(RangeRepr<'a>);

#[derive(Debug)]
enum RangeRepr<'a> {
    Packed(std::vec::IntoIter<(&'a [u8], f64)>),
    Indexed(IndexedRange<'a>),
}

impl<'a> Iterator for RangeIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            RangeRepr::Packed(entries) => entries.next(),
            RangeRepr::Indexed(range) => range.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = match &self.0 {
            RangeRepr::Packed(entries) => entries.len(),
            RangeRepr::Indexed(range) => range.remaining,
        };
        (len, Some(len))
    }
}

impl DoubleEndedIterator for RangeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            RangeRepr::Packed(entries) => entries.next_back(),
            RangeRepr::Indexed(range) => range.next_back(),
        }
    }
}

impl ExactSizeIterator for RangeIter<'_> {}

// ---------------------------------------------------------------------------------------------
// listpack: packed entries in one buffer

/// The compact representation: `len` entries in order, packed back to back.
#[derive(Debug, Clone, Default)]
struct Packed {
    /// Exactly sized: small sorted sets are the common case and memory per key is a goal.
    bytes: Box<[u8]>,
    len: usize,
}

/// One decoded entry and the bytes it spans in the buffer.
#[derive(Debug, Clone, Copy)]
struct PackedEntry<'a> {
    start: usize,
    end: usize,
    score: f64,
    member: &'a [u8],
}

/// The entries of a packed buffer, in order. The buffer is only written by [`Packed`], so it
/// always decodes; the reads are checked anyway and a short buffer simply ends the walk.
#[derive(Debug, Clone)]
struct PackedEntries<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for PackedEntries<'a> {
    type Item = PackedEntry<'a>;

    fn next(&mut self) -> Option<PackedEntry<'a>> {
        let start = self.offset;
        let score_end = start.checked_add(SCORE_LEN)?;
        let score_bytes: [u8; SCORE_LEN] = self.bytes.get(start..score_end)?.try_into().ok()?;
        let (member_len, member_start) = read_varint(self.bytes, score_end)?;
        let end = member_start.checked_add(member_len)?;
        let member = self.bytes.get(member_start..end)?;
        self.offset = end;
        Some(PackedEntry {
            start,
            end,
            score: f64::from_le_bytes(score_bytes),
            member,
        })
    }
}

/// Appends `value` as LEB128: 7 bits a byte, low bits first, the high bit set on all but the
/// last byte (one byte for any member a listpack may hold).
fn push_varint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a LEB128 value at `offset`; the value and the offset after it.
fn read_varint(bytes: &[u8], mut offset: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    let mut shift = 0u32;
    loop {
        let byte = *bytes.get(offset)?;
        offset += 1;
        value |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some((value, offset));
        }
        shift += 7;
    }
}

fn encode_entry(out: &mut Vec<u8>, member: &[u8], score: f64) {
    out.extend_from_slice(&score.to_le_bytes());
    push_varint(out, member.len());
    out.extend_from_slice(member);
}

impl Packed {
    /// Entries already in order, with distinct members.
    fn from_sorted<'a>(entries: impl Iterator<Item = (&'a [u8], f64)>) -> Packed {
        let mut bytes = Vec::new();
        let mut len = 0;
        for (member, score) in entries {
            encode_entry(&mut bytes, member, score);
            len += 1;
        }
        Packed {
            bytes: bytes.into_boxed_slice(),
            len,
        }
    }

    fn entries(&self) -> PackedEntries<'_> {
        PackedEntries {
            bytes: &self.bytes,
            offset: 0,
        }
    }

    /// The rank and entry of `member`.
    fn find(&self, member: &[u8]) -> Option<(usize, PackedEntry<'_>)> {
        self.entries()
            .enumerate()
            .find(|(_, entry)| entry.member == member)
    }

    /// Replaces `range` of the buffer with `with`, keeping the buffer exactly sized.
    fn splice(&mut self, range: Range<usize>, with: &[u8]) {
        let mut bytes = std::mem::take(&mut self.bytes).into_vec();
        bytes.reserve_exact(with.len().saturating_sub(range.len()));
        bytes.splice(range, with.iter().copied());
        self.bytes = bytes.into_boxed_slice();
    }

    /// Inserts a member known to be absent at its place in the order.
    fn insert(&mut self, member: &[u8], score: f64) {
        let offset = self
            .entries()
            .find(|entry| {
                compare_entries(entry.score, entry.member, score, member) == Ordering::Greater
            })
            .map_or(self.bytes.len(), |entry| entry.start);
        let mut encoded = Vec::with_capacity(SCORE_LEN + 2 + member.len());
        encode_entry(&mut encoded, member, score);
        self.splice(offset..offset, &encoded);
        self.len += 1;
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, entry) = self.find(member)?;
        let (span, score) = (entry.start..entry.end, entry.score);
        self.splice(span, &[]);
        self.len -= 1;
        Some(score)
    }

    /// The entries of `ranks` (within bounds), in order.
    fn range(&self, ranks: Range<usize>) -> Vec<(&[u8], f64)> {
        self.entries()
            .skip(ranks.start)
            .take(ranks.len())
            .map(|entry| (entry.member, entry.score))
            .collect()
    }

    /// Removes the entries of `ranks` (within bounds); returns how many.
    fn remove_ranks(&mut self, ranks: Range<usize>) -> usize {
        let mut doomed = self.entries().skip(ranks.start).take(ranks.len());
        let Some(first) = doomed.next() else {
            return 0;
        };
        let end = doomed.last().map_or(first.end, |last| last.end);
        let span = first.start..end;
        self.splice(span, &[]);
        self.len -= ranks.len();
        ranks.len()
    }
}

// ---------------------------------------------------------------------------------------------
// skiplist: hash table + order index

/// The big representation: member -> score for lookups and scans, the order for everything else.
#[derive(Debug, Clone, Default)]
struct Indexed {
    scores: ScanTable<Scored>,
    order: OrderIndex,
}

/// A hash table entry.
#[derive(Debug, Clone)]
struct Scored {
    member: Arc<[u8]>,
    score: f64,
}

fn hash_scored(scored: &Scored) -> u64 {
    hash_key(&scored.member)
}

impl Indexed {
    /// Entries already in order, with distinct members.
    fn from_sorted(entries: impl ExactSizeIterator<Item = (Arc<[u8]>, f64)>) -> Indexed {
        let mut scores = ScanTable::with_capacity(entries.len());
        let mut order = Vec::with_capacity(entries.len());
        for (member, score) in entries {
            let scored = Scored {
                member: member.clone(),
                score,
            };
            scores.insert_unique(hash_key(&member), scored, hash_scored);
            order.push(Ranked { score, member });
        }
        Indexed {
            scores,
            order: OrderIndex::from_sorted(order),
        }
    }

    fn from_packed(packed: &Packed) -> Indexed {
        let entries: Vec<(Arc<[u8]>, f64)> = packed
            .entries()
            .map(|entry| (Arc::from(entry.member), entry.score))
            .collect();
        Indexed::from_sorted(entries.into_iter())
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores
            .find(hash_key(member), |scored| *scored.member == *member)
            .map(|scored| scored.score)
    }

    fn insert_new(&mut self, member: Arc<[u8]>, score: f64) {
        let scored = Scored {
            member: member.clone(),
            score,
        };
        self.scores
            .insert_unique(hash_key(&member), scored, hash_scored);
        self.order.insert(Ranked { score, member });
    }

    fn rescore(&mut self, member: &[u8], score: f64) {
        let found = self
            .scores
            .find_mut(hash_key(member), |scored| *scored.member == *member);
        if let Some(scored) = found {
            let previous = std::mem::replace(&mut scored.score, score);
            self.order.rescore(previous, member, score);
        }
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let found = self
            .scores
            .find_entry(hash_key(member), |scored| *scored.member == *member)
            .ok()?;
        let (removed, _) = found.remove();
        if let Some(at) = self.order.find(removed.score, member) {
            self.order.remove_at(at);
        }
        self.scores.shrink_if_sparse(hash_scored);
        Some(removed.score)
    }

    /// Removes the entries of `ranks` (within bounds) and returns them in order.
    fn remove_ranks(&mut self, ranks: Range<usize>) -> Vec<Ranked> {
        let removed = self.order.remove_ranks(ranks);
        for entry in &removed {
            let found = self.scores.find_entry(hash_key(&entry.member), |scored| {
                Arc::ptr_eq(&scored.member, &entry.member)
            });
            if let Ok(found) = found {
                found.remove();
            }
        }
        self.scores.shrink_if_sparse(hash_scored);
        removed
    }
}

/// An entry of the order index.
#[derive(Debug, Clone)]
struct Ranked {
    score: f64,
    member: Arc<[u8]>,
}

impl Ranked {
    /// How this entry compares with (`score`, `member`).
    fn compare_to(&self, score: f64, member: &[u8]) -> Ordering {
        compare_entries(self.score, &self.member, score, member)
    }
}

/// A position in the order index: (chunk, offset in the chunk). The end of the order is
/// `(chunks.len(), 0)`.
type Position = (usize, usize);

/// The order-statistic chunked list: entries in order, split into chunks, with a Fenwick tree
/// over the chunk lengths so that the rank of a position and the position of a rank both take
/// O(log chunks) after an O(log n) bisection.
#[derive(Debug, Clone, Default)]
struct OrderIndex {
    /// Non-empty sorted chunks; every entry of a chunk precedes every entry of the next.
    chunks: Vec<Vec<Ranked>>,
    /// Fenwick tree (1-based) over `chunks[i].len()`.
    counts: Vec<usize>,
    len: usize,
}

/// What [`OrderIndex::restore_chunk`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restored {
    /// Chunks were removed or merged: the Fenwick tree must be rebuilt.
    Regrouped,
    /// Nothing changed (the only chunk).
    Kept,
    /// `moved` entries went from chunk `left + 1` to chunk `left` (the other way when
    /// negative); the chunks stayed.
    Evened { left: usize, moved: isize },
}

/// The lowest set bit of `i` (the span of Fenwick node `i`).
fn lowest_bit(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl OrderIndex {
    /// An index of entries already in order, in half-full chunks (room to grow on both sides).
    fn from_sorted(entries: Vec<Ranked>) -> OrderIndex {
        let len = entries.len();
        let fill = CHUNK_LEN_MAX / 2;
        let mut chunks = Vec::with_capacity(len.div_ceil(fill));
        let mut entries = entries.into_iter();
        loop {
            let chunk: Vec<Ranked> = entries.by_ref().take(fill).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(chunk);
        }
        let mut index = OrderIndex {
            chunks,
            counts: Vec::new(),
            len,
        };
        index.rebuild_counts();
        index
    }

    /// Rebuilds the Fenwick tree after chunks were added or removed: O(chunks).
    fn rebuild_counts(&mut self) {
        let chunks = self.chunks.len();
        self.counts.clear();
        self.counts.resize(chunks + 1, 0);
        for node in 1..=chunks {
            self.counts[node] += self.chunks[node - 1].len();
            let parent = node + lowest_bit(node);
            if parent <= chunks {
                self.counts[parent] += self.counts[node];
            }
        }
    }

    /// Counts `delta` entries more in `chunk` (fewer when negative).
    fn note_len_change(&mut self, chunk: usize, delta: isize) {
        let mut node = chunk + 1;
        while node < self.counts.len() {
            self.counts[node] = self.counts[node]
                .checked_add_signed(delta)
                .expect("a chunk count stays within 0..=len");
            node += lowest_bit(node);
        }
    }

    /// Number of entries in the chunks before `chunk`.
    fn entries_before(&self, chunk: usize) -> usize {
        let mut node = chunk.min(self.chunks.len());
        let mut sum = 0;
        while node > 0 {
            sum += self.counts[node];
            node &= node - 1;
        }
        sum
    }

    fn rank_at(&self, (chunk, offset): Position) -> usize {
        self.entries_before(chunk) + offset
    }

    /// The position of rank `rank`; the end for `rank >= len`.
    fn position(&self, rank: usize) -> Position {
        if rank >= self.len {
            return (self.chunks.len(), 0);
        }
        if rank == 0 {
            return (0, 0); // The pops' end, without a walk down the tree.
        }
        let chunks = self.chunks.len();
        // Descend the Fenwick tree: the last chunk whose preceding entries number <= rank.
        let mut chunk = 0;
        let mut remaining = rank;
        let mut step = 1usize << (usize::BITS - 1 - chunks.leading_zeros());
        while step > 0 {
            let node = chunk + step;
            if node <= chunks && self.counts[node] <= remaining {
                chunk = node;
                remaining -= self.counts[node];
            }
            step >>= 1;
        }
        (chunk, remaining)
    }

    /// The first position whose entry fails `before`, which holds for a prefix of the order.
    fn lower_bound(&self, before: impl Fn(&Ranked) -> bool) -> Position {
        let chunk = self
            .chunks
            .partition_point(|entries| entries.last().is_some_and(&before));
        match self.chunks.get(chunk) {
            Some(entries) => (chunk, entries.partition_point(&before)),
            None => (chunk, 0),
        }
    }

    fn partition_point(&self, before: impl Fn(&Ranked) -> bool) -> usize {
        self.rank_at(self.lower_bound(before))
    }

    /// The position of (`score`, `member`), if present.
    fn find(&self, score: f64, member: &[u8]) -> Option<Position> {
        let (chunk, offset) =
            self.lower_bound(|entry| entry.compare_to(score, member) == Ordering::Less);
        let entry = self.chunks.get(chunk)?.get(offset)?;
        (entry.compare_to(score, member) == Ordering::Equal).then_some((chunk, offset))
    }

    fn get(&self, rank: usize) -> Option<&Ranked> {
        let (chunk, offset) = self.position(rank);
        self.chunks.get(chunk)?.get(offset)
    }

    fn insert(&mut self, entry: Ranked) {
        if self.chunks.is_empty() {
            self.chunks.push(vec![entry]);
            self.len = 1;
            self.rebuild_counts();
            return;
        }
        let (mut chunk, mut offset) = self.lower_bound(|existing| {
            existing.compare_to(entry.score, &entry.member) == Ordering::Less
        });
        if chunk == self.chunks.len() {
            // After every entry: the end of the last chunk.
            chunk -= 1;
            offset = self.chunks[chunk].len();
        }
        self.chunks[chunk].insert(offset, entry);
        self.len += 1;
        if self.chunks[chunk].len() > CHUNK_LEN_MAX {
            let half = self.chunks[chunk].len() / 2;
            let upper = self.chunks[chunk].split_off(half);
            self.chunks.insert(chunk + 1, upper);
            self.rebuild_counts();
        } else {
            self.note_len_change(chunk, 1);
        }
    }

    fn remove_at(&mut self, (chunk, offset): Position) -> Ranked {
        let entry = self.chunks[chunk].remove(offset);
        self.len -= 1;
        self.note_len_change(chunk, -1);
        if self.chunks[chunk].len() < CHUNK_LEN_MIN {
            match self.restore_chunk(chunk) {
                Restored::Evened { left, moved } => {
                    self.note_len_change(left, moved);
                    self.note_len_change(left + 1, -moved);
                }
                Restored::Regrouped => self.rebuild_counts(),
                Restored::Kept => {}
            }
        }
        entry
    }

    /// Restores the chunk invariants at `chunk` after removals: an empty chunk goes, a short one
    /// merges with a neighbour when both fit in one chunk, else takes entries from it until the
    /// two are even (which keeps the number of chunks, so the Fenwick tree needs no rebuild:
    /// pops from one end regroup chunks once per `CHUNK_LEN_MIN` pops, not every few).
    fn restore_chunk(&mut self, chunk: usize) -> Restored {
        if self.chunks[chunk].is_empty() {
            self.chunks.remove(chunk);
            return Restored::Regrouped;
        }
        if self.chunks.len() < 2 {
            return Restored::Kept; // A lone chunk may be short.
        }
        let left = if chunk + 1 < self.chunks.len() {
            chunk
        } else {
            chunk - 1
        };
        let (lower, upper) = self.chunks.split_at_mut(left + 1);
        let (left_entries, right_entries) = (&mut lower[left], &mut upper[0]);
        let total = left_entries.len() + right_entries.len();
        if total <= CHUNK_LEN_MAX {
            let right = self.chunks.remove(left + 1);
            self.chunks[left].extend(right);
            return Restored::Regrouped;
        }
        let half = total / 2;
        let moved = if left_entries.len() < half {
            let count = half - left_entries.len();
            left_entries.extend(right_entries.drain(..count));
            count as isize
        } else {
            let count = left_entries.len() - half;
            let taken = left_entries.drain(half..);
            right_entries.splice(0..0, taken);
            -(count as isize)
        };
        Restored::Evened { left, moved }
    }

    /// Removes the entries of `ranks` (within bounds) and returns them in order.
    fn remove_ranks(&mut self, ranks: Range<usize>) -> Vec<Ranked> {
        let count = ranks.len();
        if count < CHUNK_LEN_MIN {
            // Few entries: remove them one by one, without an O(chunks) rebuild each time
            // (a pop of one member costs O(log n)).
            return (0..count)
                .map(|_| self.remove_at(self.position(ranks.start)))
                .collect();
        }
        let (first, mut offset) = self.position(ranks.start);
        let mut removed = Vec::with_capacity(count);
        let mut chunk = first;
        while removed.len() < count {
            let entries = &mut self.chunks[chunk];
            let end = (offset + count - removed.len()).min(entries.len());
            removed.extend(entries.drain(offset..end));
            chunk += 1;
            offset = 0;
        }
        self.len -= count;
        self.chunks.retain(|entries| !entries.is_empty());
        // Only the chunks at either end of the removed run may be short now.
        for at in [first + 1, first] {
            if at < self.chunks.len() && self.chunks[at].len() < CHUNK_LEN_MIN {
                self.restore_chunk(at);
            }
        }
        self.rebuild_counts();
        removed
    }

    /// Checks the index's invariants: chunks non-empty and at most `CHUNK_LEN_MAX` long, in
    /// order, and the Fenwick tree equal to one rebuilt from scratch.
    #[cfg(test)]
    fn assert_sound(&self) {
        let mut rebuilt = self.clone();
        rebuilt.rebuild_counts();
        assert_eq!(self.counts, rebuilt.counts, "Fenwick tree out of date");
        assert_eq!(self.len, self.chunks.iter().map(Vec::len).sum::<usize>());
        for chunk in &self.chunks {
            assert!(!chunk.is_empty() && chunk.len() <= CHUNK_LEN_MAX);
        }
        let entries: Vec<&Ranked> = self.chunks.iter().flatten().collect();
        for pair in entries.windows(2) {
            assert_eq!(
                pair[0].compare_to(pair[1].score, &pair[1].member),
                Ordering::Less
            );
        }
    }

    /// Moves (`previous`, `member`) to `score`: in place when its neighbours still bracket it.
    fn rescore(&mut self, previous: f64, member: &[u8], score: f64) {
        let Some(at) = self.find(previous, member) else {
            return;
        };
        if self.stays_in_place(at, score, member) {
            self.chunks[at.0][at.1].score = score;
            return;
        }
        let mut entry = self.remove_at(at);
        entry.score = score;
        self.insert(entry);
    }

    fn stays_in_place(&self, (chunk, offset): Position, score: f64, member: &[u8]) -> bool {
        let entries = &self.chunks[chunk];
        let before = match offset.checked_sub(1) {
            Some(previous) => entries.get(previous),
            None => chunk
                .checked_sub(1)
                .and_then(|previous| self.chunks[previous].last()),
        };
        let after = entries
            .get(offset + 1)
            .or_else(|| self.chunks.get(chunk + 1).and_then(|next| next.first()));
        before.is_none_or(|e| e.compare_to(score, member) == Ordering::Less)
            && after.is_none_or(|e| e.compare_to(score, member) == Ordering::Greater)
    }

    /// The entries of `ranks` (within bounds), walkable from both ends.
    fn range(&self, ranks: Range<usize>) -> IndexedRange<'_> {
        IndexedRange {
            chunks: &self.chunks,
            front: self.position(ranks.start),
            back: self.position(ranks.end),
            remaining: ranks.len(),
        }
    }
}

/// A walk over a rank range of the order index: `front` is the next entry, `back` the one after
/// the last, and `remaining` counts what lies between (so the two never cross).
#[derive(Debug, Clone)]
struct IndexedRange<'a> {
    chunks: &'a [Vec<Ranked>],
    front: Position,
    back: Position,
    remaining: usize,
}

impl<'a> Iterator for IndexedRange<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let (chunk, offset) = self.front;
        let entries = self.chunks.get(chunk)?;
        let entry = entries.get(offset)?;
        self.front = if offset + 1 < entries.len() {
            (chunk, offset + 1)
        } else {
            (chunk + 1, 0)
        };
        self.remaining -= 1;
        Some((&entry.member, entry.score))
    }
}

impl DoubleEndedIterator for IndexedRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let (mut chunk, mut offset) = self.back;
        if offset == 0 {
            chunk = chunk.checked_sub(1)?;
            offset = self.chunks.get(chunk)?.len();
        }
        offset -= 1;
        let entry = self.chunks.get(chunk)?.get(offset)?;
        self.back = (chunk, offset);
        self.remaining -= 1;
        Some((&entry.member, entry.score))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    const LIMITS: Encodings = Encodings::DEFAULT;
    const ZSET_MAX_LISTPACK_ENTRIES: usize = LIMITS.zset_max_listpack_entries;
    const ZSET_MAX_LISTPACK_VALUE: usize = LIMITS.zset_max_listpack_value;

    fn member(i: usize) -> Vec<u8> {
        format!("m{i:05}").into_bytes()
    }

    fn contents(zset: &SortedSetValue) -> Vec<(Vec<u8>, f64)> {
        zset.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    /// A sorted set of `count` members scored by `score`.
    fn filled(count: usize, score: impl Fn(usize) -> f64) -> SortedSetValue {
        let mut zset = SortedSetValue::new();
        for i in 0..count {
            zset.insert(&member(i), score(i), &LIMITS);
        }
        zset
    }

    #[test]
    fn stays_small_and_compact() {
        assert!(std::mem::size_of::<SortedSetValue>() <= 24);
        let zset = filled(3, |i| i as f64);
        assert_eq!(zset.encoding(), "listpack");
        // 3 entries of 8 score bytes, 1 length byte and a 6-byte member.
        match &zset.repr {
            Repr::Packed(packed) => assert_eq!(packed.bytes.len(), 3 * 15),
            Repr::Indexed(_) => unreachable!("three members stay packed"),
        }
    }

    #[test]
    fn converts_past_either_listpack_limit() {
        let mut zset = filled(ZSET_MAX_LISTPACK_ENTRIES, |i| i as f64);
        assert_eq!(zset.encoding(), "listpack");
        zset.insert(b"one more", 0.5, &LIMITS);
        assert_eq!(zset.encoding(), "skiplist");
        assert_eq!(zset.len(), ZSET_MAX_LISTPACK_ENTRIES + 1);
        assert_eq!(zset.rank(b"one more"), Some((1, 0.5)));

        let mut long = filled(2, |i| i as f64);
        long.insert(&[b'x'; ZSET_MAX_LISTPACK_VALUE], 9.0, &LIMITS);
        assert_eq!(long.encoding(), "listpack");
        long.insert(&[b'y'; ZSET_MAX_LISTPACK_VALUE + 1], 9.0, &LIMITS);
        assert_eq!(long.encoding(), "skiplist");
        assert_eq!(long.len(), 4);
    }

    #[test]
    fn orders_by_score_then_member_with_negative_zero_equal_to_zero() {
        let mut zset = SortedSetValue::new();
        zset.insert(b"b", 0.0, &LIMITS);
        zset.insert(b"a", -0.0, &LIMITS);
        zset.insert(b"c", f64::NEG_INFINITY, &LIMITS);
        zset.insert(b"d", f64::INFINITY, &LIMITS);
        let order: Vec<&[u8]> = zset.iter().map(|(m, _)| m).collect();
        assert_eq!(order, [&b"c"[..], b"a", b"b", b"d"]);
        assert_eq!(
            zset.add(b"a", 0.0, AddRule::default(), &LIMITS),
            AddOutcome::Unchanged(-0.0)
        );
    }

    #[test]
    fn add_rules_follow_zadd() {
        let mut zset = filled(1, |_| 5.0);
        let m = member(0);
        let gt = AddRule {
            only_greater: true,
            ..AddRule::default()
        };
        assert_eq!(zset.add(&m, 4.0, gt, &LIMITS), AddOutcome::Skipped);
        assert_eq!(zset.add(&m, 6.0, gt, &LIMITS), AddOutcome::Updated(6.0));
        assert_eq!(zset.add(b"new", 1.0, gt, &LIMITS), AddOutcome::Added(1.0));
        let nx = AddRule {
            only_new: true,
            ..AddRule::default()
        };
        assert_eq!(zset.add(&m, 1.0, nx, &LIMITS), AddOutcome::Skipped);
        let xx = AddRule {
            only_existing: true,
            ..AddRule::default()
        };
        assert_eq!(zset.add(b"absent", 1.0, xx, &LIMITS), AddOutcome::Skipped);
        let incr = AddRule {
            increment: true,
            ..AddRule::default()
        };
        assert_eq!(zset.add(&m, 1.5, incr, &LIMITS), AddOutcome::Updated(7.5));
        assert_eq!(
            zset.add(b"fresh", 2.5, incr, &LIMITS),
            AddOutcome::Added(2.5)
        );
        zset.insert(b"inf", f64::INFINITY, &LIMITS);
        assert_eq!(
            zset.add(b"inf", f64::NEG_INFINITY, incr, &LIMITS),
            AddOutcome::NotANumber
        );
        assert_eq!(zset.score(b"inf"), Some(f64::INFINITY));
    }

    #[test]
    fn intervals_map_to_rank_ranges() {
        for size in [10, 1000] {
            let zset = filled(size, |i| (i / 2) as f64);
            let range = ScoreRange::parse(b"(1", b"3").expect("valid");
            assert_eq!(zset.score_ranks(&range), 4..8, "size {size}");
            let inverted = ScoreRange::parse(b"3", b"1").expect("valid");
            assert!(zset.score_ranks(&inverted).is_empty());
            let all = ScoreRange::parse(b"-inf", b"+inf").expect("valid");
            assert_eq!(zset.score_ranks(&all), 0..size);
        }
        let same_score = filled(100, |_| 0.0);
        let lex = LexRange::parse(b"[m00010", b"(m00020").expect("valid");
        assert_eq!(same_score.lex_ranks(&lex), 10..20);
        let open = LexRange::parse(b"-", b"+").expect("valid");
        assert_eq!(same_score.lex_ranks(&open), 0..100);
        let backwards = LexRange::parse(b"+", b"-").expect("valid");
        assert!(same_score.lex_ranks(&backwards).is_empty());
        assert_eq!(LexBound::parse(b"a"), None);
        assert_eq!(LexBound::parse(b"-x"), None);
        assert_eq!(LexBound::parse(b""), None);
        assert_eq!(ScoreBound::parse(b"("), None);
        assert_eq!(ScoreBound::parse(b"nan"), None);
    }

    #[test]
    fn big_sets_keep_ranks_through_splits_and_merges() {
        let count = 5000;
        // Inserted in a scrambled order, so chunks split everywhere.
        let mut zset = SortedSetValue::new();
        for i in 0..count {
            let j = (i * 7919) % count;
            zset.insert(&member(j), j as f64, &LIMITS);
        }
        assert_eq!(zset.encoding(), "skiplist");
        for j in [0, 1, 255, 256, 2500, count - 1] {
            assert_eq!(zset.rank(&member(j)), Some((j, j as f64)));
            assert_eq!(zset.get_by_rank(j), Some((&member(j)[..], j as f64)));
        }
        // Remove most members, one by one and by ranges, so chunks merge.
        for j in (0..count).filter(|j| j % 3 != 0) {
            assert_eq!(zset.remove(&member(j)), Some(j as f64));
        }
        assert_eq!(zset.remove_ranks(100..1200), 1100);
        let expected: Vec<usize> = (0..count)
            .filter(|j| j % 3 == 0)
            .enumerate()
            .filter(|(rank, _)| !(100..1200).contains(rank))
            .map(|(_, j)| j)
            .collect();
        let got: Vec<Vec<u8>> = zset.iter().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(got, expected.iter().map(|&j| member(j)).collect::<Vec<_>>());
        let backwards: Vec<Vec<u8>> = zset.iter().rev().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(backwards.len(), expected.len());
        assert!(backwards.iter().rev().eq(got.iter()));
        if let Repr::Indexed(indexed) = &zset.repr {
            let order = &indexed.order;
            assert!(order.chunks.iter().all(|c| !c.is_empty()));
            assert_eq!(order.entries_before(order.chunks.len()), zset.len());
        }
    }

    #[test]
    fn pops_come_from_either_end_in_order() {
        for size in [5, 300] {
            let mut zset = filled(size, |i| i as f64);
            let low = zset.pop(PopEnd::Min, 2);
            assert_eq!(
                low,
                vec![(Bytes::from(member(0)), 0.0), (member(1).into(), 1.0)]
            );
            let high = zset.pop(PopEnd::Max, 2);
            let top = size - 1;
            assert_eq!(
                high,
                vec![
                    (Bytes::from(member(top)), top as f64),
                    (member(top - 1).into(), (top - 1) as f64)
                ]
            );
            assert_eq!(zset.len(), size - 4);
            let rest = zset.pop(PopEnd::Min, usize::MAX);
            assert_eq!(rest.len(), size - 4);
            assert!(zset.is_empty());
        }
    }

    #[test]
    fn random_members_respect_uniqueness_and_count() {
        let mut rng = rand::thread_rng();
        for size in [10, 500] {
            let zset = filled(size, |i| i as f64);
            let all = zset.random_members(&mut rng, size + 5, true);
            assert_eq!(all.len(), size);
            assert_eq!(
                all[0].1,
                (size - 1) as f64,
                "the whole set comes descending"
            );
            let mut some: Vec<&[u8]> = zset
                .random_members(&mut rng, 7, true)
                .into_iter()
                .map(|(m, _)| m)
                .collect();
            some.sort_unstable();
            some.dedup();
            assert_eq!(some.len(), 7);
            let repeated = zset.random_members(&mut rng, 3 * size, false);
            assert_eq!(repeated.len(), 3 * size);
            assert!(repeated.iter().all(|(m, s)| zset.score(m) == Some(*s)));
        }
    }

    #[test]
    fn scan_visits_every_member_of_either_form() {
        for size in [10, 1000] {
            let zset = filled(size, |i| i as f64);
            let mut seen = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = zset.scan(cursor, 10, |m, s| seen.push((m.to_vec(), s)));
                if cursor == 0 {
                    break;
                }
            }
            seen.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(seen, contents(&zset));
        }
    }

    #[test]
    fn from_entries_sorts_dedups_and_picks_the_encoding() {
        let zset = SortedSetValue::from_entries(
            vec![
                (Bytes::from_static(b"b"), 2.0),
                (Bytes::from_static(b"a"), 3.0),
                (Bytes::from_static(b"b"), 9.0),
            ],
            &LIMITS,
        );
        assert_eq!(
            contents(&zset),
            vec![(b"b".to_vec(), 2.0), (b"a".to_vec(), 3.0)]
        );
        assert_eq!(zset.encoding(), "listpack");
        let big = SortedSetValue::from_entries(
            (0..200).map(|i| (Bytes::from(member(i)), 1.0)).collect(),
            &LIMITS,
        );
        assert_eq!(big.encoding(), "skiplist");
        assert_eq!(big, filled(200, |_| 1.0));
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, 16_383, 16_384, usize::MAX >> 1] {
            let mut out = Vec::new();
            push_varint(&mut out, value);
            assert_eq!(read_varint(&out, 0), Some((value, out.len())));
        }
        assert_eq!(read_varint(&[0x80], 0), None);
    }

    /// An operation of the model test.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(usize, i8),
        Increment(usize, i8),
        Remove(usize),
        RemoveRanks(usize, usize),
        Pop(bool, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Up to 400 distinct members and a handful of scores: conversions and ties happen.
        prop_oneof![
            10 => (0..400usize, any::<i8>()).prop_map(|(m, s)| Op::Insert(m, s)),
            1 => (0..400usize, any::<i8>()).prop_map(|(m, s)| Op::Increment(m, s)),
            2 => (0..400usize).prop_map(Op::Remove),
            1 => (0..300usize, 0..8usize).prop_map(|(a, n)| Op::RemoveRanks(a, n)),
            1 => (any::<bool>(), 0..5usize).prop_map(|(max, n)| Op::Pop(max, n)),
        ]
    }

    /// The model: member -> score; the order is derived by sorting.
    fn model_order(model: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut order: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
        order.sort_by(|a, b| compare_entries(a.1, &a.0, b.1, &b.0));
        order
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_a_btreemap_model(ops in proptest::collection::vec(op(), 1..800)) {
            let mut zset = SortedSetValue::new();
            let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            let increment = AddRule { increment: true, ..AddRule::default() };
            for op in ops {
                match op {
                    Op::Insert(m, s) => {
                        let previous = zset.insert(&member(m), f64::from(s), &LIMITS);
                        prop_assert_eq!(previous, model.insert(member(m), f64::from(s)));
                    }
                    Op::Increment(m, s) => {
                        zset.add(&member(m), f64::from(s), increment, &LIMITS);
                        *model.entry(member(m)).or_insert(0.0) += f64::from(s);
                    }
                    Op::Remove(m) => {
                        prop_assert_eq!(zset.remove(&member(m)), model.remove(&member(m)));
                    }
                    Op::RemoveRanks(start, count) => {
                        let order = model_order(&model);
                        let end = (start + count).min(order.len());
                        let doomed = order.get(start.min(end)..end).unwrap_or(&[]);
                        for (m, _) in doomed {
                            model.remove(m);
                        }
                        prop_assert_eq!(zset.remove_ranks(start..start + count), doomed.len());
                    }
                    Op::Pop(max, count) => {
                        let mut order = model_order(&model);
                        if max {
                            order.reverse();
                        }
                        order.truncate(count);
                        for (m, _) in &order {
                            model.remove(m);
                        }
                        let end = if max { PopEnd::Max } else { PopEnd::Min };
                        let popped: Vec<(Vec<u8>, f64)> =
                            zset.pop(end, count).into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
                        prop_assert_eq!(popped, order);
                    }
                }
                prop_assert_eq!(zset.len(), model.len());
                if let Repr::Indexed(indexed) = &zset.repr {
                    indexed.order.assert_sound();
                }
            }
            let order = model_order(&model);
            prop_assert_eq!(contents(&zset), order.clone());
            for (rank, (m, s)) in order.iter().enumerate() {
                prop_assert_eq!(zset.rank(m), Some((rank, *s)));
                prop_assert_eq!(zset.score(m), Some(*s));
            }
            let reversed: Vec<(Vec<u8>, f64)> = zset.iter().rev().map(|(m, s)| (m.to_vec(), s)).collect();
            prop_assert!(reversed.into_iter().rev().eq(order.into_iter()));
        }
    }
}
