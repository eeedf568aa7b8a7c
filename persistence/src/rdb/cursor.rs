//! Reading RDB primitives from a byte slice: fixed-width numbers, lengths (6, 14, 32 or 64
//! bits), strings (raw, integer-encoded or LZF-compressed) and the two double encodings.
//! Every read is bounds-checked and every error carries the offset where it happened.

use std::borrow::Cow;

use slotkv_engine::types::encodings::Encodings;
use slotkv_engine::value::StrValue;

use super::error::{RdbError, RdbErrorKind};
use super::{format_i64, lzf, I64_TEXT_LEN_MAX};

/// Most items reserved ahead for a collection, whatever its declared count.
const PREALLOC_MAX: usize = 1 << 16;

/// Length-prefix kinds (top two bits of the first byte).
const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
/// Special string encodings (low six bits after the `11` prefix).
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Text-encoded doubles (old ZSET type): these length bytes stand for NaN and infinities.
const DOUBLE_NAN: u8 = 253;
const DOUBLE_POS_INF: u8 = 254;
const DOUBLE_NEG_INF: u8 = 255;

/// A string as stored: an integer encoding or bytes (borrowed from the input unless they
/// were compressed).
#[derive(Debug)]
pub(crate) enum RdbStr<'a> {
    Int(i64),
    Bytes(Cow<'a, [u8]>),
}

impl<'a> RdbStr<'a> {
    /// The string's bytes (an integer in decimal).
    pub(crate) fn into_bytes(self) -> Cow<'a, [u8]> {
        match self {
            RdbStr::Int(n) => {
                let mut buffer = [0u8; I64_TEXT_LEN_MAX];
                Cow::Owned(format_i64(n, &mut buffer).to_vec())
            }
            RdbStr::Bytes(bytes) => bytes,
        }
    }

    /// The string as a stored string value.
    pub(crate) fn into_value(self) -> StrValue {
        match self {
            RdbStr::Int(n) => StrValue::Int(n),
            RdbStr::Bytes(bytes) => StrValue::from_bytes(&bytes),
        }
    }
}

/// A position in an input slice.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    /// The thresholds decoded collections are built under (compact below them).
    pub(crate) encodings: Encodings,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Cursor<'a> {
        Cursor {
            data,
            pos: 0,
            encodings: Encodings::DEFAULT,
        }
    }

    /// Offset of the next byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Everything before the next byte.
    pub(crate) fn consumed(&self) -> &'a [u8] {
        &self.data[..self.pos]
    }

    /// An error of `kind` at the current position.
    pub(crate) fn error(&self, kind: RdbErrorKind) -> RdbError {
        RdbError::new(self.pos, kind)
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], RdbError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| self.error(RdbErrorKind::Truncated))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.bytes(N)?);
        Ok(array)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn i32_le(&mut self) -> Result<i32, RdbError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(crate) fn i64_le(&mut self) -> Result<i64, RdbError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, RdbError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A binary double (ZSET_2 scores).
    pub(crate) fn f64_le(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A length prefix, or the special encoding (low six bits) of an encoded string.
    fn length_or_encoding(&mut self) -> Result<Result<u64, u8>, RdbError> {
        let start = self.pos;
        let first = self.u8()?;
        Ok(match first >> 6 {
            LEN_6BIT => Ok(u64::from(first & 0x3f)),
            LEN_14BIT => Ok(u64::from(first & 0x3f) << 8 | u64::from(self.u8()?)),
            3 => Err(first & 0x3f),
            _ => match first {
                LEN_32BIT => Ok(u64::from(u32::from_be_bytes(self.array()?))),
                LEN_64BIT => Ok(u64::from_be_bytes(self.array()?)),
                _ => {
                    return Err(RdbError::new(
                        start,
                        RdbErrorKind::Corrupt("bad length prefix"),
                    ))
                }
            },
        })
    }

    /// A length prefix (an encoded-string marker here is an error).
    pub(crate) fn length(&mut self) -> Result<u64, RdbError> {
        let start = self.pos;
        self.length_or_encoding()?.map_err(|_| {
            RdbError::new(
                start,
                RdbErrorKind::Corrupt("string encoding where a length belongs"),
            )
        })
    }

    /// A length that must fit `usize`.
    pub(crate) fn length_usize(&mut self) -> Result<usize, RdbError> {
        let start = self.pos;
        let len = self.length()?;
        usize::try_from(len).map_err(|_| RdbError::new(start, RdbErrorKind::LengthTooLarge(len)))
    }

    /// A count of items that each take at least one byte, and a preallocation for them bounded
    /// by what is left of the input and by [`PREALLOC_MAX`] (larger collections grow as they
    /// are read, so a lying count never reserves more than that).
    pub(crate) fn count(&mut self) -> Result<(usize, usize), RdbError> {
        let count = self.length_usize()?;
        Ok((count, count.min(self.remaining()).min(PREALLOC_MAX)))
    }

    /// A string in any of its encodings.
    pub(crate) fn string(&mut self) -> Result<RdbStr<'a>, RdbError> {
        let start = self.pos;
        match self.length_or_encoding()? {
            Ok(len) => {
                let len = usize::try_from(len)
                    .map_err(|_| RdbError::new(start, RdbErrorKind::LengthTooLarge(len)))?;
                Ok(RdbStr::Bytes(Cow::Borrowed(self.bytes(len)?)))
            }
            Err(ENC_INT8) => Ok(RdbStr::Int(i64::from(i8::from_le_bytes(self.array()?)))),
            Err(ENC_INT16) => Ok(RdbStr::Int(i64::from(i16::from_le_bytes(self.array()?)))),
            Err(ENC_INT32) => Ok(RdbStr::Int(i64::from(i32::from_le_bytes(self.array()?)))),
            Err(ENC_LZF) => self
                .lzf_string()
                .map(|bytes| RdbStr::Bytes(Cow::Owned(bytes))),
            Err(_) => Err(RdbError::new(
                start,
                RdbErrorKind::Corrupt("unknown string encoding"),
            )),
        }
    }

    /// The bytes of a string in any encoding.
    pub(crate) fn string_bytes(&mut self) -> Result<Cow<'a, [u8]>, RdbError> {
        self.string().map(RdbStr::into_bytes)
    }

    /// An LZF string after its marker: compressed length, original length, data.
    fn lzf_string(&mut self) -> Result<Vec<u8>, RdbError> {
        let compressed_len = self.length_usize()?;
        let len = self.length_usize()?;
        let start = self.pos;
        let compressed = self.bytes(compressed_len)?;
        lzf::decompress(compressed, len).map_err(|_| RdbError::new(start, RdbErrorKind::BadLzf))
    }

    /// A double in text form (the old ZSET type): a length byte, with three values reserved
    /// for NaN and the infinities, then that many characters.
    pub(crate) fn text_double(&mut self) -> Result<f64, RdbError> {
        let start = self.pos;
        match self.u8()? {
            DOUBLE_NAN => Ok(f64::NAN),
            DOUBLE_POS_INF => Ok(f64::INFINITY),
            DOUBLE_NEG_INF => Ok(f64::NEG_INFINITY),
            len => {
                let text = self.bytes(usize::from(len))?;
                slotkv_engine::value::parse_f64(text)
                    .ok_or_else(|| RdbError::new(start, RdbErrorKind::Corrupt("bad double text")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_length_form() {
        let data = [
            0x05, 0x41, 0x02, 0x80, 0, 1, 0, 0, 0x81, 0, 0, 0, 1, 0, 0, 0, 0,
        ];
        let mut cursor = Cursor::new(&data);
        assert_eq!(cursor.length(), Ok(5));
        assert_eq!(cursor.length(), Ok(0x102));
        assert_eq!(cursor.length(), Ok(0x10000));
        assert_eq!(cursor.length(), Ok(1 << 32));
        assert_eq!(cursor.remaining(), 0);
        assert_eq!(
            cursor.length().map_err(|e| e.kind),
            Err(RdbErrorKind::Truncated)
        );
    }

    #[test]
    fn reads_integer_encoded_strings() {
        let data = [0xC0, 0xFE, 0xC1, 0x34, 0x12, 0xC2, 0xFF, 0xFF, 0xFF, 0x7F];
        let mut cursor = Cursor::new(&data);
        assert!(matches!(cursor.string(), Ok(RdbStr::Int(-2))));
        assert!(matches!(cursor.string(), Ok(RdbStr::Int(0x1234))));
        assert!(matches!(cursor.string(), Ok(RdbStr::Int(0x7FFF_FFFF))));
    }

    #[test]
    fn bad_prefixes_and_encodings_are_errors() {
        let mut cursor = Cursor::new(&[0x82]);
        assert!(matches!(
            cursor.length(),
            Err(RdbError {
                offset: 0,
                kind: RdbErrorKind::Corrupt(_)
            })
        ));
        let mut cursor = Cursor::new(&[0xC4]);
        assert!(matches!(
            cursor.string(),
            Err(RdbError {
                offset: 0,
                kind: RdbErrorKind::Corrupt(_)
            })
        ));
        let mut cursor = Cursor::new(&[0xC0]);
        assert!(matches!(
            cursor.length(),
            Err(RdbError {
                offset: 0,
                kind: RdbErrorKind::Corrupt(_)
            })
        ));
        let mut cursor = Cursor::new(&[0x0A, b'a']);
        assert_eq!(
            cursor.string().map(|_| ()).map_err(|e| e.kind),
            Err(RdbErrorKind::Truncated)
        );
    }

    #[test]
    fn reads_text_doubles() {
        let data = [253, 254, 255, 3, b'1', b'.', b'5', 3, b'a', b'b', b'c'];
        let mut cursor = Cursor::new(&data);
        assert!(cursor.text_double().is_ok_and(f64::is_nan));
        assert_eq!(cursor.text_double(), Ok(f64::INFINITY));
        assert_eq!(cursor.text_double(), Ok(f64::NEG_INFINITY));
        assert_eq!(cursor.text_double(), Ok(1.5));
        assert!(cursor.text_double().is_err());
    }
}
