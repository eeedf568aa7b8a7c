//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, RENAME(NX), COPY, KEYS, SCAN, RANDOMKEY,
//! the EXPIRE family, TTL and friends, PERSIST, TOUCH and OBJECT (ENCODING, FREQ, IDLETIME,
//! REFCOUNT).
//!
//! Each handler only parses its arguments and formats its reply; the work is done by a
//! function the typed API ([`crate::api::keys`]) calls too, so both paths share one
//! implementation, propagation included.
//!
//! Commands that walk the keyspace (KEYS, SCAN, RANDOMKEY) lock one slot at a time, so a long
//! walk never stalls writers of other slots, and reclaim the expired keys of every slot they
//! visit (a replica hides them instead), so they never return a key whose deadline has passed.

use bytes::Bytes;
use rand::Rng;

use crate::command::{
    is_keyword, parse_i64_arg, Args, CommandSpec, Flags, Group, Handler, KeyRange,
};
use crate::commands::server::database_index;
use crate::error::CommandError;
use crate::evict::access::{lfu_decayed, lru_idle_ms};
use crate::evict::MaxmemoryPolicy;
use crate::exec::{Ctx, LiveTable};
use crate::glob::glob_match;
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::Reply;
use crate::slot::{key_slot, SLOT_COUNT};
use crate::value::{StrValue, Value};

const READ_FAST: Flags = Flags::READONLY.and(Flags::FAST);
const WRITE_FAST: Flags = Flags::WRITE.and(Flags::FAST);
/// Source and destination at positions 1 and 2 (RENAME, RENAMENX, COPY).
const TWO_KEYS: KeyRange = KeyRange::new(1, 2, 1);
/// SCAN's COUNT when none is given, as in Redis.
const SCAN_COUNT_DEFAULT: usize = 10;
/// Longest echo of a client's option in an error line (the option may be megabytes long).
const ERROR_ECHO_CHARS_MAX: usize = 128;

/// A command on one key (position 1) of the generic group.
const fn key_command(
    name: &'static str,
    arity: i32,
    handler: fn(&mut Ctx<'_>, &[Bytes]) -> Result<Reply, CommandError>,
    flags: Flags,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, Handler::Engine(handler))
        .flags(flags)
        .keys(KeyRange::FIRST)
        .doc(Group::Generic, since, summary)
}

static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("object|encoding", 3, Handler::Engine(object_encoding))
        .flags(Flags::READONLY)
        .keys(KeyRange::new(2, 2, 1))
        .doc(
            Group::Generic,
            "2.2.3",
            "Returns the internal encoding of a Redis object.",
        ),
    CommandSpec::new("object|freq", 3, Handler::Engine(object_freq))
        .flags(Flags::READONLY)
        .keys(KeyRange::new(2, 2, 1))
        .doc(
            Group::Generic,
            "4.0.0",
            "Returns the logarithmic access frequency counter of a Redis object.",
        ),
    CommandSpec::new("object|idletime", 3, Handler::Engine(object_idletime))
        .flags(Flags::READONLY)
        .keys(KeyRange::new(2, 2, 1))
        .doc(
            Group::Generic,
            "2.2.3",
            "Returns the time since the last access to a Redis object.",
        ),
    CommandSpec::new("object|refcount", 3, Handler::Engine(object_refcount))
        .flags(Flags::READONLY)
        .keys(KeyRange::new(2, 2, 1))
        .doc(
            Group::Generic,
            "2.2.3",
            "Returns the reference count of a value of a key.",
        ),
    CommandSpec::new("object|help", 2, Handler::Engine(object_help))
        .flags(Flags::LOADING.and(Flags::STALE))
        .doc(
            Group::Generic,
            "6.2.0",
            "Returns helpful text about the different subcommands.",
        ),
];

pub(crate) static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, Handler::Engine(del))
        .flags(Flags::WRITE)
        .keys(KeyRange::ALL)
        .doc(Group::Generic, "1.0.0", "Deletes one or more keys."),
    CommandSpec::new("unlink", -2, Handler::Engine(del))
        .flags(WRITE_FAST)
        .keys(KeyRange::ALL)
        .doc(
            Group::Generic,
            "4.0.0",
            "Asynchronously deletes one or more keys.",
        ),
    CommandSpec::new("exists", -2, Handler::Engine(exists))
        .flags(READ_FAST)
        .keys(KeyRange::ALL)
        .doc(
            Group::Generic,
            "1.0.0",
            "Determines whether one or more keys exist.",
        ),
    CommandSpec::new("touch", -2, Handler::Engine(touch))
        .flags(READ_FAST)
        .keys(KeyRange::ALL)
        .doc(
            Group::Generic,
            "3.2.1",
            "Returns the number of existing keys out of those specified after updating the time \
             they were last accessed.",
        ),
    key_command(
        "type",
        2,
        key_type,
        READ_FAST,
        "1.0.0",
        "Determines the type of value stored at a key.",
    ),
    CommandSpec::new("rename", 3, Handler::Engine(rename))
        .flags(Flags::WRITE)
        .keys(TWO_KEYS)
        .doc(
            Group::Generic,
            "1.0.0",
            "Renames a key and overwrites the destination.",
        ),
    CommandSpec::new("renamenx", 3, Handler::Engine(renamenx))
        .flags(WRITE_FAST)
        .keys(TWO_KEYS)
        .doc(
            Group::Generic,
            "1.0.0",
            "Renames a key only when the target key name doesn't exist.",
        ),
    CommandSpec::new("copy", -3, Handler::Engine(copy))
        .flags(Flags::WRITE.and(Flags::DENYOOM))
        .keys(TWO_KEYS)
        .doc(
            Group::Generic,
            "6.2.0",
            "Copies the value of a key to a new key.",
        ),
    CommandSpec::new("keys", 2, Handler::Engine(keys))
        .flags(Flags::READONLY)
        .doc(
            Group::Generic,
            "1.0.0",
            "Returns all key names that match a pattern.",
        ),
    CommandSpec::new("scan", -2, Handler::Engine(scan))
        .flags(Flags::READONLY)
        .doc(
            Group::Generic,
            "2.8.0",
            "Iterates over the key names in the database.",
        ),
    CommandSpec::new("randomkey", 1, Handler::Engine(randomkey))
        .flags(Flags::READONLY)
        .doc(
            Group::Generic,
            "1.0.0",
            "Returns a random key name from the database.",
        ),
    key_command(
        "expire",
        -3,
        expire,
        WRITE_FAST,
        "1.0.0",
        "Sets the expiration time of a key in seconds.",
    ),
    key_command(
        "pexpire",
        -3,
        pexpire,
        WRITE_FAST,
        "2.6.0",
        "Sets the expiration time of a key in milliseconds.",
    ),
    key_command(
        "expireat",
        -3,
        expireat,
        WRITE_FAST,
        "1.2.0",
        "Sets the expiration time of a key to a Unix timestamp.",
    ),
    key_command(
        "pexpireat",
        -3,
        pexpireat,
        WRITE_FAST,
        "2.6.0",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
    ),
    key_command(
        "ttl",
        2,
        ttl,
        READ_FAST,
        "1.0.0",
        "Returns the expiration time in seconds of a key.",
    ),
    key_command(
        "pttl",
        2,
        pttl,
        READ_FAST,
        "2.6.0",
        "Returns the expiration time in milliseconds of a key.",
    ),
    key_command(
        "expiretime",
        2,
        expiretime,
        READ_FAST,
        "7.0.0",
        "Returns the expiration time of a key as a Unix timestamp.",
    ),
    key_command(
        "pexpiretime",
        2,
        pexpiretime,
        READ_FAST,
        "7.0.0",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
    ),
    key_command(
        "persist",
        2,
        persist,
        WRITE_FAST,
        "2.2.0",
        "Removes the expiration time of a key.",
    ),
    CommandSpec::new("object", -2, Handler::Container)
        .doc(
            Group::Generic,
            "2.2.3",
            "A container for object introspection commands.",
        )
        .subcommands(OBJECT_SUBCOMMANDS),
];

/// The arguments after the command name, as keys.
fn key_args(args: &[Bytes]) -> Vec<&[u8]> {
    args.get(1..)
        .unwrap_or_default()
        .iter()
        .map(|key| &key[..])
        .collect()
}

fn bytes_of(data: &[u8]) -> Bytes {
    Bytes::copy_from_slice(data)
}

/// A client's argument quoted in an error line: bounded, and without line breaks, which would
/// end the RESP error early.
fn quoted_in_error(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg)
        .chars()
        .take(ERROR_ECHO_CHARS_MAX)
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

// ---- DEL, UNLINK, EXISTS, TOUCH, TYPE ----

/// Removes `keys` (a key named twice counts once); returns how many existed. Each removal is
/// propagated as DEL.
pub(crate) fn delete_keys(ctx: &Ctx<'_>, keys: &[&[u8]]) -> i64 {
    let mut locks = ctx.lock_keys(keys);
    let mut removed = 0;
    for key in keys {
        if locks.remove(key).is_some() {
            removed += 1;
            locks.propagate(|| vec![Bytes::from_static(b"DEL"), bytes_of(key)]);
            locks.notify(Events::GENERIC, "del", key);
        }
    }
    removed
}

/// Number of `keys` that exist; a key named twice counts twice, as in Redis.
pub(crate) fn count_existing(ctx: &Ctx<'_>, keys: &[&[u8]]) -> i64 {
    let mut locks = ctx.lock_keys(keys);
    keys.iter().filter(|key| locks.read(key).is_some()).count() as i64
}

/// TYPE's name for the value at `key`, `None` when it does not exist.
pub(crate) fn type_of(ctx: &Ctx<'_>, key: &[u8]) -> Option<&'static str> {
    ctx.lock_key(key)
        .read(key)
        .map(|entry| entry.value.type_name())
}

// DEL and UNLINK share one implementation: freeing a string is a single deallocation, so
// there is nothing worth handing to a background thread (large collections may change that).
fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Integer(delete_keys(ctx, &key_args(args))))
}

fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Integer(count_existing(ctx, &key_args(args))))
}

// TOUCH answers as EXISTS does: reading a key stamps it as used (LRU clock or LFU counter),
// which is all a touch is.
fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Integer(count_existing(ctx, &key_args(args))))
}

fn key_type(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let name = type_of(ctx, &args[1]).unwrap_or("none");
    Ok(Reply::Simple(name.to_owned()))
}

// ---- RENAME, RENAMENX, COPY ----

/// Moves the value and deadline of `from` to `to` (RENAME), or only when `to` does not exist
/// (`only_if_absent`, RENAMENX). Returns whether the key moved; renaming a key to itself moves
/// nothing and counts as success for RENAME, as failure for RENAMENX, as in Redis.
pub(crate) fn rename_key(
    ctx: &Ctx<'_>,
    from: &[u8],
    to: &[u8],
    only_if_absent: bool,
) -> Result<bool, CommandError> {
    let mut locks = ctx.lock_keys(&[from, to]);
    if !locks.contains(from) {
        return Err(CommandError::NoSuchKey);
    }
    if from == to {
        return Ok(!only_if_absent);
    }
    if only_if_absent && locks.contains(to) {
        return Ok(false);
    }
    let Some(entry) = locks.remove(from) else {
        return Err(CommandError::NoSuchKey);
    };
    locks.insert(to, entry);
    let name: &'static [u8] = if only_if_absent {
        b"RENAMENX"
    } else {
        b"RENAME"
    };
    locks.propagate(|| vec![Bytes::from_static(name), bytes_of(from), bytes_of(to)]);
    locks.notify(Events::GENERIC, "rename_from", from);
    locks.notify(Events::GENERIC, "rename_to", to);
    Ok(true)
}

fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    rename_key(ctx, &args[1], &args[2], false)?;
    Ok(Reply::Ok)
}

fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let renamed = rename_key(ctx, &args[1], &args[2], true)?;
    Ok(Reply::Integer(renamed.into()))
}

/// Copies the value and deadline of `from` (selected database) to `to` in database `dst_db`,
/// replacing an existing `to` only when `replace` is set. Returns whether it copied.
fn copy_key(
    ctx: &Ctx<'_>,
    from: &[u8],
    to: &[u8],
    dst_db: usize,
    replace: bool,
) -> Result<bool, CommandError> {
    let src_db = ctx.db();
    if src_db == dst_db && from == to {
        return Err(CommandError::err(
            "source and destination objects are the same",
        ));
    }
    let mut targets = vec![(src_db, key_slot(from)), (dst_db, key_slot(to))];
    let mut locks = ctx.lock_targets(src_db, &mut targets);
    let Some(entry) = locks.read(from).cloned() else {
        return Ok(false);
    };
    locks.use_db(dst_db);
    if !replace && locks.contains(to) {
        return Ok(false);
    }
    locks.insert(to, entry);
    locks.propagate(|| {
        let mut record = vec![Bytes::from_static(b"COPY"), bytes_of(from), bytes_of(to)];
        if dst_db != src_db {
            record.push(Bytes::from_static(b"DB"));
            record.push(Bytes::from(dst_db.to_string()));
        }
        if replace {
            record.push(Bytes::from_static(b"REPLACE"));
        }
        record
    });
    // Reported in the destination database, the one `use_db` addressed above.
    locks.notify(Events::GENERIC, "copy_to", to);
    Ok(true)
}

fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let from = parser.next_bytes()?;
    let to = parser.next_bytes()?;
    let mut dst_db = ctx.db();
    let mut replace = false;
    while let Some(option) = parser.next_opt() {
        if is_keyword(option, "replace") {
            replace = true;
        } else if is_keyword(option, "db") && parser.remaining() >= 1 {
            dst_db = database_index(ctx, parser.next_i64()?)?;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let copied = copy_key(ctx, from, to, dst_db, replace)?;
    Ok(Reply::Integer(copied.into()))
}

// ---- KEYS, SCAN, RANDOMKEY ----

/// Visits the live table of each slot of the selected database from `first_slot` on, one slot
/// locked at a time, while `visit` returns true. Returns the slot after the last one visited
/// (`SLOT_COUNT` when the walk reached the end). An empty database is not walked at all (nor
/// are its tables allocated).
fn walk_slots(
    ctx: &Ctx<'_>,
    first_slot: usize,
    mut visit: impl FnMut(&LiveTable<'_>) -> bool,
) -> usize {
    let db = ctx.db();
    if ctx.engine.dbs[db].key_count() == 0 {
        return SLOT_COUNT;
    }
    for slot in first_slot..SLOT_COUNT {
        let slot_number = slot as u16;
        let mut locks = ctx.lock_slot(db, slot_number);
        if !visit(&locks.live_table(slot_number)) {
            return slot + 1;
        }
    }
    SLOT_COUNT
}

/// Every live key of the selected database that matches the glob `pattern`.
pub(crate) fn matching_keys(ctx: &Ctx<'_>, pattern: &[u8]) -> Vec<Bytes> {
    let match_all = pattern == b"*";
    let mut found = Vec::new();
    walk_slots(ctx, 0, |table| {
        let matching = table
            .iter()
            .filter(|(key, _)| match_all || glob_match(pattern, key, false))
            .map(|(key, _)| bytes_of(key));
        found.extend(matching);
        true
    });
    found
}

fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let found = matching_keys(ctx, &args[1]);
    Ok(Reply::Array(found.into_iter().map(Reply::Bulk).collect()))
}

/// SCAN's options.
#[derive(Debug)]
struct ScanOptions<'a> {
    count: usize,
    pattern: Option<&'a [u8]>,
    type_name: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    fn parse(parser: &mut Args<'a>) -> Result<Self, CommandError> {
        let mut options = ScanOptions {
            count: SCAN_COUNT_DEFAULT,
            pattern: None,
            type_name: None,
        };
        while let Some(option) = parser.next_opt() {
            let value = parser.next_bytes()?;
            if is_keyword(option, "count") {
                let count = parse_i64_arg(value)?;
                options.count = usize::try_from(count)
                    .ok()
                    .filter(|&c| c >= 1)
                    .ok_or(CommandError::Syntax)?;
            } else if is_keyword(option, "match") {
                options.pattern = Some(value);
            } else if is_keyword(option, "type") {
                options.type_name = Some(value);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(options)
    }

    /// Whether a visited key is returned. An unknown TYPE matches nothing, as in Redis 7.
    fn accepts(&self, key: &[u8], entry: &Entry) -> bool {
        self.pattern
            .is_none_or(|pattern| glob_match(pattern, key, false))
            && self
                .type_name
                .is_none_or(|name| is_keyword(name, entry.value.type_name()))
    }
}

/// SCAN's cursor: an unsigned decimal, as Redis reads it.
fn parse_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| CommandError::err("invalid cursor"))
}

/// One SCAN step. The cursor is the number of the next slot to visit; 0 starts and ends an
/// iteration. A step visits whole slots from the cursor on until at least `count` keys were
/// visited (counted before MATCH and TYPE filter them), so a reply holds at most `count` keys
/// plus one slot's worth. Since every slot is visited exactly once per iteration, under its lock,
/// every key present for the whole iteration is returned exactly once: a stronger promise than
/// Redis's (which may repeat keys). Returns the next cursor and the keys that passed the filters.
fn scan_step(ctx: &Ctx<'_>, cursor: u64, options: &ScanOptions<'_>) -> (u64, Vec<Bytes>) {
    let Some(first_slot) = usize::try_from(cursor).ok().filter(|&s| s < SLOT_COUNT) else {
        return (0, Vec::new());
    };
    let mut visited = 0;
    let mut found = Vec::new();
    let next_slot = walk_slots(ctx, first_slot, |table| {
        visited += table.len();
        let passing = table
            .iter()
            .filter(|(key, entry)| options.accepts(key, entry))
            .map(|(key, _)| bytes_of(key));
        found.extend(passing);
        visited < options.count
    });
    let next_cursor = if next_slot >= SLOT_COUNT {
        0
    } else {
        next_slot as u64
    };
    (next_cursor, found)
}

fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let cursor = parse_cursor(parser.next_bytes()?)?;
    let options = ScanOptions::parse(&mut parser)?;
    let (next_cursor, found) = scan_step(ctx, cursor, &options);
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next_cursor.to_string())),
        Reply::Array(found.into_iter().map(Reply::Bulk).collect()),
    ]))
}

/// A random live key of the selected database: a random key of the first non-empty slot at
/// or after a random slot. Keys in slots that follow long runs of empty slots are a little more
/// likely; with many keys every slot is occupied and the choice is close to uniform.
pub(crate) fn random_key(ctx: &Ctx<'_>) -> Option<Bytes> {
    let db = ctx.db();
    if ctx.engine.dbs[db].key_count() == 0 {
        return None;
    }
    let mut rng = rand::thread_rng();
    let start = rng.gen_range(0..SLOT_COUNT);
    for offset in 0..SLOT_COUNT {
        let slot = ((start + offset) % SLOT_COUNT) as u16;
        let mut locks = ctx.lock_slot(db, slot);
        let table = locks.live_table(slot);
        if !table.is_empty() {
            let pick = rng.gen_range(0..table.len());
            return table.iter().nth(pick).map(|(key, _)| bytes_of(key));
        }
    }
    None
}

fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::bulk_or_nil(random_key(ctx)))
}

// ---- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT ----

/// The NX / XX / GT / LT options of the EXPIRE family: which existing deadline a new one may
/// replace. A key without a deadline counts as expiring never (later than any deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExpireCondition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCondition {
    /// No option: any deadline may be set.
    pub(crate) const ALWAYS: ExpireCondition = ExpireCondition {
        nx: false,
        xx: false,
        gt: false,
        lt: false,
    };

    fn parse(options: &[Bytes]) -> Result<Self, CommandError> {
        let mut condition = Self::ALWAYS;
        for option in options {
            let flag = if is_keyword(option, "nx") {
                &mut condition.nx
            } else if is_keyword(option, "xx") {
                &mut condition.xx
            } else if is_keyword(option, "gt") {
                &mut condition.gt
            } else if is_keyword(option, "lt") {
                &mut condition.lt
            } else {
                return Err(CommandError::err(format!(
                    "Unsupported option {}",
                    quoted_in_error(option)
                )));
            };
            *flag = true;
        }
        if condition.nx && (condition.xx || condition.gt || condition.lt) {
            return Err(CommandError::err(
                "NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if condition.gt && condition.lt {
            return Err(CommandError::err(
                "GT and LT options at the same time are not compatible",
            ));
        }
        Ok(condition)
    }

    /// Whether a key whose deadline is `current` may get `deadline_ms`.
    fn permits(self, current: Option<u64>, deadline_ms: i64) -> bool {
        match current {
            None => !self.xx && !self.gt,
            Some(current) => {
                let current = i64::try_from(current).unwrap_or(i64::MAX);
                let refused = self.nx
                    || (self.gt && deadline_ms <= current)
                    || (self.lt && deadline_ms >= current);
                !refused
            }
        }
    }
}

/// Gives `key` the deadline `deadline_ms` (Unix ms) if `condition` permits. A deadline that is
/// not in the future deletes the key, propagated as DEL (except on a replica's primary link,
/// see [`crate::exec::Locks::past_deadlines_delete`]); otherwise the change is propagated as
/// PEXPIREAT with the absolute deadline. Returns whether the key was changed.
pub(crate) fn set_deadline(
    ctx: &Ctx<'_>,
    key: &[u8],
    deadline_ms: i64,
    condition: ExpireCondition,
) -> bool {
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.get(key) else {
        return false;
    };
    if !condition.permits(entry.expire_at_ms(), deadline_ms) {
        return false;
    }
    match u64::try_from(deadline_ms) {
        Ok(at_ms) if at_ms > locks.now_ms() || !locks.past_deadlines_delete() => {
            locks.set_expiry(key, Some(at_ms));
            locks.propagate(|| {
                vec![
                    Bytes::from_static(b"PEXPIREAT"),
                    bytes_of(key),
                    Bytes::from(at_ms.to_string()),
                ]
            });
            locks.notify(Events::GENERIC, "expire", key);
        }
        _ => {
            locks.remove(key);
            locks.propagate(|| vec![Bytes::from_static(b"DEL"), bytes_of(key)]);
            locks.notify(Events::GENERIC, "del", key);
        }
    }
    true
}

/// The shared body of the EXPIRE family: `unit_ms` is the argument's unit in ms, `relative`
/// whether it counts from now (EXPIRE, PEXPIRE) or from the Unix epoch (EXPIREAT, PEXPIREAT).
fn expire_command(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    name: &str,
    unit_ms: i64,
    relative: bool,
) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let amount_arg = parser.next_bytes()?;
    // Redis checks the options before the number.
    let condition = ExpireCondition::parse(parser.rest())?;
    let amount = parse_i64_arg(amount_arg)?;
    let base_ms = if relative {
        i64::try_from(ctx.now_ms()).unwrap_or(i64::MAX)
    } else {
        0
    };
    let deadline_ms = amount
        .checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(base_ms))
        .ok_or_else(|| CommandError::InvalidExpire(name.to_owned()))?;
    let changed = set_deadline(ctx, key, deadline_ms, condition);
    Ok(Reply::Integer(changed.into()))
}

fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    expire_command(ctx, args, "expire", 1000, true)
}

fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    expire_command(ctx, args, "pexpire", 1, true)
}

fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    expire_command(ctx, args, "expireat", 1000, false)
}

fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    expire_command(ctx, args, "pexpireat", 1, false)
}

// ---- TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST ----

/// A key's deadline as the TTL family reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// The key does not exist.
    Missing,
    /// The key exists and never expires.
    Never,
    /// The key expires at this Unix time in ms (always after the command's time).
    At(u64),
}

/// The deadline of `key` (a read: counts a keyspace hit or miss).
pub(crate) fn deadline_of(ctx: &Ctx<'_>, key: &[u8]) -> Deadline {
    match ctx.lock_key(key).read(key) {
        None => Deadline::Missing,
        Some(entry) => entry.expire_at_ms().map_or(Deadline::Never, Deadline::At),
    }
}

/// The TTL family's reply: -2 for a missing key, -1 for one without a deadline, otherwise
/// `show(deadline_ms, now_ms)`.
fn deadline_reply(ctx: &Ctx<'_>, key: &[u8], show: fn(u64, u64) -> u64) -> Reply {
    let value = match deadline_of(ctx, key) {
        Deadline::Missing => -2,
        Deadline::Never => -1,
        Deadline::At(at_ms) => i64::try_from(show(at_ms, ctx.now_ms())).unwrap_or(i64::MAX),
    };
    Reply::Integer(value)
}

/// Milliseconds to whole seconds, rounding half up as Redis does for TTL and EXPIRETIME.
fn rounded_seconds(ms: u64) -> u64 {
    ms.saturating_add(500) / 1000
}

fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(deadline_reply(ctx, &args[1], |at, now| {
        rounded_seconds(at.saturating_sub(now))
    }))
}

fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(deadline_reply(ctx, &args[1], |at, now| {
        at.saturating_sub(now)
    }))
}

fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(deadline_reply(ctx, &args[1], |at, _| rounded_seconds(at)))
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(deadline_reply(ctx, &args[1], |at, _| at))
}

/// Removes the deadline of `key`; returns whether it had one.
pub(crate) fn persist_key(ctx: &Ctx<'_>, key: &[u8]) -> bool {
    let mut locks = ctx.lock_key(key);
    let had_deadline = locks
        .get(key)
        .is_some_and(|entry| entry.expire_at_ms().is_some());
    if had_deadline {
        locks.set_expiry(key, None);
        locks.propagate(|| vec![Bytes::from_static(b"PERSIST"), bytes_of(key)]);
        locks.notify(Events::GENERIC, "persist", key);
    }
    had_deadline
}

fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Integer(persist_key(ctx, &args[1]).into()))
}

// ---- OBJECT ----

fn object_encoding(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let key = &args[2];
    let encoding = ctx
        .lock_key(key)
        .peek(key)
        .map(|entry| entry.value.encoding());
    Ok(encoding.map_or(Reply::Nil, Reply::text))
}

/// Redis's advice when OBJECT FREQ or IDLETIME is asked under the other kind of policy.
const POLICY_SWITCH_NOTE: &str = "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

fn object_freq(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let limits = ctx.memory_limits();
    if !limits.policy.is_lfu() {
        return Err(CommandError::err(format!(
            "An LFU maxmemory policy is not selected, access frequency not tracked. {POLICY_SWITCH_NOTE}"
        )));
    }
    let now_ms = ctx.now_ms();
    let key = &args[2];
    let counter = ctx
        .lock_key(key)
        .peek(key)
        .map(|entry| lfu_decayed(entry.access(), now_ms, limits.lfu_decay_minutes));
    Ok(counter.map_or(Reply::Nil, |c| Reply::Integer(c.into())))
}

fn object_idletime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    if ctx.memory_limits().policy.is_lfu() {
        return Err(CommandError::err(format!(
            "An LFU maxmemory policy is selected, idle time not tracked. {POLICY_SWITCH_NOTE}"
        )));
    }
    let now_ms = ctx.now_ms();
    let key = &args[2];
    let idle_ms = ctx
        .lock_key(key)
        .peek(key)
        .map(|entry| lru_idle_ms(entry.access(), now_ms));
    Ok(idle_ms.map_or(Reply::Nil, |ms| Reply::Integer((ms / 1000) as i64)))
}

/// Values are never shared between keys, so the count is 1, except for small integers: Redis
/// shares 0..9999 (reporting `i32::MAX`) unless an LRU or LFU limit needs a stamp per key, and
/// clients that look at REFCOUNT expect to see the same.
fn object_refcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    const SHARED_INTEGERS: std::ops::Range<i64> = 0..10_000;
    const SHARED_REFCOUNT: i64 = i32::MAX as i64;
    let limits = ctx.memory_limits();
    let per_key_stamps = limits.maxmemory_bytes > 0
        && matches!(
            limits.policy,
            MaxmemoryPolicy::AllKeysLru
                | MaxmemoryPolicy::VolatileLru
                | MaxmemoryPolicy::AllKeysLfu
                | MaxmemoryPolicy::VolatileLfu
        );
    let key = &args[2];
    let shared = |entry: &Entry| {
        !per_key_stamps
            && matches!(&entry.value, Value::Str(StrValue::Int(n)) if SHARED_INTEGERS.contains(n))
    };
    let count = ctx
        .lock_key(key)
        .peek(key)
        .map(|entry| if shared(entry) { SHARED_REFCOUNT } else { 1 });
    Ok(count.map_or(Reply::Nil, Reply::Integer))
}

fn object_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply, CommandError> {
    const LINES: [&str; 11] = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used to store the value of <key>.",
        "FREQ <key>",
        "    Return the logarithmic access frequency of <key> (under an LFU policy).",
        "IDLETIME <key>",
        "    Return the seconds since the last access to <key> (under any other policy).",
        "REFCOUNT <key>",
        "    Return the number of references to the value of <key>.",
        "HELP",
        "    Print this help.",
    ];
    Ok(Reply::Array(
        LINES
            .iter()
            .map(|line| Reply::Simple((*line).to_owned()))
            .collect(),
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    //! Unit tests, and the helpers the other command families' tests share.

    use std::sync::Arc;

    use bytes::Bytes;

    use crate::propagate::RecordingSink;
    use crate::{Config, Engine, ManualClock, Reply, Session};

    /// The clock's start: a realistic Unix time in ms.
    pub(crate) const START_MS: u64 = 1_700_000_000_000;

    /// An engine on a manual clock, without the background expire thread.
    pub(crate) fn engine() -> (Engine, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(START_MS));
        let config = Config::with_clock(clock.clone());
        (Engine::open(config).expect("engine opens"), clock)
    }

    /// An engine whose propagation stream is recorded.
    pub(crate) fn recorded_engine() -> (Engine, Arc<ManualClock>, Arc<RecordingSink>) {
        let (engine, clock) = engine();
        let sink = Arc::new(RecordingSink::default());
        engine.subscribe(sink.clone());
        (engine, clock, sink)
    }

    pub(crate) fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    /// Runs a command on database 0.
    pub(crate) fn run(engine: &Engine, words: &[&str]) -> Reply {
        engine.execute(&args(words))
    }

    /// Runs a command in `session`.
    pub(crate) fn run_in(engine: &Engine, session: &mut Session, words: &[&str]) -> Reply {
        engine.execute_in(session, &args(words))
    }

    pub(crate) fn int(n: i64) -> Reply {
        Reply::Integer(n)
    }

    pub(crate) fn bulk(text: &str) -> Reply {
        Reply::bulk(text.as_bytes())
    }

    pub(crate) fn err(line: &str) -> Reply {
        Reply::Error(line.to_owned())
    }

    pub(crate) fn simple(text: &str) -> Reply {
        Reply::Simple(text.to_owned())
    }

    /// The bulk strings of an array reply, sorted.
    pub(crate) fn sorted_bulks(reply: &Reply) -> Vec<String> {
        let Reply::Array(items) = reply else {
            panic!("not an array: {reply:?}");
        };
        let mut texts: Vec<String> = items
            .iter()
            .map(|item| match item {
                Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect();
        texts.sort();
        texts
    }

    fn set_all(engine: &Engine, keys: &[&str]) {
        for key in keys {
            assert_eq!(run(engine, &["SET", key, "v"]), Reply::Ok);
        }
    }

    #[test]
    fn del_and_unlink_count_removed_keys_and_propagate_one_del_each() {
        let (engine, _, sink) = recorded_engine();
        set_all(&engine, &["a", "b", "c"]);
        assert_eq!(run(&engine, &["DEL", "a", "a", "missing"]), int(1));
        assert_eq!(run(&engine, &["UNLINK", "b", "c", "b"]), int(2));
        assert_eq!(run(&engine, &["DEL", "a"]), int(0));
        let commands = sink.commands();
        assert_eq!(commands[4..], ["DEL a", "DEL b", "DEL c"]);
        assert_eq!(
            run(&engine, &["UNLINK"]),
            err("ERR wrong number of arguments for 'unlink' command")
        );
    }

    #[test]
    fn exists_and_touch_count_duplicates_and_propagate_nothing() {
        let (engine, _, sink) = recorded_engine();
        set_all(&engine, &["a", "b"]);
        let before = sink.commands().len();
        assert_eq!(run(&engine, &["EXISTS", "a", "a", "b", "x"]), int(3));
        assert_eq!(run(&engine, &["TOUCH", "a", "x", "b", "b"]), int(3));
        assert_eq!(run(&engine, &["EXISTS", "x"]), int(0));
        assert_eq!(sink.commands().len(), before);
    }

    #[test]
    fn type_names_the_value_or_none() {
        let (engine, _) = engine();
        set_all(&engine, &["s"]);
        assert_eq!(run(&engine, &["TYPE", "s"]), simple("string"));
        assert_eq!(run(&engine, &["TYPE", "nope"]), simple("none"));
    }

    #[test]
    fn rename_moves_value_and_deadline() {
        let (engine, _, sink) = recorded_engine();
        assert_eq!(run(&engine, &["SET", "a", "1"]), Reply::Ok);
        assert_eq!(run(&engine, &["PEXPIRE", "a", "5000"]), int(1));
        assert_eq!(run(&engine, &["SET", "b", "2"]), Reply::Ok);
        assert_eq!(run(&engine, &["RENAME", "a", "b"]), Reply::Ok);
        assert_eq!(run(&engine, &["GET", "b"]), bulk("1"));
        assert_eq!(run(&engine, &["PTTL", "b"]), int(5000));
        assert_eq!(run(&engine, &["EXISTS", "a"]), int(0));
        assert_eq!(
            sink.commands().last().map(String::as_str),
            Some("RENAME a b")
        );
        assert_eq!(run(&engine, &["RENAME", "a", "b"]), err("ERR no such key"));
        assert_eq!(run(&engine, &["RENAME", "b", "b"]), Reply::Ok);
        assert_eq!(run(&engine, &["RENAME", "a", "a"]), err("ERR no such key"));
        assert_eq!(
            sink.commands().last().map(String::as_str),
            Some("RENAME a b")
        );
    }

    #[test]
    fn renamenx_only_moves_to_a_free_name() {
        let (engine, _, sink) = recorded_engine();
        set_all(&engine, &["a", "b"]);
        assert_eq!(run(&engine, &["RENAMENX", "a", "b"]), int(0));
        assert_eq!(run(&engine, &["RENAMENX", "a", "a"]), int(0));
        assert_eq!(run(&engine, &["RENAMENX", "a", "c"]), int(1));
        assert_eq!(
            run(&engine, &["RENAMENX", "a", "d"]),
            err("ERR no such key")
        );
        assert_eq!(run(&engine, &["EXISTS", "a", "c"]), int(1));
        assert_eq!(
            sink.commands().last().map(String::as_str),
            Some("RENAMENX a c")
        );
    }

    #[test]
    fn copy_within_and_across_databases() {
        let (engine, _, sink) = recorded_engine();
        assert_eq!(run(&engine, &["SET", "src", "v"]), Reply::Ok);
        assert_eq!(run(&engine, &["PEXPIRE", "src", "9000"]), int(1));
        assert_eq!(run(&engine, &["COPY", "src", "dst"]), int(1));
        assert_eq!(run(&engine, &["PTTL", "dst"]), int(9000));
        assert_eq!(run(&engine, &["COPY", "src", "dst"]), int(0));
        assert_eq!(run(&engine, &["COPY", "src", "dst", "REPLACE"]), int(1));
        assert_eq!(run(&engine, &["COPY", "missing", "x"]), int(0));
        assert_eq!(run(&engine, &["COPY", "src", "src", "db", "3"]), int(1));
        let mut db3 = Session::new();
        assert_eq!(run_in(&engine, &mut db3, &["SELECT", "3"]), Reply::Ok);
        assert_eq!(run_in(&engine, &mut db3, &["GET", "src"]), bulk("v"));
        assert_eq!(run_in(&engine, &mut db3, &["PTTL", "src"]), int(9000));
        assert_eq!(
            sink.commands()[sink.commands().len() - 3..],
            ["COPY src dst", "COPY src dst REPLACE", "COPY src src DB 3"]
        );
    }

    #[test]
    fn copy_errors() {
        let (engine, _) = engine();
        set_all(&engine, &["a"]);
        let same = err("ERR source and destination objects are the same");
        assert_eq!(run(&engine, &["COPY", "a", "a"]), same);
        assert_eq!(run(&engine, &["COPY", "a", "a", "DB", "0"]), same);
        assert_eq!(
            run(&engine, &["COPY", "a", "b", "DB", "16"]),
            err("ERR DB index is out of range")
        );
        assert_eq!(
            run(&engine, &["COPY", "a", "b", "DB", "-1"]),
            err("ERR DB index is out of range")
        );
        assert_eq!(
            run(&engine, &["COPY", "a", "b", "DB", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(&engine, &["COPY", "a", "b", "DB"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&engine, &["COPY", "a", "b", "NOW"]),
            err("ERR syntax error")
        );
    }

    #[test]
    fn keys_matches_globs_and_skips_expired_keys() {
        let (engine, clock) = engine();
        set_all(&engine, &["hello", "hallo", "hxllo", "world", "h*"]);
        assert_eq!(
            sorted_bulks(&run(&engine, &["KEYS", "h?llo"])),
            ["hallo", "hello", "hxllo"]
        );
        assert_eq!(
            sorted_bulks(&run(&engine, &["KEYS", "h[ae]llo"])),
            ["hallo", "hello"]
        );
        assert_eq!(sorted_bulks(&run(&engine, &["KEYS", "h\\*"])), ["h*"]);
        assert_eq!(sorted_bulks(&run(&engine, &["KEYS", "*"])).len(), 5);
        assert_eq!(run(&engine, &["PEXPIRE", "world", "10"]), int(1));
        clock.advance(10);
        assert_eq!(
            sorted_bulks(&run(&engine, &["KEYS", "w*"])),
            Vec::<String>::new()
        );
        assert_eq!(engine.key_count(0), 4, "KEYS reclaimed the expired key");
        let mut db5 = Session::new();
        assert_eq!(run_in(&engine, &mut db5, &["SELECT", "5"]), Reply::Ok);
        assert_eq!(
            run_in(&engine, &mut db5, &["KEYS", "*"]),
            Reply::Array(vec![])
        );
    }

    /// Runs a full SCAN iteration; returns every key returned and the number of calls.
    fn scan_all(engine: &Engine, options: &[&str]) -> (Vec<String>, usize) {
        let mut cursor = "0".to_owned();
        let mut keys = Vec::new();
        let mut calls = 0;
        loop {
            let mut words = vec!["SCAN", cursor.as_str()];
            words.extend_from_slice(options);
            let reply = run(engine, &words);
            calls += 1;
            let Reply::Array(parts) = &reply else {
                panic!("SCAN replied {reply:?}");
            };
            keys.extend(sorted_bulks(&parts[1]));
            let Reply::Bulk(next) = &parts[0] else {
                panic!("bad cursor in {reply:?}");
            };
            cursor = String::from_utf8_lossy(next).into_owned();
            if cursor == "0" {
                break;
            }
        }
        keys.sort();
        (keys, calls)
    }

    #[test]
    fn scan_returns_every_key_once_in_bounded_steps() {
        let (engine, _) = engine();
        let names: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
        for name in &names {
            assert_eq!(run(&engine, &["SET", name, "1"]), Reply::Ok);
        }
        let mut expected = names.clone();
        expected.sort();
        let (keys, calls) = scan_all(&engine, &["COUNT", "20"]);
        assert_eq!(keys, expected);
        assert!((9..=11).contains(&calls), "{calls} calls");
        let (matching, _) = scan_all(&engine, &["MATCH", "key:1?", "COUNT", "1000"]);
        assert_eq!(matching.len(), 10);
        let (typed, _) = scan_all(&engine, &["TYPE", "STRING"]);
        assert_eq!(typed.len(), 200);
        let (unknown_type, _) = scan_all(&engine, &["TYPE", "nosuchtype"]);
        assert!(unknown_type.is_empty());
    }

    #[test]
    fn scan_edge_cases_and_errors() {
        let (engine, _) = engine();
        let done = Reply::Array(vec![bulk("0"), Reply::Array(vec![])]);
        assert_eq!(run(&engine, &["SCAN", "0"]), done);
        set_all(&engine, &["a"]);
        assert_eq!(run(&engine, &["SCAN", "16384"]), done);
        assert_eq!(
            run(&engine, &["SCAN", "0"]),
            Reply::Array(vec![bulk("0"), Reply::Array(vec![bulk("a")])])
        );
        assert_eq!(run(&engine, &["SCAN", "x"]), err("ERR invalid cursor"));
        assert_eq!(run(&engine, &["SCAN", "-1"]), err("ERR invalid cursor"));
        assert_eq!(
            run(&engine, &["SCAN", "0", "COUNT", "0"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&engine, &["SCAN", "0", "COUNT", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(&engine, &["SCAN", "0", "COUNT"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&engine, &["SCAN", "0", "LIMIT", "1"]),
            err("ERR syntax error")
        );
    }

    #[test]
    fn randomkey_never_returns_an_expired_key() {
        let (engine, clock) = engine();
        assert_eq!(run(&engine, &["RANDOMKEY"]), Reply::Nil);
        set_all(&engine, &["a", "b", "c", "live"]);
        for key in ["a", "b", "c"] {
            assert_eq!(run(&engine, &["PEXPIRE", key, "1"]), int(1));
        }
        clock.advance(1);
        for _ in 0..20 {
            assert_eq!(run(&engine, &["RANDOMKEY"]), bulk("live"));
        }
        assert_eq!(run(&engine, &["DEL", "live"]), int(1));
        assert_eq!(run(&engine, &["RANDOMKEY"]), Reply::Nil);
        assert_eq!(engine.key_count(0), 0);
    }

    #[test]
    fn a_follower_hides_expired_keys_from_walks_without_removing_them() {
        let (engine, clock) = engine();
        set_all(&engine, &["gone1", "gone2", "live"]);
        for key in ["gone1", "gone2"] {
            assert_eq!(run(&engine, &["PEXPIRE", key, "5"]), int(1));
        }
        engine.set_follower(true);
        clock.advance(5);
        assert_eq!(sorted_bulks(&run(&engine, &["KEYS", "*"])), ["live"]);
        let (scanned, _) = scan_all(&engine, &[]);
        assert_eq!(scanned, ["live"]);
        let (typed, _) = scan_all(&engine, &["TYPE", "string", "COUNT", "1"]);
        assert_eq!(typed, ["live"]);
        for _ in 0..20 {
            assert_eq!(run(&engine, &["RANDOMKEY"]), bulk("live"));
        }
        assert_eq!(
            engine.key_count(0),
            3,
            "hidden, not removed: the primary's DEL does"
        );
        // The primary's link sees every key, as the primary decides what expired.
        let mut link = Session::primary_link();
        assert_eq!(
            sorted_bulks(&run_in(&engine, &mut link, &["KEYS", "*"])),
            ["gone1", "gone2", "live"]
        );
        assert_eq!(run(&engine, &["DEL", "live"]), int(1));
        assert_eq!(run(&engine, &["RANDOMKEY"]), Reply::Nil);
        // Back to a primary: the walk reclaims them.
        engine.set_follower(false);
        assert_eq!(run(&engine, &["KEYS", "*"]), Reply::Array(vec![]));
        assert_eq!(engine.key_count(0), 0);
    }

    #[test]
    fn expire_family_sets_deadlines_and_propagates_pexpireat() {
        let (engine, _, sink) = recorded_engine();
        set_all(&engine, &["k"]);
        assert_eq!(run(&engine, &["EXPIRE", "k", "100"]), int(1));
        assert_eq!(run(&engine, &["TTL", "k"]), int(100));
        assert_eq!(run(&engine, &["PTTL", "k"]), int(100_000));
        assert_eq!(run(&engine, &["PEXPIRE", "k", "1500"]), int(1));
        assert_eq!(run(&engine, &["TTL", "k"]), int(2), "1.5 s rounds up");
        let at_s = START_MS / 1000 + 60;
        assert_eq!(run(&engine, &["EXPIREAT", "k", &at_s.to_string()]), int(1));
        assert_eq!(run(&engine, &["EXPIRETIME", "k"]), int(at_s as i64));
        let at_ms = START_MS + 1734;
        assert_eq!(
            run(&engine, &["PEXPIREAT", "k", &at_ms.to_string()]),
            int(1)
        );
        assert_eq!(run(&engine, &["PEXPIRETIME", "k"]), int(at_ms as i64));
        assert_eq!(
            run(&engine, &["EXPIRETIME", "k"]),
            int((at_ms / 1000) as i64 + 1)
        );
        assert_eq!(run(&engine, &["EXPIRE", "missing", "10"]), int(0));
        let commands = sink.commands();
        assert_eq!(
            commands[commands.len() - 4..],
            [
                format!("PEXPIREAT k {}", START_MS + 100_000),
                format!("PEXPIREAT k {}", START_MS + 1500),
                format!("PEXPIREAT k {}", at_s * 1000),
                format!("PEXPIREAT k {at_ms}"),
            ]
        );
    }

    #[test]
    fn a_deadline_in_the_past_deletes_the_key_as_del() {
        let (engine, _, sink) = recorded_engine();
        set_all(&engine, &["a", "b", "c"]);
        assert_eq!(run(&engine, &["EXPIRE", "a", "0"]), int(1));
        assert_eq!(run(&engine, &["PEXPIRE", "b", "-5"]), int(1));
        assert_eq!(run(&engine, &["EXPIREAT", "c", "1"]), int(1));
        assert_eq!(run(&engine, &["EXISTS", "a", "b", "c"]), int(0));
        assert_eq!(sink.commands()[4..], ["DEL a", "DEL b", "DEL c"]);
    }

    #[test]
    fn expire_options_follow_redis() {
        let (engine, _) = engine();
        set_all(&engine, &["k"]);
        // No deadline: NX and LT apply, XX and GT do not (no deadline is "infinite").
        assert_eq!(run(&engine, &["EXPIRE", "k", "100", "XX"]), int(0));
        assert_eq!(run(&engine, &["EXPIRE", "k", "100", "GT"]), int(0));
        assert_eq!(run(&engine, &["EXPIRE", "k", "100", "LT"]), int(1));
        assert_eq!(run(&engine, &["PERSIST", "k"]), int(1));
        assert_eq!(run(&engine, &["EXPIRE", "k", "100", "NX"]), int(1));
        // Deadline of 100 s.
        assert_eq!(run(&engine, &["EXPIRE", "k", "200", "NX"]), int(0));
        assert_eq!(run(&engine, &["EXPIRE", "k", "100", "GT"]), int(0));
        assert_eq!(run(&engine, &["EXPIRE", "k", "200", "gt"]), int(1));
        assert_eq!(run(&engine, &["EXPIRE", "k", "200", "LT"]), int(0));
        assert_eq!(run(&engine, &["EXPIRE", "k", "50", "XX", "LT"]), int(1));
        assert_eq!(run(&engine, &["TTL", "k"]), int(50));
        assert_eq!(run(&engine, &["EXPIRE", "k", "70", "XX", "GT"]), int(1));
        assert_eq!(run(&engine, &["TTL", "k"]), int(70));
    }

    #[test]
    fn expire_errors() {
        let (engine, _) = engine();
        set_all(&engine, &["k"]);
        let nx_with = err("ERR NX and XX, GT or LT options at the same time are not compatible");
        assert_eq!(run(&engine, &["EXPIRE", "k", "1", "NX", "XX"]), nx_with);
        assert_eq!(run(&engine, &["EXPIRE", "k", "1", "GT", "NX"]), nx_with);
        assert_eq!(
            run(&engine, &["EXPIRE", "k", "1", "GT", "LT"]),
            err("ERR GT and LT options at the same time are not compatible")
        );
        assert_eq!(
            run(&engine, &["EXPIRE", "k", "1", "SOON"]),
            err("ERR Unsupported option SOON")
        );
        assert_eq!(
            run(&engine, &["EXPIRE", "k", "x", "SOON"]),
            err("ERR Unsupported option SOON"),
            "options are checked before the number"
        );
        assert_eq!(
            run(&engine, &["EXPIRE", "k", "1.5"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(&engine, &["EXPIRE", "k", "9223372036854775807"]),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            run(&engine, &["EXPIRE", "k", "9223372036854775"]),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            run(&engine, &["PEXPIRE", "k", "9223372036854775807"]),
            err("ERR invalid expire time in 'pexpire' command")
        );
        assert_eq!(
            run(&engine, &["EXPIREAT", "k", "-9223372036854775807"]),
            err("ERR invalid expire time in 'expireat' command")
        );
        assert_eq!(
            run(&engine, &["PEXPIREAT", "k", "9223372036854775807"]),
            int(1)
        );
        assert_eq!(run(&engine, &["PEXPIRETIME", "k"]), int(i64::MAX));
    }

    #[test]
    fn ttl_family_on_missing_and_persistent_keys() {
        let (engine, _) = engine();
        set_all(&engine, &["k"]);
        for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
            assert_eq!(run(&engine, &[command, "missing"]), int(-2));
            assert_eq!(run(&engine, &[command, "k"]), int(-1));
        }
    }

    #[test]
    fn persist_removes_a_deadline_and_propagates_only_changes() {
        let (engine, clock, sink) = recorded_engine();
        set_all(&engine, &["k", "plain"]);
        assert_eq!(run(&engine, &["PEXPIRE", "k", "100"]), int(1));
        assert_eq!(run(&engine, &["PERSIST", "k"]), int(1));
        assert_eq!(run(&engine, &["PERSIST", "k"]), int(0));
        assert_eq!(run(&engine, &["PERSIST", "plain"]), int(0));
        assert_eq!(run(&engine, &["PERSIST", "missing"]), int(0));
        clock.advance(200);
        assert_eq!(run(&engine, &["GET", "k"]), bulk("v"));
        assert_eq!(
            sink.commands()[3..],
            [
                format!("PEXPIREAT k {}", START_MS + 100),
                "PERSIST k".to_owned()
            ]
        );
    }

    #[test]
    fn object_encoding_and_help() {
        let (engine, _) = engine();
        assert_eq!(run(&engine, &["SET", "n", "12"]), Reply::Ok);
        assert_eq!(run(&engine, &["SET", "s", "text"]), Reply::Ok);
        assert_eq!(run(&engine, &["SET", "long", &"x".repeat(45)]), Reply::Ok);
        assert_eq!(run(&engine, &["OBJECT", "ENCODING", "n"]), bulk("int"));
        assert_eq!(run(&engine, &["object", "encoding", "s"]), bulk("embstr"));
        assert_eq!(run(&engine, &["OBJECT", "ENCODING", "long"]), bulk("raw"));
        assert_eq!(run(&engine, &["OBJECT", "ENCODING", "missing"]), Reply::Nil);
        let Reply::Array(help) = run(&engine, &["OBJECT", "HELP"]) else {
            panic!("OBJECT HELP is an array");
        };
        assert!(help.contains(&simple("ENCODING <key>")));
        assert_eq!(
            run(&engine, &["OBJECT", "NOPE"]),
            err("ERR unknown subcommand 'NOPE'. Try OBJECT HELP.")
        );
        assert_eq!(
            run(&engine, &["OBJECT", "ENCODING"]),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
    }

    #[test]
    fn specs_match_command_info() {
        let table = crate::command::CommandTable::global();
        let info = |name: &str| {
            let spec = table.lookup(name.as_bytes()).expect("registered");
            (
                spec.arity,
                spec.flags.names().collect::<Vec<_>>(),
                (spec.keys.first, spec.keys.last, spec.keys.step),
            )
        };
        assert_eq!(info("del"), (-2, vec!["write"], (1, -1, 1)));
        assert_eq!(info("unlink"), (-2, vec!["write", "fast"], (1, -1, 1)));
        assert_eq!(info("exists"), (-2, vec!["readonly", "fast"], (1, -1, 1)));
        assert_eq!(info("rename"), (3, vec!["write"], (1, 2, 1)));
        assert_eq!(info("copy"), (-3, vec!["write", "denyoom"], (1, 2, 1)));
        assert_eq!(info("scan"), (-2, vec!["readonly"], (0, 0, 0)));
        assert_eq!(info("expire"), (-3, vec!["write", "fast"], (1, 1, 1)));
        assert_eq!(info("ttl"), (2, vec!["readonly", "fast"], (1, 1, 1)));
        let object = table.lookup(b"object").expect("registered");
        let encoding = object.subcommand(b"encoding").expect("registered");
        assert_eq!((encoding.keys.first, encoding.keys.last), (2, 2));
    }
}
