//! Cursors for HSCAN, SSCAN and ZSCAN over a collection held in a hash table.
//!
//! The cursor names a bucket of the table, so it survives removals and insertions that do not
//! relocate entries. [`ScanTable`] counts the inserts that may relocate them (a grow, or a
//! rehash in place once no room is left) and the cursor records that count: after a relocation
//! the scan starts again from the first bucket, which may return elements twice but never
//! misses one that was present for the whole scan, as SCAN promises.

use hashbrown::hash_table::{AbsentEntry, Entry, OccupiedEntry};
use hashbrown::HashTable;
use rand::Rng;

use crate::command::{is_keyword, parse_i64_arg, Args};
use crate::error::CommandError;

/// Bits of the cursor that hold the bucket index; the bits above hold log2 of the bucket count.
const INDEX_BITS: u32 = 56;

/// Random buckets [`ScanTable::random_entry`] tries before it walks to the next entry. A table
/// is at least about 40% full unless removals thinned it, so 32 misses are rare (0.6^32 < 1e-7).
const RANDOM_DRAWS_MAX: usize = 32;

/// Tables this small are never shrunk: the memory is not worth a relocation.
const SPARSE_BUCKETS_MIN: usize = 64;

/// Options shared by the collection SCAN commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions<'a> {
    /// MATCH pattern.
    pub pattern: Option<&'a [u8]>,
    /// COUNT hint (default 10).
    pub count: usize,
}

/// Parses `cursor [MATCH pattern] [COUNT count]` as HSCAN, SSCAN and ZSCAN take them.
pub fn parse_scan_args<'a>(args: &mut Args<'a>) -> Result<(u64, ScanOptions<'a>), CommandError> {
    let cursor = parse_cursor(args.next_bytes()?)?;
    let mut options = ScanOptions {
        pattern: None,
        count: 10,
    };
    while let Some(option) = args.next_opt() {
        if is_keyword(option, "match") {
            options.pattern = Some(args.next_bytes()?);
        } else if is_keyword(option, "count") {
            let count = parse_i64_arg(args.next_bytes()?)?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
            options.count = usize::try_from(count).unwrap_or(usize::MAX);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok((cursor, options))
}

/// A cursor argument: an unsigned decimal integer.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| CommandError::err("invalid cursor"))
}

/// A hash table that knows when its entries may have moved, so scans over it can resume.
#[derive(Debug, Clone)]
pub struct ScanTable<T> {
    table: HashTable<T>,
    /// Bumped before every insert that may relocate entries (wraps; 8 bits reach the cursor).
    layout_epoch: u8,
}

impl<T> Default for ScanTable<T> {
    fn default() -> Self {
        ScanTable {
            table: HashTable::new(),
            layout_epoch: 0,
        }
    }
}

impl<T> ScanTable<T> {
    /// An empty table with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        ScanTable {
            table: HashTable::with_capacity(capacity),
            layout_epoch: 0,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The entries, in bucket order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.table.iter()
    }

    /// The entry equal to `eq` under `hash`.
    pub fn find(&self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&T> {
        self.table.find(hash, eq)
    }

    /// The entry equal to `eq` under `hash`, mutable (its hash must not change).
    pub fn find_mut(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        self.table.find_mut(hash, eq)
    }

    /// The entry, to remove it or change it in place (removal never relocates others).
    pub fn find_entry(
        &mut self,
        hash: u64,
        eq: impl FnMut(&T) -> bool,
    ) -> Result<OccupiedEntry<'_, T>, AbsentEntry<'_, T>> {
        self.table.find_entry(hash, eq)
    }

    /// The entry for insertion or update.
    pub fn entry(
        &mut self,
        hash: u64,
        eq: impl FnMut(&T) -> bool,
        hasher: impl Fn(&T) -> u64,
    ) -> Entry<'_, T> {
        self.note_possible_relocation();
        self.table.entry(hash, eq, hasher)
    }

    /// Inserts an entry known to be absent.
    pub fn insert_unique(&mut self, hash: u64, value: T, hasher: impl Fn(&T) -> u64) {
        self.note_possible_relocation();
        self.table.insert_unique(hash, value, hasher);
    }

    /// Keeps the entries for which `keep` is true (never relocates the others).
    pub fn retain(&mut self, keep: impl FnMut(&mut T) -> bool) {
        self.table.retain(keep);
    }

    /// An insert relocates entries only when no room is left (hashbrown's capacity is its
    /// entries plus the room left), then it grows or rehashes in place.
    fn note_possible_relocation(&mut self) {
        if self.table.len() == self.table.capacity() {
            self.layout_epoch = self.layout_epoch.wrapping_add(1);
        }
    }

    /// A random entry, every entry equally likely: random buckets are drawn until one is
    /// occupied. A table thinned by removals may miss [`RANDOM_DRAWS_MAX`] times; the walk then
    /// goes on from the last bucket drawn to the next entry, which favours entries that follow
    /// long empty runs a little but bounds the draws.
    pub fn random_entry<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<&T> {
        if self.table.is_empty() {
            return None;
        }
        let buckets = self.table.num_buckets();
        let mut index = 0;
        for _ in 0..RANDOM_DRAWS_MAX {
            index = rng.gen_range(0..buckets);
            if let Some(entry) = self.table.get_bucket(index) {
                return Some(entry);
            }
        }
        (index..buckets)
            .chain(0..index)
            .find_map(|i| self.table.get_bucket(i))
    }

    /// Gives memory back once removals have left the table less than 1/8 full, as Redis
    /// shrinks its dicts: it also keeps [`ScanTable::random_entry`]'s draws likely to hit. The
    /// entries move, so scans in progress start over.
    pub fn shrink_if_sparse(&mut self, hasher: impl Fn(&T) -> u64) {
        let buckets = self.table.num_buckets();
        if buckets > SPARSE_BUCKETS_MIN && self.table.len() < buckets / 8 {
            self.layout_epoch = self.layout_epoch.wrapping_add(1);
            self.table.shrink_to_fit(hasher);
        }
    }

    /// Visits the entries of up to `count` occupied buckets from `cursor` on; returns the
    /// cursor of the next call, 0 when the table has been walked to its end.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&T)) -> u64 {
        let buckets = self.table.num_buckets();
        let epoch = u64::from(self.layout_epoch);
        let index_mask = (1u64 << INDEX_BITS) - 1;
        let same_layout = cursor >> INDEX_BITS == epoch;
        let mut index = if same_layout {
            (cursor & index_mask) as usize
        } else {
            0
        };
        let mut visited = 0;
        while index < buckets && visited < count {
            if let Some(entry) = self.table.get_bucket(index) {
                visit(entry);
                visited += 1;
            }
            index += 1;
        }
        if index >= buckets {
            return 0;
        }
        // Never 0 while unfinished: index >= 1 here.
        (epoch << INDEX_BITS) | index as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_of(values: impl IntoIterator<Item = u64>) -> ScanTable<u64> {
        let mut table = ScanTable::default();
        for v in values {
            table.insert_unique(hash(&v), v, hash);
        }
        table
    }

    fn hash(v: &u64) -> u64 {
        v.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    #[test]
    fn a_full_scan_returns_every_element_once_when_nothing_changes() {
        let table = table_of(0..1000);
        let (mut cursor, mut seen) = (0, Vec::new());
        loop {
            cursor = table.scan(cursor, 7, |v| seen.push(*v));
            if cursor == 0 {
                break;
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn elements_present_throughout_survive_removals_and_growth() {
        let mut table = table_of(0..100);
        let (mut cursor, mut seen) = (0, Vec::new());
        let mut round = 0;
        loop {
            cursor = table.scan(cursor, 5, |v| seen.push(*v));
            round += 1;
            // Remove elements >= 50 as the scan goes, grow the table once, and churn it (removals
            // then inserts into the freed room) to provoke rehashes in place.
            if let Ok(entry) = table.find_entry(hash(&(50 + round)), |v| *v == 50 + round) {
                entry.remove();
            }
            if round == 3 {
                for v in 1000..3000 {
                    table.insert_unique(hash(&v), v, hash);
                }
            }
            if round > 3 {
                let churn = 1000 + round * 10;
                table.retain(|v| !(churn..churn + 10).contains(v));
                for v in 5000 + round * 10..5010 + round * 10 {
                    table.insert_unique(hash(&v), v, hash);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for kept in 0..50u64 {
            assert!(seen.contains(&kept), "{kept} missed");
        }
    }

    #[test]
    fn random_entries_reach_every_entry_even_in_a_thinned_table() {
        let mut rng = rand::thread_rng();
        assert_eq!(ScanTable::<u64>::default().random_entry(&mut rng), None);
        let mut table = table_of(0..1000);
        table.retain(|v| *v % 100 == 0);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            seen.insert(*table.random_entry(&mut rng).expect("not empty"));
        }
        assert_eq!(seen, (0..1000).step_by(100).collect());
    }

    #[test]
    fn scan_arguments_parse_like_redis() {
        let args: Vec<bytes::Bytes> = ["HSCAN", "k", "0", "MATCH", "f*", "COUNT", "5"]
            .iter()
            .map(|w| bytes::Bytes::from(*w))
            .collect();
        let mut parser = Args::new(&args);
        parser.next_bytes().ok();
        let (cursor, options) = parse_scan_args(&mut parser).expect("valid");
        assert_eq!(
            (cursor, options.count, options.pattern),
            (0, 5, Some(&b"f*"[..]))
        );
        assert_eq!(parse_cursor(b"x"), Err(CommandError::err("invalid cursor")));
        let bad: Vec<bytes::Bytes> = ["HSCAN", "k", "0", "COUNT", "0"]
            .iter()
            .map(|w| bytes::Bytes::from(*w))
            .collect();
        let mut parser = Args::new(&bad);
        parser.next_bytes().ok();
        assert_eq!(parse_scan_args(&mut parser), Err(CommandError::Syntax));
    }
}
