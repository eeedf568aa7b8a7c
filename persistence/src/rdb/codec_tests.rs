//! Round trips of every type and encoding through the encoder, the decoder, payloads and
//! files; hand-built objects in the legacy encodings Redis wrote before 7.0; and damaged
//! inputs, which must give errors and never panics.

use bytes::Bytes;
use proptest::prelude::*;
use slotkv_engine::types::encodings::Encodings;
use slotkv_engine::types::hash::HashValue;
use slotkv_engine::types::list::{End, ListValue};
use slotkv_engine::types::set::SetValue;
use slotkv_engine::types::zset::SortedSetValue;
use slotkv_engine::value::{StrValue, Value};

use super::cursor::Cursor;
use super::decode::decode_object;
use super::listpack::ListpackWriter;
use super::object_type::*;
use super::*;

/// The thresholds test values are built under.
const DEFAULTS: Encodings = Encodings::DEFAULT;

fn string(data: &[u8]) -> Value {
    Value::Str(StrValue::from_bytes(data))
}

fn list<T: AsRef<[u8]>>(items: &[T]) -> Value {
    let mut list = ListValue::new();
    for item in items {
        list.push(End::Right, item.as_ref(), DEFAULTS.list_limit());
    }
    Value::List(list)
}

fn set<T: AsRef<[u8]>>(items: &[T]) -> Value {
    let mut set = SetValue::default();
    for item in items {
        set.insert(item.as_ref(), &DEFAULTS);
    }
    Value::Set(set)
}

fn hash<T: AsRef<[u8]>>(pairs: &[(T, T)]) -> Value {
    let mut hash = HashValue::new();
    for (field, value) in pairs {
        hash.insert(field.as_ref(), value.as_ref(), &DEFAULTS);
    }
    Value::Hash(hash)
}

fn zset<T: AsRef<[u8]>>(entries: &[(T, f64)]) -> Value {
    let entries = entries
        .iter()
        .map(|(member, score)| (Bytes::copy_from_slice(member.as_ref()), *score))
        .collect();
    Value::SortedSet(SortedSetValue::from_entries(entries, &DEFAULTS))
}

/// Decodes a type byte + object that must fill `bytes` exactly.
fn decode_all(bytes: &[u8]) -> Result<Option<Value>, RdbError> {
    let mut cursor = Cursor::new(bytes);
    let object_type = cursor.u8()?;
    let value = decode_object(&mut cursor, object_type, 0)?;
    assert_eq!(cursor.remaining(), 0, "object does not fill its bytes");
    Ok(value)
}

/// Encodes `value` both ways, checks it decodes back (also as a payload), and returns its
/// type byte.
fn round_trip(value: &Value) -> u8 {
    let mut types = Vec::new();
    for compress in [true, false] {
        let mut bytes = Vec::new();
        encode_value_with(value, EncodeOptions { compress }, &mut bytes).expect("encodable");
        assert_eq!(decode_all(&bytes).expect("decodes").as_ref(), Some(value));
        let payload =
            payload::dump_payload_with(value, EncodeOptions { compress }).expect("encodable");
        assert_eq!(restore_payload(&payload).as_ref(), Ok(value));
        types.push(bytes[0]);
    }
    assert_eq!(types[0], types[1]);
    types[0]
}

fn numbered(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{prefix}{i}").into_bytes())
        .collect()
}

#[test]
fn strings_round_trip() {
    for data in [
        &b""[..],
        b"a",
        b"0",
        b"-1",
        b"127",
        b"-32768",
        b"2147483647",
        b"-2147483648",
        b"2147483648",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"007",
        b"12345678901",
        b"\x00\xff binary \r\n",
    ] {
        assert_eq!(round_trip(&string(data)), STRING);
    }
    assert_eq!(round_trip(&string(&b"compressible ".repeat(100))), STRING);
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_eq!(round_trip(&string(&noise)), STRING);
    assert_eq!(round_trip(&Value::Str(StrValue::Int(i64::MIN))), STRING);
}

#[test]
fn lists_round_trip_as_quicklist_2() {
    assert_eq!(round_trip(&list(&[b"one"])), LIST_QUICKLIST_2);
    assert_eq!(
        round_trip(&list(&[&b""[..], b"12", b"-5000", b"x"])),
        LIST_QUICKLIST_2
    );
    // Many nodes of 8 KiB.
    let many = numbered("element-", 20_000);
    assert_eq!(round_trip(&list(&many)), LIST_QUICKLIST_2);
    let big_elements = vec![vec![b'b'; 10_000], vec![b'c'; 70_000], b"small".to_vec()];
    assert_eq!(round_trip(&list(&big_elements)), LIST_QUICKLIST_2);
}

#[test]
fn quicklist_nodes_stay_within_8_kib() {
    let many = numbered("element-", 5_000);
    let mut bytes = Vec::new();
    encode_value_with(&list(&many), EncodeOptions { compress: false }, &mut bytes).expect("list");
    let mut cursor = Cursor::new(&bytes[1..]);
    let nodes = cursor.length().expect("node count");
    assert!(nodes > 5, "{nodes} nodes");
    for _ in 0..nodes {
        assert_eq!(cursor.length(), Ok(container::PACKED));
        let blob = cursor.string_bytes().expect("node");
        assert!(blob.len() <= 8 * 1024, "node of {} bytes", blob.len());
    }
}

#[test]
fn sets_round_trip_as_intset_or_set() {
    assert_eq!(
        round_trip(&set(&[&b"1"[..], b"-2", b"3000000000"])),
        SET_INTSET
    );
    assert_eq!(round_trip(&set(&numbered("", 512))), SET_INTSET);
    assert_eq!(round_trip(&set(&numbered("", 513))), SET);
    assert_eq!(round_trip(&set(&[&b"a"[..], b"1", b""])), SET);
    assert_eq!(round_trip(&set(&numbered("member:", 1000))), SET);
}

#[test]
fn hashes_round_trip_as_listpack_or_hash() {
    assert_eq!(
        round_trip(&hash(&[(&b"f"[..], &b"v"[..]), (b"n", b"-12"), (b"", b"")])),
        HASH_LISTPACK
    );
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = numbered("f", 128)
        .into_iter()
        .zip(numbered("v", 128))
        .collect();
    assert_eq!(round_trip(&hash(&pairs)), HASH_LISTPACK);
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = numbered("f", 129)
        .into_iter()
        .zip(numbered("v", 129))
        .collect();
    assert_eq!(round_trip(&hash(&pairs)), HASH);
    let long_value = vec![b'v'; 65];
    assert_eq!(round_trip(&hash(&[(b"f".to_vec(), long_value)])), HASH);
}

#[test]
fn sorted_sets_round_trip_as_listpack_or_zset_2() {
    let small = [
        (&b"a"[..], 1.0),
        (b"b", -2.5),
        (b"c", f64::INFINITY),
        (b"d", f64::NEG_INFINITY),
        (b"e", 0.1),
        (b"f", 1e300),
        (b"g", -0.0),
        (b"h", 123_456_789_012.0),
        (b"i", 5e-324),
    ];
    assert_eq!(round_trip(&zset(&small)), ZSET_LISTPACK);
    let members = numbered("m", 129);
    let entries: Vec<(Vec<u8>, f64)> = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| (m, i as f64 / 3.0))
        .collect();
    assert_eq!(round_trip(&zset(&entries)), ZSET_2);
    assert_eq!(
        round_trip(&zset(&[(vec![b'x'; 65], f64::INFINITY)])),
        ZSET_2
    );
}

#[test]
fn listpack_scores_are_the_shortest_text() {
    let mut bytes = Vec::new();
    encode_value_with(
        &zset(&[(&b"m"[..], 0.1), (b"n", 3.0)]),
        EncodeOptions { compress: false },
        &mut bytes,
    )
    .expect("zset");
    let mut cursor = Cursor::new(&bytes[1..]);
    let blob = cursor.string_bytes().expect("blob");
    let elements = listpack::parse(&blob).expect("listpack");
    assert_eq!(
        elements,
        [
            Element::Bytes(b"m"),
            Element::Bytes(b"0.1"),
            Element::Bytes(b"n"),
            Element::Int(3)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// legacy encodings, built by hand as older Redis versions wrote them

/// A string of `data` with a plain length prefix.
fn raw_string(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode::write_len(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

fn object(object_type: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![object_type];
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

fn listpack_of(items: &[&[u8]]) -> Vec<u8> {
    let mut writer = ListpackWriter::new();
    for item in items {
        writer.push(item);
    }
    writer.finish()
}

#[test]
fn plain_list_and_set_and_hash_types_decode() {
    let bytes = object(
        LIST,
        &[&[3], &raw_string(b"a"), &[0xC0, 5], &raw_string(b"c")],
    );
    assert_eq!(decode_all(&bytes), Ok(Some(list(&[&b"a"[..], b"5", b"c"]))));
    let bytes = object(SET, &[&[2], &raw_string(b"x"), &raw_string(b"y")]);
    assert_eq!(decode_all(&bytes), Ok(Some(set(&[b"x", b"y"]))));
    let bytes = object(HASH, &[&[1], &raw_string(b"f"), &raw_string(b"v")]);
    assert_eq!(decode_all(&bytes), Ok(Some(hash(&[(b"f", b"v")]))));
}

#[test]
fn text_scored_zset_decodes() {
    let bytes = object(
        ZSET,
        &[
            &[2],
            &raw_string(b"a"),
            &[3],
            b"1.5",
            &raw_string(b"b"),
            &[254],
        ],
    );
    assert_eq!(
        decode_all(&bytes),
        Ok(Some(zset(&[(&b"a"[..], 1.5), (b"b", f64::INFINITY)])))
    );
    let nan = object(ZSET, &[&[1], &raw_string(b"a"), &[253]]);
    assert_eq!(
        decode_all(&nan).map_err(|e| e.kind),
        Err(RdbErrorKind::NanScore)
    );
}

#[test]
fn ziplist_encodings_decode() {
    use super::ziplist::tests::build;
    let long = vec![b'l'; 300];
    let entries = [
        Element::Bytes(b"a"),
        Element::Int(5),
        Element::Bytes(&long),
        Element::Int(-70_000),
    ];
    let bytes = object(LIST_ZIPLIST, &[&raw_string(&build(&entries))]);
    assert_eq!(
        decode_all(&bytes),
        Ok(Some(list(&[&b"a"[..], b"5", &long, b"-70000"])))
    );

    let node_a = build(&[Element::Bytes(b"x"), Element::Int(1)]);
    let node_b = build(&[Element::Bytes(b"y")]);
    let bytes = object(
        LIST_QUICKLIST,
        &[&[2], &raw_string(&node_a), &raw_string(&node_b)],
    );
    assert_eq!(decode_all(&bytes), Ok(Some(list(&[b"x", b"1", b"y"]))));

    let pairs = build(&[
        Element::Bytes(b"f"),
        Element::Bytes(b"v"),
        Element::Bytes(b"n"),
        Element::Int(7),
    ]);
    let bytes = object(HASH_ZIPLIST, &[&raw_string(&pairs)]);
    assert_eq!(
        decode_all(&bytes),
        Ok(Some(hash(&[(b"f", b"v"), (b"n", b"7")])))
    );

    let scored = build(&[
        Element::Bytes(b"m"),
        Element::Bytes(b"2.5"),
        Element::Bytes(b"n"),
        Element::Int(-3),
    ]);
    let bytes = object(ZSET_ZIPLIST, &[&raw_string(&scored)]);
    assert_eq!(
        decode_all(&bytes),
        Ok(Some(zset(&[(&b"m"[..], 2.5), (b"n", -3.0)])))
    );
}

#[test]
fn zipmap_set_listpack_and_plain_nodes_decode() {
    let map = super::zipmap::tests::build(&[(b"f", b"v"), (b"g", b"")], 1);
    let bytes = object(HASH_ZIPMAP, &[&raw_string(&map)]);
    assert_eq!(
        decode_all(&bytes),
        Ok(Some(hash(&[(&b"f"[..], &b"v"[..]), (b"g", b"")])))
    );

    let members = listpack_of(&[b"a", b"12", b"b"]);
    let bytes = object(SET_LISTPACK, &[&raw_string(&members)]);
    assert_eq!(decode_all(&bytes), Ok(Some(set(&[&b"a"[..], b"12", b"b"]))));

    let node = listpack_of(&[b"p", b"q"]);
    let bytes = object(
        LIST_QUICKLIST_2,
        &[&[2], &[1], &raw_string(b"plain"), &[2], &raw_string(&node)],
    );
    assert_eq!(
        decode_all(&bytes),
        Ok(Some(list(&[&b"plain"[..], b"p", b"q"])))
    );
}

#[test]
fn empty_collections_decode_to_none() {
    assert_eq!(decode_all(&object(SET, &[&[0]])), Ok(None));
    assert_eq!(
        decode_all(&object(
            LIST_QUICKLIST_2,
            &[&[1], &[2], &raw_string(&listpack_of(&[]))]
        )),
        Ok(None)
    );
    assert_eq!(
        decode_all(&object(HASH_LISTPACK, &[&raw_string(&listpack_of(&[]))])),
        Ok(None)
    );
}

#[test]
fn inconsistent_objects_are_errors() {
    let kind = |bytes: &[u8]| decode_all(bytes).map_err(|e| e.kind);
    let dup_set = object(SET, &[&[2], &raw_string(b"x"), &raw_string(b"x")]);
    assert_eq!(kind(&dup_set), Err(RdbErrorKind::DuplicateMember));
    let dup_hash = object(
        HASH_LISTPACK,
        &[&raw_string(&listpack_of(&[b"f", b"1", b"f", b"2"]))],
    );
    assert_eq!(kind(&dup_hash), Err(RdbErrorKind::DuplicateMember));
    let dup_zset = object(
        ZSET_LISTPACK,
        &[&raw_string(&listpack_of(&[b"m", b"1", b"m", b"2"]))],
    );
    assert_eq!(kind(&dup_zset), Err(RdbErrorKind::DuplicateMember));
    let odd_hash = object(
        HASH_LISTPACK,
        &[&raw_string(&listpack_of(&[b"f", b"1", b"g"]))],
    );
    assert!(matches!(kind(&odd_hash), Err(RdbErrorKind::Corrupt(_))));
    let bad_score = object(ZSET_LISTPACK, &[&raw_string(&listpack_of(&[b"m", b"nan"]))]);
    assert!(matches!(kind(&bad_score), Err(RdbErrorKind::Corrupt(_))));
    let bad_container = object(LIST_QUICKLIST_2, &[&[1], &[3], &raw_string(b"x")]);
    assert!(matches!(
        kind(&bad_container),
        Err(RdbErrorKind::Corrupt(_))
    ));
    let nan = object(ZSET_2, &[&[1], &raw_string(b"m"), &f64::NAN.to_le_bytes()]);
    assert_eq!(kind(&nan), Err(RdbErrorKind::NanScore));
    assert_eq!(
        kind(&[STREAM_LISTPACKS_2]),
        Err(RdbErrorKind::StreamsNotSupported)
    );
    assert_eq!(kind(&[MODULE_2]), Err(RdbErrorKind::ModulesNotSupported));
    assert_eq!(kind(&[8]), Err(RdbErrorKind::UnknownType(8)));
    // A set that declares far more members than the input holds fails without allocating them.
    let huge = object(
        SET,
        &[&[0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    );
    assert_eq!(kind(&huge), Err(RdbErrorKind::Truncated));
    let huge_lzf = [STRING, 0xC3, 1, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 0];
    assert_eq!(kind(&huge_lzf), Err(RdbErrorKind::BadLzf));
}

// ---------------------------------------------------------------------------------------------
// files

fn info() -> WriterInfo {
    WriterInfo {
        redis_ver: "7.0.15".to_owned(),
        ctime_secs: 1_700_000_000,
        used_mem: 5_000_000_000,
        aof_base: false,
    }
}

/// A key as the sample file holds it: database, key, value, deadline.
type SampleKey = (u64, Vec<u8>, Value, Option<u64>);

/// A file with two databases and a key of every type, some with deadlines.
fn sample_file(options: WriterOptions) -> (Vec<u8>, Vec<SampleKey>) {
    let keys = vec![
        (0, b"str".to_vec(), string(b"hello"), None),
        (0, b"int".to_vec(), string(b"-42"), Some(1_900_000_000_000)),
        (0, b"list".to_vec(), list(&numbered("e", 100)), None),
        (0, b"intset".to_vec(), set(&[b"1", b"2", b"3"]), None),
        (
            0,
            b"set".to_vec(),
            set(&[b"a", b"b"]),
            Some(2_000_000_000_123),
        ),
        (3, b"hash".to_vec(), hash(&[(b"f", b"v")]), None),
        (
            3,
            b"zset".to_vec(),
            zset(&[(&b"m"[..], 1.5), (b"n", f64::NEG_INFINITY)]),
            None,
        ),
        (
            3,
            b"12".to_vec(),
            string(&b"long and compressible ".repeat(10)),
            None,
        ),
    ];
    let mut writer = RdbWriter::new(Vec::new(), options, &info()).expect("header");
    for db in [0, 3] {
        let in_db: Vec<_> = keys.iter().filter(|k| k.0 == db).collect();
        let expires = in_db.iter().filter(|k| k.3.is_some()).count() as u64;
        writer
            .select_db(db, in_db.len() as u64, expires)
            .expect("select");
        for (_, key, value, expire) in in_db {
            writer.entry(key, value, *expire).expect("entry");
        }
    }
    (writer.finish().expect("finish"), keys)
}

fn read_all(data: &[u8]) -> Result<Vec<Item>, RdbError> {
    RdbReader::new(data)?.collect()
}

#[test]
fn a_written_file_reads_back() {
    for options in [
        WriterOptions::default(),
        WriterOptions {
            compression: false,
            checksum: false,
        },
    ] {
        let (file, keys) = sample_file(options);
        assert_eq!(&file[..9], b"REDIS0010");
        let items = read_all(&file).expect("valid file");
        let aux: Vec<(Vec<u8>, Vec<u8>)> = items
            .iter()
            .filter_map(|item| match item {
                Item::Aux { key, value } => Some((key.clone(), value.clone())),
                _ => None,
            })
            .collect();
        let expected_aux: Vec<(Vec<u8>, Vec<u8>)> = [
            ("redis-ver", "7.0.15"),
            ("redis-bits", "64"),
            ("ctime", "1700000000"),
            ("used-mem", "5000000000"),
            ("aof-base", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
        assert_eq!(aux, expected_aux);
        assert!(items.contains(&Item::SelectDb(3)));
        assert!(items.contains(&Item::ResizeDb {
            keys: 3,
            expires: 0
        }));
        assert!(items.contains(&Item::ResizeDb {
            keys: 5,
            expires: 2
        }));
        let entries: Vec<SampleKey> = items
            .into_iter()
            .filter_map(|item| match item {
                Item::Entry(e) => Some((e.db, e.key, e.value, e.expire_at_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(entries, keys);
        let stored_crc = &file[file.len() - 8..];
        assert_eq!(stored_crc == [0; 8], !options.checksum);
    }
}

#[test]
fn the_reader_stops_after_the_checksum() {
    let (mut file, _) = sample_file(WriterOptions::default());
    let end = file.len();
    file.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    let mut reader = RdbReader::new(&file).expect("header");
    assert!(reader.by_ref().all(|item| item.is_ok()));
    assert!(reader.is_complete());
    assert_eq!(reader.position(), end);
}

#[test]
fn checksums_are_checked_unless_zero() {
    let (mut file, _) = sample_file(WriterOptions::default());
    let crc_at = file.len() - 8;
    file[crc_at] ^= 1;
    let error = read_all(&file).expect_err("bad checksum");
    assert_eq!(error.offset, crc_at);
    assert!(matches!(error.kind, RdbErrorKind::ChecksumMismatch { .. }));
    file[crc_at..].fill(0);
    assert!(read_all(&file).is_ok());
}

#[test]
fn headers_are_checked() {
    assert_eq!(
        RdbReader::new(b"RADIS0010").map(|_| ()).map_err(|e| e.kind),
        Err(RdbErrorKind::BadMagic)
    );
    assert_eq!(
        RdbReader::new(b"REDIS00x0").map(|_| ()).map_err(|e| e.kind),
        Err(RdbErrorKind::BadMagic)
    );
    assert_eq!(
        RdbReader::new(b"REDIS0012").map(|_| ()).map_err(|e| e.kind),
        Err(RdbErrorKind::UnsupportedVersion(12))
    );
    assert_eq!(
        RdbReader::new(b"REDIS0005").map(|_| ()).map_err(|e| e.kind),
        Err(RdbErrorKind::UnsupportedVersion(5))
    );
    assert_eq!(
        RdbReader::new(b"REDIS").map(|_| ()).map_err(|e| e.kind),
        Err(RdbErrorKind::Truncated)
    );
}

/// A version 6 file as Redis 2.6 wrote one: no aux, seconds deadlines, then the checksum.
fn old_file(body: &[u8]) -> Vec<u8> {
    let mut file = b"REDIS0006".to_vec();
    file.extend_from_slice(body);
    file.push(opcode::EOF);
    let crc = crc64::crc64(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    file
}

#[test]
fn old_opcodes_and_per_key_metadata_are_read() {
    let mut body = vec![opcode::SELECTDB, 1, opcode::EXPIRETIME];
    body.extend_from_slice(&1_800_000_000i32.to_le_bytes());
    body.extend_from_slice(&[opcode::IDLE, 0x40, 100, opcode::FREQ, 9, STRING]);
    body.extend_from_slice(&raw_string(b"k"));
    body.extend_from_slice(&raw_string(b"v"));
    body.extend_from_slice(&[SET, 1, b'e', 0, STRING, 1, b'n', 0]);
    let items = read_all(&old_file(&body)).expect("valid");
    let expected_first = Entry {
        db: 1,
        key: b"k".to_vec(),
        value: string(b"v"),
        expire_at_ms: Some(1_800_000_000_000),
        idle_secs: Some(100),
        freq: Some(9),
    };
    let expected_second = Entry {
        db: 1,
        key: b"n".to_vec(),
        value: string(b""),
        expire_at_ms: None,
        idle_secs: None,
        freq: None,
    };
    assert_eq!(
        items,
        vec![
            Item::SelectDb(1),
            Item::Entry(expected_first),
            Item::Entry(expected_second)
        ]
    );
    let file = old_file(&body);
    let mut reader = RdbReader::new(&file).expect("valid");
    assert_eq!(reader.by_ref().count(), 3);
    assert_eq!(reader.empty_keys_skipped(), 1);
}

#[test]
fn negative_deadlines_read_as_long_past() {
    let mut body = vec![opcode::EXPIRETIME_MS];
    body.extend_from_slice(&(-5i64).to_le_bytes());
    body.extend_from_slice(&[STRING, 1, b'k', 1, b'v']);
    let items = read_all(&old_file(&body)).expect("valid");
    assert!(matches!(
        &items[0],
        Item::Entry(Entry {
            expire_at_ms: Some(1),
            ..
        })
    ));
}

#[test]
fn functions_and_modules_are_refused() {
    let at = 9;
    for (op, kind) in [
        (opcode::FUNCTION2, RdbErrorKind::FunctionsNotSupported),
        (opcode::FUNCTION_PRE_GA, RdbErrorKind::FunctionsNotSupported),
        (opcode::MODULE_AUX, RdbErrorKind::ModulesNotSupported),
        (MODULE_2, RdbErrorKind::ModulesNotSupported),
        (STREAM_LISTPACKS_3, RdbErrorKind::StreamsNotSupported),
        (100, RdbErrorKind::UnknownType(100)),
    ] {
        let error = read_all(&old_file(&[op, 0, 0])).expect_err("refused");
        assert_eq!(error, RdbError::new(at, kind));
    }
}

#[test]
fn every_truncation_of_a_file_is_an_error() {
    let (file, _) = sample_file(WriterOptions::default());
    for len in 0..file.len() {
        assert!(read_all(&file[..len]).is_err(), "prefix of {len} bytes");
    }
}

#[test]
fn flipped_bytes_never_panic() {
    // With the checksum off every flip reaches the decoders.
    let (file, _) = sample_file(WriterOptions {
        compression: true,
        checksum: false,
    });
    for at in 0..file.len() {
        for bits in [0x01, 0x80, 0xff] {
            let mut damaged = file.clone();
            damaged[at] ^= bits;
            let _ = read_all(&damaged);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// arbitrary values

fn element() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (0i64..1000).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 60..80),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("not NaN", |s| !s.is_nan()),
        (-1000i32..1000).prop_map(f64::from),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        element().prop_map(|data| string(&data)),
        proptest::collection::vec(element(), 1..300).prop_map(|items| list(&items)),
        proptest::collection::hash_set(element(), 1..200)
            .prop_map(|items| set(&items.into_iter().collect::<Vec<_>>())),
        proptest::collection::hash_set(
            (0i64..100_000).prop_map(|n| n.to_string().into_bytes()),
            1..600
        )
        .prop_map(|items| set(&items.into_iter().collect::<Vec<_>>())),
        proptest::collection::hash_map(element(), element(), 1..200)
            .prop_map(|pairs| hash(&pairs.into_iter().collect::<Vec<_>>())),
        proptest::collection::hash_map(element(), score(), 1..200)
            .prop_map(|entries| zset(&entries.into_iter().collect::<Vec<_>>())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_values_round_trip(value in value()) {
        round_trip(&value);
    }

    #[test]
    fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = restore_payload(&bytes);
        let mut cursor = Cursor::new(&bytes);
        if let Ok(object_type) = cursor.u8() {
            let _ = decode_object(&mut cursor, object_type, 0);
        }
    }
}
