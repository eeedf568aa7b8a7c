//! RDB files on disk: saving a [`Snapshot`] atomically and loading a file into an engine.
//!
//! A save writes `temp-<pid>-<n>.rdb` next to the target, fsyncs it, renames it over the target
//! and fsyncs the directory, so a crash leaves either the old file or the new one, never a
//! torn one. A load reads the whole file (the workspace forbids `unsafe`, which memory-mapping
//! needs) and streams it through [`RdbReader`]; keys whose deadline has passed are skipped, as
//! a Redis primary does when loading.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use slotkv_engine::evict::access::AccessHint;
use slotkv_engine::{Engine, Snapshot};

use crate::rdb::{Item, RdbError, RdbReader, RdbWriter, WriterInfo, WriterOptions};

/// The Redis version written in the `redis-ver` aux field.
const REDIS_VER: &str = "7.0.15";
/// Bytes handed to the file at a time.
const FILE_BUFFER_BYTES: usize = 1024 * 1024;

/// What a save wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveReport {
    /// Keys written.
    pub keys: u64,
    /// Bytes of the file.
    pub bytes: u64,
    /// The propagation offset the file stands at.
    pub offset: u64,
}

/// A save that failed; the target file is untouched.
#[derive(Debug)]
pub struct SaveError {
    /// The file being written (the temporary one, or the target for the rename).
    pub path: PathBuf,
    /// The I/O error.
    pub source: io::Error,
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Write error saving DB on disk ({}): {}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for SaveError {}

/// Writes `snapshot` to `target` atomically (temporary file, fsync, rename, directory fsync).
pub fn save_snapshot(
    snapshot: Snapshot,
    target: &Path,
    options: WriterOptions,
    used_mem: u64,
) -> Result<SaveReport, SaveError> {
    static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = target
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let temp = dir.join(format!(
        "temp-{}-{}.rdb",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| SaveError { path, source }
    };
    let written = write_file(snapshot, &temp, options, used_mem);
    let report = match written {
        Ok(report) => report,
        Err(source) => {
            let _ = fs::remove_file(&temp);
            return Err(SaveError { path: temp, source });
        }
    };
    if let Err(source) = fs::rename(&temp, target) {
        let _ = fs::remove_file(&temp);
        return Err(SaveError {
            path: target.to_owned(),
            source,
        });
    }
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(failed(&dir))?;
    Ok(report)
}

fn write_file(
    snapshot: Snapshot,
    path: &Path,
    options: WriterOptions,
    used_mem: u64,
) -> io::Result<SaveReport> {
    let file = File::create(path)?;
    let offset = snapshot.offset();
    let out = BufWriter::with_capacity(FILE_BUFFER_BYTES, file);
    let (out, keys) = write_snapshot(snapshot, out, options, used_mem)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    Ok(SaveReport {
        keys,
        bytes,
        offset,
    })
}

/// Streams `snapshot` as a whole RDB file into `out` (a file, or a replica's socket in a full
/// sync); returns `out` and the number of keys written.
pub fn write_snapshot<W: io::Write>(
    snapshot: Snapshot,
    out: W,
    options: WriterOptions,
    used_mem: u64,
) -> io::Result<(W, u64)> {
    let info = WriterInfo {
        redis_ver: REDIS_VER.to_owned(),
        ctime_secs: unix_secs(),
        used_mem,
        aof_base: false,
    };
    let sizes: Vec<_> = (0..snapshot.databases())
        .map(|db| snapshot.db_size(db))
        .collect();
    let mut writer = RdbWriter::new(out, options, &info)?;
    let (mut current_db, mut keys) = (None, 0);
    for slot in snapshot {
        if current_db != Some(slot.db) {
            let size = sizes.get(slot.db).copied().unwrap_or_default();
            writer.select_db(slot.db as u64, size.keys, size.expires)?;
            current_db = Some(slot.db);
        }
        for (key, entry) in &slot.entries {
            writer.entry(key, &entry.value, entry.expire_at_ms())?;
            keys += 1;
        }
    }
    Ok((writer.finish()?, keys))
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a load read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Keys loaded.
    pub keys: u64,
    /// Keys skipped because their deadline had passed.
    pub expired_skipped: u64,
    /// The file's RDB version.
    pub version: u16,
}

/// Why a file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not a valid RDB file.
    Rdb {
        /// The file.
        path: PathBuf,
        /// What is wrong, and at which byte.
        error: RdbError,
    },
    /// The file holds a database this engine does not have (`databases` is too small).
    DatabaseOutOfRange {
        /// The file.
        path: PathBuf,
        /// The database number in the file.
        db: u64,
        /// Databases the engine has.
        databases: usize,
    },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            LoadError::Rdb { path, error } => write!(
                f,
                "Short read or corrupt RDB file {} at byte {}: {}",
                path.display(),
                error.offset,
                error.kind
            ),
            LoadError::DatabaseOutOfRange {
                path,
                db,
                databases,
            } => write!(
                f,
                "{} holds database {db}, but the server has only {databases}: raise 'databases'",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// Loads the RDB file at `path` into `engine`. `Ok(None)` when there is no such file.
pub fn load_file(engine: &Engine, path: &Path) -> Result<Option<LoadReport>, LoadError> {
    let data = match fs::read(path) {
        Ok(data) => data,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LoadError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    load_bytes(engine, &data)
        .map(Some)
        .map_err(|error| match error {
            BytesLoadError::Rdb(error) => LoadError::Rdb {
                path: path.to_owned(),
                error,
            },
            BytesLoadError::DatabaseOutOfRange { db, databases } => LoadError::DatabaseOutOfRange {
                path: path.to_owned(),
                db,
                databases,
            },
        })
}

/// Why [`load_bytes`] stopped.
#[derive(Debug)]
pub enum BytesLoadError {
    /// The bytes are not a valid RDB file.
    Rdb(RdbError),
    /// The file holds a database this engine does not have.
    DatabaseOutOfRange {
        /// The database number in the file.
        db: u64,
        /// Databases the engine has.
        databases: usize,
    },
}

impl std::fmt::Display for BytesLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BytesLoadError::Rdb(error) => write!(
                f,
                "Short read or corrupt RDB at byte {}: {}",
                error.offset, error.kind
            ),
            BytesLoadError::DatabaseOutOfRange { db, databases } => write!(
                f,
                "the RDB holds database {db}, but the server has only {databases}"
            ),
        }
    }
}

impl std::error::Error for BytesLoadError {}

/// Loads a whole RDB file held in memory (a file read at start-up, or what a primary sent in a
/// full sync) into `engine`, skipping keys whose deadline passed, unless the engine is a
/// replica's (which keeps them until its primary's DEL, as a Redis replica does).
pub fn load_bytes(engine: &Engine, data: &[u8]) -> Result<LoadReport, BytesLoadError> {
    let mut reader = RdbReader::new(data).map_err(BytesLoadError::Rdb)?;
    let mut report = LoadReport {
        version: reader.version(),
        ..LoadReport::default()
    };
    let now_ms = if engine.is_follower() {
        0
    } else {
        engine.clock().now_ms()
    };
    for item in reader.by_ref() {
        let Item::Entry(entry) = item.map_err(BytesLoadError::Rdb)? else {
            continue;
        };
        if entry.expire_at_ms.is_some_and(|at| at <= now_ms) {
            report.expired_skipped += 1;
            continue;
        }
        let hint = AccessHint {
            idle_secs: entry.idle_secs,
            freq: entry.freq,
        };
        let db = usize::try_from(entry.db).unwrap_or(usize::MAX);
        if !engine.load_entry(db, &entry.key, entry.value, entry.expire_at_ms, hint) {
            return Err(BytesLoadError::DatabaseOutOfRange {
                db: entry.db,
                databases: engine.databases(),
            });
        }
        report.keys += 1;
    }
    Ok(report)
}
