//! Fuzz target: the cluster bus decoder (`slotkv_cluster::message::Message::decode`).
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run cluster_bus -- -max_total_time=60
//! ```
//!
//! For any bytes a peer sends: decoding never panics, never claims more bytes than it was
//! given, and a message it accepts encodes to a frame that decodes to the same message and
//! re-encodes to the same bytes. The first input byte picks whether the rest is used as is or
//! given a valid signature and length, so mutations reach the header and body decoders.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slotkv_cluster::message::{Message, SIGNATURE};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check(rest);
    } else {
        let mut framed = SIGNATURE.to_vec();
        let len = u32::try_from(rest.len() + 8).unwrap_or(u32::MAX);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(rest);
        check(&framed);
    }
});

fn check(bytes: &[u8]) {
    let Ok(Some((message, used))) = Message::decode(bytes) else {
        return;
    };
    assert!(
        used <= bytes.len(),
        "decode claimed {used} of {} bytes",
        bytes.len()
    );
    let mut encoded = Vec::new();
    message.encode(&mut encoded);
    let (again, again_used) = Message::decode(&encoded)
        .expect("a re-encoded message decodes")
        .expect("a re-encoded message is complete");
    assert_eq!(again, message, "round trip changed the message");
    assert_eq!(again_used, encoded.len());
    let mut twice = Vec::new();
    again.encode(&mut twice);
    assert_eq!(twice, encoded, "encoding is not stable");
}
