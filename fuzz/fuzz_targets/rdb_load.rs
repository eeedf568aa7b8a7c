//! Fuzz target for the RDB loader and RESTORE payloads (`slotkv_persistence::rdb`).
//!
//! Run it (cargo-fuzz and a nightly toolchain needed; `cargo install cargo-fuzz` once):
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run rdb_load -- -max_total_time=60
//! ```
//!
//! Seeds are `corpus/rdb_load/seed-*` (files and payloads Redis 7.0 wrote); a failing input
//! lands in `artifacts/rdb_load/`.
//!
//! The first input byte picks what the rest is:
//! - 0: a whole file, read item by item with `RdbReader` (a zero checksum disables the check,
//!   so mutations reach every decoder);
//! - 1: a RESTORE payload as is;
//! - 2: a payload body to which a valid footer (version 10, CRC64) is added, so the object
//!   decoders are reached past the checksum.
//!
//! For any input: nothing panics or allocates without bound, and every value that decodes
//! encodes (as a DUMP payload) to bytes that restore to an equal value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slotkv_persistence::rdb::crc64::crc64;
use slotkv_persistence::rdb::{dump_payload, restore_payload, Item, RdbReader};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => read_file(rest),
        1 => restore(rest),
        _ => {
            let mut payload = rest.to_vec();
            payload.extend_from_slice(&10u16.to_le_bytes());
            let crc = crc64(&payload);
            payload.extend_from_slice(&crc.to_le_bytes());
            restore(&payload);
        }
    }
});

fn read_file(bytes: &[u8]) {
    let Ok(reader) = RdbReader::new(bytes) else {
        return;
    };
    for item in reader {
        match item {
            Ok(Item::Entry(entry)) => check_round_trip(&entry.value),
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

fn restore(payload: &[u8]) {
    if let Ok(value) = restore_payload(payload) {
        check_round_trip(&value);
    }
}

fn check_round_trip(value: &slotkv_engine::value::Value) {
    let payload = dump_payload(value).expect("every decoded value has an encoding");
    let again = restore_payload(&payload).expect("our own payload restores");
    assert_eq!(&again, value, "round trip changed the value");
}
