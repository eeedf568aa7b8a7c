//! The `list` value type: a sequence of binary strings with O(1) pushes and pops at both ends.
//!
//! Two representations, named as Redis 7.2 names them in OBJECT ENCODING:
//! - **listpack** (small lists): one `Pack`, a single buffer of packed entries. A list of a
//!   few short strings costs one allocation and about two bytes per element beyond its data.
//! - **quicklist** (large lists): a `VecDeque` of packs ("nodes") within the
//!   `list-max-listpack-size` limit ([`ListPackLimit`]: 8 KiB each by default). Pushes and
//!   pops touch only the first or last node, and a pack keeps spare room at both ends, so
//!   they cost O(1) amortized and move no entry; an index walks the node counts from
//!   the nearer end and then one node, so LINDEX and LSET are O(n / node) + O(node), never
//!   worse than O(n). Per element the overhead stays about two bytes, plus one `Pack` header
//!   per node, where a `VecDeque<Box<[u8]>>` would spend 16 bytes of pointer and an
//!   allocation (16 to 32 bytes more) on every element.
//!
//! A list converts to a quicklist when a write would take its pack beyond the limit in force
//! and back to a listpack when removals leave one node at most half full (as Redis 7.2, so that
//! a list hovering near the limit does not convert back and forth). A quicklist keeps the limit
//! it was created with for its nodes, as Redis's quicklist keeps its fill.
//!
//! An entry is `length (LEB128) | bytes | length (LEB128, bytes reversed)`: the trailing copy
//! lets a pack be walked from its end as cheaply as from its start (RPOP, negative indexes,
//! LPOS with a negative rank), as Redis's listpack does with its back-length field.

use std::collections::VecDeque;
use std::iter::{Chain, Flatten, Map};
use std::ops::Range;

use bytes::Bytes;

use crate::types::encodings::ListPackLimit;

/// Most spare room a growing pack reserves.
const SPARE_BYTES_MAX: usize = 8 * 1024;

/// Largest growth made on a pack's front side: its front room, with the spare added, stays
/// within the 32 bits [`Pack`] counts it in.
const FRONT_GROW_MAX: usize = u32::MAX as usize - SPARE_BYTES_MAX;

/// Bytes Redis counts for a listpack's header and terminator; counted here too, so that lists
/// convert at about the sizes at which Redis converts them.
const PACK_OVERHEAD_BYTES: usize = 7;

/// A growing pack reserves this fraction (1/8) of its size as spare room: pushes stay amortized
/// O(1) while at most an eighth of a pack's allocation is unused.
const GROWTH_DIVISOR: usize = 8;

/// Smallest spare room a growing pack reserves, so a young list does not reallocate per push.
const GROWTH_MIN_BYTES: usize = 16;

/// One end of a list: `Left` is the head (index 0), `Right` the tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// The keyword naming this end in commands (`LEFT` or `RIGHT`).
    pub fn keyword(self) -> &'static str {
        match self {
            End::Left => "LEFT",
            End::Right => "RIGHT",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Entry encoding

/// Bytes of `n` in LEB128.
fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - (n | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Bytes of the entry holding an element of `element_len` bytes.
fn entry_len(element_len: usize) -> usize {
    2 * varint_len(element_len) + element_len
}

/// Writes `value` in LEB128 into `out`, which is exactly [`varint_len`] bytes long.
fn write_varint(out: &mut [u8], mut value: usize) {
    let last = out.len().saturating_sub(1);
    for (i, byte) in out.iter_mut().enumerate() {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        *byte = if i < last { low | 0x80 } else { low };
    }
}

/// Writes the entry of `element` into `out`, which is exactly [`entry_len`] bytes long.
fn write_entry(out: &mut [u8], element: &[u8]) {
    let header_len = varint_len(element.len());
    let (header, rest) = out.split_at_mut(header_len);
    let (data, trailer) = rest.split_at_mut(element.len());
    write_varint(header, element.len());
    data.copy_from_slice(element);
    write_varint(trailer, element.len());
    trailer.reverse();
}

/// The element length stored by the header at `start`, and the header's size.
fn read_header(bytes: &[u8], start: usize) -> (usize, usize) {
    read_varint(bytes[start..].iter())
}

/// The element length stored by the trailer that ends at `end`, and the trailer's size.
fn read_trailer(bytes: &[u8], end: usize) -> (usize, usize) {
    read_varint(bytes[..end].iter().rev())
}

/// A LEB128 number read from `bytes` (in reading order), and how many bytes it took.
fn read_varint<'a>(bytes: impl Iterator<Item = &'a u8>) -> (usize, usize) {
    let mut value = 0usize;
    let mut used = 0;
    for &byte in bytes.take(varint_len(usize::MAX)) {
        value |= usize::from(byte & 0x7f) << (7 * used);
        used += 1;
        if byte & 0x80 == 0 {
            break;
        }
    }
    (value, used)
}

/// The entry starting at byte `start`: its byte range and its element.
fn entry_at(bytes: &[u8], start: usize) -> (Range<usize>, &[u8]) {
    let (len, varint) = read_header(bytes, start);
    let data = start + varint;
    (start..data + len + varint, &bytes[data..data + len])
}

/// The entry ending at byte `end`: its byte range and its element.
fn entry_before(bytes: &[u8], end: usize) -> (Range<usize>, &[u8]) {
    let (len, varint) = read_trailer(bytes, end);
    let data_end = end - varint;
    let data = data_end - len;
    (data - varint..end, &bytes[data..data_end])
}

// ---------------------------------------------------------------------------------------------
// Pack: one buffer of entries (a listpack, or one quicklist node)

/// Packed entries in one buffer: `bytes[head..]`. The `head` bytes before them are spare room
/// for the front, as the capacity past the end is for the back: an edit moves only the bytes
/// between it and the nearer end, so pushes and pops at either end (LPUSH, LPOP, RPUSH, RPOP)
/// move no entry.
#[derive(Debug, Clone, Default)]
struct Pack {
    bytes: Vec<u8>,
    /// Spare bytes before the first entry; 32 bits keep a list value at 32 bytes (an edit
    /// whose front room would not fit moves the back side instead).
    head: u32,
    /// Number of entries (a pack holds at most 8 KiB of two-byte-or-larger entries, or one).
    count: u32,
}

impl Pack {
    fn len(&self) -> usize {
        self.count as usize
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entries' bytes.
    fn data(&self) -> &[u8] {
        &self.bytes[self.head()..]
    }

    fn data_len(&self) -> usize {
        self.bytes.len() - self.head()
    }

    fn head(&self) -> usize {
        self.head as usize
    }

    /// Sets the front room; callers check that it fits (see [`Pack::head`]).
    fn set_head(&mut self, head: usize) {
        debug_assert!(u32::try_from(head).is_ok(), "front room past 32 bits");
        self.head = head as u32;
    }

    /// Size as the conversion thresholds count it (with `PACK_OVERHEAD_BYTES`, as Redis
    /// counts its listpack header).
    fn size(&self) -> usize {
        self.data_len() + PACK_OVERHEAD_BYTES
    }

    /// Whether `extra_bytes` more bytes in `extra_entries` more entries keep the pack within
    /// `limit`.
    fn fits(&self, extra_bytes: usize, extra_entries: usize, limit: ListPackLimit) -> bool {
        limit.fits(
            self.size().saturating_add(extra_bytes),
            self.len().saturating_add(extra_entries),
        )
    }

    fn iter(&self) -> PackIter<'_> {
        PackIter {
            bytes: self.data(),
            front: 0,
            back: self.data_len(),
            remaining: self.len(),
        }
    }

    /// Entries from index `index` on.
    fn iter_from(&self, index: usize) -> PackIter<'_> {
        PackIter {
            bytes: self.data(),
            front: self.offset_of(index),
            back: self.data_len(),
            remaining: self.len().saturating_sub(index),
        }
    }

    /// Byte offset in [`Pack::data`] where entry `index` starts (`index >= len` gives the
    /// end), walking from the nearer end.
    fn offset_of(&self, index: usize) -> usize {
        let data = self.data();
        if index >= self.len() {
            return data.len();
        }
        if index <= self.len() / 2 {
            (0..index).fold(0, |start, _| entry_at(data, start).0.end)
        } else {
            let from_end = self.len() - index;
            (0..from_end).fold(data.len(), |end, _| entry_before(data, end).0.start)
        }
    }

    fn get(&self, index: usize) -> &[u8] {
        entry_at(self.data(), self.offset_of(index)).1
    }

    /// Spare room a growing pack reserves at the end it grows (see [`GROWTH_DIVISOR`]).
    fn growth_spare(&self) -> usize {
        (self.data_len() / GROWTH_DIVISOR).clamp(GROWTH_MIN_BYTES, SPARE_BYTES_MAX)
    }

    /// Makes room for `additional` bytes at the back.
    fn reserve(&mut self, additional: usize) {
        if self.bytes.capacity() - self.bytes.len() < additional {
            let spare = self.growth_spare();
            self.bytes.reserve_exact(additional.saturating_add(spare));
        }
    }

    /// Makes room for `additional` bytes at the front, moving the entries once.
    fn reserve_front(&mut self, additional: usize) {
        if self.head() >= additional {
            return;
        }
        let head = additional + self.growth_spare();
        let back_spare = self.bytes.capacity() - self.bytes.len();
        let mut bytes = Vec::with_capacity(head + self.data_len() + back_spare);
        bytes.resize(head, 0);
        bytes.extend_from_slice(self.data());
        self.bytes = bytes;
        self.set_head(head);
    }

    /// Gives back memory once most of the allocation is unused.
    fn release_spare(&mut self) {
        let len = self.data_len();
        if len < self.bytes.capacity() / 4 {
            self.bytes.drain(..self.head());
            self.head = 0;
            self.bytes.shrink_to(len + len / GROWTH_DIVISOR);
        }
    }

    /// Replaces the bytes of `region` (in [`Pack::data`]) by `new_len` bytes (left for the
    /// caller to fill) and returns their range, moving the bytes on the shorter side.
    fn resize_region(&mut self, region: Range<usize>, new_len: usize) -> Range<usize> {
        let old_len = region.len();
        let front_side = region.start < self.data_len() - region.end;
        if new_len > old_len {
            let grow = new_len - old_len;
            if front_side && grow <= FRONT_GROW_MAX {
                self.reserve_front(grow);
                let start = self.head();
                self.bytes
                    .copy_within(start..start + region.start, start - grow);
                self.set_head(start - grow);
            } else {
                self.reserve(grow);
                let total = self.bytes.len();
                let end = self.head() + region.end;
                self.bytes.resize(total + grow, 0);
                self.bytes.copy_within(end..total, end + grow);
            }
        } else if new_len < old_len {
            let shrink = old_len - new_len;
            let start = self.head();
            if front_side && u32::try_from(start + shrink).is_ok() {
                self.bytes
                    .copy_within(start..start + region.start, start + shrink);
                self.set_head(start + shrink);
            } else {
                let total = self.bytes.len();
                let end = start + region.end;
                self.bytes.copy_within(end..total, end - shrink);
                self.bytes.truncate(total - shrink);
            }
            self.release_spare();
        }
        region.start..region.start + new_len
    }

    /// The bytes of `region` (in [`Pack::data`]), to write an entry into.
    fn region_mut(&mut self, region: Range<usize>) -> &mut [u8] {
        let head = self.head();
        &mut self.bytes[head + region.start..head + region.end]
    }

    /// Inserts `element` before entry `index` (`index == len` appends).
    fn insert(&mut self, index: usize, element: &[u8]) {
        let at = self.offset_of(index);
        self.insert_at_offset(at, element);
    }

    fn insert_at_offset(&mut self, at: usize, element: &[u8]) {
        let region = self.resize_region(at..at, entry_len(element.len()));
        write_entry(self.region_mut(region), element);
        self.count += 1;
    }

    fn push_back(&mut self, element: &[u8]) {
        self.insert_at_offset(self.data_len(), element);
    }

    fn push_front(&mut self, element: &[u8]) {
        self.insert_at_offset(0, element);
    }

    /// Replaces element `index` by `element`.
    fn replace(&mut self, index: usize, element: &[u8]) {
        let (old, _) = entry_at(self.data(), self.offset_of(index));
        let region = self.resize_region(old, entry_len(element.len()));
        write_entry(self.region_mut(region), element);
    }

    /// Removes `n` entries from index `index` on.
    fn remove_range(&mut self, index: usize, n: usize) {
        let start = self.offset_of(index);
        let end = (0..n).fold(start, |pos, _| entry_at(self.data(), pos).0.end);
        self.resize_region(start..end, 0);
        self.count -= n as u32;
    }

    fn pop_front(&mut self) -> Option<Vec<u8>> {
        let (range, element) = self.iter().next()?;
        let element = element.to_vec();
        self.resize_region(range, 0);
        self.count -= 1;
        Some(element)
    }

    fn pop_back(&mut self) -> Option<Vec<u8>> {
        let (range, element) = self.iter().next_back()?;
        let element = element.to_vec();
        self.resize_region(range, 0);
        self.count -= 1;
        Some(element)
    }

    /// Splits off the entries from `index` on into a new pack.
    fn split_off(&mut self, index: usize) -> Pack {
        let at = self.head() + self.offset_of(index);
        let tail = Pack {
            bytes: self.bytes.split_off(at),
            head: 0,
            count: (self.len() - index) as u32,
        };
        self.count = index as u32;
        self.release_spare();
        tail
    }

    /// Appends every entry of `other`.
    fn append(&mut self, other: &Pack) {
        self.reserve(other.data_len());
        self.bytes.extend_from_slice(other.data());
        self.count += other.count;
    }

    /// Removes up to `limit` entries equal to `element`, scanning from `from`; returns how many.
    fn remove_matching(&mut self, element: &[u8], limit: usize, from: End) -> usize {
        let matching = |(range, e): (Range<usize>, &[u8])| (e == element).then_some(range);
        let mut doomed: Vec<Range<usize>> = match from {
            End::Left => self.iter().filter_map(matching).take(limit).collect(),
            End::Right => self.iter().rev().filter_map(matching).take(limit).collect(),
        };
        if doomed.is_empty() {
            return 0;
        }
        if from == End::Right {
            doomed.reverse();
        }
        self.compact_without(&doomed);
        self.count -= doomed.len() as u32;
        doomed.len()
    }

    /// Closes the gaps left by removing the ascending, disjoint byte ranges `doomed` (in
    /// [`Pack::data`]).
    fn compact_without(&mut self, doomed: &[Range<usize>]) {
        self.bytes.drain(..self.head());
        self.head = 0;
        let mut write = 0;
        let mut read = 0;
        for range in doomed {
            self.bytes.copy_within(read..range.start, write);
            write += range.start - read;
            read = range.end;
        }
        let total = self.bytes.len();
        self.bytes.copy_within(read..total, write);
        self.bytes.truncate(write + total - read);
        self.release_spare();
    }
}

/// The entries of a pack, from either end: each as its byte range and its element.
#[derive(Debug, Clone)]
struct PackIter<'a> {
    bytes: &'a [u8],
    /// Start of the next entry from the front.
    front: usize,
    /// End of the next entry from the back.
    back: usize,
    remaining: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (Range<usize>, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let (range, element) = entry_at(self.bytes, self.front);
        self.front = range.end;
        self.remaining -= 1;
        Some((range, element))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for PackIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let (range, element) = entry_before(self.bytes, self.back);
        self.back = range.start;
        self.remaining -= 1;
        Some((range, element))
    }
}

impl ExactSizeIterator for PackIter<'_> {}

// ---------------------------------------------------------------------------------------------
// Quicklist: a deque of packs

/// A large list: packs within `limit` (or of one element), none empty.
#[derive(Debug, Clone)]
struct Quicklist {
    nodes: VecDeque<Pack>,
    /// Elements in all nodes.
    len: usize,
    /// How large a node may grow (`list-max-listpack-size` when the quicklist was made).
    limit: ListPackLimit,
}

impl Quicklist {
    /// The node holding element `index` and the element's index in it, found from the nearer
    /// end; `None` past the end.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut rest = index;
            for (i, node) in self.nodes.iter().enumerate() {
                if rest < node.len() {
                    return Some((i, rest));
                }
                rest -= node.len();
            }
        } else {
            let mut rest = self.len - 1 - index;
            for (i, node) in self.nodes.iter().enumerate().rev() {
                if rest < node.len() {
                    return Some((i, node.len() - 1 - rest));
                }
                rest -= node.len();
            }
        }
        None
    }

    fn push(&mut self, end: End, element: &[u8]) {
        let needed = entry_len(element.len());
        let node = match end {
            End::Left => self.nodes.front_mut(),
            End::Right => self.nodes.back_mut(),
        };
        match (node, end) {
            (Some(node), End::Left) if node.fits(needed, 1, self.limit) => node.push_front(element),
            (Some(node), End::Right) if node.fits(needed, 1, self.limit) => node.push_back(element),
            _ => {
                let mut node = Pack::default();
                node.push_back(element);
                match end {
                    End::Left => self.nodes.push_front(node),
                    End::Right => self.nodes.push_back(node),
                }
            }
        }
        self.len += 1;
    }

    /// Pops from `end`, then merges the end node into its neighbour if both are small, so a
    /// draining list returns to one node (and then to a listpack).
    fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let last = self.nodes.len().checked_sub(1)?;
        let at = match end {
            End::Left => 0,
            End::Right => last,
        };
        let node = &mut self.nodes[at];
        let element = match end {
            End::Left => node.pop_front(),
            End::Right => node.pop_back(),
        }?;
        self.len -= 1;
        if node.is_empty() {
            self.nodes.remove(at);
        } else {
            self.merge_around(at);
        }
        Some(element)
    }

    /// Removes `n` (<= len) elements from the head.
    fn remove_front(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(node) = self.nodes.front_mut() else {
                return;
            };
            if node.len() <= n {
                n -= node.len();
                self.nodes.pop_front();
            } else {
                node.remove_range(0, n);
                n = 0;
            }
        }
        self.merge_around(0);
    }

    /// Removes `n` (<= len) elements from the tail.
    fn remove_back(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(node) = self.nodes.back_mut() else {
                return;
            };
            if node.len() <= n {
                n -= node.len();
                self.nodes.pop_back();
            } else {
                node.remove_range(node.len() - n, n);
                n = 0;
            }
        }
        self.merge_around(self.nodes.len().saturating_sub(1));
    }

    /// Inserts `element` before element `index` (<= len).
    fn insert(&mut self, index: usize, element: &[u8]) {
        let Some((node, inner)) = self.locate(index) else {
            self.push(End::Right, element);
            return;
        };
        self.nodes[node].insert(inner, element);
        self.len += 1;
        self.split_oversized(node);
    }

    fn replace(&mut self, index: usize, element: &[u8]) -> bool {
        let Some((node, inner)) = self.locate(index) else {
            return false;
        };
        self.nodes[node].replace(inner, element);
        self.split_oversized(node);
        self.merge_around(node);
        true
    }

    fn remove_matching(&mut self, element: &[u8], limit: usize, from: End) -> usize {
        let mut removed = 0;
        let count = self.nodes.len();
        let order = (0..count).map(|i| match from {
            End::Left => i,
            End::Right => count - 1 - i,
        });
        for i in order {
            if removed == limit {
                break;
            }
            removed += self.nodes[i].remove_matching(element, limit - removed, from);
        }
        if removed > 0 {
            self.len -= removed;
            self.nodes.retain(|node| !node.is_empty());
            self.merge_all();
        }
        removed
    }

    /// Re-packs node `i` into nodes within the limit if it outgrew it (an element inserted or
    /// replaced by a larger one). A node of one element may exceed the limit.
    fn split_oversized(&mut self, i: usize) {
        let oversized = self
            .nodes
            .get(i)
            .is_some_and(|node| node.len() > 1 && !node.fits(0, 0, self.limit));
        if !oversized {
            return;
        }
        let mut rest = self.nodes.remove(i).unwrap_or_default();
        let mut at = i;
        while !rest.is_empty() {
            let tail = rest.split_off(Self::greedy_prefix(&rest, self.limit));
            self.nodes.insert(at, rest);
            rest = tail;
            at += 1;
        }
    }

    /// How many leading entries of `pack` fit in one node within `limit` (at least one).
    fn greedy_prefix(pack: &Pack, limit: ListPackLimit) -> usize {
        let mut size = PACK_OVERHEAD_BYTES;
        let mut taken = 0;
        for (range, _) in pack.iter() {
            size += range.len();
            if !limit.fits(size, taken + 1) && taken > 0 {
                break;
            }
            taken += 1;
        }
        taken
    }

    /// Merges node `i` with its neighbours when they are small enough together.
    fn merge_around(&mut self, i: usize) {
        if self.mergeable(i, i + 1) {
            if let Some(next) = self.nodes.remove(i + 1) {
                self.nodes[i].append(&next);
            }
        }
        if i > 0 && self.mergeable(i - 1, i) {
            if let Some(node) = self.nodes.remove(i) {
                self.nodes[i - 1].append(&node);
            }
        }
    }

    fn mergeable(&self, a: usize, b: usize) -> bool {
        match (self.nodes.get(a), self.nodes.get(b)) {
            // At most half a node together, so that a merged node has room to grow and
            // removals next to full nodes never copy a node back and forth.
            (Some(a), Some(b)) => self
                .limit
                .fits_half(a.size() + b.data_len(), a.len() + b.len()),
            _ => false,
        }
    }

    /// Merges every run of small neighbouring nodes (after removals anywhere in the list).
    fn merge_all(&mut self) {
        let mut i = 0;
        while i + 1 < self.nodes.len() {
            if self.mergeable(i, i + 1) {
                if let Some(next) = self.nodes.remove(i + 1) {
                    self.nodes[i].append(&next);
                }
            } else {
                i += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ListValue

/// A list value: a listpack while small, a quicklist once large (see the module docs).
#[derive(Debug, Clone)]
pub struct ListValue {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Listpack(Pack),
    Quicklist(Box<Quicklist>),
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::new()
    }
}

/// Two lists are equal when they hold the same elements in the same order, whatever their
/// representation.
impl PartialEq for ListValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// The (empty) node deque a listpack's iterator walks after its one pack.
static NO_NODES: VecDeque<Pack> = VecDeque::new();

type NodeIter<'a> = std::collections::vec_deque::Iter<'a, Pack>;
type NodeEntries<'a> = Map<NodeIter<'a>, fn(&'a Pack) -> PackIter<'a>>;

/// The elements of a list, from either end.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    entries: Flatten<Chain<std::option::IntoIter<PackIter<'a>>, NodeEntries<'a>>>,
    remaining: usize,
}

impl<'a> Iter<'a> {
    /// Elements of `first` (if any), then of every node of `rest`: `remaining` in all.
    fn new(first: Option<PackIter<'a>>, rest: NodeIter<'a>, remaining: usize) -> Iter<'a> {
        let node_entries: fn(&'a Pack) -> PackIter<'a> = Pack::iter;
        Iter {
            entries: first.into_iter().chain(rest.map(node_entries)).flatten(),
            remaining,
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (_, element) = self.entries.next()?;
        self.remaining -= 1;
        Some(element)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (_, element) = self.entries.next_back()?;
        self.remaining -= 1;
        Some(element)
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl ListValue {
    /// An empty list (a key never holds one: fill it before storing it).
    pub fn new() -> ListValue {
        ListValue {
            repr: Repr::Listpack(Pack::default()),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(pack) => pack.len(),
            Repr::Quicklist(list) => list.len,
        }
    }

    /// Whether there is no element (a key never holds an empty collection).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name for the current representation.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Quicklist(_) => "quicklist",
        }
    }

    /// Every element, head to tail (`.rev()` for tail to head).
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The elements from index `start` to the tail.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        let remaining = self.len().saturating_sub(start);
        match &self.repr {
            Repr::Listpack(pack) => {
                Iter::new(Some(pack.iter_from(start)), NO_NODES.iter(), remaining)
            }
            Repr::Quicklist(list) => match list.locate(start) {
                Some((node, inner)) => Iter::new(
                    Some(list.nodes[node].iter_from(inner)),
                    list.nodes.range(node + 1..),
                    remaining,
                ),
                None => Iter::new(None, NO_NODES.iter(), 0),
            },
        }
    }

    /// Element `index` (0 is the head), if the list is that long.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack(pack) => (index < pack.len()).then(|| pack.get(index)),
            Repr::Quicklist(list) => {
                let (node, inner) = list.locate(index)?;
                Some(list.nodes[node].get(inner))
            }
        }
    }

    /// Index of the first element equal to `element`, from the head.
    pub fn position(&self, element: &[u8]) -> Option<usize> {
        self.iter().position(|e| e == element)
    }

    /// Pushes `element` at `end`; `limit` decides whether a listpack must become a quicklist.
    pub fn push(&mut self, end: End, element: &[u8], limit: ListPackLimit) {
        self.prepare_growth(entry_len(element.len()), 1, limit);
        match &mut self.repr {
            Repr::Listpack(pack) => match end {
                End::Left => pack.push_front(element),
                End::Right => pack.push_back(element),
            },
            Repr::Quicklist(list) => list.push(end, element),
        }
    }

    /// Pushes every element of `elements` at `end`, in order (so pushing `a b c` on the left
    /// leaves `c b a` at the head). The list converts at most once, before the first push.
    pub fn extend<E: AsRef<[u8]>>(&mut self, end: End, elements: &[E], limit: ListPackLimit) {
        let added = elements.iter().fold(0usize, |sum, e| {
            sum.saturating_add(entry_len(e.as_ref().len()))
        });
        self.prepare_growth(added, elements.len(), limit);
        for element in elements {
            self.push(end, element.as_ref(), limit);
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let element = match &mut self.repr {
            Repr::Listpack(pack) => match end {
                End::Left => pack.pop_front(),
                End::Right => pack.pop_back(),
            },
            Repr::Quicklist(list) => list.pop(end),
        };
        self.settle();
        element
    }

    /// Removes up to `count` elements from `end` and returns them in the order they were
    /// popped (tail first when popping from the right).
    pub fn pop_many(&mut self, end: End, count: usize) -> Vec<Bytes> {
        let n = count.min(self.len());
        let popped = match end {
            End::Left => self.iter().take(n).map(Bytes::copy_from_slice).collect(),
            End::Right => self
                .iter()
                .rev()
                .take(n)
                .map(Bytes::copy_from_slice)
                .collect(),
        };
        match end {
            End::Left => self.trim(n, 0),
            End::Right => self.trim(0, n),
        }
        popped
    }

    /// Replaces element `index`; false when the list is not that long.
    pub fn set(&mut self, index: usize, element: &[u8], limit: ListPackLimit) -> bool {
        let Some(old_len) = self.get(index).map(<[u8]>::len) else {
            return false;
        };
        let new_len = entry_len(element.len());
        self.prepare_growth(new_len.saturating_sub(entry_len(old_len)), 0, limit);
        let replaced = match &mut self.repr {
            Repr::Listpack(pack) => {
                pack.replace(index, element);
                true
            }
            Repr::Quicklist(list) => list.replace(index, element),
        };
        self.settle();
        replaced
    }

    /// Inserts `element` before element `index` (`index >= len` appends).
    pub fn insert(&mut self, index: usize, element: &[u8], limit: ListPackLimit) {
        self.prepare_growth(entry_len(element.len()), 1, limit);
        match &mut self.repr {
            Repr::Listpack(pack) => pack.insert(index.min(pack.len()), element),
            Repr::Quicklist(list) => list.insert(index, element),
        }
    }

    /// Removes up to `limit` elements equal to `element`, the first ones met scanning from
    /// `from`; returns how many were removed.
    pub fn remove_matching(&mut self, element: &[u8], limit: usize, from: End) -> usize {
        let removed = match &mut self.repr {
            Repr::Listpack(pack) => pack.remove_matching(element, limit, from),
            Repr::Quicklist(list) => list.remove_matching(element, limit, from),
        };
        self.settle();
        removed
    }

    /// Removes `front` elements from the head and `back` from the tail (at most the whole
    /// list in all).
    pub fn trim(&mut self, front: usize, back: usize) {
        let front = front.min(self.len());
        let back = back.min(self.len() - front);
        match &mut self.repr {
            Repr::Listpack(pack) => {
                pack.remove_range(pack.len() - back, back);
                pack.remove_range(0, front);
            }
            Repr::Quicklist(list) => {
                list.remove_back(back);
                list.remove_front(front);
            }
        }
        self.settle();
    }

    /// Converts a listpack that would outgrow `limit` with `bytes` more bytes in `entries`
    /// more entries into a quicklist (of nodes within `limit`) whose first node is the
    /// listpack.
    fn prepare_growth(&mut self, bytes: usize, entries: usize, limit: ListPackLimit) {
        let Repr::Listpack(pack) = &mut self.repr else {
            return;
        };
        if pack.fits(bytes, entries, limit) {
            return;
        }
        let pack = std::mem::take(pack);
        let mut list = Quicklist {
            len: pack.len(),
            nodes: VecDeque::new(),
            limit,
        };
        if !pack.is_empty() {
            list.nodes.push_back(pack);
        }
        self.repr = Repr::Quicklist(Box::new(list));
    }

    /// Turns a quicklist left with one small node (or none) back into a listpack.
    fn settle(&mut self) {
        let Repr::Quicklist(list) = &mut self.repr else {
            return;
        };
        let small = match list.nodes.len() {
            0 => true,
            1 => list
                .limit
                .fits_half(list.nodes[0].size(), list.nodes[0].len()),
            _ => false,
        };
        if small {
            let pack = list.nodes.pop_front().unwrap_or_default();
            self.repr = Repr::Listpack(pack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The default limit (`list-max-listpack-size -2`).
    const LIMIT: ListPackLimit = ListPackLimit::Bytes(LISTPACK_BYTES_MAX);
    const LISTPACK_BYTES_MAX: usize = 8 * 1024;

    /// Checks the representation's invariants: lengths agree, no node is empty, nodes of more
    /// than one element stay within the limit, and so does a listpack.
    fn check_invariants(list: &ListValue, limit: ListPackLimit) {
        match &list.repr {
            Repr::Listpack(pack) => {
                assert!(
                    pack.fits(0, 0, limit) || pack.len() <= 1,
                    "listpack over the limit"
                );
                assert_eq!(pack.iter().count(), pack.len());
            }
            Repr::Quicklist(q) => {
                assert_eq!(q.len, q.nodes.iter().map(Pack::len).sum::<usize>());
                for node in &q.nodes {
                    assert!(!node.is_empty(), "empty node");
                    assert!(
                        node.fits(0, 0, q.limit) || node.len() == 1,
                        "oversized node"
                    );
                    assert_eq!(node.iter().count(), node.len());
                    assert_eq!(node.iter().rev().count(), node.len());
                }
            }
        }
    }

    fn elements(list: &ListValue) -> Vec<Vec<u8>> {
        list.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn value_stays_small() {
        assert!(std::mem::size_of::<ListValue>() <= 32);
    }

    #[test]
    fn entries_round_trip_from_both_ends() {
        let mut pack = Pack::default();
        let long = vec![b'x'; 300];
        for element in [&b""[..], b"a", &long, b"bc"] {
            pack.push_back(element);
        }
        let forward: Vec<&[u8]> = pack.iter().map(|(_, e)| e).collect();
        assert_eq!(forward, [&b""[..], b"a", &long, b"bc"]);
        let backward: Vec<&[u8]> = pack.iter().rev().map(|(_, e)| e).collect();
        assert_eq!(backward, [&b"bc"[..], &long, b"a", b""]);
        // 300 needs two LEB128 bytes at each end.
        assert_eq!(pack.data_len(), 2 + 3 + 304 + 4);
        assert_eq!(pack.get(2), &long[..]);
        assert_eq!(pack.offset_of(3), 2 + 3 + 304);
    }

    #[test]
    fn varints_cover_every_length() {
        for n in [0usize, 1, 127, 128, 16_383, 16_384, usize::MAX] {
            let mut buf = vec![0u8; varint_len(n)];
            write_varint(&mut buf, n);
            assert_eq!(read_header(&buf, 0), (n, buf.len()));
            buf.reverse();
            assert_eq!(read_trailer(&buf, buf.len()), (n, buf.len()));
        }
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(usize::MAX), 10);
    }

    #[test]
    fn small_lists_are_listpacks_and_large_ones_quicklists() {
        let mut list = ListValue::new();
        let element = [b'e'; 100];
        // 7 bytes of overhead plus 102 per entry: 80 entries fit in 8 KiB, the 81st does not.
        for _ in 0..80 {
            list.push(End::Right, &element, LIMIT);
        }
        assert_eq!(list.encoding(), "listpack");
        list.push(End::Right, &element, LIMIT);
        assert_eq!(list.encoding(), "quicklist");
        check_invariants(&list, LIMIT);
        // Once both nodes fit in half the limit they merge, and one node that small is a
        // listpack again: 7 + 40 * 102 <= 4096 < 7 + 41 * 102.
        for _ in 0..40 {
            list.pop(End::Left);
        }
        assert_eq!(list.encoding(), "quicklist");
        list.pop(End::Left);
        assert_eq!((list.encoding(), list.len()), ("listpack", 40));
        check_invariants(&list, LIMIT);
    }

    #[test]
    fn a_positive_size_limits_entries_per_pack() {
        let limit = ListPackLimit::from_fill(4);
        let mut list = ListValue::new();
        list.extend(End::Right, &[b"a", b"b", b"c", b"d"], limit);
        assert_eq!(list.encoding(), "listpack");
        list.push(End::Right, b"e", limit);
        assert_eq!(list.encoding(), "quicklist");
        for i in 0..10u8 {
            list.push(End::Left, &[i], limit);
        }
        check_invariants(&list, limit);
        // A quicklist keeps its own limit: a later default does not change its nodes.
        list.push(End::Right, b"f", LIMIT);
        check_invariants(&list, limit);
        list.trim(14, 0);
        assert_eq!((list.encoding(), list.len()), ("listpack", 2));
        assert_eq!(elements(&list), [b"e".to_vec(), b"f".to_vec()]);
    }

    #[test]
    fn huge_elements_get_nodes_of_their_own() {
        let mut list = ListValue::new();
        let huge = vec![b'h'; 3 * LISTPACK_BYTES_MAX];
        list.push(End::Right, b"a", LIMIT);
        list.push(End::Right, &huge, LIMIT);
        list.push(End::Right, b"b", LIMIT);
        assert_eq!(list.encoding(), "quicklist");
        check_invariants(&list, LIMIT);
        assert!(list.set(0, &huge, LIMIT));
        assert!(list.set(2, &huge, LIMIT));
        check_invariants(&list, LIMIT);
        assert_eq!(list.get(1), Some(&huge[..]));
        assert!(list.set(1, b"small", LIMIT));
        check_invariants(&list, LIMIT);
        assert_eq!(list.get(1), Some(&b"small"[..]));
        assert!(!list.set(3, b"x", LIMIT));
    }

    #[test]
    fn inserting_into_full_nodes_splits_them() {
        let mut list = ListValue::new();
        for i in 0..2000u32 {
            list.push(End::Right, i.to_string().as_bytes(), LIMIT);
        }
        for i in (0..2000).step_by(7) {
            list.insert(i, &[b'i'; 50], LIMIT);
        }
        check_invariants(&list, LIMIT);
        assert_eq!(list.len(), 2000 + 286);
        assert_eq!(list.get(0), Some(&[b'i'; 50][..]));
        assert_eq!(list.get(1), Some(&b"0"[..]));
    }

    #[test]
    fn removals_merge_sparse_nodes() {
        let mut list = ListValue::new();
        for i in 0..3000u32 {
            list.push(
                End::Right,
                if i % 10 == 0 { b"keep" } else { b"drop-me" },
                LIMIT,
            );
        }
        assert_eq!(list.encoding(), "quicklist");
        assert_eq!(
            list.remove_matching(b"drop-me", usize::MAX, End::Left),
            2700
        );
        check_invariants(&list, LIMIT);
        // 300 entries of 6 bytes: one small node, so a listpack again.
        assert_eq!((list.encoding(), list.len()), ("listpack", 300));
    }

    #[test]
    fn equality_ignores_the_representation() {
        let mut packed = ListValue::new();
        let mut quick = ListValue::new();
        quick.prepare_growth(LISTPACK_BYTES_MAX, 1, LIMIT);
        assert_eq!(quick.encoding(), "quicklist");
        for element in [&b"a"[..], b"b"] {
            packed.push(End::Right, element, LIMIT);
            quick.push(End::Right, element, LIMIT);
        }
        assert_eq!(packed, quick);
        quick.push(End::Left, b"z", LIMIT);
        assert_ne!(packed, quick);
    }

    #[test]
    fn iteration_starts_anywhere_and_runs_both_ways() {
        let mut list = ListValue::new();
        for i in 0..5000u32 {
            list.push(End::Right, i.to_string().as_bytes(), LIMIT);
        }
        let from: Vec<&[u8]> = list.iter_from(4997).collect();
        assert_eq!(from, [&b"4997"[..], b"4998", b"4999"]);
        assert_eq!(list.iter_from(5000).count(), 0);
        assert_eq!(list.iter().next_back(), Some(&b"4999"[..]));
        assert_eq!(list.iter().len(), 5000);
        assert_eq!(list.iter_from(100).next_back(), Some(&b"4999"[..]));
        let mut backwards = list.iter_from(100).rev();
        assert_eq!(backwards.len(), 4900);
        assert_eq!(backwards.nth(4899), Some(&b"100"[..]));
        assert_eq!(backwards.next(), None);
        assert_eq!(list.position(b"2500"), Some(2500));
    }

    /// One operation of the model test.
    #[derive(Debug, Clone)]
    enum Op {
        Push(End, Vec<u8>),
        Pop(End),
        PopMany(End, usize),
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(Vec<u8>, usize, End),
        Trim(usize, usize),
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => prop::collection::vec(b'a'..b'd', 0..3),
            3 => (1usize..400).prop_map(|n| vec![b'm'; n]),
            1 => (2000usize..9000).prop_map(|n| vec![b'L'; n]),
        ]
    }

    fn end() -> impl Strategy<Value = End> {
        prop_oneof![Just(End::Left), Just(End::Right)]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (end(), element()).prop_map(|(e, v)| Op::Push(e, v)),
            2 => end().prop_map(Op::Pop),
            1 => (end(), 0usize..40).prop_map(|(e, n)| Op::PopMany(e, n)),
            2 => (0usize..200, element()).prop_map(|(i, v)| Op::Set(i, v)),
            2 => (0usize..200, element()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (element(), 0usize..5, end()).prop_map(|(v, n, e)| Op::Remove(v, n, e)),
            1 => (0usize..20, 0usize..20).prop_map(|(f, b)| Op::Trim(f, b)),
        ]
    }

    /// The model's LREM: removes up to `limit` matches met from `from`.
    fn model_remove(model: &mut VecDeque<Vec<u8>>, element: &[u8], limit: usize, from: End) {
        let mut indexes: Vec<usize> = (0..model.len()).filter(|&i| model[i] == element).collect();
        if from == End::Right {
            indexes.reverse();
        }
        indexes.truncate(limit);
        indexes.sort_unstable();
        for i in indexes.into_iter().rev() {
            model.remove(i);
        }
    }

    fn model_pop(model: &mut VecDeque<Vec<u8>>, end: End) -> Option<Vec<u8>> {
        match end {
            End::Left => model.pop_front(),
            End::Right => model.pop_back(),
        }
    }

    fn apply(list: &mut ListValue, model: &mut VecDeque<Vec<u8>>, op: Op, limit: ListPackLimit) {
        match op {
            Op::Push(End::Left, v) => {
                list.push(End::Left, &v, limit);
                model.push_front(v);
            }
            Op::Push(End::Right, v) => {
                list.push(End::Right, &v, limit);
                model.push_back(v);
            }
            Op::Pop(end) => assert_eq!(list.pop(end), model_pop(model, end)),
            Op::PopMany(end, n) => {
                let popped = list.pop_many(end, n);
                let expected: Vec<Vec<u8>> = (0..n.min(model.len()))
                    .filter_map(|_| model_pop(model, end))
                    .collect();
                assert_eq!(popped, expected);
            }
            Op::Set(i, v) => {
                let expected = i < model.len();
                assert_eq!(list.set(i, &v, limit), expected);
                if expected {
                    model[i] = v;
                }
            }
            Op::Insert(i, v) => {
                let i = i.min(model.len());
                list.insert(i, &v, limit);
                model.insert(i, v);
            }
            Op::Remove(v, n, from) => {
                let limit = if n == 0 { usize::MAX } else { n };
                let before = model.len();
                model_remove(model, &v, limit, from);
                assert_eq!(list.remove_matching(&v, limit, from), before - model.len());
            }
            Op::Trim(front, back) => {
                list.trim(front, back);
                let front = front.min(model.len());
                model.drain(..front);
                let back = back.min(model.len());
                model.truncate(model.len() - back);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn list_behaves_like_a_deque(
            ops in prop::collection::vec(op(), 1..120),
            fill in prop_oneof![Just(-2), -6i32..=-1, 0i32..12],
        ) {
            let limit = ListPackLimit::from_fill(fill);
            let mut list = ListValue::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                apply(&mut list, &mut model, op, limit);
                check_invariants(&list, limit);
                prop_assert_eq!(list.len(), model.len());
            }
            prop_assert_eq!(elements(&list), model.iter().cloned().collect::<Vec<_>>());
            let reversed: Vec<Vec<u8>> = list.iter().rev().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(reversed, model.iter().rev().cloned().collect::<Vec<_>>());
            for (i, expected) in model.iter().enumerate() {
                prop_assert_eq!(list.get(i), Some(&expected[..]));
            }
        }
    }
}
