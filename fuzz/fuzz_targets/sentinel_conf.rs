//! Fuzz target: sentinel.conf (`slotkv_sentinel::config`), read as sentinel mode reads it:
//! lines split as redis.conf lines are, `sentinel ...` lines applied to a `SentinelConfig`.
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run sentinel_conf -- -max_total_time=60
//! ```
//!
//! For any text: reading never panics, and the file a rewrite produces from the configuration
//! reached reads back to the same configuration (a restarted sentinel finds what it wrote).

#![no_main]

use libfuzzer_sys::fuzz_target;
use slotkv_net::config::split_config_line;
use slotkv_sentinel::config::{rewrite, SentinelConfig};

fn split(line: &str) -> Option<Vec<String>> {
    split_config_line(line.as_bytes()).map(|words| {
        words
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect()
    })
}

/// Applies every `sentinel` line of `text`, ignoring the ones refused.
fn read(text: &str) -> SentinelConfig {
    let mut config = SentinelConfig::default();
    for line in text.lines() {
        let Some(words) = split(line.trim()) else {
            continue;
        };
        let Some((first, rest)) = words.split_first() else {
            continue;
        };
        if first.eq_ignore_ascii_case("sentinel") {
            let _ = config.apply(rest);
        }
    }
    config
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let config = read(&text);
    let written = rewrite(&text, &config, split);
    let again = read(&written);
    assert_eq!(
        again, config,
        "a rewritten sentinel.conf reads back differently:\n{written}"
    );
});
