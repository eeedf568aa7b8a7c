//! Memory figures: the allocator's own count of allocated bytes (the server binary runs on
//! jemalloc, whose statistics are exact) and the process's resident set, for INFO and for the
//! engine's `maxmemory` checks ([`AllocatorGauge`]).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use parking_lot::Mutex;
use slotkv_engine::{Engine, MaxmemoryPolicy, MemoryGauge, Reply};
use tikv_jemalloc_ctl::thread::{self, ThreadLocal};
use tikv_jemalloc_ctl::{epoch, epoch_mib, stats};

/// How long the gauge trusts its last global reading. Refreshing jemalloc's statistics costs
/// about 30 µs, so it is done at most 200 times a second.
const GAUGE_REFRESH_US: u64 = 5_000;

/// The engine's view of memory in use: jemalloc's allocated bytes as of the last refresh, plus
/// what the asking thread allocated (net of what it freed) since, from jemalloc's per-thread
/// counters. A pipelined batch runs on one thread and evictions run on the thread that needs
/// the room, so a writer sees its own growth and its evictions at once; other threads' growth
/// shows at the next refresh, at most 5 ms later.
#[derive(Debug)]
pub struct AllocatorGauge {
    started: Instant,
    cached_bytes: AtomicU64,
    refreshed_at_us: AtomicU64,
    /// Bumped by every refresh, so each thread knows when to take a new baseline.
    generation: AtomicU64,
    refreshing: Mutex<()>,
}

/// A thread's jemalloc counters and its net allocation when it first asked after a refresh.
#[derive(Clone, Copy)]
struct OwnCounters {
    allocated: ThreadLocal<u64>,
    deallocated: ThreadLocal<u64>,
    generation: u64,
    baseline_net: u64,
}

impl OwnCounters {
    /// This thread's bytes allocated minus bytes freed, since it started (wrapping).
    fn net(&self) -> u64 {
        self.allocated.get().wrapping_sub(self.deallocated.get())
    }
}

thread_local! {
    static OWN: Cell<Option<OwnCounters>> = const { Cell::new(None) };
}

/// The calling thread's counters, looked up once per thread.
fn own_counters() -> Option<OwnCounters> {
    OWN.with(Cell::get).or_else(|| {
        Some(OwnCounters {
            allocated: thread::allocatedp::read().ok()?,
            deallocated: thread::deallocatedp::read().ok()?,
            generation: u64::MAX,
            baseline_net: 0,
        })
    })
}

impl Default for AllocatorGauge {
    fn default() -> Self {
        let gauge = AllocatorGauge {
            started: Instant::now(),
            cached_bytes: AtomicU64::new(0),
            refreshed_at_us: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            refreshing: Mutex::new(()),
        };
        gauge.refresh();
        gauge
    }
}

impl AllocatorGauge {
    fn elapsed_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Reads jemalloc's figure now.
    fn refresh(&self) {
        self.cached_bytes
            .store(allocated_bytes_now(), Ordering::Relaxed);
        self.refreshed_at_us
            .store(self.elapsed_us(), Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn refresh_if_stale(&self) {
        let age_us = self
            .elapsed_us()
            .saturating_sub(self.refreshed_at_us.load(Ordering::Relaxed));
        if age_us >= GAUGE_REFRESH_US {
            // One thread refreshes; the others go on with the reading it replaces.
            if let Some(_refreshing) = self.refreshing.try_lock() {
                self.refresh();
            }
        }
    }
}

impl MemoryGauge for AllocatorGauge {
    fn used_bytes(&self) -> u64 {
        self.refresh_if_stale();
        let generation = self.generation.load(Ordering::Acquire);
        let cached = self.cached_bytes.load(Ordering::Relaxed);
        let Some(own) = own_counters() else {
            return cached;
        };
        let net = own.net();
        if own.generation != generation {
            OWN.with(|cell| {
                cell.set(Some(OwnCounters {
                    generation,
                    baseline_net: net,
                    ..own
                }));
            });
            return cached;
        }
        let growth = net.wrapping_sub(own.baseline_net) as i64;
        cached.saturating_add_signed(growth)
    }
}

/// jemalloc's allocated bytes after refreshing its statistics (through MIBs looked up once,
/// the cheapest way to ask).
fn allocated_bytes_now() -> u64 {
    type Mibs = (epoch_mib, stats::allocated_mib);
    static MIBS: OnceLock<Option<Mibs>> = OnceLock::new();
    let lookup = || Some((epoch::mib().ok()?, stats::allocated::mib().ok()?));
    let Some((epoch_key, allocated)) = MIBS.get_or_init(lookup) else {
        return 0;
    };
    let _ = epoch_key.advance();
    let bytes = allocated.read().unwrap_or(0) as u64;
    PEAK_BYTES.fetch_max(bytes, Ordering::Relaxed);
    bytes
}

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
    let allocated_bytes = allocated_bytes_now();
    MemoryReading {
        allocated_bytes,
        active_bytes: stats::active::read().unwrap_or(0) as u64,
        allocator_resident_bytes: stats::resident::read().unwrap_or(0) as u64,
        rss_bytes: resident_set_bytes(),
        peak_bytes: PEAK_BYTES.load(Ordering::Relaxed),
    }
}

/// Bytes allocated when the server had started, before any key (MEMORY STATS
/// `startup.allocated`).
static STARTUP_BYTES: AtomicU64 = AtomicU64::new(0);

/// Records the allocation of an empty server, the base MEMORY STATS subtracts.
pub fn note_startup() {
    STARTUP_BYTES.store(allocated_bytes_now(), Ordering::Relaxed);
}

/// MEMORY STATS: how the allocated bytes divide, as Redis's fields name them.
pub fn stats(engine: &Engine) -> Reply {
    let reading = read();
    let startup = STARTUP_BYTES.load(Ordering::Relaxed);
    let keys: u64 = (0..engine.databases()).map(|db| engine.key_count(db)).sum();
    let dataset = reading.allocated_bytes.saturating_sub(startup);
    let mut fields: Vec<(String, Reply)> = vec![
        ("peak.allocated".into(), int(reading.peak_bytes)),
        ("total.allocated".into(), int(reading.allocated_bytes)),
        ("startup.allocated".into(), int(startup)),
        ("keys.count".into(), int(keys)),
        (
            "keys.bytes-per-key".into(),
            int(dataset.checked_div(keys).unwrap_or(0)),
        ),
        ("dataset.bytes".into(), int(dataset)),
        (
            "dataset.percentage".into(),
            percent(dataset, reading.allocated_bytes),
        ),
        (
            "peak.percentage".into(),
            percent(reading.allocated_bytes, reading.peak_bytes),
        ),
        ("allocator.allocated".into(), int(reading.allocated_bytes)),
        ("allocator.active".into(), int(reading.active_bytes)),
        (
            "allocator.resident".into(),
            int(reading.allocator_resident_bytes),
        ),
        (
            "allocator-fragmentation.ratio".into(),
            ratio(reading.active_bytes, reading.allocated_bytes),
        ),
        (
            "fragmentation".into(),
            ratio(reading.rss_bytes, reading.allocated_bytes),
        ),
        (
            "fragmentation.bytes".into(),
            int(reading.rss_bytes.saturating_sub(reading.allocated_bytes)),
        ),
    ];
    for db in (0..engine.databases()).filter(|&db| engine.key_count(db) > 0) {
        let counts = Reply::Map(vec![
            (Reply::text("keys"), int(engine.key_count(db))),
            (Reply::text("expires"), int(engine.volatile_count(db))),
        ]);
        fields.push((format!("db.{db}"), counts));
    }
    Reply::Map(
        fields
            .into_iter()
            .map(|(name, value)| (Reply::text(name), value))
            .collect(),
    )
}

/// MEMORY DOCTOR: the problems the figures show, or that none shows.
pub fn doctor(engine: &Engine) -> String {
    let reading = read();
    let limits = engine.memory_limits();
    let mut findings = Vec::new();
    if reading.allocated_bytes < 5 << 20 {
        return "This instance holds less than 5 MB; there is too little data to judge its memory use.".to_owned();
    }
    if reading.peak_bytes > reading.allocated_bytes / 2 * 3 {
        findings.push(format!(
            "Peak memory ({}) is more than 150% of the memory in use now ({}): much was freed since, and the allocator may not have returned it all to the system.",
            human_bytes(reading.peak_bytes),
            human_bytes(reading.allocated_bytes)
        ));
    }
    if reading.rss_bytes > reading.allocated_bytes / 10 * 14 {
        findings.push(format!(
            "The resident set ({}) is more than 1.4 times the memory in use ({}): memory is fragmented.",
            human_bytes(reading.rss_bytes),
            human_bytes(reading.allocated_bytes)
        ));
    }
    if limits.maxmemory_bytes > 0
        && reading.allocated_bytes >= limits.maxmemory_bytes
        && limits.policy == MaxmemoryPolicy::NoEviction
    {
        findings.push(
            "Memory has reached maxmemory under the noeviction policy: writes that add data fail with OOM. Raise maxmemory or choose an eviction policy.".to_owned(),
        );
    }
    if findings.is_empty() {
        "No memory problem found: fragmentation, peak and limits are within normal bounds."
            .to_owned()
    } else {
        findings.join("\n")
    }
}

/// MEMORY MALLOC-STATS: the allocator's figures as text.
pub fn malloc_stats() -> String {
    let reading = read();
    format!(
        "allocator: jemalloc\nallocated: {}\nactive: {}\nresident: {}\nprocess rss: {}\n",
        reading.allocated_bytes,
        reading.active_bytes,
        reading.allocator_resident_bytes,
        reading.rss_bytes
    )
}

fn int(value: u64) -> Reply {
    Reply::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

fn ratio(part: u64, whole: u64) -> Reply {
    Reply::Double(if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    })
}

fn percent(part: u64, whole: u64) -> Reply {
    Reply::Double(if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    })
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
