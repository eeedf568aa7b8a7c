//! The harness shared by the engine's integration tests: an engine on a manual clock with a
//! recording sink on its propagation stream, ways to run commands written as words, and the
//! reply constructors and error lines the tests compare against. One copy here keeps every test
//! binary driving the engine the same way.

// Each test binary uses its own subset of the harness.
#![allow(dead_code)]

use std::cell::Cell;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use slotkv_engine::notify::{EventSink, Events};
use slotkv_engine::propagate::RecordingSink;
use slotkv_engine::{Config, Engine, ManualClock, Reply, Session};

/// The manual clock's start: an arbitrary instant in 2023, in Unix ms.
pub const NOW_MS: u64 = 1_700_000_000_000;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";

/// An engine on a manual clock, with every propagated command recorded.
pub struct Db {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub sink: Arc<RecordingSink>,
    /// Records already returned by `take_propagated`.
    seen: Cell<usize>,
}

/// A fresh engine whose clock stands at `NOW_MS`.
pub fn db() -> Db {
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let engine = Engine::open(Config::with_clock(clock.clone())).expect("engine opens");
    let sink = Arc::new(RecordingSink::default());
    engine.subscribe(sink.clone());
    Db {
        engine,
        clock,
        sink,
        seen: Cell::new(0),
    }
}

impl Db {
    /// Runs a command written as space-separated words.
    pub fn run(&self, line: &str) -> Reply {
        let words: Vec<&str> = line.split_whitespace().collect();
        self.run_words(&words)
    }

    /// Runs a command given as words (which may hold spaces or be empty).
    pub fn run_words(&self, words: &[&str]) -> Reply {
        self.engine.execute(&args(words))
    }

    /// Runs a command given as raw arguments.
    pub fn run_args(&self, raw: &[&[u8]]) -> Reply {
        let raw: Vec<Bytes> = raw.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        self.engine.execute(&raw)
    }

    /// Runs a command given as words in `session`.
    pub fn run_in(&self, session: &mut Session, words: &[&str]) -> Reply {
        self.engine.execute_in(session, &args(words))
    }

    /// Runs several commands, asserting none fails (the set-up of a test).
    pub fn given(&self, lines: &[&str]) {
        for line in lines {
            let reply = self.run(line);
            assert!(!reply.is_error(), "{line}: {reply:?}");
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, ms: u64) {
        self.clock.advance(ms);
    }

    /// Commands propagated since the last call, SELECTs left out.
    pub fn take_propagated(&self) -> Vec<String> {
        let all = self.sink.commands();
        let fresh = all[self.seen.get()..]
            .iter()
            .filter(|c| !c.starts_with("SELECT "))
            .cloned()
            .collect();
        self.seen.set(all.len());
        fresh
    }

    /// OBJECT ENCODING of `key`.
    pub fn encoding(&self, key: &str) -> Reply {
        self.run(&format!("OBJECT ENCODING {key}"))
    }

    /// Whether `key` exists, asked with EXISTS.
    pub fn exists(&self, key: &str) -> bool {
        self.run(&format!("EXISTS {key}")) == int(1)
    }

    /// The whole list at `key`, head to tail.
    pub fn elements(&self, key: &str) -> Reply {
        self.run(&format!("LRANGE {key} 0 -1"))
    }
}

/// Command arguments from words.
pub fn args(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

pub fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

pub fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

pub fn err(line: &str) -> Reply {
    Reply::Error(line.to_owned())
}

pub fn array(items: Vec<Reply>) -> Reply {
    Reply::Array(items)
}

/// An array of bulk strings.
pub fn bulks(items: &[&str]) -> Reply {
    array(items.iter().map(|s| bulk(s)).collect())
}

/// An array of integers.
pub fn ints(items: &[i64]) -> Reply {
    array(items.iter().map(|&n| int(n)).collect())
}

/// The empty array.
pub fn empty() -> Reply {
    array(Vec::new())
}

/// Records every keyspace event as "event key", with " db<n>" added for databases other
/// than 0.
#[derive(Debug, Default)]
pub struct RecordedEvents(Mutex<Vec<String>>);

impl EventSink for RecordedEvents {
    fn on_event(&self, _: Events, db: usize, event: &str, key: &[u8]) {
        let mut line = format!("{event} {}", String::from_utf8_lossy(key));
        if db != 0 {
            line.push_str(&format!(" db{db}"));
        }
        self.0.lock().push(line);
    }
}

impl RecordedEvents {
    /// The events recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

impl Db {
    /// Turns every keyspace notification class `A` stands for on (`KEA`) and records the
    /// events.
    pub fn record_events(&self) -> Arc<RecordedEvents> {
        self.record_events_with("KEA")
    }

    /// Enables the notification classes of `setting` (`notify-keyspace-events` letters) and
    /// records the events.
    pub fn record_events_with(&self, setting: &str) -> Arc<RecordedEvents> {
        let events = Arc::new(RecordedEvents::default());
        self.engine.set_event_sink(events.clone());
        self.engine
            .set_keyspace_events(Events::parse(setting).expect("valid setting"));
        events
    }
}
