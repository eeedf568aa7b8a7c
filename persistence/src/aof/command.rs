//! Reading commands out of an AOF: RESP arrays of bulk strings (`*<n>\r\n` then `$<len>\r\n`
//! `<bytes>\r\n` per argument), with `#` annotation lines (Redis's `#TS:` timestamps) skipped.
//!
//! The reader tells apart a file that simply ends inside a command (truncated: a crash during a
//! write) from bytes that can never be a command (corrupt), and says where the command started,
//! so the loader can cut the tail off or name the offset. Arguments are slices of the file's
//! buffer; declared counts and lengths are checked against what is left before anything is
//! reserved.

use bytes::Bytes;

/// Most arguments one command may have (Redis caps a multibulk at 1024*1024*1024; a file
/// cannot hold more than one argument per 4 bytes anyway, which bounds what is reserved).
pub const ARGS_MAX: usize = 1024 * 1024 * 1024;
/// Longest argument (Redis's largest `proto-max-bulk-len`).
pub const ARG_LEN_MAX: usize = i32::MAX as usize;
/// Longest header line (`*<n>` or `$<len>`) read before calling the input corrupt.
const HEADER_LEN_MAX: usize = 32;

/// Why reading stopped before a complete command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// The input ends inside the command.
    Truncated,
    /// The bytes at the offset cannot be a command.
    Corrupt(&'static str),
}

/// Where and why reading stopped; `command_at` is the offset of the command's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// Offset of the first byte of the command that could not be read.
    pub command_at: usize,
    /// Offset of the offending byte (equal to the input length when truncated).
    pub at: usize,
    /// Truncated or corrupt.
    pub kind: StopKind,
}

/// One command and the offset just past it.
pub type Command = (Vec<Bytes>, usize);

/// Reads the command starting at `pos` (after skipping annotation lines); `Ok(None)` at the
/// end of the input.
pub fn next_command(data: &Bytes, pos: usize) -> Result<Option<Command>, Stop> {
    let mut pos = pos;
    loop {
        match data.get(pos) {
            None => return Ok(None),
            Some(b'#') => pos = skip_annotation(data, pos)?,
            Some(_) => break,
        }
    }
    let start = pos;
    let stop = |at: usize, kind| Stop {
        command_at: start,
        at,
        kind,
    };
    if data.get(pos) != Some(&b'*') {
        return Err(stop(pos, StopKind::Corrupt("expected '*'")));
    }
    let (argc, after) = header_number(data, pos + 1).map_err(|(at, kind)| stop(at, kind))?;
    if argc == 0 || argc > ARGS_MAX {
        return Err(stop(pos, StopKind::Corrupt("invalid argument count")));
    }
    pos = after;
    // Every argument takes at least 6 bytes ("$0\r\n\r\n"): reserve no more than could fit.
    let mut args = Vec::with_capacity(argc.min(data.len().saturating_sub(pos) / 6 + 1));
    for _ in 0..argc {
        match data.get(pos) {
            None => return Err(stop(pos, StopKind::Truncated)),
            Some(b'$') => {}
            Some(_) => return Err(stop(pos, StopKind::Corrupt("expected '$'"))),
        }
        let (len, body) = header_number(data, pos + 1).map_err(|(at, kind)| stop(at, kind))?;
        if len > ARG_LEN_MAX {
            return Err(stop(pos, StopKind::Corrupt("invalid bulk length")));
        }
        let end = body.saturating_add(len);
        if end.saturating_add(2) > data.len() {
            return Err(stop(data.len(), StopKind::Truncated));
        }
        if &data[end..end + 2] != b"\r\n" {
            return Err(stop(
                end,
                StopKind::Corrupt("expected CRLF after a bulk string"),
            ));
        }
        args.push(data.slice(body..end));
        pos = end + 2;
    }
    Ok(Some((args, pos)))
}

/// Skips a `#...\n` line.
fn skip_annotation(data: &[u8], pos: usize) -> Result<usize, Stop> {
    match data[pos..].iter().position(|&b| b == b'\n') {
        Some(newline) => Ok(pos + newline + 1),
        None => Err(Stop {
            command_at: pos,
            at: data.len(),
            kind: StopKind::Truncated,
        }),
    }
}

/// Reads the decimal number of a header line starting at `pos`, up to its CRLF; returns the
/// number and the offset after the CRLF.
fn header_number(data: &[u8], pos: usize) -> Result<(usize, usize), (usize, StopKind)> {
    let mut value: usize = 0;
    let mut at = pos;
    loop {
        let Some(&byte) = data.get(at) else {
            return Err((data.len(), StopKind::Truncated));
        };
        match byte {
            b'0'..=b'9' => {
                value = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(usize::from(byte - b'0')))
                    .ok_or((at, StopKind::Corrupt("number too large")))?;
            }
            b'\r' if at > pos => break,
            _ => return Err((at, StopKind::Corrupt("invalid number"))),
        }
        at += 1;
        if at - pos > HEADER_LEN_MAX {
            return Err((at, StopKind::Corrupt("number too long")));
        }
    }
    match data.get(at + 1) {
        None => Err((data.len(), StopKind::Truncated)),
        Some(b'\n') => Ok((value, at + 2)),
        Some(_) => Err((at + 1, StopKind::Corrupt("expected LF"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(data: &[u8]) -> (Vec<Vec<String>>, Option<Stop>) {
        let data = Bytes::copy_from_slice(data);
        let mut pos = 0;
        let mut commands = Vec::new();
        loop {
            match next_command(&data, pos) {
                Ok(Some((args, next))) => {
                    commands.push(
                        args.iter()
                            .map(|a| String::from_utf8_lossy(a).into_owned())
                            .collect(),
                    );
                    pos = next;
                }
                Ok(None) => return (commands, None),
                Err(stop) => return (commands, Some(stop)),
            }
        }
    }

    #[test]
    fn reads_commands_and_skips_annotations() {
        let (commands, stop) =
            all(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n#TS:1700000000\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        assert_eq!(stop, None);
        assert_eq!(commands, [vec!["SELECT", "0"], vec!["SET", "k", ""]]);
    }

    #[test]
    fn every_cut_of_a_valid_command_is_a_truncation_at_its_start() {
        let full = b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let second = 14;
        for cut in second + 1..full.len() {
            let (commands, stop) = all(&full[..cut]);
            assert_eq!(commands.len(), 1, "cut {cut}");
            let stop = stop.unwrap();
            assert_eq!(stop.kind, StopKind::Truncated, "cut {cut}");
            assert_eq!(stop.command_at, second);
        }
    }

    #[test]
    fn corruption_is_located() {
        let cases: &[(&[u8], usize)] = &[
            (b"*1\r\n$4\r\nPING\r\nxx", 14),
            (b"*1\r\n$4\r\nPINGxx", 12),
            (b"*1\r\n%4\r\nPING\r\n", 4),
            (b"*-1\r\n", 1),
            (b"*0\r\n", 0),
            (b"*1\r\n$99999999999999999999999\r\n", 24),
            (b"*1\n", 2),
        ];
        for (data, at) in cases {
            let (_, stop) = all(data);
            let stop = stop.unwrap();
            assert!(
                matches!(stop.kind, StopKind::Corrupt(_)),
                "{}",
                String::from_utf8_lossy(data)
            );
            assert_eq!(stop.at, *at, "{}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn huge_declared_sizes_reserve_nothing_and_read_as_truncated() {
        let (_, stop) = all(b"*1073741824\r\n$2147483647\r\nab");
        assert_eq!(stop.unwrap().kind, StopKind::Truncated);
    }
}
