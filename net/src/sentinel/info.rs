//! INFO on a sentinel: Redis Sentinel's sections (Server, Clients, Stats, CPU, Sentinel) in
//! Redis's text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use slotkv_engine::reply::Reply;

use super::core::Shared;
use crate::info::Fields;

/// A sentinel's sections in the order INFO prints them, with their titles.
const SECTIONS: [(&str, &str); 5] = [
    ("server", "Server"),
    ("clients", "Clients"),
    ("stats", "Stats"),
    ("cpu", "CPU"),
    ("sentinel", "Sentinel"),
];

/// `INFO [section ...]`: every section for none, `default`, `all` or `everything`; a name
/// that is no sentinel section adds nothing (so alone it gives an empty reply).
pub fn reply(shared: &Arc<Shared>, args: &[String]) -> Reply {
    let asked: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    let every = asked.is_empty()
        || asked
            .iter()
            .any(|a| matches!(a.as_str(), "default" | "all" | "everything"));
    let mut text = String::new();
    for (name, title) in SECTIONS {
        if !every && !asked.iter().any(|a| a == name) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        if name == "sentinel" {
            text.push_str(&shared.with(|core, now| core.machine.info_section(now)));
            continue;
        }
        let _ = write!(text, "# {title}\r\n");
        for (field, value) in fields(shared, name) {
            let _ = write!(text, "{field}:{value}\r\n");
        }
    }
    Reply::Bulk(Bytes::from(text))
}

fn fields(shared: &Arc<Shared>, section: &str) -> Fields {
    match section {
        "server" => server(shared),
        "clients" => clients(shared),
        "stats" => stats(shared),
        "cpu" => crate::info::cpu(),
        _ => Vec::new(),
    }
}

fn load(counter: &AtomicU64) -> String {
    counter.load(Ordering::Relaxed).to_string()
}

fn server(shared: &Arc<Shared>) -> Fields {
    let uptime = shared.now_ms() / 1000;
    vec![
        ("redis_version", crate::REDIS_VERSION.to_owned()),
        ("slotkv_version", env!("CARGO_PKG_VERSION").to_owned()),
        ("redis_mode", "sentinel".to_owned()),
        (
            "os",
            format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        ),
        ("arch_bits", usize::BITS.to_string()),
        ("process_id", std::process::id().to_string()),
        (
            "run_id",
            shared.with(|core, _| core.machine.myid().to_owned()),
        ),
        ("tcp_port", shared.port.to_string()),
        ("uptime_in_seconds", uptime.to_string()),
        ("uptime_in_days", (uptime / 86_400).to_string()),
        (
            "executable",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        ("config_file", shared.config_path.display().to_string()),
    ]
}

/// A sentinel has no blocking commands or client tracking: those counts are 0.
fn clients(shared: &Arc<Shared>) -> Fields {
    let zero = || "0".to_owned();
    vec![
        ("connected_clients", load(&shared.stats.connected)),
        ("cluster_connections", zero()),
        ("maxclients", shared.maxclients.to_string()),
        ("blocked_clients", zero()),
        ("tracking_clients", zero()),
        ("clients_in_timeout_table", zero()),
    ]
}

fn stats(shared: &Arc<Shared>) -> Fields {
    let stats = &shared.stats;
    let (channels, patterns) = shared.pubsub.lock().counts();
    vec![
        (
            "total_connections_received",
            load(&stats.connections_received),
        ),
        ("total_commands_processed", load(&stats.commands_processed)),
        ("rejected_connections", load(&stats.connections_rejected)),
        ("pubsub_channels", channels.to_string()),
        ("pubsub_patterns", patterns.to_string()),
    ]
}
