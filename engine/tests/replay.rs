//! The propagation stream is complete and deterministic: replaying what one engine streamed
//! into an empty engine rebuilds the same dataset (values, types and deadlines), for random
//! sequences of writes across every family, expiry and transactions included.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use slotkv_engine::command::CommandTable;
use slotkv_engine::propagate::RecordingSink;
use slotkv_engine::{Config, Engine, ManualClock, Reply, Session};

const START_MS: u64 = 1_700_000_000_000;

fn args(words: &[String]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn text(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// A write command over a small key and member alphabet, so commands collide.
fn write_command() -> impl Strategy<Value = Vec<String>> {
    let key = prop::sample::select(vec!["a", "b", "c", "{t}x", "{t}y"]);
    let member = prop::sample::select(vec!["m1", "m2", "m3", "7", "-2"]);
    let n = -3i64..5;
    let score = prop::sample::select(vec!["1", "2.5", "-1", "inf", "0.1"]);
    (key.clone(), key, member, n, score, 0usize..36).prop_map(|(k, k2, m, n, s, which)| {
        let n = n.to_string();
        match which {
            0 => text(&["SET", k, m]),
            1 => text(&["SET", k, m, "EX", "5"]),
            2 => text(&["INCRBY", k, &n]),
            3 => text(&["INCRBYFLOAT", k, s]),
            4 => text(&["APPEND", k, m]),
            5 => text(&["SETRANGE", k, "3", m]),
            6 => text(&["GETDEL", k]),
            7 => text(&["GETEX", k, "PX", "700"]),
            8 => text(&["DEL", k, k2]),
            9 => text(&["EXPIRE", k, "3"]),
            10 => text(&["PERSIST", k]),
            11 => text(&["RENAME", k, k2]),
            12 => text(&["COPY", k, k2, "REPLACE"]),
            13 => text(&["HSET", k, m, &n]),
            14 => text(&["HINCRBYFLOAT", k, m, s]),
            15 => text(&["HDEL", k, m]),
            16 => text(&["LPUSH", k, m, &n]),
            17 => text(&["RPOP", k]),
            18 => text(&["LMOVE", k, k2, "LEFT", "RIGHT"]),
            19 => text(&["LTRIM", k, "0", &n]),
            20 => text(&["LMPOP", "2", k, k2, "RIGHT", "COUNT", "2"]),
            21 => text(&["SADD", k, m, &n]),
            22 => text(&["SPOP", k]),
            23 => text(&["SMOVE", k, k2, m]),
            24 => text(&["SINTERSTORE", k, k, k2]),
            25 => text(&["ZADD", k, s, m]),
            26 => text(&["ZINCRBY", k, s, m]),
            27 => text(&["ZPOPMIN", k]),
            28 => text(&["ZUNIONSTORE", k, "2", k, k2, "AGGREGATE", "MAX"]),
            29 => text(&["ZREMRANGEBYRANK", k, "0", &n]),
            30 => text(&["SETBIT", k, "9", "1"]),
            31 => text(&["PFADD", k, m]),
            32 => text(&["SELECT", "1"]),
            33 => text(&["SELECT", "0"]),
            34 => text(&["FLUSHDB"]),
            _ => text(&["SWAPDB", "0", "1"]),
        }
    })
}

/// One step: a command, a move of the clock, an active expire cycle, or a transaction.
#[derive(Debug, Clone)]
enum Step {
    Command(Vec<String>),
    Advance(u64),
    ExpireCycle,
    Transaction(Vec<Vec<String>>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => write_command().prop_map(Step::Command),
        1 => (1u64..4000).prop_map(Step::Advance),
        1 => Just(Step::ExpireCycle),
        1 => prop::collection::vec(write_command(), 1..4).prop_map(Step::Transaction),
    ]
}

/// Everything observable about the dataset: per database, per key, its type, deadline and a
/// canonical rendering of its value.
fn snapshot(engine: &Engine) -> Vec<(usize, String, String, Reply, Reply)> {
    let mut rows = Vec::new();
    for db in 0..engine.databases() {
        let mut session = Session::new();
        engine.execute_in(&mut session, &args(&text(&["SELECT", &db.to_string()])));
        let Reply::Array(keys) = engine.execute_in(&mut session, &args(&text(&["KEYS", "*"])))
        else {
            panic!("KEYS replies with an array");
        };
        for key in keys {
            let Reply::Bulk(key) = key else {
                panic!("keys are bulk strings")
            };
            let name = String::from_utf8_lossy(&key).into_owned();
            let run = |words: &[&str]| engine.execute_in(&mut session.clone(), &args(&text(words)));
            let Reply::Simple(kind) = run(&["TYPE", &name]) else {
                panic!("TYPE replies simply")
            };
            let value = match kind.as_str() {
                "string" => run(&["GET", &name]),
                "hash" => sorted(run(&["HGETALL", &name])),
                "list" => run(&["LRANGE", &name, "0", "-1"]),
                "set" => sorted(run(&["SMEMBERS", &name])),
                _ => run(&["ZRANGE", &name, "0", "-1", "WITHSCORES"]),
            };
            rows.push((db, name.clone(), kind, value, run(&["PEXPIRETIME", &name])));
        }
    }
    rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    rows
}

/// A set-like reply in a stable order.
fn sorted(reply: Reply) -> Reply {
    let mut items = match reply {
        Reply::Array(items) | Reply::Set(items) => items,
        Reply::Map(pairs) => pairs
            .into_iter()
            .flat_map(|(k, v)| [Reply::Array(vec![k, v])])
            .collect(),
        other => return other,
    };
    items.sort_by_key(|item| format!("{item:?}"));
    Reply::Array(items)
}

/// Applies the records the replica has not seen yet, as a live replica would.
fn catch_up(replica: &Engine, session: &mut Session, sink: &RecordingSink, applied: &mut usize) {
    let records = sink.records();
    for (_, _, record) in &records[*applied..] {
        // MULTI/EXEC only frame a transaction; replayed alone, its commands give the same data.
        if record[0] == "MULTI" || record[0] == "EXEC" {
            continue;
        }
        let reply = replica.execute_in(session, record);
        assert!(!reply.is_error(), "replaying {record:?} failed: {reply:?}");
    }
    *applied = records.len();
}

/// Runs `steps` on a primary while a replica on the same clock applies its stream.
fn run_steps(steps: &[Step]) -> (Engine, Engine) {
    let clock = Arc::new(ManualClock::new(START_MS));
    let primary = Engine::open(Config::with_clock(clock.clone())).expect("opens");
    let replica = Engine::open(Config::with_clock(clock.clone())).expect("opens");
    let sink = Arc::new(RecordingSink::default());
    primary.subscribe(sink.clone());
    let (mut session, mut replica_session, mut applied) = (Session::new(), Session::new(), 0);
    for step in steps {
        match step {
            Step::Command(words) => {
                primary.execute_in(&mut session, &args(words));
            }
            Step::Advance(ms) => clock.advance(*ms),
            Step::ExpireCycle => {
                primary.run_expire_cycle();
            }
            Step::Transaction(commands) => {
                let exclusive = primary.exclusive();
                for words in commands {
                    let words = args(words);
                    if let Ok(spec) = CommandTable::global().resolve(&words) {
                        exclusive.execute_spec(&mut session, spec, &words);
                    }
                }
            }
        }
        catch_up(&replica, &mut replica_session, &sink, &mut applied);
    }
    (primary, replica)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn replaying_the_stream_rebuilds_the_dataset(steps in prop::collection::vec(step(), 1..40)) {
        let (primary, replica) = run_steps(&steps);
        prop_assert_eq!(snapshot(&primary), snapshot(&replica));
    }
}
