//! slotkv-engine: the keyspace of slotkv, usable directly from Rust or behind the RESP server.
//!
//! - [`slot`]: CRC16 hash slots, exactly as Redis Cluster computes them.
//! - [`keyspace`]: one database as 16384 slot tables, each behind its own lock.
//! - `small_bytes`: short keys and set members kept inline, without an allocation.
//! - [`value`]: stored values and their compact encodings.
//! - [`types`]: the collection types (hash, list, set, sorted set).
//! - [`command`]: the single command table (arity, flags, key positions, docs, handler).
//! - [`commands`]: the command families (strings, keys, server).
//! - [`counter`]: striped counters for statistics bumped by every thread.
//! - [`exec`]: the context a command runs in and the slot locks it holds.
//! - [`glob`]: Redis glob patterns (KEYS, SCAN MATCH, CONFIG GET).
//! - [`notify`]: keyspace notifications (`notify-keyspace-events`).
//! - [`propagate`]: the ordered stream of writes that feeds AOF and replication.
//! - [`float`]: doubles in replies and INCRBYFLOAT results, written as Redis writes them.
//! - [`gate`]: the striped lock that makes EXEC atomic without slowing single commands.
//! - [`watch`]: WATCH flags registered per slot, for MULTI/EXEC.
//! - [`codec`]: the DUMP/RESTORE payload codec the persistence crate plugs in.
//! - [`clock`]: injected time, so expiry can be tested.
//! - [`evict`]: `maxmemory` and the eight eviction policies.
//! - [`usage`]: memory estimates per key (MEMORY USAGE).
//! - [`snapshot`]: point-in-time snapshots without fork (copy-on-write per slot).
//! - [`engine`]: [`Engine`], the handle: generic `execute`, counters, expiry, propagation.
//! - [`api`]: the typed embedded API (`set`, `get`, `expire`, ...).
//!
//! The engine does no I/O and runs no async runtime: the server and embedded users drive it
//! from their own threads.

pub mod api;
pub mod clock;
pub mod codec;
pub mod command;
pub mod commands;
pub mod counter;
pub mod engine;
pub mod error;
pub mod evict;
pub mod exec;
pub mod float;
pub mod gate;
pub mod glob;
pub mod keyspace;
mod long_double;
pub mod notify;
pub mod propagate;
pub mod reply;
pub mod slot;
mod small_bytes;
pub mod snapshot;
pub mod types;
pub mod usage;
pub mod value;
pub mod watch;

pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::{PayloadCodec, PayloadError};
pub use engine::{Config, Engine, Session, StatsSnapshot};
pub use error::{CommandError, OpenError};
pub use evict::{MaxmemoryPolicy, MemoryGauge, MemoryLimits, RemovalCause, RemovalListener};
pub use reply::Reply;
pub use snapshot::{DbSize, SlotEntries, Snapshot};
