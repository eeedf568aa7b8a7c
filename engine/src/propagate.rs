//! The propagation stream: every write, in deterministic form, exactly once, in execution order,
//! each at a byte offset of the RESP stream it encodes to (Redis's `master_repl_offset`). The AOF
//! writer and the replication backlog subscribe to it; nothing else feeds them.
//!
//! Records are emitted while the writer still holds its slot locks, so two writes to one key are
//! always streamed in the order they were applied. A `SELECT` record is inserted whenever the
//! database changes, as Redis does in its replication stream.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// One propagated command.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Stream offset of the record's first byte.
    pub offset: u64,
    /// Database the command applies to.
    pub db: usize,
    /// The command and its arguments, deterministic (absolute deadlines, resolved values).
    pub args: &'a [Bytes],
}

impl Record<'_> {
    /// Stream offset just past this record.
    pub fn end_offset(&self) -> u64 {
        self.offset + resp_array_len(self.args)
    }
}

/// A consumer of the stream. Called in stream order, with the writer's locks held: keep it
/// short (append to a buffer or a bounded queue).
pub trait PropagationSink: Send + Sync + std::fmt::Debug {
    /// Receives one record.
    fn on_record(&self, record: &Record<'_>);
}

/// Length in bytes of `args` encoded as a RESP array of bulk strings.
pub fn resp_array_len(args: &[Bytes]) -> u64 {
    let header = 3 + decimal_digits(args.len() as u64);
    args.iter().fold(header, |total, arg| {
        let len = arg.len() as u64;
        total + 5 + decimal_digits(len) + len
    })
}

/// Encodes `args` as a RESP array of bulk strings, appending to `out`.
pub fn encode_resp_array(args: &[Bytes], out: &mut Vec<u8>) {
    use std::io::Write;
    out.reserve(usize::try_from(resp_array_len(args)).unwrap_or(0));
    // Writing into a Vec cannot fail.
    let _ = write!(out, "*{}\r\n", args.len());
    for arg in args {
        let _ = write!(out, "${}\r\n", arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn decimal_digits(n: u64) -> u64 {
    u64::from(n.checked_ilog10().unwrap_or(0)) + 1
}

thread_local! {
    /// Offset just past the last record delivered on this thread since the last
    /// [`take_emitted_end`] (0: none).
    static EMITTED_END: Cell<u64> = const { Cell::new(0) };
}

/// The stream offset just past the last record this thread delivered since the previous call,
/// if it delivered any. A command runs on one thread from start to end, so a server that calls
/// this right after running a client's command learns how far the stream must reach for that
/// client's writes to be in it (Redis's per-client offset that WAIT waits for).
pub fn take_emitted_end() -> Option<u64> {
    let end = EMITTED_END.replace(0);
    (end > 0).then_some(end)
}

/// Where the stream stands with respect to an EXEC being run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Transaction {
    /// No EXEC is running.
    #[default]
    Closed,
    /// An EXEC is running but has written nothing yet: MULTI goes out before its first write.
    Open,
    /// MULTI went out: EXEC must follow when the transaction ends.
    Started,
}

#[derive(Debug, Default)]
struct StreamState {
    next_offset: u64,
    selected_db: Option<usize>,
    sinks: Vec<Arc<dyn PropagationSink>>,
    transaction: Transaction,
}

/// The ordered fan-out of writes to subscribers.
#[derive(Debug, Default)]
pub struct Propagator {
    state: Mutex<StreamState>,
    has_sinks: AtomicBool,
}

impl Propagator {
    /// Whether anyone listens; when nobody does, writes skip building their records.
    pub fn is_active(&self) -> bool {
        self.has_sinks.load(Ordering::Acquire)
    }

    /// Adds a subscriber; it receives every record from now on.
    pub fn subscribe(&self, sink: Arc<dyn PropagationSink>) {
        let mut state = self.state.lock();
        state.sinks.push(sink);
        // The next record re-announces its database, so a new subscriber never guesses.
        state.selected_db = None;
        self.has_sinks.store(true, Ordering::Release);
    }

    /// Adds a subscriber and returns the offset its first record will start at.
    pub fn subscribe_at(&self, sink: Arc<dyn PropagationSink>) -> u64 {
        let mut state = self.state.lock();
        state.sinks.push(sink);
        state.selected_db = None;
        self.has_sinks.store(true, Ordering::Release);
        state.next_offset
    }

    /// Makes the next record announce its database with a SELECT, as if it changed: a
    /// consumer that starts reading the stream at this point (a replica after a full sync)
    /// then knows where the records apply.
    pub fn reannounce_db(&self) {
        self.state.lock().selected_db = None;
    }

    /// Removes a subscriber (compared by identity).
    pub fn unsubscribe(&self, sink: &Arc<dyn PropagationSink>) {
        let mut state = self.state.lock();
        state.sinks.retain(|s| !Arc::ptr_eq(s, sink));
        self.has_sinks
            .store(!state.sinks.is_empty(), Ordering::Release);
    }

    /// Offset the next record will start at.
    pub fn offset(&self) -> u64 {
        self.state.lock().next_offset
    }

    /// Emits one command applied to `db`, preceded by SELECT when the database changed (and by
    /// MULTI if it is the first write of a transaction).
    pub fn emit(&self, db: usize, args: &[Bytes]) {
        debug_assert!(!args.is_empty(), "empty propagation record");
        let mut state = self.state.lock();
        if state.sinks.is_empty() {
            return;
        }
        if state.selected_db != Some(db) {
            let select = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
            Self::deliver(&mut state, db, &select);
            state.selected_db = Some(db);
        }
        if state.transaction == Transaction::Open {
            Self::deliver(&mut state, db, &[Bytes::from_static(b"MULTI")]);
            state.transaction = Transaction::Started;
        }
        Self::deliver(&mut state, db, args);
    }

    /// Starts a transaction: the writes until [`Propagator::end_transaction`] go out between
    /// MULTI and EXEC (nothing at all if there is none), as Redis propagates EXEC. The caller
    /// keeps every other writer out meanwhile (the engine's gate).
    pub fn begin_transaction(&self) {
        let mut state = self.state.lock();
        assert_eq!(
            state.transaction,
            Transaction::Closed,
            "transactions do not nest"
        );
        state.transaction = Transaction::Open;
    }

    /// Ends the transaction begun by [`Propagator::begin_transaction`].
    pub fn end_transaction(&self) {
        let mut state = self.state.lock();
        if state.transaction == Transaction::Started && !state.sinks.is_empty() {
            let db = state.selected_db.unwrap_or(0);
            Self::deliver(&mut state, db, &[Bytes::from_static(b"EXEC")]);
        }
        state.transaction = Transaction::Closed;
    }

    fn deliver(state: &mut StreamState, db: usize, args: &[Bytes]) {
        let record = Record {
            offset: state.next_offset,
            db,
            args,
        };
        for sink in &state.sinks {
            sink.on_record(&record);
        }
        let end = record.end_offset();
        assert!(end > state.next_offset, "stream offset must grow");
        state.next_offset = end;
        EMITTED_END.set(end);
    }
}

/// A sink that keeps every record in memory: for tests and for embedded users who want to see
/// the stream.
#[derive(Debug, Default)]
pub struct RecordingSink {
    records: Mutex<Vec<(u64, usize, Vec<Bytes>)>>,
}

impl RecordingSink {
    /// The records received so far as (offset, db, args).
    pub fn records(&self) -> Vec<(u64, usize, Vec<Bytes>)> {
        self.records.lock().clone()
    }

    /// The received commands as text, SELECTs included: `["SELECT 0", "SET k v"]`.
    pub fn commands(&self) -> Vec<String> {
        let records = self.records.lock();
        records
            .iter()
            .map(|(_, _, args)| {
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
}

impl PropagationSink for RecordingSink {
    fn on_record(&self, record: &Record<'_>) {
        self.records
            .lock()
            .push((record.offset, record.db, record.args.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn transactions_are_wrapped_only_when_they_write() {
        let propagator = Propagator::default();
        let sink = Arc::new(RecordingSink::default());
        propagator.subscribe(sink.clone());
        propagator.begin_transaction();
        propagator.end_transaction();
        assert!(sink.commands().is_empty());
        propagator.begin_transaction();
        propagator.emit(2, &args(&["SET", "a", "1"]));
        propagator.emit(2, &args(&["DEL", "b"]));
        propagator.end_transaction();
        assert_eq!(
            sink.commands(),
            ["SELECT 2", "MULTI", "SET a 1", "DEL b", "EXEC"]
        );
    }

    #[test]
    fn a_thread_learns_where_its_own_last_record_ends_once() {
        let propagator = Arc::new(Propagator::default());
        propagator.subscribe(Arc::new(RecordingSink::default()));
        let _ = take_emitted_end();
        propagator.emit(0, &args(&["SET", "a", "1"]));
        let mine = propagator.offset();
        let other = Arc::clone(&propagator);
        std::thread::spawn(move || other.emit(0, &args(&["SET", "b", "2"])))
            .join()
            .unwrap();
        assert!(propagator.offset() > mine);
        assert_eq!(take_emitted_end(), Some(mine));
        assert_eq!(take_emitted_end(), None);
        propagator.begin_transaction();
        propagator.emit(0, &args(&["DEL", "a"]));
        propagator.end_transaction();
        assert_eq!(take_emitted_end(), Some(propagator.offset()), "EXEC counts");
    }

    #[test]
    fn length_matches_encoding() {
        let cmd = args(&["SET", "key", "a-longer-value-than-ten"]);
        let mut out = Vec::new();
        encode_resp_array(&cmd, &mut out);
        assert_eq!(out.len() as u64, resp_array_len(&cmd));
    }

    #[test]
    fn offsets_grow_by_encoded_length_and_select_is_inserted() {
        let propagator = Propagator::default();
        propagator.emit(0, &args(&["SET", "lost", "1"]));
        assert_eq!(
            propagator.offset(),
            0,
            "nothing is counted without subscribers"
        );
        let sink = Arc::new(RecordingSink::default());
        propagator.subscribe(sink.clone());
        propagator.emit(0, &args(&["SET", "a", "1"]));
        propagator.emit(0, &args(&["DEL", "a"]));
        propagator.emit(3, &args(&["DEL", "b"]));
        assert_eq!(
            sink.commands(),
            ["SELECT 0", "SET a 1", "DEL a", "SELECT 3", "DEL b"]
        );
        let records = sink.records();
        for pair in records.windows(2) {
            assert_eq!(pair[0].0 + resp_array_len(&pair[0].2), pair[1].0);
        }
        let last = records.last().map(|r| r.0 + resp_array_len(&r.2));
        assert_eq!(Some(propagator.offset()), last);
    }
}
