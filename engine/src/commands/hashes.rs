//! Hash commands: Redis 7's hash family (HSET/HMSET/HSETNX, HGET/HMGET/HGETALL, HKEYS/HVALS,
//! HDEL, HEXISTS, HLEN, HSTRLEN, HINCRBY/HINCRBYFLOAT, HRANDFIELD and HSCAN) over
//! [`HashValue`].
//!
//! Errors are checked in Redis's order (arguments it parses first, then the key's type, then the
//! stored value), since clients and Redis's own test suite see the first one only. A hash is
//! created by the first field written and its key deleted with the last field removed.
//!
//! Every write propagates its deterministic form while its slot is locked: field writes
//! (HSET, HMSET, HSETNX that set, HINCRBYFLOAT with its formatted result) as `HSET`, HINCRBY
//! as itself, HDEL with the fields it did remove. Commands that change nothing propagate
//! nothing.
//!
//! Keyspace notifications (class `h`) follow Redis: `hset` for HSET, HMSET and an HSETNX that
//! sets, `hincrby`, `hincrbyfloat`, `hdel` when HDEL removed something, then a generic `del`
//! when it removed the last field. Commands that change nothing report nothing.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::command::{
    is_keyword, parse_i64_arg, Args, CommandSpec, Flags, Group, Handler, KeyRange,
};
use crate::error::CommandError;
use crate::exec::{Ctx, Locks};
use crate::float::LongDoubleOperand;
use crate::glob::glob_match;
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::Reply;
use crate::types::hash::{FieldValue, HashValue};
use crate::types::scan::{parse_cursor, parse_scan_args};
use crate::value::{parse_i64, Value};

const READ_FAST: Flags = Flags::READONLY.and(Flags::FAST);
const WRITE_OOM_FAST: Flags = Flags::WRITE.and(Flags::DENYOOM).and(Flags::FAST);
const WRITE_FAST: Flags = Flags::WRITE.and(Flags::FAST);

/// A hash command's table entry: every hash command has one key, the first argument.
const fn command(
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
        .doc(Group::Hash, since, summary)
}

#[rustfmt::skip]
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command("hset", -4, hset, WRITE_OOM_FAST, "2.0.0",
        "Creates or modifies the value of a field in a hash."),
    command("hmset", -4, hmset, WRITE_OOM_FAST, "2.0.0",
        "Sets the values of multiple fields."),
    command("hsetnx", 4, hsetnx, WRITE_OOM_FAST, "2.0.0",
        "Sets the value of a field in a hash only when the field doesn't exist."),
    command("hget", 3, hget, READ_FAST, "2.0.0",
        "Returns the value of a field in a hash."),
    command("hmget", -3, hmget, READ_FAST, "2.0.0",
        "Returns the values of all fields in a hash."),
    command("hgetall", 2, hgetall, Flags::READONLY, "2.0.0",
        "Returns all fields and values in a hash."),
    command("hkeys", 2, hkeys, Flags::READONLY, "2.0.0",
        "Returns all fields in a hash."),
    command("hvals", 2, hvals, Flags::READONLY, "2.0.0",
        "Returns all values in a hash."),
    command("hdel", -3, hdel, WRITE_FAST, "2.0.0",
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    command("hexists", 3, hexists, READ_FAST, "2.0.0",
        "Determines whether a field exists in a hash."),
    command("hlen", 2, hlen, READ_FAST, "2.0.0",
        "Returns the number of fields in a hash."),
    command("hstrlen", 3, hstrlen, READ_FAST, "3.2.0",
        "Returns the length of the value of a field."),
    command("hincrby", 4, hincrby, WRITE_OOM_FAST, "2.0.0",
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    command("hincrbyfloat", 4, hincrbyfloat, WRITE_OOM_FAST, "2.6.0",
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    command("hrandfield", -2, hrandfield, Flags::READONLY, "6.2.0",
        "Returns one or more random fields from a hash."),
    command("hscan", -3, hscan, Flags::READONLY, "2.8.0",
        "Iterates over fields and values of a hash."),
];

/// Reply bytes HRANDFIELD counts for each element beyond its data (the reply's own bookkeeping
/// here, its RESP framing on the wire), to bound a reply before building it.
const REPLY_ELEMENT_OVERHEAD_BYTES: u64 = 64;

/// Most draws HRANDFIELD reserves room for up front; a longer reply grows as it is built, so
/// a raised proto-max-bulk-len never turns a client's count into one huge allocation.
const REPLY_PREALLOCATION_MAX: u64 = 4096;

/// HRANDFIELD's error for the one count outside Redis's `-LONG_MAX..=LONG_MAX`: i64::MIN.
const RANDOM_COUNT_ERROR: &str =
    "value is out of range, value must between -9223372036854775807 and 9223372036854775807";

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The hash inside `entry`, or WRONGTYPE.
fn hash_of(entry: &Entry) -> Result<&HashValue, CommandError> {
    match &entry.value {
        Value::Hash(hash) => Ok(hash),
        _ => Err(CommandError::WrongType),
    }
}

/// The hash inside `value`, mutable, or WRONGTYPE.
fn hash_of_mut(value: &mut Value) -> Result<&mut HashValue, CommandError> {
    match value {
        Value::Hash(hash) => Ok(hash),
        _ => Err(CommandError::WrongType),
    }
}

/// The hash at `key` for a read (a keyspace hit or miss): `None` when absent.
fn read_hash<'l>(
    locks: &'l mut Locks<'_>,
    key: &[u8],
) -> Result<Option<&'l HashValue>, CommandError> {
    locks.read(key).map(hash_of).transpose()
}

/// Applies `change` to the hash at `key`, or to a new empty one stored under `key` if the change
/// leaves it non-empty. The key's deadline is kept. Nothing is stored when `change` fails.
fn change_or_create<T>(
    locks: &mut Locks<'_>,
    key: &[u8],
    change: impl FnOnce(&mut HashValue) -> Result<T, CommandError>,
) -> Result<T, CommandError> {
    if let Some(entry) = locks.get_mut(key) {
        return change(hash_of_mut(&mut entry.value)?);
    }
    let mut hash = HashValue::new();
    let outcome = change(&mut hash)?;
    if !hash.is_empty() {
        locks.insert(key, Entry::new(Value::Hash(hash)));
    }
    Ok(outcome)
}

/// A propagation record: `name`, `key`, then copies of `args`.
fn record<'a>(
    name: &'static [u8],
    key: &[u8],
    args: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Bytes> {
    [Bytes::from_static(name), Bytes::copy_from_slice(key)]
        .into_iter()
        .chain(args.into_iter().map(Bytes::copy_from_slice))
        .collect()
}

/// A count as an integer reply (collection sizes are far below i64::MAX).
fn count_reply(count: usize) -> Reply {
    Reply::Integer(i64::try_from(count).unwrap_or(i64::MAX))
}

/// `key field` of HGET, HEXISTS and HSTRLEN.
fn key_and_field(args: &[Bytes]) -> Result<(&Bytes, &Bytes), CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let field = parser.next_bytes()?;
    parser.finish()?;
    Ok((key, field))
}

/// The single key of HGETALL, HKEYS, HVALS and HLEN.
fn only_key(args: &[Bytes]) -> Result<&Bytes, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    parser.finish()?;
    Ok(key)
}

/// Field/value pairs as Redis replies with them when they are not a map (HRANDFIELD
/// WITHVALUES): an array of [field, value] arrays in RESP3, a flat array in RESP2.
fn pairs_reply<'a>(pairs: impl IntoIterator<Item = FieldValue<'a>>) -> Reply {
    Reply::Pairs(
        pairs
            .into_iter()
            .map(|(field, value)| (Reply::bulk(field), Reply::bulk(value)))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Writes

fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, pairs) = key_and_pairs(args, "hset")?;
    Ok(count_reply(set_fields(ctx, key, pairs)?))
}

fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, pairs) = key_and_pairs(args, "hmset")?;
    set_fields(ctx, key, pairs)?;
    Ok(Reply::Ok)
}

/// The key and the field/value arguments of HSET and HMSET; a field without its value is an
/// arity error, as Redis reports it.
fn key_and_pairs<'a>(
    args: &'a [Bytes],
    command: &str,
) -> Result<(&'a Bytes, &'a [Bytes]), CommandError> {
    match args {
        [_, key, pairs @ ..] if !pairs.is_empty() && pairs.len() % 2 == 0 => Ok((key, pairs)),
        _ => Err(CommandError::WrongArity(command.to_owned())),
    }
}

/// Sets every field/value pair (later pairs win); returns the number of new fields.
fn set_fields(ctx: &Ctx<'_>, key: &[u8], pairs: &[Bytes]) -> Result<usize, CommandError> {
    let limits = ctx.encodings();
    let mut locks = ctx.lock_key(key);
    let added = change_or_create(&mut locks, key, |hash| {
        Ok(pairs
            .chunks_exact(2)
            .filter(|pair| hash.insert(&pair[0], &pair[1], &limits))
            .count())
    })?;
    locks.notify(Events::HASH, "hset", key);
    locks.propagate(|| record(b"HSET", key, pairs.iter().map(|arg| &arg[..])));
    Ok(added)
}

fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let field = parser.next_bytes()?;
    let value = parser.next_bytes()?;
    parser.finish()?;
    let limits = ctx.encodings();
    let mut locks = ctx.lock_key(key);
    let added = change_or_create(&mut locks, key, |hash| {
        Ok(!hash.contains(field) && hash.insert(field, value, &limits))
    })?;
    if added {
        locks.notify(Events::HASH, "hset", key);
        locks.propagate(|| record(b"HSET", key, [&field[..], &value[..]]));
    }
    Ok(Reply::Integer(i64::from(added)))
}

fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let fields = parser.rest();
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.get_mut(key) else {
        return Ok(Reply::Integer(0));
    };
    let hash = hash_of_mut(&mut entry.value)?;
    let removed: Vec<&[u8]> = fields
        .iter()
        .map(|field| &field[..])
        .filter(|field| hash.remove(field))
        .collect();
    let emptied = hash.is_empty();
    if emptied {
        locks.remove(key);
    }
    if !removed.is_empty() {
        locks.notify(Events::HASH, "hdel", key);
        locks.propagate(|| record(b"HDEL", key, removed.iter().copied()));
    }
    if emptied {
        locks.notify(Events::GENERIC, "del", key);
    }
    Ok(count_reply(removed.len()))
}

fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let field = parser.next_bytes()?;
    let increment = parser.next_i64()?;
    parser.finish()?;
    let limits = ctx.encodings();
    let mut locks = ctx.lock_key(key);
    let result = change_or_create(&mut locks, key, |hash| {
        let current = match hash.get(field) {
            Some(text) => {
                parse_i64(text).ok_or_else(|| CommandError::err("hash value is not an integer"))?
            }
            None => 0,
        };
        let result = current
            .checked_add(increment)
            .ok_or(CommandError::Overflow)?;
        hash.insert(field, result.to_string().as_bytes(), &limits);
        Ok(result)
    })?;
    locks.notify(Events::HASH, "hincrby", key);
    locks.propagate(|| {
        record(
            b"HINCRBY",
            key,
            [&field[..], increment.to_string().as_bytes()],
        )
    });
    Ok(Reply::Integer(result))
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let field = parser.next_bytes()?;
    let increment_text = parser.next_bytes()?;
    let increment = LongDoubleOperand::read(increment_text).ok_or(CommandError::NotFloat)?;
    parser.finish()?;
    // Redis reads the increment as a long double: `1e400` is finite, `inf` is not.
    if !increment.is_finite() {
        return Err(CommandError::err("value is NaN or Infinity"));
    }
    let limits = ctx.encodings();
    let mut locks = ctx.lock_key(key);
    let text = change_or_create(&mut locks, key, |hash| {
        let current = match hash.get(field) {
            Some(text) => LongDoubleOperand::read(text)
                .ok_or_else(|| CommandError::err("hash value is not a float"))?,
            None => LongDoubleOperand::zero(),
        };
        let text =
            crate::float::add_human(&current, &increment).ok_or(CommandError::NanOrInfinity)?;
        hash.insert(field, text.as_bytes(), &limits);
        Ok(text)
    })?;
    locks.notify(Events::HASH, "hincrbyfloat", key);
    // The result, not the increment: replicas and AOF replays need not redo float arithmetic.
    locks.propagate(|| record(b"HSET", key, [&field[..], text.as_bytes()]));
    Ok(Reply::text(text))
}

// ---------------------------------------------------------------------------------------------
// Reads

fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, field) = key_and_field(args)?;
    let mut locks = ctx.lock_key(key);
    let value = read_hash(&mut locks, key)?.and_then(|hash| hash.get(field));
    Ok(value.map_or(Reply::Nil, Reply::bulk))
}

fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let fields = parser.rest();
    let mut locks = ctx.lock_key(key);
    let hash = read_hash(&mut locks, key)?;
    Ok(Reply::Array(
        fields
            .iter()
            .map(|field| {
                hash.and_then(|hash| hash.get(field))
                    .map_or(Reply::Nil, Reply::bulk)
            })
            .collect(),
    ))
}

fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let key = only_key(args)?;
    let mut locks = ctx.lock_key(key);
    let pairs = read_hash(&mut locks, key)?.map_or_else(Vec::new, |hash| {
        hash.iter()
            .map(|(field, value)| (Reply::bulk(field), Reply::bulk(value)))
            .collect()
    });
    Ok(Reply::Map(pairs))
}

fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    list_hash(ctx, args, |(field, _)| field)
}

fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    list_hash(ctx, args, |(_, value)| value)
}

/// HKEYS and HVALS: one part of every pair, as an array (empty when the key is absent).
fn list_hash(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    part: impl for<'h> Fn((&'h [u8], &'h [u8])) -> &'h [u8],
) -> Result<Reply, CommandError> {
    let key = only_key(args)?;
    let mut locks = ctx.lock_key(key);
    let items = read_hash(&mut locks, key)?.map_or_else(Vec::new, |hash| {
        hash.iter().map(|pair| Reply::bulk(part(pair))).collect()
    });
    Ok(Reply::Array(items))
}

fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, field) = key_and_field(args)?;
    let mut locks = ctx.lock_key(key);
    let found = read_hash(&mut locks, key)?.is_some_and(|hash| hash.contains(field));
    Ok(Reply::Integer(i64::from(found)))
}

fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let key = only_key(args)?;
    let mut locks = ctx.lock_key(key);
    let len = read_hash(&mut locks, key)?.map_or(0, HashValue::len);
    Ok(count_reply(len))
}

fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, field) = key_and_field(args)?;
    let mut locks = ctx.lock_key(key);
    let len = read_hash(&mut locks, key)?
        .and_then(|hash| hash.get(field))
        .map_or(0, <[u8]>::len);
    Ok(count_reply(len))
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD

/// HRANDFIELD's count argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RandomCount {
    /// |count|
    amount: u64,
    /// A negative count: fields may repeat.
    repeats: bool,
    with_values: bool,
}

impl RandomCount {
    /// `count [WITHVALUES]`, checked as Redis checks it: the range first, then the syntax, then
    /// that a WITHVALUES reply's length (twice the count) cannot overflow.
    fn parse(count: &[u8], rest: &mut Args<'_>) -> Result<RandomCount, CommandError> {
        let count = parse_i64_arg(count)?;
        if count == i64::MIN {
            return Err(CommandError::err(RANDOM_COUNT_ERROR));
        }
        let with_values = match rest.next_opt() {
            None => false,
            Some(word) if is_keyword(word, "WITHVALUES") => true,
            Some(_) => return Err(CommandError::Syntax),
        };
        rest.finish()?;
        if with_values && count.unsigned_abs() > (i64::MAX / 2).unsigned_abs() {
            return Err(CommandError::err("value is out of range"));
        }
        Ok(RandomCount {
            amount: count.unsigned_abs(),
            repeats: count < 0,
            with_values,
        })
    }

    /// The reply's elements, fields and values counted apart.
    fn elements(&self) -> u64 {
        self.amount * (1 + u64::from(self.with_values))
    }
}

fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let Some(count) = parser.next_opt() else {
        let mut locks = ctx.lock_key(key);
        let field =
            read_hash(&mut locks, key)?.and_then(|hash| hash.random_pair(&mut rand::thread_rng()));
        return Ok(field.map_or(Reply::Nil, |(field, _)| Reply::bulk(field)));
    };
    let count = RandomCount::parse(count, &mut parser)?;
    let reply_bytes_max = ctx.engine.proto_max_bulk_len.load(Ordering::Relaxed);
    let mut locks = ctx.lock_key(key);
    let hash = match read_hash(&mut locks, key)? {
        Some(hash) if count.amount > 0 => hash,
        _ => return Ok(Reply::Array(Vec::new())),
    };
    let mut rng = rand::thread_rng();
    let pairs = if count.repeats {
        repeated_random_pairs(hash, count, reply_bytes_max, &mut rng)?
    } else {
        let amount = usize::try_from(count.amount).unwrap_or(usize::MAX);
        hash.random_distinct_pairs(amount, &mut rng)
    };
    Ok(if count.with_values {
        pairs_reply(pairs)
    } else {
        Reply::Array(
            pairs
                .into_iter()
                .map(|(field, _)| Reply::bulk(field))
                .collect(),
        )
    })
}

/// HRANDFIELD with a negative count: |count| independent draws. Redis replies with all of them
/// however many; here the reply is bounded by proto-max-bulk-len bytes (each element counting
/// its data plus [`REPLY_ELEMENT_OVERHEAD_BYTES`]), checked before anything is built and then
/// as the draws add up, so a client number can never make the server allocate without bound.
fn repeated_random_pairs<'h>(
    hash: &'h HashValue,
    count: RandomCount,
    reply_bytes_max: u64,
    rng: &mut impl rand::Rng,
) -> Result<Vec<FieldValue<'h>>, CommandError> {
    let too_large = || {
        CommandError::err(format!(
            "HRANDFIELD reply too large: it would exceed proto-max-bulk-len ({reply_bytes_max} bytes)"
        ))
    };
    let mut reply_bytes = count
        .elements()
        .saturating_mul(REPLY_ELEMENT_OVERHEAD_BYTES);
    if reply_bytes > reply_bytes_max {
        return Err(too_large());
    }
    let sampler = hash.sampler();
    let reserved = count.amount.min(REPLY_PREALLOCATION_MAX);
    let mut pairs = Vec::with_capacity(usize::try_from(reserved).unwrap_or(0));
    for _ in 0..count.amount {
        let Some(pair) = sampler.draw(rng) else {
            break;
        };
        let data_bytes = pair.0.len() + if count.with_values { pair.1.len() } else { 0 };
        reply_bytes = reply_bytes.saturating_add(data_bytes as u64);
        if reply_bytes > reply_bytes_max {
            return Err(too_large());
        }
        pairs.push(pair);
    }
    Ok(pairs)
}

// ---------------------------------------------------------------------------------------------
// HSCAN

fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    // Redis reads the cursor, then looks the key up, and only then reads the options.
    let cursor_arg = args.get(2).ok_or(CommandError::Syntax)?;
    parse_cursor(cursor_arg)?;
    let parsed = parse_scan_args(&mut parser);
    let mut locks = ctx.lock_key(key);
    let Some(hash) = read_hash(&mut locks, key)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let (cursor, options) = parsed?;
    let mut items = Vec::new();
    let next_cursor = hash.scan(cursor, options.count, |field, value| {
        if options
            .pattern
            .is_none_or(|pattern| glob_match(pattern, field, false))
        {
            items.push(Reply::bulk(field));
            items.push(Reply::bulk(value));
        }
    });
    Ok(scan_reply(next_cursor, items))
}

/// `[cursor, [field, value, ...]]`
fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::text(cursor.to_string()), Reply::Array(items)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::encodings::Encodings;

    fn parse_count(words: &[&str]) -> Result<RandomCount, CommandError> {
        let args: Vec<Bytes> = std::iter::once("hrandfield")
            .chain(words.iter().copied())
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let mut parser = Args::new(&args);
        let count = parser.next_bytes()?;
        RandomCount::parse(count, &mut parser)
    }

    #[test]
    fn random_counts_are_checked_in_redis_order() {
        assert_eq!(
            parse_count(&["-3", "withvalues"]),
            Ok(RandomCount {
                amount: 3,
                repeats: true,
                with_values: true
            })
        );
        assert_eq!(parse_count(&["x", "bogus"]), Err(CommandError::NotInteger));
        assert_eq!(
            parse_count(&["-9223372036854775808", "bogus"]),
            Err(CommandError::err(RANDOM_COUNT_ERROR))
        );
        assert_eq!(
            parse_count(&["-9223372036854775807"]).map(|c| c.amount),
            Ok(i64::MAX.unsigned_abs())
        );
        assert_eq!(
            parse_count(&["9223372036854775807", "bogus"]),
            Err(CommandError::Syntax)
        );
        assert_eq!(
            parse_count(&["1", "withvalues", "x"]),
            Err(CommandError::Syntax)
        );
        let out_of_range = Err(CommandError::err("value is out of range"));
        assert_eq!(
            parse_count(&["-4611686018427387904", "WITHVALUES"]),
            out_of_range
        );
        assert_eq!(
            parse_count(&["4611686018427387904", "withvalues"]),
            out_of_range
        );
        assert!(parse_count(&["-4611686018427387903", "withvalues"]).is_ok());
    }

    #[test]
    fn repeated_draws_are_bounded_by_the_reply_limit() {
        let mut hash = HashValue::new();
        hash.insert(b"field", b"value", &Encodings::DEFAULT);
        let mut rng = rand::thread_rng();
        let count = |amount, with_values| RandomCount {
            amount,
            repeats: true,
            with_values,
        };
        let drawn = repeated_random_pairs(&hash, count(3, true), 1 << 20, &mut rng).expect("fits");
        assert_eq!(drawn, vec![(&b"field"[..], &b"value"[..]); 3]);
        // 2 elements of 64 + 10 bytes each: 138 bytes.
        assert!(repeated_random_pairs(&hash, count(1, true), 138, &mut rng).is_ok());
        assert!(repeated_random_pairs(&hash, count(1, true), 137, &mut rng).is_err());
        let huge = repeated_random_pairs(&hash, count(5_000_000_000, false), 512 << 20, &mut rng);
        assert_eq!(
            huge.unwrap_err().to_string(),
            "ERR HRANDFIELD reply too large: it would exceed proto-max-bulk-len (536870912 bytes)"
        );
    }
}
