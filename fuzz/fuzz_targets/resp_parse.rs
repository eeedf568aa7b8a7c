//! Fuzz target for the RESP request parser (`slotkv_net::resp`).
//!
//! Run it (cargo-fuzz and a nightly toolchain needed; `cargo install cargo-fuzz` once):
//!
//! ```text
//! cd fuzz && cargo +nightly fuzz run resp_parse -- -max_total_time=60
//! ```
//!
//! Seeds are `corpus/resp_parse/seed-*`; libFuzzer saves the inputs it finds beside them (git
//! ignores those). A failing input lands in `artifacts/resp_parse/`; replay it with
//! `cargo +nightly fuzz run resp_parse artifacts/resp_parse/<file>`.
//!
//! The first input byte picks a read size, the rest is the byte stream a client sent. For any
//! stream: parsing never panics; a parsed request consumes at least one byte, never more than
//! the buffer held, and its arguments fit in what it consumed; an incomplete one consumes
//! nothing; and the stream fed in reads of that size through one `RequestDecoder` gives exactly
//! the outcomes of parsing it whole (framing never depends on how bytes arrive).

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use slotkv_net::resp::{parse_request, ParseLimits, ProtocolError, RequestDecoder};

/// Small limits, so that short inputs reach every limit check.
const LIMITS: ParseLimits = ParseLimits {
    bulk_len_max: 4096,
    inline_len_max: 1024,
    array_len_max: 1024,
    unauthenticated: false,
};

type Outcome = Result<Vec<Bytes>, ProtocolError>;

fuzz_target!(|input: &[u8]| {
    let Some((&read_size, stream)) = input.split_first() else {
        return;
    };
    let whole = parse_whole(stream);
    let in_reads = parse_in_reads(stream, usize::from(read_size) + 1);
    assert_eq!(
        whole, in_reads,
        "outcome depends on how the stream was split"
    );
});

/// Parses the whole stream request after request: the outcomes and the bytes left over.
fn parse_whole(stream: &[u8]) -> (Vec<Outcome>, usize) {
    let mut buf = BytesMut::from(stream);
    let mut outcomes = Vec::new();
    loop {
        let before = buf.len();
        let outcome = parse_request(&mut buf, &LIMITS);
        let consumed = before
            .checked_sub(buf.len())
            .expect("the parser grew the buffer");
        match outcome {
            Ok(Some(args)) => {
                assert!(consumed > 0, "a request consumed no byte");
                let arg_bytes: usize = args.iter().map(Bytes::len).sum();
                assert!(arg_bytes <= consumed, "arguments larger than the request");
                outcomes.push(Ok(args));
            }
            Ok(None) => {
                assert_eq!(consumed, 0, "an incomplete request consumed bytes");
                return (outcomes, buf.len());
            }
            Err(error) => {
                outcomes.push(Err(error));
                return (outcomes, buf.len());
            }
        }
    }
}

/// Feeds the stream in reads of `read_size` bytes through one decoder.
fn parse_in_reads(stream: &[u8], read_size: usize) -> (Vec<Outcome>, usize) {
    let mut decoder = RequestDecoder::default();
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    let mut fed = 0;
    for read in stream.chunks(read_size) {
        buf.extend_from_slice(read);
        fed += read.len();
        loop {
            match decoder.decode(&mut buf, &LIMITS) {
                Ok(Some(args)) => outcomes.push(Ok(args)),
                Ok(None) => break,
                Err(error) => {
                    outcomes.push(Err(error));
                    // Bytes not read yet are left over too, as in a whole parse.
                    return (outcomes, buf.len() + stream.len() - fed);
                }
            }
        }
    }
    (outcomes, buf.len())
}
