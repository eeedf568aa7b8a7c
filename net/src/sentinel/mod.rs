//! Sentinel mode: `slotkv-server /path/sentinel.conf --sentinel` (or the binary run as
//! `slotkv-sentinel`) runs the [`slotkv_sentinel`] state machine behind a RESP server on
//! port 26379 instead of the keyspace server.
//!
//! - `core`: the machine behind a lock, its clock, links, events and sentinel.conf rewrites.
//! - `link`: outbound links to monitored servers (commands, hello subscription) and to the
//!   other sentinels.
//! - `server`: the client side: SENTINEL, ROLE, INFO, AUTH, SUBSCRIBE to events, under
//!   `maxclients`.
//! - `info`: INFO's sections on a sentinel.

mod core;
mod info;
mod link;
mod server;

use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use slotkv_sentinel::config::SentinelConfig;
use slotkv_sentinel::Sentinel;

use crate::config::{apply_directive, split_config_line, Settings};

/// Redis Sentinel's default port.
pub const DEFAULT_PORT: u16 = 26379;
const CONFIG_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Whether the command line asks for sentinel mode: `--sentinel` anywhere, or a program
/// named `slotkv-sentinel` (or `redis-sentinel`).
pub fn requested(program: &str, args: &[String]) -> bool {
    let name = Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    name.ends_with("-sentinel") || args.iter().any(|a| a == "--sentinel")
}

/// Runs sentinel mode with `args` (without the program name): the config file first, then
/// `--name value` options.
pub fn main(args: &[String]) -> ExitCode {
    match load(args).and_then(|(settings, config, path)| run(settings, config, path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn load(args: &[String]) -> Result<(Settings, SentinelConfig, PathBuf), String> {
    let args: Vec<&String> = args.iter().filter(|a| *a != "--sentinel").collect();
    let Some((file, options)) = args.split_first() else {
        return Err("Sentinel needs config file on disk to save state. Exiting...".into());
    };
    if file.starts_with('-') {
        return Err("Sentinel needs config file on disk to save state. Exiting...".into());
    }
    let path = std::path::absolute(file).map_err(|e| format!("{file}: {e}"))?;
    // The state is kept in the file: a sentinel that could not save it must not start.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .open(&path)
        .map_err(|e| {
            format!(
                "Sentinel config file {} is not writable: {e}. Exiting...",
                path.display()
            )
        })?;
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, CONFIG_BYTES_MAX), &mut text)
        .map_err(|e| format!("Can't read {}: {e}", path.display()))?;
    let mut settings = Settings {
        port: DEFAULT_PORT,
        ..Settings::default()
    };
    let mut config = SentinelConfig::default();
    let mut lines: Vec<Vec<Vec<u8>>> = Vec::new();
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let words = split_config_line(line).ok_or_else(|| {
            format!(
                "line {}: Unbalanced quotes in configuration line",
                index + 1
            )
        })?;
        lines.push(words);
    }
    let mut pending: Option<Vec<Vec<u8>>> = None;
    for option in options {
        if let Some(name) = option.strip_prefix("--") {
            lines.extend(pending.take());
            pending = Some(vec![name.as_bytes().to_vec()]);
        } else if let Some(line) = pending.as_mut() {
            line.push(option.as_bytes().to_vec());
        }
    }
    lines.extend(pending);
    for words in lines {
        apply_line(&mut settings, &mut config, &words)?;
    }
    // Before the runtime starts: blocking on DNS here holds nothing else up.
    config.resolve_monitored_hosts(lookup)?;
    Ok((settings, config, path))
}

/// The first address the system resolver gives for `host` (getaddrinfo's order, the one
/// Redis takes), or `None` when it resolves to nothing. Blocks while the resolver works.
fn lookup(host: &str) -> Option<IpAddr> {
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

fn apply_line(
    settings: &mut Settings,
    config: &mut SentinelConfig,
    words: &[Vec<u8>],
) -> Result<(), String> {
    let Some((name, values)) = words.split_first() else {
        return Ok(());
    };
    let text = |w: &Vec<u8>| String::from_utf8_lossy(w).into_owned();
    if name.eq_ignore_ascii_case(b"sentinel") {
        let values: Vec<String> = values.iter().map(text).collect();
        return config
            .apply(&values)
            .map_err(|reason| format!("sentinel {}: {reason}", values.join(" ")));
    }
    let values: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    apply_directive(settings, name, &values)
        .map_err(|reason| format!("{}: {reason}", text(&name.to_vec())))
}

fn run(settings: Settings, config: SentinelConfig, path: PathBuf) -> Result<(), String> {
    crate::logging::init(settings.loglevel, &settings.logfile)
        .map_err(|e| format!("Can't open the log file {}: {e}", settings.logfile))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("slotkv-sentinel")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(settings, config, path))
}

/// Listens on `port` at each of `binds`; nothing when `port` is `None`.
async fn bind_each(
    binds: &[String],
    port: Option<u16>,
) -> Result<Vec<tokio::net::TcpListener>, String> {
    let Some(port) = port else {
        return Ok(Vec::new());
    };
    let mut listeners = Vec::new();
    for host in binds {
        let listener = tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .map_err(|e| {
                format!("Could not create server TCP listening socket {host}:{port}: {e}")
            })?;
        listeners.push(listener);
    }
    Ok(listeners)
}

async fn serve(settings: Settings, config: SentinelConfig, path: PathBuf) -> Result<(), String> {
    let binds: Vec<String> = if settings.bind.is_empty() {
        vec!["0.0.0.0".into()]
    } else {
        settings
            .bind
            .iter()
            .map(|b| b.trim_start_matches('-').to_owned())
            .collect()
    };
    let tls = crate::tls::TlsContext::build(&settings.tls)
        .map_err(|e| format!("Failed to configure TLS: {e}"))?;
    // `port 0` with a `tls-port`: TLS only, as for the server.
    let plain_port = (settings.port != 0 || settings.tls.port == 0).then_some(settings.port);
    let listeners = bind_each(&binds, plain_port).await?;
    let tls_listeners = bind_each(
        &binds,
        (settings.tls.port != 0).then_some(settings.tls.port),
    )
    .await?;
    let bound = |listeners: &[tokio::net::TcpListener]| {
        listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    };
    // Other sentinels reach this one where its links go: the TLS port under tls-replication.
    let port = match (settings.tls.replication, bound(&tls_listeners)) {
        (true, Some(tls_port)) => tls_port,
        _ => bound(&listeners)
            .or(bound(&tls_listeners))
            .unwrap_or(settings.port),
    };
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| {
                u64::try_from(d.as_nanos() & u128::from(u64::MAX)).unwrap_or(0)
            });
    let machine = Sentinel::new(config, port, seed, 0);
    let client_port = bound(&listeners).unwrap_or(settings.port);
    let shared = core::Shared::new(machine, path, &settings, tls, client_port);
    shared.with(|core, _| {
        tracing::warn!("Sentinel ID is {}", core.machine.myid());
    });
    if !settings.pidfile.is_empty() {
        std::fs::write(&settings.pidfile, format!("{}\n", std::process::id()))
            .map_err(|e| format!("Failed to write PID file {}: {e}", settings.pidfile))?;
    }
    tracing::info!(
        "Sentinel (slotkv {}) pid={} port={port}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    for listener in listeners {
        tokio::spawn(server::serve(shared.clone(), listener, false));
    }
    for listener in tls_listeners {
        tokio::spawn(server::serve(shared.clone(), listener, true));
    }
    let timer = tokio::spawn(shared.clone().run_timer());
    let signals = shared.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            let _ = signals.shutdown.send(true);
        }
    });
    let _ = timer.await;
    if !settings.pidfile.is_empty() {
        let _ = std::fs::remove_file(&settings.pidfile);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn sentinel_mode_is_asked_by_flag_or_by_name() {
        assert!(requested("/usr/bin/slotkv-sentinel", &[]));
        assert!(requested("redis-sentinel", &[]));
        assert!(requested(
            "slotkv-server",
            &strings(&["s.conf", "--sentinel"])
        ));
        assert!(!requested(
            "slotkv-server",
            &strings(&["s.conf", "--port", "1"])
        ));
    }

    #[test]
    fn reads_sentinel_conf_then_command_line_options() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sentinel.conf");
        std::fs::write(
            &path,
            "# comment\nport 26390\nsentinel monitor m 127.0.0.1 6379 2\n\
             sentinel down-after-milliseconds m 1000\n",
        )
        .expect("write");
        let file = path.display().to_string();
        let (settings, config, read_path) =
            load(&strings(&[&file, "--sentinel", "--port", "26391"])).expect("load");
        assert_eq!(settings.port, 26391, "options come after the file");
        assert_eq!(read_path, path);
        assert_eq!(config.masters[0].settings.quorum, 2);
        assert_eq!(config.masters[0].settings.down_after_ms, 1000);
        std::fs::write(&path, "sentinel monitor m 127.0.0.1 6379 2\n").expect("write");
        let (settings, _, _) = load(&strings(&[&file])).expect("load");
        assert_eq!(settings.port, DEFAULT_PORT);
        std::fs::write(&path, "sentinel bogus\n").expect("write");
        let error = load(&strings(&[&file])).expect_err("bad line");
        assert!(
            error.contains("Unrecognized sentinel configuration statement."),
            "{error}"
        );
        assert!(
            load(&strings(&["--port", "1"])).is_err(),
            "a file is required"
        );
    }
}
