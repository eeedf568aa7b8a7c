//! RDB persistence in the server: SAVE, BGSAVE [SCHEDULE], LASTSAVE, the `save` schedule,
//! saving at SHUTDOWN, loading at start-up, the MISCONF guard and INFO persistence.
//!
//! A background save takes an engine snapshot (point-in-time at a propagation offset, without
//! fork: see docs/SNAPSHOTS.md) on the calling thread, which holds clients off only while the
//! snapshot is installed, then writes it on its own thread through
//! [`slotkv_persistence::save_snapshot`] (temporary file, fsync, rename). Changes are counted by
//! the engine; a save remembers the count its snapshot stood at, so writes made during a
//! background save still count as unsaved afterwards, as in Redis.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;
use slotkv_engine::command::is_keyword;
use slotkv_engine::{CommandError, Engine, Reply, Snapshot};
use slotkv_persistence::rdb::WriterOptions;
use slotkv_persistence::{save_snapshot, SaveError, SaveReport};

use crate::config::{LiveConfig, Settings};
use crate::server::Shared;

/// Redis's reply to writes while the last background save failed.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
const IN_PROGRESS: &str = "Background save already in progress";
/// After a failed background save, automatic saves wait this long before trying again
/// (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const RETRY_DELAY_SECS: u64 = 5;
/// How often the save schedule is checked.
const CRON_PERIOD: Duration = Duration::from_millis(100);

/// The RDB state INFO persistence and LASTSAVE report.
#[derive(Debug)]
pub struct RdbState {
    in_progress: AtomicBool,
    scheduled: AtomicBool,
    /// Unix seconds of the last successful save (the start time before any).
    last_save_unix: AtomicU64,
    /// Unix seconds of the last background save attempt.
    last_try_unix: AtomicU64,
    last_bgsave_ok: AtomicBool,
    /// Seconds the last background save took, -1 before any.
    last_bgsave_secs: AtomicI64,
    current_started: Mutex<Option<Instant>>,
    /// The engine's change count the last successful save stood at.
    saved_changes: AtomicU64,
    /// Successful saves since start-up (INFO `rdb_saves`).
    saves: AtomicU64,
    /// Serializes saves (SAVE, SHUTDOWN and background ones never write one file at once).
    writing: Mutex<()>,
}

impl RdbState {
    /// State at start-up: `started_unix` is the last save time until a save happens.
    pub fn new(started_unix: u64) -> RdbState {
        RdbState {
            in_progress: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            last_save_unix: AtomicU64::new(started_unix),
            last_try_unix: AtomicU64::new(0),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            current_started: Mutex::new(None),
            saved_changes: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            writing: Mutex::new(()),
        }
    }

    /// Unix seconds of the last successful save (LASTSAVE).
    pub fn last_save_unix(&self) -> u64 {
        self.last_save_unix.load(Ordering::Relaxed)
    }

    /// Whether a background save runs.
    pub fn in_progress(&self) -> bool {
        self.in_progress.load(Ordering::Acquire)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where the RDB file lives.
pub fn rdb_path(settings: &Settings) -> PathBuf {
    settings.dir.join(&settings.dbfilename)
}

fn writer_options(settings: &Settings) -> WriterOptions {
    WriterOptions {
        compression: settings.rdbcompression,
        checksum: settings.rdbchecksum,
    }
}

/// Changes since the last successful save.
pub fn changes_since_save(shared: &Shared) -> u64 {
    let changes = shared.engine.stats().changes;
    changes.saturating_sub(shared.rdb.saved_changes.load(Ordering::Relaxed))
}

/// What a save needs, owned, so a background save can take it to its thread.
#[derive(Debug, Clone)]
struct Saver {
    engine: Engine,
    config: Arc<LiveConfig>,
    rdb: Arc<RdbState>,
}

impl Saver {
    fn of(shared: &Shared) -> Saver {
        Saver {
            engine: shared.engine.clone(),
            config: shared.config.clone(),
            rdb: shared.rdb.clone(),
        }
    }

    /// Writes `snapshot` taken at change count `changes`, recording success.
    fn write(&self, snapshot: Snapshot, changes: u64) -> Result<SaveReport, SaveError> {
        let (path, options) = {
            let settings = self.config.read();
            (rdb_path(&settings), writer_options(&settings))
        };
        let rdb = &self.rdb;
        let _writing = rdb.writing.lock();
        let report = save_snapshot(snapshot, &path, options, self.engine.used_memory())?;
        rdb.saved_changes.store(changes, Ordering::Relaxed);
        rdb.last_save_unix.store(unix_now(), Ordering::Relaxed);
        rdb.saves.fetch_add(1, Ordering::Relaxed);
        Ok(report)
    }
}

/// Saves now on the calling thread (SAVE, SHUTDOWN).
pub fn save_now(shared: &Shared) -> Result<SaveReport, SaveError> {
    let changes = shared.engine.stats().changes;
    let snapshot = shared.engine.snapshot();
    let result = Saver::of(shared).write(snapshot, changes);
    match &result {
        Ok(report) => tracing::info!("DB saved on disk ({} keys)", report.keys),
        Err(error) => tracing::warn!("{error}"),
    }
    result
}

/// Starts a background save; false if one is already running.
pub fn start_background_save(shared: &Shared) -> bool {
    if shared.rdb.in_progress.swap(true, Ordering::AcqRel) {
        return false;
    }
    shared.rdb.scheduled.store(false, Ordering::Relaxed);
    shared
        .rdb
        .last_try_unix
        .store(unix_now(), Ordering::Relaxed);
    let started = Instant::now();
    *shared.rdb.current_started.lock() = Some(started);
    let changes = shared.engine.stats().changes;
    let snapshot = shared.engine.snapshot();
    tracing::info!("Background saving started at offset {}", snapshot.offset());
    let worker = Saver::of(shared);
    let spawned = std::thread::Builder::new()
        .name("slotkv-bgsave".into())
        .spawn(move || {
            let result = worker.write(snapshot, changes);
            finish_background_save(&worker.rdb, started, result.is_ok());
            match result {
                Ok(report) => tracing::info!(
                    "Background saving terminated with success ({} keys, {} bytes)",
                    report.keys,
                    report.bytes
                ),
                Err(error) => tracing::warn!("Background saving error: {error}"),
            }
        });
    if let Err(error) = spawned {
        tracing::warn!("Can't save in background: {error}");
        finish_background_save(&shared.rdb, started, false);
    }
    true
}

fn finish_background_save(rdb: &RdbState, started: Instant, ok: bool) {
    rdb.last_bgsave_ok.store(ok, Ordering::Relaxed);
    let secs = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX);
    rdb.last_bgsave_secs.store(secs, Ordering::Relaxed);
    *rdb.current_started.lock() = None;
    rdb.in_progress.store(false, Ordering::Release);
}

/// SAVE.
pub fn save_command(shared: &Shared) -> Result<Reply, CommandError> {
    if shared.rdb.in_progress() {
        return Err(CommandError::err(IN_PROGRESS));
    }
    save_now(shared)
        .map(|_| Reply::Ok)
        .map_err(|_| CommandError::Other("ERR".into()))
}

/// BGSAVE [SCHEDULE]. Inside EXEC (`in_exec`) the save is scheduled for after it, since the
/// transaction holds every other command off and a snapshot waits for that.
pub fn bgsave_command(
    shared: &Shared,
    args: &[Bytes],
    in_exec: bool,
) -> Result<Reply, CommandError> {
    match &args[1..] {
        [] => {}
        [option] if is_keyword(option, "schedule") => {}
        _ => return Err(CommandError::Syntax),
    }
    if shared.rdb.in_progress() {
        return Err(CommandError::err(IN_PROGRESS));
    }
    if in_exec {
        shared.rdb.scheduled.store(true, Ordering::Relaxed);
        return Ok(Reply::Simple("Background saving scheduled".into()));
    }
    if start_background_save(shared) {
        Ok(Reply::Simple("Background saving started".into()))
    } else {
        Err(CommandError::err(IN_PROGRESS))
    }
}

/// Whether writes (and PING, as in Redis) are refused because the last background save
/// failed and `stop-writes-on-bgsave-error` asks for that.
pub fn writes_refused(shared: &Shared) -> bool {
    if shared.rdb.last_bgsave_ok.load(Ordering::Relaxed) {
        return false;
    }
    let settings = shared.config.read();
    settings.stop_writes_on_bgsave_error && !settings.save_points.is_empty()
}

/// Runs the `save` schedule until the server stops: a scheduled BGSAVE as soon as none runs,
/// and a background save whenever a save point is reached.
pub async fn cron(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(CRON_PERIOD);
    loop {
        ticker.tick().await;
        if shared.rdb.in_progress() {
            continue;
        }
        if shared.rdb.scheduled.load(Ordering::Relaxed) || save_point_reached(&shared) {
            start_background_save(&shared);
        }
    }
}

fn save_point_reached(shared: &Shared) -> bool {
    let now = unix_now();
    let rdb = &shared.rdb;
    let retry_allowed = rdb.last_bgsave_ok.load(Ordering::Relaxed)
        || now.saturating_sub(rdb.last_try_unix.load(Ordering::Relaxed)) >= RETRY_DELAY_SECS;
    if !retry_allowed {
        return false;
    }
    let changes = changes_since_save(shared);
    let since_save = now.saturating_sub(rdb.last_save_unix());
    let settings = shared.config.read();
    settings
        .save_points
        .iter()
        .any(|&(seconds, needed)| changes >= needed && since_save >= seconds)
}

/// INFO persistence's RDB fields.
pub fn info_fields(shared: &Shared) -> Vec<(&'static str, String)> {
    let rdb = &shared.rdb;
    let current = rdb
        .current_started
        .lock()
        .map_or(-1, |started| started.elapsed().as_secs() as i64);
    let status = |ok: bool| if ok { "ok" } else { "err" }.to_owned();
    vec![
        ("loading", "0".to_owned()),
        ("async_loading", "0".to_owned()),
        (
            "rdb_changes_since_last_save",
            changes_since_save(shared).to_string(),
        ),
        (
            "rdb_bgsave_in_progress",
            u8::from(rdb.in_progress()).to_string(),
        ),
        ("rdb_last_save_time", rdb.last_save_unix().to_string()),
        (
            "rdb_last_bgsave_status",
            status(rdb.last_bgsave_ok.load(Ordering::Relaxed)),
        ),
        (
            "rdb_last_bgsave_time_sec",
            rdb.last_bgsave_secs.load(Ordering::Relaxed).to_string(),
        ),
        ("rdb_current_bgsave_time_sec", current.to_string()),
        ("rdb_saves", rdb.saves.load(Ordering::Relaxed).to_string()),
    ]
}
