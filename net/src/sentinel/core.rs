//! The driver's shared state: the state machine behind one lock, the clock it reads, the
//! outbound links it commands, the event channel clients subscribe to, sentinel.conf, and
//! the client counters INFO shows (with the `maxclients` limit).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use slotkv_sentinel::{Addr, Output, PeerKind, Request, Sentinel};
use tokio::sync::{broadcast, mpsc};

use super::link;

/// Events buffered per subscriber before a slow one misses some.
const EVENT_QUEUE: usize = 4096;
/// The exit status of a crash asked for by SENTINEL SIMULATE-FAILURE, as in Redis.
const SIMULATED_CRASH_STATUS: i32 = 99;

/// What the machine's lock guards.
#[derive(Debug)]
pub struct Core {
    pub machine: Sentinel,
    links: HashMap<(String, Addr, PeerKind), mpsc::Sender<Request>>,
}

/// One sentinel process's state.
#[derive(Debug)]
pub struct Shared {
    core: Mutex<Core>,
    started: Instant,
    pub config_path: PathBuf,
    pub requirepass: Option<String>,
    /// Published events: (channel, message).
    pub events: broadcast::Sender<(String, String)>,
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// The last client id given (HELLO's `id`).
    client_ids: std::sync::atomic::AtomicU64,
    /// TLS for the TLS port and, under `tls-replication yes`, for every outbound link.
    pub tls: crate::tls::TlsState,
    /// `tls-replication`: links to monitored servers and other sentinels speak TLS.
    pub tls_links: bool,
    /// The client port INFO shows (`tcp_port`).
    pub port: u16,
    /// Most clients connected at once (`maxclients`).
    pub maxclients: u64,
    /// INFO's client and command counters.
    pub stats: Stats,
    /// Subscribers per channel and per pattern.
    pub pubsub: Mutex<PubsubCounts>,
    /// SENTINEL SIMULATE-FAILURE's moment came: exit at the next chance.
    crash_due: AtomicBool,
}

/// Counters for INFO's Clients and Stats sections.
#[derive(Debug, Default)]
pub struct Stats {
    /// Clients connected now.
    pub connected: AtomicU64,
    pub connections_received: AtomicU64,
    /// Connections refused for `maxclients`.
    pub connections_rejected: AtomicU64,
    pub commands_processed: AtomicU64,
}

/// How many clients subscribe to each channel and to each pattern (INFO's pubsub_channels
/// and pubsub_patterns count the names with at least one).
#[derive(Debug, Default)]
pub struct PubsubCounts {
    channels: HashMap<String, usize>,
    patterns: HashMap<String, usize>,
}

impl PubsubCounts {
    fn names(&mut self, pattern: bool) -> &mut HashMap<String, usize> {
        if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        }
    }

    /// One more client subscribes to `name`.
    pub fn add(&mut self, pattern: bool, name: &str) {
        *self.names(pattern).entry(name.to_owned()).or_default() += 1;
    }

    /// One client fewer subscribes to `name`.
    pub fn remove(&mut self, pattern: bool, name: &str) {
        let names = self.names(pattern);
        if let Some(count) = names.get_mut(name) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                names.remove(name);
            }
        }
    }

    /// (channels, patterns) with at least one subscriber.
    pub fn counts(&self) -> (usize, usize) {
        (self.channels.len(), self.patterns.len())
    }
}

/// A connected client's place under `maxclients`, given back when dropped (however the
/// client's task ends).
#[derive(Debug)]
pub struct ClientSlot {
    shared: Arc<Shared>,
}

impl ClientSlot {
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.shared.stats.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shared {
    /// `settings` gives `requirepass`, `maxclients` and `tls-replication`; `tls` is the TLS
    /// context; `port` the client port.
    pub fn new(
        machine: Sentinel,
        config_path: PathBuf,
        settings: &crate::config::Settings,
        tls: crate::tls::TlsContext,
        port: u16,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            core: Mutex::new(Core {
                machine,
                links: HashMap::new(),
            }),
            started: Instant::now(),
            config_path,
            requirepass: settings.requirepass.clone(),
            events: broadcast::channel(EVENT_QUEUE).0,
            shutdown: tokio::sync::watch::channel(false).0,
            client_ids: AtomicU64::new(0),
            tls: crate::tls::TlsState::new(tls),
            tls_links: settings.tls.replication,
            port,
            maxclients: settings.maxclients,
            stats: Stats::default(),
            pubsub: Mutex::new(PubsubCounts::default()),
            crash_due: AtomicBool::new(false),
        })
    }

    /// A place for a new client, or `None` when `maxclients` are connected already.
    pub fn admit(self: &Arc<Self>) -> Option<ClientSlot> {
        self.stats
            .connected
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.maxclients).then_some(n + 1)
            })
            .ok()
            .map(|_| ClientSlot {
                shared: self.clone(),
            })
    }

    /// A new client's id.
    pub fn next_client_id(&self) -> u64 {
        self.client_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Milliseconds since start: the machine's clock (monotonic).
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `f` on the machine, then carries out what it asked for.
    pub fn with<T>(self: &Arc<Self>, f: impl FnOnce(&mut Core, u64) -> T) -> T {
        let now = self.now_ms();
        let mut core = self.core.lock();
        let result = f(&mut core, now);
        let outputs = core.machine.drain();
        self.carry_out(&mut core, outputs);
        result
    }

    fn carry_out(self: &Arc<Self>, core: &mut Core, outputs: Vec<Output>) {
        let mut rewrite = false;
        let mut crash = false;
        self.reconcile_links(core);
        for output in outputs {
            match output {
                Output::Send(out) => {
                    let key = (out.master, out.to, out.kind);
                    if let Some(tx) = core.links.get(&key) {
                        // A full queue means the link is stuck: the request is dropped and
                        // its missing reply counts against the instance.
                        let _ = tx.try_send(out.request);
                    }
                }
                Output::Publish(event) => {
                    tracing::warn!("{} {}", event.channel, event.message);
                    let _ = self.events.send((event.channel, event.message));
                }
                Output::RewriteConfig => rewrite = true,
                Output::Crash => crash = true,
            }
        }
        self.reconcile_links(core);
        if rewrite {
            if let Err(error) = self.rewrite_config(&core.machine) {
                tracing::warn!("Failed to save Sentinel new configuration on disk: {error}");
            }
        }
        if crash {
            self.crash_due.store(true, Ordering::Release);
        }
    }

    /// Exits as a crash would once SENTINEL SIMULATE-FAILURE's moment came. Called by the
    /// timer after each tick and by a client after its replies went out, so the client whose
    /// SENTINEL FAILOVER won the election still reads its +OK first, as from Redis (whose
    /// election comes on the next timer event).
    pub fn exit_if_crash_due(&self) {
        if self.crash_due.load(Ordering::Acquire) {
            tracing::warn!("Sentinel CRASH because of SENTINEL simulate-failure");
            std::process::exit(SIMULATED_CRASH_STATUS);
        }
    }

    /// Opens links the machine now needs and closes those it no longer does.
    fn reconcile_links(self: &Arc<Self>, core: &mut Core) {
        let wanted = core.machine.links();
        let keys: std::collections::HashSet<_> = wanted
            .iter()
            .map(|spec| (spec.master.clone(), spec.addr.clone(), spec.kind))
            .collect();
        core.links.retain(|key, _| keys.contains(key));
        for spec in wanted {
            let key = (spec.master.clone(), spec.addr.clone(), spec.kind);
            core.links
                .entry(key)
                .or_insert_with(|| link::spawn(self, spec));
        }
    }

    /// Writes sentinel.conf with the current state: a temporary file, fsync, rename, fsync
    /// of the directory, so a crash leaves the old file or the new one.
    pub fn rewrite_config(&self, machine: &Sentinel) -> std::io::Result<()> {
        let text = match std::fs::read(&self.config_path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(error),
        };
        let split = |line: &str| {
            crate::config::split_config_line(line.as_bytes()).map(|words| {
                words
                    .into_iter()
                    .map(|w| String::from_utf8_lossy(&w).into_owned())
                    .collect()
            })
        };
        let new_text = slotkv_sentinel::config::rewrite(&text, &machine.config(), split);
        let directory = self
            .config_path
            .parent()
            .map_or_else(|| PathBuf::from("."), PathBuf::from);
        let temp = directory.join(format!(".sentinel-rewrite-{}.tmp", std::process::id()));
        {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(new_text.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&temp, &self.config_path)?;
        std::fs::File::open(&directory)?.sync_all()
    }

    /// The periodic work, every 100 ms, until shutdown.
    pub async fn run_timer(self: Arc<Self>) {
        let mut interval = tokio::time::interval(std::time::Duration::from_millis(100));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = self.shutdown.subscribe();
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    self.exit_if_crash_due();
                    self.with(|core, now| core.machine.tick(now));
                    self.exit_if_crash_due();
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}
