//! Memory estimates per key (MEMORY USAGE, and what an eviction expects to release): the
//! table slot, the key's bytes and the value's heap, each rounded up to the allocator's size
//! class. Collections are estimated from a sample of their elements, as Redis does, so the
//! cost stays bounded whatever their size.

use crate::keyspace::{Entry, STORED_ENTRY_BYTES};
use crate::small_bytes::{heap_len, SmallBytes};
use crate::value::{StrValue, Value};

/// Elements sampled by default (MEMORY USAGE without SAMPLES).
pub const DEFAULT_SAMPLES: usize = 5;

/// Bookkeeping per element of a compact (listpack or intset) encoding: its length header and
/// back-length.
const COMPACT_ELEMENT_OVERHEAD: u64 = 2;
/// Bookkeeping per element of a table or tree encoding: a table slot with its pointers.
const TABLE_ELEMENT_OVERHEAD: u64 = 40;
/// Bytes per member of a hashtable-encoded set: its inline slot (see [`SmallBytes`]) and
/// control byte, at the table's highest load (7/8).
const SET_TABLE_SLOT_BYTES: u64 = (std::mem::size_of::<SmallBytes>() as u64 + 1) * 8 / 7;

/// Bytes an allocation of `size` bytes takes: rounded up to the size classes jemalloc uses
/// (8, 16, 32, 48, ... 128, then four classes per doubling).
pub fn allocation_bytes(size: u64) -> u64 {
    match size {
        0 => 0,
        1..=8 => 8,
        9..=128 => size.div_ceil(16) * 16,
        _ => {
            let spacing = 1u64 << (63 - (size - 1).leading_zeros() - 2);
            size.div_ceil(spacing) * spacing
        }
    }
}

/// Estimated bytes `key` and its entry take, sampling at most `samples` elements of a
/// collection (0 means all of them).
pub fn entry_bytes(key: &[u8], entry: &Entry, samples: usize) -> u64 {
    STORED_ENTRY_BYTES + small_bytes_heap(key.len()) + value_heap_bytes(&entry.value, samples)
}

/// Heap bytes of a string of `len` bytes kept as [`SmallBytes`] (keys, members of a table
/// set): none up to 22 bytes, which sit inline in their slot.
fn small_bytes_heap(len: usize) -> u64 {
    allocation_bytes(heap_len(len) as u64)
}

/// Estimated heap bytes of a value beyond its inline part.
pub fn value_heap_bytes(value: &Value, samples: usize) -> u64 {
    let compact = matches!(value.encoding(), "listpack" | "intset");
    let per_element = if compact {
        COMPACT_ELEMENT_OVERHEAD
    } else {
        TABLE_ELEMENT_OVERHEAD
    };
    match value {
        Value::Str(s) => string_heap_bytes(s),
        Value::Hash(h) => {
            let sizes = h.iter().map(|(f, v)| f.len() + v.len());
            sampled_total(h.len(), sizes, samples, per_element * 2)
        }
        Value::List(l) => sampled_total(l.len(), l.iter().map(<[u8]>::len), samples, per_element),
        Value::Set(s) if compact => {
            let sizes = s.iter().map(|m| m.text_len());
            sampled_total(s.len(), sizes, samples, per_element)
        }
        Value::Set(s) => {
            let sizes = s.iter().map(|m| small_bytes_heap(m.text_len()) as usize);
            sampled_total(s.len(), sizes, samples, SET_TABLE_SLOT_BYTES)
        }
        Value::SortedSet(z) => {
            // A member and its score (8 bytes).
            let sizes = z.iter().map(|(m, _)| m.len() + 8);
            sampled_total(z.len(), sizes, samples, per_element)
        }
    }
}

fn string_heap_bytes(value: &StrValue) -> u64 {
    match value {
        StrValue::Int(_) => 0,
        _ => allocation_bytes(value.len() as u64),
    }
}

/// `len` elements estimated from the first `samples` sizes the iterator gives.
fn sampled_total(
    len: usize,
    sizes: impl Iterator<Item = usize>,
    samples: usize,
    per_element: u64,
) -> u64 {
    if len == 0 {
        return 0;
    }
    let limit = if samples == 0 { len } else { samples.min(len) };
    let (count, bytes) = sizes
        .take(limit)
        .fold((0u64, 0u64), |(n, b), size| (n + 1, b + size as u64));
    let mean = bytes.checked_div(count).unwrap_or(0);
    len as u64 * (mean + per_element)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::encodings::{Encodings, ListPackLimit};
    use crate::types::list::{End, ListValue};
    use crate::types::set::SetValue;

    #[test]
    fn allocations_round_up_to_size_classes() {
        let cases = [
            (0, 0),
            (1, 8),
            (9, 16),
            (17, 32),
            (100, 112),
            (129, 160),
            (200, 224),
        ];
        for (size, rounded) in cases {
            assert_eq!(allocation_bytes(size), rounded, "size {size}");
        }
        assert_eq!(allocation_bytes(1 << 20), 1 << 20);
        assert_eq!(allocation_bytes((1 << 20) + 1), (1 << 20) + (1 << 18));
    }

    #[test]
    fn estimates_grow_with_the_value_and_sampling_bounds_the_work() {
        let small = Entry::new(Value::Str(StrValue::from_bytes(b"v")));
        let large = Entry::new(Value::Str(StrValue::from_bytes(&[b'x'; 1000])));
        assert!(entry_bytes(b"k", &large, 5) >= entry_bytes(b"k", &small, 5) + 1000);
        let mut list = ListValue::new();
        for _ in 0..1000 {
            list.push(End::Right, &[b'e'; 100], ListPackLimit::default());
        }
        let bytes = value_heap_bytes(&Value::List(list), 5);
        assert!((100_000..200_000).contains(&bytes), "{bytes}");
    }

    #[test]
    fn table_sets_count_short_members_in_their_slot_and_long_ones_on_the_heap() {
        let set_of = |member_len: usize| {
            let mut set = SetValue::default();
            for i in 0..1000u32 {
                let mut member = format!("m{i:05}").into_bytes();
                member.resize(member_len, b'x');
                set.insert(&member, &Encodings::default());
            }
            assert_eq!(Value::Set(set.clone()).encoding(), "hashtable");
            value_heap_bytes(&Value::Set(set), 0)
        };
        assert_eq!(set_of(10), 1000 * SET_TABLE_SLOT_BYTES);
        assert_eq!(set_of(100), 1000 * (SET_TABLE_SLOT_BYTES + 112));
        // Keys up to 22 bytes are inline in the stored entry too.
        let entry = Entry::new(Value::Str(StrValue::from_bytes(b"v")));
        assert_eq!(
            entry_bytes(&[b'k'; 22], &entry, 0),
            entry_bytes(b"k", &entry, 0)
        );
        assert!(entry_bytes(&[b'k'; 23], &entry, 0) > entry_bytes(b"k", &entry, 0));
    }
}
