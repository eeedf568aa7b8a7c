//! Engine support for cluster mode and MIGRATE, which the server drives: the keys of one slot
//! (CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT), whether a key exists without touching it (the
//! redirection check of a slot being migrated), and the two halves of MIGRATE around its
//! network exchange: the payloads of the keys to send, then the removal of the keys that the
//! target took, unless they changed meanwhile.
//!
//! MIGRATE holds no slot lock while it waits on the network (other clients go on), so a key
//! may be written between its DUMP and its removal: such a key is kept, since deleting it would
//! lose the write; the caller's next MIGRATE of the slot moves it again.

use bytes::Bytes;

use crate::codec::PayloadCodec;
use crate::engine::{Engine, Session};
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::slot::key_slot;

/// One key as MIGRATE sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedKey {
    pub key: Bytes,
    /// DUMP payload of the value.
    pub payload: Bytes,
    /// Deadline, Unix ms, if the key has one.
    pub expire_at_ms: Option<u64>,
}

/// Why keys could not be dumped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DumpError {
    /// No payload codec is installed (the engine was not opened through slotkv-persistence).
    NoCodec,
    /// The codec refused a value.
    Codec(String),
}

impl std::fmt::Display for DumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DumpError::NoCodec => f.write_str("no DUMP payload codec installed"),
            DumpError::Codec(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for DumpError {}

impl Engine {
    /// Up to `count` keys of `slot` in database `db`, in table order (CLUSTER GETKEYSINSLOT).
    /// Expired keys are reclaimed first, as any walk of the keyspace does.
    pub fn slot_keys(&self, db: usize, slot: u16, count: usize) -> Vec<Bytes> {
        if db >= self.databases() {
            return Vec::new();
        }
        self.with_ctx(&mut Session::new(), |ctx| {
            let mut locks = ctx.lock_slot(db, slot);
            let table = locks.live_table(slot);
            table
                .iter()
                .take(count)
                .map(|(key, _)| Bytes::copy_from_slice(key))
                .collect()
        })
    }

    /// Whether `key` holds a live value in database `db`, without touching it, counting a hit
    /// or reclaiming it: for the cluster's redirection check, which is not an access.
    pub fn key_exists(&self, db: usize, key: &[u8]) -> bool {
        if db >= self.databases() {
            return false;
        }
        self.with_ctx(&mut Session::new(), |ctx| {
            let now_ms = ctx.now_ms();
            let locks = ctx.lock_slot(db, key_slot(key));
            locks
                .raw_entry(key)
                .is_some_and(|entry| !entry.is_expired(now_ms))
        })
    }

    /// The DUMP payloads and deadlines of those of `keys` that exist in the session's
    /// database, read under their slot locks together (one point in time); missing keys are
    /// left out. Each read counts as an access, as Redis's MIGRATE looks its keys up.
    pub fn dump_keys(
        &self,
        session: &mut Session,
        keys: &[Bytes],
    ) -> Result<Vec<DumpedKey>, DumpError> {
        let codec = self.codec()?;
        self.with_ctx(session, |ctx| {
            let names: Vec<&[u8]> = keys.iter().map(|key| key.as_ref()).collect();
            let mut locks = ctx.lock_keys(&names);
            let mut dumped = Vec::with_capacity(keys.len());
            for key in keys {
                let Some(entry) = locks.read(key) else {
                    continue;
                };
                let payload = codec.dump(&entry.value).map_err(DumpError::Codec)?;
                dumped.push(DumpedKey {
                    key: key.clone(),
                    payload: Bytes::from(payload),
                    expire_at_ms: entry.expire_at_ms(),
                });
            }
            Ok(dumped)
        })
    }

    /// Removes the migrated `keys` from the session's database, each only if it still holds
    /// the value and deadline that were sent; reports `del` for each and propagates one DEL of
    /// them all. Returns the keys removed.
    pub fn remove_migrated(&self, session: &mut Session, keys: &[DumpedKey]) -> Vec<Bytes> {
        let Ok(codec) = self.codec() else {
            return Vec::new();
        };
        self.with_ctx(session, |ctx| {
            let names: Vec<&[u8]> = keys.iter().map(|sent| sent.key.as_ref()).collect();
            let mut locks = ctx.lock_keys(&names);
            let mut removed = Vec::with_capacity(keys.len());
            for sent in keys {
                let unchanged = locks
                    .peek(&sent.key)
                    .is_some_and(|entry| still_as_sent(codec, entry, sent));
                if unchanged && locks.remove(&sent.key).is_some() {
                    locks.notify(Events::GENERIC, "del", &sent.key);
                    removed.push(sent.key.clone());
                }
            }
            if !removed.is_empty() {
                locks.propagate(|| {
                    let mut record = Vec::with_capacity(removed.len() + 1);
                    record.push(Bytes::from_static(b"DEL"));
                    record.extend(removed.iter().cloned());
                    record
                });
            }
            removed
        })
    }

    fn codec(&self) -> Result<&dyn PayloadCodec, DumpError> {
        self.inner
            .payload_codec
            .get()
            .map(|codec| &**codec)
            .ok_or(DumpError::NoCodec)
    }
}

/// Whether `entry` still holds what MIGRATE sent: same deadline and same payload.
fn still_as_sent(codec: &dyn PayloadCodec, entry: &Entry, sent: &DumpedKey) -> bool {
    entry.expire_at_ms() == sent.expire_at_ms
        && codec
            .dump(&entry.value)
            .is_ok_and(|payload| payload == sent.payload.as_ref())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::codec::PayloadError;
    use crate::propagate::RecordingSink;
    use crate::value::{StrValue, Value};

    /// A codec for strings only: the payload is the text itself.
    #[derive(Debug)]
    struct TextCodec;

    impl PayloadCodec for TextCodec {
        fn dump(&self, value: &Value) -> Result<Vec<u8>, String> {
            match value {
                Value::Str(text) => Ok(text.to_bytes().to_vec()),
                _ => Err("strings only".into()),
            }
        }

        fn restore(&self, payload: &[u8]) -> Result<Value, PayloadError> {
            Ok(Value::Str(StrValue::from_bytes(payload)))
        }
    }

    fn engine() -> Engine {
        let engine = Engine::open(crate::Config::default()).expect("open");
        assert!(engine.set_payload_codec(Arc::new(TextCodec)));
        engine
    }

    fn run(engine: &Engine, words: &[&str]) -> crate::Reply {
        let args: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        engine.execute(&args)
    }

    #[test]
    fn slot_keys_lists_one_slot_up_to_the_count() {
        let engine = engine();
        for key in ["{a}1", "{a}2", "{a}3", "b"] {
            run(&engine, &["SET", key, "v"]);
        }
        let slot = key_slot(b"a");
        let mut keys = engine.slot_keys(0, slot, 10);
        keys.sort();
        assert_eq!(keys, ["{a}1", "{a}2", "{a}3"]);
        assert_eq!(engine.slot_keys(0, slot, 2).len(), 2);
        assert!(engine.slot_keys(0, slot, 0).is_empty());
        assert!(engine.slot_keys(99, slot, 10).is_empty());
        assert_eq!(engine.slot_key_count(0, slot), 3);
    }

    #[test]
    fn key_exists_ignores_expired_keys_without_touching_them() {
        let engine = engine();
        run(&engine, &["SET", "live", "v"]);
        run(&engine, &["SET", "gone", "v", "PX", "1"]);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(engine.key_exists(0, b"live"));
        assert!(!engine.key_exists(0, b"gone"));
        assert!(!engine.key_exists(0, b"never"));
        assert_eq!(engine.stats().keyspace_hits, 0);
    }

    #[test]
    fn migrated_keys_go_unless_they_changed() {
        let engine = engine();
        let recorder = Arc::new(RecordingSink::default());
        engine.subscribe(recorder.clone());
        run(&engine, &["SET", "k1", "one"]);
        run(&engine, &["SET", "k2", "two", "PXAT", "99999999999999"]);
        run(&engine, &["SET", "k3", "three"]);
        let mut session = Session::new();
        let keys = [
            Bytes::from_static(b"k1"),
            Bytes::from_static(b"k2"),
            Bytes::from_static(b"k3"),
            Bytes::from_static(b"missing"),
        ];
        let dumped = engine.dump_keys(&mut session, &keys).expect("dump");
        assert_eq!(dumped.len(), 3);
        assert_eq!(dumped[1].payload.as_ref(), b"two");
        assert_eq!(dumped[1].expire_at_ms, Some(99_999_999_999_999));
        // A write between the dump and the removal keeps the key.
        run(&engine, &["SET", "k3", "changed"]);
        let removed = engine.remove_migrated(&mut session, &dumped);
        assert_eq!(removed, ["k1", "k2"]);
        assert_eq!(
            run(&engine, &["EXISTS", "k1", "k2", "k3"]),
            crate::Reply::Integer(1)
        );
        let (_, _, last) = recorder.records().pop().expect("propagated");
        assert_eq!(last, ["DEL", "k1", "k2"]);
    }

    #[test]
    fn dump_needs_a_codec() {
        let engine = Engine::open(crate::Config::default()).expect("open");
        run(&engine, &["SET", "k", "v"]);
        let error = engine
            .dump_keys(&mut Session::new(), &[Bytes::from_static(b"k")])
            .unwrap_err();
        assert_eq!(error, DumpError::NoCodec);
    }
}
