//! Typed API for key commands (DEL, EXISTS, EXPIRE, TTL, PERSIST, RENAME, TYPE, KEYS, FLUSHALL,
//! DBSIZE), on database 0. Each method calls the function its command's handler calls, so the
//! replies, the statistics and the propagated records are the same either way.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::commands::keys::{self, Deadline, ExpireCondition};
use crate::commands::server::{self, FlushScope, FreeMode};
use crate::engine::{Engine, Session};
use crate::error::CommandError;

/// A key's remaining time to live (TTL / PTTL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist.
    Missing,
    /// The key exists and never expires.
    NoExpiry,
    /// The key expires after this long.
    Remaining(Duration),
}

impl Engine {
    /// Removes `keys` (DEL); returns how many existed.
    pub fn del(&self, keys: &[&[u8]]) -> u64 {
        let removed = self.with_ctx(&mut Session::new(), |ctx| keys::delete_keys(ctx, keys));
        removed.unsigned_abs()
    }

    /// How many of `keys` exist (EXISTS); a key named twice counts twice.
    pub fn exists(&self, keys: &[&[u8]]) -> u64 {
        let found = self.with_ctx(&mut Session::new(), |ctx| keys::count_existing(ctx, keys));
        found.unsigned_abs()
    }

    /// Makes `key` expire after `ttl` (PEXPIRE); false if the key does not exist. A zero `ttl`
    /// deletes the key. Fails when the deadline is beyond what a Unix ms time can hold.
    pub fn expire(&self, key: &[u8], ttl: Duration) -> Result<bool, CommandError> {
        self.with_ctx(&mut Session::new(), |ctx| {
            let deadline_ms = i64::try_from(ttl.as_millis())
                .ok()
                .and_then(|ttl_ms| ttl_ms.checked_add(i64::try_from(ctx.now_ms()).ok()?))
                .ok_or_else(|| CommandError::InvalidExpire("pexpire".into()))?;
            Ok(keys::set_deadline(
                ctx,
                key,
                deadline_ms,
                ExpireCondition::ALWAYS,
            ))
        })
    }

    /// Makes `key` expire at `deadline` (PEXPIREAT); false if the key does not exist. A
    /// deadline not in the future deletes the key.
    pub fn expire_at(&self, key: &[u8], deadline: SystemTime) -> Result<bool, CommandError> {
        // A time before the epoch is in the past: the key goes, as with a negative PEXPIREAT.
        let since_epoch = deadline.duration_since(UNIX_EPOCH).unwrap_or_default();
        let deadline_ms = i64::try_from(since_epoch.as_millis())
            .map_err(|_| CommandError::InvalidExpire("pexpireat".into()))?;
        Ok(self.with_ctx(&mut Session::new(), |ctx| {
            keys::set_deadline(ctx, key, deadline_ms, ExpireCondition::ALWAYS)
        }))
    }

    /// The remaining time to live of `key` (PTTL).
    pub fn ttl(&self, key: &[u8]) -> Ttl {
        self.with_ctx(&mut Session::new(), |ctx| {
            match keys::deadline_of(ctx, key) {
                Deadline::Missing => Ttl::Missing,
                Deadline::Never => Ttl::NoExpiry,
                Deadline::At(at_ms) => {
                    Ttl::Remaining(Duration::from_millis(at_ms.saturating_sub(ctx.now_ms())))
                }
            }
        })
    }

    /// Removes the deadline of `key` (PERSIST); returns whether it had one.
    pub fn persist(&self, key: &[u8]) -> bool {
        self.with_ctx(&mut Session::new(), |ctx| keys::persist_key(ctx, key))
    }

    /// Renames `from` to `to`, replacing `to` (RENAME). Fails with "ERR no such key" when
    /// `from` does not exist.
    pub fn rename(&self, from: &[u8], to: &[u8]) -> Result<(), CommandError> {
        self.with_ctx(&mut Session::new(), |ctx| {
            keys::rename_key(ctx, from, to, false).map(|_| ())
        })
    }

    /// The type of the value at `key` (TYPE: "string", ...), `None` if it does not exist.
    pub fn key_type(&self, key: &[u8]) -> Option<&'static str> {
        self.with_ctx(&mut Session::new(), |ctx| keys::type_of(ctx, key))
    }

    /// Every key matching the glob `pattern` (KEYS), in no particular order.
    pub fn keys(&self, pattern: &[u8]) -> Vec<Bytes> {
        self.with_ctx(&mut Session::new(), |ctx| keys::matching_keys(ctx, pattern))
    }

    /// Removes every key of every database (FLUSHALL SYNC).
    pub fn flush_all(&self) {
        self.with_ctx(&mut Session::new(), |ctx| {
            server::flush(ctx, FlushScope::All, FreeMode::Sync)
        });
    }

    /// Number of keys in database 0 (DBSIZE), expired keys not yet reclaimed included.
    pub fn dbsize(&self) -> u64 {
        self.with_ctx(&mut Session::new(), |ctx| server::db_size(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::keys::tests::{int, recorded_engine, run, START_MS};
    use crate::Reply;

    #[test]
    fn typed_calls_match_the_commands() {
        let (engine, clock, sink) = recorded_engine();
        assert_eq!(run(&engine, &["SET", "a", "1"]), Reply::Ok);
        assert_eq!(run(&engine, &["SET", "b", "2"]), Reply::Ok);
        assert_eq!(engine.exists(&[b"a", b"a", b"zz"]), 2);
        assert_eq!(engine.key_type(b"a"), Some("string"));
        assert_eq!(engine.key_type(b"zz"), None);
        assert_eq!(engine.ttl(b"a"), Ttl::NoExpiry);
        assert_eq!(engine.ttl(b"zz"), Ttl::Missing);
        assert_eq!(engine.expire(b"a", Duration::from_secs(10)), Ok(true));
        assert_eq!(engine.expire(b"zz", Duration::from_secs(10)), Ok(false));
        clock.advance(2500);
        assert_eq!(
            engine.ttl(b"a"),
            Ttl::Remaining(Duration::from_millis(7500))
        );
        assert_eq!(run(&engine, &["PTTL", "a"]), int(7500));
        assert!(engine.persist(b"a"));
        assert!(!engine.persist(b"a"));
        assert_eq!(engine.rename(b"a", b"c"), Ok(()));
        assert_eq!(engine.rename(b"a", b"c"), Err(CommandError::NoSuchKey));
        let mut keys = engine.keys(b"*");
        keys.sort();
        assert_eq!(keys, [&b"b"[..], &b"c"[..]]);
        assert_eq!(engine.dbsize(), 2);
        assert_eq!(engine.del(&[b"b", b"b", b"zz"]), 1);
        engine.flush_all();
        assert_eq!(engine.dbsize(), 0);
        assert_eq!(
            sink.commands()[3..],
            [
                format!("PEXPIREAT a {}", START_MS + 10_000),
                "PERSIST a".to_owned(),
                "RENAME a c".to_owned(),
                "DEL b".to_owned(),
                "FLUSHALL".to_owned(),
            ]
        );
    }

    #[test]
    fn expire_limits_and_past_deadlines() {
        let (engine, _, sink) = recorded_engine();
        assert_eq!(run(&engine, &["SET", "a", "1"]), Reply::Ok);
        assert_eq!(
            engine.expire(b"a", Duration::MAX),
            Err(CommandError::InvalidExpire("pexpire".into()))
        );
        let later = UNIX_EPOCH + Duration::from_millis(START_MS + 5);
        assert_eq!(engine.expire_at(b"a", later), Ok(true));
        assert_eq!(engine.ttl(b"a"), Ttl::Remaining(Duration::from_millis(5)));
        assert_eq!(engine.expire_at(b"a", UNIX_EPOCH), Ok(true));
        assert_eq!(engine.ttl(b"a"), Ttl::Missing);
        assert_eq!(
            sink.commands()[2..],
            [format!("PEXPIREAT a {}", START_MS + 5), "DEL a".to_owned()]
        );
    }
}
