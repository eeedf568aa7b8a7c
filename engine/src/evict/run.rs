//! The eviction loop: before a command runs, while memory is over the limit, sample keys into
//! the pool and evict the best candidate, one slot lock at a time.

use std::time::Instant;

use super::pool::Candidate;
use super::{MaxmemoryPolicy, Rank, Ranker, RemovalCause};
use crate::engine::Inner;
use crate::error::CommandError;
use crate::keyspace::{LockedSlot, Previous};
use crate::notify::Events;
use crate::slot::{key_slot, SLOT_COUNT};
use crate::usage::{entry_bytes, DEFAULT_SAMPLES};

/// Evictions between two looks at the clock.
const EVICTIONS_PER_TIME_CHECK: u32 = 16;
/// Sampling rounds one eviction tries before it concludes nothing can be evicted.
const ROUNDS_MAX: usize = 8;

/// How one attempt on a candidate ended.
enum Attempt {
    /// Evicted; about this many bytes released.
    Evicted(u64),
    /// Used since it was sampled: here with its new score, to go back to the pool.
    Rescored(Candidate),
    /// No longer there, or no longer eligible.
    Gone,
}

/// How a call to [`Inner::make_room`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freed {
    /// Memory is under the limit.
    Enough,
    /// Time ran out first; the next command goes on.
    TimeUp,
    /// Nothing more may be evicted.
    Stuck,
}

impl Inner {
    /// Bytes in use: the installed gauge's figure, or the engine's own estimate.
    pub(crate) fn used_memory(&self) -> u64 {
        match self.eviction.gauge.get() {
            Some(gauge) => gauge.used_bytes(),
            None => self
                .eviction
                .estimate
                .used_bytes(&self.dbs, self.clock.now_ms()),
        }
    }

    /// Evicts keys until memory is under `maxmemory`, as the policy allows. A command that may
    /// add memory (`denyoom`) fails with OOM when memory stays over the limit because nothing
    /// may be evicted; other commands always run.
    pub(crate) fn make_room(&self, denyoom: bool) -> Result<(), CommandError> {
        let limit = self.eviction.maxmemory_bytes();
        if limit == 0
            || self
                .evictions_paused
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        if self.used_memory() <= limit {
            return Ok(());
        }
        let freed = match self.eviction.policy() {
            MaxmemoryPolicy::NoEviction => Freed::Stuck,
            policy => self.evict(limit, policy),
        };
        if freed == Freed::Stuck && denyoom {
            return Err(CommandError::OutOfMemory);
        }
        Ok(())
    }

    /// Evicts until memory is at most `limit`, time runs out or nothing is left. The gauge is
    /// read again after every eviction (told what each one released, so a cached figure
    /// follows), so no more keys go than needed.
    fn evict(&self, limit: u64, policy: MaxmemoryPolicy) -> Freed {
        let Some(ranker) = policy.ranker() else {
            return Freed::Stuck;
        };
        let limits = self.eviction.limits();
        let time_limit = limits.eviction_time_limit();
        let started = Instant::now();
        let mut evictions = 0u32;
        while self.used_memory() > limit {
            let Some(bytes) = self.evict_one(ranker, policy.volatile_only(), limits.samples) else {
                return Freed::Stuck;
            };
            if let Some(gauge) = self.eviction.gauge.get() {
                gauge.note_released(bytes);
            }
            evictions += 1;
            if evictions % EVICTIONS_PER_TIME_CHECK == 0
                && time_limit.is_some_and(|limit| started.elapsed() >= limit)
            {
                return Freed::TimeUp;
            }
        }
        Freed::Enough
    }

    /// Evicts the best candidate there is; returns the bytes it is estimated to release, or
    /// `None` when no key may be evicted.
    fn evict_one(&self, ranker: &dyn Ranker, volatile_only: bool, samples: u32) -> Option<u64> {
        for _ in 0..ROUNDS_MAX {
            let rank = self.rank();
            if !self.fill_pool(ranker, volatile_only, samples as usize, &rank) {
                return None;
            }
            loop {
                let Some(candidate) = self.eviction.pool.lock().take_best() else {
                    break;
                };
                match self.try_evict(candidate, ranker, volatile_only, &rank) {
                    Attempt::Evicted(bytes) => return Some(bytes),
                    Attempt::Rescored(candidate) => self.eviction.pool.lock().offer(candidate),
                    Attempt::Gone => {}
                }
            }
        }
        None
    }

    fn rank(&self) -> Rank {
        Rank {
            now_ms: self.clock.now_ms(),
            lfu_decay_minutes: self.eviction.limits().lfu_decay_minutes,
        }
    }

    /// Samples every database that has eligible keys into the pool; false if none has any.
    fn fill_pool(
        &self,
        ranker: &dyn Ranker,
        volatile_only: bool,
        samples: usize,
        rank: &Rank,
    ) -> bool {
        let mut found = false;
        for (db, keyspace) in self.dbs.iter().enumerate() {
            let eligible = if volatile_only {
                keyspace.volatile_count()
            } else {
                keyspace.key_count()
            };
            if eligible == 0 {
                continue;
            }
            found = true;
            let wanted = samples.min(usize::try_from(eligible).unwrap_or(usize::MAX));
            let sampled = self.sample_db(db, ranker, volatile_only, wanted, rank);
            let mut pool = self.eviction.pool.lock();
            for candidate in sampled {
                pool.offer(candidate);
            }
        }
        found
    }

    /// `samples` eligible keys (at most as many as the database holds), from a random slot
    /// on: a slot of a large database gives them all, the keys of a small one are gathered
    /// from the next slots that hold some.
    fn sample_db(
        &self,
        db: usize,
        ranker: &dyn Ranker,
        volatile_only: bool,
        samples: usize,
        rank: &Rank,
    ) -> Vec<Candidate> {
        let keyspace = &self.dbs[db];
        let start = rand::random::<u16>() as usize % SLOT_COUNT;
        let mut sampled = Vec::with_capacity(samples);
        for offset in 0..SLOT_COUNT {
            let table = keyspace.lock_slot(((start + offset) % SLOT_COUNT) as u16);
            let eligible = if volatile_only {
                table.volatile_count()
            } else {
                table.len()
            };
            if eligible == 0 {
                continue;
            }
            table.walk_from(rand::random(), |key, entry| {
                if !volatile_only || entry.is_volatile() {
                    sampled.push(Candidate {
                        score: ranker.score(entry, rank),
                        db,
                        key: Box::from(key),
                    });
                }
                sampled.len() < samples
            });
            if sampled.len() == samples {
                break;
            }
        }
        sampled
    }

    /// Evicts `candidate` unless it is gone, no longer eligible, or was used since it was
    /// sampled and a better candidate waits.
    fn try_evict(
        &self,
        candidate: Candidate,
        ranker: &dyn Ranker,
        volatile_only: bool,
        rank: &Rank,
    ) -> Attempt {
        let best_waiting = self.eviction.pool.lock().best_score();
        let _gate = self.gate.enter();
        let db = candidate.db;
        let mut slot = LockedSlot::lock(&self.dbs[db], db, key_slot(&candidate.key));
        let Some(entry) = slot.raw_get(&candidate.key) else {
            return Attempt::Gone;
        };
        if volatile_only && !entry.is_volatile() {
            return Attempt::Gone;
        }
        let score = ranker.score(entry, rank);
        if score < candidate.score && best_waiting.is_some_and(|best| best > score) {
            return Attempt::Rescored(Candidate { score, ..candidate });
        }
        let bytes = entry_bytes(&candidate.key, entry, DEFAULT_SAMPLES);
        let removed = slot.remove(&candidate.key, rank.now_ms);
        slot.signal_watchers(&candidate.key);
        match removed {
            Previous::Live(_) => self.note_evicted(db, &candidate.key),
            Previous::Expired => self.note_expired(db, &candidate.key),
            Previous::Absent => return Attempt::Gone,
        }
        Attempt::Evicted(bytes)
    }

    /// Counts, reports and propagates (as DEL) an evicted key.
    fn note_evicted(&self, db: usize, key: &[u8]) {
        self.eviction.evicted_keys.add(1);
        self.notify(Events::EVICTED, "evicted", db, key);
        self.eviction.report_removal(db, key, RemovalCause::Evicted);
        self.note_write(db, || {
            vec![
                bytes::Bytes::from_static(b"DEL"),
                bytes::Bytes::copy_from_slice(key),
            ]
        });
    }
}
