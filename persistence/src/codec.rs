//! Redis's DUMP/RESTORE payload format plugged into the engine: [`RdbPayloadCodec`] implements
//! the engine's [`PayloadCodec`] with [`crate::rdb::dump_payload`] and
//! [`crate::rdb::restore_payload`], mapping codec errors to RESTORE's two error replies.

use slotkv_engine::value::Value;
use slotkv_engine::{PayloadCodec, PayloadError};

use crate::rdb::{dump_payload, restore_payload, RdbErrorKind};

/// The RDB payload codec (version 10 written, 6 to 11 read, CRC64 checked).
#[derive(Debug, Default, Clone, Copy)]
pub struct RdbPayloadCodec;

impl PayloadCodec for RdbPayloadCodec {
    fn dump(&self, value: &Value) -> Result<Vec<u8>, String> {
        dump_payload(value).map_err(|error| error.to_string())
    }

    fn restore(&self, payload: &[u8]) -> Result<Value, PayloadError> {
        restore_payload(payload).map_err(|error| match error.kind {
            // Redis checks the footer first and answers these three alike.
            RdbErrorKind::PayloadTooShort
            | RdbErrorKind::UnsupportedVersion(_)
            | RdbErrorKind::ChecksumMismatch { .. } => PayloadError::VersionOrChecksum,
            _ => PayloadError::BadData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotkv_engine::value::StrValue;

    #[test]
    fn errors_map_to_restore_s_replies() {
        let codec = RdbPayloadCodec;
        let value = Value::Str(StrValue::from_bytes(b"hello"));
        let payload = codec.dump(&value).expect("dumps");
        assert_eq!(codec.restore(&payload), Ok(value));
        assert_eq!(
            codec.restore(b"short"),
            Err(PayloadError::VersionOrChecksum)
        );
        let mut flipped = payload.clone();
        flipped[2] ^= 1;
        assert_eq!(
            codec.restore(&flipped),
            Err(PayloadError::VersionOrChecksum)
        );
        // A well-framed payload whose object is garbage: unknown type byte 200.
        let mut bad = vec![200u8, 0];
        bad.extend_from_slice(&10u16.to_le_bytes());
        let crc = crate::rdb::crc64::crc64(&bad);
        bad.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(codec.restore(&bad), Err(PayloadError::BadData));
    }
}
