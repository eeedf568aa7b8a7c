//! DUMP and RESTORE payloads: the object as an RDB file holds it (type byte + object), then
//! the RDB version (u16 LE) and a CRC64 (u64 LE) of everything before the checksum.
//!
//! Redis 7.0 refuses a payload whose version is newer than its own and checks the CRC
//! without exception (a zero checksum is not "unchecked" here, unlike in files); slotkv reads
//! versions up to 11, so it also accepts Redis 7.2's payloads. An object that does not fill
//! the payload exactly, or an empty collection, is refused.

use slotkv_engine::value::Value;

use super::crc64::crc64;
use super::cursor::Cursor;
use super::decode::decode_object;
use super::encode::{encode_value_with, EncodeOptions, UnsupportedValue};
use super::error::{RdbError, RdbErrorKind};
use super::{RDB_VERSION_MAX, RDB_VERSION_WRITTEN};

/// Bytes of the footer: version and checksum.
const FOOTER_LEN: usize = 10;
/// Bytes of the checksum.
const CRC_LEN: usize = 8;

/// The DUMP payload of `value`, compressed as Redis does by default.
pub fn dump_payload(value: &Value) -> Result<Vec<u8>, UnsupportedValue> {
    dump_payload_with(value, EncodeOptions::default())
}

/// The DUMP payload of `value`.
pub fn dump_payload_with(
    value: &Value,
    options: EncodeOptions,
) -> Result<Vec<u8>, UnsupportedValue> {
    let mut payload = Vec::new();
    encode_value_with(value, options, &mut payload)?;
    payload.extend_from_slice(&RDB_VERSION_WRITTEN.to_le_bytes());
    let crc = crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    Ok(payload)
}

/// The value of a RESTORE payload, after checking its version and checksum.
pub fn restore_payload(payload: &[u8]) -> Result<Value, RdbError> {
    let body_len = payload
        .len()
        .checked_sub(FOOTER_LEN)
        .ok_or(RdbError::new(0, RdbErrorKind::PayloadTooShort))?;
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    if version > RDB_VERSION_MAX {
        return Err(RdbError::new(
            body_len,
            RdbErrorKind::UnsupportedVersion(version),
        ));
    }
    let crc_at = body_len + 2;
    let mut stored = [0u8; CRC_LEN];
    stored.copy_from_slice(&payload[crc_at..]);
    let stored = u64::from_le_bytes(stored);
    let computed = crc64(&payload[..crc_at]);
    if stored != computed {
        return Err(RdbError::new(
            crc_at,
            RdbErrorKind::ChecksumMismatch { stored, computed },
        ));
    }
    let mut cursor = Cursor::new(&payload[..body_len]);
    let object_type = cursor.u8()?;
    let value = decode_object(&mut cursor, object_type, 0)?
        .ok_or(RdbError::new(0, RdbErrorKind::EmptyValue))?;
    if cursor.remaining() != 0 {
        return Err(cursor.error(RdbErrorKind::Corrupt("data after the value")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotkv_engine::value::StrValue;

    fn string(data: &[u8]) -> Value {
        Value::Str(StrValue::from_bytes(data))
    }

    #[test]
    fn a_payload_round_trips_and_has_redis_s_footer() {
        let payload = dump_payload(&string(b"hello")).expect("string");
        // Type 0, length 5, "hello", version 10, CRC64.
        assert_eq!(&payload[..9], b"\x00\x05hello\x0a\x00");
        assert_eq!(payload.len(), 17);
        assert_eq!(restore_payload(&payload), Ok(string(b"hello")));
    }

    #[test]
    fn damaged_payloads_are_refused() {
        let payload = dump_payload(&string(b"some value")).expect("string");
        assert_eq!(
            restore_payload(&payload[..9]).map_err(|e| e.kind),
            Err(RdbErrorKind::PayloadTooShort)
        );
        let mut flipped = payload.clone();
        flipped[3] ^= 1;
        assert!(matches!(
            restore_payload(&flipped).map_err(|e| e.kind),
            Err(RdbErrorKind::ChecksumMismatch { .. })
        ));
        let mut zero_crc = payload.clone();
        let crc_at = zero_crc.len() - CRC_LEN;
        zero_crc[crc_at..].fill(0);
        assert!(matches!(
            restore_payload(&zero_crc).map_err(|e| e.kind),
            Err(RdbErrorKind::ChecksumMismatch { .. })
        ));
        let mut newer = payload[..payload.len() - FOOTER_LEN].to_vec();
        newer.extend_from_slice(&12u16.to_le_bytes());
        let crc = crc64(&newer);
        newer.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            restore_payload(&newer).map_err(|e| e.kind),
            Err(RdbErrorKind::UnsupportedVersion(12))
        );
    }

    #[test]
    fn trailing_bytes_and_empty_values_are_refused() {
        let with_footer = |body: &[u8]| {
            let mut payload = body.to_vec();
            payload.extend_from_slice(&11u16.to_le_bytes());
            let crc = crc64(&payload);
            payload.extend_from_slice(&crc.to_le_bytes());
            payload
        };
        assert_eq!(
            restore_payload(&with_footer(b"\x00\x01ab")).map_err(|e| e.kind),
            Err(RdbErrorKind::Corrupt("data after the value"))
        );
        // An empty SET.
        assert_eq!(
            restore_payload(&with_footer(b"\x02\x00")).map_err(|e| e.kind),
            Err(RdbErrorKind::EmptyValue)
        );
        // A stream.
        assert_eq!(
            restore_payload(&with_footer(b"\x15")).map_err(|e| e.kind),
            Err(RdbErrorKind::StreamsNotSupported)
        );
    }
}
