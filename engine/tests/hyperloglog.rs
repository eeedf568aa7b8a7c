//! The HyperLogLog commands through the engine's `execute`: byte-exact sketches against values
//! published from real Redis, the estimator's error, sparse to dense promotion, the cached
//! count, corruption and type errors, and what each command propagates.

mod common;

use bytes::Bytes;
use common::*;
use slotkv_engine::command::{CommandTable, Flags, Group, KeyRange};
use slotkv_engine::Reply;

const NOT_A_SKETCH: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPTED: &str = "INVALIDOBJ Corrupted HLL object detected";
const DENSE_LEN: i64 = 12304;

/// A sparse sketch header with a stale cache, followed by `opcodes`.
fn stale_sparse(opcodes: &[u8]) -> Vec<u8> {
    let mut bytes = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
    bytes.extend_from_slice(opcodes);
    bytes
}

impl Db {
    /// PFADD of `elements` (rendered with `to_string`) in one command.
    fn add_all<T: ToString>(&self, key: &str, elements: impl IntoIterator<Item = T>) -> Reply {
        let mut args: Vec<Bytes> = vec![Bytes::from_static(b"PFADD"), Bytes::from(key.to_owned())];
        args.extend(elements.into_iter().map(|e| Bytes::from(e.to_string())));
        self.engine.execute(&args)
    }

    fn get(&self, key: &str) -> Vec<u8> {
        match self.run(&format!("GET {key}")) {
            Reply::Bulk(bytes) => bytes.to_vec(),
            other => panic!("GET {key}: {other:?}"),
        }
    }

    fn set(&self, key: &str, value: &[u8]) {
        assert_eq!(self.run_args(&[b"SET", key.as_bytes(), value]), Reply::Ok);
    }

    fn count(&self, line: &str) -> i64 {
        match self.run(line) {
            Reply::Integer(n) => n,
            other => panic!("{line}: {other:?}"),
        }
    }

    /// The sketch's encoding byte: 1 sparse, 0 dense.
    fn sketch_encoding(&self, key: &str) -> u8 {
        self.get(key)[4]
    }
}

#[test]
fn table_describes_the_commands_as_redis_does() {
    let table = CommandTable::global();
    let expect = |name: &str, flags: &[&str], keys: KeyRange| {
        let spec = table.lookup(name.as_bytes()).expect(name);
        assert_eq!(spec.arity, -2, "{name}");
        assert_eq!(spec.flags.names().collect::<Vec<_>>(), flags, "{name}");
        assert_eq!(spec.keys, keys, "{name}");
        assert_eq!((spec.group, spec.since), (Group::HyperLogLog, "2.8.9"));
    };
    expect("pfadd", &["write", "denyoom", "fast"], KeyRange::FIRST);
    expect("pfcount", &["readonly", "may_replicate"], KeyRange::ALL);
    expect("pfmerge", &["write", "denyoom"], KeyRange::ALL);
    assert!(table
        .lookup(b"PFCOUNT")
        .unwrap()
        .flags
        .contains(Flags::MAY_REPLICATE));
}

// ---------------------------------------------------------------------------------------------
// Byte-exact sketches published from Redis (`redis-cli GET` after the PFADDs shown, quoted in
// public tests and posts)

#[test]
fn sketches_match_redis_byte_for_byte() {
    let db = db();
    let cases: [(&str, &[&str], &[u8]); 4] = [
        ("t", &["a", "b", "c"], b"`\xf3\x80P\xb1\x84K\xfb\x80BZ"),
        ("baz", &["1"], b"]f\x80b\x97"),
        (
            "codehole",
            &["python", "java", "golang"],
            b"C\x03\x84MK\x80P\xb8\x80^\xf3",
        ),
        (
            "key1",
            &["1", "1", "2", "2", "3", "3"],
            b"]f\x80Mt\x80Q,\x8cC\xf3",
        ),
    ];
    for (key, elements, opcodes) in cases {
        assert_eq!(db.add_all(key, elements.iter()), int(1));
        assert_eq!(db.get(key), stale_sparse(opcodes), "{key}");
    }
    // Published as the GET after `PFADD hll a b c d e f g` on a key that already held the
    // register of "1" (register 7527 at 1, as `baz` above shows).
    let seven_and_one = b"Fm\x80V\x0c\x80@\xe9\x80CQ\x848\x80P\xb1\x84I\x8c\x80Bm\x80BZ";
    assert_eq!(db.run("PFADD hll 1"), int(1));
    assert_eq!(db.run("PFADD hll a b c d e f g"), int(1));
    assert_eq!(db.get("hll"), stale_sparse(seven_and_one));
    assert_eq!(db.count("PFCOUNT hll"), 8);
}

#[test]
fn the_cached_count_matches_redis_byte_for_byte() {
    let db = db();
    assert_eq!(db.run("PFADD hll a b c d e f a b c"), int(1));
    assert_eq!(db.count("PFCOUNT hll"), 6);
    assert_eq!(db.run("PFADD hll g h"), int(1));
    assert_eq!(db.count("PFCOUNT hll"), 8);
    let expected = b"HYLL\x01\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00Fm\x80V\x0c\x80D<\x848\
                     \x80M\xc2\x80B\xed\x84I\x8c\x80Bm\x80BZ";
    assert_eq!(db.get("hll"), expected);
}

#[test]
fn sketches_copied_from_redis_keep_working() {
    let db = db();
    db.set("copied", &stale_sparse(b"`\xf3\x80P\xb1\x84K\xfb\x80BZ"));
    assert_eq!(db.count("PFCOUNT copied"), 3);
    assert_eq!(db.run("PFADD copied a b c"), int(0));
    assert_eq!(db.run("PFADD copied d"), int(1));
    assert_eq!(db.count("PFCOUNT copied"), 4);
    // A valid cache is trusted as it is, as Redis does.
    db.set(
        "cached",
        b"HYLL\x01\x00\x00\x00\x2a\x00\x00\x00\x00\x00\x00\x00\x7f\xff",
    );
    assert_eq!(db.count("PFCOUNT cached"), 42);
    assert_eq!(
        db.take_propagated()
            .iter()
            .filter(|c| c.starts_with("PFCOUNT"))
            .count(),
        2
    );
}

// ---------------------------------------------------------------------------------------------
// PFADD, PFCOUNT

#[test]
fn pfadd_creates_and_reports_changes() {
    let db = db();
    assert_eq!(db.run("PFADD hll"), int(1));
    assert_eq!(db.get("hll"), stale_sparse(b"\x7f\xff"));
    assert_eq!(db.count("PFCOUNT hll"), 0);
    assert_eq!(db.run("PFADD hll a b c"), int(1));
    assert_eq!(db.run("PFADD hll a b c"), int(0));
    assert_eq!(db.run("PFADD hll"), int(0));
    assert_eq!(db.run_args(&[b"PFADD", b"hll", b""]), int(1));
    assert_eq!(db.run("TYPE hll"), Reply::Simple("string".into()));
    assert_eq!(
        db.take_propagated(),
        ["PFADD hll", "PFCOUNT hll", "PFADD hll a b c", "PFADD hll "]
    );
    assert_eq!(
        db.run("PFADD"),
        err("ERR wrong number of arguments for 'pfadd' command")
    );
}

#[test]
fn pfcount_of_missing_keys_is_zero() {
    let db = db();
    assert_eq!(db.count("PFCOUNT nothing"), 0);
    assert_eq!(db.count("PFCOUNT nothing neither"), 0);
    assert!(db.take_propagated().is_empty());
    assert_eq!(db.run("EXISTS nothing"), int(0));
}

#[test]
fn pfcount_caches_and_propagates_only_when_it_refreshes() {
    let db = db();
    db.run("PFADD hll a b c");
    db.take_propagated();
    assert_eq!(db.get("hll")[15], 0x80, "PFADD leaves the cache stale");
    assert_eq!(db.count("PFCOUNT hll"), 3);
    assert_eq!(&db.get("hll")[8..16], [3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(db.take_propagated(), ["PFCOUNT hll"]);
    assert_eq!(db.count("PFCOUNT hll"), 3);
    assert!(
        db.take_propagated().is_empty(),
        "a cached count changes nothing"
    );
    // Adding known elements keeps the cache; a new one makes it stale again.
    db.run("PFADD hll a b c");
    assert_eq!(db.get("hll")[15], 0x00);
    db.run("PFADD hll 1 2 3");
    assert_eq!(db.get("hll")[15], 0x80);
    assert_eq!(db.count("PFCOUNT hll"), 6);
}

#[test]
fn the_cache_is_what_pfcount_answers() {
    let db = db();
    db.run("PFADD hll a b c");
    db.run("PFCOUNT hll");
    // Overwrite the cached count in place: PFCOUNT must answer it without recounting.
    assert_eq!(db.run_args(&[b"SETRANGE", b"hll", b"8", b"\x63"]), int(27));
    assert_eq!(db.count("PFCOUNT hll"), 99);
}

#[test]
fn pfcount_of_several_keys_counts_the_union_without_caching() {
    let db = db();
    db.run("PFADD h1 a b c");
    db.run("PFADD h2 b c d");
    db.run("PFADD {h1}x c d e");
    db.take_propagated();
    assert_eq!(db.count("PFCOUNT h1 h2 {h1}x missing"), 5);
    assert_eq!(db.get("h1")[15], 0x80, "union counts leave caches alone");
    assert!(db.take_propagated().is_empty());
    db.run("RPUSH list x");
    assert_eq!(db.run("PFCOUNT h1 list"), err(WRONGTYPE));
}

#[test]
fn pfadd_keeps_the_deadline() {
    let db = db();
    db.run("PFADD hll a");
    db.run("PEXPIRE hll 5000");
    db.run("PFADD hll b");
    assert_eq!(db.count("PTTL hll"), 5000);
    db.clock.advance(5000);
    assert_eq!(db.count("PFCOUNT hll"), 0);
}

// ---------------------------------------------------------------------------------------------
// Accuracy and representation

#[test]
fn estimates_match_published_redis_counts() {
    // A published run of Redis 5.0.5 (Ertl's estimator) counts 1..=1000 as 1001.
    let db = db();
    db.add_all("foo", 1..=1000);
    assert_eq!(db.count("PFCOUNT foo"), 1001);
    // Unions count the same through PFMERGE and a multi-key PFCOUNT.
    db.add_all("bar", 2000..=2500);
    assert_eq!(db.run("PFMERGE merged foo bar"), Reply::Ok);
    assert_eq!(db.count("PFCOUNT merged"), 1505);
    assert_eq!(db.count("PFCOUNT foo bar"), 1505);
}

#[test]
fn error_stays_under_two_percent_for_100k_elements() {
    let db = db();
    for batch in 0..100 {
        let from = batch * 1000;
        db.add_all("hll", (from..from + 1000).map(|n| format!("element:{n}")));
        let n = from + 1000;
        let estimate = db.count("PFCOUNT hll") as f64;
        let error = (estimate - n as f64).abs() / n as f64;
        assert!(error < 0.02, "{n} elements estimated {estimate}");
    }
}

#[test]
fn sparse_sketches_turn_dense_past_the_byte_limit() {
    let db = db();
    let mut n = 0;
    while n < 20_000 {
        db.add_all("hll", (n..n + 100).map(|i| format!("{i}:{}", i * 7919)));
        n += 100;
        let strlen = db.count("STRLEN hll");
        if n < 1000 {
            assert_eq!(db.sketch_encoding("hll"), 1, "{n} elements");
            assert!(strlen <= 3000);
        } else if n > 10_000 {
            assert_eq!(db.sketch_encoding("hll"), 0, "{n} elements");
            assert_eq!(strlen, DENSE_LEN);
        }
    }
    // Dense sketches copy like any string and count the same.
    let dense = db.get("hll");
    db.set("copy", &dense);
    assert_eq!(db.count("PFCOUNT hll"), db.count("PFCOUNT copy"));
    assert_eq!(db.run("PFADD copy 1:7919"), int(0));
}

#[test]
fn sparse_and_dense_forms_count_the_same() {
    let db = db();
    // An empty dense sketch, made by hand.
    let mut dense = b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
    dense.resize(DENSE_LEN as usize, 0);
    db.set("dense", &dense);
    assert_eq!(db.count("PFCOUNT dense"), 0);
    for n in [1, 10, 50, 100] {
        let elements: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
        db.run("DEL sparse");
        db.set("dense", &dense);
        db.add_all("sparse", elements.iter());
        db.add_all("dense", elements.iter());
        assert_eq!(db.sketch_encoding("sparse"), 1);
        assert_eq!(db.sketch_encoding("dense"), 0);
        assert_eq!(db.count("PFCOUNT sparse"), db.count("PFCOUNT dense"), "{n}");
    }
}

// ---------------------------------------------------------------------------------------------
// PFMERGE

#[test]
fn pfmerge_stores_the_union() {
    let db = db();
    db.run("PFADD h1 a b c");
    db.run("PFADD h2 b c d");
    db.run("PFADD h3 c d e");
    db.take_propagated();
    assert_eq!(db.run("PFMERGE hll h1 h2 h3"), Reply::Ok);
    assert_eq!(db.count("PFCOUNT hll"), 5);
    assert_eq!(
        db.sketch_encoding("hll"),
        1,
        "sparse inputs merge into a sparse sketch"
    );
    assert_eq!(
        db.take_propagated(),
        ["PFMERGE hll h1 h2 h3", "PFCOUNT hll"]
    );
    // The destination's own registers take part; merging nothing new still propagates.
    db.run("PFADD hll z");
    assert_eq!(db.run("PFMERGE hll h1"), Reply::Ok);
    assert_eq!(db.count("PFCOUNT hll"), 6);
    db.take_propagated();
    assert_eq!(db.run("PFMERGE hll"), Reply::Ok);
    assert_eq!(db.take_propagated(), ["PFMERGE hll"]);
}

#[test]
fn pfmerge_creates_an_empty_destination() {
    let db = db();
    assert_eq!(db.run("PFMERGE empty"), Reply::Ok);
    assert_eq!(db.get("empty"), stale_sparse(b"\x7f\xff"));
    assert_eq!(db.run("PFMERGE empty2 missing"), Reply::Ok);
    assert_eq!(db.count("PFCOUNT empty2"), 0);
}

#[test]
fn pfmerge_turns_dense_when_an_input_is_dense() {
    let db = db();
    db.add_all("big", 0..5000);
    assert_eq!(db.sketch_encoding("big"), 0);
    db.run("PFADD small x y");
    let union = db.count("PFCOUNT small big");
    assert_eq!(db.run("PFMERGE small big"), Reply::Ok);
    assert_eq!(db.sketch_encoding("small"), 0);
    assert_eq!(db.count("PFCOUNT small"), union);
}

#[test]
fn pfmerge_of_sparse_inputs_writes_the_same_bytes_as_adding() {
    let db = db();
    db.run("PFADD h1 a b c d");
    db.run("PFADD h2 e f g h");
    db.run("PFADD direct a b c d e f g h");
    db.run("PFMERGE merged h1 h2");
    assert_eq!(db.get("merged"), db.get("direct"));
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn non_sketch_values_are_refused() {
    let db = db();
    db.run("SET str bar");
    db.run("SET int 12345");
    db.run("RPUSH list x");
    for key in ["str", "int"] {
        assert_eq!(db.run(&format!("PFADD {key} 1")), err(NOT_A_SKETCH));
        assert_eq!(db.run(&format!("PFCOUNT {key}")), err(NOT_A_SKETCH));
        assert_eq!(db.run(&format!("PFMERGE dest {key}")), err(NOT_A_SKETCH));
        assert_eq!(db.run(&format!("PFMERGE {key} missing")), err(NOT_A_SKETCH));
    }
    assert_eq!(db.run("PFADD list 1"), err(WRONGTYPE));
    assert_eq!(db.run("PFCOUNT list"), err(WRONGTYPE));
    assert_eq!(db.run("PFMERGE list"), err(WRONGTYPE));
    assert_eq!(db.run("EXISTS dest"), int(0));
    assert!(db.take_propagated().iter().all(|c| !c.starts_with("PF")));
}

#[test]
fn corrupted_sketches_are_detected() {
    let db = db();
    let corrupt = |change: &[&[u8]]| {
        db.run("DEL hll");
        db.run("PFADD hll a b c");
        db.run_args(change);
        db.run("PFCOUNT hll")
    };
    assert_eq!(corrupt(&[b"APPEND", b"hll", b"hello"]), err(CORRUPTED));
    assert_eq!(
        corrupt(&[b"SETRANGE", b"hll", b"0", b"0123"]),
        err(NOT_A_SKETCH)
    );
    assert_eq!(
        corrupt(&[b"SETRANGE", b"hll", b"4", b"x"]),
        err(NOT_A_SKETCH)
    );
    // Claims to be dense with a sparse length.
    assert_eq!(
        corrupt(&[b"SETRANGE", b"hll", b"4", b"\x00"]),
        err(NOT_A_SKETCH)
    );
    // Runs that stop short of 16384 registers.
    db.set("short", &stale_sparse(b"\x7f\xfe"));
    assert_eq!(db.run("PFCOUNT short"), err(CORRUPTED));
    assert_eq!(
        db.run("PFCOUNT hll short"),
        err(NOT_A_SKETCH),
        "keys are checked in order"
    );
    db.set("hll", &stale_sparse(b"\x7f\xff"));
    assert_eq!(db.run("PFCOUNT hll short"), err(CORRUPTED));
    assert_eq!(db.run("PFMERGE dest short"), err(CORRUPTED));
    assert_eq!(db.run("EXISTS dest"), int(0));
    // An XZERO cut short: no register can be placed.
    db.set("cut", &stale_sparse(b"\x7f"));
    db.take_propagated();
    assert_eq!(db.run("PFADD cut a"), err(CORRUPTED));
    assert!(db.take_propagated().is_empty());
}
