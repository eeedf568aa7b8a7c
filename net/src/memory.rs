//! Memory figures for INFO: the allocator's own count of allocated bytes (the server binary runs
//! on jemalloc, whose statistics are exact and cheap to read) and the process's resident set.

use std::sync::atomic::{AtomicU64, Ordering};

use tikv_jemalloc_ctl::{epoch, stats};

/// Highest `used_memory` seen, for `used_memory_peak`.
static PEAK_BYTES: AtomicU64 = AtomicU64::new(0);

/// A reading of the process's memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryReading {
    /// Bytes allocated through the allocator (`used_memory`).
    pub allocated_bytes: u64,
    /// Bytes in pages the allocator holds active (`allocator_active`).
    pub active_bytes: u64,
    /// Bytes resident per the allocator (`allocator_resident`).
    pub allocator_resident_bytes: u64,
    /// Resident set size of the process (`used_memory_rss`).
    pub rss_bytes: u64,
    /// Highest allocated figure seen so far (`used_memory_peak`).
    pub peak_bytes: u64,
}

/// Reads the allocator statistics and the resident set size now.
pub fn read() -> MemoryReading {
    // jemalloc caches its statistics; advancing the epoch refreshes them.
    let _ = epoch::advance();
    let allocated_bytes = stats::allocated::read().unwrap_or(0) as u64;
    let peak_bytes = PEAK_BYTES
        .fetch_max(allocated_bytes, Ordering::Relaxed)
        .max(allocated_bytes);
    MemoryReading {
        allocated_bytes,
        active_bytes: stats::active::read().unwrap_or(0) as u64,
        allocator_resident_bytes: stats::resident::read().unwrap_or(0) as u64,
        rss_bytes: resident_set_bytes(),
        peak_bytes,
    }
}

/// Resident set size from /proc/self/statm (0 where /proc is absent).
fn resident_set_bytes() -> u64 {
    const PAGE_BYTES: u64 = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * PAGE_BYTES)
}

/// Formats bytes as Redis's `_human` fields do: `1.50M`, `912B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("P", 1 << 50),
        ("T", 1 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ];
    for (suffix, size) in UNITS {
        if bytes >= size {
            return format!("{:.2}{suffix}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}

/// CPU time used by the process as (system, user) seconds, from /proc/self/stat.
pub fn cpu_seconds() -> (f64, f64) {
    // Kernel clock ticks are 100 per second on every Linux architecture slotkv targets.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(12) / TICKS_PER_SECOND, ticks(11) / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_look_like_redis() {
        assert_eq!(human_bytes(912), "912B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(100 * 1024 * 1024), "100.00M");
    }

    #[test]
    fn process_figures_are_read() {
        assert!(resident_set_bytes() > 0);
        let (sys, user) = cpu_seconds();
        assert!(sys >= 0.0 && user >= 0.0);
    }
}
