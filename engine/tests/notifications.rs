//! Keyspace notification classes outside `A`: `n` (a key was created: event `new`) and `m`
//! (a read found no key: event `keymiss`), reported centrally by the keyspace access layer.

mod common;

use common::*;

#[test]
fn a_created_key_reports_new_before_the_commands_own_events() {
    let db = db();
    let events = db.record_events_with("KEAn");
    db.given(&[
        "SET a 1",
        "SET a 2",
        "RPUSH list x",
        "RPUSH list y",
        "SADD set m",
        "HSET hash f v",
        "ZADD zset 1 m",
        "INCR counter",
        "RENAME a b",
        "COPY b c DB 1",
        "SORT list ALPHA STORE sorted",
        "DEL b",
        "SET b again",
    ]);
    let expected = [
        "new a",
        "set a",
        "set a",
        "new list",
        "rpush list",
        "rpush list",
        "new set",
        "sadd set",
        "new hash",
        "hset hash",
        "new zset",
        "zadd zset",
        "new counter",
        "incrby counter",
        "new b",
        "rename_from a",
        "rename_to b",
        "new c db1",
        "copy_to c db1",
        "new sorted",
        "sortstore sorted",
        "del b",
        "new b",
        "set b",
    ];
    assert_eq!(events.lines(), expected);
}

#[test]
fn a_key_written_over_its_expired_self_is_new() {
    let db = db();
    let events = db.record_events_with("Exn");
    db.given(&["SET k v PX 10"]);
    db.advance(20);
    db.given(&["SET k w"]);
    assert_eq!(events.lines(), ["new k", "expired k", "new k"]);
}

#[test]
fn reads_that_find_no_key_report_keymiss_and_writes_do_not() {
    let db = db();
    let events = db.record_events_with("Km");
    db.given(&[
        "SET present v",
        "GET present",
        "GET absent",
        "EXISTS present gone",
        "HGET nohash f",
        "LRANGE nolist 0 -1",
        "SMEMBERS noset",
        "ZSCORE nozset m",
        "SET written v",
        "DEL nothing",
        "INCR fresh",
        "SET volatile v PX 10",
    ]);
    db.advance(20);
    db.given(&["GET volatile"]);
    let expected = [
        "keymiss absent",
        "keymiss gone",
        "keymiss nohash",
        "keymiss nolist",
        "keymiss noset",
        "keymiss nozset",
        "keymiss volatile",
    ];
    assert_eq!(events.lines(), expected);
}

#[test]
fn kea_enables_neither_new_nor_keymiss() {
    let db = db();
    let events = db.record_events();
    db.given(&["SET a 1", "GET missing", "RPUSH l x"]);
    assert_eq!(events.lines(), ["set a", "rpush l"]);
}
