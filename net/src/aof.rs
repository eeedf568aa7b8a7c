//! The server's side of the append-only file (slotkv-persistence's [`Aof`]): opening it at
//! start-up (load, then resume or start), the commit before replies, Redis's MISCONF refusal
//! while writes fail, BGREWRITEAOF and the automatic rewrite, CONFIG SET side effects, and the
//! INFO persistence fields.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use slotkv_engine::command::{CommandSpec, Flags};
use slotkv_engine::{Engine, Reply};
use slotkv_persistence::aof::{self, Aof, AofOptions, DiskStorage, FsyncPolicy, LoadOptions};
use tokio::sync::watch;

use crate::config::Settings;

/// The AOF and its background threads.
#[derive(Debug)]
pub struct AofHandle {
    /// The file manager and propagation sink.
    pub aof: Arc<Aof>,
    background: Mutex<Option<std::thread::JoinHandle<()>>>,
    syncer: Arc<Syncer>,
}

/// Group commit under `appendfsync always`: a connection asks for the stream offset its
/// replies depend on and waits (without holding a worker thread) while one thread writes and
/// fsyncs for everyone who asked, so one fsync covers the writes of every connection served
/// meanwhile.
#[derive(Debug)]
struct Syncer {
    /// The highest offset asked for, and whether the server is closing.
    wanted: Mutex<(u64, bool)>,
    wake: Condvar,
    /// Signalled after every attempt; holds the number of attempts that failed.
    failures: watch::Sender<u64>,
}

impl Syncer {
    fn new() -> Syncer {
        Syncer {
            wanted: Mutex::new((0, false)),
            wake: Condvar::new(),
            failures: watch::channel(0).0,
        }
    }

    fn request(&self, offset: u64) {
        let mut wanted = self.wanted.lock();
        if offset > wanted.0 {
            wanted.0 = offset;
            self.wake.notify_one();
        }
    }

    fn stop(&self) {
        self.wanted.lock().1 = true;
        self.wake.notify_one();
    }

    /// The syncing thread: waits for a request beyond what is fsynced, commits, reports.
    fn run(&self, aof: &Aof) {
        loop {
            {
                let mut wanted = self.wanted.lock();
                while wanted.0 <= aof.synced_end() && !wanted.1 {
                    self.wake.wait(&mut wanted);
                }
                if wanted.1 {
                    return;
                }
            }
            let failed = aof.commit().is_err();
            if failed {
                // Wait for a new request rather than retrying at once. Lowered before the
                // round is reported: whoever asks after the report asks anew.
                let mut wanted = self.wanted.lock();
                wanted.0 = wanted.0.min(aof.synced_end());
            }
            self.failures
                .send_modify(|failures| *failures += u64::from(failed));
        }
    }
}

/// How often the automatic rewrite rule is checked.
const REWRITE_CHECK_PERIOD: Duration = Duration::from_secs(1);

impl AofHandle {
    /// Opens the AOF as `settings` say: with `appendonly yes`, loads an existing one into
    /// `engine` and appends to it, or starts one from the engine's data.
    pub fn open(engine: &Engine, settings: &Settings) -> Result<AofHandle, String> {
        let options = AofOptions {
            dir: settings.dir.join(&settings.aof.dirname),
            filename: settings.aof.filename.clone(),
            fsync: settings.aof.fsync,
            rdb_preamble: settings.aof.rdb_preamble,
        };
        let aof = Aof::new(Arc::new(DiskStorage), &options);
        if settings.aof.enabled {
            let load = LoadOptions {
                load_truncated: settings.aof.load_truncated,
            };
            let loaded = aof::load(aof.dir(), &settings.aof.filename, engine, load)
                .map_err(|e| e.to_string())?;
            match loaded {
                Some(report) => {
                    tracing::info!(
                        "DB loaded from append only file: {} commands, {} keys from the base",
                        report.commands,
                        report.keys
                    );
                    aof.resume(engine, report.manifest)
                }
                None => aof.start(engine),
            }
            .map_err(|e| format!("Can't open the append-only file: {e}"))?;
        }
        let background = aof
            .spawn_background()
            .map_err(|e| format!("cannot start the AOF thread: {e}"))?;
        let syncer = Arc::new(Syncer::new());
        let (for_thread, aof_for_thread) = (syncer.clone(), aof.clone());
        std::thread::Builder::new()
            .name("slotkv-aof-sync".into())
            .spawn(move || for_thread.run(&aof_for_thread))
            .map_err(|e| format!("cannot start the AOF sync thread: {e}"))?;
        Ok(AofHandle {
            aof,
            background: Mutex::new(Some(background)),
            syncer,
        })
    }

    /// Writes (and under `always` fsyncs) what was propagated before replies go out. A failure
    /// under `always` is returned (the replies must not be sent: nothing may be acknowledged
    /// that is not durable); under the other policies the records stay buffered, are retried,
    /// and writes are refused meanwhile.
    ///
    /// The write(2) of a few records into the page cache the other policies need is done
    /// inline, as Redis does in its event loop; an fsync is left to the syncing thread, which
    /// groups the connections waiting for one.
    pub async fn commit(&self) -> std::io::Result<()> {
        if !self.aof.needs_commit() {
            return Ok(());
        }
        if self.aof.fsync_policy() != FsyncPolicy::Always {
            let _ = self.aof.commit();
            return Ok(());
        }
        let target = self.aof.buffered_end();
        let mut rounds = self.syncer.failures.subscribe();
        let failures_before = *rounds.borrow_and_update();
        self.syncer.request(target);
        loop {
            if self.aof.synced_end() >= target {
                return Ok(());
            }
            if *rounds.borrow_and_update() > failures_before {
                let error = self.aof.write_error().unwrap_or_default();
                return Err(std::io::Error::other(error));
            }
            rounds
                .changed()
                .await
                .map_err(|_| std::io::Error::other("the AOF is closed"))?;
        }
    }

    /// Redis's refusal of write commands while the AOF cannot be written.
    pub fn refusal(&self, spec: &CommandSpec) -> Option<Reply> {
        if !spec.flags.contains(Flags::WRITE) {
            return None;
        }
        let error = self.aof.write_error()?;
        Some(Reply::Error(format!(
            "MISCONF Errors writing to the AOF file: {error}"
        )))
    }

    /// BGREWRITEAOF: starts a rewrite on its own thread. With appendonly no it writes a new
    /// base only, as Redis 7 does (a directory another server, or a later `appendonly yes`
    /// start-up, can load).
    pub fn bgrewriteaof(&self, engine: &Engine) -> Reply {
        match self.aof.spawn_bgrewrite(engine) {
            Ok(()) => Reply::Simple("Background append only file rewriting started".into()),
            Err(error) => Reply::Error(format!("ERR {error}")),
        }
    }

    /// Applies a CONFIG SET of an AOF directive.
    pub fn apply_setting(&self, name: &str, settings: &Settings, engine: &Engine) {
        match name {
            "appendfsync" => self.aof.set_fsync_policy(settings.aof.fsync),
            "aof-use-rdb-preamble" => self.aof.set_rdb_preamble(settings.aof.rdb_preamble),
            "appendonly" if settings.aof.enabled && !self.aof.is_open() => {
                if let Err(error) = self.aof.spawn_rewrite(engine) {
                    tracing::warn!("Can't enable the append only file: {error}");
                }
            }
            "appendonly" if !settings.aof.enabled => {
                if let Err(error) = self.aof.stop(engine) {
                    tracing::warn!("Error closing the append only file: {error}");
                }
            }
            _ => {}
        }
    }

    /// Checks the automatic rewrite rule every second until the task is aborted.
    pub async fn auto_rewrite_forever(
        self: Arc<Self>,
        engine: Engine,
        config: Arc<crate::config::LiveConfig>,
    ) {
        let mut ticker = tokio::time::interval(REWRITE_CHECK_PERIOD);
        loop {
            ticker.tick().await;
            let (percentage, min_size) = {
                let settings = config.read();
                (
                    settings.aof.rewrite_percentage,
                    settings.aof.rewrite_min_size,
                )
            };
            if self.aof.rewrite_due(percentage, min_size) {
                tracing::info!("Starting automatic rewriting of AOF");
                if let Err(error) = self.aof.spawn_rewrite(&engine) {
                    tracing::warn!("Can't start the automatic AOF rewrite: {error}");
                }
            }
        }
    }

    /// Writes and fsyncs what is left and stops the background thread (at shutdown).
    pub fn close(&self) {
        self.syncer.stop();
        self.aof.shutdown();
        if let Some(thread) = self.background.lock().take() {
            let _ = thread.join();
        }
    }

    /// INFO persistence's AOF fields, as Redis 7 prints them.
    pub fn info_fields(&self) -> Vec<(&'static str, String)> {
        let status = self.aof.status();
        let flag = |on: bool| if on { "1" } else { "0" }.to_owned();
        let ok = |ok: bool| if ok { "ok" } else { "err" }.to_owned();
        let mut fields = vec![
            ("aof_enabled", flag(status.enabled)),
            ("aof_rewrite_in_progress", flag(status.rewrite_in_progress)),
            ("aof_rewrite_scheduled", "0".to_owned()),
            (
                "aof_last_rewrite_time_sec",
                status.last_rewrite_time_sec.to_string(),
            ),
            ("aof_last_bgrewrite_status", ok(status.last_bgrewrite_ok)),
            ("aof_last_write_status", ok(status.last_write_ok)),
        ];
        if status.enabled {
            fields.push(("aof_current_size", status.current_size.to_string()));
            fields.push(("aof_base_size", status.base_size.to_string()));
        }
        fields
    }
}
