//! Stored values. Strings that are canonical decimal integers are kept as `i64` (Redis's `int`
//! encoding): smaller than the text and INCR needs no parsing.

use bytes::Bytes;

use crate::types::hash::HashValue;
use crate::types::list::ListValue;
use crate::types::set::SetValue;
use crate::types::zset::SortedSetValue;

/// Strings longer than this are reported as `raw` rather than `embstr`, as Redis does.
const EMBSTR_LEN_MAX: usize = 44;

/// Strings up to this length are copied rather than shared when read (see [`StrValue::to_bytes`]).
const COPY_ON_READ_LEN_MAX: usize = 256;

/// Longest decimal text of an `i64` (`-9223372036854775808`).
pub const I64_TEXT_LEN_MAX: usize = 20;

/// Writes the decimal text of `n` at the end of `buffer` and returns it (no allocation, for
/// integer members and elements read as text).
pub fn format_i64(n: i64, buffer: &mut [u8; I64_TEXT_LEN_MAX]) -> &[u8] {
    let mut magnitude = n.unsigned_abs();
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if n < 0 {
        start -= 1;
        buffer[start] = b'-';
    }
    &buffer[start..]
}

/// Longest string kept inside the value itself, with no allocation: what fits beside the
/// variant's tag and a length byte in the 40 bytes a value takes anyway.
pub const INLINE_LEN_MAX: usize = 38;

/// A short string held inline.
#[derive(Clone, Copy)]
pub struct InlineText {
    len: u8,
    bytes: [u8; INLINE_LEN_MAX],
}

impl InlineText {
    /// `data` inline, if it is short enough.
    pub fn new(data: &[u8]) -> Option<InlineText> {
        let len = u8::try_from(data.len())
            .ok()
            .filter(|&len| usize::from(len) <= INLINE_LEN_MAX)?;
        let mut bytes = [0; INLINE_LEN_MAX];
        bytes[..data.len()].copy_from_slice(data);
        Some(InlineText { len, bytes })
    }
}

impl std::fmt::Debug for InlineText {
    /// The text, as `Bytes` shows it (`b"abc"`), not the unused tail of the buffer.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.escape_ascii())
    }
}

impl std::ops::Deref for InlineText {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A string value in its compact form. Redis's encodings are kept apart because OBJECT
/// ENCODING shows them: a short string as written is `embstr`; one changed in place (APPEND,
/// SETRANGE, SETBIT, ...) or longer than 44 bytes is `raw`.
#[derive(Debug)]
pub enum StrValue {
    /// A canonical decimal integer ("0", "-12", never "012" or "+1").
    Int(i64),
    /// A string of at most 38 bytes, stored as written, inside the value (Redis's `embstr`).
    Inline(InlineText),
    /// A string of 39 to 44 bytes, stored as written (also `embstr`).
    Embedded(Bytes),
    /// Any other bytes.
    Raw(Bytes),
}

impl Clone for StrValue {
    /// Short texts are copied, long ones shared. Sharing bytes built from a `Vec` allocates a
    /// reference-counted header that stays for the value's life, so a snapshot cloning every
    /// value would leave each short one about 32 bytes bigger for good.
    fn clone(&self) -> StrValue {
        let copy = |data: &Bytes| {
            if data.len() <= COPY_ON_READ_LEN_MAX {
                Bytes::copy_from_slice(data)
            } else {
                data.clone()
            }
        };
        match self {
            StrValue::Int(n) => StrValue::Int(*n),
            StrValue::Inline(text) => StrValue::Inline(*text),
            StrValue::Embedded(data) => StrValue::Embedded(copy(data)),
            StrValue::Raw(data) => StrValue::Raw(copy(data)),
        }
    }
}

impl PartialEq for StrValue {
    /// Equal contents, whatever the encoding (an integer equals its decimal text).
    fn eq(&self, other: &StrValue) -> bool {
        match (self, other) {
            (StrValue::Int(a), StrValue::Int(b)) => a == b,
            (StrValue::Int(n), text) | (text, StrValue::Int(n)) => text.as_i64() == Some(*n),
            _ => self.text() == other.text(),
        }
    }
}

impl Eq for StrValue {}

impl StrValue {
    /// The compact form of `data`: an integer when `data` is an integer's canonical text (as
    /// Redis encodes what SET, MSET, APPEND to a new key, ... store).
    pub fn from_bytes(data: &[u8]) -> StrValue {
        match parse_i64(data) {
            Some(n) => StrValue::Int(n),
            None => StrValue::from_text(data),
        }
    }

    /// `data` as text even when it reads as an integer (`embstr` up to 44 bytes, else `raw`),
    /// as Redis stores a number it formatted itself (INCRBYFLOAT's result).
    pub fn from_text(data: &[u8]) -> StrValue {
        match InlineText::new(data) {
            Some(inline) => StrValue::Inline(inline),
            None if data.len() <= EMBSTR_LEN_MAX => {
                StrValue::Embedded(Bytes::copy_from_slice(data))
            }
            None => StrValue::Raw(Bytes::copy_from_slice(data)),
        }
    }

    /// The bytes of a text (non-integer) value.
    pub fn text(&self) -> Option<&[u8]> {
        match self {
            StrValue::Int(_) => None,
            StrValue::Inline(data) => Some(data),
            StrValue::Embedded(data) | StrValue::Raw(data) => Some(data),
        }
    }

    /// Bytes built or changed in place (APPEND, SETRANGE, SETBIT, BITOP, ...): `raw`, even
    /// when they read as an integer, as in Redis; they are not copied.
    pub fn from_vec(data: Vec<u8>) -> StrValue {
        StrValue::Raw(Bytes::from(data))
    }

    /// The value's bytes (an integer is rendered in decimal). Short strings are copied: a copy
    /// touches only the bytes themselves, while sharing must update a reference count kept on
    /// another cache line (and allocate it on the first share).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StrValue::Int(n) => Bytes::from(n.to_string()),
            StrValue::Inline(data) => Bytes::copy_from_slice(data),
            StrValue::Embedded(data) | StrValue::Raw(data)
                if data.len() <= COPY_ON_READ_LEN_MAX =>
            {
                Bytes::copy_from_slice(data)
            }
            StrValue::Embedded(data) | StrValue::Raw(data) => data.clone(),
        }
    }

    /// Length in bytes of the value's text.
    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => decimal_len(*n),
            StrValue::Inline(data) => data.len(),
            StrValue::Embedded(data) | StrValue::Raw(data) => data.len(),
        }
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if its text is one (leading `+`, spaces or zeros are refused).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StrValue::Int(n) => Some(*n),
            _ => self.text().and_then(parse_i64),
        }
    }

    /// OBJECT ENCODING's name for this value.
    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Inline(_) | StrValue::Embedded(_) => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }
}

/// A value held under a key.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A string (Redis type `string`).
    Str(StrValue),
    /// A hash (`hash`).
    Hash(HashValue),
    /// A list (`list`).
    List(ListValue),
    /// A set (`set`).
    Set(SetValue),
    /// A sorted set (`zset`).
    SortedSet(SortedSetValue),
}

impl Value {
    /// TYPE's name for this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::SortedSet(_) => "zset",
        }
    }

    /// OBJECT ENCODING's name for this value.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::SortedSet(z) => z.encoding(),
        }
    }

    /// The string inside, or `None` for other types.
    pub fn as_str(&self) -> Option<&StrValue> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Number of characters of `n` in decimal.
pub fn decimal_len(n: i64) -> usize {
    let sign = usize::from(n < 0);
    let mut magnitude = n.unsigned_abs();
    let mut digits = 1;
    while magnitude >= 10 {
        magnitude /= 10;
        digits += 1;
    }
    sign + digits
}

/// Parses a signed 64-bit decimal integer as Redis's `string2ll` does: optional `-`, digits
/// only, no leading `+`, no leading zeros, no `-0`, no spaces, no overflow. Only an integer's
/// canonical text is accepted, so storing the integer and printing it back gives the same bytes.
pub fn parse_i64(data: &[u8]) -> Option<i64> {
    let (negative, digits) = match data.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, data),
    };
    let leading_zero = digits.len() > 1 && digits[0] == b'0';
    if digits.is_empty() || digits.len() > 19 || leading_zero || (negative && digits == b"0") {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Parses a double as Redis's `string2ld`/`string2d` accept it: decimal or exponent notation,
/// `inf`/`-inf`/`+inf`; no spaces, no NaN.
pub fn parse_f64(data: &[u8]) -> Option<f64> {
    if data.is_empty()
        || data[0].is_ascii_whitespace()
        || data[data.len() - 1].is_ascii_whitespace()
    {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    // Rust reads what `strtod` reads (signs, exponents, `inf` and `infinity` in any case) but
    // C's hexadecimal form, tried only when the decimal reading fails.
    let value = match text.parse::<f64>() {
        Ok(value) => value,
        Err(_) => parse_hex_f64(&text.to_ascii_lowercase())?,
    };
    (!value.is_nan()).then_some(value)
}

/// Parses a double as Redis's `string2d` (scores, weights) accepts it: as [`parse_f64`], and
/// a number out of a double's range refused (`1e400` overflows, `1e-400` underflows to zero),
/// as `strtod` reports them. Range bounds (ZRANGEBYSCORE) take [`parse_f64`], as Redis's do.
pub fn parse_f64_in_range(data: &[u8]) -> Option<f64> {
    let value = parse_f64(data)?;
    if value.is_finite() && value != 0.0 {
        // The common case: nothing overflowed or underflowed.
        return Some(value);
    }
    let text = std::str::from_utf8(data).ok()?.to_ascii_lowercase();
    let overflow = value.is_infinite() && !text.contains("inf");
    let underflow = value == 0.0 && names_nonzero(&text);
    (!overflow && !underflow).then_some(value)
}

/// Whether the digits of a number's text (before its exponent) are not all zeros. `text` is
/// in lower case.
fn names_nonzero(text: &str) -> bool {
    match text.split_once("0x") {
        Some((_, hex)) => hex
            .split('p')
            .next()
            .is_some_and(|digits| digits.chars().any(|c| c.is_ascii_hexdigit() && c != '0')),
        None => text
            .split('e')
            .next()
            .is_some_and(|digits| digits.chars().any(|c| matches!(c, '1'..='9'))),
    }
}

/// C's hexadecimal floating-point text, which `strtod` and `strtold` (so Redis) read too: an
/// optional sign, `0x`, hex digits with an optional point, an optional binary exponent
/// (`0x1.8p1` is 3). `text` is in lower case.
fn parse_hex_f64(text: &str) -> Option<f64> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = unsigned.strip_prefix("0x")?;
    let (mantissa_text, exponent) = match digits.split_once('p') {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()?),
        None => (digits, 0),
    };
    let (whole, fraction) = mantissa_text.split_once('.').unwrap_or((mantissa_text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    // Up to 15 hex digits are kept exactly; later ones only scale (or are dropped if after
    // the point), far below a double's precision.
    let mut mantissa: u64 = 0;
    let mut scale = i64::from(exponent);
    for (index, digit) in whole.chars().chain(fraction.chars()).enumerate() {
        let digit = u64::from(digit.to_digit(16)?);
        let in_fraction = index >= whole.len();
        if mantissa >> 56 == 0 {
            mantissa = mantissa * 16 + digit;
            scale -= if in_fraction { 4 } else { 0 };
        } else if !in_fraction {
            scale += 4;
        }
    }
    let scale = i32::try_from(scale.clamp(-2200, 2200)).ok()?;
    // Two steps, so a large mantissa with a very negative scale does not underflow early.
    let value = mantissa as f64 * 2f64.powi(scale / 2) * 2f64.powi(scale - scale / 2);
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_out_of_a_doubles_range_are_refused() {
        assert_eq!(parse_f64_in_range(b"1e400"), None);
        assert_eq!(parse_f64_in_range(b"-1e400"), None);
        assert_eq!(parse_f64_in_range(b"1e-400"), None);
        assert_eq!(parse_f64_in_range(b"0x1p-2000"), None);
        assert_eq!(parse_f64_in_range(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64_in_range(b"0e-400"), Some(0.0));
        assert_eq!(parse_f64_in_range(b"0x0p5"), Some(0.0));
        assert_eq!(
            parse_f64_in_range(b"1e-310"),
            Some(1e-310),
            "a subnormal is kept"
        );
        assert_eq!(
            parse_f64(b"1e400"),
            Some(f64::INFINITY),
            "a range bound may overflow"
        );
    }

    #[test]
    fn hexadecimal_floats_read_as_c_reads_them() {
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"-0X1.8p1"), Some(-3.0));
        assert_eq!(parse_f64(b"0x.8"), Some(0.5));
        assert_eq!(parse_f64(b"+0x1P-2"), Some(0.25));
        assert_eq!(
            parse_f64(b"0xffffffffffffffffff"),
            Some(4722366482869645213696.0)
        );
        for bad in [
            &b"0x"[..],
            b"0x1p",
            b"0xg",
            b"0x1.2.3",
            b"1x10",
            b"0x1p2.5",
            b" 0x1",
        ] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn short_strings_live_inline_without_growing_the_value() {
        assert!(std::mem::size_of::<Value>() <= 40);
        let cases: [(&[u8], &str); 5] = [
            (b"", "embstr"),
            (&[b'a'; 38], "embstr"),
            (&[b'a'; 39], "embstr"),
            (&[b'a'; 45], "raw"),
            (b"12", "int"),
        ];
        for (data, encoding) in cases {
            let value = StrValue::from_bytes(data);
            assert_eq!(value.encoding(), encoding);
            assert_eq!(value.len(), data.len());
            assert_eq!(&value.to_bytes()[..], data);
        }
        assert!(matches!(
            StrValue::from_bytes(&[b'a'; 38]),
            StrValue::Inline(_)
        ));
        assert_eq!(
            StrValue::from_bytes(b"abc"),
            StrValue::Raw(Bytes::from("abc"))
        );
    }

    #[test]
    fn clones_copy_short_texts_and_share_long_ones() {
        let pointer = |value: &StrValue| value.text().map(<[u8]>::as_ptr);
        let short = StrValue::from_vec(vec![b'a'; 100]);
        let long = StrValue::from_vec(vec![b'a'; 1000]);
        assert_eq!(short.clone(), short);
        assert_ne!(pointer(&short.clone()), pointer(&short));
        assert_eq!(pointer(&long.clone()), pointer(&long));
    }

    #[test]
    fn integers_are_formatted_like_display() {
        let mut buffer = [0u8; I64_TEXT_LEN_MAX];
        for n in [0, 7, -7, 10, -10, 1234567890, i64::MIN, i64::MAX] {
            assert_eq!(format_i64(n, &mut buffer), n.to_string().as_bytes());
        }
    }

    #[test]
    fn integers_parse_like_string2ll() {
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b""), None);
        assert_eq!(parse_i64(b"007"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"0"), Some(0));
    }

    #[test]
    fn only_canonical_integers_get_the_int_encoding() {
        assert_eq!(StrValue::from_bytes(b"42").encoding(), "int");
        assert_eq!(StrValue::from_bytes(b"042").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(b"-0").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'x'; 45]).encoding(), "raw");
        assert_eq!(StrValue::from_bytes(b"-17").to_bytes(), &b"-17"[..]);
        assert_eq!(StrValue::Int(i64::MIN).len(), 20);
    }

    #[test]
    fn floats_parse_like_redis() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"abc"), None);
    }
}
