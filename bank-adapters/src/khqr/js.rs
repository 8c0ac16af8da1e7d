//! The few JavaScript conversions the SDK applies to its loosely typed input, so that the CLI
//! can tell an input the SDK refuses (report its code, in its order) from one it turns into a
//! surprising QR (refuse it ourselves).
//!
//! `f64` appears here only because the SDK's input is JavaScript numbers; no amount we emit is
//! computed in floating point: the encoder writes amounts from `rust_decimal`. Rounding below
//! is done on the exact binary value with integers.

use std::fmt::Write as _;
use std::num::FpCategory;

use serde_json::{Number, Value};

use super::tlv::ShortText;

/// JavaScript's `StrWhiteSpaceChar` (what `Number()` and `parseFloat` skip).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{D}'
            | ' '
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
            | '\u{FEFF}'
    )
}

/// `Number(text)`.
pub(crate) fn string_to_number(text: &str) -> f64 {
    let trimmed = text.trim_matches(is_js_whitespace);
    if trimmed.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(digits) = trimmed.strip_prefix(prefix) {
            return radix_to_number(digits, radix);
        }
    }
    match decimal_literal_len(trimmed) {
        Some(length) if length == trimmed.len() => literal_to_f64(trimmed),
        _ => f64::NAN,
    }
}

/// `parseFloat(text)`: the longest decimal literal after leading white space.
pub(crate) fn parse_float(text: &str) -> f64 {
    let trimmed = text.trim_start_matches(is_js_whitespace);
    match decimal_literal_len(trimmed).and_then(|length| trimmed.get(..length)) {
        Some(literal) => literal_to_f64(literal),
        None => f64::NAN,
    }
}

fn radix_to_number(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() {
        return f64::NAN;
    }
    match u64::from_str_radix(digits, radix) {
        // Above 2^53 the value would round; such inputs are refused anyway.
        Ok(value) if value < (1 << 53) => format!("{value}").parse().unwrap_or(f64::NAN),
        Ok(_) => f64::INFINITY,
        Err(_) => f64::NAN,
    }
}

/// Length of the longest prefix of `text` that is a `StrDecimalLiteral`
/// (`[+-]? (Infinity | digits [. digits?] | . digits) ([eE] [+-]? digits)?`).
fn decimal_literal_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut position = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    if text
        .get(position..)
        .is_some_and(|rest| rest.starts_with("Infinity"))
    {
        return Some(position + "Infinity".len());
    }
    let count_digits = |from: usize| {
        bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|byte| byte.is_ascii_digit()).count()
        })
    };
    let whole = count_digits(position);
    position += whole;
    let mut fraction = 0;
    if bytes.get(position) == Some(&b'.') {
        fraction = count_digits(position + 1);
        if whole > 0 || fraction > 0 {
            position += 1 + fraction;
        }
    }
    if whole == 0 && fraction == 0 {
        return None;
    }
    if matches!(bytes.get(position), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(position + 1), Some(b'+' | b'-')));
        let exponent = count_digits(position + 1 + sign);
        if exponent > 0 {
            position += 1 + sign + exponent;
        }
    }
    Some(position)
}

/// A `StrDecimalLiteral` as the nearest `f64` (Rust's parser rounds correctly, as JavaScript's).
fn literal_to_f64(literal: &str) -> f64 {
    let unsigned = literal.trim_start_matches(['+', '-']);
    let negative = literal.starts_with('-');
    let magnitude = if unsigned == "Infinity" {
        f64::INFINITY
    } else {
        unsigned.parse::<f64>().unwrap_or(f64::NAN)
    };
    if negative {
        magnitude.copysign(-1.0)
    } else {
        magnitude
    }
}

/// `String(x)` for a number: shortest round-trip digits, exponent form outside [1e-6, 1e21).
pub(crate) fn number_to_string(value: f64) -> String {
    match value.classify() {
        FpCategory::Nan => return "NaN".to_owned(),
        FpCategory::Zero => return "0".to_owned(),
        FpCategory::Infinite if value.is_sign_negative() => return "-Infinity".to_owned(),
        FpCategory::Infinite => return "Infinity".to_owned(),
        FpCategory::Normal | FpCategory::Subnormal => {}
    }
    if (1e-6..1e21).contains(&value.abs()) {
        return format!("{value}");
    }
    let scientific = format!("{value:e}");
    match scientific.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => scientific,
    }
}

/// `String(x)` for a JSON number.
pub(crate) fn json_number_to_string(number: &Number) -> String {
    if let Some(integer) = number.as_i64() {
        return integer.to_string();
    }
    number
        .as_f64()
        .map_or_else(|| number.to_string(), number_to_string)
}

/// `x.toFixed(2)`, rounding the exact binary value half up, as ECMAScript specifies.
pub(crate) fn to_fixed_2(value: f64) -> String {
    if !value.is_finite() || value.abs() >= 1e21 {
        return number_to_string(value);
    }
    let sign = if value.is_sign_negative() && value.classify() != FpCategory::Zero {
        "-"
    } else {
        ""
    };
    let hundredths = round_hundredths(value.abs());
    // Written by hand rather than with `format!` (this runs for every fractional USD amount
    // read from JSON): below 10^23 hundredths, sign and digits fit the 32 bytes.
    let mut text = ShortText::new();
    if text.write_str(sign).is_ok() && text.push_decimal(hundredths, 2) {
        return text.as_str().to_owned();
    }
    format!("{sign}{}.{:02}", hundredths / 100, hundredths % 100)
}

/// `round_half_up(x * 100)` for finite `0 <= x < 1e21`, on the exact value `m * 2^e`.
fn round_hundredths(value: f64) -> u128 {
    let bits = value.to_bits();
    let exponent_bits = (bits >> 52) & 0x7FF;
    let fraction_bits = u128::from(bits & ((1 << 52) - 1));
    let (mantissa, exponent) = if exponent_bits == 0 {
        (fraction_bits, -1074_i64)
    } else {
        let exponent = i64::try_from(exponent_bits).unwrap_or(0) - 1075;
        (fraction_bits | (1 << 52), exponent)
    };
    let scaled = mantissa * 100;
    if exponent >= 0 {
        // x < 1e21 < 2^70, so x * 100 < 2^77.
        return u32::try_from(exponent)
            .ok()
            .and_then(|shift| scaled.checked_shl(shift))
            .unwrap_or(u128::MAX);
    }
    let shift = exponent.unsigned_abs();
    if shift > 100 {
        // x * 100 < 2^60 / 2^100: rounds to 0.
        return 0;
    }
    let shift = u32::try_from(shift).unwrap_or(100);
    let whole = scaled >> shift;
    let remainder = scaled - (whole << shift);
    let half = 1_u128 << (shift - 1);
    if remainder >= half {
        whole + 1
    } else {
        whole
    }
}

/// `Number(value)` for a JSON value as the SDK receives it.
pub(crate) fn to_number(value: &Value) -> f64 {
    match value {
        Value::Null => 0.0,
        Value::Bool(flag) => {
            if *flag {
                1.0
            } else {
                0.0
            }
        }
        Value::Number(number) => number.as_f64().unwrap_or(f64::NAN),
        Value::String(text) => string_to_number(text),
        Value::Array(_) | Value::Object(_) => string_to_number(&to_js_string(value)),
    }
}

/// `String(value)` for a JSON value.
pub(crate) fn to_js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => json_number_to_string(number),
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Null => String::new(),
                other => to_js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_owned(),
    }
}

/// `value == ""` in JavaScript (loose equality), which `removeEmptyElement` and the SDK's
/// "required" checks use.
pub(crate) fn loosely_equals_empty_string(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => text.is_empty(),
        Value::Number(_) | Value::Bool(_) => to_number(value).classify() == FpCategory::Zero,
        Value::Array(_) | Value::Object(_) => to_js_string(value).is_empty(),
    }
}

/// `parseInt(text)` (no radix), when it is a number that fits an `i64`.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let trimmed = text.trim_start_matches(is_js_whitespace);
    let (negative, unsigned) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let (radix, digits) = match unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        Some(hex) => (16, hex),
        None => (10, unsigned),
    };
    let digits: String = digits.chars().take_while(|c| c.is_digit(radix)).collect();
    let magnitude = i64::from_str_radix(&digits, radix).ok()?;
    Some(if negative {
        magnitude.checked_neg()?
    } else {
        magnitude
    })
}

/// Whether a number is integral (JavaScript's `x % 1 == 0` for finite `x`).
pub(crate) fn is_integral(value: f64) -> bool {
    value.is_finite() && value.trunc() == value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_parsing_follows_javascript() {
        assert_eq!(string_to_number(" 12 "), 12.0);
        assert_eq!(string_to_number("0x10"), 16.0);
        assert_eq!(string_to_number("1e3"), 1000.0);
        assert_eq!(string_to_number(".5"), 0.5);
        assert_eq!(string_to_number("1."), 1.0);
        assert!(string_to_number("1,000").is_nan());
        assert!(string_to_number("abc").is_nan());
        assert!(string_to_number("1e").is_nan());
        assert_eq!(parse_float("1,000.00"), 1.0);
        assert_eq!(parse_float(" 2.5abc"), 2.5);
        assert_eq!(parse_float("1e"), 1.0);
        assert!(parse_float("abc").is_nan());
    }

    #[test]
    fn number_strings_follow_javascript() {
        assert_eq!(number_to_string(1.0), "1");
        assert_eq!(number_to_string(0.1), "0.1");
        assert_eq!(number_to_string(1e21), "1e+21");
        assert_eq!(number_to_string(1e-7), "1e-7");
        assert_eq!(number_to_string(0.000_001), "0.000001");
        assert_eq!(number_to_string(123_456_789.12), "123456789.12");
    }

    #[test]
    fn to_fixed_rounds_the_exact_binary_value() {
        assert_eq!(to_fixed_2(1.5), "1.50");
        assert_eq!(to_fixed_2(0.1), "0.10");
        assert_eq!(to_fixed_2(1.005), "1.00");
        assert_eq!(to_fixed_2(1.125), "1.13");
        assert_eq!(to_fixed_2(99_999.99), "99999.99");
        assert_eq!(to_fixed_2(0.0), "0.00");
        assert_eq!(to_fixed_2(-1.5), "-1.50");
    }

    #[test]
    fn to_fixed_writes_as_format_would() {
        let mut bits: u64 = 0x3FF0_0000_0000_0001;
        for _ in 0..20_000 {
            bits = bits
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let value = f64::from_bits(bits);
            if !value.is_finite() || value.abs() >= 1e21 {
                continue;
            }
            let sign = if value.is_sign_negative() && value.classify() != FpCategory::Zero {
                "-"
            } else {
                ""
            };
            let hundredths = round_hundredths(value.abs());
            let expected = format!("{sign}{}.{:02}", hundredths / 100, hundredths % 100);
            assert_eq!(to_fixed_2(value), expected, "{value:e}");
        }
    }
}
