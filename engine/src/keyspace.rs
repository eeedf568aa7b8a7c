//! One database: 16384 slot tables, each behind its own lock, so commands on different slots
//! never wait for each other, and a slot can be counted, listed or moved on its own (cluster
//! mode needs all three).
//!
//! Tables are allocated on first use so that unused databases cost nothing. Key and expiry
//! counters are kept per slot (under the slot's lock) and per database (atomics), so DBSIZE and
//! COUNTKEYSINSLOT never walk the tables.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;

use parking_lot::{Mutex, MutexGuard};

use crate::slot::SLOT_COUNT;
use crate::value::Value;

/// The hasher of every slot table: ahash with one process-wide random seed (no per-table state,
/// and hash flooding needs the seed).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyHasher;

impl std::hash::BuildHasher for KeyHasher {
    type Hasher = ahash::AHasher;

    fn build_hasher(&self) -> ahash::AHasher {
        static SEED: OnceLock<ahash::RandomState> = OnceLock::new();
        SEED.get_or_init(ahash::RandomState::new).build_hasher()
    }
}

/// A key's value and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry deadline in Unix milliseconds; 0 when the key does not expire.
    expire_at_ms: u64,
}

impl Entry {
    /// An entry that does not expire.
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expire_at_ms: 0,
        }
    }

    /// An entry with an optional deadline (Unix ms).
    pub fn with_expiry(value: Value, expire_at_ms: Option<u64>) -> Entry {
        Entry {
            value,
            expire_at_ms: expire_at_ms.unwrap_or(0),
        }
    }

    /// The deadline in Unix ms, if any.
    pub fn expire_at_ms(&self) -> Option<u64> {
        (self.expire_at_ms != 0).then_some(self.expire_at_ms)
    }

    /// Whether the deadline has passed at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }
}

/// The keys of one slot of one database.
#[derive(Debug, Default)]
pub struct SlotTable {
    map: HashMap<Box<[u8]>, Entry, KeyHasher>,
    volatile_count: usize,
}

impl SlotTable {
    /// Number of keys (including logically expired ones not yet reclaimed).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the slot holds no key.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of keys with a deadline.
    pub fn volatile_count(&self) -> usize {
        self.volatile_count
    }

    /// The entry of `key`, expired or not.
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    /// All entries, expired or not.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.map.iter().map(|(k, e)| (&**k, e))
    }

    fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    /// Inserts or replaces; returns the previous entry. Keeps the counters true.
    fn insert(&mut self, key: &[u8], entry: Entry, counts: &Counts) -> Option<Entry> {
        let new_volatile = entry.expire_at_ms != 0;
        let old = match self.map.get_mut(key) {
            Some(slot_entry) => Some(std::mem::replace(slot_entry, entry)),
            None => {
                self.map.insert(Box::from(key), entry);
                None
            }
        };
        let old_volatile = old.as_ref().is_some_and(|e| e.expire_at_ms != 0);
        if old.is_none() {
            counts.keys.fetch_add(1, Ordering::Relaxed);
        }
        self.adjust_volatile(old_volatile, new_volatile, counts);
        old
    }

    fn remove(&mut self, key: &[u8], counts: &Counts) -> Option<Entry> {
        let old = self.map.remove(key)?;
        counts.keys.fetch_sub(1, Ordering::Relaxed);
        self.adjust_volatile(old.expire_at_ms != 0, false, counts);
        Some(old)
    }

    fn set_expiry(&mut self, key: &[u8], expire_at_ms: Option<u64>, counts: &Counts) -> bool {
        let Some(entry) = self.map.get_mut(key) else {
            return false;
        };
        let was_volatile = entry.expire_at_ms != 0;
        entry.expire_at_ms = expire_at_ms.unwrap_or(0);
        let is_volatile = entry.expire_at_ms != 0;
        self.adjust_volatile(was_volatile, is_volatile, counts);
        true
    }

    fn adjust_volatile(&mut self, was: bool, is: bool, counts: &Counts) {
        match (was, is) {
            (false, true) => {
                self.volatile_count += 1;
                counts.volatile.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                debug_assert!(self.volatile_count > 0, "volatile count underflow");
                self.volatile_count -= 1;
                counts.volatile.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Removes every key whose deadline has passed; returns the removed keys.
    fn remove_expired(&mut self, now_ms: u64, counts: &Counts) -> Vec<Box<[u8]>> {
        if self.volatile_count == 0 {
            return Vec::new();
        }
        let expired: Vec<Box<[u8]>> = self
            .map
            .iter()
            .filter(|(_, e)| e.is_expired(now_ms))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            self.remove(key, counts);
        }
        expired
    }

    fn take_all(&mut self, counts: &Counts) -> HashMap<Box<[u8]>, Entry, KeyHasher> {
        counts
            .keys
            .fetch_sub(self.map.len() as i64, Ordering::Relaxed);
        counts
            .volatile
            .fetch_sub(self.volatile_count as i64, Ordering::Relaxed);
        self.volatile_count = 0;
        std::mem::take(&mut self.map)
    }
}

/// Per-database counters, kept exact under the slot locks.
#[derive(Debug, Default)]
struct Counts {
    keys: AtomicI64,
    volatile: AtomicI64,
}

/// One database (`SELECT n`): 16384 slot tables.
#[derive(Debug, Default)]
pub struct Keyspace {
    slots: OnceLock<Box<[Mutex<SlotTable>]>>,
    counts: Counts,
}

impl Keyspace {
    fn slots(&self) -> &[Mutex<SlotTable>] {
        self.slots.get_or_init(|| {
            (0..SLOT_COUNT)
                .map(|_| Mutex::new(SlotTable::default()))
                .collect()
        })
    }

    /// Whether any table was ever allocated (an untouched database need not be walked).
    pub fn is_allocated(&self) -> bool {
        self.slots.get().is_some()
    }

    /// Locks one slot.
    pub fn lock_slot(&self, slot: u16) -> MutexGuard<'_, SlotTable> {
        self.slots()[usize::from(slot)].lock()
    }

    /// Number of keys (DBSIZE), expired-but-unreclaimed included, as Redis counts them.
    pub fn key_count(&self) -> u64 {
        u64::try_from(self.counts.keys.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// Number of keys with a deadline (INFO keyspace `expires=`).
    pub fn volatile_count(&self) -> u64 {
        u64::try_from(self.counts.volatile.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// Number of keys in one slot.
    pub fn slot_key_count(&self, slot: u16) -> usize {
        if !self.is_allocated() {
            return 0;
        }
        self.lock_slot(slot).len()
    }
}

/// Every slot of one database, locked: for the commands that change a whole database at once
/// (FLUSHDB, FLUSHALL, SWAPDB). They propagate their record while holding this, so no other
/// write to the database can be applied, or streamed, between their effect and their record.
#[derive(Debug)]
pub struct WholeKeyspace<'a> {
    tables: Vec<MutexGuard<'a, SlotTable>>,
    counts: &'a Counts,
}

impl Keyspace {
    /// Locks every slot in ascending order (allocating the tables on first use). Lock several
    /// databases in ascending database order, as [`crate::exec::Ctx::lock_targets`] does.
    pub fn lock_all(&self) -> WholeKeyspace<'_> {
        WholeKeyspace {
            tables: self.slots().iter().map(|slot| slot.lock()).collect(),
            counts: &self.counts,
        }
    }
}

impl WholeKeyspace<'_> {
    /// Takes every key out; returns the non-empty tables for the caller to drop (possibly on
    /// another thread, for FLUSHALL ASYNC, after the locks are released).
    pub fn take_all(&mut self) -> Vec<HashMap<Box<[u8]>, Entry, KeyHasher>> {
        self.tables
            .iter_mut()
            .map(|table| table.take_all(self.counts))
            .filter(|m| !m.is_empty())
            .collect()
    }

    /// Exchanges the contents and counters of two locked databases.
    pub fn swap(&mut self, other: &mut WholeKeyspace<'_>) {
        for (a, b) in self.tables.iter_mut().zip(other.tables.iter_mut()) {
            std::mem::swap(&mut **a, &mut **b);
        }
        swap_atomic(&self.counts.keys, &other.counts.keys);
        swap_atomic(&self.counts.volatile, &other.counts.volatile);
    }
}

fn swap_atomic(a: &AtomicI64, b: &AtomicI64) {
    let va = a.load(Ordering::Relaxed);
    let vb = b.swap(va, Ordering::Relaxed);
    a.store(vb, Ordering::Relaxed);
}

/// A locked slot of a known database, with the counters it must keep true.
#[derive(Debug)]
pub struct LockedSlot<'a> {
    db: usize,
    slot: u16,
    table: MutexGuard<'a, SlotTable>,
    counts: &'a Counts,
}

impl<'a> LockedSlot<'a> {
    /// Locks `slot` of `keyspace` (database number `db`).
    pub fn lock(keyspace: &'a Keyspace, db: usize, slot: u16) -> Self {
        LockedSlot {
            db,
            slot,
            table: keyspace.lock_slot(slot),
            counts: &keyspace.counts,
        }
    }

    /// The database number.
    pub fn db(&self) -> usize {
        self.db
    }

    /// The slot number.
    pub fn slot(&self) -> u16 {
        self.slot
    }

    /// Read access to the table (expired keys included).
    pub fn table(&self) -> &SlotTable {
        &self.table
    }

    /// The entry of `key` if present, expired or not.
    pub fn raw_get(&self, key: &[u8]) -> Option<&Entry> {
        self.table.get(key)
    }

    /// Mutable entry of `key`, expired or not. The deadline is changed only through
    /// [`LockedSlot::set_expiry`], which keeps the counters true.
    pub fn raw_get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.table.get_mut(key)
    }

    /// Inserts or replaces `key`; returns the previous entry.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        self.table.insert(key, entry, self.counts)
    }

    /// Removes `key`; returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.table.remove(key, self.counts)
    }

    /// Sets or clears the deadline of an existing key; false if the key is absent.
    pub fn set_expiry(&mut self, key: &[u8], expire_at_ms: Option<u64>) -> bool {
        self.table.set_expiry(key, expire_at_ms, self.counts)
    }

    /// Removes every expired key of this slot; returns them.
    pub fn remove_expired(&mut self, now_ms: u64) -> Vec<Box<[u8]>> {
        self.table.remove_expired(now_ms, self.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::StrValue;

    fn string(v: &[u8]) -> Value {
        Value::Str(StrValue::from_bytes(v))
    }

    #[test]
    fn counters_follow_inserts_removes_and_expiry_changes() {
        let ks = Keyspace::default();
        let mut slot = LockedSlot::lock(&ks, 0, 7);
        slot.insert(b"a", Entry::new(string(b"1")));
        slot.insert(b"b", Entry::with_expiry(string(b"2"), Some(100)));
        assert_eq!((ks.key_count(), ks.volatile_count()), (2, 1));
        slot.insert(b"b", Entry::new(string(b"3")));
        assert_eq!((ks.key_count(), ks.volatile_count()), (2, 0));
        assert!(slot.set_expiry(b"a", Some(50)));
        assert_eq!(slot.remove_expired(60), vec![Box::from(&b"a"[..])]);
        assert_eq!((ks.key_count(), ks.volatile_count()), (1, 0));
        slot.remove(b"b");
        assert_eq!(ks.key_count(), 0);
        drop(slot);
        assert_eq!(ks.slot_key_count(7), 0);
    }

    #[test]
    fn whole_keyspace_takes_and_swaps_under_one_lock() {
        let a = Keyspace::default();
        let b = Keyspace::default();
        LockedSlot::lock(&a, 0, 1).insert(b"x", Entry::with_expiry(string(b"1"), Some(9)));
        LockedSlot::lock(&a, 0, 2).insert(b"y", Entry::new(string(b"2")));
        {
            let (mut whole_a, mut whole_b) = (a.lock_all(), b.lock_all());
            whole_a.swap(&mut whole_b);
        }
        assert_eq!((a.key_count(), b.key_count()), (0, 2));
        assert_eq!((a.volatile_count(), b.volatile_count()), (0, 1));
        let taken = b.lock_all().take_all();
        assert_eq!(taken.len(), 2);
        assert_eq!((b.key_count(), b.volatile_count()), (0, 0));
    }
}
