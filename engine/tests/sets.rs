//! The set command family through the engine's public entry point (`execute`), with a manual
//! clock: exact replies and RESP3 shapes, exact error lines, OBJECT ENCODING before and after
//! Redis 7.2's thresholds, key deletion when a set empties, WRONGTYPE, and the deterministic
//! form of every propagated write. A proptest runs random commands against a `BTreeSet` model.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use proptest::prelude::*;
use slotkv_engine::command::{CommandTable, Group, Handler, KeyRange};
use slotkv_engine::Reply;

impl Db {
    /// SADD of many members in one command.
    fn sadd_all(&self, key: &str, members: &[String]) -> Reply {
        let mut words = vec!["SADD", key];
        words.extend(members.iter().map(String::as_str));
        self.run_words(&words)
    }

    /// The members of the set at `key`, sorted (SMEMBERS must answer a RESP3 set).
    fn members(&self, key: &str) -> Vec<String> {
        match self.run(&format!("SMEMBERS {key}")) {
            Reply::Set(items) => sorted_texts(&items),
            other => panic!("SMEMBERS answered {other:?}"),
        }
    }
}

fn text_of(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(data) => String::from_utf8_lossy(data).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn sorted_texts(items: &[Reply]) -> Vec<String> {
    let mut texts: Vec<String> = items.iter().map(text_of).collect();
    texts.sort();
    texts
}

/// The sorted members of a RESP3 set reply.
fn set_texts(reply: Reply) -> Vec<String> {
    match reply {
        Reply::Set(items) => sorted_texts(&items),
        other => panic!("expected a set, got {other:?}"),
    }
}

fn array_texts(reply: Reply) -> Vec<String> {
    match reply {
        Reply::Array(items) => items.iter().map(text_of).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

fn numbers(range: std::ops::Range<i64>) -> Vec<String> {
    range.map(|n| n.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Command table

#[test]
fn table_describes_every_set_command_as_redis_does() {
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
        assert_eq!(spec.group, Group::Set, "{name} group");
        assert!(!spec.summary.is_empty(), "{name} summary");
        assert!(matches!(spec.handler, Handler::Engine(_)), "{name} handler");
    };
    let first = KeyRange::FIRST;
    let all = KeyRange::ALL;
    expect("sadd", -3, &["write", "denyoom", "fast"], first);
    expect("srem", -3, &["write", "fast"], first);
    expect("smembers", 2, &["readonly"], first);
    expect("sismember", 3, &["readonly", "fast"], first);
    expect("smismember", -3, &["readonly", "fast"], first);
    expect("scard", 2, &["readonly", "fast"], first);
    expect("spop", -2, &["write", "fast"], first);
    expect("srandmember", -2, &["readonly"], first);
    expect("smove", 4, &["write", "fast"], KeyRange::new(1, 2, 1));
    expect("sinter", -2, &["readonly"], all);
    expect(
        "sintercard",
        -3,
        &["readonly", "movablekeys"],
        KeyRange::NONE,
    );
    expect("sinterstore", -3, &["write", "denyoom"], all);
    expect("sunion", -2, &["readonly"], all);
    expect("sunionstore", -3, &["write", "denyoom"], all);
    expect("sdiff", -2, &["readonly"], all);
    expect("sdiffstore", -3, &["write", "denyoom"], all);
    expect("sscan", -3, &["readonly"], first);
}

#[test]
fn arity_is_checked_before_anything_runs() {
    let db = db();
    for (line, name) in [
        ("SADD s", "sadd"),
        ("SREM s", "srem"),
        ("SMEMBERS", "smembers"),
        ("SISMEMBER s", "sismember"),
        ("SMISMEMBER s", "smismember"),
        ("SPOP", "spop"),
        ("SMOVE a b", "smove"),
        ("SINTER", "sinter"),
        ("SINTERCARD 1", "sintercard"),
        ("SUNIONSTORE d", "sunionstore"),
        ("SSCAN s", "sscan"),
    ] {
        assert_eq!(
            db.run(line),
            err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            )),
            "{line}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD

#[test]
fn sadd_and_srem_count_changes_and_delete_the_emptied_key() {
    let db = db();
    assert_eq!(db.run("SADD s a b a c"), int(3));
    assert_eq!(db.run("SADD s a d"), int(1));
    assert_eq!(db.run("SADD s a"), int(0));
    assert_eq!(db.run("SCARD s"), int(4));
    assert_eq!(db.members("s"), strings(&["a", "b", "c", "d"]));
    assert_eq!(
        db.take_propagated(),
        ["SADD s a b a c", "SADD s a d"],
        "a SADD that adds nothing propagates nothing"
    );
    assert_eq!(db.run("SREM s a x"), int(1));
    assert_eq!(db.run("SREM s x"), int(0));
    assert_eq!(db.run("SREM missing a"), int(0));
    assert_eq!(db.run("SREM s b c d"), int(3));
    assert_eq!(db.run("EXISTS s"), int(0));
    assert_eq!(db.take_propagated(), ["SREM s a x", "SREM s b c d"]);
    assert_eq!(db.run("TYPE s"), Reply::Simple("none".to_owned()));
}

#[test]
fn membership_and_cardinality() {
    let db = db();
    db.run("SADD s 1 two 3");
    assert_eq!(db.run("SISMEMBER s two"), int(1));
    assert_eq!(db.run("SISMEMBER s 2"), int(0));
    assert_eq!(db.run("SISMEMBER missing two"), int(0));
    assert_eq!(
        db.run("SMISMEMBER s 1 x 3"),
        Reply::Array(vec![int(1), int(0), int(1)])
    );
    assert_eq!(
        db.run("SMISMEMBER missing a b"),
        Reply::Array(vec![int(0), int(0)])
    );
    assert_eq!(db.run("SCARD s"), int(3));
    assert_eq!(db.run("SCARD missing"), int(0));
    assert_eq!(db.run("SMEMBERS missing"), Reply::Set(vec![]));
}

#[test]
fn intset_members_come_back_in_ascending_order() {
    let db = db();
    db.run("SADD s 10 -3 7 0");
    assert_eq!(
        db.run("SMEMBERS s"),
        Reply::Set(vec![bulk("-3"), bulk("0"), bulk("7"), bulk("10")])
    );
}

#[test]
fn every_command_refuses_another_type() {
    let db = db();
    db.run("SET str x");
    db.run("SADD s a");
    for line in [
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SCARD str",
        "SPOP str",
        "SPOP str 0",
        "SPOP str 2",
        "SRANDMEMBER str",
        "SRANDMEMBER str 0",
        "SRANDMEMBER str -2",
        "SMOVE str s a",
        "SMOVE s str a",
        "SINTER s str",
        "SINTER missing str",
        "SINTERCARD 2 missing str",
        "SINTERSTORE d s str",
        "SUNION s str",
        "SUNIONSTORE d s str",
        "SDIFF s str",
        "SDIFF missing str",
        "SDIFFSTORE d s str",
        "SSCAN str 0",
    ] {
        assert_eq!(db.run(line), err(WRONGTYPE), "{line}");
    }
    assert_eq!(db.take_propagated(), ["SET str x", "SADD s a"]);
    assert_eq!(db.run("GET str"), bulk("x"));
}

// ---------------------------------------------------------------------------------------------
// Encodings

#[test]
fn intset_becomes_listpack_then_hashtable() {
    let db = db();
    db.run("SADD s 1 2 3");
    assert_eq!(db.encoding("s"), bulk("intset"));
    db.run("SADD s 007");
    assert_eq!(db.encoding("s"), bulk("listpack"), "007 is not canonical");
    let more: Vec<String> = (0..124).map(|n| format!("m{n}")).collect();
    db.sadd_all("s", &more);
    assert_eq!(db.run("SCARD s"), int(128));
    assert_eq!(db.encoding("s"), bulk("listpack"));
    db.run("SADD s one-more");
    assert_eq!(db.encoding("s"), bulk("hashtable"));
    // One way only: shrinking does not convert back.
    for member in more {
        db.run(&format!("SREM s {member}"));
    }
    assert_eq!(db.encoding("s"), bulk("hashtable"));
    assert_eq!(
        db.members("s"),
        strings(&["007", "1", "2", "3", "one-more"])
    );
}

#[test]
fn big_intsets_and_long_members_go_to_hashtable() {
    let db = db();
    db.sadd_all("ints", &numbers(0..512));
    assert_eq!(db.encoding("ints"), bulk("intset"));
    db.run("SADD ints 512");
    assert_eq!(db.encoding("ints"), bulk("hashtable"));

    db.sadd_all("wide", &numbers(0..128));
    assert_eq!(db.encoding("wide"), bulk("intset"));
    db.run("SADD wide x");
    assert_eq!(
        db.encoding("wide"),
        bulk("hashtable"),
        "too many for a listpack"
    );

    db.run(&format!("SADD long a {}", "v".repeat(64)));
    assert_eq!(db.encoding("long"), bulk("listpack"));
    db.run(&format!("SADD long {}", "v".repeat(65)));
    assert_eq!(db.encoding("long"), bulk("hashtable"));
    assert_eq!(db.run("SCARD long"), int(3));

    db.run(&format!("SADD fresh {}", "w".repeat(65)));
    assert_eq!(db.encoding("fresh"), bulk("hashtable"));
}

#[test]
fn a_big_sadd_picks_its_encoding_from_the_argument_count() {
    let db = db();
    // 129 arguments of which one is distinct: Redis sizes for the arguments.
    let repeated = vec!["a".to_owned(); 129];
    db.sadd_all("s", &repeated);
    assert_eq!(db.run("SCARD s"), int(1));
    assert_eq!(db.encoding("s"), bulk("hashtable"));
    db.run("SADD small a");
    db.sadd_all("small", &repeated);
    assert_eq!(db.encoding("small"), bulk("hashtable"));
    let ints = vec!["1".to_owned(); 513];
    db.sadd_all("i", &ints);
    assert_eq!(db.encoding("i"), bulk("hashtable"));
}

// ---------------------------------------------------------------------------------------------
// SPOP

#[test]
fn spop_without_count_pops_one_and_propagates_srem() {
    let db = db();
    assert_eq!(db.run("SPOP missing"), Reply::Nil);
    db.run("SADD s a b");
    db.take_propagated();
    let first = text_of(&db.run("SPOP s"));
    assert_eq!(db.take_propagated(), [format!("SREM s {first}")]);
    let second = text_of(&db.run("SPOP s"));
    let mut popped = vec![first, second.clone()];
    popped.sort();
    assert_eq!(popped, ["a", "b"]);
    assert_eq!(db.run("EXISTS s"), int(0));
    assert_eq!(
        db.take_propagated(),
        [format!("SREM s {second}")],
        "the last pop is still an SREM, which deletes the key on replicas too"
    );
}

#[test]
fn spop_with_count_replies_a_set_and_propagates_srem_or_del() {
    let db = db();
    assert_eq!(db.run("SPOP missing 3"), Reply::Set(vec![]));
    db.run("SADD s 1 2 3 4 5");
    db.take_propagated();
    assert_eq!(db.run("SPOP s 0"), Reply::Set(vec![]));
    let popped = set_texts(db.run("SPOP s 2"));
    assert_eq!(popped.len(), 2);
    let propagated = db.take_propagated();
    assert_eq!(propagated.len(), 1);
    let mut removed: Vec<&str> = propagated[0]
        .strip_prefix("SREM s ")
        .expect("an SREM")
        .split(' ')
        .collect();
    removed.sort_unstable();
    assert_eq!(removed, popped);
    let mut rest = set_texts(db.run("SPOP s 10"));
    assert_eq!(db.take_propagated(), ["DEL s"]);
    assert_eq!(db.run("EXISTS s"), int(0));
    rest.extend(popped);
    rest.sort();
    assert_eq!(rest, ["1", "2", "3", "4", "5"]);
}

#[test]
fn spop_propagates_big_pops_in_batches_of_1024() {
    let db = db();
    let members: Vec<String> = (0..3000).map(|n| format!("m{n}")).collect();
    db.sadd_all("s", &members);
    db.take_propagated();
    let popped = set_texts(db.run("SPOP s 2500"));
    assert_eq!(popped.len(), 2500);
    let batches = db.take_propagated();
    let sizes: Vec<usize> = batches
        .iter()
        .map(|line| line.split(' ').count() - 2)
        .collect();
    assert_eq!(sizes, [1024, 1024, 452]);
    assert_eq!(db.run("SCARD s"), int(500));
    let mut all = db.members("s");
    all.extend(popped);
    all.sort();
    let mut expected = members;
    expected.sort();
    assert_eq!(all, expected);
}

#[test]
fn spop_count_errors() {
    let db = db();
    db.run("SADD s a");
    let positive = "ERR value is out of range, must be positive";
    assert_eq!(db.run("SPOP s -1"), err(positive));
    assert_eq!(db.run("SPOP s x"), err(positive));
    assert_eq!(db.run("SPOP missing -1"), err(positive));
    assert_eq!(db.run("SPOP s 1 2"), err(SYNTAX));
    assert_eq!(db.run("SCARD s"), int(1));
}

// ---------------------------------------------------------------------------------------------
// SRANDMEMBER

#[test]
fn srandmember_shapes_and_counts() {
    let db = db();
    assert_eq!(db.run("SRANDMEMBER missing"), Reply::Nil);
    assert_eq!(db.run("SRANDMEMBER missing 3"), Reply::Array(vec![]));
    assert_eq!(db.run("SRANDMEMBER missing -3"), Reply::Array(vec![]));
    db.run("SADD s a b c");
    let one = text_of(&db.run("SRANDMEMBER s"));
    assert!(["a", "b", "c"].contains(&one.as_str()));
    assert_eq!(db.run("SRANDMEMBER s 0"), Reply::Array(vec![]));
    let mut two = array_texts(db.run("SRANDMEMBER s 2"));
    two.sort();
    two.dedup();
    assert_eq!(two.len(), 2);
    let mut all = array_texts(db.run("SRANDMEMBER s 10"));
    all.sort();
    assert_eq!(all, ["a", "b", "c"]);
    let repeats = array_texts(db.run("SRANDMEMBER s -10"));
    assert_eq!(repeats.len(), 10);
    assert!(repeats
        .iter()
        .all(|m| ["a", "b", "c"].contains(&m.as_str())));
    assert_eq!(db.run("SCARD s"), int(3));
    assert!(db.take_propagated().iter().all(|c| c.starts_with("SADD")));
}

#[test]
fn srandmember_distinct_samples_of_big_sets() {
    let db = db();
    let members: Vec<String> = (0..1000).map(|n| format!("m{n}")).collect();
    db.sadd_all("s", &members);
    for count in [5, 400, 999] {
        let mut sample = array_texts(db.run(&format!("SRANDMEMBER s {count}")));
        sample.sort();
        sample.dedup();
        assert_eq!(sample.len(), count);
        assert!(sample.iter().all(|m| members.contains(m)));
    }
}

#[test]
fn srandmember_count_errors_and_bounds() {
    let db = db();
    db.run("SADD s a");
    assert_eq!(db.run("SRANDMEMBER s x"), err(NOT_INTEGER));
    assert_eq!(db.run("SRANDMEMBER s 1 2"), err(SYNTAX));
    assert_eq!(
        db.run("SRANDMEMBER s -9223372036854775808"),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        db.run("SRANDMEMBER s -5000000000"),
        err("ERR value is out of range, a negative count may ask for at most 1048576 members")
    );
    assert_eq!(
        array_texts(db.run("SRANDMEMBER s 9223372036854775807")),
        ["a"]
    );
    db.engine.set_proto_max_bulk_len(100);
    assert_eq!(
        db.run("SRANDMEMBER s -101"),
        err("ERR SRANDMEMBER reply would exceed proto-max-bulk-len bytes")
    );
    assert_eq!(array_texts(db.run("SRANDMEMBER s -100")).len(), 100);
}

// ---------------------------------------------------------------------------------------------
// SMOVE

#[test]
fn smove_moves_creates_and_deletes() {
    let db = db();
    db.run("SADD src a b");
    assert_eq!(db.run("SMOVE src dst a"), int(1));
    assert_eq!(db.members("src"), ["b"]);
    assert_eq!(db.members("dst"), ["a"]);
    assert_eq!(db.encoding("dst"), bulk("listpack"));
    assert_eq!(db.run("SMOVE src dst x"), int(0));
    db.run("SADD dst b");
    assert_eq!(
        db.run("SMOVE src dst b"),
        int(1),
        "already in the destination"
    );
    assert_eq!(db.run("EXISTS src"), int(0));
    assert_eq!(db.members("dst"), ["a", "b"]);
    assert_eq!(db.run("SMOVE missing dst a"), int(0));
    assert_eq!(db.run("SMOVE dst dst a"), int(1));
    assert_eq!(db.run("SMOVE dst dst zz"), int(0));
    db.run("SADD nums 5");
    assert_eq!(db.run("SMOVE nums fresh 5"), int(1));
    assert_eq!(db.encoding("fresh"), bulk("intset"));
    assert_eq!(
        db.take_propagated()
            .into_iter()
            .filter(|c| c.starts_with("SMOVE"))
            .collect::<Vec<_>>(),
        ["SMOVE src dst a", "SMOVE src dst b", "SMOVE nums fresh 5"]
    );
}

#[test]
fn smove_type_checks_follow_redis() {
    let db = db();
    db.run("SET str x");
    db.run("SADD s a");
    assert_eq!(
        db.run("SMOVE missing str a"),
        int(0),
        "a missing source wins"
    );
    assert_eq!(db.run("SMOVE s str a"), err(WRONGTYPE));
    assert_eq!(db.run("SMOVE str s a"), err(WRONGTYPE));
    assert_eq!(db.members("s"), ["a"]);
}

// ---------------------------------------------------------------------------------------------
// SINTER, SUNION, SDIFF, SINTERCARD and the STORE forms

fn algebra_db() -> Db {
    let db = db();
    db.run("SADD a 1 2 3 x");
    db.run("SADD b 2 3 y");
    db.run("SADD c 3 x 2 z");
    db.take_propagated();
    db
}

#[test]
fn sinter_sunion_sdiff_reply_sets() {
    let db = algebra_db();
    assert_eq!(set_texts(db.run("SINTER a b c")), ["2", "3"]);
    assert_eq!(set_texts(db.run("SINTER a")), ["1", "2", "3", "x"]);
    assert_eq!(db.run("SINTER a missing"), Reply::Set(vec![]));
    assert_eq!(
        set_texts(db.run("SUNION a b missing")),
        ["1", "2", "3", "x", "y"]
    );
    assert_eq!(db.run("SUNION missing"), Reply::Set(vec![]));
    assert_eq!(set_texts(db.run("SDIFF a b missing")), ["1", "x"]);
    assert_eq!(set_texts(db.run("SDIFF a c")), ["1"]);
    assert_eq!(db.run("SDIFF a a"), Reply::Set(vec![]));
    assert_eq!(db.run("SDIFF missing a"), Reply::Set(vec![]));
    assert!(db.take_propagated().is_empty());
}

#[test]
fn sintercard_counts_with_limit() {
    let db = algebra_db();
    assert_eq!(db.run("SINTERCARD 3 a b c"), int(2));
    assert_eq!(db.run("SINTERCARD 2 a c LIMIT 2"), int(2));
    assert_eq!(db.run("SINTERCARD 2 a c LIMIT 0"), int(3));
    assert_eq!(db.run("SINTERCARD 2 a c limit 1"), int(1));
    assert_eq!(db.run("SINTERCARD 2 a missing"), int(0));
    assert_eq!(
        db.run("SINTERCARD 0 a"),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        db.run("SINTERCARD 3 a b"),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        db.run("SINTERCARD 1 a LIMIT -1"),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(db.run("SINTERCARD 1 a LIMIT"), err(SYNTAX));
    assert_eq!(db.run("SINTERCARD 1 a b"), err(SYNTAX));
}

#[test]
fn store_forms_overwrite_any_type_and_propagate_as_written() {
    let db = algebra_db();
    db.run("SET dst old");
    db.run("EXPIRE dst 100");
    db.take_propagated();
    assert_eq!(db.run("SINTERSTORE dst a b c"), int(2));
    assert_eq!(db.members("dst"), ["2", "3"]);
    assert_eq!(db.encoding("dst"), bulk("intset"));
    assert_eq!(
        db.run("TTL dst"),
        int(-1),
        "the destination is replaced, TTL too"
    );
    assert_eq!(db.run("SUNIONSTORE dst a b"), int(5));
    assert_eq!(db.encoding("dst"), bulk("listpack"));
    assert_eq!(db.run("SDIFFSTORE dst a b"), int(2));
    assert_eq!(db.members("dst"), ["1", "x"]);
    assert_eq!(
        db.take_propagated(),
        [
            "SINTERSTORE dst a b c",
            "SUNIONSTORE dst a b",
            "SDIFFSTORE dst a b"
        ]
    );
}

#[test]
fn store_forms_delete_the_destination_on_an_empty_result() {
    let db = algebra_db();
    db.run("SET dst old");
    db.take_propagated();
    assert_eq!(db.run("SINTERSTORE dst a missing"), int(0));
    assert_eq!(db.run("EXISTS dst"), int(0));
    assert_eq!(db.take_propagated(), ["SINTERSTORE dst a missing"]);
    assert_eq!(db.run("SDIFFSTORE dst a a"), int(0));
    assert_eq!(db.run("SUNIONSTORE dst missing"), int(0));
    assert!(
        db.take_propagated().is_empty(),
        "nothing changed, nothing propagated"
    );
}

#[test]
fn store_forms_may_read_their_destination() {
    let db = algebra_db();
    assert_eq!(db.run("SUNIONSTORE a a b"), int(5));
    assert_eq!(db.members("a"), ["1", "2", "3", "x", "y"]);
    assert_eq!(db.run("SINTERSTORE a a c"), int(3));
    assert_eq!(db.members("a"), ["2", "3", "x"]);
}

#[test]
fn store_results_take_the_smallest_encoding() {
    let db = db();
    let strings: Vec<String> = (0..200).map(|n| format!("s{n}")).collect();
    let mut mixed = strings.clone();
    mixed.extend(numbers(0..10));
    db.sadd_all("big", &mixed);
    db.sadd_all("ints", &numbers(0..10));
    assert_eq!(db.encoding("big"), bulk("hashtable"));
    assert_eq!(db.run("SINTERSTORE i big ints"), int(10));
    assert_eq!(db.encoding("i"), bulk("intset"));
    assert_eq!(db.run("SDIFFSTORE d big ints"), int(200));
    assert_eq!(db.encoding("d"), bulk("hashtable"));
    db.sadd_all("most", &strings[..150]);
    assert_eq!(db.run("SDIFFSTORE d big most ints"), int(50));
    assert_eq!(db.encoding("d"), bulk("listpack"));
    assert_eq!(db.run("SUNIONSTORE u ints"), int(10));
    assert_eq!(db.encoding("u"), bulk("intset"));
}

#[test]
fn cross_slot_keys_lock_and_combine() {
    // Keys in different slots exercise the multi-slot lock path.
    let db = db();
    db.run("SADD {x}1 a b c");
    db.run("SADD {y}2 b c d");
    db.run("SADD {z}3 c d e");
    assert_eq!(set_texts(db.run("SINTER {x}1 {y}2 {z}3")), ["c"]);
    assert_eq!(db.run("SUNIONSTORE {w}4 {x}1 {z}3"), int(5));
    assert_eq!(db.run("SMOVE {x}1 {z}3 a"), int(1));
    assert_eq!(db.members("{z}3"), ["a", "c", "d", "e"]);
}

// ---------------------------------------------------------------------------------------------
// SSCAN

/// Every member SSCAN returns over a whole iteration, and the number of steps taken.
fn sscan_all(db: &Db, key: &str, options: &str) -> (Vec<String>, usize) {
    let mut cursor = "0".to_owned();
    let mut seen = Vec::new();
    let mut steps = 0;
    loop {
        let reply = db.run(&format!("SSCAN {key} {cursor} {options}"));
        steps += 1;
        let Reply::Array(parts) = reply else {
            panic!("bad reply {reply:?}");
        };
        let [next, Reply::Array(members)] = parts.as_slice() else {
            panic!("bad reply {parts:?}");
        };
        seen.extend(members.iter().map(text_of));
        cursor = text_of(next);
        if cursor == "0" {
            return (seen, steps);
        }
    }
}

#[test]
fn sscan_walks_compact_sets_in_one_step() {
    let db = db();
    db.run("SADD s 1 2 3");
    assert_eq!(
        db.run("SSCAN s 0"),
        Reply::Array(vec![
            bulk("0"),
            Reply::Array(vec![bulk("1"), bulk("2"), bulk("3")])
        ])
    );
    assert_eq!(
        db.run("SSCAN s 0 MATCH 2*"),
        Reply::Array(vec![bulk("0"), Reply::Array(vec![bulk("2")])])
    );
    assert_eq!(
        db.run("SSCAN missing 0"),
        Reply::Array(vec![bulk("0"), Reply::Array(vec![])])
    );
}

#[test]
fn sscan_walks_hashtables_with_cursors() {
    let db = db();
    let members: Vec<String> = (0..1000).map(|n| format!("m{n}")).collect();
    db.sadd_all("s", &members);
    let (mut seen, steps) = sscan_all(&db, "s", "COUNT 20");
    seen.sort();
    seen.dedup();
    let mut expected = members;
    expected.sort();
    assert_eq!(seen, expected);
    assert!(steps > 10, "a big set takes several steps ({steps})");
    let (matched, _) = sscan_all(&db, "s", "MATCH m99*");
    let mut matched = matched;
    matched.sort();
    matched.dedup();
    assert_eq!(
        matched,
        ["m99", "m990", "m991", "m992", "m993", "m994", "m995", "m996", "m997", "m998", "m999"]
    );
}

#[test]
fn sscan_errors() {
    let db = db();
    db.run("SADD s a");
    assert_eq!(db.run("SSCAN s x"), err("ERR invalid cursor"));
    assert_eq!(db.run("SSCAN missing x"), err("ERR invalid cursor"));
    assert_eq!(db.run("SSCAN s 0 COUNT 0"), err(SYNTAX));
    assert_eq!(db.run("SSCAN s 0 FOO"), err(SYNTAX));
    assert_eq!(db.run("SSCAN s 0 COUNT x"), err(NOT_INTEGER));
    assert_eq!(
        db.run("SSCAN missing 0 COUNT 0"),
        Reply::Array(vec![bulk("0"), Reply::Array(vec![])]),
        "Redis reads the options only for an existing key"
    );
}

// ---------------------------------------------------------------------------------------------
// Expiry

#[test]
fn expired_sets_read_as_missing_and_propagate_del() {
    let db = db();
    db.run("SADD s a b");
    db.run("SADD t b");
    db.run("PEXPIRE s 10");
    db.take_propagated();
    db.clock.advance(10);
    assert_eq!(db.run("SINTER t s"), Reply::Set(vec![]));
    assert_eq!(db.take_propagated(), ["DEL s"]);
    assert_eq!(db.run("SADD s c"), int(1));
    assert_eq!(db.members("s"), ["c"]);
    assert_eq!(db.run("TTL s"), int(-1));
}

// ---------------------------------------------------------------------------------------------
// Model test

#[derive(Debug, Clone)]
enum Op {
    Add(usize, Vec<String>),
    Remove(usize, Vec<String>),
    IsMember(usize, String),
    Pop(usize, usize),
    Move(usize, usize, String),
    Store(&'static str, usize, usize, usize),
}

const MODEL_KEYS: [&str; 3] = ["{k}a", "{k}b", "{k}c"];

/// Members that hit every representation: small integers, non-canonical integer texts,
/// short words and words too long for a listpack.
fn member() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        (-20i64..20).prop_map(|n| n.to_string()),
        Just("007".to_owned()),
        "[a-d]{1,2}",
        (0..4usize).prop_map(|n| format!("{}{n}", "L".repeat(70))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..MODEL_KEYS.len();
    let members = prop::collection::vec(member(), 1..12);
    prop_oneof![
        4 => (key.clone(), members.clone()).prop_map(|(k, m)| Op::Add(k, m)),
        2 => (key.clone(), members).prop_map(|(k, m)| Op::Remove(k, m)),
        1 => (key.clone(), member()).prop_map(|(k, m)| Op::IsMember(k, m)),
        1 => (key.clone(), 0..6usize).prop_map(|(k, n)| Op::Pop(k, n)),
        1 => (key.clone(), key.clone(), member()).prop_map(|(a, b, m)| Op::Move(a, b, m)),
        1 => (
            prop::sample::select(vec!["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
            key.clone(),
            key.clone(),
            key
        )
            .prop_map(|(c, d, a, b)| Op::Store(c, d, a, b)),
    ]
}

type Model = BTreeMap<usize, BTreeSet<String>>;

/// Applies `op` to the engine and the model; asserts the replies agree.
fn apply(db: &Db, model: &mut Model, op: &Op) {
    match op {
        Op::Add(k, members) => {
            let set = model.entry(*k).or_default();
            let added = members.iter().filter(|m| set.insert((*m).clone())).count();
            assert_eq!(db.sadd_all(MODEL_KEYS[*k], members), int(added as i64));
        }
        Op::Remove(k, members) => {
            let set = model.entry(*k).or_default();
            let removed = members.iter().filter(|m| set.remove(*m)).count();
            let mut words = vec!["SREM", MODEL_KEYS[*k]];
            words.extend(members.iter().map(String::as_str));
            assert_eq!(db.run_words(&words), int(removed as i64));
        }
        Op::IsMember(k, m) => {
            let expected = model.get(k).is_some_and(|s| s.contains(m));
            let reply = db.run_words(&["SISMEMBER", MODEL_KEYS[*k], m]);
            assert_eq!(reply, int(i64::from(expected)));
        }
        Op::Pop(k, n) => {
            let popped = set_texts(db.run(&format!("SPOP {} {n}", MODEL_KEYS[*k])));
            let set = model.entry(*k).or_default();
            assert_eq!(popped.len(), (*n).min(set.len()));
            for m in &popped {
                assert!(set.remove(m), "popped {m}, not a member");
            }
        }
        Op::Move(a, b, m) => {
            let present = model.get(a).is_some_and(|s| s.contains(m));
            let reply = db.run_words(&["SMOVE", MODEL_KEYS[*a], MODEL_KEYS[*b], m]);
            assert_eq!(reply, int(i64::from(present)));
            if present && a != b {
                model.entry(*a).or_default().remove(m);
                model.entry(*b).or_default().insert(m.clone());
            }
        }
        Op::Store(command, d, a, b) => {
            let empty = BTreeSet::new();
            let left = model.get(a).unwrap_or(&empty);
            let right = model.get(b).unwrap_or(&empty);
            let result: BTreeSet<String> = match *command {
                "SINTERSTORE" => left.intersection(right).cloned().collect(),
                "SUNIONSTORE" => left.union(right).cloned().collect(),
                _ => left.difference(right).cloned().collect(),
            };
            let line = format!(
                "{command} {} {} {}",
                MODEL_KEYS[*d], MODEL_KEYS[*a], MODEL_KEYS[*b]
            );
            assert_eq!(db.run(&line), int(result.len() as i64));
            model.insert(*d, result);
        }
    }
    model.retain(|_, set| !set.is_empty());
}

/// The encoding must be one Redis could report for these members.
fn check_encoding(db: &Db, key: &str, members: &BTreeSet<String>) {
    let encoding = text_of(&db.encoding(key));
    let canonical_ints = members
        .iter()
        .all(|m| m.parse::<i64>().is_ok_and(|n| n.to_string() == *m));
    let fits_listpack = members.len() <= 128 && members.iter().all(|m| m.len() <= 64);
    match encoding.as_str() {
        "intset" => assert!(canonical_ints && members.len() <= 512, "{members:?}"),
        "listpack" => assert!(fits_listpack, "{members:?}"),
        "hashtable" => {}
        other => panic!("unknown encoding {other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sets_behave_like_a_btreeset_model(ops in prop::collection::vec(op(), 1..60)) {
        let db = db();
        let mut model = Model::new();
        for op in &ops {
            apply(&db, &mut model, op);
            for (k, key) in MODEL_KEYS.iter().enumerate() {
                match model.get(&k) {
                    Some(set) => {
                        let expected: Vec<String> = set.iter().cloned().collect();
                        prop_assert_eq!(db.members(key), expected);
                        prop_assert_eq!(db.run(&format!("SCARD {key}")), int(set.len() as i64));
                        check_encoding(&db, key, set);
                    }
                    None => prop_assert_eq!(db.run(&format!("EXISTS {key}")), int(0)),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keyspace notifications

#[test]
fn set_changes_report_redis_keyspace_events() {
    let db = db();
    let events = db.record_events();
    db.given(&[
        "SADD s a b c",
        "SADD s a",
        "SREM s zz",
        "SREM s a",
        "SMOVE s t b",
        "SADD u c",
        "SMOVE s u c",
        "SMOVE s u c",
        "SMOVE t t b",
        "SADD p x y z",
        "SPOP p",
        "SPOP p 5",
        "SPOP p 5",
        "SINTERSTORE d t u",
        "SUNIONSTORE d t u",
        "SINTERSTORE d t u",
        "SDIFFSTORE d t u",
        "SISMEMBER u c",
    ]);
    let expected = [
        "sadd s",
        "srem s",
        "srem s",
        "sadd t",
        "sadd u",
        // u already holds c: the source loses it, the destination is unchanged.
        "srem s",
        "del s",
        "sadd p",
        "spop p",
        "spop p",
        "del p",
        // An empty result reports `del` only when it deleted an existing destination.
        "sunionstore d",
        "del d",
        "sdiffstore d",
    ];
    assert_eq!(events.lines(), expected);
}
