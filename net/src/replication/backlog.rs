//! The replication backlog: the last `capacity` bytes of the replication stream in a ring, so
//! a replica whose link dropped can continue from its offset (PSYNC ... +CONTINUE) instead of
//! loading a whole copy.
//!
//! Offsets are Redis's: `end` is `master_repl_offset`, the count of stream bytes ever produced;
//! the backlog holds the bytes numbered `end - len + 1 ..= end` (1-based, as
//! `repl_backlog_first_byte_offset` reports), and a replica asking for offset `p` wants byte `p`
//! onward.

/// A fixed-size ring of the newest stream bytes.
#[derive(Debug)]
pub struct Backlog {
    ring: Vec<u8>,
    /// Index in `ring` where the next byte goes.
    head: usize,
    /// Bytes held (`repl_backlog_histlen`), at most `ring.len()`.
    len: usize,
    /// `master_repl_offset`: bytes of stream produced so far.
    end: u64,
}

impl Backlog {
    /// An empty backlog of `capacity` bytes (at least 1) whose stream stands at `end`.
    pub fn new(capacity: usize, end: u64) -> Backlog {
        Backlog {
            ring: vec![0; capacity.max(1)],
            head: 0,
            len: 0,
            end,
        }
    }

    /// `master_repl_offset`.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// `repl_backlog_histlen`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `repl_backlog_size`.
    pub fn capacity(&self) -> usize {
        self.ring.len()
    }

    /// `repl_backlog_first_byte_offset`: the offset of the oldest byte held.
    pub fn first_byte_offset(&self) -> u64 {
        self.end - self.len as u64 + 1
    }

    /// Appends stream bytes, dropping the oldest ones past the capacity.
    pub fn append(&mut self, bytes: &[u8]) {
        self.end += bytes.len() as u64;
        let capacity = self.ring.len();
        // Only the newest `capacity` bytes can survive.
        let kept = &bytes[bytes.len().saturating_sub(capacity)..];
        let first = kept.len().min(capacity - self.head);
        self.ring[self.head..self.head + first].copy_from_slice(&kept[..first]);
        self.ring[..kept.len() - first].copy_from_slice(&kept[first..]);
        self.head = (self.head + kept.len()) % capacity;
        self.len = (self.len + kept.len()).min(capacity);
    }

    /// The bytes from offset `from` (the next byte a replica wants) to the end, if the backlog
    /// still holds them all; `from == end + 1` gives an empty tail.
    pub fn tail_from(&self, from: u64) -> Option<Vec<u8>> {
        if from < self.first_byte_offset() || from > self.end + 1 {
            return None;
        }
        let wanted = usize::try_from(self.end + 1 - from).ok()?;
        let capacity = self.ring.len();
        let start = (self.head + capacity - wanted) % capacity;
        let mut out = Vec::with_capacity(wanted);
        let first = wanted.min(capacity - start);
        out.extend_from_slice(&self.ring[start..start + first]);
        out.extend_from_slice(&self.ring[..wanted - first]);
        Some(out)
    }

    /// Resizes to `capacity` bytes, keeping the newest bytes that fit.
    pub fn resize(&mut self, capacity: usize) {
        if capacity.max(1) == self.ring.len() {
            return;
        }
        let held = self.tail_from(self.first_byte_offset()).unwrap_or_default();
        let mut resized = Backlog::new(capacity, self.end - held.len() as u64);
        resized.append(&held);
        *self = resized;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_with_redis_offsets() {
        let mut backlog = Backlog::new(8, 100);
        assert_eq!(backlog.first_byte_offset(), 101);
        assert_eq!(backlog.tail_from(101), Some(Vec::new()));
        backlog.append(b"abcde");
        assert_eq!((backlog.end(), backlog.len()), (105, 5));
        assert_eq!(backlog.tail_from(101).as_deref(), Some(&b"abcde"[..]));
        backlog.append(b"fghij");
        assert_eq!((backlog.first_byte_offset(), backlog.len()), (103, 8));
        assert_eq!(backlog.tail_from(103).as_deref(), Some(&b"cdefghij"[..]));
        assert_eq!(backlog.tail_from(109).as_deref(), Some(&b"ij"[..]));
        assert_eq!(backlog.tail_from(111).as_deref(), Some(&b""[..]));
        assert_eq!(backlog.tail_from(102), None, "overwritten");
        assert_eq!(backlog.tail_from(112), None, "not produced yet");
    }

    #[test]
    fn an_append_longer_than_the_ring_keeps_its_end() {
        let mut backlog = Backlog::new(4, 0);
        backlog.append(b"xy");
        backlog.append(b"0123456789");
        assert_eq!(backlog.end(), 12);
        assert_eq!(backlog.tail_from(9).as_deref(), Some(&b"6789"[..]));
    }

    #[test]
    fn resizing_keeps_what_fits() {
        let mut backlog = Backlog::new(8, 0);
        backlog.append(b"abcdefgh");
        backlog.resize(3);
        assert_eq!(backlog.tail_from(6).as_deref(), Some(&b"fgh"[..]));
        backlog.resize(16);
        backlog.append(b"ij");
        assert_eq!(backlog.tail_from(6).as_deref(), Some(&b"fghij"[..]));
        assert_eq!(backlog.end(), 10);
    }
}
