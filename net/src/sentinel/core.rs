//! The driver's shared state: the state machine behind one lock, the clock it reads, the
//! outbound links it commands, the event channel clients subscribe to, and sentinel.conf.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use slotkv_sentinel::{Addr, Output, PeerKind, Request, Sentinel};
use tokio::sync::{broadcast, mpsc};

use super::link;

/// Events buffered per subscriber before a slow one misses some.
const EVENT_QUEUE: usize = 4096;

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
}

impl Shared {
    /// `tls` is the TLS context and whether outbound links use it (`tls-replication`).
    pub fn new(
        machine: Sentinel,
        config_path: PathBuf,
        requirepass: Option<String>,
        tls: (crate::tls::TlsContext, bool),
    ) -> Arc<Shared> {
        Arc::new(Shared {
            core: Mutex::new(Core {
                machine,
                links: HashMap::new(),
            }),
            started: Instant::now(),
            config_path,
            requirepass,
            events: broadcast::channel(EVENT_QUEUE).0,
            shutdown: tokio::sync::watch::channel(false).0,
            client_ids: std::sync::atomic::AtomicU64::new(0),
            tls: crate::tls::TlsState::new(tls.0),
            tls_links: tls.1,
        })
    }

    /// A new client's id.
    pub fn next_client_id(&self) -> u64 {
        self.client_ids
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
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
            }
        }
        self.reconcile_links(core);
        if rewrite {
            if let Err(error) = self.rewrite_config(&core.machine) {
                tracing::warn!("Failed to save Sentinel new configuration on disk: {error}");
            }
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
                _ = interval.tick() => self.with(|core, now| core.machine.tick(now)),
                _ = shutdown.changed() => return,
            }
        }
    }
}
