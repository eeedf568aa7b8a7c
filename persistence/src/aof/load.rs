//! Loading an AOF at start-up: the manifest, then the base (an RDB, possibly followed by
//! commands, or commands only) and the incremental files in order, each command replayed
//! through the engine with its own session (a file starts on database 0, as in Redis).
//!
//! A MULTI is held until its EXEC; a file ending inside one, or inside a command, is
//! *truncated*: with `aof-load-truncated yes` the last file is cut back to its last complete
//! command (or to before the unfinished MULTI) with a warning; otherwise, or in any file but the
//! last, loading stops with an error. Bytes that cannot be a command stop loading with an error
//! naming the file and the byte offset.

use std::fs::{self, OpenOptions};
use std::path::Path;

use bytes::Bytes;
use slotkv_engine::command::{CommandTable, Handler};
use slotkv_engine::keyspace::Entry as KeyEntry;
use slotkv_engine::{Engine, Session};

use super::command::{next_command, Stop, StopKind};
use super::manifest::Manifest;
use super::AofError;
use crate::rdb::{Item, RdbReader};

/// How to treat a truncated last file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// `aof-load-truncated`: cut a truncated tail off (default yes).
    pub load_truncated: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            load_truncated: true,
        }
    }
}

/// What loading did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// The manifest the files came from.
    pub manifest: Manifest,
    /// Commands replayed.
    pub commands: u64,
    /// Keys read from an RDB base.
    pub keys: u64,
    /// A truncated tail that was cut off: file and the length it was cut to.
    pub truncated: Option<(String, u64)>,
}

/// Reads `<filename>.manifest` in `dir`; `None` when the directory or the manifest is absent.
pub fn read_manifest(dir: &Path, filename: &str) -> Result<Option<Manifest>, AofError> {
    let path = dir.join(Manifest::file_name(filename));
    match fs::read(&path) {
        Ok(text) => Manifest::parse(&text).map(Some).map_err(AofError::Manifest),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(AofError::Io("read the AOF manifest", error)),
    }
}

/// Loads the AOF of `dir` into `engine`; `None` when there is none.
pub fn load(
    dir: &Path,
    filename: &str,
    engine: &Engine,
    options: LoadOptions,
) -> Result<Option<LoadReport>, AofError> {
    let Some(manifest) = read_manifest(dir, filename)? else {
        return Ok(None);
    };
    let mut report = LoadReport {
        manifest: manifest.clone(),
        commands: 0,
        keys: 0,
        truncated: None,
    };
    let files: Vec<_> = manifest.load_order().collect();
    for (index, info) in files.iter().enumerate() {
        let path = dir.join(&info.name);
        let data = match read_file(&path) {
            Ok(data) => Bytes::from(data),
            // Redis tolerates a missing last incremental file (created but never written).
            Err(error)
                if error.kind() == std::io::ErrorKind::NotFound
                    && index + 1 == files.len()
                    && index > 0 =>
            {
                continue
            }
            Err(error) => {
                return Err(AofError::Missing {
                    file: info.name.clone(),
                    error,
                })
            }
        };
        let is_last = index + 1 == files.len();
        let outcome = replay(engine, &data, &info.name, &mut report)?;
        if let Some(cut) = outcome {
            if !(is_last && options.load_truncated) {
                return Err(AofError::Truncated {
                    file: info.name.clone(),
                    offset: cut as u64,
                });
            }
            tracing::warn!(
                "!!! Warning: short read while loading the AOF file {}!!! AOF loaded anyway because aof-load-truncated is enabled; truncated to {cut} bytes",
                info.name
            );
            truncate_file(&path, cut as u64)?;
            report.truncated = Some((info.name.clone(), cut as u64));
        }
    }
    Ok(Some(report))
}

/// Reads a file up to the size it had when opened (a device or a file still growing cannot
/// make loading read without end).
fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    std::io::Read::read_to_end(&mut std::io::Read::take(file, len), &mut data)?;
    Ok(data)
}

fn truncate_file(path: &Path, len: u64) -> Result<(), AofError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| AofError::Io("open the AOF to truncate it", e))?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|e| AofError::Io("truncate the AOF", e))
}

/// Replays one file; `Some(offset)` when it is truncated (the length to cut it to).
fn replay(
    engine: &Engine,
    data: &Bytes,
    name: &str,
    report: &mut LoadReport,
) -> Result<Option<usize>, AofError> {
    let mut pos = 0;
    if data.starts_with(b"REDIS") {
        let (end, keys) = load_rdb(engine, data, name)?;
        pos = end;
        report.keys += keys;
    }
    let mut session = Session::new();
    // An open MULTI: where it started and the commands queued since.
    let mut transaction: Option<(usize, Vec<Vec<Bytes>>)> = None;
    loop {
        let (args, next) = match next_command(data, pos) {
            Ok(Some(command)) => command,
            Ok(None) => break,
            Err(Stop {
                command_at,
                kind: StopKind::Truncated,
                ..
            }) => return Ok(Some(transaction.map_or(command_at, |(start, _)| start))),
            Err(Stop {
                at,
                kind: StopKind::Corrupt(reason),
                ..
            }) => return Err(corrupt(name, at, reason)),
        };
        let is = |word: &[u8]| args[0].eq_ignore_ascii_case(word);
        if is(b"MULTI") {
            transaction = Some((pos, Vec::new()));
        } else if is(b"EXEC") {
            let (_, queued) = transaction
                .take()
                .ok_or_else(|| corrupt(name, pos, "EXEC without MULTI"))?;
            for queued_args in &queued {
                execute(engine, &mut session, queued_args, name, pos)?;
            }
        } else if let Some((_, queued)) = transaction.as_mut() {
            queued.push(args);
        } else {
            execute(engine, &mut session, &args, name, pos)?;
        }
        report.commands += 1;
        pos = next;
    }
    Ok(transaction.map(|(start, _)| start))
}

fn corrupt(file: &str, offset: usize, reason: &'static str) -> AofError {
    AofError::Corrupt {
        file: file.to_owned(),
        offset: offset as u64,
        reason,
    }
}

/// Runs one command; a command slotkv does not know (or that only a server answers) stops
/// loading, as Redis stops on an unknown command.
fn execute(
    engine: &Engine,
    session: &mut Session,
    args: &[Bytes],
    file: &str,
    at: usize,
) -> Result<(), AofError> {
    let spec = CommandTable::global()
        .resolve(args)
        .map_err(|_| corrupt(file, at, "unknown command or wrong number of arguments"))?;
    if !matches!(spec.handler, Handler::Engine(_)) {
        return Err(corrupt(file, at, "command not allowed in an AOF"));
    }
    // Error replies (WRONGTYPE and the like) are ignored, as Redis ignores them while loading.
    let _ = engine.execute_spec(session, spec, args);
    Ok(())
}

/// Loads an RDB preamble; returns where it ended and the keys read.
fn load_rdb(engine: &Engine, data: &Bytes, name: &str) -> Result<(usize, u64), AofError> {
    let rdb_error = |error| AofError::Rdb {
        file: name.to_owned(),
        error,
    };
    let mut reader = RdbReader::new(data).map_err(rdb_error)?;
    let now_ms = engine.clock().now_ms();
    let mut keys = 0;
    let mut session = Session::new();
    for item in reader.by_ref() {
        let Item::Entry(entry) = item.map_err(rdb_error)? else {
            continue;
        };
        let db = usize::try_from(entry.db)
            .ok()
            .filter(|db| *db < engine.databases())
            .ok_or_else(|| corrupt(name, 0, "database index out of range"))?;
        if entry
            .expire_at_ms
            .is_some_and(|deadline| deadline <= now_ms)
        {
            continue;
        }
        let key_entry = KeyEntry::with_expiry(entry.value, entry.expire_at_ms);
        engine.with_ctx(&mut session, |ctx| {
            let mut locks = ctx.lock_keys_in(db, &[&entry.key]);
            locks.use_db(db);
            locks.insert(&entry.key, key_entry);
        });
        keys += 1;
    }
    Ok((reader.position(), keys))
}
