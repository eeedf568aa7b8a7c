//! The hash command family through the engine's `execute`, with a manual clock: exact replies
//! and reply shapes, exact error lines, the listpack -> hashtable conversion, key deletion when
//! the last field goes, WRONGTYPE, the deterministic form of every propagated write, and a model
//! test against a `BTreeMap`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use slotkv_engine::command::{CommandTable, Group, Handler, KeyRange};
use slotkv_engine::Reply;

impl Db {
    /// HGETALL as sorted (field, value) texts.
    fn all_pairs(&self, key: &str) -> Vec<(String, String)> {
        let Reply::Map(pairs) = self.run(&format!("HGETALL {key}")) else {
            panic!("HGETALL replies with a map");
        };
        let mut pairs: Vec<_> = pairs
            .into_iter()
            .map(|(field, value)| (text(&field), text(&value)))
            .collect();
        pairs.sort();
        pairs
    }
}

/// The text of a bulk reply.
fn text(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(data) => String::from_utf8_lossy(data).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// The texts of an array of bulk strings.
fn texts(reply: &Reply) -> Vec<String> {
    match reply {
        Reply::Array(items) => items.iter().map(text).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// Fills `key` with `count` fields `f0..` holding `v0..`.
fn fill(db: &Db, key: &str, count: usize) {
    let mut line = format!("HSET {key}");
    for i in 0..count {
        line.push_str(&format!(" f{i} v{i}"));
    }
    assert_eq!(db.run(&line), int(count as i64));
}

// ---------------------------------------------------------------------------------------------
// Command table

#[test]
fn table_describes_every_hash_command_as_redis_does() {
    let table = CommandTable::global();
    let expect = |name: &str, arity: i32, flags: &[&str], since: &str| {
        let spec = table.lookup(name.as_bytes()).expect(name);
        assert_eq!(spec.arity, arity, "{name} arity");
        assert_eq!(
            spec.flags.names().collect::<Vec<_>>(),
            flags,
            "{name} flags"
        );
        assert_eq!(spec.keys, KeyRange::FIRST, "{name} keys");
        assert_eq!(spec.group, Group::Hash, "{name} group");
        assert_eq!(spec.since, since, "{name} since");
        assert!(!spec.summary.is_empty(), "{name} summary");
        assert!(matches!(spec.handler, Handler::Engine(_)), "{name} handler");
    };
    let write_oom_fast: &[&str] = &["write", "denyoom", "fast"];
    let read_fast: &[&str] = &["readonly", "fast"];
    expect("hset", -4, write_oom_fast, "2.0.0");
    expect("hmset", -4, write_oom_fast, "2.0.0");
    expect("hsetnx", 4, write_oom_fast, "2.0.0");
    expect("hget", 3, read_fast, "2.0.0");
    expect("hmget", -3, read_fast, "2.0.0");
    expect("hgetall", 2, &["readonly"], "2.0.0");
    expect("hkeys", 2, &["readonly"], "2.0.0");
    expect("hvals", 2, &["readonly"], "2.0.0");
    expect("hdel", -3, &["write", "fast"], "2.0.0");
    expect("hexists", 3, read_fast, "2.0.0");
    expect("hlen", 2, read_fast, "2.0.0");
    expect("hstrlen", 3, read_fast, "3.2.0");
    expect("hincrby", 4, write_oom_fast, "2.0.0");
    expect("hincrbyfloat", 4, write_oom_fast, "2.6.0");
    expect("hrandfield", -2, &["readonly"], "6.2.0");
    expect("hscan", -3, &["readonly"], "2.8.0");
}

#[test]
fn arity_errors_name_the_command() {
    let db = db();
    for (line, name) in [
        ("HSET k f", "hset"),
        ("HSET k f v g", "hset"),
        ("HMSET k f v g", "hmset"),
        ("HSETNX k f", "hsetnx"),
        ("HGET k", "hget"),
        ("HMGET k", "hmget"),
        ("HGETALL", "hgetall"),
        ("HDEL k", "hdel"),
        ("HLEN k x", "hlen"),
        ("HINCRBY k f", "hincrby"),
        ("HRANDFIELD", "hrandfield"),
        ("HSCAN k", "hscan"),
    ] {
        assert_eq!(
            db.run(line),
            err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            )),
            "{line}"
        );
    }
    assert_eq!(
        db.run("EXISTS k"),
        int(0),
        "a rejected HSET creates nothing"
    );
    assert!(db.take_propagated().is_empty());
}

// ---------------------------------------------------------------------------------------------
// HSET / HMSET / HSETNX

#[test]
fn hset_counts_new_fields_and_propagates_as_is() {
    let db = db();
    assert_eq!(db.run("HSET h a 1 b 2"), int(2));
    assert_eq!(db.run("HSET h a 10 c 3"), int(1));
    assert_eq!(db.run("HSET h a 10"), int(0), "an unchanged value counts 0");
    assert_eq!(
        db.run("HSET h d 1 d 2"),
        int(1),
        "a repeated field counts once"
    );
    assert_eq!(db.run("HGET h d"), bulk("2"), "the last value wins");
    assert_eq!(
        db.all_pairs("h"),
        [("a", "10"), ("b", "2"), ("c", "3"), ("d", "2")]
            .map(|(f, v)| (f.to_owned(), v.to_owned()))
    );
    assert_eq!(
        db.take_propagated(),
        [
            "HSET h a 1 b 2",
            "HSET h a 10 c 3",
            "HSET h a 10",
            "HSET h d 1 d 2"
        ]
    );
}

#[test]
fn hmset_replies_ok_and_propagates_as_hset() {
    let db = db();
    assert_eq!(db.run("HMSET h a 1 b 2"), Reply::Ok);
    assert_eq!(db.run("HMSET h a 3"), Reply::Ok);
    assert_eq!(db.run("HMGET h a b"), bulks(&["3", "2"]));
    assert_eq!(db.take_propagated(), ["HSET h a 1 b 2", "HSET h a 3"]);
}

#[test]
fn hsetnx_sets_only_absent_fields() {
    let db = db();
    assert_eq!(db.run("HSETNX h f v"), int(1));
    assert_eq!(db.run("HSETNX h f w"), int(0));
    assert_eq!(db.run("HGET h f"), bulk("v"));
    assert_eq!(db.run("HSETNX h g w"), int(1));
    assert_eq!(db.take_propagated(), ["HSET h f v", "HSET h g w"]);
}

#[test]
fn writes_keep_the_deadline_and_expired_hashes_start_over() {
    let db = db();
    db.run("HSET h a 1");
    db.run("PEXPIRE h 100");
    db.run("HSET h b 2");
    db.run("HINCRBY h c 1");
    db.run("HDEL h a");
    assert_eq!(db.run("PTTL h"), int(100));
    db.clock.advance(100);
    assert_eq!(db.run("HLEN h"), int(0));
    db.run("HSET h x 1");
    assert_eq!(db.run("PTTL h"), int(-1));
    assert_eq!(db.all_pairs("h"), [("x".to_owned(), "1".to_owned())]);
}

// ---------------------------------------------------------------------------------------------
// Reads

#[test]
fn reads_of_a_missing_key_reply_empty() {
    let db = db();
    assert_eq!(db.run("HGET h f"), Reply::Nil);
    assert_eq!(db.run("HMGET h a b"), array(vec![Reply::Nil, Reply::Nil]));
    assert_eq!(db.run("HGETALL h"), Reply::Map(Vec::new()));
    assert_eq!(db.run("HKEYS h"), array(Vec::new()));
    assert_eq!(db.run("HVALS h"), array(Vec::new()));
    assert_eq!(db.run("HEXISTS h f"), int(0));
    assert_eq!(db.run("HLEN h"), int(0));
    assert_eq!(db.run("HSTRLEN h f"), int(0));
    assert_eq!(db.run("HRANDFIELD h"), Reply::Nil);
    assert_eq!(db.run("HRANDFIELD h 5"), array(Vec::new()));
    assert_eq!(db.run("HRANDFIELD h -5 WITHVALUES"), array(Vec::new()));
    assert_eq!(
        db.run("HSCAN h 0"),
        array(vec![bulk("0"), array(Vec::new())])
    );
    assert_eq!(db.run("EXISTS h"), int(0), "reads create nothing");
}

#[test]
fn reads_reply_in_redis_shapes() {
    let db = db();
    db.run("HSET h name alice age 30");
    db.run_args(&[b"HSET", b"h", b"empty", b""]);
    assert_eq!(db.run("HGET h name"), bulk("alice"));
    assert_eq!(db.run("HGET h nope"), Reply::Nil);
    assert_eq!(
        db.run("HMGET h age nope name"),
        array(vec![bulk("30"), Reply::Nil, bulk("alice")])
    );
    // A listpack keeps insertion order, as Redis's does.
    assert_eq!(
        db.run("HGETALL h"),
        Reply::Map(vec![
            (bulk("name"), bulk("alice")),
            (bulk("age"), bulk("30")),
            (bulk("empty"), bulk("")),
        ])
    );
    assert_eq!(db.run("HKEYS h"), bulks(&["name", "age", "empty"]));
    assert_eq!(db.run("HVALS h"), bulks(&["alice", "30", ""]));
    assert_eq!(db.run("HEXISTS h age"), int(1));
    assert_eq!(db.run("HEXISTS h nope"), int(0));
    assert_eq!(db.run("HLEN h"), int(3));
    assert_eq!(db.run("HSTRLEN h name"), int(5));
    assert_eq!(db.run("HSTRLEN h empty"), int(0));
    assert_eq!(db.run("HSTRLEN h nope"), int(0));
    assert_eq!(db.take_propagated().len(), 2, "reads propagate nothing");
}

#[test]
fn fields_and_values_are_binary_safe() {
    let db = db();
    let field: &[u8] = b"\x00f\r\n";
    let value: &[u8] = b"\xff\x00v";
    assert_eq!(db.run_args(&[b"HSET", b"h", field, value]), int(1));
    assert_eq!(
        db.run_args(&[b"HGET", b"h", field]),
        Reply::Bulk(Bytes::from_static(b"\xff\x00v"))
    );
    assert_eq!(db.run_args(&[b"HSTRLEN", b"h", field]), int(3));
}

// ---------------------------------------------------------------------------------------------
// HDEL

#[test]
fn hdel_counts_removed_fields_and_deletes_the_emptied_key() {
    let db = db();
    db.run("HSET h a 1 b 2 c 3");
    db.take_propagated();
    assert_eq!(db.run("HDEL h a nope a"), int(1));
    assert_eq!(db.run("HDEL h nope"), int(0));
    assert_eq!(db.run("HDEL missing a"), int(0));
    assert_eq!(db.take_propagated(), ["HDEL h a"], "only real removals");
    assert_eq!(db.run("HDEL h b c"), int(2));
    assert_eq!(db.run("EXISTS h"), int(0));
    assert_eq!(db.run("TYPE h"), Reply::Simple("none".to_owned()));
    assert_eq!(db.take_propagated(), ["HDEL h b c"]);
}

#[test]
fn hdel_empties_a_hashtable_too() {
    let db = db();
    fill(&db, "h", 200);
    assert_eq!(db.encoding("h"), bulk("hashtable"));
    let mut line = "HDEL h".to_owned();
    for i in 0..200 {
        line.push_str(&format!(" f{i}"));
    }
    assert_eq!(db.run(&line), int(200));
    assert_eq!(db.run("EXISTS h"), int(0));
}

// ---------------------------------------------------------------------------------------------
// HINCRBY / HINCRBYFLOAT

#[test]
fn hincrby_adds_and_reports_errors_as_redis() {
    let db = db();
    assert_eq!(db.run("HINCRBY h n 5"), int(5));
    assert_eq!(db.run("HINCRBY h n -7"), int(-2));
    assert_eq!(db.run("HGET h n"), bulk("-2"));
    assert_eq!(db.run("HINCRBY h n x"), err(NOT_INTEGER));
    assert_eq!(db.run("HINCRBY h n 1.5"), err(NOT_INTEGER));
    db.run("HSET h s abc z 007 big 9223372036854775806 small -9223372036854775807");
    assert_eq!(
        db.run("HINCRBY h s 1"),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        db.run("HINCRBY h z 1"),
        err("ERR hash value is not an integer")
    );
    assert_eq!(db.run("HINCRBY h big 1"), int(i64::MAX));
    assert_eq!(
        db.run("HINCRBY h big 1"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(db.run("HINCRBY h small -1"), int(i64::MIN));
    assert_eq!(
        db.run("HINCRBY h small -1"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        db.take_propagated(),
        [
            "HINCRBY h n 5",
            "HINCRBY h n -7",
            "HSET h s abc z 007 big 9223372036854775806 small -9223372036854775807",
            "HINCRBY h big 1",
            "HINCRBY h small -1"
        ]
    );
}

#[test]
fn hincrby_checks_its_argument_before_the_key_type() {
    let db = db();
    db.run("SET s x");
    assert_eq!(db.run("HINCRBY s f x"), err(NOT_INTEGER));
    assert_eq!(db.run("HINCRBY s f 1"), err(WRONGTYPE));
    assert_eq!(db.run("HINCRBYFLOAT s f x"), err(NOT_FLOAT));
    assert_eq!(db.run("HINCRBYFLOAT s f 1"), err(WRONGTYPE));
}

#[test]
fn hincrbyfloat_adds_and_propagates_the_result_as_hset() {
    let db = db();
    assert_eq!(db.run("HINCRBYFLOAT h f 10.5"), bulk("10.5"));
    assert_eq!(db.run("HINCRBYFLOAT h f 0.1"), bulk("10.6"));
    assert_eq!(db.run("HINCRBYFLOAT h f -5.6"), bulk("5"));
    assert_eq!(db.run("HINCRBYFLOAT h f 5.0e3"), bulk("5005"));
    db.run("HSET h i 17179869184");
    assert_eq!(db.run("HINCRBYFLOAT h i 1.5"), bulk("17179869185.5"));
    assert_eq!(
        db.take_propagated(),
        [
            "HSET h f 10.5",
            "HSET h f 10.6",
            "HSET h f 5",
            "HSET h f 5005",
            "HSET h i 17179869184",
            "HSET h i 17179869185.5"
        ]
    );
}

#[test]
fn hincrbyfloat_errors_match_redis() {
    let db = db();
    db.run("HSET h s abc big 1e308");
    db.run_args(&[b"HSET", b"h", b"space", b" 1"]);
    assert_eq!(db.run("HINCRBYFLOAT h f abc"), err(NOT_FLOAT));
    assert_eq!(db.run("HINCRBYFLOAT h f nan"), err(NOT_FLOAT));
    for infinite in ["inf", "-inf", "+inf"] {
        assert_eq!(
            db.run(&format!("HINCRBYFLOAT h f {infinite}")),
            err("ERR value is NaN or Infinity")
        );
    }
    assert_eq!(
        db.run("HINCRBYFLOAT h s 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        db.run("HINCRBYFLOAT h space 1"),
        err("ERR hash value is not a float")
    );
    // Redis adds in long double: finite past the largest double, not past 1.19e4932.
    assert!(matches!(db.run("HINCRBYFLOAT h big 1e308"), Reply::Bulk(_)));
    assert!(matches!(
        db.run("HINCRBYFLOAT h edge 1e4932"),
        Reply::Bulk(_)
    ));
    assert_eq!(
        db.run("HINCRBYFLOAT h edge 1e4932"),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(
        db.run("HEXISTS h f"),
        int(0),
        "failed increments set nothing"
    );
    assert_eq!(
        db.take_propagated().len(),
        4,
        "the two HSETs and the two increments that succeeded"
    );
    // Redis reads at most 5119 characters as a float.
    let longest = format!("{}1", "0".repeat(5118));
    assert_eq!(db.run(&format!("HINCRBYFLOAT h f {longest}")), bulk("1"));
    assert_eq!(
        db.run(&format!("HINCRBYFLOAT h f 0{longest}")),
        err(NOT_FLOAT)
    );
    db.run_args(&[b"HSET", b"h", b"long", format!("0{longest}").as_bytes()]);
    assert_eq!(
        db.run("HINCRBYFLOAT h long 1"),
        err("ERR hash value is not a float")
    );
    db.run("HDEL h f long");
    db.take_propagated();
    assert_eq!(
        db.run("HINCRBYFLOAT fresh f inf"),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(db.run("EXISTS fresh"), int(0));
}

// ---------------------------------------------------------------------------------------------
// Encodings

#[test]
fn many_fields_convert_a_listpack_to_a_hashtable() {
    let db = db();
    fill(&db, "h", 128);
    assert_eq!(db.encoding("h"), bulk("listpack"));
    assert_eq!(db.run("HSET h one more"), int(1));
    assert_eq!(db.encoding("h"), bulk("hashtable"));
    assert_eq!(db.run("HLEN h"), int(129));
    assert_eq!(db.run("HGET h f127"), bulk("v127"));
    db.run("HDEL h one f0 f1");
    assert_eq!(db.encoding("h"), bulk("hashtable"), "conversion is one way");
}

#[test]
fn long_fields_or_values_convert_a_listpack_to_a_hashtable() {
    let db = db();
    let at_limit = "x".repeat(64);
    let over = "x".repeat(65);
    db.run(&format!("HSET a {at_limit} {at_limit}"));
    assert_eq!(db.encoding("a"), bulk("listpack"));
    db.run(&format!("HSET b f {over}"));
    assert_eq!(db.encoding("b"), bulk("hashtable"));
    db.run(&format!("HSET c {over} v"));
    assert_eq!(db.encoding("c"), bulk("hashtable"));
    db.run("HSET d f v");
    db.run(&format!("HSETNX d g {over}"));
    assert_eq!(db.encoding("d"), bulk("hashtable"));
    db.run(&format!("HINCRBY e {over} 1"));
    assert_eq!(db.encoding("e"), bulk("hashtable"));
    // A result longer than 64 bytes converts too.
    db.run("HSET f n 1e100");
    assert_eq!(db.encoding("f"), bulk("listpack"));
    // What redis-server answers: 1e100 + 1 in long double.
    assert_eq!(
        text(&db.run("HINCRBYFLOAT f n 1")),
        "9999999999999999999669353532207342619498699019828496079271391541752018669482644324418977840117055488"
    );
    assert_eq!(db.encoding("f"), bulk("hashtable"));
}

#[test]
fn every_command_works_on_both_encodings() {
    let db = db();
    db.run("HSET small a 1 b 2");
    fill(&db, "big", 300);
    db.run("HSET big a 1 b 2");
    for key in ["small", "big"] {
        assert_eq!(db.run(&format!("HGET {key} a")), bulk("1"));
        assert_eq!(db.run(&format!("HEXISTS {key} b")), int(1));
        assert_eq!(db.run(&format!("HINCRBY {key} a 41")), int(42));
        assert_eq!(db.run(&format!("HINCRBYFLOAT {key} b 0.5")), bulk("2.5"));
        assert_eq!(db.run(&format!("HSTRLEN {key} b")), int(3));
        assert_eq!(db.run(&format!("HDEL {key} b")), int(1));
        assert_eq!(db.run(&format!("HSETNX {key} b x")), int(1));
        assert_eq!(db.run(&format!("HMGET {key} a b")), bulks(&["42", "x"]));
    }
    assert_eq!(db.run("HLEN big"), int(302));
    let keys = texts(&db.run("HKEYS big"));
    let values = texts(&db.run("HVALS big"));
    assert_eq!((keys.len(), values.len()), (302, 302));
    let pairs = db.all_pairs("big");
    let by_field: BTreeMap<_, _> = pairs.iter().cloned().collect();
    assert_eq!(by_field.len(), 302);
    for (field, value) in keys.iter().zip(&values) {
        assert_eq!(by_field.get(field), Some(value), "HKEYS and HVALS pair up");
    }
}

// ---------------------------------------------------------------------------------------------
// WRONGTYPE

#[test]
fn every_command_refuses_other_types() {
    let db = db();
    db.run("SET s x");
    for line in [
        "HSET s f v",
        "HMSET s f v",
        "HSETNX s f v",
        "HGET s f",
        "HMGET s f",
        "HGETALL s",
        "HKEYS s",
        "HVALS s",
        "HDEL s f",
        "HEXISTS s f",
        "HLEN s",
        "HSTRLEN s f",
        "HINCRBY s f 1",
        "HINCRBYFLOAT s f 1",
        "HRANDFIELD s",
        "HRANDFIELD s 3",
        "HRANDFIELD s -3 WITHVALUES",
        "HSCAN s 0",
        "HSCAN s 0 COUNT 0",
    ] {
        assert_eq!(db.run(line), err(WRONGTYPE), "{line}");
    }
    assert_eq!(db.run("GET s"), bulk("x"));
    db.run("HSET h f v");
    assert_eq!(db.run("GET h"), err(WRONGTYPE));
    assert_eq!(db.run("TYPE h"), Reply::Simple("hash".to_owned()));
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD

#[test]
fn hrandfield_without_count_returns_one_field() {
    let db = db();
    db.run("HSET h a 1 b 2 c 3");
    for _ in 0..20 {
        let field = text(&db.run("HRANDFIELD h"));
        assert!(["a", "b", "c"].contains(&field.as_str()), "{field}");
    }
}

#[test]
fn hrandfield_positive_counts_return_distinct_fields() {
    let db = db();
    db.run("HSET small a 1 b 2 c 3");
    fill(&db, "big", 300);
    assert_eq!(db.run("HRANDFIELD small 0"), array(Vec::new()));
    assert_eq!(db.run("HRANDFIELD small 0 WITHVALUES"), array(Vec::new()));
    // A count reaching the size returns the whole hash.
    let mut all = texts(&db.run("HRANDFIELD small 10"));
    all.sort();
    assert_eq!(all, ["a", "b", "c"]);
    for (key, count) in [
        ("small", 2),
        ("big", 5),
        ("big", 150),
        ("big", 299),
        ("big", 400),
    ] {
        let fields = texts(&db.run(&format!("HRANDFIELD {key} {count}")));
        let distinct: BTreeSet<_> = fields.iter().collect();
        let size = if key == "small" { 3 } else { 300 };
        assert_eq!(fields.len(), count.min(size), "{key} {count}");
        assert_eq!(distinct.len(), fields.len(), "{key} {count}: no repeats");
        for field in &fields {
            assert_eq!(db.run(&format!("HEXISTS {key} {field}")), int(1));
        }
    }
}

#[test]
fn hrandfield_negative_counts_may_repeat() {
    let db = db();
    db.run("HSET h a 1");
    assert_eq!(db.run("HRANDFIELD h -3"), bulks(&["a", "a", "a"]));
    fill(&db, "big", 300);
    let fields = texts(&db.run("HRANDFIELD big -1000"));
    assert_eq!(fields.len(), 1000);
    let distinct: BTreeSet<_> = fields.iter().collect();
    assert!(distinct.len() < 1000, "1000 draws from 300 fields repeat");
}

#[test]
fn hrandfield_withvalues_pairs_fields_with_their_values() {
    let db = db();
    db.run("HSET h a 1");
    let a_pair = (bulk("a"), bulk("1"));
    // Reply::Pairs: [[field, value], ...] in RESP3, a flat array in RESP2.
    assert_eq!(
        db.run("HRANDFIELD h -2 WITHVALUES"),
        Reply::Pairs(vec![a_pair.clone(), a_pair.clone()])
    );
    assert_eq!(
        db.run("HRANDFIELD h 5 withvalues"),
        Reply::Pairs(vec![a_pair])
    );
    fill(&db, "big", 300);
    for count in [7i64, -7, 250] {
        let Reply::Pairs(pairs) = db.run(&format!("HRANDFIELD big {count} WITHVALUES")) else {
            panic!("HRANDFIELD WITHVALUES replies with pairs");
        };
        assert_eq!(pairs.len() as i64, count.abs());
        for (field, value) in &pairs {
            assert_eq!(text(value), text(field).replacen('f', "v", 1));
        }
    }
}

#[test]
fn hrandfield_count_errors_match_redis_7() {
    let db = db();
    db.run("HSET h a 1");
    assert_eq!(db.run("HRANDFIELD h x"), err(NOT_INTEGER));
    assert_eq!(db.run("HRANDFIELD h 1 WITHSCORES"), err(SYNTAX));
    assert_eq!(db.run("HRANDFIELD h 1 WITHVALUES x"), err(SYNTAX));
    let out_of_range = err(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
    );
    assert_eq!(db.run("HRANDFIELD h -9223372036854775808"), out_of_range);
    assert_eq!(
        db.run("HRANDFIELD h -9223372036854775808 WITHVALUES"),
        out_of_range
    );
    let withvalues_range = err("ERR value is out of range");
    assert_eq!(
        db.run("HRANDFIELD h -9223372036854770000 WITHVALUES"),
        withvalues_range
    );
    assert_eq!(
        db.run("HRANDFIELD h 9223372036854770000 WITHVALUES"),
        withvalues_range
    );
    // Checked before the key: even a missing key or another type gets the error.
    assert_eq!(
        db.run("HRANDFIELD missing -9223372036854775808"),
        out_of_range
    );
    db.run("SET s x");
    assert_eq!(db.run("HRANDFIELD s 1 bogus"), err(SYNTAX));
    // A positive count is bounded by the hash.
    assert_eq!(db.run("HRANDFIELD h 9223372036854775807"), bulks(&["a"]));
}

#[test]
fn hrandfield_huge_negative_counts_are_bounded() {
    let db = db();
    db.run("HSET h a 1");
    assert_eq!(
        db.run("HRANDFIELD h -5000000000"),
        err("ERR HRANDFIELD reply too large: it would exceed proto-max-bulk-len (536870912 bytes)")
    );
    db.engine.set_proto_max_bulk_len(1000);
    // 10 draws of a 1-byte field: 10 * (64 + 1) bytes.
    assert_eq!(texts(&db.run("HRANDFIELD h -10")).len(), 10);
    assert!(db.run("HRANDFIELD h -16").is_error());
    assert_eq!(db.run("HRANDFIELD missing -5000000000"), array(Vec::new()));
}

// ---------------------------------------------------------------------------------------------
// HSCAN

#[test]
fn hscan_returns_a_listpack_whole() {
    let db = db();
    db.run("HSET h a 1 b 2 ab 3");
    let expected = array(vec![bulk("0"), bulks(&["a", "1", "b", "2", "ab", "3"])]);
    assert_eq!(db.run("HSCAN h 0"), expected);
    assert_eq!(db.run("HSCAN h 0 COUNT 1"), expected);
    assert_eq!(
        db.run("HSCAN h 12345"),
        expected,
        "the cursor does not matter"
    );
    assert_eq!(
        db.run("HSCAN h 0 MATCH a*"),
        array(vec![bulk("0"), bulks(&["a", "1", "ab", "3"])])
    );
}

#[test]
fn hscan_walks_a_hashtable_with_cursors() {
    let db = db();
    fill(&db, "h", 1000);
    let mut cursor = "0".to_owned();
    let mut seen = BTreeMap::new();
    let mut steps = 0;
    loop {
        let reply = db.run(&format!("HSCAN h {cursor} COUNT 50"));
        let Reply::Array(parts) = reply else {
            panic!("HSCAN replies with an array");
        };
        cursor = text(&parts[0]);
        let items = texts(&parts[1]);
        assert!(items.len() <= 2 * 50, "COUNT bounds a step");
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        steps += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(steps > 1, "a big hash takes several steps");
    assert_eq!(seen.len(), 1000);
    assert!(seen.iter().all(|(f, v)| *v == f.replacen('f', "v", 1)));
    // MATCH filters what each step returns.
    let mut matched = BTreeSet::new();
    let mut cursor = "0".to_owned();
    loop {
        let Reply::Array(parts) = db.run(&format!("HSCAN h {cursor} MATCH f99* COUNT 100")) else {
            panic!("HSCAN replies with an array");
        };
        cursor = text(&parts[0]);
        matched.extend(texts(&parts[1]).into_iter().step_by(2));
        if cursor == "0" {
            break;
        }
    }
    let expected: BTreeSet<String> = [
        "f99", "f990", "f991", "f992", "f993", "f994", "f995", "f996", "f997", "f998", "f999",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(matched, expected);
}

#[test]
fn hscan_errors_come_in_redis_order() {
    let db = db();
    db.run("HSET h a 1");
    db.run("SET s x");
    assert_eq!(db.run("HSCAN h x"), err("ERR invalid cursor"));
    assert_eq!(db.run("HSCAN s x"), err("ERR invalid cursor"));
    assert_eq!(db.run("HSCAN h 0 COUNT 0"), err(SYNTAX));
    assert_eq!(db.run("HSCAN h 0 COUNT x"), err(NOT_INTEGER));
    assert_eq!(db.run("HSCAN h 0 MATCH"), err(SYNTAX));
    assert_eq!(db.run("HSCAN h 0 NOVALUES"), err(SYNTAX));
    assert_eq!(db.run("HSCAN s 0 BOGUS"), err(WRONGTYPE));
    // Options are read only once the key is found.
    assert_eq!(
        db.run("HSCAN missing 0 BOGUS"),
        array(vec![bulk("0"), array(Vec::new())])
    );
}

// ---------------------------------------------------------------------------------------------
// Model test

#[derive(Debug, Clone)]
enum Op {
    Set(Vec<(usize, String)>),
    SetNx(usize, String),
    Del(Vec<usize>),
    IncrBy(usize, i64),
    Get(usize),
    Len,
}

const FIELDS: usize = 160;

fn field_name(index: usize) -> String {
    // A few long fields force the hashtable early in some runs.
    if index % 53 == 52 {
        format!("long-{}-{index}", "x".repeat(64))
    } else {
        format!("f{index}")
    }
}

fn value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (-5i64..5).prop_map(|n| n.to_string()),
        "[a-z]{0,8}",
        Just("9223372036854775807".to_owned()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let field = 0..FIELDS;
    prop_oneof![
        4 => prop::collection::vec((field.clone(), value_text()), 1..40).prop_map(Op::Set),
        1 => (field.clone(), value_text()).prop_map(|(f, v)| Op::SetNx(f, v)),
        2 => prop::collection::vec(field.clone(), 1..30).prop_map(Op::Del),
        2 => (field.clone(), -3i64..3).prop_map(|(f, n)| Op::IncrBy(f, n)),
        1 => field.prop_map(Op::Get),
        1 => Just(Op::Len),
    ]
}

/// What Redis replies to `op` on a hash modelled by `model`, applying it.
fn apply_to_model(model: &mut BTreeMap<String, String>, op: &Op) -> Reply {
    match op {
        Op::Set(pairs) => {
            let mut added = 0;
            for (f, v) in pairs {
                added += i64::from(model.insert(field_name(*f), v.clone()).is_none());
            }
            int(added)
        }
        Op::SetNx(f, v) => {
            let absent = !model.contains_key(&field_name(*f));
            if absent {
                model.insert(field_name(*f), v.clone());
            }
            int(i64::from(absent))
        }
        Op::Del(fields) => int(fields
            .iter()
            .filter(|f| model.remove(&field_name(**f)).is_some())
            .count() as i64),
        Op::IncrBy(f, n) => {
            let name = field_name(*f);
            let current = model.get(&name).map_or(Some(0), |v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|parsed| parsed.to_string() == *v)
            });
            let Some(current) = current else {
                return err("ERR hash value is not an integer");
            };
            match current.checked_add(*n) {
                Some(result) => {
                    model.insert(name, result.to_string());
                    int(result)
                }
                None => err("ERR increment or decrement would overflow"),
            }
        }
        Op::Get(f) => model.get(&field_name(*f)).map_or(Reply::Nil, |v| bulk(v)),
        Op::Len => int(model.len() as i64),
    }
}

fn command_words(op: &Op) -> Vec<String> {
    match op {
        Op::Set(pairs) => std::iter::once("HSET".to_owned())
            .chain(std::iter::once("h".to_owned()))
            .chain(pairs.iter().flat_map(|(f, v)| [field_name(*f), v.clone()]))
            .collect(),
        Op::SetNx(f, v) => vec!["HSETNX".into(), "h".into(), field_name(*f), v.clone()],
        Op::Del(fields) => ["HDEL".to_owned(), "h".to_owned()]
            .into_iter()
            .chain(fields.iter().map(|f| field_name(*f)))
            .collect(),
        Op::IncrBy(f, n) => vec!["HINCRBY".into(), "h".into(), field_name(*f), n.to_string()],
        Op::Get(f) => vec!["HGET".into(), "h".into(), field_name(*f)],
        Op::Len => vec!["HLEN".into(), "h".into()],
    }
}

/// The encoding Redis reports for a hash that did or did not outgrow the listpack limits.
fn expected_encoding(converted: bool) -> Reply {
    bulk(if converted { "hashtable" } else { "listpack" })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn hash_commands_agree_with_a_btreemap(ops in prop::collection::vec(op(), 1..40)) {
        let db = db();
        let mut model = BTreeMap::new();
        let mut converted = false;
        for op in &ops {
            let words = command_words(op);
            let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
            let reply = db.run_args(&args);
            prop_assert_eq!(&reply, &apply_to_model(&mut model, op), "{:?}", words);
            if model.is_empty() {
                converted = false;
                prop_assert_eq!(db.run("EXISTS h"), int(0));
                continue;
            }
            converted |= model.len() > 128 || model.iter().any(|(f, v)| f.len() > 64 || v.len() > 64);
            prop_assert_eq!(db.encoding("h"), expected_encoding(converted));
            let expected: Vec<(String, String)> = model.clone().into_iter().collect();
            prop_assert_eq!(db.all_pairs("h"), expected);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keyspace notifications

#[test]
fn hash_changes_report_redis_keyspace_events() {
    let db = db();
    let events = db.record_events();
    db.given(&[
        "HSET h a 1 b 2",
        "HMSET h a 3",
        "HSETNX h a 9",
        "HSETNX h c 9",
        "HINCRBY h a 1",
        "HINCRBYFLOAT h b 0.5",
        "HGET h a",
        "HDEL h nothere",
        "HDEL h a b",
        "HDEL h c",
    ]);
    let expected = [
        "hset h",
        "hset h",
        "hset h",
        "hincrby h",
        "hincrbyfloat h",
        "hdel h",
        "hdel h",
        "del h",
    ];
    assert_eq!(events.lines(), expected);
}
