//! Listpacks: Redis 7's packed collections (hash, zset and set listpacks, quicklist nodes).
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 when unknown), elements, 0xFF.
//! An element is an encoding byte with its data, then a "backlen": the size of encoding+data
//! in 1 to 5 bytes of 7 bits, most significant first, every byte after the first with its
//! high bit set (so it can be read backwards). Encodings:
//!
//! | first byte  | meaning                                  |
//! |-------------|------------------------------------------|
//! | `0xxxxxxx`  | integer 0..=127                          |
//! | `10xxxxxx`  | string of up to 63 bytes follows         |
//! | `110xxxxx`  | 13-bit signed integer (+1 byte)          |
//! | `1110xxxx`  | string of up to 4095 bytes (+1 len byte) |
//! | `0xF0`      | string, u32 LE length follows            |
//! | `0xF1..F4`  | signed integer of 16, 24, 32, 64 bits LE |
//! | `0xFF`      | end                                      |
//!
//! The parser checks the header's total and count, every element's bounds and backlen, and the
//! terminator; it never allocates more than the blob's length allows.

use super::{packed_string, Element};
use slotkv_engine::value::parse_i64;

const HEADER_LEN: usize = 6;
const END: u8 = 0xFF;
/// The count field's value when the count does not fit it.
const COUNT_UNKNOWN: u16 = u16::MAX;

const STR_6BIT_MAX: usize = 63;
const STR_12BIT_MAX: usize = 4095;
const ENC_STR_32: u8 = 0xF0;
const ENC_INT16: u8 = 0xF1;
const ENC_INT24: u8 = 0xF2;
const ENC_INT32: u8 = 0xF3;
const ENC_INT64: u8 = 0xF4;
/// Strings at most this long are stored as integers when they are an integer's text.
const INT_TEXT_LEN_MAX: usize = 20;

/// Parses a listpack blob into its elements.
pub(crate) fn parse(blob: &[u8]) -> Result<Vec<Element<'_>>, &'static str> {
    if blob.len() < HEADER_LEN + 1 {
        return Err("listpack shorter than its header");
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]);
    if usize::try_from(total) != Ok(blob.len()) {
        return Err("listpack total length differs from its size");
    }
    let count = u16::from_le_bytes([blob[4], blob[5]]);
    // Every element takes at least two bytes.
    let mut elements = Vec::with_capacity(usize::from(count).min(blob.len() / 2));
    let mut pos = HEADER_LEN;
    loop {
        match blob.get(pos) {
            None => return Err("listpack without terminator"),
            Some(&END) => break,
            Some(_) => {
                let (element, next) = parse_element(blob, pos)?;
                elements.push(element);
                pos = next;
            }
        }
    }
    if pos + 1 != blob.len() {
        return Err("listpack data after the terminator");
    }
    if count != COUNT_UNKNOWN && usize::from(count) != elements.len() {
        return Err("listpack count differs from its elements");
    }
    Ok(elements)
}

/// The element at `pos` and the offset after its backlen.
fn parse_element(blob: &[u8], pos: usize) -> Result<(Element<'_>, usize), &'static str> {
    let first = blob[pos];
    let byte = |i: usize| {
        blob.get(pos + i)
            .copied()
            .ok_or("listpack element truncated")
    };
    let (element, size) = match first {
        0x00..=0x7F => (Element::Int(i64::from(first)), 1),
        0x80..=0xBF => string_at(blob, pos + 1, usize::from(first & 0x3f), 1)?,
        0xC0..=0xDF => {
            let raw = i64::from(first & 0x1f) << 8 | i64::from(byte(1)?);
            (
                Element::Int(if raw >= 1 << 12 { raw - (1 << 13) } else { raw }),
                2,
            )
        }
        0xE0..=0xEF => {
            let len = usize::from(first & 0x0f) << 8 | usize::from(byte(1)?);
            string_at(blob, pos + 2, len, 2)?
        }
        ENC_STR_32 => {
            let len = u32::from_le_bytes([byte(1)?, byte(2)?, byte(3)?, byte(4)?]);
            let len = usize::try_from(len).map_err(|_| "listpack string too long")?;
            string_at(blob, pos + 5, len, 5)?
        }
        ENC_INT16 => (Element::Int(signed_le(blob, pos + 1, 2)?), 3),
        ENC_INT24 => (Element::Int(signed_le(blob, pos + 1, 3)?), 4),
        ENC_INT32 => (Element::Int(signed_le(blob, pos + 1, 4)?), 5),
        ENC_INT64 => (Element::Int(signed_le(blob, pos + 1, 8)?), 9),
        _ => return Err("listpack element with an unknown encoding"),
    };
    let backlen_at = pos + size;
    let mut expected = [0u8; 5];
    let backlen = encode_backlen(size, &mut expected);
    if blob.get(backlen_at..backlen_at + backlen.len()) != Some(backlen) {
        return Err("listpack element with a wrong backlen");
    }
    Ok((element, backlen_at + backlen.len()))
}

/// A string element of `len` bytes at `start`, its header being `header` bytes.
fn string_at(
    blob: &[u8],
    start: usize,
    len: usize,
    header: usize,
) -> Result<(Element<'_>, usize), &'static str> {
    packed_string(blob, start, len, header).ok_or("listpack string truncated")
}

/// A little-endian two's complement integer of `width` bytes at `start`.
fn signed_le(blob: &[u8], start: usize, width: usize) -> Result<i64, &'static str> {
    let bytes = blob
        .get(start..start + width)
        .ok_or("listpack integer truncated")?;
    let mut raw = [0u8; 8];
    raw[..width].copy_from_slice(bytes);
    let shift = 64 - 8 * width as u32;
    Ok(i64::from_le_bytes(raw) << shift >> shift)
}

/// The backlen of an element of `size` bytes, written into `buffer`.
fn encode_backlen(size: usize, buffer: &mut [u8; 5]) -> &[u8] {
    let groups = match size {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    for (i, slot) in buffer[..groups].iter_mut().enumerate() {
        let shift = 7 * (groups - 1 - i);
        let group = ((size >> shift) & 0x7f) as u8;
        *slot = if i == 0 { group } else { group | 0x80 };
    }
    &buffer[..groups]
}

/// Builds a listpack element by element.
#[derive(Debug)]
pub(crate) struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl ListpackWriter {
    pub(crate) fn new() -> ListpackWriter {
        ListpackWriter {
            buf: vec![0; HEADER_LEN],
            count: 0,
        }
    }

    /// Number of elements so far.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Size of the finished listpack if nothing more were added.
    pub(crate) fn size(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends `data`, as an integer when it is an integer's canonical text (as Redis does).
    pub(crate) fn push(&mut self, data: &[u8]) {
        match (data.len() <= INT_TEXT_LEN_MAX)
            .then(|| parse_i64(data))
            .flatten()
        {
            Some(n) => self.push_int(n),
            None => self.push_str(data),
        }
    }

    /// Size of the element `data` would add.
    pub(crate) fn element_size(data: &[u8]) -> usize {
        let header = match data.len() {
            0..=STR_6BIT_MAX => 1,
            64..=STR_12BIT_MAX => 2,
            _ => 5,
        };
        let size = header + data.len();
        let mut buffer = [0u8; 5];
        size + encode_backlen(size, &mut buffer).len()
    }

    fn push_int(&mut self, n: i64) {
        let start = self.buf.len();
        match n {
            0..=127 => self.buf.push(n as u8),
            -4096..=4095 => {
                let raw = (n & 0x1fff) as u16;
                self.buf
                    .extend_from_slice(&[0xC0 | (raw >> 8) as u8, raw as u8]);
            }
            -32_768..=32_767 => self.push_fixed(ENC_INT16, n, 2),
            -8_388_608..=8_388_607 => self.push_fixed(ENC_INT24, n, 3),
            -2_147_483_648..=2_147_483_647 => self.push_fixed(ENC_INT32, n, 4),
            _ => self.push_fixed(ENC_INT64, n, 8),
        }
        self.finish_element(start);
    }

    fn push_fixed(&mut self, encoding: u8, n: i64, width: usize) {
        self.buf.push(encoding);
        self.buf.extend_from_slice(&n.to_le_bytes()[..width]);
    }

    fn push_str(&mut self, data: &[u8]) {
        let start = self.buf.len();
        let len = data.len();
        if len <= STR_6BIT_MAX {
            self.buf.push(0x80 | len as u8);
        } else if len <= STR_12BIT_MAX {
            self.buf
                .extend_from_slice(&[0xE0 | (len >> 8) as u8, len as u8]);
        } else {
            // Listpacks are at most 4 GiB; callers keep larger elements out (plain nodes).
            self.buf.push(ENC_STR_32);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(data);
        self.finish_element(start);
    }

    /// Appends the backlen of the element that starts at `start`.
    fn finish_element(&mut self, start: usize) {
        let mut buffer = [0u8; 5];
        let size = self.buf.len() - start;
        self.buf
            .extend_from_slice(encode_backlen(size, &mut buffer));
        self.count += 1;
    }

    /// The finished listpack.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.buf[4..HEADER_LEN].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(items: &[&[u8]]) -> Vec<u8> {
        let mut writer = ListpackWriter::new();
        for item in items {
            writer.push(item);
        }
        writer.finish()
    }

    #[test]
    fn integers_of_every_width_round_trip() {
        let values = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -4097,
            32767,
            -32768,
            32768,
            8_388_607,
            -8_388_608,
            8_388_608,
            2_147_483_647,
            -2_147_483_648,
            2_147_483_648,
            i64::MAX,
            i64::MIN,
        ];
        let texts: Vec<String> = values.iter().map(i64::to_string).collect();
        let items: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        let blob = build(&items);
        let parsed = parse(&blob).expect("valid");
        let expected: Vec<Element> = values.iter().map(|&n| Element::Int(n)).collect();
        assert_eq!(parsed, expected);
    }

    #[test]
    fn strings_of_every_length_class_round_trip() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let items: Vec<&[u8]> = vec![b"", b"a", b"012", b"-0", b" 1", &mid, &long, b"\xff\x00"];
        let blob = build(&items);
        let parsed = parse(&blob).expect("valid");
        let expected: Vec<Element> = items.iter().map(|&s| Element::Bytes(s)).collect();
        assert_eq!(parsed, expected);
        assert_eq!(
            blob.len(),
            ListpackWriter::new().size()
                + items
                    .iter()
                    .map(|i| ListpackWriter::element_size(i))
                    .sum::<usize>()
        );
    }

    #[test]
    fn backlen_has_redis_s_layout() {
        let mut buffer = [0u8; 5];
        assert_eq!(encode_backlen(5, &mut buffer), &[5]);
        assert_eq!(encode_backlen(300, &mut buffer), &[2, 0x80 | 44]);
        assert_eq!(
            encode_backlen(20_000, &mut buffer),
            &[1, 0x80 | 28, 0x80 | 32]
        );
    }

    #[test]
    fn damaged_listpacks_are_errors() {
        let blob = build(&[b"hello", b"12", b"world"]);
        for len in 0..blob.len() {
            assert!(parse(&blob[..len]).is_err(), "prefix of {len}");
        }
        let mut wrong_count = blob.clone();
        wrong_count[4] = 2;
        assert!(parse(&wrong_count).is_err());
        let mut wrong_backlen = blob.clone();
        wrong_backlen[6 + 6] = 9;
        assert!(parse(&wrong_backlen).is_err());
        let mut bad_encoding = blob.clone();
        bad_encoding[6] = 0xF7;
        assert!(parse(&bad_encoding).is_err());
        let mut unknown_count = blob;
        unknown_count[4..6].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(parse(&unknown_count).map(|e| e.len()), Ok(3));
    }
}
