//! `slotkv-server [/path/to/redis.conf] [--directive value ...]`: starts the RESP server, as
//! redis-server is started.

use std::process::ExitCode;

use slotkv_net::config::{parse_invocation, Invocation, Settings};
use slotkv_net::server::Server;

/// jemalloc: fast for many small allocations across threads, and its statistics give INFO
/// an exact `used_memory`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let program = std::env::args().next().unwrap_or_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if slotkv_net::sentinel::requested(&program, &args) {
        return slotkv_net::sentinel::main(&args);
    }
    if args.first().map(String::as_str) == Some("--check-aof") {
        return check_aof(&args[1..]);
    }
    let (settings, config_file) = match parse_invocation(&args) {
        Ok(Invocation::Run {
            settings,
            config_file,
        }) => (settings, config_file),
        Ok(Invocation::Version) => {
            println_out(&format!(
                "slotkv-server v={} (Redis {} compatible)",
                env!("CARGO_PKG_VERSION"),
                slotkv_net::REDIS_VERSION
            ));
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Help) => {
            println_out(USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    match run(settings, config_file) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "Usage: slotkv-server [/path/to/redis.conf] [options]\n\
       slotkv-server - (read config from stdin)\n\
       slotkv-server -v or --version\n\
       slotkv-server -h or --help\n\
       slotkv-server --check-aof [--fix] <file.manifest|file.aof>\n\
       slotkv-server /path/to/sentinel.conf --sentinel\n\n\
Examples:\n\
       slotkv-server (run the server with default config)\n\
       slotkv-server /etc/redis/6379.conf\n\
       slotkv-server --port 7777\n\
       slotkv-server /etc/myredis.conf --loglevel verbose";

/// `--check-aof [--fix] <file.manifest|file.aof>`: reports each file's state (and repairs the
/// last one with `--fix`), as redis-check-aof does. Exits 0 when everything is valid or was
/// fixed.
fn check_aof(args: &[String]) -> ExitCode {
    let fix = args.iter().any(|arg| arg == "--fix");
    let paths: Vec<&String> = args.iter().filter(|arg| *arg != "--fix").collect();
    let [path] = paths.as_slice() else {
        eprintln!("Usage: slotkv-server --check-aof [--fix] <file.manifest|file.aof>");
        return ExitCode::FAILURE;
    };
    match slotkv_persistence::aof::check::check(std::path::Path::new(path), fix) {
        Ok(files) => {
            let mut healthy = true;
            for file in &files {
                println_out(&file.to_string());
                let valid = matches!(
                    file.status,
                    slotkv_persistence::aof::check::FileStatus::Valid { .. }
                );
                healthy &= valid || file.fixed;
            }
            if healthy {
                ExitCode::SUCCESS
            } else {
                println_out("AOF is not valid. Use the --fix option to try fixing it.");
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)]
fn println_out(text: &str) {
    println!("{text}");
}

fn run(settings: Settings, config_file: Option<std::path::PathBuf>) -> Result<(), String> {
    slotkv_net::logging::init(settings.loglevel, &settings.logfile)
        .map_err(|e| format!("Can't open the log file {}: {e}", settings.logfile))?;
    if settings.dir != std::path::Path::new(".") {
        std::env::set_current_dir(&settings.dir)
            .map_err(|e| format!("Can't chdir to '{}': {e}", settings.dir.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.io_threads)
        .enable_all()
        .thread_name("slotkv-io")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(settings, config_file))
}

async fn serve(settings: Settings, config_file: Option<std::path::PathBuf>) -> Result<(), String> {
    let pidfile = settings.pidfile.clone();
    let hz = settings.hz;
    let server = Server::bind(settings, config_file)
        .await
        .map_err(|e| e.to_string())?;
    server.shared().engine.set_hz(hz);
    // jemalloc's background threads give freed pages back to the system as Redis has them
    // do, so the resident set follows the memory in use after evictions and deletes.
    if let Err(error) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!("jemalloc background threads not started: {error}");
    }
    // Under jemalloc (this binary's allocator) maxmemory is held against its exact figure.
    server.shared().engine.set_memory_gauge(std::sync::Arc::new(
        slotkv_net::memory::AllocatorGauge::default(),
    ));
    if !pidfile.is_empty() {
        std::fs::write(&pidfile, format!("{}\n", std::process::id()))
            .map_err(|e| format!("Failed to write PID file {pidfile}: {e}"))?;
    }
    let addresses: Vec<String> = server
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    tracing::info!(
        "slotkv {} (Redis {} compatible) pid={} listening on {}",
        env!("CARGO_PKG_VERSION"),
        slotkv_net::REDIS_VERSION,
        std::process::id(),
        addresses.join(", ")
    );
    tracing::info!("Ready to accept connections tcp");
    let shared = server.shared().clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::warn!("Received a termination signal, scheduling shutdown...");
        shared.request_shutdown();
    });
    server.run().await;
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the default action (exit) still applies.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}
