//! Fuzz target: RESTORE payloads through the engine's command, with the persistence crate's
//! payload codec installed (`slotkv_persistence::install_codec`).
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run restore_command -- -max_total_time=60
//! ```
//!
//! The first input byte picks whether the rest is a payload as is, or a payload body given a
//! valid footer (RDB version 10 and its CRC64) so the object decoders are reached. For any
//! payload: RESTORE never panics; when it accepts one, DUMP of the key gives a payload that
//! RESTORE accepts again, into the same value (compared decoded: a set's or a hash's DUMP
//! follows its iteration order, which may differ between two copies); and a refused payload
//! leaves no key behind.

#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use slotkv_engine::{Config, Engine, ManualClock, Reply};
use slotkv_persistence::rdb::crc64::crc64;
use slotkv_persistence::rdb::restore_payload;

fn run(engine: &Engine, words: &[&[u8]]) -> Reply {
    let args: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w)).collect();
    engine.execute(&args)
}

/// One engine for every input (opening one per input would dominate the run time), with the
/// persistence crate's codec; each input starts with its two keys deleted.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let engine = Engine::open(Config::with_clock(clock)).expect("engine opens");
        slotkv_persistence::install_codec(&engine);
        engine
    })
}

fn dump(engine: &Engine, key: &[u8]) -> Bytes {
    match run(engine, &[b"DUMP", key]) {
        Reply::Bulk(payload) => payload,
        other => panic!("DUMP of a restored key answered {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut payload = rest.to_vec();
    if mode % 2 == 1 {
        payload.extend_from_slice(&10u16.to_le_bytes());
        let crc = crc64(&payload);
        payload.extend_from_slice(&crc.to_le_bytes());
    }
    let engine = engine();
    let Reply::Integer(_) = run(engine, &[b"DEL", b"k", b"k2"]) else {
        panic!("DEL failed");
    };
    match run(engine, &[b"RESTORE", b"k", b"0", &payload]) {
        Reply::Ok => {
            let first = dump(engine, b"k");
            assert_eq!(run(engine, &[b"RESTORE", b"k2", b"0", &first]), Reply::Ok);
            let second = dump(engine, b"k2");
            let (Ok(a), Ok(b)) = (restore_payload(&first), restore_payload(&second)) else {
                panic!("a DUMP payload does not decode");
            };
            assert!(a == b, "RESTORE of a DUMP changed the value");
        }
        Reply::Error(_) => {
            assert_eq!(run(engine, &[b"EXISTS", b"k"]), Reply::Integer(0));
        }
        other => panic!("RESTORE answered {other:?}"),
    }
});
