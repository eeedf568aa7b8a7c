//! DEBUG DIGEST and DEBUG DIGEST-VALUE: a 20-byte fingerprint of the whole dataset or of
//! single values, to check that two nodes (a primary and its replica) hold the same data.
//!
//! The construction follows Redis's: SHA-1 based, where *mixing* (order-dependent) hashes
//! the running digest with the new bytes, and *xoring* (order-independent) adds the SHA-1 of
//! the new bytes with XOR. A key's digest mixes its name, its type and its value (list
//! elements in order, strings whole; set members, hash field/value pairs and sorted-set
//! member/score pairs xored, so their internal order does not matter) and, when the key has
//! a time to live, the marker `!!expire!!` (whether it expires, not when, as in Redis). A
//! database's digest xors its keys' digests; the dataset's mixes each non-empty database's
//! number and digest in database order. An empty dataset digests to 40 zeros.
//!
//! Deviations from Redis, documented in docs/ARCHITECTURE.md: the bytes hashed differ
//! (type tags, score encoding), so the hex strings are not Redis's; keys whose deadline has
//! passed but which were not reclaimed yet are left out (on a primary and on its replica
//! alike), so the digest depends on the logical contents only; DIGEST-VALUE digests the value
//! (and its expiry marker) without the key name, as Redis does.

use slotkv_engine::keyspace::Entry;
use slotkv_engine::value::{StrValue, Value};
use slotkv_engine::{Engine, Reply, Session};

use sha1::{Digest as _, Sha1};

/// A digest under construction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest([u8; 20]);

impl Digest {
    /// Order-dependent: the digest becomes SHA-1(digest ‖ bytes).
    fn mix(&mut self, bytes: &[u8]) {
        let mut hasher = Sha1::new();
        hasher.update(self.0);
        hasher.update(bytes);
        self.0 = hasher.finalize().into();
    }

    /// Order-independent: XORs SHA-1(bytes) in.
    fn xor_bytes(&mut self, bytes: &[u8]) {
        self.xor(&Digest(Sha1::digest(bytes).into()));
    }

    fn xor(&mut self, other: &Digest) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine ^= theirs;
        }
    }

    /// The 40 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The digest of a value with its expiry marker (DEBUG DIGEST-VALUE's unit).
pub fn value_digest(entry: &Entry) -> Digest {
    let mut digest = Digest::default();
    mix_value(&mut digest, &entry.value);
    if entry.expire_at_ms().is_some() {
        digest.xor_bytes(b"!!expire!!");
    }
    digest
}

/// The digest of a key: its name, then its value's digest.
fn key_digest(key: &[u8], entry: &Entry) -> Digest {
    let mut digest = Digest::default();
    digest.mix(key);
    digest.mix(&value_digest(entry).0);
    digest
}

fn mix_value(digest: &mut Digest, value: &Value) {
    digest.mix(value.type_name().as_bytes());
    match value {
        Value::Str(StrValue::Int(n)) => digest.mix(n.to_string().as_bytes()),
        Value::Str(text) => digest.mix(&text.to_bytes()),
        Value::List(list) => list.iter().for_each(|element| digest.mix(element)),
        Value::Set(set) => set
            .iter()
            .for_each(|member| member.with_text(|text| digest.xor_bytes(text))),
        Value::Hash(hash) => hash
            .iter()
            .for_each(|(field, value)| digest.xor(&pair_digest(field, value))),
        Value::SortedSet(zset) => zset.iter().for_each(|(member, score)| {
            digest.xor(&pair_digest(member, &score.to_bits().to_be_bytes()))
        }),
        // A type added later still differs by its type name.
        _ => {}
    }
}

fn pair_digest(first: &[u8], second: &[u8]) -> Digest {
    let mut pair = Digest::default();
    pair.mix(first);
    pair.mix(second);
    pair
}

/// DEBUG DIGEST: the digest of every live key of every database, from a point-in-time
/// snapshot (so concurrent writes do not tear it). Not callable inside a command.
pub fn dataset_digest(engine: &Engine) -> Digest {
    let now_ms = engine.clock().now_ms();
    let mut databases = vec![Digest::default(); engine.databases()];
    let mut non_empty = vec![false; engine.databases()];
    for slot in engine.snapshot() {
        let (Some(db_digest), Some(seen)) =
            (databases.get_mut(slot.db), non_empty.get_mut(slot.db))
        else {
            continue;
        };
        for (key, entry) in slot.entries.iter().filter(|(_, e)| !e.is_expired(now_ms)) {
            db_digest.xor(&key_digest(key, entry));
            *seen = true;
        }
    }
    let mut total = Digest::default();
    for (db, digest) in databases.iter().enumerate() {
        if non_empty[db] {
            total.mix(&(db as u32).to_be_bytes());
            total.mix(&digest.0);
        }
    }
    total
}

/// DEBUG DIGEST-VALUE key [key ...]: one digest (a status reply, as Redis's) per key of `session`'s database, 40 zeros
/// for a key that does not exist.
pub fn value_digests(engine: &Engine, session: &mut Session, keys: &[bytes::Bytes]) -> Reply {
    let digests = engine.with_ctx(session, |ctx| {
        let names: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
        let mut locks = ctx.lock_keys(&names);
        names
            .iter()
            .map(|key| locks.peek(key).map(value_digest).unwrap_or_default())
            .collect::<Vec<_>>()
    });
    Reply::Array(digests.iter().map(|d| Reply::Simple(d.hex())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn engine() -> Engine {
        Engine::open(slotkv_engine::Config::default()).expect("engine")
    }

    fn run(engine: &Engine, words: &[&str]) -> Reply {
        let args: Vec<Bytes> = words.iter().map(|w| Bytes::from(w.to_string())).collect();
        engine.execute(&args)
    }

    #[test]
    fn empty_dataset_is_zeros() {
        assert_eq!(dataset_digest(&engine()).hex(), "0".repeat(40));
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let (a, b) = (engine(), engine());
        run(&a, &["SET", "k1", "v1"]);
        run(&a, &["SADD", "s", "x", "y", "z"]);
        run(&a, &["HSET", "h", "f1", "1", "f2", "2"]);
        run(&b, &["HSET", "h", "f2", "2", "f1", "1"]);
        run(&b, &["SADD", "s", "z", "y", "x"]);
        run(&b, &["SET", "k1", "v1"]);
        assert_eq!(dataset_digest(&a), dataset_digest(&b));
        assert_ne!(dataset_digest(&a), Digest::default());
    }

    #[test]
    fn values_list_order_expiry_and_database_count() {
        let base = engine();
        run(&base, &["RPUSH", "l", "a", "b"]);
        let digest = dataset_digest(&base);
        let reversed = engine();
        run(&reversed, &["RPUSH", "l", "b", "a"]);
        assert_ne!(dataset_digest(&reversed), digest);
        let expiring = engine();
        run(&expiring, &["RPUSH", "l", "a", "b"]);
        run(&expiring, &["EXPIRE", "l", "100"]);
        assert_ne!(dataset_digest(&expiring), digest);
        let other_db = engine();
        let mut session = Session::new();
        other_db.execute_in(&mut session, &[Bytes::from("SELECT"), Bytes::from("1")]);
        other_db.execute_in(
            &mut session,
            &["RPUSH", "l", "a", "b"].map(|w| Bytes::from(w.to_string())),
        );
        assert_ne!(dataset_digest(&other_db), digest);
    }

    #[test]
    fn digest_value_per_key() {
        let engine = engine();
        run(&engine, &["SET", "a", "1"]);
        run(&engine, &["SET", "b", "1"]);
        let mut session = Session::new();
        let keys = ["a", "b", "missing"].map(|k| Bytes::from(k.to_string()));
        let Reply::Array(replies) = value_digests(&engine, &mut session, &keys) else {
            panic!("not an array");
        };
        assert_eq!(replies.len(), 3);
        assert_eq!(replies[0], replies[1], "same value, same digest");
        assert_eq!(replies[2], Reply::Simple("0".repeat(40)));
    }
}
