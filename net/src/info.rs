//! INFO: the server's state in Redis's text format (`# Section` headers, `field:value` lines,
//! CRLF line ends) with Redis's field names, so monitoring tools and client libraries that parse
//! it keep working.

use std::fmt::Write as _;

use bytes::Bytes;
use slotkv_engine::counter::StripedCounter;
use slotkv_engine::Reply;

use crate::connection::ClientState;
use crate::memory;
use crate::resp::Protocol;
use crate::server::Shared;

/// Sections in the order INFO prints them, with their titles.
const SECTIONS: [(&str, &str); 9] = [
    ("server", "Server"),
    ("clients", "Clients"),
    ("memory", "Memory"),
    ("persistence", "Persistence"),
    ("stats", "Stats"),
    ("replication", "Replication"),
    ("cpu", "CPU"),
    ("cluster", "Cluster"),
    ("keyspace", "Keyspace"),
];

/// The reply to `INFO [section ...]`.
pub fn reply(shared: &Shared, client: &ClientState, args: &[Bytes]) -> Reply {
    let text = render(shared, &requested_sections(args));
    match client.protocol {
        Protocol::Resp3 => Reply::Verbatim(Bytes::from(text)),
        Protocol::Resp2 => Reply::Bulk(Bytes::from(text)),
    }
}

fn requested_sections(args: &[Bytes]) -> Vec<(&'static str, &'static str)> {
    let asked: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let everything = asked.iter().any(|a| a == "all" || a == "everything");
    let defaults = asked.is_empty() || asked.iter().any(|a| a == "default");
    SECTIONS
        .iter()
        .filter(|(name, _)| everything || defaults || asked.iter().any(|a| a == name))
        .copied()
        .collect()
}

/// Renders the named sections, given as (name, title) pairs.
pub fn render(shared: &Shared, sections: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (index, (section, title)) in sections.iter().enumerate() {
        if index > 0 {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {title}\r\n");
        let fields = match *section {
            "server" => server(shared),
            "clients" => clients(shared),
            "memory" => memory_fields(shared),
            "persistence" => persistence(shared),
            "stats" => stats(shared),
            "replication" => {
                for (name, value) in shared.replication.info_fields(shared) {
                    let _ = write!(out, "{name}:{value}\r\n");
                }
                Vec::new()
            }
            "cpu" => cpu(),
            "cluster" => vec![(
                "cluster_enabled",
                u8::from(shared.cluster.is_some()).to_string(),
            )],
            "keyspace" => {
                write_keyspace(shared, &mut out);
                Vec::new()
            }
            _ => Vec::new(),
        };
        for (name, value) in fields {
            let _ = write!(out, "{name}:{value}\r\n");
        }
    }
    out
}

/// A section's `(field, value)` lines.
pub(crate) type Fields = Vec<(&'static str, String)>;

fn server(shared: &Shared) -> Fields {
    let settings = shared.config.read();
    let uptime = shared.started.elapsed().as_secs();
    let now_us = shared.engine.clock().now_us();
    vec![
        ("redis_version", crate::REDIS_VERSION.to_owned()),
        ("slotkv_version", env!("CARGO_PKG_VERSION").to_owned()),
        ("redis_git_sha1", "00000000".to_owned()),
        ("redis_git_dirty", "0".to_owned()),
        ("redis_build_id", "0".to_owned()),
        ("redis_mode", "standalone".to_owned()),
        (
            "os",
            format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        ),
        ("arch_bits", (usize::BITS).to_string()),
        ("monotonic_clock", "POSIX clock_gettime".to_owned()),
        ("multiplexing_api", "epoll".to_owned()),
        ("atomicvar_api", "c11-builtin".to_owned()),
        ("gcc_version", "0.0.0".to_owned()),
        ("process_id", std::process::id().to_string()),
        ("process_supervised", "no".to_owned()),
        ("run_id", shared.run_id.clone()),
        ("tcp_port", shared.port.to_string()),
        ("server_time_usec", now_us.to_string()),
        ("uptime_in_seconds", uptime.to_string()),
        ("uptime_in_days", (uptime / 86_400).to_string()),
        ("hz", settings.hz.to_string()),
        ("configured_hz", settings.hz.to_string()),
        (
            "lru_clock",
            ((now_us / 1_000_000) & ((1 << 24) - 1)).to_string(),
        ),
        (
            "executable",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "config_file",
            shared
                .config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "io_threads_active",
            u8::from(shared.config.read().io_threads > 1).to_string(),
        ),
    ]
}

fn clients(shared: &Shared) -> Fields {
    vec![
        ("connected_clients", shared.clients.len().to_string()),
        ("cluster_connections", "0".to_owned()),
        ("maxclients", shared.config.read().maxclients.to_string()),
        (
            "client_recent_max_input_buffer",
            shared.clients.max_query_buffer().to_string(),
        ),
        (
            "client_recent_max_output_buffer",
            shared.clients.recent_max_output_buffer().to_string(),
        ),
        (
            "blocked_clients",
            shared.clients.blocked_count().to_string(),
        ),
        ("tracking_clients", "0".to_owned()),
        ("clients_in_timeout_table", "0".to_owned()),
    ]
}

fn memory_fields(shared: &Shared) -> Fields {
    let limits = shared.engine.memory_limits();
    let reading = memory::read();
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            "0.00".to_owned()
        } else {
            format!("{:.2}", a as f64 / b as f64)
        }
    };
    vec![
        ("used_memory", reading.allocated_bytes.to_string()),
        (
            "used_memory_human",
            memory::human_bytes(reading.allocated_bytes),
        ),
        ("used_memory_rss", reading.rss_bytes.to_string()),
        (
            "used_memory_rss_human",
            memory::human_bytes(reading.rss_bytes),
        ),
        ("used_memory_peak", reading.peak_bytes.to_string()),
        (
            "used_memory_peak_human",
            memory::human_bytes(reading.peak_bytes),
        ),
        ("allocator_allocated", reading.allocated_bytes.to_string()),
        ("allocator_active", reading.active_bytes.to_string()),
        (
            "allocator_resident",
            reading.allocator_resident_bytes.to_string(),
        ),
        ("maxmemory", limits.maxmemory_bytes.to_string()),
        (
            "maxmemory_human",
            memory::human_bytes(limits.maxmemory_bytes),
        ),
        ("maxmemory_policy", limits.policy.name().to_owned()),
        (
            "mem_fragmentation_ratio",
            ratio(reading.rss_bytes, reading.allocated_bytes),
        ),
        ("mem_allocator", "jemalloc-5.3.0".to_owned()),
    ]
}

fn persistence(shared: &Shared) -> Fields {
    let mut fields = crate::persist::info_fields(shared);
    fields.extend(shared.aof.info_fields());
    fields
}

fn stats(shared: &Shared) -> Fields {
    let server = &shared.stats;
    let engine = shared.engine.stats();
    let load = |counter: &StripedCounter| counter.get().to_string();
    vec![
        (
            "total_connections_received",
            load(&server.connections_received),
        ),
        ("total_commands_processed", load(&server.commands_processed)),
        (
            "instantaneous_ops_per_sec",
            server.ops_per_sec().to_string(),
        ),
        ("total_net_input_bytes", load(&server.net_input_bytes)),
        ("total_net_output_bytes", load(&server.net_output_bytes)),
        ("rejected_connections", load(&server.connections_rejected)),
        ("sync_full", relaxed(&shared.replication.syncs.full)),
        (
            "sync_partial_ok",
            relaxed(&shared.replication.syncs.partial_ok),
        ),
        (
            "sync_partial_err",
            relaxed(&shared.replication.syncs.partial_err),
        ),
        ("expired_keys", engine.expired_keys.to_string()),
        ("evicted_keys", engine.evicted_keys.to_string()),
        ("keyspace_hits", engine.keyspace_hits.to_string()),
        ("keyspace_misses", engine.keyspace_misses.to_string()),
        ("pubsub_channels", shared.pubsub.channel_count().to_string()),
        ("pubsub_patterns", shared.pubsub.pattern_count().to_string()),
        ("total_error_replies", load(&server.error_replies)),
        ("acl_access_denied_auth", relaxed(&shared.acl.denied.auth)),
        ("acl_access_denied_cmd", relaxed(&shared.acl.denied.cmd)),
        ("acl_access_denied_key", relaxed(&shared.acl.denied.key)),
        (
            "acl_access_denied_channel",
            relaxed(&shared.acl.denied.channel),
        ),
    ]
}

fn relaxed(counter: &std::sync::atomic::AtomicU64) -> String {
    counter
        .load(std::sync::atomic::Ordering::Relaxed)
        .to_string()
}

/// The CPU section (a sentinel's INFO shows it too).
pub(crate) fn cpu() -> Fields {
    let (sys, user) = memory::cpu_seconds();
    vec![
        ("used_cpu_sys", format!("{sys:.6}")),
        ("used_cpu_user", format!("{user:.6}")),
        ("used_cpu_sys_children", "0.000000".to_owned()),
        ("used_cpu_user_children", "0.000000".to_owned()),
    ]
}

/// One `dbN:keys=..,expires=..,avg_ttl=..` line per non-empty database.
fn write_keyspace(shared: &Shared, out: &mut String) {
    let engine = &shared.engine;
    for db in 0..engine.databases() {
        let keys = engine.key_count(db);
        if keys > 0 {
            let expires = engine.volatile_count(db);
            let avg_ttl = engine.average_ttl_ms(db);
            let _ = write!(
                out,
                "db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
            );
        }
    }
}
