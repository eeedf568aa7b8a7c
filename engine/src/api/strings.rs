//! Typed API for string commands: `set`, `get`, `incr_by`, `incr_by_float`, `append`, `strlen`
//! and `mget` on [`Engine`], with the option types SET takes ([`SetOptions`], [`Expiry`],
//! [`SetCondition`]).
//!
//! Every method works on database 0, which is what cluster mode and most embedded users need, so
//! no method takes a [`Session`]; to work in another database, run the command through
//! [`Engine::execute_in`] with a session that has selected it. Each method calls the very
//! function its command's handler calls (in [`crate::commands::strings`]): replies, errors,
//! expiry and propagation cannot differ between the two paths.

use bytes::Bytes;

use crate::commands::strings;
use crate::engine::{Engine, Session};
use crate::error::CommandError;

/// When a key set by [`Engine::set`] expires (SET's `EX`, `PX`, `EXAT` and `PXAT`).
///
/// Amounts are signed so that the API refuses what the command refuses, with the same error:
/// zero, negative and overflowing times are `ERR invalid expire time in 'set' command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// After this many seconds.
    Ex(i64),
    /// After this many milliseconds.
    Px(i64),
    /// At this Unix time in seconds.
    ExAt(i64),
    /// At this Unix time in milliseconds.
    PxAt(i64),
}

impl Expiry {
    /// The absolute deadline in Unix ms for a command run at `now_ms`, or `None` when Redis
    /// refuses the time: an amount that is not positive, or a deadline that overflows.
    pub fn deadline_ms(self, now_ms: u64) -> Option<u64> {
        let (amount, ms_per_unit, relative) = match self {
            Expiry::Ex(secs) => (secs, 1000, true),
            Expiry::Px(ms) => (ms, 1, true),
            Expiry::ExAt(secs) => (secs, 1000, false),
            Expiry::PxAt(ms) => (ms, 1, false),
        };
        if amount <= 0 {
            return None;
        }
        let base_ms = if relative {
            i64::try_from(now_ms).ok()?
        } else {
            0
        };
        let deadline_ms = amount.checked_mul(ms_per_unit)?.checked_add(base_ms)?;
        u64::try_from(deadline_ms).ok()
    }
}

/// Whether SET writes depending on the key's existence (SET's `NX` and `XX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    /// Always write.
    #[default]
    Always,
    /// Only if the key does not exist (`NX`).
    IfAbsent,
    /// Only if the key exists (`XX`).
    IfPresent,
}

impl SetCondition {
    /// Whether a write may go ahead when the key's existence is `exists`.
    pub fn allows(self, exists: bool) -> bool {
        match self {
            SetCondition::Always => true,
            SetCondition::IfAbsent => !exists,
            SetCondition::IfPresent => exists,
        }
    }
}

/// SET's options. The default is a plain SET: no expiry, unconditional, no GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetOptions {
    /// Deadline of the new value (`EX`/`PX`/`EXAT`/`PXAT`); `None` clears any deadline unless
    /// `keep_ttl` is set.
    pub expiry: Option<Expiry>,
    /// `NX`/`XX`.
    pub condition: SetCondition,
    /// Keep the key's current deadline (`KEEPTTL`); a syntax error together with `expiry`.
    pub keep_ttl: bool,
    /// Return the previous value (`GET`); a key of another type then fails with WRONGTYPE and
    /// nothing is written.
    pub get: bool,
}

/// What [`Engine::set`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    /// Whether the condition allowed the write (a deadline already in the past still counts as
    /// written: the key is then deleted, as if it had been written and had expired).
    pub written: bool,
    /// With [`SetOptions::get`]: the value before the command (`None` if the key did not
    /// exist). Always `None` without it.
    pub previous: Option<Bytes>,
}

impl Engine {
    /// SET: stores `value` at `key` as `opts` says, on database 0.
    pub fn set(
        &self,
        key: &[u8],
        value: &[u8],
        opts: SetOptions,
    ) -> Result<SetOutcome, CommandError> {
        self.with_ctx(&mut Session::new(), |ctx| {
            strings::set_string(ctx, key, value, &opts, "set")
        })
    }

    /// GET: the string at `key` on database 0, `None` if absent; WRONGTYPE for other types.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, CommandError> {
        self.with_ctx(&mut Session::new(), |ctx| strings::get_string(ctx, key))
    }

    /// INCRBY: adds `delta` to the integer at `key` on database 0 (absent counts as 0); returns
    /// the new value.
    pub fn incr_by(&self, key: &[u8], delta: i64) -> Result<i64, CommandError> {
        self.with_ctx(&mut Session::new(), |ctx| strings::incr_by(ctx, key, delta))
    }

    /// INCRBYFLOAT: adds `delta` to the number at `key` on database 0 (absent counts as 0);
    /// returns the new value, stored as Redis's INCRBYFLOAT text (at most 17 decimals).
    pub fn incr_by_float(&self, key: &[u8], delta: f64) -> Result<f64, CommandError> {
        let delta_text = delta.to_string();
        // An infinite delta makes the sum infinite, and a NaN one reads as no number: both
        // are refused as INCRBYFLOAT refuses a sum that is not finite.
        let increment = crate::float::LongDoubleOperand::read(delta_text.as_bytes())
            .ok_or(CommandError::NanOrInfinity);
        let text = self.with_ctx(&mut Session::new(), |ctx| {
            strings::incr_by_float(ctx, key, increment)
        })?;
        // The text is a finite decimal written by this engine, so it always reads back.
        Ok(text.parse().unwrap_or(f64::NAN))
    }

    /// APPEND: appends `value` to the string at `key` on database 0 (creating it); returns the
    /// new length.
    pub fn append(&self, key: &[u8], value: &[u8]) -> Result<usize, CommandError> {
        self.with_ctx(&mut Session::new(), |ctx| {
            strings::append_string(ctx, key, value)
        })
    }

    /// STRLEN: the length of the string at `key` on database 0, 0 if absent.
    pub fn strlen(&self, key: &[u8]) -> Result<usize, CommandError> {
        self.with_ctx(&mut Session::new(), |ctx| strings::string_len(ctx, key))
    }

    /// MGET: the strings at `keys` on database 0, `None` for absent keys and other types.
    pub fn mget(&self, keys: &[&[u8]]) -> Vec<Option<Bytes>> {
        self.with_ctx(&mut Session::new(), |ctx| strings::mget_strings(ctx, keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_redis_rules() {
        let now_ms = 1_000_000;
        assert_eq!(Expiry::Ex(10).deadline_ms(now_ms), Some(1_010_000));
        assert_eq!(Expiry::Px(10).deadline_ms(now_ms), Some(1_000_010));
        assert_eq!(Expiry::ExAt(5).deadline_ms(now_ms), Some(5_000));
        assert_eq!(Expiry::PxAt(5).deadline_ms(now_ms), Some(5));
        assert_eq!(Expiry::Ex(0).deadline_ms(now_ms), None);
        assert_eq!(Expiry::PxAt(-1).deadline_ms(now_ms), None);
        assert_eq!(Expiry::Ex(i64::MAX / 1000 + 1).deadline_ms(now_ms), None);
        assert_eq!(Expiry::Px(i64::MAX).deadline_ms(now_ms), None);
        assert_eq!(
            Expiry::PxAt(i64::MAX).deadline_ms(now_ms),
            Some(i64::MAX as u64)
        );
    }

    #[test]
    fn conditions_follow_existence() {
        assert!(SetCondition::Always.allows(true) && SetCondition::Always.allows(false));
        assert!(SetCondition::IfAbsent.allows(false) && !SetCondition::IfAbsent.allows(true));
        assert!(SetCondition::IfPresent.allows(true) && !SetCondition::IfPresent.allows(false));
    }
}
