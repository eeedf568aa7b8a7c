//! The server's settings as Redis 7 takes them: a redis.conf file (comments, quoting, `include`),
//! `redis-server`-style command-line options folded in after it, and CONFIG GET / CONFIG SET at
//! run time with Redis's names, value syntax (memory units, yes/no) and exact error messages, so
//! existing configuration files, scripts and tools keep working.
//!
//! - [`directives`]: one row per directive: how to parse, print and whether it may change live.
//! - [`source`]: reading files, includes and the command line into [`Settings`].
//! - [`rewrite`]: CONFIG REWRITE, writing the current settings back into the file.
//! - [`LiveConfig`]: the settings shared by the running server, read often and changed atomically.
//!
//! Only directives the server acts on are accepted: a directive that parsed but did nothing would
//! mislead the operator who wrote it.

mod directives;
mod rewrite;
mod source;

use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;
use slotkv_engine::notify::Events;
use slotkv_engine::types::encodings::Encodings;
use slotkv_engine::{CommandError, MemoryLimits, Reply};
use slotkv_persistence::aof::FsyncPolicy;

use crate::exposure::Permission;

pub(crate) use directives::os_reason;
pub use rewrite::{RewriteError, RuntimeState, SIGNATURE};
pub use source::{parse_invocation, Invocation};

/// Applies one configuration line (`name values...`) to `settings`, as a redis.conf line is
/// read; sentinel mode reads the non-`sentinel` lines of sentinel.conf through it.
pub fn apply_directive(
    settings: &mut Settings,
    name: &[u8],
    values: &[&[u8]],
) -> Result<(), String> {
    directives::apply_line(settings, name, values)
}

/// Splits a configuration line into words as redis.conf lines are (quotes, escapes);
/// `None` when its quotes are unbalanced.
pub fn split_config_line(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    source::split_args(line)
}

/// Everything the server reads from its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// TCP port (`port`); 0 disables TCP.
    pub port: u16,
    /// Addresses to listen on (`bind`); a leading `-` marks one that may be unavailable.
    pub bind: Vec<String>,
    /// `protected-mode`: refuse non-loopback clients while the default user has no password.
    pub protected_mode: bool,
    /// `bind-source-addr`: local address of outbound connections (empty: the system's choice).
    pub bind_source_addr: String,
    /// `enable-debug-command` (start-up only).
    pub enable_debug_command: Permission,
    /// `enable-protected-configs`: CONFIG SET of `dir`, `dbfilename` (start-up only).
    pub enable_protected_configs: Permission,
    /// `rename-command <from> <to>` lines in file order (configuration file only, as Redis).
    pub renamed_commands: Vec<(Vec<u8>, Vec<u8>)>,
    /// Number of databases (`databases`).
    pub databases: usize,
    /// Threads serving clients (`io-threads`, start-up only); see [`default_io_threads`].
    pub io_threads: usize,
    /// Most connected clients (`maxclients`).
    pub maxclients: u64,
    /// Idle seconds before a client is closed, 0 for never (`timeout`).
    pub timeout_secs: u64,
    /// TCP keepalive period in seconds, 0 to disable (`tcp-keepalive`).
    pub tcp_keepalive_secs: u64,
    /// Listen backlog (`tcp-backlog`).
    pub tcp_backlog: u32,
    /// Log verbosity (`loglevel`).
    pub loglevel: LogLevel,
    /// Log file, empty for stdout (`logfile`).
    pub logfile: String,
    /// File to write the process id to, empty for none (`pidfile`).
    pub pidfile: String,
    /// Working directory (`dir`): absolute once read from a file or the command line.
    pub dir: PathBuf,
    /// Longest bulk string a client may send (`proto-max-bulk-len`).
    pub proto_max_bulk_len: u64,
    /// Largest query buffer a client may accumulate (`client-query-buffer-limit`).
    pub client_query_buffer_limit: u64,
    /// `client-output-buffer-limit normal ...`: no limit by default, as Redis.
    pub normal_output: OutputLimit,
    /// `client-output-buffer-limit pubsub ...`: 32 MB hard, 8 MB for 60 s soft, as Redis.
    pub pubsub_output: OutputLimit,
    /// Compact-encoding thresholds (`hash-max-listpack-entries`, `set-max-intset-entries`,
    /// `list-max-listpack-size`, ...).
    pub encodings: Encodings,
    /// `maxmemory`, `maxmemory-policy` and the eviction tuning.
    pub memory: MemoryLimits,
    /// Whether a replica leaves eviction to its primary (`replica-ignore-maxmemory`).
    pub replica_ignore_maxmemory: bool,
    /// Password of the default user (`requirepass`); `None` means no authentication.
    pub requirepass: Option<String>,
    /// `user <name> <rules...>` lines, applied to the ACL at start-up (name first).
    pub users: Vec<Vec<Vec<u8>>>,
    /// ACL file (`aclfile`), empty for none; cannot be combined with `user` lines.
    pub aclfile: String,
    /// Most entries the ACL log keeps (`acllog-max-len`).
    pub acllog_max_len: u64,
    /// `acl-pubsub-default allchannels` (true) or `resetchannels` (false, the default): the
    /// channels of new users and selectors.
    pub acl_pubsub_default_all: bool,
    /// Background task frequency per second (`hz`), kept within 1..=500 as Redis does.
    pub hz: u32,
    /// Keyspace notifications published (`notify-keyspace-events`), none by default.
    pub notify_keyspace_events: Events,
    /// RDB save points (`save <seconds> <changes> ...`): save when at least `changes` writes
    /// happened in the last `seconds`. Empty: no automatic saves.
    pub save_points: Vec<(u64, u64)>,
    /// RDB file name inside `dir` (`dbfilename`).
    pub dbfilename: String,
    /// LZF-compress strings in RDB files (`rdbcompression`).
    pub rdbcompression: bool,
    /// End RDB files with a CRC64 (`rdbchecksum`).
    pub rdbchecksum: bool,
    /// Refuse writes while the last background save failed (`stop-writes-on-bgsave-error`).
    pub stop_writes_on_bgsave_error: bool,
    /// The append-only file and its settings (`appendonly`, `appendfsync`, ...).
    pub aof: AofSettings,
    /// Replication (`replicaof`, `repl-*`, `replica-*`, `min-replicas-*`, `masterauth`).
    pub repl: ReplSettings,
    /// Cluster mode (`cluster-*`).
    pub cluster: ClusterSettings,
    /// TLS (`tls-*`).
    pub tls: crate::tls::TlsSettings,
}

/// One class of `client-output-buffer-limit`: a client whose pending replies pass `hard_bytes`,
/// or stay at or above `soft_bytes` for more than `soft_secs`, is disconnected. 0 disables a
/// limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_secs: u64,
}

/// The cluster directives, with Redis 7's defaults. The data path reads `allow_reads_when_down`,
/// `allow_pubsubshard_when_down` and `preferred_endpoint_type`; the others are for the cluster
/// driver (bus, failover, nodes.conf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `cluster-enabled` (start-up only).
    pub enabled: bool,
    /// `cluster-config-file`: the node table file, inside `dir` (start-up only).
    pub config_file: String,
    /// `cluster-node-timeout` in milliseconds.
    pub node_timeout_ms: u64,
    /// `cluster-port`: the bus port, 0 for the client port + 10000 (start-up only).
    pub port: u16,
    /// `cluster-announce-ip` (empty: the address peers see).
    pub announce_ip: String,
    /// `cluster-announce-port` (0: the listening port).
    pub announce_port: u16,
    /// `cluster-announce-tls-port` (0: none announced).
    pub announce_tls_port: u16,
    /// `cluster-announce-bus-port` (0: the bus port).
    pub announce_bus_port: u16,
    /// `cluster-announce-hostname` (empty: none).
    pub announce_hostname: String,
    /// `cluster-preferred-endpoint-type`: what MOVED and ASK name.
    pub preferred_endpoint_type: crate::cluster::EndpointType,
    /// `cluster-require-full-coverage`.
    pub require_full_coverage: bool,
    /// `cluster-replica-validity-factor`.
    pub replica_validity_factor: u32,
    /// `cluster-migration-barrier`.
    pub migration_barrier: u32,
    /// `cluster-allow-replica-migration`.
    pub allow_replica_migration: bool,
    /// `cluster-replica-no-failover`.
    pub replica_no_failover: bool,
    /// `cluster-allow-reads-when-down`.
    pub allow_reads_when_down: bool,
    /// `cluster-allow-pubsubshard-when-down`.
    pub allow_pubsubshard_when_down: bool,
    /// `cluster-link-sendbuf-limit` in bytes (0: no limit).
    pub link_sendbuf_limit_bytes: u64,
}

impl Default for ClusterSettings {
    /// Redis 7's defaults.
    fn default() -> Self {
        ClusterSettings {
            enabled: false,
            config_file: "nodes.conf".to_owned(),
            node_timeout_ms: 15_000,
            port: 0,
            announce_ip: String::new(),
            announce_port: 0,
            announce_tls_port: 0,
            announce_bus_port: 0,
            announce_hostname: String::new(),
            preferred_endpoint_type: crate::cluster::EndpointType::Ip,
            require_full_coverage: true,
            replica_validity_factor: 10,
            migration_barrier: 1,
            allow_replica_migration: true,
            replica_no_failover: false,
            allow_reads_when_down: false,
            allow_pubsubshard_when_down: true,
            link_sendbuf_limit_bytes: 0,
        }
    }
}

impl ClusterSettings {
    /// The cluster bus port for a node whose clients connect to `client_port`: `cluster-port`,
    /// or the client port + 10000 (`None` when that passes 65535).
    pub fn bus_port(&self, client_port: u16) -> Option<u16> {
        match self.port {
            0 => client_port.checked_add(10_000),
            port => Some(port),
        }
    }
}

/// The replication directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplSettings {
    /// `replicaof <host> <port>` at start-up.
    pub replicaof: Option<(String, u16)>,
    /// `masterauth`: password for the primary.
    pub masterauth: Option<String>,
    /// `masteruser`: user for the primary (AUTH user password).
    pub masteruser: Option<String>,
    /// `repl-backlog-size` in bytes.
    pub backlog_bytes: u64,
    /// `repl-backlog-ttl`: seconds without replicas before the backlog is freed (0: never).
    pub backlog_ttl_secs: u64,
    /// `repl-ping-replica-period` in seconds.
    pub ping_period_secs: u64,
    /// `repl-timeout` in seconds.
    pub timeout_secs: u64,
    /// `repl-diskless-sync`: send the RDB with an EOF marker to replicas that can take it.
    pub diskless_sync: bool,
    /// `replica-read-only`.
    pub read_only: bool,
    /// `replica-serve-stale-data`.
    pub serve_stale_data: bool,
    /// `replica-priority`.
    pub priority: u64,
    /// `replica-announce-ip` (empty: none).
    pub announce_ip: String,
    /// `replica-announce-port` (0: the listening port).
    pub announce_port: u16,
    /// `replica-announced`.
    pub announced: bool,
    /// `min-replicas-to-write` (0: off).
    pub min_replicas_to_write: u64,
    /// `min-replicas-max-lag` in seconds.
    pub min_replicas_max_lag_secs: u64,
    /// `client-output-buffer-limit replica <hard> <soft> <soft-seconds>`.
    pub output_hard_bytes: u64,
    pub output_soft_bytes: u64,
    pub output_soft_secs: u64,
}

impl Default for ReplSettings {
    /// Redis 7's defaults.
    fn default() -> Self {
        ReplSettings {
            replicaof: None,
            masterauth: None,
            masteruser: None,
            backlog_bytes: 1024 * 1024,
            backlog_ttl_secs: 3600,
            ping_period_secs: 10,
            timeout_secs: 60,
            diskless_sync: true,
            read_only: true,
            serve_stale_data: true,
            priority: 100,
            announce_ip: String::new(),
            announce_port: 0,
            announced: true,
            min_replicas_to_write: 0,
            min_replicas_max_lag_secs: 10,
            output_hard_bytes: 256 * 1024 * 1024,
            output_soft_bytes: 64 * 1024 * 1024,
            output_soft_secs: 60,
        }
    }
}

/// The AOF directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofSettings {
    /// `appendonly`.
    pub enabled: bool,
    /// `appendfilename`: prefix of the AOF's file names.
    pub filename: String,
    /// `appenddirname`: directory of the AOF, inside `dir`.
    pub dirname: String,
    /// `appendfsync`.
    pub fsync: FsyncPolicy,
    /// `aof-use-rdb-preamble`.
    pub rdb_preamble: bool,
    /// `aof-load-truncated`.
    pub load_truncated: bool,
    /// `auto-aof-rewrite-percentage` (0 disables automatic rewrites).
    pub rewrite_percentage: u64,
    /// `auto-aof-rewrite-min-size` in bytes.
    pub rewrite_min_size: u64,
}

impl Default for AofSettings {
    fn default() -> Self {
        AofSettings {
            enabled: false,
            filename: "appendonly.aof".to_owned(),
            dirname: "appendonlydir".to_owned(),
            fsync: FsyncPolicy::Everysec,
            rdb_preamble: true,
            load_truncated: true,
            rewrite_percentage: 100,
            rewrite_min_size: 64 * 1024 * 1024,
        }
    }
}

/// The default `io-threads`: one thread per core but one, at least one. As Redis's own
/// guidance for its I/O threads has it, a core is left to the kernel's network stack, the
/// background work (fsync, snapshots, expiry) and clients on the same host. On two cores with
/// the client beside the server, a second thread mostly adds hand-offs and lock waits:
/// benches/compare.py ran most data-type commands 8-40% faster with one, GET/SET over a million
/// keys about 7% slower.
pub fn default_io_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get().saturating_sub(1))
        .max(1)
}

impl Default for Settings {
    /// Redis 7's defaults, except `bind`, which takes the shipped redis.conf's loopback-only
    /// value rather than every interface: a cache reachable from anywhere by default is a risk.
    fn default() -> Self {
        Settings {
            port: 6379,
            bind: vec!["127.0.0.1".to_owned(), "-::1".to_owned()],
            protected_mode: true,
            bind_source_addr: String::new(),
            enable_debug_command: Permission::No,
            enable_protected_configs: Permission::No,
            renamed_commands: Vec::new(),
            databases: 16,
            io_threads: default_io_threads(),
            maxclients: 10_000,
            timeout_secs: 0,
            tcp_keepalive_secs: 300,
            tcp_backlog: 511,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            pidfile: String::new(),
            dir: PathBuf::from("."),
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            normal_output: OutputLimit::default(),
            pubsub_output: OutputLimit {
                hard_bytes: 32 * 1024 * 1024,
                soft_bytes: 8 * 1024 * 1024,
                soft_secs: 60,
            },
            encodings: Encodings::default(),
            memory: MemoryLimits::default(),
            replica_ignore_maxmemory: true,
            requirepass: None,
            users: Vec::new(),
            aclfile: String::new(),
            acllog_max_len: 128,
            acl_pubsub_default_all: false,
            hz: 10,
            notify_keyspace_events: Events::NONE,
            save_points: vec![(3600, 1), (300, 100), (60, 10_000)],
            dbfilename: "dump.rdb".to_owned(),
            rdbcompression: true,
            rdbchecksum: true,
            stop_writes_on_bgsave_error: true,
            aof: AofSettings::default(),
            repl: ReplSettings::default(),
            cluster: ClusterSettings::default(),
            tls: crate::tls::TlsSettings::default(),
        }
    }
}

/// Log verbosity, from most to least detailed (`nothing` silences the log, as in Redis 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
    Nothing,
}

impl LogLevel {
    /// Every level, in the order Redis lists them in its error message.
    const ALL: [LogLevel; 5] = [
        LogLevel::Debug,
        LogLevel::Verbose,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Nothing,
    ];

    /// The level's name in redis.conf and CONFIG GET.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Nothing => "nothing",
        }
    }

    /// The level named `name`, ignoring case.
    fn from_name(name: &[u8]) -> Option<LogLevel> {
        Self::ALL
            .into_iter()
            .find(|level| name.eq_ignore_ascii_case(level.name().as_bytes()))
    }
}

/// Parses a memory amount as Redis does: digits, then an optional case-insensitive unit,
/// `b` (bytes), `k` = 1000, `kb` = 1024, `m` = 1000², `mb` = 1024², `g` = 1000³, `gb` = 1024³.
/// Signs, spaces, fractions and amounts beyond `u64` are refused.
pub fn parse_memory(text: &str) -> Option<u64> {
    let unit_start = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(unit_start);
    if digits.is_empty() {
        return None;
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

/// A configuration that cannot be used; `Display` prints Redis's fatal message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    place: Place,
    reason: String,
}

/// Where a configuration error was found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// A line of configuration text; `file` names an included file (the main file and stdin
    /// are left unnamed, as in Redis's message).
    Line {
        file: Option<PathBuf>,
        number: usize,
        text: String,
    },
    /// A command-line option (`arg` as typed) and the directive it was read as.
    CommandLine { arg: String, text: String },
    /// A configuration file that could not be read.
    Open { path: PathBuf },
}

impl ConfigError {
    fn line(file: Option<PathBuf>, number: usize, text: &[u8], reason: String) -> ConfigError {
        let text = String::from_utf8_lossy(text).into_owned();
        ConfigError {
            place: Place::Line { file, number, text },
            reason,
        }
    }

    fn command_line(arg: &str, text: String, reason: String) -> ConfigError {
        ConfigError {
            place: Place::CommandLine {
                arg: arg.to_owned(),
                text,
            },
            reason,
        }
    }

    fn open(path: PathBuf, reason: String) -> ConfigError {
        ConfigError {
            place: Place::Open { path },
            reason,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = format!(
            "\n*** FATAL CONFIG FILE ERROR (slotkv {}) ***\n",
            env!("CARGO_PKG_VERSION")
        );
        match &self.place {
            Place::Open { path } => write!(
                f,
                "Fatal error, can't open config file '{}': {}",
                path.display(),
                self.reason
            ),
            Place::Line { file, number, text } => {
                let file = file
                    .as_ref()
                    .map(|path| format!(" '{}'", path.display()))
                    .unwrap_or_default();
                write!(
                    f,
                    "{header}Reading the configuration file{file}, at line {number}\n>>> '{text}'\n{}",
                    self.reason
                )
            }
            Place::CommandLine { arg, text } => write!(
                f,
                "{header}Reading the command line, at argument '{arg}'\n>>> '{text}'\n{}",
                self.reason
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The settings of the running server, changed by CONFIG SET all at once (readers see either
/// the old or the new settings, never a mix). Connections keep a copy of what they need and
/// refresh it when [`LiveConfig::generation`] moves, so the hot path takes no lock.
#[derive(Debug)]
pub struct LiveConfig {
    settings: RwLock<Settings>,
    generation: AtomicU64,
}

impl LiveConfig {
    pub fn new(settings: Settings) -> Self {
        LiveConfig {
            settings: RwLock::new(settings),
            generation: AtomicU64::new(0),
        }
    }

    /// A number that changes whenever CONFIG SET changes a setting.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A copy of the current settings.
    pub fn snapshot(&self) -> Settings {
        self.settings.read().clone()
    }

    /// The current settings, borrowed: keep the guard short, CONFIG SET waits for it.
    pub fn read(&self) -> impl Deref<Target = Settings> + '_ {
        self.settings.read()
    }

    /// CONFIG GET with one or more glob patterns (arguments after `CONFIG GET`): a map of
    /// directive to value, each name once. A name without glob characters is answered under
    /// the name as typed, a pattern's matches under their own names (aliases included), as
    /// Redis does.
    pub fn get(&self, patterns: &[Bytes]) -> Reply {
        let settings = self.settings.read();
        let mut answered: Vec<&[u8]> = Vec::new();
        let mut entries = Vec::new();
        for pattern in patterns {
            for (name, directive) in directives::matching(pattern) {
                if answered.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
                    continue;
                }
                answered.push(name);
                entries.push((Reply::bulk(name), Reply::text(directive.render(&settings))));
            }
        }
        Reply::Map(entries)
    }

    /// CONFIG SET with `name value` pairs (arguments after `CONFIG SET`): all applied or none.
    /// `peer` is the client's address, which `enable-protected-configs local` looks at.
    /// Returns the canonical names of the directives set, in argument order, so the server can
    /// apply their side effects (log level, engine limits).
    pub fn set(
        &self,
        args: &[Bytes],
        peer: &std::net::SocketAddr,
    ) -> Result<Vec<&'static str>, CommandError> {
        self.set_prepared(args, peer, |_, _| Ok(()))
            .map(|(names, ())| names)
    }

    /// CONFIG SET whose new settings must also pass `prepare` (given the names set and the new
    /// settings) before they replace the old ones: what `prepare` builds from them (a TLS
    /// context read from the new files) is returned with the names, and its error leaves the
    /// old settings in place. `peer` is the client's address (`enable-protected-configs`).
    pub fn set_prepared<T>(
        &self,
        args: &[Bytes],
        peer: &std::net::SocketAddr,
        prepare: impl FnOnce(&[&'static str], &Settings) -> Result<T, CommandError>,
    ) -> Result<(Vec<&'static str>, T), CommandError> {
        if args.is_empty() {
            return Err(CommandError::WrongArity("config|set".to_owned()));
        }
        if args.len() % 2 != 0 {
            return Err(CommandError::Syntax);
        }
        let pairs: Vec<(&Bytes, &Bytes)> = args
            .chunks_exact(2)
            .map(|pair| (&pair[0], &pair[1]))
            .collect();
        let protected_allowed = self.settings.read().enable_protected_configs.allows(peer);
        let targets = directives::settable(&pairs, protected_allowed)?;
        let mut settings = self.settings.write();
        let mut draft = settings.clone();
        for (directive, (_, value)) in targets.iter().zip(&pairs) {
            directive
                .apply(&mut draft, &[value.as_ref()])
                .map_err(|reason| set_failed(directive.name.as_bytes(), &reason))?;
        }
        let names: Vec<&'static str> = targets.iter().map(|directive| directive.name).collect();
        let prepared = prepare(&names, &draft)?;
        *settings = draft;
        self.generation.fetch_add(1, Ordering::Release);
        Ok((names, prepared))
    }
}

impl LiveConfig {
    /// CONFIG REWRITE: writes the current settings (and `runtime`) into the file at `path`.
    pub fn rewrite(
        &self,
        path: &std::path::Path,
        runtime: &RuntimeState,
    ) -> Result<(), RewriteError> {
        let settings = self.snapshot();
        rewrite::rewrite_file(path, &settings, runtime)
    }
}

/// CONFIG SET's error naming the argument at fault.
pub(crate) fn set_failed(name: &[u8], reason: &str) -> CommandError {
    CommandError::err(format!(
        "CONFIG SET failed (possibly related to argument '{}') - {reason}",
        String::from_utf8_lossy(name)
    ))
}

#[cfg(test)]
mod tests;
