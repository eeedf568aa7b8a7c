//! The bitmap commands through the engine's `execute`: Redis's documented examples, index and
//! offset rules, exact error lines, what each write propagates, and a model test of SETBIT,
//! GETBIT, BITCOUNT and BITPOS against a plain vector of bits.

mod common;

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use slotkv_engine::command::{CommandTable, Group, KeyRange};
use slotkv_engine::Reply;

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

impl Db {
    fn set(&self, key: &str, value: &[u8]) {
        assert_eq!(self.run_args(&[b"SET", key.as_bytes(), value]), Reply::Ok);
    }

    fn get(&self, key: &str) -> Reply {
        self.run(&format!("GET {key}"))
    }
}

fn bulk(data: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(data))
}

#[test]
fn table_describes_the_commands_as_redis_does() {
    let table = CommandTable::global();
    let expect = |name: &str, arity: i32, flags: &[&str], keys: KeyRange, since: &str| {
        let spec = table.lookup(name.as_bytes()).expect(name);
        assert_eq!(spec.arity, arity, "{name}");
        assert_eq!(spec.flags.names().collect::<Vec<_>>(), flags, "{name}");
        assert_eq!(spec.keys, keys, "{name}");
        assert_eq!((spec.group, spec.since), (Group::Bitmap, since), "{name}");
    };
    let write = &["write", "denyoom"][..];
    expect("setbit", 4, write, KeyRange::FIRST, "2.2.0");
    expect("getbit", 3, &["readonly", "fast"], KeyRange::FIRST, "2.2.0");
    expect("bitcount", -2, &["readonly"], KeyRange::FIRST, "2.6.0");
    expect("bitpos", -3, &["readonly"], KeyRange::FIRST, "2.8.7");
    expect("bitop", -4, write, KeyRange::new(2, -1, 1), "2.6.0");
    expect("bitfield", -2, write, KeyRange::FIRST, "3.2.0");
    expect(
        "bitfield_ro",
        -2,
        &["readonly", "fast"],
        KeyRange::FIRST,
        "6.0.0",
    );
}

// ---------------------------------------------------------------------------------------------
// SETBIT and GETBIT

#[test]
fn setbit_returns_the_old_bit_and_grows_with_zeros() {
    let db = db();
    assert_eq!(db.run("SETBIT mykey 7 1"), int(0));
    assert_eq!(db.run("SETBIT mykey 7 0"), int(1));
    assert_eq!(db.get("mykey"), bulk(b"\x00"));
    assert_eq!(db.run("SETBIT mykey 7 1"), int(0));
    assert_eq!(db.run("SETBIT mykey 17 1"), int(0));
    assert_eq!(db.get("mykey"), bulk(b"\x01\x00\x40"));
    assert_eq!(db.run("GETBIT mykey 7"), int(1));
    assert_eq!(db.run("GETBIT mykey 17"), int(1));
    assert_eq!(db.run("GETBIT mykey 0"), int(0));
    assert_eq!(db.run("GETBIT mykey 100"), int(0));
    assert_eq!(db.run("GETBIT missing 0"), int(0));
}

#[test]
fn setbit_propagates_only_changes() {
    let db = db();
    db.run("SETBIT k 3 1");
    assert_eq!(db.take_propagated(), ["SETBIT k 3 1"]);
    assert_eq!(db.run("SETBIT k 3 1"), int(1));
    assert_eq!(db.run("SETBIT k 5 0"), int(0));
    assert!(db.take_propagated().is_empty(), "no bit changed");
    // Clearing a bit past the end still grows the string: a change.
    assert_eq!(db.run("setbit k 15 0"), int(0));
    assert_eq!(db.get("k"), bulk(b"\x10\x00"));
    assert_eq!(db.take_propagated(), ["SETBIT k 15 0"]);
    // A new key is a change even when the bit is 0.
    db.run("SETBIT fresh 0 0");
    assert_eq!(db.get("fresh"), bulk(b"\x00"));
    assert_eq!(db.take_propagated(), ["SETBIT fresh 0 0"]);
}

#[test]
fn setbit_reads_and_edits_integers_as_text() {
    let db = db();
    db.run("SET n 1");
    // "1" is 0x31: bits 2, 3 and 7 are set.
    assert_eq!(db.run("GETBIT n 2"), int(1));
    assert_eq!(db.run("GETBIT n 1"), int(0));
    assert_eq!(db.run("SETBIT n 6 1"), int(0));
    assert_eq!(db.get("n"), bulk(b"3"));
    assert_eq!(db.run("INCR n"), int(4));
}

#[test]
fn setbit_keeps_the_deadline() {
    let db = db();
    db.run("SET k x PX 1000");
    db.run("SETBIT k 100 1");
    assert_eq!(db.run("PTTL k"), int(1000));
    db.clock.advance(1000);
    assert_eq!(db.run("GETBIT k 100"), int(0));
}

#[test]
fn bit_offsets_are_bounded_by_proto_max_bulk_len() {
    let db = db();
    assert_eq!(db.run("GETBIT k 4294967295"), int(0));
    for offset in ["4294967296", "-1", "abc", "1.5", "#1"] {
        assert_eq!(
            db.run(&format!("SETBIT k {offset} 1")),
            err(BAD_OFFSET),
            "{offset}"
        );
        assert_eq!(
            db.run(&format!("GETBIT k {offset}")),
            err(BAD_OFFSET),
            "{offset}"
        );
    }
    db.engine.set_proto_max_bulk_len(4);
    assert_eq!(db.run("SETBIT k 31 1"), int(0));
    assert_eq!(db.run("SETBIT k 32 1"), err(BAD_OFFSET));
    assert_eq!(db.run("BITFIELD k SET u8 #3 255"), ints(&[1]));
    assert_eq!(db.run("BITFIELD k SET u8 #4 255"), err(BAD_OFFSET));
    assert_eq!(db.run("STRLEN k"), int(4));
}

#[test]
fn setbit_errors_come_in_redis_order() {
    let db = db();
    db.run("RPUSH list x");
    for bit in ["2", "-1", "x", ""] {
        assert_eq!(
            db.run_args(&[b"SETBIT", b"k", b"0", bit.as_bytes()]),
            err(BAD_BIT)
        );
    }
    assert_eq!(db.run("SETBIT list x 2"), err(BAD_OFFSET));
    assert_eq!(db.run("SETBIT list 0 2"), err(BAD_BIT));
    assert_eq!(db.run("SETBIT list 0 1"), err(WRONGTYPE));
    assert_eq!(db.run("GETBIT list 0"), err(WRONGTYPE));
    assert_eq!(
        db.run("SETBIT k 0"),
        err("ERR wrong number of arguments for 'setbit' command")
    );
    assert_eq!(db.run("EXISTS k"), int(0));
}

// ---------------------------------------------------------------------------------------------
// BITCOUNT

#[test]
fn bitcount_follows_the_documented_examples() {
    let db = db();
    db.set("mykey", b"foobar");
    assert_eq!(db.run("BITCOUNT mykey"), int(26));
    assert_eq!(db.run("BITCOUNT mykey 0 0"), int(4));
    assert_eq!(db.run("BITCOUNT mykey 1 1"), int(6));
    assert_eq!(db.run("BITCOUNT mykey 1 1 BYTE"), int(6));
    assert_eq!(db.run("BITCOUNT mykey 5 30 BIT"), int(17));
    assert_eq!(db.run("BITCOUNT mykey -2 -1"), int(7));
    assert_eq!(db.run("BITCOUNT mykey -100 100"), int(26));
    assert_eq!(db.run("BITCOUNT mykey 5 -100"), int(0));
    assert_eq!(db.run("BITCOUNT mykey -1 -2"), int(0));
    // Both negative, out of order, clamping to the same byte: still empty.
    assert_eq!(db.run("BITCOUNT mykey -8 -9"), int(0));
    assert_eq!(db.run("BITCOUNT mykey -9 -8"), int(4));
    assert_eq!(db.run("BITCOUNT mykey 0 -1 bit"), int(26));
    assert_eq!(db.run("BITCOUNT mykey -1 -1 BIT"), int(0));
    assert_eq!(db.run("BITCOUNT mykey -2 -1 BIT"), int(1));
    assert_eq!(db.run("BITCOUNT missing"), int(0));
    assert_eq!(db.run("BITCOUNT missing 0 10 BIT"), int(0));
    db.set("empty", b"");
    assert_eq!(db.run("BITCOUNT empty"), int(0));
}

#[test]
fn bitcount_errors() {
    let db = db();
    db.run("RPUSH list x");
    assert_eq!(db.run("BITCOUNT k 0"), err(SYNTAX));
    assert_eq!(db.run("BITCOUNT k 0 1 BYTE x"), err(SYNTAX));
    assert_eq!(db.run("BITCOUNT k 0 1 BITS"), err(SYNTAX));
    assert_eq!(db.run("BITCOUNT k a 1"), err(NOT_INTEGER));
    assert_eq!(db.run("BITCOUNT k 0 b"), err(NOT_INTEGER));
    assert_eq!(db.run("BITCOUNT list"), err(WRONGTYPE));
    assert_eq!(db.run("BITCOUNT list 0 1"), err(WRONGTYPE));
}

// ---------------------------------------------------------------------------------------------
// BITPOS

#[test]
fn bitpos_follows_the_documented_examples() {
    let db = db();
    db.set("mykey", b"\xff\xf0\x00");
    assert_eq!(db.run("BITPOS mykey 0"), int(12));
    db.set("mykey", b"\x00\xff\xf0");
    assert_eq!(db.run("BITPOS mykey 1 0"), int(8));
    assert_eq!(db.run("BITPOS mykey 1 2"), int(16));
    assert_eq!(db.run("BITPOS mykey 1 2 -1 BYTE"), int(16));
    assert_eq!(db.run("BITPOS mykey 1 7 15 BIT"), int(8));
    db.set("mykey", b"\x00\x00\x00");
    assert_eq!(db.run("BITPOS mykey 1"), int(-1));
    assert_eq!(db.run("BITPOS mykey 1 7 -3 BIT"), int(-1));
}

#[test]
fn bitpos_of_clear_bits_pads_only_without_an_end() {
    let db = db();
    db.set("ones", b"\xff\xff\xff");
    assert_eq!(db.run("BITPOS ones 0"), int(24));
    assert_eq!(db.run("BITPOS ones 0 1"), int(24));
    assert_eq!(db.run("BITPOS ones 0 0 -1"), int(-1));
    assert_eq!(db.run("BITPOS ones 0 0 23 BIT"), int(-1));
    assert_eq!(db.run("BITPOS ones 1 -1"), int(16));
    assert_eq!(db.run("BITPOS ones 1 3 5 BIT"), int(3));
    db.set("mixed", b"\xfe\x7f");
    assert_eq!(db.run("BITPOS mixed 0 0 7 BIT"), int(7));
    assert_eq!(db.run("BITPOS mixed 0 8 15 BIT"), int(8));
    assert_eq!(db.run("BITPOS mixed 0 9 15 BIT"), int(-1));
    assert_eq!(db.run("BITPOS mixed 1 7 8 BIT"), int(-1));
    // Empty ranges and empty strings hold no bit at all.
    assert_eq!(db.run("BITPOS mixed 1 2 1"), int(-1));
    assert_eq!(db.run("BITPOS mixed 0 5 10"), int(-1));
    db.set("empty", b"");
    assert_eq!(db.run("BITPOS empty 0"), int(-1));
    // A missing key is all zeros.
    assert_eq!(db.run("BITPOS missing 0"), int(0));
    assert_eq!(db.run("BITPOS missing 1"), int(-1));
    assert_eq!(db.run("BITPOS missing 0 5 10 BIT"), int(0));
}

#[test]
fn bitpos_scans_long_strings() {
    let db = db();
    let mut data = vec![0u8; 10_000];
    data[9_000] = 0b0000_0100;
    db.set("long", &data);
    assert_eq!(db.run("BITPOS long 1"), int(72_005));
    assert_eq!(db.run("BITPOS long 1 9001"), int(-1));
    assert_eq!(db.run("BITPOS long 0 72000 72010 BIT"), int(72_000));
    data.fill(0xff);
    data[5_000] = 0xfe;
    db.set("long", &data);
    assert_eq!(db.run("BITPOS long 0"), int(40_007));
    assert_eq!(db.run("BITCOUNT long"), int(79_999));
}

#[test]
fn bitpos_errors_come_in_redis_order() {
    let db = db();
    db.run("RPUSH list x");
    assert_eq!(
        db.run("BITPOS k 2"),
        err("ERR The bit argument must be 1 or 0.")
    );
    assert_eq!(db.run("BITPOS k x"), err(NOT_INTEGER));
    assert_eq!(db.run("BITPOS k 1 x 1 FOO"), err(NOT_INTEGER));
    assert_eq!(db.run("BITPOS k 1 0 x FOO"), err(SYNTAX));
    assert_eq!(db.run("BITPOS k 1 0 x BIT"), err(NOT_INTEGER));
    assert_eq!(db.run("BITPOS k 1 0 1 BIT x"), err(SYNTAX));
    assert_eq!(db.run("BITPOS list 1"), err(WRONGTYPE));
    assert_eq!(
        db.run("BITPOS list 2"),
        err("ERR The bit argument must be 1 or 0.")
    );
}

// ---------------------------------------------------------------------------------------------
// BITOP

#[test]
fn bitop_follows_the_documented_example() {
    let db = db();
    db.set("key1", b"foobar");
    db.set("key2", b"abcdef");
    assert_eq!(db.run("BITOP AND dest key1 key2"), int(6));
    assert_eq!(db.get("dest"), bulk(b"`bc`ab"));
    assert_eq!(
        db.take_propagated().last().unwrap(),
        "BITOP AND dest key1 key2"
    );
}

#[test]
fn bitop_pads_sources_and_handles_every_operation() {
    let db = db();
    db.set("a", b"\xff\x0f\xf0");
    db.set("b", b"\x0f");
    assert_eq!(db.run("BITOP or d a b missing"), int(3));
    assert_eq!(db.get("d"), bulk(b"\xff\x0f\xf0"));
    assert_eq!(db.run("BITOP XOR d a b"), int(3));
    assert_eq!(db.get("d"), bulk(b"\xf0\x0f\xf0"));
    assert_eq!(db.run("BITOP AND d a b"), int(3));
    assert_eq!(db.get("d"), bulk(b"\x0f\x00\x00"));
    assert_eq!(db.run("BITOP AND d a missing"), int(3));
    assert_eq!(db.get("d"), bulk(b"\x00\x00\x00"));
    assert_eq!(db.run("BITOP NOT d b"), int(1));
    assert_eq!(db.get("d"), bulk(b"\xf0"));
    // The destination may be a source.
    assert_eq!(db.run("BITOP NOT d d"), int(1));
    assert_eq!(db.get("d"), bulk(b"\x0f"));
    db.run("SET n 12");
    assert_eq!(db.run("BITOP OR d n"), int(2));
    assert_eq!(db.get("d"), bulk(b"12"));
}

#[test]
fn bitop_replaces_or_deletes_the_destination() {
    let db = db();
    db.set("src", b"x");
    db.run("RPUSH dest item");
    db.run("PEXPIRE dest 5000");
    assert_eq!(db.run("BITOP OR dest src"), int(1));
    assert_eq!(db.get("dest"), bulk(b"x"));
    assert_eq!(
        db.run("PTTL dest"),
        int(-1),
        "the destination loses its deadline"
    );
    db.take_propagated();
    // An empty result deletes the destination (propagated), or changes nothing.
    assert_eq!(db.run("BITOP AND dest missing other"), int(0));
    assert_eq!(db.run("EXISTS dest"), int(0));
    assert_eq!(db.take_propagated(), ["BITOP AND dest missing other"]);
    assert_eq!(db.run("BITOP AND dest missing other"), int(0));
    assert!(db.take_propagated().is_empty());
    db.set("empty", b"");
    assert_eq!(db.run("BITOP NOT dest empty"), int(0));
    assert_eq!(db.run("EXISTS dest"), int(0));
}

#[test]
fn bitop_errors() {
    let db = db();
    db.run("RPUSH list x");
    db.set("s", b"x");
    assert_eq!(
        db.run("BITOP NOT dest a b"),
        err("ERR BITOP NOT must be called with a single source key.")
    );
    assert_eq!(db.run("BITOP NAND dest a"), err(SYNTAX));
    assert_eq!(db.run("BITOP OR dest s list"), err(WRONGTYPE));
    assert_eq!(db.run("EXISTS dest"), int(0));
    // The destination's type does not matter.
    assert_eq!(db.run("BITOP OR list s"), int(1));
    assert_eq!(
        db.run("BITOP OR dest"),
        err("ERR wrong number of arguments for 'bitop' command")
    );
}

// ---------------------------------------------------------------------------------------------
// BITFIELD

#[test]
fn bitfield_follows_the_documented_examples() {
    let db = db();
    assert_eq!(
        db.run("BITFIELD mykey INCRBY i5 100 1 GET u4 0"),
        ints(&[1, 0])
    );
    let overflow = "BITFIELD mykey incrby u2 100 1 OVERFLOW SAT incrby u2 102 1";
    assert_eq!(db.run(overflow), ints(&[1, 1]));
    assert_eq!(db.run(overflow), ints(&[2, 2]));
    assert_eq!(db.run(overflow), ints(&[3, 3]));
    assert_eq!(db.run(overflow), ints(&[0, 3]));
    assert_eq!(
        db.run("BITFIELD mykey OVERFLOW FAIL incrby u2 102 1"),
        Reply::Array(vec![Reply::Nil])
    );
    assert_eq!(db.run("BITFIELD mykey GET u2 102"), ints(&[3]));
}

#[test]
fn bitfield_set_get_and_hash_offsets() {
    let db = db();
    assert_eq!(
        db.run("BITFIELD k SET i8 #0 100 SET i8 #1 200"),
        ints(&[0, 0])
    );
    assert_eq!(db.get("k"), bulk(b"\x64\xc8"));
    assert_eq!(
        db.run("BITFIELD k GET i8 #1 GET u8 #1 GET u4 8 GET i4 8"),
        ints(&[-56, 200, 12, -4])
    );
    assert_eq!(db.run("BITFIELD k SET u16 0 65535"), ints(&[25800]));
    assert_eq!(
        db.run("BITFIELD k GET i16 0 GET u15 1 GET u1 0"),
        ints(&[-1, 32767, 1])
    );
    // Fields read past the end are zero; an i64 spans nine bytes when not aligned.
    let twelve_ones = 0xFFF0_0000_0000_0000_u64 as i64;
    assert_eq!(
        db.run("BITFIELD k GET u8 100 GET i64 4"),
        ints(&[0, twelve_ones])
    );
    let thirteen_ones = 0xFFF8_0000_0000_0000_u64 as i64;
    assert_eq!(db.run("BITFIELD k SET i64 3 -2"), ints(&[thirteen_ones]));
    assert_eq!(db.run("BITFIELD k GET i64 3"), ints(&[-2]));
    assert_eq!(db.run("STRLEN k"), int(9));
    // Bits 0..=62 are all set already; -1 wraps to the same 63 ones.
    assert_eq!(
        db.run("BITFIELD k SET u63 0 -1 GET u63 0"),
        ints(&[i64::MAX, i64::MAX])
    );
}

#[test]
fn bitfield_overflow_modes() {
    let db = db();
    let run = |line: &str| db.run(&format!("BITFIELD k {line}"));
    assert_eq!(run("SET i8 0 127 INCRBY i8 0 1"), ints(&[0, -128]));
    assert_eq!(
        run("OVERFLOW SAT INCRBY i8 0 -1 INCRBY i8 0 300"),
        ints(&[-128, 127])
    );
    // SET replies with the old value; an unsigned field reads -5 as 2^64 - 5, saturating up.
    assert_eq!(
        run("OVERFLOW SAT SET i8 0 1000 SET u8 0 -5"),
        ints(&[127, 127])
    );
    assert_eq!(run("GET u8 0"), ints(&[255]));
    assert_eq!(
        run("OVERFLOW WRAP SET u8 0 -1 SET u8 0 256"),
        ints(&[255, 255])
    );
    assert_eq!(run("GET u8 0"), ints(&[0]));
    assert_eq!(
        run("OVERFLOW FAIL SET i8 0 128 SET i8 0 -128 INCRBY i8 0 -1"),
        Reply::Array(vec![Reply::Nil, int(0), Reply::Nil])
    );
    // The i64 over the first byte (0x80, then zero padding) is i64::MIN.
    assert_eq!(
        run("OVERFLOW wrap INCRBY i64 0 1 INCRBY i64 0 9223372036854775807"),
        ints(&[i64::MIN + 1, 0])
    );
    assert_eq!(
        run("SET i64 0 9223372036854775807 OVERFLOW SAT INCRBY i64 0 1"),
        ints(&[0, i64::MAX])
    );
    assert_eq!(run("INCRBY i64 0 1"), ints(&[i64::MIN]));
    assert_eq!(run("OVERFLOW SAT INCRBY i64 0 -1"), ints(&[i64::MIN]));
}

#[test]
fn bitfield_propagates_only_changes() {
    let db = db();
    db.run("BITFIELD k GET u8 0");
    assert_eq!(db.run("EXISTS k"), int(0), "GET creates nothing");
    db.run("BITFIELD k SET u8 0 5 GET u8 0");
    assert_eq!(db.take_propagated(), ["BITFIELD k SET u8 0 5 GET u8 0"]);
    assert_eq!(db.run("BITFIELD k SET u8 0 5 INCRBY u8 0 0"), ints(&[5, 5]));
    assert_eq!(db.run("BITFIELD k GET u8 0"), ints(&[5]));
    assert_eq!(
        db.run("BITFIELD k OVERFLOW FAIL INCRBY u8 0 300"),
        Reply::Array(vec![Reply::Nil])
    );
    assert!(db.take_propagated().is_empty());
    // Growing the string is a change even when the written value is zero.
    assert_eq!(db.run("BITFIELD k SET u8 8 0"), ints(&[0]));
    assert_eq!(db.take_propagated(), ["BITFIELD k SET u8 8 0"]);
    assert_eq!(db.run("BITFIELD k"), ints(&[]));
}

#[test]
fn bitfield_ro_only_reads() {
    let db = db();
    db.set("k", b"\xff");
    assert_eq!(db.run("BITFIELD_RO k GET u4 0 GET i4 4"), ints(&[15, -1]));
    assert_eq!(db.run("BITFIELD_RO k OVERFLOW SAT GET u8 0"), ints(&[255]));
    assert_eq!(db.run("BITFIELD_RO missing GET u8 0"), ints(&[0]));
    assert_eq!(
        db.run("BITFIELD_RO k GET u8 0 SET u8 0 1"),
        err("ERR BITFIELD_RO only supports the GET subcommand")
    );
    assert_eq!(db.run("BITFIELD_RO k INCRBY u8 x 1"), err(BAD_OFFSET));
    assert_eq!(db.get("k"), bulk(b"\xff"));
    assert!(db
        .take_propagated()
        .iter()
        .all(|c| !c.starts_with("BITFIELD")));
}

#[test]
fn bitfield_errors_come_in_redis_order() {
    let db = db();
    db.run("RPUSH list x");
    let run = |line: &str| db.run(&format!("BITFIELD k {line}"));
    for bad_type in ["u64", "i65", "i0", "x8", "u", "i-1", "I08"] {
        assert_eq!(
            run(&format!("GET {bad_type} 0")),
            err(BAD_TYPE),
            "{bad_type}"
        );
    }
    assert_eq!(run("GET U63 0 GET I64 0"), ints(&[0, 0]));
    assert_eq!(run("GET u8 -1"), err(BAD_OFFSET));
    assert_eq!(run("GET u8 #-1"), err(BAD_OFFSET));
    assert_eq!(run("GET u8 4294967296"), err(BAD_OFFSET));
    assert_eq!(run("GET u8 #536870912"), err(BAD_OFFSET));
    assert_eq!(run("SET u8 0 x"), err(NOT_INTEGER));
    assert_eq!(run("SET u8 x x"), err(BAD_OFFSET));
    assert_eq!(run("SET x8 x x"), err(BAD_TYPE));
    assert_eq!(run("GET u8"), err(SYNTAX));
    assert_eq!(run("SET u8 0"), err(SYNTAX));
    assert_eq!(run("FOO u8 0"), err(SYNTAX));
    assert_eq!(run("OVERFLOW"), err(SYNTAX));
    assert_eq!(
        run("OVERFLOW NONE GET u8 0"),
        err("ERR Invalid OVERFLOW type specified")
    );
    // Every argument is checked before the key.
    assert_eq!(
        db.run("BITFIELD list GET u8 0 SET u8 0 1 GET u99 0"),
        err(BAD_TYPE)
    );
    assert_eq!(db.run("BITFIELD list GET u8 0"), err(WRONGTYPE));
    assert_eq!(db.run("BITFIELD list SET u8 0 1"), err(WRONGTYPE));
    assert_eq!(db.run("EXISTS k"), int(0));
}

// ---------------------------------------------------------------------------------------------
// Model test

#[derive(Debug, Clone)]
enum Op {
    SetBit(u64, bool),
    GetBit(u64),
    Count(Option<(i64, i64, bool)>),
    Pos(bool, Option<i64>, Option<i64>, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let index = -40i64..40;
    prop_oneof![
        3 => (0u64..160, any::<bool>()).prop_map(|(o, b)| Op::SetBit(o, b)),
        1 => (0u64..200).prop_map(Op::GetBit),
        2 => prop::option::of((index.clone(), index.clone(), any::<bool>())).prop_map(Op::Count),
        2 => (any::<bool>(), prop::option::of(index.clone()), prop::option::of(index), any::<bool>())
            .prop_map(|(bit, start, end, bits)| Op::Pos(bit, start, end, bits)),
    ]
}

/// Redis's index rules, stated directly: the inclusive unit range, or None when empty.
fn model_range(start: i64, end: i64, units: i64) -> Option<(i64, i64)> {
    let start = if start < 0 {
        (units + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { (units + end).max(0) } else { end }.min(units - 1);
    (start <= end).then_some((start, end))
}

/// The bit range in bits for a range written in bytes (`bits` false) or bits.
fn model_bits(start: i64, end: i64, bits: bool, len_bytes: i64) -> Option<(i64, i64)> {
    if bits {
        model_range(start, end, len_bytes * 8)
    } else {
        model_range(start, end, len_bytes).map(|(s, e)| (s * 8, e * 8 + 7))
    }
}

fn model_reply(model: &Option<Vec<bool>>, op: &Op) -> Reply {
    let bits = model.as_deref().unwrap_or(&[]);
    let len_bytes = bits.len() as i64 / 8;
    match *op {
        Op::SetBit(offset, _) | Op::GetBit(offset) => int(i64::from(
            bits.get(offset as usize).copied().unwrap_or(false),
        )),
        Op::Count(range) => {
            let range = match range {
                None => model_bits(0, -1, false, len_bytes),
                Some((s, e, _)) if s < 0 && e < 0 && s > e => None,
                Some((s, e, unit)) => model_bits(s, e, unit, len_bytes),
            };
            int(range.map_or(0, |(s, e)| {
                bits[s as usize..=e as usize].iter().filter(|b| **b).count() as i64
            }))
        }
        Op::Pos(target, start, end, unit) => {
            if model.is_none() {
                return int(if target { -1 } else { 0 });
            }
            // An end is only written after a start, and BIT only after both.
            let end = end.filter(|_| start.is_some());
            let unit = unit && end.is_some();
            let Some((s, e)) = model_bits(start.unwrap_or(0), end.unwrap_or(-1), unit, len_bytes)
            else {
                return int(-1);
            };
            match (s..=e).find(|&i| bits[i as usize] == target) {
                Some(i) => int(i),
                None if !target && end.is_none() => int(e + 1),
                None => int(-1),
            }
        }
    }
}

fn command_line(op: &Op) -> String {
    let unit = |bits: bool| if bits { "BIT" } else { "BYTE" };
    match *op {
        Op::SetBit(offset, on) => format!("SETBIT k {offset} {}", u8::from(on)),
        Op::GetBit(offset) => format!("GETBIT k {offset}"),
        Op::Count(None) => "BITCOUNT k".to_owned(),
        Op::Count(Some((s, e, bits))) => format!("BITCOUNT k {s} {e} {}", unit(bits)),
        Op::Pos(bit, start, end, bits) => {
            let mut line = format!("BITPOS k {}", u8::from(bit));
            if let Some(s) = start {
                line += &format!(" {s}");
                if let Some(e) = end {
                    line += &format!(" {e} {}", unit(bits));
                }
            }
            line
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bit_commands_agree_with_a_vector_of_bits(ops in prop::collection::vec(op(), 1..40)) {
        let db = db();
        let mut model: Option<Vec<bool>> = None;
        for op in &ops {
            let expected = model_reply(&model, op);
            prop_assert_eq!(db.run(&command_line(op)), expected, "{:?}", op);
            if let Op::SetBit(offset, on) = *op {
                let bits = model.get_or_insert_with(Vec::new);
                let needed = (offset as usize / 8 + 1) * 8;
                if bits.len() < needed {
                    bits.resize(needed, false);
                }
                bits[offset as usize] = on;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keyspace notifications

/// Bitmaps, their HyperLogLog neighbours and SORT ... STORE report Redis's events, and only for
/// writes that changed something.
#[test]
fn bitmap_hll_and_sort_store_changes_report_redis_keyspace_events() {
    let db = db();
    let events = db.record_events();
    db.given(&[
        "SETBIT k 3 1",
        "SETBIT k 3 1",
        "BITFIELD k GET u4 0",
        "BITFIELD k SET u8 8 255",
        "BITOP AND dst k missing",
        "BITOP OR dst missing other",
        "BITOP OR dst missing",
        "PFADD h a b",
        "PFADD h a",
        "PFCOUNT h",
        "PFMERGE h2 h",
        "RPUSH l 3 1 2",
        "SORT l STORE s",
        "SORT missing STORE s",
        "SORT missing STORE s",
    ]);
    let expected = [
        "setbit k",
        "setbit k",
        "set dst",
        "del dst",
        "pfadd h",
        "pfadd h2",
        "rpush l",
        "sortstore s",
        "del s",
    ];
    assert_eq!(events.lines(), expected);
}
