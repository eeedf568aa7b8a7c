//! Snapshots without fork: a snapshot holds exactly the data as of its propagation offset, while
//! other threads keep writing (checked by replaying the stream up to the offset on a fresh
//! engine), and every path that changes a slot (writes, flushes, SWAPDB, expiry) copies it first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use slotkv_engine::keyspace::Entry;
use slotkv_engine::propagate::RecordingSink;
use slotkv_engine::{Config, Engine, ManualClock, Session, Snapshot};

const START_MS: u64 = 1_700_000_000_000;

type Contents = BTreeMap<(usize, Vec<u8>), Entry>;

fn args(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn engine_on(clock: &Arc<ManualClock>, databases: usize) -> Engine {
    let config = Config {
        databases,
        ..Config::with_clock(clock.clone())
    };
    Engine::open(config).expect("opens")
}

fn contents(snapshot: Snapshot) -> Contents {
    let mut all = Contents::new();
    snapshot.for_each(|db, key, entry| {
        let previous = all.insert((db, key.to_vec()), entry.clone());
        assert!(previous.is_none(), "key {key:?} of db {db} seen twice");
    });
    all
}

fn run(engine: &Engine, session: &mut Session, words: &[&str]) {
    let reply = engine.execute_in(session, &args(words));
    assert!(!reply.is_error(), "{words:?}: {reply:?}");
}

/// One random write over a small alphabet of keys in databases 0 and 1 (so writes collide),
/// of every shape that changes a slot: strings, collections, deadlines, removals, and rarely
/// a whole-database FLUSHDB or SWAPDB.
fn random_write(rng: &mut impl Rng, engine: &Engine, session: &mut Session) {
    let key = format!("k{}", rng.gen_range(0..3000));
    let other = format!("k{}", rng.gen_range(0..3000));
    let n = rng.gen_range(0..100).to_string();
    let words: Vec<&str> = match rng.gen_range(0..1000) {
        0 => vec!["SELECT", "1"],
        1 => vec!["SELECT", "0"],
        2 => vec!["SWAPDB", "0", "1"],
        3 => vec!["FLUSHDB"],
        4..=300 => vec!["SET", &key, &n],
        301..=450 => vec!["INCRBY", &key, &n],
        451..=550 => vec!["DEL", &key],
        551..=650 => vec!["HSET", &key, &n, &n],
        651..=750 => vec!["RPUSH", &key, &n],
        751..=850 => vec!["PEXPIRE", &key, "900000"],
        851..=900 => vec!["RENAME", &key, &other],
        _ => vec!["SADD", &key, &n],
    };
    // Type clashes (WRONGTYPE) and missing keys (RENAME) are fine: they write nothing.
    engine.execute_in(session, &args(&words));
}

/// Applies the stream's records before `offset` to a fresh engine and returns its contents.
fn replay_until(clock: &Arc<ManualClock>, sink: &RecordingSink, offset: u64) -> Contents {
    let replica = engine_on(clock, 2);
    let mut session = Session::new();
    for (at, _, record) in sink.records() {
        if at >= offset {
            break;
        }
        run(
            &replica,
            &mut session,
            &record
                .iter()
                .map(|a| std::str::from_utf8(a).expect("text"))
                .collect::<Vec<_>>(),
        );
    }
    contents(replica.snapshot())
}

#[test]
fn a_snapshot_holds_the_data_at_its_offset_while_clients_write() {
    let clock = Arc::new(ManualClock::new(START_MS));
    let engine = engine_on(&clock, 2);
    let sink = Arc::new(RecordingSink::default());
    engine.subscribe(sink.clone());
    let mut session = Session::new();
    for i in 0..20_000 {
        run(
            &engine,
            &mut session,
            &["SET", &format!("k{}", i % 3000), &i.to_string()],
        );
        if i % 7 == 0 {
            run(&engine, &mut session, &["HSET", &format!("h{i}"), "f", "v"]);
        }
    }
    run(&engine, &mut session, &["SELECT", "1"]);
    for i in 0..2_000 {
        run(
            &engine,
            &mut session,
            &["SADD", &format!("s{}", i % 300), &i.to_string()],
        );
    }
    let stop = AtomicBool::new(false);
    let (snapshot_offset, taken, peak) = std::thread::scope(|scope| {
        for seed in 0..3u64 {
            let (engine, stop) = (&engine, &stop);
            scope.spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let mut session = Session::new();
                while !stop.load(Ordering::Relaxed) {
                    random_write(&mut rng, engine, &mut session);
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
        let mut snapshot = engine.snapshot();
        let offset = snapshot.offset();
        let mut taken = Contents::new();
        for (visited, slot) in snapshot.by_ref().enumerate() {
            for (key, entry) in slot.entries {
                assert!(taken.insert((slot.db, key.to_vec()), entry).is_none());
            }
            if visited % 64 == 0 {
                // Give the writers time to reach slots ahead of the walker.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        let peak = snapshot.peak_held_bytes();
        assert_eq!(snapshot.held_bytes(), 0, "every copy was handed out");
        drop(snapshot);
        stop.store(true, Ordering::Relaxed);
        (offset, taken, peak)
    });
    assert!(peak > 0, "writers copied slots ahead of the walker");
    let expected = replay_until(&clock, &sink, snapshot_offset);
    assert_eq!(taken.len(), expected.len());
    assert!(
        taken == expected,
        "the snapshot differs from the stream replayed up to its offset"
    );
    assert!(
        sink.records()
            .last()
            .is_some_and(|(at, _, _)| *at > snapshot_offset),
        "writes went on during the snapshot"
    );
}

#[test]
fn every_slot_changing_path_copies_first() {
    let clock = Arc::new(ManualClock::new(START_MS));
    let engine = engine_on(&clock, 3);
    let mut session = Session::new();
    for i in 0..500 {
        run(&engine, &mut session, &["SET", &format!("a{i}"), "0"]);
    }
    run(&engine, &mut session, &["SET", "soon", "x", "PX", "10"]);
    run(&engine, &mut session, &["RPUSH", "list", "1", "2"]);
    run(&engine, &mut session, &["SELECT", "1"]);
    run(&engine, &mut session, &["SET", "one", "1"]);
    let before = contents(engine.snapshot());
    let snapshot = engine.snapshot();
    assert_eq!(snapshot.offset(), engine.propagation_offset());
    assert_eq!(snapshot.db_size(0).keys, 502);
    assert_eq!((snapshot.db_size(1).keys, snapshot.db_size(2).keys), (1, 0));
    let mut zero = Session::new();
    for i in 0..500 {
        run(&engine, &mut zero, &["INCR", &format!("a{i}")]);
    }
    run(&engine, &mut zero, &["LPOP", "list"]);
    assert!(snapshot.held_bytes() > 0, "writes copied their slots");
    clock.advance(20);
    assert_eq!(engine.run_expire_cycle(), 1);
    run(&engine, &mut zero, &["SWAPDB", "1", "2"]);
    run(&engine, &mut zero, &["FLUSHALL"]);
    run(&engine, &mut zero, &["SET", "late", "1"]);
    assert_eq!(contents(snapshot), before);
    assert_eq!(contents(engine.snapshot()).len(), 1);
}

#[test]
fn snapshots_overlap_and_a_dropped_one_stops_copying() {
    let clock = Arc::new(ManualClock::new(START_MS));
    let engine = engine_on(&clock, 1);
    let mut session = Session::new();
    for i in 0..100 {
        run(&engine, &mut session, &["SET", &format!("k{i}"), "old"]);
    }
    let first = engine.snapshot();
    run(&engine, &mut session, &["SET", "k1", "middle"]);
    let second = engine.snapshot();
    let abandoned = engine.snapshot();
    drop(abandoned);
    run(&engine, &mut session, &["SET", "k1", "new"]);
    run(&engine, &mut session, &["DEL", "k2"]);
    let value = |all: &Contents, key: &str| {
        all.get(&(0, key.as_bytes().to_vec()))
            .map(|e| format!("{:?}", e.value))
    };
    let (first, second) = (contents(first), contents(second));
    assert_eq!(first.len(), 100);
    assert_eq!(second.len(), 100);
    assert!(value(&first, "k1").is_some_and(|v| v.contains("old")));
    assert!(value(&second, "k1").is_some_and(|v| v.contains("middle")));
    assert!(value(&second, "k2").is_some());
}

#[test]
fn an_empty_engine_gives_an_empty_snapshot() {
    let clock = Arc::new(ManualClock::new(START_MS));
    let engine = engine_on(&clock, 4);
    let snapshot = engine.snapshot();
    assert_eq!(snapshot.databases(), 4);
    assert_eq!(snapshot.count(), 0);
}
