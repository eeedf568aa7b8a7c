//! Point-in-time snapshots without fork and without stopping clients (BGSAVE, the AOF rewrite's
//! base, later a replica's full sync).
//!
//! [`crate::Engine::snapshot`] closes the transaction gate for an instant: no command is half
//! done, the propagation offset is read and every non-empty database is given a capture in which
//! each of its 16384 slots is *pending*. From then on a slot's contents as of that offset are
//! copied exactly once, by whichever comes first under the slot's lock:
//! - the walker ([`Snapshot`]'s iterator) in its turn, or
//! - the first change to the slot (copy-on-write per slot): every path that changes a slot table
//!   ([`crate::keyspace::LockedSlot`]'s insert, remove, deadline change, mutable access, expiry
//!   reclaim, and the whole-database flush and swap) calls the hook first, which clones the
//!   slot's entries into the capture and marks the slot done.
//!
//! Without a snapshot in progress the hook costs one atomic load. The walker hands copies made
//! by writers out first, so memory held for the snapshot is freed as early as possible; at most
//! one copy of each slot exists, so the extra memory never exceeds the size of the data at the
//! offset (see docs/SNAPSHOTS.md for the algorithm and the bound).

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::engine::Inner;
use crate::keyspace::{Entry, SlotTable};
use crate::slot::SLOT_COUNT;
use crate::usage::{entry_bytes, DEFAULT_SAMPLES};

/// The slot's contents at the offset have not been copied yet.
const PENDING: u8 = 0;
/// The slot was copied (or the walker passed it): later changes need no copy.
const DONE: u8 = 1;

/// The keys of one slot of one database as they were at the snapshot's offset.
#[derive(Debug)]
pub struct SlotEntries {
    /// Database number.
    pub db: usize,
    /// Slot number.
    pub slot: u16,
    /// Every key of the slot with its entry (keys whose deadline had passed but which were not
    /// yet reclaimed included: the consumer decides, as Redis's RDB writer does).
    pub entries: Vec<(Box<[u8]>, Entry)>,
}

/// What one database's snapshot keeps: the state of each slot and the copies writers made.
#[derive(Debug)]
pub(crate) struct DbCapture {
    states: Box<[AtomicU8]>,
    /// Copies writers made, each with its estimated size in bytes.
    copies: Mutex<Vec<(SlotEntries, u64)>>,
    db: usize,
    /// Estimated bytes of the copies writers made and the walker has not handed out yet.
    held_bytes: Arc<AtomicU64>,
    peak_bytes: Arc<AtomicU64>,
}

impl DbCapture {
    fn new(db: usize, held_bytes: Arc<AtomicU64>, peak_bytes: Arc<AtomicU64>) -> DbCapture {
        DbCapture {
            states: (0..SLOT_COUNT).map(|_| AtomicU8::new(PENDING)).collect(),
            copies: Mutex::new(Vec::new()),
            db,
            held_bytes,
            peak_bytes,
        }
    }

    /// Copies `table` (slot `slot`, whose lock the caller holds) if it is still pending.
    /// State changes happen only under the slot's lock, so relaxed ordering suffices.
    fn capture(&self, slot: u16, table: &SlotTable) {
        let state = &self.states[usize::from(slot)];
        if state.load(Ordering::Relaxed) != PENDING {
            return;
        }
        state.store(DONE, Ordering::Relaxed);
        if table.is_empty() {
            return;
        }
        let mut bytes = 0;
        let entries = table
            .iter()
            .map(|(key, entry)| {
                bytes += entry_bytes(key, entry, DEFAULT_SAMPLES);
                (Box::from(key), entry.clone())
            })
            .collect();
        let held = self.held_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak_bytes.fetch_max(held, Ordering::Relaxed);
        let copy = SlotEntries {
            db: self.db,
            slot,
            entries,
        };
        self.copies.lock().push((copy, bytes));
    }

    /// Takes one copy a writer made, if any, releasing its bytes from the held figure.
    fn pop_copy(&self) -> Option<SlotEntries> {
        let (copy, bytes) = self.copies.lock().pop()?;
        self.held_bytes.fetch_sub(bytes, Ordering::Relaxed);
        Some(copy)
    }
}

/// The copy-on-write hook of one database: the captures of the snapshots in progress.
#[derive(Debug, Default)]
pub(crate) struct CowHook {
    /// Number of captures registered: the one load the write path pays.
    active: AtomicUsize,
    captures: RwLock<Vec<Arc<DbCapture>>>,
}

impl CowHook {
    /// Whether a snapshot in progress watches this database.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire) != 0
    }

    /// Before a change to `slot`, whose lock the caller holds: copies its contents into every
    /// snapshot in progress that has not got them yet.
    #[inline]
    pub(crate) fn before_write(&self, slot: u16, table: &SlotTable) {
        if self.is_active() {
            self.capture_slow(slot, table);
        }
    }

    #[cold]
    fn capture_slow(&self, slot: u16, table: &SlotTable) {
        for capture in self.captures.read().iter() {
            capture.capture(slot, table);
        }
    }

    fn register(&self, capture: Arc<DbCapture>) {
        let mut captures = self.captures.write();
        captures.push(capture);
        self.active.store(captures.len(), Ordering::Release);
    }

    fn unregister(&self, capture: &Arc<DbCapture>) {
        let mut captures = self.captures.write();
        captures.retain(|c| !Arc::ptr_eq(c, capture));
        self.active.store(captures.len(), Ordering::Release);
    }
}

/// Size of one database at the snapshot's offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbSize {
    /// Keys (expired but unreclaimed ones included, as DBSIZE counts them).
    pub keys: u64,
    /// Keys with a deadline.
    pub expires: u64,
}

/// A point-in-time view of every database at a propagation offset, consumed slot by slot (as
/// an [`Iterator`] of [`SlotEntries`], database after database) while clients keep writing.
/// Dropping it, consumed or not, ends the copy-on-write for its slots.
#[derive(Debug)]
pub struct Snapshot {
    engine: Arc<Inner>,
    offset: u64,
    /// One capture per database that held keys at the offset.
    captures: Vec<Option<Arc<DbCapture>>>,
    sizes: Vec<DbSize>,
    /// Database and slot the walker visits next.
    db: usize,
    slot: usize,
    held_bytes: Arc<AtomicU64>,
    peak_bytes: Arc<AtomicU64>,
}

impl Snapshot {
    /// Installs a snapshot of `engine`, whose caller keeps every command out (holds the gate).
    pub(crate) fn install(engine: &Arc<Inner>) -> Snapshot {
        let held_bytes = Arc::new(AtomicU64::new(0));
        let peak_bytes = Arc::new(AtomicU64::new(0));
        let mut captures = Vec::with_capacity(engine.dbs.len());
        let mut sizes = Vec::with_capacity(engine.dbs.len());
        for (db, keyspace) in engine.dbs.iter().enumerate() {
            let size = DbSize {
                keys: keyspace.key_count(),
                expires: keyspace.volatile_count(),
            };
            let capture = (size.keys > 0).then(|| {
                let capture = Arc::new(DbCapture::new(
                    db,
                    Arc::clone(&held_bytes),
                    Arc::clone(&peak_bytes),
                ));
                keyspace.cow.register(Arc::clone(&capture));
                capture
            });
            captures.push(capture);
            sizes.push(size);
        }
        // Whoever continues the stream from this offset (a replica after its full sync) must
        // learn the database of the first record it applies.
        engine.propagator.reannounce_db();
        Snapshot {
            engine: Arc::clone(engine),
            offset: engine.propagator.offset(),
            captures,
            sizes,
            db: 0,
            slot: 0,
            held_bytes,
            peak_bytes,
        }
    }

    /// The propagation offset the snapshot stands at: it holds every write streamed before
    /// this offset and none streamed at or after it.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.sizes.len()
    }

    /// Size of database `db` at the offset (for RDB's RESIZEDB hints); zero for a database
    /// out of range.
    pub fn db_size(&self, db: usize) -> DbSize {
        self.sizes.get(db).copied().unwrap_or_default()
    }

    /// Estimated bytes of the slot copies writers made that are not consumed yet.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes.load(Ordering::Relaxed)
    }

    /// The most [`Snapshot::held_bytes`] has been so far.
    pub fn peak_held_bytes(&self) -> u64 {
        self.peak_bytes.load(Ordering::Relaxed)
    }

    /// Visits every (database, key, entry) of the snapshot, database after database.
    pub fn for_each(self, mut visit: impl FnMut(usize, &[u8], &Entry)) {
        for slot in self {
            for (key, entry) in &slot.entries {
                visit(slot.db, key, entry);
            }
        }
    }

    /// The next non-empty slot of database `db`'s capture: a copy a writer made, or the next
    /// pending slot copied now; `None` once the database is exhausted.
    fn next_in(&mut self, db: usize, capture: &DbCapture) -> Option<SlotEntries> {
        loop {
            if let Some(copy) = capture.pop_copy() {
                return Some(copy);
            }
            if self.slot >= SLOT_COUNT {
                return None;
            }
            let slot = self.slot as u16;
            self.slot += 1;
            let table = self.engine.dbs[db].lock_slot(slot);
            let state = &capture.states[usize::from(slot)];
            if state.load(Ordering::Relaxed) == PENDING {
                state.store(DONE, Ordering::Relaxed);
                if !table.is_empty() {
                    let entries = table
                        .iter()
                        .map(|(key, entry)| (Box::from(key), entry.clone()))
                        .collect();
                    return Some(SlotEntries { db, slot, entries });
                }
            }
        }
    }

    /// Stops copying on writes to database `db` (its slots are all consumed).
    fn release(&mut self, db: usize) {
        if let Some(capture) = self.captures.get_mut(db).and_then(Option::take) {
            self.engine.dbs[db].cow.unregister(&capture);
        }
    }
}

impl Iterator for Snapshot {
    type Item = SlotEntries;

    fn next(&mut self) -> Option<SlotEntries> {
        while self.db < self.captures.len() {
            let db = self.db;
            if let Some(capture) = self.captures[db].clone() {
                if let Some(found) = self.next_in(db, &capture) {
                    return Some(found);
                }
                self.release(db);
            }
            self.db += 1;
            self.slot = 0;
        }
        None
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        for db in 0..self.captures.len() {
            self.release(db);
        }
    }
}
