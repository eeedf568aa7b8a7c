//! Logging through `tracing`, with the level taken from `loglevel` and changeable at run time
//! (CONFIG SET loglevel).

use std::sync::OnceLock;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::reload;

use crate::config::LogLevel;

type ReloadHandle = reload::Handle<LevelFilter, tracing_subscriber::Registry>;

static RELOAD: OnceLock<ReloadHandle> = OnceLock::new();

/// Redis's levels mapped onto tracing's: verbose is debug detail, notice is info.
fn filter_for(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Debug => LevelFilter::TRACE,
        LogLevel::Verbose => LevelFilter::DEBUG,
        LogLevel::Notice => LevelFilter::INFO,
        LogLevel::Warning => LevelFilter::WARN,
        LogLevel::Nothing => LevelFilter::OFF,
    }
}

/// Installs the process-wide subscriber writing to stdout or to `logfile` (appending).
pub fn init(level: LogLevel, logfile: &str) -> std::io::Result<()> {
    let (filter, handle) = reload::Layer::new(filter_for(level));
    let registry = tracing_subscriber::registry().with(filter);
    if logfile.is_empty() {
        let layer = tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_writer(std::io::stdout);
        // A second init (tests that start several servers in one process) keeps the first.
        let _ = registry.with(layer).try_init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)?;
        let layer = tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file));
        let _ = registry.with(layer).try_init();
    }
    let _ = RELOAD.set(handle);
    Ok(())
}

/// Applies a new level (CONFIG SET loglevel).
pub fn set_level(level: LogLevel) {
    if let Some(handle) = RELOAD.get() {
        let _ = handle.modify(|filter| *filter = filter_for(level));
    }
}
