//! Random ranking (allkeys-random, volatile-random): every sampled key is as likely to go.

use super::{Rank, Ranker};
use crate::keyspace::Entry;

/// Ranks by a fresh random draw.
#[derive(Debug)]
pub struct Random;

impl Ranker for Random {
    fn score(&self, _entry: &Entry, _rank: &Rank) -> u64 {
        rand::random()
    }
}
