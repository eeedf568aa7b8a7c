//! The server: listeners, the accept loop, shared state and shutdown.
//!
//! One tokio task per connection on a multi-threaded runtime; the engine is called directly
//! from those tasks (its slot locks are held for microseconds). Shutdown is a watch channel:
//! SHUTDOWN, SIGTERM or SIGINT flip it, the accept loops stop and the process exits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use slotkv_engine::counter::StripedCounter;
use slotkv_engine::{Config as EngineConfig, Engine};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

use crate::clients::ClientRegistry;
use crate::config::{LiveConfig, Settings};

/// Counters INFO stats reports that belong to the server rather than the engine, striped so
/// connections on different threads do not share a cache line per request.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections_received: StripedCounter,
    pub connections_rejected: StripedCounter,
    pub commands_processed: StripedCounter,
    pub net_input_bytes: StripedCounter,
    pub net_output_bytes: StripedCounter,
    pub error_replies: StripedCounter,
    /// Recent per-second command rates, newest last (instantaneous_ops_per_sec).
    ops_samples: Mutex<OpsSampler>,
}

/// Samples of the command counter, to report a recent rate as Redis does (16 samples).
#[derive(Debug, Default)]
struct OpsSampler {
    last_count: u64,
    last_at: Option<Instant>,
    rates: Vec<u64>,
}

const OPS_SAMPLES_MAX: usize = 16;

impl ServerStats {
    /// Takes one sample of the command counter.
    pub fn sample_ops(&self) {
        let count = self.commands_processed.get();
        let mut sampler = self.ops_samples.lock();
        let now = Instant::now();
        if let Some(last_at) = sampler.last_at {
            let elapsed_ms = now.duration_since(last_at).as_millis().max(1) as u64;
            let rate = count.saturating_sub(sampler.last_count) * 1000 / elapsed_ms;
            if sampler.rates.len() == OPS_SAMPLES_MAX {
                sampler.rates.remove(0);
            }
            sampler.rates.push(rate);
        }
        sampler.last_count = count;
        sampler.last_at = Some(now);
    }

    /// Mean of the recent samples.
    pub fn ops_per_sec(&self) -> u64 {
        let sampler = self.ops_samples.lock();
        let samples = sampler.rates.len().max(1) as u64;
        sampler.rates.iter().sum::<u64>() / samples
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for counter in [
            &self.connections_received,
            &self.connections_rejected,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.error_replies,
        ] {
            counter.reset();
        }
        *self.ops_samples.lock() = OpsSampler::default();
    }
}

/// Everything connections share.
#[derive(Debug)]
pub struct Shared {
    pub engine: Engine,
    pub config: Arc<LiveConfig>,
    /// The append-only file (open or not).
    pub aof: Arc<crate::aof::AofHandle>,
    pub clients: ClientRegistry,
    /// Users, their permissions, the ACL log.
    pub acl: crate::acl::Acl,
    pub pubsub: Arc<crate::pubsub::Hub>,
    pub blocked: crate::blocking::BlockedQueues,
    pub stats: ServerStats,
    pub started: Instant,
    pub started_unix_secs: u64,
    /// 40 hex characters, new at every start (INFO run_id).
    pub run_id: String,
    /// Replication: ids, offsets, backlog, replicas, the link to a primary.
    pub replication: crate::replication::Replication,
    pub config_file: Option<std::path::PathBuf>,
    /// The port actually listened on (differs from the setting when it is 0).
    pub port: u16,
    /// RDB saves: schedule, status, LASTSAVE.
    pub rdb: Arc<crate::persist::RdbState>,
    /// Set once SHUTDOWN decided about the final save, so stopping does not save again.
    pub final_save_handled: std::sync::atomic::AtomicBool,
    /// Cluster mode's routing view; `None` unless `cluster-enabled yes`.
    pub cluster: Option<crate::cluster::ClusterView>,
    /// MIGRATE's cached connections to target servers.
    pub migrate_links: crate::migrate::LinkCache,
    /// Command names after `rename-command`.
    pub command_names: crate::exposure::CommandNames,
    /// The TLS configuration new connections and links use (reloaded by CONFIG SET).
    pub tls: crate::tls::TlsState,
    /// The TLS port actually listened on, 0 for none.
    pub tls_port: u16,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    /// The shared state around an opened engine: keyspace events into pub/sub, a fresh
    /// replication state and run id.
    fn assemble(
        engine: Engine,
        acl: crate::acl::Acl,
        settings: Settings,
        config_file: Option<std::path::PathBuf>,
        ports: Ports,
        aof: Arc<crate::aof::AofHandle>,
        command_names: crate::exposure::CommandNames,
    ) -> Arc<Shared> {
        let Ports {
            port,
            tls_port,
            tls,
        } = ports;
        let (shutdown, _) = watch::channel(false);
        let pubsub = Arc::new(crate::pubsub::Hub::default());
        pubsub.set_output_limit(settings.pubsub_output);
        engine.set_event_sink(Arc::new(crate::pubsub::KeyspaceEvents {
            hub: pubsub.clone(),
        }));
        engine.set_keyspace_events(settings.notify_keyspace_events);
        let started_unix_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let replication =
            crate::replication::Replication::new(engine.clone(), random_hex_id(), &settings.repl);
        let run_id = random_hex_id();
        let cluster = settings.cluster.enabled.then(|| {
            // A fresh node is named at random; the cluster driver installs the name nodes.conf
            // keeps with its first routing.
            let id = slotkv_cluster::NodeId::random(&mut rand::thread_rng());
            crate::cluster::ClusterView::new(
                &settings.cluster,
                id,
                (port, tls_port),
                settings.tls.cluster,
            )
        });
        Arc::new(Shared {
            engine,
            config: Arc::new(LiveConfig::new(settings)),
            aof,
            clients: ClientRegistry::default(),
            acl,
            pubsub,
            blocked: crate::blocking::BlockedQueues::default(),
            stats: ServerStats::default(),
            started: Instant::now(),
            started_unix_secs,
            run_id,
            replication,
            config_file,
            port,
            rdb: Arc::new(crate::persist::RdbState::new(started_unix_secs)),
            final_save_handled: std::sync::atomic::AtomicBool::new(false),
            cluster,
            migrate_links: crate::migrate::LinkCache::default(),
            command_names,
            tls: crate::tls::TlsState::new(tls),
            tls_port,
            shutdown,
        })
    }

    /// The state of a server that does not listen, around an engine the caller opened (an
    /// embedded follower, see [`crate::replication::follower`]): no AOF, no RDB file.
    pub fn headless(engine: Engine, settings: Settings) -> Result<Arc<Shared>, StartError> {
        let mut settings = settings;
        settings.aof.enabled = false;
        settings.save_points.clear();
        settings.cluster.enabled = false;
        slotkv_persistence::install_codec(&engine);
        let acl = crate::acl::Acl::from_settings(&settings).map_err(StartError::Acl)?;
        let aof =
            Arc::new(crate::aof::AofHandle::open(&engine, &settings).map_err(StartError::Aof)?);
        let tls = crate::tls::TlsContext::build(&settings.tls).map_err(StartError::Tls)?;
        let ports = Ports {
            port: 0,
            tls_port: 0,
            tls,
        };
        let names = crate::exposure::CommandNames::default();
        Ok(Shared::assemble(
            engine, acl, settings, None, ports, aof, names,
        ))
    }

    /// Asks the server to stop (SHUTDOWN, signals).
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// A receiver that sees `true` once shutdown is requested.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// The ports a server listens on and its TLS configuration, as bound at start-up.
#[derive(Debug)]
struct Ports {
    port: u16,
    tls_port: u16,
    tls: crate::tls::TlsContext,
}

/// A bound, not yet running server.
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    /// Listeners of the TLS port.
    tls_listeners: Vec<TcpListener>,
    /// Cluster mode: the driver and its bound bus port, started by `run`.
    cluster_bus: Option<(Arc<crate::cluster::bus::ClusterNode>, Vec<TcpListener>)>,
}

/// Why the server could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    Engine(slotkv_engine::OpenError),
    Bind {
        address: String,
        source: std::io::Error,
    },
    NoListener,
    /// The RDB file exists but cannot be loaded.
    Load(slotkv_persistence::LoadError),
    /// The AOF could not be loaded or opened.
    Aof(String),
    /// The users (`user` lines, `aclfile`) cannot be loaded.
    Acl(String),
    /// nodes.conf or the cluster bus port.
    Cluster(crate::cluster::bus::BusStartError),
    /// `rename-command` lines that do not apply (settings built without the file loader).
    Rename(String),
    /// The TLS configuration (certificates, keys, CA, names) is unusable.
    Tls(crate::tls::TlsError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Engine(e) => write!(f, "{e}"),
            StartError::Bind { address, source } => write!(
                f,
                "Could not create server TCP listening socket {address}: {source}"
            ),
            StartError::NoListener => f.write_str("Configured to not listen anywhere, exiting."),
            StartError::Load(error) => write!(f, "Fatal error loading the DB: {error}. Exiting."),
            StartError::Aof(message) => f.write_str(message),
            StartError::Acl(message) => {
                write!(f, "Aborting Redis startup because of ACL errors: {message}")
            }
            StartError::Cluster(error) => write!(f, "{error}"),
            StartError::Rename(reason) => write!(f, "rename-command: {reason}"),
            StartError::Tls(error) => write!(f, "Failed to configure TLS: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

fn random_hex_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

impl Server {
    /// Opens the engine and binds every configured address (must run inside a tokio runtime).
    pub async fn bind(
        mut settings: Settings,
        config_file: Option<std::path::PathBuf>,
    ) -> Result<Server, StartError> {
        crate::memory::note_startup();
        settings.maxclients = crate::fd_limit::adjust_at_startup(settings.maxclients);
        let acl = crate::acl::Acl::from_settings(&settings).map_err(StartError::Acl)?;
        let command_names = crate::exposure::CommandNames::from_renames(&settings.renamed_commands)
            .map_err(|reason| StartError::Rename(reason.to_owned()))?;
        let engine = Engine::open(EngineConfig {
            databases: settings.databases,
            proto_max_bulk_len: settings.proto_max_bulk_len,
            encodings: settings.encodings,
            memory: settings.memory,
            ..EngineConfig::default()
        })
        .map_err(StartError::Engine)?;
        slotkv_persistence::install_codec(&engine);
        // As in Redis, the AOF (when enabled) is the source of truth at start-up, else dump.rdb.
        if !settings.aof.enabled {
            load_rdb(&engine, &settings)?;
        }
        let aof =
            Arc::new(crate::aof::AofHandle::open(&engine, &settings).map_err(StartError::Aof)?);
        let tls = crate::tls::TlsContext::build(&settings.tls).map_err(StartError::Tls)?;
        let listeners = bind_all(&settings, settings.port).await?;
        let tls_listeners = bind_all(&settings, settings.tls.port).await?;
        if listeners.is_empty() && tls_listeners.is_empty() {
            return Err(StartError::NoListener);
        }
        let bound_port = |listeners: &[TcpListener], configured: u16| {
            listeners
                .first()
                .and_then(|l| l.local_addr().ok())
                .map_or(configured, |a| a.port())
        };
        let tls_port = bound_port(&tls_listeners, settings.tls.port);
        // A TLS-only server is known by its TLS port (cluster, replication announcements).
        let port = match bound_port(&listeners, settings.port) {
            0 => tls_port,
            port => port,
        };
        let cluster_bus = if settings.cluster.enabled {
            let node = crate::cluster::bus::ClusterNode::open(&settings, (port, tls_port))
                .map_err(StartError::Cluster)?;
            // The bus listens wherever clients do, as Redis's does.
            let bus = bind_all(&settings, node.bus_port()).await?;
            Some((Arc::new(node), bus))
        } else {
            None
        };
        let ports = Ports {
            port,
            tls_port,
            tls,
        };
        let shared = Shared::assemble(
            engine,
            acl,
            settings,
            config_file,
            ports,
            aof,
            command_names,
        );
        if let (Some(view), Some((node, _))) = (&shared.cluster, &cluster_bus) {
            view.install_node(Arc::clone(node));
            node.attach(&shared);
        }
        Ok(Server {
            shared,
            listeners,
            tls_listeners,
            cluster_bus,
        })
    }

    /// The state connections share.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Addresses actually bound (plain TCP).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Addresses of the TLS port actually bound.
    pub fn tls_addrs(&self) -> Vec<SocketAddr> {
        self.tls_listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Accepts connections until shutdown is requested.
    pub async fn run(self) {
        let Server {
            shared,
            listeners,
            tls_listeners,
            cluster_bus,
        } = self;
        let cluster_node = cluster_bus.as_ref().map(|(node, _)| Arc::clone(node));
        let cluster_tasks = cluster_bus.map_or_else(Vec::new, |(node, bus)| {
            crate::cluster::bus::start(&shared, &node, bus)
        });
        let sampler = tokio::spawn(sample_ops_forever(shared.clone()));
        let migrate_links = tokio::spawn(crate::migrate::close_idle_links_forever(shared.clone()));
        let saver = tokio::spawn(crate::persist::cron(shared.clone()));
        shared.replication.bind(&shared);
        let replication_cron = tokio::spawn(crate::replication::cron_forever(shared.clone()));
        let rewriter = tokio::spawn(
            shared
                .aof
                .clone()
                .auto_rewrite_forever(shared.engine.clone(), shared.config.clone()),
        );
        let plain = listeners.into_iter().map(|l| (l, false));
        let tls = tls_listeners.into_iter().map(|l| (l, true));
        let accepters: Vec<_> = plain
            .chain(tls)
            .map(|(listener, tls)| tokio::spawn(accept_loop(shared.clone(), listener, tls)))
            .collect();
        let mut shutdown = shared.shutdown_signal();
        let _ = shutdown.wait_for(|stop| *stop).await;
        for task in accepters {
            task.abort();
        }
        sampler.abort();
        migrate_links.abort();
        for task in cluster_tasks {
            task.abort();
        }
        if let Some(node) = cluster_node {
            node.flush_config();
        }
        saver.abort();
        replication_cron.abort();
        final_save(&shared);
        rewriter.abort();
        shared.aof.close();
        tracing::info!("slotkv is now ready to exit, bye bye...");
    }
}

/// Loads the RDB file of `settings` into `engine`, if there is one.
fn load_rdb(engine: &Engine, settings: &Settings) -> Result<(), StartError> {
    let path = crate::persist::rdb_path(settings);
    let started = Instant::now();
    match slotkv_persistence::load_file(engine, &path).map_err(StartError::Load)? {
        Some(report) => tracing::info!(
            "DB loaded from disk: {} keys ({} expired skipped) in {:.3} seconds",
            report.keys,
            report.expired_skipped,
            started.elapsed().as_secs_f64()
        ),
        None => tracing::debug!("no RDB file at {}", path.display()),
    }
    Ok(())
}

/// Saves before exiting on a signal when save points are configured, as Redis does (SHUTDOWN
/// decides for itself).
fn final_save(shared: &Shared) {
    if shared
        .final_save_handled
        .swap(true, std::sync::atomic::Ordering::AcqRel)
    {
        return;
    }
    if shared.config.read().save_points.is_empty() {
        return;
    }
    tracing::info!("Saving the final RDB snapshot before exiting.");
    if let Err(error) = crate::persist::save_now(shared) {
        tracing::warn!("Error trying to save the DB before exiting: {error}");
    }
}

/// Listens on `port` at every `bind` address; none when `port` is 0.
async fn bind_all(settings: &Settings, port: u16) -> Result<Vec<TcpListener>, StartError> {
    let mut listeners = Vec::new();
    if port == 0 {
        return Ok(listeners);
    }
    for entry in &settings.bind {
        let (optional, address) = listen_address(entry, port);
        match listen(&address, settings.tcp_backlog) {
            Ok(listener) => listeners.push(listener),
            Err(source) if optional => {
                tracing::debug!("skipping optional bind {address}: {source}")
            }
            Err(source) => return Err(StartError::Bind { address, source }),
        }
    }
    Ok(listeners)
}

/// A `bind` entry as a socket address to listen on, and whether it is optional: a leading
/// `-` marks an address that may be unavailable; `*` is every IPv4 interface and `::*` every
/// IPv6 one, as in Redis 7.
fn listen_address(entry: &str, port: u16) -> (bool, String) {
    let (optional, host) = match entry.strip_prefix('-') {
        Some(host) => (true, host),
        None => (false, entry),
    };
    let host = match host {
        "*" => "0.0.0.0",
        "::*" => "::",
        other => other,
    };
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    (optional, address)
}

fn listen(address: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let addr: SocketAddr = address
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if addr.is_ipv6() {
        // Like Redis: an IPv6 socket listens to IPv6 only, IPv4 has its own bind entry.
        socket2::SockRef::from(&socket).set_only_v6(true)?;
    }
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Accepts on one listener; `tls` marks the TLS port, whose connections start with a handshake.
async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tls: bool) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                shared.stats.connections_received.add(1);
                let (keepalive_secs, protected_mode) = {
                    let settings = shared.config.read();
                    (settings.tcp_keepalive_secs, settings.protected_mode)
                };
                configure_socket(&stream, keepalive_secs);
                let nopass = shared.acl.default_user().rules().nopass;
                if crate::exposure::protected_mode_denies(protected_mode, nopass, &peer) {
                    tokio::spawn(deny(stream));
                    continue;
                }
                if tls {
                    tokio::spawn(crate::connection::serve_tls(shared.clone(), stream, peer));
                } else {
                    tokio::spawn(crate::connection::serve(shared.clone(), stream, peer));
                }
            }
            Err(error) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Protected mode's refusal: Redis's DENIED message, then the connection is closed.
async fn deny(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = stream.write_all(crate::exposure::DENIED).await;
    let _ = stream.shutdown().await;
}

fn configure_socket(stream: &TcpStream, keepalive_secs: u64) {
    let _ = stream.set_nodelay(true);
    if keepalive_secs > 0 {
        let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive_secs));
        let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive);
    }
}

async fn sample_ops_forever(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticker.tick().await;
        shared.stats.sample_ops();
    }
}

#[cfg(test)]
mod tests {
    use super::listen_address;

    #[test]
    fn bind_entries_as_redis_reads_them() {
        assert_eq!(
            listen_address("127.0.0.1", 7),
            (false, "127.0.0.1:7".to_owned())
        );
        assert_eq!(listen_address("-::1", 7), (true, "[::1]:7".to_owned()));
        assert_eq!(listen_address("*", 7), (false, "0.0.0.0:7".to_owned()));
        assert_eq!(listen_address("-::*", 7), (true, "[::]:7".to_owned()));
        assert_eq!(
            listen_address("10.200.0.1", 6379),
            (false, "10.200.0.1:6379".to_owned())
        );
    }
}
