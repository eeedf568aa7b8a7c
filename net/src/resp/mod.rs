//! RESP, the Redis serialization protocol, as the server speaks it.
//!
//! - [`parse_request`] / [`RequestDecoder`]: requests in. Multibulk arrays of bulk strings and
//!   inline lines, framed check-then-parse with size limits ([`ParseLimits`]) and Redis's
//!   protocol error texts ([`ProtocolError`]); arguments are zero-copy slices of the read buffer.
//! - [`encode_reply`]: replies out, as RESP2 or RESP3 ([`Protocol`]) from the engine's
//!   wire-independent [`Reply`](slotkv_engine::reply::Reply).
//! - [`encode_request`]: a command as a client sends it, for tests, benches and replication.
//!
//! Requests are flat (an array of strings), so the parser has no nesting to bound; replies are
//! built by the server itself, never from client bytes.

mod encode;
mod parse;

pub use encode::{encode_reply, encode_request, Protocol};
pub use parse::{parse_request, ParseLimits, ProtocolError, RequestDecoder};

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    type Outcome = Result<Vec<Bytes>, ProtocolError>;

    /// Pieces that steer random input towards the parser's interesting paths.
    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::sample::select(vec![
                &b"*"[..],
                b"$",
                b"\r\n",
                b"\r",
                b"\n",
                b"\"",
                b"'",
                b"\\",
                b" ",
                b"\\x4",
                b"-",
                b"0",
                b"-1",
                b"*1\r\n",
                b"$3\r\n",
                b"foo",
            ])
            .prop_map(<[u8]>::to_vec),
            (0u32..100_000).prop_map(|n| n.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..8),
        ]
    }

    fn protocol_noise() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(fragment(), 0..48).prop_map(|pieces| pieces.concat())
    }

    fn binary_args() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8)
    }

    fn small_limits() -> ParseLimits {
        // Small enough that random input reaches every limit.
        ParseLimits {
            bulk_len_max: 64,
            inline_len_max: 32,
            array_len_max: 16,
            unauthenticated: false,
        }
    }

    /// Parses `input` whole, request after request, checking what each step consumed.
    fn parse_all(input: &[u8], limits: &ParseLimits) -> (Vec<Outcome>, usize) {
        let mut buf = BytesMut::from(input);
        let mut outcomes = Vec::new();
        loop {
            let before = buf.len();
            let outcome = parse_request(&mut buf, limits);
            match outcome {
                Ok(Some(args)) => {
                    let consumed = before - buf.len();
                    assert!(consumed > 0, "a request must consume bytes");
                    assert!(args.iter().map(Bytes::len).sum::<usize>() <= consumed);
                    outcomes.push(Ok(args));
                }
                Ok(None) => {
                    assert_eq!(buf.len(), before, "incomplete input must stay buffered");
                    return (outcomes, buf.len());
                }
                Err(error) => {
                    outcomes.push(Err(error));
                    return (outcomes, buf.len());
                }
            }
        }
    }

    /// Feeds `input` to one decoder split at `cuts`, as successive reads would deliver it.
    fn decode_in_pieces(
        input: &[u8],
        cuts: &[usize],
        limits: &ParseLimits,
    ) -> (Vec<Outcome>, usize) {
        let mut ends: Vec<usize> = cuts.iter().map(|&cut| cut.min(input.len())).collect();
        ends.push(input.len());
        ends.sort_unstable();
        let mut decoder = RequestDecoder::default();
        let mut buf = BytesMut::new();
        let mut outcomes = Vec::new();
        let mut fed = 0;
        for end in ends {
            buf.extend_from_slice(&input[fed..end]);
            fed = end;
            loop {
                match decoder.decode(&mut buf, limits) {
                    Ok(Some(args)) => outcomes.push(Ok(args)),
                    Ok(None) => break,
                    Err(error) => {
                        outcomes.push(Err(error));
                        // Bytes not fed yet count as left over, as in a whole parse.
                        return (outcomes, buf.len() + input.len() - fed);
                    }
                }
            }
        }
        (outcomes, buf.len())
    }

    /// Writes `args` as an inline line, every argument double-quoted with `\xHH` escapes.
    fn quoted_inline(args: &[Vec<u8>]) -> Vec<u8> {
        let mut line = Vec::new();
        for arg in args {
            line.extend_from_slice(b" \"");
            for &byte in arg {
                if byte.is_ascii_alphanumeric() {
                    line.push(byte);
                } else {
                    line.extend_from_slice(format!("\\x{byte:02X}").as_bytes());
                }
            }
            line.push(b'"');
        }
        line.extend_from_slice(b"\r\n");
        line
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_never_over_consumes(input in protocol_noise()) {
            parse_all(&input, &small_limits());
            parse_all(&input, &ParseLimits::default());
        }

        #[test]
        fn outcome_does_not_depend_on_how_input_is_split(
            input in protocol_noise(),
            cuts in prop::collection::vec(0usize..400, 0..6),
        ) {
            let limits = small_limits();
            prop_assert_eq!(decode_in_pieces(&input, &cuts, &limits), parse_all(&input, &limits));
        }

        #[test]
        fn encoded_requests_parse_back_at_any_split(
            args in binary_args(),
            split in any::<Index>(),
        ) {
            let args: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            let mut encoded = BytesMut::new();
            encode_request(&args, &mut encoded);
            let split = split.index(encoded.len());
            let limits = ParseLimits::default();
            let mut buf = BytesMut::from(&encoded[..split]);
            prop_assert_eq!(parse_request(&mut buf, &limits), Ok(None));
            prop_assert_eq!(buf.len(), split);
            buf.extend_from_slice(&encoded[split..]);
            buf.extend_from_slice(b"PING\r\n");
            prop_assert_eq!(parse_request(&mut buf, &limits), Ok(Some(args)));
            prop_assert_eq!(&buf[..], b"PING\r\n");
        }

        #[test]
        fn quoted_inline_requests_parse_back(args in binary_args()) {
            let line = quoted_inline(&args);
            let mut buf = BytesMut::from(&line[..]);
            let parsed = parse_request(&mut buf, &ParseLimits::default());
            let expected: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            prop_assert_eq!(parsed, Ok(Some(expected)));
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn bare_inline_words_parse_back(words in prop::collection::vec("[!-~&&[^\"']]{1,12}", 0..8)) {
            // The leading space keeps a first word starting with '*' from reading as multibulk.
            let line = format!(" {}\n", words.join(" \t "));
            let mut buf = BytesMut::from(line.as_bytes());
            let parsed = parse_request(&mut buf, &ParseLimits::default());
            let expected: Vec<Bytes> = words.into_iter().map(Bytes::from).collect();
            prop_assert_eq!(parsed, Ok(Some(expected)));
        }
    }
}
