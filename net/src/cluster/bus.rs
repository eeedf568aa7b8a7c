//! The cluster driver: runs this node's [`Cluster`] state machine with real sockets and time.
//!
//! - nodes.conf is loaded at start-up (or a fresh node is named at random) and rewritten
//!   whenever the state machine asks ([`super::conf_file`]);
//! - the bus listener accepts frames from peers on `cluster-port` and feeds them in;
//! - one outbound link per node ID, a task with a bounded queue of encoded frames, which
//!   reconnects by itself and falls back to the node's announced hostname when its IP no longer
//!   answers (a restarted Kubernetes pod); a link whose queue overflows is dropped and
//!   counted, as Redis drops links past `cluster-link-sendbuf-limit`;
//! - every 100 ms a tick with the replication offset and the primary link's state;
//! - the state machine's outputs become REPLICAOF / REPLICAOF NO ONE on the replication
//!   module, key deletions, write pauses, local PUBLISH delivery and a new routing view.
//!
//! Why one mutex around the state machine: inputs are rare (heartbeats, admin commands) and
//! each is short; outputs are taken under the lock and acted on after it is released, so no
//! socket write or file write happens while the machine is locked.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use slotkv_cluster::message::MAX_FRAME;
use slotkv_cluster::{BusAddr, Cluster, ClusterConfig, Endpoint, Message, NodeId, Output};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::conf_file::ConfigFile;
use crate::config::Settings;
use crate::server::Shared;
use crate::tls::MaybeTls;

/// Frames queued for one peer before its link counts as stuck and is dropped.
const LINK_QUEUE_FRAMES: usize = 1024;
/// Pause between reconnection attempts of an outbound link.
const RECONNECT_DELAY: Duration = Duration::from_millis(200);
/// Longest wait for an outbound connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long a link to a node the table does not know may live.
const STRANGER_LINK_GRACE: Duration = Duration::from_secs(10);
/// The state machine's clock period.
const TICK: Duration = Duration::from_millis(100);

/// Why cluster mode could not start.
#[derive(Debug)]
pub enum BusStartError {
    /// nodes.conf exists but cannot be read or parsed.
    Config(PathBuf, String),
    /// The client port is too high for the bus port to be 10000 above it.
    PortTooHigh(u16),
}

impl std::fmt::Display for BusStartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusStartError::Config(path, reason) => write!(
                f,
                "Unrecoverable error: corrupted cluster config file \"{}\": {reason}",
                path.display()
            ),
            BusStartError::PortTooHigh(port) => write!(
                f,
                "Redis port number too high. Cluster communication port is 10,000 port numbers \
                 higher than your Redis port. Your Redis port number must be 55535 or less \
                 (it is {port}), or set cluster-port."
            ),
        }
    }
}

/// What the driver does once the state machine's lock is released.
enum Action {
    Send(NodeId, BusAddr, Vec<u8>),
    CloseLink(NodeId),
    Save(u64, String),
    Routing(slotkv_cluster::Routing),
    Output(Output),
}

/// One outbound link: the queue its task drains and the address it connects to.
struct Link {
    addr: BusAddr,
    created: std::time::Instant,
    queue: mpsc::Sender<Vec<u8>>,
    task: JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// This node in cluster mode: the state machine, its links and its nodes.conf.
pub struct ClusterNode {
    machine: Mutex<Cluster>,
    links: Mutex<HashMap<NodeId, Link>>,
    conf_file: Arc<ConfigFile>,
    bus_port: u16,
    shared: OnceLock<Weak<Shared>>,
    links_dropped: AtomicU64,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("conf_file", &self.conf_file.path())
            .field("bus_port", &self.bus_port)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch (nodes.conf and CLUSTER NODES show wall-clock times).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The state machine's settings from the server's.
pub fn machine_config(settings: &Settings) -> ClusterConfig {
    let cluster = &settings.cluster;
    ClusterConfig {
        node_timeout_ms: cluster.node_timeout_ms.max(1),
        replica_validity_factor: u64::from(cluster.replica_validity_factor),
        migration_barrier: cluster.migration_barrier as usize,
        allow_replica_migration: cluster.allow_replica_migration,
        require_full_coverage: cluster.require_full_coverage,
        replica_no_failover: cluster.replica_no_failover,
        repl_ping_period_ms: settings.repl.ping_period_secs.saturating_mul(1000),
        seed: rand::random(),
        ..ClusterConfig::default()
    }
}

fn endpoint(settings: &Settings, ports: (u16, u16), bus_port: u16) -> Endpoint {
    let (client_port, tls_port) = ports;
    let cluster = &settings.cluster;
    let or = |announced: u16, actual: u16| if announced == 0 { actual } else { announced };
    Endpoint {
        ip: cluster.announce_ip.clone(),
        port: or(cluster.announce_port, client_port),
        tls_port: or(cluster.announce_tls_port, tls_port),
        bus_port: or(cluster.announce_bus_port, bus_port),
        hostname: cluster.announce_hostname.clone(),
    }
}

impl ClusterNode {
    /// Loads nodes.conf (or names a fresh node and writes it). `ports` are the client port
    /// and the TLS port (0: none); the server binds [`ClusterNode::bus_port`] at every `bind`
    /// address.
    pub fn open(settings: &Settings, ports: (u16, u16)) -> Result<ClusterNode, BusStartError> {
        let conf_path = settings.dir.join(&settings.cluster.config_file);
        let port = settings
            .cluster
            .bus_port(ports.0)
            .ok_or(BusStartError::PortTooHigh(ports.0))?;
        let me = endpoint(settings, ports, port);
        let config = machine_config(settings);
        let now = now_ms();
        let machine = match std::fs::read_to_string(&conf_path) {
            Ok(text) if !text.trim().is_empty() => Cluster::load(&text, config, me, now)
                .map_err(|e| BusStartError::Config(conf_path.clone(), e.to_string()))?,
            Ok(_) => Cluster::new(NodeId::random(&mut rand::thread_rng()), config, me, now),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Cluster::new(NodeId::random(&mut rand::thread_rng()), config, me, now)
            }
            Err(e) => return Err(BusStartError::Config(conf_path, e.to_string())),
        };
        Ok(ClusterNode {
            machine: Mutex::new(machine),
            links: Mutex::new(HashMap::new()),
            conf_file: ConfigFile::open(conf_path),
            bus_port: port,
            shared: OnceLock::new(),
            links_dropped: AtomicU64::new(0),
        })
    }

    /// Connects the driver to the server and publishes the loaded state (the routing view,
    /// a fresh node's nodes.conf) before any client is served.
    pub fn attach(&self, shared: &Arc<Shared>) {
        let _ = self.shared.set(Arc::downgrade(shared));
        self.with(|_, _| ());
    }

    /// This node's ID.
    pub fn myid(&self) -> NodeId {
        self.machine.lock().myid()
    }

    /// The bus port listened on.
    pub fn bus_port(&self) -> u16 {
        self.bus_port
    }

    /// Links dropped because their queue overflowed.
    pub fn links_dropped(&self) -> u64 {
        self.links_dropped.load(Ordering::Relaxed)
    }

    /// Runs `f` on the state machine, then acts on the outputs it produced.
    pub fn with<R>(&self, f: impl FnOnce(&mut Cluster, u64) -> R) -> R {
        let (result, actions) = {
            let mut machine = self.machine.lock();
            let result = f(&mut machine, now_ms());
            (result, drain(&mut machine))
        };
        self.act(actions);
        result
    }

    /// Reads the state machine without changing it.
    pub fn read<R>(&self, f: impl FnOnce(&Cluster) -> R) -> R {
        f(&self.machine.lock())
    }

    fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.get().and_then(Weak::upgrade)
    }

    fn act(&self, actions: Vec<Action>) {
        // The configuration first: an epoch or a vote is on disk before any message says so.
        let (saves, actions): (Vec<Action>, Vec<Action>) = actions
            .into_iter()
            .partition(|action| matches!(action, Action::Save(..)));
        for action in saves.into_iter().chain(actions) {
            match action {
                Action::Send(to, addr, frame) => self.send(to, addr, frame),
                Action::CloseLink(id) => {
                    self.links.lock().remove(&id);
                }
                Action::Save(version, text) => self.conf_file.save(version, text),
                Action::Routing(routing) => {
                    if let Some(view) = self.shared().as_ref().and_then(|s| s.cluster.as_ref()) {
                        if view.routing().ok != routing.ok {
                            let state = if routing.ok { "ok" } else { "fail" };
                            tracing::info!("Cluster state changed: {state}");
                        }
                        view.set_routing(Arc::new(routing));
                    }
                }
                Action::Output(output) => {
                    if let Some(shared) = self.shared() {
                        apply(&shared, output);
                    }
                }
            }
        }
    }

    /// Queues a frame on the link to `to`, (re)creating the link when it is missing, points
    /// elsewhere, or has died.
    fn send(&self, to: NodeId, addr: BusAddr, frame: Vec<u8>) {
        let mut links = self.links.lock();
        let stale = links
            .get(&to)
            .is_none_or(|link| link.addr != addr || link.queue.is_closed());
        if stale {
            let Some(node) = self.self_arc() else {
                return;
            };
            tracing::debug!("Cluster bus: new link to {to} at {}:{}", addr.ip, addr.port);
            links.insert(to, spawn_link(node, to, addr));
        }
        let Some(link) = links.get(&to) else {
            return;
        };
        if link.queue.try_send(frame).is_err() {
            // The peer does not drain its frames: drop the link (and what it queued), as Redis
            // frees a link past its send buffer limit; the next send reconnects.
            links.remove(&to);
            self.links_dropped.fetch_add(1, Ordering::Relaxed);
            drop(links);
            self.machine.lock().link_down(&to, now_ms());
        }
    }

    /// Drops the links to nodes that left the table (answers to a stranger, forgotten or
    /// renamed handshake nodes), which would otherwise reconnect forever. A link gets
    /// [`STRANGER_LINK_GRACE`] first: the answer to a MEET goes to a node the table learns
    /// of only when the handshake completes.
    fn prune_links(&self) {
        let ids: Vec<NodeId> = self
            .links
            .lock()
            .iter()
            .filter(|(_, link)| link.created.elapsed() > STRANGER_LINK_GRACE)
            .map(|(id, _)| *id)
            .collect();
        let gone: Vec<NodeId> = self.read(|machine| {
            ids.into_iter()
                .filter(|id| machine.node(id).is_none())
                .collect()
        });
        if !gone.is_empty() {
            let mut links = self.links.lock();
            for id in gone {
                links.remove(&id);
            }
        }
    }

    fn self_arc(&self) -> Option<Arc<ClusterNode>> {
        let shared = self.shared()?;
        shared.cluster.as_ref()?.node().cloned()
    }

    /// CLUSTER SAVECONFIG: writes and fsyncs nodes.conf now.
    pub fn save_now(&self) -> std::io::Result<()> {
        let (version, text) = self.read(|m| (m.version(), m.nodes_conf()));
        self.conf_file.save_now(version, &text)
    }

    /// Writes a pending nodes.conf before the process exits.
    pub fn flush_config(&self) {
        self.conf_file.flush();
    }
}

/// Takes the state machine's outputs, resolving under its lock what they refer to (the
/// routing view, the nodes.conf text) and encoding frames.
fn drain(machine: &mut Cluster) -> Vec<Action> {
    machine
        .take_outputs()
        .into_iter()
        .map(|output| match output {
            Output::Send { to, addr, msg } => {
                let mut frame = Vec::new();
                msg.encode(&mut frame);
                Action::Send(to, addr, frame)
            }
            Output::CloseLink(id) => Action::CloseLink(id),
            Output::SaveConfig => Action::Save(machine.version(), machine.nodes_conf()),
            Output::RoutingChanged => Action::Routing(machine.routing()),
            other => Action::Output(other),
        })
        .collect()
}

/// Acts on an output that changes the server rather than the bus.
fn apply(shared: &Arc<Shared>, output: Output) {
    match output {
        Output::Replicate { ip, port, primary } => {
            let current = shared.replication.primary_address();
            if current.as_ref() != Some(&(ip.clone(), port)) {
                tracing::info!("Cluster: replicating {primary} at {ip}:{port}");
                shared.replication.follow(shared, ip, port);
            }
        }
        Output::Promote => {
            tracing::info!("Cluster: this node is now a primary");
            shared.replication.promote(shared);
        }
        Output::DeleteKeysInSlots(slots) => {
            let removed = delete_slot_keys(&shared.engine, &slots);
            tracing::info!("Cluster: deleted {removed} keys in slots this node lost");
        }
        Output::PauseWritesUntil(_) => shared.replication.set_writes_paused(true),
        Output::Unpause => shared.replication.set_writes_paused(false),
        Output::Publish {
            channel,
            message,
            sharded,
        } => {
            let (channel, message) = (Bytes::from(channel), Bytes::from(message));
            if sharded {
                shared.pubsub.publish_shard(&channel, &message);
            } else {
                shared.pubsub.publish(&channel, &message);
            }
        }
        Output::Send { .. }
        | Output::CloseLink(_)
        | Output::SaveConfig
        | Output::RoutingChanged => {
            // Handled by `drain`.
        }
    }
}

/// Deletes (and propagates as DEL) every key of database 0 in `slots`; returns how many.
fn delete_slot_keys(engine: &slotkv_engine::Engine, slots: &[u16]) -> usize {
    const KEYS_PER_DEL: usize = 1000;
    let mut removed = 0;
    for &slot in slots {
        loop {
            let keys = engine.slot_keys(0, slot, KEYS_PER_DEL);
            if keys.is_empty() {
                break;
            }
            let mut del = Vec::with_capacity(keys.len() + 1);
            del.push(Bytes::from_static(b"DEL"));
            del.extend(keys);
            match engine.execute(&del) {
                slotkv_engine::Reply::Integer(n) if n > 0 => removed += n as usize,
                _ => break,
            }
        }
    }
    removed
}

/// Starts cluster mode's tasks: the bus listener and the tick.
pub fn start(
    shared: &Arc<Shared>,
    node: &Arc<ClusterNode>,
    listeners: Vec<TcpListener>,
) -> Vec<JoinHandle<()>> {
    // A replica in nodes.conf resumes replicating its primary at once.
    let primary = node.read(|machine| {
        let primary = machine.primary()?;
        let at = machine.node(&primary)?;
        Some((primary, at.ip.clone(), at.port))
    });
    if let Some((primary, ip, port)) = primary {
        apply(shared, Output::Replicate { primary, ip, port });
    }
    let mut tasks: Vec<JoinHandle<()>> = listeners
        .into_iter()
        .map(|listener| tokio::spawn(accept_forever(Arc::clone(node), listener)))
        .collect();
    tasks.push(tokio::spawn(tick_forever(
        Arc::clone(shared),
        Arc::clone(node),
    )));
    tasks
}

async fn tick_forever(shared: Arc<Shared>, node: Arc<ClusterNode>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let offset = shared.replication.offset();
        let link_up = shared.replication.primary_link_up();
        node.with(|machine, now| {
            machine.set_repl_offset(offset);
            machine.set_primary_link(link_up, now);
            machine.tick(now);
        });
        node.prune_links();
    }
}

async fn accept_forever(node: Arc<ClusterNode>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let local_ip = stream
                    .local_addr()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default();
                let addresses = (peer.ip().to_string(), local_ip);
                tokio::spawn(serve_inbound(Arc::clone(&node), stream, addresses));
            }
            Err(error) => {
                tracing::warn!("Cluster bus accept failed: {error}");
                tokio::time::sleep(RECONNECT_DELAY).await;
            }
        }
    }
}

/// An inbound bus connection: the TLS handshake first under `tls-cluster yes`, then its frames.
async fn serve_inbound(node: Arc<ClusterNode>, stream: TcpStream, addresses: (String, String)) {
    let Some(shared) = node.shared() else { return };
    if !shared.config.read().tls.cluster {
        return read_frames(node, stream, addresses).await;
    }
    match shared.tls.accept(stream).await {
        Ok(tls) => read_frames(node, tls, addresses).await,
        Err(error) => tracing::warn!(
            "Cluster bus: TLS handshake with {} failed: {error}",
            addresses.0
        ),
    }
}

/// Reads frames from an inbound bus connection until it closes or sends garbage.
/// `addresses`: the peer's IP and ours as the peer reached us (which teaches this node its own
/// IP when none is announced).
async fn read_frames<S: AsyncRead + Unpin>(
    node: Arc<ClusterNode>,
    mut stream: S,
    addresses: (String, String),
) {
    let (peer_ip, local_ip) = addresses;
    let mut buffer = BytesMut::with_capacity(16 * 1024);
    loop {
        loop {
            match Message::decode(&buffer) {
                Ok(Some((message, used))) => {
                    let _ = buffer.split_to(used);
                    node.with(|machine, now| {
                        machine.learn_my_ip(&local_ip);
                        machine.handle_message(now, &peer_ip, message);
                    });
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!("Cluster bus: closing the link from {peer_ip}: {error}");
                    return;
                }
            }
        }
        debug_assert!(buffer.len() <= MAX_FRAME);
        match stream.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn spawn_link(node: Arc<ClusterNode>, to: NodeId, addr: BusAddr) -> Link {
    let (queue, frames) = mpsc::channel(LINK_QUEUE_FRAMES);
    let task = tokio::spawn(run_link(node, to, addr.clone(), frames));
    Link {
        addr,
        created: std::time::Instant::now(),
        queue,
        task,
    }
}

/// An outbound link: connect (by IP, then by hostname), write queued frames, and reconnect
/// after any failure. Peers answer on their own outbound links, so this side only writes; a
/// read of zero bytes tells that the peer went away.
async fn run_link(
    node: Arc<ClusterNode>,
    to: NodeId,
    addr: BusAddr,
    mut frames: mpsc::Receiver<Vec<u8>>,
) {
    loop {
        if let Some(stream) = connect(&node, &addr).await {
            tracing::debug!(
                "Cluster bus: connected to {to} at {}:{}",
                addr.ip,
                addr.port
            );
            let _ = stream.tcp().set_nodelay(true);
            node.with(|machine, now| machine.link_up(&to, now));
            let closed = pump(stream, &mut frames).await;
            node.with(|machine, now| machine.link_down(&to, now));
            if closed {
                return;
            }
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

/// Writes frames until the queue closes (true) or the connection fails (false).
async fn pump(stream: MaybeTls, frames: &mut mpsc::Receiver<Vec<u8>>) -> bool {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut scratch = [0u8; 512];
    loop {
        tokio::select! {
            frame = frames.recv() => {
                let Some(frame) = frame else { return true };
                if writer.write_all(&frame).await.is_err() || writer.flush().await.is_err() {
                    return false;
                }
            }
            read = reader.read(&mut scratch) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return false;
                }
            }
        }
    }
}

/// Connects to a peer's bus port (from `bind-source-addr` when set), over TLS under
/// `tls-cluster yes`.
async fn connect(node: &ClusterNode, addr: &BusAddr) -> Option<MaybeTls> {
    let shared = node.shared()?;
    let (tls, source) = {
        let config = shared.config.read();
        let source = crate::exposure::source_address(&config.bind_source_addr);
        (config.tls.cluster, source)
    };
    let (host, stream) = connect_tcp(addr, source).await?;
    match shared.tls.connect(stream, &host, tls).await {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::warn!(
                "Cluster bus: TLS handshake with {host}:{} failed: {error}",
                addr.port
            );
            None
        }
    }
}

/// The TCP connection to a peer's bus port (by IP, then by hostname), with the host used.
async fn connect_tcp(
    addr: &BusAddr,
    source: Option<std::net::IpAddr>,
) -> Option<(String, TcpStream)> {
    let attempt = |host: String| async move {
        let connecting = crate::exposure::connect(&host, addr.port, source);
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .ok()?
            .ok()?;
        Some((host, stream))
    };
    if !addr.ip.is_empty() {
        if let Some(connected) = attempt(addr.ip.clone()).await {
            return Some(connected);
        }
    }
    if addr.hostname.is_empty() {
        return None;
    }
    attempt(addr.hostname.clone()).await
}
