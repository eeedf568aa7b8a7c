//! The list command family through the engine's `execute`, with a manual clock: exact replies
//! (nil, null array and empty array are different answers), exact error lines, encodings on
//! both sides of the listpack threshold, key deletion when a list empties, WRONGTYPE, and the
//! form of every propagated write.

mod common;

use bytes::Bytes;
use common::*;
use slotkv_engine::command::{CommandTable, Group, Handler, KeyRange};
use slotkv_engine::Reply;

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

// ---------------------------------------------------------------------------------------------
// Command table

#[test]
fn table_describes_every_list_command_as_redis_does() {
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
        assert_eq!(spec.group, Group::List, "{name} group");
        assert!(!spec.summary.is_empty(), "{name} summary");
        assert!(matches!(spec.handler, Handler::Engine(_)), "{name} handler");
    };
    let first = KeyRange::FIRST;
    let two = KeyRange::new(1, 2, 1);
    for name in ["lpush", "rpush", "lpushx", "rpushx"] {
        expect(name, -3, &["write", "denyoom", "fast"], first);
    }
    for name in ["lpop", "rpop"] {
        expect(name, -2, &["write", "fast"], first);
    }
    expect("llen", 2, &["readonly", "fast"], first);
    expect("lrange", 4, &["readonly"], first);
    expect("lindex", 3, &["readonly"], first);
    expect("lset", 4, &["write", "denyoom"], first);
    expect("linsert", 5, &["write", "denyoom"], first);
    expect("lrem", 4, &["write"], first);
    expect("ltrim", 4, &["write"], first);
    expect("lpos", -3, &["readonly"], first);
    expect("lmove", 5, &["write", "denyoom"], two);
    expect("rpoplpush", 3, &["write", "denyoom"], two);
    // Keys found through numkeys: the legacy triple is 0 0 0, flagged movablekeys.
    expect("lmpop", -4, &["write", "movablekeys"], KeyRange::NONE);
}

#[test]
fn arity_errors_name_the_command() {
    let db = db();
    assert_eq!(
        db.run("LPUSH k"),
        err("ERR wrong number of arguments for 'lpush' command")
    );
    assert_eq!(
        db.run("LPOP k 1 2"),
        err("ERR wrong number of arguments for 'lpop' command")
    );
    assert_eq!(
        db.run("rpop k abc extra"),
        err("ERR wrong number of arguments for 'rpop' command")
    );
    assert_eq!(
        db.run("LMPOP 1 k"),
        err("ERR wrong number of arguments for 'lmpop' command")
    );
}

// ---------------------------------------------------------------------------------------------
// Pushes

#[test]
fn pushes_add_at_either_end_in_argument_order() {
    let db = db();
    assert_eq!(db.run("LPUSH k a b c"), int(3));
    assert_eq!(db.run("RPUSH k x y"), int(5));
    assert_eq!(db.elements("k"), bulks(&["c", "b", "a", "x", "y"]));
    assert_eq!(db.run("TYPE k"), Reply::Simple("list".to_owned()));
    assert_eq!(db.encoding("k"), bulk("listpack"));
    assert_eq!(db.take_propagated(), ["LPUSH k a b c", "RPUSH k x y"]);
}

#[test]
fn x_pushes_need_an_existing_list() {
    let db = db();
    assert_eq!(db.run("LPUSHX k a"), int(0));
    assert_eq!(db.run("RPUSHX k a b"), int(0));
    assert!(!db.exists("k"));
    assert_eq!(db.take_propagated(), Vec::<String>::new());
    db.run("RPUSH k m");
    assert_eq!(db.run("LPUSHX k a b"), int(3));
    assert_eq!(db.run("RPUSHX k z"), int(4));
    assert_eq!(db.elements("k"), bulks(&["b", "a", "m", "z"]));
    assert_eq!(
        db.take_propagated(),
        ["RPUSH k m", "LPUSHX k a b", "RPUSHX k z"]
    );
}

#[test]
fn elements_are_binary_safe() {
    let db = db();
    let odd: &[u8] = b"\x00\r\n\xff";
    assert_eq!(db.run_args(&[b"RPUSH", b"k", odd, b""]), int(2));
    assert_eq!(
        db.run_args(&[b"LRANGE", b"k", b"0", b"-1"]),
        Reply::Array(vec![Reply::Bulk(Bytes::from_static(odd)), bulk("")])
    );
    assert_eq!(db.run_args(&[b"LPOS", b"k", odd]), int(0));
    assert_eq!(db.run_args(&[b"LREM", b"k", b"0", odd]), int(1));
    assert_eq!(db.run("LLEN k"), int(1));
}

#[test]
fn every_command_refuses_other_types() {
    let db = db();
    db.run("SET s v");
    for line in [
        "LPUSH s a",
        "RPUSH s a",
        "LPUSHX s a",
        "RPUSHX s a",
        "LPOP s",
        "RPOP s 2",
        "LPOP s 0",
        "LLEN s",
        "LRANGE s 0 -1",
        "LINDEX s 0",
        "LINDEX s notanumber",
        "LSET s 0 x",
        "LINSERT s BEFORE a b",
        "LREM s 0 a",
        "LTRIM s 0 1",
        "LPOS s a",
        "LMOVE s d LEFT RIGHT",
        "RPOPLPUSH s d",
        "LMPOP 2 missing s LEFT",
    ] {
        assert_eq!(db.run(line), err(WRONGTYPE), "{line}");
    }
    assert_eq!(db.run("GET s"), bulk("v"));
    assert_eq!(db.take_propagated(), ["SET s v"]);
}

// ---------------------------------------------------------------------------------------------
// Pops

#[test]
fn pops_without_count_reply_with_one_element_or_nil() {
    let db = db();
    assert_eq!(db.run("LPOP k"), Reply::Nil);
    assert_eq!(db.run("RPOP k"), Reply::Nil);
    db.run("RPUSH k a b c");
    assert_eq!(db.run("LPOP k"), bulk("a"));
    assert_eq!(db.run("RPOP k"), bulk("c"));
    assert_eq!(db.run("LPOP k"), bulk("b"));
    assert!(!db.exists("k"), "the last pop deletes the key");
    assert_eq!(db.run("LPOP k"), Reply::Nil);
    assert_eq!(
        db.take_propagated(),
        ["RPUSH k a b c", "LPOP k", "RPOP k", "LPOP k"]
    );
}

#[test]
fn pops_with_count_reply_with_arrays() {
    let db = db();
    // A missing key is the null array, whatever the count, 0 included.
    assert_eq!(db.run("LPOP k 2"), Reply::NilArray);
    assert_eq!(db.run("RPOP k 0"), Reply::NilArray);
    db.run("RPUSH k a b c d e");
    // A count of 0 on an existing list is an empty array and changes nothing.
    assert_eq!(db.run("LPOP k 0"), empty());
    assert_eq!(db.run("LPOP k 2"), bulks(&["a", "b"]));
    // From the right, elements come tail first.
    assert_eq!(db.run("RPOP k 2"), bulks(&["e", "d"]));
    assert_eq!(db.run("RPOP k 1"), bulks(&["c"]));
    assert!(!db.exists("k"));
    db.run("RPUSH k x y");
    assert_eq!(db.run("LPOP k 5000000000"), bulks(&["x", "y"]));
    assert_eq!(
        db.take_propagated(),
        [
            "RPUSH k a b c d e",
            "LPOP k 2",
            "RPOP k 2",
            "RPOP k 1",
            "RPUSH k x y",
            "LPOP k 5000000000"
        ]
    );
}

#[test]
fn pop_counts_must_be_non_negative_integers() {
    let db = db();
    db.run("RPUSH k a");
    for count in ["-1", "abc", "1.5", "99999999999999999999"] {
        assert_eq!(
            db.run(&format!("LPOP k {count}")),
            err(NOT_POSITIVE),
            "{count}"
        );
    }
    // The count is checked before the key.
    assert_eq!(db.run("RPOP missing -1"), err(NOT_POSITIVE));
    assert_eq!(db.run("LLEN k"), int(1));
}

#[test]
fn lmpop_pops_from_the_first_non_empty_list() {
    let db = db();
    assert_eq!(db.run("LMPOP 2 a b LEFT"), Reply::NilArray);
    db.run("RPUSH b 1 2 3");
    db.run("RPUSH c x");
    assert_eq!(
        db.run("LMPOP 3 a b c LEFT"),
        Reply::Array(vec![bulk("b"), bulks(&["1"])])
    );
    assert_eq!(
        db.run("lmpop 2 a b right COUNT 10"),
        Reply::Array(vec![bulk("b"), bulks(&["3", "2"])])
    );
    assert!(!db.exists("b"));
    assert_eq!(
        db.run("LMPOP 2 b c RIGHT COUNT 1"),
        Reply::Array(vec![bulk("c"), bulks(&["x"])])
    );
    // Redis propagates LMPOP as LPOP/RPOP with the number actually popped.
    assert_eq!(
        db.take_propagated(),
        [
            "RPUSH b 1 2 3",
            "RPUSH c x",
            "LPOP b 1",
            "RPOP b 2",
            "RPOP c 1"
        ]
    );
}

#[test]
fn lmpop_checks_types_only_up_to_the_first_list() {
    let db = db();
    db.run("RPUSH l a");
    db.run("SET s v");
    assert_eq!(
        db.run("LMPOP 2 l s LEFT"),
        Reply::Array(vec![bulk("l"), bulks(&["a"])])
    );
    assert_eq!(db.run("LMPOP 2 l s LEFT"), err(WRONGTYPE));
}

#[test]
fn lmpop_errors_are_redis_words() {
    let db = db();
    let numkeys = err("ERR numkeys should be greater than 0");
    let count = err("ERR count should be greater than 0");
    assert_eq!(db.run("LMPOP 0 a LEFT"), numkeys);
    assert_eq!(db.run("LMPOP x a LEFT"), numkeys);
    assert_eq!(db.run("LMPOP 3 a LEFT"), err(SYNTAX));
    assert_eq!(db.run("LMPOP 1 a UP"), err(SYNTAX));
    assert_eq!(db.run("LMPOP 1 a LEFT COUNT 0"), count);
    assert_eq!(db.run("LMPOP 1 a LEFT COUNT -3"), count);
    assert_eq!(db.run("LMPOP 1 a LEFT COUNT 1 COUNT 1"), err(SYNTAX));
    assert_eq!(db.run("LMPOP 1 a LEFT EXTRA"), err(SYNTAX));
}

// ---------------------------------------------------------------------------------------------
// Reads

#[test]
fn llen_counts_elements() {
    let db = db();
    assert_eq!(db.run("LLEN k"), int(0));
    db.run("RPUSH k a b");
    assert_eq!(db.run("LLEN k"), int(2));
}

#[test]
fn lrange_clamps_its_indexes() {
    let db = db();
    assert_eq!(db.run("LRANGE k 0 -1"), empty());
    // Indexes are parsed before the key is looked up.
    assert_eq!(db.run("LRANGE k a 1"), err(NOT_INTEGER));
    db.run("RPUSH k a b c d e");
    assert_eq!(db.run("LRANGE k 1 2"), bulks(&["b", "c"]));
    assert_eq!(db.run("LRANGE k -2 100"), bulks(&["d", "e"]));
    assert_eq!(db.run("LRANGE k -100 0"), bulks(&["a"]));
    assert_eq!(db.run("LRANGE k 3 1"), empty());
    assert_eq!(db.run("LRANGE k 5 10"), empty());
    assert_eq!(db.run("LRANGE k 0 -6"), empty());
    assert_eq!(
        db.run("LRANGE k -9223372036854775808 9223372036854775807"),
        bulks(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(db.run("LRANGE k 0 1.5"), err(NOT_INTEGER));
}

#[test]
fn lindex_reads_from_either_end() {
    let db = db();
    // The key is looked up before the index is parsed.
    assert_eq!(db.run("LINDEX k notanumber"), Reply::Nil);
    db.run("RPUSH k a b c");
    assert_eq!(db.run("LINDEX k 0"), bulk("a"));
    assert_eq!(db.run("LINDEX k -1"), bulk("c"));
    assert_eq!(db.run("LINDEX k -3"), bulk("a"));
    assert_eq!(db.run("LINDEX k 3"), Reply::Nil);
    assert_eq!(db.run("LINDEX k -4"), Reply::Nil);
    assert_eq!(db.run("LINDEX k notanumber"), err(NOT_INTEGER));
}

#[test]
fn lpos_finds_matches_by_rank_count_and_maxlen() {
    let db = db();
    assert_eq!(db.run("LPOS k c"), Reply::Nil);
    assert_eq!(db.run("LPOS k c COUNT 0"), empty());
    db.run("RPUSH k a b c 1 2 3 c c");
    assert_eq!(db.run("LPOS k c"), int(2));
    assert_eq!(db.run("LPOS k c RANK 2"), int(6));
    assert_eq!(db.run("LPOS k c RANK -1"), int(7));
    assert_eq!(db.run("LPOS k c RANK 4"), Reply::Nil);
    assert_eq!(db.run("LPOS k c COUNT 2"), ints(&[2, 6]));
    assert_eq!(db.run("LPOS k c COUNT 0"), ints(&[2, 6, 7]));
    assert_eq!(db.run("LPOS k c RANK -1 COUNT 2"), ints(&[7, 6]));
    assert_eq!(db.run("LPOS k c RANK 2 COUNT 0"), ints(&[6, 7]));
    assert_eq!(db.run("LPOS k z COUNT 3"), empty());
    assert_eq!(db.run("LPOS k z"), Reply::Nil);
    // MAXLEN bounds the comparisons, from whichever end the scan starts.
    assert_eq!(db.run("LPOS k c MAXLEN 2"), Reply::Nil);
    assert_eq!(db.run("LPOS k c MAXLEN 3"), int(2));
    assert_eq!(db.run("LPOS k c COUNT 0 MAXLEN 7"), ints(&[2, 6]));
    assert_eq!(db.run("LPOS k c RANK -1 COUNT 0 MAXLEN 3"), ints(&[7, 6]));
}

#[test]
fn lpos_errors_are_redis_words() {
    let db = db();
    db.run("RPUSH k a");
    assert_eq!(
        db.run("LPOS k a RANK 0"),
        err(
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second \
             ... or use negative to start from the end of the list"
        )
    );
    assert_eq!(
        db.run("LPOS k a COUNT -1"),
        err("ERR COUNT can't be negative")
    );
    assert_eq!(
        db.run("LPOS k a MAXLEN -1"),
        err("ERR MAXLEN can't be negative")
    );
    assert_eq!(db.run("LPOS k a RANK x"), err(NOT_INTEGER));
    assert_eq!(db.run("LPOS k a COUNT"), err(SYNTAX));
    assert_eq!(db.run("LPOS k a FIRST 1"), err(SYNTAX));
    // Options are checked before the key.
    assert_eq!(
        db.run("LPOS missing a MAXLEN -5"),
        err("ERR MAXLEN can't be negative")
    );
}

// ---------------------------------------------------------------------------------------------
// Updates in place

#[test]
fn lset_replaces_by_index() {
    let db = db();
    assert_eq!(db.run("LSET k 0 x"), err("ERR no such key"));
    db.run("RPUSH k a b c");
    assert_eq!(db.run("LSET k 0 x"), Reply::Ok);
    assert_eq!(db.run("LSET k -1 z"), Reply::Ok);
    assert_eq!(db.run("LSET k 3 w"), err("ERR index out of range"));
    assert_eq!(db.run("LSET k -4 w"), err("ERR index out of range"));
    assert_eq!(db.run("LSET k one w"), err(NOT_INTEGER));
    assert_eq!(db.elements("k"), bulks(&["x", "b", "z"]));
    assert_eq!(
        db.take_propagated(),
        ["RPUSH k a b c", "LSET k 0 x", "LSET k -1 z"]
    );
}

#[test]
fn linsert_places_around_the_first_pivot() {
    let db = db();
    assert_eq!(db.run("LINSERT k BEFORE a x"), int(0));
    assert_eq!(db.run("LINSERT k NEAR a x"), err(SYNTAX));
    db.run("RPUSH k a b a");
    assert_eq!(db.run("LINSERT k BEFORE a x"), int(4));
    assert_eq!(db.run("linsert k after a y"), int(5));
    assert_eq!(db.run("LINSERT k AFTER missing z"), int(-1));
    assert_eq!(db.elements("k"), bulks(&["x", "a", "y", "b", "a"]));
    assert_eq!(
        db.take_propagated(),
        [
            "RPUSH k a b a",
            "LINSERT k BEFORE a x",
            "LINSERT k AFTER a y"
        ]
    );
}

#[test]
fn lrem_removes_from_the_chosen_end() {
    let db = db();
    assert_eq!(db.run("LREM k 0 a"), int(0));
    db.run("RPUSH k a b a c a a");
    assert_eq!(db.run("LREM k 2 a"), int(2));
    assert_eq!(db.elements("k"), bulks(&["b", "c", "a", "a"]));
    assert_eq!(db.run("LREM k -1 a"), int(1));
    assert_eq!(db.elements("k"), bulks(&["b", "c", "a"]));
    assert_eq!(db.run("LREM k 0 z"), int(0));
    assert_eq!(db.run("LREM k x z"), err(NOT_INTEGER));
    assert_eq!(db.run("LREM k 0 b"), int(1));
    assert_eq!(db.run("LREM k 0 c"), int(1));
    assert_eq!(db.run("LREM k 0 a"), int(1));
    assert!(!db.exists("k"));
    assert_eq!(
        db.take_propagated(),
        [
            "RPUSH k a b a c a a",
            "LREM k 2 a",
            "LREM k -1 a",
            "LREM k 0 b",
            "LREM k 0 c",
            "LREM k 0 a"
        ]
    );
}

#[test]
fn ltrim_keeps_a_range_and_deletes_an_empty_list() {
    let db = db();
    assert_eq!(db.run("LTRIM k 0 1"), Reply::Ok);
    assert_eq!(db.run("LTRIM k 0 x"), err(NOT_INTEGER));
    db.run("RPUSH k a b c d e");
    assert_eq!(db.run("LTRIM k 1 -2"), Reply::Ok);
    assert_eq!(db.elements("k"), bulks(&["b", "c", "d"]));
    // Nothing to remove: nothing propagated.
    assert_eq!(db.run("LTRIM k 0 -1"), Reply::Ok);
    assert_eq!(db.run("LTRIM k -100 100"), Reply::Ok);
    assert_eq!(db.run("LTRIM k 2 1"), Reply::Ok);
    assert!(!db.exists("k"));
    assert_eq!(
        db.take_propagated(),
        ["RPUSH k a b c d e", "LTRIM k 1 -2", "LTRIM k 2 1"]
    );
}

// ---------------------------------------------------------------------------------------------
// Moves

#[test]
fn lmove_moves_between_any_ends() {
    let db = db();
    db.run("RPUSH src a b c");
    assert_eq!(db.run("LMOVE src dst LEFT RIGHT"), bulk("a"));
    assert_eq!(db.run("lmove src dst right left"), bulk("c"));
    assert_eq!(db.elements("src"), bulks(&["b"]));
    assert_eq!(db.elements("dst"), bulks(&["c", "a"]));
    assert_eq!(db.run("LMOVE src dst LEFT LEFT"), bulk("b"));
    assert!(!db.exists("src"));
    assert_eq!(db.run("LMOVE src dst LEFT LEFT"), Reply::Nil);
    assert_eq!(db.elements("dst"), bulks(&["b", "c", "a"]));
    assert_eq!(
        db.take_propagated(),
        [
            "RPUSH src a b c",
            "LMOVE src dst LEFT RIGHT",
            "LMOVE src dst RIGHT LEFT",
            "LMOVE src dst LEFT LEFT"
        ]
    );
}

#[test]
fn lmove_onto_itself_rotates() {
    let db = db();
    db.run("RPUSH k a b c");
    assert_eq!(db.run("LMOVE k k LEFT RIGHT"), bulk("a"));
    assert_eq!(db.elements("k"), bulks(&["b", "c", "a"]));
    // A one-element list keeps its key, and so its deadline, through a rotation.
    db.run("RPUSH one x");
    db.run("EXPIRE one 50");
    assert_eq!(db.run("RPOPLPUSH one one"), bulk("x"));
    assert_eq!(db.elements("one"), bulks(&["x"]));
    assert_eq!(db.run("TTL one"), int(50));
    assert_eq!(
        db.take_propagated(),
        [
            "RPUSH k a b c".to_owned(),
            "LMOVE k k LEFT RIGHT".to_owned(),
            "RPUSH one x".to_owned(),
            format!("PEXPIREAT one {}", NOW_MS + 50_000),
            "RPOPLPUSH one one".to_owned(),
        ]
    );
}

#[test]
fn lmove_checks_both_types_before_changing_anything() {
    let db = db();
    db.run("SET s v");
    // A missing source answers nil before the destination's type is looked at.
    assert_eq!(db.run("LMOVE missing s LEFT LEFT"), Reply::Nil);
    db.run("RPUSH l a");
    assert_eq!(db.run("LMOVE l s LEFT LEFT"), err(WRONGTYPE));
    assert_eq!(db.run("RPOPLPUSH l s"), err(WRONGTYPE));
    assert_eq!(db.elements("l"), bulks(&["a"]));
    assert_eq!(db.run("LMOVE l s UP LEFT"), err(SYNTAX));
    assert_eq!(db.run("LMOVE missing s LEFT DOWN"), err(SYNTAX));
}

#[test]
fn rpoplpush_moves_tail_to_head() {
    let db = db();
    assert_eq!(db.run("RPOPLPUSH a b"), Reply::Nil);
    db.run("RPUSH a 1 2 3");
    db.run("RPUSH b x");
    assert_eq!(db.run("RPOPLPUSH a b"), bulk("3"));
    assert_eq!(db.elements("b"), bulks(&["3", "x"]));
    assert_eq!(
        db.take_propagated(),
        ["RPUSH a 1 2 3", "RPUSH b x", "RPOPLPUSH a b"]
    );
}

// ---------------------------------------------------------------------------------------------
// Encodings and expiry

#[test]
fn encodings_follow_the_listpack_threshold() {
    let db = db();
    let element = "e".repeat(100);
    for _ in 0..80 {
        db.run(&format!("RPUSH k {element}"));
    }
    assert_eq!(db.encoding("k"), bulk("listpack"));
    db.run(&format!("RPUSH k {element}"));
    assert_eq!(db.encoding("k"), bulk("quicklist"));
    // One element larger than a node converts a list at once.
    db.run(&format!("RPUSH big {}", "x".repeat(9000)));
    assert_eq!(db.encoding("big"), bulk("quicklist"));
    // Trimmed well below half the limit, the list is compact again.
    assert_eq!(db.run("LTRIM k 0 9"), Reply::Ok);
    assert_eq!(db.encoding("k"), bulk("listpack"));
    assert_eq!(db.run("LLEN k"), int(10));
}

#[test]
fn large_lists_answer_like_small_ones() {
    let db = db();
    let args: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
    let mut push: Vec<&[u8]> = vec![b"RPUSH", b"k"];
    push.extend(args.iter().map(|a| a.as_bytes()));
    assert_eq!(db.run_args(&push), int(20_000));
    assert_eq!(db.encoding("k"), bulk("quicklist"));
    assert_eq!(db.run("LINDEX k 12345"), bulk("12345"));
    assert_eq!(db.run("LINDEX k -1"), bulk("19999"));
    assert_eq!(
        db.run("LRANGE k 9998 10001"),
        bulks(&["9998", "9999", "10000", "10001"])
    );
    assert_eq!(db.run("LSET k 10000 ten-thousand"), Reply::Ok);
    assert_eq!(db.run("LPOS k ten-thousand"), int(10000));
    assert_eq!(db.run("LINSERT k AFTER 5 five-and-a-half"), int(20_001));
    assert_eq!(db.run("LINDEX k 6"), bulk("five-and-a-half"));
    assert_eq!(db.run("LREM k 0 five-and-a-half"), int(1));
    assert_eq!(db.run("RPOP k 3"), bulks(&["19999", "19998", "19997"]));
    assert_eq!(db.run("LTRIM k 100 -101"), Reply::Ok);
    assert_eq!(db.run("LLEN k"), int(19_997 - 200));
    assert_eq!(db.run("LINDEX k 0"), bulk("100"));
}

#[test]
fn expired_lists_are_gone_for_every_command() {
    let db = db();
    db.run("RPUSH k a b");
    db.run("PEXPIRE k 100");
    db.clock.advance(100);
    assert_eq!(db.run("LLEN k"), int(0));
    assert_eq!(db.run("RPUSHX k z"), int(0));
    assert_eq!(db.run("LPUSH k c"), int(1));
    assert_eq!(db.elements("k"), bulks(&["c"]));
    assert_eq!(db.run("TTL k"), int(-1));
}

#[test]
fn writes_keep_the_deadline() {
    let db = db();
    db.run("RPUSH k a b c");
    db.run("EXPIRE k 100");
    db.run("LPUSH k z");
    db.run("LPOP k");
    db.run("LSET k 0 y");
    assert_eq!(db.run("TTL k"), int(100));
}

// ---------------------------------------------------------------------------------------------
// Keyspace notifications

#[test]
fn list_changes_report_redis_keyspace_events() {
    let db = db();
    let events = db.record_events();
    db.given(&[
        "RPUSH l a b c d",
        "LPUSHX l z",
        "RPUSHX missing x",
        "LPOP l 0",
        "LPOP l",
        "RPOP l 2",
        "LSET l 0 A",
        "LINSERT l BEFORE A y",
        "LINSERT l BEFORE nothere y",
        "LREM l 0 nothere",
        "LREM l 1 y",
        "LTRIM l 0 -1",
        "RPUSH l b c",
        "LTRIM l 1 1",
        "LMOVE l other LEFT RIGHT",
        "RPOPLPUSH other other",
        "RPOPLPUSH other l",
        "LMPOP 2 missing l RIGHT COUNT 5",
        "RPUSH t a",
        "LREM t 0 a",
    ]);
    let expected = [
        "rpush l",
        "lpush l",
        "lpop l",
        "rpop l",
        "lset l",
        "linsert l",
        "lrem l",
        "rpush l",
        "ltrim l",
        "lpop l",
        "rpush other",
        "del l",
        "rpop other",
        "lpush other",
        "rpop other",
        "lpush l",
        "del other",
        "rpop l",
        "del l",
        "rpush t",
        "lrem t",
        "del t",
    ];
    assert_eq!(events.lines(), expected);
}
