//! slotkv-persistence: durability in Redis's own formats (issue 5).
//!
//! - [`rdb`]: Redis's RDB format as a pure codec. Values are written as Redis 7.0 writes RDB
//!   version 10 (integer-encoded and LZF strings, quicklist 2 of listpacks, intsets, hash and
//!   zset listpacks, ZSET_2); files of versions 6 to 11 are read with every compact encoding
//!   (ziplist, listpack, intset, zipmap, quicklist 1 and 2) and their CRC64 checked. The same
//!   object encoding makes DUMP/RESTORE payloads ([`rdb::dump_payload`],
//!   [`rdb::restore_payload`]); whole files go through [`rdb::RdbWriter`] (any `impl Write`)
//!   and [`rdb::RdbReader`] (a byte slice).
//! - [`codec`]: [`RdbPayloadCodec`], the engine's DUMP/RESTORE codec.
//! - [`rdb_files`]: saving an engine snapshot ([`slotkv_engine::Snapshot`], point-in-time
//!   without fork) to a file atomically, and loading a file into an engine.
//! - [`open`] and [`save`]: an embedded engine backed by a data directory.
//!
//! - [`aof`]: the append-only file in Redis 7's multi-part layout (manifest, base, incremental
//!   files), fed by the engine's propagation stream: fsync policies with group commit, rewrite
//!   at a snapshot's offset without blocking clients, loading with `aof-load-truncated`, a
//!   check-and-repair tool, and storage that tests can make fail.

use std::path::Path;
use std::sync::Arc;

use slotkv_engine::{Config, Engine, OpenError};

pub mod aof;
pub mod codec;
pub mod rdb;
pub mod rdb_files;

pub use codec::RdbPayloadCodec;
pub use rdb_files::{
    load_bytes, load_file, save_snapshot, write_snapshot, BytesLoadError, LoadError, LoadReport,
    SaveError, SaveReport,
};

/// The RDB file name in a data directory, as Redis's default `dbfilename`.
pub const DEFAULT_DBFILENAME: &str = "dump.rdb";

/// Why [`open`] failed.
#[derive(Debug)]
pub enum OpenDataError {
    /// The engine refused its configuration.
    Engine(OpenError),
    /// The data file exists but cannot be loaded.
    Load(LoadError),
}

impl std::fmt::Display for OpenDataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenDataError::Engine(error) => error.fmt(f),
            OpenDataError::Load(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for OpenDataError {}

/// Installs Redis's DUMP/RESTORE payload format in `engine` (a no-op if one is installed).
pub fn install_codec(engine: &Engine) {
    engine.set_payload_codec(Arc::new(RdbPayloadCodec));
}

/// Opens an engine with `config`, restores `dir/dump.rdb` if it exists and installs the
/// DUMP/RESTORE codec. Returns the engine and what was loaded (`None`: no file).
pub fn open(
    dir: impl AsRef<Path>,
    config: Config,
) -> Result<(Engine, Option<LoadReport>), OpenDataError> {
    let engine = Engine::open(config).map_err(OpenDataError::Engine)?;
    install_codec(&engine);
    let loaded =
        load_file(&engine, &dir.as_ref().join(DEFAULT_DBFILENAME)).map_err(OpenDataError::Load)?;
    Ok((engine, loaded))
}

/// Saves a point-in-time snapshot of `engine` to `dir/dump.rdb` (compressed, checksummed),
/// while other threads keep using the engine.
pub fn save(engine: &Engine, dir: impl AsRef<Path>) -> Result<SaveReport, SaveError> {
    save_snapshot(
        engine.snapshot(),
        &dir.as_ref().join(DEFAULT_DBFILENAME),
        rdb::WriterOptions::default(),
        engine.used_memory(),
    )
}
