//! The seam between the engine and a value serialization it does not own: DUMP and RESTORE
//! run in the engine (key locks, propagation, keyspace events, transactions) but their payload
//! format (Redis's RDB object encoding) lives in the persistence crate, which depends on the
//! engine. The engine therefore takes a [`PayloadCodec`] at run time
//! ([`crate::Engine::set_payload_codec`]); `slotkv-persistence` provides Redis's, and the
//! server and `slotkv_persistence::open` install it.

use crate::value::Value;

/// Why a payload could not become a value, in the terms RESTORE reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// The footer's version is unknown or its checksum does not match
    /// (`ERR DUMP payload version or checksum are wrong`).
    VersionOrChecksum,
    /// The object itself is malformed (`ERR Bad data format`).
    BadData,
}

/// Turns values into DUMP payloads and payloads back into values.
pub trait PayloadCodec: Send + Sync + std::fmt::Debug {
    /// The payload of `value`; an error text if the value cannot be serialized.
    fn dump(&self, value: &Value) -> Result<Vec<u8>, String>;

    /// The value of `payload`, after checking its footer.
    fn restore(&self, payload: &[u8]) -> Result<Value, PayloadError>;
}
