//! The sorted set command family through the engine's `execute`, with a manual clock: exact
//! replies and reply shapes (pairs for WITHSCORES, nil vs null array), exact error lines in
//! Redis's order, the listpack -> skiplist conversion, key deletion when the last member goes,
//! WRONGTYPE, and the form in which every write is propagated.

mod common;

use std::collections::BTreeSet;

use bytes::Bytes;
use common::*;
use slotkv_engine::command::{CommandTable, Group, Handler, KeyRange};
use slotkv_engine::Reply;

const BAD_SCORE_RANGE: &str = "ERR min or max is not a float";
const BAD_LEX_RANGE: &str = "ERR min or max not valid string range item";

impl Db {
    /// Adds members `m0000`, `m0001`, ... scored 0, 1, ... to `key`.
    fn fill(&self, key: &str, count: usize) {
        let mut line = format!("ZADD {key}");
        for i in 0..count {
            line.push_str(&format!(" {i} {}", member(i)));
        }
        assert_eq!(self.run(&line), int(count as i64));
    }
}

fn member(i: usize) -> String {
    format!("m{i:04}")
}

fn double(value: f64) -> Reply {
    Reply::Double(value)
}

/// A plain list of members.
fn members(names: &[&str]) -> Reply {
    array(names.iter().map(|name| bulk(name)).collect())
}

/// A WITHSCORES reply.
fn pairs(entries: &[(&str, f64)]) -> Reply {
    Reply::Pairs(
        entries
            .iter()
            .map(|(name, score)| (bulk(name), double(*score)))
            .collect(),
    )
}

/// The members of an array reply.
fn names_of(reply: &Reply) -> Vec<Vec<u8>> {
    match reply {
        Reply::Array(items) => items
            .iter()
            .map(|item| match item {
                Reply::Bulk(data) => data.to_vec(),
                other => panic!("not a member: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Command table

#[test]
fn table_describes_the_sorted_set_commands_as_redis_does() {
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
        assert_eq!(spec.group, Group::SortedSet, "{name} group");
        assert!(!spec.summary.is_empty(), "{name} summary");
        assert!(matches!(spec.handler, Handler::Engine(_)), "{name} handler");
    };
    let first = KeyRange::FIRST;
    expect("zadd", -4, &["write", "denyoom", "fast"], first);
    expect("zincrby", 4, &["write", "denyoom", "fast"], first);
    expect("zrem", -3, &["write", "fast"], first);
    expect("zcard", 2, &["readonly", "fast"], first);
    expect("zscore", 3, &["readonly", "fast"], first);
    expect("zmscore", -3, &["readonly", "fast"], first);
    expect("zcount", 4, &["readonly", "fast"], first);
    expect("zlexcount", 4, &["readonly", "fast"], first);
    expect("zrank", -3, &["readonly", "fast"], first);
    expect("zrevrank", -3, &["readonly", "fast"], first);
    for name in [
        "zrange",
        "zrevrange",
        "zrangebyscore",
        "zrevrangebyscore",
        "zrangebylex",
        "zrevrangebylex",
    ] {
        expect(name, -4, &["readonly"], first);
    }
    expect(
        "zrangestore",
        -5,
        &["write", "denyoom"],
        KeyRange::new(1, 2, 1),
    );
    expect("zpopmin", -2, &["write", "fast"], first);
    expect("zpopmax", -2, &["write", "fast"], first);
    expect("zmpop", -4, &["write", "movablekeys"], KeyRange::NONE);
    for name in ["zremrangebyscore", "zremrangebyrank", "zremrangebylex"] {
        expect(name, 4, &["write"], first);
    }
    for name in ["zunion", "zinter", "zdiff", "zintercard"] {
        expect(name, -3, &["readonly", "movablekeys"], KeyRange::NONE);
    }
    for name in ["zunionstore", "zinterstore", "zdiffstore"] {
        expect(name, -4, &["write", "denyoom", "movablekeys"], first);
    }
    expect("zrandmember", -2, &["readonly"], first);
    expect("zscan", -3, &["readonly"], first);
}

#[test]
fn arity_errors_name_the_command() {
    let db = db();
    assert_eq!(
        db.run("ZADD z 1"),
        err("ERR wrong number of arguments for 'zadd' command")
    );
    assert_eq!(
        db.run("ZINCRBY z 1 a b"),
        err("ERR wrong number of arguments for 'zincrby' command")
    );
    assert_eq!(
        db.run("ZRANGESTORE d s 0"),
        err("ERR wrong number of arguments for 'zrangestore' command")
    );
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY

#[test]
fn zadd_adds_updates_and_counts() {
    let db = db();
    assert_eq!(db.run("ZADD z 1 a 2 b 3 c"), int(3));
    assert_eq!(db.run("ZADD z 5 a 2 b"), int(0));
    assert_eq!(db.run("ZADD z CH 6 a 2 b 7 d"), int(2));
    assert_eq!(db.run("ZADD z 2 b"), int(0));
    assert_eq!(
        db.run("ZRANGE z 0 -1 WITHSCORES"),
        pairs(&[("b", 2.0), ("c", 3.0), ("a", 6.0), ("d", 7.0)])
    );
    // A ZADD that changes nothing propagates nothing.
    assert_eq!(
        db.take_propagated(),
        [
            "ZADD z 1 a 2 b 3 c",
            "ZADD z 5 a 2 b",
            "ZADD z CH 6 a 2 b 7 d"
        ]
    );
}

#[test]
fn zadd_conditions_follow_redis() {
    let db = db();
    assert_eq!(db.run("ZADD z 10 a"), int(1));
    assert_eq!(db.run("ZADD z NX 20 a 1 b"), int(1));
    assert_eq!(db.run("ZSCORE z a"), double(10.0));
    assert_eq!(db.run("ZADD z XX 30 a 1 c"), int(0));
    assert_eq!(db.run("ZSCORE z a"), double(30.0));
    assert_eq!(db.run("ZSCORE z c"), Reply::Nil);
    assert_eq!(db.run("ZADD z GT CH 25 a"), int(0));
    assert_eq!(db.run("ZADD z GT CH 35 a"), int(1));
    assert_eq!(db.run("ZADD z LT CH 40 a"), int(0));
    assert_eq!(db.run("ZADD z LT CH 5 a"), int(1));
    assert_eq!(db.run("ZSCORE z a"), double(5.0));
    // GT and LT never stop a new member.
    assert_eq!(db.run("ZADD z GT 3 new"), int(1));
    assert_eq!(db.run("ZADD z xx gt ch 100 a"), int(1));
    db.take_propagated();
    // XX on a missing key creates nothing and propagates nothing.
    assert_eq!(db.run("ZADD missing XX 1 a"), int(0));
    assert!(!db.exists("missing"));
    assert_eq!(db.run("ZADD z NX 1 a"), int(0));
    assert!(db.take_propagated().is_empty());
}

#[test]
fn zadd_incr_and_zincrby_reply_with_the_new_score() {
    let db = db();
    assert_eq!(db.run("ZADD z INCR 1.5 a"), double(1.5));
    assert_eq!(db.run("ZADD z INCR 2 a"), double(3.5));
    assert_eq!(db.run("ZADD z NX INCR 1 a"), Reply::Nil);
    assert_eq!(db.run("ZADD z XX INCR 1 b"), Reply::Nil);
    assert_eq!(db.run("ZADD z INCR GT -1 a"), Reply::Nil);
    assert_eq!(db.run("ZADD z INCR 0 a"), double(3.5));
    assert_eq!(db.run("ZINCRBY z 2.5 a"), double(6.0));
    assert_eq!(db.run("ZINCRBY z -1 fresh"), double(-1.0));
    assert_eq!(db.run("ZINCRBY z abc a"), err(NOT_FLOAT));
    assert_eq!(db.run("ZADD z inf big"), int(1));
    let nan = err("ERR resulting score is not a number (NaN)");
    assert_eq!(db.run("ZINCRBY z -inf big"), nan);
    assert_eq!(db.run("ZADD z INCR -inf big"), nan);
    assert_eq!(db.run("ZSCORE z big"), double(f64::INFINITY));
    assert_eq!(
        db.take_propagated(),
        [
            "ZADD z INCR 1.5 a",
            "ZADD z INCR 2 a",
            "ZINCRBY z 2.5 a",
            "ZINCRBY z -1 fresh",
            "ZADD z inf big",
        ]
    );
}

#[test]
fn zadd_errors_come_in_redis_order() {
    let db = db();
    assert_eq!(
        db.run("ZADD z NX XX 1 a"),
        err("ERR XX and NX options at the same time are not compatible")
    );
    let gt_lt_nx = err("ERR GT, LT, and/or NX options at the same time are not compatible");
    assert_eq!(db.run("ZADD z NX GT 1 a"), gt_lt_nx);
    assert_eq!(db.run("ZADD z LT NX 1 a"), gt_lt_nx);
    assert_eq!(db.run("ZADD z GT LT 1 a"), gt_lt_nx);
    assert_eq!(
        db.run("ZADD z INCR 1 a 2 b"),
        err("ERR INCR option supports a single increment-element pair")
    );
    // An odd number of words after the options is a syntax error before anything else.
    assert_eq!(db.run("ZADD z 1 a 2"), err(SYNTAX));
    assert_eq!(db.run("ZADD z NX XX 1"), err(SYNTAX));
    assert_eq!(db.run("ZADD z abc a"), err(NOT_FLOAT));
    assert_eq!(db.run("ZADD z nan a"), err(NOT_FLOAT));
    // Every score is checked before any member is added.
    assert_eq!(db.run("ZADD z 1 a x b"), err(NOT_FLOAT));
    assert!(!db.exists("z"));
    db.run("SET s v");
    assert_eq!(db.run("ZADD s 1 a"), err(WRONGTYPE));
    assert_eq!(
        db.run("ZADD s NX XX 1 a"),
        err("ERR XX and NX options at the same time are not compatible")
    );
}

#[test]
fn scores_are_doubles_printed_like_redis() {
    let db = db();
    assert_eq!(
        db.run("ZADD z inf a -inf b 1.5 c 1e3 d 0.1 e -0 f +inf g"),
        int(7)
    );
    assert_eq!(db.run("ZSCORE z d"), double(1000.0));
    assert_eq!(db.run("ZSCORE z b"), double(f64::NEG_INFINITY));
    // ZSCAN answers with the scores' text.
    let texts = [
        "b", "-inf", "f", "-0", "e", "0.1", "c", "1.5", "d", "1000", "a", "inf", "g", "inf",
    ];
    assert_eq!(db.run("ZSCAN z 0"), array(vec![bulk("0"), members(&texts)]));
}

#[test]
fn members_are_binary_safe() {
    let db = db();
    let odd: &[u8] = b"\x00bin\xff\r\n";
    assert_eq!(db.run_args(&[b"ZADD", b"z", b"1", odd, b"2", b""]), int(2));
    assert_eq!(db.run_args(&[b"ZSCORE", b"z", odd]), double(1.0));
    assert_eq!(db.run_args(&[b"ZSCORE", b"z", b""]), double(2.0));
    assert_eq!(
        db.run("ZRANGE z 0 -1"),
        array(vec![Reply::Bulk(Bytes::copy_from_slice(odd)), bulk("")])
    );
}

// ---------------------------------------------------------------------------------------------
// ZREM and reads

#[test]
fn zrem_removes_and_deletes_the_emptied_key() {
    let db = db();
    db.run("ZADD z 1 a 2 b 3 c");
    db.take_propagated();
    assert_eq!(db.run("ZREM z a x"), int(1));
    assert_eq!(db.run("ZREM z x"), int(0));
    assert_eq!(db.run("ZREM z b c a"), int(2));
    assert!(!db.exists("z"));
    assert_eq!(db.run("ZREM z a"), int(0));
    assert_eq!(db.take_propagated(), ["ZREM z a x", "ZREM z b c a"]);
}

#[test]
fn zcard_zscore_and_zmscore() {
    let db = db();
    assert_eq!(db.run("ZCARD missing"), int(0));
    assert_eq!(db.run("ZSCORE missing a"), Reply::Nil);
    assert_eq!(
        db.run("ZMSCORE missing a b"),
        array(vec![Reply::Nil, Reply::Nil])
    );
    db.run("ZADD z 1 a 2.5 b");
    assert_eq!(db.run("ZCARD z"), int(2));
    assert_eq!(db.run("ZSCORE z b"), double(2.5));
    assert_eq!(db.run("ZSCORE z x"), Reply::Nil);
    assert_eq!(
        db.run("ZMSCORE z a x b"),
        array(vec![double(1.0), Reply::Nil, double(2.5)])
    );
}

#[test]
fn zcount_and_zlexcount_count_intervals() {
    let db = db();
    db.run("ZADD z 1 a 2 b 3 c 4 d");
    assert_eq!(db.run("ZCOUNT z 2 3"), int(2));
    assert_eq!(db.run("ZCOUNT z (2 3"), int(1));
    assert_eq!(db.run("ZCOUNT z -inf +inf"), int(4));
    assert_eq!(db.run("ZCOUNT z (1 (2"), int(0));
    assert_eq!(db.run("ZCOUNT z 3 2"), int(0));
    assert_eq!(db.run("ZCOUNT missing 0 1"), int(0));
    for bad in ["ZCOUNT z a 1", "ZCOUNT z ( 1", "ZCOUNT z 1 nan"] {
        assert_eq!(db.run(bad), err(BAD_SCORE_RANGE), "{bad}");
    }
    db.run("ZADD l 0 a 0 b 0 c 0 d");
    assert_eq!(db.run("ZLEXCOUNT l - +"), int(4));
    assert_eq!(db.run("ZLEXCOUNT l [b (d"), int(2));
    assert_eq!(db.run("ZLEXCOUNT l (a [c"), int(2));
    assert_eq!(db.run("ZLEXCOUNT l + -"), int(0));
    assert_eq!(db.run("ZLEXCOUNT missing - +"), int(0));
    for bad in ["ZLEXCOUNT l a [c", "ZLEXCOUNT l [a -x"] {
        assert_eq!(db.run(bad), err(BAD_LEX_RANGE), "{bad}");
    }
    // Ranges are checked before the key's type.
    db.run("SET s v");
    assert_eq!(db.run("ZCOUNT s a 1"), err(BAD_SCORE_RANGE));
    assert_eq!(db.run("ZCOUNT s 0 1"), err(WRONGTYPE));
}

#[test]
fn zrank_and_zrevrank_with_and_without_score() {
    let db = db();
    db.run("ZADD z 1 a 2 b 3 c");
    assert_eq!(db.run("ZRANK z a"), int(0));
    assert_eq!(db.run("ZRANK z c"), int(2));
    assert_eq!(db.run("ZREVRANK z c"), int(0));
    assert_eq!(db.run("ZREVRANK z a"), int(2));
    assert_eq!(
        db.run("ZRANK z b WITHSCORE"),
        array(vec![int(1), double(2.0)])
    );
    assert_eq!(
        db.run("ZREVRANK z a withscore"),
        array(vec![int(2), double(1.0)])
    );
    assert_eq!(db.run("ZRANK z x"), Reply::Nil);
    assert_eq!(db.run("ZRANK z x WITHSCORE"), Reply::NilArray);
    assert_eq!(db.run("ZRANK missing a"), Reply::Nil);
    assert_eq!(db.run("ZREVRANK missing a WITHSCORE"), Reply::NilArray);
    assert_eq!(db.run("ZRANK z a foo"), err(SYNTAX));
    assert_eq!(
        db.run("ZRANK z a WITHSCORE x"),
        err("ERR wrong number of arguments for 'zrank' command")
    );
}

// ---------------------------------------------------------------------------------------------
// The ZRANGE family

#[test]
fn zrange_by_rank() {
    let db = db();
    db.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(db.run("ZRANGE z 0 -1"), members(&["a", "b", "c", "d", "e"]));
    assert_eq!(db.run("ZRANGE z 1 2"), members(&["b", "c"]));
    assert_eq!(db.run("ZRANGE z -2 -1"), members(&["d", "e"]));
    assert_eq!(db.run("ZRANGE z -100 0"), members(&["a"]));
    assert_eq!(db.run("ZRANGE z 3 1"), members(&[]));
    assert_eq!(db.run("ZRANGE z 10 20"), members(&[]));
    assert_eq!(db.run("ZRANGE z 0 1 REV"), members(&["e", "d"]));
    assert_eq!(db.run("ZRANGE z 0 0 REV WITHSCORES"), pairs(&[("e", 5.0)]));
    assert_eq!(
        db.run("ZRANGE z 0 1 WITHSCORES"),
        pairs(&[("a", 1.0), ("b", 2.0)])
    );
    assert_eq!(db.run("ZRANGE missing 0 -1"), members(&[]));
    assert_eq!(db.run("ZRANGE missing 0 -1 WITHSCORES"), pairs(&[]));
    assert_eq!(
        db.run("ZRANGE z 0 -1 LIMIT 0 1"),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    // Redis only objects to a count other than -1.
    assert_eq!(db.run("ZRANGE z 0 0 LIMIT 3 -1"), members(&["a"]));
    assert_eq!(db.run("ZRANGE z a 1"), err(NOT_INTEGER));
    assert_eq!(db.run("ZRANGE z 0 -1 FOO"), err(SYNTAX));
    assert_eq!(db.run("ZRANGE z 0 -1 REV REV"), err(SYNTAX));
    assert_eq!(db.run("ZRANGE z 0 -1 LIMIT 1"), err(SYNTAX));
}

#[test]
fn zrange_by_score() {
    let db = db();
    db.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(db.run("ZRANGE z 2 4 BYSCORE"), members(&["b", "c", "d"]));
    assert_eq!(db.run("ZRANGE z (2 4 BYSCORE"), members(&["c", "d"]));
    assert_eq!(
        db.run("ZRANGE z 4 2 BYSCORE REV"),
        members(&["d", "c", "b"])
    );
    assert_eq!(db.run("ZRANGE z 2 4 BYSCORE REV"), members(&[]));
    assert_eq!(
        db.run("ZRANGE z -inf +inf BYSCORE LIMIT 1 2"),
        members(&["b", "c"])
    );
    assert_eq!(
        db.run("ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES"),
        pairs(&[("d", 4.0), ("c", 3.0)])
    );
    assert_eq!(
        db.run("ZRANGE z -inf +inf BYSCORE LIMIT 4 -1"),
        members(&["e"])
    );
    assert_eq!(
        db.run("ZRANGE z -inf +inf BYSCORE LIMIT -1 2"),
        members(&[])
    );
    assert_eq!(db.run("ZRANGE z -inf +inf BYSCORE LIMIT 5 1"), members(&[]));
    assert_eq!(db.run("ZRANGE z x 1 BYSCORE"), err(BAD_SCORE_RANGE));
    assert_eq!(db.run("ZRANGE z 0 1 BYSCORE BYLEX"), err(SYNTAX));
    assert_eq!(db.run("ZRANGE z 0 1 BYSCORE LIMIT x 1"), err(NOT_INTEGER));
}

#[test]
fn zrange_by_lex() {
    let db = db();
    db.run("ZADD l 0 a 0 b 0 c 0 d");
    assert_eq!(db.run("ZRANGE l [b + BYLEX"), members(&["b", "c", "d"]));
    assert_eq!(db.run("ZRANGE l + [b BYLEX REV"), members(&["d", "c", "b"]));
    assert_eq!(db.run("ZRANGE l - + BYLEX LIMIT 1 2"), members(&["b", "c"]));
    assert_eq!(db.run("ZRANGE l (a (d BYLEX"), members(&["b", "c"]));
    assert_eq!(
        db.run("ZRANGE l - + BYLEX WITHSCORES"),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(db.run("ZRANGE l b c BYLEX"), err(BAD_LEX_RANGE));
}

#[test]
fn the_older_range_commands() {
    let db = db();
    db.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(db.run("ZREVRANGE z 0 1"), members(&["e", "d"]));
    assert_eq!(db.run("ZREVRANGE z 0 0 WITHSCORES"), pairs(&[("e", 5.0)]));
    assert_eq!(db.run("ZREVRANGE z 0 1 REV"), err(SYNTAX));
    assert_eq!(db.run("ZREVRANGE z 0 1 BYSCORE"), err(SYNTAX));
    assert_eq!(db.run("ZRANGEBYSCORE z (1 3"), members(&["b", "c"]));
    assert_eq!(
        db.run("ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 1 1"),
        pairs(&[("b", 2.0)])
    );
    assert_eq!(db.run("ZRANGEBYSCORE z 1 3 BYSCORE"), err(SYNTAX));
    assert_eq!(db.run("ZREVRANGEBYSCORE z 3 (1"), members(&["c", "b"]));
    assert_eq!(
        db.run("ZREVRANGEBYSCORE z +inf -inf LIMIT 0 2"),
        members(&["e", "d"])
    );
    db.run("ZADD l 0 a 0 b 0 c 0 d");
    assert_eq!(db.run("ZRANGEBYLEX l (a [c"), members(&["b", "c"]));
    assert_eq!(
        db.run("ZRANGEBYLEX l - + WITHSCORES"),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(db.run("ZREVRANGEBYLEX l [c -"), members(&["c", "b", "a"]));
    assert_eq!(db.run("ZREVRANGEBYLEX l + - LIMIT 1 1"), members(&["c"]));
    assert_eq!(db.run("ZRANGEBYLEX l - + LIMIT 1"), err(SYNTAX));
}

#[test]
fn zrangestore_stores_replaces_and_deletes() {
    let db = db();
    db.run("ZADD src 1 a 2 b 3 c");
    db.run("SET dst x");
    db.take_propagated();
    assert_eq!(db.run("ZRANGESTORE dst src 0 1"), int(2));
    assert_eq!(
        db.run("ZRANGE dst 0 -1 WITHSCORES"),
        pairs(&[("a", 1.0), ("b", 2.0)])
    );
    assert_eq!(
        db.run("ZRANGESTORE dst src 2 1 BYSCORE REV LIMIT 0 1"),
        int(1)
    );
    assert_eq!(db.run("ZRANGE dst 0 -1"), members(&["b"]));
    assert_eq!(db.run("ZRANGESTORE dst src 5 10"), int(0));
    assert!(!db.exists("dst"));
    assert_eq!(db.run("ZRANGESTORE dst src 5 10"), int(0));
    assert_eq!(db.run("ZRANGESTORE dst missing 0 -1"), int(0));
    assert_eq!(
        db.take_propagated(),
        [
            "ZRANGESTORE dst src 0 1",
            "ZRANGESTORE dst src 2 1 BYSCORE REV LIMIT 0 1",
            "DEL dst",
        ]
    );
    assert_eq!(db.run("ZRANGESTORE dst src 0 -1 WITHSCORES"), err(SYNTAX));
    assert_eq!(db.run("ZRANGESTORE src src 0 0"), int(1));
    assert_eq!(db.run("ZRANGE src 0 -1"), members(&["a"]));
}

// ---------------------------------------------------------------------------------------------
// Pops

#[test]
fn zpopmin_and_zpopmax() {
    let db = db();
    db.run("ZADD z 1 a 2 b 3 c 4 d");
    db.take_propagated();
    assert_eq!(db.run("ZPOPMIN z"), array(vec![bulk("a"), double(1.0)]));
    assert_eq!(db.run("ZPOPMAX z 2"), pairs(&[("d", 4.0), ("c", 3.0)]));
    assert_eq!(db.run("ZPOPMIN z 0"), pairs(&[]));
    assert_eq!(
        db.run("ZPOPMIN z -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        db.run("ZPOPMIN z x"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(db.run("ZPOPMIN z 1 2"), err(SYNTAX));
    assert_eq!(db.run("ZPOPMIN z 10"), pairs(&[("b", 2.0)]));
    assert!(!db.exists("z"));
    assert_eq!(db.run("ZPOPMIN z"), array(vec![]));
    assert_eq!(db.run("ZPOPMAX z 3"), pairs(&[]));
    assert_eq!(
        db.take_propagated(),
        ["ZPOPMIN z 1", "ZPOPMAX z 2", "ZPOPMIN z 1"]
    );
    db.run("SET s v");
    assert_eq!(db.run("ZPOPMIN s 0"), err(WRONGTYPE));
}

#[test]
fn zmpop_pops_from_the_first_existing_key() {
    let db = db();
    db.run("ZADD a 1 x 2 y");
    db.run("ZADD b 5 z");
    db.take_propagated();
    let popped = |key: &str, entries: &[(&str, f64)]| {
        array(vec![
            bulk(key),
            array(
                entries
                    .iter()
                    .map(|(m, s)| array(vec![bulk(m), double(*s)]))
                    .collect(),
            ),
        ])
    };
    assert_eq!(db.run("ZMPOP 2 missing a MIN"), popped("a", &[("x", 1.0)]));
    assert_eq!(
        db.run("ZMPOP 2 a b max count 5"),
        popped("a", &[("y", 2.0)])
    );
    assert!(!db.exists("a"));
    assert_eq!(
        db.run("ZMPOP 2 a b MIN COUNT 5"),
        popped("b", &[("z", 5.0)])
    );
    assert_eq!(db.run("ZMPOP 2 a b MIN"), Reply::NilArray);
    assert_eq!(
        db.take_propagated(),
        ["ZPOPMIN a 1", "ZPOPMAX a 1", "ZPOPMIN b 1"]
    );
    let numkeys = err("ERR numkeys should be greater than 0");
    assert_eq!(db.run("ZMPOP 0 a MIN"), numkeys);
    assert_eq!(db.run("ZMPOP x a MIN"), numkeys);
    assert_eq!(db.run("ZMPOP 3 a b MIN"), err(SYNTAX));
    assert_eq!(db.run("ZMPOP 1 a LEFT"), err(SYNTAX));
    let count = err("ERR count should be greater than 0");
    assert_eq!(db.run("ZMPOP 1 a MIN COUNT 0"), count);
    assert_eq!(db.run("ZMPOP 1 a MIN COUNT x"), count);
    assert_eq!(db.run("ZMPOP 1 a MIN COUNT 0 FOO"), count);
    assert_eq!(db.run("ZMPOP 1 a MIN COUNT 1 COUNT 2"), err(SYNTAX));
    assert_eq!(db.run("ZMPOP 1 a MIN COUNT"), err(SYNTAX));
    db.run("SET s v");
    db.run("ZADD c 1 m");
    assert_eq!(db.run("ZMPOP 3 missing s c MIN"), err(WRONGTYPE));
    assert_eq!(db.run("ZCARD c"), int(1));
}

// ---------------------------------------------------------------------------------------------
// ZREMRANGEBY*

#[test]
fn zremrange_commands_remove_ranges() {
    let db = db();
    db.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    db.run("ZADD l 0 a 0 b 0 c");
    db.take_propagated();
    assert_eq!(db.run("ZREMRANGEBYRANK z 0 1"), int(2));
    assert_eq!(db.run("ZRANGE z 0 -1"), members(&["c", "d", "e"]));
    assert_eq!(db.run("ZREMRANGEBYRANK z 5 10"), int(0));
    assert_eq!(db.run("ZREMRANGEBYSCORE z (3 4"), int(1));
    assert_eq!(db.run("ZREMRANGEBYLEX l [a (c"), int(2));
    assert_eq!(db.run("ZREMRANGEBYLEX l - +"), int(1));
    assert!(!db.exists("l"));
    assert_eq!(db.run("ZREMRANGEBYRANK z 0 -1"), int(2));
    assert!(!db.exists("z"));
    assert_eq!(db.run("ZREMRANGEBYSCORE z 0 1"), int(0));
    assert_eq!(
        db.take_propagated(),
        [
            "ZREMRANGEBYRANK z 0 1",
            "ZREMRANGEBYSCORE z (3 4",
            "ZREMRANGEBYLEX l [a (c",
            "ZREMRANGEBYLEX l - +",
            "ZREMRANGEBYRANK z 0 -1",
        ]
    );
    assert_eq!(db.run("ZREMRANGEBYRANK z a 1"), err(NOT_INTEGER));
    assert_eq!(db.run("ZREMRANGEBYSCORE z x 1"), err(BAD_SCORE_RANGE));
    assert_eq!(db.run("ZREMRANGEBYLEX z x y"), err(BAD_LEX_RANGE));
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, ZINTERCARD and the *STORE forms

fn union_fixture() -> Db {
    let db = db();
    db.run("ZADD a 1 x 2 y 3 z");
    db.run("ZADD b 10 y 20 z 30 w");
    db
}

#[test]
fn zunion_zinter_and_zdiff_reply_in_order() {
    let db = union_fixture();
    assert_eq!(db.run("ZUNION 2 a b"), members(&["x", "y", "z", "w"]));
    assert_eq!(
        db.run("ZUNION 2 a b WITHSCORES"),
        pairs(&[("x", 1.0), ("y", 12.0), ("z", 23.0), ("w", 30.0)])
    );
    assert_eq!(
        db.run("ZUNION 2 a b AGGREGATE MAX WITHSCORES"),
        pairs(&[("x", 1.0), ("y", 10.0), ("z", 20.0), ("w", 30.0)])
    );
    assert_eq!(
        db.run("ZUNION 2 a b WEIGHTS 2 0.5 AGGREGATE min WITHSCORES"),
        pairs(&[("x", 2.0), ("y", 4.0), ("z", 6.0), ("w", 15.0)])
    );
    assert_eq!(
        db.run("ZINTER 2 a b WITHSCORES"),
        pairs(&[("y", 12.0), ("z", 23.0)])
    );
    assert_eq!(
        db.run("ZINTER 2 b a AGGREGATE MIN WITHSCORES"),
        pairs(&[("y", 2.0), ("z", 3.0)])
    );
    assert_eq!(db.run("ZDIFF 2 a b"), members(&["x"]));
    assert_eq!(db.run("ZDIFF 2 b a WITHSCORES"), pairs(&[("w", 30.0)]));
    assert_eq!(db.run("ZDIFF 1 a"), members(&["x", "y", "z"]));
    assert_eq!(db.run("ZUNION 2 a missing"), members(&["x", "y", "z"]));
    assert_eq!(db.run("ZINTER 2 a missing"), members(&[]));
    assert_eq!(
        db.run("ZINTER 2 a a WITHSCORES"),
        pairs(&[("x", 2.0), ("y", 4.0), ("z", 6.0)])
    );
}

#[test]
fn sets_count_as_sorted_sets_scored_one() {
    let db = union_fixture();
    assert_eq!(db.run("SADD s y q"), int(2));
    assert_eq!(db.run("ZINTER 2 a s WITHSCORES"), pairs(&[("y", 3.0)]));
    assert_eq!(
        db.run("ZUNION 2 a s WITHSCORES"),
        pairs(&[("q", 1.0), ("x", 1.0), ("y", 3.0), ("z", 3.0)])
    );
    assert_eq!(db.run("ZDIFF 2 a s"), members(&["x", "z"]));
    assert_eq!(db.run("ZINTERCARD 2 s a"), int(1));
    assert_eq!(db.run("SADD ints 1 2 3"), int(3));
    assert_eq!(
        db.run("ZUNION 1 ints WEIGHTS 2 WITHSCORES"),
        pairs(&[("1", 2.0), ("2", 2.0), ("3", 2.0)])
    );
}

#[test]
fn infinite_scores_combine_like_redis() {
    let db = db();
    db.run("ZADD i1 inf m");
    db.run("ZADD i2 -inf m");
    assert_eq!(db.run("ZUNION 2 i1 i2 WITHSCORES"), pairs(&[("m", 0.0)]));
    assert_eq!(
        db.run("ZUNION 1 i1 WEIGHTS 0 WITHSCORES"),
        pairs(&[("m", 0.0)])
    );
    assert_eq!(
        db.run("ZINTER 2 i1 i2 AGGREGATE MAX WITHSCORES"),
        pairs(&[("m", f64::INFINITY)])
    );
}

#[test]
fn combine_errors_come_in_redis_order() {
    let db = union_fixture();
    assert_eq!(
        db.run("ZUNION 0 a"),
        err("ERR at least 1 input key is needed for 'zunion' command")
    );
    assert_eq!(
        db.run("ZINTERSTORE d 0 a"),
        err("ERR at least 1 input key is needed for 'zinterstore' command")
    );
    assert_eq!(db.run("ZUNION 3 a b"), err(SYNTAX));
    assert_eq!(db.run("ZUNION x a"), err(NOT_INTEGER));
    assert_eq!(db.run("ZUNION 2 a b WEIGHTS 1"), err(SYNTAX));
    assert_eq!(
        db.run("ZUNION 2 a b WEIGHTS 1 x"),
        err("ERR weight value is not a float")
    );
    assert_eq!(db.run("ZUNION 2 a b AGGREGATE AVG"), err(SYNTAX));
    assert_eq!(db.run("ZUNION 2 a b AGGREGATE"), err(SYNTAX));
    assert_eq!(db.run("ZDIFF 2 a b WEIGHTS 1 2"), err(SYNTAX));
    assert_eq!(db.run("ZDIFF 2 a b AGGREGATE SUM"), err(SYNTAX));
    assert_eq!(db.run("ZUNIONSTORE d 2 a b WITHSCORES"), err(SYNTAX));
    // Inputs are type-checked before the options are read.
    db.run("SET str v");
    assert_eq!(db.run("ZUNION 2 a str FOO"), err(WRONGTYPE));
    assert_eq!(db.run("ZINTERSTORE d 1 str"), err(WRONGTYPE));
}

#[test]
fn zintercard_counts_up_to_its_limit() {
    let db = union_fixture();
    assert_eq!(db.run("ZINTERCARD 2 a b"), int(2));
    assert_eq!(db.run("ZINTERCARD 2 a b LIMIT 1"), int(1));
    assert_eq!(db.run("ZINTERCARD 2 a b LIMIT 0"), int(2));
    assert_eq!(db.run("ZINTERCARD 2 a b LIMIT 10"), int(2));
    assert_eq!(db.run("ZINTERCARD 1 missing"), int(0));
    let negative = err("ERR LIMIT can't be negative");
    assert_eq!(db.run("ZINTERCARD 2 a b LIMIT -1"), negative);
    assert_eq!(db.run("ZINTERCARD 2 a b LIMIT x"), negative);
    assert_eq!(db.run("ZINTERCARD 2 a b WITHSCORES"), err(SYNTAX));
    assert_eq!(db.run("ZINTERCARD 2 a b WEIGHTS 1 1"), err(SYNTAX));
    assert_eq!(
        db.run("ZINTERCARD 0 a"),
        err("ERR at least 1 input key is needed for 'zintercard' command")
    );
}

#[test]
fn store_forms_replace_or_delete_the_destination() {
    let db = union_fixture();
    db.run("SET d x");
    db.take_propagated();
    assert_eq!(db.run("ZUNIONSTORE d 2 a b"), int(4));
    assert_eq!(
        db.run("ZRANGE d 0 -1 WITHSCORES"),
        pairs(&[("x", 1.0), ("y", 12.0), ("z", 23.0), ("w", 30.0)])
    );
    assert_eq!(db.run("ZINTERSTORE d 2 a b WEIGHTS 1 2"), int(2));
    assert_eq!(
        db.run("ZRANGE d 0 -1 WITHSCORES"),
        pairs(&[("y", 22.0), ("z", 43.0)])
    );
    assert_eq!(db.run("ZDIFFSTORE d 2 b a"), int(1));
    assert_eq!(db.run("ZRANGE d 0 -1"), members(&["w"]));
    // The destination may be an input.
    assert_eq!(db.run("ZUNIONSTORE d 2 d a"), int(4));
    assert_eq!(db.run("ZINTERSTORE d 2 a missing"), int(0));
    assert!(!db.exists("d"));
    assert_eq!(db.run("ZDIFFSTORE d 2 a a"), int(0));
    assert_eq!(
        db.take_propagated(),
        [
            "ZUNIONSTORE d 2 a b",
            "ZINTERSTORE d 2 a b WEIGHTS 1 2",
            "ZDIFFSTORE d 2 b a",
            "ZUNIONSTORE d 2 d a",
            "DEL d",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN

#[test]
fn zrandmember_picks_members() {
    let db = db();
    assert_eq!(db.run("ZRANDMEMBER missing"), Reply::Nil);
    assert_eq!(db.run("ZRANDMEMBER missing 5"), members(&[]));
    assert_eq!(db.run("ZRANDMEMBER missing 5 WITHSCORES"), pairs(&[]));
    db.run("ZADD z 1 a 2 b 3 c");
    let all: BTreeSet<Vec<u8>> = [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()].into();
    for _ in 0..10 {
        match db.run("ZRANDMEMBER z") {
            Reply::Bulk(m) => assert!(all.contains(&m.to_vec())),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(db.run("ZRANDMEMBER z 0"), members(&[]));
    // Asking for the whole set returns it, highest score first, as Redis does.
    assert_eq!(db.run("ZRANDMEMBER z 5"), members(&["c", "b", "a"]));
    let two = names_of(&db.run("ZRANDMEMBER z 2"));
    assert_eq!(two.iter().collect::<BTreeSet<_>>().len(), 2);
    assert!(two.iter().all(|m| all.contains(m)));
    let repeated = names_of(&db.run("ZRANDMEMBER z -7"));
    assert_eq!(repeated.len(), 7);
    assert!(repeated.iter().all(|m| all.contains(m)));
    match db.run("ZRANDMEMBER z -4 WITHSCORES") {
        Reply::Pairs(picked) => {
            assert_eq!(picked.len(), 4);
            for (member, score) in picked {
                let Reply::Bulk(member) = member else {
                    panic!("{member:?}")
                };
                let expected = f64::from(member[0] - b'a' + 1);
                assert_eq!(score, double(expected));
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn zrandmember_errors() {
    let db = db();
    db.run("ZADD z 1 a");
    assert_eq!(db.run("ZRANDMEMBER z x"), err(NOT_INTEGER));
    assert_eq!(db.run("ZRANDMEMBER z 1 FOO"), err(SYNTAX));
    assert_eq!(db.run("ZRANDMEMBER z 1 WITHSCORES x"), err(SYNTAX));
    assert_eq!(
        db.run("ZRANDMEMBER z -9223372036854775808"),
        err("ERR value is out of range, must be between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        db.run("ZRANDMEMBER z 9223372036854775807 WITHSCORES"),
        err("ERR value is out of range")
    );
    // A huge positive count is bounded by the set; a huge negative one is refused.
    assert_eq!(db.run("ZRANDMEMBER z 9223372036854775807"), members(&["a"]));
    assert_eq!(
        db.run("ZRANDMEMBER z -5000000000"),
        err("ERR value is out of range, a negative count may ask for at most 1048576 members")
    );
}

#[test]
fn zscan_walks_small_and_big_sets() {
    let db = db();
    assert_eq!(
        db.run("ZSCAN missing 0"),
        array(vec![bulk("0"), members(&[])])
    );
    db.run("ZADD z 1 a 2 b 3 c");
    assert_eq!(
        db.run("ZSCAN z 0"),
        array(vec![bulk("0"), members(&["a", "1", "b", "2", "c", "3"])])
    );
    assert_eq!(
        db.run("ZSCAN z 0 MATCH b*"),
        array(vec![bulk("0"), members(&["b", "2"])])
    );
    assert_eq!(db.run("ZSCAN z x"), err("ERR invalid cursor"));
    assert_eq!(db.run("ZSCAN z 0 COUNT 0"), err(SYNTAX));
    assert_eq!(db.run("ZSCAN z 0 FOO"), err(SYNTAX));
    db.fill("big", 300);
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_owned();
    let mut steps = 0;
    loop {
        let reply = db.run(&format!("ZSCAN big {cursor} COUNT 20"));
        let Reply::Array(parts) = reply else {
            panic!("{reply:?}")
        };
        let Reply::Bulk(next) = &parts[0] else {
            panic!("{parts:?}")
        };
        let found = names_of(&parts[1]);
        for pair in found.chunks(2) {
            let score: usize = String::from_utf8_lossy(&pair[1]).parse().expect("score");
            assert_eq!(pair[0], member(score).into_bytes());
            seen.insert(score);
        }
        steps += 1;
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert!(steps > 1, "a big set is scanned in several steps");
    assert_eq!(seen, (0..300).collect());
    db.run("SET s v");
    assert_eq!(db.run("ZSCAN s x"), err("ERR invalid cursor"));
    assert_eq!(db.run("ZSCAN s 0"), err(WRONGTYPE));
}

// ---------------------------------------------------------------------------------------------
// Encodings, big sets, expiry, types

#[test]
fn encodings_convert_past_the_listpack_limits() {
    let db = db();
    db.fill("z", 128);
    assert_eq!(db.encoding("z"), bulk("listpack"));
    assert_eq!(db.run("ZADD z 0.5 extra"), int(1));
    assert_eq!(db.encoding("z"), bulk("skiplist"));
    // Conversion is one way.
    assert_eq!(db.run("ZREMRANGEBYRANK z 1 -1"), int(128));
    assert_eq!(db.encoding("z"), bulk("skiplist"));
    let long64 = "x".repeat(64);
    let long65 = "y".repeat(65);
    assert_eq!(db.run(&format!("ZADD long 1 {long64}")), int(1));
    assert_eq!(db.encoding("long"), bulk("listpack"));
    assert_eq!(db.run(&format!("ZADD long 2 {long65}")), int(1));
    assert_eq!(db.encoding("long"), bulk("skiplist"));
    // A stored result takes the encoding its size calls for.
    db.fill("big", 200);
    assert_eq!(db.run("ZRANGESTORE small big 0 9"), int(10));
    assert_eq!(db.encoding("small"), bulk("listpack"));
    assert_eq!(db.run("ZUNIONSTORE copy 1 big"), int(200));
    assert_eq!(db.encoding("copy"), bulk("skiplist"));
}

#[test]
fn big_sets_answer_ranks_and_ranges() {
    let db = db();
    db.fill("big", 1000);
    assert_eq!(db.encoding("big"), bulk("skiplist"));
    assert_eq!(db.run("ZRANK big m0500"), int(500));
    assert_eq!(db.run("ZREVRANK big m0500"), int(499));
    assert_eq!(db.run("ZRANGE big 998 -1"), members(&["m0998", "m0999"]));
    assert_eq!(db.run("ZRANGE big 0 1 REV"), members(&["m0999", "m0998"]));
    assert_eq!(db.run("ZCOUNT big 100 (200"), int(100));
    assert_eq!(
        db.run("ZRANGE big 10 20 BYSCORE LIMIT 5 2"),
        members(&["m0015", "m0016"])
    );
    assert_eq!(
        db.run("ZRANGE big 20 10 BYSCORE REV LIMIT 5 2"),
        members(&["m0015", "m0014"])
    );
    assert_eq!(db.run("ZREMRANGEBYRANK big 0 99"), int(100));
    assert_eq!(db.run("ZCARD big"), int(900));
    assert_eq!(
        db.run("ZPOPMIN big 2"),
        pairs(&[("m0100", 100.0), ("m0101", 101.0)])
    );
    assert_eq!(db.run("ZADD big 1.5 m0999"), int(0));
    assert_eq!(
        db.run("ZRANGE big 0 0 WITHSCORES"),
        pairs(&[("m0999", 1.5)])
    );
    assert_eq!(db.run("ZREMRANGEBYSCORE big -inf 500"), int(400));
    assert_eq!(db.run("ZRANGE big 0 0"), members(&["m0501"]));
    assert_eq!(db.run("ZINTERCARD 2 big big"), int(498));
}

#[test]
fn writes_keep_the_deadline_and_expired_sets_are_gone() {
    let db = db();
    db.run("ZADD z 1 a");
    db.run("PEXPIRE z 1000");
    db.run("ZADD z 2 b");
    db.run("ZREM z a");
    assert_eq!(db.run("PTTL z"), int(1000));
    db.clock.advance(1000);
    assert_eq!(db.run("ZCARD z"), int(0));
    assert_eq!(db.run("ZADD z XX 1 b"), int(0));
    assert!(!db.exists("z"));
}

#[test]
fn every_command_refuses_other_types() {
    let db = db();
    db.run("SET s v");
    for line in [
        "ZADD s 1 a",
        "ZINCRBY s 1 a",
        "ZREM s a",
        "ZCARD s",
        "ZSCORE s a",
        "ZMSCORE s a",
        "ZCOUNT s 0 1",
        "ZLEXCOUNT s - +",
        "ZRANK s a",
        "ZREVRANK s a WITHSCORE",
        "ZRANGE s 0 -1",
        "ZRANGESTORE d s 0 -1",
        "ZREVRANGE s 0 -1",
        "ZRANGEBYSCORE s 0 1",
        "ZREVRANGEBYSCORE s 1 0",
        "ZRANGEBYLEX s - +",
        "ZREVRANGEBYLEX s + -",
        "ZPOPMIN s",
        "ZPOPMAX s 2",
        "ZMPOP 1 s MIN",
        "ZREMRANGEBYSCORE s 0 1",
        "ZREMRANGEBYRANK s 0 1",
        "ZREMRANGEBYLEX s - +",
        "ZUNION 1 s",
        "ZINTER 1 s",
        "ZDIFF 1 s",
        "ZINTERCARD 1 s",
        "ZUNIONSTORE d 1 s",
        "ZINTERSTORE d 1 s",
        "ZDIFFSTORE d 1 s",
        "ZRANDMEMBER s",
        "ZRANDMEMBER s 2",
        "ZSCAN s 0",
    ] {
        assert_eq!(db.run(line), err(WRONGTYPE), "{line}");
    }
    assert!(!db.exists("d"));
    assert!(db.take_propagated().iter().all(|c| c == "SET s v"));
}

// ---------------------------------------------------------------------------------------------
// Keyspace notifications

#[test]
fn sorted_set_changes_report_redis_keyspace_events() {
    let db = db();
    let events = db.record_events();
    db.given(&[
        "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f",
        "ZADD z 1 a",
        "ZADD z INCR 1 a",
        "ZADD z NX INCR 1 a",
        "ZINCRBY z 1 b",
        "ZREM z nothere",
        "ZREM z a",
        "ZREMRANGEBYRANK z 0 0",
        "ZREMRANGEBYSCORE z 3 3",
        "ZREMRANGEBYLEX z [d [d",
        "ZREMRANGEBYSCORE z 100 200",
        "ZRANGESTORE dst z 0 -1",
        "ZUNIONSTORE u 1 z",
        "ZINTERSTORE i 2 z nothere",
        "ZDIFFSTORE dst 1 nothere",
        "ZPOPMIN z",
        "ZPOPMAX z",
        "ZPOPMAX z",
        "ZMPOP 1 u MIN COUNT 5",
        "ZSCORE u e",
    ]);
    let expected = [
        "zadd z",
        "zincr z",
        "zincr z",
        "zrem z",
        "zremrangebyrank z",
        "zremrangebyscore z",
        "zremrangebylex z",
        "zrangestore dst",
        "zunionstore u",
        // ZINTERSTORE's empty result at a missing key changes nothing.
        "del dst",
        "zpopmin z",
        "zpopmax z",
        "del z",
        "zpopmin u",
        "del u",
    ];
    assert_eq!(events.lines(), expected);
}
