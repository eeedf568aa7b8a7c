//! No command panics, whatever its arguments: every command of the table is run with random
//! argument vectors drawn from the words that steer parsers (options, numbers at the edges,
//! ranges, binary junk) against keys of every type.

mod common;

use common::*;
use proptest::prelude::*;
use slotkv_engine::command::CommandTable;
use slotkv_engine::Session;

/// Words that parsers branch on.
const WORDS: &[&str] = &[
    "s",
    "h",
    "l",
    "st",
    "z",
    "bits",
    "hll",
    "missing",
    "{t}a",
    "0",
    "1",
    "-1",
    "2",
    "3",
    "7",
    "-7",
    "100",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "4294967296",
    "0.5",
    "-0.5",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "1e308",
    "(1",
    "[a",
    "(a",
    "-",
    "+",
    "*",
    "?",
    "[",
    "\\",
    "",
    "COUNT",
    "MATCH",
    "TYPE",
    "LIMIT",
    "WITHSCORES",
    "WITHSCORE",
    "WITHVALUES",
    "BYSCORE",
    "BYLEX",
    "REV",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "MIN",
    "MAX",
    "SUM",
    "WEIGHTS",
    "AGGREGATE",
    "RANK",
    "MAXLEN",
    "IDX",
    "LEN",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "BYTE",
    "BIT",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "OVERFLOW",
    "WRAP",
    "SAT",
    "FAIL",
    "SET",
    "INCRBY",
    "i8",
    "u63",
    "i64",
    "u64",
    "#3",
    "REPLACE",
    "DB",
    "ASYNC",
    "SYNC",
    "ENCODING",
    "HELP",
    "KEYSLOT",
    "\u{0}\u{ff}",
];

/// An engine holding a key of every type.
fn db_with_every_type() -> Db {
    let db = db();
    db.given(&[
        "SET s text",
        "HSET h f 1",
        "RPUSH l a b c",
        "SADD st 1 2 x",
        "ZADD z 1 a 2 b",
        "SETBIT bits 7 1",
        "PFADD hll a b",
    ]);
    db
}

fn command_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = CommandTable::global()
        .iter()
        .map(|spec| spec.name)
        .collect();
    names.sort_unstable();
    names
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn no_command_panics_on_any_arguments(
        name in prop::sample::select(command_names()),
        words in prop::collection::vec(prop::sample::select(WORDS), 0..9),
    ) {
        let db = db_with_every_type();
        let mut command = vec![name];
        command.extend(words);
        // Any reply is fine (most are errors); a panic fails the test.
        let _ = db.run_in(&mut Session::new(), &command);
    }
}
