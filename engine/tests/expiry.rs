//! Expiry, end to end through `Engine::execute`, on a manual clock with the background cycle
//! off: keys expire lazily when touched and actively when `run_expire_cycle` runs, every
//! reclaimed key is counted and propagated as DEL, and the NX / XX / GT / LT options follow
//! Redis 7's tables.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use slotkv_engine::propagate::RecordingSink;
use slotkv_engine::{Config, Engine, ManualClock, Reply, Session};

const START_MS: u64 = 1_700_000_000_000;

fn open() -> (Engine, Arc<ManualClock>, Arc<RecordingSink>) {
    let clock = Arc::new(ManualClock::new(START_MS));
    let engine = Engine::open(Config::with_clock(clock.clone())).expect("engine opens");
    let sink = Arc::new(RecordingSink::default());
    engine.subscribe(sink.clone());
    (engine, clock, sink)
}

fn args(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn run(engine: &Engine, words: &[&str]) -> Reply {
    engine.execute(&args(words))
}

fn run_in(engine: &Engine, session: &mut Session, words: &[&str]) -> Reply {
    engine.execute_in(session, &args(words))
}

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

fn bulk(text: &str) -> Reply {
    Reply::bulk(text.as_bytes())
}

#[test]
fn a_key_expires_when_it_is_next_touched() {
    let (engine, clock, sink) = open();
    assert_eq!(run(&engine, &["SET", "k", "v"]), Reply::Ok);
    assert_eq!(run(&engine, &["PEXPIRE", "k", "100"]), int(1));
    clock.advance(99);
    assert_eq!(run(&engine, &["GET", "k"]), bulk("v"));
    assert_eq!(run(&engine, &["PTTL", "k"]), int(1));
    clock.advance(1);
    assert_eq!(run(&engine, &["DBSIZE"]), int(1), "counted until reclaimed");
    assert_eq!(engine.stats().expired_keys, 0);
    assert_eq!(run(&engine, &["GET", "k"]), Reply::Nil);
    assert_eq!(run(&engine, &["DBSIZE"]), int(0));
    assert_eq!(engine.stats().expired_keys, 1);
    assert_eq!(
        sink.commands(),
        [
            "SELECT 0".to_owned(),
            "SET k v".to_owned(),
            format!("PEXPIREAT k {}", START_MS + 100),
            "DEL k".to_owned(),
        ]
    );
}

#[test]
fn an_expired_key_is_invisible_to_every_command() {
    let (engine, clock, _) = open();
    assert_eq!(run(&engine, &["SET", "gone", "v"]), Reply::Ok);
    assert_eq!(run(&engine, &["PEXPIRE", "gone", "10"]), int(1));
    clock.advance(10);
    assert_eq!(run(&engine, &["EXISTS", "gone"]), int(0));
    assert_eq!(run(&engine, &["TTL", "gone"]), int(-2));
    assert_eq!(
        run(&engine, &["TYPE", "gone"]),
        Reply::Simple("none".into())
    );
    assert_eq!(run(&engine, &["SET", "other", "v"]), Reply::Ok);
    assert_eq!(run(&engine, &["PEXPIRE", "other", "10"]), int(1));
    clock.advance(10);
    assert_eq!(run(&engine, &["KEYS", "*"]), Reply::Array(vec![]));
    assert_eq!(run(&engine, &["RANDOMKEY"]), Reply::Nil);
    assert_eq!(
        run(&engine, &["SCAN", "0"]),
        Reply::Array(vec![bulk("0"), Reply::Array(vec![])])
    );
    assert_eq!(
        run(&engine, &["RENAME", "gone", "x"]),
        Reply::Error("ERR no such key".into())
    );
    assert_eq!(run(&engine, &["EXPIRE", "gone", "10"]), int(0));
    assert_eq!(run(&engine, &["PERSIST", "gone"]), int(0));
    assert_eq!(engine.key_count(0), 0);
}

#[test]
fn the_active_cycle_reclaims_untouched_keys_in_every_slot_and_database() {
    let (engine, clock, sink) = open();
    let mut db3 = Session::new();
    assert_eq!(run_in(&engine, &mut db3, &["SELECT", "3"]), Reply::Ok);
    let mut expected_dels = BTreeSet::new();
    for i in 0..60 {
        let key = format!("temp:{i}");
        assert_eq!(run(&engine, &["SET", &key, "v"]), Reply::Ok);
        assert_eq!(run(&engine, &["PEXPIRE", &key, "50"]), int(1));
        expected_dels.insert((0, format!("DEL {key}")));
        let key3 = format!("db3:{i}");
        assert_eq!(run_in(&engine, &mut db3, &["SET", &key3, "v"]), Reply::Ok);
        assert_eq!(run_in(&engine, &mut db3, &["PEXPIRE", &key3, "50"]), int(1));
        expected_dels.insert((3, format!("DEL {key3}")));
    }
    for i in 0..10 {
        let key = format!("kept:{i}");
        assert_eq!(run(&engine, &["SET", &key, "v"]), Reply::Ok);
        assert_eq!(run(&engine, &["PEXPIRE", &key, "100000"]), int(1));
        assert_eq!(
            run(&engine, &["SET", &format!("plain:{i}"), "v"]),
            Reply::Ok
        );
    }
    let records_before = sink.records().len();
    assert_eq!(engine.run_expire_cycle(), 0, "nothing is due yet");
    clock.advance(50);
    let mut reclaimed = 0;
    for _ in 0..1000 {
        reclaimed += engine.run_expire_cycle();
        if reclaimed >= 120 {
            break;
        }
    }
    assert_eq!(reclaimed, 120);
    assert_eq!((engine.key_count(0), engine.key_count(3)), (20, 0));
    assert_eq!(
        (engine.volatile_count(0), engine.volatile_count(3)),
        (10, 0)
    );
    assert_eq!(engine.stats().expired_keys, 120);
    let dels: BTreeSet<(usize, String)> = sink.records()[records_before..]
        .iter()
        .filter(|(_, _, args)| args[0] != "SELECT")
        .map(|(_, db, args)| {
            let words: Vec<_> = args.iter().map(|a| String::from_utf8_lossy(a)).collect();
            (*db, words.join(" "))
        })
        .collect();
    assert_eq!(dels, expected_dels);
    assert_eq!(run(&engine, &["GET", "kept:3"]), bulk("v"));
}

#[test]
fn persist_keeps_a_key_past_its_old_deadline() {
    let (engine, clock, sink) = open();
    assert_eq!(run(&engine, &["SET", "k", "v"]), Reply::Ok);
    assert_eq!(run(&engine, &["EXPIRE", "k", "10"]), int(1));
    assert_eq!(run(&engine, &["PERSIST", "k"]), int(1));
    assert_eq!(run(&engine, &["TTL", "k"]), int(-1));
    clock.advance(20_000);
    assert_eq!(engine.run_expire_cycle(), 0);
    assert_eq!(run(&engine, &["GET", "k"]), bulk("v"));
    assert_eq!(
        sink.commands().last().map(String::as_str),
        Some("PERSIST k")
    );
    assert_eq!(engine.volatile_count(0), 0);
}

#[test]
fn set_clears_a_deadline_unless_told_to_keep_it() {
    let (engine, clock, _) = open();
    assert_eq!(run(&engine, &["SET", "k", "v"]), Reply::Ok);
    assert_eq!(run(&engine, &["EXPIRE", "k", "10"]), int(1));
    assert_eq!(run(&engine, &["SET", "k", "v2"]), Reply::Ok);
    assert_eq!(run(&engine, &["TTL", "k"]), int(-1));
    assert_eq!(engine.volatile_count(0), 0);
    clock.advance(20_000);
    assert_eq!(run(&engine, &["GET", "k"]), bulk("v2"));
    assert_eq!(run(&engine, &["EXPIRE", "k", "10"]), int(1));
    assert_eq!(run(&engine, &["SET", "k", "v3", "KEEPTTL"]), Reply::Ok);
    assert_eq!(run(&engine, &["TTL", "k"]), int(10));
    clock.advance(10_000);
    assert_eq!(run(&engine, &["GET", "k"]), Reply::Nil);
}

#[test]
fn a_deadline_in_the_past_deletes_at_once() {
    let (engine, _, sink) = open();
    assert_eq!(run(&engine, &["SET", "k", "v"]), Reply::Ok);
    assert_eq!(run(&engine, &["EXPIRE", "k", "-1"]), int(1));
    assert_eq!(run(&engine, &["EXISTS", "k"]), int(0));
    assert_eq!(engine.stats().expired_keys, 0, "deleted, not expired");
    assert_eq!(sink.commands().last().map(String::as_str), Some("DEL k"));
}

/// One row of the EXPIRE options table: the key's deadline before (seconds from now, `None`
/// for none), the options, the new deadline (seconds), the reply and the TTL after.
struct Row {
    before_s: Option<i64>,
    options: &'static [&'static str],
    new_s: i64,
    reply: i64,
    ttl_after: i64,
}

const fn row(
    before_s: Option<i64>,
    options: &'static [&'static str],
    new_s: i64,
    reply: i64,
    ttl_after: i64,
) -> Row {
    Row {
        before_s,
        options,
        new_s,
        reply,
        ttl_after,
    }
}

#[test]
fn expire_options_follow_redis_tables() {
    // A key without a deadline counts as expiring never: later than any deadline.
    let rows = [
        row(None, &[], 50, 1, 50),
        row(None, &["NX"], 50, 1, 50),
        row(None, &["XX"], 50, 0, -1),
        row(None, &["GT"], 50, 0, -1),
        row(None, &["LT"], 50, 1, 50),
        row(None, &["XX", "GT"], 50, 0, -1),
        row(None, &["XX", "LT"], 50, 0, -1),
        row(Some(100), &[], 50, 1, 50),
        row(Some(100), &["NX"], 50, 0, 100),
        row(Some(100), &["XX"], 50, 1, 50),
        row(Some(100), &["GT"], 50, 0, 100),
        row(Some(100), &["GT"], 100, 0, 100),
        row(Some(100), &["GT"], 150, 1, 150),
        row(Some(100), &["LT"], 150, 0, 100),
        row(Some(100), &["LT"], 100, 0, 100),
        row(Some(100), &["LT"], 50, 1, 50),
        row(Some(100), &["XX", "GT"], 150, 1, 150),
        row(Some(100), &["lt", "xx"], 50, 1, 50),
    ];
    let (engine, _, _) = open();
    for (index, row) in rows.iter().enumerate() {
        let key = format!("k{index}");
        assert_eq!(run(&engine, &["SET", &key, "v"]), Reply::Ok);
        if let Some(before) = row.before_s {
            assert_eq!(run(&engine, &["EXPIRE", &key, &before.to_string()]), int(1));
        }
        let new_s = row.new_s.to_string();
        let mut words = vec!["EXPIRE", key.as_str(), new_s.as_str()];
        words.extend_from_slice(row.options);
        assert_eq!(
            run(&engine, &words),
            int(row.reply),
            "row {index}: {words:?}"
        );
        assert_eq!(
            run(&engine, &["TTL", &key]),
            int(row.ttl_after),
            "row {index}: {words:?}"
        );
    }
}

#[test]
fn incompatible_expire_options_are_refused() {
    let (engine, _, _) = open();
    assert_eq!(run(&engine, &["SET", "k", "v"]), Reply::Ok);
    let nx_error = "ERR NX and XX, GT or LT options at the same time are not compatible";
    for options in [["NX", "XX"], ["NX", "GT"], ["LT", "NX"]] {
        let mut words = vec!["PEXPIRE", "k", "100"];
        words.extend_from_slice(&options);
        assert_eq!(run(&engine, &words), Reply::Error(nx_error.into()));
    }
    assert_eq!(
        run(&engine, &["EXPIREAT", "k", "100", "GT", "LT"]),
        Reply::Error("ERR GT and LT options at the same time are not compatible".into())
    );
    assert_eq!(run(&engine, &["TTL", "k"]), int(-1));
}
