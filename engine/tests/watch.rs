//! WATCH at the engine level: which writes mark a watch, and EXEC's exclusive runner.

mod common;

use common::*;
use slotkv_engine::command::CommandTable;
use slotkv_engine::watch::WatchSet;
use slotkv_engine::{Reply, Session};

#[test]
fn only_writes_that_change_the_key_mark_its_watchers() {
    let db = db();
    db.run_words(&["SET", "k", "v"]);
    let mut set = WatchSet::default();
    db.engine.watch(&mut set, 0, b"k");
    db.run_words(&["SET", "k", "x", "NX"]);
    db.run_words(&["GET", "k"]);
    db.run_words(&["SET", "other", "1"]);
    assert!(
        !set.is_dirty(),
        "reads, failed writes and other keys leave the watch alone"
    );
    db.run_words(&["APPEND", "k", "!"]);
    assert!(set.is_dirty());
    db.engine.unwatch(&mut set);
    assert!(set.is_empty() && !set.is_dirty());
    db.run_words(&["DEL", "k"]);
    assert!(!set.is_dirty(), "an unwatched key no longer marks the set");
}

#[test]
fn watches_follow_the_database_and_see_expiry_and_flushes() {
    let db = db();
    let mut set = WatchSet::default();
    db.engine.watch(&mut set, 1, b"k");
    db.run_words(&["SET", "k", "db0"]);
    assert!(
        !set.is_dirty(),
        "the same name in another database is another key"
    );
    let mut session = Session::new();
    db.run_in(&mut session, &["SELECT", "1"]);
    db.run_in(&mut session, &["SET", "k", "v", "PX", "10"]);
    assert!(set.is_dirty());
    db.engine.unwatch(&mut set);

    db.engine.watch(&mut set, 1, b"k");
    db.advance(20);
    db.run_in(&mut session, &["GET", "k"]);
    assert!(set.is_dirty(), "an expiry on access is a change");
    db.engine.unwatch(&mut set);

    db.run_in(&mut session, &["SET", "k", "v"]);
    db.engine.watch(&mut set, 1, b"k");
    db.run_words(&["FLUSHALL"]);
    assert!(set.is_dirty());
}

#[test]
fn exclusive_runs_commands_and_reports_broken_watches() {
    let db = db();
    db.run_words(&["SET", "k", "v", "PX", "50"]);
    let mut set = WatchSet::default();
    db.engine.watch(&mut set, 0, b"k");
    let spec = CommandTable::global()
        .resolve(&args(&["INCR", "n"]))
        .expect("known");
    let mut session = Session::new();
    {
        let exclusive = db.engine.exclusive();
        assert!(!exclusive.watch_broken(&set));
        assert_eq!(
            exclusive.execute_spec(&mut session, spec, &args(&["INCR", "n"])),
            Reply::Integer(1)
        );
    }
    db.advance(60);
    assert!(
        db.engine.exclusive().watch_broken(&set),
        "a deadline seen at WATCH time has passed"
    );
}

#[test]
fn an_exclusive_block_is_propagated_as_multi_exec() {
    let db = db();
    let spec = |words: &[&str]| CommandTable::global().resolve(&args(words)).expect("known");
    let mut session = Session::new();
    {
        let exclusive = db.engine.exclusive();
        exclusive.execute_spec(&mut session, spec(&["GET", "a"]), &args(&["GET", "a"]));
    }
    assert!(
        db.sink.commands().is_empty(),
        "a read-only transaction propagates nothing"
    );
    {
        let exclusive = db.engine.exclusive();
        exclusive.execute_spec(
            &mut session,
            spec(&["SET", "a", "1"]),
            &args(&["SET", "a", "1"]),
        );
        exclusive.execute_spec(&mut session, spec(&["INCR", "a"]), &args(&["INCR", "a"]));
    }
    db.run_words(&["DEL", "a"]);
    assert_eq!(
        db.sink.commands(),
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
