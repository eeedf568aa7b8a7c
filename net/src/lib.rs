//! slotkv-net: the RESP server in front of the engine.
//!
//! - [`resp`]: request parsing (multibulk and inline) and reply encoding (RESP2 and RESP3).
//! - [`config`]: redis.conf and command-line settings, CONFIG GET/SET.
//! - [`server`]: listeners, accept loop, shared state, shutdown.
//! - [`connection`]: one client: read, parse, dispatch, pipelined replies.
//! - [`exposure`]: protected mode, DEBUG and protected-config permissions, rename-command,
//!   the source address of outbound connections.
//! - [`acl`]: users, permissions and the check on every command (ACL, AUTH).
//! - [`server_commands`]: commands the server answers itself (CLIENT, HELLO, AUTH, ...).
//! - [`pubsub`]: channels, patterns and shard channels; PUBLISH and PUBSUB.
//! - [`blocking`]: BLPOP and the other blocking pops, served first come first served.
//! - [`transaction`]: MULTI, EXEC, DISCARD, WATCH and UNWATCH.
//! - [`introspect`]: COMMAND and its subcommands, from the engine's command table.
//! - [`info`]: INFO in Redis's format.
//! - [`clients`]: the connected-client table (CLIENT LIST/KILL, maxclients).
//! - [`fd_limit`]: the open-files limit raised to fit `maxclients`.
//! - [`memory`]: allocator and process memory figures.
//! - [`cluster`]: cluster mode's data path: redirections (MOVED, ASK, ...) and cluster commands.
//! - [`migrate`]: MIGRATE, moving keys to another server without blocking other clients.
//! - [`persist`]: RDB persistence: SAVE, BGSAVE, the save schedule, loading, MISCONF.
//! - [`logging`]: tracing set-up and run-time log level.
//! - [`tls`]: TLS (rustls) for the client listener, replication and the cluster bus.
//! - [`sentinel`]: sentinel mode (the `slotkv-sentinel` state machine behind a RESP server).
//!
//! The engine does the data work; this crate owns sockets, the protocol and process state.

pub mod acl;
pub mod aof;
pub mod blocking;
pub mod clients;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod digest;
pub mod exposure;
pub mod fd_limit;
pub mod info;
pub mod introspect;
pub mod logging;
pub mod memory;
pub mod migrate;
pub mod persist;
pub mod pubsub;
pub mod replication;
pub mod resp;
pub mod sentinel;
pub mod server;
pub mod server_commands;
pub mod tls;
pub mod transaction;

/// The Redis version slotkv reports (INFO redis_version, HELLO), whose behaviour it follows.
pub const REDIS_VERSION: &str = "7.0.15";
