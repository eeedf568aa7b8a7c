//! Reading one object of any type Redis writes in RDB versions 6 to 11 into a slotkv value.
//!
//! Plain forms (STRING, LIST, SET, ZSET, ZSET_2, HASH) are read item by item; packed forms
//! (ziplist, listpack, intset, zipmap, quicklist 1 and 2) are read as a string blob and parsed
//! by their module. A field or member given twice, a NaN score or an odd number of elements in
//! a pair list is an error, as in Redis. An empty collection decodes to `None` (Redis skips
//! such keys when loading). Streams and module values are refused with their own errors.

use std::borrow::Cow;

use bytes::Bytes;
use slotkv_engine::types::encodings::{Encodings, ListPackLimit};
use slotkv_engine::types::hash::HashValue;
use slotkv_engine::types::list::{End, ListValue};
use slotkv_engine::types::set::{Member, SetValue};
use slotkv_engine::types::zset::SortedSetValue;
use slotkv_engine::value::{parse_f64, Value};

use super::cursor::Cursor;
use super::error::{RdbError, RdbErrorKind};
use super::object_type::*;
use super::{container, intset, listpack, ziplist, zipmap, Element};

/// Whether `object_type` is a value type this decoder reads.
pub(crate) fn is_value_type(object_type: u8) -> bool {
    matches!(
        object_type,
        STRING..=ZSET_2 | HASH_ZIPMAP..=LIST_QUICKLIST | HASH_LISTPACK..=LIST_QUICKLIST_2 | SET_LISTPACK
    )
}

/// Why a type byte that is not a readable value type is refused.
pub(crate) fn refusal(object_type: u8) -> RdbErrorKind {
    match object_type {
        STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => {
            RdbErrorKind::StreamsNotSupported
        }
        MODULE_PRE_GA | MODULE_2 => RdbErrorKind::ModulesNotSupported,
        other => RdbErrorKind::UnknownType(other),
    }
}

/// Reads the object of type `object_type` (whose type byte was at `type_offset`); `None` for
/// an empty collection.
pub(crate) fn decode_object(
    cursor: &mut Cursor<'_>,
    object_type: u8,
    type_offset: usize,
) -> Result<Option<Value>, RdbError> {
    let value = match object_type {
        STRING => Value::Str(cursor.string()?.into_value()),
        LIST => return read_list(cursor),
        LIST_ZIPLIST => return packed_list(cursor, ziplist::parse),
        LIST_QUICKLIST => return read_quicklist(cursor),
        LIST_QUICKLIST_2 => return read_quicklist_2(cursor),
        SET => return read_set(cursor),
        SET_INTSET => return read_intset(cursor),
        SET_LISTPACK => return read_set_listpack(cursor),
        ZSET | ZSET_2 => return read_zset(cursor, object_type == ZSET_2),
        ZSET_ZIPLIST => return packed_zset(cursor, ziplist::parse),
        ZSET_LISTPACK => return packed_zset(cursor, listpack::parse),
        HASH => return read_hash(cursor),
        HASH_ZIPMAP => return read_zipmap(cursor),
        HASH_ZIPLIST => return packed_hash(cursor, ziplist::parse),
        HASH_LISTPACK => return packed_hash(cursor, listpack::parse),
        other => return Err(RdbError::new(type_offset, refusal(other))),
    };
    Ok(Some(value))
}

/// A parser of a packed blob into its elements.
type BlobParser = for<'b> fn(&'b [u8]) -> Result<Vec<Element<'b>>, &'static str>;

/// Reads a string holding a packed blob: its offset and bytes.
fn blob<'a>(cursor: &mut Cursor<'a>) -> Result<(usize, Cow<'a, [u8]>), RdbError> {
    let offset = cursor.pos();
    Ok((offset, cursor.string_bytes()?))
}

fn corrupt(offset: usize, what: &'static str) -> RdbError {
    RdbError::new(offset, RdbErrorKind::Corrupt(what))
}

// ---------------------------------------------------------------------------------------------
// lists

fn non_empty_list(list: ListValue) -> Option<Value> {
    (!list.is_empty()).then_some(Value::List(list))
}

fn push_elements(list: &mut ListValue, elements: &[Element<'_>], limit: ListPackLimit) {
    for element in elements {
        element.with_text(|text| list.push(End::Right, text, limit));
    }
}

fn read_list(cursor: &mut Cursor<'_>) -> Result<Option<Value>, RdbError> {
    let (count, _) = cursor.count()?;
    let mut list = ListValue::new();
    let limit = cursor.encodings.list_limit();
    for _ in 0..count {
        list.push(End::Right, &cursor.string_bytes()?, limit);
    }
    Ok(non_empty_list(list))
}

fn packed_list(cursor: &mut Cursor<'_>, parse: BlobParser) -> Result<Option<Value>, RdbError> {
    let (offset, blob) = blob(cursor)?;
    let elements = parse(&blob).map_err(|what| corrupt(offset, what))?;
    let mut list = ListValue::new();
    push_elements(&mut list, &elements, cursor.encodings.list_limit());
    Ok(non_empty_list(list))
}

/// Quicklist version 1: a count of ziplist nodes.
fn read_quicklist(cursor: &mut Cursor<'_>) -> Result<Option<Value>, RdbError> {
    let (count, _) = cursor.count()?;
    let mut list = ListValue::new();
    for _ in 0..count {
        let (offset, blob) = blob(cursor)?;
        let elements = ziplist::parse(&blob).map_err(|what| corrupt(offset, what))?;
        push_elements(&mut list, &elements, cursor.encodings.list_limit());
    }
    Ok(non_empty_list(list))
}

/// Quicklist version 2: a count of nodes, each a container kind and a listpack or one element.
fn read_quicklist_2(cursor: &mut Cursor<'_>) -> Result<Option<Value>, RdbError> {
    let (count, _) = cursor.count()?;
    let mut list = ListValue::new();
    for _ in 0..count {
        let container_at = cursor.pos();
        match cursor.length()? {
            container::PLAIN => {
                let limit = cursor.encodings.list_limit();
                list.push(End::Right, &cursor.string_bytes()?, limit);
            }
            container::PACKED => {
                let (offset, blob) = blob(cursor)?;
                let elements = listpack::parse(&blob).map_err(|what| corrupt(offset, what))?;
                push_elements(&mut list, &elements, cursor.encodings.list_limit());
            }
            _ => return Err(corrupt(container_at, "unknown quicklist container")),
        }
    }
    Ok(non_empty_list(list))
}

// ---------------------------------------------------------------------------------------------
// sets

fn non_empty_set(set: SetValue) -> Option<Value> {
    (!set.is_empty()).then_some(Value::Set(set))
}

fn read_set(cursor: &mut Cursor<'_>) -> Result<Option<Value>, RdbError> {
    let (count, prealloc) = cursor.count()?;
    let mut set = SetValue::default();
    let encodings = cursor.encodings;
    set.prepare_for(prealloc, &encodings);
    for _ in 0..count {
        let at = cursor.pos();
        if !set.insert(&cursor.string_bytes()?, &encodings) {
            return Err(RdbError::new(at, RdbErrorKind::DuplicateMember));
        }
    }
    Ok(non_empty_set(set))
}

fn read_intset(cursor: &mut Cursor<'_>) -> Result<Option<Value>, RdbError> {
    let (offset, blob) = blob(cursor)?;
    let ints = intset::parse(&blob).map_err(|what| corrupt(offset, what))?;
    let members: Vec<Member<'_>> = ints.into_iter().map(Member::Int).collect();
    Ok(non_empty_set(SetValue::from_distinct(
        &members,
        &cursor.encodings,
    )))
}

fn read_set_listpack(cursor: &mut Cursor<'_>) -> Result<Option<Value>, RdbError> {
    let (offset, blob) = blob(cursor)?;
    let elements = listpack::parse(&blob).map_err(|what| corrupt(offset, what))?;
    let mut set = SetValue::default();
    let encodings = cursor.encodings;
    set.prepare_for(elements.len(), &encodings);
    for element in elements {
        if !element.with_text(|text| set.insert(text, &encodings)) {
            return Err(RdbError::new(offset, RdbErrorKind::DuplicateMember));
        }
    }
    Ok(non_empty_set(set))
}

// ---------------------------------------------------------------------------------------------
// sorted sets

/// The sorted set of `entries`; an error at `offset` if a member repeats.
fn zset_from(
    entries: Vec<(Bytes, f64)>,
    offset: usize,
    encodings: &Encodings,
) -> Result<Option<Value>, RdbError> {
    if entries.is_empty() {
        return Ok(None);
    }
    let count = entries.len();
    let zset = SortedSetValue::from_entries(entries, encodings);
    if zset.len() != count {
        return Err(RdbError::new(offset, RdbErrorKind::DuplicateMember));
    }
    Ok(Some(Value::SortedSet(zset)))
}

/// ZSET (scores as text) or ZSET_2 (scores as binary doubles).
fn read_zset(cursor: &mut Cursor<'_>, binary_scores: bool) -> Result<Option<Value>, RdbError> {
    let offset = cursor.pos();
    let (count, prealloc) = cursor.count()?;
    let mut entries = Vec::with_capacity(prealloc);
    for _ in 0..count {
        let member = Bytes::copy_from_slice(&cursor.string_bytes()?);
        let score_at = cursor.pos();
        let score = if binary_scores {
            cursor.f64_le()?
        } else {
            cursor.text_double()?
        };
        if score.is_nan() {
            return Err(RdbError::new(score_at, RdbErrorKind::NanScore));
        }
        entries.push((member, score));
    }
    zset_from(entries, offset, &cursor.encodings)
}

/// A score stored as a packed element (an integer or a double's text).
fn element_score(element: Element<'_>) -> Option<f64> {
    match element {
        Element::Int(n) => Some(n as f64),
        Element::Bytes(text) => parse_f64(text),
    }
}

fn packed_zset(cursor: &mut Cursor<'_>, parse: BlobParser) -> Result<Option<Value>, RdbError> {
    let (offset, blob) = blob(cursor)?;
    let elements = parse(&blob).map_err(|what| corrupt(offset, what))?;
    if elements.len() % 2 != 0 {
        return Err(corrupt(offset, "sorted set with an odd number of elements"));
    }
    let mut entries = Vec::with_capacity(elements.len() / 2);
    for pair in elements.chunks_exact(2) {
        let member = pair[0].with_text(Bytes::copy_from_slice);
        let score = element_score(pair[1]).ok_or_else(|| corrupt(offset, "bad score"))?;
        entries.push((member, score));
    }
    zset_from(entries, offset, &cursor.encodings)
}

// ---------------------------------------------------------------------------------------------
// hashes

fn non_empty_hash(hash: HashValue) -> Option<Value> {
    (!hash.is_empty()).then_some(Value::Hash(hash))
}

fn read_hash(cursor: &mut Cursor<'_>) -> Result<Option<Value>, RdbError> {
    let (count, _) = cursor.count()?;
    let mut hash = HashValue::new();
    for _ in 0..count {
        let at = cursor.pos();
        let field = cursor.string_bytes()?;
        let value = cursor.string_bytes()?;
        if !hash.insert(&field, &value, &cursor.encodings) {
            return Err(RdbError::new(at, RdbErrorKind::DuplicateMember));
        }
    }
    Ok(non_empty_hash(hash))
}

fn packed_hash(cursor: &mut Cursor<'_>, parse: BlobParser) -> Result<Option<Value>, RdbError> {
    let (offset, blob) = blob(cursor)?;
    let elements = parse(&blob).map_err(|what| corrupt(offset, what))?;
    if elements.len() % 2 != 0 {
        return Err(corrupt(offset, "hash with an odd number of elements"));
    }
    let mut hash = HashValue::new();
    let encodings = cursor.encodings;
    for pair in elements.chunks_exact(2) {
        let added = pair[0]
            .with_text(|field| pair[1].with_text(|value| hash.insert(field, value, &encodings)));
        if !added {
            return Err(RdbError::new(offset, RdbErrorKind::DuplicateMember));
        }
    }
    Ok(non_empty_hash(hash))
}

fn read_zipmap(cursor: &mut Cursor<'_>) -> Result<Option<Value>, RdbError> {
    let (offset, blob) = blob(cursor)?;
    let pairs = zipmap::parse(&blob).map_err(|what| corrupt(offset, what))?;
    let mut hash = HashValue::new();
    for (field, value) in pairs {
        if !hash.insert(field, value, &cursor.encodings) {
            return Err(RdbError::new(offset, RdbErrorKind::DuplicateMember));
        }
    }
    Ok(non_empty_hash(hash))
}
