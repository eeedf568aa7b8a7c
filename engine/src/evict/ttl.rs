//! TTL ranking (volatile-ttl): the nearer a key's deadline, the sooner it goes.

use super::{Rank, Ranker};
use crate::keyspace::Entry;

/// Ranks by deadline, nearest first.
#[derive(Debug)]
pub struct Ttl;

impl Ranker for Ttl {
    fn score(&self, entry: &Entry, _rank: &Rank) -> u64 {
        u64::MAX - entry.expire_at_ms().unwrap_or(u64::MAX)
    }
}
