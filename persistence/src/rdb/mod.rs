//! Redis's RDB format, as slotkv reads and writes it (see docs/RDB.md for the byte layout).
//!
//! - [`crc64`]: the CRC-64 (Jones) checksum that ends files and DUMP payloads.
//! - [`lzf`]: LZF compression of long strings (`rdbcompression`).
//! - `cursor`: bounds-checked reading of lengths, strings and numbers from a byte slice.
//! - `listpack`, `ziplist`, `intset`, `zipmap`: the packed blobs Redis stores collections in,
//!   parsed with every length validated; listpack and intset are also written.
//! - `encode` / `decode`: one value (type byte + object) to and from bytes.
//! - [`payload`]: DUMP/RESTORE payloads (object + RDB version + CRC64).
//! - [`file`]: whole files: [`RdbWriter`] writes version 10 as Redis 7.0 does, [`RdbReader`]
//!   streams the items of a version 6 to 11 file held in memory (a memory map).
//!
//! Everything here is a pure codec: no server state, no I/O beyond the writer's `impl Write`.
//! Decoding never panics and never allocates by a declared length beyond what the input can
//! hold; every error carries the byte offset where it was found.

pub mod crc64;
mod cursor;
mod decode;
mod encode;
mod error;
pub mod file;
mod intset;
mod listpack;
pub mod lzf;
pub mod payload;
mod ziplist;
mod zipmap;

pub use encode::{encode_value, encode_value_with, EncodeOptions, UnsupportedValue};
pub use error::{RdbError, RdbErrorKind};
pub use file::{Entry, Item, RdbReader, RdbWriter, WriterInfo, WriterOptions};
pub use payload::{dump_payload, dump_payload_with, restore_payload};
pub(crate) use slotkv_engine::value::{format_i64, I64_TEXT_LEN_MAX};

/// The string element of `len` bytes at `start` of a packed blob (listpack or ziplist), with
/// its encoded size (`header` plus `len`); `None` if the blob is shorter.
pub(crate) fn packed_string(
    blob: &[u8],
    start: usize,
    len: usize,
    header: usize,
) -> Option<(Element<'_>, usize)> {
    let data = blob.get(start..start.checked_add(len)?)?;
    Some((Element::Bytes(data), header + len))
}

/// The version slotkv writes: Redis 7.0's.
pub const RDB_VERSION_WRITTEN: u16 = 10;
/// The oldest version read (Redis 2.6).
pub const RDB_VERSION_MIN: u16 = 6;
/// The newest version read (Redis 7.2).
pub const RDB_VERSION_MAX: u16 = 11;

/// Object type bytes (`RDB_TYPE_*` in Redis).
pub(crate) mod object_type {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// File opcodes (`RDB_OPCODE_*`), sharing the byte space of the object types.
pub(crate) mod opcode {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Quicklist 2 node containers.
pub(crate) mod container {
    /// One element stored as a plain string (elements too large for a listpack).
    pub const PLAIN: u64 = 1;
    /// A listpack of elements.
    pub const PACKED: u64 = 2;
}

/// An element of a packed blob (listpack, ziplist): an integer or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Element<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Element<'_> {
    /// Runs `f` on the element's text (integers are written in decimal to a stack buffer).
    pub(crate) fn with_text<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Element::Int(n) => {
                let mut buffer = [0u8; I64_TEXT_LEN_MAX];
                f(format_i64(n, &mut buffer))
            }
            Element::Bytes(data) => f(data),
        }
    }
}

#[cfg(test)]
mod codec_tests;
