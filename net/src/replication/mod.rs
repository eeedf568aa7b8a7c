//! Replication, as Redis 7 speaks it: a primary ships its write stream to replicas, which
//! load a point-in-time copy first (FULLRESYNC) or continue from their offset (CONTINUE).
//!
//! - [`backlog`]: the ring of the newest stream bytes that partial resyncs read from.
//! - [`primary`]: the primary's side: PSYNC, the full sync from an [`Engine::snapshot`], each
//!   replica's bounded output queue, REPLCONF ACK, WAIT.
//! - [`failover`]: FAILOVER, the coordinated switch of a primary and a replica.
//! - [`follower`]: an embedded [`Engine`] following a remote primary through the same link.
//! - [`link`]: the replica's side: the handshake, loading the RDB, applying the stream
//!   through the engine, acknowledging, reconnecting with PSYNC.
//! - this file: the shared state (replication ids, offsets, role), the refusals a replica or
//!   a primary without enough replicas gives to clients, INFO replication and ROLE.
//!
//! Offsets are Redis's (`master_repl_offset`: bytes of the RESP stream). A primary feeds its
//! backlog from the engine's propagation stream, subscribed only once a replica asked for it,
//! so a primary without replicas pays nothing. A replica feeds its backlog with the bytes its
//! primary sent, as they are, so its own replicas (chained) see the same stream at the same
//! offsets, and after a promotion (REPLICAOF NO ONE) its siblings continue partially through
//! `master_replid2` / `second_repl_offset` (PSYNC2).

pub mod backlog;
pub mod commands;
pub mod failover;
pub mod follower;
pub mod link;
pub mod primary;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use slotkv_engine::command::{CommandSpec, Flags};
use slotkv_engine::propagate::{encode_resp_array, PropagationSink, Record};
use slotkv_engine::{Engine, Reply};

use crate::config::ReplSettings;
use backlog::Backlog;
use primary::ReplicaOut;

/// Redis's replies to clients a replica or a primary refuses.
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// Bits of [`Replication::refusals`]: what clients are refused right now.
const REFUSE_WRITES_READ_ONLY: u8 = 1;
const REFUSE_STALE: u8 = 1 << 1;
const REFUSE_WRITES_NO_REPLICAS: u8 = 1 << 2;

/// What feeds the backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// Nothing: a primary that never had a replica, or whose backlog expired.
    Off,
    /// The engine's propagation stream (a primary).
    Propagation,
    /// The bytes of this replica's primary.
    Link,
}

/// State of a replica's link to its primary (ROLE's and INFO's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connect,
    Connecting,
    Handshake,
    Sync,
    Connected,
}

impl LinkState {
    fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The primary this node replicates, while it is a replica.
#[derive(Debug, Clone)]
pub struct PrimaryInfo {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Last time bytes came from the primary.
    pub last_io: Instant,
    /// Stream bytes read from the primary (`slave_read_repl_offset`).
    pub read_offset: u64,
    /// When the link went down (`master_link_down_since_seconds`).
    pub down_since: Instant,
}

/// The replication state every connection shares.
#[derive(Debug)]
pub(crate) struct State {
    replid: String,
    replid2: String,
    /// `second_repl_offset`: -1, or the first offset `replid` took over from `replid2`.
    second_offset: i64,
    backlog: Backlog,
    feed: Feed,
    /// Replication offset minus propagation offset, while the propagation stream feeds.
    delta: Option<i128>,
    replicas: Vec<Arc<ReplicaOut>>,
    /// Since when no replica is connected (for `repl-backlog-ttl`).
    alone_since: Instant,
    primary: Option<PrimaryInfo>,
    /// Bumped by every REPLICAOF, so an old link task knows it is outdated.
    generation: u64,
    /// The database the primary's stream last selected: a partial resync continues the
    /// stream without a new SELECT, so the next link session starts there (Redis keeps it in
    /// its cached primary client); a full sync's stream starts with one.
    link_db: usize,
    /// Scratch space for encoding a propagated command (kept to spare an allocation each).
    encoded: Vec<u8>,
}

impl State {
    /// Appends stream bytes to the backlog and every replica's queue.
    fn append(&mut self, bytes: &[u8]) {
        self.backlog.append(bytes);
        for replica in &self.replicas {
            replica.push(bytes);
        }
    }

    /// Appends a command, encoded in the buffer kept for it.
    fn append_command(&mut self, args: &[Bytes]) {
        let mut encoded = std::mem::take(&mut self.encoded);
        encoded.clear();
        encode_resp_array(args, &mut encoded);
        self.append(&encoded);
        self.encoded = encoded;
    }
}

/// The backlog's subscription to the propagation stream.
#[derive(Debug)]
struct PropagationFeed {
    state: Arc<Mutex<State>>,
}

impl PropagationSink for PropagationFeed {
    fn on_record(&self, record: &Record<'_>) {
        let mut state = self.state.lock();
        if state.feed != Feed::Propagation {
            return;
        }
        if state.delta.is_none() {
            state.delta = Some(i128::from(state.backlog.end()) - i128::from(record.offset));
        }
        state.append_command(record.args);
    }
}

pub use follower::{follow, FollowError, FollowOptions, FollowerHandle, FollowerState};

/// Replication: ids, offsets, backlog, replicas, and the link to a primary.
#[derive(Debug)]
pub struct Replication {
    engine: Engine,
    state: Arc<Mutex<State>>,
    /// Orders what enters the stream other than writes: a replica's applied units, PINGs and
    /// GETACKs, and the instant a full sync's offset is fixed.
    order: Mutex<()>,
    /// The propagation subscription, while there is one.
    sink: Mutex<Option<Arc<dyn PropagationSink>>>,
    /// Woken when a replica acknowledges (WAIT).
    acked: tokio::sync::Notify,
    /// `REFUSE_*` bits; one load per command.
    refusals: AtomicU8,
    /// The task of the link to a primary.
    link_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The server (set once it exists), for the link tasks REPLICAOF starts.
    shared: std::sync::OnceLock<std::sync::Weak<crate::server::Shared>>,
    /// The FAILOVER under way, if any.
    failover: Mutex<failover::Failover>,
    /// Writes wait while a FAILOVER runs (one relaxed load per command).
    writes_paused: AtomicBool,
    /// Woken when writes resume.
    unpaused: tokio::sync::Notify,
    /// INFO's sync_full, sync_partial_ok and sync_partial_err.
    pub(crate) syncs: SyncCounts,
}

/// How replicas' syncs started, as INFO stats counts them.
#[derive(Debug, Default)]
pub(crate) struct SyncCounts {
    /// Full syncs served.
    pub full: AtomicU64,
    /// Partial syncs accepted (+CONTINUE).
    pub partial_ok: AtomicU64,
    /// Partial syncs asked for (a known replication id) but refused.
    pub partial_err: AtomicU64,
}

impl Replication {
    /// A primary with a fresh replication id and no backlog yet.
    pub fn new(engine: Engine, replid: String, settings: &ReplSettings) -> Replication {
        let state = State {
            replid,
            replid2: "0".repeat(40),
            second_offset: -1,
            backlog: Backlog::new(backlog_capacity(settings), 0),
            feed: Feed::Off,
            delta: None,
            replicas: Vec::new(),
            alone_since: Instant::now(),
            primary: None,
            generation: 0,
            link_db: 0,
            encoded: Vec::new(),
        };
        Replication {
            engine,
            state: Arc::new(Mutex::new(state)),
            order: Mutex::new(()),
            sink: Mutex::new(None),
            acked: tokio::sync::Notify::new(),
            refusals: AtomicU8::new(0),
            link_task: Mutex::new(None),
            shared: std::sync::OnceLock::new(),
            failover: Mutex::new(failover::Failover::default()),
            writes_paused: AtomicBool::new(false),
            unpaused: tokio::sync::Notify::new(),
            syncs: SyncCounts::default(),
        }
    }

    /// Tells replication which server it belongs to, and starts following the `replicaof`
    /// primary of the configuration, if any.
    pub fn bind(&self, shared: &Arc<crate::server::Shared>) {
        let _ = self.shared.set(Arc::downgrade(shared));
        let replicaof = shared.config.read().repl.replicaof.clone();
        if let Some((host, port)) = replicaof {
            self.follow(shared, host, port);
        }
    }

    /// Redis's refusal of `spec` for a normal client, if any (one atomic load when none).
    pub fn refusal(&self, spec: &CommandSpec) -> Option<Reply> {
        let refusals = self.refusals.load(Ordering::Relaxed);
        if refusals == 0 {
            return None;
        }
        let write = spec.flags.contains(Flags::WRITE);
        let message = if refusals & REFUSE_STALE != 0 && !spec.flags.contains(Flags::STALE) {
            MASTERDOWN
        } else if write && refusals & REFUSE_WRITES_READ_ONLY != 0 {
            READONLY
        } else if write && refusals & REFUSE_WRITES_NO_REPLICAS != 0 {
            NOREPLICAS
        } else {
            return None;
        };
        Some(Reply::Error(message.to_owned()))
    }

    /// Recomputes the refusals from the role, the link and the replicas' acknowledgements.
    pub fn update_refusals(&self, settings: &ReplSettings) {
        let state = self.state.lock();
        let mut refusals = 0;
        if let Some(primary) = &state.primary {
            if settings.read_only {
                refusals |= REFUSE_WRITES_READ_ONLY;
            }
            if !settings.serve_stale_data && primary.state != LinkState::Connected {
                refusals |= REFUSE_STALE;
            }
        } else if settings.min_replicas_to_write > 0 {
            let max_lag = Duration::from_secs(settings.min_replicas_max_lag_secs);
            let good = state
                .replicas
                .iter()
                .filter(|r| r.is_online() && r.ack_age() <= max_lag)
                .count() as u64;
            if good < settings.min_replicas_to_write {
                refusals |= REFUSE_WRITES_NO_REPLICAS;
            }
        }
        self.refusals.store(refusals, Ordering::Relaxed);
    }

    /// Whether this node is a replica.
    pub fn is_replica(&self) -> bool {
        self.state.lock().primary.is_some()
    }

    /// The primary this node replicates: (host, port).
    pub fn primary_address(&self) -> Option<(String, u16)> {
        let state = self.state.lock();
        state.primary.as_ref().map(|p| (p.host.clone(), p.port))
    }

    /// Whether this replica's link to its primary is streaming.
    pub fn primary_link_up(&self) -> bool {
        let state = self.state.lock();
        state
            .primary
            .as_ref()
            .is_some_and(|p| p.state == LinkState::Connected)
    }

    /// `master_repl_offset`.
    pub fn offset(&self) -> u64 {
        self.state.lock().backlog.end()
    }

    /// The replication offset where the propagation stream's `stream_offset` falls, at most
    /// `master_repl_offset`. The gap between the two only grows (PINGs and GETACKs enter the
    /// replication stream alone), so a past write maps to its own offset or a little later.
    pub(crate) fn replication_offset_of(&self, stream_offset: u64) -> u64 {
        let state = self.state.lock();
        let end = state.backlog.end();
        match state.delta {
            Some(delta) => {
                u64::try_from(i128::from(stream_offset) + delta).map_or(0, |offset| offset.min(end))
            }
            None => end,
        }
    }

    /// Applies a CONFIG SET of `repl-backlog-size`.
    pub fn resize_backlog(&self, settings: &ReplSettings) {
        self.state.lock().backlog.resize(backlog_capacity(settings));
    }

    /// Subscribes the backlog to the propagation stream (a primary's first replica).
    fn attach_propagation(&self) {
        let mut sink_slot = self.sink.lock();
        if sink_slot.is_some() {
            return;
        }
        self.state.lock().feed = Feed::Propagation;
        let sink: Arc<dyn PropagationSink> = Arc::new(PropagationFeed {
            state: Arc::clone(&self.state),
        });
        let first_offset = self.engine.subscribe_at(Arc::clone(&sink));
        let mut state = self.state.lock();
        if state.delta.is_none() {
            state.delta = Some(i128::from(state.backlog.end()) - i128::from(first_offset));
        }
        *sink_slot = Some(sink);
    }

    /// Ends the backlog's subscription to the propagation stream.
    fn detach_propagation(&self) {
        if let Some(sink) = self.sink.lock().take() {
            self.engine.unsubscribe(&sink);
        }
        let mut state = self.state.lock();
        state.delta = None;
        if state.feed == Feed::Propagation {
            state.feed = Feed::Off;
        }
    }

    /// Appends a command of the primary's own (PING, REPLCONF GETACK) to the stream, between
    /// whole writes and transactions (it enters the engine's gate).
    fn append_command(&self, words: &[&'static str]) {
        let args: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::from_static(w.as_bytes()))
            .collect();
        self.append_between_writes(&args);
    }

    fn append_between_writes(&self, args: &[Bytes]) {
        let mut encoded = Vec::new();
        encode_resp_array(args, &mut encoded);
        let _order = self.order.lock();
        self.engine
            .with_ctx(&mut slotkv_engine::Session::new(), |_| {
                self.inject(encoded);
            });
    }

    /// Appends bytes that are not in the propagation stream (so the offset delta grows).
    fn inject(&self, encoded: Vec<u8>) {
        let mut state = self.state.lock();
        if state.feed != Feed::Propagation {
            return;
        }
        if let Some(delta) = state.delta.as_mut() {
            *delta += encoded.len() as i128;
        }
        state.append(&encoded);
    }

    /// PUBLISH / SPUBLISH on a primary: Redis (outside cluster mode) sends them to its
    /// replicas, not to the AOF, so subscribers on replicas receive the messages too.
    /// Inside EXEC the caller holds the engine's gate, which already keeps snapshots and
    /// other stream appends out; the message then goes with the transaction.
    pub fn propagate_publish(&self, args: &[Bytes], in_exec: bool) {
        if self.state.lock().feed != Feed::Propagation {
            return;
        }
        if in_exec {
            let mut encoded = Vec::new();
            encode_resp_array(args, &mut encoded);
            self.inject(encoded);
        } else {
            self.append_between_writes(args);
        }
    }

    /// Wakes WAIT callers after an acknowledgement.
    fn note_ack(&self) {
        self.acked.notify_waiters();
    }

    /// Disconnects every replica (their data no longer follows this node's stream).
    fn drop_replicas(state: &mut State) {
        for replica in state.replicas.drain(..) {
            replica.close();
        }
        state.alone_since = Instant::now();
    }

    /// Periodic work (every 100 ms): PINGs to replicas, the backlog's time to live, the
    /// refusals.
    pub fn cron(&self, settings: &ReplSettings, last_ping: &mut Instant) {
        let is_primary = !self.is_replica();
        // While a failover waits for a replica to catch up, the stream stays still.
        let failing_over = self.failover_state() != failover::FailoverState::None;
        if is_primary
            && !failing_over
            && last_ping.elapsed() >= Duration::from_secs(settings.ping_period_secs)
        {
            *last_ping = Instant::now();
            if !self.state.lock().replicas.is_empty() {
                self.append_command(&["PING"]);
            }
        }
        if is_primary && settings.backlog_ttl_secs > 0 {
            let expired = {
                let state = self.state.lock();
                state.feed == Feed::Propagation
                    && state.replicas.is_empty()
                    && state.alone_since.elapsed() >= Duration::from_secs(settings.backlog_ttl_secs)
            };
            if expired {
                self.free_backlog();
            }
        }
        self.update_refusals(settings);
    }

    /// Client ids of the streaming replicas that have not acknowledged within `repl-timeout`
    /// (Redis then drops them: a replica acknowledges every second).
    fn timed_out_replicas(&self, settings: &ReplSettings) -> Vec<u64> {
        let timeout = Duration::from_secs(settings.timeout_secs);
        self.state
            .lock()
            .replicas
            .iter()
            .filter(|r| r.is_online() && r.ack_age() > timeout)
            .map(|r| {
                tracing::warn!(
                    "Disconnecting timedout replica (streaming sync): {}:{}",
                    r.ip,
                    r.port
                );
                r.client_id
            })
            .collect()
    }

    /// Frees the backlog of a primary left without replicas (`repl-backlog-ttl`): a new
    /// replication id, as in Redis, since the history is gone.
    fn free_backlog(&self) {
        self.detach_propagation();
        let mut state = self.state.lock();
        let (capacity, end) = (state.backlog.capacity(), state.backlog.end());
        state.backlog = Backlog::new(capacity, end);
        state.replid = random_id();
        state.replid2 = "0".repeat(40);
        state.second_offset = -1;
    }
}

/// `repl-backlog-size` as a ring size.
fn backlog_capacity(settings: &ReplSettings) -> usize {
    usize::try_from(settings.backlog_bytes).unwrap_or(usize::MAX)
}

/// A new 40-hex-digit replication id.
pub fn random_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// Runs [`Replication::cron`] every 100 ms, and drops replicas silent for `repl-timeout`,
/// until the task is aborted.
pub async fn cron_forever(shared: Arc<crate::server::Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut last_ping = Instant::now();
    loop {
        ticker.tick().await;
        let settings = shared.config.read().repl.clone();
        shared.replication.cron(&settings, &mut last_ping);
        shared.replication.failover_cron(&shared);
        // Killing the connection (not only its queue) also ends a write stuck on a replica
        // that stopped reading.
        for id in shared.replication.timed_out_replicas(&settings) {
            if let Some(client) = shared.clients.get(id) {
                client.kill();
            }
        }
    }
}
