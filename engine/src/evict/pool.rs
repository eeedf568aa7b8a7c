//! The eviction pool: the best candidates seen by recent samples (16, as Redis keeps), so each
//! eviction picks from more keys than one sample holds.

/// Candidates kept (Redis's `EVPOOL_SIZE`).
pub const POOL_SIZE: usize = 16;

/// A key that may be evicted, with its score (higher goes first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub score: u64,
    pub db: usize,
    pub key: Box<[u8]>,
}

/// Candidates in ascending score order; the best is last.
#[derive(Debug, Default)]
pub struct Pool {
    candidates: Vec<Candidate>,
}

impl Pool {
    /// Whether `score` would enter the pool.
    pub fn admits(&self, score: u64) -> bool {
        self.candidates.len() < POOL_SIZE || self.candidates[0].score < score
    }

    /// Adds a candidate, replacing the same key's older score and dropping the worst one when
    /// the pool is full.
    pub fn offer(&mut self, candidate: Candidate) {
        self.candidates
            .retain(|c| c.db != candidate.db || c.key != candidate.key);
        if !self.admits(candidate.score) {
            return;
        }
        if self.candidates.len() == POOL_SIZE {
            self.candidates.remove(0);
        }
        let at = self
            .candidates
            .partition_point(|c| c.score <= candidate.score);
        self.candidates.insert(at, candidate);
        debug_assert!(self.candidates.len() <= POOL_SIZE);
    }

    /// Takes the best candidate out.
    pub fn take_best(&mut self) -> Option<Candidate> {
        self.candidates.pop()
    }

    /// The best score held.
    pub fn best_score(&self) -> Option<u64> {
        self.candidates.last().map(|c| c.score)
    }

    /// Forgets every candidate (after a policy change their scores mean nothing).
    pub fn clear(&mut self) {
        self.candidates.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(score: u64, key: &str) -> Candidate {
        Candidate {
            score,
            db: 0,
            key: Box::from(key.as_bytes()),
        }
    }

    #[test]
    fn keeps_the_sixteen_best_and_gives_the_best_first() {
        let mut pool = Pool::default();
        for score in 0..40 {
            pool.offer(candidate(score, &format!("k{score}")));
        }
        assert!(!pool.admits(10));
        assert_eq!(pool.best_score(), Some(39));
        let taken: Vec<u64> = std::iter::from_fn(|| pool.take_best().map(|c| c.score)).collect();
        assert_eq!(taken, (24..40).rev().collect::<Vec<_>>());
    }

    #[test]
    fn a_key_offered_again_keeps_only_its_new_score() {
        let mut pool = Pool::default();
        pool.offer(candidate(5, "a"));
        pool.offer(candidate(9, "b"));
        pool.offer(candidate(1, "b"));
        assert_eq!(pool.take_best(), Some(candidate(5, "a")));
        assert_eq!(pool.take_best(), Some(candidate(1, "b")));
        assert_eq!(pool.take_best(), None);
    }
}
