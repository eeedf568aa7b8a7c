//! The size thresholds below which collections keep their compact encodings: Redis's
//! `hash-max-listpack-*`, `set-max-intset-entries`, `set-max-listpack-*`,
//! `zset-max-listpack-*` and `list-max-listpack-size` directives.
//!
//! [`Encodings`] is the plain value (in [`crate::Config`] and what the types consult when they
//! decide to convert); [`LiveEncodings`] holds it in an engine as atomics, so CONFIG SET can
//! change it while commands run. A command reads the thresholds once when it starts
//! ([`crate::exec::Ctx::encodings`]): a few relaxed loads, no lock. A change applies to the
//! conversions decided after it; values already converted stay as they are, as in Redis.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

/// Most entries a compact encoding holds whatever the configuration says, so that the
/// entry counters of the packed forms (32-bit) cannot overflow.
const COMPACT_ENTRIES_CAP: usize = u32::MAX as usize - 1;

/// Byte limits of one list pack for `list-max-listpack-size` -1 to -5 (Redis's sizes).
const LIST_PACK_BYTE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// Largest pack a count-limited list (`list-max-listpack-size` > 0) may still grow, as
/// Redis's safety limit for count-limited nodes.
const LIST_PACK_SAFETY_BYTES: usize = 8192;

/// The thresholds, with Redis 7's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encodings {
    /// `hash-max-listpack-entries`: most fields of a listpack hash.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`: longest field or value of a listpack hash, in bytes.
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`: most members of an intset.
    pub set_max_intset_entries: usize,
    /// `set-max-listpack-entries`: most members of a listpack set.
    pub set_max_listpack_entries: usize,
    /// `set-max-listpack-value`: longest member of a listpack set, in bytes.
    pub set_max_listpack_value: usize,
    /// `zset-max-listpack-entries`: most members of a listpack sorted set.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`: longest member of a listpack sorted set, in bytes.
    pub zset_max_listpack_value: usize,
    /// `list-max-listpack-size`: negative for a byte limit per pack (-1 = 4 KiB ... -5 and
    /// below = 64 KiB), positive for an entry limit per pack (0 counts as 1). See
    /// [`Encodings::list_limit`].
    pub list_max_listpack_size: i32,
}

impl Default for Encodings {
    fn default() -> Self {
        Encodings::DEFAULT
    }
}

impl Encodings {
    /// Redis 7's defaults.
    pub const DEFAULT: Encodings = Encodings {
        hash_max_listpack_entries: 128,
        hash_max_listpack_value: 64,
        set_max_intset_entries: 512,
        set_max_listpack_entries: 128,
        set_max_listpack_value: 64,
        zset_max_listpack_entries: 128,
        zset_max_listpack_value: 64,
        list_max_listpack_size: -2,
    };

    /// Most fields of a listpack hash.
    pub fn hash_entries(&self) -> usize {
        self.hash_max_listpack_entries.min(COMPACT_ENTRIES_CAP)
    }

    /// Most members of an intset.
    pub fn intset_entries(&self) -> usize {
        self.set_max_intset_entries.min(COMPACT_ENTRIES_CAP)
    }

    /// Most members of a listpack set.
    pub fn set_entries(&self) -> usize {
        self.set_max_listpack_entries.min(COMPACT_ENTRIES_CAP)
    }

    /// Most members of a listpack sorted set.
    pub fn zset_entries(&self) -> usize {
        self.zset_max_listpack_entries.min(COMPACT_ENTRIES_CAP)
    }

    /// The limit on one list pack that `list-max-listpack-size` sets.
    pub fn list_limit(&self) -> ListPackLimit {
        ListPackLimit::from_fill(self.list_max_listpack_size)
    }
}

/// How large one pack of a list (the whole listpack, or one quicklist node) may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListPackLimit {
    /// At most this many bytes.
    Bytes(usize),
    /// At most this many entries (and [`LIST_PACK_SAFETY_BYTES`]).
    Entries(usize),
}

impl Default for ListPackLimit {
    fn default() -> Self {
        Encodings::default().list_limit()
    }
}

impl ListPackLimit {
    /// The limit for a `list-max-listpack-size` value (Redis's "fill").
    pub fn from_fill(fill: i32) -> ListPackLimit {
        match usize::try_from(fill) {
            Ok(entries) => ListPackLimit::Entries(entries.max(1)),
            Err(_) => {
                let level = (fill.unsigned_abs() as usize - 1).min(LIST_PACK_BYTE_LEVELS.len() - 1);
                ListPackLimit::Bytes(LIST_PACK_BYTE_LEVELS[level])
            }
        }
    }

    /// Whether a pack of `bytes` bytes and `entries` entries is within the limit.
    pub fn fits(self, bytes: usize, entries: usize) -> bool {
        match self {
            ListPackLimit::Bytes(max) => bytes <= max,
            ListPackLimit::Entries(max) => entries <= max && bytes <= LIST_PACK_SAFETY_BYTES,
        }
    }

    /// Whether a pack is at most half full: small enough to merge with a neighbour, or for a
    /// one-node quicklist to become a listpack again (Redis's margin against converting back
    /// and forth). An entry-limited pack must also stay within the safety size.
    pub fn fits_half(self, bytes: usize, entries: usize) -> bool {
        match self {
            ListPackLimit::Bytes(max) => bytes <= max / 2,
            ListPackLimit::Entries(max) => entries <= max / 2 && bytes <= LIST_PACK_SAFETY_BYTES,
        }
    }

    /// The most bytes a pack may hold under this limit (for sizing spare room).
    pub fn bytes_max(self) -> usize {
        match self {
            ListPackLimit::Bytes(max) => max,
            ListPackLimit::Entries(_) => LIST_PACK_SAFETY_BYTES,
        }
    }
}

/// [`Encodings`] shared by a running engine: one atomic per threshold, read with relaxed
/// ordering (each threshold is independent; a command may see a change made while it starts
/// in some thresholds and not others, which is harmless).
#[derive(Debug)]
pub(crate) struct LiveEncodings {
    hash_max_listpack_entries: AtomicUsize,
    hash_max_listpack_value: AtomicUsize,
    set_max_intset_entries: AtomicUsize,
    set_max_listpack_entries: AtomicUsize,
    set_max_listpack_value: AtomicUsize,
    zset_max_listpack_entries: AtomicUsize,
    zset_max_listpack_value: AtomicUsize,
    list_max_listpack_size: AtomicI32,
}

impl LiveEncodings {
    pub(crate) fn new(encodings: Encodings) -> LiveEncodings {
        LiveEncodings {
            hash_max_listpack_entries: AtomicUsize::new(encodings.hash_max_listpack_entries),
            hash_max_listpack_value: AtomicUsize::new(encodings.hash_max_listpack_value),
            set_max_intset_entries: AtomicUsize::new(encodings.set_max_intset_entries),
            set_max_listpack_entries: AtomicUsize::new(encodings.set_max_listpack_entries),
            set_max_listpack_value: AtomicUsize::new(encodings.set_max_listpack_value),
            zset_max_listpack_entries: AtomicUsize::new(encodings.zset_max_listpack_entries),
            zset_max_listpack_value: AtomicUsize::new(encodings.zset_max_listpack_value),
            list_max_listpack_size: AtomicI32::new(encodings.list_max_listpack_size),
        }
    }

    pub(crate) fn load(&self) -> Encodings {
        Encodings {
            hash_max_listpack_entries: self.hash_max_listpack_entries.load(Ordering::Relaxed),
            hash_max_listpack_value: self.hash_max_listpack_value.load(Ordering::Relaxed),
            set_max_intset_entries: self.set_max_intset_entries.load(Ordering::Relaxed),
            set_max_listpack_entries: self.set_max_listpack_entries.load(Ordering::Relaxed),
            set_max_listpack_value: self.set_max_listpack_value.load(Ordering::Relaxed),
            zset_max_listpack_entries: self.zset_max_listpack_entries.load(Ordering::Relaxed),
            zset_max_listpack_value: self.zset_max_listpack_value.load(Ordering::Relaxed),
            list_max_listpack_size: self.list_max_listpack_size.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn store(&self, encodings: Encodings) {
        let relaxed = Ordering::Relaxed;
        let e = encodings;
        self.hash_max_listpack_entries
            .store(e.hash_max_listpack_entries, relaxed);
        self.hash_max_listpack_value
            .store(e.hash_max_listpack_value, relaxed);
        self.set_max_intset_entries
            .store(e.set_max_intset_entries, relaxed);
        self.set_max_listpack_entries
            .store(e.set_max_listpack_entries, relaxed);
        self.set_max_listpack_value
            .store(e.set_max_listpack_value, relaxed);
        self.zset_max_listpack_entries
            .store(e.zset_max_listpack_entries, relaxed);
        self.zset_max_listpack_value
            .store(e.zset_max_listpack_value, relaxed);
        self.list_max_listpack_size
            .store(e.list_max_listpack_size, relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_fill_maps_to_redis_limits() {
        assert_eq!(ListPackLimit::from_fill(-1), ListPackLimit::Bytes(4096));
        assert_eq!(ListPackLimit::from_fill(-2), ListPackLimit::Bytes(8192));
        assert_eq!(ListPackLimit::from_fill(-5), ListPackLimit::Bytes(65536));
        assert_eq!(
            ListPackLimit::from_fill(i32::MIN),
            ListPackLimit::Bytes(65536)
        );
        assert_eq!(ListPackLimit::from_fill(0), ListPackLimit::Entries(1));
        assert_eq!(ListPackLimit::from_fill(5), ListPackLimit::Entries(5));
        let five = ListPackLimit::Entries(5);
        assert!(five.fits(100, 5) && !five.fits(100, 6) && !five.fits(9000, 2));
        assert!(five.fits_half(100, 2) && !five.fits_half(10, 3) && !five.fits_half(9000, 1));
    }

    #[test]
    fn live_settings_round_trip() {
        let changed = Encodings {
            hash_max_listpack_entries: 1,
            list_max_listpack_size: 7,
            ..Encodings::default()
        };
        let live = LiveEncodings::new(Encodings::default());
        assert_eq!(live.load(), Encodings::default());
        live.store(changed);
        assert_eq!(live.load(), changed);
        let huge = Encodings {
            hash_max_listpack_entries: usize::MAX,
            ..changed
        };
        assert_eq!(huge.hash_entries(), COMPACT_ENTRIES_CAP);
    }
}
