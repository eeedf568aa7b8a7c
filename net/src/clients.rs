//! The table of connected clients: what CLIENT LIST/INFO show, how CLIENT KILL reaches another
//! connection, and the count `maxclients` is checked against.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Longest client name accepted by CLIENT SETNAME / HELLO SETNAME (a bound on what we store).
pub const CLIENT_NAME_LEN_MAX: usize = 4096;

/// What the server knows about one connection, shared between its task and the registry.
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    created: Instant,
    /// Milliseconds since `created` at the last command.
    last_active_ms: AtomicU64,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    name: Mutex<Option<String>>,
    /// The user the connection is authenticated as (`user=`, CLIENT KILL USER, ACL DELUSER).
    user: Mutex<String>,
    last_command: Mutex<&'static str>,
    /// Bytes waiting in the query buffer at the last look (qbuf).
    pub query_buffer_bytes: AtomicUsize,
    /// Reply bytes not yet taken by the socket (`omem`); 0 between writes.
    pub output_buffer_bytes: AtomicUsize,
    /// The most reply bytes pending at once since INFO last looked
    /// (`client_recent_max_output_buffer`).
    output_buffer_peak: AtomicUsize,
    /// Commands queued in an open MULTI, -1 outside one (`multi=`).
    pub multi_queued: AtomicI64,
    killed: AtomicBool,
    kill_signal: Notify,
    /// A second descriptor of the connection's socket: CLIENT KILL shuts the socket down, so a
    /// task waiting to read or write wakes with an error at once, without the connection
    /// having to listen for a kill signal on every request.
    socket: Option<OwnedFd>,
    /// Whether the client waits in a blocking command (INFO blocked_clients, CLIENT UNBLOCK).
    blocked: AtomicBool,
    /// READONLY was sent in cluster mode (CLIENT LIST's `r` flag).
    pub cluster_readonly: AtomicBool,
    /// Wakes a blocked client: a write to one of its keys, or CLIENT UNBLOCK.
    pub wake_signal: Notify,
    /// Set by CLIENT UNBLOCK: how the blocked command should end.
    unblock_request: Mutex<Option<Unblock>>,
    /// A [`ReplicationRole`] as a byte.
    role: AtomicU8,
    /// Subscriptions to channels, patterns and shard channels (`sub=`, `psub=`, `ssub=`).
    subscriptions: [AtomicUsize; 3],
}

/// What a connection carries besides a client's commands (CLIENT LIST's `S` and `M` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReplicationRole {
    /// An ordinary client.
    None = 0,
    /// A replica of this node, fed the replication stream after its PSYNC.
    Replica = 1,
    /// This replica's link to its primary.
    Primary = 2,
}

/// A client's type, as CLIENT KILL TYPE and CLIENT LIST TYPE name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    Primary,
    PubSub,
}

impl ClientType {
    /// `normal`, `master`, `replica` / `slave` or `pubsub` (any case).
    pub fn parse(word: &[u8]) -> Option<ClientType> {
        let word = std::str::from_utf8(word).ok()?.to_ascii_lowercase();
        Some(match word.as_str() {
            "normal" => ClientType::Normal,
            "master" => ClientType::Primary,
            "replica" | "slave" => ClientType::Replica,
            "pubsub" => ClientType::PubSub,
            _ => return None,
        })
    }
}

/// How CLIENT UNBLOCK ends a blocked command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unblock {
    /// As if its timeout had passed.
    Timeout,
    /// With an UNBLOCKED error.
    Error,
}

impl ClientInfo {
    fn new(id: u64, peer: SocketAddr, local: SocketAddr, socket: Option<OwnedFd>) -> ClientInfo {
        ClientInfo {
            id,
            socket,
            peer,
            local,
            created: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            name: Mutex::new(None),
            user: Mutex::new("default".to_owned()),
            last_command: Mutex::new("NULL"),
            query_buffer_bytes: AtomicUsize::new(0),
            output_buffer_bytes: AtomicUsize::new(0),
            output_buffer_peak: AtomicUsize::new(0),
            multi_queued: AtomicI64::new(-1),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
            blocked: AtomicBool::new(false),
            cluster_readonly: AtomicBool::new(false),
            wake_signal: Notify::new(),
            unblock_request: Mutex::new(None),
            role: AtomicU8::new(ReplicationRole::None as u8),
            subscriptions: Default::default(),
        }
    }

    /// Marks the connection as a replica's or as the link to this node's primary.
    pub fn set_role(&self, role: ReplicationRole) {
        self.role.store(role as u8, Ordering::Release);
    }

    /// What the connection carries.
    pub fn role(&self) -> ReplicationRole {
        match self.role.load(Ordering::Acquire) {
            1 => ReplicationRole::Replica,
            2 => ReplicationRole::Primary,
            _ => ReplicationRole::None,
        }
    }

    /// Records the client's subscription counts: channels, patterns, shard channels.
    pub fn set_subscriptions(&self, counts: [usize; 3]) {
        for (slot, count) in self.subscriptions.iter().zip(counts) {
            slot.store(count, Ordering::Relaxed);
        }
    }

    fn subscription_count(&self, index: usize) -> usize {
        self.subscriptions
            .get(index)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The client's type, as Redis decides it: the primary link first, then replicas, then
    /// subscribers.
    pub fn client_type(&self) -> ClientType {
        match self.role() {
            ReplicationRole::Primary => ClientType::Primary,
            ReplicationRole::Replica => ClientType::Replica,
            ReplicationRole::None if (0..3).any(|i| self.subscription_count(i) > 0) => {
                ClientType::PubSub
            }
            ReplicationRole::None => ClientType::Normal,
        }
    }

    /// CLIENT LIST's `flags=`: S (replica), M (primary), P (pub/sub), x (in MULTI), b
    /// (blocked), r (READONLY in cluster mode), N (none of them).
    fn flags(&self) -> String {
        let mut flags = String::new();
        match self.role() {
            ReplicationRole::Replica => flags.push('S'),
            ReplicationRole::Primary => flags.push('M'),
            ReplicationRole::None => {}
        }
        if self.client_type() == ClientType::PubSub {
            flags.push('P');
        }
        if self.multi_queued.load(Ordering::Relaxed) >= 0 {
            flags.push('x');
        }
        if self.is_blocked() {
            flags.push('b');
        }
        if self.cluster_readonly.load(Ordering::Relaxed) {
            flags.push('r');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }

    /// Notes activity: `command` ran just now.
    pub fn touch(&self, command: &'static str) {
        let elapsed_ms = self.created.elapsed().as_millis() as u64;
        self.last_active_ms.store(elapsed_ms, Ordering::Relaxed);
        *self.last_command.lock() = command;
    }

    /// Seconds since the last command (or since connecting).
    pub fn idle_secs(&self) -> u64 {
        let now_ms = self.created.elapsed().as_millis() as u64;
        now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000
    }

    /// Seconds since the connection was accepted.
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// The name set by CLIENT SETNAME, if any.
    pub fn name(&self) -> Option<String> {
        self.name.lock().clone()
    }

    /// Sets or clears the name (an empty name clears it, as in Redis).
    pub fn set_name(&self, name: &str) {
        *self.name.lock() = (!name.is_empty()).then(|| name.to_owned());
    }

    /// The user the connection is authenticated as.
    pub fn user(&self) -> String {
        self.user.lock().clone()
    }

    /// Records the user after AUTH or HELLO AUTH.
    pub fn set_user(&self, user: &str) {
        user.clone_into(&mut self.user.lock());
    }

    /// Asks the connection to close (CLIENT KILL); it closes at its next wake-up.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_signal.notify_one();
        if let Some(socket) = &self.socket {
            // Already closed by the peer is fine: the connection ends either way.
            let _ = socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Both);
        }
    }

    /// Closes the connection once its pending replies are written (CLIENT KILL of oneself).
    pub fn close_after_reply(&self) {
        self.killed.store(true, Ordering::Release);
    }

    /// Marks the client as blocked or not.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::Release);
        if !blocked {
            *self.unblock_request.lock() = None;
        }
    }

    /// Whether the client waits in a blocking command.
    pub fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::Acquire)
    }

    /// CLIENT UNBLOCK: false if the client was not blocked.
    pub fn unblock(&self, how: Unblock) -> bool {
        let mut request = self.unblock_request.lock();
        // A client already being unblocked counts as unblocked, as in Redis where the first
        // CLIENT UNBLOCK takes effect at once.
        if !self.is_blocked() || request.is_some() {
            return false;
        }
        *request = Some(how);
        self.wake_signal.notify_one();
        true
    }

    /// The pending CLIENT UNBLOCK, if any.
    pub fn unblock_requested(&self) -> Option<Unblock> {
        *self.unblock_request.lock()
    }

    /// Whether CLIENT KILL was called on this connection.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Completes when the connection is killed.
    pub async fn killed(&self) {
        while !self.is_killed() {
            self.kill_signal.notified().await;
        }
    }

    /// Records the reply bytes waiting for the socket.
    pub fn note_output_buffer(&self, pending: usize) {
        self.output_buffer_bytes.store(pending, Ordering::Relaxed);
        self.output_buffer_peak
            .fetch_max(pending, Ordering::Relaxed);
    }

    /// The CLIENT LIST / CLIENT INFO line of this client (Redis 7.0's fields).
    pub fn describe(&self) -> String {
        let qbuf = self.query_buffer_bytes.load(Ordering::Relaxed);
        let omem = self.output_buffer_bytes.load(Ordering::Relaxed);
        let tot_mem = qbuf.saturating_add(omem);
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} \
             multi={} qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 \
             omem={omem} tot-mem={tot_mem} events=r cmd={} user={} redir=-1 resp={}",
            self.id,
            self.peer,
            self.local,
            self.name().unwrap_or_default(),
            self.age_secs(),
            self.idle_secs(),
            self.flags(),
            self.db.load(Ordering::Relaxed),
            self.subscription_count(0),
            self.subscription_count(1),
            self.subscription_count(2),
            self.multi_queued.load(Ordering::Relaxed),
            *self.last_command.lock(),
            self.user(),
            self.resp.load(Ordering::Relaxed),
        )
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
    /// The largest output peak of clients gone since INFO last looked, so a client closed
    /// for its output still shows in `client_recent_max_output_buffer`.
    departed_output_peak: AtomicUsize,
    /// TLS handshakes in progress: connections not registered yet that hold a socket, counted
    /// against `maxclients` as Redis counts a connection from its accept.
    handshakes: AtomicUsize,
}

/// A TLS handshake counted against `maxclients` until it ends (then the connection registers
/// as a client, or goes).
#[derive(Debug)]
pub struct Handshake<'a> {
    registry: &'a ClientRegistry,
}

impl Drop for Handshake<'_> {
    fn drop(&mut self) {
        self.registry.handshakes.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Removes the client from the registry when its connection ends, however it ends.
#[derive(Debug)]
pub struct Registration<'a> {
    registry: &'a ClientRegistry,
    pub info: Arc<ClientInfo>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.registry.clients.lock().remove(&self.info.id);
        let peak = self.info.output_buffer_peak.load(Ordering::Relaxed);
        self.registry
            .departed_output_peak
            .fetch_max(peak, Ordering::Relaxed);
    }
}

impl ClientRegistry {
    /// Registers a new connection unless `max_clients` are already connected.
    pub fn register(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
        socket: Option<OwnedFd>,
        max_clients: u64,
    ) -> Option<Registration<'_>> {
        let mut clients = self.clients.lock();
        if !self.has_room(&clients, max_clients) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo::new(id, peer, local, socket));
        clients.insert(id, info.clone());
        Some(Registration {
            registry: self,
            info,
        })
    }

    /// Counts a TLS handshake against `max_clients`; `None` when clients and handshakes
    /// already fill it. The connection registers once the [`Handshake`] is dropped.
    pub fn start_handshake(&self, max_clients: u64) -> Option<Handshake<'_>> {
        let clients = self.clients.lock();
        if !self.has_room(&clients, max_clients) {
            return None;
        }
        self.handshakes.fetch_add(1, Ordering::Relaxed);
        Some(Handshake { registry: self })
    }

    /// Whether one more connection fits under `max_clients`: registered clients and TLS
    /// handshakes in progress both count (`clients` is the locked table).
    fn has_room(&self, clients: &BTreeMap<u64, Arc<ClientInfo>>, max_clients: u64) -> bool {
        let pending = self.handshakes.load(Ordering::Relaxed);
        ((clients.len() + pending) as u64) < max_clients
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.clients.lock().is_empty()
    }

    /// A copy of the client list, in id order.
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }

    /// The client with `id`.
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Number of clients waiting in a blocking command (INFO blocked_clients).
    pub fn blocked_count(&self) -> usize {
        self.clients
            .lock()
            .values()
            .filter(|c| c.is_blocked())
            .count()
    }

    /// Largest query buffer among clients (client_recent_max_input_buffer).
    pub fn max_query_buffer(&self) -> usize {
        self.clients
            .lock()
            .values()
            .map(|c| c.query_buffer_bytes.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }

    /// Largest output buffer among clients, connected or gone, since the last call; each
    /// peak starts over from what its client holds now (client_recent_max_output_buffer).
    pub fn recent_max_output_buffer(&self) -> usize {
        let departed = self.departed_output_peak.swap(0, Ordering::Relaxed);
        self.clients
            .lock()
            .values()
            .map(|c| {
                let now = c.output_buffer_bytes.load(Ordering::Relaxed);
                c.output_buffer_peak.swap(now, Ordering::Relaxed)
            })
            .fold(departed, usize::max)
    }
}
