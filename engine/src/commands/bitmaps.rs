//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO.
//!
//! Redis has no bitmap type: a bitmap is a string value read as a sequence of bits, bit 0 being
//! the most significant bit of the first byte, and as if padded with zero bytes forever. Writes
//! past the end grow the string with zero bytes (keeping its deadline), so offsets are bounded
//! by `proto-max-bulk-len` (2^32 - 1 with the default 512 MiB), as in Redis.
//!
//! Propagation: SETBIT and BITFIELD propagate themselves only when they changed the string
//! (created it, grew it or changed a bit); BITOP propagates itself whenever it stored or deleted
//! its destination. All three are deterministic given the same data, so replaying them verbatim
//! is the deterministic form. Reads propagate nothing.

use std::borrow::Cow;

use bytes::Bytes;

use crate::command::{
    is_keyword, parse_i64_arg, Args, CommandSpec, Flags, Group, Handler, KeyRange,
};
use crate::commands::strings::{string_len_max, take_buffer};
use crate::error::CommandError;
use crate::exec::Ctx;
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::Reply;
use crate::value::{parse_i64, StrValue, Value};

const READ_FAST: Flags = Flags::READONLY.and(Flags::FAST);
const WRITE_OOM: Flags = Flags::WRITE.and(Flags::DENYOOM);
/// BITOP: the destination and every source are keys.
const BITOP_KEYS: KeyRange = KeyRange::new(2, -1, 1);

/// A bitmap command's table entry.
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
        .doc(Group::Bitmap, since, summary)
}

#[rustfmt::skip]
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command("setbit", 4, setbit, WRITE_OOM, KeyRange::FIRST, "2.2.0",
        "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."),
    command("getbit", 3, getbit, READ_FAST, KeyRange::FIRST, "2.2.0",
        "Returns a bit value by offset."),
    command("bitcount", -2, bitcount, Flags::READONLY, KeyRange::FIRST, "2.6.0",
        "Counts the number of set bits (population counting) in a string."),
    command("bitpos", -3, bitpos, Flags::READONLY, KeyRange::FIRST, "2.8.7",
        "Finds the first set (1) or clear (0) bit in a string."),
    command("bitop", -4, bitop, WRITE_OOM, BITOP_KEYS, "2.6.0",
        "Performs bitwise operations on multiple strings, and stores the result."),
    command("bitfield", -2, bitfield, WRITE_OOM, KeyRange::FIRST, "3.2.0",
        "Performs arbitrary bitfield integer operations on strings."),
    command("bitfield_ro", -2, bitfield_ro, READ_FAST, KeyRange::FIRST, "6.0.0",
        "Performs arbitrary read-only bitfield integer operations on strings."),
];

// ---------------------------------------------------------------------------------------------
// Shared helpers

fn bit_offset_error() -> CommandError {
    CommandError::err("bit offset is not an integer or out of range")
}

/// The string in `value`, or WRONGTYPE.
fn string_of(value: &Value) -> Result<&StrValue, CommandError> {
    value.as_str().ok_or(CommandError::WrongType)
}

/// The string in `value`, mutable, or WRONGTYPE.
fn string_of_mut(value: &mut Value) -> Result<&mut StrValue, CommandError> {
    match value {
        Value::Str(s) => Ok(s),
        _ => Err(CommandError::WrongType),
    }
}

/// The bytes of a string value; an integer is read as its decimal text, as Redis reads it.
fn text_of(value: &StrValue) -> Cow<'_, [u8]> {
    match value.text() {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(value.to_bytes().to_vec()),
    }
}

/// A command propagated as written, its name in capitals.
fn as_itself(name: &'static [u8], args: &[Bytes]) -> Vec<Bytes> {
    std::iter::once(Bytes::from_static(name))
        .chain(args.iter().skip(1).cloned())
        .collect()
}

/// A new string key holding `data`, without deadline.
fn string_entry(data: Vec<u8>) -> Entry {
    Entry::new(Value::Str(StrValue::from_vec(data)))
}

/// Parses a bit offset: a non-negative integer whose byte (offset / 8) lies below
/// `proto-max-bulk-len`. With `field_bits` (BITFIELD), `#n` means the n-th field of that width.
fn parse_bit_offset(
    arg: &[u8],
    field_bits: Option<u32>,
    len_max: u64,
) -> Result<u64, CommandError> {
    let (digits, scale) = match (arg.split_first(), field_bits) {
        (Some((b'#', rest)), Some(bits)) => (rest, i64::from(bits)),
        _ => (arg, 1),
    };
    parse_i64(digits)
        .filter(|&n| n >= 0)
        .and_then(|n| n.checked_mul(scale))
        .and_then(|offset| u64::try_from(offset).ok())
        .filter(|offset| offset >> 3 < len_max)
        .ok_or_else(bit_offset_error)
}

/// Bit `offset` of `data` (zero past the end).
fn bit_at(data: &[u8], offset: u64) -> bool {
    usize::try_from(offset >> 3)
        .ok()
        .and_then(|index| data.get(index))
        .is_some_and(|byte| byte & (0x80 >> (offset & 7)) != 0)
}

/// Sets bit `offset` of `data`, which must already cover it.
fn set_bit(data: &mut [u8], offset: u64, on: bool) {
    let byte = usize::try_from(offset >> 3)
        .ok()
        .and_then(|index| data.get_mut(index));
    debug_assert!(byte.is_some(), "bit {offset} written past the buffer");
    if let Some(byte) = byte {
        let mask = 0x80 >> (offset & 7);
        if on {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Number of bytes a string needs to hold bit `offset`.
fn bytes_to_hold(offset: u64) -> Result<usize, CommandError> {
    usize::try_from(offset >> 3)
        .ok()
        .and_then(|index| index.checked_add(1))
        .ok_or_else(bit_offset_error)
}

// ---------------------------------------------------------------------------------------------
// SETBIT and GETBIT

fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let offset = parse_bit_offset(parser.next_bytes()?, None, string_len_max(ctx))?;
    let on = parse_bit_value(parser.next_bytes()?)?;
    parser.finish()?;
    let len_needed = bytes_to_hold(offset)?;
    let mut locks = ctx.lock_key(key);
    let (previous, changed) = match locks.get_mut(key) {
        Some(entry) => write_bit(string_of_mut(&mut entry.value)?, offset, on, len_needed),
        None => {
            let mut data = vec![0; len_needed];
            set_bit(&mut data, offset, on);
            locks.insert(key, string_entry(data));
            (false, true)
        }
    };
    if changed {
        locks.propagate(|| as_itself(b"SETBIT", args));
        locks.notify(Events::STRING, "setbit", key);
    }
    Ok(Reply::Integer(i64::from(previous)))
}

/// SETBIT's value: exactly 0 or 1.
fn parse_bit_value(arg: &[u8]) -> Result<bool, CommandError> {
    match parse_i64(arg) {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => Err(CommandError::err("bit is not an integer or out of range")),
    }
}

/// Sets bit `offset` of `value` to `on`, growing it to `len_needed` bytes if shorter. Returns
/// the previous bit and whether the string changed. An unchanged string keeps its bytes but
/// becomes `raw`, as Redis makes every string SETBIT touches.
fn write_bit(value: &mut StrValue, offset: u64, on: bool, len_needed: usize) -> (bool, bool) {
    let (previous, grows) = {
        let text = text_of(value);
        (bit_at(&text, offset), text.len() < len_needed)
    };
    if previous == on && !grows {
        if !matches!(value, StrValue::Raw(_)) {
            *value = StrValue::from_vec(text_of(value).into_owned());
        }
        return (previous, false);
    }
    let mut data = take_buffer(value, len_needed);
    if data.len() < len_needed {
        data.resize(len_needed, 0);
    }
    set_bit(&mut data, offset, on);
    *value = StrValue::from_vec(data);
    (previous, true)
}

fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let offset = parse_bit_offset(parser.next_bytes()?, None, string_len_max(ctx))?;
    parser.finish()?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Integer(0));
    };
    let text = text_of(string_of(&entry.value)?);
    Ok(Reply::Integer(i64::from(bit_at(&text, offset))))
}

// ---------------------------------------------------------------------------------------------
// Ranges (BITCOUNT, BITPOS)

/// The unit of a BITCOUNT/BITPOS range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeUnit {
    Byte,
    Bit,
}

impl RangeUnit {
    fn parse(arg: &[u8]) -> Result<RangeUnit, CommandError> {
        if is_keyword(arg, "BYTE") {
            Ok(RangeUnit::Byte)
        } else if is_keyword(arg, "BIT") {
            Ok(RangeUnit::Bit)
        } else {
            Err(CommandError::Syntax)
        }
    }
}

/// An inclusive range of bit offsets inside a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BitRange {
    first: u64,
    last: u64,
}

impl BitRange {
    /// The bits of `start..=end`, written in `unit`s, over a string of `len` bytes: negative
    /// indexes count from the end, both ends are clamped into the string, and an inverted
    /// range is empty (`None`), as Redis resolves them.
    fn resolve(start: i64, end: i64, unit: RangeUnit, len: usize) -> Option<BitRange> {
        let len = i64::try_from(len).ok()?;
        let units = match unit {
            RangeUnit::Byte => len,
            RangeUnit::Bit => len.checked_mul(8)?,
        };
        // `units` is non-negative, so adding a negative index cannot overflow.
        let from_end = |index: i64| if index < 0 { units + index } else { index };
        let first = from_end(start).max(0);
        let last = from_end(end).max(0).min(units - 1);
        if first > last {
            return None;
        }
        let (first, last) = (u64::try_from(first).ok()?, u64::try_from(last).ok()?);
        Some(match unit {
            RangeUnit::Byte => BitRange {
                first: first.checked_mul(8)?,
                last: last.checked_mul(8)?.checked_add(7)?,
            },
            RangeUnit::Bit => BitRange { first, last },
        })
    }

    /// The bytes the range touches, within `data` (a resolved range always is).
    fn bytes<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        let first = usize::try_from(self.first / 8).unwrap_or(usize::MAX);
        let last = usize::try_from(self.last / 8).unwrap_or(usize::MAX);
        let bytes = data.get(first..=last);
        debug_assert!(
            bytes.is_some(),
            "range {self:?} outside {} bytes",
            data.len()
        );
        bytes.unwrap_or_default()
    }

    /// Mask of the range's bits in its first byte.
    fn head_mask(&self) -> u8 {
        0xFF >> (self.first % 8)
    }

    /// Mask of the range's bits in its last byte.
    fn tail_mask(&self) -> u8 {
        0xFF << (7 - self.last % 8)
    }
}

/// Number of set bits in `bytes`, eight bytes at a time.
fn popcount(bytes: &[u8]) -> u64 {
    let words = bytes.chunks_exact(8);
    let tail: u64 = words
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    words.fold(tail, |total, word| {
        let word = u64::from_ne_bytes(word.try_into().unwrap_or_default());
        total + u64::from(word.count_ones())
    })
}

/// Number of set bits of `data` inside `range`.
fn count_ones(data: &[u8], range: BitRange) -> u64 {
    let bytes = range.bytes(data);
    let (Some(&head), Some(&tail)) = (bytes.first(), bytes.last()) else {
        return 0;
    };
    // Count whole bytes, then take back the bits of the edge bytes outside the range (disjoint
    // even when both edges are the same byte).
    let outside = u64::from((head & !range.head_mask()).count_ones())
        + u64::from((tail & !range.tail_mask()).count_ones());
    popcount(bytes) - outside
}

/// Offset of the first bit equal to `target` inside `range` of `data`.
fn find_bit(data: &[u8], range: BitRange, target: bool) -> Option<u64> {
    // Looking for a 0 is looking for a 1 in the complement.
    let flip: u8 = if target { 0 } else { 0xFF };
    let bytes = range.bytes(data);
    let last = bytes.len().checked_sub(1)?;
    let wanted_bits = |index: usize| {
        let mut bits = bytes[index] ^ flip;
        if index == 0 {
            bits &= range.head_mask();
        }
        if index == last {
            bits &= range.tail_mask();
        }
        bits
    };
    // Only three bytes can hold it: the first, the first interior byte that is not all `flip`,
    // or the last.
    let interior = bytes
        .get(1..last)
        .and_then(|inner| inner.iter().position(|&b| b != flip))
        .map(|position| position + 1);
    let index = [Some(0), interior, Some(last)]
        .into_iter()
        .flatten()
        .find(|&index| wanted_bits(index) != 0)?;
    let byte_offset = range.first / 8 + u64::try_from(index).ok()?;
    Some(byte_offset * 8 + u64::from(wanted_bits(index).leading_zeros()))
}

// ---------------------------------------------------------------------------------------------
// BITCOUNT and BITPOS

fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let range = match parser.remaining() {
        0 => None,
        2 | 3 => {
            let start = parser.next_i64()?;
            let end = parser.next_i64()?;
            let unit = parser
                .next_opt()
                .map_or(Ok(RangeUnit::Byte), |u| RangeUnit::parse(u))?;
            Some((start, end, unit))
        }
        _ => return Err(CommandError::Syntax),
    };
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Integer(0));
    };
    let text = text_of(string_of(&entry.value)?);
    let bits = match range {
        None => BitRange::resolve(0, -1, RangeUnit::Byte, text.len()),
        // Two negative indexes out of order are empty even when both clamp to the start.
        Some((start, end, _)) if start < 0 && end < 0 && start > end => None,
        Some((start, end, unit)) => BitRange::resolve(start, end, unit, text.len()),
    };
    let count = bits.map_or(0, |range| count_ones(&text, range));
    Ok(Reply::Integer(i64::try_from(count).unwrap_or(i64::MAX)))
}

fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let target = match parser.next_i64()? {
        0 => false,
        1 => true,
        _ => return Err(CommandError::err("The bit argument must be 1 or 0.")),
    };
    let range_args = parser.rest();
    if range_args.len() > 3 {
        return Err(CommandError::Syntax);
    }
    // Redis reads start, then the unit, then end: its errors come in that order.
    let start = range_args.first().map(|a| parse_i64_arg(a)).transpose()?;
    let unit = range_args
        .get(2)
        .map_or(Ok(RangeUnit::Byte), |u| RangeUnit::parse(u))?;
    let end = range_args.get(1).map(|a| parse_i64_arg(a)).transpose()?;
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        // A missing key is an endless run of zeros.
        return Ok(Reply::Integer(if target { -1 } else { 0 }));
    };
    let text = text_of(string_of(&entry.value)?);
    let Some(range) = BitRange::resolve(start.unwrap_or(0), end.unwrap_or(-1), unit, text.len())
    else {
        return Ok(Reply::Integer(-1));
    };
    let position = match find_bit(&text, range, target) {
        Some(position) => i64::try_from(position).unwrap_or(i64::MAX),
        // Without an end, the string counts as padded with zeros: the first clear bit is the
        // first one past it.
        None if !target && end.is_none() => i64::try_from(range.last + 1).unwrap_or(i64::MAX),
        None => -1,
    };
    Ok(Reply::Integer(position))
}

// ---------------------------------------------------------------------------------------------
// BITOP

/// A BITOP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

impl BitOp {
    fn parse(arg: &[u8]) -> Result<BitOp, CommandError> {
        [
            ("AND", BitOp::And),
            ("OR", BitOp::Or),
            ("XOR", BitOp::Xor),
            ("NOT", BitOp::Not),
        ]
        .into_iter()
        .find(|(name, _)| is_keyword(arg, name))
        .map(|(_, op)| op)
        .ok_or(CommandError::Syntax)
    }

    /// The operation over `inputs`, each read as padded with zero bytes to the longest.
    fn apply(self, inputs: &[Bytes]) -> Vec<u8> {
        let len = inputs.iter().map(Bytes::len).max().unwrap_or(0);
        let mut out = vec![0u8; len];
        let Some((first, rest)) = inputs.split_first() else {
            return out;
        };
        out[..first.len()].copy_from_slice(first);
        for source in rest {
            let pairs = out.iter_mut().zip(source.iter());
            match self {
                BitOp::And => {
                    pairs.for_each(|(o, s)| *o &= s);
                    // Past its end a source is zeros.
                    out[source.len()..].fill(0);
                }
                BitOp::Or => pairs.for_each(|(o, s)| *o |= s),
                BitOp::Xor => pairs.for_each(|(o, s)| *o ^= s),
                BitOp::Not => {}
            }
        }
        if self == BitOp::Not {
            out.iter_mut().for_each(|b| *b = !*b);
        }
        out
    }
}

fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let op = BitOp::parse(parser.next_bytes()?)?;
    let destination = parser.next_bytes()?;
    let sources = parser.rest();
    if op == BitOp::Not && sources.len() != 1 {
        return Err(CommandError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let keys: Vec<&[u8]> = std::iter::once(destination)
        .chain(sources)
        .map(|k| &k[..])
        .collect();
    let mut locks = ctx.lock_keys(&keys);
    let mut inputs = Vec::with_capacity(sources.len());
    for key in sources {
        inputs.push(match locks.read(key) {
            Some(entry) => string_of(&entry.value)?.to_bytes(),
            None => Bytes::new(),
        });
    }
    let result = op.apply(&inputs);
    let len = result.len();
    // The destination is replaced whatever its type and deadline, or deleted when the result
    // is empty.
    let event = if result.is_empty() {
        locks.remove(destination).map(|_| (Events::GENERIC, "del"))
    } else {
        locks.insert(destination, string_entry(result));
        Some((Events::STRING, "set"))
    };
    if let Some((class, name)) = event {
        locks.propagate(|| as_itself(b"BITOP", args));
        locks.notify(class, name, destination);
    }
    Ok(Reply::Integer(i64::try_from(len).unwrap_or(i64::MAX)))
}

// ---------------------------------------------------------------------------------------------
// BITFIELD

/// What BITFIELD does when a write does not fit its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// Keep the low bits (two's complement wrap-around).
    Wrap,
    /// Clamp to the field's minimum or maximum.
    Sat,
    /// Write nothing and reply nil.
    Fail,
}

impl Overflow {
    fn parse(arg: &[u8]) -> Result<Overflow, CommandError> {
        [
            ("WRAP", Overflow::Wrap),
            ("SAT", Overflow::Sat),
            ("FAIL", Overflow::Fail),
        ]
        .into_iter()
        .find(|(name, _)| is_keyword(arg, name))
        .map(|(_, overflow)| overflow)
        .ok_or_else(|| CommandError::err("Invalid OVERFLOW type specified"))
    }
}

/// A BITFIELD integer type: `i1`..`i64` or `u1`..`u63` (u64 could not be replied as an
/// integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldType {
    signed: bool,
    bits: u32,
}

impl FieldType {
    fn parse(arg: &[u8]) -> Result<FieldType, CommandError> {
        let invalid = || {
            CommandError::err(
                "Invalid bitfield type. Use something like i16 u8. Note that u64 is not \
                 supported but i64 is.",
            )
        };
        let (signed, digits) = match arg.split_first() {
            Some((b'i' | b'I', digits)) => (true, digits),
            Some((b'u' | b'U', digits)) => (false, digits),
            _ => return Err(invalid()),
        };
        let bits_max = if signed { 64 } else { 63 };
        parse_i64(digits)
            .filter(|bits| (1..=bits_max).contains(bits))
            .and_then(|bits| u32::try_from(bits).ok())
            .map(|bits| FieldType { signed, bits })
            .ok_or_else(invalid)
    }

    fn min(self) -> i128 {
        if self.signed {
            -(1i128 << (self.bits - 1))
        } else {
            0
        }
    }

    fn max(self) -> i128 {
        if self.signed {
            (1i128 << (self.bits - 1)) - 1
        } else {
            (1i128 << self.bits) - 1
        }
    }

    /// The field's value from its raw bits (sign-extended for signed types).
    fn decode(self, raw: u64) -> i128 {
        let value = i128::from(raw);
        if self.signed {
            let unused = 128 - self.bits;
            (value << unused) >> unused
        } else {
            value
        }
    }

    /// The low `bits` bits of `value` in two's complement: what the field stores.
    fn encode(self, value: i128) -> u64 {
        // Truncation to the low 64 bits is the point: two's complement keeps them.
        let low = value as u64;
        if self.bits == 64 {
            low
        } else {
            low & ((1u64 << self.bits) - 1)
        }
    }

    /// The value SET asks to store. An unsigned field reads the argument as its unsigned 64-bit
    /// pattern, as Redis does, so a negative value overflows upwards.
    fn requested(self, value: i64) -> i128 {
        if self.signed {
            i128::from(value)
        } else {
            i128::from(value as u64)
        }
    }

    /// What the field holds after asking for `value` (computed exactly) under `overflow`;
    /// `None` when FAIL refuses it.
    fn fit(self, value: i128, overflow: Overflow) -> Option<i128> {
        if (self.min()..=self.max()).contains(&value) {
            return Some(value);
        }
        match overflow {
            Overflow::Wrap => Some(self.decode(self.encode(value))),
            Overflow::Sat => Some(value.clamp(self.min(), self.max())),
            Overflow::Fail => None,
        }
    }
}

/// What a BITFIELD operation does to its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldAction {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One BITFIELD operation, with the OVERFLOW mode in force where it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldOp {
    action: FieldAction,
    field: FieldType,
    offset: u64,
    overflow: Overflow,
}

impl FieldOp {
    /// The last bit a write reaches; `None` for a GET.
    fn last_written_bit(&self) -> Option<u64> {
        match self.action {
            FieldAction::Get => None,
            _ => Some(self.offset + u64::from(self.field.bits) - 1),
        }
    }
}

/// Parses BITFIELD's subcommands. Every error (syntax, type, offset, value) is reported before
/// anything is looked up, in the order the words come.
fn parse_field_ops(mut words: &[Bytes], len_max: u64) -> Result<Vec<FieldOp>, CommandError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    while let Some((word, operands)) = words.split_first() {
        if is_keyword(word, "OVERFLOW") {
            if let Some((mode, rest)) = operands.split_first() {
                overflow = Overflow::parse(mode)?;
                words = rest;
                continue;
            }
        }
        // GET reads; SET and INCRBY build their action from one more operand.
        let write: Option<fn(i64) -> FieldAction> = if is_keyword(word, "GET") {
            None
        } else if is_keyword(word, "SET") {
            Some(FieldAction::Set)
        } else if is_keyword(word, "INCRBY") {
            Some(FieldAction::IncrBy)
        } else {
            return Err(CommandError::Syntax);
        };
        let operand_count = if write.is_some() { 3 } else { 2 };
        let Some(operands) = operands.get(..operand_count) else {
            return Err(CommandError::Syntax);
        };
        let field = FieldType::parse(&operands[0])?;
        let offset = parse_bit_offset(&operands[1], Some(field.bits), len_max)?;
        let action = match write {
            None => FieldAction::Get,
            Some(action) => action(parse_i64_arg(&operands[2])?),
        };
        ops.push(FieldOp {
            action,
            field,
            offset,
            overflow,
        });
        words = &words[1 + operand_count..];
    }
    Ok(ops)
}

/// The raw bits of a `bits`-wide field at `offset` of `data`, most significant first (zero past
/// the end).
fn read_field(data: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0, |raw, i| (raw << 1) | u64::from(bit_at(data, offset + i)))
}

/// Writes the raw bits of a `bits`-wide field at `offset` of `data`, which covers it.
fn write_field(data: &mut [u8], offset: u64, bits: u32, raw: u64) {
    for i in 0..bits {
        let bit = (raw >> (bits - 1 - i)) & 1 == 1;
        set_bit(data, offset + u64::from(i), bit);
    }
}

/// A field value as an integer reply: fields are at most i64 or u63, so it always fits.
fn field_reply(value: i128) -> Reply {
    Reply::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Runs `ops` in order over `data` (grown to cover every write); returns the replies and
/// whether any field changed.
fn apply_field_ops(data: &mut [u8], ops: &[FieldOp]) -> (Vec<Reply>, bool) {
    let mut changed = false;
    let replies = ops
        .iter()
        .map(|op| {
            let old = op.field.decode(read_field(data, op.offset, op.field.bits));
            let (wanted, reply_new) = match op.action {
                FieldAction::Get => return field_reply(old),
                FieldAction::Set(value) => (op.field.requested(value), false),
                FieldAction::IncrBy(delta) => (old + i128::from(delta), true),
            };
            let Some(new) = op.field.fit(wanted, op.overflow) else {
                return Reply::Nil;
            };
            write_field(data, op.offset, op.field.bits, op.field.encode(new));
            changed |= new != old;
            field_reply(if reply_new { new } else { old })
        })
        .collect();
    (replies, changed)
}

fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    run_bitfield(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    run_bitfield(ctx, args, true)
}

fn run_bitfield(ctx: &Ctx<'_>, args: &[Bytes], read_only: bool) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let ops = parse_field_ops(parser.rest(), string_len_max(ctx))?;
    let Some(last_bit) = ops.iter().filter_map(FieldOp::last_written_bit).max() else {
        return read_fields(ctx, key, &ops);
    };
    if read_only {
        return Err(CommandError::err(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    write_fields(ctx, args, key, &ops, bytes_to_hold(last_bit)?)
}

/// BITFIELD with GETs only: a plain read.
fn read_fields(ctx: &Ctx<'_>, key: &[u8], ops: &[FieldOp]) -> Result<Reply, CommandError> {
    let mut locks = ctx.lock_key(key);
    let text = match locks.read(key) {
        Some(entry) => text_of(string_of(&entry.value)?),
        None => Cow::Borrowed(&[][..]),
    };
    Ok(Reply::Array(
        ops.iter()
            .map(|op| field_reply(op.field.decode(read_field(&text, op.offset, op.field.bits))))
            .collect(),
    ))
}

/// BITFIELD with writes: grows (or creates) the string to `len_needed` bytes, then runs every
/// operation in order.
fn write_fields(
    ctx: &Ctx<'_>,
    args: &[Bytes],
    key: &[u8],
    ops: &[FieldOp],
    len_needed: usize,
) -> Result<Reply, CommandError> {
    let mut locks = ctx.lock_key(key);
    let (replies, changed) = match locks.get_mut(key) {
        Some(entry) => {
            let value = string_of_mut(&mut entry.value)?;
            let mut data = take_buffer(value, len_needed);
            let grew = data.len() < len_needed;
            if grew {
                data.resize(len_needed, 0);
            }
            let (replies, changed) = apply_field_ops(&mut data, ops);
            *value = StrValue::from_vec(data);
            (replies, changed || grew)
        }
        None => {
            let mut data = vec![0; len_needed];
            let (replies, _) = apply_field_ops(&mut data, ops);
            locks.insert(key, string_entry(data));
            (replies, true)
        }
    };
    // Redis skips propagation when every write failed even if it created or grew the string;
    // propagating then too keeps replicas identical.
    if changed {
        locks.propagate(|| as_itself(b"BITFIELD", args));
        // BITFIELD reports its writes as `setbit`, as in Redis.
        locks.notify(Events::STRING, "setbit", key);
    }
    Ok(Reply::Array(replies))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEN_MAX: u64 = 512 * 1024 * 1024;

    #[test]
    fn bit_offsets_follow_redis_limits() {
        assert_eq!(parse_bit_offset(b"0", None, LEN_MAX), Ok(0));
        assert_eq!(
            parse_bit_offset(b"4294967295", None, LEN_MAX),
            Ok(4_294_967_295)
        );
        for bad in [&b"4294967296"[..], b"-1", b"x", b"", b"#1", b"01"] {
            assert_eq!(
                parse_bit_offset(bad, None, LEN_MAX),
                Err(bit_offset_error())
            );
        }
        assert_eq!(parse_bit_offset(b"#3", Some(8), LEN_MAX), Ok(24));
        assert_eq!(parse_bit_offset(b"3", Some(8), LEN_MAX), Ok(3));
        assert_eq!(
            parse_bit_offset(b"#9223372036854775807", Some(2), u64::MAX),
            Err(bit_offset_error())
        );
        assert_eq!(
            parse_bit_offset(b"#-1", Some(2), LEN_MAX),
            Err(bit_offset_error())
        );
    }

    #[test]
    fn ranges_resolve_like_redis() {
        let range = |start, end, unit, len| BitRange::resolve(start, end, unit, len);
        let bits = |first, last| Some(BitRange { first, last });
        assert_eq!(range(0, -1, RangeUnit::Byte, 3), bits(0, 23));
        assert_eq!(range(1, 1, RangeUnit::Byte, 3), bits(8, 15));
        assert_eq!(range(-2, -1, RangeUnit::Byte, 3), bits(8, 23));
        assert_eq!(range(5, 30, RangeUnit::Bit, 6), bits(5, 30));
        assert_eq!(range(-100, 100, RangeUnit::Bit, 1), bits(0, 7));
        assert_eq!(range(2, 1, RangeUnit::Byte, 3), None);
        assert_eq!(range(0, -1, RangeUnit::Byte, 0), None);
        assert_eq!(range(i64::MIN, i64::MAX, RangeUnit::Bit, 2), bits(0, 15));
    }

    #[test]
    fn counting_and_finding_respect_edge_bits() {
        let data = [0b1010_1010, 0xFF, 0b0000_0001];
        let all = BitRange { first: 0, last: 23 };
        assert_eq!(count_ones(&data, all), 13);
        assert_eq!(count_ones(&data, BitRange { first: 1, last: 6 }), 3);
        assert_eq!(count_ones(&data, BitRange { first: 3, last: 22 }), 10);
        assert_eq!(find_bit(&data, all, true), Some(0));
        assert_eq!(
            find_bit(&data, BitRange { first: 1, last: 23 }, true),
            Some(2)
        );
        assert_eq!(
            find_bit(&data, BitRange { first: 8, last: 23 }, false),
            Some(16)
        );
        assert_eq!(
            find_bit(&data, BitRange { first: 8, last: 15 }, false),
            None
        );
        assert_eq!(
            find_bit(
                &data,
                BitRange {
                    first: 17,
                    last: 22
                },
                true
            ),
            None
        );
        let long = [vec![0u8; 100], vec![0b0001_0000], vec![0u8; 50]].concat();
        let whole = BitRange {
            first: 0,
            last: 151 * 8 - 1,
        };
        assert_eq!(find_bit(&long, whole, true), Some(803));
        assert_eq!(count_ones(&long, whole), 1);
        assert_eq!(popcount(&[0xFF; 19]), 152);
    }

    #[test]
    fn bitop_pads_shorter_sources_with_zeros() {
        let inputs = [Bytes::from_static(b"\xff\x0f"), Bytes::from_static(b"\xf0")];
        assert_eq!(BitOp::And.apply(&inputs), [0xF0, 0x00]);
        assert_eq!(BitOp::Or.apply(&inputs), [0xFF, 0x0F]);
        assert_eq!(BitOp::Xor.apply(&inputs), [0x0F, 0x0F]);
        assert_eq!(BitOp::Not.apply(&inputs[..1]), [0x00, 0xF0]);
        assert!(BitOp::And.apply(&[Bytes::new(), Bytes::new()]).is_empty());
    }

    #[test]
    fn field_types_and_overflow() {
        let i8 = FieldType::parse(b"i8").unwrap();
        let u2 = FieldType::parse(b"U2").unwrap();
        let i64 = FieldType::parse(b"i64").unwrap();
        assert_eq!((i8.min(), i8.max(), u2.max()), (-128, 127, 3));
        for bad in [&b"u64"[..], b"i65", b"i0", b"x8", b"", b"i", b"i+8", b"u08"] {
            assert!(FieldType::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(i8.fit(200, Overflow::Wrap), Some(-56));
        assert_eq!(i8.fit(200, Overflow::Sat), Some(127));
        assert_eq!(i8.fit(-200, Overflow::Sat), Some(-128));
        assert_eq!(i8.fit(200, Overflow::Fail), None);
        assert_eq!(u2.fit(u2.requested(-1), Overflow::Sat), Some(3));
        assert_eq!(u2.fit(u2.requested(-1), Overflow::Wrap), Some(3));
        assert_eq!(u2.fit(-1, Overflow::Sat), Some(0));
        assert_eq!(u2.fit(5, Overflow::Wrap), Some(1));
        let beyond = i128::from(i64::MAX) + 1;
        assert_eq!(i64.fit(beyond, Overflow::Wrap), Some(i128::from(i64::MIN)));
        assert_eq!(i64.decode(i64.encode(-1)), -1);
        assert_eq!(i8.decode(0xFF), -1);
    }

    #[test]
    fn fields_read_and_write_across_bytes() {
        let mut data = vec![0u8; 3];
        write_field(&mut data, 5, 12, 0xABC);
        assert_eq!(read_field(&data, 5, 12), 0xABC);
        assert_eq!(data, [0b0000_0101, 0b0101_1110, 0b0000_0000]);
        assert_eq!(read_field(&data, 20, 16), 0);
        assert_eq!(read_field(&[0xFF], 4, 8), 0xF0);
    }
}
