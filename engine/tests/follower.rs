//! A replica's engine (`Engine::set_follower`): keys whose deadline passed look missing to
//! clients but stay until the primary's DEL; the primary's stream (a `Session::primary_link`)
//! still sees them; the active expire cycle does nothing; eviction can be paused.

mod common;

use common::*;
use std::sync::{Arc, OnceLock};

use slotkv_engine::{Engine, MaxmemoryPolicy, MemoryGauge, MemoryLimits, Reply, Session};

#[test]
fn expired_keys_are_hidden_but_not_removed_on_a_follower() {
    let db = db();
    db.engine.set_follower(true);
    let mut link = Session::primary_link();
    let deadline = (NOW_MS + 100).to_string();
    let set = ["SET", "k", "v", "PXAT", deadline.as_str()];
    assert_eq!(db.run_in(&mut link, &set), Reply::Ok);
    db.run_in(&mut link, &["SADD", "s", "a"]);
    db.run_in(&mut link, &["PEXPIREAT", "s", deadline.as_str()]);
    db.advance(100);
    assert_eq!(db.run("GET k"), Reply::Nil);
    assert_eq!(db.run("EXISTS k"), int(0));
    assert_eq!(db.run("SMEMBERS s"), Reply::Set(vec![]));
    assert_eq!(db.run("SINTER s s"), Reply::Set(vec![]));
    assert_eq!(db.engine.run_expire_cycle(), 0);
    assert_eq!(db.run("DBSIZE"), int(2), "nothing was removed");
    assert_eq!(db.engine.stats().expired_keys, 0);
    // The primary's stream sees the key until its DEL.
    assert_eq!(db.run_in(&mut link, &["APPEND", "k", "w"]), int(2));
    assert_eq!(db.run_in(&mut link, &["DEL", "k"]), int(1));
    assert_eq!(db.run("DBSIZE"), int(1));
    assert!(
        !db.sink.commands().iter().any(|c| c == "DEL s"),
        "a follower propagates no expiry of its own"
    );
    db.engine.set_follower(false);
    assert_eq!(db.run("GET s"), Reply::Nil);
    assert_eq!(db.run("DBSIZE"), int(0), "a primary reclaims on access");
}

/// Counts every key of database 0 as 100 bytes.
#[derive(Debug, Default)]
struct PerKeyGauge(OnceLock<Engine>);

impl MemoryGauge for PerKeyGauge {
    fn used_bytes(&self) -> u64 {
        self.0.get().map_or(0, |e| e.key_count(0) * 100)
    }
}

#[test]
fn paused_eviction_lets_writes_past_maxmemory() {
    let db = db();
    let gauge = Arc::new(PerKeyGauge::default());
    gauge.0.set(db.engine.clone()).expect("set once");
    assert!(db.engine.set_memory_gauge(gauge));
    db.engine.set_memory_limits(MemoryLimits {
        maxmemory_bytes: 200,
        policy: MaxmemoryPolicy::AllKeysLru,
        ..MemoryLimits::default()
    });
    db.engine.set_evictions_paused(true);
    db.given(&["SET a 1", "SET b 2", "SET c 3", "SET d 4"]);
    assert_eq!(db.run("DBSIZE"), int(4));
    db.engine.set_evictions_paused(false);
    db.run("SET e 5");
    assert!(
        matches!(db.run("DBSIZE"), Reply::Integer(n) if n <= 3),
        "evicted down to the limit, then wrote"
    );
}

#[test]
fn the_primary_link_writes_into_a_key_whose_deadline_passed() {
    let db = db();
    db.engine.set_follower(true);
    let mut link = Session::primary_link();
    let deadline = (NOW_MS + 80).to_string();
    db.run_in(&mut link, &["HSET", "h", "f6", "1"]);
    db.run_in(&mut link, &["PEXPIREAT", "h", deadline.as_str()]);
    db.advance(100);
    assert_eq!(db.run_in(&mut link, &["HSET", "h", "f5", "2"]), int(1));
    // A deadline that is already past when the replica applies it (the link was down).
    db.run_in(&mut link, &["PEXPIREAT", "h", deadline.as_str()]);
    assert_eq!(db.run_in(&mut link, &["HSET", "h", "f4", "3"]), int(1));
    assert_eq!(db.run_in(&mut link, &["PERSIST", "h"]), int(1));
    assert_eq!(db.run_in(&mut link, &["HLEN", "h"]), int(3));
}
