//! Text forms of floating point numbers, as Redis writes them.
//!
//! - [`format_double`]: doubles in replies (scores, RESP3 doubles), in the shortest form that
//!   reads back to the same value, switching to an exponent for very large or small magnitudes
//!   exactly where Redis 7.2's `fpconv_dtoa` does (`1.5e+300`, `1e-10`).
//! - [`add_human`]: INCRBYFLOAT and HINCRBYFLOAT. Redis adds in `long double` and prints at
//!   most 17 decimals without an exponent, so `0.1 + 0.2` gives `0.3`. Adding the two decimal
//!   texts exactly, then rounding to 17 decimals, gives the same text for every operand a
//!   client writes by hand; operands too long for exact arithmetic fall back to `f64`.

use std::fmt::Write as _;

/// Most decimals INCRBYFLOAT keeps, as Redis's `%.17Lf`.
const HUMAN_DECIMALS_MAX: u32 = 17;
/// Largest scale an exact decimal may carry before rounding (bounds the work and the size).
const SCALE_MAX: u32 = 60;

/// A double as Redis 7.2 writes it in replies.
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value < 0.0 { "-" } else { "" };
    format!("{sign}{}", place_digits(&digits, exponent))
}

/// Lays out `digits` (d.ddd × 10^exponent) as fpconv's `emit_digits` does.
fn place_digits(digits: &str, exponent: i64) -> String {
    let count = digits.len() as i64;
    // The value is digits × 10^shift.
    let shift = exponent - (count - 1);
    let magnitude = exponent.abs();
    if shift >= 0 && magnitude < count + 7 {
        return format!("{digits}{}", "0".repeat(shift as usize));
    }
    if shift < 0 && (shift > -7 || magnitude < 4) {
        return if exponent >= 0 {
            let (whole, fraction) = digits.split_at(exponent as usize + 1);
            format!("{whole}.{fraction}")
        } else {
            format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
        };
    }
    let (first, rest) = digits.split_at(1);
    let mut out = first.to_owned();
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
    let _ = write!(
        out,
        "e{}{}",
        if exponent < 0 { '-' } else { '+' },
        magnitude
    );
    out
}

/// An exact decimal: `digits / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    digits: i128,
    scale: u32,
}

impl Decimal {
    /// Parses `[-+]digits[.digits][e[-+]digits]`; `None` for other text or beyond exact range.
    fn parse(text: &[u8]) -> Option<Decimal> {
        let text = std::str::from_utf8(text).ok()?;
        let (number, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (negative, unsigned) = match number.as_bytes().first()? {
            b'-' => (true, &number[1..]),
            b'+' => (false, &number[1..]),
            _ => (false, number),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut digits: i128 = 0;
        for byte in whole.bytes().chain(fraction.bytes()) {
            if !byte.is_ascii_digit() {
                return None;
            }
            digits = digits
                .checked_mul(10)?
                .checked_add(i128::from(byte - b'0'))?;
        }
        let scale = i64::try_from(fraction.len()).ok()? - i64::from(exponent);
        let (digits, scale) = if scale < 0 {
            (
                digits.checked_mul(10i128.checked_pow(u32::try_from(-scale).ok()?)?)?,
                0,
            )
        } else {
            (
                digits,
                u32::try_from(scale).ok().filter(|s| *s <= SCALE_MAX)?,
            )
        };
        Some(Decimal {
            digits: if negative { -digits } else { digits },
            scale,
        })
    }

    fn rescaled(self, scale: u32) -> Option<i128> {
        self.digits
            .checked_mul(10i128.checked_pow(scale - self.scale)?)
    }

    fn add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let digits = self.rescaled(scale)?.checked_add(other.rescaled(scale)?)?;
        Some(Decimal { digits, scale })
    }

    /// Rounds half to even to at most 17 decimals and writes it without trailing zeros.
    fn to_human(self) -> String {
        let mut digits = self.digits;
        let mut scale = self.scale;
        if scale > HUMAN_DECIMALS_MAX {
            let divisor = 10i128.pow(scale - HUMAN_DECIMALS_MAX);
            let (quotient, remainder) = (digits / divisor, digits % divisor);
            let twice = remainder.abs() * 2;
            let round_away = twice > divisor || (twice == divisor && quotient % 2 != 0);
            digits = if round_away {
                quotient + digits.signum()
            } else {
                quotient
            };
            scale = HUMAN_DECIMALS_MAX;
        }
        while scale > 0 && digits % 10 == 0 {
            digits /= 10;
            scale -= 1;
        }
        let magnitude = digits.unsigned_abs().to_string();
        let sign = if digits < 0 { "-" } else { "" };
        if scale == 0 {
            return format!("{sign}{magnitude}");
        }
        let padded = format!("{magnitude:0>width$}", width = scale as usize + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale as usize);
        format!("{sign}{whole}.{fraction}")
    }
}

/// A finite double in fixed notation, shortest round-trip digits (INCRBYFLOAT's fallback).
fn fixed(value: f64) -> String {
    let text = format!("{value}");
    if text == "-0" {
        "0".to_owned()
    } else {
        text
    }
}

/// INCRBYFLOAT's result text for `current + increment`, given both as the client wrote them
/// and as doubles (`sum` is their finite `f64` sum, used when the texts are not plain decimals
/// or too long for exact arithmetic).
pub fn add_human(current: &[u8], increment: &[u8], sum: f64) -> String {
    match Decimal::parse(current)
        .zip(Decimal::parse(increment))
        .and_then(|(a, b)| a.add(b))
    {
        Some(exact) => exact.to_human(),
        None => fixed(sum),
    }
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

    #[test]
    fn float_increments_add_exactly_as_redis_long_doubles_print() {
        assert_eq!(add_human(b"0.1", b"0.2", 0.1 + 0.2), "0.3");
        assert_eq!(add_human(b"10.50", b"0.1", 10.6), "10.6");
        assert_eq!(add_human(b"5.0e3", b"2.0e2", 5200.0), "5200");
        assert_eq!(
            add_human(b"9007199254740993", b"1", 9007199254740994.0),
            "9007199254740994"
        );
        assert_eq!(add_human(b"1", b"-1", 0.0), "0");
        assert_eq!(add_human(b"-0.5", b"0.25", -0.25), "-0.25");
        assert_eq!(add_human(b"0", b"0.000000000000000001", 1e-18), "0");
        assert_eq!(
            add_human(b"0", b"0.000000000000000015", 1.5e-17),
            "0.00000000000000002"
        );
        assert_eq!(
            add_human(b"1e300", b"1", 1e300),
            fixed(1e300),
            "beyond exact range: f64"
        );
        assert_eq!(add_human(b"inf", b"1", f64::INFINITY), "inf");
    }
}
