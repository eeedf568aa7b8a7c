//! Writing one value as Redis 7.0 writes it in an RDB file of version 10 and in DUMP
//! payloads: a type byte, then the object.
//!
//! - strings: integer encodings (8, 16, 32 bits) for integers' texts of at most 11 bytes,
//!   LZF for strings longer than 20 bytes when compression is on and saves at least 4 bytes,
//!   raw bytes otherwise;
//! - lists: QUICKLIST_2, listpack nodes of at most 8 KiB (`list-max-listpack-size -2`), an
//!   element of 1 GiB or more alone in a plain node;
//! - sets: INTSET when every member is an integer and there are at most 512, else SET;
//! - hashes: HASH_LISTPACK up to 128 pairs of at most 64 bytes, else HASH;
//! - sorted sets: ZSET_LISTPACK up to 128 members of at most 64 bytes (scores as their
//!   shortest text), else ZSET_2 (binary doubles, highest score first as Redis writes them).

use std::fmt;

use slotkv_engine::float::format_double;
use slotkv_engine::types::hash::HashValue;
use slotkv_engine::types::list::ListValue;
use slotkv_engine::types::set::{Member, SetValue};
use slotkv_engine::types::zset::SortedSetValue;
use slotkv_engine::value::{parse_i64, StrValue, Value};

use super::listpack::ListpackWriter;
use super::{container, intset, lzf, object_type};

/// Strings at most this long are tried as integers (Redis's `rdbTryIntegerEncoding` bound).
const INT_TEXT_LEN_MAX: usize = 11;
/// Strings longer than this are tried with LZF.
const COMPRESS_LEN_MIN: usize = 20;
/// Compression must save at least this many bytes to be used.
const COMPRESS_SAVING_MIN: usize = 4;
/// Largest quicklist listpack node (`list-max-listpack-size -2`).
const NODE_BYTES_MAX: usize = 8 * 1024;
/// Elements at least this long are written as plain quicklist nodes.
const PLAIN_ELEMENT_MIN: usize = 1 << 30;

/// Length-prefix markers.
const LEN_14BIT: u8 = 0x40;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
/// Encoded-string markers.
const ENC_INT8: u8 = 0xC0;
const ENC_INT16: u8 = 0xC1;
const ENC_INT32: u8 = 0xC2;
const ENC_LZF: u8 = 0xC3;

/// How values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// LZF-compress long strings (`rdbcompression`, on by default).
    pub compress: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions { compress: true }
    }
}

/// A value this encoder has no RDB form for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedValue {
    /// The value's type name.
    pub type_name: &'static str,
}

impl fmt::Display for UnsupportedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no RDB encoding for values of type {}", self.type_name)
    }
}

impl std::error::Error for UnsupportedValue {}

/// Appends `value` (type byte and object) to `out`, compressing as Redis does by default.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) -> Result<(), UnsupportedValue> {
    encode_value_with(value, EncodeOptions::default(), out)
}

/// Appends `value` (type byte and object) to `out`.
pub fn encode_value_with(
    value: &Value,
    options: EncodeOptions,
    out: &mut Vec<u8>,
) -> Result<(), UnsupportedValue> {
    let type_at = out.len();
    out.push(0);
    match encode_object(value, options, out) {
        Ok(object_type) => {
            out[type_at] = object_type;
            Ok(())
        }
        Err(error) => {
            out.truncate(type_at);
            Err(error)
        }
    }
}

/// Appends the object of `value` (without its type byte) and returns the type byte it needs.
pub(crate) fn encode_object(
    value: &Value,
    options: EncodeOptions,
    out: &mut Vec<u8>,
) -> Result<u8, UnsupportedValue> {
    let compress = options.compress;
    Ok(match value {
        Value::Str(s) => {
            write_str_value(out, s, compress);
            object_type::STRING
        }
        Value::List(list) => write_list(out, list, compress),
        Value::Set(set) => write_set(out, set, compress),
        Value::Hash(hash) => write_hash(out, hash, compress),
        Value::SortedSet(zset) => write_zset(out, zset, compress),
        other => {
            return Err(UnsupportedValue {
                type_name: other.type_name(),
            })
        }
    })
}

/// Appends a length prefix.
pub(crate) fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[LEN_14BIT | (len >> 8) as u8, len as u8]);
    } else if let Ok(len) = u32::try_from(len) {
        out.push(LEN_32BIT);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends `n` in an integer encoding if it fits 32 bits; false if it does not.
fn write_int_encoded(out: &mut Vec<u8>, n: i64) -> bool {
    if let Ok(n) = i8::try_from(n) {
        out.extend_from_slice(&[ENC_INT8, n as u8]);
    } else if let Ok(n) = i16::try_from(n) {
        out.push(ENC_INT16);
        out.extend_from_slice(&n.to_le_bytes());
    } else if let Ok(n) = i32::try_from(n) {
        out.push(ENC_INT32);
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Appends a string: integer-encoded, LZF-compressed or raw, whichever Redis would pick.
pub(crate) fn write_bytes(out: &mut Vec<u8>, data: &[u8], compress: bool) {
    if data.len() <= INT_TEXT_LEN_MAX {
        if let Some(n) = parse_i64(data) {
            if write_int_encoded(out, n) {
                return;
            }
        }
    }
    if compress && data.len() > COMPRESS_LEN_MIN {
        if let Some(packed) = lzf::compress(data, data.len() - COMPRESS_SAVING_MIN) {
            out.push(ENC_LZF);
            write_len(out, packed.len() as u64);
            write_len(out, data.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    write_len(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn write_str_value(out: &mut Vec<u8>, value: &StrValue, compress: bool) {
    match value {
        StrValue::Int(n) => {
            if !write_int_encoded(out, *n) {
                write_bytes(out, n.to_string().as_bytes(), compress);
            }
        }
        StrValue::Inline(data) => write_bytes(out, data, compress),
        StrValue::Embedded(data) | StrValue::Raw(data) => write_bytes(out, data, compress),
    }
}

/// A quicklist node as written.
enum Node<'a> {
    Plain(&'a [u8]),
    Packed(Vec<u8>),
}

fn write_list(out: &mut Vec<u8>, list: &ListValue, compress: bool) -> u8 {
    let mut nodes = Vec::new();
    let mut node = ListpackWriter::new();
    for element in list.iter() {
        let fits = node.size() + ListpackWriter::element_size(element) <= NODE_BYTES_MAX;
        if node.count() > 0 && (!fits || element.len() >= PLAIN_ELEMENT_MIN) {
            nodes.push(Node::Packed(
                std::mem::replace(&mut node, ListpackWriter::new()).finish(),
            ));
        }
        if element.len() >= PLAIN_ELEMENT_MIN {
            nodes.push(Node::Plain(element));
        } else {
            node.push(element);
        }
    }
    if node.count() > 0 {
        nodes.push(Node::Packed(node.finish()));
    }
    write_len(out, nodes.len() as u64);
    for node in &nodes {
        match node {
            Node::Plain(element) => {
                write_len(out, container::PLAIN);
                write_bytes(out, element, compress);
            }
            Node::Packed(blob) => {
                write_len(out, container::PACKED);
                write_bytes(out, blob, compress);
            }
        }
    }
    object_type::LIST_QUICKLIST_2
}

/// The member as an integer, if it is one.
fn member_int(member: Member<'_>) -> Option<i64> {
    match member {
        Member::Int(n) => Some(n),
        Member::Bytes(data) => parse_i64(data),
    }
}

fn write_set(out: &mut Vec<u8>, set: &SetValue, compress: bool) -> u8 {
    // Each value is written in the form its encoding has in memory, as Redis does.
    let ints: Option<Vec<i64>> = if set.encoding() == "intset" {
        set.iter().map(member_int).collect()
    } else {
        None
    };
    match ints {
        Some(mut ints) => {
            ints.sort_unstable();
            let mut blob = Vec::new();
            intset::write(&ints, &mut blob);
            write_bytes(out, &blob, compress);
            object_type::SET_INTSET
        }
        None => {
            write_len(out, set.len() as u64);
            for member in set.iter() {
                member.with_text(|text| write_bytes(out, text, compress));
            }
            object_type::SET
        }
    }
}

fn write_hash(out: &mut Vec<u8>, hash: &HashValue, compress: bool) -> u8 {
    if hash.encoding() == "listpack" {
        let mut listpack = ListpackWriter::new();
        for (field, value) in hash.iter() {
            listpack.push(field);
            listpack.push(value);
        }
        write_bytes(out, &listpack.finish(), compress);
        object_type::HASH_LISTPACK
    } else {
        write_len(out, hash.len() as u64);
        for (field, value) in hash.iter() {
            write_bytes(out, field, compress);
            write_bytes(out, value, compress);
        }
        object_type::HASH
    }
}

fn write_zset(out: &mut Vec<u8>, zset: &SortedSetValue, compress: bool) -> u8 {
    if zset.encoding() == "listpack" {
        let mut listpack = ListpackWriter::new();
        for (member, score) in zset.iter() {
            listpack.push(member);
            listpack.push(format_double(score).as_bytes());
        }
        write_bytes(out, &listpack.finish(), compress);
        object_type::ZSET_LISTPACK
    } else {
        write_len(out, zset.len() as u64);
        for (member, score) in zset.iter().rev() {
            write_bytes(out, member, compress);
            out.extend_from_slice(&score.to_le_bytes());
        }
        object_type::ZSET_2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(data: &[u8], compress: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write_bytes(&mut out, data, compress);
        out
    }

    #[test]
    fn lengths_use_the_shortest_form() {
        let encode = |len: u64| {
            let mut out = Vec::new();
            write_len(&mut out, len);
            out
        };
        assert_eq!(encode(63), [63]);
        assert_eq!(encode(64), [0x40, 64]);
        assert_eq!(encode(16383), [0x7f, 0xff]);
        assert_eq!(encode(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(encode(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn strings_pick_redis_s_encoding() {
        assert_eq!(bytes_of(b"12", true), [0xC0, 12]);
        assert_eq!(bytes_of(b"-129", true), [0xC1, 0x7f, 0xff]);
        assert_eq!(
            bytes_of(b"2147483647", true),
            [0xC2, 0xff, 0xff, 0xff, 0x7f]
        );
        // Too wide for 32 bits, a leading zero, a plus sign: raw.
        assert_eq!(bytes_of(b"2147483648", true)[0], 10);
        assert_eq!(bytes_of(b"012", true), [3, b'0', b'1', b'2']);
        assert_eq!(bytes_of(b"+1", true), [2, b'+', b'1']);
        let long = vec![b'a'; 100];
        assert_eq!(bytes_of(&long, true)[0], ENC_LZF);
        assert_eq!(bytes_of(&long, false)[..2], [0x40, 100]);
        // 20 bytes is not tried; incompressible data stays raw.
        assert_eq!(bytes_of(&[b'a'; 20], true)[0], 20);
        let noise: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
        assert_eq!(bytes_of(&noise, true)[0], 40);
    }
}
