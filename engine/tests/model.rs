//! Model test: random sequences of string and key commands, with the clock moving between
//! them, run against the engine and against a plain reference model (a `BTreeMap` of key ->
//! (value, deadline)) that states Redis 7's behaviour as directly as possible. Every reply must
//! agree. A small key alphabet (two of the keys share a slot through a hash tag) makes the
//! commands collide, and the values include integers at the edge of overflow and texts that only
//! look like integers.

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use slotkv_engine::Reply;

const KEYS: [&str; 4] = ["a", "b", "{a}c", "d"];
const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";

/// SET's NX / XX.
#[derive(Debug, Clone, Copy)]
enum Condition {
    Always,
    IfAbsent,
    IfPresent,
}

/// SET's expiry option. Absolute times are offsets from the time the command runs.
#[derive(Debug, Clone, Copy)]
enum SetExpiry {
    Clear,
    KeepTtl,
    Ex(i64),
    Px(i64),
    ExAtOffset(i64),
    PxAtOffset(i64),
}

#[derive(Debug, Clone)]
enum Op {
    Set {
        key: usize,
        value: String,
        condition: Condition,
        get: bool,
        expiry: SetExpiry,
    },
    Get(usize),
    Del(Vec<usize>),
    Exists(Vec<usize>),
    Expire {
        key: usize,
        amount: i64,
        millis: bool,
        options: &'static [&'static str],
    },
    Ttl(usize),
    Pttl(usize),
    Persist(usize),
    Incr(usize),
    IncrBy(usize, i64),
    Append(usize, String),
    Strlen(usize),
    Rename(usize, usize),
    Keys,
    Advance(u64),
    ActiveCycle,
}

impl Op {
    /// The command's words at time `now_ms`, or `None` for steps that are not commands.
    fn words(&self, now_ms: u64) -> Option<Vec<String>> {
        let key = |k: &usize| KEYS[*k].to_owned();
        let words = match self {
            Op::Set {
                key: k,
                value,
                condition,
                get,
                expiry,
            } => {
                let mut words = vec!["SET".to_owned(), key(k), value.clone()];
                match condition {
                    Condition::Always => {}
                    Condition::IfAbsent => words.push("NX".into()),
                    Condition::IfPresent => words.push("XX".into()),
                }
                if *get {
                    words.push("GET".into());
                }
                let now_s = (now_ms / 1000) as i64;
                let (option, amount) = match expiry {
                    SetExpiry::Clear => (None, 0),
                    SetExpiry::KeepTtl => (Some("KEEPTTL"), 0),
                    SetExpiry::Ex(s) => (Some("EX"), *s),
                    SetExpiry::Px(ms) => (Some("PX"), *ms),
                    SetExpiry::ExAtOffset(s) => (Some("EXAT"), now_s + s),
                    SetExpiry::PxAtOffset(ms) => (Some("PXAT"), now_ms as i64 + ms),
                };
                if let Some(option) = option {
                    words.push(option.into());
                    if option != "KEEPTTL" {
                        words.push(amount.to_string());
                    }
                }
                words
            }
            Op::Get(k) => vec!["GET".into(), key(k)],
            Op::Del(ks) => std::iter::once("DEL".into())
                .chain(ks.iter().map(key))
                .collect(),
            Op::Exists(ks) => std::iter::once("EXISTS".into())
                .chain(ks.iter().map(key))
                .collect(),
            Op::Expire {
                key: k,
                amount,
                millis,
                options,
            } => {
                let name = if *millis { "PEXPIRE" } else { "EXPIRE" };
                let mut words = vec![name.to_owned(), key(k), amount.to_string()];
                words.extend(options.iter().map(|o| (*o).to_owned()));
                words
            }
            Op::Ttl(k) => vec!["TTL".into(), key(k)],
            Op::Pttl(k) => vec!["PTTL".into(), key(k)],
            Op::Persist(k) => vec!["PERSIST".into(), key(k)],
            Op::Incr(k) => vec!["INCR".into(), key(k)],
            Op::IncrBy(k, delta) => vec!["INCRBY".into(), key(k), delta.to_string()],
            Op::Append(k, value) => vec!["APPEND".into(), key(k), value.clone()],
            Op::Strlen(k) => vec!["STRLEN".into(), key(k)],
            Op::Rename(from, to) => vec!["RENAME".into(), key(from), key(to)],
            Op::Keys => vec!["KEYS".into(), "*".into()],
            Op::Advance(_) | Op::ActiveCycle => return None,
        };
        Some(words)
    }
}

/// The reference: live keys only (expired ones are dropped before each command, since no
/// reply can tell a reclaimed key from an expired one).
#[derive(Debug)]
struct Model {
    now_ms: u64,
    keys: BTreeMap<String, (Vec<u8>, Option<u64>)>,
}

fn value_reply(value: Option<&(Vec<u8>, Option<u64>)>) -> Reply {
    value.map_or(Reply::Nil, |(data, _)| Reply::bulk(data))
}

/// An integer as Redis's `string2ll` reads a stored string: optional `-`, then `0` alone or a
/// digit 1-9 followed by digits, at most 20 characters, within i64.
fn redis_integer(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let canonical = text.len() <= 20
        && match digits {
            [b'0'] => text.len() == 1,
            [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
            _ => false,
        };
    canonical
        .then(|| std::str::from_utf8(text).ok()?.parse().ok())
        .flatten()
}

impl Model {
    fn new() -> Model {
        Model {
            now_ms: NOW_MS,
            keys: BTreeMap::new(),
        }
    }

    /// Applies a command; returns the reply Redis would give (`None` for non-commands).
    fn apply(&mut self, op: &Op) -> Option<Reply> {
        let now_ms = self.now_ms;
        self.keys
            .retain(|_, (_, deadline)| deadline.is_none_or(|at| at > now_ms));
        let key = |k: &usize| KEYS[*k].to_owned();
        let reply = match op {
            Op::Set {
                key: k,
                value,
                condition,
                get,
                expiry,
            } => self.set(&key(k), value, *condition, *get, *expiry),
            Op::Get(k) => value_reply(self.keys.get(&key(k))),
            Op::Del(ks) => {
                let removed = ks.iter().filter(|k| self.keys.remove(&key(k)).is_some());
                Reply::Integer(removed.count() as i64)
            }
            Op::Exists(ks) => {
                let found = ks.iter().filter(|k| self.keys.contains_key(&key(k)));
                Reply::Integer(found.count() as i64)
            }
            Op::Expire {
                key: k,
                amount,
                millis,
                options,
            } => {
                let deadline_ms = now_ms as i64 + amount * if *millis { 1 } else { 1000 };
                self.expire(&key(k), deadline_ms, options)
            }
            Op::Ttl(k) => self.ttl(&key(k), |remaining_ms| (remaining_ms + 500) / 1000),
            Op::Pttl(k) => self.ttl(&key(k), |remaining_ms| remaining_ms),
            Op::Persist(k) => match self.keys.get_mut(&key(k)) {
                Some((_, deadline @ Some(_))) => {
                    *deadline = None;
                    Reply::Integer(1)
                }
                _ => Reply::Integer(0),
            },
            Op::Incr(k) => self.incr_by(&key(k), 1),
            Op::IncrBy(k, delta) => self.incr_by(&key(k), *delta),
            Op::Append(k, value) => {
                let entry = self.keys.entry(key(k)).or_insert((Vec::new(), None));
                entry.0.extend_from_slice(value.as_bytes());
                Reply::Integer(entry.0.len() as i64)
            }
            Op::Strlen(k) => Reply::Integer(
                self.keys
                    .get(&key(k))
                    .map_or(0, |(data, _)| data.len() as i64),
            ),
            Op::Rename(from, to) => match self.keys.remove(&key(from)) {
                None => err("ERR no such key"),
                Some(entry) => {
                    self.keys.insert(key(to), entry);
                    Reply::Ok
                }
            },
            Op::Keys => Reply::Array(
                self.keys
                    .keys()
                    .map(|k| Reply::bulk(k.as_bytes()))
                    .collect(),
            ),
            Op::Advance(ms) => {
                self.now_ms += ms;
                return None;
            }
            Op::ActiveCycle => return None,
        };
        Some(reply)
    }

    fn set(
        &mut self,
        key: &str,
        value: &str,
        condition: Condition,
        get: bool,
        expiry: SetExpiry,
    ) -> Reply {
        let now_ms = self.now_ms as i64;
        let now_s = now_ms / 1000;
        let deadline_ms = match expiry {
            SetExpiry::Clear | SetExpiry::KeepTtl => None,
            SetExpiry::Ex(s) => Some((s, now_ms + s * 1000)),
            SetExpiry::Px(ms) => Some((ms, now_ms + ms)),
            SetExpiry::ExAtOffset(s) => Some((now_s + s, (now_s + s) * 1000)),
            SetExpiry::PxAtOffset(ms) => Some((now_ms + ms, now_ms + ms)),
        };
        if deadline_ms.is_some_and(|(given, _)| given <= 0) {
            return err("ERR invalid expire time in 'set' command");
        }
        let old = self.keys.get(key).cloned();
        let answer = |set: bool| match (get, set) {
            (true, _) => value_reply(old.as_ref()),
            (false, true) => Reply::Ok,
            (false, false) => Reply::Nil,
        };
        let refused = match condition {
            Condition::Always => false,
            Condition::IfAbsent => old.is_some(),
            Condition::IfPresent => old.is_none(),
        };
        if refused {
            return answer(false);
        }
        let deadline = match expiry {
            SetExpiry::Clear => None,
            SetExpiry::KeepTtl => old.as_ref().and_then(|(_, deadline)| *deadline),
            _ => deadline_ms.map(|(_, at)| at as u64),
        };
        if deadline.is_some_and(|at| at <= self.now_ms) {
            self.keys.remove(key);
        } else {
            self.keys
                .insert(key.to_owned(), (value.as_bytes().to_vec(), deadline));
        }
        answer(true)
    }

    fn expire(&mut self, key: &str, deadline_ms: i64, options: &[&str]) -> Reply {
        let Some((_, current)) = self.keys.get(key) else {
            return Reply::Integer(0);
        };
        let has = |word: &str| options.contains(&word);
        let allowed = match current {
            None => !has("XX") && !has("GT"),
            Some(current) => {
                let current = *current as i64;
                let refused = has("NX")
                    || (has("GT") && deadline_ms <= current)
                    || (has("LT") && deadline_ms >= current);
                !refused
            }
        };
        if !allowed {
            return Reply::Integer(0);
        }
        if deadline_ms <= self.now_ms as i64 {
            self.keys.remove(key);
        } else if let Some((_, deadline)) = self.keys.get_mut(key) {
            *deadline = Some(deadline_ms as u64);
        }
        Reply::Integer(1)
    }

    fn ttl(&self, key: &str, show: fn(u64) -> u64) -> Reply {
        let value = match self.keys.get(key) {
            None => -2,
            Some((_, None)) => -1,
            Some((_, Some(at))) => show(at - self.now_ms) as i64,
        };
        Reply::Integer(value)
    }

    fn incr_by(&mut self, key: &str, delta: i64) -> Reply {
        let (current, deadline) = match self.keys.get(key) {
            None => (0, None),
            Some((data, deadline)) => match redis_integer(data) {
                Some(n) => (n, *deadline),
                None => return err(NOT_AN_INTEGER),
            },
        };
        let Some(result) = current.checked_add(delta) else {
            return err("ERR increment or decrement would overflow");
        };
        self.keys
            .insert(key.to_owned(), (result.to_string().into_bytes(), deadline));
        Reply::Integer(result)
    }
}

/// KEYS answers in no particular order: sort before comparing.
fn normalized(op: &Op, reply: Reply) -> Reply {
    match (op, reply) {
        (Op::Keys, Reply::Array(mut items)) => {
            items.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            Reply::Array(items)
        }
        (_, reply) => reply,
    }
}

fn key_index() -> impl Strategy<Value = usize> {
    0..KEYS.len()
}

fn value() -> impl Strategy<Value = String> {
    let edges = prop::sample::select(vec![
        "0",
        "1",
        "-3",
        "42",
        "9223372036854775806",
        "-9223372036854775807",
        "007",
        "-0",
        "+1",
        " 1",
        "",
        "1.5",
    ]);
    prop_oneof![edges.prop_map(str::to_owned), "[a-z]{1,3}"]
}

fn set_expiry() -> impl Strategy<Value = SetExpiry> {
    prop_oneof![
        3 => Just(SetExpiry::Clear),
        1 => Just(SetExpiry::KeepTtl),
        1 => (0i64..4).prop_map(SetExpiry::Ex),
        1 => (0i64..2500).prop_map(SetExpiry::Px),
        1 => (-2i64..4).prop_map(SetExpiry::ExAtOffset),
        1 => (-1000i64..2500).prop_map(SetExpiry::PxAtOffset),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let condition = prop_oneof![
        2 => Just(Condition::Always),
        1 => Just(Condition::IfAbsent),
        1 => Just(Condition::IfPresent),
    ];
    let set = (key_index(), value(), condition, any::<bool>(), set_expiry()).prop_map(
        |(key, value, condition, get, expiry)| Op::Set {
            key,
            value,
            condition,
            get,
            expiry,
        },
    );
    let expire_options = prop::sample::select(vec![
        &[][..],
        &["NX"][..],
        &["XX"][..],
        &["GT"][..],
        &["LT"][..],
        &["XX", "GT"][..],
        &["LT", "XX"][..],
    ]);
    let expire = (key_index(), -1i64..4, any::<bool>(), expire_options).prop_map(
        |(key, amount, millis, options)| Op::Expire {
            key,
            // PEXPIRE gets amounts on the scale of the clock's steps.
            amount: if millis { amount * 700 } else { amount },
            millis,
            options,
        },
    );
    let keys = || prop::collection::vec(key_index(), 1..4);
    prop_oneof![
        6 => set,
        4 => key_index().prop_map(Op::Get),
        2 => keys().prop_map(Op::Del),
        2 => keys().prop_map(Op::Exists),
        4 => expire,
        2 => key_index().prop_map(Op::Ttl),
        2 => key_index().prop_map(Op::Pttl),
        1 => key_index().prop_map(Op::Persist),
        2 => key_index().prop_map(Op::Incr),
        2 => (key_index(), -5i64..=5).prop_map(|(k, delta)| Op::IncrBy(k, delta)),
        2 => (key_index(), value()).prop_map(|(k, v)| Op::Append(k, v)),
        1 => key_index().prop_map(Op::Strlen),
        2 => (key_index(), key_index()).prop_map(|(from, to)| Op::Rename(from, to)),
        1 => Just(Op::Keys),
        4 => (0u64..1500).prop_map(Op::Advance),
        1 => Just(Op::ActiveCycle),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn engine_agrees_with_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let db = db();
        let mut model = Model::new();
        for (step, op) in ops.iter().enumerate() {
            let words = op.words(model.now_ms);
            match op {
                Op::Advance(ms) => db.advance(*ms),
                Op::ActiveCycle => {
                    db.engine.run_expire_cycle();
                }
                _ => {}
            }
            let expected = model.apply(op);
            if let (Some(words), Some(expected)) = (words, expected) {
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                let actual = normalized(op, db.run_words(&words));
                let expected = normalized(op, expected);
                prop_assert_eq!(actual, expected, "step {}: {:?}", step, words);
            }
        }
    }
}
