//! WATCH: optimistic locking for MULTI/EXEC. A client's [`WatchSet`] holds one flag; each
//! watched key registers that flag with the key's slot table, under the slot's own lock, so
//! signalling a write costs nothing when a slot has no watchers and needs no global lock when
//! it has. A write to a watched key (or its expiry, a flush, a swap of its database) sets the
//! flag; EXEC then refuses to run.
//!
//! Blocked clients (BLPOP and friends) use the same registration with a wake-up callback: a
//! write to one of their keys wakes them to try again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// Called when a watched key changes, with the slot's lock held: it must only signal (for
/// example wake a task), never enter the engine.
pub type WakeUp = Box<dyn Fn() + Send + Sync>;

/// Set when a watched key changes.
#[derive(Default)]
pub struct WatchFlag {
    dirty: AtomicBool,
    wake_up: Option<WakeUp>,
}

impl std::fmt::Debug for WatchFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchFlag")
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}

impl WatchFlag {
    fn mark(&self) {
        self.dirty.store(true, Ordering::Release);
        if let Some(wake_up) = &self.wake_up {
            wake_up();
        }
    }
}

/// The watchers of the keys of one slot: (key, flag) pairs, boxed so that the 16384 slots of a
/// database pay one pointer each for a feature few slots use. Dead flags (clients gone) are
/// dropped whenever the list is touched.
#[derive(Debug, Default)]
pub struct SlotWatchers {
    // A thin pointer (8 bytes) where a `Vec` would take 24 in every slot.
    #[allow(clippy::box_collection)]
    entries: Option<Box<Vec<Watcher>>>,
}

/// A watched key and the flag of the client watching it.
type Watcher = (Box<[u8]>, Weak<WatchFlag>);

impl SlotWatchers {
    /// Whether nobody watches a key of this slot.
    pub fn is_empty(&self) -> bool {
        self.entries.is_none()
    }

    fn entries(&self) -> &[Watcher] {
        self.entries.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Keeps the entries `keep` accepts (and live), freeing the list once it is empty.
    fn retain(&mut self, mut keep: impl FnMut(&[u8], &Weak<WatchFlag>) -> bool) {
        if let Some(entries) = &mut self.entries {
            entries.retain(|(k, f)| f.strong_count() > 0 && keep(k, f));
            if entries.is_empty() {
                self.entries = None;
            }
        }
    }

    /// Registers `flag` as watching `key` (once).
    pub fn add(&mut self, key: &[u8], flag: &Arc<WatchFlag>) {
        self.retain(|_, _| true);
        let same = |k: &[u8], f: &Weak<WatchFlag>| {
            *k == *key && std::ptr::eq(f.as_ptr(), Arc::as_ptr(flag))
        };
        if !self.entries().iter().any(|(k, f)| same(k, f)) {
            self.entries
                .get_or_insert_with(Box::default)
                .push((Box::from(key), Arc::downgrade(flag)));
        }
    }

    /// Removes the registration of `flag` on `key`.
    pub fn remove(&mut self, key: &[u8], flag: &Arc<WatchFlag>) {
        self.retain(|k, f| !(*k == *key && std::ptr::eq(f.as_ptr(), Arc::as_ptr(flag))));
    }

    /// Marks every watcher of `key`.
    pub fn signal(&self, key: &[u8]) {
        for (watched, flag) in self.entries() {
            if **watched == *key {
                if let Some(flag) = flag.upgrade() {
                    flag.mark();
                }
            }
        }
    }

    /// Marks every watcher of every key of the slot (flush, swap).
    pub fn signal_all(&self) {
        for flag in self.entries().iter().filter_map(|(_, f)| f.upgrade()) {
            flag.mark();
        }
    }
}

/// One watched key, as the client saw it at WATCH time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Box<[u8]>,
    /// The key's deadline when watched: if it passes before EXEC, the key has (logically)
    /// changed, as Redis 6.0.9+ treats it.
    pub expire_at_ms: Option<u64>,
}

/// A client's watched keys and its flag.
#[derive(Debug, Default)]
pub struct WatchSet {
    pub(crate) flag: Arc<WatchFlag>,
    pub(crate) keys: Vec<WatchedKey>,
}

impl WatchSet {
    /// A set whose every signal also calls `wake_up` (for blocked clients).
    pub fn with_wake_up(wake_up: WakeUp) -> WatchSet {
        let flag = WatchFlag {
            dirty: AtomicBool::new(false),
            wake_up: Some(wake_up),
        };
        WatchSet {
            flag: Arc::new(flag),
            keys: Vec::new(),
        }
    }

    /// Clears the flag, keeping the keys watched (a blocked client that tried and must wait on).
    pub fn clear(&self) {
        self.flag.dirty.store(false, Ordering::Release);
    }

    /// Whether a watched key was written since it was watched.
    pub fn is_dirty(&self) -> bool {
        self.flag.dirty.load(Ordering::Acquire)
    }

    /// Whether no key is watched.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `key` of `db` is already watched.
    pub(crate) fn contains(&self, db: usize, key: &[u8]) -> bool {
        self.keys.iter().any(|w| w.db == db && *w.key == *key)
    }

    /// Forgets the keys and clears the flag (after EXEC, DISCARD, UNWATCH).
    pub(crate) fn reset(&mut self) -> Vec<WatchedKey> {
        self.flag.dirty.store(false, Ordering::Release);
        std::mem::take(&mut self.keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_up_runs_on_every_signal() {
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = woken.clone();
        let set = WatchSet::with_wake_up(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let mut slot = SlotWatchers::default();
        slot.add(b"k", &set.flag);
        slot.signal(b"k");
        slot.signal_all();
        assert_eq!(woken.load(Ordering::SeqCst), 2);
        assert!(set.is_dirty());
        set.clear();
        assert!(!set.is_dirty());
    }

    #[test]
    fn signals_reach_only_live_watchers_of_the_key() {
        let mut slot = SlotWatchers::default();
        let set = WatchSet::default();
        slot.add(b"a", &set.flag);
        slot.add(b"a", &set.flag);
        assert_eq!(
            slot.entries().len(),
            1,
            "a key is registered once per client"
        );
        slot.signal(b"b");
        assert!(!set.is_dirty());
        slot.signal(b"a");
        assert!(set.is_dirty());
        slot.remove(b"a", &set.flag);
        assert!(slot.is_empty());
        {
            let gone = WatchSet::default();
            slot.add(b"x", &gone.flag);
        }
        slot.signal_all();
        slot.add(b"y", &set.flag);
        assert_eq!(slot.entries().len(), 1, "dead watchers are dropped");
    }
}
