//! The data types end to end: hashes, lists, sets, sorted sets, bitmaps and HyperLogLog driven
//! through a real slotkv-server by the `redis` crate and by raw RESP2/RESP3, with Redis 7's
//! replies, error strings and OBJECT ENCODING conversions (7.2's listpack names) as the
//! expectation. Large collections check that cursors and encodings hold beyond the compact forms.

mod common;

use std::collections::{HashMap, HashSet};

use common::TestServer;
use redis::{cmd, Cmd, Connection, RedisError, Value};

/// The error line as the server wrote it (`CODE detail`), from the client's parsed error.
fn error_line(err: &RedisError) -> String {
    format!(
        "{} {}",
        err.code().unwrap_or("?"),
        err.detail().unwrap_or("")
    )
}

/// Runs a command that must fail and returns its error line.
fn fails(con: &mut Connection, command: &Cmd) -> String {
    let err = command
        .query::<Value>(con)
        .expect_err("the command must fail");
    error_line(&err)
}

/// OBJECT ENCODING of `key`.
fn encoding(con: &mut Connection, key: &str) -> String {
    cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(con)
        .expect("OBJECT ENCODING")
}

/// What a full SCAN-family iteration (`HSCAN`, `SSCAN`) yields.
struct Scan<'a> {
    command: &'a str,
    key: &'a str,
    /// Options after the cursor, such as `MATCH pattern`.
    options: &'a [&'a str],
    /// Reply items per element: 2 for field/value pairs.
    step: usize,
}

/// Counts how often each element of a SCAN-family iteration comes back, following the cursor
/// until it returns to 0.
fn scan_all(con: &mut Connection, scan: &Scan) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    let mut cursor = 0u64;
    // A bound on the calls, so a cursor that never returns to 0 fails instead of hanging.
    for _ in 0..10_000 {
        let (next, items): (u64, Vec<String>) = cmd(scan.command)
            .arg(scan.key)
            .arg(cursor)
            .arg("COUNT")
            .arg(50)
            .arg(scan.options)
            .query(con)
            .expect("scan call");
        for element in items.iter().step_by(scan.step) {
            *seen.entry(element.clone()).or_insert(0) += 1;
        }
        if next == 0 {
            return seen;
        }
        cursor = next;
    }
    panic!("{} {} never returned cursor 0", scan.command, scan.key);
}

fn assert_each_seen_once(seen: &HashMap<String, usize>, expected: impl Iterator<Item = String>) {
    let expected: HashSet<String> = expected.collect();
    assert_eq!(seen.len(), expected.len());
    for element in &expected {
        assert_eq!(seen.get(element), Some(&1), "{element}");
    }
}

// ---------------------------------------------------------------------------------------------
// Hashes

#[test]
fn hashes_store_fields_and_increment_floats() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let added: i64 = cmd("HSET")
        .arg("user:1")
        .arg(&["name", "ada", "lang", "rust", "visits", "10"])
        .query(&mut con)
        .unwrap();
    assert_eq!(added, 3);
    let updated: i64 = cmd("HSET")
        .arg("user:1")
        .arg(&["name", "ada"])
        .query(&mut con)
        .unwrap();
    assert_eq!(updated, 0, "an existing field is not counted");
    let all: HashMap<String, String> = cmd("HGETALL").arg("user:1").query(&mut con).unwrap();
    let expected: HashMap<String, String> = [("name", "ada"), ("lang", "rust"), ("visits", "10")]
        .into_iter()
        .map(|(f, v)| (f.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(all, expected);
    let none: HashMap<String, String> = cmd("HGETALL").arg("nothing").query(&mut con).unwrap();
    assert!(none.is_empty());
    assert_eq!(encoding(&mut con, "user:1"), "listpack");

    for (increment, result) in [("0.5", "10.5"), ("-0.5", "10"), ("0.1", "10.1")] {
        let text: String = cmd("HINCRBYFLOAT")
            .arg("user:1")
            .arg("visits")
            .arg(increment)
            .query(&mut con)
            .unwrap();
        assert_eq!(text, result, "HINCRBYFLOAT by {increment}");
    }
    let created: String = cmd("HINCRBYFLOAT")
        .arg("user:1")
        .arg("score")
        .arg("5.0e3")
        .query(&mut con)
        .unwrap();
    assert_eq!(created, "5000", "stored without an exponent");
    let not_float = cmd("HINCRBYFLOAT").arg("user:1").arg("name").arg(1).clone();
    assert_eq!(fails(&mut con, &not_float), "ERR hash value is not a float");
    let bad_increment = cmd("HINCRBYFLOAT")
        .arg("user:1")
        .arg("visits")
        .arg("abc")
        .clone();
    assert_eq!(
        fails(&mut con, &bad_increment),
        "ERR value is not a valid float"
    );
    let infinite = cmd("HINCRBYFLOAT")
        .arg("user:1")
        .arg("visits")
        .arg("inf")
        .clone();
    assert_eq!(fails(&mut con, &infinite), "ERR value is NaN or Infinity");
    let visits: String = cmd("HGET")
        .arg("user:1")
        .arg("visits")
        .query(&mut con)
        .unwrap();
    assert_eq!(visits, "10.1", "failed increments change nothing");
}

/// Redis adds float increments in `long double` (80-bit on x86-64, 128-bit on arm64) and prints
/// 17 decimals with trailing zeros trimmed, so 0.1 + 0.2 is stored as "0.3" and integers up to
/// 2^64 stay exact; `f64` arithmetic stores "0.30000000000000004" and rounds 2^53 + 1.
#[test]
fn float_increments_keep_redis_precision() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    for increment in ["0.1", "0.2"] {
        let _: String = cmd("HINCRBYFLOAT")
            .arg("h")
            .arg("balance")
            .arg(increment)
            .query(&mut con)
            .unwrap();
        let _: String = cmd("INCRBYFLOAT")
            .arg("balance")
            .arg(increment)
            .query(&mut con)
            .unwrap();
    }
    let field: String = cmd("HGET").arg("h").arg("balance").query(&mut con).unwrap();
    assert_eq!(field, "0.3");
    let string: String = cmd("GET").arg("balance").query(&mut con).unwrap();
    assert_eq!(string, "0.3");
    let _: i64 = cmd("HSET")
        .arg("h")
        .arg("counter")
        .arg("9007199254740993")
        .query(&mut con)
        .unwrap();
    let counter: String = cmd("HINCRBYFLOAT")
        .arg("h")
        .arg("counter")
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(counter, "9007199254740994");
}

#[test]
fn hscan_returns_every_field_of_a_large_hash_exactly_once() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let pairs: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("field:{i}"), format!("value:{i}")))
        .collect();
    let added: i64 = cmd("HSET").arg("big").arg(&pairs).query(&mut con).unwrap();
    assert_eq!(added, 1000);
    assert_eq!(encoding(&mut con, "big"), "hashtable");

    let whole = Scan {
        command: "HSCAN",
        key: "big",
        options: &[],
        step: 2,
    };
    let seen = scan_all(&mut con, &whole);
    assert_each_seen_once(&seen, (0..1000).map(|i| format!("field:{i}")));

    // Values come right after their fields.
    let (_, items): (u64, Vec<String>) = cmd("HSCAN").arg("big").arg(0).query(&mut con).unwrap();
    for pair in items.chunks_exact(2) {
        assert_eq!(pair[1], pair[0].replace("field", "value"));
    }

    // MATCH filters, and a listpack hash answers in one call with cursor 0.
    let matching = Scan {
        command: "HSCAN",
        key: "big",
        options: &["MATCH", "field:99*"],
        step: 2,
    };
    let matched = scan_all(&mut con, &matching);
    assert_each_seen_once(
        &matched,
        std::iter::once(99)
            .chain(990..1000)
            .map(|i| format!("field:{i}")),
    );
    let _: i64 = cmd("HSET")
        .arg("small")
        .arg("a")
        .arg("1")
        .query(&mut con)
        .unwrap();
    let small: (u64, Vec<String>) = cmd("HSCAN").arg("small").arg(0).query(&mut con).unwrap();
    assert_eq!(small, (0, vec!["a".to_owned(), "1".to_owned()]));
}

// ---------------------------------------------------------------------------------------------
// Lists

#[test]
fn lists_push_range_find_and_multi_pop() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let len: i64 = cmd("RPUSH")
        .arg("mylist")
        .arg(&["a", "b", "c", "d", "1", "2", "3", "4", "3", "3", "3"])
        .query(&mut con)
        .unwrap();
    assert_eq!(len, 11);
    let range: Vec<String> = cmd("LRANGE")
        .arg("mylist")
        .arg(1)
        .arg(3)
        .query(&mut con)
        .unwrap();
    assert_eq!(range, ["b", "c", "d"]);
    let clamped: Vec<String> = cmd("LRANGE")
        .arg("mylist")
        .arg(-100)
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!(clamped.len(), 11);

    let first: Option<i64> = cmd("LPOS").arg("mylist").arg(3).query(&mut con).unwrap();
    assert_eq!(first, Some(6));
    let from_second: Vec<i64> = cmd("LPOS")
        .arg("mylist")
        .arg(3)
        .arg(&["COUNT", "0", "RANK", "2"])
        .query(&mut con)
        .unwrap();
    assert_eq!(from_second, [8, 9, 10]);
    let last: i64 = cmd("LPOS")
        .arg("mylist")
        .arg(3)
        .arg(&["RANK", "-1"])
        .query(&mut con)
        .unwrap();
    assert_eq!(last, 10);
    let within: Vec<i64> = cmd("LPOS")
        .arg("mylist")
        .arg(3)
        .arg(&["COUNT", "2", "MAXLEN", "7"])
        .query(&mut con)
        .unwrap();
    assert_eq!(within, [6]);
    let absent: Option<i64> = cmd("LPOS").arg("mylist").arg("x").query(&mut con).unwrap();
    assert_eq!(absent, None);
    let rank_zero = cmd("LPOS").arg("mylist").arg(3).arg("RANK").arg(0).clone();
    assert_eq!(
        fails(&mut con, &rank_zero),
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
         or use negative to start from the end of the list"
    );

    let popped: (String, Vec<String>) = cmd("LMPOP")
        .arg(2)
        .arg("nolist")
        .arg("mylist")
        .arg("LEFT")
        .arg("COUNT")
        .arg(2)
        .query(&mut con)
        .unwrap();
    assert_eq!(popped, ("mylist".to_owned(), vec!["a".into(), "b".into()]));
    let right: (String, Vec<String>) = cmd("LMPOP")
        .arg(1)
        .arg("mylist")
        .arg("RIGHT")
        .query(&mut con)
        .unwrap();
    assert_eq!(right, ("mylist".to_owned(), vec!["3".into()]));
    let nothing: Option<(String, Vec<String>)> = cmd("LMPOP")
        .arg(1)
        .arg("nolist")
        .arg("LEFT")
        .query(&mut con)
        .unwrap();
    assert_eq!(nothing, None);
    let zero_keys = cmd("LMPOP").arg(0).arg("mylist").arg("LEFT").clone();
    assert_eq!(
        fails(&mut con, &zero_keys),
        "ERR numkeys should be greater than 0"
    );
    let zero_count = cmd("LMPOP")
        .arg(1)
        .arg("mylist")
        .arg(&["LEFT", "COUNT", "0"])
        .clone();
    assert_eq!(
        fails(&mut con, &zero_count),
        "ERR count should be greater than 0"
    );
    let everything: (String, Vec<String>) = cmd("LMPOP")
        .arg(1)
        .arg("mylist")
        .arg(&["LEFT", "COUNT", "100"])
        .query(&mut con)
        .unwrap();
    assert_eq!(everything.1, ["c", "d", "1", "2", "3", "4", "3", "3"]);
    let exists: i64 = cmd("EXISTS").arg("mylist").query(&mut con).unwrap();
    assert_eq!(exists, 0, "an emptied list is deleted");
}

#[test]
fn a_large_list_becomes_a_quicklist_and_ltrim_makes_it_a_listpack_again() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let _: i64 = cmd("RPUSH")
        .arg("l")
        .arg(&["a", "b"])
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "l"), "listpack");
    let elements: Vec<String> = (0..10_000).map(|i| format!("element:{i}")).collect();
    let len: i64 = cmd("RPUSH")
        .arg("big")
        .arg(&elements)
        .query(&mut con)
        .unwrap();
    assert_eq!(len, 10_000);
    assert_eq!(encoding(&mut con, "big"), "quicklist");
    let middle: String = cmd("LINDEX").arg("big").arg(5_000).query(&mut con).unwrap();
    assert_eq!(middle, "element:5000");
    let tail: Vec<String> = cmd("LRANGE")
        .arg("big")
        .arg(-3)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(tail, ["element:9997", "element:9998", "element:9999"]);
    let all: Vec<String> = cmd("LRANGE")
        .arg("big")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(all, elements);

    let _: () = cmd("LTRIM")
        .arg("big")
        .arg(100)
        .arg(109)
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "big"), "listpack");
    let kept: Vec<String> = cmd("LRANGE")
        .arg("big")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(kept, elements[100..110]);
    let _: () = cmd("LTRIM")
        .arg("big")
        .arg(1)
        .arg(0)
        .query(&mut con)
        .unwrap();
    let exists: i64 = cmd("EXISTS").arg("big").query(&mut con).unwrap();
    assert_eq!(exists, 0, "an empty range deletes the list");
}

// ---------------------------------------------------------------------------------------------
// Sets

#[test]
fn sets_add_intersect_and_convert_encodings() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let added: i64 = cmd("SADD")
        .arg("s1")
        .arg(&["a", "b", "c", "d", "a"])
        .query(&mut con)
        .unwrap();
    assert_eq!(added, 4);
    let _: i64 = cmd("SADD")
        .arg("s2")
        .arg(&["c", "d", "e"])
        .query(&mut con)
        .unwrap();
    let members: HashSet<String> = cmd("SMEMBERS").arg("s1").query(&mut con).unwrap();
    assert_eq!(members, set_of(&["a", "b", "c", "d"]));
    let common: HashSet<String> = cmd("SINTER").arg("s1").arg("s2").query(&mut con).unwrap();
    assert_eq!(common, set_of(&["c", "d"]));
    let with_missing: HashSet<String> = cmd("SINTER")
        .arg("s1")
        .arg("nothing")
        .query(&mut con)
        .unwrap();
    assert!(with_missing.is_empty());
    let flags: Vec<i64> = cmd("SMISMEMBER")
        .arg("s1")
        .arg(&["a", "z"])
        .query(&mut con)
        .unwrap();
    assert_eq!(flags, [1, 0]);

    let _: i64 = cmd("SADD")
        .arg("ints")
        .arg(&[1, 2, 3, -5])
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "ints"), "intset");
    let _: i64 = cmd("SADD").arg("ints").arg("x").query(&mut con).unwrap();
    assert_eq!(encoding(&mut con, "ints"), "listpack");
    let more: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    let _: i64 = cmd("SADD").arg("ints").arg(&more).query(&mut con).unwrap();
    assert_eq!(encoding(&mut con, "ints"), "hashtable");
    let count: i64 = cmd("SCARD").arg("ints").query(&mut con).unwrap();
    assert_eq!(count, 205);
    let numbers: Vec<i64> = (0..513).collect();
    let _: i64 = cmd("SADD")
        .arg("many")
        .arg(&numbers)
        .query(&mut con)
        .unwrap();
    assert_eq!(
        encoding(&mut con, "many"),
        "hashtable",
        "past set-max-intset-entries"
    );
}

fn set_of(members: &[&str]) -> HashSet<String> {
    members.iter().map(|m| (*m).to_owned()).collect()
}

#[test]
fn sscan_returns_every_member_of_a_large_set_exactly_once() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let members: Vec<String> = (0..2000).map(|i| format!("member:{i}")).collect();
    let added: i64 = cmd("SADD")
        .arg("big")
        .arg(&members)
        .query(&mut con)
        .unwrap();
    assert_eq!(added, 2000);
    assert_eq!(encoding(&mut con, "big"), "hashtable");
    let whole = Scan {
        command: "SSCAN",
        key: "big",
        options: &[],
        step: 1,
    };
    let seen = scan_all(&mut con, &whole);
    assert_each_seen_once(&seen, members.into_iter());
}

// ---------------------------------------------------------------------------------------------
// Sorted sets

#[test]
fn sorted_sets_range_by_score_rank_and_infinite_scores() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let added: i64 = cmd("ZADD")
        .arg("board")
        .arg(&["1", "a", "2", "b", "3", "c", "4", "d", "5", "e"])
        .query(&mut con)
        .unwrap();
    assert_eq!(added, 5);
    let page: Vec<(String, f64)> = cmd("ZRANGE")
        .arg("board")
        .arg(2)
        .arg(4)
        .arg(&["BYSCORE", "LIMIT", "1", "2", "WITHSCORES"])
        .query(&mut con)
        .unwrap();
    assert_eq!(page, [("c".to_owned(), 3.0), ("d".to_owned(), 4.0)]);
    let exclusive: Vec<String> = cmd("ZRANGE")
        .arg("board")
        .arg("(1")
        .arg("(3")
        .arg("BYSCORE")
        .query(&mut con)
        .unwrap();
    assert_eq!(exclusive, ["b"]);
    let reversed: Vec<String> = cmd("ZRANGE")
        .arg("board")
        .arg(5)
        .arg(1)
        .arg(&["BYSCORE", "REV", "LIMIT", "0", "2"])
        .query(&mut con)
        .unwrap();
    assert_eq!(reversed, ["e", "d"]);
    let rank: Option<i64> = cmd("ZRANK").arg("board").arg("c").query(&mut con).unwrap();
    assert_eq!(rank, Some(2));
    let no_rank: Option<i64> = cmd("ZRANK").arg("board").arg("zz").query(&mut con).unwrap();
    assert_eq!(no_rank, None);

    let _: i64 = cmd("ZADD")
        .arg("board")
        .arg(&["inf", "top", "-inf", "bottom"])
        .query(&mut con)
        .unwrap();
    let top: String = cmd("ZSCORE")
        .arg("board")
        .arg("top")
        .query(&mut con)
        .unwrap();
    assert_eq!(top, "inf");
    let bottom: String = cmd("ZSCORE")
        .arg("board")
        .arg("bottom")
        .query(&mut con)
        .unwrap();
    assert_eq!(bottom, "-inf");
    let top_rank: i64 = cmd("ZRANK")
        .arg("board")
        .arg("top")
        .query(&mut con)
        .unwrap();
    assert_eq!(top_rank, 6);
    let ends: Vec<String> = cmd("ZRANGE")
        .arg("board")
        .arg("-inf")
        .arg("+inf")
        .arg("BYSCORE")
        .query(&mut con)
        .unwrap();
    assert_eq!(ends.first().map(String::as_str), Some("bottom"));
    assert_eq!(ends.last().map(String::as_str), Some("top"));
    let missing: Option<String> = cmd("ZSCORE")
        .arg("board")
        .arg("zz")
        .query(&mut con)
        .unwrap();
    assert_eq!(missing, None);
    let nan = cmd("ZADD").arg("board").arg("nan").arg("x").clone();
    assert_eq!(fails(&mut con, &nan), "ERR value is not a valid float");
    let still_inf: String = cmd("ZINCRBY")
        .arg("board")
        .arg(1)
        .arg("top")
        .query(&mut con)
        .unwrap();
    assert_eq!(still_inf, "inf");
}

#[test]
fn zunionstore_applies_weights_and_aggregates() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let _: i64 = cmd("ZADD")
        .arg("z1")
        .arg(&["1", "a", "2", "b"])
        .query(&mut con)
        .unwrap();
    let _: i64 = cmd("ZADD")
        .arg("z2")
        .arg(&["1", "b", "3", "c"])
        .query(&mut con)
        .unwrap();
    let stored: i64 = cmd("ZUNIONSTORE")
        .arg("out")
        .arg(2)
        .arg(&["z1", "z2", "WEIGHTS", "2", "3"])
        .query(&mut con)
        .unwrap();
    assert_eq!(stored, 3);
    assert_eq!(
        with_scores(&mut con, "out"),
        [
            ("a".to_owned(), 2.0),
            ("b".to_owned(), 7.0),
            ("c".to_owned(), 9.0)
        ]
    );
    let _: i64 = cmd("ZUNIONSTORE")
        .arg("out")
        .arg(2)
        .arg(&["z1", "z2", "WEIGHTS", "2", "3", "AGGREGATE", "MAX"])
        .query(&mut con)
        .unwrap();
    assert_eq!(
        with_scores(&mut con, "out"),
        [
            ("a".to_owned(), 2.0),
            ("b".to_owned(), 4.0),
            ("c".to_owned(), 9.0)
        ]
    );
    let too_few = cmd("ZUNIONSTORE")
        .arg("out")
        .arg(2)
        .arg(&["z1", "z2", "WEIGHTS", "1"])
        .clone();
    assert_eq!(fails(&mut con, &too_few), "ERR syntax error");
    let not_float = cmd("ZUNIONSTORE")
        .arg("out")
        .arg(2)
        .arg(&["z1", "z2", "WEIGHTS", "1", "x"])
        .clone();
    assert_eq!(
        fails(&mut con, &not_float),
        "ERR weight value is not a float"
    );
    let empty: i64 = cmd("ZUNIONSTORE")
        .arg("out")
        .arg(2)
        .arg(&["none1", "none2"])
        .query(&mut con)
        .unwrap();
    assert_eq!(empty, 0);
    let exists: i64 = cmd("EXISTS").arg("out").query(&mut con).unwrap();
    assert_eq!(exists, 0, "an empty union deletes the destination");
}

fn with_scores(con: &mut Connection, key: &str) -> Vec<(String, f64)> {
    cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(con)
        .expect("ZRANGE WITHSCORES")
}

#[test]
fn sorted_sets_leave_listpack_past_128_members() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let items: Vec<(i64, String)> = (0..128).map(|i| (i, format!("m{i}"))).collect();
    let _: i64 = cmd("ZADD").arg("z").arg(&items).query(&mut con).unwrap();
    assert_eq!(encoding(&mut con, "z"), "listpack");
    let _: i64 = cmd("ZADD")
        .arg("z")
        .arg(1)
        .arg("x")
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "z"), "skiplist");
    let rank: i64 = cmd("ZREVRANK")
        .arg("z")
        .arg("m127")
        .query(&mut con)
        .unwrap();
    assert_eq!(rank, 0);
}

/// Redis 7.2 prints scores as the shortest round-trip text, switching to an exponent for very
/// large and very small magnitudes (7.0 used `%.17g`, which does too); slotkv writes every
/// digit, so a score of 1.5e300 costs a 301-byte reply.
#[test]
fn extreme_scores_are_printed_with_an_exponent() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let _: i64 = cmd("ZADD")
        .arg("z")
        .arg(&["1.5e300", "huge", "1e-10", "tiny"])
        .query(&mut con)
        .unwrap();
    let huge: String = cmd("ZSCORE").arg("z").arg("huge").query(&mut con).unwrap();
    assert_eq!(huge, "1.5e+300");
    let tiny: String = cmd("ZSCORE").arg("z").arg("tiny").query(&mut con).unwrap();
    assert_eq!(tiny, "1e-10");
}

// ---------------------------------------------------------------------------------------------
// Bitmaps and HyperLogLog

#[test]
fn bitmaps_set_count_and_address_fields() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    for (offset, value, old) in [(7, 1, 0), (7, 0, 1), (7, 1, 0), (100, 1, 0)] {
        let previous: i64 = cmd("SETBIT")
            .arg("bits")
            .arg(offset)
            .arg(value)
            .query(&mut con)
            .unwrap();
        assert_eq!(previous, old, "SETBIT bits {offset} {value}");
    }
    let bit: i64 = cmd("GETBIT").arg("bits").arg(7).query(&mut con).unwrap();
    assert_eq!(bit, 1);
    let beyond: i64 = cmd("GETBIT").arg("bits").arg(1000).query(&mut con).unwrap();
    assert_eq!(beyond, 0);
    let len: i64 = cmd("STRLEN").arg("bits").query(&mut con).unwrap();
    assert_eq!(len, 13, "bit 100 lives in byte 12");
    let total: i64 = cmd("BITCOUNT").arg("bits").query(&mut con).unwrap();
    assert_eq!(total, 2);
    let first_byte: i64 = cmd("BITCOUNT")
        .arg("bits")
        .arg(0)
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(first_byte, 1);
    let bit_range: i64 = cmd("BITCOUNT")
        .arg("bits")
        .arg(&["8", "-1", "BIT"])
        .query(&mut con)
        .unwrap();
    assert_eq!(bit_range, 1);
    let not_a_bit = cmd("SETBIT").arg("bits").arg(2).arg(2).clone();
    assert_eq!(
        fails(&mut con, &not_a_bit),
        "ERR bit is not an integer or out of range"
    );
    let bad_offset = cmd("SETBIT").arg("bits").arg(-1).arg(1).clone();
    assert_eq!(
        fails(&mut con, &bad_offset),
        "ERR bit offset is not an integer or out of range"
    );
    let first_set: i64 = cmd("BITPOS").arg("bits").arg(1).query(&mut con).unwrap();
    assert_eq!(first_set, 7);
}

#[test]
fn bitfield_reads_writes_and_handles_overflow() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let set: Vec<i64> = cmd("BITFIELD")
        .arg("bf")
        .arg(&["SET", "i8", "0", "100", "SET", "i8", "8", "200"])
        .arg(&["GET", "i8", "0", "GET", "u8", "8"])
        .query(&mut con)
        .unwrap();
    assert_eq!(set, [0, 0, 100, 200]);
    let failed: Vec<Option<i64>> = cmd("BITFIELD")
        .arg("bf")
        .arg(&["OVERFLOW", "FAIL", "INCRBY", "u8", "0", "200"])
        .query(&mut con)
        .unwrap();
    assert_eq!(failed, [None]);
    let wrapped: Vec<i64> = cmd("BITFIELD")
        .arg("bf")
        .arg(&["OVERFLOW", "WRAP", "INCRBY", "u8", "0", "200"])
        .query(&mut con)
        .unwrap();
    assert_eq!(wrapped, [44], "(100 + 200) mod 256");
    let saturated: Vec<i64> = cmd("BITFIELD")
        .arg("bf")
        .arg(&["OVERFLOW", "SAT", "INCRBY", "i8", "0", "1000"])
        .query(&mut con)
        .unwrap();
    assert_eq!(saturated, [127]);
    let indexed: Vec<i64> = cmd("BITFIELD")
        .arg("bf")
        .arg(&["SET", "u8", "#1", "255", "GET", "u8", "8"])
        .query(&mut con)
        .unwrap();
    assert_eq!(indexed, [200, 255]);
    let whole: Vec<i64> = cmd("BITFIELD_RO")
        .arg("bf")
        .arg(&["GET", "i64", "0"])
        .query(&mut con)
        .unwrap();
    assert_eq!(whole, [0x7FFF_0000_0000_0000]);
    let bad_type = cmd("BITFIELD").arg("bf").arg(&["GET", "u64", "0"]).clone();
    assert_eq!(
        fails(&mut con, &bad_type),
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported \
         but i64 is."
    );
}

/// Redis reports "raw" for any string a command modified in place (SETBIT, APPEND, SETRANGE):
/// only a string created whole and short is "embstr".
#[test]
fn strings_modified_in_place_report_raw_encoding() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let _: i64 = cmd("SETBIT")
        .arg("bits")
        .arg(7)
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "bits"), "raw");
    let _: i64 = cmd("APPEND")
        .arg("text")
        .arg("abc")
        .query(&mut con)
        .unwrap();
    let _: i64 = cmd("APPEND")
        .arg("text")
        .arg("def")
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "text"), "raw");
}

#[test]
fn hyperloglog_counts_ten_thousand_items_within_one_percent() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let items: Vec<String> = (0..10_000).map(|i| format!("item:{i}")).collect();
    let changed: i64 = cmd("PFADD").arg("hll").arg(&items).query(&mut con).unwrap();
    assert_eq!(changed, 1);
    let count: i64 = cmd("PFCOUNT").arg("hll").query(&mut con).unwrap();
    assert!((count - 10_000).abs() <= 100, "estimate {count}");
    // Redis 7 keeps the same registers (MurmurHash64A, same layout), so the same estimate.
    assert_eq!(count, 10_083);
    let again: i64 = cmd("PFADD")
        .arg("hll")
        .arg("item:1")
        .query(&mut con)
        .unwrap();
    assert_eq!(again, 0, "a known item changes no register");
    let dense_len: i64 = cmd("STRLEN").arg("hll").query(&mut con).unwrap();
    assert_eq!(
        dense_len, 12_304,
        "16-byte header and 16384 six-bit registers"
    );

    let overlapping: Vec<String> = (5_000..15_000).map(|i| format!("item:{i}")).collect();
    let _: i64 = cmd("PFADD")
        .arg("other")
        .arg(&overlapping)
        .query(&mut con)
        .unwrap();
    let union: i64 = cmd("PFCOUNT")
        .arg("hll")
        .arg("other")
        .query(&mut con)
        .unwrap();
    assert!((union - 15_000).abs() <= 150, "union estimate {union}");
    let _: () = cmd("PFMERGE")
        .arg("merged")
        .arg("hll")
        .arg("other")
        .query(&mut con)
        .unwrap();
    let merged: i64 = cmd("PFCOUNT").arg("merged").query(&mut con).unwrap();
    assert_eq!(merged, union);
    let _: () = cmd("SET").arg("plain").arg("text").query(&mut con).unwrap();
    let not_hll = cmd("PFCOUNT").arg("plain").clone();
    assert_eq!(
        fails(&mut con, &not_hll),
        "WRONGTYPE Key is not a valid HyperLogLog string value."
    );
}

// ---------------------------------------------------------------------------------------------
// Protocol shapes, type errors and pipelining

#[test]
fn resp3_gives_maps_sets_pairs_and_doubles() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(b"HSET h f1 v1 f2 v2\r\nSADD s m\r\nZADD z 1.5 a 2 b inf c\r\n");
    assert_eq!(raw.line(), ":2\r\n");
    assert_eq!(raw.line(), ":1\r\n");
    assert_eq!(raw.line(), ":3\r\n");
    raw.send(b"HGETALL h\r\nZSCORE z a\r\n");
    assert_eq!(
        raw.reply(),
        "*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n"
    );
    assert_eq!(raw.reply(), "$3\r\n1.5\r\n");

    raw.send(b"HELLO 3\r\n");
    assert!(raw.reply().starts_with("%7\r\n"));
    raw.send(b"HGETALL h\r\nHGETALL none\r\nSMEMBERS s\r\nSMEMBERS none\r\n");
    assert_eq!(
        raw.reply(),
        "%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n"
    );
    assert_eq!(raw.reply(), "%0\r\n");
    assert_eq!(raw.reply(), "~1\r\n$1\r\nm\r\n");
    assert_eq!(raw.reply(), "~0\r\n");
    raw.send(b"ZRANGE z 0 -1 WITHSCORES\r\nZSCORE z a\r\nZSCORE z c\r\nZSCORE z none\r\n");
    assert_eq!(
        raw.reply(),
        "*3\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,inf\r\n"
    );
    assert_eq!(raw.reply(), ",1.5\r\n");
    assert_eq!(raw.reply(), ",inf\r\n");
    assert_eq!(raw.reply(), "_\r\n");
    raw.send(b"ZPOPMIN z 1\r\nZPOPMIN z\r\nZINCRBY z 1 c\r\n");
    assert_eq!(raw.reply(), "*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n");
    assert_eq!(
        raw.reply(),
        "*2\r\n$1\r\nb\r\n,2\r\n",
        "no COUNT: one flat pair"
    );
    assert_eq!(raw.reply(), ",inf\r\n");
}

#[test]
fn resp3_shapes_reach_a_real_client() {
    let server = TestServer::start(&[]);
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", server.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: i64 = cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let _: i64 = cmd("SADD").arg("s").arg("m").query(&mut con).unwrap();
    let _: i64 = cmd("ZADD")
        .arg("z")
        .arg(2.5)
        .arg("a")
        .query(&mut con)
        .unwrap();
    let hash: Value = cmd("HGETALL").arg("h").query(&mut con).unwrap();
    assert!(
        matches!(&hash, Value::Map(pairs) if pairs.len() == 1),
        "{hash:?}"
    );
    let set: Value = cmd("SMEMBERS").arg("s").query(&mut con).unwrap();
    assert!(
        matches!(&set, Value::Set(members) if members.len() == 1),
        "{set:?}"
    );
    let score: Value = cmd("ZSCORE").arg("z").arg("a").query(&mut con).unwrap();
    assert_eq!(score, Value::Double(2.5));
    let typed: HashMap<String, String> = cmd("HGETALL").arg("h").query(&mut con).unwrap();
    assert_eq!(typed.get("f").map(String::as_str), Some("v"));
    let pairs: Vec<(String, f64)> = with_scores(&mut con, "z");
    assert_eq!(pairs, [("a".to_owned(), 2.5)]);
}

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

#[test]
fn every_type_rejects_the_commands_of_the_others() {
    let server = TestServer::start(&[]);
    let mut raw = server.raw();
    raw.send(
        b"SET str v\r\nHSET hash f v\r\nRPUSH list a\r\nSADD set a\r\nZADD zset 1 a\r\n\
          PFADD hll a\r\n",
    );
    for expected in ["+OK\r\n", ":1\r\n", ":1\r\n", ":1\r\n", ":1\r\n", ":1\r\n"] {
        assert_eq!(raw.line(), expected);
    }
    let wrong: &[&str] = &[
        "HGET str f",
        "LPUSH str a",
        "SADD str a",
        "ZADD str 1 a",
        "GET hash",
        "LRANGE hash 0 -1",
        "SMEMBERS hash",
        "INCR list",
        "HSET list f v",
        "ZSCORE list a",
        "LPOS set a",
        "ZRANGE set 0 -1",
        "APPEND set x",
        "SISMEMBER zset a",
        "HGETALL zset",
        "SETBIT zset 1 1",
        "BITCOUNT hash",
        "LMPOP 2 nolist str LEFT",
        "SINTER set zset",
        "ZUNIONSTORE out 2 zset list",
        "HINCRBYFLOAT hll f 1",
        "PFADD hash a",
        "PFCOUNT zset",
    ];
    for command in wrong {
        raw.send(format!("{command}\r\n").as_bytes());
        assert_eq!(raw.line(), WRONGTYPE, "{command}");
    }
    // A string that is not a sketch gets HyperLogLog's own wording.
    raw.send(b"PFMERGE dest str\r\nTYPE str\r\nTYPE hll\r\nTYPE zset\r\nEXISTS out\r\n");
    assert_eq!(
        raw.line(),
        "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n"
    );
    assert_eq!(raw.line(), "+string\r\n");
    assert_eq!(raw.line(), "+string\r\n");
    assert_eq!(raw.line(), "+zset\r\n");
    assert_eq!(raw.line(), ":0\r\n", "a failed store writes nothing");
}

/// 500 rounds of five writes (one per type) then five reads of what they wrote.
#[test]
fn a_pipeline_of_five_thousand_mixed_type_commands_answers_in_order() {
    let server = TestServer::start(&[]);
    let mut con = server.client();
    let mut pipe = redis::pipe();
    let mut expected = Vec::new();
    for i in 0..500 {
        let bucket = i % 10;
        let member = format!("m{i}");
        pipe.cmd("HSET")
            .arg(format!("h:{bucket}"))
            .arg(&member)
            .arg(i);
        pipe.cmd("RPUSH").arg(format!("l:{bucket}")).arg(i);
        pipe.cmd("SADD").arg(format!("s:{bucket}")).arg(&member);
        pipe.cmd("ZADD")
            .arg(format!("z:{bucket}"))
            .arg(i)
            .arg(&member);
        pipe.cmd("SETBIT").arg("bits").arg(i).arg(1);
        let list_len = i / 10 + 1;
        expected.extend([
            "1".to_owned(),
            list_len.to_string(),
            "1".into(),
            "1".into(),
            "0".into(),
        ]);
        pipe.cmd("HGET").arg(format!("h:{bucket}")).arg(&member);
        pipe.cmd("LINDEX").arg(format!("l:{bucket}")).arg(-1);
        pipe.cmd("SISMEMBER")
            .arg(format!("s:{bucket}"))
            .arg(&member);
        pipe.cmd("ZSCORE").arg(format!("z:{bucket}")).arg(&member);
        pipe.cmd("GETBIT").arg("bits").arg(i);
        let value = i.to_string();
        expected.extend([value.clone(), value.clone(), "1".into(), value, "1".into()]);
    }
    let replies: Vec<String> = pipe.query(&mut con).unwrap();
    assert_eq!(replies.len(), 5_000);
    assert_eq!(replies, expected);
    let bits: i64 = cmd("BITCOUNT").arg("bits").query(&mut con).unwrap();
    assert_eq!(bits, 500);
    let cardinality: i64 = cmd("ZCARD").arg("z:3").query(&mut con).unwrap();
    assert_eq!(cardinality, 50);
    let keys: i64 = cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(keys, 41);
}

#[test]
fn encoding_thresholds_apply_from_start_up_and_config_set() {
    let server = TestServer::start(&[
        "--hash-max-ziplist-entries",
        "2",
        "--set-max-intset-entries",
        "1",
    ]);
    let mut con = server.client();
    let _: () = cmd("HSET")
        .arg("h")
        .arg(&["a", "1", "b", "2"])
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "h"), "listpack");
    let _: () = cmd("HSET")
        .arg("h")
        .arg(&["c", "3"])
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "h"), "hashtable");
    let _: () = cmd("SADD")
        .arg("s")
        .arg(&["1", "2"])
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "s"), "listpack");

    let _: () = cmd("CONFIG")
        .arg(&[
            "SET",
            "list-max-ziplist-size",
            "2",
            "zset-max-listpack-value",
            "3",
        ])
        .query(&mut con)
        .unwrap();
    let value: Vec<String> = cmd("CONFIG")
        .arg(&["GET", "list-max-listpack-size"])
        .query(&mut con)
        .unwrap();
    assert_eq!(value, ["list-max-listpack-size", "2"]);
    let _: () = cmd("RPUSH")
        .arg("l")
        .arg(&["a", "b"])
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "l"), "listpack");
    let _: () = cmd("RPUSH").arg("l").arg("c").query(&mut con).unwrap();
    assert_eq!(encoding(&mut con, "l"), "quicklist");
    let _: () = cmd("ZADD")
        .arg("z")
        .arg(&["1", "abcd"])
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding(&mut con, "z"), "skiplist");

    let refused = fails(
        &mut con,
        cmd("CONFIG").arg(&["SET", "set-max-listpack-entries", "-1"]),
    );
    assert_eq!(
        refused,
        "ERR CONFIG SET failed (possibly related to argument 'set-max-listpack-entries') - argument must be between 0 and 9223372036854775807 inclusive"
    );
}
