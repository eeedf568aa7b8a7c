//! The value a command answers with, independent of the wire: the server encodes it as RESP2 or
//! RESP3, the embedded API hands it to the caller as it is.

use bytes::Bytes;

use crate::error::CommandError;
/// Doubles in replies are written by [`crate::float::DoubleText`].
pub use crate::float::{format_double, DoubleText};

/// A command's reply. RESP3-only shapes (maps, sets, doubles, booleans) degrade to their RESP2
/// equivalents when encoded for a RESP2 client, as Redis does.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// A simple string (`+PONG`, `+QUEUED`, `+string` from TYPE).
    Simple(String),
    /// An error line without the leading `-` (`ERR ...`, `WRONGTYPE ...`).
    Error(String),
    /// An integer (`:1`).
    Integer(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    /// An array of replies.
    Array(Vec<Reply>),
    /// A map (RESP3 `%`); a flat array of alternating keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// Pairs that are not a map, as Redis replies to HRANDFIELD WITHVALUES or ZRANGE
    /// WITHSCORES: an array of two-element arrays in RESP3, a flat array in RESP2.
    Pairs(Vec<(Reply, Reply)>),
    /// A set (RESP3 `~`); an array in RESP2.
    Set(Vec<Reply>),
    /// A double (RESP3 `,`); a bulk string in RESP2.
    Double(f64),
    /// A boolean (RESP3 `#`); the integer 1 or 0 in RESP2.
    Bool(bool),
    /// Plain verbatim text (RESP3 `=` with the format `txt`, all Redis's replies use); a bulk
    /// string in RESP2.
    Verbatim(Bytes),
    /// Out-of-band data such as a pub/sub message (RESP3 `>`); an array in RESP2.
    Push(Vec<Reply>),
}

impl Reply {
    /// A bulk string copied from `data`.
    pub fn bulk(data: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data))
    }

    /// A bulk string from owned text.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Bulk(Bytes::from(text.into()))
    }

    /// A bulk string, or nil when absent.
    pub fn bulk_or_nil(value: Option<Bytes>) -> Reply {
        value.map_or(Reply::Nil, Reply::Bulk)
    }

    /// Whether this reply is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl From<CommandError> for Reply {
    fn from(error: CommandError) -> Self {
        Reply::Error(error.to_string())
    }
}

impl From<i64> for Reply {
    fn from(value: i64) -> Self {
        Reply::Integer(value)
    }
}

impl From<Bytes> for Reply {
    fn from(value: Bytes) -> Self {
        Reply::Bulk(value)
    }
}
