//! Intsets: sorted distinct integers of one width, how Redis stores small integer sets.
//!
//! Layout: element width in bytes (u32 LE: 2, 4 or 8), count (u32 LE), the elements (LE,
//! ascending). The parser requires the exact size and strictly ascending elements; the
//! writer picks the narrowest width that holds every element, as Redis does.

const HEADER_LEN: usize = 8;

/// Parses an intset blob.
pub(crate) fn parse(blob: &[u8]) -> Result<Vec<i64>, &'static str> {
    let header = blob
        .get(..HEADER_LEN)
        .ok_or("intset shorter than its header")?;
    let width = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let count = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset with an unknown width");
    }
    let width = width as usize;
    let body = &blob[HEADER_LEN..];
    if usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(width))
        != Some(body.len())
    {
        return Err("intset size differs from its count");
    }
    let values: Vec<i64> = body
        .chunks_exact(width)
        .map(|chunk| {
            let mut raw = [0u8; 8];
            raw[..width].copy_from_slice(chunk);
            let shift = 64 - 8 * width as u32;
            i64::from_le_bytes(raw) << shift >> shift
        })
        .collect();
    if values.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err("intset not strictly ascending");
    }
    Ok(values)
}

/// Writes the intset of `values` (sorted ascending, distinct) to `out`.
pub(crate) fn write(values: &[i64], out: &mut Vec<u8>) {
    let width: usize = if values.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if values.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    out.reserve(HEADER_LEN + values.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for value in values {
        out.extend_from_slice(&value.to_le_bytes()[..width]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[i64], width: u8) {
        let mut blob = Vec::new();
        write(values, &mut blob);
        assert_eq!(blob[0], width);
        assert_eq!(parse(&blob).as_deref(), Ok(values));
    }

    #[test]
    fn every_width_round_trips() {
        round_trip(&[-5, 0, 7, 32767], 2);
        round_trip(&[-40_000, 1], 4);
        round_trip(&[i64::MIN, 0, i64::MAX], 8);
        round_trip(&[], 2);
    }

    #[test]
    fn damaged_intsets_are_errors() {
        let mut blob = Vec::new();
        write(&[1, 2, 3], &mut blob);
        for len in 0..blob.len() {
            assert!(parse(&blob[..len]).is_err(), "prefix of {len}");
        }
        let mut unsorted = blob.clone();
        unsorted[8] = 9;
        assert!(parse(&unsorted).is_err());
        let mut bad_width = blob.clone();
        bad_width[0] = 3;
        assert!(parse(&bad_width).is_err());
        let mut huge_count = blob;
        huge_count[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&huge_count).is_err());
    }
}
