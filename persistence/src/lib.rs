//! slotkv-persistence: durability in Redis's own formats (issue 5 fills it in).
//!
//! It will hold:
//! - RDB: writing version 10 as Redis 7.0 does, reading versions 6 to 11 with their compact
//!   encodings (ziplist, listpack, intset, quicklist, zipmap), LZF and CRC64; the same object
//!   encoding serves DUMP/RESTORE and replication's full sync.
//! - AOF: Redis 7's multi-part layout (base file, incremental files, manifest), fed by the
//!   engine's propagation stream, with `appendfsync always|everysec|no` and rewrites that do
//!   not fork.
//! - Snapshots without fork: point-in-time at a propagation offset, slot by slot, copying a
//!   slot before its first write while the snapshot is in progress.
//!
//! Nothing is implemented yet; the crate exists so the workspace has its final shape.
