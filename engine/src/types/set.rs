//! The set type, in the three representations Redis 7.2 uses, each reported by OBJECT ENCODING
//! under Redis's name:
//!
//! - `intset`: a sorted array of integers, searched by bisection, while every member is the
//!   canonical text of an `i64` and there are at most `set-max-intset-entries`;
//! - `listpack`: the members packed back to back in one buffer, each behind its length, searched
//!   linearly, while there are at most `set-max-listpack-entries` of at most
//!   `set-max-listpack-value` bytes (the thresholds come from [`Encodings`]);
//! - `hashtable`: a [`ScanTable`] of boxed members, so SSCAN has real cursors.
//!
//! Sets convert one way as they grow (intset -> listpack -> hashtable, or intset -> hashtable
//! when too big for a listpack), at the points Redis 7.2 converts them, so OBJECT ENCODING
//! agrees with Redis. The compact forms are kept exactly sized (no spare capacity): small sets
//! are the common case and memory per key is a goal.

use std::collections::HashSet;
use std::ops::Range;

use bytes::Bytes;
use hashbrown::hash_table::Entry as TableEntry;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::keyspace::hash_key;
use crate::small_bytes::SmallBytes;
use crate::types::encodings::Encodings;
use crate::types::scan::ScanTable;
use crate::value::{decimal_len, parse_i64};
use crate::value::{format_i64, I64_TEXT_LEN_MAX};

/// SPOP rebuilds a hash table set from what is left, as Redis does, when it pops at least this
/// many times as many members as it leaves.
const POP_REBUILD_RATIO: usize = 5;
/// Random sampling of distinct members copies the whole set instead when it asks for more than
/// a third of it (redrawing duplicates would cost more).
const SAMPLE_COPY_RATIO: usize = 3;

/// One member as a set holds it: an integer (intset) or bytes (listpack, hashtable). The same
/// member may appear either way; compare them with [`Member::with_text`] or [`SetValue`]'s
/// lookups, never structurally.
#[derive(Debug, Clone, Copy)]
pub enum Member<'a> {
    /// A member of an intset.
    Int(i64),
    /// A member of a listpack or hashtable set (it may still be an integer's text).
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes, copied out of the set.
    pub fn to_bytes(self) -> Bytes {
        match self {
            Member::Int(n) => Bytes::from(n.to_string()),
            Member::Bytes(data) => Bytes::copy_from_slice(data),
        }
    }

    /// Runs `f` on the member's text (integers are written to a stack buffer).
    pub fn with_text<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => {
                let mut buffer = [0u8; I64_TEXT_LEN_MAX];
                f(format_i64(n, &mut buffer))
            }
            Member::Bytes(data) => f(data),
        }
    }

    /// Length of the member's text.
    pub fn text_len(self) -> usize {
        match self {
            Member::Int(n) => decimal_len(n),
            Member::Bytes(data) => data.len(),
        }
    }

    /// The member as an integer, if it is one's canonical text.
    fn as_i64(self) -> Option<i64> {
        match self {
            Member::Int(n) => Some(n),
            Member::Bytes(data) => parse_i64(data),
        }
    }
}

/// A set value.
#[derive(Debug, Clone)]
pub struct SetValue {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Ints(IntSet),
    Packed(PackedSet),
    /// Boxed: hash tables are rare next to small sets, which stay 32 bytes instead of 48.
    Table(Box<ScanTable<SmallBytes>>),
}

impl Default for SetValue {
    /// An empty intset: what a set starts as when nothing says otherwise.
    fn default() -> Self {
        SetValue {
            repr: Repr::Ints(IntSet::default()),
        }
    }
}

/// Sets are equal when they hold the same members, whatever their representations.
impl PartialEq for SetValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|member| other.contains_member(member))
    }
}

impl SetValue {
    /// An empty set in the representation Redis 7.2 picks for a set about to receive
    /// `size_hint` members, the first being `first`: an intset if `first` is an integer and the
    /// hint fits one, else a listpack if the hint fits one, else a hash table sized for it.
    pub fn for_members(first: &[u8], size_hint: usize, limits: &Encodings) -> SetValue {
        let repr = if parse_i64(first).is_some() && size_hint <= limits.intset_entries() {
            Repr::Ints(IntSet::default())
        } else if size_hint <= limits.set_entries() {
            Repr::Packed(PackedSet::default())
        } else {
            Repr::Table(Box::new(ScanTable::with_capacity(size_hint)))
        };
        SetValue { repr }
    }

    /// The set of `members`, which must be distinct, in the smallest representation that holds
    /// them (what SINTERSTORE and SDIFFSTORE store).
    pub fn from_distinct(members: &[Member<'_>], limits: &Encodings) -> SetValue {
        let ints: Option<Vec<i64>> = if members.len() <= limits.intset_entries() {
            members.iter().map(|m| m.as_i64()).collect()
        } else {
            None
        };
        let repr = if let Some(mut ints) = ints {
            ints.sort_unstable();
            Repr::Ints(IntSet(ints.into_boxed_slice()))
        } else if members.len() <= limits.set_entries()
            && members
                .iter()
                .all(|m| m.text_len() <= limits.set_max_listpack_value)
        {
            let mut packed = PackedSet::default();
            packed.extend(members.iter().copied());
            Repr::Packed(packed)
        } else {
            let mut table = ScanTable::with_capacity(members.len());
            for member in members {
                member.with_text(|text| insert_into_table(&mut table, text));
            }
            Repr::Table(Box::new(table))
        };
        SetValue { repr }
    }

    /// Converts to a hash table now if `size_hint` more members would not fit the current
    /// representation (Redis converts before a big SADD rather than during it).
    pub fn prepare_for(&mut self, size_hint: usize, limits: &Encodings) {
        let too_many = match &self.repr {
            Repr::Ints(_) => size_hint > limits.intset_entries(),
            Repr::Packed(_) => size_hint > limits.set_entries(),
            Repr::Table(_) => false,
        };
        if too_many {
            self.convert_to_table(size_hint);
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(ints) => ints.len(),
            Repr::Packed(packed) => packed.len(),
            Repr::Table(table) => table.len(),
        }
    }

    /// Whether there is no member (a key never holds an empty set).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name for the current representation.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Packed(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// The members: ascending for an intset, in insertion order for a listpack, in bucket order
    /// for a hash table (the orders Redis replies in).
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Ints(ints) => Iter(IterRepr::Ints(ints.0.iter())),
            Repr::Packed(packed) => Iter(IterRepr::Packed(packed.iter())),
            Repr::Table(table) => Iter(IterRepr::Table(Box::new(table.iter()))),
        }
    }

    /// Whether `member` belongs to the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.contains_member(Member::Bytes(member))
    }

    /// Whether `member` (taken from another set) belongs to this one.
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match &self.repr {
            Repr::Ints(ints) => member.as_i64().is_some_and(|n| ints.contains(n)),
            Repr::Packed(packed) => member.with_text(|text| packed.position(text).is_some()),
            Repr::Table(table) => member.with_text(|text| table_contains(table, text)),
        }
    }

    /// Adds `member`; false if it was already there.
    pub fn insert(&mut self, member: &[u8], limits: &Encodings) -> bool {
        self.insert_member(Member::Bytes(member), limits)
    }

    /// Adds `member` (taken from another set); false if it was already there. Converts the
    /// representation where Redis 7.2 does.
    pub fn insert_member(&mut self, member: Member<'_>, limits: &Encodings) -> bool {
        match &mut self.repr {
            Repr::Ints(ints) => match member.as_i64() {
                Some(n) => {
                    let added = ints.insert(n);
                    if ints.len() > limits.intset_entries() {
                        self.convert_to_table(0);
                    }
                    added
                }
                // Every member of the intset is budgeted at the width of the widest one.
                None if listpack_has_room(ints.len(), member.text_len(), limits)
                    && ints.widest_text_len() <= limits.set_max_listpack_value =>
                {
                    let mut packed = PackedSet::default();
                    let members = ints.0.iter().map(|&n| Member::Int(n));
                    packed.extend(members.chain(std::iter::once(member)));
                    self.repr = Repr::Packed(packed);
                    true
                }
                None => {
                    self.convert_to_table_with(member);
                    true
                }
            },
            Repr::Packed(packed) => {
                if member.with_text(|text| packed.position(text).is_some()) {
                    return false;
                }
                if listpack_has_room(packed.len(), member.text_len(), limits) {
                    member.with_text(|text| packed.push(text));
                } else {
                    self.convert_to_table_with(member);
                }
                true
            }
            Repr::Table(table) => member.with_text(|text| insert_into_table(table, text)),
        }
    }

    /// The members in a new hash table with room for `extra` more.
    fn to_table(&self, extra: usize) -> ScanTable<SmallBytes> {
        let mut table = ScanTable::with_capacity(self.len().saturating_add(extra));
        for member in self.iter() {
            member.with_text(|text| insert_into_table(&mut table, text));
        }
        table
    }

    /// Moves every member into a hash table with room for `extra` more.
    fn convert_to_table(&mut self, extra: usize) {
        if !matches!(self.repr, Repr::Table(_)) {
            self.repr = Repr::Table(Box::new(self.to_table(extra)));
        }
    }

    /// Moves every member, and the new `member`, into a hash table.
    fn convert_to_table_with(&mut self, member: Member<'_>) {
        let mut table = self.to_table(1);
        member.with_text(|text| insert_into_table(&mut table, text));
        self.repr = Repr::Table(Box::new(table));
    }

    /// Removes `member`; false if it was not there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(ints) => parse_i64(member).is_some_and(|n| ints.remove(n)),
            Repr::Packed(packed) => match packed.position(member) {
                Some(entry) => {
                    packed.remove_entry(entry);
                    true
                }
                None => false,
            },
            Repr::Table(table) => {
                let Ok(entry) = table.find_entry(hash_key(member), |m| **m == *member) else {
                    return false;
                };
                entry.remove();
                table.shrink_if_sparse(|m| hash_key(m));
                true
            }
        }
    }

    /// A random member, every member equally likely; `None` when the set is empty.
    pub fn random_member<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Member<'_>> {
        if self.is_empty() {
            return None;
        }
        match &self.repr {
            Repr::Ints(ints) => ints
                .0
                .get(rng.gen_range(0..ints.len()))
                .map(|&n| Member::Int(n)),
            Repr::Packed(packed) => packed.iter().nth(rng.gen_range(0..packed.len())),
            Repr::Table(table) => table.random_entry(rng).map(|m| Member::Bytes(m)),
        }
    }

    /// `count` distinct members chosen at random (all of them when `count` reaches the size),
    /// in no particular order.
    pub fn random_distinct<R: Rng + ?Sized>(&self, count: usize, rng: &mut R) -> Vec<Member<'_>> {
        let len = self.len();
        if count >= len {
            return self.iter().collect();
        }
        match &self.repr {
            Repr::Table(table) if count.saturating_mul(SAMPLE_COPY_RATIO) <= len => {
                draw_distinct(table, count, rng)
            }
            _ => {
                let mut all: Vec<Member<'_>> = self.iter().collect();
                let (chosen, _) = all.partial_shuffle(rng, count);
                chosen.to_vec()
            }
        }
    }

    /// Removes `count` random members (fewer than the set holds) and returns them. A hash table
    /// left much smaller than what was popped is rebuilt as a listpack if it fits one, as
    /// Redis's SPOP rebuilds the set in that case.
    pub fn pop_random<R: Rng + ?Sized>(
        &mut self,
        count: usize,
        rng: &mut R,
        limits: &Encodings,
    ) -> Vec<Bytes> {
        let popped: Vec<Bytes> = self
            .random_distinct(count, rng)
            .into_iter()
            .map(Member::to_bytes)
            .collect();
        for member in &popped {
            self.remove(member);
        }
        let left = self.len();
        if matches!(self.repr, Repr::Table(_))
            && left.saturating_mul(POP_REBUILD_RATIO) <= popped.len()
        {
            self.rebuild_as_listpack_if_fits(limits);
        }
        popped
    }

    fn rebuild_as_listpack_if_fits(&mut self, limits: &Encodings) {
        let fits = self.len() <= limits.set_entries()
            && self
                .iter()
                .all(|m| m.text_len() <= limits.set_max_listpack_value);
        if fits {
            let mut packed = PackedSet::default();
            packed.extend(self.iter());
            self.repr = Repr::Packed(packed);
        }
    }

    /// One SSCAN step: visits members from `cursor` on and returns the next cursor (0 at the
    /// end). A compact set is visited whole in one step, with cursor 0, as Redis does; a hash
    /// table visits the members of about `count` buckets.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Member<'_>)) -> u64 {
        match &self.repr {
            Repr::Table(table) => table.scan(cursor, count, |m| visit(Member::Bytes(m))),
            _ => {
                self.iter().for_each(visit);
                0
            }
        }
    }
}

/// Whether a listpack of `len` members may take one more of `member_len` bytes.
fn listpack_has_room(len: usize, member_len: usize, limits: &Encodings) -> bool {
    len < limits.set_entries() && member_len <= limits.set_max_listpack_value
}

/// Draws random members of a big `table` until `count` distinct ones are found (the caller
/// asks for at most a third of it, so few draws repeat).
fn draw_distinct<'a, R: Rng + ?Sized>(
    table: &'a ScanTable<SmallBytes>,
    count: usize,
    rng: &mut R,
) -> Vec<Member<'a>> {
    let mut seen: HashSet<&[u8], ahash::RandomState> =
        HashSet::with_capacity_and_hasher(count, ahash::RandomState::new());
    let mut chosen = Vec::with_capacity(count);
    while chosen.len() < count {
        let Some(member) = table.random_entry(rng) else {
            break;
        };
        if seen.insert(&member[..]) {
            chosen.push(Member::Bytes(member));
        }
    }
    chosen
}

fn table_contains(table: &ScanTable<SmallBytes>, member: &[u8]) -> bool {
    table.find(hash_key(member), |m| **m == *member).is_some()
}

/// Adds `member` to `table`; false if it was already there.
fn insert_into_table(table: &mut ScanTable<SmallBytes>, member: &[u8]) -> bool {
    match table.entry(hash_key(member), |m| **m == *member, |m| hash_key(m)) {
        TableEntry::Occupied(_) => false,
        TableEntry::Vacant(slot) => {
            slot.insert(SmallBytes::new(member));
            true
        }
    }
}

/// Iterator over a set's members.
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Ints(std::slice::Iter<'a, i64>),
    Packed(PackedIter<'a>),
    Table(Box<dyn Iterator<Item = &'a SmallBytes> + 'a>),
}

impl std::fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            IterRepr::Ints(_) => "Iter(intset)",
            IterRepr::Packed(_) => "Iter(listpack)",
            IterRepr::Table(_) => "Iter(hashtable)",
        })
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match &mut self.0 {
            IterRepr::Ints(ints) => ints.next().map(|&n| Member::Int(n)),
            IterRepr::Packed(packed) => packed.next(),
            IterRepr::Table(table) => table.next().map(|m| Member::Bytes(m)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// intset

/// Sorted distinct integers, exactly sized.
#[derive(Debug, Clone, Default)]
struct IntSet(Box<[i64]>);

impl IntSet {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn contains(&self, n: i64) -> bool {
        self.0.binary_search(&n).is_ok()
    }

    fn insert(&mut self, n: i64) -> bool {
        let Err(position) = self.0.binary_search(&n) else {
            return false;
        };
        let mut ints = Vec::from(std::mem::take(&mut self.0));
        ints.reserve_exact(1);
        ints.insert(position, n);
        self.0 = ints.into_boxed_slice();
        true
    }

    fn remove(&mut self, n: i64) -> bool {
        let Ok(position) = self.0.binary_search(&n) else {
            return false;
        };
        let mut ints = Vec::from(std::mem::take(&mut self.0));
        ints.remove(position);
        self.0 = ints.into_boxed_slice();
        true
    }

    /// Length of the longest member's text: the smallest or the largest decides it.
    fn widest_text_len(&self) -> usize {
        let first = self.0.first().map_or(0, |&n| decimal_len(n));
        let last = self.0.last().map_or(0, |&n| decimal_len(n));
        first.max(last)
    }
}

// ---------------------------------------------------------------------------------------------
// listpack

/// Members packed back to back, each behind its length (LEB128: one byte up to 127, so one
/// byte for every member the default limits allow), in insertion order, exactly sized.
#[derive(Debug, Clone, Default)]
struct PackedSet {
    entries: Box<[u8]>,
    len: u32,
}

impl PackedSet {
    fn len(&self) -> usize {
        self.len as usize
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            entries: &self.entries,
            offset: 0,
        }
    }

    /// Byte range of the entry (length and member) holding `member`.
    fn position(&self, member: &[u8]) -> Option<Range<usize>> {
        let mut iter = self.iter();
        loop {
            let start = iter.offset;
            let found = iter.next_text()?;
            if found == member {
                return Some(start..iter.offset);
            }
        }
    }

    /// Appends `member`, known to be absent.
    fn push(&mut self, member: &[u8]) {
        let mut entries = Vec::from(std::mem::take(&mut self.entries));
        entries.reserve_exact(LEB128_LEN_MAX + member.len());
        append_entry(&mut entries, member);
        self.entries = entries.into_boxed_slice();
        self.len += 1;
    }

    /// Appends `members`, known to be absent and distinct.
    fn extend<'m>(&mut self, members: impl Iterator<Item = Member<'m>>) {
        let mut entries = Vec::from(std::mem::take(&mut self.entries));
        for member in members {
            member.with_text(|text| append_entry(&mut entries, text));
            self.len += 1;
        }
        self.entries = entries.into_boxed_slice();
    }

    fn remove_entry(&mut self, entry: Range<usize>) {
        let mut entries = Vec::from(std::mem::take(&mut self.entries));
        entries.drain(entry);
        self.entries = entries.into_boxed_slice();
        self.len -= 1;
    }
}

/// Most bytes of a LEB128 length (a 64-bit length).
const LEB128_LEN_MAX: usize = 10;

/// Appends one entry: the length of `text`, then `text`.
fn append_entry(out: &mut Vec<u8>, text: &[u8]) {
    let mut len = text.len();
    while len >= 0x80 {
        out.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(text);
}

/// Iterator over a listpack's members.
#[derive(Debug)]
pub struct PackedIter<'a> {
    entries: &'a [u8],
    offset: usize,
}

impl<'a> PackedIter<'a> {
    /// The next member's bytes; `None` at the end (or on a malformed buffer, which the writer
    /// never produces).
    fn next_text(&mut self) -> Option<&'a [u8]> {
        let mut len: usize = 0;
        let mut shift = 0;
        loop {
            let byte = *self.entries.get(self.offset)?;
            self.offset += 1;
            len |= usize::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let end = self.offset.checked_add(len)?;
        let text = self.entries.get(self.offset..end)?;
        self.offset = end;
        Some(text)
    }
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        self.next_text().map(Member::Bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    const LIMITS: Encodings = Encodings::DEFAULT;
    const SET_MAX_INTSET_ENTRIES: usize = LIMITS.set_max_intset_entries;
    const SET_MAX_LISTPACK_ENTRIES: usize = LIMITS.set_max_listpack_entries;
    const SET_MAX_LISTPACK_VALUE: usize = LIMITS.set_max_listpack_value;

    fn set_of(members: &[&str]) -> SetValue {
        let first = members.first().map_or(&b""[..], |m| m.as_bytes());
        let mut set = SetValue::for_members(first, members.len(), &LIMITS);
        for member in members {
            set.insert(member.as_bytes(), &LIMITS);
        }
        set
    }

    fn sorted_texts(set: &SetValue) -> Vec<Vec<u8>> {
        let mut texts: Vec<Vec<u8>> = set.iter().map(|m| m.to_bytes().to_vec()).collect();
        texts.sort();
        texts
    }

    fn numbers(range: Range<i64>) -> Vec<String> {
        range.map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_set_value_stays_small() {
        assert!(std::mem::size_of::<SetValue>() <= 32);
    }

    #[test]
    fn an_intset_holds_only_canonical_integers_in_order() {
        let mut set = set_of(&["3", "-1", "2"]);
        assert_eq!(set.encoding(), "intset");
        let members: Vec<Bytes> = set.iter().map(Member::to_bytes).collect();
        assert_eq!(members, ["-1", "2", "3"]);
        assert!(!set.insert(b"2", &LIMITS));
        assert!(set.contains(b"-1") && !set.contains(b"02") && !set.contains(b"+2"));
        // "02" is not an integer's canonical text: it moves the set to a listpack.
        assert!(set.insert(b"02", &LIMITS));
        assert_eq!(set.encoding(), "listpack");
        assert!(set.contains(b"02") && set.contains(b"2"));
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn representations_convert_at_redis_thresholds() {
        let ints = numbers(0..SET_MAX_INTSET_ENTRIES as i64);
        let mut set = SetValue::default();
        for n in &ints {
            set.insert(n.as_bytes(), &LIMITS);
        }
        assert_eq!(set.encoding(), "intset");
        set.insert(b"512", &LIMITS);
        assert_eq!(set.encoding(), "hashtable");

        // An intset too big for a listpack goes straight to a hash table on a string.
        let mut set = SetValue::default();
        for n in &ints[..SET_MAX_LISTPACK_ENTRIES] {
            set.insert(n.as_bytes(), &LIMITS);
        }
        set.insert(b"x", &LIMITS);
        assert_eq!(set.encoding(), "hashtable");

        let mut set = SetValue::default();
        for n in &ints[..SET_MAX_LISTPACK_ENTRIES - 1] {
            set.insert(n.as_bytes(), &LIMITS);
        }
        set.insert(b"x", &LIMITS);
        assert_eq!((set.encoding(), set.len()), ("listpack", 128));
        set.insert(b"y", &LIMITS);
        assert_eq!((set.encoding(), set.len()), ("hashtable", 129));

        let mut set = set_of(&["a"]);
        set.insert(&[b'v'; SET_MAX_LISTPACK_VALUE], &LIMITS);
        assert_eq!(set.encoding(), "listpack");
        set.insert(&[b'v'; SET_MAX_LISTPACK_VALUE + 1], &LIMITS);
        assert_eq!(set.encoding(), "hashtable");
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn size_hints_pick_the_starting_representation() {
        assert_eq!(
            SetValue::for_members(b"1", 512, &LIMITS).encoding(),
            "intset"
        );
        assert_eq!(
            SetValue::for_members(b"1", 513, &LIMITS).encoding(),
            "hashtable"
        );
        assert_eq!(
            SetValue::for_members(b"a", 128, &LIMITS).encoding(),
            "listpack"
        );
        assert_eq!(
            SetValue::for_members(b"a", 129, &LIMITS).encoding(),
            "hashtable"
        );
        let mut set = set_of(&["a"]);
        set.prepare_for(128, &LIMITS);
        assert_eq!(set.encoding(), "listpack");
        set.prepare_for(129, &LIMITS);
        assert_eq!(set.encoding(), "hashtable");
        assert!(set.contains(b"a"));
    }

    #[test]
    fn removal_works_in_every_representation() {
        let long = "l".repeat(100);
        for members in [
            vec!["1", "2", "3"],
            vec!["a", "b", "c"],
            vec!["a", long.as_str(), "c"],
        ] {
            let mut set = set_of(&members);
            assert!(set.remove(members[1].as_bytes()));
            assert!(!set.remove(members[1].as_bytes()));
            assert!(!set.remove(b"zz"));
            assert_eq!(set.len(), 2, "{}", set.encoding());
            assert!(set.contains(members[0].as_bytes()) && set.contains(members[2].as_bytes()));
        }
    }

    #[test]
    fn listpack_lengths_longer_than_one_byte_round_trip() {
        let mut packed = PackedSet::default();
        let long = vec![b'z'; 300];
        packed.push(b"a");
        packed.push(&long);
        packed.push(b"");
        let texts: Vec<&[u8]> = std::iter::from_fn({
            let mut iter = packed.iter();
            move || iter.next_text()
        })
        .collect();
        assert_eq!(texts, [&b"a"[..], &long[..], b""]);
        let entry = packed.position(&long).expect("present");
        packed.remove_entry(entry);
        assert_eq!(packed.len(), 2);
        assert!(packed.position(b"").is_some() && packed.position(&long).is_none());
    }

    #[test]
    fn from_distinct_picks_the_smallest_representation() {
        let ints = [Member::Bytes(b"5"), Member::Int(-3)];
        let set = SetValue::from_distinct(&ints, &LIMITS);
        assert_eq!(set.encoding(), "intset");
        assert_eq!(sorted_texts(&set), [b"-3".to_vec(), b"5".to_vec()]);
        let mixed = [Member::Int(1), Member::Bytes(b"a")];
        assert_eq!(
            SetValue::from_distinct(&mixed, &LIMITS).encoding(),
            "listpack"
        );
        let long = [Member::Bytes(&[b'x'; 65])];
        assert_eq!(
            SetValue::from_distinct(&long, &LIMITS).encoding(),
            "hashtable"
        );
        let texts = numbers(0..600);
        let many: Vec<Member<'_>> = texts.iter().map(|t| Member::Bytes(t.as_bytes())).collect();
        let set = SetValue::from_distinct(&many, &LIMITS);
        assert_eq!((set.encoding(), set.len()), ("hashtable", 600));
    }

    #[test]
    fn equality_ignores_the_representation() {
        let as_intset = set_of(&["1", "2"]);
        let as_table =
            SetValue::from_distinct(&[Member::Bytes(b"2"), Member::Bytes(b"1")], &LIMITS);
        let mut as_listpack = set_of(&["x", "1", "2"]);
        as_listpack.remove(b"x");
        assert_eq!(as_intset, as_table);
        assert_eq!(as_intset, as_listpack);
        assert_ne!(as_intset, set_of(&["1"]));
    }

    #[test]
    fn random_choices_stay_inside_the_set() {
        let mut rng = SmallRng::seed_from_u64(7);
        let texts = numbers(0..1000);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for members in [&refs[..3], &refs[..], &["a", "b", "c", "d"][..]] {
            let set = set_of(members);
            for _ in 0..50 {
                let member = set.random_member(&mut rng).expect("not empty");
                assert!(set.contains_member(member));
            }
            for count in [0, 1, 2, members.len() - 1, members.len(), members.len() + 5] {
                let chosen = set.random_distinct(count, &mut rng);
                let distinct: HashSet<Vec<u8>> =
                    chosen.iter().map(|m| m.to_bytes().to_vec()).collect();
                assert_eq!(chosen.len(), count.min(members.len()));
                assert_eq!(distinct.len(), chosen.len());
                assert!(chosen.iter().all(|&m| set.contains_member(m)));
            }
        }
        assert!(SetValue::default().random_member(&mut rng).is_none());
    }

    #[test]
    fn popping_most_of_a_hash_table_rebuilds_a_listpack() {
        let mut rng = SmallRng::seed_from_u64(1);
        let texts: Vec<String> = (0..300).map(|n| format!("m{n}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut set = set_of(&refs);
        assert_eq!(set.encoding(), "hashtable");
        let popped = set.pop_random(250, &mut rng, &LIMITS);
        assert_eq!((popped.len(), set.len()), (250, 50));
        assert_eq!(set.encoding(), "listpack");
        let mut all: Vec<Vec<u8>> = popped.iter().map(|b| b.to_vec()).collect();
        all.extend(sorted_texts(&set));
        all.sort();
        let mut expected: Vec<Vec<u8>> = texts.iter().map(|t| t.as_bytes().to_vec()).collect();
        expected.sort();
        assert_eq!(all, expected);

        // A small pop leaves the hash table as it is.
        let mut set = set_of(&refs);
        set.pop_random(10, &mut rng, &LIMITS);
        assert_eq!((set.encoding(), set.len()), ("hashtable", 290));
    }

    #[test]
    fn a_thinned_hash_table_still_scans_and_draws_everything() {
        let texts: Vec<String> = (0..5000).map(|n| format!("k{n}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut set = set_of(&refs);
        for text in &texts[10..] {
            assert!(set.remove(text.as_bytes()));
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = set.scan(cursor, 3, |m| seen.push(m.to_bytes().to_vec()));
            if cursor == 0 {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, sorted_texts(&set));
        let mut rng = SmallRng::seed_from_u64(3);
        let drawn: HashSet<Vec<u8>> = (0..400)
            .filter_map(|_| set.random_member(&mut rng).map(|m| m.to_bytes().to_vec()))
            .collect();
        assert_eq!(drawn.len(), 10);
    }

    #[test]
    fn compact_sets_scan_whole_with_cursor_zero() {
        let set = set_of(&["a", "b"]);
        let mut seen = 0;
        assert_eq!(set.scan(1234, 1, |_| seen += 1), 0);
        assert_eq!(seen, 2);
    }
}
