//! Running one command: the context a handler sees ([`Ctx`]) and the slot locks it holds
//! ([`Locks`]). Locks are taken in ascending (database, slot) order, so two multi-key commands
//! can never deadlock; reads through [`Locks`] apply expiry on access; writes are propagated
//! before the locks are released.

use bytes::Bytes;

use crate::engine::{Inner, Session};
use crate::evict::access::Touch;
use crate::gate::GateGuard;
use crate::keyspace::{Entry, LockedSlot, Lookup, Previous, SlotTable};
use crate::notify::Events;
use crate::slot::key_slot;

/// What a handler sees: the engine, the client's session and the time the command started
/// (one instant per command, as Redis uses, so a command never sees time move).
#[derive(Debug)]
pub struct Ctx<'a> {
    pub(crate) engine: &'a Inner,
    pub(crate) session: &'a mut Session,
    now_ms: u64,
    /// How the keys this command uses are stamped (LRU clock or LFU counter).
    touch: Touch,
    /// This thread's share of the transaction gate: held while the command runs, so an EXEC
    /// (which takes the whole gate) never sees a command half done, nor interleaves with one.
    _gate: Option<GateGuard<'a>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(engine: &'a Inner, session: &'a mut Session) -> Ctx<'a> {
        let gate = engine.gate.enter();
        let now_ms = session
            .pinned_now_ms
            .unwrap_or_else(|| engine.clock.now_ms());
        Ctx {
            engine,
            session,
            now_ms,
            touch: Touch::new(engine.eviction.access_mode(), now_ms),
            _gate: Some(gate),
        }
    }

    /// A context for a command inside EXEC, whose caller holds the whole gate.
    pub(crate) fn inside_exclusive(engine: &'a Inner, session: &'a mut Session) -> Ctx<'a> {
        let now_ms = engine.clock.now_ms();
        Ctx {
            engine,
            session,
            now_ms,
            touch: Touch::new(engine.eviction.access_mode(), now_ms),
            _gate: None,
        }
    }

    /// Time of the command, Unix ms.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The selected database.
    pub fn db(&self) -> usize {
        self.session.db
    }

    /// The memory settings (`maxmemory`, policy, LFU tuning).
    pub fn memory_limits(&self) -> crate::evict::MemoryLimits {
        self.engine.eviction.limits()
    }

    /// The compact-encoding thresholds, for the collection types' conversion decisions.
    pub fn encodings(&self) -> crate::types::encodings::Encodings {
        self.engine.encodings.load()
    }

    /// Locks the slot of `key` in the selected database.
    pub fn lock_key(&self, key: &[u8]) -> Locks<'a> {
        self.lock_slot(self.session.db, key_slot(key))
    }

    /// Locks the slots of `keys` in the selected database, in ascending slot order.
    pub fn lock_keys(&self, keys: &[&[u8]]) -> Locks<'a> {
        self.lock_keys_in(self.session.db, keys)
    }

    /// Locks the slots of `keys` in database `db`.
    pub fn lock_keys_in(&self, db: usize, keys: &[&[u8]]) -> Locks<'a> {
        let mut targets: Vec<(usize, u16)> = keys.iter().map(|k| (db, key_slot(k))).collect();
        self.lock_targets(db, &mut targets)
    }

    /// Locks one whole slot of database `db`: for single-key commands and for commands that walk
    /// the keyspace slot by slot.
    pub fn lock_slot(&self, db: usize, slot: u16) -> Locks<'a> {
        let engine: &'a Inner = self.engine;
        let held = Held::One(LockedSlot::lock(&engine.dbs[db], db, slot));
        self.locks(held, db)
    }

    /// Locks (database, slot) pairs in ascending order; `default_db` is where keys are looked up
    /// until [`Locks::use_db`] says otherwise.
    pub fn lock_targets(&self, default_db: usize, targets: &mut Vec<(usize, u16)>) -> Locks<'a> {
        targets.sort_unstable();
        targets.dedup();
        let engine: &'a Inner = self.engine;
        let held = match targets.as_slice() {
            [(db, slot)] => Held::One(LockedSlot::lock(&engine.dbs[*db], *db, *slot)),
            _ => Held::Many(
                targets
                    .iter()
                    .map(|&(db, slot)| LockedSlot::lock(&engine.dbs[db], db, slot))
                    .collect(),
            ),
        };
        self.locks(held, default_db)
    }

    fn locks(&self, held: Held<'a>, db: usize) -> Locks<'a> {
        Locks {
            engine: self.engine,
            held,
            db,
            origin_db: self.session.db,
            now_ms: self.now_ms,
            touch: self.touch,
            expiry: ExpiryView::of(self.engine, self.session),
            touched: Vec::new(),
        }
    }
}

/// How a command treats keys whose deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiryView {
    /// A primary: remove them on access (counted, propagated as DEL).
    Reclaim,
    /// A replica's client: they are missing, but stay until the primary's DEL.
    Hide,
    /// A replica applying its primary's stream: they are live (the primary decides).
    Ignore,
}

impl ExpiryView {
    fn of(engine: &Inner, session: &Session) -> ExpiryView {
        if session.primary_link {
            ExpiryView::Ignore
        } else if engine.follower.load(std::sync::atomic::Ordering::Relaxed) {
            ExpiryView::Hide
        } else {
            ExpiryView::Reclaim
        }
    }
}

/// A slot of a database: (database, slot).
type SlotId = (usize, u16);

/// The slots a command holds: one (most commands, no allocation) or several, sorted by
/// (database, slot).
#[derive(Debug)]
enum Held<'a> {
    One(LockedSlot<'a>),
    Many(Vec<LockedSlot<'a>>),
}

impl<'a> Held<'a> {
    /// Where `target` is among the held slots. Using a slot without its lock would corrupt
    /// another slot's table, so it is a bug that stops the command.
    fn position(&self, target: SlotId) -> usize {
        let index = match self {
            Held::One(_) => 0,
            Held::Many(slots) => slots
                .binary_search_by(|s| (s.db(), s.slot()).cmp(&target))
                .unwrap_or_else(|_| panic!("slot {target:?} used without its lock")),
        };
        let slot = self.get(index);
        assert_eq!(
            (slot.db(), slot.slot()),
            target,
            "slot used without its lock"
        );
        index
    }

    fn get(&self, index: usize) -> &LockedSlot<'a> {
        match self {
            Held::One(slot) => slot,
            Held::Many(slots) => &slots[index],
        }
    }

    fn get_mut(&mut self, index: usize) -> &mut LockedSlot<'a> {
        match self {
            Held::One(slot) => slot,
            Held::Many(slots) => &mut slots[index],
        }
    }
}

/// Slots held by one command, with the key operations handlers use.
#[derive(Debug)]
pub struct Locks<'a> {
    engine: &'a Inner,
    held: Held<'a>,
    /// Database that key operations address.
    db: usize,
    /// Database the command was issued in: where its record is propagated.
    origin_db: usize,
    now_ms: u64,
    touch: Touch,
    /// How keys whose deadline passed are treated (a replica's engine differs).
    expiry: ExpiryView,
    /// Watched keys this command may have written (only kept for slots that have watchers):
    /// their watchers are signalled when the command propagates, that is, when it did write.
    touched: Vec<(SlotId, Box<[u8]>)>,
}

impl<'a> Locks<'a> {
    /// Makes later key operations address database `db` (which must be locked for the key).
    pub fn use_db(&mut self, db: usize) {
        self.db = db;
    }

    fn slot_of(&mut self, key: &[u8]) -> &mut LockedSlot<'a> {
        self.slot_at((self.db, key_slot(key)))
    }

    /// The held slot `target`, read-only.
    fn slot_ref(&self, target: SlotId) -> &LockedSlot<'a> {
        self.held.get(self.held.position(target))
    }

    /// The held slot `target`.
    fn slot_at(&mut self, target: SlotId) -> &mut LockedSlot<'a> {
        let index = self.held.position(target);
        self.held.get_mut(index)
    }

    /// The held slot of `key` for a change: a snapshot in progress copies the slot first
    /// (copy-on-write), and if anyone watches a key of that slot, the key is remembered so its
    /// watchers are signalled when the command propagates.
    fn slot_for_write(&mut self, key: &[u8]) -> &mut LockedSlot<'a> {
        let target = (self.db, key_slot(key));
        let index = self.held.position(target);
        let slot = self.held.get(index);
        slot.before_write();
        if slot.has_watchers() {
            self.touched.push((target, Box::from(key)));
        }
        self.held.get_mut(index)
    }

    /// The live entry of `key`; an expired entry is removed, counted and propagated as DEL.
    fn live(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let (engine, now_ms, touch) = (self.engine, self.expiry_now_ms(), self.touch);
        if self.hides(key) {
            return None;
        }
        live_in(engine, now_ms, Some(&touch), self.slot_of(key), key)
    }

    /// The instant deadlines are compared with: never reached for a replica's primary link.
    fn expiry_now_ms(&self) -> u64 {
        match self.expiry {
            ExpiryView::Ignore => 0,
            ExpiryView::Reclaim | ExpiryView::Hide => self.now_ms,
        }
    }

    /// Whether `key` is there but expired and must look missing without being removed.
    fn hides(&mut self, key: &[u8]) -> bool {
        let now_ms = self.now_ms;
        self.expiry == ExpiryView::Hide
            && self
                .slot_of(key)
                .raw_get(key)
                .is_some_and(|entry| entry.is_expired(now_ms))
    }

    /// Turns what an insert or removal found into the previous live entry, accounting for an
    /// expired one.
    fn settle(&self, key: &[u8], previous: Previous) -> Option<Entry> {
        if matches!(previous, Previous::Expired) {
            self.engine.note_expired(self.db, key);
        }
        previous.live()
    }

    /// The live entry of `key` for a read: counts a keyspace hit or miss, and reports a miss
    /// as the `keymiss` event (class `m`), as Redis's read lookups do.
    pub fn read(&mut self, key: &[u8]) -> Option<&Entry> {
        let (engine, db) = (self.engine, self.db);
        let entry = self.live(key);
        engine.stats.note_lookup(entry.is_some());
        if entry.is_none() {
            engine.notify(Events::KEY_MISS, "keymiss", db, key);
        }
        entry.map(|e| &*e)
    }

    /// The live entries of `keys` for a read (a hit or a miss counted per key), all borrowed at
    /// once: for commands that combine several values (SINTER, SUNION, ...). A key may repeat.
    pub fn read_many(&mut self, keys: &[&[u8]]) -> Vec<Option<&Entry>> {
        for key in keys {
            self.read(key);
        }
        // Every entry still present is live now: expired ones were removed by the reads, or
        // (on a replica) are left out here.
        let this = &*self;
        let hidden =
            |entry: &&Entry| this.expiry == ExpiryView::Hide && entry.is_expired(this.now_ms);
        keys.iter()
            .map(|key| {
                this.slot_ref((this.db, key_slot(key)))
                    .raw_get(key)
                    .filter(|entry| !hidden(entry))
            })
            .collect()
    }

    /// The live entry of `key` without marking it used, nor counting a hit or miss: for
    /// commands that inspect a key (OBJECT, TYPE) without being an access to it.
    pub fn peek(&mut self, key: &[u8]) -> Option<&Entry> {
        if self.hides(key) {
            return None;
        }
        let (engine, now_ms) = (self.engine, self.expiry_now_ms());
        live_in(engine, now_ms, None, self.slot_of(key), key).map(|e| &*e)
    }

    /// The live entry of `key`, without touching hit/miss statistics.
    pub fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        self.live(key).map(|e| &*e)
    }

    /// The live entry of `key`, mutable. Change its deadline with [`Locks::set_expiry`].
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if self.hides(key) {
            return None;
        }
        let (engine, now_ms, touch) = (self.engine, self.expiry_now_ms(), self.touch);
        live_in(engine, now_ms, Some(&touch), self.slot_for_write(key), key)
    }

    /// The stored entry of `key`, expired or not, untouched and uncounted: for checks that are
    /// not accesses (the cluster's redirection check).
    pub fn raw_entry(&self, key: &[u8]) -> Option<&Entry> {
        self.slot_ref((self.db, key_slot(key))).raw_get(key)
    }

    /// Whether `key` exists (live).
    pub fn contains(&mut self, key: &[u8]) -> bool {
        self.live(key).is_some()
    }

    /// Inserts or replaces `key`; returns the previous live entry. A key that was not live
    /// before is reported as the `new` event (class `n`), ahead of the command's own event.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        let touch = self.touch;
        let previous = self.slot_for_write(key).insert(key, entry, &touch);
        let previous = self.settle(key, previous);
        if previous.is_none() {
            self.notify(Events::NEW, "new", key);
        }
        previous
    }

    /// Inserts or replaces `key` as RESTORE does, stamped from `hint` (its idle time or LFU
    /// counter) rather than as a new key; returns the previous live entry.
    pub fn insert_restored(
        &mut self,
        key: &[u8],
        entry: Entry,
        hint: crate::evict::access::AccessHint,
    ) -> Option<Entry> {
        let stamp = self.touch.restored(hint);
        let previous = self.insert(key, entry);
        if let Some(entry) = self.slot_of(key).raw_get_mut(key) {
            entry.set_access(stamp);
        }
        previous
    }

    /// Removes `key`; returns its live entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let now_ms = self.expiry_now_ms();
        let previous = self.slot_for_write(key).remove(key, now_ms);
        self.settle(key, previous)
    }

    /// Sets or clears the deadline of a live key; false if it does not exist.
    pub fn set_expiry(&mut self, key: &[u8], expire_at_ms: Option<u64>) -> bool {
        self.get_mut(key).is_some() && self.slot_of(key).set_expiry(key, expire_at_ms)
    }

    /// Time of the command, Unix ms.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Whether a deadline that is not in the future deletes the key (EXPIRE and friends):
    /// not on a replica applying its primary's stream, which may arrive late (after a cut
    /// link); the deadline is then set as given and the primary's DEL removes the key, as in
    /// Redis, where only a primary turns a past deadline into a deletion.
    pub fn past_deadlines_delete(&self) -> bool {
        self.expiry != ExpiryView::Ignore
    }

    /// The compact-encoding thresholds, for helpers that only hold the locks.
    pub fn encodings(&self) -> crate::types::encodings::Encodings {
        self.engine.encodings.load()
    }

    /// The table of the locked `slot` of the addressed database as the commands that walk
    /// the keyspace (KEYS, SCAN, RANDOMKEY) see it: every entry is live. A primary first
    /// reclaims the slot's expired keys (counted and propagated as DEL, as on access); a
    /// replica's client has them hidden instead, since only the primary's DEL removes them;
    /// the primary's link sees them all.
    pub fn live_table(&mut self, slot: u16) -> LiveTable<'_> {
        let (engine, now_ms, expiry) = (self.engine, self.now_ms, self.expiry);
        let locked = self.slot_at((self.db, slot));
        if expiry == ExpiryView::Reclaim {
            for key in locked.remove_expired(now_ms) {
                engine.note_expired(locked.db(), &key);
            }
        }
        LiveTable {
            table: locked.table(),
            hide_expired_at: (expiry == ExpiryView::Hide).then_some(now_ms),
        }
    }

    /// Reports keyspace event `event` (of `class`, e.g. [`Events::STRING`] and `"set"`) for
    /// `key` of the addressed database, if `notify-keyspace-events` enables it. Commands call
    /// it after each change, with Redis's event names.
    pub fn notify(&self, class: Events, event: &str, key: &[u8]) {
        self.engine.notify(class, event, self.db, key);
    }

    /// Records a write: counts it as a change and hands the command, built by `args` only if
    /// someone listens, to the propagation stream while the locks are still held.
    pub fn propagate(&self, args: impl FnOnce() -> Vec<Bytes>) {
        for (target, key) in &self.touched {
            self.slot_ref(*target).signal_watchers(key);
        }
        self.engine.note_write(self.origin_db, args);
    }
}

/// A slot's table as a keyspace walk sees it (see [`Locks::live_table`]).
#[derive(Debug)]
pub struct LiveTable<'t> {
    table: &'t SlotTable,
    /// On a replica's client: entries whose deadline is before this instant are hidden.
    hide_expired_at: Option<u64>,
}

impl<'t> LiveTable<'t> {
    /// The live entries.
    pub fn iter(&self) -> impl Iterator<Item = (&'t [u8], &'t Entry)> + '_ {
        let hide = self.hide_expired_at;
        self.table
            .iter()
            .filter(move |(_, entry)| hide.is_none_or(|now_ms| !entry.is_expired(now_ms)))
    }

    /// Number of live entries (a count of the table when some may be hidden).
    pub fn len(&self) -> usize {
        match self.hide_expired_at {
            None => self.table.len(),
            Some(_) => self.iter().count(),
        }
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// The live entry of `key` in `slot`; an expired entry is removed, counted and propagated as
/// DEL.
fn live_in<'s>(
    engine: &Inner,
    now_ms: u64,
    touch: Option<&Touch>,
    slot: &'s mut LockedSlot<'_>,
    key: &[u8],
) -> Option<&'s mut Entry> {
    let db = slot.db();
    match slot.lookup(key, now_ms, touch) {
        Lookup::Live(entry) => Some(entry),
        Lookup::Expired => {
            engine.note_expired(db, key);
            None
        }
        Lookup::Missing => None,
    }
}
