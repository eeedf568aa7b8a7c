//! Compact-encoding thresholds set at run time: collections convert exactly at the configured
//! sizes (OBJECT ENCODING shows it), and a change applies to later conversions only.

mod common;

use common::*;
use slotkv_engine::types::encodings::Encodings;

fn small_thresholds() -> Encodings {
    Encodings {
        hash_max_listpack_entries: 2,
        hash_max_listpack_value: 4,
        set_max_intset_entries: 2,
        set_max_listpack_entries: 3,
        set_max_listpack_value: 4,
        zset_max_listpack_entries: 2,
        zset_max_listpack_value: 4,
        list_max_listpack_size: 3,
    }
}

#[test]
fn hashes_convert_at_the_configured_entries_and_value_length() {
    let db = db();
    db.engine.set_encodings(small_thresholds());
    db.given(&["HSET h a 1 b 2", "HSET long f 1234"]);
    assert_eq!(db.encoding("h"), bulk("listpack"));
    assert_eq!(db.encoding("long"), bulk("listpack"));
    db.given(&["HSET h c 3", "HSET long f 12345"]);
    assert_eq!(db.encoding("h"), bulk("hashtable"));
    assert_eq!(db.encoding("long"), bulk("hashtable"));
}

#[test]
fn sets_convert_at_the_configured_intset_and_listpack_sizes() {
    let db = db();
    db.engine.set_encodings(small_thresholds());
    db.given(&["SADD ints 1 2", "SADD words a b c", "SADD long abcd"]);
    assert_eq!(db.encoding("ints"), bulk("intset"));
    assert_eq!(db.encoding("words"), bulk("listpack"));
    assert_eq!(db.encoding("long"), bulk("listpack"));
    db.given(&["SADD ints 3", "SADD words d", "SADD long abcde"]);
    assert_eq!(db.encoding("ints"), bulk("hashtable"));
    assert_eq!(db.encoding("words"), bulk("hashtable"));
    assert_eq!(db.encoding("long"), bulk("hashtable"));
}

#[test]
fn sorted_sets_convert_at_the_configured_entries_and_value_length() {
    let db = db();
    db.engine.set_encodings(small_thresholds());
    db.given(&["ZADD z 1 a 2 b", "ZADD long 1 abcd"]);
    assert_eq!(db.encoding("z"), bulk("listpack"));
    db.given(&["ZADD z 3 c", "ZADD long 1 abcde"]);
    assert_eq!(db.encoding("z"), bulk("skiplist"));
    assert_eq!(db.encoding("long"), bulk("skiplist"));
    db.given(&["ZUNIONSTORE copy 1 z"]);
    assert_eq!(db.encoding("copy"), bulk("skiplist"));
}

#[test]
fn lists_follow_a_positive_list_max_listpack_size_as_an_entry_count() {
    let db = db();
    db.engine.set_encodings(small_thresholds());
    db.given(&["RPUSH l a b c"]);
    assert_eq!(db.encoding("l"), bulk("listpack"));
    db.given(&["RPUSH l d"]);
    assert_eq!(db.encoding("l"), bulk("quicklist"));
    // Back to a listpack once one node is at most half full (1 of 3 entries).
    db.given(&["LPOP l 3"]);
    assert_eq!(db.encoding("l"), bulk("listpack"));
    assert_eq!(db.elements("l"), bulks(&["d"]));
}

#[test]
fn a_change_applies_to_later_conversions_only() {
    let db = db();
    assert_eq!(db.engine.encodings(), Encodings::default());
    db.given(&["HSET h a 1 b 2 c 3"]);
    db.engine.set_encodings(small_thresholds());
    assert_eq!(db.engine.encodings(), small_thresholds());
    assert_eq!(
        db.encoding("h"),
        bulk("listpack"),
        "not converted by the change"
    );
    db.given(&["HSET h d 4"]);
    assert_eq!(db.encoding("h"), bulk("hashtable"));
    db.engine.set_encodings(Encodings::default());
    db.given(&["HSET fresh a 1 b 2 c 3"]);
    assert_eq!(db.encoding("fresh"), bulk("listpack"));
}

#[test]
fn zero_thresholds_skip_the_compact_forms() {
    let db = db();
    db.engine.set_encodings(Encodings {
        hash_max_listpack_entries: 0,
        set_max_intset_entries: 0,
        set_max_listpack_entries: 0,
        zset_max_listpack_entries: 0,
        ..Encodings::default()
    });
    db.given(&["HSET h a 1", "SADD s 1", "SADD t x", "ZADD z 1 m"]);
    assert_eq!(db.encoding("h"), bulk("hashtable"));
    assert_eq!(db.encoding("s"), bulk("hashtable"));
    assert_eq!(db.encoding("t"), bulk("hashtable"));
    assert_eq!(db.encoding("z"), bulk("skiplist"));
}
