//! Set commands: Redis 7's set family (SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD,
//! SPOP, SRANDMEMBER, SMOVE, SINTER, SINTERCARD, SUNION, SDIFF, their STORE forms and SSCAN)
//! over [`SetValue`].
//!
//! Replies keep Redis 7's RESP3 shapes: SMEMBERS, SINTER, SUNION, SDIFF and SPOP with a count
//! answer a set; SRANDMEMBER with a count answers an array (it may repeat members).
//!
//! Writes propagate while the locks are held, and only when something changed: SADD, SREM,
//! SMOVE and the STORE commands as written (they are deterministic), SPOP as SREM of the
//! members it popped (in batches of [`SPOP_SREM_BATCH`]) or as DEL when it popped the whole set.
//! A key never holds an empty set: the command that removes the last member deletes the key.
//!
//! Every change reports Redis 7's keyspace event (class `s`: sadd, srem, spop, the STORE names;
//! SMOVE as srem on the source and sadd on the destination), followed by a generic `del` when a
//! set empties or a STORE's empty result deletes its destination.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::command::{
    is_keyword, parse_pop_count, Args, CommandSpec, Flags, Group, Handler, KeyRange, MovableKeys,
};
use crate::error::CommandError;
use crate::exec::{Ctx, Locks};
use crate::glob::glob_match;
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::Reply;
use crate::types::encodings::Encodings;
use crate::types::scan::{parse_cursor, parse_scan_args};
use crate::types::set::{Member, SetValue};
use crate::value::{parse_i64, Value};

const READ_FAST: Flags = Flags::READONLY.and(Flags::FAST);
const WRITE_OOM: Flags = Flags::WRITE.and(Flags::DENYOOM);
const WRITE_OOM_FAST: Flags = WRITE_OOM.and(Flags::FAST);
const WRITE_FAST: Flags = Flags::WRITE.and(Flags::FAST);
/// SINTERCARD finds its keys through `numkeys`: Redis reports 0 0 0 and `movablekeys`.
const READ_MOVABLE: Flags = Flags::READONLY.and(Flags::MOVABLE_KEYS);
/// SMOVE: the source and the destination.
const TWO_KEYS: KeyRange = KeyRange::new(1, 2, 1);

/// A set command's table entry.
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
        .doc(Group::Set, since, summary)
}

#[rustfmt::skip]
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command("sadd", -3, sadd, WRITE_OOM_FAST, KeyRange::FIRST, "1.0.0",
        "Adds one or more members to a set. Creates the key if it doesn't exist."),
    command("srem", -3, srem, WRITE_FAST, KeyRange::FIRST, "1.0.0",
        "Removes one or more members from a set. Deletes the set if the last member was removed."),
    command("smembers", 2, smembers, Flags::READONLY, KeyRange::FIRST, "1.0.0",
        "Returns all members of a set."),
    command("sismember", 3, sismember, READ_FAST, KeyRange::FIRST, "1.0.0",
        "Determines whether a member belongs to a set."),
    command("smismember", -3, smismember, READ_FAST, KeyRange::FIRST, "6.2.0",
        "Determines whether multiple members belong to a set."),
    command("scard", 2, scard, READ_FAST, KeyRange::FIRST, "1.0.0",
        "Returns the number of members in a set."),
    command("spop", -2, spop, WRITE_FAST, KeyRange::FIRST, "1.0.0",
        "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    command("srandmember", -2, srandmember, Flags::READONLY, KeyRange::FIRST, "1.0.0",
        "Get one or multiple random members from a set"),
    command("smove", 4, smove, WRITE_FAST, TWO_KEYS, "1.0.0",
        "Moves a member from one set to another."),
    command("sinter", -2, sinter, Flags::READONLY, KeyRange::ALL, "1.0.0",
        "Returns the intersect of multiple sets."),
    command("sintercard", -3, sintercard, READ_MOVABLE, KeyRange::NONE, "7.0.0",
        "Returns the number of members of the intersect of multiple sets.")
        .movable_keys(MovableKeys::numkeys_at(1)),
    command("sinterstore", -3, sinterstore, WRITE_OOM, KeyRange::ALL, "1.0.0",
        "Stores the intersect of multiple sets in a key."),
    command("sunion", -2, sunion, Flags::READONLY, KeyRange::ALL, "1.0.0",
        "Returns the union of multiple sets."),
    command("sunionstore", -3, sunionstore, WRITE_OOM, KeyRange::ALL, "1.0.0",
        "Stores the union of multiple sets in a key."),
    command("sdiff", -2, sdiff, Flags::READONLY, KeyRange::ALL, "1.0.0",
        "Returns the difference of multiple sets."),
    command("sdiffstore", -3, sdiffstore, WRITE_OOM, KeyRange::ALL, "1.0.0",
        "Stores the difference of multiple sets in a key."),
    command("sscan", -3, sscan, Flags::READONLY, KeyRange::FIRST, "2.8.0",
        "Iterates over members of a set."),
];

/// Most members one propagated SREM carries for SPOP, as Redis batches them.
pub const SPOP_SREM_BATCH: usize = 1024;

/// Most members SRANDMEMBER returns for a negative count. Redis has no bound and streams
/// them; this engine builds its reply in memory, so `SRANDMEMBER k -5000000000` is refused
/// rather than allocated (1M members already make a reply of tens of MB).
pub const RANDOM_REPEATS_MAX: u64 = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The set inside `entry`, or WRONGTYPE.
fn set_of(entry: &Entry) -> Result<&SetValue, CommandError> {
    match &entry.value {
        Value::Set(set) => Ok(set),
        _ => Err(CommandError::WrongType),
    }
}

/// The set inside `entry`, mutable, or WRONGTYPE.
fn set_of_mut(entry: &mut Entry) -> Result<&mut SetValue, CommandError> {
    match &mut entry.value {
        Value::Set(set) => Ok(set),
        _ => Err(CommandError::WrongType),
    }
}

/// The set at `key` for a read (a hit or a miss), WRONGTYPE for other types.
fn read_set<'l>(
    locks: &'l mut Locks<'_>,
    key: &[u8],
) -> Result<Option<&'l SetValue>, CommandError> {
    locks.read(key).map(set_of).transpose()
}

/// The set at `key` for a write, WRONGTYPE for other types.
fn write_set<'l>(
    locks: &'l mut Locks<'_>,
    key: &[u8],
) -> Result<Option<&'l mut SetValue>, CommandError> {
    locks.get_mut(key).map(set_of_mut).transpose()
}

/// The sets at `keys` (`None` for a missing key), WRONGTYPE if any key holds another type.
fn read_sets<'l>(
    locks: &'l mut Locks<'_>,
    keys: &[&[u8]],
) -> Result<Vec<Option<&'l SetValue>>, CommandError> {
    locks
        .read_many(keys)
        .into_iter()
        .map(|entry| entry.map(set_of).transpose())
        .collect()
}

fn set_entry(set: SetValue) -> Entry {
    Entry::new(Value::Set(set))
}

/// A propagation record: `name` followed by copies of `args`.
fn record<'a>(name: &'static [u8], args: impl IntoIterator<Item = &'a [u8]>) -> Vec<Bytes> {
    std::iter::once(Bytes::from_static(name))
        .chain(args.into_iter().map(Bytes::copy_from_slice))
        .collect()
}

fn bulk(member: Member<'_>) -> Reply {
    Reply::Bulk(member.to_bytes())
}

fn len_reply(len: usize) -> Reply {
    Reply::Integer(i64::try_from(len).unwrap_or(i64::MAX))
}

fn flag_reply(yes: bool) -> Reply {
    Reply::Integer(i64::from(yes))
}

/// The `key member [member ...]` of SADD, SREM and SMISMEMBER.
fn key_and_members<'a>(
    args: &'a [Bytes],
    command: &str,
) -> Result<(&'a Bytes, &'a [Bytes]), CommandError> {
    match args {
        [_, key, members @ ..] if !members.is_empty() => Ok((key, members)),
        _ => Err(CommandError::WrongArity(command.to_owned())),
    }
}

/// `args[from..]` as keys.
fn keys_from(args: &[Bytes], from: usize) -> Vec<&[u8]> {
    args.iter().skip(from).map(|key| &key[..]).collect()
}

// ---------------------------------------------------------------------------------------------
// Single-set commands

fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, members) = key_and_members(args, "sadd")?;
    let limits = ctx.encodings();
    let mut locks = ctx.lock_key(key);
    let added = match write_set(&mut locks, key)? {
        Some(set) => {
            set.prepare_for(members.len(), &limits);
            insert_all(set, members, &limits)
        }
        None => {
            let first = members.first().map_or(&[][..], |m| &m[..]);
            let mut set = SetValue::for_members(first, members.len(), &limits);
            let added = insert_all(&mut set, members, &limits);
            locks.insert(key, set_entry(set));
            added
        }
    };
    if added > 0 {
        locks.notify(Events::SET, "sadd", key);
        locks.propagate(|| record(b"SADD", args.iter().skip(1).map(|a| &a[..])));
    }
    Ok(len_reply(added))
}

fn insert_all(set: &mut SetValue, members: &[Bytes], limits: &Encodings) -> usize {
    members
        .iter()
        .filter(|member| set.insert(member, limits))
        .count()
}

fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, members) = key_and_members(args, "srem")?;
    let mut locks = ctx.lock_key(key);
    let Some(set) = write_set(&mut locks, key)? else {
        return Ok(Reply::Integer(0));
    };
    let mut removed = 0;
    for member in members {
        if set.remove(member) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    let emptied = set.is_empty();
    if removed > 0 {
        locks.notify(Events::SET, "srem", key);
    }
    if emptied {
        remove_emptied(&mut locks, key);
    }
    if removed > 0 {
        locks.propagate(|| record(b"SREM", args.iter().skip(1).map(|a| &a[..])));
    }
    Ok(len_reply(removed))
}

/// Deletes `key`, whose set a command just emptied, and reports the generic `del` Redis
/// sends after the command's own event.
fn remove_emptied(locks: &mut Locks<'_>, key: &[u8]) {
    locks.remove(key);
    locks.notify(Events::GENERIC, "del", key);
}

fn only_key(args: &[Bytes]) -> Result<&Bytes, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    parser.finish()?;
    Ok(key)
}

fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let key = only_key(args)?;
    let mut locks = ctx.lock_key(key);
    let members =
        read_set(&mut locks, key)?.map_or_else(Vec::new, |set| set.iter().map(bulk).collect());
    Ok(Reply::Set(members))
}

fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let [_, key, member] = args else {
        return Err(CommandError::WrongArity("sismember".to_owned()));
    };
    let mut locks = ctx.lock_key(key);
    let set = read_set(&mut locks, key)?;
    Ok(flag_reply(set.is_some_and(|set| set.contains(member))))
}

fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, members) = key_and_members(args, "smismember")?;
    let mut locks = ctx.lock_key(key);
    let set = read_set(&mut locks, key)?;
    let flags = members
        .iter()
        .map(|member| flag_reply(set.is_some_and(|set| set.contains(member))))
        .collect();
    Ok(Reply::Array(flags))
}

fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let key = only_key(args)?;
    let mut locks = ctx.lock_key(key);
    Ok(len_reply(
        read_set(&mut locks, key)?.map_or(0, SetValue::len),
    ))
}

// ---------------------------------------------------------------------------------------------
// SPOP and SRANDMEMBER

fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    match args {
        [_, key] => pop_one(ctx, key),
        [_, key, count] => {
            let count = parse_pop_count(count)?;
            pop_many(ctx, key, count)
        }
        _ => Err(CommandError::Syntax),
    }
}

fn pop_one(ctx: &Ctx<'_>, key: &[u8]) -> Result<Reply, CommandError> {
    let mut locks = ctx.lock_key(key);
    let Some(set) = write_set(&mut locks, key)? else {
        return Ok(Reply::Nil);
    };
    let Some(member) = set
        .random_member(&mut rand::thread_rng())
        .map(Member::to_bytes)
    else {
        return Ok(Reply::Nil);
    };
    set.remove(&member);
    let emptied = set.is_empty();
    locks.notify(Events::SET, "spop", key);
    if emptied {
        remove_emptied(&mut locks, key);
    }
    locks.propagate(|| record(b"SREM", [key, &member[..]]));
    Ok(Reply::Bulk(member))
}

fn pop_many(ctx: &Ctx<'_>, key: &[u8], count: usize) -> Result<Reply, CommandError> {
    let limits = ctx.encodings();
    let mut locks = ctx.lock_key(key);
    let Some(set) = write_set(&mut locks, key)? else {
        return Ok(Reply::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    if count >= set.len() {
        let members = set.iter().map(bulk).collect();
        locks.notify(Events::SET, "spop", key);
        remove_emptied(&mut locks, key);
        locks.propagate(|| record(b"DEL", [key]));
        return Ok(Reply::Set(members));
    }
    let popped = set.pop_random(count, &mut rand::thread_rng(), &limits);
    locks.notify(Events::SET, "spop", key);
    for batch in popped.chunks(SPOP_SREM_BATCH) {
        locks.propagate(|| {
            let members = batch.iter().map(|member| &member[..]);
            record(b"SREM", std::iter::once(key).chain(members))
        });
    }
    Ok(Reply::Set(popped.into_iter().map(Reply::Bulk).collect()))
}

fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, count) = match args {
        [_, key] => (key, None),
        [_, key, count] => (key, Some(parse_random_count(count)?)),
        _ => return Err(CommandError::Syntax),
    };
    let bytes_max = ctx.engine.proto_max_bulk_len.load(Ordering::Relaxed);
    let mut locks = ctx.lock_key(key);
    let set = read_set(&mut locks, key)?;
    let mut rng = rand::thread_rng();
    match (set, count) {
        (None, None) => Ok(Reply::Nil),
        (None, Some(_)) => Ok(Reply::Array(Vec::new())),
        (Some(set), None) => Ok(set.random_member(&mut rng).map_or(Reply::Nil, bulk)),
        (Some(set), Some(count)) if count >= 0 => {
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            let members = set.random_distinct(count, &mut rng);
            Ok(Reply::Array(members.into_iter().map(bulk).collect()))
        }
        (Some(set), Some(count)) => random_with_repeats(set, count.unsigned_abs(), bytes_max),
    }
}

/// SRANDMEMBER's count: any integer but `i64::MIN`, whose magnitude has no `i64`.
fn parse_random_count(arg: &[u8]) -> Result<i64, CommandError> {
    match parse_i64(arg) {
        None => Err(CommandError::NotInteger),
        Some(i64::MIN) => Err(CommandError::err(format!(
            "value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        ))),
        Some(count) => Ok(count),
    }
}

/// `count` members drawn independently (a member may repeat), within [`RANDOM_REPEATS_MAX`]
/// members and `bytes_max` bytes of member text.
fn random_with_repeats(set: &SetValue, count: u64, bytes_max: u64) -> Result<Reply, CommandError> {
    if count > RANDOM_REPEATS_MAX {
        return Err(CommandError::err(format!(
            "value is out of range, a negative count may ask for at most {RANDOM_REPEATS_MAX} members"
        )));
    }
    let mut rng = rand::thread_rng();
    let mut members = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut bytes: u64 = 0;
    for _ in 0..count {
        let Some(member) = set.random_member(&mut rng) else {
            break;
        };
        bytes = bytes.saturating_add(member.text_len() as u64);
        if bytes > bytes_max {
            return Err(CommandError::err(
                "SRANDMEMBER reply would exceed proto-max-bulk-len bytes",
            ));
        }
        members.push(bulk(member));
    }
    Ok(Reply::Array(members))
}

// ---------------------------------------------------------------------------------------------
// SMOVE

/// What a key holds, as SMOVE checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holding {
    Nothing,
    Set,
    Other,
}

fn holding(entry: Option<&Entry>) -> Holding {
    match entry.map(|entry| &entry.value) {
        None => Holding::Nothing,
        Some(Value::Set(_)) => Holding::Set,
        Some(_) => Holding::Other,
    }
}

fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let [_, source, destination, member] = args else {
        return Err(CommandError::WrongArity("smove".to_owned()));
    };
    let limits = ctx.encodings();
    let mut locks = ctx.lock_keys(&[source, destination]);
    // Both keys are looked up (and expired) first, as Redis does; a missing source wins over
    // a destination of the wrong type.
    let from = holding(locks.get(source));
    let to = holding(locks.get(destination));
    match (from, to) {
        (Holding::Nothing, _) => return Ok(Reply::Integer(0)),
        (Holding::Other, _) | (_, Holding::Other) => return Err(CommandError::WrongType),
        _ => {}
    }
    let Some(source_set) = write_set(&mut locks, source)? else {
        return Ok(Reply::Integer(0));
    };
    if source == destination {
        return Ok(flag_reply(source_set.contains(member)));
    }
    if !source_set.remove(member) {
        return Ok(Reply::Integer(0));
    }
    let source_emptied = source_set.is_empty();
    locks.notify(Events::SET, "srem", source);
    if source_emptied {
        remove_emptied(&mut locks, source);
    }
    // A destination that already held the member is unchanged, so it reports nothing.
    let added = match write_set(&mut locks, destination)? {
        Some(destination_set) => destination_set.insert(member, &limits),
        None => {
            let mut set = SetValue::for_members(member, 1, &limits);
            set.insert(member, &limits);
            locks.insert(destination, set_entry(set));
            true
        }
    };
    if added {
        locks.notify(Events::SET, "sadd", destination);
    }
    locks.propagate(|| record(b"SMOVE", [&source[..], destination, member]));
    Ok(Reply::Integer(1))
}

// ---------------------------------------------------------------------------------------------
// Intersection, union, difference

/// The members common to every one of `sets`, in the order of the smallest.
fn common_members<'a, 's>(sets: &'a [&'s SetValue]) -> impl Iterator<Item = Member<'s>> + 'a {
    let smallest = sets.iter().copied().min_by_key(|set| set.len());
    // The smallest set (or the same key named again) holds its own members: skip the lookup.
    let is_smallest = move |set: &SetValue| smallest.is_some_and(|s| std::ptr::eq(s, set));
    smallest
        .into_iter()
        .flat_map(SetValue::iter)
        .filter(move |&member| {
            sets.iter()
                .all(|set| is_smallest(set) || set.contains_member(member))
        })
}

/// The members of every set present in `sets`.
fn union_of(sets: &[Option<&SetValue>], limits: &Encodings) -> SetValue {
    let mut union = SetValue::default();
    for set in sets.iter().flatten() {
        for member in set.iter() {
            union.insert_member(member, limits);
        }
    }
    union
}

/// The members of the first set that no other set holds (a missing first key is empty).
fn difference_of(sets: &[Option<&SetValue>], limits: &Encodings) -> SetValue {
    let Some((Some(first), others)) = sets.split_first() else {
        return SetValue::default();
    };
    let members: Vec<Member<'_>> = first
        .iter()
        .filter(|&member| {
            !others
                .iter()
                .flatten()
                .any(|other| other.contains_member(member))
        })
        .collect();
    SetValue::from_distinct(&members, limits)
}

/// The intersection of `sets` as a new set (empty if a key is missing).
fn intersection_of(sets: Vec<Option<&SetValue>>, limits: &Encodings) -> SetValue {
    let Some(sets) = sets.into_iter().collect::<Option<Vec<_>>>() else {
        return SetValue::default();
    };
    let members: Vec<Member<'_>> = common_members(&sets).collect();
    SetValue::from_distinct(&members, limits)
}

fn set_reply(set: &SetValue) -> Reply {
    Reply::Set(set.iter().map(bulk).collect())
}

fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let keys = keys_from(args, 1);
    let mut locks = ctx.lock_keys(&keys);
    let sets = read_sets(&mut locks, &keys)?;
    let Some(sets) = sets.into_iter().collect::<Option<Vec<_>>>() else {
        return Ok(Reply::Set(Vec::new()));
    };
    Ok(Reply::Set(common_members(&sets).map(bulk).collect()))
}

fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let keys = keys_from(args, 1);
    let mut locks = ctx.lock_keys(&keys);
    let sets = read_sets(&mut locks, &keys)?;
    Ok(set_reply(&union_of(&sets, &ctx.encodings())))
}

fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let keys = keys_from(args, 1);
    let mut locks = ctx.lock_keys(&keys);
    let sets = read_sets(&mut locks, &keys)?;
    Ok(set_reply(&difference_of(&sets, &ctx.encodings())))
}

fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (keys, limit) = parse_sintercard(args)?;
    let mut locks = ctx.lock_keys(&keys);
    let sets = read_sets(&mut locks, &keys)?;
    let Some(sets) = sets.into_iter().collect::<Option<Vec<_>>>() else {
        return Ok(Reply::Integer(0));
    };
    Ok(len_reply(common_members(&sets).take(limit).count()))
}

/// `numkeys key [key ...] [LIMIT limit]`: the keys and the limit (`usize::MAX` for none).
fn parse_sintercard(args: &[Bytes]) -> Result<(Vec<&[u8]>, usize), CommandError> {
    let mut parser = Args::new(args);
    let numkeys = parse_i64(parser.next_bytes()?)
        .filter(|&n| n > 0)
        .ok_or_else(|| CommandError::err("numkeys should be greater than 0"))?;
    let rest = parser.rest();
    let numkeys = usize::try_from(numkeys)
        .ok()
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| CommandError::err("Number of keys can't be greater than number of args"))?;
    let (keys, mut options) = rest.split_at(numkeys);
    let mut limit = usize::MAX;
    while let [option, tail @ ..] = options {
        let [value, tail @ ..] = tail else {
            return Err(CommandError::Syntax);
        };
        if !is_keyword(option, "LIMIT") {
            return Err(CommandError::Syntax);
        }
        let value = parse_i64(value)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| CommandError::err("LIMIT can't be negative"))?;
        // LIMIT 0 means no limit.
        limit = if value == 0 { usize::MAX } else { value };
        options = tail;
    }
    Ok((keys.iter().map(|key| &key[..]).collect(), limit))
}

/// How a STORE command combines its source sets.
type Combine = fn(Vec<Option<&SetValue>>, &Encodings) -> SetValue;

fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    store(ctx, args, (b"SINTERSTORE", "sinterstore"), intersection_of)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    store(
        ctx,
        args,
        (b"SUNIONSTORE", "sunionstore"),
        |sets, limits| union_of(&sets, limits),
    )
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    store(ctx, args, (b"SDIFFSTORE", "sdiffstore"), |sets, limits| {
        difference_of(&sets, limits)
    })
}

/// `destination key [key ...]`: stores what `combine` makes of the sources at `destination`
/// (whatever it held), or deletes `destination` when that is empty. `name` is the command
/// as propagated and its keyspace event.
fn store(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    (name, event): (&'static [u8], &'static str),
    combine: Combine,
) -> Result<Reply, CommandError> {
    let keys = keys_from(args, 1);
    let [destination, sources @ ..] = keys.as_slice() else {
        return Err(CommandError::Syntax);
    };
    let limits = ctx.encodings();
    let mut locks = ctx.lock_keys(&keys);
    let result = combine(read_sets(&mut locks, sources)?, &limits);
    let stored = result.len();
    let changed = if result.is_empty() {
        let deleted = locks.remove(destination).is_some();
        if deleted {
            locks.notify(Events::GENERIC, "del", destination);
        }
        deleted
    } else {
        locks.insert(destination, set_entry(result));
        locks.notify(Events::SET, event, destination);
        true
    };
    if changed {
        locks.propagate(|| record(name, keys.iter().copied()));
    }
    Ok(len_reply(stored))
}

// ---------------------------------------------------------------------------------------------
// SSCAN

fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    // Redis checks the cursor, then the key, then the options.
    parse_cursor(args.get(2).ok_or(CommandError::Syntax)?)?;
    let mut locks = ctx.lock_key(key);
    let Some(set) = read_set(&mut locks, key)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let (cursor, options) = parse_scan_args(&mut parser)?;
    let mut found = Vec::new();
    let next_cursor = set.scan(cursor, options.count, |member| {
        let wanted = options
            .pattern
            .is_none_or(|pattern| member.with_text(|text| glob_match(pattern, text, false)));
        if wanted {
            found.push(bulk(member));
        }
    });
    Ok(scan_reply(next_cursor, found))
}

fn scan_reply(cursor: u64, members: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(members),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Encodings = Encodings::DEFAULT;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn sintercard_of(words: &[&str]) -> Result<(Vec<Vec<u8>>, usize), CommandError> {
        let argv = args(words);
        parse_sintercard(&argv)
            .map(|(keys, limit)| (keys.iter().map(|k| k.to_vec()).collect(), limit))
    }

    #[test]
    fn sintercard_arguments_parse_like_redis() {
        let keys = |names: &[&str]| names.iter().map(|n| n.as_bytes().to_vec()).collect();
        assert_eq!(
            sintercard_of(&["sintercard", "2", "a", "b"]),
            Ok((keys(&["a", "b"]), usize::MAX))
        );
        assert_eq!(
            sintercard_of(&["sintercard", "1", "a", "limit", "3", "LIMIT", "5"]),
            Ok((keys(&["a"]), 5))
        );
        assert_eq!(
            sintercard_of(&["sintercard", "1", "a", "LIMIT", "0"]),
            Ok((keys(&["a"]), usize::MAX))
        );
        let error = |words: &[&str]| sintercard_of(words).unwrap_err().to_string();
        let numkeys = "ERR numkeys should be greater than 0";
        assert_eq!(error(&["sintercard", "0", "a"]), numkeys);
        assert_eq!(error(&["sintercard", "-1", "a"]), numkeys);
        assert_eq!(error(&["sintercard", "x", "a"]), numkeys);
        assert_eq!(
            error(&["sintercard", "3", "a", "b"]),
            "ERR Number of keys can't be greater than number of args"
        );
        let negative = "ERR LIMIT can't be negative";
        assert_eq!(error(&["sintercard", "1", "a", "LIMIT", "-1"]), negative);
        assert_eq!(error(&["sintercard", "1", "a", "LIMIT", "x"]), negative);
        assert_eq!(
            error(&["sintercard", "1", "a", "LIMIT"]),
            "ERR syntax error"
        );
        assert_eq!(
            error(&["sintercard", "1", "a", "FOO", "1"]),
            "ERR syntax error"
        );
    }

    #[test]
    fn counts_parse_like_redis() {
        assert_eq!(parse_pop_count(b"3"), Ok(3));
        assert_eq!(parse_pop_count(b"0"), Ok(0));
        let positive = "ERR value is out of range, must be positive";
        assert_eq!(parse_pop_count(b"-1").unwrap_err().to_string(), positive);
        assert_eq!(parse_pop_count(b"x").unwrap_err().to_string(), positive);
        assert_eq!(parse_random_count(b"-5"), Ok(-5));
        assert_eq!(parse_random_count(b"x"), Err(CommandError::NotInteger));
        assert_eq!(
            parse_random_count(b"-9223372036854775808")
                .unwrap_err()
                .to_string(),
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
        );
    }

    #[test]
    fn set_algebra_matches_its_definition() {
        let set = |members: &[&str]| {
            let mut set = SetValue::default();
            for member in members {
                set.insert(member.as_bytes(), &Encodings::DEFAULT);
            }
            set
        };
        let texts = |set: &SetValue| {
            let mut texts: Vec<Bytes> = set.iter().map(Member::to_bytes).collect();
            texts.sort();
            texts
        };
        let a = set(&["1", "2", "3", "x"]);
        let b = set(&["2", "3", "y"]);
        let c = set(&["3", "x", "2"]);
        assert_eq!(
            texts(&intersection_of(
                vec![Some(&a), Some(&b), Some(&c)],
                &LIMITS
            )),
            ["2", "3"]
        );
        assert!(intersection_of(vec![Some(&a), None], &LIMITS).is_empty());
        assert_eq!(
            texts(&union_of(&[Some(&a), None, Some(&b)], &LIMITS)),
            ["1", "2", "3", "x", "y"]
        );
        assert_eq!(
            texts(&difference_of(&[Some(&a), Some(&b), None], &LIMITS)),
            ["1", "x"]
        );
        assert!(difference_of(&[None, Some(&a)], &LIMITS).is_empty());
        assert!(difference_of(&[Some(&a), Some(&a)], &LIMITS).is_empty());
    }
}
