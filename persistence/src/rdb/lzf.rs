//! LZF, the compression Redis applies to long strings in RDB files (`rdbcompression yes`).
//!
//! The format is a sequence of runs, each opened by a control byte `c`:
//! - `c < 32`: a literal run; the next `c + 1` bytes are copied as they are.
//! - otherwise a back reference: length code `c >> 5` (7 means "add the next byte"), then the
//!   low byte of the distance; the match is `length code + 2` bytes copied from
//!   `((c & 31) << 8 | low) + 1` bytes back in the output. Matches may overlap their source.
//!
//! Decompression checks every run against the input and the declared output length, so bad
//! data gives an error, never a panic or an output larger than declared. Compression finds
//! matches of at least 3 bytes through a hash of the next 3 bytes and gives up as soon as the
//! output would exceed the caller's bound (Redis stores a string compressed only when that
//! saves at least 4 bytes).

use std::fmt;

/// Longest literal run.
const LITERAL_MAX: usize = 32;
/// Farthest back a match may start.
const DISTANCE_MAX: usize = 1 << 13;
/// Shortest match worth a back reference.
const MATCH_MIN: usize = 3;
/// Longest match: length code 7 plus an extra byte of 255, plus 2.
const MATCH_MAX: usize = 7 + 255 + 2;
/// Output reserved ahead, as a multiple of the input's length.
const RESERVE_RATIO: usize = 4;
/// Bits of the largest match-finding hash table (16K slots).
const HASH_BITS_MAX: u32 = 14;
/// Bits of the smallest one.
const HASH_BITS_MIN: u32 = 8;

/// LZF data that does not decode to its declared length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzfError {
    /// A run reads past the end of the input.
    Truncated,
    /// A back reference points before the start of the output.
    BadReference,
    /// The output would exceed, or ends short of, the declared length.
    WrongLength,
}

impl fmt::Display for LzfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LzfError::Truncated => "LZF run past the end of the input",
            LzfError::BadReference => "LZF back reference before the start",
            LzfError::WrongLength => "LZF output length differs from the declared one",
        })
    }
}

impl std::error::Error for LzfError {}

/// Decompresses `input`, which must produce exactly `len` bytes.
pub fn decompress(input: &[u8], len: usize) -> Result<Vec<u8>, LzfError> {
    // Each input byte yields at most MATCH_MAX / 2 output bytes, so a declared length beyond
    // that is wrong before any work. Output beyond a few times the input is reserved only as
    // the data really produces it.
    if len > input.len().saturating_mul(MATCH_MAX / 2) {
        return Err(LzfError::WrongLength);
    }
    let mut out = Vec::with_capacity(len.min(input.len().saturating_mul(RESERVE_RATIO)));
    let mut pos = 0;
    while let Some(&control) = input.get(pos) {
        pos += 1;
        let control = usize::from(control);
        if control < LITERAL_MAX {
            let run = input
                .get(pos..pos + control + 1)
                .ok_or(LzfError::Truncated)?;
            if out.len() + run.len() > len {
                return Err(LzfError::WrongLength);
            }
            out.extend_from_slice(run);
            pos += run.len();
        } else {
            let mut length = control >> 5;
            if length == 7 {
                length += usize::from(*input.get(pos).ok_or(LzfError::Truncated)?);
                pos += 1;
            }
            let low = usize::from(*input.get(pos).ok_or(LzfError::Truncated)?);
            pos += 1;
            let distance = ((control & 0x1f) << 8 | low) + 1;
            copy_match(&mut out, distance, length + 2, len)?;
        }
    }
    if out.len() == len {
        Ok(out)
    } else {
        Err(LzfError::WrongLength)
    }
}

/// Appends `length` bytes starting `distance` back in `out` (byte by byte: they may overlap).
fn copy_match(
    out: &mut Vec<u8>,
    distance: usize,
    length: usize,
    len: usize,
) -> Result<(), LzfError> {
    let start = out
        .len()
        .checked_sub(distance)
        .ok_or(LzfError::BadReference)?;
    if out.len() + length > len {
        return Err(LzfError::WrongLength);
    }
    for i in start..start + length {
        let byte = out[i];
        out.push(byte);
    }
    Ok(())
}

/// Compresses `input`, or `None` if the result would be longer than `limit` bytes.
pub fn compress(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut compressor = Compressor::new(input, limit);
    let mut pos = 0;
    while pos + MATCH_MIN <= input.len() {
        match compressor.find_match(pos) {
            Some((distance, length)) => {
                compressor.literals(pos)?;
                compressor.reference(distance, length)?;
                pos += length;
                compressor.literal_start = pos;
            }
            None => pos += 1,
        }
    }
    compressor.literals(input.len())?;
    Some(compressor.out)
}

/// State of one compression: the output, where pending literals start, and the table of the
/// last position each 3-byte hash was seen at (plus one; 0 is empty).
struct Compressor<'a> {
    input: &'a [u8],
    limit: usize,
    out: Vec<u8>,
    literal_start: usize,
    table: Vec<u32>,
    hash_shift: u32,
}

impl<'a> Compressor<'a> {
    fn new(input: &'a [u8], limit: usize) -> Compressor<'a> {
        let bits = (usize::BITS - input.len().leading_zeros()).clamp(HASH_BITS_MIN, HASH_BITS_MAX);
        Compressor {
            input,
            limit,
            out: Vec::with_capacity(limit.min(input.len())),
            literal_start: 0,
            table: vec![0; 1 << bits],
            hash_shift: 32 - bits,
        }
    }

    /// The longest match for the bytes at `pos` that the table offers, as (distance, length).
    fn find_match(&mut self, pos: usize) -> Option<(usize, usize)> {
        let key = &self.input[pos..pos + MATCH_MIN];
        let value = u32::from(key[0]) << 16 | u32::from(key[1]) << 8 | u32::from(key[2]);
        let slot = (value.wrapping_mul(0x9E37_79B1) >> self.hash_shift) as usize;
        let previous = self.table[slot] as usize;
        // Positions beyond u32 are not remembered: such inputs just compress less.
        self.table[slot] = u32::try_from(pos + 1).unwrap_or(0);
        let candidate = previous.checked_sub(1)?;
        let distance = pos - candidate;
        if distance > DISTANCE_MAX || self.input[candidate..candidate + MATCH_MIN] != *key {
            return None;
        }
        let longest = MATCH_MAX.min(self.input.len() - pos);
        let length = (MATCH_MIN..longest)
            .find(|&i| self.input[candidate + i] != self.input[pos + i])
            .unwrap_or(longest);
        Some((distance, length))
    }

    /// Writes the pending literals up to `end` in runs of at most 32.
    fn literals(&mut self, end: usize) -> Option<()> {
        for run in self.input[self.literal_start..end].chunks(LITERAL_MAX) {
            self.push(&[(run.len() - 1) as u8])?;
            self.push(run)?;
        }
        self.literal_start = end;
        Some(())
    }

    /// Writes a back reference of `length` bytes `distance` back.
    fn reference(&mut self, distance: usize, length: usize) -> Option<()> {
        let code = length - 2;
        let offset = distance - 1;
        let high = (offset >> 8) as u8;
        let low = (offset & 0xff) as u8;
        if code < 7 {
            self.push(&[(code as u8) << 5 | high, low])
        } else {
            self.push(&[7 << 5 | high, (code - 7) as u8, low])
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Option<()> {
        if self.out.len() + bytes.len() > self.limit {
            return None;
        }
        self.out.extend_from_slice(bytes);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(data: &[u8]) {
        let packed = compress(data, usize::MAX).expect("no limit");
        assert_eq!(decompress(&packed, data.len()).as_deref(), Ok(data));
    }

    #[test]
    fn repetitive_data_shrinks_and_comes_back() {
        let data = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(40);
        let packed = compress(&data, data.len()).expect("compressible");
        assert!(packed.len() < data.len() / 10, "{} bytes", packed.len());
        round_trip(&data);
        round_trip(&[7u8; 10_000]);
        round_trip(b"");
        round_trip(b"ab");
    }

    #[test]
    fn incompressible_data_respects_the_limit() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 97 % 256) as u8).collect();
        assert_eq!(compress(&data, data.len() - 4), None);
    }

    #[test]
    fn decodes_a_hand_written_stream() {
        // Literal "abc", then a 6-byte match 3 back ("abcabc"), then literal "!".
        let stream = [2, b'a', b'b', b'c', 4 << 5, 2, 0, b'!'];
        assert_eq!(decompress(&stream, 10).as_deref(), Ok(&b"abcabcabc!"[..]));
    }

    #[test]
    fn bad_streams_are_errors() {
        assert_eq!(decompress(&[5, b'a'], 6), Err(LzfError::Truncated));
        assert_eq!(
            decompress(&[0, b'a', 1 << 5, 5], 4),
            Err(LzfError::BadReference)
        );
        assert_eq!(decompress(&[0, b'a'], 2), Err(LzfError::WrongLength));
        assert_eq!(decompress(&[1, b'a', b'b'], 1), Err(LzfError::WrongLength));
        assert_eq!(
            decompress(&[0, b'a', 7 << 5], 100),
            Err(LzfError::Truncated)
        );
        assert_eq!(
            decompress(&[0, b'a'], usize::MAX),
            Err(LzfError::WrongLength)
        );
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(data in proptest::collection::vec(0u8..4, 0..3000)) {
            round_trip(&data);
        }

        #[test]
        fn any_stream_decodes_or_errs(stream in proptest::collection::vec(any::<u8>(), 0..200), len in 0usize..5000) {
            if let Ok(out) = decompress(&stream, len) {
                prop_assert_eq!(out.len(), len);
            }
        }
    }
}
