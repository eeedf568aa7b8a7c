//! Short byte strings kept inline: keys in the slot tables and members of hashtable-encoded
//! sets. A string of up to 22 bytes sits in the 24 bytes a boxed slice would take anyway, so
//! it costs no allocation of its own, and a lookup compares it where the table keeps it
//! instead of following a pointer to another cache line.

/// Longest string kept inline: with the length byte and the tag it fills 24 bytes.
const INLINE_MAX: usize = 22;

/// A byte string, inline when short.
#[derive(Debug, Clone)]
pub(crate) enum SmallBytes {
    Inline { len: u8, bytes: [u8; INLINE_MAX] },
    Heap(Box<[u8]>),
}

impl SmallBytes {
    pub(crate) fn new(text: &[u8]) -> SmallBytes {
        if text.len() > INLINE_MAX {
            return SmallBytes::Heap(Box::from(text));
        }
        let mut bytes = [0; INLINE_MAX];
        bytes[..text.len()].copy_from_slice(text);
        SmallBytes::Inline {
            len: text.len() as u8,
            bytes,
        }
    }
}

/// Heap bytes a string of `len` bytes takes as [`SmallBytes`]: none when inline.
pub(crate) fn heap_len(len: usize) -> usize {
    if len > INLINE_MAX {
        len
    } else {
        0
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            SmallBytes::Heap(bytes) => bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_stay_inline_and_all_read_back() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        for len in [0, 1, 21, 22, 23, 100] {
            let text: Vec<u8> = (0..len as u8).collect();
            let small = SmallBytes::new(&text);
            assert_eq!(&*small, &text[..]);
            assert_eq!(
                matches!(small, SmallBytes::Inline { .. }),
                len <= INLINE_MAX
            );
            assert_eq!(&*small.clone(), &text[..]);
            assert_eq!(heap_len(len), if len <= INLINE_MAX { 0 } else { len });
        }
    }
}
