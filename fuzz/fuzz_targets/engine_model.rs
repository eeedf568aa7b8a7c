//! Fuzz target: sequences of string and key commands run against the engine and against a
//! reference model (a map of key -> (value, deadline)), with a manual clock moving between
//! commands (`slotkv_engine`).
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run engine_model -- -max_total_time=60
//! ```
//!
//! The input is decoded by `arbitrary` into a list of operations over four keys. Every reply
//! must equal the model's: SET (with PX), GET, DEL, EXISTS, APPEND, STRLEN, INCRBY, PEXPIRE,
//! PTTL, PERSIST, and a key expires once the clock reaches its deadline, as Redis 7 does.

#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use slotkv_engine::{Config, Engine, ManualClock, Reply};

const KEYS: [&str; 4] = ["a", "b", "{a}c", "d"];
const START_MS: u64 = 1_700_000_000_000;
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const OVERFLOW: &str = "ERR increment or decrement would overflow";

/// A value: short text, or an integer written canonically (INCRBY's domain).
#[derive(Debug, Arbitrary)]
enum Value {
    Text(Vec<u8>),
    Integer(i64),
}

impl Value {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Value::Text(text) => text.iter().take(16).copied().collect(),
            Value::Integer(n) => n.to_string().into_bytes(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Op {
    Set(u8, Value, Option<u16>),
    Get(u8),
    Del(u8),
    Exists(u8),
    Append(u8, Value),
    Strlen(u8),
    IncrBy(u8, i64),
    Pexpire(u8, u16),
    Pttl(u8),
    Persist(u8),
    Advance(u16),
}

/// The reference: what Redis keeps for a string key.
#[derive(Default)]
struct Model {
    now_ms: u64,
    keys: BTreeMap<usize, (Vec<u8>, Option<u64>)>,
}

impl Model {
    /// The live entry of `key`, after dropping it if its deadline passed.
    fn live(&mut self, key: usize) -> Option<&mut (Vec<u8>, Option<u64>)> {
        let now = self.now_ms;
        if self
            .keys
            .get(&key)
            .is_some_and(|(_, at)| at.is_some_and(|at| at <= now))
        {
            self.keys.remove(&key);
        }
        self.keys.get_mut(&key)
    }

    fn apply(&mut self, op: &Op) -> Reply {
        match op {
            Op::Set(key, value, px) => {
                let deadline = px.map(|ms| self.now_ms + u64::from(ms) + 1);
                self.keys.insert(index(*key), (value.bytes(), deadline));
                Reply::Ok
            }
            Op::Get(key) => match self.live(index(*key)) {
                Some((value, _)) => Reply::Bulk(Bytes::copy_from_slice(value)),
                None => Reply::Nil,
            },
            Op::Del(key) | Op::Exists(key) => {
                let found = self.live(index(*key)).is_some();
                if matches!(op, Op::Del(_)) {
                    self.keys.remove(&index(*key));
                }
                Reply::Integer(i64::from(found))
            }
            Op::Append(key, value) => {
                let extra = value.bytes();
                let key = index(*key);
                let len = match self.live(key) {
                    Some((existing, _)) => {
                        existing.extend_from_slice(&extra);
                        existing.len()
                    }
                    None => {
                        self.keys.insert(key, (extra.clone(), None));
                        extra.len()
                    }
                };
                Reply::Integer(len as i64)
            }
            Op::Strlen(key) => {
                Reply::Integer(self.live(index(*key)).map_or(0, |(v, _)| v.len() as i64))
            }
            Op::IncrBy(key, by) => self.incr_by(index(*key), *by),
            Op::Pexpire(key, ms) => {
                let at = self.now_ms + u64::from(*ms) + 1;
                match self.live(index(*key)) {
                    Some((_, deadline)) => {
                        *deadline = Some(at);
                        Reply::Integer(1)
                    }
                    None => Reply::Integer(0),
                }
            }
            Op::Pttl(key) => {
                let now = self.now_ms;
                Reply::Integer(match self.live(index(*key)) {
                    None => -2,
                    Some((_, None)) => -1,
                    Some((_, Some(at))) => (*at - now) as i64,
                })
            }
            Op::Persist(key) => match self.live(index(*key)) {
                Some((_, deadline @ Some(_))) => {
                    *deadline = None;
                    Reply::Integer(1)
                }
                _ => Reply::Integer(0),
            },
            Op::Advance(ms) => {
                self.now_ms += u64::from(*ms);
                Reply::Ok
            }
        }
    }

    fn incr_by(&mut self, key: usize, by: i64) -> Reply {
        let entry = self.live(key);
        let current = match &entry {
            None => Some(0),
            Some((value, _)) => canonical_i64(value),
        };
        let Some(current) = current else {
            return Reply::Error(NOT_INTEGER.to_owned());
        };
        let Some(next) = current.checked_add(by) else {
            return Reply::Error(OVERFLOW.to_owned());
        };
        let text = next.to_string().into_bytes();
        match entry {
            Some((value, _)) => *value = text,
            None => {
                self.keys.insert(key, (text, None));
            }
        }
        Reply::Integer(next)
    }
}

/// An integer exactly as Redis's string2ll accepts it: canonical decimal within i64.
fn canonical_i64(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let n: i64 = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

fn index(key: u8) -> usize {
    usize::from(key) % KEYS.len()
}

/// The command line the engine runs for `op` (`None` for a clock step).
fn command(op: &Op) -> Option<Vec<Vec<u8>>> {
    let key = |k: &u8| KEYS[index(*k)].as_bytes().to_vec();
    let word = |w: &str| w.as_bytes().to_vec();
    Some(match op {
        Op::Set(k, value, None) => vec![word("SET"), key(k), value.bytes()],
        Op::Set(k, value, Some(ms)) => {
            let ms = (u64::from(*ms) + 1).to_string();
            vec![word("SET"), key(k), value.bytes(), word("PX"), word(&ms)]
        }
        Op::Get(k) => vec![word("GET"), key(k)],
        Op::Del(k) => vec![word("DEL"), key(k)],
        Op::Exists(k) => vec![word("EXISTS"), key(k)],
        Op::Append(k, value) => vec![word("APPEND"), key(k), value.bytes()],
        Op::Strlen(k) => vec![word("STRLEN"), key(k)],
        Op::IncrBy(k, by) => vec![word("INCRBY"), key(k), word(&by.to_string())],
        Op::Pexpire(k, ms) => {
            vec![
                word("PEXPIRE"),
                key(k),
                word(&(u64::from(*ms) + 1).to_string()),
            ]
        }
        Op::Pttl(k) => vec![word("PTTL"), key(k)],
        Op::Persist(k) => vec![word("PERSIST"), key(k)],
        Op::Advance(_) => return None,
    })
}

/// One engine for every input (opening one per input would dominate the run time), its keys
/// deleted and its clock reset before each.
fn engine() -> &'static (Engine, Arc<ManualClock>) {
    static ENGINE: OnceLock<(Engine, Arc<ManualClock>)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let clock = Arc::new(ManualClock::new(START_MS));
        let engine = Engine::open(Config::with_clock(clock.clone())).expect("engine opens");
        (engine, clock)
    })
}

fuzz_target!(|ops: Vec<Op>| {
    let (engine, clock) = engine();
    clock.set(START_MS);
    // Deleting the four keys empties what the model covers, far faster than FLUSHALL.
    let mut del = vec![Bytes::from_static(b"DEL")];
    del.extend(KEYS.iter().map(|key| Bytes::from_static(key.as_bytes())));
    let Reply::Integer(_) = engine.execute(&del) else {
        panic!("DEL failed");
    };
    let mut model = Model {
        now_ms: START_MS,
        ..Model::default()
    };
    for op in ops.iter().take(256) {
        let expected = model.apply(op);
        let Some(words) = command(op) else {
            clock.set(model.now_ms);
            continue;
        };
        let args: Vec<Bytes> = words.into_iter().map(Bytes::from).collect();
        let reply = engine.execute(&args);
        assert_eq!(reply, expected, "{op:?}");
    }
});
