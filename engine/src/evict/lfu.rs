//! LFU ranking (allkeys-lfu, volatile-lfu): the fewer recent accesses (the logarithmic counter
//! after its decay), the sooner a key goes.

use super::access::lfu_decayed;
use super::{Rank, Ranker};
use crate::keyspace::Entry;

/// Ranks by the decayed access counter, lowest first.
#[derive(Debug)]
pub struct Lfu;

impl Ranker for Lfu {
    fn score(&self, entry: &Entry, rank: &Rank) -> u64 {
        let counter = lfu_decayed(entry.access(), rank.now_ms, rank.lfu_decay_minutes);
        u64::from(u8::MAX - counter)
    }
}
