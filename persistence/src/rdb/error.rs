//! The one error type of RDB decoding: what went wrong and at which byte of the input.

use std::fmt;

/// An RDB file or payload that cannot be read, with the byte offset where that was found
/// (for a problem inside a packed blob, the offset of the blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    /// Byte offset in the file or payload.
    pub offset: usize,
    /// What is wrong.
    pub kind: RdbErrorKind,
}

/// What makes an RDB input unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RdbErrorKind {
    /// The input ends in the middle of an item.
    Truncated,
    /// The file does not start with `REDIS` and four digits.
    BadMagic,
    /// An RDB version this reader does not know (files: 6 to 11; payloads: at most 11).
    UnsupportedVersion(u16),
    /// The stored CRC64 differs from the computed one.
    ChecksumMismatch {
        /// The checksum in the input.
        stored: u64,
        /// The checksum of the bytes it covers.
        computed: u64,
    },
    /// A DUMP payload shorter than its 10-byte footer.
    PayloadTooShort,
    /// A type or opcode byte this reader does not know.
    UnknownType(u8),
    /// A stream value (slotkv has no stream type).
    StreamsNotSupported,
    /// A module value or module auxiliary data (slotkv has no modules).
    ModulesNotSupported,
    /// A function library (slotkv has no functions).
    FunctionsNotSupported,
    /// A hash field or set/sorted-set member given twice.
    DuplicateMember,
    /// A sorted set score that is NaN.
    NanScore,
    /// A collection with no element where a value is required (RESTORE).
    EmptyValue,
    /// A length that does not fit this machine's addresses.
    LengthTooLarge(u64),
    /// LZF data that does not decompress to its declared length.
    BadLzf,
    /// Any other inconsistency, described.
    Corrupt(&'static str),
}

impl fmt::Display for RdbErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdbErrorKind::Truncated => f.write_str("unexpected end of input"),
            RdbErrorKind::BadMagic => f.write_str("not an RDB file (bad magic)"),
            RdbErrorKind::UnsupportedVersion(v) => write!(f, "unsupported RDB version {v}"),
            RdbErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "CRC64 mismatch: stored {stored:#018x}, computed {computed:#018x}"
            ),
            RdbErrorKind::PayloadTooShort => f.write_str("payload shorter than its footer"),
            RdbErrorKind::UnknownType(t) => write!(f, "unknown type or opcode {t}"),
            RdbErrorKind::StreamsNotSupported => f.write_str("streams not supported"),
            RdbErrorKind::ModulesNotSupported => f.write_str("modules not supported"),
            RdbErrorKind::FunctionsNotSupported => f.write_str("functions not supported"),
            RdbErrorKind::DuplicateMember => f.write_str("duplicate field or member"),
            RdbErrorKind::NanScore => f.write_str("sorted set score is NaN"),
            RdbErrorKind::EmptyValue => f.write_str("empty collection"),
            RdbErrorKind::LengthTooLarge(n) => write!(f, "length {n} too large"),
            RdbErrorKind::BadLzf => f.write_str("bad LZF data"),
            RdbErrorKind::Corrupt(what) => write!(f, "corrupt: {what}"),
        }
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for RdbError {}

impl RdbError {
    /// An error of `kind` at `offset`.
    pub fn new(offset: usize, kind: RdbErrorKind) -> RdbError {
        RdbError { offset, kind }
    }
}
