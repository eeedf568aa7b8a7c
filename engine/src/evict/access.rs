//! Per-key access metadata in 32 bits: under an LRU (or any non-LFU) policy the time of the
//! last access in 10 ms ticks (Redis keeps seconds in 24 bits; finer ticks tell apart keys used
//! within the same second, which sharpens eviction, and 32 bits still wrap only after 497
//! days); under an LFU policy, as Redis, the minutes of the last decrement (16 bits) and a
//! logarithmic access counter (8 bits), and in the 8 bits Redis does not have, the time of the
//! last access in 100 ms ticks (wrapping every 25.6 s): among keys of equal counters, the one
//! used longest ago goes first.
//!
//! A command computes one [`Touch`] from the time it started and the current policy; every
//! key it looks up or creates is stamped through it.

/// Resolution of the LRU clock.
const LRU_RESOLUTION_MS: u64 = 10;
/// Counter of a key just created, so it is not evicted before it had a chance to be read.
pub const LFU_INIT_COUNTER: u8 = 5;
/// Mask of the 16-bit minute clock the LFU decay uses.
const LFU_MINUTES_MASK: u64 = 0xFFFF;

/// How keys are stamped: which meaning the 24 bits have and the LFU tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// The bits hold the LRU clock.
    Lru,
    /// The bits hold minutes and a counter; `log_factor` and `decay_minutes` are
    /// `lfu-log-factor` and `lfu-decay-time`.
    Lfu { log_factor: u32, decay_minutes: u32 },
}

/// The LRU clock at `now_ms`: 10 ms ticks, wrapping at 32 bits (497 days).
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / LRU_RESOLUTION_MS) as u32
}

/// Milliseconds since the access stamped `stamp` under the LRU clock (wrap-around aware).
pub fn lru_idle_ms(stamp: u32, now_ms: u64) -> u64 {
    u64::from(lru_clock(now_ms).wrapping_sub(stamp)) * LRU_RESOLUTION_MS
}

/// The LRU stamp of a key idle for `idle_ms` at `now_ms` (RESTORE ... IDLETIME, RDB IDLE).
pub fn lru_stamp_idle_for(idle_ms: u64, now_ms: u64) -> u32 {
    lru_clock(now_ms.saturating_sub(idle_ms))
}

fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & LFU_MINUTES_MASK) as u32
}

/// Resolution of the LFU stamp's recency byte.
const LFU_RECENCY_TICK_MS: u64 = 100;

fn lfu_recency_tick(now_ms: u64) -> u8 {
    (now_ms / LFU_RECENCY_TICK_MS) as u8
}

/// Ticks (of 100 ms, modulo 256) since the last access an LFU stamp records: a tie-breaker
/// between keys of equal counters, exact for the last 25.6 s.
pub fn lfu_recency_ticks(stamp: u32, now_ms: u64) -> u8 {
    lfu_recency_tick(now_ms).wrapping_sub((stamp >> 24) as u8)
}

fn lfu_pack(now_ms: u64, counter: u8) -> u32 {
    let minutes = lfu_minutes(now_ms);
    (u32::from(lfu_recency_tick(now_ms)) << 24) | (minutes << 8) | u32::from(counter)
}

/// The LFU counter of `stamp` after the decay due by `now_ms` (what OBJECT FREQ shows).
pub fn lfu_decayed(stamp: u32, now_ms: u64, decay_minutes: u32) -> u8 {
    let last = (stamp >> 8) & LFU_MINUTES_MASK as u32;
    let counter = (stamp & 0xFF) as u8;
    if decay_minutes == 0 {
        return counter;
    }
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= last {
        now - last
    } else {
        LFU_MINUTES_MASK as u32 - last + now
    };
    let periods = elapsed / decay_minutes;
    counter.saturating_sub(u8::try_from(periods).unwrap_or(u8::MAX))
}

/// One increment attempt of a logarithmic counter: the higher it is, the less likely it
/// grows, so 255 stands for about a million accesses at the default factor of 10.
fn lfu_increment(counter: u8, log_factor: u32, draw: f64) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_COUNTER));
    let probability = 1.0 / (base * f64::from(log_factor) + 1.0);
    if draw < probability {
        counter + 1
    } else {
        counter
    }
}

/// What a restored key says about its past use: RESTORE's IDLETIME or FREQ, or the IDLE and
/// FREQ records of an RDB file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessHint {
    /// Seconds since the key was last used (meaningful under an LRU clock).
    pub idle_secs: Option<u64>,
    /// LFU counter (meaningful under an LFU policy).
    pub freq: Option<u8>,
}

/// The stamps one command gives: computed once per command from its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    mode: AccessMode,
    now_ms: u64,
}

impl Touch {
    /// Stamps for a command started at `now_ms` under `mode`.
    pub fn new(mode: AccessMode, now_ms: u64) -> Touch {
        Touch { mode, now_ms }
    }

    /// The time of the command.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The stamp of a key just created.
    pub fn created(&self) -> u32 {
        match self.mode {
            AccessMode::Lru => lru_clock(self.now_ms),
            AccessMode::Lfu { .. } => lfu_pack(self.now_ms, LFU_INIT_COUNTER),
        }
    }

    /// The stamp of a key restored with `hint`: its idle time under the LRU clock or its
    /// counter under LFU, as Redis applies them; a hint of the other kind is ignored and the
    /// key is stamped as created.
    pub fn restored(&self, hint: AccessHint) -> u32 {
        match (self.mode, hint) {
            (
                AccessMode::Lru,
                AccessHint {
                    idle_secs: Some(idle),
                    ..
                },
            ) => lru_stamp_idle_for(idle.saturating_mul(1000), self.now_ms),
            (
                AccessMode::Lfu { .. },
                AccessHint {
                    freq: Some(freq), ..
                },
            ) => lfu_pack(self.now_ms, freq),
            _ => self.created(),
        }
    }

    /// The stamp of a key whose value was replaced: LFU keeps the key's history (as Redis
    /// does on overwrite), LRU counts it as an access.
    pub fn overwritten(&self, old: u32) -> u32 {
        match self.mode {
            AccessMode::Lru => self.accessed(old),
            AccessMode::Lfu { .. } => old,
        }
    }

    /// The stamp of a key after an access.
    pub fn accessed(&self, old: u32) -> u32 {
        match self.mode {
            AccessMode::Lru => lru_clock(self.now_ms),
            AccessMode::Lfu {
                log_factor,
                decay_minutes,
            } => {
                let decayed = lfu_decayed(old, self.now_ms, decay_minutes);
                let counter = lfu_increment(decayed, log_factor, rand::random::<f64>());
                lfu_pack(self.now_ms, counter)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LFU: AccessMode = AccessMode::Lfu {
        log_factor: 10,
        decay_minutes: 1,
    };

    #[test]
    fn lru_idle_time_counts_ticks_and_survives_the_wrap() {
        let stamp = Touch::new(AccessMode::Lru, 5_000).created();
        assert_eq!(lru_idle_ms(stamp, 5_009), 0);
        assert_eq!(lru_idle_ms(stamp, 5_010), 10);
        assert_eq!(lru_idle_ms(stamp, 65_000), 60_000);
        let wrap_ms = (1u64 << 32) * LRU_RESOLUTION_MS;
        let stamp = lru_clock(wrap_ms - 2000);
        assert_eq!(lru_idle_ms(stamp, wrap_ms + 3000), 5000);
        assert_eq!(
            lru_idle_ms(lru_stamp_idle_for(42_000, 100_000), 100_000),
            42_000
        );
    }

    #[test]
    fn lfu_counter_starts_at_five_grows_logarithmically_and_decays_per_minute() {
        let touch = Touch::new(LFU, 0);
        let mut stamp = touch.created();
        assert_eq!(lfu_decayed(stamp, 0, 1), LFU_INIT_COUNTER);
        for _ in 0..100_000 {
            stamp = touch.accessed(stamp);
        }
        let counter = lfu_decayed(stamp, 0, 1);
        assert!((20..255).contains(&counter), "counter {counter}");
        assert_eq!(lfu_decayed(stamp, 3 * 60_000, 1), counter - 3);
        assert_eq!(lfu_decayed(stamp, 3 * 60_000, 0), counter);
        assert_eq!(lfu_decayed(stamp, 600 * 60_000, 1), 0);
    }

    #[test]
    fn lfu_stamps_record_recency_for_ties() {
        let early = Touch::new(LFU, 1_000).created();
        let late = Touch::new(LFU, 3_000).created();
        assert_eq!(lfu_decayed(early, 3_000, 1), lfu_decayed(late, 3_000, 1));
        assert_eq!(lfu_recency_ticks(early, 3_000), 20);
        assert_eq!(lfu_recency_ticks(late, 3_000), 0);
    }

    #[test]
    fn lfu_increment_never_passes_255_and_always_grows_near_the_start() {
        assert_eq!(lfu_increment(255, 10, 0.0), 255);
        assert_eq!(lfu_increment(3, 10, 0.999), 4);
        assert_eq!(lfu_increment(6, 10, 0.5), 6);
        assert_eq!(lfu_increment(6, 10, 0.01), 7);
    }

    #[test]
    fn overwrites_keep_lfu_history_but_refresh_lru() {
        let lfu = Touch::new(LFU, 60_000);
        assert_eq!(lfu.overwritten(0x12_34_56), 0x12_34_56);
        let lru = Touch::new(AccessMode::Lru, 7_000);
        assert_eq!(lru.overwritten(1), 700);
    }
}
