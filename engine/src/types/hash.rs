//! The `hash` value type: a map from binary fields to binary values, in one of two
//! representations, as Redis 7 keeps hashes.
//!
//! - **listpack** while the hash is small (at most `hash-max-listpack-entries` fields, every
//!   field and value at most `hash-max-listpack-value` bytes, see [`Encodings`]): one byte
//!   buffer of length-prefixed
//!   field/value pairs, searched linearly. It costs one allocation per hash and two bytes per
//!   pair beyond the data, and scanning a few KiB is about as fast as hashing.
//! - **hashtable** above either threshold: a [`ScanTable`] of packed pairs (field and value in
//!   one allocation), so lookups stay O(1) and HSCAN gets resumable cursors.
//!
//! Conversion goes one way, as in Redis: a hash that shrinks keeps its table.

use std::collections::HashSet;

use rand::seq::index;
use rand::Rng;

use crate::keyspace::hash_key;
use crate::types::encodings::Encodings;
use crate::types::scan::ScanTable;

/// A distinct random sample of a hashtable is drawn entry by entry while it is at most this
/// fraction of the hash (few draws are repeats); a larger one is chosen from a list of every
/// entry instead (Redis's `HRANDFIELD_SUB_STRATEGY_MUL`).
const SPARSE_SAMPLE_RATIO: usize = 3;

/// A field and its value, borrowed from a hash.
pub type FieldValue<'a> = (&'a [u8], &'a [u8]);

/// A hash value.
#[derive(Debug, Clone, Default)]
pub struct HashValue {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Listpack(Listpack),
    /// Boxed so that a hash, and so every [`crate::value::Value`], stays small.
    Table(Box<ScanTable<PackedPair>>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Listpack(Listpack::default())
    }
}

impl HashValue {
    /// An empty hash (listpack-encoded).
    pub fn new() -> HashValue {
        HashValue::default()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(listpack) => listpack.len(),
            Repr::Table(table) => table.len(),
        }
    }

    /// Whether there is no field (a key never holds an empty hash).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name for the current representation.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack(listpack) => listpack.find(field).map(|(_, value)| value),
            Repr::Table(table) => table
                .find(hash_key(field), |pair| pair.field() == field)
                .map(|pair| pair.split().1),
        }
    }

    /// Whether `field` is present.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true if the field is new. Converts to a hashtable when the pair
    /// or the field count outgrows the listpack limits of `limits`.
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: &Encodings) -> bool {
        let too_long = field.len().max(value.len()) > limits.hash_max_listpack_value;
        if too_long && matches!(self.repr, Repr::Listpack(_)) {
            self.convert_to_table();
        }
        let added = match &mut self.repr {
            Repr::Listpack(listpack) => listpack.insert(field, value),
            Repr::Table(table) => table_insert(table, field, value),
        };
        if self.len() > limits.hash_entries() && matches!(self.repr, Repr::Listpack(_)) {
            self.convert_to_table();
        }
        added
    }

    /// Removes `field`; true if it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack(listpack) => listpack.remove(field),
            Repr::Table(table) => match table.find_entry(hash_key(field), |p| p.field() == field) {
                Ok(found) => {
                    found.remove();
                    table.shrink_if_sparse(pair_hash);
                    true
                }
                Err(_) => false,
            },
        }
    }

    /// Every (field, value) pair: insertion order for a listpack, table order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = FieldValue<'_>> + '_ {
        let (listpack, table) = match &self.repr {
            Repr::Listpack(listpack) => (Some(listpack.pairs()), None),
            Repr::Table(table) => (None, Some(table.iter().map(PackedPair::split))),
        };
        listpack
            .into_iter()
            .flatten()
            .chain(table.into_iter().flatten())
    }

    /// Visits the pairs of one HSCAN step from `cursor`, `count` being a hint of how many;
    /// returns the next cursor, 0 at the end. A listpack is visited whole in one step, as Redis
    /// does, whatever the cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Listpack(listpack) => {
                listpack
                    .pairs()
                    .for_each(|(field, value)| visit(field, value));
                0
            }
            Repr::Table(table) => table.scan(cursor, count, |pair| {
                let (field, value) = pair.split();
                visit(field, value);
            }),
        }
    }

    /// A random pair, every pair equally likely; `None` for an empty hash.
    pub fn random_pair<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<FieldValue<'_>> {
        match &self.repr {
            Repr::Listpack(listpack) if listpack.len() > 0 => {
                listpack.pairs().nth(rng.gen_range(0..listpack.len()))
            }
            Repr::Listpack(_) => None,
            Repr::Table(table) => table.random_entry(rng).map(PackedPair::split),
        }
    }

    /// Something that draws random pairs independently of each other (a pair may be drawn
    /// several times), for HRANDFIELD with a negative count.
    pub fn sampler(&self) -> PairSampler<'_> {
        let source = match &self.repr {
            // Listed once, so each draw is O(1) rather than a walk of the buffer.
            Repr::Listpack(listpack) => Source::Listed(listpack.pairs().collect()),
            Repr::Table(table) => Source::Table(table),
        };
        PairSampler { source }
    }

    /// `count` distinct pairs chosen at random (every pair when `count` reaches the length),
    /// in no meaningful order: HRANDFIELD with a positive count.
    pub fn random_distinct_pairs<R: Rng + ?Sized>(
        &self,
        count: usize,
        rng: &mut R,
    ) -> Vec<FieldValue<'_>> {
        if count >= self.len() {
            return self.iter().collect();
        }
        match &self.repr {
            Repr::Table(table) if count.saturating_mul(SPARSE_SAMPLE_RATIO) <= table.len() => {
                distinct_draws(table, count, rng)
            }
            _ => {
                let all: Vec<FieldValue<'_>> = self.iter().collect();
                index::sample(rng, all.len(), count)
                    .into_iter()
                    .map(|i| all[i])
                    .collect()
            }
        }
    }

    /// Moves every pair into a hashtable.
    fn convert_to_table(&mut self) {
        let Repr::Listpack(listpack) = &self.repr else {
            return;
        };
        // Room for one more: conversion happens as the listpack overflows.
        let mut table = ScanTable::with_capacity(listpack.len() + 1);
        for (field, value) in listpack.pairs() {
            table.insert_unique(hash_key(field), PackedPair::new(field, value), pair_hash);
        }
        self.repr = Repr::Table(Box::new(table));
    }
}

/// Two hashes are equal when they hold the same pairs, whatever their representations.
impl PartialEq for HashValue {
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(field, value)| other.get(field) == Some(value))
    }
}

/// Draws random pairs of one hash; see [`HashValue::sampler`].
#[derive(Debug)]
pub struct PairSampler<'a> {
    source: Source<'a>,
}

#[derive(Debug)]
enum Source<'a> {
    Listed(Vec<FieldValue<'a>>),
    Table(&'a ScanTable<PackedPair>),
}

impl<'a> PairSampler<'a> {
    /// One random pair, every pair equally likely; `None` for an empty hash.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<FieldValue<'a>> {
        match &self.source {
            Source::Listed(pairs) if pairs.is_empty() => None,
            Source::Listed(pairs) => Some(pairs[rng.gen_range(0..pairs.len())]),
            Source::Table(table) => table.random_entry(rng).map(PackedPair::split),
        }
    }
}

/// `count` distinct pairs of a table much larger than `count`, drawn one at a time.
fn distinct_draws<'a, R: Rng + ?Sized>(
    table: &'a ScanTable<PackedPair>,
    count: usize,
    rng: &mut R,
) -> Vec<FieldValue<'a>> {
    let mut seen: HashSet<*const PackedPair> = HashSet::with_capacity(count);
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        let Some(pair) = table.random_entry(rng) else {
            break;
        };
        if seen.insert(std::ptr::from_ref(pair)) {
            picked.push(pair.split());
        }
    }
    picked
}

/// Sets `field` in a hashtable; true if it is new.
fn table_insert(table: &mut ScanTable<PackedPair>, field: &[u8], value: &[u8]) -> bool {
    let hash = hash_key(field);
    if let Some(pair) = table.find_mut(hash, |pair| pair.field() == field) {
        *pair = PackedPair::new(field, value);
        return false;
    }
    table.insert_unique(hash, PackedPair::new(field, value), pair_hash);
    true
}

fn pair_hash(pair: &PackedPair) -> u64 {
    hash_key(pair.field())
}

// ---------------------------------------------------------------------------------------------
// Length prefixes: LEB128, 7 bits per byte, low bits first, the high bit set on every byte but
// the last. Lengths below 128 (every listpack element) take one byte.

fn put_len(out: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        out.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
}

/// Bytes [`put_len`] writes for `len`.
fn len_prefix_size(len: usize) -> usize {
    let bits = usize::BITS - len.leading_zeros();
    (bits as usize).div_ceil(7).max(1)
}

/// The length written by [`put_len`] at the start of `bytes`, and the bytes it takes.
fn read_len(bytes: &[u8]) -> (usize, usize) {
    let mut len = 0usize;
    for (i, &byte) in bytes.iter().enumerate() {
        let shift = u32::try_from(7 * i).unwrap_or(u32::MAX);
        len |= usize::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            return (len, i + 1);
        }
    }
    (len, bytes.len())
}

/// The length-prefixed element at the start of `bytes`, and the bytes it takes.
fn read_element(bytes: &[u8]) -> (&[u8], usize) {
    let (len, prefix) = read_len(bytes);
    (&bytes[prefix..prefix + len], prefix + len)
}

/// Appends `element` with its length prefix.
fn put_element(out: &mut Vec<u8>, element: &[u8]) {
    put_len(out, element.len());
    out.extend_from_slice(element);
}

// ---------------------------------------------------------------------------------------------
// The hashtable's entries

/// A field and its value in one allocation: the field's length prefix, the field, the value.
#[derive(Debug, Clone)]
struct PackedPair(Box<[u8]>);

impl PackedPair {
    fn new(field: &[u8], value: &[u8]) -> PackedPair {
        let mut bytes =
            Vec::with_capacity(len_prefix_size(field.len()) + field.len() + value.len());
        put_element(&mut bytes, field);
        bytes.extend_from_slice(value);
        PackedPair(bytes.into_boxed_slice())
    }

    /// (field, value)
    fn split(&self) -> (&[u8], &[u8]) {
        let (field, field_end) = read_element(&self.0);
        (field, &self.0[field_end..])
    }

    fn field(&self) -> &[u8] {
        read_element(&self.0).0
    }
}

// ---------------------------------------------------------------------------------------------
// The listpack

/// Small hashes: length-prefixed field, value, field, value, ... in one buffer.
#[derive(Debug, Clone, Default)]
struct Listpack {
    bytes: Vec<u8>,
    /// Number of pairs (at most one more than [`Encodings::hash_entries`], before conversion).
    pairs: u32,
}

/// Where a pair lies in the buffer.
#[derive(Debug, Clone, Copy)]
struct PairSpan {
    start: usize,
    /// Start of the value's length prefix.
    value_start: usize,
    end: usize,
}

impl Listpack {
    fn len(&self) -> usize {
        self.pairs as usize
    }

    fn pairs(&self) -> impl Iterator<Item = FieldValue<'_>> + '_ {
        self.spans().map(|(_, field, value)| (field, value))
    }

    /// Every pair with its place in the buffer.
    fn spans(&self) -> impl Iterator<Item = (PairSpan, &[u8], &[u8])> + '_ {
        let mut offset = 0;
        std::iter::from_fn(move || {
            let rest = self.bytes.get(offset..).filter(|rest| !rest.is_empty())?;
            let (field, field_size) = read_element(rest);
            let (value, value_size) = read_element(&rest[field_size..]);
            let span = PairSpan {
                start: offset,
                value_start: offset + field_size,
                end: offset + field_size + value_size,
            };
            offset = span.end;
            Some((span, field, value))
        })
    }

    fn find(&self, field: &[u8]) -> Option<(PairSpan, &[u8])> {
        self.spans()
            .find(|(_, candidate, _)| *candidate == field)
            .map(|(span, _, value)| (span, value))
    }

    /// Sets `field`; true if it is new. The buffer grows to the exact size it needs: a listpack
    /// trades a reallocation per write for no slack, as Redis's does.
    fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut encoded_value = Vec::with_capacity(len_prefix_size(value.len()) + value.len());
        put_element(&mut encoded_value, value);
        match self.find(field).map(|(span, _)| span) {
            Some(span) => {
                let old_len = span.end - span.value_start;
                self.bytes
                    .reserve_exact(encoded_value.len().saturating_sub(old_len));
                self.bytes.splice(span.value_start..span.end, encoded_value);
                false
            }
            None => {
                self.bytes.reserve_exact(
                    len_prefix_size(field.len()) + field.len() + encoded_value.len(),
                );
                put_element(&mut self.bytes, field);
                self.bytes.extend_from_slice(&encoded_value);
                self.pairs += 1;
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let Some((span, _)) = self.find(field) else {
            return false;
        };
        self.bytes.drain(span.start..span.end);
        self.pairs -= 1;
        if self.bytes.capacity() > 2 * self.bytes.len() {
            self.bytes.shrink_to_fit();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Encodings = Encodings::DEFAULT;
    const LISTPACK_ENTRIES_MAX: usize = LIMITS.hash_max_listpack_entries;
    const LISTPACK_VALUE_LEN_MAX: usize = LIMITS.hash_max_listpack_value;

    fn hash_of(pairs: &[(&str, &str)]) -> HashValue {
        let mut hash = HashValue::new();
        for (field, value) in pairs {
            hash.insert(field.as_bytes(), value.as_bytes(), &LIMITS);
        }
        hash
    }

    fn sorted_pairs(hash: &HashValue) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut pairs: Vec<_> = hash.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        pairs.sort();
        pairs
    }

    #[test]
    fn a_hash_stays_small_in_memory() {
        // A Value holds a hash inline: a bigger hash would make every key bigger.
        assert!(std::mem::size_of::<HashValue>() <= 32);
    }

    #[test]
    fn length_prefixes_round_trip() {
        for len in [0, 1, 127, 128, 300, 16_383, 16_384, usize::MAX] {
            let mut out = Vec::new();
            put_len(&mut out, len);
            assert_eq!(out.len(), len_prefix_size(len), "{len}");
            assert_eq!(read_len(&out), (len, out.len()), "{len}");
        }
    }

    #[test]
    fn listpack_sets_replaces_and_removes_in_place() {
        let mut hash = hash_of(&[("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(hash.encoding(), "listpack");
        assert!(!hash.insert(b"b", b"a longer value", &LIMITS));
        assert!(!hash.insert(b"a", b"", &LIMITS));
        assert_eq!(hash.get(b"b"), Some(&b"a longer value"[..]));
        assert_eq!(hash.get(b"a"), Some(&b""[..]));
        assert_eq!(hash.get(b"c"), Some(&b"3"[..]));
        assert!(hash.remove(b"b"));
        assert!(!hash.remove(b"b"));
        assert_eq!(
            hash.iter().collect::<Vec<_>>(),
            [(&b"a"[..], &b""[..]), (&b"c"[..], &b"3"[..])]
        );
        assert_eq!(hash.len(), 2);
    }

    #[test]
    fn too_many_fields_convert_to_a_hashtable() {
        let mut hash = HashValue::new();
        for i in 0..LISTPACK_ENTRIES_MAX {
            assert!(hash.insert(format!("f{i}").as_bytes(), b"v", &LIMITS));
        }
        assert_eq!(hash.encoding(), "listpack");
        hash.insert(b"one-more", b"v", &LIMITS);
        assert_eq!((hash.encoding(), hash.len()), ("hashtable", 129));
        assert_eq!(hash.get(b"f77"), Some(&b"v"[..]));
        hash.remove(b"one-more");
        hash.remove(b"f0");
        assert_eq!(hash.encoding(), "hashtable", "conversion is one way");
    }

    #[test]
    fn long_fields_or_values_convert_to_a_hashtable() {
        let long = "x".repeat(LISTPACK_VALUE_LEN_MAX);
        let longer = "x".repeat(LISTPACK_VALUE_LEN_MAX + 1);
        assert_eq!(hash_of(&[(&long, &long)]).encoding(), "listpack");
        assert_eq!(hash_of(&[("f", &longer)]).encoding(), "hashtable");
        let mut hash = hash_of(&[("f", "v"), ("g", "w")]);
        hash.insert(longer.as_bytes(), b"v", &LIMITS);
        assert_eq!(hash.encoding(), "hashtable");
        assert_eq!(hash.get(longer.as_bytes()), Some(&b"v"[..]));
        assert_eq!(hash.get(b"g"), Some(&b"w"[..]));
        assert_eq!(hash.len(), 3);
    }

    #[test]
    fn both_representations_hold_binary_fields_and_values() {
        let binary: Vec<u8> = (0..=255).collect();
        let mut small = HashValue::new();
        small.insert(b"\0\r\n", b"\xff\0", &LIMITS);
        assert_eq!(small.get(b"\0\r\n"), Some(&b"\xff\0"[..]));
        let mut big = HashValue::new();
        big.insert(&binary, &binary, &LIMITS);
        big.insert(b"", b"", &LIMITS);
        assert_eq!(big.encoding(), "hashtable");
        assert_eq!(big.get(&binary), Some(&binary[..]));
        assert_eq!(big.get(b""), Some(&b""[..]));
        assert!(!big.contains(b"missing"));
    }

    #[test]
    fn a_thinned_hashtable_keeps_its_remaining_pairs() {
        let mut hash = HashValue::new();
        for i in 0..2000 {
            hash.insert(
                format!("f{i}").as_bytes(),
                format!("v{i}").as_bytes(),
                &LIMITS,
            );
        }
        for i in (0..2000).filter(|i| i % 100 != 0) {
            assert!(hash.remove(format!("f{i}").as_bytes()));
        }
        assert_eq!((hash.len(), hash.encoding()), (20, "hashtable"));
        for i in (0..2000).step_by(100) {
            assert_eq!(
                hash.get(format!("f{i}").as_bytes()),
                Some(format!("v{i}").as_bytes())
            );
        }
        let mut rng = rand::thread_rng();
        let (field, _) = hash.random_pair(&mut rng).expect("not empty");
        assert!(hash.contains(field));
    }

    #[test]
    fn equality_ignores_the_representation() {
        let small = hash_of(&[("a", "1"), ("b", "2")]);
        let mut big = HashValue::new();
        big.insert(&[b'x'; 100], b"", &LIMITS);
        big.remove(&[b'x'; 100]);
        big.insert(b"b", b"2", &LIMITS);
        big.insert(b"a", b"1", &LIMITS);
        assert_eq!(big.encoding(), "hashtable");
        assert_eq!(small, big);
        big.insert(b"a", b"other", &LIMITS);
        assert_ne!(small, big);
    }

    #[test]
    fn a_full_scan_of_a_hashtable_visits_every_pair() {
        let mut hash = HashValue::new();
        for i in 0..500 {
            hash.insert(
                format!("field:{i}").as_bytes(),
                i.to_string().as_bytes(),
                &LIMITS,
            );
        }
        let (mut cursor, mut seen) = (0, Vec::new());
        loop {
            cursor = hash.scan(cursor, 10, |f, v| seen.push((f.to_vec(), v.to_vec())));
            if cursor == 0 {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, sorted_pairs(&hash));
        let small = hash_of(&[("a", "1"), ("b", "2")]);
        let mut pairs = Vec::new();
        assert_eq!(small.scan(99, 1, |f, _| pairs.push(f.to_vec())), 0);
        assert_eq!(pairs, [b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn random_pairs_come_from_the_hash() {
        let mut rng = rand::thread_rng();
        assert_eq!(HashValue::new().random_pair(&mut rng), None);
        assert_eq!(HashValue::new().sampler().draw(&mut rng), None);
        let mut big = HashValue::new();
        for i in 0..300 {
            big.insert(
                format!("f{i}").as_bytes(),
                format!("v{i}").as_bytes(),
                &LIMITS,
            );
        }
        for hash in [hash_of(&[("a", "1"), ("b", "2"), ("c", "3")]), big] {
            let (field, value) = hash.random_pair(&mut rng).expect("not empty");
            assert_eq!(hash.get(field), Some(value));
            let sampler = hash.sampler();
            for _ in 0..20 {
                let (field, value) = sampler.draw(&mut rng).expect("not empty");
                assert_eq!(hash.get(field), Some(value));
            }
        }
    }

    #[test]
    fn distinct_samples_have_no_repeats() {
        let mut rng = rand::thread_rng();
        let mut big = HashValue::new();
        for i in 0..300 {
            big.insert(format!("f{i}").as_bytes(), b"v", &LIMITS);
        }
        let small = hash_of(&[("a", "1"), ("b", "2"), ("c", "3")]);
        // Sparse (drawn one by one), dense (chosen from a list), small, and everything.
        for (hash, count) in [
            (&big, 10),
            (&big, 250),
            (&small, 2),
            (&small, 5),
            (&big, 300),
        ] {
            let sample = hash.random_distinct_pairs(count, &mut rng);
            let fields: HashSet<&[u8]> = sample.iter().map(|(f, _)| *f).collect();
            assert_eq!(sample.len(), count.min(hash.len()));
            assert_eq!(fields.len(), sample.len(), "no repeats");
            assert!(sample.iter().all(|(f, v)| hash.get(f) == Some(*v)));
        }
    }
}
