//! Ziplists: the packed collections of Redis before 7.0 (list, hash and zset ziplists, and
//! quicklist version 1 nodes). Read only: slotkv writes listpacks.
//!
//! Layout: total bytes (u32 LE), offset of the last entry (u32 LE), entry count (u16 LE,
//! 65535 when unknown), entries, 0xFF. An entry is the previous entry's size (1 byte, or 0xFE
//! and a u32 LE), an encoding, and data:
//!
//! | encoding            | meaning                                        |
//! |---------------------|------------------------------------------------|
//! | `00pppppp`          | string of up to 63 bytes                       |
//! | `01pppppp qqqqqqqq` | string of up to 16383 bytes (14 bits, BE)      |
//! | `0x80` + u32 BE     | longer string                                  |
//! | `0xC0` / `0xD0` / `0xE0` | i16 / i32 / i64 LE                        |
//! | `0xF0`              | 24-bit signed LE                               |
//! | `0xFE`              | i8                                             |
//! | `0xF1..=0xFD`       | immediate 0..=12                               |
//!
//! Every field is checked: total and tail offsets, each previous-size against the real one,
//! the count, bounds of every entry and the terminator.

use super::{packed_string, Element};

const HEADER_LEN: usize = 10;
const END: u8 = 0xFF;
const PREVLEN_LONG: u8 = 0xFE;
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Parses a ziplist blob into its entries.
pub(crate) fn parse(blob: &[u8]) -> Result<Vec<Element<'_>>, &'static str> {
    if blob.len() < HEADER_LEN + 1 {
        return Err("ziplist shorter than its header");
    }
    let word = |at: usize| u32::from_le_bytes([blob[at], blob[at + 1], blob[at + 2], blob[at + 3]]);
    if usize::try_from(word(0)) != Ok(blob.len()) {
        return Err("ziplist total length differs from its size");
    }
    let tail = usize::try_from(word(4)).map_err(|_| "ziplist tail offset too large")?;
    let count = u16::from_le_bytes([blob[8], blob[9]]);
    // Every entry takes at least two bytes.
    let mut entries = Vec::with_capacity(usize::from(count).min(blob.len() / 2));
    let mut pos = HEADER_LEN;
    let mut last_start = HEADER_LEN;
    let mut previous_size = 0;
    while blob.get(pos) != Some(&END) {
        let (entry, size) = parse_entry(blob, pos, previous_size)?;
        entries.push(entry);
        last_start = pos;
        previous_size = size;
        pos += size;
    }
    if pos + 1 != blob.len() {
        return Err("ziplist data after the terminator");
    }
    if tail != last_start {
        return Err("ziplist tail offset does not point at the last entry");
    }
    if count != COUNT_UNKNOWN && usize::from(count) != entries.len() {
        return Err("ziplist count differs from its entries");
    }
    Ok(entries)
}

/// The entry at `pos` and its total size; `previous_size` is what its prevlen must say.
fn parse_entry(
    blob: &[u8],
    pos: usize,
    previous_size: usize,
) -> Result<(Element<'_>, usize), &'static str> {
    let byte = |at: usize| blob.get(at).copied().ok_or("ziplist entry truncated");
    let (prevlen, header) = match byte(pos)? {
        PREVLEN_LONG => {
            let raw = [
                byte(pos + 1)?,
                byte(pos + 2)?,
                byte(pos + 3)?,
                byte(pos + 4)?,
            ];
            (u32::from_le_bytes(raw) as usize, 5)
        }
        END => return Err("ziplist entry truncated"),
        short => (usize::from(short), 1),
    };
    if prevlen != previous_size {
        return Err("ziplist entry with a wrong previous length");
    }
    let at = pos + header;
    let encoding = byte(at)?;
    let (element, body) = match encoding >> 6 {
        0 => string_at(blob, at + 1, usize::from(encoding & 0x3f), 1)?,
        1 => {
            let len = usize::from(encoding & 0x3f) << 8 | usize::from(byte(at + 1)?);
            string_at(blob, at + 2, len, 2)?
        }
        2 if encoding == 0x80 => {
            let raw = [byte(at + 1)?, byte(at + 2)?, byte(at + 3)?, byte(at + 4)?];
            let len =
                usize::try_from(u32::from_be_bytes(raw)).map_err(|_| "ziplist string too long")?;
            string_at(blob, at + 5, len, 5)?
        }
        2 => return Err("ziplist entry with an unknown encoding"),
        _ => integer_at(blob, at, encoding)?,
    };
    Ok((element, header + body))
}

/// A string of `len` bytes at `start`; `header` is the size of its encoding.
fn string_at(
    blob: &[u8],
    start: usize,
    len: usize,
    header: usize,
) -> Result<(Element<'_>, usize), &'static str> {
    packed_string(blob, start, len, header).ok_or("ziplist string truncated")
}

/// An integer entry whose encoding byte (at `at`) is `encoding`, and its size with that byte.
fn integer_at(blob: &[u8], at: usize, encoding: u8) -> Result<(Element<'_>, usize), &'static str> {
    let width = match encoding {
        0xC0 => 2,
        0xD0 => 4,
        0xE0 => 8,
        0xF0 => 3,
        0xFE => 1,
        0xF1..=0xFD => return Ok((Element::Int(i64::from(encoding & 0x0f) - 1), 1)),
        _ => return Err("ziplist entry with an unknown encoding"),
    };
    let bytes = blob
        .get(at + 1..at + 1 + width)
        .ok_or("ziplist integer truncated")?;
    let mut raw = [0u8; 8];
    raw[..width].copy_from_slice(bytes);
    let shift = 64 - 8 * width as u32;
    Ok((
        Element::Int(i64::from_le_bytes(raw) << shift >> shift),
        1 + width,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a ziplist as Redis lays one out (tests only: slotkv never writes ziplists).
    pub(crate) fn build(entries: &[Element<'_>]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut previous = 0usize;
        let mut tail = HEADER_LEN;
        for entry in entries {
            let start = body.len();
            tail = HEADER_LEN + start;
            if previous < 254 {
                body.push(previous as u8);
            } else {
                body.push(PREVLEN_LONG);
                body.extend_from_slice(&(previous as u32).to_le_bytes());
            }
            match *entry {
                Element::Bytes(data) if data.len() < 64 => body.push(data.len() as u8),
                Element::Bytes(data) if data.len() < 16384 => {
                    body.extend_from_slice(&[0x40 | (data.len() >> 8) as u8, data.len() as u8])
                }
                Element::Bytes(data) => {
                    body.push(0x80);
                    body.extend_from_slice(&(data.len() as u32).to_be_bytes());
                }
                Element::Int(n @ 0..=12) => body.push(0xF1 + n as u8),
                Element::Int(n) if i8::try_from(n).is_ok() => {
                    body.extend_from_slice(&[0xFE, n as u8])
                }
                Element::Int(n) if i16::try_from(n).is_ok() => {
                    body.push(0xC0);
                    body.extend_from_slice(&(n as i16).to_le_bytes());
                }
                Element::Int(n) if (-(1 << 23)..1 << 23).contains(&n) => {
                    body.push(0xF0);
                    body.extend_from_slice(&n.to_le_bytes()[..3]);
                }
                Element::Int(n) if i32::try_from(n).is_ok() => {
                    body.push(0xD0);
                    body.extend_from_slice(&(n as i32).to_le_bytes());
                }
                Element::Int(n) => {
                    body.push(0xE0);
                    body.extend_from_slice(&n.to_le_bytes());
                }
            }
            if let Element::Bytes(data) = entry {
                body.extend_from_slice(data);
            }
            previous = body.len() - start;
        }
        let total = HEADER_LEN + body.len() + 1;
        let mut blob = Vec::with_capacity(total);
        blob.extend_from_slice(&(total as u32).to_le_bytes());
        blob.extend_from_slice(&(tail as u32).to_le_bytes());
        blob.extend_from_slice(&(entries.len().min(65535) as u16).to_le_bytes());
        blob.extend_from_slice(&body);
        blob.push(END);
        blob
    }

    #[test]
    fn every_encoding_round_trips() {
        let long = vec![b'z'; 300];
        let huge = vec![b'q'; 20_000];
        let entries = [
            Element::Bytes(b""),
            Element::Bytes(b"abc"),
            Element::Bytes(&long),
            Element::Bytes(&huge),
            Element::Int(0),
            Element::Int(12),
            Element::Int(13),
            Element::Int(-100),
            Element::Int(30_000),
            Element::Int(-8_000_000),
            Element::Int(2_000_000_000),
            Element::Int(i64::MIN),
            Element::Bytes(b"after a long one"),
        ];
        assert_eq!(parse(&build(&entries)).as_deref(), Ok(&entries[..]));
        assert_eq!(parse(&build(&[])).as_deref(), Ok(&[][..]));
    }

    #[test]
    fn damaged_ziplists_are_errors() {
        let blob = build(&[
            Element::Bytes(b"hello"),
            Element::Int(7),
            Element::Bytes(b"x"),
        ]);
        for len in 0..blob.len() {
            assert!(parse(&blob[..len]).is_err(), "prefix of {len}");
        }
        let mut bad_tail = blob.clone();
        bad_tail[4] += 1;
        assert!(parse(&bad_tail).is_err());
        let mut bad_prevlen = blob.clone();
        bad_prevlen[HEADER_LEN + 7] = 3;
        assert!(parse(&bad_prevlen).is_err());
        let mut bad_count = blob;
        bad_count[8] = 4;
        assert!(parse(&bad_count).is_err());
    }
}
