//! Expiry, end to end through `Engine::execute`, on a manual clock with the background cycle
//! off: keys expire lazily when touched and actively when `run_expire_cycle` runs, every
//! reclaimed key is counted and propagated as DEL, and the NX / XX / GT / LT options follow
//! Redis 7's tables.

mod common;

use std::collections::BTreeSet;

use common::*;
use slotkv_engine::{Reply, Session};

#[test]
fn a_key_expires_when_it_is_next_touched() {
    let db = db();
    assert_eq!(db.run_words(&["SET", "k", "v"]), Reply::Ok);
    assert_eq!(db.run_words(&["PEXPIRE", "k", "100"]), int(1));
    db.advance(99);
    assert_eq!(db.run_words(&["GET", "k"]), bulk("v"));
    assert_eq!(db.run_words(&["PTTL", "k"]), int(1));
    db.advance(1);
    assert_eq!(db.run_words(&["DBSIZE"]), int(1), "counted until reclaimed");
    assert_eq!(db.engine.stats().expired_keys, 0);
    assert_eq!(db.run_words(&["GET", "k"]), Reply::Nil);
    assert_eq!(db.run_words(&["DBSIZE"]), int(0));
    assert_eq!(db.engine.stats().expired_keys, 1);
    assert_eq!(
        db.sink.commands(),
        [
            "SELECT 0".to_owned(),
            "SET k v".to_owned(),
            format!("PEXPIREAT k {}", NOW_MS + 100),
            "DEL k".to_owned(),
        ]
    );
}

#[test]
fn an_expired_key_is_invisible_to_every_command() {
    let db = db();
    assert_eq!(db.run_words(&["SET", "gone", "v"]), Reply::Ok);
    assert_eq!(db.run_words(&["PEXPIRE", "gone", "10"]), int(1));
    db.advance(10);
    assert_eq!(db.run_words(&["EXISTS", "gone"]), int(0));
    assert_eq!(db.run_words(&["TTL", "gone"]), int(-2));
    assert_eq!(
        db.run_words(&["TYPE", "gone"]),
        Reply::Simple("none".into())
    );
    assert_eq!(db.run_words(&["SET", "other", "v"]), Reply::Ok);
    assert_eq!(db.run_words(&["PEXPIRE", "other", "10"]), int(1));
    db.advance(10);
    assert_eq!(db.run_words(&["KEYS", "*"]), Reply::Array(vec![]));
    assert_eq!(db.run_words(&["RANDOMKEY"]), Reply::Nil);
    assert_eq!(
        db.run_words(&["SCAN", "0"]),
        Reply::Array(vec![bulk("0"), Reply::Array(vec![])])
    );
    assert_eq!(
        db.run_words(&["RENAME", "gone", "x"]),
        Reply::Error("ERR no such key".into())
    );
    assert_eq!(db.run_words(&["EXPIRE", "gone", "10"]), int(0));
    assert_eq!(db.run_words(&["PERSIST", "gone"]), int(0));
    assert_eq!(db.engine.key_count(0), 0);
}

#[test]
fn the_active_cycle_reclaims_untouched_keys_in_every_slot_and_database() {
    let db = db();
    let mut db3 = Session::new();
    assert_eq!(db.run_in(&mut db3, &["SELECT", "3"]), Reply::Ok);
    let mut expected_dels = BTreeSet::new();
    for i in 0..60 {
        let key = format!("temp:{i}");
        assert_eq!(db.run_words(&["SET", &key, "v"]), Reply::Ok);
        assert_eq!(db.run_words(&["PEXPIRE", &key, "50"]), int(1));
        expected_dels.insert((0, format!("DEL {key}")));
        let key3 = format!("db3:{i}");
        assert_eq!(db.run_in(&mut db3, &["SET", &key3, "v"]), Reply::Ok);
        assert_eq!(db.run_in(&mut db3, &["PEXPIRE", &key3, "50"]), int(1));
        expected_dels.insert((3, format!("DEL {key3}")));
    }
    for i in 0..10 {
        let key = format!("kept:{i}");
        assert_eq!(db.run_words(&["SET", &key, "v"]), Reply::Ok);
        assert_eq!(db.run_words(&["PEXPIRE", &key, "100000"]), int(1));
        assert_eq!(
            db.run_words(&["SET", &format!("plain:{i}"), "v"]),
            Reply::Ok
        );
    }
    let records_before = db.sink.records().len();
    assert_eq!(db.engine.run_expire_cycle(), 0, "nothing is due yet");
    db.advance(50);
    let mut reclaimed = 0;
    for _ in 0..1000 {
        reclaimed += db.engine.run_expire_cycle();
        if reclaimed >= 120 {
            break;
        }
    }
    assert_eq!(reclaimed, 120);
    assert_eq!((db.engine.key_count(0), db.engine.key_count(3)), (20, 0));
    assert_eq!(
        (db.engine.volatile_count(0), db.engine.volatile_count(3)),
        (10, 0)
    );
    assert_eq!(db.engine.stats().expired_keys, 120);
    let dels: BTreeSet<(usize, String)> = db.sink.records()[records_before..]
        .iter()
        .filter(|(_, _, args)| args[0] != "SELECT")
        .map(|(_, db, args)| {
            let words: Vec<_> = args.iter().map(|a| String::from_utf8_lossy(a)).collect();
            (*db, words.join(" "))
        })
        .collect();
    assert_eq!(dels, expected_dels);
    assert_eq!(db.run_words(&["GET", "kept:3"]), bulk("v"));
}

#[test]
fn persist_keeps_a_key_past_its_old_deadline() {
    let db = db();
    assert_eq!(db.run_words(&["SET", "k", "v"]), Reply::Ok);
    assert_eq!(db.run_words(&["EXPIRE", "k", "10"]), int(1));
    assert_eq!(db.run_words(&["PERSIST", "k"]), int(1));
    assert_eq!(db.run_words(&["TTL", "k"]), int(-1));
    db.advance(20_000);
    assert_eq!(db.engine.run_expire_cycle(), 0);
    assert_eq!(db.run_words(&["GET", "k"]), bulk("v"));
    assert_eq!(
        db.sink.commands().last().map(String::as_str),
        Some("PERSIST k")
    );
    assert_eq!(db.engine.volatile_count(0), 0);
}

#[test]
fn set_clears_a_deadline_unless_told_to_keep_it() {
    let db = db();
    assert_eq!(db.run_words(&["SET", "k", "v"]), Reply::Ok);
    assert_eq!(db.run_words(&["EXPIRE", "k", "10"]), int(1));
    assert_eq!(db.run_words(&["SET", "k", "v2"]), Reply::Ok);
    assert_eq!(db.run_words(&["TTL", "k"]), int(-1));
    assert_eq!(db.engine.volatile_count(0), 0);
    db.advance(20_000);
    assert_eq!(db.run_words(&["GET", "k"]), bulk("v2"));
    assert_eq!(db.run_words(&["EXPIRE", "k", "10"]), int(1));
    assert_eq!(db.run_words(&["SET", "k", "v3", "KEEPTTL"]), Reply::Ok);
    assert_eq!(db.run_words(&["TTL", "k"]), int(10));
    db.advance(10_000);
    assert_eq!(db.run_words(&["GET", "k"]), Reply::Nil);
}

#[test]
fn a_deadline_in_the_past_deletes_at_once() {
    let db = db();
    assert_eq!(db.run_words(&["SET", "k", "v"]), Reply::Ok);
    assert_eq!(db.run_words(&["EXPIRE", "k", "-1"]), int(1));
    assert_eq!(db.run_words(&["EXISTS", "k"]), int(0));
    assert_eq!(db.engine.stats().expired_keys, 0, "deleted, not expired");
    assert_eq!(db.sink.commands().last().map(String::as_str), Some("DEL k"));
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
    let db = db();
    for (index, row) in rows.iter().enumerate() {
        let key = format!("k{index}");
        assert_eq!(db.run_words(&["SET", &key, "v"]), Reply::Ok);
        if let Some(before) = row.before_s {
            assert_eq!(db.run_words(&["EXPIRE", &key, &before.to_string()]), int(1));
        }
        let new_s = row.new_s.to_string();
        let mut words = vec!["EXPIRE", key.as_str(), new_s.as_str()];
        words.extend_from_slice(row.options);
        assert_eq!(
            db.run_words(&words),
            int(row.reply),
            "row {index}: {words:?}"
        );
        assert_eq!(
            db.run_words(&["TTL", &key]),
            int(row.ttl_after),
            "row {index}: {words:?}"
        );
    }
}

#[test]
fn incompatible_expire_options_are_refused() {
    let db = db();
    assert_eq!(db.run_words(&["SET", "k", "v"]), Reply::Ok);
    let nx_error = "ERR NX and XX, GT or LT options at the same time are not compatible";
    for options in [["NX", "XX"], ["NX", "GT"], ["LT", "NX"]] {
        let mut words = vec!["PEXPIRE", "k", "100"];
        words.extend_from_slice(&options);
        assert_eq!(db.run_words(&words), Reply::Error(nx_error.into()));
    }
    assert_eq!(
        db.run_words(&["EXPIREAT", "k", "100", "GT", "LT"]),
        Reply::Error("ERR GT and LT options at the same time are not compatible".into())
    );
    assert_eq!(db.run_words(&["TTL", "k"]), int(-1));
}

#[test]
fn a_pinned_session_runs_at_its_pinned_time_until_unpinned() {
    let db = db();
    assert_eq!(db.run_words(&["SET", "k", "v", "PX", "100"]), Reply::Ok);
    let mut session = Session::new();
    session.pin_time(NOW_MS + 50);
    db.advance(200);
    assert_eq!(db.run_in(&mut session, &["GET", "k"]), bulk("v"));
    assert_eq!(db.run_in(&mut session, &["PTTL", "k"]), int(50));
    // A relative deadline set while pinned counts from the pinned time.
    assert_eq!(db.run_in(&mut session, &["PEXPIRE", "k", "1000"]), int(1));
    session.unpin_time();
    assert_eq!(db.run_in(&mut session, &["PTTL", "k"]), int(850));
    db.advance(850);
    assert_eq!(db.run_in(&mut session, &["GET", "k"]), Reply::Nil);
}
