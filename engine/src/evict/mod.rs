//! Eviction under `maxmemory`: when the memory in use passes the limit, keys are removed before
//! a command runs, chosen by one of Redis's eight policies, without stopping other clients
//! (each removal locks one slot).
//!
//! - [`access`]: the per-key stamp (LRU clock or LFU counter) and how accesses update it.
//! - [`lru`], [`lfu`], [`ttl`], [`random`]: one [`Ranker`] per policy family.
//! - [`pool`]: the best candidates of recent samples.
//! - [`gauge`]: where the figure compared to the limit comes from ([`MemoryGauge`]).
//! - [`run`]: the eviction loop itself.
//!
//! As in Redis the choice is approximate: each round samples `maxmemory-samples` keys per
//! database into a pool of 16 and evicts the best; unlike Redis a candidate used since it was
//! sampled is scored again before it goes, so a key read a moment ago is spared.

pub mod access;
pub mod gauge;
pub mod lfu;
pub mod lru;
pub mod pool;
pub mod random;
pub mod run;
pub mod ttl;

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use crate::counter::StripedCounter;
use crate::keyspace::Entry;
use access::AccessMode;
pub use gauge::MemoryGauge;

/// What to do when memory passes `maxmemory` (`maxmemory-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxmemoryPolicy {
    /// Evict nothing; commands that may add memory fail with OOM.
    #[default]
    NoEviction,
    /// Least recently used among all keys.
    AllKeysLru,
    /// Least recently used among keys with a deadline.
    VolatileLru,
    /// Least frequently used among all keys.
    AllKeysLfu,
    /// Least frequently used among keys with a deadline.
    VolatileLfu,
    /// Any key.
    AllKeysRandom,
    /// Any key with a deadline.
    VolatileRandom,
    /// The key with the nearest deadline.
    VolatileTtl,
}

impl MaxmemoryPolicy {
    /// Every policy, in Redis's order.
    pub const ALL: [MaxmemoryPolicy; 8] = [
        MaxmemoryPolicy::VolatileLru,
        MaxmemoryPolicy::VolatileLfu,
        MaxmemoryPolicy::VolatileRandom,
        MaxmemoryPolicy::VolatileTtl,
        MaxmemoryPolicy::AllKeysLru,
        MaxmemoryPolicy::AllKeysLfu,
        MaxmemoryPolicy::AllKeysRandom,
        MaxmemoryPolicy::NoEviction,
    ];

    /// The name CONFIG and INFO use.
    pub fn name(self) -> &'static str {
        match self {
            MaxmemoryPolicy::NoEviction => "noeviction",
            MaxmemoryPolicy::AllKeysLru => "allkeys-lru",
            MaxmemoryPolicy::VolatileLru => "volatile-lru",
            MaxmemoryPolicy::AllKeysLfu => "allkeys-lfu",
            MaxmemoryPolicy::VolatileLfu => "volatile-lfu",
            MaxmemoryPolicy::AllKeysRandom => "allkeys-random",
            MaxmemoryPolicy::VolatileRandom => "volatile-random",
            MaxmemoryPolicy::VolatileTtl => "volatile-ttl",
        }
    }

    /// The policy named `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<MaxmemoryPolicy> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether keys are stamped with LFU counters rather than the LRU clock.
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            MaxmemoryPolicy::AllKeysLfu | MaxmemoryPolicy::VolatileLfu
        )
    }

    /// Whether only keys with a deadline may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            MaxmemoryPolicy::VolatileLru
                | MaxmemoryPolicy::VolatileLfu
                | MaxmemoryPolicy::VolatileRandom
                | MaxmemoryPolicy::VolatileTtl
        )
    }

    /// How candidates are ranked; `None` when nothing may be evicted.
    pub fn ranker(self) -> Option<&'static dyn Ranker> {
        match self {
            MaxmemoryPolicy::NoEviction => None,
            MaxmemoryPolicy::AllKeysLru | MaxmemoryPolicy::VolatileLru => Some(&lru::Lru),
            MaxmemoryPolicy::AllKeysLfu | MaxmemoryPolicy::VolatileLfu => Some(&lfu::Lfu),
            MaxmemoryPolicy::AllKeysRandom | MaxmemoryPolicy::VolatileRandom => {
                Some(&random::Random)
            }
            MaxmemoryPolicy::VolatileTtl => Some(&ttl::Ttl),
        }
    }

    fn index(self) -> u8 {
        Self::ALL.iter().position(|p| *p == self).unwrap_or(7) as u8
    }

    fn from_index(index: u8) -> MaxmemoryPolicy {
        Self::ALL
            .get(usize::from(index))
            .copied()
            .unwrap_or_default()
    }
}

impl fmt::Display for MaxmemoryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a ranker needs besides the entry.
#[derive(Debug, Clone, Copy)]
pub struct Rank {
    /// Time of the eviction round, Unix ms.
    pub now_ms: u64,
    /// `lfu-decay-time`.
    pub lfu_decay_minutes: u32,
}

/// One eviction policy family: how good a candidate a key is.
pub trait Ranker: Sync + fmt::Debug {
    /// The candidate's score: the higher, the sooner it is evicted.
    fn score(&self, entry: &Entry, rank: &Rank) -> u64;
}

/// Why a key left the keyspace without a command removing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalCause {
    /// Evicted to stay under `maxmemory`.
    Evicted,
    /// Its deadline passed.
    Expired,
}

/// Told of every key evicted or expired, like the listeners of Rust cache crates (for embedded
/// users; the server reports these as keyspace events instead).
pub trait RemovalListener: Send + Sync + fmt::Debug {
    /// `key` of database `db` is gone, for `cause`.
    fn on_removal(&self, db: usize, key: &[u8], cause: RemovalCause);
}

/// The memory settings (`maxmemory` and friends), all changeable at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimits {
    /// `maxmemory` in bytes; 0 means no limit.
    pub maxmemory_bytes: u64,
    /// `maxmemory-policy`.
    pub policy: MaxmemoryPolicy,
    /// `maxmemory-samples`: keys sampled per database per eviction round (1..=64).
    pub samples: u32,
    /// `maxmemory-eviction-tenacity` (0..=100): how long one command may spend evicting.
    pub eviction_tenacity: u32,
    /// `lfu-log-factor`: how slowly the LFU counter grows.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`: minutes per decrement of an idle key's LFU counter (0: never).
    pub lfu_decay_minutes: u32,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        MemoryLimits {
            maxmemory_bytes: 0,
            policy: MaxmemoryPolicy::NoEviction,
            samples: 5,
            eviction_tenacity: 10,
            lfu_log_factor: 10,
            lfu_decay_minutes: 1,
        }
    }
}

/// Most keys sampled per database per round (`maxmemory-samples` range, as Redis's).
pub const SAMPLES_MAX: u32 = 64;
/// Highest `maxmemory-eviction-tenacity`: no time limit.
pub const TENACITY_MAX: u32 = 100;

impl MemoryLimits {
    /// How long one command may spend evicting; `None` for no limit. Tenacity 10 (the default)
    /// allows 500 µs, each step above it 15% more, as Redis scales it.
    pub fn eviction_time_limit(&self) -> Option<Duration> {
        match self.eviction_tenacity {
            t if t <= 10 => Some(Duration::from_micros(50 * u64::from(t))),
            t if t < TENACITY_MAX => Some(Duration::from_secs_f64(
                500e-6 * 1.15f64.powi(t as i32 - 10),
            )),
            _ => None,
        }
    }

    /// The settings with `samples` and `eviction_tenacity` clamped to their ranges.
    fn clamped(mut self) -> MemoryLimits {
        self.samples = self.samples.clamp(1, SAMPLES_MAX);
        self.eviction_tenacity = self.eviction_tenacity.min(TENACITY_MAX);
        self
    }
}

/// The engine's eviction state: the live settings (atomics, read by every command), the
/// gauge, the listener, the pool and the count of evicted keys.
#[derive(Debug, Default)]
pub(crate) struct Eviction {
    maxmemory_bytes: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU32,
    tenacity: AtomicU32,
    lfu_log_factor: AtomicU32,
    lfu_decay_minutes: AtomicU32,
    gauge: OnceLock<Arc<dyn MemoryGauge>>,
    estimate: gauge::KeyspaceEstimate,
    listener: RwLock<Option<Arc<dyn RemovalListener>>>,
    pool: Mutex<pool::Pool>,
    pub(crate) evicted_keys: StripedCounter,
}

impl Eviction {
    pub(crate) fn new(limits: MemoryLimits) -> Eviction {
        let eviction = Eviction::default();
        eviction.set_limits(limits);
        eviction
    }

    pub(crate) fn set_limits(&self, limits: MemoryLimits) {
        let limits = limits.clamped();
        let old_policy = self.policy.swap(limits.policy.index(), Ordering::Relaxed);
        if old_policy != limits.policy.index() {
            self.pool.lock().clear();
        }
        self.samples.store(limits.samples, Ordering::Relaxed);
        self.tenacity
            .store(limits.eviction_tenacity, Ordering::Relaxed);
        self.lfu_log_factor
            .store(limits.lfu_log_factor, Ordering::Relaxed);
        self.lfu_decay_minutes
            .store(limits.lfu_decay_minutes, Ordering::Relaxed);
        self.maxmemory_bytes
            .store(limits.maxmemory_bytes, Ordering::Relaxed);
    }

    pub(crate) fn limits(&self) -> MemoryLimits {
        MemoryLimits {
            maxmemory_bytes: self.maxmemory_bytes.load(Ordering::Relaxed),
            policy: self.policy(),
            samples: self.samples.load(Ordering::Relaxed),
            eviction_tenacity: self.tenacity.load(Ordering::Relaxed),
            lfu_log_factor: self.lfu_log_factor.load(Ordering::Relaxed),
            lfu_decay_minutes: self.lfu_decay_minutes.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn maxmemory_bytes(&self) -> u64 {
        self.maxmemory_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn policy(&self) -> MaxmemoryPolicy {
        MaxmemoryPolicy::from_index(self.policy.load(Ordering::Relaxed))
    }

    /// How keys are stamped under the current policy.
    pub(crate) fn access_mode(&self) -> AccessMode {
        if self.policy().is_lfu() {
            AccessMode::Lfu {
                log_factor: self.lfu_log_factor.load(Ordering::Relaxed),
                decay_minutes: self.lfu_decay_minutes.load(Ordering::Relaxed),
            }
        } else {
            AccessMode::Lru
        }
    }

    /// Installs the gauge; false if one was installed before (it cannot be replaced).
    pub(crate) fn set_gauge(&self, gauge: Arc<dyn MemoryGauge>) -> bool {
        self.gauge.set(gauge).is_ok()
    }

    pub(crate) fn set_listener(&self, listener: Arc<dyn RemovalListener>) {
        *self.listener.write() = Some(listener);
    }

    /// Tells the listener, if any, that `key` is gone.
    pub(crate) fn report_removal(&self, db: usize, key: &[u8], cause: RemovalCause) {
        if let Some(listener) = self.listener.read().as_ref() {
            listener.on_removal(db, key, cause);
        }
    }
}
