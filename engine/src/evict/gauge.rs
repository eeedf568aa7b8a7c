//! The memory figure `maxmemory` is compared to. The server installs a [`MemoryGauge`] that
//! reads its allocator's statistics; without one, the engine estimates its keyspace: the key
//! count times the mean estimated size of a sample of keys, sampled again every 100 ms.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::keyspace::Keyspace;
use crate::slot::SLOT_COUNT;
use crate::usage::{entry_bytes, DEFAULT_SAMPLES};

/// A source of the number of bytes in use.
pub trait MemoryGauge: Send + Sync + fmt::Debug {
    /// Bytes in use now (the figure compared to `maxmemory`, and INFO's `used_memory`).
    fn used_bytes(&self) -> u64;

    /// Told that an eviction round released about `bytes`, so a figure cached between two
    /// reads of the allocator can follow at once.
    fn note_released(&self, bytes: u64) {
        let _ = bytes;
    }
}

/// Keys sampled per estimate of the mean entry size.
const ESTIMATE_SAMPLE_KEYS: usize = 64;
/// Slots visited at most per estimate.
const ESTIMATE_SAMPLE_SLOTS: usize = 1024;
/// How long a mean entry size is trusted.
const ESTIMATE_REFRESH_MS: u64 = 100;

/// The engine's own estimate, used when no gauge is installed.
#[derive(Debug, Default)]
pub(crate) struct KeyspaceEstimate {
    mean_entry_bytes: AtomicU64,
    sampled_at_ms: AtomicU64,
}

impl KeyspaceEstimate {
    /// Estimated bytes of every key of `dbs` at `now_ms`.
    pub(crate) fn used_bytes(&self, dbs: &[Keyspace], now_ms: u64) -> u64 {
        let keys: u64 = dbs.iter().map(Keyspace::key_count).sum();
        if keys == 0 {
            return 0;
        }
        let sampled_at = self.sampled_at_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(sampled_at) >= ESTIMATE_REFRESH_MS || sampled_at == 0 {
            if let Some(mean) = sample_mean_entry_bytes(dbs) {
                self.mean_entry_bytes.store(mean, Ordering::Relaxed);
                self.sampled_at_ms.store(now_ms.max(1), Ordering::Relaxed);
            }
        }
        keys * self.mean_entry_bytes.load(Ordering::Relaxed)
    }
}

/// The mean estimated size of up to 64 keys found from a random slot on.
fn sample_mean_entry_bytes(dbs: &[Keyspace]) -> Option<u64> {
    let mut total = 0u64;
    let mut count = 0u64;
    for keyspace in dbs.iter().filter(|ks| ks.key_count() > 0) {
        let start = rand::random::<u16>() as usize % SLOT_COUNT;
        for offset in 0..ESTIMATE_SAMPLE_SLOTS {
            let table = keyspace.lock_slot(((start + offset) % SLOT_COUNT) as u16);
            for (key, entry) in table.iter().take(ESTIMATE_SAMPLE_KEYS) {
                total += entry_bytes(key, entry, DEFAULT_SAMPLES);
                count += 1;
            }
            if count as usize >= ESTIMATE_SAMPLE_KEYS {
                return Some(total / count);
            }
        }
    }
    total.checked_div(count)
}
