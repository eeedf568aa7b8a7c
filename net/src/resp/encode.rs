//! Reply encoding: a command's [`Reply`] as the bytes a RESP2 or RESP3 client expects.
//!
//! RESP3-only shapes degrade as Redis degrades them for RESP2 clients: maps become flat arrays
//! of alternating keys and values, sets become arrays, doubles and verbatim text become bulk
//! strings, booleans become the integers 1 and 0, and both nulls keep their RESP2 forms.
//!
//! Lines that cannot carry CR or LF (errors, simple strings) have them replaced by spaces, as
//! Redis does, so a reply can never break the framing of the stream. Integers are formatted by
//! hand into a stack buffer: replies are the server's hot path and need no allocation.

use bytes::{BufMut, Bytes, BytesMut};
use slotkv_engine::reply::{DoubleText, Reply};

/// The protocol version a client speaks (`HELLO 2` / `HELLO 3`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Protocol {
    /// RESP2, every client's starting point.
    #[default]
    Resp2,
    /// RESP3, with maps, sets, doubles, booleans and a single null.
    Resp3,
}

/// Appends the encoding of `reply` for a client speaking `proto`.
pub fn encode_reply(reply: &Reply, proto: Protocol, out: &mut BytesMut) {
    let resp3 = proto == Protocol::Resp3;
    match reply {
        Reply::Ok => out.put_slice(b"+OK\r\n"),
        Reply::Simple(text) => put_line(out, b'+', text.as_bytes()),
        Reply::Error(text) => put_line(out, b'-', text.as_bytes()),
        Reply::Integer(value) => put_integer_line(out, b':', *value),
        Reply::Bulk(data) => put_bulk(out, data),
        Reply::Nil => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
        Reply::NilArray => out.put_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
        Reply::Array(items) => put_aggregate(out, b'*', items, proto),
        Reply::Set(items) => put_aggregate(out, if resp3 { b'~' } else { b'*' }, items, proto),
        Reply::Map(pairs) => put_map(out, pairs, proto),
        Reply::Pairs(pairs) => put_pairs(out, pairs, proto),
        Reply::Double(value) => put_double(out, *value, proto),
        Reply::Bool(value) if resp3 => out.put_slice(if *value { b"#t\r\n" } else { b"#f\r\n" }),
        Reply::Bool(value) => out.put_slice(if *value { b":1\r\n" } else { b":0\r\n" }),
        Reply::Verbatim(text) if resp3 => put_verbatim(out, text),
        Reply::Verbatim(text) => put_bulk(out, text),
        Reply::Push(items) => put_aggregate(out, if resp3 { b'>' } else { b'*' }, items, proto),
    }
}

/// Appends `args` as a RESP array of bulk strings: how a client sends a command.
pub fn encode_request(args: &[Bytes], out: &mut BytesMut) {
    put_length_line(out, b'*', args.len());
    for arg in args {
        put_bulk(out, arg);
    }
}

/// A one-line reply; CR and LF inside `text` become spaces so the line stays one line.
fn put_line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(kind);
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        out.put_slice(text);
    }
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 16);
    put_length_line(out, b'$', data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn put_aggregate(out: &mut BytesMut, kind: u8, items: &[Reply], proto: Protocol) {
    put_length_line(out, kind, items.len());
    for item in items {
        encode_reply(item, proto, out);
    }
}

fn put_map(out: &mut BytesMut, pairs: &[(Reply, Reply)], proto: Protocol) {
    match proto {
        Protocol::Resp3 => put_length_line(out, b'%', pairs.len()),
        Protocol::Resp2 => put_length_line(out, b'*', pairs.len().saturating_mul(2)),
    }
    for (key, value) in pairs {
        encode_reply(key, proto, out);
        encode_reply(value, proto, out);
    }
}

/// Pairs that are not a map: `[[a, b], [c, d]]` in RESP3, `[a, b, c, d]` in RESP2.
fn put_pairs(out: &mut BytesMut, pairs: &[(Reply, Reply)], proto: Protocol) {
    match proto {
        Protocol::Resp3 => put_length_line(out, b'*', pairs.len()),
        Protocol::Resp2 => put_length_line(out, b'*', pairs.len().saturating_mul(2)),
    }
    for (first, second) in pairs {
        if proto == Protocol::Resp3 {
            out.put_slice(b"*2\r\n");
        }
        encode_reply(first, proto, out);
        encode_reply(second, proto, out);
    }
}

/// RESP3 `,<text>` (`inf`, `-inf` and `nan` included), or the same text as a RESP2 bulk.
fn put_double(out: &mut BytesMut, value: f64, proto: Protocol) {
    let text = DoubleText::new(value);
    match proto {
        Protocol::Resp3 => put_line(out, b',', text.as_bytes()),
        Protocol::Resp2 => put_bulk(out, text.as_bytes()),
    }
}

/// RESP3 `=<len>\r\ntxt:<text>\r\n`, the length covering the format and its colon.
fn put_verbatim(out: &mut BytesMut, text: &[u8]) {
    const FORMAT: &[u8] = b"txt:";
    let len = FORMAT.len() + text.len();
    out.reserve(len + 16);
    put_length_line(out, b'=', len);
    out.put_slice(FORMAT);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn put_length_line(out: &mut BytesMut, kind: u8, len: usize) {
    out.put_u8(kind);
    put_decimal(out, len as u64);
    out.put_slice(b"\r\n");
}

fn put_integer_line(out: &mut BytesMut, kind: u8, value: i64) {
    out.put_u8(kind);
    if value < 0 {
        out.put_u8(b'-');
    }
    put_decimal(out, value.unsigned_abs());
    out.put_slice(b"\r\n");
}

/// Writes `value` in decimal, digits produced right to left into a stack buffer.
fn put_decimal(out: &mut BytesMut, mut value: u64) {
    if value < 10 {
        out.put_u8(b'0' + value as u8);
        return;
    }
    // u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while value > 0 {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.put_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(reply: &Reply, proto: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_reply(reply, proto, &mut out);
        out.to_vec()
    }

    /// Asserts the RESP2 and RESP3 encodings of `reply`.
    fn assert_encodes(reply: Reply, resp2: &[u8], resp3: &[u8]) {
        assert_eq!(
            encoded(&reply, Protocol::Resp2),
            resp2,
            "RESP2 of {reply:?}: {:?}",
            String::from_utf8_lossy(&encoded(&reply, Protocol::Resp2))
        );
        assert_eq!(
            encoded(&reply, Protocol::Resp3),
            resp3,
            "RESP3 of {reply:?}: {:?}",
            String::from_utf8_lossy(&encoded(&reply, Protocol::Resp3))
        );
    }

    /// Asserts an encoding that is the same in both protocols.
    fn assert_encodes_both(reply: Reply, bytes: &[u8]) {
        assert_encodes(reply, bytes, bytes);
    }

    #[test]
    fn simple_strings_and_errors() {
        assert_encodes_both(Reply::Ok, b"+OK\r\n");
        assert_encodes_both(Reply::Simple("PONG".into()), b"+PONG\r\n");
        assert_encodes_both(Reply::Simple(String::new()), b"+\r\n");
        assert_encodes_both(
            Reply::Error("ERR syntax error".into()),
            b"-ERR syntax error\r\n",
        );
    }

    #[test]
    fn line_breaks_in_one_line_replies_become_spaces() {
        assert_encodes_both(
            Reply::Error("ERR bad\r\nthing\n".into()),
            b"-ERR bad  thing \r\n",
        );
        assert_encodes_both(Reply::Simple("a\rb".into()), b"+a b\r\n");
    }

    #[test]
    fn integers() {
        assert_encodes_both(Reply::Integer(0), b":0\r\n");
        assert_encodes_both(Reply::Integer(7), b":7\r\n");
        assert_encodes_both(Reply::Integer(10), b":10\r\n");
        assert_encodes_both(Reply::Integer(-1), b":-1\r\n");
        assert_encodes_both(Reply::Integer(1_234_567_890), b":1234567890\r\n");
        assert_encodes_both(Reply::Integer(i64::MAX), b":9223372036854775807\r\n");
        assert_encodes_both(Reply::Integer(i64::MIN), b":-9223372036854775808\r\n");
    }

    #[test]
    fn decimal_formatting_matches_the_standard_library() {
        let samples = (0..64).flat_map(|shift| [1u64 << shift, (1u64 << shift) - 1]);
        for value in samples.chain([9, 10, 99, 100, 999_999, u64::MAX]) {
            let mut out = BytesMut::new();
            put_decimal(&mut out, value);
            assert_eq!(&out[..], value.to_string().as_bytes());
        }
    }

    #[test]
    fn bulk_strings() {
        assert_encodes_both(Reply::bulk(b"hello"), b"$5\r\nhello\r\n");
        assert_encodes_both(Reply::bulk(b""), b"$0\r\n\r\n");
        assert_encodes_both(Reply::bulk(b"a\r\nb"), b"$4\r\na\r\nb\r\n");
        let long = vec![b'x'; 1234];
        let mut expected = b"$1234\r\n".to_vec();
        expected.extend_from_slice(&long);
        expected.extend_from_slice(b"\r\n");
        assert_encodes_both(Reply::bulk(&long), &expected);
    }

    #[test]
    fn nulls() {
        assert_encodes(Reply::Nil, b"$-1\r\n", b"_\r\n");
        assert_encodes(Reply::NilArray, b"*-1\r\n", b"_\r\n");
    }

    #[test]
    fn arrays_nest() {
        assert_encodes_both(Reply::Array(vec![]), b"*0\r\n");
        assert_encodes(
            Reply::Array(vec![
                Reply::bulk(b"a"),
                Reply::Integer(1),
                Reply::Nil,
                Reply::Array(vec![Reply::Ok]),
            ]),
            b"*4\r\n$1\r\na\r\n:1\r\n$-1\r\n*1\r\n+OK\r\n",
            b"*4\r\n$1\r\na\r\n:1\r\n_\r\n*1\r\n+OK\r\n",
        );
    }

    #[test]
    fn maps_are_flat_arrays_in_resp2() {
        let map = Reply::Map(vec![
            (Reply::bulk(b"proto"), Reply::Integer(3)),
            (Reply::bulk(b"mode"), Reply::bulk(b"standalone")),
        ]);
        assert_encodes(
            map,
            b"*4\r\n$5\r\nproto\r\n:3\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n",
            b"%2\r\n$5\r\nproto\r\n:3\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n",
        );
        assert_encodes(Reply::Map(vec![]), b"*0\r\n", b"%0\r\n");
    }

    #[test]
    fn pairs_nest_in_resp3_only() {
        let pairs = Reply::Pairs(vec![
            (Reply::bulk(b"f"), Reply::bulk(b"v")),
            (Reply::bulk(b"g"), Reply::bulk(b"w")),
        ]);
        assert_encodes(
            pairs,
            b"*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n",
            b"*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\ng\r\n$1\r\nw\r\n",
        );
        assert_encodes(Reply::Pairs(vec![]), b"*0\r\n", b"*0\r\n");
    }

    #[test]
    fn sets_are_arrays_in_resp2() {
        assert_encodes(
            Reply::Set(vec![Reply::bulk(b"a"), Reply::bulk(b"b")]),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
            b"~2\r\n$1\r\na\r\n$1\r\nb\r\n",
        );
    }

    #[test]
    fn doubles_are_bulk_strings_in_resp2() {
        assert_encodes(Reply::Double(3.5), b"$3\r\n3.5\r\n", b",3.5\r\n");
        assert_encodes(Reply::Double(-2.0), b"$2\r\n-2\r\n", b",-2\r\n");
        assert_encodes(
            Reply::Double(0.1 + 0.2),
            b"$19\r\n0.30000000000000004\r\n",
            b",0.30000000000000004\r\n",
        );
        assert_encodes(Reply::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
        assert_encodes(
            Reply::Double(f64::NEG_INFINITY),
            b"$4\r\n-inf\r\n",
            b",-inf\r\n",
        );
        assert_encodes(Reply::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n");
    }

    #[test]
    fn booleans_are_integers_in_resp2() {
        assert_encodes(Reply::Bool(true), b":1\r\n", b"#t\r\n");
        assert_encodes(Reply::Bool(false), b":0\r\n", b"#f\r\n");
    }

    #[test]
    fn verbatim_text_is_a_bulk_string_in_resp2() {
        assert_encodes(
            Reply::Verbatim(Bytes::from_static(b"Some string")),
            b"$11\r\nSome string\r\n",
            b"=15\r\ntxt:Some string\r\n",
        );
    }

    #[test]
    fn pushes_are_arrays_in_resp2() {
        let push = Reply::Push(vec![
            Reply::bulk(b"message"),
            Reply::bulk(b"ch"),
            Reply::bulk(b"hi"),
        ]);
        assert_encodes(
            push,
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        );
    }

    #[test]
    fn requests_are_arrays_of_bulk_strings() {
        let mut out = BytesMut::new();
        let args = [
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"k"),
            Bytes::new(),
        ];
        encode_request(&args, &mut out);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        out.clear();
        encode_request(&[], &mut out);
        assert_eq!(&out[..], b"*0\r\n");
    }

    #[test]
    fn replies_append_to_what_is_already_buffered() {
        let mut out = BytesMut::from(&b"+PONG\r\n"[..]);
        encode_reply(&Reply::Integer(5), Protocol::Resp2, &mut out);
        assert_eq!(&out[..], b"+PONG\r\n:5\r\n");
    }
}
