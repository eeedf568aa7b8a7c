//! maxmemory and the eviction policies, driven through the engine with a gauge that counts
//! 100 bytes per key, so limits are exact and tests are deterministic in what they bound.

mod common;

use std::sync::{Arc, OnceLock};

use common::{bulk, db, err, int, Db};
use parking_lot::Mutex;
use slotkv_engine::{
    Engine, MaxmemoryPolicy, MemoryGauge, MemoryLimits, RemovalCause, RemovalListener, Reply,
};

const KEY_BYTES: u64 = 100;
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Counts every key of database 0 as 100 bytes.
#[derive(Debug, Default)]
struct PerKeyGauge(OnceLock<Engine>);

impl MemoryGauge for PerKeyGauge {
    fn used_bytes(&self) -> u64 {
        self.0.get().map_or(0, |e| e.key_count(0) * KEY_BYTES)
    }
}

/// An engine holding at most `keys` keys under `policy`.
fn limited(policy: MaxmemoryPolicy, keys: u64) -> Db {
    let db = db();
    let gauge = Arc::new(PerKeyGauge::default());
    gauge.0.set(db.engine.clone()).expect("set once");
    assert!(db.engine.set_memory_gauge(gauge));
    db.engine.set_memory_limits(MemoryLimits {
        maxmemory_bytes: keys * KEY_BYTES,
        policy,
        samples: 10,
        ..MemoryLimits::default()
    });
    db
}

fn fill(db: &Db, range: std::ops::Range<u32>) {
    for i in range {
        assert_eq!(db.run(&format!("SET key:{i} v")), Reply::Ok);
    }
}

fn survivors(db: &Db, range: std::ops::Range<u32>) -> usize {
    range.filter(|i| db.exists(&format!("key:{i}"))).count()
}

#[test]
fn allkeys_lru_holds_the_limit_and_spares_recently_read_keys() {
    let db = limited(MaxmemoryPolicy::AllKeysLru, 200);
    fill(&db, 0..200);
    db.advance(60_000);
    for i in 0..100 {
        assert_eq!(db.run(&format!("GET key:{i}")), bulk("v"));
    }
    db.advance(1_000);
    fill(&db, 200..300);
    assert!(db.engine.key_count(0) <= 201);
    assert_eq!(db.engine.stats().evicted_keys, 300 - db.engine.key_count(0));
    let read = survivors(&db, 0..100);
    let unread = survivors(&db, 100..200);
    // Sampling is approximate (as Redis's): a round that samples no unread key evicts the
    // idlest key it did sample. Random eviction would keep about half of each group.
    assert!(read >= 75, "read keys kept: {read}, unread kept: {unread}");
    assert!(
        unread <= 25,
        "read keys kept: {read}, unread kept: {unread}"
    );
}

#[test]
fn allkeys_lfu_spares_frequently_read_keys() {
    let db = limited(MaxmemoryPolicy::AllKeysLfu, 200);
    fill(&db, 0..200);
    for _ in 0..20 {
        for i in 0..100 {
            db.run(&format!("GET key:{i}"));
        }
    }
    fill(&db, 200..300);
    assert!(db.engine.key_count(0) <= 201);
    let hot = survivors(&db, 0..100);
    assert!(hot >= 75, "hot keys kept: {hot}");
}

#[test]
fn noeviction_refuses_denyoom_commands_but_serves_reads_and_deletes() {
    let db = limited(MaxmemoryPolicy::NoEviction, 10);
    fill(&db, 0..11);
    assert_eq!(db.run("SET one-more v"), err(OOM));
    assert_eq!(db.run("LPUSH list a"), err(OOM));
    assert_eq!(db.run("GET key:1"), bulk("v"));
    assert_eq!(db.run("DEL key:1 key:2"), int(2));
    assert_eq!(db.run("SET one-more v"), Reply::Ok);
    assert_eq!(db.engine.stats().evicted_keys, 0);
}

#[test]
fn volatile_policies_evict_only_keys_with_a_deadline() {
    for policy in [
        MaxmemoryPolicy::VolatileLru,
        MaxmemoryPolicy::VolatileLfu,
        MaxmemoryPolicy::VolatileRandom,
        MaxmemoryPolicy::VolatileTtl,
    ] {
        let db = limited(policy, 20);
        fill(&db, 0..10);
        for i in 10..20 {
            db.run(&format!("SET key:{i} v EX {}", 1000 + i));
        }
        db.run("SET extra:1 v");
        assert_eq!(survivors(&db, 0..10), 10, "{policy}");
        assert_eq!(survivors(&db, 10..20), 9, "{policy}");
        if policy == MaxmemoryPolicy::VolatileTtl {
            assert!(!db.exists("key:10"), "nearest deadline goes first");
        }
        for i in 10..20 {
            db.run(&format!("DEL key:{i}"));
        }
        fill(&db, 100..110);
        assert_eq!(
            db.run("SET over v"),
            err(OOM),
            "{policy}: nothing volatile is left"
        );
    }
}

#[test]
fn random_policy_keeps_the_count_at_the_limit() {
    let db = limited(MaxmemoryPolicy::AllKeysRandom, 50);
    fill(&db, 0..500);
    assert_eq!(db.engine.key_count(0), 51);
    assert_eq!(db.engine.stats().evicted_keys, 449);
}

#[derive(Debug, Default)]
struct Removals(Mutex<Vec<(String, RemovalCause)>>);

impl RemovalListener for Removals {
    fn on_removal(&self, _db: usize, key: &[u8], cause: RemovalCause) {
        self.0
            .lock()
            .push((String::from_utf8_lossy(key).into_owned(), cause));
    }
}

#[test]
fn evictions_are_propagated_reported_and_announced() {
    let db = limited(MaxmemoryPolicy::AllKeysLru, 2);
    let removals = Arc::new(Removals::default());
    db.engine.set_removal_listener(removals.clone());
    let events = db.record_events();
    db.run("SET a 1");
    db.run("SET b 2 PX 10");
    db.advance(5);
    db.run("SET c 3");
    db.take_propagated();
    db.run("SET d 4");
    let propagated = db.take_propagated();
    let evicted = removals.0.lock()[0].clone();
    assert_eq!(evicted.1, RemovalCause::Evicted);
    assert_eq!(propagated[0], format!("DEL {}", evicted.0));
    assert!(events.lines().contains(&format!("evicted {}", evicted.0)));
    db.advance(100);
    db.run("GET b");
    let last = removals.0.lock().last().cloned();
    if db.engine.stats().evicted_keys == 1 {
        assert_eq!(last, Some(("b".to_owned(), RemovalCause::Expired)));
    }
}

#[test]
fn object_idletime_freq_and_refcount() {
    let db = limited(MaxmemoryPolicy::AllKeysLru, 1000);
    db.run("SET k v");
    db.advance(42_000);
    assert_eq!(db.run("OBJECT IDLETIME k"), int(42));
    assert_eq!(
        db.run("OBJECT IDLETIME k"),
        int(42),
        "OBJECT does not touch"
    );
    db.run("GET k");
    assert_eq!(db.run("OBJECT IDLETIME k"), int(0));
    assert_eq!(db.run("OBJECT IDLETIME missing"), Reply::Nil);
    let freq = db.run("OBJECT FREQ k");
    assert!(
        matches!(&freq, Reply::Error(e) if e.starts_with("ERR An LFU maxmemory policy is not selected"))
    );
    db.run("SET n 12");
    assert_eq!(db.run("OBJECT REFCOUNT k"), int(1));
    assert_eq!(
        db.run("OBJECT REFCOUNT n"),
        int(1),
        "LRU limits stamp every key"
    );
    db.engine.set_memory_limits(MemoryLimits {
        policy: MaxmemoryPolicy::AllKeysLfu,
        ..db.engine.memory_limits()
    });
    db.run("SET f v");
    assert_eq!(db.run("OBJECT FREQ f"), int(5));
    db.advance(3 * 60_000);
    assert_eq!(db.run("OBJECT FREQ f"), int(2));
    let idle = db.run("OBJECT IDLETIME f");
    assert!(
        matches!(&idle, Reply::Error(e) if e.starts_with("ERR An LFU maxmemory policy is selected"))
    );
    db.engine.set_memory_limits(MemoryLimits::default());
    assert_eq!(db.run("OBJECT REFCOUNT n"), int(i64::from(i32::MAX)));
}

#[test]
fn without_a_gauge_the_engine_estimates_its_keyspace() {
    let db = db();
    db.engine.set_memory_limits(MemoryLimits {
        maxmemory_bytes: 64 * 1024,
        policy: MaxmemoryPolicy::AllKeysLru,
        ..MemoryLimits::default()
    });
    let value = "x".repeat(100);
    for i in 0..5000 {
        assert_eq!(db.run(&format!("SET key:{i} {value}")), Reply::Ok);
        db.advance(1);
    }
    let used = db.engine.used_memory();
    assert!(used <= 64 * 1024 + 2048, "used {used}");
    let keys = db.engine.key_count(0);
    assert!((200..700).contains(&keys), "keys {keys}");
}
