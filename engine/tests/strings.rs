//! The string command family through the engine's public entry points (`execute` and the typed
//! API), with a manual clock: exact replies and error lines, expiry semantics, the integer
//! encoding, and the deterministic form of every propagated write.

mod common;

use bytes::Bytes;
use common::*;
use slotkv_engine::api::strings::{Expiry, SetCondition, SetOptions, SetOutcome};
use slotkv_engine::command::{CommandTable, Flags, Group, Handler, KeyRange};
use slotkv_engine::value::StrValue;
use slotkv_engine::{CommandError, Reply, Session};

impl Db {
    /// The stored deadline of `key` in Unix ms, without expiring it.
    fn deadline(&self, key: &str) -> Option<u64> {
        self.engine.with_ctx(&mut Session::new(), |ctx| {
            let mut locks = ctx.lock_key(key.as_bytes());
            locks.get(key.as_bytes()).and_then(|e| e.expire_at_ms())
        })
    }

    /// The stored form of the string at `key`.
    fn stored(&self, key: &str) -> Option<StrValue> {
        self.engine.with_ctx(&mut Session::new(), |ctx| {
            let mut locks = ctx.lock_key(key.as_bytes());
            locks
                .get(key.as_bytes())
                .and_then(|e| e.value.as_str().cloned())
        })
    }

    fn holds_string(&self, key: &str) -> bool {
        self.stored(key).is_some()
    }
}

const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

// ---------------------------------------------------------------------------------------------
// Command table

#[test]
fn table_describes_every_string_command_as_redis_does() {
    let table = CommandTable::global();
    let expect = |name: &str, arity: i32, flags: &[&str], keys: KeyRange| {
        let spec = table.lookup(name.as_bytes()).expect(name);
        assert_eq!(spec.arity, arity, "{name} arity");
        assert_eq!(
            spec.flags.names().collect::<Vec<_>>(),
            flags,
            "{name} flags"
        );
        assert_eq!(spec.keys, keys, "{name} keys");
        assert_eq!(spec.group, Group::String, "{name} group");
        assert!(!spec.summary.is_empty(), "{name} summary");
        assert!(matches!(spec.handler, Handler::Engine(_)), "{name} handler");
    };
    let first = KeyRange::FIRST;
    let pairs = KeyRange::new(1, -1, 2);
    expect("get", 2, &["readonly", "fast"], first);
    expect("set", -3, &["write", "denyoom"], first);
    expect("setnx", 3, &["write", "denyoom", "fast"], first);
    expect("setex", 4, &["write", "denyoom"], first);
    expect("psetex", 4, &["write", "denyoom"], first);
    expect("mget", -2, &["readonly", "fast"], KeyRange::ALL);
    expect("mset", -3, &["write", "denyoom"], pairs);
    expect("msetnx", -3, &["write", "denyoom"], pairs);
    expect("getset", 3, &["write", "denyoom", "fast"], first);
    expect("getdel", 2, &["write", "fast"], first);
    expect("getex", -2, &["write", "fast"], first);
    expect("append", 3, &["write", "denyoom", "fast"], first);
    expect("strlen", 2, &["readonly", "fast"], first);
    expect("getrange", 4, &["readonly"], first);
    expect("substr", 4, &["readonly"], first);
    expect("setrange", 4, &["write", "denyoom"], first);
    for name in ["incr", "decr"] {
        expect(name, 2, &["write", "denyoom", "fast"], first);
    }
    for name in ["incrby", "decrby", "incrbyfloat"] {
        expect(name, 3, &["write", "denyoom", "fast"], first);
    }
    expect("lcs", -3, &["readonly"], KeyRange::new(1, 2, 1));
    assert!(table
        .lookup(b"INCR")
        .is_some_and(|s| s.flags.contains(Flags::WRITE)));
}

#[test]
fn arity_errors_name_the_command() {
    let db = db();
    assert_eq!(
        db.run("GET"),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        db.run("get a b"),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        db.run("SETEX k 10"),
        err("ERR wrong number of arguments for 'setex' command")
    );
    assert_eq!(
        db.run("LCS a"),
        err("ERR wrong number of arguments for 'lcs' command")
    );
}

// ---------------------------------------------------------------------------------------------
// GET / SET

#[test]
fn get_returns_the_value_or_nil() {
    let db = db();
    assert_eq!(db.run("GET k"), Reply::Nil);
    assert_eq!(db.run("SET k hello"), Reply::Ok);
    assert_eq!(db.run("GET k"), bulk("hello"));
    assert_eq!(db.run_args(&[b"SET", b"bin", b"\x00\xff\r\n"]), Reply::Ok);
    assert_eq!(
        db.run_args(&[b"GET", b"bin"]),
        Reply::Bulk(Bytes::from_static(b"\x00\xff\r\n"))
    );
    assert_eq!(
        db.take_propagated(),
        ["SET k hello", "SET bin \0\u{fffd}\r\n"]
    );
}

#[test]
fn reads_count_hits_and_misses_but_plain_set_does_not() {
    let db = db();
    db.run("GET k");
    db.run("SET k v");
    db.run("GET k");
    db.run("SET k v GET");
    let stats = db.engine.stats();
    assert_eq!((stats.keyspace_hits, stats.keyspace_misses), (2, 1));
}

#[test]
fn canonical_integers_keep_the_int_encoding() {
    let db = db();
    db.run("SET n 123");
    db.run("SET neg -45");
    db.run("SET padded 0123");
    db.run("SET plus +5");
    assert_eq!(db.stored("n"), Some(StrValue::Int(123)));
    assert_eq!(db.stored("neg"), Some(StrValue::Int(-45)));
    assert_eq!(
        db.stored("padded"),
        Some(StrValue::Raw(Bytes::from("0123")))
    );
    assert_eq!(db.stored("plus"), Some(StrValue::Raw(Bytes::from("+5"))));
    assert_eq!(db.run("GET n"), bulk("123"));
}

#[test]
fn set_replaces_any_deadline_unless_keepttl() {
    let db = db();
    db.run("SET k v EX 100");
    assert_eq!(db.deadline("k"), Some(NOW_MS + 100_000));
    db.run("SET k v2 KEEPTTL");
    assert_eq!(db.deadline("k"), Some(NOW_MS + 100_000));
    assert_eq!(db.run("GET k"), bulk("v2"));
    db.run("SET k v3");
    assert_eq!(db.deadline("k"), None);
    assert_eq!(
        db.take_propagated(),
        [
            format!("SET k v PXAT {}", NOW_MS + 100_000),
            "SET k v2 KEEPTTL".to_owned(),
            "SET k v3".to_owned(),
        ]
    );
}

#[test]
fn set_expiry_options_propagate_as_absolute_pxat() {
    let db = db();
    let at_secs = NOW_MS / 1000 + 500;
    assert_eq!(db.run("SET a 1 EX 10"), Reply::Ok);
    assert_eq!(db.run("set b 2 px 2500"), Reply::Ok);
    assert_eq!(db.run(&format!("SET c 3 EXAT {at_secs}")), Reply::Ok);
    assert_eq!(db.run(&format!("SET d 4 pxat {}", NOW_MS + 7)), Reply::Ok);
    assert_eq!(db.deadline("a"), Some(NOW_MS + 10_000));
    assert_eq!(db.deadline("b"), Some(NOW_MS + 2_500));
    assert_eq!(db.deadline("c"), Some(at_secs * 1000));
    assert_eq!(db.deadline("d"), Some(NOW_MS + 7));
    assert_eq!(
        db.take_propagated(),
        [
            format!("SET a 1 PXAT {}", NOW_MS + 10_000),
            format!("SET b 2 PXAT {}", NOW_MS + 2_500),
            format!("SET c 3 PXAT {}", at_secs * 1000),
            format!("SET d 4 PXAT {}", NOW_MS + 7),
        ]
    );
    assert_eq!(db.engine.volatile_count(0), 4);
}

#[test]
fn set_keys_expire_when_the_clock_passes_their_deadline() {
    let db = db();
    db.run("SET k v PX 100");
    db.take_propagated();
    db.clock.advance(99);
    assert_eq!(db.run("GET k"), bulk("v"));
    db.clock.advance(1);
    assert_eq!(db.run("GET k"), Reply::Nil);
    assert_eq!(db.take_propagated(), ["DEL k"]);
    assert_eq!(db.engine.key_count(0), 0);
}

#[test]
fn set_nx_and_xx_depend_on_existence() {
    let db = db();
    assert_eq!(db.run("SET k v XX"), Reply::Nil);
    assert!(!db.holds_string("k"));
    assert_eq!(db.run("SET k v NX"), Reply::Ok);
    assert_eq!(db.run("SET k other NX"), Reply::Nil);
    assert_eq!(db.run("GET k"), bulk("v"));
    assert_eq!(db.run("SET k w xx"), Reply::Ok);
    assert_eq!(db.run("GET k"), bulk("w"));
    assert_eq!(db.take_propagated(), ["SET k v NX", "SET k w XX"]);
}

#[test]
fn set_nx_treats_an_expired_key_as_absent() {
    let db = db();
    db.run("SET k old PX 10");
    db.clock.advance(10);
    db.take_propagated();
    assert_eq!(db.run("SET k new NX"), Reply::Ok);
    assert_eq!(db.run("GET k"), bulk("new"));
    assert_eq!(db.take_propagated(), ["DEL k", "SET k new NX"]);
}

#[test]
fn set_get_returns_the_previous_value() {
    let db = db();
    assert_eq!(db.run("SET k v1 GET"), Reply::Nil);
    assert_eq!(db.run("SET k v2 GET"), bulk("v1"));
    assert_eq!(db.run("SET k v3 NX GET"), bulk("v2"));
    assert_eq!(db.run("GET k"), bulk("v2"));
    assert_eq!(db.run("SET missing v XX GET"), Reply::Nil);
    assert!(!db.holds_string("missing"));
    assert_eq!(db.run("SET k v4 GET EX 5"), bulk("v2"));
    assert_eq!(
        db.take_propagated(),
        [
            "SET k v1".to_owned(),
            "SET k v2".to_owned(),
            format!("SET k v4 PXAT {}", NOW_MS + 5_000),
        ]
    );
}

#[test]
fn set_option_errors_match_redis() {
    let db = db();
    for line in [
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v EX 10 PX 100",
        "SET k v KEEPTTL EX 10",
        "SET k v PXAT 10 KEEPTTL",
        "SET k v EX",
        "SET k v PERSIST",
        "SET k v FOO",
        "SET k v EX abc NX XX",
    ] {
        assert_eq!(db.run(line), err(SYNTAX), "{line}");
    }
    for line in [
        "SET k v EX 0",
        "SET k v EX -1",
        "SET k v PX 0",
        "SET k v EXAT 0",
        "SET k v PXAT -5",
        "SET k v EX 9223372036854775",
        "SET k v EX 9223372036854776",
        "SET k v PX 9223372036854775807",
    ] {
        assert_eq!(
            db.run(line),
            err("ERR invalid expire time in 'set' command"),
            "{line}"
        );
    }
    assert_eq!(db.run("SET k v EX abc"), err(NOT_INTEGER));
    assert_eq!(db.run("SET k v EX 10.5"), err(NOT_INTEGER));
    assert!(!db.holds_string("k"));
    assert!(db.take_propagated().is_empty());
}

#[test]
fn set_repeating_the_same_option_is_accepted() {
    let db = db();
    assert_eq!(db.run("SET k v EX 5 EX 7 NX NX GET GET"), Reply::Nil);
    assert_eq!(db.deadline("k"), Some(NOW_MS + 7_000));
}

#[test]
fn set_with_a_past_deadline_deletes_the_key() {
    let db = db();
    db.run("SET k v");
    db.take_propagated();
    assert_eq!(db.run("SET k new EXAT 1"), Reply::Ok);
    assert!(!db.holds_string("k"));
    assert_eq!(db.take_propagated(), ["DEL k"]);
    assert_eq!(db.run(&format!("SET k new PXAT {NOW_MS}")), Reply::Ok);
    assert!(!db.holds_string("k"));
    assert!(db.take_propagated().is_empty(), "nothing to delete");
    db.run("SET k v");
    db.take_propagated();
    assert_eq!(db.run("SET k new PXAT 5 GET"), bulk("v"));
    assert_eq!(db.take_propagated(), ["DEL k"]);
    assert_eq!(db.run("SET k new PXAT 5 XX"), Reply::Nil);
    assert!(db.take_propagated().is_empty());
}

// ---------------------------------------------------------------------------------------------
// SETNX / SETEX / PSETEX / GETSET

#[test]
fn setnx_replies_with_whether_it_wrote() {
    let db = db();
    assert_eq!(db.run("SETNX k v"), int(1));
    assert_eq!(db.run("SETNX k w"), int(0));
    assert_eq!(db.run("GET k"), bulk("v"));
    assert_eq!(db.take_propagated(), ["SET k v NX"]);
}

#[test]
fn setex_and_psetex_set_a_deadline() {
    let db = db();
    assert_eq!(db.run("SETEX k 10 v"), Reply::Ok);
    assert_eq!(db.deadline("k"), Some(NOW_MS + 10_000));
    assert_eq!(db.run("PSETEX p 1500 w"), Reply::Ok);
    assert_eq!(db.deadline("p"), Some(NOW_MS + 1_500));
    assert_eq!(db.run("GET p"), bulk("w"));
    assert_eq!(
        db.take_propagated(),
        [
            format!("SET k v PXAT {}", NOW_MS + 10_000),
            format!("SET p w PXAT {}", NOW_MS + 1_500),
        ]
    );
}

#[test]
fn setex_and_psetex_refuse_bad_times() {
    let db = db();
    assert_eq!(
        db.run("SETEX k 0 v"),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        db.run("SETEX k -10 v"),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        db.run("PSETEX k 0 v"),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(db.run("SETEX k ten v"), err(NOT_INTEGER));
    assert_eq!(db.run("PSETEX k 1.5 v"), err(NOT_INTEGER));
    assert!(!db.holds_string("k"));
    assert!(db.take_propagated().is_empty());
}

#[test]
fn getset_returns_the_old_value_and_clears_the_deadline() {
    let db = db();
    assert_eq!(db.run("GETSET k v1"), Reply::Nil);
    db.run("SET k v1 EX 100");
    assert_eq!(db.run("GETSET k v2"), bulk("v1"));
    assert_eq!(db.deadline("k"), None);
    assert_eq!(db.run("GET k"), bulk("v2"));
    assert_eq!(
        db.take_propagated(),
        [
            "SET k v1".to_owned(),
            format!("SET k v1 PXAT {}", NOW_MS + 100_000),
            "SET k v2".to_owned(),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// MGET / MSET / MSETNX

#[test]
fn mget_reads_every_key() {
    let db = db();
    db.run("MSET a 1 b two");
    assert_eq!(
        db.run("MGET a missing b a"),
        array(vec![bulk("1"), Reply::Nil, bulk("two"), bulk("1")])
    );
}

#[test]
fn mset_writes_all_pairs_and_clears_deadlines() {
    let db = db();
    db.run("SET a old EX 100");
    db.take_propagated();
    assert_eq!(db.run("MSET a 1 b 2 a 3"), Reply::Ok);
    assert_eq!(db.run("MGET a b"), array(vec![bulk("3"), bulk("2")]));
    assert_eq!(db.deadline("a"), None);
    assert_eq!(db.stored("b"), Some(StrValue::Int(2)));
    assert_eq!(db.take_propagated(), ["MSET a 1 b 2 a 3"]);
    assert_eq!(
        db.run("MSET a 1 b"),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        db.run("MSET a"),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert!(db.take_propagated().is_empty());
}

#[test]
fn msetnx_writes_only_when_no_key_exists() {
    let db = db();
    assert_eq!(db.run("MSETNX a 1 b 2"), int(1));
    assert_eq!(db.run("MSETNX c 3 b 9"), int(0));
    assert!(!db.holds_string("c"));
    assert_eq!(db.run("GET b"), bulk("2"));
    assert_eq!(db.take_propagated(), ["MSET a 1 b 2"]);
    assert_eq!(
        db.run("MSETNX a 1 b"),
        err("ERR wrong number of arguments for 'msetnx' command")
    );
}

#[test]
fn multi_key_commands_work_across_slots() {
    let db = db();
    let keys: Vec<String> = (0..50).map(|i| format!("key:{i}")).collect();
    let mset: Vec<String> = keys.iter().flat_map(|k| [k.clone(), k.clone()]).collect();
    assert_eq!(db.run(&format!("MSET {}", mset.join(" "))), Reply::Ok);
    let reply = db.run(&format!("MGET {}", keys.join(" ")));
    assert_eq!(reply, array(keys.iter().map(|k| bulk(k)).collect()));
    assert_eq!(db.engine.key_count(0), 50);
}

// ---------------------------------------------------------------------------------------------
// GETDEL / GETEX

#[test]
fn getdel_returns_and_deletes() {
    let db = db();
    assert_eq!(db.run("GETDEL k"), Reply::Nil);
    db.run("SET k v EX 100");
    db.take_propagated();
    assert_eq!(db.run("GETDEL k"), bulk("v"));
    assert!(!db.holds_string("k"));
    assert_eq!(db.engine.volatile_count(0), 0);
    assert_eq!(db.take_propagated(), ["DEL k"]);
}

#[test]
fn getex_without_options_changes_nothing() {
    let db = db();
    assert_eq!(db.run("GETEX k"), Reply::Nil);
    db.run("SET k v EX 100");
    db.take_propagated();
    assert_eq!(db.run("GETEX k"), bulk("v"));
    assert_eq!(db.deadline("k"), Some(NOW_MS + 100_000));
    assert!(db.take_propagated().is_empty());
}

#[test]
fn getex_sets_deadlines_as_pexpireat() {
    let db = db();
    db.run("SET k v");
    db.take_propagated();
    let at_secs = NOW_MS / 1000 + 60;
    let cases = [
        ("EX 10".to_owned(), NOW_MS + 10_000),
        ("px 250".to_owned(), NOW_MS + 250),
        (format!("EXAT {at_secs}"), at_secs * 1000),
        (format!("PXAT {}", NOW_MS + 3), NOW_MS + 3),
    ];
    for (option, deadline) in cases {
        assert_eq!(db.run(&format!("GETEX k {option}")), bulk("v"), "{option}");
        assert_eq!(db.deadline("k"), Some(deadline), "{option}");
        assert_eq!(
            db.take_propagated(),
            [format!("PEXPIREAT k {deadline}")],
            "{option}"
        );
    }
}

#[test]
fn getex_persist_clears_the_deadline_once() {
    let db = db();
    db.run("SET k v EX 100");
    db.take_propagated();
    assert_eq!(db.run("GETEX k PERSIST"), bulk("v"));
    assert_eq!(db.deadline("k"), None);
    assert_eq!(db.take_propagated(), ["PERSIST k"]);
    assert_eq!(db.run("GETEX k persist"), bulk("v"));
    assert!(db.take_propagated().is_empty());
}

#[test]
fn getex_with_a_past_deadline_deletes_after_replying() {
    let db = db();
    db.run("SET k v");
    db.take_propagated();
    assert_eq!(db.run("GETEX k EXAT 1"), bulk("v"));
    assert!(!db.holds_string("k"));
    assert_eq!(db.take_propagated(), ["DEL k"]);
}

#[test]
fn getex_errors_match_redis() {
    let db = db();
    // A missing key answers nil before its time is even read.
    assert_eq!(db.run("GETEX missing EX 0"), Reply::Nil);
    assert_eq!(db.run("GETEX missing EX abc"), Reply::Nil);
    db.run("SET k v");
    db.take_propagated();
    assert_eq!(
        db.run("GETEX k EX 0"),
        err("ERR invalid expire time in 'getex' command")
    );
    assert_eq!(
        db.run("GETEX k PXAT -1"),
        err("ERR invalid expire time in 'getex' command")
    );
    assert_eq!(db.run("GETEX k EX abc"), err(NOT_INTEGER));
    for line in [
        "GETEX k NX",
        "GETEX k XX",
        "GETEX k GET",
        "GETEX k KEEPTTL",
        "GETEX k EX 1 PERSIST",
        "GETEX k PERSIST EX 1",
        "GETEX k EX 1 PX 1",
        "GETEX k EX",
        "GETEX missing FOO",
    ] {
        assert_eq!(db.run(line), err(SYNTAX), "{line}");
    }
    assert_eq!(db.deadline("k"), None);
    assert!(db.take_propagated().is_empty());
}

// ---------------------------------------------------------------------------------------------
// APPEND / STRLEN

#[test]
fn append_creates_and_extends() {
    let db = db();
    assert_eq!(db.run("APPEND k Hello"), int(5));
    assert_eq!(db.run("APPEND k _World"), int(11));
    assert_eq!(db.run("GET k"), bulk("Hello_World"));
    assert_eq!(db.run_args(&[b"APPEND", b"empty", b""]), int(0));
    assert!(db.holds_string("empty"));
    assert_eq!(
        db.take_propagated(),
        ["APPEND k Hello", "APPEND k _World", "APPEND empty "]
    );
}

#[test]
fn append_keeps_the_deadline_and_the_int_encoding() {
    let db = db();
    db.run("SET n 12 EX 100");
    assert_eq!(db.run("APPEND n 3"), int(3));
    assert_eq!(db.stored("n"), Some(StrValue::Int(123)));
    assert_eq!(db.deadline("n"), Some(NOW_MS + 100_000));
    assert_eq!(db.run("APPEND n x"), int(4));
    assert_eq!(db.run("GET n"), bulk("123x"));
}

#[test]
fn many_appends_build_the_whole_string() {
    let db = db();
    let mut expected = String::new();
    for i in 0..2000 {
        let piece = format!("{i},");
        expected.push_str(&piece);
        assert_eq!(
            db.run(&format!("APPEND log {piece}")),
            int(expected.len() as i64)
        );
    }
    assert_eq!(db.run("GET log"), bulk(&expected));
    assert_eq!(db.engine.get(b"log").unwrap().unwrap(), expected.as_bytes());
}

#[test]
fn append_respects_proto_max_bulk_len() {
    let db = db();
    db.engine.set_proto_max_bulk_len(10);
    db.run("SET k 12345");
    assert_eq!(db.run("APPEND k 67890"), int(10));
    db.take_propagated();
    assert_eq!(db.run("APPEND k x"), err(TOO_LONG));
    assert_eq!(db.run("STRLEN k"), int(10));
    assert!(db.take_propagated().is_empty());
}

#[test]
fn strlen_counts_bytes() {
    let db = db();
    assert_eq!(db.run("STRLEN k"), int(0));
    db.run("SET k hello");
    assert_eq!(db.run("STRLEN k"), int(5));
    db.run("SET n -1234");
    assert_eq!(db.run("STRLEN n"), int(5));
    db.run_args(&[b"SET", b"u", "héllo".as_bytes()]);
    assert_eq!(db.run("STRLEN u"), int(6));
}

// ---------------------------------------------------------------------------------------------
// GETRANGE / SUBSTR / SETRANGE

#[test]
fn getrange_follows_redis_index_rules() {
    let db = db();
    db.run_args(&[b"SET", b"k", b"This is a string"]);
    let cases = [
        ("0 3", "This"),
        ("-3 -1", "ing"),
        ("0 -1", "This is a string"),
        ("10 100", "string"),
        ("-100 3", "This"),
        ("5 3", ""),
        ("-1 -5", ""),
        ("0 -100", "T"),
        ("-100 -100", "T"),
        ("16 20", ""),
        (
            "-9223372036854775808 9223372036854775807",
            "This is a string",
        ),
    ];
    for (range, expected) in cases {
        assert_eq!(
            db.run(&format!("GETRANGE k {range}")),
            bulk(expected),
            "{range}"
        );
        assert_eq!(
            db.run(&format!("SUBSTR k {range}")),
            bulk(expected),
            "{range}"
        );
    }
    assert_eq!(db.run("GETRANGE missing 0 -1"), bulk(""));
    db.run("SET n 12345");
    assert_eq!(db.run("GETRANGE n 1 -2"), bulk("234"));
    db.run_args(&[b"SET", b"empty", b""]);
    assert_eq!(db.run("GETRANGE empty 0 -1"), bulk(""));
    assert_eq!(db.run("GETRANGE k a 1"), err(NOT_INTEGER));
    assert_eq!(db.run("GETRANGE k 0 1.5"), err(NOT_INTEGER));
}

#[test]
fn setrange_overwrites_and_pads_with_zeros() {
    let db = db();
    db.run_args(&[b"SET", b"k", b"Hello World"]);
    db.take_propagated();
    assert_eq!(db.run("SETRANGE k 6 Redis"), int(11));
    assert_eq!(db.run("GET k"), bulk("Hello Redis"));
    assert_eq!(db.run("SETRANGE k 13 !"), int(14));
    assert_eq!(db.run("GET k"), bulk("Hello Redis\0\0!"));
    assert_eq!(db.run("SETRANGE new 6 Redis"), int(11));
    assert_eq!(db.run("GET new"), bulk("\0\0\0\0\0\0Redis"));
    assert_eq!(
        db.take_propagated(),
        [
            "SETRANGE k 6 Redis",
            "SETRANGE k 13 !",
            "SETRANGE new 6 Redis"
        ]
    );
}

#[test]
fn setrange_with_an_empty_value_changes_nothing() {
    let db = db();
    assert_eq!(db.run_args(&[b"SETRANGE", b"k", b"5", b""]), int(0));
    assert!(!db.holds_string("k"));
    db.run("SET k hello");
    db.take_propagated();
    assert_eq!(db.run_args(&[b"SETRANGE", b"k", b"100", b""]), int(5));
    assert_eq!(
        db.run_args(&[b"SETRANGE", b"k", b"9999999999999", b""]),
        int(5)
    );
    assert!(db.take_propagated().is_empty());
}

#[test]
fn setrange_keeps_the_deadline_and_the_int_encoding() {
    let db = db();
    db.run("SET n 123 EX 50");
    assert_eq!(db.run("SETRANGE n 0 4"), int(3));
    assert_eq!(db.stored("n"), Some(StrValue::Int(423)));
    assert_eq!(db.deadline("n"), Some(NOW_MS + 50_000));
}

#[test]
fn setrange_limits_match_redis() {
    let db = db();
    assert_eq!(db.run("SETRANGE k -1 x"), err("ERR offset is out of range"));
    assert_eq!(db.run("SETRANGE k abc x"), err(NOT_INTEGER));
    assert_eq!(db.run("SETRANGE k 536870912 x"), err(TOO_LONG));
    assert_eq!(db.run("SETRANGE k 9223372036854775807 x"), err(TOO_LONG));
    db.engine.set_proto_max_bulk_len(100);
    assert_eq!(db.run("SETRANGE k 100 x"), err(TOO_LONG));
    assert!(!db.holds_string("k"));
    assert_eq!(db.run("SETRANGE k 99 x"), int(100));
    assert_eq!(db.run("SETRANGE k 99 xy"), err(TOO_LONG));
    assert_eq!(db.run("STRLEN k"), int(100));
}

// ---------------------------------------------------------------------------------------------
// INCR / DECR / INCRBY / DECRBY

#[test]
fn incr_family_counts_from_zero() {
    let db = db();
    assert_eq!(db.run("INCR n"), int(1));
    assert_eq!(db.run("INCRBY n 10"), int(11));
    assert_eq!(db.run("DECR n"), int(10));
    assert_eq!(db.run("DECRBY n 15"), int(-5));
    assert_eq!(db.run("INCRBY n -5"), int(-10));
    assert_eq!(db.run("GET n"), bulk("-10"));
    assert_eq!(db.stored("n"), Some(StrValue::Int(-10)));
    assert_eq!(
        db.take_propagated(),
        [
            "INCRBY n 1",
            "INCRBY n 10",
            "INCRBY n -1",
            "INCRBY n -15",
            "INCRBY n -5"
        ]
    );
}

#[test]
fn incr_keeps_the_deadline() {
    let db = db();
    db.run("SET n 5 EX 100");
    assert_eq!(db.run("INCR n"), int(6));
    assert_eq!(db.deadline("n"), Some(NOW_MS + 100_000));
}

#[test]
fn incr_on_an_expired_key_starts_over() {
    let db = db();
    db.run("SET n 5 PX 10");
    db.clock.advance(10);
    db.take_propagated();
    assert_eq!(db.run("INCR n"), int(1));
    assert_eq!(db.deadline("n"), None);
    assert_eq!(db.take_propagated(), ["DEL n", "INCRBY n 1"]);
}

#[test]
fn incr_refuses_non_integers() {
    let db = db();
    for value in [
        "abc",
        "1.5",
        "007",
        "-0",
        " 1",
        "+1",
        "",
        "99999999999999999999",
    ] {
        db.run_args(&[b"SET", b"k", value.as_bytes()]);
        assert_eq!(db.run("INCR k"), err(NOT_INTEGER), "{value:?}");
    }
    db.run("SET n 1");
    db.take_propagated();
    assert_eq!(db.run("INCRBY n abc"), err(NOT_INTEGER));
    assert_eq!(db.run("INCRBY n 1.0"), err(NOT_INTEGER));
    assert_eq!(db.run("DECRBY n 99999999999999999999"), err(NOT_INTEGER));
    assert_eq!(db.run("GET n"), bulk("1"));
    assert!(db.take_propagated().is_empty());
}

#[test]
fn incr_refuses_to_overflow() {
    let db = db();
    let overflow = err("ERR increment or decrement would overflow");
    db.run("SET max 9223372036854775807");
    assert_eq!(db.run("INCR max"), overflow);
    assert_eq!(db.run("INCRBY max 1"), overflow);
    assert_eq!(db.run("DECRBY max -1"), overflow);
    db.run("SET min -9223372036854775808");
    assert_eq!(db.run("DECR min"), overflow);
    assert_eq!(db.run("INCRBY min -1"), overflow);
    assert_eq!(db.run("GET max"), bulk("9223372036854775807"));
    assert_eq!(
        db.run("DECRBY k -9223372036854775808"),
        err("ERR decrement would overflow")
    );
    assert_eq!(db.run("INCRBY zero -9223372036854775808"), int(i64::MIN));
    assert_eq!(db.run("INCRBY max -9223372036854775808"), int(-1));
}

// ---------------------------------------------------------------------------------------------
// INCRBYFLOAT

#[test]
fn incrbyfloat_replies_like_redis_docs() {
    let db = db();
    db.run("SET k 10.50");
    assert_eq!(db.run("INCRBYFLOAT k 0.1"), bulk("10.6"));
    assert_eq!(db.run("INCRBYFLOAT k -5"), bulk("5.6"));
    db.run("SET k 5.0e3");
    assert_eq!(db.run("INCRBYFLOAT k 2.0e2"), bulk("5200"));
    assert_eq!(db.stored("k"), Some(StrValue::Int(5200)));
    assert_eq!(db.run("INCRBYFLOAT new 5.0e3"), bulk("5000"));
    assert_eq!(db.run("INCRBYFLOAT int 1"), bulk("1"));
    // 1e30 is no long double: Redis answers the nearest one's digits.
    assert_eq!(
        db.run("INCRBYFLOAT big 1e30"),
        bulk("1000000000000000000024696061952")
    );
    assert_eq!(
        db.run("INCRBYFLOAT money 1000.1"),
        bulk("1000.09999999999999998")
    );
    assert_eq!(db.run("INCRBYFLOAT tiny 0.000001"), bulk("0.000001"));
}

#[test]
fn incrbyfloat_propagates_as_set_keepttl() {
    let db = db();
    db.run("SET k 1.5 EX 100");
    db.take_propagated();
    assert_eq!(db.run("INCRBYFLOAT k 1"), bulk("2.5"));
    assert_eq!(db.deadline("k"), Some(NOW_MS + 100_000));
    assert_eq!(db.take_propagated(), ["SET k 2.5 KEEPTTL"]);
}

#[test]
fn incrbyfloat_never_answers_negative_zero() {
    let db = db();
    let third = 1.0f64 / 41.0;
    db.run(&format!("INCRBYFLOAT k {third}"));
    assert_eq!(db.run(&format!("INCRBYFLOAT k {}", -third)), bulk("0"));
}

#[test]
fn incrbyfloat_errors_match_redis() {
    let db = db();
    db.run("SET k 1");
    db.run("SET text abc");
    db.run_args(&[b"SET", b"spaced", b" 1"]);
    db.run_args(&[b"SET", b"long", "1".repeat(6000).as_bytes()]);
    db.take_propagated();
    assert_eq!(db.run("INCRBYFLOAT k abc"), err(NOT_FLOAT));
    assert_eq!(db.run("INCRBYFLOAT k nan"), err(NOT_FLOAT));
    assert_eq!(db.run("INCRBYFLOAT text 1"), err(NOT_FLOAT));
    assert_eq!(db.run("INCRBYFLOAT spaced 1"), err(NOT_FLOAT));
    assert_eq!(db.run("INCRBYFLOAT long 1"), err(NOT_FLOAT));
    let nan_or_inf = err("ERR increment would produce NaN or Infinity");
    assert_eq!(db.run("INCRBYFLOAT k +inf"), nan_or_inf);
    assert_eq!(db.run("INCRBYFLOAT k -inf"), nan_or_inf);
    assert!(db.take_propagated().is_empty());
    // Redis adds in long double: past the largest double is still finite, 2e4932 is not.
    let huge = db.run("INCRBYFLOAT k 1e4932");
    let Reply::Bulk(text) = &huge else {
        panic!("{huge:?}");
    };
    assert!(text.starts_with(b"10000000000000000000"), "{huge:?}");
    assert_eq!(db.run("INCRBYFLOAT k 1e4932"), nan_or_inf);
    assert_eq!(db.run("GET k"), huge);
    assert_eq!(db.run("GET text"), bulk("abc"));
    let text = String::from_utf8_lossy(text);
    assert_eq!(db.take_propagated(), [format!("SET k {text} KEEPTTL")]);
}

// ---------------------------------------------------------------------------------------------
// LCS

fn range(start: i64, end: i64) -> Reply {
    array(vec![int(start), int(end)])
}

#[test]
fn lcs_answers_like_redis_docs() {
    let db = db();
    db.run("MSET key1 ohmytext key2 mynewtext");
    db.take_propagated();
    assert_eq!(db.run("LCS key1 key2"), bulk("mytext"));
    assert_eq!(db.run("LCS key1 key2 LEN"), int(6));
    assert_eq!(
        db.run("LCS key1 key2 IDX"),
        Reply::Map(vec![
            (
                bulk("matches"),
                array(vec![
                    array(vec![range(4, 7), range(5, 8)]),
                    array(vec![range(2, 3), range(0, 1)]),
                ])
            ),
            (bulk("len"), int(6)),
        ])
    );
    assert_eq!(
        db.run("LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN"),
        Reply::Map(vec![
            (
                bulk("matches"),
                array(vec![array(vec![range(4, 7), range(5, 8), int(4)])])
            ),
            (bulk("len"), int(6)),
        ])
    );
    assert_eq!(
        db.run("lcs key1 key2 idx withmatchlen minmatchlen -3"),
        Reply::Map(vec![
            (
                bulk("matches"),
                array(vec![
                    array(vec![range(4, 7), range(5, 8), int(4)]),
                    array(vec![range(2, 3), range(0, 1), int(2)]),
                ])
            ),
            (bulk("len"), int(6)),
        ])
    );
    assert!(db.take_propagated().is_empty());
}

#[test]
fn lcs_of_missing_keys_is_empty() {
    let db = db();
    db.run("SET a hello");
    assert_eq!(db.run("LCS a missing"), bulk(""));
    assert_eq!(db.run("LCS missing other LEN"), int(0));
    assert_eq!(
        db.run("LCS a missing IDX"),
        Reply::Map(vec![
            (bulk("matches"), array(vec![])),
            (bulk("len"), int(0))
        ])
    );
    db.run("SET n 12345");
    db.run("SET m 2x4");
    assert_eq!(db.run("LCS n m"), bulk("24"));
}

#[test]
fn lcs_option_errors_match_redis() {
    let db = db();
    db.run("MSET a abc b abd");
    assert_eq!(
        db.run("LCS a b LEN IDX"),
        err("ERR If you want both the length and indexes, please just use IDX.")
    );
    assert_eq!(db.run("LCS a b FOO"), err(SYNTAX));
    assert_eq!(db.run("LCS a b MINMATCHLEN"), err(SYNTAX));
    assert_eq!(db.run("LCS a b MINMATCHLEN x"), err(NOT_INTEGER));
}

#[test]
fn lcs_refuses_oversized_tables() {
    let db = db();
    let side = "a".repeat(8200);
    db.run_args(&[b"MSET", b"a", side.as_bytes(), b"b", side.as_bytes()]);
    let Reply::Error(line) = db.run("LCS a b LEN") else {
        panic!("expected an error");
    };
    assert_eq!(
        line,
        "ERR LCS inputs too large: (len1+1)*(len2+1) exceeds 67108864"
    );
    db.engine.set_proto_max_bulk_len(1024);
    db.run("MSET c 0123456789abcdef d fedcba9876543210");
    assert_eq!(
        db.run("LCS c d"),
        err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    );
}

#[test]
fn lcs_handles_large_inputs_within_the_limit() {
    let db = db();
    let a: String = (0..3000)
        .map(|i| char::from(b'a' + (i % 7) as u8))
        .collect();
    let b: String = (0..3000)
        .map(|i| char::from(b'a' + (i % 5) as u8))
        .collect();
    db.run_args(&[b"MSET", b"a", a.as_bytes(), b"b", b.as_bytes()]);
    let Reply::Integer(len) = db.run("LCS a b LEN") else {
        panic!("expected a length");
    };
    let Reply::Bulk(sequence) = db.run("LCS a b") else {
        panic!("expected a string");
    };
    assert_eq!(sequence.len() as i64, len);
    assert!(is_subsequence(&sequence, a.as_bytes()) && is_subsequence(&sequence, b.as_bytes()));
}

fn is_subsequence(needle: &[u8], haystack: &[u8]) -> bool {
    let mut rest = haystack.iter();
    needle.iter().all(|byte| rest.any(|b| b == byte))
}

// ---------------------------------------------------------------------------------------------
// Typed API

#[test]
fn typed_set_and_get_mirror_the_commands() {
    let db = db();
    let outcome = db.engine.set(b"k", b"v", SetOptions::default()).unwrap();
    assert_eq!(
        outcome,
        SetOutcome {
            written: true,
            previous: None
        }
    );
    assert_eq!(db.engine.get(b"k").unwrap(), Some(Bytes::from("v")));
    assert_eq!(db.engine.get(b"missing").unwrap(), None);
    let options = SetOptions {
        expiry: Some(Expiry::Ex(10)),
        condition: SetCondition::IfPresent,
        get: true,
        ..SetOptions::default()
    };
    let outcome = db.engine.set(b"k", b"w", options).unwrap();
    assert_eq!(
        outcome,
        SetOutcome {
            written: true,
            previous: Some(Bytes::from("v"))
        }
    );
    let refused = db
        .engine
        .set(
            b"k",
            b"x",
            SetOptions {
                condition: SetCondition::IfAbsent,
                ..SetOptions::default()
            },
        )
        .unwrap();
    assert!(!refused.written && refused.previous.is_none());
    assert_eq!(db.deadline("k"), Some(NOW_MS + 10_000));
    assert_eq!(
        db.take_propagated(),
        [
            "SET k v".to_owned(),
            format!("SET k w PXAT {} XX", NOW_MS + 10_000)
        ]
    );
}

#[test]
fn typed_set_refuses_what_the_command_refuses() {
    let db = db();
    let bad_time = SetOptions {
        expiry: Some(Expiry::Px(0)),
        ..SetOptions::default()
    };
    let error = db.engine.set(b"k", b"v", bad_time).unwrap_err();
    assert_eq!(
        error.to_string(),
        "ERR invalid expire time in 'set' command"
    );
    let conflicting = SetOptions {
        expiry: Some(Expiry::ExAt(5)),
        keep_ttl: true,
        ..SetOptions::default()
    };
    assert_eq!(
        db.engine.set(b"k", b"v", conflicting),
        Err(CommandError::Syntax)
    );
    assert!(!db.holds_string("k"));
}

#[test]
fn typed_counters_append_strlen_and_mget() {
    let db = db();
    assert_eq!(db.engine.incr_by(b"n", 41), Ok(41));
    assert_eq!(db.engine.incr_by(b"n", 1), Ok(42));
    assert_eq!(db.stored("n"), Some(StrValue::Int(42)));
    assert_eq!(
        db.engine.incr_by(b"n", i64::MAX),
        Err(CommandError::Overflow)
    );
    assert_eq!(db.engine.incr_by_float(b"f", 10.5), Ok(10.5));
    assert_eq!(db.engine.incr_by_float(b"f", 0.1), Ok(10.6));
    assert_eq!(
        db.engine.incr_by_float(b"f", f64::INFINITY),
        Err(CommandError::NanOrInfinity)
    );
    assert_eq!(db.engine.append(b"s", b"ab"), Ok(2));
    assert_eq!(db.engine.append(b"s", b"cd"), Ok(4));
    assert_eq!(db.engine.strlen(b"s"), Ok(4));
    assert_eq!(db.engine.strlen(b"missing"), Ok(0));
    assert_eq!(
        db.engine.mget(&[b"s", b"missing", b"n", b"f"]),
        vec![
            Some(Bytes::from("abcd")),
            None,
            Some(Bytes::from("42")),
            Some(Bytes::from("10.6"))
        ]
    );
    assert_eq!(
        db.take_propagated(),
        [
            "INCRBY n 41",
            "INCRBY n 1",
            "SET f 10.5 KEEPTTL",
            "SET f 10.6 KEEPTTL",
            "APPEND s ab",
            "APPEND s cd"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Keyspace notifications

#[test]
fn string_and_key_changes_report_redis_keyspace_events() {
    let db = db();
    let events = db.record_events();
    db.given(&[
        "SET a 1",
        "SET b 2 EX 100",
        "SET c 3 NX",
        "SET c 4 NX",
        "SETNX c x",
        "SETEX d 10 v",
        "MSET a 1 e 5",
        "MSETNX a 1 f 6",
        "APPEND a x",
        "SETRANGE a 1 y",
        "INCR n",
        "DECRBY n 3",
        "INCRBYFLOAT n 1.5",
        "GETSET a z",
        "GETEX b PERSIST",
        "GETEX b PERSIST",
        "GETEX a EX 50",
        "GETDEL e",
        "GET a",
        "EXISTS a b",
        "EXPIRE c 100",
        "EXPIRE c 200 NX",
        "PERSIST c",
        "PERSIST c",
        "RENAME c c2",
        "RENAMENX c2 d",
        "COPY c2 h",
        "COPY c2 h DB 1",
        "DEL a missing c2",
        "UNLINK h",
        "EXPIRE d -1",
    ]);
    db.run_words(&["SETRANGE", "b", "0", ""]);
    let expected = [
        "set a",
        "set b",
        "expire b",
        "set c",
        "set d",
        "expire d",
        "set a",
        "set e",
        "append a",
        "setrange a",
        "incrby n",
        "incrby n",
        "incrbyfloat n",
        "set a",
        "persist b",
        "expire a",
        "del e",
        "expire c",
        "persist c",
        "rename_from c",
        "rename_to c2",
        "copy_to h",
        "copy_to h db1",
        "del a",
        "del c2",
        "del h",
        "del d",
    ];
    assert_eq!(events.lines(), expected);
}
