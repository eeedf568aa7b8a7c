//! The AOF check tool (`slotkv-server --check-aof <file|manifest> [--fix]`), as
//! redis-check-aof: reads every file without an engine (an RDB preamble item by item, then the
//! commands, MULTI/EXEC pairing included) and reports where each stops being valid. With
//! `fix`, the last file is cut back to its last valid command; a bad file before the last
//! cannot be repaired that way (what follows it depends on it) and is only reported.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::command::{next_command, Stop, StopKind};
use super::manifest::Manifest;
use super::AofError;
use crate::rdb::RdbReader;

/// What was found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// Every byte is valid.
    Valid {
        /// Commands read (after any RDB preamble).
        commands: u64,
    },
    /// The file ends inside a command or a MULTI: valid up to `valid_len`.
    Truncated {
        /// Length of the valid prefix.
        valid_len: u64,
    },
    /// Bytes at `offset` are not a command (or the RDB preamble is bad).
    Corrupt {
        /// Offset of the bad byte.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// Length of the valid prefix (0 inside an RDB preamble).
        valid_len: u64,
    },
}

/// One file's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// File path.
    pub path: PathBuf,
    /// Its size.
    pub len: u64,
    /// The verdict.
    pub status: FileStatus,
    /// Whether `fix` cut it back to its valid prefix.
    pub fixed: bool,
}

impl fmt::Display for FileCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.path.display();
        match &self.status {
            FileStatus::Valid { commands } => {
                write!(f, "AOF {name} is valid ({commands} commands, {} bytes)", self.len)?
            }
            FileStatus::Truncated { valid_len } => write!(
                f,
                "AOF {name} is truncated: valid up to offset {valid_len} of {} bytes",
                self.len
            )?,
            FileStatus::Corrupt {
                offset,
                reason,
                valid_len,
            } => write!(
                f,
                "AOF {name} format error at offset {offset}: {reason}; valid up to offset {valid_len} of {} bytes",
                self.len
            )?,
        }
        if self.fixed {
            if let FileStatus::Truncated { valid_len } | FileStatus::Corrupt { valid_len, .. } =
                &self.status
            {
                write!(
                    f,
                    "\nSuccessfully truncated AOF {name} to {valid_len} bytes"
                )?;
            }
        }
        Ok(())
    }
}

/// Checks a manifest's files (a path ending in `.manifest`) or a single AOF file; with `fix`,
/// repairs the last file when it is the only bad one.
pub fn check(path: &Path, fix: bool) -> Result<Vec<FileCheck>, AofError> {
    let files = files_of(path)?;
    let mut checks = Vec::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        let data = fs::read(file).map_err(|error| AofError::Missing {
            file: file.display().to_string(),
            error,
        })?;
        let status = scan(&Bytes::from(data.clone()));
        let mut check = FileCheck {
            path: file.clone(),
            len: data.len() as u64,
            status,
            fixed: false,
        };
        let is_last = index + 1 == files.len();
        if let FileStatus::Truncated { valid_len } | FileStatus::Corrupt { valid_len, .. } =
            check.status
        {
            if fix && is_last {
                cut(file, valid_len)?;
                check.fixed = true;
            }
            checks.push(check);
            // Files after a bad one are not checked: they continue a history that broke.
            break;
        }
        checks.push(check);
    }
    Ok(checks)
}

/// The files `path` names: a manifest's base and incremental files, or the file itself.
fn files_of(path: &Path) -> Result<Vec<PathBuf>, AofError> {
    let is_manifest = path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.ends_with(".manifest"));
    if !is_manifest {
        return Ok(vec![path.to_owned()]);
    }
    let text = fs::read(path).map_err(|e| AofError::Io("read the AOF manifest", e))?;
    let manifest = Manifest::parse(&text).map_err(AofError::Manifest)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(manifest
        .load_order()
        .map(|info| dir.join(&info.name))
        .collect())
}

fn cut(path: &Path, len: u64) -> Result<(), AofError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| AofError::Io("open the AOF to fix it", e))?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|e| AofError::Io("truncate the AOF", e))
}

/// Validates one file's bytes.
pub fn scan(data: &Bytes) -> FileStatus {
    let mut pos = 0;
    if data.starts_with(b"REDIS") {
        match rdb_end(data) {
            Ok(end) => pos = end,
            Err((offset, reason)) => {
                return FileStatus::Corrupt {
                    offset,
                    reason,
                    valid_len: 0,
                }
            }
        }
    }
    let mut commands = 0;
    let mut multi_at: Option<usize> = None;
    loop {
        match next_command(data, pos) {
            Ok(None) => break,
            Ok(Some((args, next))) => {
                if args[0].eq_ignore_ascii_case(b"MULTI") {
                    if multi_at.is_some() {
                        return corrupt(pos, "MULTI inside MULTI", pos);
                    }
                    multi_at = Some(pos);
                } else if args[0].eq_ignore_ascii_case(b"EXEC") && multi_at.take().is_none() {
                    return corrupt(pos, "EXEC without MULTI", pos);
                }
                commands += 1;
                pos = next;
            }
            Err(Stop {
                command_at,
                kind: StopKind::Truncated,
                ..
            }) => {
                return FileStatus::Truncated {
                    valid_len: multi_at.unwrap_or(command_at) as u64,
                }
            }
            Err(Stop {
                command_at,
                at,
                kind: StopKind::Corrupt(reason),
            }) => return corrupt(at, reason, multi_at.unwrap_or(command_at)),
        }
    }
    match multi_at {
        Some(start) => FileStatus::Truncated {
            valid_len: start as u64,
        },
        None => FileStatus::Valid { commands },
    }
}

fn corrupt(offset: usize, reason: &str, valid_len: usize) -> FileStatus {
    FileStatus::Corrupt {
        offset: offset as u64,
        reason: reason.to_owned(),
        valid_len: valid_len as u64,
    }
}

/// Reads an RDB preamble through; returns where it ends, or where and why it is bad.
fn rdb_end(data: &[u8]) -> Result<usize, (u64, String)> {
    let mut reader = RdbReader::new(data).map_err(|e| (e.offset as u64, e.kind.to_string()))?;
    for item in reader.by_ref() {
        item.map_err(|e| (e.offset as u64, e.kind.to_string()))?;
    }
    Ok(reader.position())
}
