//! String commands: Redis 7's string family (GET, SET and its variants, MGET/MSET/MSETNX,
//! GETSET/GETDEL/GETEX, APPEND, STRLEN, GETRANGE/SUBSTR/SETRANGE, INCR and friends,
//! INCRBYFLOAT and LCS).
//!
//! The commands the typed API mirrors are split in two: the handler parses its arguments into
//! the API's option types ([`SetOptions`], ...) and calls a shared function (`set_string`,
//! `incr_by`, ...) that [`crate::api::strings`] calls too, so the two paths cannot drift apart.
//!
//! Every write propagates its deterministic form while its slot is locked: relative expiry
//! becomes `PXAT <absolute ms>`, INCRBYFLOAT becomes `SET key <result> KEEPTTL`, GETEX becomes
//! PEXPIREAT/PERSIST, and a deadline already in the past becomes `DEL`. Commands that change
//! nothing propagate nothing.

use std::ops::Range;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::api::strings::{Expiry, SetCondition, SetOptions, SetOutcome};
use crate::command::{
    is_keyword, parse_i64_arg, Args, CommandSpec, Flags, Group, Handler, KeyRange,
};
use crate::error::CommandError;
use crate::exec::{Ctx, Locks};
use crate::float::LongDoubleOperand;
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::Reply;
use crate::value::{StrValue, Value};

const READ_FAST: Flags = Flags::READONLY.and(Flags::FAST);
const WRITE_OOM: Flags = Flags::WRITE.and(Flags::DENYOOM);
const WRITE_OOM_FAST: Flags = WRITE_OOM.and(Flags::FAST);
const WRITE_FAST: Flags = Flags::WRITE.and(Flags::FAST);
/// MSET and MSETNX: every other argument from the first is a key.
const KEY_VALUE_PAIRS: KeyRange = KeyRange::new(1, -1, 2);

/// A string command's table entry.
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
        .doc(Group::String, since, summary)
}

#[rustfmt::skip]
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command("get", 2, get, READ_FAST, KeyRange::FIRST, "1.0.0",
        "Returns the string value of a key."),
    command("set", -3, set, WRITE_OOM, KeyRange::FIRST, "1.0.0",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    command("setnx", 3, setnx, WRITE_OOM_FAST, KeyRange::FIRST, "1.0.0",
        "Set the string value of a key only when the key doesn't exist."),
    command("setex", 4, setex, WRITE_OOM, KeyRange::FIRST, "2.0.0",
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    command("psetex", 4, psetex, WRITE_OOM, KeyRange::FIRST, "2.6.0",
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    command("mget", -2, mget, READ_FAST, KeyRange::ALL, "1.0.0",
        "Atomically returns the string values of one or more keys."),
    command("mset", -3, mset, WRITE_OOM, KEY_VALUE_PAIRS, "1.0.1",
        "Atomically creates or modifies the string values of one or more keys."),
    command("msetnx", -3, msetnx, WRITE_OOM, KEY_VALUE_PAIRS, "1.0.1",
        "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    command("getset", 3, getset, WRITE_OOM_FAST, KeyRange::FIRST, "1.0.0",
        "Returns the previous string value of a key after setting it to a new value."),
    command("getdel", 2, getdel, WRITE_FAST, KeyRange::FIRST, "6.2.0",
        "Returns the string value of a key after deleting the key."),
    command("getex", -2, getex, WRITE_FAST, KeyRange::FIRST, "6.2.0",
        "Returns the string value of a key after setting its expiration time."),
    command("append", 3, append, WRITE_OOM_FAST, KeyRange::FIRST, "2.0.0",
        "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    command("strlen", 2, strlen, READ_FAST, KeyRange::FIRST, "2.2.0",
        "Returns the length of a string value."),
    command("getrange", 4, getrange, Flags::READONLY, KeyRange::FIRST, "2.4.0",
        "Returns a substring of the string stored at a key."),
    command("substr", 4, getrange, Flags::READONLY, KeyRange::FIRST, "1.0.0",
        "Returns a substring from a string value."),
    command("setrange", 4, setrange, WRITE_OOM, KeyRange::FIRST, "2.2.0",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    command("incr", 2, incr, WRITE_OOM_FAST, KeyRange::FIRST, "1.0.0",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    command("decr", 2, decr, WRITE_OOM_FAST, KeyRange::FIRST, "1.0.0",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    command("incrby", 3, incrby, WRITE_OOM_FAST, KeyRange::FIRST, "1.0.0",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    command("decrby", 3, decrby, WRITE_OOM_FAST, KeyRange::FIRST, "1.0.0",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    command("incrbyfloat", 3, incrbyfloat, WRITE_OOM_FAST, KeyRange::FIRST, "2.6.0",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    command("lcs", -3, lcs, Flags::READONLY, KeyRange::new(1, 2, 1), "7.0.0",
        "Finds the longest common substring."),
];

/// Unused room a growing string (APPEND, SETRANGE) may be given at most: growth doubles the
/// buffer, so repeated appends cost amortized O(1), but a big string never carries more than
/// this much slack (the policy of Redis's sds strings).
const GROWTH_SLACK_MAX: usize = 1 << 20;

/// Most cells of the table LCS fills: `(len(a) + 1) * (len(b) + 1)`. Each cell is 4 bytes, so
/// this bounds LCS's transient memory to 256 MiB and its work to 64M steps (a fraction of a
/// second); Redis's only bound is proto-max-bulk-len bytes (512 MiB by default), also applied.
pub const LCS_CELLS_MAX: u64 = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The string inside `entry`, or WRONGTYPE.
fn string_of(entry: &Entry) -> Result<&StrValue, CommandError> {
    entry.value.as_str().ok_or(CommandError::WrongType)
}

/// The string inside `value`, mutable, or WRONGTYPE.
fn string_of_mut(value: &mut Value) -> Result<&mut StrValue, CommandError> {
    match value {
        Value::Str(s) => Ok(s),
        _ => Err(CommandError::WrongType),
    }
}

fn string_entry(value: StrValue, expire_at_ms: Option<u64>) -> Entry {
    Entry::with_expiry(Value::Str(value), expire_at_ms)
}

/// A propagation record: `name` followed by copies of `args`.
fn record(name: &'static [u8], args: &[&[u8]]) -> Vec<Bytes> {
    std::iter::once(Bytes::from_static(name))
        .chain(args.iter().map(|arg| Bytes::copy_from_slice(arg)))
        .collect()
}

/// The engine's `proto-max-bulk-len`: the longest string a command may build.
pub(crate) fn string_len_max(ctx: &Ctx<'_>) -> u64 {
    ctx.engine.proto_max_bulk_len.load(Ordering::Relaxed)
}

/// `len + extra` if a string that long is allowed (Redis's `checkStringLength`).
fn checked_string_len(len: usize, extra: usize, len_max: u64) -> Result<usize, CommandError> {
    len.checked_add(extra)
        .filter(|&total| u64::try_from(total).is_ok_and(|total| total <= len_max))
        .ok_or(CommandError::StringTooLong)
}

/// Takes the bytes of `value` out as a growable buffer with room for `len_needed` bytes. The
/// bytes are not copied when nothing else shares them.
pub(crate) fn take_buffer(value: &mut StrValue, len_needed: usize) -> Vec<u8> {
    let mut buffer = match std::mem::replace(value, StrValue::Int(0)) {
        StrValue::Int(n) => n.to_string().into_bytes(),
        StrValue::Inline(data) => data.to_vec(),
        StrValue::Embedded(data) | StrValue::Raw(data) => Vec::from(data),
    };
    if buffer.capacity() < len_needed {
        let slack = len_needed.min(GROWTH_SLACK_MAX);
        buffer.reserve_exact(len_needed.saturating_add(slack) - buffer.len());
    }
    buffer
}

/// The integer a stored string holds. Only the canonical text counts, as Redis's `string2ll`
/// reads it (no `+`, no leading zeros, no spaces); canonical integers are kept as `Int` already.
fn stored_integer(value: &StrValue) -> Result<i64, CommandError> {
    value.as_i64().ok_or(CommandError::NotInteger)
}

/// The number a stored string holds, for INCRBYFLOAT.
fn stored_float(value: &StrValue) -> Result<LongDoubleOperand, CommandError> {
    let text = value.to_bytes();
    LongDoubleOperand::read(&text).ok_or(CommandError::NotFloat)
}

/// The single key of a one-key command.
fn only_key(args: &[Bytes]) -> Result<&Bytes, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    parser.finish()?;
    Ok(key)
}

// ---------------------------------------------------------------------------------------------
// SET and GETEX options

/// The unit and reference point of an expiry option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiryUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpiryUnit {
    fn from_keyword(word: &[u8]) -> Option<ExpiryUnit> {
        [
            ("EX", ExpiryUnit::Ex),
            ("PX", ExpiryUnit::Px),
            ("EXAT", ExpiryUnit::ExAt),
            ("PXAT", ExpiryUnit::PxAt),
        ]
        .into_iter()
        .find(|(name, _)| is_keyword(word, name))
        .map(|(_, unit)| unit)
    }

    /// The expiry of a written amount (NotInteger when it is not one).
    fn parse(self, amount: &[u8]) -> Result<Expiry, CommandError> {
        Ok(self.with_amount(parse_i64_arg(amount)?))
    }

    fn with_amount(self, amount: i64) -> Expiry {
        match self {
            ExpiryUnit::Ex => Expiry::Ex(amount),
            ExpiryUnit::Px => Expiry::Px(amount),
            ExpiryUnit::ExAt => Expiry::ExAt(amount),
            ExpiryUnit::PxAt => Expiry::PxAt(amount),
        }
    }
}

/// A TTL option as written. The amount stays text until every option is read, because Redis
/// reports a syntax error anywhere before a bad number, and GETEX checks the key before it.
#[derive(Debug, Clone, Copy)]
enum TtlOption<'a> {
    Expire(ExpiryUnit, &'a [u8]),
    KeepTtl,
    Persist,
}

impl TtlOption<'_> {
    /// Whether a second TTL option may follow `self`: only a repeat of the same option (the
    /// last amount wins), as Redis accepts `EX 1 EX 2` but not `EX 1 PX 2`.
    fn may_repeat_as(&self, next: &TtlOption<'_>) -> bool {
        match (self, next) {
            (TtlOption::Expire(a, _), TtlOption::Expire(b, _)) => a == b,
            (TtlOption::KeepTtl, TtlOption::KeepTtl) | (TtlOption::Persist, TtlOption::Persist) => {
                true
            }
            _ => false,
        }
    }
}

/// Which command's options are being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grammar {
    /// NX, XX, GET, KEEPTTL and the expiry options.
    Set,
    /// PERSIST and the expiry options.
    GetEx,
}

/// SET's or GETEX's options as written.
#[derive(Debug, Default)]
struct WrittenOptions<'a> {
    condition: SetCondition,
    get: bool,
    ttl: Option<TtlOption<'a>>,
}

impl<'a> WrittenOptions<'a> {
    /// Reads every remaining argument as an option of `grammar`.
    fn parse(args: &mut Args<'a>, grammar: Grammar) -> Result<WrittenOptions<'a>, CommandError> {
        let mut options = WrittenOptions::default();
        while let Some(word) = args.next_opt() {
            let ttl = if let Some(unit) = ExpiryUnit::from_keyword(word) {
                TtlOption::Expire(unit, args.next_bytes()?)
            } else if grammar == Grammar::Set && is_keyword(word, "KEEPTTL") {
                TtlOption::KeepTtl
            } else if grammar == Grammar::GetEx && is_keyword(word, "PERSIST") {
                TtlOption::Persist
            } else if grammar == Grammar::Set {
                options.apply_set_flag(word)?;
                continue;
            } else {
                return Err(CommandError::Syntax);
            };
            if options
                .ttl
                .is_some_and(|previous| !previous.may_repeat_as(&ttl))
            {
                return Err(CommandError::Syntax);
            }
            options.ttl = Some(ttl);
        }
        Ok(options)
    }

    /// Applies NX, XX or GET.
    fn apply_set_flag(&mut self, word: &[u8]) -> Result<(), CommandError> {
        let condition = if is_keyword(word, "NX") {
            SetCondition::IfAbsent
        } else if is_keyword(word, "XX") {
            SetCondition::IfPresent
        } else if is_keyword(word, "GET") {
            self.get = true;
            return Ok(());
        } else {
            return Err(CommandError::Syntax);
        };
        if self.condition != SetCondition::Always && self.condition != condition {
            return Err(CommandError::Syntax);
        }
        self.condition = condition;
        Ok(())
    }

    /// The typed options of a SET.
    fn into_set_options(self) -> Result<SetOptions, CommandError> {
        let expiry = match self.ttl {
            Some(TtlOption::Expire(unit, amount)) => Some(unit.parse(amount)?),
            _ => None,
        };
        Ok(SetOptions {
            expiry,
            condition: self.condition,
            keep_ttl: matches!(self.ttl, Some(TtlOption::KeepTtl)),
            get: self.get,
        })
    }
}

/// The deadline of `expiry` for `command` run at `now_ms`, with Redis's error for bad times.
fn deadline_ms(expiry: Expiry, now_ms: u64, command: &str) -> Result<u64, CommandError> {
    expiry
        .deadline_ms(now_ms)
        .ok_or_else(|| CommandError::InvalidExpire(command.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Shared operations (the typed API calls these too)

/// GET: the string at `key`, `None` when absent, WRONGTYPE for other types.
pub(crate) fn get_string(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, CommandError> {
    let mut locks = ctx.lock_key(key);
    locks
        .read(key)
        .map(|entry| string_of(entry).map(StrValue::to_bytes))
        .transpose()
}

/// SET with typed options; `command` names the command in expiry errors (`set`, `setex`, ...).
pub(crate) fn set_string(
    ctx: &Ctx<'_>,
    key: &[u8],
    value: &[u8],
    options: &SetOptions,
    command: &str,
) -> Result<SetOutcome, CommandError> {
    if options.keep_ttl && options.expiry.is_some() {
        return Err(CommandError::Syntax);
    }
    let now_ms = ctx.now_ms();
    let new_deadline_ms = options
        .expiry
        .map(|expiry| deadline_ms(expiry, now_ms, command))
        .transpose()?;
    let mut locks = ctx.lock_key(key);
    // GET reads the key (a hit or a miss); NX, XX and KEEPTTL only look, as Redis's
    // lookupKeyWrite; a plain SET overwrites without looking first.
    let current = if options.get {
        locks.read(key)
    } else if options.condition != SetCondition::Always || options.keep_ttl {
        locks.get(key)
    } else {
        None
    };
    let previous = match current {
        Some(entry) if options.get => Some(string_of(entry)?.to_bytes()),
        _ => None,
    };
    let exists = current.is_some();
    let current_deadline_ms = current.and_then(Entry::expire_at_ms);
    if !options.condition.allows(exists) {
        return Ok(SetOutcome {
            written: false,
            previous,
        });
    }
    if new_deadline_ms.is_some_and(|deadline_ms| deadline_ms <= now_ms) {
        // Born expired: delete the key instead of storing a value nobody can read.
        if locks.remove(key).is_some() {
            locks.propagate(|| record(b"DEL", &[key]));
            locks.notify(Events::GENERIC, "del", key);
        }
    } else {
        let expire_at_ms = if options.keep_ttl {
            current_deadline_ms
        } else {
            new_deadline_ms
        };
        locks.insert(key, string_entry(StrValue::from_bytes(value), expire_at_ms));
        locks.propagate(|| set_record(key, value, new_deadline_ms, options));
        locks.notify(Events::STRING, "set", key);
        if new_deadline_ms.is_some() {
            locks.notify(Events::GENERIC, "expire", key);
        }
    }
    Ok(SetOutcome {
        written: true,
        previous,
    })
}

/// SET's deterministic form: `SET key value [PXAT ms] [NX|XX] [KEEPTTL]` (GET dropped).
fn set_record(
    key: &[u8],
    value: &[u8],
    deadline_ms: Option<u64>,
    options: &SetOptions,
) -> Vec<Bytes> {
    let mut args = record(b"SET", &[key, value]);
    if let Some(deadline_ms) = deadline_ms {
        args.push(Bytes::from_static(b"PXAT"));
        args.push(Bytes::from(deadline_ms.to_string()));
    }
    match options.condition {
        SetCondition::Always => {}
        SetCondition::IfAbsent => args.push(Bytes::from_static(b"NX")),
        SetCondition::IfPresent => args.push(Bytes::from_static(b"XX")),
    }
    if options.keep_ttl {
        args.push(Bytes::from_static(b"KEEPTTL"));
    }
    args
}

/// MGET: the strings at `keys`; absent keys and other types read as `None`.
pub(crate) fn mget_strings(ctx: &Ctx<'_>, keys: &[&[u8]]) -> Vec<Option<Bytes>> {
    let mut locks = ctx.lock_keys(keys);
    keys.iter()
        .map(|key| {
            locks
                .read(key)
                .and_then(|entry| entry.value.as_str())
                .map(StrValue::to_bytes)
        })
        .collect()
}

/// APPEND: appends `suffix` to the string at `key` (creating it); returns the new length.
pub(crate) fn append_string(
    ctx: &Ctx<'_>,
    key: &[u8],
    suffix: &[u8],
) -> Result<usize, CommandError> {
    let len_max = string_len_max(ctx);
    let mut locks = ctx.lock_key(key);
    let new_len = match locks.get_mut(key) {
        Some(entry) => {
            let current = string_of_mut(&mut entry.value)?;
            let new_len = checked_string_len(current.len(), suffix.len(), len_max)?;
            let mut buffer = take_buffer(current, new_len);
            buffer.extend_from_slice(suffix);
            *current = StrValue::from_vec(buffer);
            new_len
        }
        None => {
            locks.insert(key, string_entry(StrValue::from_bytes(suffix), None));
            suffix.len()
        }
    };
    locks.propagate(|| record(b"APPEND", &[key, suffix]));
    locks.notify(Events::STRING, "append", key);
    Ok(new_len)
}

/// STRLEN: the length of the string at `key`, 0 when absent.
pub(crate) fn string_len(ctx: &Ctx<'_>, key: &[u8]) -> Result<usize, CommandError> {
    let mut locks = ctx.lock_key(key);
    locks
        .read(key)
        .map_or(Ok(0), |entry| string_of(entry).map(StrValue::len))
}

/// INCRBY: adds `delta` to the integer at `key` (absent counts as 0), keeping its deadline.
pub(crate) fn incr_by(ctx: &Ctx<'_>, key: &[u8], delta: i64) -> Result<i64, CommandError> {
    let mut locks = ctx.lock_key(key);
    let result = match locks.get_mut(key) {
        Some(entry) => {
            let current = string_of_mut(&mut entry.value)?;
            let result = stored_integer(current)?
                .checked_add(delta)
                .ok_or(CommandError::Overflow)?;
            *current = StrValue::Int(result);
            result
        }
        None => {
            locks.insert(key, string_entry(StrValue::Int(delta), None));
            delta
        }
    };
    locks.propagate(|| record(b"INCRBY", &[key, delta.to_string().as_bytes()]));
    // INCR, DECR, INCRBY and DECRBY all report `incrby`, as in Redis.
    locks.notify(Events::STRING, "incrby", key);
    Ok(result)
}

/// INCRBYFLOAT: adds `increment` to the number at `key` (absent counts as 0), keeping its
/// deadline; the sum is Redis's `long double` one, printed as Redis prints it (see
/// [`crate::float::add_human`]).
///
/// `increment` arrives unchecked because Redis reports a wrong type or a bad stored value
/// before a bad increment argument.
pub(crate) fn incr_by_float(
    ctx: &Ctx<'_>,
    key: &[u8],
    increment: Result<LongDoubleOperand, CommandError>,
) -> Result<String, CommandError> {
    let mut locks = ctx.lock_key(key);
    let (current, expire_at_ms) = match locks.get(key) {
        Some(entry) => (stored_float(string_of(entry)?)?, entry.expire_at_ms()),
        None => (LongDoubleOperand::zero(), None),
    };
    let text = crate::float::add_human(&current, &increment?).ok_or(CommandError::NanOrInfinity)?;
    locks.insert(
        key,
        string_entry(StrValue::from_text(text.as_bytes()), expire_at_ms),
    );
    locks.propagate(|| record(b"SET", &[key, text.as_bytes(), b"KEEPTTL"]));
    locks.notify(Events::STRING, "incrbyfloat", key);
    Ok(text)
}

// ---------------------------------------------------------------------------------------------
// Handlers

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::bulk_or_nil(get_string(ctx, only_key(args)?)?))
}

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let value = parser.next_bytes()?;
    let options = WrittenOptions::parse(&mut parser, Grammar::Set)?.into_set_options()?;
    let outcome = set_string(ctx, key, value, &options, "set")?;
    Ok(if options.get {
        Reply::bulk_or_nil(outcome.previous)
    } else if outcome.written {
        Reply::Ok
    } else {
        Reply::Nil
    })
}

fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, value) = key_and_value(args)?;
    let options = SetOptions {
        condition: SetCondition::IfAbsent,
        ..SetOptions::default()
    };
    let outcome = set_string(ctx, key, value, &options, "setnx")?;
    Ok(Reply::Integer(i64::from(outcome.written)))
}

fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    set_with_expiry(ctx, args, ExpiryUnit::Ex, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    set_with_expiry(ctx, args, ExpiryUnit::Px, "psetex")
}

/// SETEX and PSETEX: `key amount value`.
fn set_with_expiry(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    unit: ExpiryUnit,
    command: &str,
) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let amount = parser.next_i64()?;
    let value = parser.next_bytes()?;
    parser.finish()?;
    let options = SetOptions {
        expiry: Some(unit.with_amount(amount)),
        ..SetOptions::default()
    };
    set_string(ctx, key, value, &options, command)?;
    Ok(Reply::Ok)
}

fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, value) = key_and_value(args)?;
    let options = SetOptions {
        get: true,
        ..SetOptions::default()
    };
    let outcome = set_string(ctx, key, value, &options, "getset")?;
    Ok(Reply::bulk_or_nil(outcome.previous))
}

/// The `key value` of SETNX, GETSET and APPEND.
fn key_and_value(args: &[Bytes]) -> Result<(&Bytes, &Bytes), CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let value = parser.next_bytes()?;
    parser.finish()?;
    Ok((key, value))
}

fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let keys: Vec<&[u8]> = args
        .get(1..)
        .unwrap_or(&[])
        .iter()
        .map(|k| &k[..])
        .collect();
    let values = mget_strings(ctx, &keys);
    Ok(Reply::Array(
        values.into_iter().map(Reply::bulk_or_nil).collect(),
    ))
}

/// One `key value` pair of MSET or MSETNX.
type KeyValue<'a> = (&'a [u8], &'a [u8]);

/// The key/value pairs of MSET and MSETNX; an odd count is an arity error, as in Redis.
fn key_value_pairs<'a>(
    args: &'a [Bytes],
    command: &str,
) -> Result<Vec<KeyValue<'a>>, CommandError> {
    let rest = args.get(1..).unwrap_or(&[]);
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(CommandError::WrongArity(command.to_owned()));
    }
    Ok(rest
        .chunks_exact(2)
        .map(|pair| (&pair[0][..], &pair[1][..]))
        .collect())
}

/// Stores every pair without deadline, reporting `set` for each, and propagates them as one
/// MSET.
fn store_pairs(locks: &mut Locks<'_>, pairs: &[KeyValue<'_>]) {
    for (key, value) in pairs {
        locks.insert(key, string_entry(StrValue::from_bytes(value), None));
        locks.notify(Events::STRING, "set", key);
    }
    locks.propagate(|| {
        let flat: Vec<&[u8]> = pairs.iter().flat_map(|(k, v)| [*k, *v]).collect();
        record(b"MSET", &flat)
    });
}

fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let pairs = key_value_pairs(args, "mset")?;
    let keys: Vec<&[u8]> = pairs.iter().map(|(key, _)| *key).collect();
    let mut locks = ctx.lock_keys(&keys);
    store_pairs(&mut locks, &pairs);
    Ok(Reply::Ok)
}

fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let pairs = key_value_pairs(args, "msetnx")?;
    let keys: Vec<&[u8]> = pairs.iter().map(|(key, _)| *key).collect();
    let mut locks = ctx.lock_keys(&keys);
    if keys.iter().any(|key| locks.contains(key)) {
        return Ok(Reply::Integer(0));
    }
    store_pairs(&mut locks, &pairs);
    Ok(Reply::Integer(1))
}

fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let key = only_key(args)?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Nil);
    };
    let value = string_of(entry)?.to_bytes();
    locks.remove(key);
    locks.propagate(|| record(b"DEL", &[key]));
    locks.notify(Events::GENERIC, "del", key);
    Ok(Reply::Bulk(value))
}

fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let options = WrittenOptions::parse(&mut parser, Grammar::GetEx)?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Nil);
    };
    let value = string_of(entry)?.to_bytes();
    let has_deadline = entry.expire_at_ms().is_some();
    match options.ttl {
        Some(TtlOption::Persist) if has_deadline => {
            locks.set_expiry(key, None);
            locks.propagate(|| record(b"PERSIST", &[key]));
            locks.notify(Events::GENERIC, "persist", key);
        }
        Some(TtlOption::Expire(unit, amount)) => {
            let deadline_ms = deadline_ms(unit.parse(amount)?, locks.now_ms(), "getex")?;
            apply_deadline(&mut locks, key, deadline_ms);
        }
        _ => {}
    }
    Ok(Reply::Bulk(value))
}

/// Gives a live key a new deadline, or deletes it when the deadline has already passed;
/// propagated as PEXPIREAT or DEL.
fn apply_deadline(locks: &mut Locks<'_>, key: &[u8], deadline_ms: u64) {
    if deadline_ms <= locks.now_ms() {
        locks.remove(key);
        locks.propagate(|| record(b"DEL", &[key]));
        locks.notify(Events::GENERIC, "del", key);
    } else {
        locks.set_expiry(key, Some(deadline_ms));
        locks.propagate(|| record(b"PEXPIREAT", &[key, deadline_ms.to_string().as_bytes()]));
        locks.notify(Events::GENERIC, "expire", key);
    }
}

fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, value) = key_and_value(args)?;
    Ok(Reply::Integer(len_reply(append_string(ctx, key, value)?)))
}

fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Integer(len_reply(string_len(ctx, only_key(args)?)?)))
}

/// A length as an integer reply (lengths are bounded by proto-max-bulk-len, far below i64).
fn len_reply(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let start = parser.next_i64()?;
    let end = parser.next_i64()?;
    parser.finish()?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Bulk(Bytes::new()));
    };
    let text = string_of(entry)?.to_bytes();
    let range = byte_range(text.len(), start, end);
    Ok(Reply::Bulk(
        range.map_or_else(Bytes::new, |r| text.slice(r)),
    ))
}

/// The bytes GETRANGE returns from a string of `len` bytes: negative indexes count from the
/// end, both ends are clamped into the string, and an inverted range is empty.
fn byte_range(len: usize, start: i64, end: i64) -> Option<Range<usize>> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = i64::try_from(len).ok()?;
    let from_end = |index: i64| {
        if index < 0 {
            (len + index).max(0)
        } else {
            index
        }
    };
    let start = from_end(start);
    let end = from_end(end).min(len - 1);
    if len == 0 || start > end {
        return None;
    }
    Some(usize::try_from(start).ok()?..usize::try_from(end).ok()? + 1)
}

fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let offset = parser.next_i64()?;
    let patch = parser.next_bytes()?;
    parser.finish()?;
    if offset < 0 {
        return Err(CommandError::OffsetOutOfRange);
    }
    let offset = usize::try_from(offset).map_err(|_| CommandError::StringTooLong)?;
    let len_max = string_len_max(ctx);
    let mut locks = ctx.lock_key(key);
    let new_len = match locks.get_mut(key) {
        Some(entry) => {
            let current = string_of_mut(&mut entry.value)?;
            if patch.is_empty() {
                return Ok(Reply::Integer(len_reply(current.len())));
            }
            let patch_end = checked_string_len(offset, patch.len(), len_max)?;
            let mut buffer = take_buffer(current, patch_end.max(current.len()));
            write_at(&mut buffer, offset..patch_end, patch);
            *current = StrValue::from_vec(buffer);
            current.len()
        }
        None => {
            if patch.is_empty() {
                return Ok(Reply::Integer(0));
            }
            let patch_end = checked_string_len(offset, patch.len(), len_max)?;
            let mut buffer = Vec::with_capacity(patch_end);
            write_at(&mut buffer, offset..patch_end, patch);
            locks.insert(key, string_entry(StrValue::from_vec(buffer), None));
            patch_end
        }
    };
    locks.propagate(|| record(b"SETRANGE", &[key, offset.to_string().as_bytes(), patch]));
    locks.notify(Events::STRING, "setrange", key);
    Ok(Reply::Integer(len_reply(new_len)))
}

/// Writes `patch` over `range` of `buffer` (`range.len() == patch.len()`), padding the buffer
/// with zero bytes up to the range first.
fn write_at(buffer: &mut Vec<u8>, range: Range<usize>, patch: &[u8]) {
    debug_assert_eq!(range.len(), patch.len(), "patch must fill its range");
    if buffer.len() < range.end {
        buffer.resize(range.end, 0);
    }
    buffer[range].copy_from_slice(patch);
}

fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Integer(incr_by(ctx, only_key(args)?, 1)?))
}

fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    Ok(Reply::Integer(incr_by(ctx, only_key(args)?, -1)?))
}

fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, delta) = key_and_integer(args)?;
    Ok(Reply::Integer(incr_by(ctx, key, delta)?))
}

fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, decrement) = key_and_integer(args)?;
    // i64::MIN has no positive counterpart; Redis words this case on its own.
    let delta = decrement
        .checked_neg()
        .ok_or_else(|| CommandError::err("decrement would overflow"))?;
    Ok(Reply::Integer(incr_by(ctx, key, delta)?))
}

/// The `key integer` of INCRBY and DECRBY.
fn key_and_integer(args: &[Bytes]) -> Result<(&Bytes, i64), CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let amount = parser.next_i64()?;
    parser.finish()?;
    Ok((key, amount))
}

fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let (key, increment_text) = key_and_value(args)?;
    let increment = LongDoubleOperand::read(increment_text).ok_or(CommandError::NotFloat);
    let text = incr_by_float(ctx, key, increment)?;
    Ok(Reply::text(text))
}

// ---------------------------------------------------------------------------------------------
// LCS

/// What LCS answers with.
#[derive(Debug, Default)]
struct LcsOptions {
    /// `LEN`: only the length.
    len: bool,
    /// `IDX`: the matching ranges and the length.
    idx: bool,
    /// `MINMATCHLEN`: shortest range IDX reports.
    min_match_len: usize,
    /// `WITHMATCHLEN`: add each range's length.
    with_match_len: bool,
}

impl LcsOptions {
    fn parse(args: &mut Args<'_>) -> Result<LcsOptions, CommandError> {
        let mut options = LcsOptions::default();
        while let Some(word) = args.next_opt() {
            if is_keyword(word, "LEN") {
                options.len = true;
            } else if is_keyword(word, "IDX") {
                options.idx = true;
            } else if is_keyword(word, "WITHMATCHLEN") {
                options.with_match_len = true;
            } else if is_keyword(word, "MINMATCHLEN") {
                // Negative means no minimum, as in Redis.
                let min = args.next_i64()?.max(0);
                options.min_match_len = usize::try_from(min).unwrap_or(usize::MAX);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        if options.len && options.idx {
            return Err(CommandError::err(
                "If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(options)
    }
}

fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key_a = parser.next_bytes()?;
    let key_b = parser.next_bytes()?;
    // The values are shared (not copied) out of the slots, and the table is filled after the
    // locks are released: LCS's O(n*m) work never blocks other commands on these slots.
    let (a, b) = lcs_inputs(ctx, key_a, key_b)?;
    let options = LcsOptions::parse(&mut parser)?;
    check_lcs_size(a.len(), b.len(), string_len_max(ctx))?;
    let table = LcsTable::build(&a, &b);
    if options.len {
        return Ok(Reply::Integer(i64::from(table.len())));
    }
    let walk = table.walk();
    if !options.idx {
        return Ok(Reply::Bulk(Bytes::from(walk.sequence)));
    }
    let matches = walk
        .runs
        .iter()
        .filter(|run| run.len() >= options.min_match_len)
        .map(|run| run.reply(options.with_match_len))
        .collect();
    Ok(Reply::Map(vec![
        (Reply::text("matches"), Reply::Array(matches)),
        (Reply::text("len"), Reply::Integer(i64::from(table.len()))),
    ]))
}

/// The two strings LCS compares: absent keys are empty, other types are refused.
fn lcs_inputs(ctx: &Ctx<'_>, key_a: &[u8], key_b: &[u8]) -> Result<(Bytes, Bytes), CommandError> {
    let mut locks = ctx.lock_keys(&[key_a, key_b]);
    let mut read = |key: &[u8]| {
        locks
            .read(key)
            .map(|entry| entry.value.as_str().map(StrValue::to_bytes))
    };
    let a = read(key_a);
    let b = read(key_b);
    match (a, b) {
        (Some(None), _) | (_, Some(None)) => Err(CommandError::err(
            "The specified keys must contain string values",
        )),
        (a, b) => Ok((
            a.flatten().unwrap_or_default(),
            b.flatten().unwrap_or_default(),
        )),
    }
}

/// Refuses inputs whose table would exceed [`LCS_CELLS_MAX`] cells or, as in Redis,
/// proto-max-bulk-len bytes.
fn check_lcs_size(len_a: usize, len_b: usize, bytes_max: u64) -> Result<(), CommandError> {
    let cells = (len_a as u64)
        .saturating_add(1)
        .checked_mul((len_b as u64).saturating_add(1));
    let bytes = cells.and_then(|cells| cells.checked_mul(LcsTable::CELL_BYTES));
    if bytes.is_none_or(|bytes| bytes > bytes_max) {
        return Err(CommandError::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    if cells.is_none_or(|cells| cells > LCS_CELLS_MAX) {
        return Err(CommandError::err(format!(
            "LCS inputs too large: (len1+1)*(len2+1) exceeds {LCS_CELLS_MAX}"
        )));
    }
    Ok(())
}

/// The dynamic-programming table of LCS: cell (i, j) holds the length of the longest common
/// subsequence of `a[..i]` and `b[..j]`.
struct LcsTable<'a> {
    a: &'a [u8],
    b: &'a [u8],
    /// Row-major, `a.len() + 1` rows of `b.len() + 1` cells.
    cells: Vec<u32>,
}

/// One run of contiguous matching bytes: inclusive ranges in each string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MatchRun {
    a: (usize, usize),
    b: (usize, usize),
}

impl MatchRun {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }

    /// `[[a_start, a_end], [b_start, b_end]]`, plus the length if asked.
    fn reply(&self, with_len: bool) -> Reply {
        let range = |(start, end): (usize, usize)| {
            Reply::Array(vec![
                Reply::Integer(len_reply(start)),
                Reply::Integer(len_reply(end)),
            ])
        };
        let mut fields = vec![range(self.a), range(self.b)];
        if with_len {
            fields.push(Reply::Integer(len_reply(self.len())));
        }
        Reply::Array(fields)
    }
}

/// The walk back through the table.
struct LcsWalk {
    /// The common subsequence.
    sequence: Vec<u8>,
    /// Its runs of contiguous matches, from the end of the strings backwards (Redis's order).
    runs: Vec<MatchRun>,
}

impl<'a> LcsTable<'a> {
    const CELL_BYTES: u64 = 4;

    /// Fills the table; the caller bounds its size with [`check_lcs_size`].
    fn build(a: &'a [u8], b: &'a [u8]) -> LcsTable<'a> {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for (i, &byte_a) in a.iter().enumerate() {
            let (done, rest) = cells.split_at_mut((i + 1) * width);
            let above = &done[i * width..];
            let row = &mut rest[..width];
            for (j, &byte_b) in b.iter().enumerate() {
                row[j + 1] = if byte_a == byte_b {
                    above[j] + 1
                } else {
                    above[j + 1].max(row[j])
                };
            }
        }
        LcsTable { a, b, cells }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * (self.b.len() + 1) + j]
    }

    /// Length of the longest common subsequence.
    fn len(&self) -> u32 {
        self.at(self.a.len(), self.b.len())
    }

    /// Walks back from the end: a match takes the byte and steps back in both strings;
    /// otherwise the walk steps back in `a` only if that keeps a strictly longer subsequence,
    /// else in `b` (the tie-break that decides which ranges Redis reports).
    fn walk(&self) -> LcsWalk {
        let (mut i, mut j) = (self.a.len(), self.b.len());
        let mut sequence = Vec::with_capacity(self.len() as usize);
        let mut runs = Vec::new();
        let mut run: Option<MatchRun> = None;
        while i > 0 && j > 0 {
            if self.a[i - 1] == self.b[j - 1] {
                sequence.push(self.a[i - 1]);
                // Consecutive matches are always contiguous: both indexes step back by one.
                run = Some(match run {
                    Some(open) => MatchRun {
                        a: (i - 1, open.a.1),
                        b: (j - 1, open.b.1),
                    },
                    None => MatchRun {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    },
                });
                i -= 1;
                j -= 1;
            } else {
                runs.extend(run.take());
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
            }
        }
        runs.extend(run);
        sequence.reverse();
        LcsWalk { sequence, runs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_follow_getrange_rules() {
        assert_eq!(byte_range(10, 0, 3), Some(0..4));
        assert_eq!(byte_range(10, -3, -1), Some(7..10));
        assert_eq!(byte_range(10, 0, -1), Some(0..10));
        assert_eq!(byte_range(10, 10, 100), None);
        assert_eq!(byte_range(10, 5, 100), Some(5..10));
        assert_eq!(byte_range(10, -100, 2), Some(0..3));
        assert_eq!(byte_range(10, -1, -5), None);
        assert_eq!(byte_range(10, 3, 1), None);
        assert_eq!(byte_range(0, 0, -1), None);
        assert_eq!(byte_range(10, i64::MIN, i64::MAX), Some(0..10));
    }

    #[test]
    fn lcs_walk_reports_runs_from_the_end() {
        let table = LcsTable::build(b"ohmytext", b"mynewtext");
        assert_eq!(table.len(), 6);
        let walk = table.walk();
        assert_eq!(walk.sequence, b"mytext");
        assert_eq!(
            walk.runs,
            [
                MatchRun {
                    a: (4, 7),
                    b: (5, 8)
                },
                MatchRun {
                    a: (2, 3),
                    b: (0, 1)
                },
            ]
        );
    }

    #[test]
    fn lcs_of_empty_or_disjoint_strings_is_empty() {
        for (a, b) in [(&b""[..], &b"abc"[..]), (b"abc", b""), (b"abc", b"xyz")] {
            let table = LcsTable::build(a, b);
            assert_eq!(table.len(), 0);
            let walk = table.walk();
            assert!(walk.sequence.is_empty() && walk.runs.is_empty());
        }
    }

    #[test]
    fn lcs_size_is_bounded() {
        assert!(check_lcs_size(1000, 1000, 512 << 20).is_ok());
        let too_many_cells = check_lcs_size(10_000, 10_000, u64::MAX).unwrap_err();
        assert!(too_many_cells
            .to_string()
            .starts_with("ERR LCS inputs too large"));
        assert_eq!(
            check_lcs_size(100, 100, 1000).unwrap_err().to_string(),
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        );
        assert!(check_lcs_size(usize::MAX, usize::MAX, u64::MAX).is_err());
    }

    #[test]
    fn growth_keeps_bounded_slack() {
        let mut value = StrValue::Raw(Bytes::from(vec![b'x'; 10]));
        let buffer = take_buffer(&mut value, 15);
        assert_eq!(buffer.len(), 10);
        assert!(buffer.capacity() >= 30);
        let mut big = StrValue::Raw(Bytes::from(vec![b'x'; 3 << 20]));
        let buffer = take_buffer(&mut big, (3 << 20) + 1);
        assert!(buffer.capacity() <= (4 << 20) + 1);
        let mut int = StrValue::Int(-42);
        assert_eq!(take_buffer(&mut int, 3), b"-42");
    }

    #[test]
    fn option_grammar_rejects_conflicts() {
        let parse = |words: &[&str]| {
            let args: Vec<Bytes> = std::iter::once("set")
                .chain(words.iter().copied())
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect();
            let mut parser = Args::new(&args);
            WrittenOptions::parse(&mut parser, Grammar::Set)
                .and_then(WrittenOptions::into_set_options)
        };
        assert_eq!(
            parse(&["ex", "5", "ex", "7", "nx", "nx"]).unwrap(),
            SetOptions {
                expiry: Some(Expiry::Ex(7)),
                condition: SetCondition::IfAbsent,
                ..SetOptions::default()
            }
        );
        for conflict in [
            &["NX", "XX"][..],
            &["EX", "1", "PX", "1"],
            &["KEEPTTL", "EX", "1"],
            &["PXAT", "1", "KEEPTTL"],
            &["EX"],
            &["PERSIST"],
            &["FOO"],
        ] {
            assert_eq!(parse(conflict), Err(CommandError::Syntax), "{conflict:?}");
        }
        // Syntax errors win over bad numbers.
        assert_eq!(parse(&["EX", "abc", "NX", "XX"]), Err(CommandError::Syntax));
        assert_eq!(parse(&["EX", "abc"]), Err(CommandError::NotInteger));
    }
}
