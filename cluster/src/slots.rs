//! Slot sets: one bit per hash slot (2 KiB), as a node claims its slots in every heartbeat, and
//! the `start-end` range text used by CLUSTER NODES and nodes.conf.

use crate::routing::SLOT_COUNT;
use std::fmt;

/// Bytes of a slot bitmap.
pub const SLOT_BYTES: usize = SLOT_COUNT / 8;

/// A set of hash slots.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotSet(Box<[u8; SLOT_BYTES]>);

impl Default for SlotSet {
    fn default() -> Self {
        SlotSet(Box::new([0; SLOT_BYTES]))
    }
}

impl fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlotSet({})", self.ranges_text())
    }
}

impl SlotSet {
    /// The set of slots in a bitmap of [`SLOT_BYTES`] bytes (bit `s % 8` of byte `s / 8`).
    pub fn from_bytes(bytes: &[u8; SLOT_BYTES]) -> SlotSet {
        SlotSet(Box::new(*bytes))
    }

    /// The bitmap.
    pub fn as_bytes(&self) -> &[u8; SLOT_BYTES] {
        &self.0
    }

    /// Whether `slot` is in the set (slots out of range never are).
    pub fn contains(&self, slot: u16) -> bool {
        let slot = usize::from(slot);
        self.0
            .get(slot / 8)
            .is_some_and(|b| b & (1 << (slot % 8)) != 0)
    }

    /// Adds `slot` (ignored when out of range).
    pub fn insert(&mut self, slot: u16) {
        let slot = usize::from(slot);
        if let Some(b) = self.0.get_mut(slot / 8) {
            *b |= 1 << (slot % 8);
        }
    }

    /// Removes `slot`.
    pub fn remove(&mut self, slot: u16) {
        let slot = usize::from(slot);
        if let Some(b) = self.0.get_mut(slot / 8) {
            *b &= !(1 << (slot % 8));
        }
    }

    /// Number of slots in the set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// The slots in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..SLOT_COUNT as u16).filter(|&s| self.contains(s))
    }

    /// Maximal runs of consecutive slots, as inclusive `(start, end)` pairs.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        ranges_of(self.iter())
    }

    /// The ranges as CLUSTER NODES writes them: `0-5460 5462`.
    pub fn ranges_text(&self) -> String {
        let parts: Vec<String> = self.ranges().iter().map(|&r| range_text(r)).collect();
        parts.join(" ")
    }
}

/// Runs of consecutive values in an ascending sequence.
pub fn ranges_of(slots: impl Iterator<Item = u16>) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for s in slots {
        match out.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(s) => *end = s,
            _ => out.push((s, s)),
        }
    }
    out
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
    }
}
