//! The append-only file in Redis 7's multi-part layout, fed by the engine's propagation stream.
//!
//! - [`manifest`]: the manifest (`file <name> seq <n> type <b|h|i>` lines) and file names.
//! - [`command`]: reading RESP commands out of a file, telling truncation from corruption.
//! - [`storage`]: the file operations, behind a trait that tests can make fail on demand.
//! - [`writer`]: [`Aof`], the propagation sink and file manager (fsync policies, group
//!   commit, rewrite at a snapshot's offset, MISCONF state).
//! - `base`: a base file (RDB or commands) written from an engine snapshot.
//! - [`load`]: start-up loading (base, then incremental files, `aof-load-truncated`).
//! - [`check`]: the check-and-repair tool.
//!
//! The layout is Redis's, so a directory can be copied between redis-server and slotkv.

mod base;
pub mod check;
pub mod command;
pub mod load;
pub mod manifest;
pub mod storage;
pub mod writer;

use std::fmt;
use std::io;
use std::path::PathBuf;

pub use load::{load, read_manifest, LoadOptions, LoadReport};
pub use manifest::{FileInfo, FileType, Manifest};
pub use storage::{DiskStorage, Faults, FaultyStorage, Storage};
pub use writer::{Aof, AofStatus};

use crate::rdb::RdbError;

/// `appendfsync`: when written records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FsyncPolicy {
    /// Before the client is answered.
    Always = 0,
    /// Once a second, on a background thread.
    Everysec = 1,
    /// When the kernel decides.
    No = 2,
}

impl FsyncPolicy {
    /// The policy named as in redis.conf.
    pub fn from_name(name: &[u8]) -> Option<FsyncPolicy> {
        [FsyncPolicy::Always, FsyncPolicy::Everysec, FsyncPolicy::No]
            .into_iter()
            .find(|policy| name.eq_ignore_ascii_case(policy.name().as_bytes()))
    }

    /// Its name in redis.conf.
    pub fn name(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Everysec => "everysec",
            FsyncPolicy::No => "no",
        }
    }

    fn from_u8(value: u8) -> FsyncPolicy {
        match value {
            0 => FsyncPolicy::Always,
            1 => FsyncPolicy::Everysec,
            _ => FsyncPolicy::No,
        }
    }
}

/// Where and how the AOF is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofOptions {
    /// The AOF directory (`dir` joined with `appenddirname`).
    pub dir: PathBuf,
    /// `appendfilename`: the prefix of every file name.
    pub filename: String,
    /// `appendfsync`.
    pub fsync: FsyncPolicy,
    /// `aof-use-rdb-preamble`: bases are RDB files.
    pub rdb_preamble: bool,
}

/// What went wrong with an AOF.
#[derive(Debug)]
#[non_exhaustive]
pub enum AofError {
    /// A file operation failed (what was being done, and the error).
    Io(&'static str, io::Error),
    /// A file the manifest lists cannot be read.
    Missing {
        /// The file.
        file: String,
        /// Why.
        error: io::Error,
    },
    /// The manifest is malformed.
    Manifest(manifest::ManifestError),
    /// A file ends inside a command where that is not acceptable.
    Truncated {
        /// The file.
        file: String,
        /// Offset of the incomplete command.
        offset: u64,
    },
    /// Bytes that are not a command.
    Corrupt {
        /// The file.
        file: String,
        /// Offset of the bad byte.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The RDB preamble of a file is bad.
    Rdb {
        /// The file.
        file: String,
        /// The decoding error (with its offset).
        error: RdbError,
    },
    /// The AOF is not open.
    NotOpen,
    /// The AOF is already open.
    AlreadyOpen,
    /// A rewrite is already running.
    RewriteInProgress,
}

impl AofError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(what: &'static str) -> impl Fn(io::Error) -> AofError {
        move |error| AofError::Io(what, error)
    }
}

impl fmt::Display for AofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AofError::Io(what, error) => write!(f, "can't {what}: {error}"),
            AofError::Missing { file, error } => {
                write!(f, "can't open the AOF file {file} for reading: {error}")
            }
            AofError::Manifest(error) => write!(f, "bad AOF manifest: {error}"),
            AofError::Truncated { file, offset } => write!(
                f,
                "Unexpected end of file reading the append only file {file} (incomplete command at offset {offset}). You can: 1) Make a backup of your AOF file, then use slotkv-server --check-aof --fix <manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
            ),
            AofError::Corrupt {
                file,
                offset,
                reason,
            } => write!(
                f,
                "Bad file format reading the append only file {file} at offset {offset} ({reason}): make a backup of your AOF file, then use slotkv-server --check-aof --fix <manifest>"
            ),
            AofError::Rdb { file, error } => {
                write!(f, "Bad RDB preamble in the append only file {file}: {error}")
            }
            AofError::NotOpen => f.write_str("the AOF is not enabled"),
            AofError::AlreadyOpen => f.write_str("the AOF is already enabled"),
            AofError::RewriteInProgress => {
                f.write_str("Background append only file rewriting already in progress")
            }
        }
    }
}

impl std::error::Error for AofError {}
