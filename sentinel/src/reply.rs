//! Replies to client commands, independent of the wire: the driver encodes them as RESP2 or
//! RESP3.

/// One reply, as Redis Sentinel builds them.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// A status line (`+OK 3 usable Sentinels...`).
    Simple(String),
    /// An error line without the leading `-`.
    Error(String),
    Integer(i64),
    Bulk(String),
    /// The null bulk string.
    Nil,
    /// The null array (GET-MASTER-ADDR-BY-NAME of an unknown name).
    NilArray,
    Array(Vec<Reply>),
    /// Field/value pairs: a map in RESP3, a flat array in RESP2.
    Map(Vec<(String, Reply)>),
}

impl Reply {
    pub fn error(text: impl Into<String>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn bulk(text: impl ToString) -> Reply {
        Reply::Bulk(text.to_string())
    }
}
