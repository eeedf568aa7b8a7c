//! The server's side of the append-only file (slotkv-persistence's [`Aof`]): opening it at
//! start-up (load, then resume or start), the commit before replies, Redis's MISCONF refusal
//! while writes fail, BGREWRITEAOF and the automatic rewrite, CONFIG SET side effects, and the
//! INFO persistence fields.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use slotkv_engine::command::{CommandSpec, Flags};
use slotkv_engine::{Engine, Reply};
use slotkv_persistence::aof::{self, Aof, AofOptions, DiskStorage, FsyncPolicy, LoadOptions};

use crate::config::Settings;

/// The AOF and its background thread.
#[derive(Debug)]
pub struct AofHandle {
    /// The file manager and propagation sink.
    pub aof: Arc<Aof>,
    background: Mutex<Option<std::thread::JoinHandle<()>>>,
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
        Ok(AofHandle {
            aof,
            background: Mutex::new(Some(background)),
        })
    }

    /// Writes (and under `always` fsyncs) what was propagated before replies go out. A failure
    /// under `always` is returned (the replies must not be sent: nothing may be acknowledged
    /// that is not durable); under the other policies the records stay buffered, are retried,
    /// and writes are refused meanwhile.
    ///
    /// Only an fsync is worth `block_in_place` (it hands the worker's other tasks to another
    /// thread, which costs more than the write(2) of a few records into the page cache that
    /// the other policies need: done inline, as Redis does in its event loop).
    pub fn commit(&self) -> std::io::Result<()> {
        if !self.aof.needs_commit() {
            return Ok(());
        }
        if self.aof.fsync_policy() != FsyncPolicy::Always {
            let _ = self.aof.commit();
            return Ok(());
        }
        tokio::task::block_in_place(|| self.aof.commit())
            .map_err(|error| std::io::Error::other(error.to_string()))
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
