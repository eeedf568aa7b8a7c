//! SORT and SORT_RO through the engine's `execute`, with a manual clock: exact replies for every
//! option and their combinations (BY and GET over strings and hashes, ALPHA, LIMIT edges, the
//! unsorted orders of lists, sets and sorted sets), exact error lines, STORE (lists written,
//! destinations deleted, TTLs dropped) with the deterministic records it propagates, and the
//! locking of keys spread over many slots while other clients write them.

mod common;

use bytes::Bytes;
use common::*;
use slotkv_engine::command::{CommandTable, Group, Handler, KeyRange};
use slotkv_engine::{Engine, Reply, Session};

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

/// An array of bulk strings and nils (`None`).
fn values(items: &[Option<&str>]) -> Reply {
    Reply::Array(items.iter().map(|s| s.map_or(Reply::Nil, bulk)).collect())
}

// ---------------------------------------------------------------------------------------------
// Command table and arguments

#[test]
fn table_describes_sort_and_sort_ro_as_redis_does() {
    let table = CommandTable::global();
    for (name, flags, since) in [
        ("sort", &["write", "denyoom", "movablekeys"][..], "1.0.0"),
        ("sort_ro", &["readonly", "movablekeys"][..], "7.0.0"),
    ] {
        let spec = table.lookup(name.as_bytes()).expect(name);
        assert_eq!(spec.arity, -2, "{name}");
        assert_eq!(spec.flags.names().collect::<Vec<_>>(), flags, "{name}");
        assert_eq!(spec.keys, KeyRange::FIRST, "{name}");
        assert_eq!(spec.group, Group::Generic, "{name}");
        assert_eq!(spec.since, since, "{name}");
        assert!(!spec.summary.is_empty(), "{name}");
        assert!(matches!(spec.handler, Handler::Engine(_)), "{name}");
    }
}

#[test]
fn argument_errors_are_redis_words() {
    let db = db();
    db.given(&["RPUSH l 1", "SET s 1"]);
    db.take_propagated();
    assert_eq!(
        db.run("SORT"),
        err("ERR wrong number of arguments for 'sort' command")
    );
    assert_eq!(
        db.run("SORT_RO"),
        err("ERR wrong number of arguments for 'sort_ro' command")
    );
    for line in [
        "SORT l bogus",
        "SORT l LIMIT 0",
        "SORT l BY",
        "SORT l GET",
        "SORT l STORE",
        "SORT l ALPHA DESC LIMIT 0 1 extra",
        "SORT_RO l STORE dst",
        "SORT_RO l ALPHA STORE dst",
    ] {
        assert_eq!(db.run(line), err(SYNTAX), "{line}");
    }
    assert_eq!(db.run("SORT l LIMIT a 1"), err(NOT_INTEGER));
    assert_eq!(db.run("SORT l LIMIT 0 1.5"), err(NOT_INTEGER));
    // Options are read left to right: the first problem is the one reported.
    assert_eq!(db.run("SORT l LIMIT x 1 bogus"), err(NOT_INTEGER));
    assert_eq!(db.run("SORT l bogus LIMIT x 1"), err(SYNTAX));
    // Syntax is checked before the type of the key.
    assert_eq!(db.run("SORT s bogus"), err(SYNTAX));
    assert_eq!(db.run("SORT s STORE dst bogus"), err(SYNTAX));
    assert_eq!(db.run("EXISTS dst"), int(0));
    assert_eq!(db.take_propagated(), Vec::<String>::new());
}

#[test]
fn keywords_ignore_case() {
    let db = db();
    db.given(&["RPUSH l b a c"]);
    assert_eq!(
        db.run("sort l aLpHa DeSc LiMiT 0 2 gEt #"),
        bulks(&["c", "b"])
    );
    assert_eq!(db.run("Sort_Ro l alpha"), bulks(&["a", "b", "c"]));
}

// ---------------------------------------------------------------------------------------------
// Types

#[test]
fn missing_keys_sort_as_empty() {
    let db = db();
    assert_eq!(db.run("SORT nokey"), empty());
    assert_eq!(db.run("SORT_RO nokey ALPHA BY w_* GET #"), empty());
    assert_eq!(db.run("SORT nokey STORE dst"), int(0));
    assert_eq!(db.run("EXISTS dst"), int(0));
    assert_eq!(db.take_propagated(), Vec::<String>::new());
}

#[test]
fn other_types_are_wrongtype() {
    let db = db();
    db.given(&["SET s 1", "HSET h f 1"]);
    for key in ["s", "h"] {
        for command in ["SORT", "SORT_RO"] {
            assert_eq!(db.run(&format!("{command} {key}")), err(WRONGTYPE));
        }
        assert_eq!(db.run(&format!("SORT {key} STORE dst")), err(WRONGTYPE));
    }
    assert_eq!(db.run("EXISTS dst"), int(0));
}

#[test]
fn lists_sets_and_sorted_sets_sort_numerically_by_default() {
    let db = db();
    db.given(&[
        "RPUSH l 3 -1 10 2.5 1e1",
        "SADD ints 30 -7 5",
        "SADD strs 1.5 -0.5 abc-is-not-here",
        "SREM strs abc-is-not-here",
        "ZADD z 1 30 2 -7 3 5",
    ]);
    assert_eq!(db.run("SORT l"), bulks(&["-1", "2.5", "3", "10", "1e1"]));
    assert_eq!(
        db.run("SORT l DESC"),
        bulks(&["1e1", "10", "3", "2.5", "-1"])
    );
    assert_eq!(db.run("SORT ints"), bulks(&["-7", "5", "30"]));
    assert_eq!(db.run("SORT strs"), bulks(&["-0.5", "1.5"]));
    // A sorted set is sorted by its members, not by its scores.
    assert_eq!(db.run("SORT z"), bulks(&["-7", "5", "30"]));
    assert_eq!(db.run("SORT_RO z DESC"), bulks(&["30", "5", "-7"]));
}

#[test]
fn large_encodings_sort_like_small_ones() {
    let db = db();
    let members: Vec<String> = (0..600).map(|n| ((n * 37) % 600).to_string()).collect();
    let long = "x".repeat(100);
    for key in ["bigset", "biglist"] {
        let command = if key == "bigset" { "SADD" } else { "RPUSH" };
        let mut words = vec![command, key];
        words.extend(members.iter().map(String::as_str));
        assert!(!db.run_words(&words).is_error());
    }
    let mut zadd = vec!["ZADD".to_owned(), "bigz".to_owned()];
    for member in &members {
        zadd.extend([format!("-{member}"), member.clone()]);
    }
    let zadd: Vec<&str> = zadd.iter().map(String::as_str).collect();
    assert!(!db.run_words(&zadd).is_error());
    db.given(&[
        &format!("SADD bigset {long}"),
        &format!("SREM bigset {long}"),
    ]);
    assert_eq!(db.run("OBJECT ENCODING bigset"), bulk("hashtable"));
    assert_eq!(db.run("OBJECT ENCODING bigz"), bulk("skiplist"));
    let sorted: Vec<String> = (0..600).map(|n| n.to_string()).collect();
    let expected = Reply::Array(sorted.iter().map(|s| bulk(s)).collect());
    for key in ["bigset", "biglist", "bigz"] {
        assert_eq!(db.run(&format!("SORT {key}")), expected, "{key}");
    }
    assert_eq!(
        db.run("SORT bigz BY nosort LIMIT 0 3"),
        bulks(&["599", "598", "597"])
    );
}

// ---------------------------------------------------------------------------------------------
// Numeric and ALPHA orders

#[test]
fn numeric_ties_break_on_the_element_bytes() {
    let db = db();
    db.given(&["RPUSH l 1.0 1 01 0.5 1e0"]);
    assert_eq!(db.run("SORT l"), bulks(&["0.5", "01", "1", "1.0", "1e0"]));
    assert_eq!(
        db.run("SORT l DESC"),
        bulks(&["1e0", "1.0", "1", "01", "0.5"])
    );
}

#[test]
fn numbers_parse_as_strtod_reads_them() {
    let db = db();
    db.run_args(&[
        b"RPUSH", b"l", b"inf", b" 2", b"", b"-inf", b"-3.5e0", b"4\0tail",
    ]);
    assert_eq!(
        db.run("SORT l"),
        Reply::Array(
            [&b"-inf"[..], b"-3.5e0", b"", b" 2", b"4\0tail", b"inf"]
                .iter()
                .map(|e| Reply::bulk(e))
                .collect()
        )
    );
}

#[test]
fn non_numbers_fail_the_whole_sort() {
    let db = db();
    db.given(&["RPUSH l 1 2 x 3", "RPUSH dst keep"]);
    for line in [
        "SORT l",
        "SORT l LIMIT 0 1",
        "SORT_RO l DESC",
        "SORT l GET #",
        "SORT l STORE dst",
    ] {
        assert_eq!(db.run(line), err(NOT_DOUBLE), "{line}");
    }
    for bad in ["nan", "1e400", "1e-400", "2 ", "0x", "  "] {
        db.given(&["DEL n", "RPUSH n 1"]);
        db.run_args(&[b"RPUSH", b"n", bad.as_bytes()]);
        assert_eq!(db.run("SORT n"), err(NOT_DOUBLE), "{bad:?}");
    }
    // C's hexadecimal form is a number to `strtod`, so to Redis's SORT.
    db.given(&["RPUSH hex 0x10 3 0x1p1"]);
    assert_eq!(db.run("SORT hex"), bulks(&["0x1p1", "3", "0x10"]));
    // The failed STORE wrote nothing.
    assert_eq!(db.elements("dst"), bulks(&["keep"]));
    // ALPHA and unsorted reads never parse numbers.
    assert_eq!(db.run("SORT l ALPHA"), bulks(&["1", "2", "3", "x"]));
    assert_eq!(db.run("SORT l BY nosort"), bulks(&["1", "2", "x", "3"]));
}

#[test]
fn alpha_compares_bytes() {
    let db = db();
    db.given(&["RPUSH l banana Apple apple 10 9 b"]);
    assert_eq!(
        db.run("SORT l ALPHA"),
        bulks(&["10", "9", "Apple", "apple", "b", "banana"])
    );
    assert_eq!(
        db.run("SORT l ALPHA DESC"),
        bulks(&["banana", "b", "apple", "Apple", "9", "10"])
    );
    db.run_args(&[b"SADD", b"bin", b"\xff", b"\x00", b"a\x00", b"a"]);
    assert_eq!(
        db.run("SORT bin ALPHA"),
        Reply::Array(
            [&b"\x00"[..], b"a", b"a\x00", b"\xff"]
                .iter()
                .map(|e| Reply::bulk(e))
                .collect()
        )
    );
}

// ---------------------------------------------------------------------------------------------
// LIMIT

#[test]
fn limit_windows_the_sorted_elements() {
    let db = db();
    db.given(&["RPUSH l 5 1 4 2 3"]);
    let cases: [(&str, &[&str]); 11] = [
        ("0 2", &["1", "2"]),
        ("1 3", &["2", "3", "4"]),
        ("3 10", &["4", "5"]),
        ("5 1", &[]),
        ("100 1", &[]),
        ("2 0", &[]),
        ("-2 2", &["1", "2"]),
        ("2 -1", &["3", "4", "5"]),
        ("2 -100", &["3", "4", "5"]),
        (
            "-9223372036854775808 9223372036854775807",
            &["1", "2", "3", "4", "5"],
        ),
        ("9223372036854775807 9223372036854775807", &[]),
    ];
    for (limit, expected) in cases {
        assert_eq!(
            db.run(&format!("SORT l LIMIT {limit}")),
            bulks(expected),
            "{limit}"
        );
    }
    assert_eq!(db.run("SORT l LIMIT 1 2 DESC"), bulks(&["4", "3"]));
    // The last LIMIT counts.
    assert_eq!(db.run("SORT l LIMIT 0 1 LIMIT 4 1"), bulks(&["5"]));
}

// ---------------------------------------------------------------------------------------------
// BY

#[test]
fn by_sorts_on_string_keys_with_missing_ones_as_zero() {
    let db = db();
    db.given(&[
        "RPUSH l a b c d e",
        "SET w_a 3",
        "SET w_b -1",
        "SET w_c 10",
        "HSET w_e f 1",
    ]);
    // d has no weight and e's weight is a hash: both count as 0, tied on the element's bytes.
    assert_eq!(db.run("SORT l BY w_*"), bulks(&["b", "d", "e", "a", "c"]));
    assert_eq!(
        db.run("SORT l BY w_* DESC"),
        bulks(&["c", "a", "e", "d", "b"])
    );
    assert_eq!(db.run("SORT l BY w_* LIMIT 1 2"), bulks(&["d", "e"]));
    // A pattern may put text on both sides of the element.
    db.given(&["SET pre-a-post 2", "SET pre-b-post 1"]);
    assert_eq!(
        db.run("SORT l BY pre-*-post LIMIT 0 2 DESC"),
        bulks(&["a", "b"])
    );
    db.given(&["SET w_d oops"]);
    assert_eq!(db.run("SORT l BY w_*"), err(NOT_DOUBLE));
}

#[test]
fn by_reads_hash_fields() {
    let db = db();
    db.given(&[
        "SADD s 1 2 3 4",
        "HSET user:1 age 40 name ann",
        "HSET user:2 age 25 name bob",
        "HSET user:3 name cy",
        "SET user:4 99",
    ]);
    // 3 has no age field and 4 is a string, not a hash: both count as 0.
    assert_eq!(
        db.run("SORT s BY user:*->age"),
        bulks(&["3", "4", "2", "1"])
    );
    assert_eq!(
        db.run("SORT s BY user:*->name ALPHA"),
        bulks(&["4", "1", "2", "3"])
    );
    // An arrow with nothing after it is part of the key name.
    db.given(&["SET user:1-> 5", "SET user:2-> 7"]);
    assert_eq!(
        db.run("SORT s BY user:*-> DESC"),
        bulks(&["2", "1", "4", "3"])
    );
}

#[test]
fn alpha_by_puts_missing_values_first() {
    let db = db();
    db.given(&[
        "RPUSH l x y z w",
        "SET n_x pear",
        "SET n_y apple",
        "SET n_w apple",
    ]);
    assert_eq!(db.run("SORT l BY n_* ALPHA"), bulks(&["z", "w", "y", "x"]));
    assert_eq!(
        db.run("SORT l BY n_* ALPHA DESC"),
        bulks(&["x", "y", "w", "z"])
    );
    // ALPHA BY never parses numbers, even of non-numeric values.
    assert_eq!(db.run("SORT l BY n_*"), err(NOT_DOUBLE));
}

#[test]
fn by_without_a_star_keeps_the_values_own_order() {
    let db = db();
    db.given(&["RPUSH l 3 1 2 x", "ZADD z 3 a 1 b 2 c 4 d", "SET w_1 100"]);
    for line in [
        "SORT l BY nosort",
        "SORT l BY w_1",
        "SORT l BY nosort ALPHA",
        "SORT l BY #",
    ] {
        assert_eq!(db.run(line), bulks(&["3", "1", "2", "x"]), "{line}");
    }
    assert_eq!(
        db.run("SORT l BY nosort DESC"),
        bulks(&["x", "2", "1", "3"])
    );
    assert_eq!(db.run("SORT l BY nosort LIMIT 1 2"), bulks(&["1", "2"]));
    assert_eq!(
        db.run("SORT l BY nosort LIMIT 1 2 DESC"),
        bulks(&["2", "1"])
    );
    assert_eq!(
        db.run("SORT l BY nosort LIMIT -5 -1 DESC"),
        bulks(&["x", "2", "1", "3"])
    );
    assert_eq!(db.run("SORT l BY nosort LIMIT 9 1"), empty());
    // A sorted set keeps its score order, from the other end with DESC.
    assert_eq!(db.run("SORT z BY nosort"), bulks(&["b", "c", "a", "d"]));
    assert_eq!(
        db.run("SORT z BY nosort DESC"),
        bulks(&["d", "a", "c", "b"])
    );
    assert_eq!(db.run("SORT z BY nosort LIMIT 1 2"), bulks(&["c", "a"]));
    assert_eq!(
        db.run("SORT z BY nosort DESC LIMIT 1 2"),
        bulks(&["a", "c"])
    );
    // A constant BY wins over a real one, wherever it is.
    assert_eq!(
        db.run("SORT l BY w_* BY nosort"),
        bulks(&["3", "1", "2", "x"])
    );
    assert_eq!(
        db.run("SORT l BY nosort BY w_*"),
        bulks(&["3", "1", "2", "x"])
    );
}

#[test]
fn an_unsorted_set_replies_every_member_once() {
    let db = db();
    db.given(&["SADD s c a b"]);
    let Reply::Array(mut members) = db.run("SORT s BY nosort") else {
        panic!("array expected");
    };
    members.sort_by_key(|m| format!("{m:?}"));
    assert_eq!(members, [bulk("a"), bulk("b"), bulk("c")]);
    let Reply::Array(window) = db.run("SORT s BY nosort LIMIT 1 1") else {
        panic!("array expected");
    };
    assert_eq!(window.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// GET

#[test]
fn get_replaces_elements_with_looked_up_values() {
    let db = db();
    db.given(&[
        "RPUSH ids 2 1 3",
        "SET obj_1 one",
        "SET obj_2 two",
        "HSET h_1 name ann",
        "HSET h_3 name cy",
        "SET w_1 30",
        "SET w_2 20",
        "SET w_3 10",
    ]);
    assert_eq!(
        db.run("SORT ids GET obj_*"),
        values(&[Some("one"), Some("two"), None])
    );
    assert_eq!(
        db.run("SORT ids GET # GET obj_* GET h_*->name"),
        values(&[
            Some("1"),
            Some("one"),
            Some("ann"),
            Some("2"),
            Some("two"),
            None,
            Some("3"),
            None,
            Some("cy"),
        ])
    );
    assert_eq!(
        db.run("SORT ids BY w_* GET obj_* LIMIT 0 2"),
        values(&[None, Some("two")])
    );
    assert_eq!(
        db.run("SORT_RO ids BY nosort DESC GET # GET h_*->name"),
        values(&[
            Some("3"),
            Some("cy"),
            Some("1"),
            Some("ann"),
            Some("2"),
            None
        ])
    );
    // A hash field of a string, a string read as a hash, a fixed pattern: all nil.
    assert_eq!(
        db.run("SORT ids LIMIT 0 1 GET obj_*->name GET h_* GET obj_1 GET ##"),
        values(&[None, None, None, None])
    );
    // GET works on sorted sets and sets too.
    db.given(&["ZADD z 5 1 4 2", "SADD s 1 2"]);
    assert_eq!(
        db.run("SORT z GET obj_*"),
        values(&[Some("one"), Some("two")])
    );
    assert_eq!(
        db.run("SORT s DESC GET obj_*"),
        values(&[Some("two"), Some("one")])
    );
}

#[test]
fn integer_values_are_read_as_text() {
    let db = db();
    db.given(&["RPUSH l a b", "SET w_a 20", "SET w_b 3", "SET v_a 7"]);
    assert_eq!(
        db.run("SORT l BY w_* GET v_* GET #"),
        values(&[None, Some("b"), Some("7"), Some("a")])
    );
    // ALPHA BY compares the integers' text.
    assert_eq!(db.run("SORT l BY w_* ALPHA"), bulks(&["a", "b"]));
}

// ---------------------------------------------------------------------------------------------
// STORE

#[test]
fn store_writes_a_list_and_replies_its_length() {
    let db = db();
    db.given(&["SADD s 3 1 2", "SET obj_1 one", "SET obj_3 three"]);
    db.take_propagated();
    assert_eq!(db.run("SORT s STORE dst"), int(3));
    assert_eq!(db.elements("dst"), bulks(&["1", "2", "3"]));
    assert_eq!(db.run("OBJECT ENCODING dst"), bulk("listpack"));
    assert_eq!(db.take_propagated(), ["RPUSH dst 1 2 3"]);
    // A missing GET value is stored as the empty string; the reply counts values.
    assert_eq!(db.run("SORT s DESC GET # GET obj_* STORE dst"), int(6));
    assert_eq!(
        db.elements("dst"),
        bulks(&["3", "three", "2", "", "1", "one"])
    );
    assert_eq!(
        db.take_propagated(),
        ["DEL dst", "RPUSH dst 3 three 2  1 one"]
    );
    // The source may be its own destination.
    db.given(&["RPUSH self 2 3 1"]);
    db.take_propagated();
    assert_eq!(db.run("SORT self DESC STORE self"), int(3));
    assert_eq!(db.elements("self"), bulks(&["3", "2", "1"]));
    assert_eq!(db.take_propagated(), ["DEL self", "RPUSH self 3 2 1"]);
}

#[test]
fn store_replaces_any_type_and_drops_its_ttl() {
    let db = db();
    db.given(&["RPUSH l 2 1", "HSET dst f v", "PEXPIRE dst 100000"]);
    assert_eq!(db.run("SORT l STORE dst"), int(2));
    assert_eq!(db.run("TYPE dst"), Reply::Simple("list".to_owned()));
    assert_eq!(db.run("PTTL dst"), int(-1));
    assert_eq!(db.elements("dst"), bulks(&["1", "2"]));
}

#[test]
fn an_empty_result_deletes_the_destination() {
    let db = db();
    db.given(&["RPUSH l 1 2", "SET dst old"]);
    db.take_propagated();
    assert_eq!(db.run("SORT l LIMIT 5 1 STORE dst"), int(0));
    assert_eq!(db.run("EXISTS dst"), int(0));
    assert_eq!(db.take_propagated(), ["DEL dst"]);
    // Nothing to delete: nothing changes, nothing propagates.
    assert_eq!(db.run("SORT l LIMIT 0 0 STORE dst"), int(0));
    assert_eq!(db.run("SORT missing STORE dst"), int(0));
    assert_eq!(db.take_propagated(), Vec::<String>::new());
}

#[test]
fn an_unsorted_set_is_stored_sorted_alpha() {
    let db = db();
    db.given(&["SADD s b 10 a 9", "SET w_a 1"]);
    db.take_propagated();
    // BY without a star on a set: Redis sorts byte-wise so the stored list does not depend on
    // the set's layout (and ignores BY, even numeric).
    assert_eq!(db.run("SORT s BY nosort STORE dst"), int(4));
    assert_eq!(db.elements("dst"), bulks(&["10", "9", "a", "b"]));
    assert_eq!(db.run("SORT s BY nosort DESC LIMIT 0 2 STORE dst"), int(2));
    assert_eq!(db.elements("dst"), bulks(&["b", "a"]));
    // Lists and sorted sets keep their own order.
    db.given(&["RPUSH l b 10 a", "ZADD z 2 x 1 y"]);
    assert_eq!(db.run("SORT l BY nosort STORE dst"), int(3));
    assert_eq!(db.elements("dst"), bulks(&["b", "10", "a"]));
    assert_eq!(db.run("SORT z BY nosort STORE dst"), int(2));
    assert_eq!(db.elements("dst"), bulks(&["y", "x"]));
}

#[test]
fn large_stores_propagate_in_batches() {
    let db = db();
    let members: Vec<String> = (0..2500).map(|n| format!("{n:04}")).collect();
    let mut words = vec!["RPUSH", "l"];
    words.extend(members.iter().rev().map(String::as_str));
    assert!(!db.run_words(&words).is_error());
    db.take_propagated();
    assert_eq!(db.run("SORT l ALPHA STORE dst"), int(2500));
    assert_eq!(db.run("OBJECT ENCODING dst"), bulk("quicklist"));
    let records = db.take_propagated();
    let batches: Vec<usize> = records
        .iter()
        .map(|r| {
            assert!(r.starts_with("RPUSH dst "), "{r}");
            r.split(' ').count() - 2
        })
        .collect();
    assert_eq!(batches, [1024, 1024, 452]);
    let replayed: Vec<&str> = records.iter().flat_map(|r| r.split(' ').skip(2)).collect();
    assert_eq!(replayed, members);
}

#[test]
fn sorting_without_store_propagates_nothing() {
    let db = db();
    db.given(&["RPUSH l 2 1", "SET w_1 1", "SET dst x"]);
    db.take_propagated();
    db.run("SORT l BY w_* GET # ALPHA");
    db.run("SORT_RO l");
    assert_eq!(db.take_propagated(), Vec::<String>::new());
    assert_eq!(db.run("GET dst"), bulk("x"));
}

// ---------------------------------------------------------------------------------------------
// Expiry, databases, statistics and concurrency

#[test]
fn expired_pattern_keys_read_as_missing() {
    let db = db();
    db.given(&[
        "RPUSH l a b",
        "SET w_a 5",
        "SET w_b 1",
        "PEXPIRE w_b 10",
        "SET o_b x",
        "PEXPIRE o_b 10",
    ]);
    assert_eq!(db.run("SORT l BY w_*"), bulks(&["b", "a"]));
    db.take_propagated();
    db.clock.advance(20);
    assert_eq!(db.run("SORT l BY w_* GET o_*"), values(&[None, None]));
    let mut deleted = db.take_propagated();
    deleted.sort();
    assert_eq!(deleted, ["DEL o_b", "DEL w_b"]);
}

#[test]
fn patterns_read_the_selected_database() {
    let db = db();
    let mut session = Session::new();
    let run = |session: &mut Session, line: &str| {
        let args: Vec<Bytes> = line
            .split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        db.engine.execute_in(session, &args)
    };
    db.given(&["SET w_a 1", "SET w_b 2"]);
    assert_eq!(run(&mut session, "SELECT 3"), Reply::Ok);
    for line in ["RPUSH l a b", "SET w_a 9", "SET w_b 2", "SET o_a 3a"] {
        assert!(!run(&mut session, line).is_error());
    }
    db.take_propagated();
    assert_eq!(
        run(&mut session, "SORT l BY w_* GET o_* GET # STORE dst"),
        int(4)
    );
    assert_eq!(
        run(&mut session, "LRANGE dst 0 -1"),
        bulks(&["", "b", "3a", "a"])
    );
    assert_eq!(db.run("EXISTS dst"), int(0));
    let records = db.sink.records();
    let (_, record_db, args) = records.last().expect("the store propagated");
    assert_eq!(*record_db, 3);
    assert_eq!(args[..], [&b"RPUSH"[..], b"dst", b"", b"b", b"3a", b"a"]);
}

#[test]
fn the_source_counts_one_hit_even_when_locks_are_taken_twice() {
    let db = db();
    // Weights spread over many slots: the first pass cannot hold them all.
    let mut words = vec!["RPUSH".to_owned(), "l".to_owned()];
    for n in 0..50 {
        words.push(n.to_string());
        db.given(&[&format!("SET w_{n} {}", 100 - n)]);
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    assert!(!db.run_words(&words).is_error());
    let before = db.engine.stats();
    let Reply::Array(sorted) = db.run("SORT l BY w_* LIMIT 0 3") else {
        panic!("array expected");
    };
    assert_eq!(sorted, [bulk("49"), bulk("48"), bulk("47")]);
    let after = db.engine.stats();
    // One hit for the list, one per weight.
    assert_eq!(after.keyspace_hits - before.keyspace_hits, 51);
    assert_eq!(after.keyspace_misses, before.keyspace_misses);
    assert_eq!(db.run("SORT nokey BY w_*"), empty());
    assert_eq!(
        db.engine.stats().keyspace_misses,
        before.keyspace_misses + 1
    );
}

#[test]
fn concurrent_writers_never_see_a_half_done_sort() {
    let db = db();
    let engine = db.engine.clone();
    let count = 200;
    let mut rpush = vec!["RPUSH".to_owned(), "ids".to_owned()];
    rpush.extend((0..count).map(|n| n.to_string()));
    let rpush: Vec<&str> = rpush.iter().map(String::as_str).collect();
    assert!(!db.run_words(&rpush).is_error());
    for n in 0..count {
        db.given(&[&format!("SET w_{n} {n}"), &format!("SET o_{n} {n}")]);
    }
    let execute = |engine: &Engine, line: &str| {
        let args: Vec<Bytes> = line
            .split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        engine.execute(&args)
    };
    std::thread::scope(|scope| {
        // Writers reweigh elements and rotate the list (its length never changes); every sort
        // must see the whole list and find every object.
        for writer in 0..2 {
            let engine = engine.clone();
            scope.spawn(move || {
                for round in 0..200 {
                    let n = (round * 7 + writer) % count;
                    execute(&engine, &format!("SET w_{n} {}", round % 50));
                    execute(&engine, "LMOVE ids ids LEFT RIGHT");
                }
            });
        }
        for _ in 0..40 {
            let reply = execute(&engine, "SORT ids BY w_* GET o_* STORE out");
            assert_eq!(reply, int(count as i64));
            let Reply::Array(values) = execute(&engine, "SORT_RO ids BY w_* GET o_*") else {
                panic!("array expected");
            };
            assert_eq!(values.len(), count);
            assert!(values.iter().all(|v| matches!(v, Reply::Bulk(_))));
        }
    });
}
