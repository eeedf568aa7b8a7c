//! WATCH at the engine level: which writes mark a watch, and EXEC's exclusive runner.

use std::sync::Arc;

use bytes::Bytes;
use slotkv_engine::command::CommandTable;
use slotkv_engine::propagate::RecordingSink;
use slotkv_engine::watch::WatchSet;
use slotkv_engine::{Config, Engine, ManualClock, Reply, Session};

fn args(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn open() -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    (
        Engine::open(Config::with_clock(clock.clone())).expect("engine opens"),
        clock,
    )
}

#[test]
fn only_writes_that_change_the_key_mark_its_watchers() {
    let (engine, _clock) = open();
    engine.execute(&args(&["SET", "k", "v"]));
    let mut set = WatchSet::default();
    engine.watch(&mut set, 0, b"k");
    engine.execute(&args(&["SET", "k", "x", "NX"]));
    engine.execute(&args(&["GET", "k"]));
    engine.execute(&args(&["SET", "other", "1"]));
    assert!(
        !set.is_dirty(),
        "reads, failed writes and other keys leave the watch alone"
    );
    engine.execute(&args(&["APPEND", "k", "!"]));
    assert!(set.is_dirty());
    engine.unwatch(&mut set);
    assert!(set.is_empty() && !set.is_dirty());
    engine.execute(&args(&["DEL", "k"]));
    assert!(!set.is_dirty(), "an unwatched key no longer marks the set");
}

#[test]
fn watches_follow_the_database_and_see_expiry_and_flushes() {
    let (engine, clock) = open();
    let mut set = WatchSet::default();
    engine.watch(&mut set, 1, b"k");
    engine.execute(&args(&["SET", "k", "db0"]));
    assert!(
        !set.is_dirty(),
        "the same name in another database is another key"
    );
    let mut session = Session::new();
    engine.execute_in(&mut session, &args(&["SELECT", "1"]));
    engine.execute_in(&mut session, &args(&["SET", "k", "v", "PX", "10"]));
    assert!(set.is_dirty());
    engine.unwatch(&mut set);

    engine.watch(&mut set, 1, b"k");
    clock.advance(20);
    engine.execute_in(&mut session, &args(&["GET", "k"]));
    assert!(set.is_dirty(), "an expiry on access is a change");
    engine.unwatch(&mut set);

    engine.execute_in(&mut session, &args(&["SET", "k", "v"]));
    engine.watch(&mut set, 1, b"k");
    engine.execute(&args(&["FLUSHALL"]));
    assert!(set.is_dirty());
}

#[test]
fn exclusive_runs_commands_and_reports_broken_watches() {
    let (engine, clock) = open();
    engine.execute(&args(&["SET", "k", "v", "PX", "50"]));
    let mut set = WatchSet::default();
    engine.watch(&mut set, 0, b"k");
    let spec = CommandTable::global()
        .resolve(&args(&["INCR", "n"]))
        .expect("known");
    let mut session = Session::new();
    {
        let exclusive = engine.exclusive();
        assert!(!exclusive.watch_broken(&set));
        assert_eq!(
            exclusive.execute_spec(&mut session, spec, &args(&["INCR", "n"])),
            Reply::Integer(1)
        );
    }
    clock.advance(60);
    assert!(
        engine.exclusive().watch_broken(&set),
        "a deadline seen at WATCH time has passed"
    );
}

#[test]
fn an_exclusive_block_is_propagated_as_multi_exec() {
    let (engine, _clock) = open();
    let sink = Arc::new(RecordingSink::default());
    engine.subscribe(sink.clone());
    let spec = |words: &[&str]| CommandTable::global().resolve(&args(words)).expect("known");
    let mut session = Session::new();
    {
        let exclusive = engine.exclusive();
        exclusive.execute_spec(&mut session, spec(&["GET", "a"]), &args(&["GET", "a"]));
    }
    assert!(
        sink.commands().is_empty(),
        "a read-only transaction propagates nothing"
    );
    {
        let exclusive = engine.exclusive();
        exclusive.execute_spec(
            &mut session,
            spec(&["SET", "a", "1"]),
            &args(&["SET", "a", "1"]),
        );
        exclusive.execute_spec(&mut session, spec(&["INCR", "a"]), &args(&["INCR", "a"]));
    }
    engine.execute(&args(&["DEL", "a"]));
    assert_eq!(
        sink.commands(),
        [
            "SELECT 0",
            "MULTI",
            "SET a 1",
            "INCRBY a 1",
            "EXEC",
            "DEL a"
        ]
    );
}
