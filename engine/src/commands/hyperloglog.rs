//! HyperLogLog commands (PFADD, PFCOUNT, PFMERGE) over Redis's own sketch format, byte for byte,
//! so a sketch copied from Redis (GET/SET, DUMP/RESTORE, RDB, replication) keeps working here and
//! one written here works in Redis.
//!
//! A sketch is a string value:
//! - a 16-byte header: `HYLL`, an encoding byte (0 dense, 1 sparse), three unused bytes, and the
//!   cached cardinality as 8 bytes little-endian whose top bit marks the cache stale;
//! - dense: 16384 registers of 6 bits, packed from the least significant bit (12288 bytes);
//! - sparse: run-length opcodes, ZERO `00xxxxxx` (1..64 zero registers), XZERO `01xxxxxx
//!   yyyyyyyy` (1..16384 zero registers) and VAL `1vvvvvxx` (1..4 registers of value 1..32).
//!
//! A sparse sketch turns dense when a register needs a value above 32 or the string would grow
//! past `hll-sparse-max-bytes` (3000 bytes, header included); never the other way. Sparse writes
//! split and merge opcodes exactly as Redis does, so the same commands give the same bytes.
//!
//! An element is hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits choose the
//! register, and one plus the number of trailing zeros of the other 50 is the value the register
//! is raised to. The count is Otmar Ertl's improved raw estimator ("New cardinality estimation
//! algorithms for HyperLogLog sketches", 2017), which Redis uses since 5.0.
//!
//! Propagation: PFADD (when it changed a register or created the key) and PFMERGE (always)
//! propagate themselves. A single-key PFCOUNT that refreshes the cached count modifies the
//! string, so, as Redis 7 does, it propagates itself too: replicas and the AOF keep the same
//! bytes.

use bytes::Bytes;

use crate::command::{Args, CommandSpec, Flags, Group, Handler, KeyRange};
use crate::commands::strings::take_buffer;
use crate::error::CommandError;
use crate::exec::Ctx;
use crate::keyspace::Entry;
use crate::notify::Events;
use crate::reply::Reply;
use crate::value::{StrValue, Value};

const WRITE_OOM: Flags = Flags::WRITE.and(Flags::DENYOOM);
/// PFCOUNT reads, but may write the cached count back (see the module docs).
const READ_MAY_REPLICATE: Flags = Flags::READONLY.and(Flags::MAY_REPLICATE);

/// A HyperLogLog command's table entry.
const fn command(
    name: &'static str,
    handler: fn(&mut Ctx<'_>, &[Bytes]) -> Result<Reply, CommandError>,
    flags: Flags,
    keys: KeyRange,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, -2, Handler::Engine(handler))
        .flags(flags)
        .keys(keys)
        .doc(Group::HyperLogLog, "2.8.9", summary)
}

#[rustfmt::skip]
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command("pfadd", pfadd, WRITE_OOM.and(Flags::FAST), KeyRange::FIRST,
        "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist."),
    command("pfcount", pfcount, READ_MAY_REPLICATE, KeyRange::ALL,
        "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s)."),
    command("pfmerge", pfmerge, WRITE_OOM, KeyRange::ALL,
        "Merges one or more HyperLogLog values into a single key."),
];

// ---------------------------------------------------------------------------------------------
// Format

const MAGIC: &[u8; 4] = b"HYLL";
const HEADER_LEN: usize = 16;
const ENCODING_AT: usize = 4;
const CARDINALITY_AT: usize = 8;
/// The top bit of the cached cardinality's last byte: set while the cache is stale.
const STALE_CACHE_BIT: u8 = 0x80;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;

/// Hash bits that choose the register (Redis's HLL_P).
const INDEX_BITS: u32 = 14;
/// Number of registers.
pub const REGISTERS: usize = 1 << INDEX_BITS;
/// Hash bits left to rank an element (Redis's HLL_Q): a register holds at most this plus one.
const RANK_BITS: usize = 64 - INDEX_BITS as usize;
const REGISTER_BITS: usize = 6;
const REGISTER_MASK: u32 = (1 << REGISTER_BITS) - 1;
/// Length of a dense sketch, header included.
pub const DENSE_LEN: usize = HEADER_LEN + REGISTERS * REGISTER_BITS / 8;
/// MurmurHash64A's seed in Redis.
const HASH_SEED: u64 = 0xadc8_3b19;
/// Longest a sparse sketch may grow, header included (`hll-sparse-max-bytes`, default 3000).
pub const SPARSE_MAX_BYTES: usize = 3000;

const ZERO_LEN_MAX: usize = 64;
const VAL_VALUE_MAX: u8 = 32;
const VAL_LEN_MAX: usize = 4;
/// Opcodes the merge step after a sparse write visits, starting before the written one: enough
/// to join the (at most three) opcodes a write leaves with their neighbours, as Redis does.
const MERGE_SCAN_STEPS: usize = 5;

/// `1 / (2 ln 2)`: the estimator's bias constant for an unbounded number of registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
/// Bound on the iterations of the estimator's series; they converge in well under 64.
const SERIES_STEPS_MAX: usize = 128;

/// A value that is not a sketch.
fn not_a_sketch() -> CommandError {
    CommandError::Other("WRONGTYPE Key is not a valid HyperLogLog string value.".to_owned())
}

/// A sketch whose sparse opcodes do not describe exactly 16384 registers.
fn corrupted() -> CommandError {
    CommandError::Other("INVALIDOBJ Corrupted HLL object detected".to_owned())
}

/// A command propagated as written, its name in capitals.
fn as_itself(name: &'static [u8], args: &[Bytes]) -> Vec<Bytes> {
    std::iter::once(Bytes::from_static(name))
        .chain(args.iter().skip(1).cloned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Hashing

/// MurmurHash64A (Austin Appleby), reading 8-byte blocks little-endian as Redis does on every
/// platform.
fn murmur_hash64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().unwrap_or_default());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u64::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `element` falls in and the value it raises it to (1..=51).
fn register_of(element: &[u8]) -> (usize, u8) {
    let hash = murmur_hash64a(element, HASH_SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // The sentinel bit bounds the count when the rank bits are all zero.
    let rank_bits = (hash >> INDEX_BITS) | (1 << RANK_BITS);
    (index, rank_bits.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------------------------
// Dense registers

/// Register `index` of dense `registers` (12288 bytes).
fn dense_get(registers: &[u8], index: usize) -> u8 {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let low = u32::from(registers[byte]);
    // The last register ends inside the last byte.
    let high = registers.get(byte + 1).map_or(0, |&b| u32::from(b));
    (((high << 8 | low) >> shift) & REGISTER_MASK) as u8
}

/// Sets register `index` of dense `registers` to `value` (at most 63).
fn dense_set(registers: &mut [u8], index: usize, value: u8) {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let high = registers.get(byte + 1).map_or(0, |&b| u32::from(b));
    let word = (high << 8 | u32::from(registers[byte])) & !(REGISTER_MASK << shift)
        | (u32::from(value) & REGISTER_MASK) << shift;
    registers[byte] = word as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next = (word >> 8) as u8;
    }
}

/// Every register of dense `registers`, in order: four registers per three bytes.
fn dense_values(registers: &[u8]) -> impl Iterator<Item = u8> + '_ {
    registers.chunks_exact(3).flat_map(|group| {
        let word = u32::from(group[0]) | u32::from(group[1]) << 8 | u32::from(group[2]) << 16;
        [0, 6, 12, 18].map(|shift| ((word >> shift) & REGISTER_MASK) as u8)
    })
}

/// Packs 16384 register values into dense `registers`.
fn dense_pack(registers: &mut [u8], values: &[u8]) {
    for (group, four) in registers.chunks_exact_mut(3).zip(values.chunks_exact(4)) {
        let word = four.iter().enumerate().fold(0u32, |word, (i, &v)| {
            word | (u32::from(v) & REGISTER_MASK) << (6 * i)
        });
        group.copy_from_slice(&word.to_le_bytes()[..3]);
    }
}

// ---------------------------------------------------------------------------------------------
// Sparse opcodes

/// One sparse opcode: a run of registers sharing a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opcode {
    /// `00xxxxxx`: 1..=64 zero registers.
    Zero(usize),
    /// `01xxxxxx yyyyyyyy`: 1..=16384 zero registers.
    XZero(usize),
    /// `1vvvvvxx`: 1..=4 registers of value 1..=32.
    Val { value: u8, len: usize },
}

impl Opcode {
    /// The opcode at the start of `bytes`; `None` at the end or for an XZERO cut short.
    fn decode(bytes: &[u8]) -> Option<Opcode> {
        let (&first, rest) = bytes.split_first()?;
        let low_six = usize::from(first & 0x3f);
        Some(match first >> 6 {
            0b00 => Opcode::Zero(low_six + 1),
            0b01 => Opcode::XZero((low_six << 8 | usize::from(*rest.first()?)) + 1),
            _ => Opcode::Val {
                value: ((first >> 2) & 0x1f) + 1,
                len: usize::from(first & 0x3) + 1,
            },
        })
    }

    /// A run of `len` zero registers in its shortest form.
    fn zeros(len: usize) -> Opcode {
        if len > ZERO_LEN_MAX {
            Opcode::XZero(len)
        } else {
            Opcode::Zero(len)
        }
    }

    /// Bytes the opcode takes.
    fn width(self) -> usize {
        match self {
            Opcode::XZero(_) => 2,
            _ => 1,
        }
    }

    /// Registers the opcode covers.
    fn run_len(self) -> usize {
        match self {
            Opcode::Zero(len) | Opcode::XZero(len) => len,
            Opcode::Val { len, .. } => len,
        }
    }

    /// The value of the registers it covers.
    fn value(self) -> u8 {
        match self {
            Opcode::Val { value, .. } => value,
            _ => 0,
        }
    }

    /// Appends the opcode's bytes; its length and value must be in range.
    fn encode(self, out: &mut Vec<u8>) {
        debug_assert!(self.run_len() >= 1, "{self:?}");
        let n = self.run_len() - 1;
        match self {
            Opcode::Zero(_) => out.push(n as u8),
            Opcode::XZero(_) => out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]),
            Opcode::Val { value, .. } => out.push(0x80 | (value - 1) << 2 | n as u8),
        }
    }
}

/// Calls `visit(first_register, run_len, value)` for each run of sparse `opcodes`, and fails
/// unless the runs cover exactly the 16384 registers.
fn for_each_run(
    opcodes: &[u8],
    mut visit: impl FnMut(usize, usize, u8),
) -> Result<(), CommandError> {
    let (mut at, mut register) = (0, 0);
    while at < opcodes.len() {
        let opcode = Opcode::decode(&opcodes[at..]).ok_or_else(corrupted)?;
        let len = opcode.run_len();
        if register + len > REGISTERS {
            return Err(corrupted());
        }
        visit(register, len, opcode.value());
        register += len;
        at += opcode.width();
    }
    if register == REGISTERS {
        Ok(())
    } else {
        Err(corrupted())
    }
}

/// Where a register lives in a sparse sketch.
#[derive(Debug, Clone, Copy)]
struct Located {
    /// Byte position of the opcode covering the register.
    at: usize,
    /// Byte position of the opcode before it, if any.
    previous: Option<usize>,
    /// The first register the opcode covers.
    first: usize,
    opcode: Opcode,
}

/// Finds the opcode of sparse `sketch` (header included) that covers register `index`.
fn locate(sketch: &[u8], index: usize) -> Result<Located, CommandError> {
    let (mut at, mut first, mut previous) = (HEADER_LEN, 0, None);
    while let Some(opcode) = sketch.get(at..).and_then(Opcode::decode) {
        if index < first + opcode.run_len() {
            return Ok(Located {
                at,
                previous,
                first,
                opcode,
            });
        }
        previous = Some(at);
        at += opcode.width();
        first += opcode.run_len();
    }
    Err(corrupted())
}

/// What raising a register of a sparse sketch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SparseRaise {
    /// The register already held at least the value.
    Unchanged,
    Raised,
    /// The value or the grown sketch does not fit the sparse form: convert to dense first.
    NeedsDense,
}

/// Raises register `index` of sparse `sketch` to `value` if lower: the opcode covering it is
/// split into (run before, VAL of one register, run after), then neighbouring equal VALs are
/// merged.
fn sparse_raise(
    sketch: &mut Vec<u8>,
    index: usize,
    value: u8,
) -> Result<SparseRaise, CommandError> {
    if value > VAL_VALUE_MAX {
        return Ok(SparseRaise::NeedsDense);
    }
    let found = locate(sketch, index)?;
    let old = found.opcode.value();
    if old >= value {
        return Ok(SparseRaise::Unchanged);
    }
    let before = index - found.first;
    let after = found.first + found.opcode.run_len() - 1 - index;
    let run = |len: usize| match found.opcode {
        Opcode::Val { value, .. } => Opcode::Val { value, len },
        _ => Opcode::zeros(len),
    };
    let mut replacement = Vec::with_capacity(5);
    if before > 0 {
        run(before).encode(&mut replacement);
    }
    Opcode::Val { value, len: 1 }.encode(&mut replacement);
    if after > 0 {
        run(after).encode(&mut replacement);
    }
    let width = found.opcode.width();
    if replacement.len() > width && sketch.len() + replacement.len() - width > SPARSE_MAX_BYTES {
        return Ok(SparseRaise::NeedsDense);
    }
    sketch.splice(found.at..found.at + width, replacement);
    merge_equal_values(sketch, found.previous.unwrap_or(HEADER_LEN));
    Ok(SparseRaise::Raised)
}

/// Joins adjacent VAL opcodes of equal value (up to four registers) over a few opcodes from
/// byte `at`, so sparse sketches stay as short as Redis keeps them.
fn merge_equal_values(sketch: &mut Vec<u8>, mut at: usize) {
    for _ in 0..MERGE_SCAN_STEPS {
        let Some(opcode) = sketch.get(at..).and_then(Opcode::decode) else {
            return;
        };
        if let Opcode::Val { value, len } = opcode {
            let next = sketch.get(at + 1..).and_then(Opcode::decode);
            if let Some(Opcode::Val {
                value: next_value,
                len: next_len,
            }) = next
            {
                if next_value == value && len + next_len <= VAL_LEN_MAX {
                    let mut merged = Vec::with_capacity(1);
                    Opcode::Val {
                        value,
                        len: len + next_len,
                    }
                    .encode(&mut merged);
                    sketch.splice(at..at + 2, merged);
                    // Stay: the merged opcode may join the next one too.
                    continue;
                }
            }
        }
        at += opcode.width();
    }
}

// ---------------------------------------------------------------------------------------------
// Sketches

/// A sketch's two forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Dense,
    Sparse,
}

/// A stored string checked to be a sketch (the sparse opcodes are checked when read).
#[derive(Debug, Clone, Copy)]
struct Sketch<'a> {
    /// The whole string, header included.
    bytes: &'a [u8],
    encoding: Encoding,
}

impl<'a> Sketch<'a> {
    /// The sketch in `value`: WRONGTYPE for other types, and Redis's HyperLogLog WRONGTYPE for
    /// strings that are not sketches.
    fn of(value: &'a Value) -> Result<Sketch<'a>, CommandError> {
        match value {
            Value::Str(text) => text
                .text()
                .map_or_else(|| Err(not_a_sketch()), Sketch::parse),
            _ => Err(CommandError::WrongType),
        }
    }

    fn parse(bytes: &'a [u8]) -> Result<Sketch<'a>, CommandError> {
        if bytes.len() < HEADER_LEN || !bytes.starts_with(MAGIC) {
            return Err(not_a_sketch());
        }
        let encoding = match bytes[ENCODING_AT] {
            DENSE if bytes.len() == DENSE_LEN => Encoding::Dense,
            SPARSE => Encoding::Sparse,
            _ => return Err(not_a_sketch()),
        };
        Ok(Sketch { bytes, encoding })
    }

    fn body(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..]
    }

    /// The cached cardinality, unless stale.
    fn cached_cardinality(&self) -> Option<i64> {
        let cache: [u8; 8] = self.bytes[CARDINALITY_AT..HEADER_LEN].try_into().ok()?;
        // With the stale bit clear the value is below 2^63.
        (cache[7] & STALE_CACHE_BIT == 0).then(|| i64::from_le_bytes(cache))
    }

    /// How many registers hold each value.
    fn histogram(&self) -> Result<Histogram, CommandError> {
        match self.encoding {
            Encoding::Dense => Ok(Histogram::of_registers(dense_values(self.body()))),
            Encoding::Sparse => {
                let mut histogram = Histogram::default();
                for_each_run(self.body(), |_, len, value| histogram.add(value, len))?;
                Ok(histogram)
            }
        }
    }

    /// Raises each of `max`'s 16384 registers to this sketch's, if lower.
    fn merge_into(&self, max: &mut [u8]) -> Result<(), CommandError> {
        match self.encoding {
            Encoding::Dense => {
                for (slot, value) in max.iter_mut().zip(dense_values(self.body())) {
                    *slot = (*slot).max(value);
                }
            }
            Encoding::Sparse => for_each_run(self.body(), |first, len, value| {
                for slot in &mut max[first..first + len] {
                    *slot = (*slot).max(value);
                }
            })?,
        }
        Ok(())
    }
}

/// A sketch being written: the whole string, header included, already checked by
/// [`Sketch::parse`] (or freshly made).
#[derive(Debug)]
struct SketchMut {
    bytes: Vec<u8>,
}

impl SketchMut {
    /// An empty sparse sketch: one XZERO run over every register, cached count 0.
    fn new_sparse() -> SketchMut {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(MAGIC);
        bytes.push(SPARSE);
        bytes.resize(HEADER_LEN, 0);
        Opcode::XZero(REGISTERS).encode(&mut bytes);
        SketchMut { bytes }
    }

    fn encoding(&self) -> Encoding {
        if self.bytes[ENCODING_AT] == DENSE {
            Encoding::Dense
        } else {
            Encoding::Sparse
        }
    }

    fn into_value(self) -> StrValue {
        StrValue::Raw(Bytes::from(self.bytes))
    }

    /// Adds `element`; true if a register changed.
    fn add(&mut self, element: &[u8]) -> Result<bool, CommandError> {
        let (index, value) = register_of(element);
        self.raise(index, value)
    }

    /// Raises register `index` to `value` if lower; true if it changed.
    fn raise(&mut self, index: usize, value: u8) -> Result<bool, CommandError> {
        if self.encoding() == Encoding::Sparse {
            match sparse_raise(&mut self.bytes, index, value)? {
                SparseRaise::Unchanged => return Ok(false),
                SparseRaise::Raised => return Ok(true),
                SparseRaise::NeedsDense => self.make_dense()?,
            }
        }
        let registers = &mut self.bytes[HEADER_LEN..];
        if dense_get(registers, index) >= value {
            return Ok(false);
        }
        dense_set(registers, index, value);
        Ok(true)
    }

    /// Converts a sparse sketch to the dense form, keeping its header.
    fn make_dense(&mut self) -> Result<(), CommandError> {
        if self.encoding() == Encoding::Dense {
            return Ok(());
        }
        let mut dense = vec![0u8; DENSE_LEN];
        dense[..HEADER_LEN].copy_from_slice(&self.bytes[..HEADER_LEN]);
        dense[ENCODING_AT] = DENSE;
        let registers = &mut dense[HEADER_LEN..];
        for_each_run(&self.bytes[HEADER_LEN..], |first, len, value| {
            if value > 0 {
                (first..first + len).for_each(|index| dense_set(registers, index, value));
            }
        })?;
        self.bytes = dense;
        Ok(())
    }

    /// Raises every register to `max`'s: in the dense form if `dense`, as PFMERGE does when
    /// one of its inputs was dense.
    fn absorb(&mut self, max: &[u8], dense: bool) -> Result<(), CommandError> {
        if dense {
            self.make_dense()?;
            dense_pack(&mut self.bytes[HEADER_LEN..], max);
            return Ok(());
        }
        for (index, &value) in max.iter().enumerate() {
            if value > 0 {
                self.raise(index, value)?;
            }
        }
        Ok(())
    }

    fn invalidate_cache(&mut self) {
        self.bytes[HEADER_LEN - 1] |= STALE_CACHE_BIT;
    }

    fn store_cardinality(&mut self, cardinality: i64) {
        self.bytes[CARDINALITY_AT..HEADER_LEN].copy_from_slice(&cardinality.to_le_bytes());
    }
}

/// Runs `edit` on the sketch stored in `value` (checked by the caller), and stores the result
/// back even when `edit` fails half-way, as Redis keeps the registers written before an error.
fn edit_sketch<R>(
    value: &mut StrValue,
    edit: impl FnOnce(&mut SketchMut) -> Result<R, CommandError>,
) -> Result<R, CommandError> {
    let mut sketch = SketchMut {
        bytes: take_buffer(value, 0),
    };
    let result = edit(&mut sketch);
    *value = sketch.into_value();
    result
}

/// The sketch string of a live entry, checked, for writing.
fn sketch_value_mut(value: &mut Value) -> Result<&mut StrValue, CommandError> {
    Sketch::of(value)?;
    match value {
        Value::Str(s) => Ok(s),
        _ => Err(CommandError::WrongType),
    }
}

// ---------------------------------------------------------------------------------------------
// Estimation

/// How many registers hold each value (0..=63).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Histogram([u32; 64]);

impl Default for Histogram {
    fn default() -> Self {
        Histogram([0; 64])
    }
}

impl Histogram {
    fn add(&mut self, value: u8, registers: usize) {
        self.0[usize::from(value) & 63] += registers as u32;
    }

    fn of_registers(values: impl Iterator<Item = u8>) -> Histogram {
        let mut histogram = Histogram::default();
        values.for_each(|value| histogram.add(value, 1));
        histogram
    }

    /// Ertl's improved raw estimate `alpha_inf * m^2 / z`, where, with `C[k]` the number of
    /// registers holding k,
    /// `z = m * sigma(C[0] / m) + sum(k = 1..=q) C[k] / 2^k + m * tau(1 - C[q+1] / m) / 2^q`,
    /// summed from the top down (Horner's rule) as the paper does. Registers above q + 1 (only a foreign dense sketch can hold them) are ignored.
    fn estimate(&self) -> i64 {
        let m = REGISTERS as f64;
        let count = |value: usize| f64::from(self.0[value]);
        let mut z = m * tau((m - count(RANK_BITS + 1)) / m);
        for value in (1..=RANK_BITS).rev() {
            z = (z + count(value)) * 0.5;
        }
        z += m * sigma(count(0) / m);
        // An empty sketch gives z = inf, hence 0; `as` saturates the (unreachable) overflow.
        (ALPHA_INF * m * m / z).round() as i64
    }
}

/// Ertl's sigma: `x + sum(k >= 1) x^(2^k) 2^(k-1)`, infinite at 1.
fn sigma(x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut x, mut y, mut z) = (x, 1.0, x);
    for _ in 0..SERIES_STEPS_MAX {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if z == previous {
            break;
        }
    }
    z
}

/// Ertl's tau: `(1 - x - sum(k >= 1) (1 - x^(2^-k))^2 2^-k) / 3`, zero at 0 and 1.
fn tau(x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut x, mut y, mut z) = (x, 1.0, 1.0 - x);
    for _ in 0..SERIES_STEPS_MAX {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == previous {
            break;
        }
    }
    z / 3.0
}

// ---------------------------------------------------------------------------------------------
// Commands

fn pfadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut parser = Args::new(args);
    let key = parser.next_bytes()?;
    let elements = parser.rest();
    let add_all = |sketch: &mut SketchMut| -> Result<bool, CommandError> {
        let mut changed = false;
        for element in elements {
            changed |= sketch.add(element)?;
        }
        Ok(changed)
    };
    let mut locks = ctx.lock_key(key);
    let updated = match locks.get_mut(key) {
        Some(entry) => edit_sketch(sketch_value_mut(&mut entry.value)?, |sketch| {
            let changed = add_all(sketch)?;
            if changed {
                sketch.invalidate_cache();
            }
            Ok(changed)
        })?,
        None => {
            let mut sketch = SketchMut::new_sparse();
            add_all(&mut sketch)?;
            sketch.invalidate_cache();
            locks.insert(key, Entry::new(Value::Str(sketch.into_value())));
            true
        }
    };
    if updated {
        locks.propagate(|| as_itself(b"PFADD", args));
        locks.notify(Events::STRING, "pfadd", key);
    }
    Ok(Reply::Integer(i64::from(updated)))
}

fn pfcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    match args.get(1..).unwrap_or_default() {
        [key] => count_one(ctx, key),
        keys => count_union(ctx, keys),
    }
}

/// PFCOUNT of one key: the cached count, or a fresh estimate written back to the cache.
fn count_one(ctx: &Ctx<'_>, key: &Bytes) -> Result<Reply, CommandError> {
    let mut locks = ctx.lock_key(key);
    let Some(entry) = locks.read(key) else {
        return Ok(Reply::Integer(0));
    };
    let sketch = Sketch::of(&entry.value)?;
    if let Some(cached) = sketch.cached_cardinality() {
        return Ok(Reply::Integer(cached));
    }
    let cardinality = sketch.histogram()?.estimate();
    if let Some(entry) = locks.get_mut(key) {
        edit_sketch(sketch_value_mut(&mut entry.value)?, |sketch| {
            sketch.store_cardinality(cardinality);
            Ok(())
        })?;
        locks.propagate(|| vec![Bytes::from_static(b"PFCOUNT"), key.clone()]);
    }
    Ok(Reply::Integer(cardinality))
}

/// PFCOUNT of several keys: the estimate of their union, merged in a scratch register array
/// (no cache is read or written).
fn count_union(ctx: &Ctx<'_>, keys: &[Bytes]) -> Result<Reply, CommandError> {
    let key_slices: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let mut locks = ctx.lock_keys(&key_slices);
    let mut max = vec![0u8; REGISTERS];
    for key in keys {
        if let Some(entry) = locks.read(key) {
            Sketch::of(&entry.value)?.merge_into(&mut max)?;
        }
    }
    Ok(Reply::Integer(
        Histogram::of_registers(max.into_iter()).estimate(),
    ))
}

fn pfmerge(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, CommandError> {
    let keys = args.get(1..).unwrap_or_default();
    let Some(destination) = keys.first() else {
        return Err(CommandError::WrongArity("pfmerge".to_owned()));
    };
    let key_slices: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let mut locks = ctx.lock_keys(&key_slices);
    // The destination's own registers are part of the union.
    let mut max = vec![0u8; REGISTERS];
    let mut any_dense = false;
    for key in keys {
        if let Some(entry) = locks.read(key) {
            let sketch = Sketch::of(&entry.value)?;
            any_dense |= sketch.encoding == Encoding::Dense;
            sketch.merge_into(&mut max)?;
        }
    }
    let absorb = |sketch: &mut SketchMut| -> Result<(), CommandError> {
        sketch.absorb(&max, any_dense)?;
        sketch.invalidate_cache();
        Ok(())
    };
    match locks.get_mut(destination) {
        Some(entry) => edit_sketch(sketch_value_mut(&mut entry.value)?, absorb)?,
        None => {
            let mut sketch = SketchMut::new_sparse();
            absorb(&mut sketch)?;
            locks.insert(destination, Entry::new(Value::Str(sketch.into_value())));
        }
    }
    locks.propagate(|| as_itself(b"PFMERGE", args));
    // Redis reports a merge as `pfadd` on the destination.
    locks.notify(Events::STRING, "pfadd", destination);
    Ok(Reply::Ok)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The registers of a sketch, decoded from either form.
    fn registers(sketch: &[u8]) -> Vec<u8> {
        let mut max = vec![0u8; REGISTERS];
        Sketch::parse(sketch).unwrap().merge_into(&mut max).unwrap();
        max
    }

    #[test]
    fn elements_colliding_in_register_zero() {
        // Published as a worst case for Redis's hash: all land in register 0 with value 1.
        for element in [
            "98567648",
            "19857710",
            "293736832",
            "275337325",
            "304058906",
            "154945851",
            "227134849",
            "290132289",
            "168593923",
            "279957693",
        ] {
            assert_eq!(register_of(element.as_bytes()), (0, 1), "{element}");
        }
    }

    #[test]
    fn empty_sketch_is_one_xzero_run() {
        let sketch = SketchMut::new_sparse();
        assert_eq!(&sketch.bytes[..5], b"HYLL\x01");
        assert_eq!(&sketch.bytes[HEADER_LEN..], [0x7f, 0xff]);
        let parsed = Sketch::parse(&sketch.bytes).unwrap();
        assert_eq!(parsed.cached_cardinality(), Some(0));
        assert_eq!(parsed.histogram().unwrap().estimate(), 0);
    }

    #[test]
    fn opcodes_round_trip() {
        for opcode in [
            Opcode::Zero(1),
            Opcode::Zero(64),
            Opcode::XZero(65),
            Opcode::XZero(REGISTERS),
            Opcode::Val { value: 1, len: 1 },
            Opcode::Val { value: 32, len: 4 },
        ] {
            let mut bytes = Vec::new();
            opcode.encode(&mut bytes);
            assert_eq!(bytes.len(), opcode.width());
            assert_eq!(Opcode::decode(&bytes), Some(opcode));
        }
        assert_eq!(Opcode::decode(&[0x40]), None, "XZERO cut short");
    }

    #[test]
    fn dense_registers_pack_six_bits_each() {
        let mut registers = vec![0u8; DENSE_LEN - HEADER_LEN];
        for index in 0..REGISTERS {
            dense_set(&mut registers, index, (index % 64) as u8);
        }
        for index in 0..REGISTERS {
            assert_eq!(dense_get(&registers, index), (index % 64) as u8);
        }
        let values: Vec<u8> = dense_values(&registers).collect();
        assert_eq!(values.len(), REGISTERS);
        let mut packed = vec![0u8; registers.len()];
        dense_pack(&mut packed, &values);
        assert_eq!(packed, registers);
        // Register 1 starts at bit 6 of byte 0 and spills into byte 1.
        let mut two = vec![0u8; 3];
        dense_set(&mut two, 1, 0b11_1111);
        assert_eq!(two, [0b1100_0000, 0b0000_1111, 0]);
    }

    #[test]
    fn series_edges() {
        assert_eq!(sigma(1.0), f64::INFINITY);
        assert_eq!(sigma(0.0), 0.0);
        assert_eq!(tau(0.0), 0.0);
        assert_eq!(tau(1.0), 0.0);
        assert!(tau(0.5) > 0.0 && sigma(0.5) > 0.5);
        assert_eq!(ALPHA_INF, 0.5 / std::f64::consts::LN_2);
    }

    #[test]
    fn one_register_at_one_counts_one() {
        let mut histogram = Histogram::default();
        histogram.add(0, REGISTERS - 1);
        histogram.add(1, 1);
        assert_eq!(histogram.estimate(), 1);
    }

    #[test]
    fn sparse_grows_until_the_byte_limit_then_turns_dense() {
        let mut sketch = SketchMut::new_sparse();
        // Every other register at 1: each write splits a zero run, so the sketch grows.
        let mut index = 0;
        while sketch.encoding() == Encoding::Sparse {
            assert!(sketch.bytes.len() <= SPARSE_MAX_BYTES);
            assert!(sketch.raise(index, 1).unwrap());
            index += 2;
        }
        assert_eq!(sketch.bytes.len(), DENSE_LEN);
        let expected: Vec<u8> = (0..REGISTERS)
            .map(|i| u8::from(i % 2 == 0 && i < index))
            .collect();
        assert_eq!(registers(&sketch.bytes), expected);
    }

    #[test]
    fn values_above_32_turn_sparse_dense() {
        let mut sketch = SketchMut::new_sparse();
        assert!(sketch.raise(100, 32).unwrap());
        assert_eq!(sketch.encoding(), Encoding::Sparse);
        assert!(sketch.raise(200, 33).unwrap());
        assert_eq!(sketch.encoding(), Encoding::Dense);
        assert_eq!(dense_get(&sketch.bytes[HEADER_LEN..], 100), 32);
        assert_eq!(dense_get(&sketch.bytes[HEADER_LEN..], 200), 33);
    }

    #[test]
    fn corrupted_sparse_sketches_are_refused() {
        let mut sketch = SketchMut::new_sparse().bytes;
        sketch.push(0x80);
        let parsed = Sketch::parse(&sketch).unwrap();
        assert_eq!(parsed.histogram(), Err(corrupted()));
        let mut short = SketchMut::new_sparse().bytes;
        short.truncate(HEADER_LEN + 1);
        assert_eq!(Sketch::parse(&short).unwrap().histogram(), Err(corrupted()));
        assert_eq!(locate(&short, 5).map(|l| l.at), Err(corrupted()));
        assert_eq!(
            Sketch::parse(b"HYLL\x00short").map(|s| s.encoding),
            Err(not_a_sketch())
        );
        assert_eq!(
            Sketch::parse(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0").map(|s| s.encoding),
            Err(not_a_sketch())
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Sparse writes (with promotion) agree with a plain register array, and the sparse
        /// form stays within its byte limit.
        #[test]
        fn sparse_sketch_matches_a_register_array(
            writes in prop::collection::vec((0..REGISTERS, 1u8..=40), 1..400),
            hot in prop::collection::vec((0..64usize, 1u8..=5), 0..200),
        ) {
            let mut sketch = SketchMut::new_sparse();
            let mut model = vec![0u8; REGISTERS];
            // Writes crowded in the first registers exercise splits and merges of VAL runs.
            for (index, value) in writes.into_iter().chain(hot) {
                let raised = sketch.raise(index, value).unwrap();
                prop_assert_eq!(raised, model[index] < value);
                model[index] = model[index].max(value);
                if sketch.encoding() == Encoding::Sparse {
                    prop_assert!(sketch.bytes.len() <= SPARSE_MAX_BYTES);
                }
            }
            prop_assert_eq!(registers(&sketch.bytes), model);
        }
    }
}
