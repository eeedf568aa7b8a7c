//! The directives slotkv understands, one table row each: canonical name, whether CONFIG SET may
//! change it, how its value is parsed (with Redis's error messages) and printed for CONFIG GET.
//! Files, the command line and CONFIG SET all go through this table, so they cannot disagree.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use slotkv_engine::engine::DATABASES_MAX;
use slotkv_engine::evict::{SAMPLES_MAX, TENACITY_MAX};
use slotkv_engine::glob::glob_match;
use slotkv_engine::notify::Events;
use slotkv_engine::value::parse_i64;
use slotkv_engine::{CommandError, MaxmemoryPolicy};
use slotkv_persistence::aof::FsyncPolicy;

use crate::cluster::EndpointType;
use crate::exposure::Permission;
use crate::tls::{self, AuthClients};

use super::{parse_memory, set_failed, LogLevel, OutputLimit, Settings};

/// Redis's answer to an unknown directive (or `include` with the wrong argument count).
pub(super) const BAD_DIRECTIVE: &str = "Bad directive or wrong number of arguments";
const WRONG_ARGUMENT_COUNT: &str = "wrong number of arguments";
const NOT_INTEGER: &str = "argument couldn't be parsed into an integer";
const NOT_MEMORY: &str = "argument must be a memory value";
const NOT_YES_NO: &str = "argument must be 'yes' or 'no'";
const NOT_LOG_LEVEL: &str =
    "argument(s) must be one of the following: debug, verbose, notice, warning, nothing";
pub(super) const NOT_UTF8: &str = "argument must be valid UTF-8 text";
const TOO_MANY_BIND_ADDRESSES: &str = "Too many bind addresses specified.";
const NO_DAEMONIZE: &str = "slotkv does not daemonize: keep 'daemonize no' and run it in the \
     foreground under a supervisor (systemd, a container runtime)";

/// Most addresses `bind` takes, as in Redis.
const BIND_ADDRESSES_MAX: usize = 16;
/// `hz` is clamped into this range rather than refused, as Redis does.
const HZ_MIN: u32 = 1;
const HZ_MAX: u32 = 500;
/// Smallest bulk length and query buffer limit Redis accepts (1mb).
const PROTOCOL_LIMIT_MIN: i64 = 1024 * 1024;
/// Redis's upper bound for most integer directives (INT_MAX).
const INT_MAX: i64 = i32::MAX as i64;
/// Redis's upper bound for its size directives (LONG_MAX on 64-bit systems).
const LONG_MAX: i64 = i64::MAX;
/// `cluster-announce-hostname` must be shorter than this (Redis's NET_HOST_STR_LEN).
const HOSTNAME_LEN_LIMIT: usize = 256;
/// The engine refuses more databases than this, so the configuration does too.
const DATABASES_LIMIT: i64 = DATABASES_MAX as i64;
/// Most `io-threads`, as Redis.
const IO_THREADS_MAX: i64 = 128;

/// Whether CONFIG SET may change a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutability {
    Mutable,
    /// Used once at start-up (listening sockets, databases, log and pid files).
    Immutable,
    /// Refused at run time unless `enable-protected-configs` allows the client, as in Redis 7:
    /// changing `dir` could point persistence anywhere.
    Protected,
}

/// How a directive takes its value.
#[derive(Clone, Copy)]
enum Setter {
    /// Exactly one argument.
    One(fn(&mut Settings, &[u8]) -> Result<(), String>),
    /// One or more arguments (`bind`).
    Many(fn(&mut Settings, &[&[u8]]) -> Result<(), String>),
}

/// One configuration directive.
pub(super) struct Directive {
    pub(super) name: &'static str,
    mutability: Mutability,
    setter: Setter,
    render: fn(&Settings) -> String,
}

const fn one(
    name: &'static str,
    mutability: Mutability,
    set: fn(&mut Settings, &[u8]) -> Result<(), String>,
    render: fn(&Settings) -> String,
) -> Directive {
    Directive {
        name,
        mutability,
        setter: Setter::One(set),
        render,
    }
}

static DIRECTIVES: &[Directive] = &[
    one(
        "port",
        Mutability::Immutable,
        |s, v| set_int(&mut s.port, v, 0, 65535),
        |s| s.port.to_string(),
    ),
    Directive {
        name: "bind",
        // Immutable, so CONFIG SET never hands it a single space-separated value.
        mutability: Mutability::Immutable,
        setter: Setter::Many(set_bind),
        render: |s| s.bind.join(" "),
    },
    one(
        "protected-mode",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.protected_mode, v),
        |s| yes_no(s.protected_mode),
    ),
    one(
        "bind-source-addr",
        Mutability::Mutable,
        set_bind_source_addr,
        |s| s.bind_source_addr.clone(),
    ),
    one(
        "enable-debug-command",
        Mutability::Immutable,
        |s, v| set_permission(&mut s.enable_debug_command, v),
        |s| s.enable_debug_command.name().to_owned(),
    ),
    one(
        "enable-protected-configs",
        Mutability::Immutable,
        |s, v| set_permission(&mut s.enable_protected_configs, v),
        |s| s.enable_protected_configs.name().to_owned(),
    ),
    one(
        "databases",
        Mutability::Immutable,
        |s, v| set_int(&mut s.databases, v, 1, DATABASES_LIMIT),
        |s| s.databases.to_string(),
    ),
    one(
        "io-threads",
        Mutability::Immutable,
        |s, v| set_int(&mut s.io_threads, v, 1, IO_THREADS_MAX),
        |s| s.io_threads.to_string(),
    ),
    one(
        "maxclients",
        Mutability::Mutable,
        |s, v| set_int(&mut s.maxclients, v, 1, i64::from(u32::MAX)),
        |s| s.maxclients.to_string(),
    ),
    one(
        "timeout",
        Mutability::Mutable,
        |s, v| set_int(&mut s.timeout_secs, v, 0, INT_MAX),
        |s| s.timeout_secs.to_string(),
    ),
    one(
        "tcp-keepalive",
        Mutability::Mutable,
        |s, v| set_int(&mut s.tcp_keepalive_secs, v, 0, INT_MAX),
        |s| s.tcp_keepalive_secs.to_string(),
    ),
    one(
        "tcp-backlog",
        Mutability::Immutable,
        |s, v| set_int(&mut s.tcp_backlog, v, 0, INT_MAX),
        |s| s.tcp_backlog.to_string(),
    ),
    one("loglevel", Mutability::Mutable, set_loglevel, |s| {
        s.loglevel.name().to_owned()
    }),
    one(
        "logfile",
        Mutability::Immutable,
        |s, v| set_text(&mut s.logfile, v),
        |s| s.logfile.clone(),
    ),
    one(
        "pidfile",
        Mutability::Immutable,
        |s, v| set_text(&mut s.pidfile, v),
        |s| s.pidfile.clone(),
    ),
    one("dir", Mutability::Protected, set_dir, render_dir),
    one("daemonize", Mutability::Immutable, set_daemonize, |_| {
        "no".to_owned()
    }),
    one(
        "proto-max-bulk-len",
        Mutability::Mutable,
        |s, v| set_memory(&mut s.proto_max_bulk_len, v, PROTOCOL_LIMIT_MIN),
        |s| s.proto_max_bulk_len.to_string(),
    ),
    one(
        "client-query-buffer-limit",
        Mutability::Mutable,
        |s, v| set_memory(&mut s.client_query_buffer_limit, v, PROTOCOL_LIMIT_MIN),
        |s| s.client_query_buffer_limit.to_string(),
    ),
    one(
        "maxmemory",
        Mutability::Mutable,
        |s, v| set_memory(&mut s.memory.maxmemory_bytes, v, 0),
        |s| s.memory.maxmemory_bytes.to_string(),
    ),
    one(
        "maxmemory-policy",
        Mutability::Mutable,
        set_maxmemory_policy,
        |s| s.memory.policy.name().to_owned(),
    ),
    one(
        "maxmemory-samples",
        Mutability::Mutable,
        |s, v| set_int(&mut s.memory.samples, v, 1, i64::from(SAMPLES_MAX)),
        |s| s.memory.samples.to_string(),
    ),
    one(
        "maxmemory-eviction-tenacity",
        Mutability::Mutable,
        |s, v| {
            set_int(
                &mut s.memory.eviction_tenacity,
                v,
                0,
                i64::from(TENACITY_MAX),
            )
        },
        |s| s.memory.eviction_tenacity.to_string(),
    ),
    one(
        "lfu-log-factor",
        Mutability::Mutable,
        |s, v| set_int(&mut s.memory.lfu_log_factor, v, 0, INT_MAX),
        |s| s.memory.lfu_log_factor.to_string(),
    ),
    one(
        "lfu-decay-time",
        Mutability::Mutable,
        |s, v| set_int(&mut s.memory.lfu_decay_minutes, v, 0, INT_MAX),
        |s| s.memory.lfu_decay_minutes.to_string(),
    ),
    one(
        "replica-ignore-maxmemory",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.replica_ignore_maxmemory, v),
        |s| yes_no(s.replica_ignore_maxmemory),
    ),
    one("requirepass", Mutability::Mutable, set_requirepass, |s| {
        s.requirepass.clone().unwrap_or_default()
    }),
    one(
        "hash-max-listpack-entries",
        Mutability::Mutable,
        |s, v| set_int(&mut s.encodings.hash_max_listpack_entries, v, 0, LONG_MAX),
        |s| s.encodings.hash_max_listpack_entries.to_string(),
    ),
    one(
        "hash-max-listpack-value",
        Mutability::Mutable,
        |s, v| set_memory(&mut s.encodings.hash_max_listpack_value, v, 0),
        |s| s.encodings.hash_max_listpack_value.to_string(),
    ),
    one(
        "set-max-intset-entries",
        Mutability::Mutable,
        |s, v| set_int(&mut s.encodings.set_max_intset_entries, v, 0, LONG_MAX),
        |s| s.encodings.set_max_intset_entries.to_string(),
    ),
    one(
        "set-max-listpack-entries",
        Mutability::Mutable,
        |s, v| set_int(&mut s.encodings.set_max_listpack_entries, v, 0, LONG_MAX),
        |s| s.encodings.set_max_listpack_entries.to_string(),
    ),
    one(
        "set-max-listpack-value",
        Mutability::Mutable,
        |s, v| set_int(&mut s.encodings.set_max_listpack_value, v, 0, LONG_MAX),
        |s| s.encodings.set_max_listpack_value.to_string(),
    ),
    one(
        "zset-max-listpack-entries",
        Mutability::Mutable,
        |s, v| set_int(&mut s.encodings.zset_max_listpack_entries, v, 0, LONG_MAX),
        |s| s.encodings.zset_max_listpack_entries.to_string(),
    ),
    one(
        "zset-max-listpack-value",
        Mutability::Mutable,
        |s, v| set_memory(&mut s.encodings.zset_max_listpack_value, v, 0),
        |s| s.encodings.zset_max_listpack_value.to_string(),
    ),
    one(
        "list-max-listpack-size",
        Mutability::Mutable,
        |s, v| {
            let (min, max) = (i64::from(i32::MIN), i64::from(i32::MAX));
            set_int(&mut s.encodings.list_max_listpack_size, v, min, max)
        },
        |s| s.encodings.list_max_listpack_size.to_string(),
    ),
    one("hz", Mutability::Mutable, set_hz, |s| s.hz.to_string()),
    one(
        "notify-keyspace-events",
        Mutability::Mutable,
        set_notify_keyspace_events,
        |s| s.notify_keyspace_events.to_string(),
    ),
    Directive {
        name: "save",
        mutability: Mutability::Mutable,
        setter: Setter::Many(set_save),
        render: render_save,
    },
    one("dbfilename", Mutability::Protected, set_dbfilename, |s| {
        s.dbfilename.clone()
    }),
    one(
        "rdbcompression",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.rdbcompression, v),
        |s| yes_no(s.rdbcompression),
    ),
    one(
        "rdbchecksum",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.rdbchecksum, v),
        |s| yes_no(s.rdbchecksum),
    ),
    one(
        "stop-writes-on-bgsave-error",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.stop_writes_on_bgsave_error, v),
        |s| yes_no(s.stop_writes_on_bgsave_error),
    ),
    one(
        "appendonly",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.aof.enabled, v),
        |s| yes_no(s.aof.enabled),
    ),
    one(
        "appendfilename",
        Mutability::Immutable,
        set_appendfilename,
        |s| s.aof.filename.clone(),
    ),
    one(
        "appenddirname",
        Mutability::Immutable,
        set_appenddirname,
        |s| s.aof.dirname.clone(),
    ),
    one("appendfsync", Mutability::Mutable, set_appendfsync, |s| {
        s.aof.fsync.name().to_owned()
    }),
    one(
        "aof-use-rdb-preamble",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.aof.rdb_preamble, v),
        |s| yes_no(s.aof.rdb_preamble),
    ),
    one(
        "aof-load-truncated",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.aof.load_truncated, v),
        |s| yes_no(s.aof.load_truncated),
    ),
    one(
        "auto-aof-rewrite-percentage",
        Mutability::Mutable,
        |s, v| set_int(&mut s.aof.rewrite_percentage, v, 0, INT_MAX),
        |s| s.aof.rewrite_percentage.to_string(),
    ),
    one(
        "auto-aof-rewrite-min-size",
        Mutability::Mutable,
        |s, v| set_memory(&mut s.aof.rewrite_min_size, v, 0),
        |s| s.aof.rewrite_min_size.to_string(),
    ),
    Directive {
        name: "replicaof",
        // Changed at run time by REPLICAOF, as in Redis.
        mutability: Mutability::Immutable,
        setter: Setter::Many(set_replicaof),
        render: |s| {
            s.repl
                .replicaof
                .as_ref()
                .map_or_else(String::new, |(host, port)| format!("{host} {port}"))
        },
    },
    one(
        "aclfile",
        Mutability::Immutable,
        |s, v| set_text(&mut s.aclfile, v),
        |s| s.aclfile.clone(),
    ),
    one(
        "acllog-max-len",
        Mutability::Mutable,
        |s, v| set_int(&mut s.acllog_max_len, v, 0, LONG_MAX),
        |s| s.acllog_max_len.to_string(),
    ),
    one(
        "acl-pubsub-default",
        Mutability::Mutable,
        set_acl_pubsub_default,
        |s| {
            if s.acl_pubsub_default_all {
                "allchannels"
            } else {
                "resetchannels"
            }
            .to_owned()
        },
    ),
    one("masterauth", Mutability::Mutable, set_masterauth, |s| {
        s.repl.masterauth.clone().unwrap_or_default()
    }),
    one("masteruser", Mutability::Mutable, set_masteruser, |s| {
        s.repl.masteruser.clone().unwrap_or_default()
    }),
    one(
        "repl-backlog-size",
        Mutability::Mutable,
        |s, v| set_memory(&mut s.repl.backlog_bytes, v, 1),
        |s| s.repl.backlog_bytes.to_string(),
    ),
    one(
        "repl-backlog-ttl",
        Mutability::Mutable,
        |s, v| set_int(&mut s.repl.backlog_ttl_secs, v, 0, LONG_MAX),
        |s| s.repl.backlog_ttl_secs.to_string(),
    ),
    one(
        "repl-ping-replica-period",
        Mutability::Mutable,
        |s, v| set_int(&mut s.repl.ping_period_secs, v, 1, INT_MAX),
        |s| s.repl.ping_period_secs.to_string(),
    ),
    one(
        "repl-timeout",
        Mutability::Mutable,
        |s, v| set_int(&mut s.repl.timeout_secs, v, 1, INT_MAX),
        |s| s.repl.timeout_secs.to_string(),
    ),
    one(
        "repl-diskless-sync",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.repl.diskless_sync, v),
        |s| yes_no(s.repl.diskless_sync),
    ),
    one(
        "replica-read-only",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.repl.read_only, v),
        |s| yes_no(s.repl.read_only),
    ),
    one(
        "replica-serve-stale-data",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.repl.serve_stale_data, v),
        |s| yes_no(s.repl.serve_stale_data),
    ),
    one(
        "replica-priority",
        Mutability::Mutable,
        |s, v| set_int(&mut s.repl.priority, v, 0, INT_MAX),
        |s| s.repl.priority.to_string(),
    ),
    one(
        "replica-announce-ip",
        Mutability::Mutable,
        |s, v| set_text(&mut s.repl.announce_ip, v),
        |s| s.repl.announce_ip.clone(),
    ),
    one(
        "replica-announce-port",
        Mutability::Mutable,
        |s, v| set_int(&mut s.repl.announce_port, v, 0, 65535),
        |s| s.repl.announce_port.to_string(),
    ),
    one(
        "replica-announced",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.repl.announced, v),
        |s| yes_no(s.repl.announced),
    ),
    one(
        "min-replicas-to-write",
        Mutability::Mutable,
        |s, v| set_int(&mut s.repl.min_replicas_to_write, v, 0, INT_MAX),
        |s| s.repl.min_replicas_to_write.to_string(),
    ),
    one(
        "min-replicas-max-lag",
        Mutability::Mutable,
        |s, v| set_int(&mut s.repl.min_replicas_max_lag_secs, v, 0, INT_MAX),
        |s| s.repl.min_replicas_max_lag_secs.to_string(),
    ),
    Directive {
        name: "client-output-buffer-limit",
        mutability: Mutability::Mutable,
        setter: Setter::Many(set_output_buffer_limit),
        render: |s| {
            let (normal, pubsub) = (s.normal_output, s.pubsub_output);
            format!(
                "normal {} {} {} slave {} {} {} pubsub {} {} {}",
                normal.hard_bytes,
                normal.soft_bytes,
                normal.soft_secs,
                s.repl.output_hard_bytes,
                s.repl.output_soft_bytes,
                s.repl.output_soft_secs,
                pubsub.hard_bytes,
                pubsub.soft_bytes,
                pubsub.soft_secs
            )
        },
    },
    one(
        "aof-timestamp-enabled",
        Mutability::Mutable,
        set_aof_timestamp_enabled,
        |_| "no".to_owned(),
    ),
    one(
        "cluster-enabled",
        Mutability::Immutable,
        |s, v| set_yes_no(&mut s.cluster.enabled, v),
        |s| yes_no(s.cluster.enabled),
    ),
    one(
        "cluster-config-file",
        Mutability::Immutable,
        |s, v| set_text(&mut s.cluster.config_file, v),
        |s| s.cluster.config_file.clone(),
    ),
    one(
        "cluster-node-timeout",
        Mutability::Mutable,
        |s, v| set_int(&mut s.cluster.node_timeout_ms, v, 0, LONG_MAX),
        |s| s.cluster.node_timeout_ms.to_string(),
    ),
    one(
        "cluster-port",
        Mutability::Immutable,
        |s, v| set_int(&mut s.cluster.port, v, 0, 65535),
        |s| s.cluster.port.to_string(),
    ),
    one(
        "cluster-announce-ip",
        Mutability::Mutable,
        |s, v| set_text(&mut s.cluster.announce_ip, v),
        |s| s.cluster.announce_ip.clone(),
    ),
    one(
        "cluster-announce-port",
        Mutability::Mutable,
        |s, v| set_int(&mut s.cluster.announce_port, v, 0, 65535),
        |s| s.cluster.announce_port.to_string(),
    ),
    one(
        "cluster-announce-tls-port",
        Mutability::Mutable,
        |s, v| set_int(&mut s.cluster.announce_tls_port, v, 0, 65535),
        |s| s.cluster.announce_tls_port.to_string(),
    ),
    one(
        "cluster-announce-bus-port",
        Mutability::Mutable,
        |s, v| set_int(&mut s.cluster.announce_bus_port, v, 0, 65535),
        |s| s.cluster.announce_bus_port.to_string(),
    ),
    one(
        "cluster-announce-hostname",
        Mutability::Mutable,
        set_announce_hostname,
        |s| s.cluster.announce_hostname.clone(),
    ),
    one(
        "cluster-preferred-endpoint-type",
        Mutability::Mutable,
        set_preferred_endpoint_type,
        |s| s.cluster.preferred_endpoint_type.name().to_owned(),
    ),
    one(
        "cluster-require-full-coverage",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.cluster.require_full_coverage, v),
        |s| yes_no(s.cluster.require_full_coverage),
    ),
    one(
        "cluster-replica-validity-factor",
        Mutability::Mutable,
        |s, v| set_int(&mut s.cluster.replica_validity_factor, v, 0, INT_MAX),
        |s| s.cluster.replica_validity_factor.to_string(),
    ),
    one(
        "cluster-migration-barrier",
        Mutability::Mutable,
        |s, v| set_int(&mut s.cluster.migration_barrier, v, 0, INT_MAX),
        |s| s.cluster.migration_barrier.to_string(),
    ),
    one(
        "cluster-allow-replica-migration",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.cluster.allow_replica_migration, v),
        |s| yes_no(s.cluster.allow_replica_migration),
    ),
    one(
        "cluster-replica-no-failover",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.cluster.replica_no_failover, v),
        |s| yes_no(s.cluster.replica_no_failover),
    ),
    one(
        "cluster-allow-reads-when-down",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.cluster.allow_reads_when_down, v),
        |s| yes_no(s.cluster.allow_reads_when_down),
    ),
    one(
        "cluster-allow-pubsubshard-when-down",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.cluster.allow_pubsubshard_when_down, v),
        |s| yes_no(s.cluster.allow_pubsubshard_when_down),
    ),
    one(
        "cluster-link-sendbuf-limit",
        Mutability::Mutable,
        |s, v| set_memory(&mut s.cluster.link_sendbuf_limit_bytes, v, 0),
        |s| s.cluster.link_sendbuf_limit_bytes.to_string(),
    ),
    one(
        "tls-port",
        Mutability::Immutable,
        |s, v| set_int(&mut s.tls.port, v, 0, 65535),
        |s| s.tls.port.to_string(),
    ),
    one(
        "tls-cert-file",
        Mutability::Mutable,
        |s, v| set_text(&mut s.tls.cert_file, v),
        |s| s.tls.cert_file.clone(),
    ),
    one(
        "tls-key-file",
        Mutability::Mutable,
        |s, v| set_text(&mut s.tls.key_file, v),
        |s| s.tls.key_file.clone(),
    ),
    one(
        "tls-key-file-pass",
        Mutability::Mutable,
        |s, v| set_text(&mut s.tls.key_file_pass, v),
        |s| s.tls.key_file_pass.clone(),
    ),
    one(
        "tls-client-cert-file",
        Mutability::Mutable,
        |s, v| set_text(&mut s.tls.client_cert_file, v),
        |s| s.tls.client_cert_file.clone(),
    ),
    one(
        "tls-client-key-file",
        Mutability::Mutable,
        |s, v| set_text(&mut s.tls.client_key_file, v),
        |s| s.tls.client_key_file.clone(),
    ),
    one(
        "tls-client-key-file-pass",
        Mutability::Mutable,
        |s, v| set_text(&mut s.tls.client_key_file_pass, v),
        |s| s.tls.client_key_file_pass.clone(),
    ),
    one(
        "tls-ca-cert-file",
        Mutability::Mutable,
        |s, v| set_text(&mut s.tls.ca_cert_file, v),
        |s| s.tls.ca_cert_file.clone(),
    ),
    one(
        "tls-ca-cert-dir",
        Mutability::Mutable,
        |s, v| set_text(&mut s.tls.ca_cert_dir, v),
        |s| s.tls.ca_cert_dir.clone(),
    ),
    one(
        "tls-auth-clients",
        Mutability::Mutable,
        set_tls_auth_clients,
        |s| s.tls.auth_clients.name().to_owned(),
    ),
    one(
        "tls-protocols",
        Mutability::Mutable,
        set_tls_protocols,
        |s| s.tls.protocols.clone(),
    ),
    one(
        "tls-ciphersuites",
        Mutability::Mutable,
        set_tls_ciphersuites,
        |s| s.tls.ciphersuites.clone(),
    ),
    one("tls-ciphers", Mutability::Mutable, set_tls_ciphers, |s| {
        s.tls.ciphers.clone()
    }),
    one(
        "tls-replication",
        Mutability::Mutable,
        |s, v| set_yes_no(&mut s.tls.replication, v),
        |s| yes_no(s.tls.replication),
    ),
    one(
        "tls-cluster",
        Mutability::Immutable,
        |s, v| set_yes_no(&mut s.tls.cluster, v),
        |s| yes_no(s.tls.cluster),
    ),
];

/// Names Redis still accepts for renamed directives (before 7.0, listpacks were ziplists):
/// (old name, directive). CONFIG GET answers under either name.
static ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("slaveof", "replicaof"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-priority", "replica-priority"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    (
        "cluster-slave-validity-factor",
        "cluster-replica-validity-factor",
    ),
    ("cluster-slave-no-failover", "cluster-replica-no-failover"),
];

impl Directive {
    /// Parses `values` into `settings`, or returns Redis's reason for refusing them.
    pub(super) fn apply(&self, settings: &mut Settings, values: &[&[u8]]) -> Result<(), String> {
        match (self.setter, values) {
            (Setter::One(set), [value]) => set(settings, value),
            (Setter::Many(set), values) if !values.is_empty() => set(settings, values),
            _ => Err(WRONG_ARGUMENT_COUNT.to_owned()),
        }
    }

    /// The value as CONFIG GET prints it.
    pub(super) fn render(&self, settings: &Settings) -> String {
        (self.render)(settings)
    }
}

/// Every directive, in table order.
pub(super) fn all() -> &'static [Directive] {
    DIRECTIVES
}

/// The directive named `name` (or an alias of it), ignoring case.
pub(super) fn find(name: &[u8]) -> Option<&'static Directive> {
    let named = |wanted: &[u8]| {
        DIRECTIVES
            .iter()
            .find(|directive| wanted.eq_ignore_ascii_case(directive.name.as_bytes()))
    };
    named(name).or_else(|| {
        ALIASES
            .iter()
            .find(|(alias, _)| name.eq_ignore_ascii_case(alias.as_bytes()))
            .and_then(|(_, canonical)| named(canonical.as_bytes()))
    })
}

/// Applies one configuration line (`name` and its arguments) to `settings`.
pub(super) fn apply_line(
    settings: &mut Settings,
    name: &[u8],
    values: &[&[u8]],
) -> Result<(), String> {
    let directive = find(name).ok_or_else(|| BAD_DIRECTIVE.to_owned())?;
    directive.apply(settings, values)
}

/// The directives a CONFIG GET pattern selects, each with the name it is answered under: a
/// plain name as typed, a glob's matches under their own names (an alias matched by the glob
/// under the alias, as Redis lists both names).
pub(super) fn matching(pattern: &[u8]) -> Vec<(&[u8], &'static Directive)> {
    if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
        return find(pattern)
            .map(|directive| (pattern, directive))
            .into_iter()
            .collect();
    }
    let names = DIRECTIVES.iter().map(|directive| directive.name);
    let aliases = ALIASES.iter().map(|(alias, _)| *alias);
    names
        .chain(aliases)
        .filter(|name| glob_match(pattern, name.as_bytes(), true))
        .filter_map(|name| Some((name.as_bytes(), find(name.as_bytes())?)))
        .collect()
}

/// Checks CONFIG SET's names before any value is parsed, as Redis does: each must exist, be
/// settable at run time (protected ones only when `protected_allowed`) and appear once.
/// Returns the directive of each pair.
pub(super) fn settable(
    pairs: &[(&Bytes, &Bytes)],
    protected_allowed: bool,
) -> Result<Vec<&'static Directive>, CommandError> {
    let mut targets: Vec<&'static Directive> = Vec::with_capacity(pairs.len());
    for (name, _) in pairs {
        let directive = find(name).ok_or_else(|| {
            CommandError::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(name)
            ))
        })?;
        let refusal = match directive.mutability {
            Mutability::Immutable => Some("can't set immutable config"),
            Mutability::Protected if !protected_allowed => Some("can't set protected config"),
            Mutability::Protected | Mutability::Mutable => None,
        };
        if let Some(reason) = refusal {
            return Err(set_failed(name, reason));
        }
        if targets.iter().any(|seen| std::ptr::eq(*seen, directive)) {
            return Err(set_failed(name, "duplicate parameter"));
        }
        targets.push(directive);
    }
    Ok(targets)
}

/// Parses an integer as Redis's string2ll does (no sign `+`, no spaces, no leading zeros) and
/// checks it against Redis's bounds for the directive.
fn set_int<T: TryFrom<i64>>(field: &mut T, arg: &[u8], min: i64, max: i64) -> Result<(), String> {
    let value = parse_i64(arg).ok_or(NOT_INTEGER)?;
    *field = within(value, min, max)?;
    Ok(())
}

fn within<T: TryFrom<i64>>(value: i64, min: i64, max: i64) -> Result<T, String> {
    if !(min..=max).contains(&value) {
        return Err(out_of_range(min, max));
    }
    T::try_from(value).map_err(|_| out_of_range(min, max))
}

fn out_of_range(min: i64, max: i64) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

/// A memory amount with Redis's units, at least `min` bytes and at most `i64::MAX`.
fn set_memory<T: TryFrom<i64>>(field: &mut T, arg: &[u8], min: i64) -> Result<(), String> {
    let bytes = std::str::from_utf8(arg)
        .ok()
        .and_then(parse_memory)
        .ok_or(NOT_MEMORY)?;
    let bytes = i64::try_from(bytes).map_err(|_| out_of_range(min, i64::MAX))?;
    *field = within(bytes, min, i64::MAX)?;
    Ok(())
}

/// Free text (file names, passwords): any bytes but valid UTF-8.
fn text(arg: &[u8]) -> Result<String, String> {
    String::from_utf8(arg.to_vec()).map_err(|_| NOT_UTF8.to_owned())
}

fn set_text(field: &mut String, arg: &[u8]) -> Result<(), String> {
    *field = text(arg)?;
    Ok(())
}

fn set_bind(settings: &mut Settings, addresses: &[&[u8]]) -> Result<(), String> {
    if addresses.len() > BIND_ADDRESSES_MAX {
        return Err(TOO_MANY_BIND_ADDRESSES.to_owned());
    }
    settings.bind = addresses
        .iter()
        .map(|address| text(address))
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// An IP address, or empty for none (Redis checks it when it connects; slotkv at once).
fn set_bind_source_addr(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let address = text(arg)?;
    if !address.is_empty() && address.parse::<std::net::IpAddr>().is_err() {
        return Err("argument must be an IP address".to_owned());
    }
    settings.bind_source_addr = address;
    Ok(())
}

fn set_permission(field: &mut Permission, arg: &[u8]) -> Result<(), String> {
    *field = Permission::from_name(arg)
        .ok_or("argument(s) must be one of the following: no, yes, local")?;
    Ok(())
}

fn set_loglevel(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    settings.loglevel = LogLevel::from_name(arg).ok_or(NOT_LOG_LEVEL)?;
    Ok(())
}

/// An empty password means none, as in Redis.
fn set_requirepass(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let password = text(arg)?;
    settings.requirepass = (!password.is_empty()).then_some(password);
    Ok(())
}

/// `replicaof <host> <port>`, or `replicaof no one`.
fn set_replicaof(settings: &mut Settings, args: &[&[u8]]) -> Result<(), String> {
    let [host, port] = args else {
        return Err(WRONG_ARGUMENT_COUNT.to_owned());
    };
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        settings.repl.replicaof = None;
        return Ok(());
    }
    let mut port_number = 0u16;
    set_int(&mut port_number, port, 1, 65535)?;
    settings.repl.replicaof = Some((text(host)?, port_number));
    Ok(())
}

fn set_acl_pubsub_default(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    settings.acl_pubsub_default_all = if arg.eq_ignore_ascii_case(b"allchannels") {
        true
    } else if arg.eq_ignore_ascii_case(b"resetchannels") {
        false
    } else {
        return Err(
            "argument(s) must be one of the following: allchannels, resetchannels".to_owned(),
        );
    };
    Ok(())
}

fn set_masterauth(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let password = text(arg)?;
    settings.repl.masterauth = (!password.is_empty()).then_some(password);
    Ok(())
}

fn set_masteruser(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let user = text(arg)?;
    settings.repl.masteruser = (!user.is_empty()).then_some(user);
    Ok(())
}

/// `client-output-buffer-limit <class> <hard> <soft> <soft-seconds> ...` (one value per word
/// in a file, or one space-separated value in CONFIG SET), for the classes `normal`,
/// `replica` (or `slave`) and `pubsub`, as Redis.
fn set_output_buffer_limit(settings: &mut Settings, args: &[&[u8]]) -> Result<(), String> {
    let mut words = Vec::new();
    for arg in args {
        words.extend(text(arg)?.split_whitespace().map(str::to_owned));
    }
    if words.is_empty() || words.len() % 4 != 0 {
        return Err(WRONG_ARGUMENT_COUNT.to_owned());
    }
    for group in words.chunks(4) {
        let [class, hard, soft, secs] = group else {
            return Err(WRONG_ARGUMENT_COUNT.to_owned());
        };
        let mut limit = OutputLimit::default();
        set_memory(&mut limit.hard_bytes, hard.as_bytes(), 0)?;
        set_memory(&mut limit.soft_bytes, soft.as_bytes(), 0)?;
        set_int(&mut limit.soft_secs, secs.as_bytes(), 0, LONG_MAX)?;
        match class.to_ascii_lowercase().as_str() {
            "normal" => settings.normal_output = limit,
            "pubsub" => settings.pubsub_output = limit,
            "replica" | "slave" => {
                settings.repl.output_hard_bytes = limit.hard_bytes;
                settings.repl.output_soft_bytes = limit.soft_bytes;
                settings.repl.output_soft_secs = limit.soft_secs;
            }
            _ => {
                return Err(
                    "Invalid client class specified in buffer limit configuration.".to_owned(),
                )
            }
        }
    }
    Ok(())
}

fn set_maxmemory_policy(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    settings.memory.policy = std::str::from_utf8(arg)
        .ok()
        .and_then(MaxmemoryPolicy::parse)
        .ok_or_else(|| {
            let names: Vec<&str> = MaxmemoryPolicy::ALL.iter().map(|p| p.name()).collect();
            format!(
                "argument(s) must be one of the following: {}",
                names.join(", ")
            )
        })?;
    Ok(())
}

fn set_hz(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let mut hz: u32 = 0;
    set_int(&mut hz, arg, 0, INT_MAX)?;
    settings.hz = hz.clamp(HZ_MIN, HZ_MAX);
    Ok(())
}

fn set_notify_keyspace_events(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(arg).map_err(|_| NOT_UTF8.to_owned())?;
    settings.notify_keyspace_events = Events::parse(text)
        .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_owned())?;
    Ok(())
}

/// A file or directory name that must not be a path, as Redis checks `appendfilename` and
/// `appenddirname`.
fn base_name(arg: &[u8], error: &str) -> Result<String, String> {
    let name = text(arg)?;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(error.to_owned());
    }
    Ok(name)
}

fn set_appendfilename(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    settings.aof.filename = base_name(arg, "appendfilename can't be a path, just a filename")?;
    Ok(())
}

fn set_appenddirname(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    settings.aof.dirname = base_name(arg, "appenddirname can't be a path, just a dirname")?;
    Ok(())
}

fn set_appendfsync(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    settings.aof.fsync = FsyncPolicy::from_name(arg)
        .ok_or("argument(s) must be one of the following: always, everysec, no")?;
    Ok(())
}

/// Timestamp annotations are not written: only `no` is accepted (the loader skips
/// annotations in files Redis wrote with them).
fn set_aof_timestamp_enabled(_: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let mut enabled = false;
    set_yes_no(&mut enabled, arg)?;
    if enabled {
        return Err(
            "slotkv does not write AOF timestamp annotations: keep 'aof-timestamp-enabled no'"
                .to_owned(),
        );
    }
    Ok(())
}

/// Only `no` is accepted: a daemon detaches from its supervisor, which then loses track of it.
fn set_daemonize(_: &mut Settings, arg: &[u8]) -> Result<(), String> {
    if arg.eq_ignore_ascii_case(b"no") {
        Ok(())
    } else if arg.eq_ignore_ascii_case(b"yes") {
        Err(NO_DAEMONIZE.to_owned())
    } else {
        Err(NOT_YES_NO.to_owned())
    }
}

/// The directory must exist when the configuration is read, as Redis's chdir requires; it is
/// kept absolute so later changes of the working directory do not move it.
fn set_dir(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let path = PathBuf::from(text(arg)?);
    let metadata = std::fs::metadata(&path).map_err(|error| os_reason(&error))?;
    if !metadata.is_dir() {
        return Err("Not a directory".to_owned());
    }
    settings.dir = std::fs::canonicalize(&path).map_err(|error| os_reason(&error))?;
    Ok(())
}

/// The absolute directory, as Redis prints its working directory.
fn render_dir(settings: &Settings) -> String {
    let dir: &Path = &settings.dir;
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_owned())
        .display()
        .to_string()
}

/// The system's text for an I/O error (strerror), without Rust's "(os error N)" suffix, as
/// Redis prints it.
pub(crate) fn os_reason(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rsplit_once(" (os error ") {
        Some((reason, _)) => reason.to_owned(),
        None => text,
    }
}

/// `yes` or `no`, any case.
/// `cluster-announce-hostname`: letters, digits, `-` and `.`, shorter than 256 bytes, as
/// Redis checks it (empty: none).
fn set_announce_hostname(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    if arg.len() >= HOSTNAME_LEN_LIMIT {
        return Err("Hostnames must be less than 256 characters".to_owned());
    }
    if !arg
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(
            "Hostnames may only contain alphanumeric characters, hyphens or dots".to_owned(),
        );
    }
    settings.cluster.announce_hostname = text(arg)?;
    Ok(())
}

fn set_preferred_endpoint_type(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    settings.cluster.preferred_endpoint_type = EndpointType::ALL
        .into_iter()
        .find(|kind| arg.eq_ignore_ascii_case(kind.name().as_bytes()))
        .ok_or("argument(s) must be one of the following: ip, hostname, unknown-endpoint")?;
    Ok(())
}

fn set_tls_auth_clients(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    settings.tls.auth_clients = AuthClients::parse(arg)
        .ok_or("argument(s) must be one of the following: no, yes, optional")?;
    Ok(())
}

/// `tls-protocols`: checked here, so a name rustls lacks is refused when written.
fn set_tls_protocols(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let value = text(arg)?;
    tls::names::protocols(&value)?;
    settings.tls.protocols = value;
    Ok(())
}

fn set_tls_ciphersuites(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let value = text(arg)?;
    tls::names::ciphersuites(&value)?;
    settings.tls.ciphersuites = value;
    Ok(())
}

fn set_tls_ciphers(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let value = text(arg)?;
    tls::names::ciphers(&value)?;
    settings.tls.ciphers = value;
    Ok(())
}

fn set_yes_no(field: &mut bool, arg: &[u8]) -> Result<(), String> {
    *field = if arg.eq_ignore_ascii_case(b"yes") {
        true
    } else if arg.eq_ignore_ascii_case(b"no") {
        false
    } else {
        return Err(NOT_YES_NO.to_owned());
    };
    Ok(())
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// `save <seconds> <changes> [<seconds> <changes> ...]`, as separate arguments (a file line)
/// or one space-separated value (CONFIG SET); `save ""` disables saving. The points given
/// replace the ones before; a configuration file's later `save` lines add theirs instead
/// (see the loader in source.rs), as Redis reads them.
fn set_save(settings: &mut Settings, args: &[&[u8]]) -> Result<(), String> {
    let mut words = Vec::new();
    for arg in args {
        words.extend(text(arg)?.split_whitespace().map(str::to_owned));
    }
    if words.len() % 2 != 0 {
        return Err("Invalid save parameters".to_owned());
    }
    let number = |word: &String| {
        word.parse::<u64>()
            .ok()
            .filter(|&n| n <= INT_MAX as u64)
            .ok_or_else(|| "Invalid save parameters".to_owned())
    };
    let points = words
        .chunks(2)
        .map(|pair| Ok((number(&pair[0])?, number(&pair[1])?)))
        .collect::<Result<Vec<_>, String>>()?;
    settings.save_points = points;
    Ok(())
}

fn render_save(settings: &Settings) -> String {
    settings
        .save_points
        .iter()
        .map(|(seconds, changes)| format!("{seconds} {changes}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A bare file name: Redis refuses paths here (`dir` says where).
fn set_dbfilename(settings: &mut Settings, arg: &[u8]) -> Result<(), String> {
    let name = text(arg)?;
    if name.is_empty() || name.contains('/') {
        return Err("dbfilename can't be a path, just a filename".to_owned());
    }
    settings.dbfilename = name;
    Ok(())
}
