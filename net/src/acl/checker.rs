//! The permission check of one command against a user: the command (or subcommand) bit, then
//! the keys at the command's key positions with the access its read/write nature needs (the
//! sources of the `*STORE` family, BITOP, PFMERGE, COPY and SORT are only read), then
//! the channels of PUBLISH/SPUBLISH and the subscribe commands. A user passes if any selector
//! passes; otherwise the most specific denial is reported (channel over key over command), as
//! Redis does. Errors and DRYRUN texts are Redis 7's.

use bytes::Bytes;
use slotkv_engine::command::{CommandSpec, Flags};

use super::log::Reason;
use super::selector::{CommandIndex, KeyAccess, Selector};
use super::user::User;

/// Why a command was refused, with the argument at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    Command,
    Key(Bytes),
    Channel(Bytes),
}

impl Denial {
    fn rank(&self) -> u8 {
        match self {
            Denial::Command => 0,
            Denial::Key(_) => 1,
            Denial::Channel(_) => 2,
        }
    }

    /// The ACL LOG reason.
    pub fn reason(&self) -> Reason {
        match self {
            Denial::Command => Reason::Command,
            Denial::Key(_) => Reason::Key,
            Denial::Channel(_) => Reason::Channel,
        }
    }

    /// The ACL LOG object: the command's full name, the key or the channel.
    pub fn object(&self, spec: &CommandSpec) -> String {
        match self {
            Denial::Command => spec.name.to_owned(),
            Denial::Key(name) | Denial::Channel(name) => String::from_utf8_lossy(name).into_owned(),
        }
    }

    /// The error a client gets (without the `-`).
    pub fn error(&self, username: &str, spec: &CommandSpec) -> String {
        match self {
            Denial::Command => format!(
                "NOPERM User {username} has no permissions to run the '{}' command",
                spec.name
            ),
            Denial::Key(_) => "NOPERM No permissions to access a key".to_owned(),
            Denial::Channel(_) => "NOPERM No permissions to access a channel".to_owned(),
        }
    }

    /// ACL DRYRUN's text for this denial.
    pub fn dryrun_text(&self, username: &str, spec: &CommandSpec) -> String {
        match self {
            Denial::Command => format!(
                "User {username} has no permissions to run the '{}' command",
                spec.name
            ),
            Denial::Key(key) => format!(
                "User {username} has no permissions to access the '{}' key",
                String::from_utf8_lossy(key)
            ),
            Denial::Channel(channel) => format!(
                "User {username} has no permissions to access the '{}' channel",
                String::from_utf8_lossy(channel)
            ),
        }
    }
}

/// How a command names channels.
enum Channels<'a> {
    None,
    Names(&'a [Bytes]),
    Patterns(&'a [Bytes]),
}

fn channels_of<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> Channels<'a> {
    match spec.name {
        "publish" | "spublish" => Channels::Names(args.get(1..2).unwrap_or(&[])),
        "subscribe" | "ssubscribe" => Channels::Names(args.get(1..).unwrap_or(&[])),
        "psubscribe" => Channels::Patterns(args.get(1..).unwrap_or(&[])),
        _ => Channels::None,
    }
}

/// Shard-channel commands list their channels as keys; they are checked as channels only.
fn names_channels_as_keys(spec: &CommandSpec) -> bool {
    matches!(spec.name, "spublish" | "ssubscribe" | "sunsubscribe")
}

/// Which of a write command's keys (by their order in `key_positions`, of `count`) it only
/// reads, as Redis 7's key specifications say (`RO` sources, an `OW`/`RW` destination).
/// Every other key of a write command needs write access.
fn reads_only(spec: &CommandSpec, ordinal: usize, count: usize) -> bool {
    match spec.name {
        // Destination first, then the sources.
        "sinterstore" | "sunionstore" | "sdiffstore" | "zrangestore" | "bitop" | "pfmerge" => {
            ordinal > 0
        }
        // The counted sources, then the destination.
        "zunionstore" | "zinterstore" | "zdiffstore" => ordinal + 1 < count,
        // The key sorted or copied, then the STORE destination / the copy.
        "sort" | "copy" => ordinal == 0,
        _ => false,
    }
}

fn key_access(spec: &CommandSpec, ordinal: usize, count: usize) -> KeyAccess {
    if spec.flags.contains(Flags::WRITE) && reads_only(spec, ordinal, count) {
        KeyAccess::Read
    } else if spec.flags.contains(Flags::WRITE) {
        KeyAccess::Write
    } else if spec.flags.contains(Flags::READONLY) {
        KeyAccess::Read
    } else {
        KeyAccess::Any
    }
}

fn check_selector(
    selector: &Selector,
    id: usize,
    spec: &CommandSpec,
    args: &[Bytes],
) -> Result<(), Denial> {
    // AUTH, HELLO and QUIT (`no_auth`) are open to everyone, as in Redis.
    if !spec.flags.contains(Flags::NO_AUTH)
        && !selector.allows_command(id)
        && !selector.allows_first_arg(id, args.get(1).map(|arg| &arg[..]))
    {
        return Err(Denial::Command);
    }
    if spec.has_key_arguments() && !names_channels_as_keys(spec) {
        let positions = spec.key_positions(args);
        for (ordinal, &position) in positions.iter().enumerate() {
            if let Some(key) = args.get(position) {
                let access = key_access(spec, ordinal, positions.len());
                if !selector.allows_key(key, access) {
                    return Err(Denial::Key(key.clone()));
                }
            }
        }
    }
    let (names, is_pattern) = match channels_of(spec, args) {
        Channels::None => return Ok(()),
        Channels::Names(names) => (names, false),
        Channels::Patterns(patterns) => (patterns, true),
    };
    match names
        .iter()
        .find(|name| !selector.allows_channel(name, is_pattern))
    {
        Some(name) => Err(Denial::Channel(name.clone())),
        None => Ok(()),
    }
}

/// Whether `user` may run `spec` with `args` (a full command line).
pub fn check(user: &User, spec: &CommandSpec, args: &[Bytes]) -> Result<(), Denial> {
    let Some(id) = CommandIndex::global().id(spec) else {
        return Err(Denial::Command);
    };
    let mut worst: Option<Denial> = None;
    for selector in user.all_selectors() {
        match check_selector(selector, id, spec, args) {
            Ok(()) => return Ok(()),
            Err(denial) => {
                if worst.as_ref().is_none_or(|w| denial.rank() > w.rank()) {
                    worst = Some(denial);
                }
            }
        }
    }
    Err(worst.unwrap_or(Denial::Command))
}

/// Whether `user` may still hold a subscription (ACL SETUSER drops subscribers that lost one).
pub fn allows_subscription(user: &User, name: &[u8], is_pattern: bool) -> bool {
    user.all_selectors()
        .any(|selector| selector.allows_channel(name, is_pattern))
}
