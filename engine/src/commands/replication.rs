//! Replication commands, answered by the server (it holds the links to primaries and
//! replicas). They are listed here, with [`Handler::Server`], so COMMAND, arity checks and ACL
//! categories know them.

use crate::command::{CommandSpec, Flags, Group};
use crate::commands::connection::server;

const ADMIN: Flags = Flags::ADMIN.and(Flags::NOSCRIPT);

pub(crate) static COMMANDS: &[CommandSpec] = &[
    server(
        "wait",
        3,
        Flags::NOSCRIPT,
        Group::Generic,
        "3.0.0",
        "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
    ),
    server(
        "psync",
        -3,
        ADMIN.and(Flags::NO_MULTI),
        Group::Server,
        "2.8.0",
        "An internal command used in replication.",
    ),
    server(
        "sync",
        1,
        ADMIN.and(Flags::NO_MULTI),
        Group::Server,
        "1.0.0",
        "An internal command used in replication.",
    ),
    server(
        "replconf",
        -1,
        ADMIN
            .and(Flags::LOADING)
            .and(Flags::STALE)
            .and(Flags::ALLOW_BUSY),
        Group::Server,
        "3.0.0",
        "An internal command for configuring the replication stream.",
    ),
    server(
        "replicaof",
        3,
        ADMIN.and(Flags::STALE),
        Group::Server,
        "5.0.0",
        "Configures a server as replica of another, or promotes it to a master.",
    ),
    server(
        "slaveof",
        3,
        ADMIN.and(Flags::STALE),
        Group::Server,
        "1.0.0",
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
    ),
    server(
        "failover",
        -1,
        ADMIN.and(Flags::STALE),
        Group::Server,
        "6.2.0",
        "Starts a coordinated failover from a server to one of its replicas.",
    ),
    server(
        "role",
        1,
        Flags::NOSCRIPT
            .and(Flags::LOADING)
            .and(Flags::STALE)
            .and(Flags::FAST),
        Group::Server,
        "2.8.12",
        "Returns the replication role.",
    ),
];
