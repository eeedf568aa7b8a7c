//! Keyspace notifications: which events a `notify-keyspace-events` setting enables, and the
//! hook through which the engine reports them. Commands call [`crate::exec::Locks::notify`]
//! after a change; when the class is enabled the server publishes the event on
//! `__keyspace@<db>__:<key>` and/or `__keyevent@<db>__:<event>`, as Redis does.

use std::fmt;

/// A set of event classes and targets, as the letters of `notify-keyspace-events` give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Events(u16);

impl Events {
    pub const NONE: Events = Events(0);
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: Events = Events(1);
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: Events = Events(1 << 1);
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: Events = Events(1 << 2);
    /// `$`: string commands.
    pub const STRING: Events = Events(1 << 3);
    /// `l`: list commands.
    pub const LIST: Events = Events(1 << 4);
    /// `s`: set commands.
    pub const SET: Events = Events(1 << 5);
    /// `h`: hash commands.
    pub const HASH: Events = Events(1 << 6);
    /// `z`: sorted set commands.
    pub const ZSET: Events = Events(1 << 7);
    /// `x`: a key expired.
    pub const EXPIRED: Events = Events(1 << 8);
    /// `e`: a key was evicted.
    pub const EVICTED: Events = Events(1 << 9);
    /// `t`: stream commands.
    pub const STREAM: Events = Events(1 << 10);
    /// `m`: a read missed its key.
    pub const KEY_MISS: Events = Events(1 << 11);
    /// `d`: module events.
    pub const MODULE: Events = Events(1 << 12);
    /// `n`: a key was created.
    pub const NEW: Events = Events(1 << 13);

    /// `A`: every class but `m` and `n`, as in Redis.
    const ALL: Events = Events(
        Self::GENERIC.0
            | Self::STRING.0
            | Self::LIST.0
            | Self::SET.0
            | Self::HASH.0
            | Self::ZSET.0
            | Self::EXPIRED.0
            | Self::EVICTED.0
            | Self::STREAM.0
            | Self::MODULE.0,
    );

    /// The class letters in the order CONFIG GET prints them (Redis's order): the classes `A`
    /// stands for, then `n`; the targets and `m` follow them (see the `Display` impl).
    const CLASSES: [(char, Events); 11] = [
        ('g', Self::GENERIC),
        ('$', Self::STRING),
        ('l', Self::LIST),
        ('s', Self::SET),
        ('h', Self::HASH),
        ('z', Self::ZSET),
        ('x', Self::EXPIRED),
        ('e', Self::EVICTED),
        ('t', Self::STREAM),
        ('d', Self::MODULE),
        ('n', Self::NEW),
    ];

    /// Printed after the classes, in this order.
    const TRAILING: [(char, Events); 3] = [
        ('K', Self::KEYSPACE),
        ('E', Self::KEYEVENT),
        ('m', Self::KEY_MISS),
    ];

    /// Parses the letters of `notify-keyspace-events` (`KEA`, `Ex`, ...); `None` for an
    /// unknown letter. A setting without K nor E enables nothing, as in Redis.
    pub fn parse(text: &str) -> Option<Events> {
        text.chars().try_fold(Events::NONE, |events, letter| {
            let class = match letter {
                'A' => Self::ALL,
                _ => {
                    Self::CLASSES
                        .iter()
                        .chain(&Self::TRAILING)
                        .find(|(l, _)| *l == letter)?
                        .1
                }
            };
            Some(Events(events.0 | class.0))
        })
    }

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Events) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether events of `class` are published anywhere.
    pub fn publishes(self, class: Events) -> bool {
        self.0 & class.0 != 0 && self.0 & (Self::KEYSPACE.0 | Self::KEYEVENT.0) != 0
    }

    /// The bits, for storing in an atomic.
    pub fn bits(self) -> u16 {
        self.0
    }

    /// Events from stored bits.
    pub fn from_bits(bits: u16) -> Events {
        Events(bits)
    }
}

impl fmt::Display for Events {
    /// Redis's CONFIG GET form: `A` when every class it stands for is on, else those classes
    /// one by one; then `n`, `K`, `E` and `m`. (Redis drops `n` when it prints `A`, so that
    /// `KEAn` reads back as `AKE`; slotkv keeps it, printing `AnKE`.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = self.contains(Self::ALL);
        if all {
            f.write_str("A")?;
        }
        for (letter, class) in Self::CLASSES.iter().chain(&Self::TRAILING) {
            if self.contains(*class) && !(all && Self::ALL.contains(*class)) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// Where enabled events go (the server publishes them to pub/sub).
pub trait EventSink: Send + Sync + fmt::Debug {
    /// `event` happened to `key` of `db`; `events` says whether to publish on the keyspace
    /// channel, the keyevent channel, or both.
    fn on_event(&self, events: Events, db: usize, event: &str, key: &[u8]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_print_like_redis() {
        let all = Events::parse("KEA").expect("valid");
        assert!(all.publishes(Events::STRING) && all.publishes(Events::EXPIRED));
        assert!(!all.publishes(Events::KEY_MISS));
        assert_eq!(all.to_string(), "AKE");
        let expired = Events::parse("Ex").expect("valid");
        assert_eq!(expired.to_string(), "xE");
        assert!(expired.publishes(Events::EXPIRED) && !expired.publishes(Events::GENERIC));
        assert!(
            !Events::parse("g$")
                .expect("valid")
                .publishes(Events::GENERIC),
            "no K nor E"
        );
        assert_eq!(Events::parse("KEQ"), None);
        assert_eq!(
            Events::parse("").map(|e| e.to_string()),
            Some(String::new())
        );
    }

    #[test]
    fn new_and_keymiss_are_outside_a_and_print_in_redis_order() {
        let all = Events::parse("KEA").expect("valid");
        assert!(!all.publishes(Events::NEW) && !all.publishes(Events::KEY_MISS));
        let both = Events::parse("mEn").expect("valid");
        assert!(both.publishes(Events::NEW) && both.publishes(Events::KEY_MISS));
        assert_eq!(both.to_string(), "nEm");
        assert_eq!(Events::parse("Kmgd$").expect("valid").to_string(), "g$dKm");
        assert_eq!(Events::parse("KEAnm").expect("valid").to_string(), "AnKEm");
    }
}
