//! LRU ranking (allkeys-lru, volatile-lru): the longer a key has been idle, the sooner it goes.

use super::access::lru_idle_ms;
use super::{Rank, Ranker};
use crate::keyspace::Entry;

/// Ranks by idle time.
#[derive(Debug)]
pub struct Lru;

impl Ranker for Lru {
    fn score(&self, entry: &Entry, rank: &Rank) -> u64 {
        lru_idle_ms(entry.access(), rank.now_ms)
    }
}
