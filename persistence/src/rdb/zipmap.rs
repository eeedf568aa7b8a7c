//! Zipmaps: the packed small hashes of Redis 2.x (type HASH_ZIPMAP), read only.
//!
//! Layout: a count byte (254 when unknown), then per pair: key length, key, value length, a
//! "free" byte, value, that many unused bytes; then 0xFF. A length is one byte below 254, or
//! 254 and a u32 LE. Bounds, the count and the terminator are all checked.

const END: u8 = 0xFF;
const LEN_LONG: u8 = 254;
const COUNT_UNKNOWN: u8 = 254;

/// A field and its value, borrowed from the blob.
pub(crate) type Pair<'a> = (&'a [u8], &'a [u8]);

/// Parses a zipmap blob into its pairs.
pub(crate) fn parse(blob: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    let (&count, _) = blob.split_first().ok_or("zipmap empty")?;
    let mut pairs = Vec::with_capacity(usize::from(count).min(blob.len() / 3));
    let mut pos = 1;
    loop {
        match blob.get(pos) {
            None => return Err("zipmap without terminator"),
            Some(&END) => break,
            Some(_) => {}
        }
        let (field, after_field) = string_at(blob, pos)?;
        let (value, after_value) = string_at_with_free(blob, after_field)?;
        pairs.push((field, value));
        pos = after_value;
    }
    if pos + 1 != blob.len() {
        return Err("zipmap data after the terminator");
    }
    if count < COUNT_UNKNOWN && usize::from(count) != pairs.len() {
        return Err("zipmap count differs from its pairs");
    }
    Ok(pairs)
}

/// The length at `pos` and the offset after it.
fn length_at(blob: &[u8], pos: usize) -> Result<(usize, usize), &'static str> {
    match blob.get(pos).copied().ok_or("zipmap truncated")? {
        LEN_LONG => {
            let raw = blob.get(pos + 1..pos + 5).ok_or("zipmap truncated")?;
            let len = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
            Ok((
                usize::try_from(len).map_err(|_| "zipmap length too large")?,
                pos + 5,
            ))
        }
        END => Err("zipmap terminator inside a pair"),
        short => Ok((usize::from(short), pos + 1)),
    }
}

/// The string at `pos` and the offset after it.
fn string_at(blob: &[u8], pos: usize) -> Result<(&[u8], usize), &'static str> {
    let (len, start) = length_at(blob, pos)?;
    let end = start.checked_add(len).ok_or("zipmap length too large")?;
    Ok((blob.get(start..end).ok_or("zipmap truncated")?, end))
}

/// A value: its length, the free byte, the bytes, then the free space.
fn string_at_with_free(blob: &[u8], pos: usize) -> Result<(&[u8], usize), &'static str> {
    let (len, free_at) = length_at(blob, pos)?;
    let free = usize::from(*blob.get(free_at).ok_or("zipmap truncated")?);
    let start = free_at + 1;
    let end = start.checked_add(len).ok_or("zipmap length too large")?;
    let value = blob.get(start..end).ok_or("zipmap truncated")?;
    let after = end + free;
    if after > blob.len() {
        return Err("zipmap free space past the end");
    }
    Ok((value, after))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a zipmap as Redis 2.x laid one out (tests only).
    pub(crate) fn build(pairs: &[Pair<'_>], free: u8) -> Vec<u8> {
        let mut blob = vec![pairs.len().min(254) as u8];
        let push_len = |blob: &mut Vec<u8>, len: usize| {
            if len < 254 {
                blob.push(len as u8);
            } else {
                blob.push(LEN_LONG);
                blob.extend_from_slice(&(len as u32).to_le_bytes());
            }
        };
        for (field, value) in pairs {
            push_len(&mut blob, field.len());
            blob.extend_from_slice(field);
            push_len(&mut blob, value.len());
            blob.push(free);
            blob.extend_from_slice(value);
            blob.extend(std::iter::repeat_n(0, usize::from(free)));
        }
        blob.push(END);
        blob
    }

    #[test]
    fn pairs_round_trip() {
        let long = vec![b'v'; 400];
        let pairs: Vec<Pair> = vec![(b"a", b"1"), (b"", b""), (b"long", &long)];
        assert_eq!(parse(&build(&pairs, 0)), Ok(pairs.clone()));
        assert_eq!(parse(&build(&pairs, 3)), Ok(pairs));
    }

    #[test]
    fn damaged_zipmaps_are_errors() {
        let blob = build(&[(b"field", b"value"), (b"x", b"y")], 2);
        for len in 0..blob.len() {
            assert!(parse(&blob[..len]).is_err(), "prefix of {len}");
        }
        let mut bad_count = blob;
        bad_count[0] = 5;
        assert!(parse(&bad_count).is_err());
    }
}
