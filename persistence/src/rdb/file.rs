//! Whole RDB files.
//!
//! [`RdbWriter`] writes what Redis 7.0's SAVE writes: `REDIS0010`, the aux fields `redis-ver`,
//! `redis-bits`, `ctime`, `used-mem` and `aof-base`, then per database SELECTDB and RESIZEDB
//! and its keys (each with an optional EXPIRETIME_MS), then EOF and the CRC64 of everything
//! before it (eight zero bytes when `rdbchecksum no`).
//!
//! [`RdbReader`] streams the items of a file held in memory (the caller maps it): aux fields,
//! database selections, resize hints and entries with their expiry, LRU idle time and LFU
//! frequency. It reads versions 6 to 11, checks the checksum at EOF unless it is zero, refuses
//! function libraries and module data with their own errors, and reports where it stopped, so
//! that an AOF with an RDB preamble can go on from there.

use std::io::{self, Write};

use slotkv_engine::value::Value;

use super::crc64::{crc64, Crc64};
use super::cursor::Cursor;
use super::decode::{decode_object, is_value_type, refusal};
use super::encode::{encode_object, write_bytes, write_len, EncodeOptions};
use super::error::{RdbError, RdbErrorKind};
use super::opcode::*;
use super::{RDB_VERSION_MAX, RDB_VERSION_MIN, RDB_VERSION_WRITTEN};

const MAGIC: &[u8; 5] = b"REDIS";
/// Bytes of the header: magic and four version digits.
const HEADER_LEN: usize = 9;
/// The first version that ends files with a checksum.
const CHECKSUM_VERSION_MIN: u16 = 5;
/// The writer hands its buffer to the output once it holds this much.
const FLUSH_BYTES: usize = 64 * 1024;

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// LZF-compress long strings (`rdbcompression`).
    pub compression: bool,
    /// End the file with its CRC64 rather than zeros (`rdbchecksum`).
    pub checksum: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compression: true,
            checksum: true,
        }
    }
}

/// The aux fields at the start of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterInfo {
    /// `redis-ver`: the Redis version the file claims to come from.
    pub redis_ver: String,
    /// `ctime`: creation time, seconds since the epoch.
    pub ctime_secs: u64,
    /// `used-mem`: memory in use when saving, in bytes.
    pub used_mem: u64,
    /// `aof-base`: whether the file is the base of an AOF.
    pub aof_base: bool,
}

/// Writes an RDB file to `W` (wrap files in a `BufWriter`; the writer batches small writes).
#[derive(Debug)]
pub struct RdbWriter<W: Write> {
    out: W,
    /// The running checksum (`None` when `rdbchecksum no`).
    crc: Option<Crc64>,
    options: WriterOptions,
    buf: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    /// Starts a file: header and aux fields.
    pub fn new(out: W, options: WriterOptions, info: &WriterInfo) -> io::Result<RdbWriter<W>> {
        let mut writer = RdbWriter {
            out,
            crc: options.checksum.then(Crc64::new),
            options,
            buf: Vec::with_capacity(FLUSH_BYTES),
        };
        writer.buf.extend_from_slice(MAGIC);
        writer
            .buf
            .extend_from_slice(format!("{RDB_VERSION_WRITTEN:04}").as_bytes());
        writer.aux(b"redis-ver", info.redis_ver.as_bytes());
        writer.aux(b"redis-bits", usize::BITS.to_string().as_bytes());
        writer.aux(b"ctime", info.ctime_secs.to_string().as_bytes());
        writer.aux(b"used-mem", info.used_mem.to_string().as_bytes());
        writer.aux(b"aof-base", if info.aof_base { b"1" } else { b"0" });
        writer.flush_if_full()?;
        Ok(writer)
    }

    fn aux(&mut self, key: &[u8], value: &[u8]) {
        self.buf.push(AUX);
        write_bytes(&mut self.buf, key, self.options.compression);
        write_bytes(&mut self.buf, value, self.options.compression);
    }

    /// Starts database `db`, which holds `keys` keys of which `expires` have a deadline.
    pub fn select_db(&mut self, db: u64, keys: u64, expires: u64) -> io::Result<()> {
        self.buf.push(SELECTDB);
        write_len(&mut self.buf, db);
        self.buf.push(RESIZEDB);
        write_len(&mut self.buf, keys);
        write_len(&mut self.buf, expires);
        self.flush_if_full()
    }

    /// Writes one key with its value and deadline (milliseconds since the epoch).
    pub fn entry(
        &mut self,
        key: &[u8],
        value: &Value,
        expire_at_ms: Option<u64>,
    ) -> io::Result<()> {
        let start = self.buf.len();
        if let Some(deadline) = expire_at_ms {
            self.buf.push(EXPIRETIME_MS);
            self.buf.extend_from_slice(&deadline.to_le_bytes());
        }
        let options = EncodeOptions {
            compress: self.options.compression,
        };
        // The type byte comes before the key but is known once the value is encoded.
        let type_at = self.buf.len();
        self.buf.push(0);
        write_bytes(&mut self.buf, key, self.options.compression);
        match encode_object(value, options, &mut self.buf) {
            Ok(object_type) => self.buf[type_at] = object_type,
            Err(error) => {
                self.buf.truncate(start);
                return Err(io::Error::new(io::ErrorKind::InvalidInput, error));
            }
        }
        self.flush_if_full()
    }

    /// Ends the file (EOF and checksum), flushes it and hands the output back.
    pub fn finish(mut self) -> io::Result<W> {
        self.buf.push(EOF);
        self.flush()?;
        let crc = self.crc.take().map_or(0, Crc64::finish);
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(crc) = &mut self.crc {
            crc.update(&self.buf);
        }
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// One item of a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// An aux field (`redis-ver`, `ctime`, ...), integers as their decimal text.
    Aux {
        /// Field name.
        key: Vec<u8>,
        /// Field value.
        value: Vec<u8>,
    },
    /// Following entries belong to this database.
    SelectDb(u64),
    /// Size hints for the current database.
    ResizeDb {
        /// Keys in the database.
        keys: u64,
        /// Keys with a deadline.
        expires: u64,
    },
    /// A key and its value.
    Entry(Entry),
}

/// A key read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its database (the last SELECTDB, 0 before any).
    pub db: u64,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Value,
    /// Deadline in milliseconds since the epoch. A deadline at or before the epoch reads as
    /// 1 ms after it: long past, yet never 0 (the engine's "no deadline").
    pub expire_at_ms: Option<u64>,
    /// Seconds since last access (saved under an LRU `maxmemory-policy`).
    pub idle_secs: Option<u64>,
    /// LFU frequency counter (saved under an LFU `maxmemory-policy`).
    pub freq: Option<u8>,
}

/// What was read for the next key before its type byte.
#[derive(Debug, Default)]
struct Pending {
    expire_at_ms: Option<u64>,
    idle_secs: Option<u64>,
    freq: Option<u8>,
}

/// Streams the items of an RDB file held in memory.
#[derive(Debug)]
pub struct RdbReader<'a> {
    cursor: Cursor<'a>,
    version: u16,
    db: u64,
    pending: Pending,
    state: State,
    empty_keys_skipped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Complete,
    Failed,
}

impl<'a> RdbReader<'a> {
    /// A reader of `data`, after checking the header.
    pub fn new(data: &'a [u8]) -> Result<RdbReader<'a>, RdbError> {
        let mut cursor = Cursor::new(data);
        if cursor.bytes(MAGIC.len()).ok() != Some(&MAGIC[..]) {
            return Err(RdbError::new(0, RdbErrorKind::BadMagic));
        }
        let digits = cursor.bytes(HEADER_LEN - MAGIC.len())?;
        let version = std::str::from_utf8(digits)
            .ok()
            .filter(|text| text.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|text| text.parse::<u16>().ok())
            .ok_or(RdbError::new(MAGIC.len(), RdbErrorKind::BadMagic))?;
        if !(RDB_VERSION_MIN..=RDB_VERSION_MAX).contains(&version) {
            return Err(RdbError::new(
                MAGIC.len(),
                RdbErrorKind::UnsupportedVersion(version),
            ));
        }
        Ok(RdbReader {
            cursor,
            version,
            db: 0,
            pending: Pending::default(),
            state: State::Reading,
            empty_keys_skipped: 0,
        })
    }

    /// The file's RDB version.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Offset of the next byte to read; once the iterator is done, just after the checksum.
    pub fn position(&self) -> usize {
        self.cursor.pos()
    }

    /// Whether EOF was reached and the checksum accepted.
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// Keys skipped because their collection was empty (Redis skips them too).
    pub fn empty_keys_skipped(&self) -> u64 {
        self.empty_keys_skipped
    }

    /// The next item, or `None` at EOF (after the checksum is checked).
    fn read_item(&mut self) -> Result<Option<Item>, RdbError> {
        loop {
            let at = self.cursor.pos();
            let op = self.cursor.u8()?;
            match op {
                AUX => {
                    let key = self.cursor.string_bytes()?.into_owned();
                    let value = self.cursor.string_bytes()?.into_owned();
                    return Ok(Some(Item::Aux { key, value }));
                }
                SELECTDB => {
                    self.db = self.cursor.length()?;
                    return Ok(Some(Item::SelectDb(self.db)));
                }
                RESIZEDB => {
                    let keys = self.cursor.length()?;
                    let expires = self.cursor.length()?;
                    return Ok(Some(Item::ResizeDb { keys, expires }));
                }
                EXPIRETIME_MS => self.pending.expire_at_ms = Some(deadline(self.cursor.i64_le()?)),
                EXPIRETIME => {
                    let secs = i64::from(self.cursor.i32_le()?);
                    self.pending.expire_at_ms = Some(deadline(secs * 1000));
                }
                IDLE => self.pending.idle_secs = Some(self.cursor.length()?),
                FREQ => self.pending.freq = Some(self.cursor.u8()?),
                FUNCTION2 | FUNCTION_PRE_GA => {
                    return Err(RdbError::new(at, RdbErrorKind::FunctionsNotSupported))
                }
                MODULE_AUX => return Err(RdbError::new(at, RdbErrorKind::ModulesNotSupported)),
                EOF => {
                    self.check_checksum()?;
                    return Ok(None);
                }
                object_type if is_value_type(object_type) => {
                    if let Some(entry) = self.read_entry(object_type, at)? {
                        return Ok(Some(Item::Entry(entry)));
                    }
                }
                other => return Err(RdbError::new(at, refusal(other))),
            }
        }
    }

    /// The key and value after a type byte; `None` for an empty collection (skipped).
    fn read_entry(&mut self, object_type: u8, type_at: usize) -> Result<Option<Entry>, RdbError> {
        let key = self.cursor.string_bytes()?.into_owned();
        let value = decode_object(&mut self.cursor, object_type, type_at)?;
        let pending = std::mem::take(&mut self.pending);
        let Some(value) = value else {
            self.empty_keys_skipped += 1;
            return Ok(None);
        };
        Ok(Some(Entry {
            db: self.db,
            key,
            value,
            expire_at_ms: pending.expire_at_ms,
            idle_secs: pending.idle_secs,
            freq: pending.freq,
        }))
    }

    /// Reads and checks the checksum after EOF (a zero checksum means it was not computed).
    fn check_checksum(&mut self) -> Result<(), RdbError> {
        if self.version < CHECKSUM_VERSION_MIN {
            return Ok(());
        }
        let covered = self.cursor.consumed();
        let at = self.cursor.pos();
        let stored = self.cursor.u64_le()?;
        if stored == 0 {
            return Ok(());
        }
        let computed = crc64(covered);
        if stored != computed {
            return Err(RdbError::new(
                at,
                RdbErrorKind::ChecksumMismatch { stored, computed },
            ));
        }
        Ok(())
    }
}

/// A stored deadline as an unsigned one: before the epoch becomes 1 ms after it.
fn deadline(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).max(1)
}

impl Iterator for RdbReader<'_> {
    type Item = Result<Item, RdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != State::Reading {
            return None;
        }
        match self.read_item() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.state = State::Complete;
                None
            }
            Err(error) => {
                self.state = State::Failed;
                Some(Err(error))
            }
        }
    }
}
