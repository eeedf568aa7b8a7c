//! The ACL log (ACL LOG): recent denied commands and failed authentications, newest first.
//! An event like one logged in the last 60 seconds (same reason, context, object and user)
//! bumps that entry's count instead of adding one, as Redis groups them; the log holds at most
//! `acllog-max-len` entries (trimmed when an entry is added).

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use slotkv_engine::Reply;

/// Events this close (milliseconds) to a similar entry join it.
const GROUPING_WINDOW_MS: u64 = 60_000;
/// Entries ACL LOG shows without a count.
pub const DEFAULT_SHOWN: usize = 10;
/// Longest object (key or channel name) kept in an entry.
const OBJECT_LEN_MAX: usize = 1024;

/// Why an event was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the denied command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
        }
    }
}

/// One event to log.
#[derive(Debug, Clone)]
pub struct Event {
    pub reason: Reason,
    pub context: Context,
    pub object: String,
    pub username: String,
    pub client_info: String,
}

#[derive(Debug)]
struct Entry {
    event: Event,
    count: u64,
    entry_id: u64,
    created_ms: u64,
    updated_ms: u64,
}

#[derive(Debug, Default)]
struct Entries {
    newest_first: VecDeque<Entry>,
    next_id: u64,
}

/// The log.
#[derive(Debug, Default)]
pub struct AclLog {
    entries: Mutex<Entries>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl AclLog {
    /// Records `event`, keeping at most `max_len` entries.
    pub fn add(&self, mut event: Event, max_len: usize) {
        truncate_utf8(&mut event.object, OBJECT_LEN_MAX);
        let now = now_ms();
        let mut entries = self.entries.lock();
        let similar = entries.newest_first.iter().position(|entry| {
            let old = &entry.event;
            old.reason == event.reason
                && old.context == event.context
                && old.object == event.object
                && old.username == event.username
                && now.saturating_sub(entry.updated_ms) <= GROUPING_WINDOW_MS
        });
        let entry = match similar.and_then(|at| entries.newest_first.remove(at)) {
            Some(mut entry) => {
                entry.count += 1;
                entry.updated_ms = now;
                entry.event.client_info = event.client_info;
                entry
            }
            None => {
                let entry_id = entries.next_id;
                entries.next_id += 1;
                Entry {
                    event,
                    count: 1,
                    entry_id,
                    created_ms: now,
                    updated_ms: now,
                }
            }
        };
        entries.newest_first.push_front(entry);
        entries.newest_first.truncate(max_len);
    }

    /// ACL LOG RESET.
    pub fn reset(&self) {
        self.entries.lock().newest_first.clear();
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.lock().newest_first.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// ACL LOG [count]: the newest `count` entries.
    pub fn reply(&self, count: usize) -> Reply {
        let now = now_ms();
        let entries = self.entries.lock();
        Reply::Array(
            entries
                .newest_first
                .iter()
                .take(count)
                .map(|entry| entry_reply(entry, now))
                .collect(),
        )
    }
}

fn entry_reply(entry: &Entry, now: u64) -> Reply {
    let event = &entry.event;
    let age_secs = now.saturating_sub(entry.created_ms) as f64 / 1000.0;
    Reply::Map(vec![
        (Reply::text("count"), Reply::Integer(entry.count as i64)),
        (Reply::text("reason"), Reply::text(event.reason.name())),
        (Reply::text("context"), Reply::text(event.context.name())),
        (Reply::text("object"), Reply::text(&event.object)),
        (Reply::text("username"), Reply::text(&event.username)),
        (Reply::text("age-seconds"), Reply::Double(age_secs)),
        (Reply::text("client-info"), Reply::text(&event.client_info)),
        (
            Reply::text("entry-id"),
            Reply::Integer(entry.entry_id as i64),
        ),
        (
            Reply::text("timestamp-created"),
            Reply::Integer(entry.created_ms as i64),
        ),
        (
            Reply::text("timestamp-last-updated"),
            Reply::Integer(entry.updated_ms as i64),
        ),
    ])
}

fn truncate_utf8(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(object: &str) -> Event {
        Event {
            reason: Reason::Command,
            context: Context::Toplevel,
            object: object.to_owned(),
            username: "u".to_owned(),
            client_info: "id=1".to_owned(),
        }
    }

    fn field(entry: &Reply, name: &str) -> Option<Reply> {
        let Reply::Map(pairs) = entry else {
            return None;
        };
        pairs
            .iter()
            .find(|(key, _)| *key == Reply::text(name))
            .map(|(_, value)| value.clone())
    }

    #[test]
    fn similar_events_group_and_new_ones_get_the_next_id() {
        let log = AclLog::default();
        log.add(event("get"), 128);
        log.add(event("get"), 128);
        log.add(event("set"), 128);
        let Reply::Array(entries) = log.reply(10) else {
            panic!("array expected");
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(field(&entries[0], "object"), Some(Reply::text("set")));
        assert_eq!(field(&entries[0], "entry-id"), Some(Reply::Integer(1)));
        assert_eq!(field(&entries[1], "count"), Some(Reply::Integer(2)));
        assert_eq!(field(&entries[1], "entry-id"), Some(Reply::Integer(0)));
    }

    #[test]
    fn the_log_is_bounded_and_resets() {
        let log = AclLog::default();
        for n in 0..10 {
            log.add(event(&format!("k{n}")), 5);
        }
        assert_eq!(log.len(), 5);
        log.add(event("x"), 0);
        assert!(log.is_empty());
        log.add(event("y"), 3);
        log.reset();
        assert!(log.is_empty());
    }
}
