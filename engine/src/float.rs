//! Text forms of floating point numbers, as Redis writes them.
//!
//! - [`format_double`]: doubles in replies (scores, RESP3 doubles), in the shortest form that
//!   reads back to the same value, switching to an exponent for very large or small magnitudes
//!   exactly where Redis 7.2's `fpconv_dtoa` does (`1.5e+300`, `1e-10`).
//! - [`add_human`]: INCRBYFLOAT and HINCRBYFLOAT. Redis adds in `long double` and prints at
//!   most 17 decimals without an exponent, so `0.1 + 0.2` gives `0.3` and `1000.1` gives
//!   `1000.09999999999999998`; [`crate::long_double`] does the same arithmetic exactly.

use std::fmt::Write as _;

use crate::long_double::LongDouble;
use crate::value::{format_i64, I64_TEXT_LEN_MAX};

/// Room for any reply text of a double: at most a sign, 17 significant digits and 7 zeros of
/// padding, or a point, or an exponent (`e-308`).
const DOUBLE_TEXT_MAX: usize = 32;
/// Integral doubles below this print as their integer (every such integer is exact).
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;
/// An integer divisible by this (eight trailing zeros or more) prints in the exponent form
/// (`1e+8`).
const PLAIN_TRAILING_ZEROS_LIMIT: i64 = 100_000_000;

/// A double as Redis 7.2 writes it in replies.
pub fn format_double(value: f64) -> String {
    DoubleText::new(value).as_str().to_owned()
}

/// A double's reply text, built on the stack: a reply with many scores allocates nothing
/// for them. Integral scores (the common case) skip the shortest-digits search.
#[derive(Debug, Clone, Copy)]
pub struct DoubleText {
    bytes: [u8; DOUBLE_TEXT_MAX],
    len: usize,
}

impl DoubleText {
    /// The text of `value` as Redis 7.2 writes it in replies.
    pub fn new(value: f64) -> DoubleText {
        let mut text = DoubleText::empty();
        if value.is_nan() {
            text.push(b"nan");
            return text;
        }
        if value.is_sign_negative() {
            text.push(b"-");
        }
        let magnitude = value.abs();
        if magnitude.is_infinite() {
            text.push(b"inf");
        } else if magnitude == 0.0 {
            text.push(b"0");
        } else if let Some(integer) = plain_integer(magnitude) {
            text.push_decimal(integer);
        } else {
            text.push_shortest(magnitude);
        }
        text
    }

    /// The text (always ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("nan")
    }

    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn empty() -> DoubleText {
        DoubleText {
            bytes: [0; DOUBLE_TEXT_MAX],
            len: 0,
        }
    }

    /// Appends what fits; every text this type builds fits (see [`DOUBLE_TEXT_MAX`]).
    fn push(&mut self, bytes: &[u8]) {
        let take = bytes.len().min(DOUBLE_TEXT_MAX - self.len);
        debug_assert_eq!(take, bytes.len(), "double text overflow");
        self.bytes[self.len..self.len + take].copy_from_slice(&bytes[..take]);
        self.len += take;
    }

    fn push_zeros(&mut self, count: usize) {
        for _ in 0..count {
            self.push(b"0");
        }
    }

    fn push_decimal(&mut self, value: i64) {
        let mut buffer = [0; I64_TEXT_LEN_MAX];
        self.push(format_i64(value, &mut buffer));
    }

    /// The shortest digits that read back to `magnitude` (finite, non-zero), laid out as
    /// fpconv's `emit_digits` does.
    fn push_shortest(&mut self, magnitude: f64) {
        let mut scientific = DoubleText::empty();
        if write!(scientific, "{magnitude:e}").is_err() {
            self.push(b"nan");
            return;
        }
        let (mantissa, exponent) = scientific
            .as_str()
            .split_once('e')
            .unwrap_or((scientific.as_str(), "0"));
        let exponent: i64 = exponent.parse().unwrap_or(0);
        let mut digits = DoubleText::empty();
        for digit in mantissa.bytes().filter(u8::is_ascii_digit) {
            digits.push(&[digit]);
        }
        self.place_digits(&digits.bytes[..digits.len], exponent);
    }

    /// Lays out `digits` (d.ddd × 10^exponent) as fpconv's `emit_digits` does.
    fn place_digits(&mut self, digits: &[u8], exponent: i64) {
        let count = digits.len() as i64;
        // The value is digits × 10^shift.
        let shift = exponent - (count - 1);
        let magnitude = exponent.abs();
        if shift >= 0 && magnitude < count + 7 {
            self.push(digits);
            self.push_zeros(shift as usize);
        } else if shift < 0 && (shift > -7 || magnitude < 4) {
            if exponent >= 0 {
                let (whole, fraction) = digits.split_at(exponent as usize + 1);
                self.push(whole);
                self.push(b".");
                self.push(fraction);
            } else {
                self.push(b"0.");
                self.push_zeros((-exponent - 1) as usize);
                self.push(digits);
            }
        } else {
            let (first, rest) = digits.split_at(1.min(digits.len()));
            self.push(first);
            if !rest.is_empty() {
                self.push(b".");
                self.push(rest);
            }
            self.push(if exponent < 0 { b"e-" } else { b"e+" });
            self.push_decimal(magnitude);
        }
    }
}

impl std::fmt::Write for DoubleText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if text.len() > DOUBLE_TEXT_MAX - self.len {
            return Err(std::fmt::Error);
        }
        self.push(text.as_bytes());
        Ok(())
    }
}

/// `magnitude` as an integer when it is one, exact, and prints without an exponent (fewer
/// than eight trailing zeros): then its shortest digits are the integer's own.
fn plain_integer(magnitude: f64) -> Option<i64> {
    if magnitude >= EXACT_INTEGER_LIMIT {
        return None;
    }
    let integer = magnitude as i64;
    (integer as f64 == magnitude && integer % PLAIN_TRAILING_ZEROS_LIMIT != 0).then_some(integer)
}

/// An INCRBYFLOAT operand as Redis's `string2ld` reads one: a finite `long double` (`1e400`
/// is one), or an infinity, which no sum may produce. Read once, added by [`add_human`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongDoubleOperand(Option<LongDouble>);

impl LongDoubleOperand {
    /// Zero, what an absent key or field counts as.
    pub fn zero() -> LongDoubleOperand {
        LongDoubleOperand(Some(LongDouble::ZERO))
    }

    /// `text` read as `strtold` reads it; `None` when Redis refuses it as a float.
    pub fn read(text: &[u8]) -> Option<LongDoubleOperand> {
        let infinity = matches!(
            text.to_ascii_lowercase().as_slice(),
            b"inf" | b"+inf" | b"-inf" | b"infinity" | b"+infinity" | b"-infinity"
        );
        if infinity {
            return Some(LongDoubleOperand(None));
        }
        LongDouble::parse(text).map(|value| LongDoubleOperand(Some(value)))
    }

    /// Whether it is finite.
    pub fn is_finite(&self) -> bool {
        self.0.is_some()
    }
}

/// INCRBYFLOAT's result text for `current + increment`: their sum in `long double`, printed
/// as Redis prints it (see [`crate::long_double`]). `None` when the sum is not finite (an
/// operand is infinite, or it overflows even `long double`).
pub fn add_human(current: &LongDoubleOperand, increment: &LongDoubleOperand) -> Option<String> {
    let sum = current.0.as_ref()?.add(increment.0.as_ref()?)?;
    Some(sum.to_human())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_redis_7_2() {
        assert_eq!(format_double(10.5), "10.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-2.25), "-2.25");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(0.001), "0.001");
        assert_eq!(format_double(1e-10), "1e-10");
        assert_eq!(format_double(1.5e300), "1.5e+300");
        assert_eq!(format_double(-1.5e300), "-1.5e+300");
        assert_eq!(format_double(1e7), "10000000");
        assert_eq!(format_double(1234.5678901), "1234.5678901");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(f64::NAN), "nan");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(format_double(123456789.0), "123456789");
        assert_eq!(format_double(-4503599627370497.0), "-4503599627370497");
        assert_eq!(format_double(1e8), "1e+8");
        assert_eq!(format_double(-3e15), "-3e+15");
        assert_eq!(format_double(12e8), "1.2e+9");
        assert_eq!(format_double(9007199254740992.0), "9007199254740992");
        assert_eq!(format_double(f64::MIN_POSITIVE), "2.2250738585072014e-308");
        for value in [
            0.1 + 0.2,
            1e-7,
            123456.789e20,
            5e-324,
            f64::MAX,
            9007199254740993.0,
        ] {
            assert_eq!(
                format_double(value).parse::<f64>().ok(),
                Some(value),
                "{value}"
            );
        }
    }

    /// The text through the shortest-digits search, bypassing the integer shortcut.
    fn shortest_text(value: f64) -> String {
        let mut text = DoubleText::empty();
        if value < 0.0 {
            text.push(b"-");
        }
        text.push_shortest(value.abs());
        text.as_str().to_owned()
    }

    proptest::proptest! {
        #[test]
        fn every_finite_double_reads_back(bits in proptest::num::u64::ANY) {
            let value = f64::from_bits(bits);
            proptest::prop_assume!(value.is_finite());
            proptest::prop_assert_eq!(format_double(value).parse::<f64>().ok(), Some(value));
        }

        #[test]
        fn the_integer_shortcut_writes_what_the_search_writes(integer in -(1i64 << 53)..(1i64 << 53)) {
            let value = integer as f64;
            proptest::prop_assume!(value != 0.0);
            proptest::prop_assert_eq!(format_double(value), shortest_text(value));
        }
    }

    #[test]
    fn float_increments_add_as_redis_long_doubles_print() {
        let read = |text: &str| LongDoubleOperand::read(text.as_bytes()).expect("a number");
        let add = |a: &str, b: &str| add_human(&read(a), &read(b));
        assert_eq!(add("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(add("10.50", "0.1").as_deref(), Some("10.6"));
        assert_eq!(add("5.0e3", "2.0e2").as_deref(), Some("5200"));
        assert_eq!(
            add("9007199254740993", "1").as_deref(),
            Some("9007199254740994")
        );
        assert_eq!(add("1", "-1").as_deref(), Some("0"));
        assert_eq!(add("-0.5", "0.25").as_deref(), Some("-0.25"));
        assert_eq!(add("0", "0.000000000000000001").as_deref(), Some("0"));
        assert_eq!(
            add("0", "1000.1").as_deref(),
            Some("1000.09999999999999998")
        );
        assert_eq!(add("inf", "1"), None);
        assert_eq!(add("1e4932", "1e4932"), None);
        assert!(!read("-Infinity").is_finite());
        assert_eq!(LongDoubleOperand::read(b"nan"), None);
    }
}
