//! slotkv-persistence: durability in Redis's own formats (issue 5).
//!
//! - [`rdb`]: Redis's RDB format as a pure codec. Values are written as Redis 7.0 writes RDB
//!   version 10 (integer-encoded and LZF strings, quicklist 2 of listpacks, intsets, hash and
//!   zset listpacks, ZSET_2); files of versions 6 to 11 are read with every compact encoding
//!   (ziplist, listpack, intset, zipmap, quicklist 1 and 2) and their CRC64 checked. The same
//!   object encoding makes DUMP/RESTORE payloads ([`rdb::dump_payload`],
//!   [`rdb::restore_payload`]); whole files go through [`rdb::RdbWriter`] (any `impl Write`)
//!   and [`rdb::RdbReader`] (a byte slice, e.g. a memory-mapped file).
//!
//! - [`aof`]: the append-only file in Redis 7's multi-part layout (manifest, base, incremental
//!   files), fed by the engine's propagation stream: fsync policies with group commit, rewrite
//!   at a snapshot's offset without blocking clients, loading with `aof-load-truncated`, a
//!   check-and-repair tool, and storage that tests can make fail.
//!
//! Still to come (issue 5): SAVE/BGSAVE wiring in the server.

pub mod aof;
pub mod rdb;
