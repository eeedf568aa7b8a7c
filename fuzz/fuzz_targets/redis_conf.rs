//! Fuzz target: redis.conf lines (`slotkv_net::config::split_config_line` and
//! `apply_directive`, the path every file, include and sentinel.conf line takes).
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run redis_conf -- -max_total_time=60
//! ```
//!
//! For any text: splitting and applying lines never panics, and the settings reached render
//! through CONFIG GET, whose every value CONFIG SET accepts back, leaving the settings as they
//! were (what a client copying a configuration relies on). `include` lines are skipped: they
//! read files.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use slotkv_engine::Reply;
use slotkv_net::config::{apply_directive, split_config_line, LiveConfig, Settings};

/// Lines not applied: they read files.
const NOT_ROUND_TRIPPED: [&str; 4] = ["include", "dir", "aclfile", "user"];

fuzz_target!(|data: &[u8]| {
    let mut settings = Settings::default();
    for line in data.split(|&b| b == b'\n').take(64) {
        let Some(words) = split_config_line(line) else {
            continue;
        };
        let Some((name, values)) = words.split_first() else {
            continue;
        };
        if NOT_ROUND_TRIPPED
            .iter()
            .any(|skip| name.eq_ignore_ascii_case(skip.as_bytes()))
        {
            continue;
        }
        let values: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let _ = apply_directive(&mut settings, name, &values);
    }
    let live = LiveConfig::new(settings.clone());
    let Reply::Map(pairs) = live.get(&[Bytes::from_static(b"*")]) else {
        panic!("CONFIG GET * is not a map");
    };
    for (name, value) in pairs {
        let (Some(name), Some(value)) = (text(&name), text(&value)) else {
            panic!("CONFIG GET rendered a non-text pair");
        };
        if NOT_ROUND_TRIPPED.contains(&name.as_str()) {
            continue;
        }
        let pair = [Bytes::from(name.clone()), Bytes::from(value.clone())];
        // A loopback caller, so protected configs follow `enable-protected-configs local`.
        let caller = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
        match live.set(&pair, &caller) {
            Ok(_) => {}
            Err(error) => {
                let error = error.to_string();
                let fixed = error.contains("immutable") || error.contains("protected");
                assert!(fixed, "CONFIG SET {name} {value:?} refused: {error}");
                continue;
            }
        }
        assert!(
            live.snapshot() == settings,
            "CONFIG SET {name} {value:?} changed the settings"
        );
    }
});

fn text(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Bulk(bytes) => String::from_utf8(bytes.to_vec()).ok(),
        Reply::Simple(text) => Some(text.clone()),
        _ => None,
    }
}
