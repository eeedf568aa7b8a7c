//! Slot sets: one bit per hash slot (2 KiB), as a node claims its slots in every heartbeat, and
//! the `start-end` range text used by CLUSTER NODES and nodes.conf.

use crate::routing::SLOT_COUNT;
use std::cell::OnceCell;
use std::fmt;

/// Bytes of a slot bitmap.
pub const SLOT_BYTES: usize = SLOT_COUNT / 8;

/// A set of hash slots (with its size kept, so emptiness and counts are O(1), and its ranges
/// cached, as every heartbeat sends them).
#[derive(Clone)]
pub struct SlotSet {
    bits: Box<[u8; SLOT_BYTES]>,
    count: usize,
    ranges: OnceCell<Vec<(u16, u16)>>,
}

impl Default for SlotSet {
    fn default() -> Self {
        SlotSet {
            bits: Box::new([0; SLOT_BYTES]),
            count: 0,
            ranges: OnceCell::new(),
        }
    }
}

impl PartialEq for SlotSet {
    fn eq(&self, other: &SlotSet) -> bool {
        self.count == other.count && self.bits == other.bits
    }
}

impl Eq for SlotSet {}

impl fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlotSet({})", self.ranges_text())
    }
}

impl SlotSet {
    /// The set of slots in a bitmap of [`SLOT_BYTES`] bytes (bit `s % 8` of byte `s / 8`).
    pub fn from_bytes(bytes: &[u8; SLOT_BYTES]) -> SlotSet {
        SlotSet {
            bits: Box::new(*bytes),
            ranges: OnceCell::new(),
            count: bytes
                .chunks_exact(8)
                .map(|c| <[u8; 8]>::try_from(c).map_or(0, |w| u64::from_ne_bytes(w).count_ones()))
                .sum::<u32>() as usize,
        }
    }

    /// The bitmap.
    pub fn as_bytes(&self) -> &[u8; SLOT_BYTES] {
        &self.bits
    }

    /// Whether the two sets share a slot.
    pub fn intersects(&self, other: &SlotSet) -> bool {
        self.bits
            .iter()
            .zip(other.bits.iter())
            .any(|(a, b)| a & b != 0)
    }

    /// Adds every slot of `other`.
    pub fn union_with(&mut self, other: &SlotSet) {
        for (a, b) in self.bits.iter_mut().zip(other.bits.iter()) {
            *a |= b;
        }
        self.count = self.bits.iter().map(|b| b.count_ones() as usize).sum();
        self.ranges.take();
    }

    /// Whether `slot` is in the set (slots out of range never are).
    pub fn contains(&self, slot: u16) -> bool {
        let slot = usize::from(slot);
        self.bits
            .get(slot / 8)
            .is_some_and(|b| b & (1 << (slot % 8)) != 0)
    }

    /// Adds `slot` (ignored when out of range).
    pub fn insert(&mut self, slot: u16) {
        let slot = usize::from(slot);
        if let Some(b) = self.bits.get_mut(slot / 8) {
            let bit = 1 << (slot % 8);
            if *b & bit == 0 {
                *b |= bit;
                self.count += 1;
                self.ranges.take();
            }
        }
    }

    /// Removes `slot`.
    pub fn remove(&mut self, slot: u16) {
        let slot = usize::from(slot);
        if let Some(b) = self.bits.get_mut(slot / 8) {
            let bit = 1 << (slot % 8);
            if *b & bit != 0 {
                *b &= !bit;
                self.count -= 1;
                self.ranges.take();
            }
        }
    }

    /// Number of slots in the set.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The slots in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0)
            .flat_map(|(i, &b)| {
                (0..8u16)
                    .filter(move |bit| b & (1 << bit) != 0)
                    .map(move |bit| i as u16 * 8 + bit)
            })
    }

    /// Maximal runs of consecutive slots, as inclusive `(start, end)` pairs.
    pub fn ranges(&self) -> &[(u16, u16)] {
        self.ranges.get_or_init(|| self.compute_ranges())
    }

    fn compute_ranges(&self) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        let mut start: Option<u16> = None;
        for (w, word) in self.bits.chunks_exact(8).enumerate() {
            let word = <[u8; 8]>::try_from(word).map_or(0, u64::from_le_bytes);
            let uniform = if start.is_some() { u64::MAX } else { 0 };
            if word == uniform {
                continue;
            }
            for bit in 0..64u16 {
                let slot = w as u16 * 64 + bit;
                match (word & (1 << bit) != 0, start) {
                    (true, None) => start = Some(slot),
                    (false, Some(s)) => {
                        out.push((s, slot - 1));
                        start = None;
                    }
                    _ => {}
                }
            }
        }
        if let Some(s) = start {
            out.push((s, SLOT_COUNT as u16 - 1));
        }
        out
    }

    /// The set of the slots in inclusive ranges (slots beyond 16383 are ignored).
    pub fn from_ranges(ranges: &[(u16, u16)]) -> SlotSet {
        let mut set = SlotSet::default();
        for &(start, end) in ranges {
            let end = end.min(SLOT_COUNT as u16 - 1);
            let mut slot = start;
            while slot <= end {
                let byte = usize::from(slot / 8);
                if slot % 8 == 0 && end - slot >= 7 {
                    let full = usize::from((end - slot + 1) / 8);
                    if let Some(bytes) = set.bits.get_mut(byte..byte + full) {
                        let had: usize = bytes.iter().map(|b| b.count_ones() as usize).sum();
                        set.count += 8 * full - had;
                        bytes.fill(0xff);
                        set.ranges.take();
                    }
                    slot += 8 * full as u16;
                } else {
                    set.insert(slot);
                    slot += 1;
                }
                if slot == 0 {
                    break;
                }
            }
        }
        set
    }

    /// The ranges as CLUSTER NODES writes them: `0-5460 5462`.
    pub fn ranges_text(&self) -> String {
        let parts: Vec<String> = self.ranges().iter().map(|&r| range_text(r)).collect();
        parts.join(" ")
    }
}

/// `a-b`, or `a` when the range holds one slot.
pub fn range_text((start, end): (u16, u16)) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}-{end}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_counts() {
        let mut set = SlotSet::default();
        for s in [0, 1, 2, 5, 16383] {
            set.insert(s);
        }
        set.insert(20000);
        assert_eq!(set.len(), 5);
        assert_eq!(set.ranges_text(), "0-2 5 16383");
        set.remove(1);
        assert!(!set.contains(1));
        assert_eq!(set.ranges(), vec![(0, 0), (2, 2), (5, 5), (16383, 16383)]);
        assert_eq!(SlotSet::from_bytes(set.as_bytes()), set);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 2, 5, 16383]);
    }

    #[test]
    fn ranges_across_full_bytes() {
        let mut set = SlotSet::default();
        (3..=5000).chain(10000..16384).for_each(|s| set.insert(s));
        assert_eq!(set.ranges(), vec![(3, 5000), (10000, 16383)]);
        assert_eq!(SlotSet::from_ranges(set.ranges()), set);
        let overlapping = SlotSet::from_ranges(&[(0, 100), (50, 200), (16380, 20000)]);
        assert_eq!(overlapping.ranges(), vec![(0, 200), (16380, 16383)]);
        assert_eq!(overlapping.len(), 205);
        assert_eq!(set.len(), 4998 + 6384);
        (0..16384).for_each(|s| set.remove(s));
        assert!(set.is_empty());
        assert_eq!(set.ranges(), &[]);
    }
}
