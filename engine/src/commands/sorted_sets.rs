//! Sorted set commands: Redis 7's sorted-set family without the blocking pops (ZADD, ZINCRBY,
//! ZREM, ZCARD, ZSCORE, ZMSCORE, ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK, the ZRANGE family and
//! ZRANGESTORE, ZPOPMIN, ZPOPMAX, ZMPOP, ZREMRANGEBY*, ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD,
//! ZRANDMEMBER and ZSCAN). The value type lives in [`crate::types::zset`].
//!
//! Argument errors come in Redis's order (options and ranges are checked before the key is
//! looked up, except where Redis looks keys up first: the numkeys commands check their inputs'
//! types before their options). WITHSCORES replies are [`Reply::Pairs`]: nested pairs in RESP3,
//! one flat array in RESP2, as Redis 7.
//!
//! Writes propagate what Redis propagates, which is deterministic: ZADD, ZINCRBY, ZREM, the
//! ZREMRANGEBY* and *STORE commands as written (a *STORE whose result is empty deletes the
//! destination and propagates DEL), and every pop as `ZPOPMIN|ZPOPMAX key <count popped>`.
//! Commands that change nothing propagate nothing. The blocking commands (BZPOPMIN, BZPOPMAX,
//! BZMPOP) run ZPOPMIN, ZPOPMAX and ZMPOP for each attempt, so `pop_members` and `pop_first`
//! are the pop logic they share.
//!
//! Every change reports Redis 7's keyspace event (class `z`: zadd, zincr for ZINCRBY and ZADD
//! INCR, zrem, zremrangebyrank/score/lex, zpopmin/zpopmax, the *STORE names), followed by a
//! generic `del` when a sorted set empties or a *STORE's empty result deletes its destination.

use std::collections::HashMap;
use std::ops::Range;

use bytes::Bytes;

use crate::command::{
    is_keyword, parse_i64_arg, parse_pop_count, Args, CommandSpec, Flags, Group, Handler, KeyRange,
    MovableKeys,
};
use crate::error::CommandError;
use crate::exec::{Ctx, Locks};
use crate::glob::glob_match;
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::{format_double, Reply};
use crate::types::encodings::Encodings;
use crate::types::scan::{parse_cursor, parse_scan_args};
use crate::types::set::SetValue;
use crate::types::zset::{
    compare_entries, AddOutcome, AddRule, LexRange, PopEnd, ScoreRange, SortedSetValue,
};
use crate::value::{parse_f64_in_range, parse_i64, Value};

const READ: Flags = Flags::READONLY;
const READ_FAST: Flags = Flags::READONLY.and(Flags::FAST);
const READ_MOVABLE: Flags = Flags::READONLY.and(Flags::MOVABLE_KEYS);
const WRITE: Flags = Flags::WRITE;
const WRITE_FAST: Flags = Flags::WRITE.and(Flags::FAST);
const WRITE_OOM: Flags = Flags::WRITE.and(Flags::DENYOOM);
const WRITE_OOM_FAST: Flags = WRITE_OOM.and(Flags::FAST);
const WRITE_OOM_MOVABLE: Flags = WRITE_OOM.and(Flags::MOVABLE_KEYS);
const WRITE_MOVABLE: Flags = Flags::WRITE.and(Flags::MOVABLE_KEYS);
/// ZRANGESTORE's destination and source.
const DST_SRC: KeyRange = KeyRange::new(1, 2, 1);

/// A sorted-set command's table entry.
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
        .doc(Group::SortedSet, since, summary)
}

// Commands with a numkeys argument have movable keys: their legacy key triple is what Redis's
// COMMAND INFO shows (0 0 0, or 1 1 1 for the destination of a *STORE), the rest is found by
// reading numkeys.
#[rustfmt::skip]
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command("zadd", -4, zadd, WRITE_OOM_FAST, KeyRange::FIRST, "1.2.0",
        "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    command("zincrby", 4, zincrby, WRITE_OOM_FAST, KeyRange::FIRST, "1.2.0",
        "Increments the score of a member in a sorted set."),
    command("zrem", -3, zrem, WRITE_FAST, KeyRange::FIRST, "1.2.0",
        "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    command("zcard", 2, zcard, READ_FAST, KeyRange::FIRST, "1.2.0",
        "Returns the number of members in a sorted set."),
    command("zscore", 3, zscore, READ_FAST, KeyRange::FIRST, "1.2.0",
        "Returns the score of a member in a sorted set."),
    command("zmscore", -3, zmscore, READ_FAST, KeyRange::FIRST, "6.2.0",
        "Returns the score of one or more members in a sorted set."),
    command("zcount", 4, zcount, READ_FAST, KeyRange::FIRST, "2.0.0",
        "Returns the count of members in a sorted set that have scores within a range."),
    command("zlexcount", 4, zlexcount, READ_FAST, KeyRange::FIRST, "2.8.9",
        "Returns the number of members in a sorted set within a lexicographical range."),
    command("zrank", -3, zrank, READ_FAST, KeyRange::FIRST, "2.0.0",
        "Returns the index of a member in a sorted set ordered by ascending scores."),
    command("zrevrank", -3, zrevrank, READ_FAST, KeyRange::FIRST, "2.0.0",
        "Returns the index of a member in a sorted set ordered by descending scores."),
    command("zrange", -4, zrange, READ, KeyRange::FIRST, "1.2.0",
        "Returns members in a sorted set within a range of indexes."),
    command("zrangestore", -5, zrangestore, WRITE_OOM, DST_SRC, "6.2.0",
        "Stores a range of members from sorted set in a key."),
    command("zrevrange", -4, zrevrange, READ, KeyRange::FIRST, "1.2.0",
        "Returns members in a sorted set within a range of indexes in reverse order."),
    command("zrangebyscore", -4, zrangebyscore, READ, KeyRange::FIRST, "1.0.5",
        "Returns members in a sorted set within a range of scores."),
    command("zrevrangebyscore", -4, zrevrangebyscore, READ, KeyRange::FIRST, "2.2.0",
        "Returns members in a sorted set within a range of scores in reverse order."),
    command("zrangebylex", -4, zrangebylex, READ, KeyRange::FIRST, "2.8.9",
        "Returns members in a sorted set within a lexicographical range."),
    command("zrevrangebylex", -4, zrevrangebylex, READ, KeyRange::FIRST, "2.8.9",
        "Returns members in a sorted set within a lexicographical range in reverse order."),
    command("zpopmin", -2, zpopmin, WRITE_FAST, KeyRange::FIRST, "5.0.0",
        "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    command("zpopmax", -2, zpopmax, WRITE_FAST, KeyRange::FIRST, "5.0.0",
        "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    command("zmpop", -4, zmpop, WRITE_MOVABLE, KeyRange::NONE, "7.0.0",
        "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.")
        .movable_keys(MovableKeys::numkeys_at(1)),
    command("zremrangebyscore", 4, zremrangebyscore, WRITE, KeyRange::FIRST, "1.2.0",
        "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    command("zremrangebyrank", 4, zremrangebyrank, WRITE, KeyRange::FIRST, "2.0.0",
        "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    command("zremrangebylex", 4, zremrangebylex, WRITE, KeyRange::FIRST, "2.8.9",
        "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    command("zunion", -3, zunion, READ_MOVABLE, KeyRange::NONE, "6.2.0",
        "Returns the union of multiple sorted sets.")
        .movable_keys(MovableKeys::numkeys_at(1)),
    command("zinter", -3, zinter, READ_MOVABLE, KeyRange::NONE, "6.2.0",
        "Returns the intersect of multiple sorted sets.")
        .movable_keys(MovableKeys::numkeys_at(1)),
    command("zdiff", -3, zdiff, READ_MOVABLE, KeyRange::NONE, "6.2.0",
        "Returns the difference between multiple sorted sets.")
        .movable_keys(MovableKeys::numkeys_at(1)),
    command("zintercard", -3, zintercard, READ_MOVABLE, KeyRange::NONE, "7.0.0",
        "Returns the number of members of the intersect of multiple sorted sets.")
        .movable_keys(MovableKeys::numkeys_at(1)),
    command("zunionstore", -4, zunionstore, WRITE_OOM_MOVABLE, KeyRange::FIRST, "2.0.0",
        "Stores the union of multiple sorted sets in a key.")
        .movable_keys(MovableKeys::numkeys_at(2)),
    command("zinterstore", -4, zinterstore, WRITE_OOM_MOVABLE, KeyRange::FIRST, "2.0.0",
        "Stores the intersect of multiple sorted sets in a key.")
        .movable_keys(MovableKeys::numkeys_at(2)),
    command("zdiffstore", -4, zdiffstore, WRITE_OOM_MOVABLE, KeyRange::FIRST, "6.2.0",
        "Stores the difference of multiple sorted sets in a key.")
        .movable_keys(MovableKeys::numkeys_at(2)),
    command("zrandmember", -2, zrandmember, READ, KeyRange::FIRST, "6.2.0",
        "Returns one or more random members from a sorted set."),
    command("zscan", -3, zscan, READ, KeyRange::FIRST, "2.8.0",
        "Iterates over members and scores of a sorted set."),
];

/// Most members ZRANDMEMBER returns for a negative count (members may repeat, so the set's size
/// does not bound the reply). Redis has no bound and builds a reply of any size; a reply of a
/// million members is already tens of MiB, so larger counts are refused instead.
pub const ZRANDMEMBER_REPEATED_MAX: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The sorted set inside `entry`, or WRONGTYPE.
fn zset_of(entry: &Entry) -> Result<&SortedSetValue, CommandError> {
    match &entry.value {
        Value::SortedSet(zset) => Ok(zset),
        _ => Err(CommandError::WrongType),
    }
}

/// The sorted set inside `entry`, mutable, or WRONGTYPE.
fn zset_of_mut(entry: &mut Entry) -> Result<&mut SortedSetValue, CommandError> {
    match &mut entry.value {
        Value::SortedSet(zset) => Ok(zset),
        _ => Err(CommandError::WrongType),
    }
}

fn zset_entry(zset: SortedSetValue) -> Entry {
    Entry::new(Value::SortedSet(zset))
}

/// Deletes `key`, whose sorted set a command just emptied, and reports the generic `del`
/// Redis sends after the command's own event.
fn remove_emptied(locks: &mut Locks<'_>, key: &[u8]) {
    locks.remove(key);
    locks.notify(Events::GENERIC, "del", key);
}

/// A propagation record: `name` followed by copies of `args`.
fn record(name: &'static [u8], args: &[&[u8]]) -> Vec<Bytes> {
    std::iter::once(Bytes::from_static(name))
        .chain(args.iter().map(|arg| Bytes::copy_from_slice(arg)))
        .collect()
}

/// The command as the client wrote it (copied out of the request), under its canonical name.
fn as_written(name: &'static [u8], args: &[Bytes]) -> Vec<Bytes> {
    std::iter::once(Bytes::from_static(name))
        .chain(args.iter().skip(1).map(|arg| Bytes::copy_from_slice(arg)))
        .collect()
}

/// A count as an integer reply.
fn count_reply(count: usize) -> Reply {
    Reply::Integer(i64::try_from(count).unwrap_or(i64::MAX))
}

/// Members, with their scores as pairs when asked.
fn entries_reply<'a>(entries: impl Iterator<Item = (&'a [u8], f64)>, with_scores: bool) -> Reply {
    if with_scores {
        Reply::Pairs(
            entries
                .map(|(member, score)| (Reply::bulk(member), Reply::Double(score)))
                .collect(),
        )
    } else {
        Reply::Array(entries.map(|(member, _)| Reply::bulk(member)).collect())
    }
}

/// Owned members, with their scores as pairs when asked.
fn owned_entries_reply(entries: Vec<(Bytes, f64)>, with_scores: bool) -> Reply {
    if with_scores {
        Reply::Pairs(
            entries
                .into_iter()
                .map(|(member, score)| (Reply::Bulk(member), Reply::Double(score)))
                .collect(),
        )
    } else {
        Reply::Array(
            entries
                .into_iter()
                .map(|(member, _)| Reply::Bulk(member))
                .collect(),
        )
    }
}

/// A score argument.
fn parse_score(arg: &[u8]) -> Result<f64, CommandError> {
    parse_f64_in_range(arg).ok_or(CommandError::NotFloat)
}

fn bad_score_range() -> CommandError {
    CommandError::err("min or max is not a float")
}

fn bad_lex_range() -> CommandError {
    CommandError::err("min or max not valid string range item")
}

/// The `key a b` of the commands taking a key and two bounds.
fn key_and_bounds(args: &[Bytes]) -> Result<(&Bytes, &Bytes, &Bytes), CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let min = parser.next_bytes()?;
    let max = parser.next_bytes()?;
    parser.finish()?;
    Ok((key, min, max))
}

/// The inclusive ranks `start..=stop` of ZRANGE's and ZREMRANGEBYRANK's indexes in a set of
/// `len` members: negative indexes count from the end, both ends are clamped, and `None` means
/// an empty range.
fn index_window(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = i64::try_from(len).ok()?;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((
        usize::try_from(start).ok()?,
        usize::try_from(stop.min(len - 1)).ok()?,
    ))
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM

/// ZADD's (or ZINCRBY's) options and pairs.
#[derive(Debug)]
struct AddRequest<'a> {
    rule: AddRule,
    /// CH: count updated members too.
    changed: bool,
    pairs: Vec<(f64, &'a [u8])>,
}

/// Parses `key [NX|XX] [GT|LT] [CH] [INCR] score member ...` (ZINCRBY is ZADD with INCR).
fn parse_add(args: &[Bytes], increment: bool) -> Result<AddRequest<'_>, CommandError> {
    let rest = args.get(2..).unwrap_or(&[]);
    let mut rule = AddRule {
        increment,
        ..AddRule::default()
    };
    let mut changed = false;
    let mut options = 0;
    // Options run up to the first word that is not one (the first score).
    for word in rest {
        let flag = if is_keyword(word, "NX") {
            &mut rule.only_new
        } else if is_keyword(word, "XX") {
            &mut rule.only_existing
        } else if is_keyword(word, "GT") {
            &mut rule.only_greater
        } else if is_keyword(word, "LT") {
            &mut rule.only_less
        } else if is_keyword(word, "INCR") {
            &mut rule.increment
        } else if is_keyword(word, "CH") {
            &mut changed
        } else {
            break;
        };
        *flag = true;
        options += 1;
    }
    let pairs = &rest[options..];
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(CommandError::Syntax);
    }
    if rule.only_new && rule.only_existing {
        return Err(CommandError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (rule.only_new && (rule.only_greater || rule.only_less))
        || (rule.only_greater && rule.only_less)
    {
        return Err(CommandError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if rule.increment && pairs.len() > 2 {
        return Err(CommandError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let pairs = pairs
        .chunks_exact(2)
        .map(|pair| Ok((parse_score(&pair[0])?, &pair[1][..])))
        .collect::<Result<_, CommandError>>()?;
    Ok(AddRequest {
        rule,
        changed,
        pairs,
    })
}

/// What a ZADD did, for its reply.
#[derive(Debug, Default)]
struct AddTally {
    added: usize,
    updated: usize,
    /// The score of the last member a condition did not skip (INCR's reply).
    last_score: Option<f64>,
}

impl AddTally {
    fn apply(
        &mut self,
        zset: &mut SortedSetValue,
        request: &AddRequest<'_>,
        limits: &Encodings,
    ) -> Result<(), CommandError> {
        for &(score, member) in &request.pairs {
            match zset.add(member, score, request.rule, limits) {
                AddOutcome::Added(score) => {
                    self.added += 1;
                    self.last_score = Some(score);
                }
                AddOutcome::Updated(score) => {
                    self.updated += 1;
                    self.last_score = Some(score);
                }
                AddOutcome::Unchanged(score) => self.last_score = Some(score),
                AddOutcome::Skipped => {}
                AddOutcome::NotANumber => {
                    return Err(CommandError::err("resulting score is not a number (NaN)"))
                }
            }
        }
        Ok(())
    }
}

fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    add_members(ctx, args, false, b"ZADD")
}

fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    add_members(ctx, args, true, b"ZINCRBY")
}

fn add_members(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    increment: bool,
    name: &'static [u8],
) -> Result<Reply, CommandError> {
    let key = Args::new(args).next_bytes()?;
    let request = parse_add(args, increment)?;
    let limits = ctx.encodings();
    let mut locks = ctx.lock_key(key);
    let mut tally = AddTally::default();
    match locks.get_mut(key) {
        Some(entry) => tally.apply(zset_of_mut(entry)?, &request, &limits)?,
        None if request.rule.only_existing => {}
        None => {
            let mut zset = SortedSetValue::new();
            tally.apply(&mut zset, &request, &limits)?;
            if !zset.is_empty() {
                locks.insert(key, zset_entry(zset));
            }
        }
    }
    if tally.added + tally.updated > 0 {
        // ZINCRBY and ZADD INCR both report `zincr`, as Redis does.
        let event = if request.rule.increment {
            "zincr"
        } else {
            "zadd"
        };
        locks.notify(Events::ZSET, event, key);
        locks.propagate(|| as_written(name, args));
    }
    Ok(if request.rule.increment {
        tally.last_score.map_or(Reply::Nil, Reply::Double)
    } else if request.changed {
        count_reply(tally.added + tally.updated)
    } else {
        count_reply(tally.added)
    })
}

fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let members = parser.rest();
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.get_mut(key) else {
        return Ok(Reply::Integer(0));
    };
    let zset = zset_of_mut(entry)?;
    let mut removed = 0;
    for member in members {
        if zset.remove(member).is_some() {
            removed += 1;
            if zset.is_empty() {
                break;
            }
        }
    }
    let emptied = zset.is_empty();
    if removed > 0 {
        locks.notify(Events::ZSET, "zrem", key);
    }
    if emptied {
        remove_emptied(&mut locks, key);
    }
    if removed > 0 {
        locks.propagate(|| as_written(b"ZREM", args));
    }
    Ok(count_reply(removed))
}

// ---------------------------------------------------------------------------------------------
// Reads of one key

fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    parser.finish()?;
    let mut locks = ctx.lock_key(key);
    let len = locks
        .read(key)
        .map_or(Ok(0), |entry| zset_of(entry).map(SortedSetValue::len))?;
    Ok(count_reply(len))
}

fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let member = parser.next_bytes()?;
    parser.finish()?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Nil);
    };
    Ok(zset_of(entry)?
        .score(member)
        .map_or(Reply::Nil, Reply::Double))
}

fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let members = parser.rest();
    let mut locks = ctx.lock_key(key);
    let zset = locks.read(key).map(zset_of).transpose()?;
    Ok(Reply::Array(
        members
            .iter()
            .map(|member| {
                zset.and_then(|zset| zset.score(member))
                    .map_or(Reply::Nil, Reply::Double)
            })
            .collect(),
    ))
}

fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, min, max) = key_and_bounds(args)?;
    let range = ScoreRange::parse(min, max).ok_or_else(bad_score_range)?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Integer(0));
    };
    Ok(count_reply(zset_of(entry)?.score_ranks(&range).len()))
}

fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, min, max) = key_and_bounds(args)?;
    let range = LexRange::parse(min, max).ok_or_else(bad_lex_range)?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Integer(0));
    };
    Ok(count_reply(zset_of(entry)?.lex_ranks(&range).len()))
}

fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    rank_of(ctx, args, false, "zrank")
}

fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    rank_of(ctx, args, true, "zrevrank")
}

/// ZRANK and ZREVRANK: `key member [WITHSCORE]`.
fn rank_of(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    reverse: bool,
    command: &str,
) -> Result<Reply, CommandError> {
    if args.len() > 4 {
        return Err(CommandError::WrongArity(command.to_owned()));
    }
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let member = parser.next_bytes()?;
    let with_score = match parser.next_opt() {
        None => false,
        Some(word) if is_keyword(word, "WITHSCORE") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    let missing = if with_score {
        Reply::NilArray
    } else {
        Reply::Nil
    };
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(missing);
    };
    let zset = zset_of(entry)?;
    let Some((rank, score)) = zset.rank(member) else {
        return Ok(missing);
    };
    let rank = if reverse { zset.len() - 1 - rank } else { rank };
    Ok(if with_score {
        Reply::Array(vec![count_reply(rank), Reply::Double(score)])
    } else {
        count_reply(rank)
    })
}

// ---------------------------------------------------------------------------------------------
// The ZRANGE family

/// What the two bounds of a range name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeBy {
    Rank,
    Score,
    Lex,
}

/// What a ZRANGE-family command fixes (`None`: left to its options) and whether it stores.
#[derive(Debug, Clone, Copy)]
struct RangeGrammar {
    by: Option<RangeBy>,
    reverse: Option<bool>,
    store: bool,
}

/// The parsed bounds of a range.
#[derive(Debug)]
enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

/// A ZRANGE-family request.
#[derive(Debug)]
struct RangeRequest<'a> {
    bounds: Bounds<'a>,
    reverse: bool,
    with_scores: bool,
    /// LIMIT's offset and count (a negative count means all), `(0, -1)` when absent.
    limit: (i64, i64),
}

/// Parses `min max [BYSCORE|BYLEX] [REV] [WITHSCORES] [LIMIT offset count]` under `grammar`,
/// in Redis's order: options, then their conflicts, then the bounds.
fn parse_range(args: &[Bytes], grammar: RangeGrammar) -> Result<RangeRequest<'_>, CommandError> {
    let [min, max, options @ ..] = args else {
        return Err(CommandError::Syntax);
    };
    let (mut by, mut reverse) = (grammar.by, grammar.reverse);
    let mut with_scores = false;
    let mut limit = (0, -1);
    let mut index = 0;
    while let Some(word) = options.get(index) {
        let left = options.len() - index - 1;
        if !grammar.store && is_keyword(word, "WITHSCORES") {
            with_scores = true;
        } else if is_keyword(word, "LIMIT") && left >= 2 {
            limit = (
                parse_i64_arg(&options[index + 1])?,
                parse_i64_arg(&options[index + 2])?,
            );
            index += 2;
        } else if reverse.is_none() && is_keyword(word, "REV") {
            reverse = Some(true);
        } else if by.is_none() && is_keyword(word, "BYSCORE") {
            by = Some(RangeBy::Score);
        } else if by.is_none() && is_keyword(word, "BYLEX") {
            by = Some(RangeBy::Lex);
        } else {
            return Err(CommandError::Syntax);
        }
        index += 1;
    }
    let by = by.unwrap_or(RangeBy::Rank);
    let reverse = reverse.unwrap_or(false);
    // Redis tests the count only: `LIMIT 5 -1` passes with a rank range (and is ignored).
    if limit.1 != -1 && by == RangeBy::Rank {
        return Err(CommandError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && by == RangeBy::Lex {
        return Err(CommandError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Reversed score and lex ranges are written max first.
    let (min, max) = if reverse && by != RangeBy::Rank {
        (max, min)
    } else {
        (min, max)
    };
    let bounds = match by {
        RangeBy::Rank => Bounds::Rank(parse_i64_arg(min)?, parse_i64_arg(max)?),
        RangeBy::Score => Bounds::Score(ScoreRange::parse(min, max).ok_or_else(bad_score_range)?),
        RangeBy::Lex => Bounds::Lex(LexRange::parse(min, max).ok_or_else(bad_lex_range)?),
    };
    Ok(RangeRequest {
        bounds,
        reverse,
        with_scores,
        limit,
    })
}

/// The ranks (ascending) a request selects; the reply walks them backwards when reversed.
fn selected_ranks(zset: &SortedSetValue, request: &RangeRequest<'_>) -> Range<usize> {
    let len = zset.len();
    match &request.bounds {
        Bounds::Rank(start, stop) => match index_window(len, *start, *stop) {
            None => 0..0,
            // Reversed indexes count from the highest score.
            Some((first, last)) if request.reverse => len - 1 - last..len - first,
            Some((first, last)) => first..last + 1,
        },
        Bounds::Score(range) => limited(zset.score_ranks(range), request),
        Bounds::Lex(range) => limited(zset.lex_ranks(range), request),
    }
}

/// The part of `ranks` LIMIT keeps: `offset` members skipped from the walk's start (the top
/// when reversed), then at most `count` (all for a negative count; none for a negative offset).
fn limited(ranks: Range<usize>, request: &RangeRequest<'_>) -> Range<usize> {
    let (offset, count) = request.limit;
    let Ok(offset) = usize::try_from(offset) else {
        return 0..0;
    };
    let offset = offset.min(ranks.len());
    let available = ranks.len() - offset;
    let take = usize::try_from(count).map_or(available, |count| count.min(available));
    if request.reverse {
        let end = ranks.end - offset;
        end - take..end
    } else {
        let start = ranks.start + offset;
        start..start + take
    }
}

/// The members a request selects, in reply order.
fn selected<'a>(
    zset: &'a SortedSetValue,
    request: &RangeRequest<'_>,
) -> Box<dyn Iterator<Item = (&'a [u8], f64)> + 'a> {
    let entries = zset.range(selected_ranks(zset, request));
    if request.reverse {
        Box::new(entries.rev())
    } else {
        Box::new(entries)
    }
}

/// ZRANGE and its older forms: `key <bounds and options>`.
fn range_of(ctx: &Ctx<'_>, args: &[Bytes], grammar: RangeGrammar) -> Result<Reply, CommandError> {
    let key = Args::new(args).next_bytes()?;
    let request = parse_range(args.get(2..).unwrap_or(&[]), grammar)?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(entries_reply(std::iter::empty(), request.with_scores));
    };
    let zset = zset_of(entry)?;
    Ok(entries_reply(selected(zset, &request), request.with_scores))
}

const fn grammar(by: Option<RangeBy>, reverse: Option<bool>) -> RangeGrammar {
    RangeGrammar {
        by,
        reverse,
        store: false,
    }
}

fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    range_of(ctx, args, grammar(None, None))
}

fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    range_of(ctx, args, grammar(Some(RangeBy::Rank), Some(true)))
}

fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    range_of(ctx, args, grammar(Some(RangeBy::Score), Some(false)))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    range_of(ctx, args, grammar(Some(RangeBy::Score), Some(true)))
}

fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    range_of(ctx, args, grammar(Some(RangeBy::Lex), Some(false)))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    range_of(ctx, args, grammar(Some(RangeBy::Lex), Some(true)))
}

fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let dst = parser.next_bytes()?;
    let src = parser.next_bytes()?;
    let store = RangeGrammar {
        by: None,
        reverse: None,
        store: true,
    };
    let request = parse_range(args.get(3..).unwrap_or(&[]), store)?;
    let limits = ctx.encodings();
    let mut locks = ctx.lock_keys(&[dst, src]);
    let result = match locks.read(src) {
        None => Vec::new(),
        Some(entry) => selected(zset_of(entry)?, &request)
            .map(|(member, score)| (Bytes::copy_from_slice(member), score))
            .collect(),
    };
    Ok(store_result(
        &mut locks,
        dst,
        result,
        args,
        (b"ZRANGESTORE", "zrangestore"),
        &limits,
    ))
}

/// Stores a *STORE command's result at `dst`, replacing any value of any type, or deletes
/// `dst` when the result is empty; replies with the result's size. `name` is the command as
/// propagated and its keyspace event.
fn store_result(
    locks: &mut Locks<'_>,
    dst: &[u8],
    result: Vec<(Bytes, f64)>,
    args: &[Bytes],
    (name, event): (&'static [u8], &str),
    limits: &Encodings,
) -> Reply {
    let len = result.len();
    if result.is_empty() {
        if locks.remove(dst).is_some() {
            locks.notify(Events::GENERIC, "del", dst);
            locks.propagate(|| record(b"DEL", &[dst]));
        }
    } else {
        locks.insert(
            dst,
            zset_entry(SortedSetValue::from_entries(result, limits)),
        );
        locks.notify(Events::ZSET, event, dst);
        locks.propagate(|| as_written(name, args));
    }
    count_reply(len)
}

// ---------------------------------------------------------------------------------------------
// ZREMRANGEBY*

fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, start, stop) = key_and_bounds(args)?;
    let (start, stop) = (parse_i64_arg(start)?, parse_i64_arg(stop)?);
    remove_range(
        ctx,
        key,
        args,
        (b"ZREMRANGEBYRANK", "zremrangebyrank"),
        |zset| index_window(zset.len(), start, stop).map_or(0..0, |(first, last)| first..last + 1),
    )
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, min, max) = key_and_bounds(args)?;
    let range = ScoreRange::parse(min, max).ok_or_else(bad_score_range)?;
    remove_range(
        ctx,
        key,
        args,
        (b"ZREMRANGEBYSCORE", "zremrangebyscore"),
        |zset| zset.score_ranks(&range),
    )
}

fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, min, max) = key_and_bounds(args)?;
    let range = LexRange::parse(min, max).ok_or_else(bad_lex_range)?;
    remove_range(
        ctx,
        key,
        args,
        (b"ZREMRANGEBYLEX", "zremrangebylex"),
        |zset| zset.lex_ranks(&range),
    )
}

/// Removes the ranks `ranks_of` picks from the sorted set at `key`. `name` is the command as
/// propagated and its keyspace event (Redis 7's full command name).
fn remove_range(
    ctx: &Ctx<'_>,
    key: &[u8],
    args: &[Bytes],
    (name, event): (&'static [u8], &str),
    ranks_of: impl FnOnce(&SortedSetValue) -> Range<usize>,
) -> Result<Reply, CommandError> {
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.get_mut(key) else {
        return Ok(Reply::Integer(0));
    };
    let zset = zset_of_mut(entry)?;
    let ranks = ranks_of(zset);
    let removed = zset.remove_ranks(ranks);
    let emptied = zset.is_empty();
    if removed > 0 {
        locks.notify(Events::ZSET, event, key);
    }
    if emptied {
        remove_emptied(&mut locks, key);
    }
    if removed > 0 {
        locks.propagate(|| as_written(name, args));
    }
    Ok(count_reply(removed))
}

// ---------------------------------------------------------------------------------------------
// Pops

/// Members popped with their scores, in the order popped.
pub(crate) type Popped = Vec<(Bytes, f64)>;

/// Pops up to `count` members from `end` of the sorted set at `key`, deletes the key when it
/// empties, and propagates `ZPOPMIN|ZPOPMAX key <count popped>` (nothing when `count` is 0).
/// `None` when the key does not exist; WRONGTYPE for another type.
pub(crate) fn pop_members(
    locks: &mut Locks<'_>,
    key: &[u8],
    end: PopEnd,
    count: usize,
) -> Result<Option<Popped>, CommandError> {
    let Some(entry) = locks.get_mut(key) else {
        return Ok(None);
    };
    let zset = zset_of_mut(entry)?;
    if count == 0 {
        return Ok(Some(Vec::new()));
    }
    let popped = zset.pop(end, count);
    let emptied = zset.is_empty();
    let (name, event): (&'static [u8], &str) = match end {
        PopEnd::Min => (b"ZPOPMIN", "zpopmin"),
        PopEnd::Max => (b"ZPOPMAX", "zpopmax"),
    };
    locks.notify(Events::ZSET, event, key);
    if emptied {
        remove_emptied(locks, key);
    }
    locks.propagate(|| record(name, &[key, popped.len().to_string().as_bytes()]));
    Ok(Some(popped))
}

/// ZMPOP's pop: from the first of `keys` that exists (an existing sorted set is never empty).
/// A key of another type stops the walk with WRONGTYPE, as in Redis. `None` when no key exists.
pub(crate) fn pop_first<'k>(
    locks: &mut Locks<'_>,
    keys: &'k [Bytes],
    end: PopEnd,
    count: usize,
) -> Result<Option<(&'k Bytes, Popped)>, CommandError> {
    for key in keys {
        if let Some(popped) = pop_members(locks, key, end, count)? {
            return Ok(Some((key, popped)));
        }
    }
    Ok(None)
}

fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    pop_command(ctx, args, PopEnd::Min)
}

fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    pop_command(ctx, args, PopEnd::Max)
}

/// ZPOPMIN and ZPOPMAX: `key [count]`. Without a count the reply is one flat pair; with one it
/// is a list of pairs (nested in RESP3).
fn pop_command(ctx: &Ctx<'_>, args: &[Bytes], end: PopEnd) -> Result<Reply, CommandError> {
    if args.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let count = parser
        .next_opt()
        .map(|arg| parse_pop_count(arg))
        .transpose()?;
    let mut locks = ctx.lock_key(key);
    let popped = pop_members(&mut locks, key, end, count.unwrap_or(1))?.unwrap_or_default();
    Ok(match count {
        Some(_) => owned_entries_reply(popped, true),
        None => Reply::Array(
            popped
                .into_iter()
                .flat_map(|(member, score)| [Reply::Bulk(member), Reply::Double(score)])
                .collect(),
        ),
    })
}

/// ZMPOP's arguments (`args` starts with the command name): the keys, the end, the count.
fn parse_zmpop(args: &[Bytes]) -> Result<(&[Bytes], PopEnd, usize), CommandError> {
    let numkeys = args
        .get(1)
        .and_then(|arg| parse_i64(arg))
        .filter(|&n| n > 0)
        .ok_or_else(|| CommandError::err("numkeys should be greater than 0"))?;
    let end_index = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(2))
        .filter(|&index| index < args.len())
        .ok_or(CommandError::Syntax)?;
    let end = match &args[end_index] {
        word if is_keyword(word, "MIN") => PopEnd::Min,
        word if is_keyword(word, "MAX") => PopEnd::Max,
        _ => return Err(CommandError::Syntax),
    };
    let count = parse_zmpop_count(&args[end_index + 1..])?;
    Ok((&args[2..end_index], end, count))
}

/// Checks ZMPOP's arguments (`args` starts with the command name) without running it, and
/// says its keys: BZMPOP reads them before its timeout, as Redis does.
pub fn zmpop_keys(args: &[Bytes]) -> Result<&[Bytes], CommandError> {
    parse_zmpop(args).map(|(keys, _, _)| keys)
}

fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (keys, end, count) = parse_zmpop(args)?;
    let key_refs: Vec<&[u8]> = keys.iter().map(|key| &key[..]).collect();
    let mut locks = ctx.lock_keys(&key_refs);
    Ok(match pop_first(&mut locks, keys, end, count)? {
        None => Reply::NilArray,
        Some((key, popped)) => Reply::Array(vec![
            Reply::bulk(key),
            Reply::Array(
                popped
                    .into_iter()
                    .map(|(member, score)| {
                        Reply::Array(vec![Reply::Bulk(member), Reply::Double(score)])
                    })
                    .collect(),
            ),
        ]),
    })
}

/// ZMPOP's options: `[COUNT count]` (1 when absent), read word by word as Redis does, so a bad
/// count is reported before anything that follows it.
fn parse_zmpop_count(words: &[Bytes]) -> Result<usize, CommandError> {
    let mut count = None;
    let mut words = words.iter();
    while let Some(word) = words.next() {
        match words.as_slice().first() {
            Some(value) if count.is_none() && is_keyword(word, "COUNT") => {
                let parsed = parse_i64(value)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CommandError::err("count should be greater than 0"))?;
                count = Some(parsed);
                words.next();
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    Ok(count.unwrap_or(1))
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN

fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let Some(count) = parser.next_opt() else {
        let mut locks = ctx.lock_key(key);
        let Some(entry) = locks.read(key) else {
            return Ok(Reply::Nil);
        };
        let picked = zset_of(entry)?.random_members(&mut rand::thread_rng(), 1, true);
        return Ok(picked
            .first()
            .map_or(Reply::Nil, |(member, _)| Reply::bulk(member)));
    };
    let count = parse_i64_arg(count)?;
    if count == i64::MIN {
        return Err(CommandError::err(format!(
            "value is out of range, must be between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    let with_scores = match parser.rest() {
        [] => false,
        [word] if is_keyword(word, "WITHSCORES") => true,
        _ => return Err(CommandError::Syntax),
    };
    // Redis bounds WITHSCORES counts so that twice the count fits a long.
    if with_scores && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(CommandError::err("value is out of range"));
    }
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(entries_reply(std::iter::empty(), with_scores));
    };
    let zset = zset_of(entry)?;
    let unique = count > 0;
    let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    if !unique && wanted > ZRANDMEMBER_REPEATED_MAX {
        return Err(CommandError::err(format!(
            "value is out of range, a negative count may ask for at most {ZRANDMEMBER_REPEATED_MAX} members"
        )));
    }
    let picked = zset.random_members(&mut rand::thread_rng(), wanted, unique);
    Ok(entries_reply(picked.into_iter(), with_scores))
}

fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    // Redis checks the cursor, then the key, then the options.
    parse_cursor(args.get(2).ok_or(CommandError::Syntax)?)?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let zset = zset_of(entry)?;
    let (cursor, options) = parse_scan_args(&mut parser)?;
    let mut found = Vec::new();
    let next = zset.scan(cursor, options.count, |member, score| {
        if options
            .pattern
            .is_none_or(|pattern| glob_match(pattern, member, false))
        {
            found.push(Reply::bulk(member));
            found.push(Reply::text(format_double(score)));
        }
    });
    Ok(scan_reply(next, found))
}

/// `[cursor, [member, score, ...]]`: scores are bulk strings in both protocols, as Redis's.
fn scan_reply(cursor: u64, found: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::text(cursor.to_string()), Reply::Array(found)])
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, ZINTERCARD and the *STORE forms

/// How inputs combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// What the command does with the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// ZUNION, ZINTER, ZDIFF: reply with it.
    Reply,
    /// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE: store it at the first argument.
    Store,
    /// ZINTERCARD: count it.
    Cardinality,
}

/// AGGREGATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Folds `value` into `total`. A sum of `inf` and `-inf` is 0, as in Redis; a NaN value
    /// (0 times an infinite weight) never wins a MIN or MAX.
    fn fold(self, total: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *total += value;
                if total.is_nan() {
                    *total = 0.0;
                }
            }
            Aggregate::Min if value < *total => *total = value,
            Aggregate::Max if value > *total => *total = value,
            Aggregate::Min | Aggregate::Max => {}
        }
    }
}

/// `score * weight`, where the NaN of 0 times an infinite weight counts as 0 (Redis's rule).
fn weighted(score: f64, weight: f64) -> f64 {
    let value = score * weight;
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

/// The options after the keys.
#[derive(Debug)]
struct CombineOptions {
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
    /// ZINTERCARD's LIMIT (0: none).
    limit: usize,
}

/// Parses `[WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES] [LIMIT n]` as far as `op` and
/// `output` allow each.
fn parse_combine_options(
    words: &[Bytes],
    inputs: usize,
    op: SetOp,
    output: Output,
) -> Result<CombineOptions, CommandError> {
    let mut options = CombineOptions {
        weights: vec![1.0; inputs],
        aggregate: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let scored = op != SetOp::Diff && output != Output::Cardinality;
    let mut index = 0;
    while let Some(word) = words.get(index) {
        let remaining = words.len() - index;
        if scored && remaining > inputs && is_keyword(word, "WEIGHTS") {
            for (weight, arg) in options.weights.iter_mut().zip(&words[index + 1..]) {
                *weight = parse_f64_in_range(arg)
                    .ok_or_else(|| CommandError::err("weight value is not a float"))?;
            }
            index += 1 + inputs;
        } else if scored && remaining >= 2 && is_keyword(word, "AGGREGATE") {
            options.aggregate = match &words[index + 1] {
                name if is_keyword(name, "SUM") => Aggregate::Sum,
                name if is_keyword(name, "MIN") => Aggregate::Min,
                name if is_keyword(name, "MAX") => Aggregate::Max,
                _ => return Err(CommandError::Syntax),
            };
            index += 2;
        } else if output == Output::Reply && is_keyword(word, "WITHSCORES") {
            options.with_scores = true;
            index += 1;
        } else if output == Output::Cardinality && remaining >= 2 && is_keyword(word, "LIMIT") {
            let limit = parse_i64(&words[index + 1])
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| CommandError::err("LIMIT can't be negative"))?;
            options.limit = limit;
            index += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(options)
}

/// The keys after a numkeys argument at `args[index]`.
fn numbered_keys<'a>(
    args: &'a [Bytes],
    index: usize,
    command: &str,
) -> Result<&'a [Bytes], CommandError> {
    let numkeys = parse_i64_arg(args.get(index).ok_or(CommandError::Syntax)?)?;
    if numkeys < 1 {
        return Err(CommandError::err(format!(
            "at least 1 input key is needed for '{command}' command"
        )));
    }
    let first = index + 1;
    let available = args.len().saturating_sub(first);
    let count = usize::try_from(numkeys)
        .ok()
        .filter(|&count| count <= available)
        .ok_or(CommandError::Syntax)?;
    Ok(&args[first..first + count])
}

/// An input of ZUNION and friends: a sorted set, or a set whose members all score 1.
#[derive(Debug, Clone, Copy)]
enum Input<'a> {
    Missing,
    Sorted(&'a SortedSetValue),
    Plain(&'a SetValue),
}

impl<'a> Input<'a> {
    fn of(entry: Option<&'a Entry>) -> Result<Input<'a>, CommandError> {
        match entry.map(|entry| &entry.value) {
            None => Ok(Input::Missing),
            Some(Value::SortedSet(zset)) => Ok(Input::Sorted(zset)),
            Some(Value::Set(set)) => Ok(Input::Plain(set)),
            Some(_) => Err(CommandError::WrongType),
        }
    }

    fn len(self) -> usize {
        match self {
            Input::Missing => 0,
            Input::Sorted(zset) => zset.len(),
            Input::Plain(set) => set.len(),
        }
    }

    fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            Input::Missing => None,
            Input::Sorted(zset) => zset.score(member),
            Input::Plain(set) => set.contains(member).then_some(1.0),
        }
    }

    /// Visits every member with its score while `visit` returns true.
    fn visit_while(self, mut visit: impl FnMut(&[u8], f64) -> bool) {
        match self {
            Input::Missing => {}
            Input::Sorted(zset) => {
                for (member, score) in zset.iter() {
                    if !visit(member, score) {
                        return;
                    }
                }
            }
            Input::Plain(set) => {
                for member in set.iter() {
                    if !member.with_text(|text| visit(text, 1.0)) {
                        return;
                    }
                }
            }
        }
    }
}

/// Indexes of `inputs`, smallest first (Redis combines in that order, which fixes the order in
/// which scores are summed).
fn smallest_first(inputs: &[Input<'_>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|&index| inputs[index].len());
    order
}

fn union(inputs: &[Input<'_>], options: &CombineOptions) -> Vec<(Bytes, f64)> {
    let order = smallest_first(inputs);
    let largest = order.last().map_or(0, |&index| inputs[index].len());
    let mut totals: HashMap<Bytes, f64, ahash::RandomState> =
        HashMap::with_capacity_and_hasher(largest, ahash::RandomState::new());
    for index in order {
        let weight = options.weights[index];
        inputs[index].visit_while(|member, score| {
            let value = weighted(score, weight);
            match totals.get_mut(member) {
                Some(total) => options.aggregate.fold(total, value),
                None => {
                    totals.insert(Bytes::copy_from_slice(member), value);
                }
            }
            true
        });
    }
    totals.into_iter().collect()
}

/// Visits the members common to every input with their aggregated scores, while `visit`
/// returns true: the smallest input is walked and the others are probed.
fn visit_common(
    inputs: &[Input<'_>],
    options: &CombineOptions,
    mut visit: impl FnMut(&[u8], f64) -> bool,
) {
    let order = smallest_first(inputs);
    let Some((&first, others)) = order.split_first() else {
        return;
    };
    inputs[first].visit_while(|member, score| {
        let mut total = weighted(score, options.weights[first]);
        for &other in others {
            match inputs[other].score(member) {
                Some(score) => options
                    .aggregate
                    .fold(&mut total, score * options.weights[other]),
                None => return true,
            }
        }
        visit(member, total)
    });
}

fn intersection(inputs: &[Input<'_>], options: &CombineOptions) -> Vec<(Bytes, f64)> {
    let mut common = Vec::new();
    visit_common(inputs, options, |member, score| {
        common.push((Bytes::copy_from_slice(member), score));
        true
    });
    common
}

/// The members of the first input found in no other, with their (unweighted) scores.
fn difference(inputs: &[Input<'_>]) -> Vec<(Bytes, f64)> {
    let Some((first, others)) = inputs.split_first() else {
        return Vec::new();
    };
    let mut only_first = Vec::new();
    first.visit_while(|member, score| {
        if others.iter().all(|other| other.score(member).is_none()) {
            only_first.push((Bytes::copy_from_slice(member), score));
        }
        true
    });
    only_first
}

/// ZUNION, ZINTER, ZDIFF, ZINTERCARD and the *STORE forms.
fn combine(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    op: SetOp,
    output: Output,
    name: &'static [u8],
    command: &str,
) -> Result<Reply, CommandError> {
    let numkeys_index = if output == Output::Store { 2 } else { 1 };
    let keys = numbered_keys(args, numkeys_index, command)?;
    let options_from = numkeys_index + 1 + keys.len();
    let mut lock_list: Vec<&[u8]> = keys.iter().map(|key| &key[..]).collect();
    let dst = (output == Output::Store).then(|| &args[1]);
    lock_list.extend(dst.map(|dst| &dst[..]));
    let mut locks = ctx.lock_keys(&lock_list);
    // Inputs are looked up (and type-checked) before the options are read, as in Redis.
    let entries = locks.read_many(&lock_list[..keys.len()]);
    let inputs = entries
        .into_iter()
        .map(Input::of)
        .collect::<Result<Vec<_>, _>>()?;
    let options = parse_combine_options(&args[options_from..], keys.len(), op, output)?;
    if output == Output::Cardinality {
        let mut count = 0;
        visit_common(&inputs, &options, |_, _| {
            count += 1;
            options.limit == 0 || count < options.limit
        });
        return Ok(count_reply(count));
    }
    let mut result = match op {
        SetOp::Union => union(&inputs, &options),
        SetOp::Inter => intersection(&inputs, &options),
        SetOp::Diff => difference(&inputs),
    };
    match dst {
        Some(dst) => {
            let limits = ctx.encodings();
            Ok(store_result(
                &mut locks,
                dst,
                result,
                args,
                (name, command),
                &limits,
            ))
        }
        None => {
            result.sort_by(|a, b| compare_entries(a.1, &a.0, b.1, &b.0));
            Ok(owned_entries_reply(result, options.with_scores))
        }
    }
}

fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    combine(ctx, args, SetOp::Union, Output::Reply, b"ZUNION", "zunion")
}

fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    combine(ctx, args, SetOp::Inter, Output::Reply, b"ZINTER", "zinter")
}

fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    combine(ctx, args, SetOp::Diff, Output::Reply, b"ZDIFF", "zdiff")
}

fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    combine(
        ctx,
        args,
        SetOp::Inter,
        Output::Cardinality,
        b"ZINTERCARD",
        "zintercard",
    )
}

fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    combine(
        ctx,
        args,
        SetOp::Union,
        Output::Store,
        b"ZUNIONSTORE",
        "zunionstore",
    )
}

fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    combine(
        ctx,
        args,
        SetOp::Inter,
        Output::Store,
        b"ZINTERSTORE",
        "zinterstore",
    )
}

fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    combine(
        ctx,
        args,
        SetOp::Diff,
        Output::Store,
        b"ZDIFFSTORE",
        "zdiffstore",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(bounds: Bounds<'static>, reverse: bool, limit: (i64, i64)) -> RangeRequest<'static> {
        RangeRequest {
            bounds,
            reverse,
            with_scores: false,
            limit,
        }
    }

    #[test]
    fn index_windows_follow_zrange_rules() {
        assert_eq!(index_window(10, 0, -1), Some((0, 9)));
        assert_eq!(index_window(10, -3, -1), Some((7, 9)));
        assert_eq!(index_window(10, 2, 100), Some((2, 9)));
        assert_eq!(index_window(10, -100, 1), Some((0, 1)));
        assert_eq!(index_window(10, 5, 4), None);
        assert_eq!(index_window(10, 10, 20), None);
        assert_eq!(index_window(0, 0, -1), None);
        assert_eq!(index_window(10, i64::MIN, i64::MAX), Some((0, 9)));
    }

    #[test]
    fn limit_windows_skip_from_the_walk_start() {
        let plain = |limit| limited(2..8, &request(Bounds::Rank(0, 0), false, limit));
        let reversed = |limit| limited(2..8, &request(Bounds::Rank(0, 0), true, limit));
        assert_eq!(plain((0, -1)), 2..8);
        assert_eq!(plain((1, 2)), 3..5);
        assert_eq!(plain((5, 10)), 7..8);
        assert_eq!(plain((6, 1)), 8..8);
        assert_eq!(plain((-1, 1)), 0..0);
        assert_eq!(plain((i64::MAX, 1)), 8..8);
        assert_eq!(reversed((1, 2)), 5..7);
        assert_eq!(reversed((0, -5)), 2..8);
        assert_eq!(reversed((10, 1)), 2..2);
    }

    #[test]
    fn aggregates_follow_redis_nan_rules() {
        let mut total = f64::INFINITY;
        Aggregate::Sum.fold(&mut total, f64::NEG_INFINITY);
        assert_eq!(total, 0.0);
        let mut low = 1.0;
        Aggregate::Min.fold(&mut low, f64::NAN);
        Aggregate::Min.fold(&mut low, 0.5);
        assert_eq!(low, 0.5);
        let mut high = 1.0;
        Aggregate::Max.fold(&mut high, f64::NAN);
        assert_eq!(high, 1.0);
        assert_eq!(weighted(f64::INFINITY, 0.0), 0.0);
        assert_eq!(weighted(2.0, -1.5), -3.0);
    }

    #[test]
    fn every_command_is_in_the_sorted_set_group() {
        assert_eq!(COMMANDS.len(), 32);
        for spec in COMMANDS {
            assert_eq!(spec.group, Group::SortedSet, "{}", spec.name);
            assert!(spec.name.starts_with('z'), "{}", spec.name);
        }
    }
}
