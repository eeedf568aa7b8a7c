//! x87 extended precision (C's `long double` on x86-64 Linux), as Redis's INCRBYFLOAT and
//! HINCRBYFLOAT add: each operand is read from its text to the nearest value with a 64-bit
//! significand, the sum is rounded the same way, and the result is printed as `%.17Lf` with
//! the trailing zeros cut. So `INCRBYFLOAT k 1000.1` answers `1000.09999999999999998`, as
//! Redis does.
//!
//! Every step is exact arithmetic on big integers followed by one rounding to nearest, ties to
//! even, as the hardware rounds: the results are the ones the FPU gives, bit for bit.

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{One, Zero};

/// Bits of the significand.
const SIGNIFICAND_BITS: u64 = 64;
/// Finite values are below 2^16384.
const EXPONENT_LIMIT: i64 = 16384;
/// The weight of the last bit of the smallest subnormal: 2^-16445.
const SMALLEST_EXPONENT: i64 = -16445;
/// Decimal exponents past this overflow (or, negative, underflow) whatever the digits.
const DECIMAL_EXPONENT_LIMIT: i64 = 6000;
/// Longest text read: Redis's `string2ld` refuses `MAX_LONG_DOUBLE_CHARS` (5 KiB) or more.
const TEXT_LEN_MAX: usize = 5 * 1024 - 1;
/// Decimals printed, as `%.17Lf`.
const DECIMALS: usize = 17;

/// A finite extended-precision value: `significand * 2^exponent`, negative if `negative`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongDouble {
    negative: bool,
    /// At most 64 bits; zero for the value zero.
    significand: u64,
    exponent: i64,
}

impl LongDouble {
    pub(crate) const ZERO: LongDouble = LongDouble {
        negative: false,
        significand: 0,
        exponent: 0,
    };

    /// Reads a decimal (`-12.5e3`) or C hexadecimal (`0x1.8p1`) number as `strtold` does;
    /// `None` for other text, infinities, NaN, overflow and a nonzero number that rounds to 0.
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.len() > TEXT_LEN_MAX {
            return None;
        }
        let text = std::str::from_utf8(text).ok()?.to_ascii_lowercase();
        let (negative, unsigned) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text.as_str()),
        };
        let (digits, radix, exponent_mark, digit_weight) = match unsigned.strip_prefix("0x") {
            Some(hex) => (hex, 16, 'p', 4),
            None => (unsigned, 10, 'e', 1),
        };
        let (mantissa, exponent) = match digits.split_once(exponent_mark) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
            None => (digits, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let all_digits: String = [whole, fraction].concat();
        if !all_digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let value = BigUint::parse_bytes(all_digits.as_bytes(), radix)?;
        // The value is `value * radix^scale` (a power of two for hex: `2^(4 * scale)`, plus the
        // binary exponent).
        let fraction_len = i64::try_from(fraction.len()).ok()?;
        if value.is_zero() {
            return Some(LongDouble::ZERO);
        }
        let result = if radix == 16 {
            let binary = exponent.checked_sub(fraction_len.checked_mul(digit_weight)?)?;
            round(value, binary, false, negative)
        } else {
            let scale = exponent.checked_sub(fraction_len)?;
            from_decimal(value, scale, negative)
        }?;
        // strtold reports a total underflow as an error, which Redis refuses.
        (result.significand != 0).then_some(result)
    }

    /// The sum, rounded; `None` when it overflows.
    pub fn add(&self, other: &LongDouble) -> Option<LongDouble> {
        if self.significand == 0 {
            return Some(other.clone());
        }
        if other.significand == 0 {
            return Some(self.clone());
        }
        let base = self.exponent.min(other.exponent);
        let aligned = |x: &LongDouble| {
            let sign = if x.negative { Sign::Minus } else { Sign::Plus };
            let shift = usize::try_from(x.exponent - base).unwrap_or(0);
            BigInt::from_biguint(sign, BigUint::from(x.significand) << shift)
        };
        let sum = aligned(self) + aligned(other);
        if sum.is_zero() {
            return Some(LongDouble::ZERO);
        }
        round(
            sum.magnitude().clone(),
            base,
            false,
            sum.sign() == Sign::Minus,
        )
    }

    /// The value as `printf("%.17Lf")` writes it, trailing zeros (and a bare point) cut, and
    /// `-0` written `0`, as Redis answers INCRBYFLOAT.
    pub fn to_human(&self) -> String {
        let significand = BigUint::from(self.significand);
        let (whole, decimals) = if self.exponent >= 0 {
            let shift = usize::try_from(self.exponent).unwrap_or(0);
            (significand << shift, BigUint::zero())
        } else {
            let shift = usize::try_from(-self.exponent).unwrap_or(0);
            let one = BigUint::one() << shift;
            let whole = &significand >> shift;
            let fraction = significand - (&whole << shift);
            let scaled = fraction * BigUint::from(10u64.pow(DECIMALS as u32));
            let decimals = round_quotient(scaled, shift, &one);
            let carry = BigUint::from(10u64.pow(DECIMALS as u32));
            if decimals == carry {
                (whole + 1u32, BigUint::zero())
            } else {
                (whole, decimals)
            }
        };
        let mut text = whole.to_string();
        let decimals = format!("{decimals:0>DECIMALS$}");
        let decimals = decimals.trim_end_matches('0');
        if !decimals.is_empty() {
            text.push('.');
            text.push_str(decimals);
        }
        if self.negative && text != "0" {
            text.insert(0, '-');
        }
        text
    }
}

/// `value * 10^scale`, rounded.
fn from_decimal(value: BigUint, scale: i64, negative: bool) -> Option<LongDouble> {
    if scale > DECIMAL_EXPONENT_LIMIT {
        return None;
    }
    if scale < -DECIMAL_EXPONENT_LIMIT {
        return Some(LongDouble::ZERO);
    }
    let ten = BigUint::from(10u32);
    if scale >= 0 {
        return round(
            value * ten.pow(u32::try_from(scale).ok()?),
            0,
            false,
            negative,
        );
    }
    // value / 10^-scale: a quotient of 66 bits or more, and whether anything was left over.
    let divisor = ten.pow(u32::try_from(-scale).ok()?);
    let shift = (SIGNIFICAND_BITS + 2 + divisor.bits()).saturating_sub(value.bits());
    let shifted = value << usize::try_from(shift).ok()?;
    let quotient = &shifted / &divisor;
    let inexact = quotient.clone() * &divisor != shifted;
    round(quotient, -i64::try_from(shift).ok()?, inexact, negative)
}

/// `value * 2^exponent` (plus a little more when `inexact`) rounded to 64 significant bits,
/// or to the subnormal grid, to nearest, ties to even; `None` when it overflows.
fn round(value: BigUint, exponent: i64, inexact: bool, negative: bool) -> Option<LongDouble> {
    let bits = i64::try_from(value.bits()).ok()?;
    let excess = bits - SIGNIFICAND_BITS as i64;
    let below_grid = SMALLEST_EXPONENT - exponent;
    let shift = excess.max(below_grid).max(0);
    let (mut significand, mut exponent) = if shift == 0 {
        (value, exponent)
    } else {
        let shift_bits = usize::try_from(shift).ok()?;
        let kept = &value >> shift_bits;
        let dropped = value - (&kept << shift_bits);
        let half = BigUint::one() << (shift_bits - 1);
        let round_up = dropped > half || (dropped == half && (inexact || kept.bit(0)));
        let kept = if round_up { kept + 1u32 } else { kept };
        (kept, exponent + shift)
    };
    if significand.bits() > SIGNIFICAND_BITS {
        significand >>= 1;
        exponent += 1;
    }
    if i64::try_from(significand.bits()).ok()? + exponent > EXPONENT_LIMIT {
        return None;
    }
    let significand = u64::try_from(&significand).ok()?;
    Some(LongDouble {
        negative,
        significand,
        exponent,
    })
}

/// `numerator / 2^shift` rounded to nearest, ties to even (`one` is `2^shift`).
fn round_quotient(numerator: BigUint, shift: usize, one: &BigUint) -> BigUint {
    let quotient = &numerator >> shift;
    let remainder = numerator - (&quotient << shift);
    let twice = remainder << 1;
    if &twice > one || (&twice == one && quotient.bit(0)) {
        quotient + 1u32
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).expect("a");
        let b = LongDouble::parse(b.as_bytes()).expect("b");
        a.add(&b).expect("finite").to_human()
    }

    /// `(a, b, a + b)`, each sum as redis-server 7.0.15 on x86-64 answered INCRBYFLOAT.
    const REDIS_SUMS: &[(&str, &str, &str)] = &[
        ("0", "1000.1", "1000.09999999999999998"),
        ("0", "100000.3", "100000.29999999999999716"),
        ("0", "12345.678", "12345.67799999999999994"),
        ("0", "1733550000000.1", "1733550000000.10000002384185791"),
        ("0", "123456789012.1", "123456789012.10000000149011612"),
        ("0", "3.14159265358979323846", "3.14159265358979324"),
        ("0", "100000000000000000.7", "100000000000000000.703125"),
        ("9223372036854775807", "3.5", "9223372036854775810"),
        (
            "0",
            "123456789012345678901234567890",
            "123456789012345678899921813504",
        ),
        ("0", "18446744073709551617", "18446744073709551616"),
        ("0", "1e25", "10000000000000000000000000"),
        ("0", "1e30", "1000000000000000000024696061952"),
        ("0", "0.1", "0.1"),
        ("0", "10.1", "10.1"),
        ("0", "5.55", "5.55"),
        ("0", "-7.3", "-7.3"),
        ("0", "0x10", "16"),
        ("0", "0x1.8p1", "3"),
        ("0.1", "-0.1", "0"),
        ("0", "-5e-20", "0"),
        ("0", "1.5e-17", "0.00000000000000002"),
        ("0", "2.5e-17", "0.00000000000000002"),
        ("0", "-2.5e-17", "-0.00000000000000002"),
        ("0", "9.99999999999999999999e-18", "0.00000000000000001"),
        ("3", "-3.00000000000000000001", "0"),
        ("0", "1e-400", "0"),
    ];

    #[test]
    fn sums_print_as_redis_long_doubles() {
        for (a, b, expected) in REDIS_SUMS {
            assert_eq!(sum(a, b), *expected, "{a} + {b}");
        }
        assert!(sum("0", "1e400").starts_with("10000000000000000000281880683947586514586"));
    }

    #[test]
    fn what_strtold_refuses_is_refused() {
        for bad in [
            "", "-", ".", "e5", "1e", "0x", "0x1p", "1.2.3", "abc", "inf", "nan", "1e5000",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(LongDouble::parse(b"1e-6000"), None, "a total underflow");
        assert_eq!(LongDouble::parse(&[b'1'; TEXT_LEN_MAX + 1]), None);
    }

    #[test]
    fn a_sum_past_the_largest_value_overflows() {
        let big = LongDouble::parse(b"1e4932").expect("finite");
        assert_eq!(big.add(&big), None);
    }
}
