//! List commands: Redis 7's list family without the blocking commands (LPUSH, RPUSH, LPUSHX,
//! RPUSHX, LPOP, RPOP, LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE,
//! RPOPLPUSH, LMPOP). The representation lives in [`crate::types::list`].
//!
//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) come with the server's blocking
//! infrastructure. They will reuse the shared operations below, which work on locks the caller
//! already holds and do not propagate: `pop_elements` (BLPOP/BRPOP), `pop_first_nonempty`
//! (BLMPOP, and BLPOP over several keys), `move_element` (BLMOVE, BRPOPLPUSH), with
//! `pop_record` and `move_record` giving the forms Redis propagates for them. Every push
//! (LPUSH, RPUSH and their X forms, the destination of LMOVE and RPOPLPUSH, rotations included)
//! goes through `push_elements`: that is where the "key became ready" signal for blocked
//! clients hooks in. LINSERT and LSET only change lists that exist, so they never make a key
//! ready.
//!
//! Keyspace notifications (class `l`) follow Redis: `lpush`/`rpush` for every push (the X forms
//! too), `lpop`/`rpop` for every pop (one event per command, whatever the count; LMPOP and the
//! source of LMOVE/RPOPLPUSH included), `lset`, `linsert`, `lrem`, `ltrim`, then a generic `del`
//! when the list empties. A move reports the pop on its source before the push on its
//! destination, the order Redis documents, and the source's `del` last. The shared operations
//! emit the push and pop events themselves, so the blocking commands inherit them.
//!
//! Propagation: commands are propagated as themselves, except LMPOP, which Redis rewrites as
//! `LPOP|RPOP key <number popped>`. A key emptied by a pop, LREM or LTRIM is deleted here and,
//! on replay, by the same command, so no DEL is added. Commands that change nothing (a pop of
//! 0 elements, LREM or LTRIM removing nothing, LINSERT without its pivot, an X-push on a missing
//! key) propagate nothing.

use std::ops::Range;

use bytes::Bytes;

use crate::command::{
    is_keyword, parse_i64_arg, parse_pop_count, Args, CommandSpec, Flags, Group, Handler, KeyRange,
    MovableKeys,
};
use crate::error::CommandError;
use crate::exec::{Ctx, Locks};
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::Reply;
use crate::types::list::{End, ListValue};
use crate::value::{parse_i64, Value};

const READ: Flags = Flags::READONLY;
const READ_FAST: Flags = Flags::READONLY.and(Flags::FAST);
const WRITE: Flags = Flags::WRITE;
const WRITE_FAST: Flags = Flags::WRITE.and(Flags::FAST);
const WRITE_OOM: Flags = Flags::WRITE.and(Flags::DENYOOM);
const WRITE_OOM_FAST: Flags = WRITE_OOM.and(Flags::FAST);
/// LMPOP finds its keys through `numkeys`: Redis's legacy triple is 0 0 0 with `movablekeys`.
const WRITE_MOVABLE: Flags = Flags::WRITE.and(Flags::MOVABLE_KEYS);
/// LMOVE and RPOPLPUSH: source and destination.
const TWO_KEYS: KeyRange = KeyRange::new(1, 2, 1);

/// A list command's table entry.
const fn command(
    name: &'static str,
    arity: i32,
    handler: fn(&mut Ctx<'_>, &[Bytes]) -> Result<Reply, CommandError>,
    flags: Flags,
    keys: KeyRange,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, Handler::Engine(handler))
        .flags(flags)
        .keys(keys)
        .doc(Group::List, since, summary)
}

#[rustfmt::skip]
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command("lpush", -3, lpush, WRITE_OOM_FAST, KeyRange::FIRST, "1.0.0",
        "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    command("rpush", -3, rpush, WRITE_OOM_FAST, KeyRange::FIRST, "1.0.0",
        "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    command("lpushx", -3, lpushx, WRITE_OOM_FAST, KeyRange::FIRST, "2.2.0",
        "Prepends one or more elements to a list only when the list exists."),
    command("rpushx", -3, rpushx, WRITE_OOM_FAST, KeyRange::FIRST, "2.2.0",
        "Appends an element to a list only when the list exists."),
    command("lpop", -2, lpop, WRITE_FAST, KeyRange::FIRST, "1.0.0",
        "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    command("rpop", -2, rpop, WRITE_FAST, KeyRange::FIRST, "1.0.0",
        "Returns and removes the last elements of the list. Deletes the list if the last element was popped."),
    command("llen", 2, llen, READ_FAST, KeyRange::FIRST, "1.0.0",
        "Returns the length of a list."),
    command("lrange", 4, lrange, READ, KeyRange::FIRST, "1.0.0",
        "Returns a range of elements from a list."),
    command("lindex", 3, lindex, READ, KeyRange::FIRST, "1.0.0",
        "Returns an element from a list by its index."),
    command("lset", 4, lset, WRITE_OOM, KeyRange::FIRST, "1.0.0",
        "Sets the value of an element in a list by its index."),
    command("linsert", 5, linsert, WRITE_OOM, KeyRange::FIRST, "2.2.0",
        "Inserts an element before or after another element in a list."),
    command("lrem", 4, lrem, WRITE, KeyRange::FIRST, "1.0.0",
        "Removes elements from a list. Deletes the list if the last element was removed."),
    command("ltrim", 4, ltrim, WRITE, KeyRange::FIRST, "1.0.0",
        "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    command("lpos", -3, lpos, READ, KeyRange::FIRST, "6.0.6",
        "Returns the index of matching elements in a list."),
    command("lmove", 5, lmove, WRITE_OOM, TWO_KEYS, "6.2.0",
        "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    command("rpoplpush", 3, rpoplpush, WRITE_OOM, TWO_KEYS, "1.2.0",
        "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    command("lmpop", -4, lmpop, WRITE_MOVABLE, KeyRange::NONE, "7.0.0",
        "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.")
        .movable_keys(MovableKeys::numkeys_at(1)),
];

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The list event of a push at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// The list event of a pop from `end`.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// Reports the generic `del` Redis emits when a command's change empties (deletes) a list.
fn notify_emptied(locks: &Locks<'_>, key: &[u8]) {
    locks.notify(Events::GENERIC, "del", key);
}

/// Reports list event `event` for `key`, then `del` if the change `emptied` it.
fn notify_change(locks: &Locks<'_>, event: &str, key: &[u8], emptied: bool) {
    locks.notify(Events::LIST, event, key);
    if emptied {
        notify_emptied(locks, key);
    }
}

/// The list inside `entry`, or WRONGTYPE.
fn list_of(entry: &Entry) -> Result<&ListValue, CommandError> {
    match &entry.value {
        Value::List(list) => Ok(list),
        _ => Err(CommandError::WrongType),
    }
}

/// The list inside `entry`, mutable, or WRONGTYPE.
fn list_of_mut(entry: &mut Entry) -> Result<&mut ListValue, CommandError> {
    match &mut entry.value {
        Value::List(list) => Ok(list),
        _ => Err(CommandError::WrongType),
    }
}

/// A propagation record: `name` followed by `args` (shared, not copied).
fn record(name: &'static str, args: impl IntoIterator<Item = Bytes>) -> Vec<Bytes> {
    std::iter::once(Bytes::from_static(name.as_bytes()))
        .chain(args)
        .collect()
}

/// A length as an integer reply (lengths are far below i64::MAX).
fn len_reply(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// Elements as an array of bulk strings.
fn bulk_array(elements: Vec<Bytes>) -> Reply {
    Reply::Array(elements.into_iter().map(Reply::Bulk).collect())
}

/// `LEFT` or `RIGHT`, else a syntax error.
fn parse_end(word: &[u8]) -> Result<End, CommandError> {
    if is_keyword(word, End::Left.keyword()) {
        Ok(End::Left)
    } else if is_keyword(word, End::Right.keyword()) {
        Ok(End::Right)
    } else {
        Err(CommandError::Syntax)
    }
}

/// The element at `index` of a list of `len` elements, negative indexes counting from the
/// tail (-1 is the last); `None` outside the list.
fn resolve_index(len: usize, index: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let index = if index < 0 { len + index } else { index };
    (0..len)
        .contains(&index)
        .then(|| usize::try_from(index).ok())
        .flatten()
}

/// The elements LRANGE and LTRIM keep from a list of `len` elements: negative indexes count
/// from the tail, `start` is clamped to the head and `stop` (inclusive) to the tail; `None`
/// when the range is empty.
fn clamp_range(len: usize, start: i64, stop: i64) -> Option<Range<usize>> {
    let len = i64::try_from(len).ok()?;
    // `len >= 0`, so adding a negative index cannot overflow.
    let from_tail = |index: i64| if index < 0 { len + index } else { index };
    let start = from_tail(start).max(0);
    let stop = from_tail(stop);
    if start > stop || start >= len {
        return None;
    }
    let stop = stop.min(len - 1);
    Some(usize::try_from(start).ok()?..usize::try_from(stop).ok()? + 1)
}

/// The single key of a one-key command.
fn only_key(args: &[Bytes]) -> Result<&Bytes, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    parser.finish()?;
    Ok(key)
}

/// The `key start stop` of LRANGE and LTRIM (the indexes are checked before the key, as in
/// Redis).
fn key_and_range(args: &[Bytes]) -> Result<(&Bytes, i64, i64), CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let start = parser.next_i64()?;
    let stop = parser.next_i64()?;
    parser.finish()?;
    Ok((key, start, stop))
}

// ---------------------------------------------------------------------------------------------
// Shared operations (the blocking commands will call these too)

/// Whether a push may create the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushMode {
    /// LPUSH, RPUSH, LMOVE's destination: create the list if needed.
    Create,
    /// LPUSHX, RPUSHX: push only onto an existing list.
    OnlyExisting,
}

/// Pushes `elements` one after the other at `end` of the list at `key` and returns its new
/// length; 0 when nothing was pushed (no list for an X-push, or no elements). Reports
/// `lpush`/`rpush` when it pushed.
///
/// Every push of the family comes through here. This is where the blocking commands
/// will hook in: when a push creates the list, `key` has become ready (Redis's
/// `signalKeyAsReady`, called when a list key is added), and clients blocked on it are to be
/// served after this command releases its locks. Pushes onto an existing list cannot wake
/// anyone: a client blocks only while the key has no list.
pub(crate) fn push_elements<E: AsRef<[u8]>>(
    locks: &mut Locks<'_>,
    key: &[u8],
    end: End,
    elements: &[E],
    mode: PushMode,
) -> Result<usize, CommandError> {
    let limit = locks.encodings().list_limit();
    let len = match locks.get_mut(key) {
        Some(entry) => {
            let list = list_of_mut(entry)?;
            list.extend(end, elements, limit);
            list.len()
        }
        None if mode == PushMode::OnlyExisting || elements.is_empty() => return Ok(0),
        None => {
            let mut list = ListValue::new();
            list.extend(end, elements, limit);
            let len = list.len();
            locks.insert(key, Entry::new(Value::List(list)));
            len
        }
    };
    if !elements.is_empty() {
        locks.notify(Events::LIST, push_event(end), key);
    }
    Ok(len)
}

/// Pops up to `count` elements from `end` of the list at `key`, in pop order, deleting the
/// key if it empties; `None` when the key does not exist. Reports the pop (and the `del`) when
/// something was popped. Does not propagate: the caller records the form it answers for (see
/// [`pop_record`]).
pub(crate) fn pop_elements(
    locks: &mut Locks<'_>,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Bytes>>, CommandError> {
    let Some(entry) = locks.get_mut(key) else {
        return Ok(None);
    };
    let list = list_of_mut(entry)?;
    let popped = list.pop_many(end, count);
    let emptied = list.is_empty();
    if emptied {
        locks.remove(key);
    }
    // A count of 0 pops nothing: nothing to report.
    if !popped.is_empty() {
        notify_change(locks, pop_event(end), key, emptied);
    }
    Ok(Some(popped))
}

/// Pops up to `count` (>= 1) elements from the first of `keys` that holds a list, as LMPOP:
/// missing keys are skipped, a key of another type stops the search with WRONGTYPE. Returns
/// the key and the elements, `None` when no key holds a list. Does not propagate.
pub(crate) fn pop_first_nonempty<'k, K: AsRef<[u8]>>(
    locks: &mut Locks<'_>,
    keys: &'k [K],
    end: End,
    count: usize,
) -> Result<Option<(&'k K, Vec<Bytes>)>, CommandError> {
    for key in keys {
        if let Some(popped) = pop_elements(locks, key.as_ref(), end, count)? {
            return Ok(Some((key, popped)));
        }
    }
    Ok(None)
}

/// LMOVE: pops an element from `from` of `source` and pushes it at `to` of `destination`
/// (which may be the same list: a rotation). `None` when `source` does not exist; both keys'
/// types are checked before anything changes. Reports the pop on `source`, the push on
/// `destination`, then `del` if `source` emptied. Does not propagate (see [`move_record`]).
pub(crate) fn move_element(
    locks: &mut Locks<'_>,
    source: &[u8],
    destination: &[u8],
    from: End,
    to: End,
) -> Result<Option<Bytes>, CommandError> {
    let Some(entry) = locks.get(source) else {
        return Ok(None);
    };
    list_of(entry)?;
    if source != destination {
        if let Some(entry) = locks.get(destination) {
            list_of(entry)?;
        }
    }
    let Some(entry) = locks.get_mut(source) else {
        return Ok(None);
    };
    let list = list_of_mut(entry)?;
    let Some(element) = list.pop(from) else {
        return Ok(None);
    };
    // A rotation leaves its list empty for a moment at most: keep the key (and its deadline)
    // for the push below.
    let emptied = list.is_empty() && source != destination;
    if emptied {
        locks.remove(source);
    }
    locks.notify(Events::LIST, pop_event(from), source);
    push_elements(locks, destination, to, &[&element], PushMode::Create)?;
    if emptied {
        notify_emptied(locks, source);
    }
    Ok(Some(Bytes::from(element)))
}

/// The record of a pop: `LPOP key` for a single element, `LPOP key <count>` for the counted
/// form (LPOP/RPOP with COUNT as given, LMPOP and BLMPOP with the number popped).
pub(crate) fn pop_record(end: End, key: &[u8], count: Option<usize>) -> Vec<Bytes> {
    let name = match end {
        End::Left => "LPOP",
        End::Right => "RPOP",
    };
    let key = Bytes::copy_from_slice(key);
    let count = count.map(|n| Bytes::from(n.to_string()));
    record(name, std::iter::once(key).chain(count))
}

/// The record of a move: `LMOVE source destination <from> <to>` (BLMOVE's form too).
pub(crate) fn move_record(source: &[u8], destination: &[u8], from: End, to: End) -> Vec<Bytes> {
    record(
        "LMOVE",
        [
            Bytes::copy_from_slice(source),
            Bytes::copy_from_slice(destination),
            Bytes::from_static(from.keyword().as_bytes()),
            Bytes::from_static(to.keyword().as_bytes()),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Pushes and pops

fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    push_command(ctx, args, End::Left, PushMode::Create, "LPUSH")
}

fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    push_command(ctx, args, End::Right, PushMode::Create, "RPUSH")
}

fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    push_command(ctx, args, End::Left, PushMode::OnlyExisting, "LPUSHX")
}

fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    push_command(ctx, args, End::Right, PushMode::OnlyExisting, "RPUSHX")
}

/// LPUSH, RPUSH, LPUSHX and RPUSHX: `key element [element ...]`, propagated as themselves.
fn push_command(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    end: End,
    mode: PushMode,
    name: &'static str,
) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let elements = parser.rest();
    let mut locks = ctx.lock_key(key);
    let len = push_elements(&mut locks, key, end, elements, mode)?;
    if len > 0 && !elements.is_empty() {
        locks.propagate(|| record(name, std::iter::once(key.clone()).chain(elements.to_vec())));
    }
    Ok(Reply::Integer(len_reply(len)))
}

fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    pop_command(ctx, args, End::Left, "lpop")
}

fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    pop_command(ctx, args, End::Right, "rpop")
}

/// LPOP and RPOP: `key [count]`. Without a count: the element or nil. With one: an array, the
/// null array when the key does not exist, and an empty array for a count of 0.
fn pop_command(ctx: &Ctx<'_>, args: &[Bytes], end: End, name: &str) -> Result<Reply, CommandError> {
    if args.len() > 3 {
        return Err(CommandError::WrongArity(name.to_owned()));
    }
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let count = parser
        .next_opt()
        .map(|arg| parse_pop_count(arg))
        .transpose()?;
    let mut locks = ctx.lock_key(key);
    let Some(popped) = pop_elements(&mut locks, key, end, count.unwrap_or(1))? else {
        return Ok(if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    if popped.is_empty() {
        return Ok(Reply::Array(Vec::new()));
    }
    locks.propagate(|| pop_record(end, key, count));
    Ok(match count {
        Some(_) => bulk_array(popped),
        None => Reply::bulk_or_nil(popped.into_iter().next()),
    })
}

// ---------------------------------------------------------------------------------------------
// Reads

fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let key = only_key(args)?;
    let mut locks = ctx.lock_key(key);
    let len = match locks.read(key) {
        Some(entry) => list_of(entry)?.len(),
        None => 0,
    };
    Ok(Reply::Integer(len_reply(len)))
}

fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, start, stop) = key_and_range(args)?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let list = list_of(entry)?;
    let Some(range) = clamp_range(list.len(), start, stop) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let elements = list.iter_from(range.start).take(range.len());
    Ok(Reply::Array(elements.map(Reply::bulk).collect()))
}

fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let index = parser.next_bytes()?;
    parser.finish()?;
    let mut locks = ctx.lock_key(key);
    // Redis looks the key up before reading the index.
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Nil);
    };
    let list = list_of(entry)?;
    let index = parse_i64_arg(index)?;
    let element = resolve_index(list.len(), index).and_then(|i| list.get(i));
    Ok(element.map_or(Reply::Nil, Reply::bulk))
}

/// LPOS's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PosQuery {
    /// Which match to start from: 1 is the first from the head, -1 the first from the tail.
    rank: i64,
    /// `COUNT`: how many matches to return (0 for all); `None` replies with one index or nil.
    count: Option<usize>,
    /// `MAXLEN`: how many elements to compare at most (0 for all).
    maxlen: usize,
}

impl PosQuery {
    /// Reads `[RANK rank] [COUNT num] [MAXLEN len]`, in any order, the last of each winning.
    fn parse(args: &mut Args<'_>) -> Result<PosQuery, CommandError> {
        let mut query = PosQuery {
            rank: 1,
            count: None,
            maxlen: 0,
        };
        while let Some(word) = args.next_opt() {
            let has_value = args.remaining() > 0;
            if has_value && is_keyword(word, "RANK") {
                query.rank = parse_rank(args.next_bytes()?)?;
            } else if has_value && is_keyword(word, "COUNT") {
                query.count = Some(parse_non_negative(args.next_bytes()?, "COUNT")?);
            } else if has_value && is_keyword(word, "MAXLEN") {
                query.maxlen = parse_non_negative(args.next_bytes()?, "MAXLEN")?;
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(query)
    }

    /// Indexes of the matches of `element` in `list`, in the order found.
    fn positions(&self, list: &ListValue, element: &[u8]) -> Vec<usize> {
        let len = list.len();
        let scanned = if self.maxlen == 0 {
            len
        } else {
            self.maxlen.min(len)
        };
        let skipped = usize::try_from(self.rank.unsigned_abs() - 1).unwrap_or(usize::MAX);
        let wanted = match self.count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        };
        let matches = |(_, e): &(usize, &[u8])| *e == element;
        if self.rank > 0 {
            list.iter()
                .take(scanned)
                .enumerate()
                .filter(matches)
                .skip(skipped)
                .take(wanted)
                .map(|(i, _)| i)
                .collect()
        } else {
            list.iter()
                .rev()
                .take(scanned)
                .enumerate()
                .filter(matches)
                .skip(skipped)
                .take(wanted)
                .map(|(i, _)| len - 1 - i)
                .collect()
        }
    }
}

/// LPOS's RANK: any integer but 0 and i64::MIN (whose opposite does not exist).
fn parse_rank(arg: &[u8]) -> Result<i64, CommandError> {
    match parse_i64_arg(arg)? {
        0 => Err(CommandError::err(
            "RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
             or use negative to start from the end of the list",
        )),
        i64::MIN => Err(CommandError::err(format!(
            "value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        ))),
        rank => Ok(rank),
    }
}

/// LPOS's COUNT and MAXLEN: a non-negative integer, with Redis's one error for anything else.
fn parse_non_negative(arg: &[u8], option: &str) -> Result<usize, CommandError> {
    parse_i64(arg)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| CommandError::err(format!("{option} can't be negative")))
}

fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let element = parser.next_bytes()?;
    let query = PosQuery::parse(&mut parser)?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(match query.count {
            Some(_) => Reply::Array(Vec::new()),
            None => Reply::Nil,
        });
    };
    let positions = query.positions(list_of(entry)?, element);
    let index_reply = |i: usize| Reply::Integer(len_reply(i));
    Ok(match query.count {
        Some(_) => Reply::Array(positions.into_iter().map(index_reply).collect()),
        None => positions.first().map_or(Reply::Nil, |&i| index_reply(i)),
    })
}

// ---------------------------------------------------------------------------------------------
// Updates in place

fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let index_arg = parser.next_bytes()?;
    let element = parser.next_bytes()?;
    parser.finish()?;
    let limit = ctx.encodings().list_limit();
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.get_mut(key) else {
        return Err(CommandError::NoSuchKey);
    };
    let list = list_of_mut(entry)?;
    let index = parse_i64_arg(index_arg)?;
    let replaced = resolve_index(list.len(), index).is_some_and(|i| list.set(i, element, limit));
    if !replaced {
        return Err(CommandError::err("index out of range"));
    }
    locks.notify(Events::LIST, "lset", key);
    locks.propagate(|| record("LSET", [key.clone(), index_arg.clone(), element.clone()]));
    Ok(Reply::Ok)
}

fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let place = parser.next_bytes()?;
    let pivot = parser.next_bytes()?;
    let element = parser.next_bytes()?;
    parser.finish()?;
    let (after, place_word) = if is_keyword(place, "AFTER") {
        (true, "AFTER")
    } else if is_keyword(place, "BEFORE") {
        (false, "BEFORE")
    } else {
        return Err(CommandError::Syntax);
    };
    let limit = ctx.encodings().list_limit();
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.get_mut(key) else {
        return Ok(Reply::Integer(0));
    };
    let list = list_of_mut(entry)?;
    let Some(at) = list.position(pivot) else {
        return Ok(Reply::Integer(-1));
    };
    list.insert(if after { at + 1 } else { at }, element, limit);
    let len = list.len();
    locks.notify(Events::LIST, "linsert", key);
    locks.propagate(|| {
        let place = Bytes::from_static(place_word.as_bytes());
        record(
            "LINSERT",
            [key.clone(), place, pivot.clone(), element.clone()],
        )
    });
    Ok(Reply::Integer(len_reply(len)))
}

fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let count = parser.next_i64()?;
    let element = parser.next_bytes()?;
    parser.finish()?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.get_mut(key) else {
        return Ok(Reply::Integer(0));
    };
    let list = list_of_mut(entry)?;
    // A negative count removes from the tail; 0 removes every match.
    let from = if count < 0 { End::Right } else { End::Left };
    let limit = match count {
        0 => usize::MAX,
        n => usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
    };
    let removed = list.remove_matching(element, limit, from);
    if removed == 0 {
        return Ok(Reply::Integer(0));
    }
    let emptied = list.is_empty();
    if emptied {
        locks.remove(key);
    }
    notify_change(&locks, "lrem", key, emptied);
    locks.propagate(|| {
        let count = Bytes::from(count.to_string());
        record("LREM", [key.clone(), count, element.clone()])
    });
    Ok(Reply::Integer(len_reply(removed)))
}

fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, start, stop) = key_and_range(args)?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.get_mut(key) else {
        return Ok(Reply::Ok);
    };
    let list = list_of_mut(entry)?;
    let len = list.len();
    let (front, back) = match clamp_range(len, start, stop) {
        Some(kept) => (kept.start, len - kept.end),
        None => (len, 0),
    };
    if front == 0 && back == 0 {
        return Ok(Reply::Ok);
    }
    list.trim(front, back);
    let emptied = list.is_empty();
    if emptied {
        locks.remove(key);
    }
    notify_change(&locks, "ltrim", key, emptied);
    locks.propagate(|| {
        let bound = |n: i64| Bytes::from(n.to_string());
        record("LTRIM", [key.clone(), bound(start), bound(stop)])
    });
    Ok(Reply::Ok)
}

// ---------------------------------------------------------------------------------------------
// Moves and multi-key pops

fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let source = parser.next_bytes()?;
    let destination = parser.next_bytes()?;
    let from = parse_end(parser.next_bytes()?)?;
    let to = parse_end(parser.next_bytes()?)?;
    parser.finish()?;
    let mut locks = ctx.lock_keys(&[&source[..], &destination[..]]);
    let Some(element) = move_element(&mut locks, source, destination, from, to)? else {
        return Ok(Reply::Nil);
    };
    locks.propagate(|| move_record(source, destination, from, to));
    Ok(Reply::Bulk(element))
}

fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let source = parser.next_bytes()?;
    let destination = parser.next_bytes()?;
    parser.finish()?;
    let mut locks = ctx.lock_keys(&[&source[..], &destination[..]]);
    let Some(element) = move_element(&mut locks, source, destination, End::Right, End::Left)?
    else {
        return Ok(Reply::Nil);
    };
    locks.propagate(|| record("RPOPLPUSH", [source.clone(), destination.clone()]));
    Ok(Reply::Bulk(element))
}

/// LMPOP's arguments: `numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
#[derive(Debug, PartialEq, Eq)]
struct MultiPop<'a> {
    keys: &'a [Bytes],
    end: End,
    count: usize,
}

impl<'a> MultiPop<'a> {
    /// Parses the arguments after the command name, with Redis's errors: `numkeys` must be a
    /// positive integer, a missing LEFT/RIGHT (too few arguments for `numkeys`) is a syntax
    /// error, COUNT a positive integer given once.
    fn parse(args: &'a [Bytes]) -> Result<MultiPop<'a>, CommandError> {
        let mut parser = Args::new(args);
        let numkeys = parse_i64(parser.next_bytes()?)
            .filter(|&n| n > 0)
            .ok_or_else(|| CommandError::err("numkeys should be greater than 0"))?;
        let rest = parser.rest();
        let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
        if numkeys >= rest.len() {
            return Err(CommandError::Syntax);
        }
        let (keys, tail) = rest.split_at(numkeys);
        // `tail` starts with LEFT|RIGHT; `Args` skips that first argument.
        let end = parse_end(&tail[0])?;
        let mut options = Args::new(tail);
        let mut count = None;
        while let Some(word) = options.next_opt() {
            if count.is_none() && is_keyword(word, "COUNT") && options.remaining() > 0 {
                let n = parse_i64(options.next_bytes()?)
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CommandError::err("count should be greater than 0"))?;
                count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(MultiPop {
            keys,
            end,
            count: count.unwrap_or(1),
        })
    }
}

/// Checks LMPOP's arguments (`args` starts with the command name) without running it, and
/// says its keys: BLMPOP reads them before its timeout, as Redis does.
pub fn lmpop_keys(args: &[Bytes]) -> Result<&[Bytes], CommandError> {
    MultiPop::parse(args).map(|request| request.keys)
}

fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let request = MultiPop::parse(args)?;
    let keys: Vec<&[u8]> = request.keys.iter().map(|key| &key[..]).collect();
    let mut locks = ctx.lock_keys(&keys);
    let found = pop_first_nonempty(&mut locks, request.keys, request.end, request.count)?;
    let Some((key, popped)) = found else {
        return Ok(Reply::NilArray);
    };
    locks.propagate(|| pop_record(request.end, key, Some(popped.len())));
    Ok(Reply::Array(vec![
        Reply::Bulk(key.clone()),
        bulk_array(popped),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Bytes> {
        line.split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn indexes_count_from_either_end() {
        assert_eq!(resolve_index(3, 0), Some(0));
        assert_eq!(resolve_index(3, 2), Some(2));
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(3, -1), Some(2));
        assert_eq!(resolve_index(3, -3), Some(0));
        assert_eq!(resolve_index(3, -4), None);
        assert_eq!(resolve_index(3, i64::MIN), None);
        assert_eq!(resolve_index(0, 0), None);
    }

    #[test]
    fn ranges_clamp_like_lrange() {
        assert_eq!(clamp_range(5, 0, -1), Some(0..5));
        assert_eq!(clamp_range(5, 1, 2), Some(1..3));
        assert_eq!(clamp_range(5, -2, 100), Some(3..5));
        assert_eq!(clamp_range(5, -100, 0), Some(0..1));
        assert_eq!(clamp_range(5, 3, 1), None);
        assert_eq!(clamp_range(5, 5, 10), None);
        assert_eq!(clamp_range(5, 0, -6), None);
        assert_eq!(clamp_range(5, i64::MIN, i64::MAX), Some(0..5));
        assert_eq!(clamp_range(5, i64::MAX, i64::MIN), None);
    }

    #[test]
    fn multi_pop_arguments_parse_as_redis() {
        let args = words("lmpop 2 a b RIGHT count 3");
        assert_eq!(
            MultiPop::parse(&args),
            Ok(MultiPop {
                keys: &args[2..4],
                end: End::Right,
                count: 3
            })
        );
        let numkeys = CommandError::err("numkeys should be greater than 0");
        let count = CommandError::err("count should be greater than 0");
        for (line, error) in [
            ("lmpop 0 a LEFT", numkeys.clone()),
            ("lmpop -1 a LEFT", numkeys.clone()),
            ("lmpop x a LEFT", numkeys),
            ("lmpop 2 a LEFT", CommandError::Syntax),
            ("lmpop 9223372036854775807 a LEFT", CommandError::Syntax),
            ("lmpop 1 a MIDDLE", CommandError::Syntax),
            ("lmpop 1 a LEFT COUNT", CommandError::Syntax),
            ("lmpop 1 a LEFT COUNT 1 COUNT 2", CommandError::Syntax),
            ("lmpop 1 a LEFT FOO 1", CommandError::Syntax),
            ("lmpop 1 a LEFT COUNT 0", count.clone()),
            ("lmpop 1 a LEFT COUNT x", count),
        ] {
            assert_eq!(MultiPop::parse(&words(line)), Err(error), "{line}");
        }
    }

    #[test]
    fn lpos_options_parse_as_redis() {
        let parse = |line: &str| {
            let args = words(line);
            let mut parser = Args::new(&args);
            PosQuery::parse(&mut parser)
        };
        assert_eq!(
            parse("lpos rank -2 count 0 maxlen 9 rank 3"),
            Ok(PosQuery {
                rank: 3,
                count: Some(0),
                maxlen: 9
            })
        );
        assert_eq!(parse("lpos rank"), Err(CommandError::Syntax));
        assert_eq!(parse("lpos foo 1"), Err(CommandError::Syntax));
        assert_eq!(parse("lpos rank x"), Err(CommandError::NotInteger));
        assert_eq!(
            parse("lpos count x"),
            Err(CommandError::err("COUNT can't be negative"))
        );
        assert_eq!(
            parse("lpos maxlen -1"),
            Err(CommandError::err("MAXLEN can't be negative"))
        );
        assert_eq!(
            parse("lpos rank -9223372036854775808"),
            Err(CommandError::err(
                "value is out of range, value must between -9223372036854775807 and \
                 9223372036854775807"
            ))
        );
    }

    #[test]
    fn records_name_the_end() {
        assert_eq!(pop_record(End::Left, b"k", None), words("LPOP k"));
        assert_eq!(pop_record(End::Right, b"k", Some(3)), words("RPOP k 3"));
        assert_eq!(
            move_record(b"a", b"b", End::Right, End::Left),
            words("LMOVE a b RIGHT LEFT")
        );
    }
}
