//! LFU ranking (allkeys-lfu, volatile-lfu): the fewer recent accesses (the logarithmic counter
//! after its decay), the sooner a key goes; among equal counters, the one used longest ago.

use super::access::{lfu_decayed, lfu_recency_ticks};
use super::{Rank, Ranker};
use crate::keyspace::Entry;

/// Ranks by the decayed access counter, lowest first, then by recency.
#[derive(Debug)]
pub struct Lfu;

impl Ranker for Lfu {
    fn score(&self, entry: &Entry, rank: &Rank) -> u64 {
        let stamp = entry.access();
        let counter = lfu_decayed(stamp, rank.now_ms, rank.lfu_decay_minutes);
        (u64::from(u8::MAX - counter) << 8) | u64::from(lfu_recency_ticks(stamp, rank.now_ms))
    }
}
