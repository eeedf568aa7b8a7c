//! Request framing: the bytes a client sent, turned into command arguments.
//!
//! Two request forms exist, told apart by the first byte as Redis does: a multibulk array of
//! bulk strings (`*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n`, what every client library sends) and an
//! inline line split like a shell would (`ECHO "hi there"\r\n`, what a telnet user types).
//!
//! Framing is check-then-parse. A request is first validated in place, allocating nothing, and
//! only a complete one is cut off the buffer (`split_to().freeze()`), so that its arguments are
//! zero-copy slices of it. A declared length never sizes an allocation: a client announcing a
//! 512 MiB bulk and sending 5 bytes costs nothing. Every check fails as soon as the bytes it
//! needs are present (a length line is rejected at its first impossible byte, not at its line
//! end), so the outcome for a byte stream never depends on how it was split into reads: a
//! prefix of a request parses as "incomplete" or exactly as the whole.
//!
//! [`RequestDecoder`] remembers how far a partial request was validated, so a request of many
//! arguments arriving in many reads is checked once in total rather than once per read.
//!
//! Errors carry Redis's wording; the caller replies `-ERR <text>` and closes the connection,
//! because after a framing error nothing tells where the next request starts. Beyond Redis 7,
//! a bulk payload or length line not ended by CRLF is refused (as Valkey does) instead of
//! silently skipping two bytes, which would resynchronise on garbage. Redis's "too big mbulk
//! count string" and "too big bulk count string" never arise here: a length line is refused at
//! its first impossible byte, at most 21 bytes in, long before the 64 KiB Redis waits for.

use std::fmt;
use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

/// Redis's `PROTO_INLINE_MAX_SIZE`.
const INLINE_LEN_MAX_DEFAULT: usize = 64 * 1024;

/// Redis's `proto-max-bulk-len` default.
const BULK_LEN_MAX_DEFAULT: u64 = 512 * 1024 * 1024;

/// Redis 7 accepts any argument count up to `INT_MAX`; memory is bounded by the bytes that
/// really arrive, since nothing is allocated per declared argument.
const ARRAY_LEN_MAX_DEFAULT: u64 = i32::MAX as u64;

/// Most arguments whose payload ranges are kept while a request is validated (see
/// `decode_multibulk`); SET, GET, HSET and the like fit.
const RECORDED_ARGS_MAX: usize = 8;

/// Size limits a request must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest bulk argument in bytes (`proto-max-bulk-len`, 512 MiB by default).
    pub bulk_len_max: u64,
    /// Longest inline request line in bytes before its line feed (64 KiB as Redis).
    pub inline_len_max: usize,
    /// Most arguments in one multibulk request (`INT_MAX` as Redis 7).
    pub array_len_max: u64,
    /// The client has not authenticated: the tighter limits of
    /// [`ParseLimits::unauthenticated`] apply and their errors say so.
    pub unauthenticated: bool,
}

/// Most arguments and largest bulk of a request from a client that has not authenticated yet,
/// as Redis 7 bounds them: enough for AUTH and HELLO, too little to make the server buffer
/// anything large for someone without the password.
const UNAUTHENTICATED_ARRAY_LEN_MAX: u64 = 10;
const UNAUTHENTICATED_BULK_LEN_MAX: u64 = 16 * 1024;

impl ParseLimits {
    /// These limits narrowed for a client that has not authenticated.
    pub fn unauthenticated(self) -> ParseLimits {
        ParseLimits {
            bulk_len_max: self.bulk_len_max.min(UNAUTHENTICATED_BULK_LEN_MAX),
            array_len_max: self.array_len_max.min(UNAUTHENTICATED_ARRAY_LEN_MAX),
            unauthenticated: true,
            ..self
        }
    }
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            bulk_len_max: BULK_LEN_MAX_DEFAULT,
            inline_len_max: INLINE_LEN_MAX_DEFAULT,
            array_len_max: ARRAY_LEN_MAX_DEFAULT,
            unauthenticated: false,
        }
    }
}

/// A request that cannot be framed. `Display` gives Redis's text, to be sent after `ERR `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The `*<count>` line is not an integer or exceeds the argument limit.
    InvalidMultibulkLength,
    /// A `$<len>` line is not an integer, is negative or exceeds the bulk limit.
    InvalidBulkLength,
    /// A multibulk argument does not start with `$`; holds the byte found instead.
    ExpectedBulk(u8),
    /// A length line or a bulk payload is not followed by CRLF.
    InvalidCrlf,
    /// An inline request has an unterminated quote, or a closing quote not followed by a space.
    UnbalancedQuotes,
    /// An inline request line is longer than the inline limit.
    TooBigInlineRequest,
    /// A client that has not authenticated declared more arguments than it may send.
    UnauthenticatedMultibulkLength,
    /// A client that has not authenticated declared a bulk larger than it may send.
    UnauthenticatedBulkLength,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            // Redis prints the raw byte; a reply line must be text, so non-ASCII is escaped.
            ProtocolError::ExpectedBulk(found) if found.is_ascii() => {
                write!(f, "expected '$', got '{}'", char::from(*found))
            }
            ProtocolError::ExpectedBulk(found) => write!(f, "expected '$', got '\\x{found:02x}'"),
            ProtocolError::InvalidCrlf => f.write_str("invalid CRLF in request"),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtocolError::TooBigInlineRequest => f.write_str("too big inline request"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            ProtocolError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Parses one request from the front of `buf`.
///
/// `Ok(None)`: incomplete, nothing consumed; call again once more bytes arrived.
/// `Ok(Some(args))`: the request was consumed; the arguments are zero-copy slices of it where
/// possible. An empty request (blank inline line, `*0`, `*-1`) gives no arguments: skip it.
/// `Err`: reply `-ERR <error>` and close the connection.
///
/// Stateless: a partial request is validated again from its start on each call. A connection
/// should prefer one [`RequestDecoder`], which resumes where the last call stopped.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &ParseLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestDecoder::default().decode(buf, limits)
}

/// How far a partly received request has been validated.
#[derive(Debug, Clone, Copy, Default)]
enum Progress {
    /// Nothing known about the front of the buffer.
    #[default]
    Fresh,
    /// An inline request whose first `scanned` bytes hold no line feed.
    Inline { scanned: usize },
    /// A multibulk request of `arg_count` arguments from `args_start` on, whose first
    /// `args_checked` arguments are complete and valid, ending at `checked_end`.
    Multibulk {
        arg_count: usize,
        args_start: usize,
        args_checked: usize,
        checked_end: usize,
    },
}

/// A per-connection request parser that resumes a partial request where it stopped, so the
/// total work for a request is linear in its size however it is split into reads.
///
/// Contract: between a call that returned `Ok(None)` and the next, the caller only appends to
/// the buffer. (Breaking it cannot cause a panic, only a wrong parse or a protocol error.)
#[derive(Debug, Default)]
pub struct RequestDecoder {
    progress: Progress,
}

impl RequestDecoder {
    /// Like [`parse_request`], resuming the validation of a partial request.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut args = Vec::new();
        Ok(self.decode_into(buf, limits, &mut args)?.then_some(args))
    }

    /// Like [`RequestDecoder::decode`], into a vector the caller keeps from one request to the
    /// next, which spares an allocation per request. True when a request was consumed: `args`
    /// then holds its arguments (none for an empty request); false while it is incomplete.
    pub fn decode_into(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
        args: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        args.clear();
        let outcome = match buf.first() {
            None => Ok(false),
            Some(b'*') => self.decode_multibulk(buf, limits, args),
            Some(_) => self.decode_inline(buf, limits, args),
        };
        if !matches!(outcome, Ok(false)) {
            self.progress = Progress::Fresh;
        }
        outcome
    }

    fn decode_multibulk(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
        args: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        let (arg_count, args_start, mut args_checked, mut pos) = match self.progress {
            Progress::Multibulk {
                arg_count,
                args_start,
                args_checked,
                checked_end,
            } if checked_end <= buf.len() => (arg_count, args_start, args_checked, checked_end),
            _ => match read_arg_count(buf, limits)? {
                Some((arg_count, args_start)) => (arg_count, args_start, 0, args_start),
                None => return Ok(false),
            },
        };
        // A small request validated in one call keeps its payload ranges, sparing the second
        // pass over its headers: the common case of a pipelined command.
        let mut payloads = [(0, 0); RECORDED_ARGS_MAX];
        let recording = args_checked == 0 && arg_count <= RECORDED_ARGS_MAX;
        while args_checked < arg_count {
            let Some(payload) = scan_bulk(buf, pos, limits)? else {
                self.progress = Progress::Multibulk {
                    arg_count,
                    args_start,
                    args_checked,
                    checked_end: pos,
                };
                return Ok(false);
            };
            if let Some(slot) = payloads.get_mut(args_checked) {
                *slot = (payload.start, payload.end);
            }
            pos = payload.end + 2;
            args_checked += 1;
        }
        if recording {
            // Each argument split off the buffer: cheaper than slices of a split frame.
            let mut consumed = 0;
            for &(start, end) in &payloads[..arg_count] {
                buf.advance(start - consumed);
                args.push(buf.split_to(end - start).freeze());
                consumed = end;
            }
            buf.advance(pos - consumed);
            return Ok(true);
        }
        let frame = buf.split_to(pos).freeze();
        slice_bulks(&frame, arg_count, args_start, limits, args)?;
        Ok(true)
    }

    fn decode_inline(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParseLimits,
        args: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        // A line feed beyond the limit is not looked for: the line is too long either way.
        let window_end = buf.len().min(limits.inline_len_max.saturating_add(1));
        let scanned = match self.progress {
            Progress::Inline { scanned } => scanned.min(window_end),
            _ => 0,
        };
        let Some(offset) = buf[scanned..window_end].iter().position(|&b| b == b'\n') else {
            if buf.len() > limits.inline_len_max {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            self.progress = Progress::Inline {
                scanned: window_end,
            };
            return Ok(false);
        };
        let newline = scanned + offset;
        let line = buf.split_to(newline + 1).freeze();
        let text_len = if line[..newline].ends_with(b"\r") {
            newline - 1
        } else {
            newline
        };
        *args = split_inline(&line.slice(..text_len))?;
        Ok(true)
    }
}

/// Reads the `*<count>\r\n` header; returns the argument count (0 for `*0` and negative
/// counts, which Redis skips) and where the arguments start, or `None` while incomplete.
fn read_arg_count(
    buf: &[u8],
    limits: &ParseLimits,
) -> Result<Option<(usize, usize)>, ProtocolError> {
    let invalid = ProtocolError::InvalidMultibulkLength;
    let Some((count, args_start)) = read_length(buf, 1, invalid)? else {
        return Ok(None);
    };
    let count = u64::try_from(count).unwrap_or(0);
    if count > limits.array_len_max {
        return Err(
            if limits.unauthenticated && count <= ARRAY_LEN_MAX_DEFAULT {
                ProtocolError::UnauthenticatedMultibulkLength
            } else {
                invalid
            },
        );
    }
    let count = usize::try_from(count).map_err(|_| invalid)?;
    Ok(Some((count, args_start)))
}

/// Reads a length line (`<integer>\r\n`) from `start`, checked as Redis's `string2ll` checks
/// it: optional `-`, digits without a leading zero, no `+`, no space, within `i64`.
/// Returns the value and the position after the line, or `None` while incomplete. A byte that
/// no valid line could hold fails at once with `invalid`, so garbage is never buffered.
#[inline(always)]
fn read_length(
    buf: &[u8],
    start: usize,
    invalid: ProtocolError,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    let negative = buf.get(start) == Some(&b'-');
    let digits_start = start + usize::from(negative);
    let mut pos = digits_start;
    let mut magnitude: u64 = 0;
    loop {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'\r') => break,
            Some(&digit @ b'0'..=b'9') => {
                // Only "0" itself may start with a zero.
                if magnitude == 0 && pos > digits_start {
                    return Err(invalid);
                }
                // Overflow bounds the line: at most 20 digits are ever read.
                magnitude = magnitude
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(digit - b'0')))
                    .ok_or(invalid)?;
                pos += 1;
            }
            Some(_) => return Err(invalid),
        }
    }
    if pos == digits_start {
        return Err(invalid);
    }
    let value = if negative {
        // "-0" is not canonical, so string2ll refuses it.
        (magnitude > 0)
            .then(|| 0i64.checked_sub_unsigned(magnitude))
            .flatten()
    } else {
        i64::try_from(magnitude).ok()
    };
    let value = value.ok_or(invalid)?;
    match buf.get(pos + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((value, pos + 2))),
        Some(_) => Err(ProtocolError::InvalidCrlf),
    }
}

/// Checks the bulk argument at `start` (`$<len>\r\n<payload>\r\n`); returns the payload's
/// range (its CRLF ends 2 bytes later), or `None` while incomplete.
#[inline(always)]
fn scan_bulk(
    buf: &[u8],
    start: usize,
    limits: &ParseLimits,
) -> Result<Option<Range<usize>>, ProtocolError> {
    match buf.get(start) {
        None => return Ok(None),
        Some(b'$') => {}
        Some(&found) => return Err(ProtocolError::ExpectedBulk(found)),
    }
    let invalid = ProtocolError::InvalidBulkLength;
    let Some((len, payload_start)) = read_length(buf, start + 1, invalid)? else {
        return Ok(None);
    };
    let len = u64::try_from(len).map_err(|_| invalid)?;
    if len > limits.bulk_len_max {
        let within_protocol = len <= BULK_LEN_MAX_DEFAULT;
        return Err(if limits.unauthenticated && within_protocol {
            ProtocolError::UnauthenticatedBulkLength
        } else {
            invalid
        });
    }
    let len = usize::try_from(len).map_err(|_| invalid)?;
    let payload_end = payload_start.checked_add(len).ok_or(invalid)?;
    // Each terminator byte is checked as soon as it is there.
    match buf.get(payload_end) {
        None => return Ok(None),
        Some(b'\r') => {}
        Some(_) => return Err(ProtocolError::InvalidCrlf),
    }
    match buf.get(payload_end + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(payload_start..payload_end)),
        Some(_) => Err(ProtocolError::InvalidCrlf),
    }
}

/// Cuts the arguments of a validated multibulk `frame` as slices of it, into `args`.
fn slice_bulks(
    frame: &Bytes,
    arg_count: usize,
    args_start: usize,
    limits: &ParseLimits,
    args: &mut Vec<Bytes>,
) -> Result<(), ProtocolError> {
    args.reserve(arg_count);
    let mut pos = args_start;
    for _ in 0..arg_count {
        // The frame was checked already; checking again keeps this safe without trusting it.
        let payload = scan_bulk(frame, pos, limits)?.ok_or(ProtocolError::InvalidBulkLength)?;
        pos = payload.end + 2;
        args.push(frame.slice(payload));
    }
    Ok(())
}

/// Whitespace as C's `isspace`: what separates inline arguments.
const fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Bytes that end an unquoted word (Redis's `sdssplitargs` lets `\v` and `\f` into a word).
const fn ends_word(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Splits an inline request line into arguments as Redis's `sdssplitargs` does: words
/// separated by spaces; a word may end in a double-quoted part (with `\n`, `\r`, `\t`, `\b`,
/// `\a`, `\xHH` and `\<char>` escapes) or a single-quoted part (with `\'`), after which a
/// space or the line end must follow.
fn split_inline(line: &Bytes) -> Result<Vec<Bytes>, ProtocolError> {
    let mut args = Vec::new();
    let mut pos = 0;
    loop {
        while line.get(pos).copied().is_some_and(is_space) {
            pos += 1;
        }
        if pos >= line.len() {
            return Ok(args);
        }
        let (word, next) = read_word(line, pos)?;
        args.push(word);
        pos = next;
    }
}

/// Reads the word starting at `start`; returns it and the position after it. An unquoted word
/// is a slice of the line; a quoted one is decoded into its own buffer.
fn read_word(line: &Bytes, start: usize) -> Result<(Bytes, usize), ProtocolError> {
    let bare_end = line[start..]
        .iter()
        .position(|&b| ends_word(b) || b == b'"' || b == b'\'')
        .map_or(line.len(), |offset| start + offset);
    let read_quoted = match line.get(bare_end) {
        Some(b'"') => read_double_quoted,
        Some(b'\'') => read_single_quoted,
        _ => return Ok((line.slice(start..bare_end), bare_end)),
    };
    let mut word = line[start..bare_end].to_vec();
    let next = read_quoted(line, bare_end + 1, &mut word)?;
    Ok((Bytes::from(word), next))
}

/// Decodes a double-quoted part from `pos` (after the opening quote) into `word`; returns the
/// position after the closing quote.
fn read_double_quoted(
    line: &[u8],
    mut pos: usize,
    word: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    loop {
        match line.get(pos) {
            None => return Err(ProtocolError::UnbalancedQuotes),
            Some(b'"') => return after_closing_quote(line, pos),
            Some(b'\\') => {
                let (byte, width) =
                    unescape(&line[pos + 1..]).ok_or(ProtocolError::UnbalancedQuotes)?;
                word.push(byte);
                pos += 1 + width;
            }
            Some(&byte) => {
                word.push(byte);
                pos += 1;
            }
        }
    }
}

/// Decodes a single-quoted part from `pos` (after the opening quote) into `word`; returns the
/// position after the closing quote. Only `\'` is an escape there.
fn read_single_quoted(
    line: &[u8],
    mut pos: usize,
    word: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    loop {
        match line.get(pos) {
            None => return Err(ProtocolError::UnbalancedQuotes),
            Some(b'\\') if line.get(pos + 1) == Some(&b'\'') => {
                word.push(b'\'');
                pos += 2;
            }
            Some(b'\'') => return after_closing_quote(line, pos),
            Some(&byte) => {
                word.push(byte);
                pos += 1;
            }
        }
    }
}

/// A closing quote must be followed by a space or the end of the line.
fn after_closing_quote(line: &[u8], quote: usize) -> Result<usize, ProtocolError> {
    let next = quote + 1;
    match line.get(next) {
        Some(&byte) if !is_space(byte) => Err(ProtocolError::UnbalancedQuotes),
        _ => Ok(next),
    }
}

/// Decodes the escape after a backslash (`rest` starts after it): the byte and how many bytes
/// of `rest` it used, or `None` when the line ends there.
fn unescape(rest: &[u8]) -> Option<(u8, usize)> {
    if let [b'x', high, low, ..] = *rest {
        if let (Some(high), Some(low)) = (hex_value(high), hex_value(low)) {
            return Some(((high << 4) | low, 3));
        }
    }
    let byte = match *rest.first()? {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'b' => 0x08,
        b'a' => 0x07,
        other => other,
    };
    Some((byte, 1))
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<Vec<Vec<u8>>, ProtocolError>;

    fn owned(args: &[Bytes]) -> Vec<Vec<u8>> {
        args.iter().map(|arg| arg.to_vec()).collect()
    }

    fn words(text: &[&str]) -> Vec<Vec<u8>> {
        text.iter().map(|word| word.as_bytes().to_vec()).collect()
    }

    /// Parses every request in `input`: the outcomes in order and the bytes left over.
    fn parse_all_with(input: &[u8], limits: &ParseLimits) -> (Vec<Outcome>, usize) {
        let mut buf = BytesMut::from(input);
        let mut outcomes = Vec::new();
        loop {
            match parse_request(&mut buf, limits) {
                Ok(Some(args)) => outcomes.push(Ok(owned(&args))),
                Ok(None) => break,
                Err(error) => {
                    outcomes.push(Err(error));
                    break;
                }
            }
        }
        (outcomes, buf.len())
    }

    fn parse_all(input: &[u8]) -> (Vec<Outcome>, usize) {
        parse_all_with(input, &ParseLimits::default())
    }

    /// The outcome of the single request `input` holds, which must consume all of it.
    fn parse_whole(input: &[u8]) -> Outcome {
        let (mut outcomes, left) = parse_all(input);
        assert_eq!(outcomes.len(), 1, "one outcome expected for {input:?}");
        let outcome = outcomes.remove(0);
        if outcome.is_ok() {
            assert_eq!(left, 0, "request {input:?} not fully consumed");
        }
        outcome
    }

    fn parse_error_with(input: &[u8], limits: &ParseLimits) -> ProtocolError {
        let mut buf = BytesMut::from(input);
        match parse_request(&mut buf, limits) {
            Err(error) => error,
            other => panic!("expected an error for {input:?}, got {other:?}"),
        }
    }

    fn parse_error(input: &[u8]) -> ProtocolError {
        parse_error_with(input, &ParseLimits::default())
    }

    /// Feeds `input` to one decoder in chunks of `chunk` bytes, as reads would deliver it.
    fn decode_in_chunks(input: &[u8], chunk: usize) -> (Vec<Outcome>, usize) {
        let mut decoder = RequestDecoder::default();
        let limits = ParseLimits::default();
        let mut buf = BytesMut::new();
        let mut outcomes = Vec::new();
        for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buf, &limits) {
                    Ok(Some(args)) => outcomes.push(Ok(owned(&args))),
                    Ok(None) => break,
                    Err(error) => {
                        outcomes.push(Err(error));
                        return (outcomes, buf.len());
                    }
                }
            }
        }
        (outcomes, buf.len())
    }

    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";

    #[test]
    fn multibulk_request_is_parsed_and_consumed() {
        assert_eq!(parse_whole(SET), Ok(words(&["SET", "key", "value"])));
    }

    #[test]
    fn bulk_payloads_are_binary_safe() {
        assert_eq!(
            parse_whole(b"*3\r\n$0\r\n\r\n$4\r\na\r\nb\r\n$2\r\n\x00\xff\r\n"),
            Ok(vec![b"".to_vec(), b"a\r\nb".to_vec(), b"\x00\xff".to_vec()])
        );
    }

    #[test]
    fn empty_and_negative_counts_yield_no_arguments() {
        for input in [
            &b"*0\r\n"[..],
            b"*-1\r\n",
            b"*-10\r\n",
            b"*-9223372036854775808\r\n",
        ] {
            assert_eq!(parse_whole(input), Ok(vec![]), "{input:?}");
        }
        let (outcomes, left) = parse_all(b"*0\r\nPING\r\n");
        assert_eq!(outcomes, [Ok(vec![]), Ok(words(&["PING"]))]);
        assert_eq!(left, 0);
    }

    #[test]
    fn pipelined_requests_parse_one_after_another() {
        let mut input = Vec::new();
        input.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        input.extend_from_slice(b"ECHO hi\r\n");
        input.extend_from_slice(SET);
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$3\r\nabc"); // incomplete tail
        let (outcomes, left) = parse_all(&input);
        assert_eq!(
            outcomes,
            [
                Ok(words(&["PING"])),
                Ok(words(&["ECHO", "hi"])),
                Ok(words(&["SET", "key", "value"])),
                Ok(vec![]),
            ]
        );
        assert_eq!(left, b"*2\r\n$4\r\nECHO\r\n$3\r\nabc".len());
    }

    #[test]
    fn one_vector_serves_requests_of_every_shape_in_turn() {
        let mut input = Vec::new();
        input.extend_from_slice(SET);
        input.extend_from_slice(b"ECHO hi\r\n");
        input.extend_from_slice(b"*0\r\n");
        // More arguments than the decoder records in its first pass.
        let many: Vec<String> = (0..RECORDED_ARGS_MAX + 3)
            .map(|i| format!("a{i}"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        input.extend_from_slice(format!("*{}\r\n", many.len()).as_bytes());
        for word in &many {
            input.extend_from_slice(format!("${}\r\n{word}\r\n", word.len()).as_bytes());
        }
        input.extend_from_slice(SET);
        let (mut buf, limits) = (BytesMut::from(&input[..]), ParseLimits::default());
        let (mut decoder, mut args) = (RequestDecoder::default(), Vec::new());
        let mut decoded = Vec::new();
        while decoder.decode_into(&mut buf, &limits, &mut args) == Ok(true) {
            decoded.push(owned(&args));
        }
        assert_eq!(
            decoded,
            [
                words(&["SET", "key", "value"]),
                words(&["ECHO", "hi"]),
                vec![],
                words(&many),
                words(&["SET", "key", "value"]),
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn arguments_are_slices_of_the_read_buffer() {
        for input in [SET, b"SET key value\r\n"] {
            let mut buf = BytesMut::from(input);
            let region = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
            let args = parse_request(&mut buf, &ParseLimits::default())
                .expect("valid")
                .expect("complete");
            for arg in &args {
                assert!(
                    region.contains(&(arg.as_ptr() as usize)),
                    "{arg:?} was copied"
                );
            }
        }
    }

    #[test]
    fn incomplete_requests_consume_nothing() {
        let huge = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nabcde";
        for input in [
            &b"*"[..],
            b"*3",
            b"*3\r",
            b"*3\r\n$",
            b"*3\r\n$3\r\nSE",
            huge,
        ] {
            let mut buf = BytesMut::from(input);
            assert_eq!(parse_request(&mut buf, &ParseLimits::default()), Ok(None));
            assert_eq!(&buf[..], input);
        }
    }

    #[test]
    fn every_split_point_gives_incomplete_then_the_same_result() {
        let mut pipeline = SET.to_vec();
        pipeline.extend_from_slice(b"set k \"a b\\x41\"\r\n*-1\r\n\n");
        pipeline.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\r\n\r\n");
        let whole = parse_all(&pipeline);
        assert_eq!(whole.0.len(), 5);
        assert_eq!(whole.1, 0);
        for split in 0..=pipeline.len() {
            let mut buf = BytesMut::from(&pipeline[..split]);
            let mut outcomes = Vec::new();
            for rest in [&[][..], &pipeline[split..]] {
                buf.extend_from_slice(rest);
                while let Some(args) =
                    parse_request(&mut buf, &ParseLimits::default()).expect("valid pipeline")
                {
                    outcomes.push(Ok(owned(&args)));
                }
            }
            assert_eq!((outcomes, buf.len()), whole, "split at {split}");
        }
        for chunk in 1..=pipeline.len() {
            assert_eq!(
                decode_in_chunks(&pipeline, chunk),
                whole,
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn decoder_resumes_a_many_argument_request_fed_byte_by_byte() {
        let mut input = b"*1000\r\n".to_vec();
        for i in 0..1000 {
            let arg = format!("arg{i}");
            input.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        let (outcomes, left) = decode_in_chunks(&input, 1);
        assert_eq!(left, 0);
        let args = outcomes[0].as_ref().expect("valid");
        assert_eq!(args.len(), 1000);
        assert_eq!(args[999], b"arg999");
    }

    #[test]
    fn decoder_recovers_when_the_buffer_no_longer_matches_its_progress() {
        let limits = ParseLimits::default();
        let mut decoder = RequestDecoder::default();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n$3\r\nba"[..]);
        assert_eq!(decoder.decode(&mut buf, &limits), Ok(None));
        buf.clear();
        buf.extend_from_slice(b"*1\r\n$1\r\nx\r\n");
        let args = decoder.decode(&mut buf, &limits).expect("valid");
        assert_eq!(args.map(|args| owned(&args)), Some(words(&["x"])));

        let mut buf = BytesMut::from(&b"PIN"[..]);
        assert_eq!(decoder.decode(&mut buf, &limits), Ok(None));
        buf.clear();
        buf.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let args = decoder.decode(&mut buf, &limits).expect("valid");
        assert_eq!(args.map(|args| owned(&args)), Some(words(&["PING"])));
    }

    #[test]
    fn bad_argument_counts_are_invalid_multibulk_lengths() {
        for input in [
            &b"*3000000000\r\n"[..],
            b"*abc\r\n",
            b"*01\r\n",
            b"*-0\r\n",
            b"*+1\r\n",
            b"* 1\r\n",
            b"*\r\n",
            b"*-\r\n",
            b"*1-\r\n",
            b"*3x\n$3\r\nSET\r\n",
            b"*99999999999999999999999",
        ] {
            assert_eq!(
                parse_error(input),
                ProtocolError::InvalidMultibulkLength,
                "{input:?}"
            );
        }
    }

    #[test]
    fn argument_count_limit_is_configurable() {
        let limits = ParseLimits {
            array_len_max: 2,
            unauthenticated: false,
            ..ParseLimits::default()
        };
        assert_eq!(
            parse_error_with(b"*3\r\n", &limits),
            ProtocolError::InvalidMultibulkLength
        );
        let (outcomes, _) = parse_all_with(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", &limits);
        assert_eq!(outcomes, [Ok(words(&["a", "b"]))]);
    }

    #[test]
    fn bad_bulk_lengths_are_invalid_bulk_lengths() {
        for header in [
            &b"$-10\r\n"[..],
            b"$2000000000\r\n",
            b"$blabla\r\n",
            b"$03\r\n",
            b"$\r\n",
            b"$3x\nSET",
        ] {
            let mut input = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n".to_vec();
            input.extend_from_slice(header);
            assert_eq!(
                parse_error(&input),
                ProtocolError::InvalidBulkLength,
                "{header:?}"
            );
        }
    }

    #[test]
    fn bulk_length_limit_is_configurable() {
        let limits = ParseLimits {
            bulk_len_max: 10,
            ..ParseLimits::default()
        };
        assert_eq!(
            parse_error_with(b"*1\r\n$11\r\n", &limits),
            ProtocolError::InvalidBulkLength
        );
        let (outcomes, _) = parse_all_with(b"*1\r\n$10\r\n0123456789\r\n", &limits);
        assert_eq!(outcomes, [Ok(words(&["0123456789"]))]);
    }

    #[test]
    fn argument_not_starting_with_dollar_names_the_byte() {
        let error = parse_error(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n");
        assert_eq!(error, ProtocolError::ExpectedBulk(b'f'));
        assert_eq!(error.to_string(), "Protocol error: expected '$', got 'f'");
        assert_eq!(
            parse_error(b"*1\r\nfoo\r\n"),
            ProtocolError::ExpectedBulk(b'f')
        );
        assert_eq!(
            ProtocolError::ExpectedBulk(0xc3).to_string(),
            "Protocol error: expected '$', got '\\xc3'"
        );
    }

    #[test]
    fn missing_crlf_is_refused() {
        for input in [
            &b"*3\rx$3\r\nSET\r\n"[..],
            b"*3\r\n$3\rxSET\r\n",
            b"*1\r\n$3\r\nSET\rx",
            b"*1\r\n$3\r\nSETx\n",
            b"*1\r\n$3\r\nSETxx",
            b"*1\r\n$3\r\nSETx",
        ] {
            assert_eq!(parse_error(input), ProtocolError::InvalidCrlf, "{input:?}");
        }
    }

    #[test]
    fn errors_read_as_redis_words_them() {
        let texts = [
            (
                ProtocolError::InvalidMultibulkLength,
                "Protocol error: invalid multibulk length",
            ),
            (
                ProtocolError::InvalidBulkLength,
                "Protocol error: invalid bulk length",
            ),
            (
                ProtocolError::InvalidCrlf,
                "Protocol error: invalid CRLF in request",
            ),
            (
                ProtocolError::UnbalancedQuotes,
                "Protocol error: unbalanced quotes in request",
            ),
            (
                ProtocolError::TooBigInlineRequest,
                "Protocol error: too big inline request",
            ),
        ];
        for (error, text) in texts {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn inline_requests_split_on_whitespace() {
        assert_eq!(parse_whole(b"PING\r\n"), Ok(words(&["PING"])));
        assert_eq!(parse_whole(b"PING\n"), Ok(words(&["PING"])));
        assert_eq!(
            parse_whole(b"  SET \t a   b  \r\n"),
            Ok(words(&["SET", "a", "b"]))
        );
        assert_eq!(parse_whole(b"a\rb\r\n"), Ok(words(&["a", "b"])));
        assert_eq!(parse_whole(b"\x0bA\x0bB\n"), Ok(words(&["A\x0bB"])));
        assert_eq!(parse_whole(b"\r\n"), Ok(vec![]));
        assert_eq!(parse_whole(b" \t \n"), Ok(vec![]));
        assert_eq!(parse_whole(b"$3 x\n"), Ok(words(&["$3", "x"])));
    }

    #[test]
    fn inline_double_quotes_decode_escapes() {
        assert_eq!(
            parse_whole(b"SET k \"hello world\"\r\n"),
            Ok(words(&["SET", "k", "hello world"]))
        );
        assert_eq!(
            parse_whole(&[&br#"ECHO "\n\r\t\b\a\x41\x4a\x4g\\\"\z""#[..], b"\n"].concat()),
            Ok(vec![b"ECHO".to_vec(), b"\n\r\t\x08\x07AJx4g\\\"z".to_vec()])
        );
        assert_eq!(parse_whole(b"ECHO \"\"\n"), Ok(words(&["ECHO", ""])));
        assert_eq!(
            parse_whole(b"ECHO a\"b c\"\n"),
            Ok(words(&["ECHO", "ab c"]))
        );
        assert_eq!(parse_whole(b"ECHO \"a\"\x0c\n"), Ok(words(&["ECHO", "a"])));
    }

    #[test]
    fn inline_single_quotes_only_escape_quotes() {
        assert_eq!(
            parse_whole(&[&br"ECHO 'it\'s\n' ''"[..], b"\r\n"].concat()),
            Ok(vec![b"ECHO".to_vec(), b"it's\\n".to_vec(), b"".to_vec()])
        );
    }

    #[test]
    fn inline_unbalanced_quotes_are_refused() {
        for input in [
            &b"SET foo \"bar\r\n"[..],
            b"set foo \"b\"a\"r\r\n",
            b"set foo 'b'a'r\r\n",
            b"set foo 'bar\n",
            b"ECHO \"abc\\\n",
            b"ECHO \"a\"b\n",
        ] {
            assert_eq!(
                parse_error(input),
                ProtocolError::UnbalancedQuotes,
                "{input:?}"
            );
        }
    }

    #[test]
    fn inline_line_length_is_limited() {
        let limits = ParseLimits {
            inline_len_max: 8,
            ..ParseLimits::default()
        };
        let (outcomes, left) = parse_all_with(b"12345678", &limits);
        assert_eq!((outcomes.len(), left), (0, 8));
        let (outcomes, _) = parse_all_with(b"12345678\n", &limits);
        assert_eq!(outcomes, [Ok(words(&["12345678"]))]);
        for input in [&b"123456789"[..], b"123456789\n", b"12345678\r\n"] {
            assert_eq!(
                parse_error_with(input, &limits),
                ProtocolError::TooBigInlineRequest,
                "{input:?}"
            );
        }
    }

    #[test]
    fn default_limits_are_redis_defaults() {
        let limits = ParseLimits::default();
        assert_eq!(limits.bulk_len_max, 512 * 1024 * 1024);
        assert_eq!(limits.inline_len_max, 65536);
        assert_eq!(limits.array_len_max, 2_147_483_647);
    }

    #[test]
    fn unauthenticated_clients_get_redis_tighter_limits() {
        let limits = ParseLimits::default().unauthenticated();
        assert_eq!(
            parse_error_with(b"*100\r\n", &limits),
            ProtocolError::UnauthenticatedMultibulkLength
        );
        assert_eq!(
            parse_error_with(b"*1\r\n$100000000\r\n", &limits),
            ProtocolError::UnauthenticatedBulkLength
        );
        assert_eq!(
            ProtocolError::UnauthenticatedBulkLength.to_string(),
            "Protocol error: unauthenticated bulk length"
        );
        // Beyond what any client may send, the error stays Redis's usual one.
        assert_eq!(
            parse_error_with(b"*3000000000\r\n", &limits),
            ProtocolError::InvalidMultibulkLength
        );
        let auth = b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n";
        let (outcomes, left) = parse_all_with(auth, &limits);
        assert_eq!((outcomes, left), (vec![Ok(words(&["AUTH", "secret"]))], 0));
        let ten = format!("*10\r\n{}", "$1\r\nx\r\n".repeat(10));
        assert_eq!(parse_all_with(ten.as_bytes(), &limits).0.len(), 1);
    }
}
