//! One database: 16384 slot tables, each behind its own lock, so commands on different slots
//! never wait for each other, and a slot can be counted, listed or moved on its own (cluster
//! mode needs all three).
//!
//! Tables are allocated on first use so that unused databases cost nothing. Key and expiry
//! counts are kept per slot (under the slot's lock) and per database (striped counters, so
//! writers on different threads do not fight over one cache line), so DBSIZE and
//! COUNTKEYSINSLOT never walk the tables. A lookup hashes its key once and finds, expires or
//! returns the entry in that one probe.

use std::sync::{Arc, OnceLock};

use hashbrown::hash_table::{Entry as TableEntry, HashTable};
use parking_lot::{Mutex, MutexGuard};

use crate::counter::StripedCounter;
use crate::evict::access::Touch;
use crate::slot::SLOT_COUNT;
use crate::small_bytes::SmallBytes;
use crate::snapshot::CowHook;
use crate::value::Value;
use crate::watch::{SlotWatchers, WatchFlag};

/// Hash of a binary string for the slot tables and the collection types: ahash with one
/// process-wide random seed (no per-table state, and flooding a table needs the seed).
pub fn hash_key(key: &[u8]) -> u64 {
    static SEED: OnceLock<ahash::RandomState> = OnceLock::new();
    SEED.get_or_init(ahash::RandomState::new).hash_one(key)
}

/// A key's value and metadata.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry deadline in Unix milliseconds; 0 when the key does not expire.
    expire_at_ms: u64,
    /// When the key was last used (LRU clock) or how often (LFU), stamped by the keyspace on
    /// every lookup and insert; see [`crate::evict::access`].
    access: u32,
}

impl PartialEq for Entry {
    /// Same value and deadline; when the key was last used is not part of its contents.
    fn eq(&self, other: &Entry) -> bool {
        self.value == other.value && self.expire_at_ms == other.expire_at_ms
    }
}

impl Entry {
    /// An entry that does not expire.
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expire_at_ms: 0,
            access: 0,
        }
    }

    /// An entry with an optional deadline (Unix ms).
    pub fn with_expiry(value: Value, expire_at_ms: Option<u64>) -> Entry {
        Entry {
            value,
            expire_at_ms: expire_at_ms.unwrap_or(0),
            access: 0,
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

    /// Whether the key has a deadline.
    pub fn is_volatile(&self) -> bool {
        self.expire_at_ms != 0
    }

    /// The access stamp (LRU clock or LFU minutes and counter).
    pub fn access(&self) -> u32 {
        self.access
    }

    /// Sets the access stamp (when restoring a key with its idle time or frequency).
    pub fn set_access(&mut self, access: u32) {
        self.access = access;
    }
}

/// A key stored with its entry, in one allocation the table points to: the table's buckets
/// stay 8 bytes, so its free room (a table is 44% to 87% full) costs little, and a lookup
/// reaches the key's bytes with the same one indirection a boxed key would need.
#[derive(Debug)]
struct Stored {
    key: SmallBytes,
    entry: Entry,
}

/// Bytes a key's place in its slot table takes: the stored key and entry (an 80-byte
/// allocation), and the table's bucket and control byte at a typical two-thirds load.
pub const STORED_ENTRY_BYTES: u64 = std::mem::size_of::<Stored>() as u64 + (8 + 1) * 3 / 2;

/// What a lookup that applies expiry found.
#[derive(Debug)]
pub enum Lookup<'t> {
    /// A live entry.
    Live(&'t mut Entry),
    /// The key was there but its deadline had passed: it has just been removed.
    Expired,
    /// No such key.
    Missing,
}

/// What an insert or removal found in place of the key before.
#[derive(Debug)]
pub enum Previous {
    /// A live entry, now replaced or removed.
    Live(Entry),
    /// An expired entry, now gone.
    Expired,
    /// Nothing.
    Absent,
}

impl Previous {
    /// The previous live entry, if any.
    pub fn live(self) -> Option<Entry> {
        match self {
            Previous::Live(entry) => Some(entry),
            Previous::Expired | Previous::Absent => None,
        }
    }
}

/// The keys of one slot of one database.
#[derive(Debug, Default)]
pub struct SlotTable {
    table: HashTable<Box<Stored>>,
    volatile_count: usize,
    /// Clients watching keys of this slot (WATCH). They belong to the slot of the database,
    /// not to its contents: a flush or swap keeps them in place.
    watchers: SlotWatchers,
}

impl SlotTable {
    /// Number of keys (including logically expired ones not yet reclaimed).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the slot holds no key.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Number of keys with a deadline.
    pub fn volatile_count(&self) -> usize {
        self.volatile_count
    }

    /// The entry of `key`, expired or not.
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.table
            .find(hash_key(key), |s| *s.key == *key)
            .map(|s| &s.entry)
    }

    /// All entries, expired or not.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.table.iter().map(|s| (&*s.key, &s.entry))
    }

    /// Visits entries from bucket `start` on (wrapping around) until `visit` says stop or
    /// every bucket was seen: eviction samples a slot this way, in time bounded by the
    /// table's size, wherever the keys sit.
    pub fn walk_from(&self, start: usize, mut visit: impl FnMut(&[u8], &Entry) -> bool) {
        let buckets = self.table.num_buckets();
        if buckets == 0 {
            return;
        }
        let start = start % buckets;
        for index in (start..buckets).chain(0..start) {
            if let Some(stored) = self.table.get_bucket(index) {
                if !visit(&stored.key, &stored.entry) {
                    return;
                }
            }
        }
    }

    /// Gives memory back once removals (deletes, expiry, eviction) left the table less than a
    /// quarter full, or empty: a slot that once held many keys does not keep their room. With
    /// 16384 tables per database, most of them small when the data is, their spare room is
    /// what a small cache spends beyond its keys. The new size leaves half again the keys'
    /// room, so a table does not shrink and grow back on every other write.
    fn shrink_if_sparse(&mut self) {
        let (buckets, len) = (self.table.num_buckets(), self.table.len());
        let sparse = buckets > 4 && len * 4 < buckets;
        if sparse || (len == 0 && buckets > 0) {
            self.table.shrink_to(len + len / 2, |s| hash_key(&s.key));
        }
    }

    fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.table
            .find_mut(hash_key(key), |s| *s.key == *key)
            .map(|s| &mut s.entry)
    }

    /// The live entry of `key`, stamped as used by `touch` if given; an expired one is
    /// removed on the way.
    fn lookup(
        &mut self,
        key: &[u8],
        now_ms: u64,
        touch: Option<&Touch>,
        counts: &Counts,
    ) -> Lookup<'_> {
        match self.table.find_entry(hash_key(key), |s| *s.key == *key) {
            Ok(found) if found.get().entry.is_expired(now_ms) => {
                let (stored, _) = found.remove();
                note_removed(&mut self.volatile_count, &stored.entry, counts);
                self.watchers.signal(key);
                Lookup::Expired
            }
            Ok(found) => {
                let entry = &mut found.into_mut().entry;
                if let Some(touch) = touch {
                    // Stored only when it changes (the LRU clock ticks every 10 ms), so
                    // threads reading one hot key do not keep taking its cache line away from
                    // each other.
                    let access = touch.accessed(entry.access);
                    if access != entry.access {
                        entry.access = access;
                    }
                }
                Lookup::Live(entry)
            }
            Err(_) => Lookup::Missing,
        }
    }

    /// Inserts or replaces, stamping the entry through `touch`; says what was there. Keeps the
    /// counters true.
    fn insert(&mut self, key: &[u8], mut entry: Entry, touch: &Touch, counts: &Counts) -> Previous {
        let now_ms = touch.now_ms();
        let new_volatile = entry.is_volatile();
        let previous =
            match self
                .table
                .entry(hash_key(key), |s| *s.key == *key, |s| hash_key(&s.key))
            {
                TableEntry::Occupied(mut occupied) => {
                    let was_live = !occupied.get().entry.is_expired(now_ms);
                    let old_access = occupied.get().entry.access;
                    entry.access = if was_live {
                        touch.overwritten(old_access)
                    } else {
                        touch.created()
                    };
                    let old = std::mem::replace(&mut occupied.get_mut().entry, entry);
                    adjust_volatile(
                        &mut self.volatile_count,
                        old.is_volatile(),
                        new_volatile,
                        counts,
                    );
                    if was_live {
                        Previous::Live(old)
                    } else {
                        Previous::Expired
                    }
                }
                TableEntry::Vacant(vacant) => {
                    entry.access = touch.created();
                    vacant.insert(Box::new(Stored {
                        key: SmallBytes::new(key),
                        entry,
                    }));
                    counts.keys.add(1);
                    adjust_volatile(&mut self.volatile_count, false, new_volatile, counts);
                    Previous::Absent
                }
            };
        previous
    }

    fn remove(&mut self, key: &[u8], now_ms: u64, counts: &Counts) -> Previous {
        let Ok(found) = self.table.find_entry(hash_key(key), |s| *s.key == *key) else {
            return Previous::Absent;
        };
        let (stored, _) = found.remove();
        note_removed(&mut self.volatile_count, &stored.entry, counts);
        self.shrink_if_sparse();
        if stored.entry.is_expired(now_ms) {
            Previous::Expired
        } else {
            Previous::Live(stored.entry)
        }
    }

    fn set_expiry(&mut self, key: &[u8], expire_at_ms: Option<u64>, counts: &Counts) -> bool {
        let Some(stored) = self.table.find_mut(hash_key(key), |s| *s.key == *key) else {
            return false;
        };
        let was_volatile = stored.entry.is_volatile();
        stored.entry.expire_at_ms = expire_at_ms.unwrap_or(0);
        let is_volatile = stored.entry.is_volatile();
        adjust_volatile(&mut self.volatile_count, was_volatile, is_volatile, counts);
        true
    }

    /// Removes every key whose deadline has passed; returns the removed keys.
    fn remove_expired(&mut self, now_ms: u64, counts: &Counts) -> Vec<Box<[u8]>> {
        if self.volatile_count == 0 {
            return Vec::new();
        }
        let expired: Vec<Box<Stored>> = self
            .table
            .extract_if(|s| s.entry.is_expired(now_ms))
            .collect();
        for stored in &expired {
            note_removed(&mut self.volatile_count, &stored.entry, counts);
            self.watchers.signal(&stored.key);
        }
        self.shrink_if_sparse();
        expired.into_iter().map(|s| Box::from(&*s.key)).collect()
    }

    fn take_all(&mut self, counts: &Counts) -> SlotTable {
        counts.keys.add(-(self.table.len() as i64));
        counts.volatile.add(-(self.volatile_count as i64));
        self.watchers.signal_all();
        let watchers = std::mem::take(&mut self.watchers);
        std::mem::replace(
            self,
            SlotTable {
                watchers,
                ..SlotTable::default()
            },
        )
    }

    /// Exchanges contents with `other`, each keeping its watchers (who are signalled).
    fn swap_contents(&mut self, other: &mut SlotTable) {
        std::mem::swap(&mut self.table, &mut other.table);
        std::mem::swap(&mut self.volatile_count, &mut other.volatile_count);
        self.watchers.signal_all();
        other.watchers.signal_all();
    }
}

/// Accounts for a removed entry.
fn note_removed(volatile_count: &mut usize, entry: &Entry, counts: &Counts) {
    counts.keys.add(-1);
    adjust_volatile(volatile_count, entry.is_volatile(), false, counts);
}

/// Keeps a slot's and its database's count of keys with deadlines true across a change.
fn adjust_volatile(volatile_count: &mut usize, was: bool, is: bool, counts: &Counts) {
    match (was, is) {
        (false, true) => {
            *volatile_count += 1;
            counts.volatile.add(1);
        }
        (true, false) => {
            assert!(*volatile_count > 0, "volatile count underflow");
            *volatile_count -= 1;
            counts.volatile.add(-1);
        }
        _ => {}
    }
}

/// Per-database counters, kept exact under the slot locks.
#[derive(Debug, Default)]
struct Counts {
    keys: StripedCounter,
    volatile: StripedCounter,
}

/// One database (`SELECT n`): 16384 slot tables.
#[derive(Debug, Default)]
pub struct Keyspace {
    slots: OnceLock<Box<[Mutex<SlotTable>]>>,
    counts: Counts,
    /// Snapshots in progress, told of every change before it is made.
    pub(crate) cow: CowHook,
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
        self.counts.keys.get()
    }

    /// Number of keys with a deadline (INFO keyspace `expires=`).
    pub fn volatile_count(&self) -> u64 {
        self.counts.volatile.get()
    }

    /// Number of keys in one slot.
    pub fn slot_key_count(&self, slot: u16) -> usize {
        if !self.is_allocated() {
            return 0;
        }
        self.lock_slot(slot).len()
    }

    /// Locks every slot in ascending order (allocating the tables on first use). Lock several
    /// databases in ascending database order, as [`crate::exec::Ctx::lock_targets`] does.
    pub fn lock_all(&self) -> WholeKeyspace<'_> {
        WholeKeyspace {
            tables: self.slots().iter().map(|slot| slot.lock()).collect(),
            counts: &self.counts,
            cow: &self.cow,
        }
    }
}

/// Every slot of one database, locked: for the commands that change a whole database at once
/// (FLUSHDB, FLUSHALL, SWAPDB). They propagate their record while holding this, so no other
/// write to the database can be applied, or streamed, between their effect and their record.
#[derive(Debug)]
pub struct WholeKeyspace<'a> {
    tables: Vec<MutexGuard<'a, SlotTable>>,
    counts: &'a Counts,
    cow: &'a CowHook,
}

impl WholeKeyspace<'_> {
    /// Lets snapshots in progress copy every slot they still need, before a change to all.
    fn before_write(&self) {
        for (slot, table) in self.tables.iter().enumerate() {
            self.cow.before_write(slot as u16, table);
        }
    }

    /// Takes every key out; returns the non-empty tables for the caller to drop (possibly on
    /// another thread, for FLUSHALL ASYNC, after the locks are released).
    pub fn take_all(&mut self) -> Vec<SlotTable> {
        self.before_write();
        let counts = self.counts;
        self.tables
            .iter_mut()
            .filter(|table| !table.is_empty())
            .map(|table| table.take_all(counts))
            .collect()
    }

    /// Exchanges the contents and counters of two locked databases.
    pub fn swap(&mut self, other: &mut WholeKeyspace<'_>) {
        self.before_write();
        other.before_write();
        for (a, b) in self.tables.iter_mut().zip(other.tables.iter_mut()) {
            a.swap_contents(b);
        }
        self.counts.keys.swap_with(&other.counts.keys);
        self.counts.volatile.swap_with(&other.counts.volatile);
    }
}

/// A locked slot of a known database, with the counters it must keep true.
#[derive(Debug)]
pub struct LockedSlot<'a> {
    db: usize,
    slot: u16,
    table: MutexGuard<'a, SlotTable>,
    counts: &'a Counts,
    cow: &'a CowHook,
}

impl<'a> LockedSlot<'a> {
    /// Locks `slot` of `keyspace` (database number `db`).
    pub fn lock(keyspace: &'a Keyspace, db: usize, slot: u16) -> Self {
        LockedSlot {
            db,
            slot,
            table: keyspace.lock_slot(slot),
            counts: &keyspace.counts,
            cow: &keyspace.cow,
        }
    }

    /// Lets snapshots in progress copy this slot before it changes (copy-on-write; one atomic
    /// load when no snapshot runs). Every change to the table goes through here first.
    pub fn before_write(&self) {
        self.cow.before_write(self.slot, &self.table);
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
        self.before_write();
        self.table.get_mut(key)
    }

    /// The live entry of `key` at `now_ms`, removing it first if it has expired; a live one
    /// is stamped as used through `touch` when given.
    pub fn lookup(&mut self, key: &[u8], now_ms: u64, touch: Option<&Touch>) -> Lookup<'_> {
        // Only a lookup that reclaims an expired key changes the slot.
        if self.cow.is_active() && self.table.get(key).is_some_and(|e| e.is_expired(now_ms)) {
            self.before_write();
        }
        self.table.lookup(key, now_ms, touch, self.counts)
    }

    /// Inserts or replaces `key`, stamped through `touch`; says what was there.
    pub fn insert(&mut self, key: &[u8], entry: Entry, touch: &Touch) -> Previous {
        self.before_write();
        self.table.insert(key, entry, touch, self.counts)
    }

    /// Removes `key`; says what was there at `now_ms`.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Previous {
        self.before_write();
        self.table.remove(key, now_ms, self.counts)
    }

    /// Sets or clears the deadline of an existing key; false if the key is absent.
    pub fn set_expiry(&mut self, key: &[u8], expire_at_ms: Option<u64>) -> bool {
        self.before_write();
        self.table.set_expiry(key, expire_at_ms, self.counts)
    }

    /// Whether a client watches a key of this slot.
    pub fn has_watchers(&self) -> bool {
        !self.table.watchers.is_empty()
    }

    /// Marks the watchers of `key` (after a write to it).
    pub fn signal_watchers(&self, key: &[u8]) {
        self.table.watchers.signal(key);
    }

    /// Registers `flag` as watching `key`.
    pub fn add_watcher(&mut self, key: &[u8], flag: &Arc<WatchFlag>) {
        self.table.watchers.add(key, flag);
    }

    /// Removes the registration of `flag` on `key`.
    pub fn remove_watcher(&mut self, key: &[u8], flag: &Arc<WatchFlag>) {
        self.table.watchers.remove(key, flag);
    }

    /// Removes every expired key of this slot; returns them.
    pub fn remove_expired(&mut self, now_ms: u64) -> Vec<Box<[u8]>> {
        if self.table.volatile_count() > 0 {
            self.before_write();
        }
        self.table.remove_expired(now_ms, self.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evict::access::AccessMode;
    use crate::value::StrValue;

    fn at(now_ms: u64) -> Touch {
        Touch::new(AccessMode::Lru, now_ms)
    }

    fn string(v: &[u8]) -> Value {
        Value::Str(StrValue::from_bytes(v))
    }

    #[test]
    fn counters_follow_inserts_removes_and_expiry_changes() {
        let ks = Keyspace::default();
        let mut slot = LockedSlot::lock(&ks, 0, 7);
        assert!(matches!(
            slot.insert(b"a", Entry::new(string(b"1")), &at(0)),
            Previous::Absent
        ));
        slot.insert(b"b", Entry::with_expiry(string(b"2"), Some(100)), &at(0));
        assert_eq!((ks.key_count(), ks.volatile_count()), (2, 1));
        assert!(matches!(
            slot.insert(b"b", Entry::new(string(b"3")), &at(0)),
            Previous::Live(_)
        ));
        assert_eq!((ks.key_count(), ks.volatile_count()), (2, 0));
        assert!(slot.set_expiry(b"a", Some(50)));
        assert_eq!(slot.remove_expired(60), vec![Box::from(&b"a"[..])]);
        assert_eq!((ks.key_count(), ks.volatile_count()), (1, 0));
        assert!(matches!(slot.remove(b"b", 0), Previous::Live(_)));
        assert!(matches!(slot.remove(b"b", 0), Previous::Absent));
        assert_eq!(ks.key_count(), 0);
        drop(slot);
        assert_eq!(ks.slot_key_count(7), 0);
    }

    #[test]
    fn keys_short_and_long_are_found_and_entries_stay_small() {
        assert!(std::mem::size_of::<Stored>() <= 80);
        // Every database allocates 16384 of these: 56 bytes is 0.9 MB.
        assert!(std::mem::size_of::<Mutex<SlotTable>>() <= 56);
        let ks = Keyspace::default();
        let mut slot = LockedSlot::lock(&ks, 0, 9);
        let long = [b'k'; 100];
        for key in [&b""[..], b"short", &long[..22], &long[..23], &long] {
            slot.insert(key, Entry::new(string(key)), &at(0));
        }
        for key in [&b""[..], b"short", &long[..22], &long[..23], &long] {
            let entry = slot.raw_get(key).expect("found");
            assert_eq!(entry.value, string(key));
        }
        assert_eq!(slot.table().len(), 5);
    }

    #[test]
    fn tables_shrink_once_removals_leave_them_sparse() {
        let ks = Keyspace::default();
        let mut slot = LockedSlot::lock(&ks, 0, 4);
        let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
        for key in &keys {
            slot.insert(key.as_bytes(), Entry::new(string(b"v")), &at(0));
        }
        let full = slot.table().table.num_buckets();
        for key in &keys[10..] {
            slot.remove(key.as_bytes(), 0);
        }
        let sparse = slot.table().table.num_buckets();
        assert!(sparse * 16 <= full, "{full} buckets became {sparse}");
        for key in &keys[..10] {
            assert!(slot.raw_get(key.as_bytes()).is_some());
        }
    }

    #[test]
    fn lookups_remove_expired_entries_in_the_same_probe() {
        let ks = Keyspace::default();
        let mut slot = LockedSlot::lock(&ks, 0, 3);
        slot.insert(b"k", Entry::with_expiry(string(b"v"), Some(10)), &at(0));
        assert!(matches!(slot.lookup(b"k", 9, None), Lookup::Live(_)));
        assert!(matches!(slot.lookup(b"k", 10, None), Lookup::Expired));
        assert!(matches!(slot.lookup(b"k", 10, None), Lookup::Missing));
        assert_eq!((ks.key_count(), ks.volatile_count()), (0, 0));
        slot.insert(b"k", Entry::with_expiry(string(b"v"), Some(10)), &at(0));
        assert!(matches!(
            slot.insert(b"k", Entry::new(string(b"w")), &at(20)),
            Previous::Expired
        ));
        assert_eq!((ks.key_count(), ks.volatile_count()), (1, 0));
    }

    #[test]
    fn whole_keyspace_takes_and_swaps_under_one_lock() {
        let a = Keyspace::default();
        let b = Keyspace::default();
        LockedSlot::lock(&a, 0, 1).insert(b"x", Entry::with_expiry(string(b"1"), Some(9)), &at(0));
        LockedSlot::lock(&a, 0, 2).insert(b"y", Entry::new(string(b"2")), &at(0));
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
