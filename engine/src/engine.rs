//! [`Engine`]: the handle embedded users and the server hold. Cloning it is cheap (one `Arc`);
//! a background thread reclaims expired keys until the last handle is dropped.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::clock::{Clock, SystemClock};
use crate::codec::PayloadCodec;
use crate::command::{CommandSpec, CommandTable, Flags, Handler};
use crate::counter::StripedCounter;
use crate::error::{CommandError, OpenError};
use crate::evict::{Eviction, MemoryGauge, MemoryLimits, RemovalCause, RemovalListener};
use crate::exec::Ctx;
use crate::gate::{ExclusiveGuard, Gate};
use crate::keyspace::{Entry, Keyspace, LockedSlot};
use crate::notify::{EventSink, Events};
use crate::propagate::{PropagationSink, Propagator};
use crate::reply::Reply;
use crate::slot::key_slot;
use crate::slot::SLOT_COUNT;
use crate::snapshot::Snapshot;
use crate::types::encodings::{Encodings, LiveEncodings};
use crate::watch::{WatchSet, WatchedKey};
use parking_lot::RwLock;

/// Most databases a server may be configured with (Redis has no hard limit; this bounds memory).
pub const DATABASES_MAX: usize = 1024;

/// Active expire cycles per second by default (Redis's `hz`).
const HZ_DEFAULT: u32 = 10;
/// Bounds of `hz`, as Redis clamps it.
const HZ_MIN: u32 = 1;
const HZ_MAX: u32 = 500;
/// Share of each period one expire cycle may spend, as in Redis's slow cycle (25%).
const EXPIRE_CYCLE_SHARE: f64 = 0.25;
/// Keys sampled to estimate INFO keyspace `avg_ttl`.
const AVG_TTL_SAMPLE_KEYS: usize = 64;
/// Slots visited at most for one `avg_ttl` estimate.
const AVG_TTL_SAMPLE_SLOTS: usize = 512;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Number of databases (`databases`, default 16).
    pub databases: usize,
    /// Source of time.
    pub clock: Arc<dyn Clock>,
    /// Run the active expire cycle on a background thread (turn off to drive it by hand).
    pub active_expiry: bool,
    /// Largest string a command may build (`proto-max-bulk-len`, default 512 MiB).
    pub proto_max_bulk_len: u64,
    /// `maxmemory` and the eviction settings.
    pub memory: MemoryLimits,
    /// Sizes below which collections keep their compact encodings (Redis's defaults).
    pub encodings: Encodings,
}

impl Config {
    /// Default settings driven by `clock`, with the background expiry thread off, so a test
    /// decides when time moves and when an active expire cycle runs.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Config {
        Config {
            clock,
            active_expiry: false,
            ..Config::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            databases: 16,
            clock: Arc::new(SystemClock),
            active_expiry: true,
            proto_max_bulk_len: 512 * 1024 * 1024,
            memory: MemoryLimits::default(),
            encodings: Encodings::default(),
        }
    }
}

/// A client's state as far as the engine cares: the selected database.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Session {
    pub(crate) db: usize,
    /// Whether this session applies a primary's replication stream: its commands see keys
    /// whose deadline passed as live, since only the primary's DEL removes them.
    pub(crate) primary_link: bool,
    /// The time this session's commands run at while pinned (Unix ms): see
    /// [`Session::pin_time`].
    pub(crate) pinned_now_ms: Option<u64>,
}

impl Session {
    /// A session on database 0.
    pub fn new() -> Session {
        Session::default()
    }

    /// A session on database 0 for the stream of a replica's primary (see
    /// [`Engine::set_follower`]).
    pub fn primary_link() -> Session {
        Session {
            primary_link: true,
            ..Session::default()
        }
    }

    /// The selected database.
    pub fn db(&self) -> usize {
        self.db
    }

    /// Runs this session's next commands at `now_ms` (from the engine's clock) instead of
    /// reading the clock for each: for a server running a batch of pipelined requests, all
    /// of which had arrived by `now_ms`, so each still runs at a time between its sending
    /// and its reply. The caller re-pins or unpins it often enough that the time stays close.
    pub fn pin_time(&mut self, now_ms: u64) {
        self.pinned_now_ms = Some(now_ms);
    }

    /// Goes back to reading the clock for each command.
    pub fn unpin_time(&mut self) {
        self.pinned_now_ms = None;
    }
}

/// Counters INFO reports, striped so that every thread bumps its own cache line.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    expired_keys: StripedCounter,
    keyspace_hits: StripedCounter,
    keyspace_misses: StripedCounter,
    changes: StripedCounter,
    expire_cycles: StripedCounter,
}

impl Stats {
    pub(crate) fn note_lookup(&self, found: bool) {
        let counter = if found {
            &self.keyspace_hits
        } else {
            &self.keyspace_misses
        };
        counter.add(1);
    }
}

/// A copy of the engine's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Keys removed because their deadline passed.
    pub expired_keys: u64,
    /// Reads that found their key.
    pub keyspace_hits: u64,
    /// Reads that did not.
    pub keyspace_misses: u64,
    /// Writes applied since start (or since the last [`Engine::reset_changes`]).
    pub changes: u64,
    /// Active expire cycles run.
    pub expire_cycles: u64,
    /// Keys evicted to stay under `maxmemory`.
    pub evicted_keys: u64,
}

/// Shared state behind every [`Engine`] handle.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) dbs: Box<[Keyspace]>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) propagator: Propagator,
    pub(crate) stats: Stats,
    pub(crate) proto_max_bulk_len: AtomicU64,
    /// Compact-encoding thresholds, changeable at run time.
    pub(crate) encodings: LiveEncodings,
    /// Where the next active expire cycle resumes: database * SLOT_COUNT + slot.
    expire_cursor: AtomicU64,
    /// Expire cycles per second (`hz`).
    hz: AtomicU32,
    /// Entered by every command, closed by EXEC.
    pub(crate) gate: Gate,
    /// Keyspace notifications enabled (`notify-keyspace-events`), as [`Events`] bits.
    events: AtomicU16,
    /// Where enabled notifications go.
    event_sink: RwLock<Option<Arc<dyn EventSink>>>,
    /// `maxmemory`, the eviction policy and its state.
    pub(crate) eviction: Eviction,
    /// The DUMP/RESTORE payload format, installed by the persistence crate.
    pub(crate) payload_codec: std::sync::OnceLock<Arc<dyn PayloadCodec>>,
    /// A replica's engine: no active expiry, and expired keys are hidden from reads rather
    /// than removed (the primary's DEL removes them).
    pub(crate) follower: AtomicBool,
    /// Eviction is left to someone else (a replica with `replica-ignore-maxmemory yes`).
    pub(crate) evictions_paused: AtomicBool,
}

impl Inner {
    /// Reports a keyspace event of `class` if it is enabled (one atomic load when it is not).
    pub(crate) fn notify(&self, class: Events, event: &str, db: usize, key: &[u8]) {
        let enabled = Events::from_bits(self.events.load(Ordering::Relaxed));
        if !enabled.publishes(class) {
            return;
        }
        if let Some(sink) = self.event_sink.read().as_ref() {
            sink.on_event(enabled, db, event, key);
        }
    }

    fn expire_cycle_period(&self) -> Duration {
        Duration::from_secs(1) / self.hz.load(Ordering::Relaxed).max(HZ_MIN)
    }

    fn expire_cycle_budget(&self) -> Duration {
        self.expire_cycle_period().mul_f64(EXPIRE_CYCLE_SHARE)
    }

    /// Counts a write and propagates it if anyone listens.
    pub(crate) fn note_write(&self, db: usize, args: impl FnOnce() -> Vec<Bytes>) {
        self.stats.changes.add(1);
        if self.propagator.is_active() {
            self.propagator.emit(db, &args());
        }
    }

    /// Counts a reclaimed key and propagates its removal as DEL (replicas do not expire keys
    /// themselves; they follow the primary's DEL).
    pub(crate) fn note_expired(&self, db: usize, key: &[u8]) {
        self.stats.expired_keys.add(1);
        self.notify(Events::EXPIRED, "expired", db, key);
        self.eviction.report_removal(db, key, RemovalCause::Expired);
        self.note_write(db, || {
            vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)]
        });
    }

    /// Reclaims expired keys slot by slot from where the last cycle stopped, until every slot
    /// was visited once or `budget` is spent. Returns the number of keys reclaimed.
    ///
    /// Unlike Redis's random sampling this walks the slots that hold keys with deadlines, so
    /// every expired key is reclaimed within a bounded number of cycles.
    fn active_expire_cycle(&self, budget: Duration) -> u64 {
        if self.follower.load(Ordering::Relaxed) {
            return 0;
        }
        let started = Instant::now();
        let total = (self.dbs.len() * SLOT_COUNT) as u64;
        let mut cursor = self.expire_cursor.load(Ordering::Relaxed) % total;
        let mut reclaimed = 0;
        // Every (database, slot) is visited at most once per cycle; a database without
        // deadlines is passed over in one step.
        let mut visited = 0;
        while visited < total {
            let db = (cursor / SLOT_COUNT as u64) as usize;
            let slot = (cursor % SLOT_COUNT as u64) as u16;
            let keyspace = &self.dbs[db];
            let step = if keyspace.volatile_count() == 0 {
                SLOT_COUNT as u64 - u64::from(slot)
            } else {
                reclaimed += self.expire_slot(keyspace, db, slot);
                1
            };
            visited += step;
            cursor = (cursor + step) % total;
            if started.elapsed() >= budget {
                break;
            }
        }
        self.expire_cursor.store(cursor, Ordering::Relaxed);
        self.stats.expire_cycles.add(1);
        reclaimed
    }

    fn expire_slot(&self, keyspace: &Keyspace, db: usize, slot: u16) -> u64 {
        let _gate = self.gate.enter();
        let mut locked = LockedSlot::lock(keyspace, db, slot);
        if locked.table().volatile_count() == 0 {
            return 0;
        }
        let expired = locked.remove_expired(self.clock.now_ms());
        for key in &expired {
            self.note_expired(db, key);
        }
        expired.len() as u64
    }
}

/// The engine handle: typed methods for common operations, [`Engine::execute`] for any command.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    /// Opens an in-memory engine.
    pub fn open(config: Config) -> Result<Engine, OpenError> {
        if config.databases == 0 || config.databases > DATABASES_MAX {
            return Err(OpenError::InvalidConfig(format!(
                "databases must be between 1 and {DATABASES_MAX}, got {}",
                config.databases
            )));
        }
        let inner = Arc::new(Inner {
            dbs: (0..config.databases).map(|_| Keyspace::default()).collect(),
            clock: config.clock,
            propagator: Propagator::default(),
            stats: Stats::default(),
            proto_max_bulk_len: AtomicU64::new(config.proto_max_bulk_len),
            encodings: LiveEncodings::new(config.encodings),
            expire_cursor: AtomicU64::new(0),
            hz: AtomicU32::new(HZ_DEFAULT),
            gate: Gate::default(),
            events: AtomicU16::new(0),
            event_sink: RwLock::new(None),
            eviction: Eviction::new(config.memory),
            payload_codec: std::sync::OnceLock::new(),
            follower: AtomicBool::new(false),
            evictions_paused: AtomicBool::new(false),
        });
        if config.active_expiry {
            spawn_expiry_thread(Arc::downgrade(&inner))
                .map_err(|e| OpenError::Thread(format!("cannot start the expiry thread: {e}")))?;
        }
        Ok(Engine { inner })
    }

    /// Runs any command on database 0 with a throw-away session: `["SET", "k", "v"]`.
    pub fn execute(&self, args: &[Bytes]) -> Reply {
        self.execute_in(&mut Session::new(), args)
    }

    /// Runs any command in `session` (which remembers SELECT).
    pub fn execute_in(&self, session: &mut Session, args: &[Bytes]) -> Reply {
        match CommandTable::global().resolve(args) {
            Ok(spec) => self.execute_spec(session, spec, args),
            Err(error) => error.into(),
        }
    }

    /// Runs a command already resolved (and arity-checked) by [`CommandTable::resolve`].
    pub fn execute_spec(
        &self,
        session: &mut Session,
        spec: &'static CommandSpec,
        args: &[Bytes],
    ) -> Reply {
        debug_assert!(
            spec.arity_accepts(args.len()),
            "execute_spec needs a resolved command"
        );
        match spec.handler {
            Handler::Engine(handler) => {
                if let Err(error) = self.make_room_for(spec) {
                    return error.into();
                }
                let mut ctx = Ctx::new(&self.inner, session);
                handler(&mut ctx, args).unwrap_or_else(Reply::from)
            }
            Handler::Server | Handler::Container => Reply::from(server_only(spec)),
        }
    }

    /// Evicts keys if memory is over `maxmemory`, before `spec` runs; fails with OOM if `spec`
    /// may add memory (flagged denyoom) and nothing more may be evicted. Costs one atomic load
    /// when no limit is set. The server calls it before commands it runs itself (and before
    /// EXEC, for the commands it queued).
    pub fn make_room_for(&self, spec: &CommandSpec) -> Result<(), CommandError> {
        self.inner.make_room(spec.flags.contains(Flags::DENYOOM))
    }

    /// Evicts keys if memory is over `maxmemory`; fails with OOM if it stays over the limit.
    /// For embedded writers that do not go through the command table.
    pub fn make_room(&self) -> Result<(), CommandError> {
        self.inner.make_room(true)
    }

    /// The memory settings now.
    pub fn memory_limits(&self) -> MemoryLimits {
        self.inner.eviction.limits()
    }

    /// Changes the memory settings (CONFIG SET maxmemory, maxmemory-policy, ...).
    pub fn set_memory_limits(&self, limits: MemoryLimits) {
        self.inner.eviction.set_limits(limits);
    }

    /// Installs the source of the memory figure compared to `maxmemory` (the server's reads
    /// its allocator); without one the engine estimates its keyspace. Only the first call
    /// counts: it returns false once a gauge is installed.
    pub fn set_memory_gauge(&self, gauge: Arc<dyn MemoryGauge>) -> bool {
        self.inner.eviction.set_gauge(gauge)
    }

    /// Bytes in use, as compared to `maxmemory`.
    pub fn used_memory(&self) -> u64 {
        self.inner.used_memory()
    }

    /// Sets the listener told of every evicted or expired key.
    pub fn set_removal_listener(&self, listener: Arc<dyn RemovalListener>) {
        self.inner.eviction.set_listener(listener);
    }

    /// Runs `f` with a command context on `session`: for typed API methods and for the server's
    /// own commands that need engine state.
    pub fn with_ctx<T>(&self, session: &mut Session, f: impl FnOnce(&mut Ctx<'_>) -> T) -> T {
        let mut ctx = Ctx::new(&self.inner, session);
        f(&mut ctx)
    }

    /// Stops every other command until the returned guard is dropped: EXEC runs its queued
    /// commands through it, with nothing in between.
    pub fn exclusive(&self) -> Exclusive<'_> {
        let guard = self.inner.gate.close();
        self.inner.propagator.begin_transaction();
        Exclusive {
            inner: &self.inner,
            _guard: guard,
        }
    }

    /// A point-in-time snapshot of every database at the propagation offset of this instant,
    /// without stopping clients beyond that instant: the gate is closed only while the
    /// snapshot is installed, then each slot is copied by the snapshot's iterator in its turn
    /// or by the first write to it, whichever comes first (see [`crate::snapshot`]). Consume
    /// it on any thread. Do not call it from inside a command or while holding
    /// [`Engine::exclusive`] (it would wait for itself).
    pub fn snapshot(&self) -> Snapshot {
        let _closed = self.inner.gate.close();
        Snapshot::install(&self.inner)
    }

    /// WATCH: registers `key` of `db` in `set`, remembering its deadline.
    pub fn watch(&self, set: &mut WatchSet, db: usize, key: &[u8]) {
        if db >= self.inner.dbs.len() || set.contains(db, key) {
            return;
        }
        let now_ms = self.inner.clock.now_ms();
        let mut slot = LockedSlot::lock(&self.inner.dbs[db], db, key_slot(key));
        let expire_at_ms = slot
            .raw_get(key)
            .filter(|e| !e.is_expired(now_ms))
            .and_then(Entry::expire_at_ms);
        slot.add_watcher(key, &set.flag);
        set.keys.push(WatchedKey {
            db,
            key: Box::from(key),
            expire_at_ms,
        });
    }

    /// UNWATCH (and the end of EXEC or DISCARD): forgets every watched key of `set`.
    pub fn unwatch(&self, set: &mut WatchSet) {
        for watched in set.reset() {
            let mut slot = LockedSlot::lock(
                &self.inner.dbs[watched.db],
                watched.db,
                key_slot(&watched.key),
            );
            slot.remove_watcher(&watched.key, &set.flag);
        }
    }

    /// Installs the DUMP/RESTORE payload format (the persistence crate's RDB codec). Only the
    /// first call counts: it returns false once a codec is installed.
    pub fn set_payload_codec(&self, codec: Arc<dyn PayloadCodec>) -> bool {
        self.inner.payload_codec.set(codec).is_ok()
    }

    /// Puts a key loaded from a file (RDB at start-up) into database `db`, replacing any key
    /// of that name: not a command, so nothing is propagated, counted as a change or
    /// reported as an event. `hint` carries the file's idle time or LFU counter. Returns
    /// false if `db` is out of range.
    pub fn load_entry(
        &self,
        db: usize,
        key: &[u8],
        value: crate::value::Value,
        expire_at_ms: Option<u64>,
        hint: crate::evict::access::AccessHint,
    ) -> bool {
        let Some(keyspace) = self.inner.dbs.get(db) else {
            return false;
        };
        let now_ms = self.inner.clock.now_ms();
        let touch = crate::evict::access::Touch::new(self.inner.eviction.access_mode(), now_ms);
        let _gate = self.inner.gate.enter();
        let mut slot = LockedSlot::lock(keyspace, db, key_slot(key));
        slot.insert(key, Entry::with_expiry(value, expire_at_ms), &touch);
        if let Some(entry) = slot.raw_get_mut(key) {
            entry.set_access(touch.restored(hint));
        }
        true
    }

    /// Sets which keyspace notifications are reported (`notify-keyspace-events`).
    pub fn set_keyspace_events(&self, events: Events) {
        self.inner.events.store(events.bits(), Ordering::Relaxed);
    }

    /// Sets where keyspace notifications go.
    pub fn set_event_sink(&self, sink: Arc<dyn EventSink>) {
        *self.inner.event_sink.write() = Some(sink);
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.inner.dbs.len()
    }

    /// Number of keys in database `db` (DBSIZE).
    pub fn key_count(&self, db: usize) -> u64 {
        self.inner.dbs.get(db).map_or(0, Keyspace::key_count)
    }

    /// Number of keys with a deadline in database `db`.
    pub fn volatile_count(&self, db: usize) -> u64 {
        self.inner.dbs.get(db).map_or(0, Keyspace::volatile_count)
    }

    /// Number of keys in one slot of database `db` (CLUSTER COUNTKEYSINSLOT).
    pub fn slot_key_count(&self, db: usize, slot: u16) -> usize {
        self.inner
            .dbs
            .get(db)
            .map_or(0, |ks| ks.slot_key_count(slot))
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Subscribes to the propagation stream.
    pub fn subscribe(&self, sink: Arc<dyn PropagationSink>) {
        self.inner.propagator.subscribe(sink);
    }

    /// Unsubscribes from the propagation stream.
    pub fn unsubscribe(&self, sink: &Arc<dyn PropagationSink>) {
        self.inner.propagator.unsubscribe(sink);
    }

    /// Subscribes to the propagation stream; returns the offset of the first record `sink`
    /// will receive.
    pub fn subscribe_at(&self, sink: Arc<dyn PropagationSink>) -> u64 {
        self.inner.propagator.subscribe_at(sink)
    }

    /// Makes this engine a replica's (`true`) or a primary's: a follower runs no active expiry
    /// and hides keys whose deadline passed from reads without removing them; only commands
    /// of a [`Session::primary_link`] session change the data as the primary says.
    pub fn set_follower(&self, follower: bool) {
        self.inner.follower.store(follower, Ordering::Relaxed);
    }

    /// Whether [`Engine::set_follower`] made this engine a follower.
    pub fn is_follower(&self) -> bool {
        self.inner.follower.load(Ordering::Relaxed)
    }

    /// Stops (`true`) or resumes eviction: a replica that ignores `maxmemory` leaves it to its
    /// primary, whose DELs it applies.
    pub fn set_evictions_paused(&self, paused: bool) {
        self.inner.evictions_paused.store(paused, Ordering::Relaxed);
    }

    /// Offset the next propagated record will start at.
    pub fn propagation_offset(&self) -> u64 {
        self.inner.propagator.offset()
    }

    /// Runs one active expire cycle now; returns how many keys it reclaimed.
    pub fn run_expire_cycle(&self) -> u64 {
        self.inner
            .active_expire_cycle(self.inner.expire_cycle_budget())
    }

    /// Sets how many expire cycles run per second (`hz`, clamped to 1..=500 as Redis does).
    pub fn set_hz(&self, hz: u32) {
        self.inner
            .hz
            .store(hz.clamp(HZ_MIN, HZ_MAX), Ordering::Relaxed);
    }

    /// Estimated mean remaining time to live, in ms, of the keys with a deadline in `db`
    /// (INFO keyspace `avg_ttl`), from a sample of up to 64 keys; 0 when none has one.
    pub fn average_ttl_ms(&self, db: usize) -> u64 {
        let Some(keyspace) = self.inner.dbs.get(db) else {
            return 0;
        };
        if keyspace.volatile_count() == 0 {
            return 0;
        }
        let now_ms = self.inner.clock.now_ms();
        let start = rand::random::<u16>() as usize % SLOT_COUNT;
        let mut remaining = Vec::with_capacity(AVG_TTL_SAMPLE_KEYS);
        for offset in 0..AVG_TTL_SAMPLE_SLOTS.min(SLOT_COUNT) {
            let slot = ((start + offset) % SLOT_COUNT) as u16;
            let table = keyspace.lock_slot(slot);
            let deadlines = table.iter().filter_map(|(_, entry)| entry.expire_at_ms());
            remaining.extend(
                deadlines
                    .map(|at| at.saturating_sub(now_ms))
                    .take(AVG_TTL_SAMPLE_KEYS - remaining.len()),
            );
            if remaining.len() == AVG_TTL_SAMPLE_KEYS {
                break;
            }
        }
        if remaining.is_empty() {
            return 0;
        }
        remaining.iter().sum::<u64>() / remaining.len() as u64
    }

    /// The engine's counters.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.inner.stats;
        StatsSnapshot {
            expired_keys: s.expired_keys.get(),
            keyspace_hits: s.keyspace_hits.get(),
            keyspace_misses: s.keyspace_misses.get(),
            changes: s.changes.get(),
            expire_cycles: s.expire_cycles.get(),
            evicted_keys: self.inner.eviction.evicted_keys.get(),
        }
    }

    /// Resets the hit/miss and expiry counters (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        let s = &self.inner.stats;
        s.expired_keys.reset();
        s.keyspace_hits.reset();
        s.keyspace_misses.reset();
        self.inner.eviction.evicted_keys.reset();
    }

    /// Resets the count of changes (after a save).
    pub fn reset_changes(&self) {
        self.inner.stats.changes.reset();
    }

    /// Largest string a command may build.
    pub fn proto_max_bulk_len(&self) -> u64 {
        self.inner.proto_max_bulk_len.load(Ordering::Relaxed)
    }

    /// Sets the largest string a command may build (CONFIG SET proto-max-bulk-len).
    pub fn set_proto_max_bulk_len(&self, bytes: u64) {
        self.inner
            .proto_max_bulk_len
            .store(bytes, Ordering::Relaxed);
    }

    /// The compact-encoding thresholds in force.
    pub fn encodings(&self) -> Encodings {
        self.inner.encodings.load()
    }

    /// Changes the compact-encoding thresholds (CONFIG SET hash-max-listpack-entries, ...);
    /// conversions decided from now on follow them.
    pub fn set_encodings(&self, encodings: Encodings) {
        self.inner.encodings.store(encodings);
    }
}

/// The engine with every other command held off (see [`Engine::exclusive`]); its writes are
/// propagated as one MULTI ... EXEC block. Commands run through it must not enter the engine
/// by another path (that would wait for the gate this holds).
#[derive(Debug)]
pub struct Exclusive<'e> {
    inner: &'e Inner,
    _guard: ExclusiveGuard<'e>,
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        // Closes the MULTI block while the gate is still held (fields drop after this).
        self.inner.propagator.end_transaction();
    }
}

impl Exclusive<'_> {
    /// Runs a resolved command (as [`Engine::execute_spec`]) without entering the gate, which
    /// this guard holds.
    pub fn execute_spec(
        &self,
        session: &mut Session,
        spec: &'static CommandSpec,
        args: &[Bytes],
    ) -> Reply {
        match spec.handler {
            Handler::Engine(handler) => {
                let mut ctx = Ctx::inside_exclusive(self.inner, session);
                handler(&mut ctx, args).unwrap_or_else(Reply::from)
            }
            Handler::Server | Handler::Container => Reply::from(server_only(spec)),
        }
    }

    /// Whether EXEC must refuse to run for `set`: a watched key was written, or its deadline
    /// (as seen at WATCH time) has passed.
    pub fn watch_broken(&self, set: &WatchSet) -> bool {
        let now_ms = self.inner.clock.now_ms();
        set.is_dirty()
            || set
                .keys
                .iter()
                .any(|w| w.expire_at_ms.is_some_and(|at| at <= now_ms))
    }
}

fn server_only(spec: &CommandSpec) -> CommandError {
    CommandError::err(format!(
        "'{}' is answered by the server, not by the embedded engine",
        spec.name
    ))
}

fn spawn_expiry_thread(engine: Weak<Inner>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("slotkv-expire".into())
        .spawn(move || loop {
            let Some(period) = engine.upgrade().map(|e| e.expire_cycle_period()) else {
                return;
            };
            std::thread::sleep(period);
            let Some(engine) = engine.upgrade() else {
                return;
            };
            engine.active_expire_cycle(engine.expire_cycle_budget());
        })?;
    Ok(())
}
