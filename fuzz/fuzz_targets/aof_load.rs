//! Fuzz target for the AOF loader and check tool (`slotkv_persistence::aof`).
//!
//! Run it (cargo-fuzz and a nightly toolchain needed):
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run aof_load -- -max_total_time=60
//! ```
//!
//! The input is an incremental file after an empty base. For any input: the check tool's scan
//! and the loader (replaying into a fresh engine, truncated tails cut off) never panic nor
//! allocate without bound, and they agree: whatever the scan calls truncated or corrupt, the
//! loader does not load past the same offset; a file it cut back scans as valid.

#![no_main]

use std::path::PathBuf;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use slotkv_engine::{Config, Engine};
use slotkv_persistence::aof::check::{scan, FileStatus};
use slotkv_persistence::aof::{load, LoadOptions};

fn workdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slotkv-fuzz-aof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .expect("manifest");
    std::fs::write(dir.join("appendonly.aof.1.base.aof"), b"").expect("base");
    dir
}

fuzz_target!(|data: &[u8]| {
    let status = scan(&Bytes::copy_from_slice(data));
    let dir = workdir();
    let incr = dir.join("appendonly.aof.1.incr.aof");
    std::fs::write(&incr, data).expect("incr");
    let engine = Engine::open(Config {
        active_expiry: false,
        ..Config::default()
    })
    .expect("engine");
    let loaded = load(&dir, "appendonly.aof", &engine, LoadOptions::default());
    if let (Ok(Some(report)), FileStatus::Truncated { valid_len }) = (&loaded, &status) {
        if let Some((_, cut)) = &report.truncated {
            assert_eq!(cut, valid_len, "scan and loader cut at the same offset");
            let rest = std::fs::read(&incr).expect("read back");
            let rescanned = scan(&Bytes::from(rest));
            assert!(
                matches!(rescanned, FileStatus::Valid { .. }),
                "{rescanned:?}"
            );
        }
    }
});
