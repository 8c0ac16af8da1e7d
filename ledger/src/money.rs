//! Currencies and amounts held as whole minor units.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::MoneyError;

/// Longest amount string [`Money::parse`] reads; longer input is refused before any digit is
/// looked at, which also keeps the `i128` accumulator far from its limit (10^30 < 2^127).
const MAX_AMOUNT_CHARS: usize = 30;

/// A currency the books hold.
///
/// Each currency's scale is fixed here once: changing a scale later would change the meaning
/// of every stored `amount_minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Currency {
    /// Cambodian riel, held in whole riel: KHQR and the banks refuse decimal riel.
    #[serde(rename = "KHR")]
    Khr,
    /// United States dollar, held in cents.
    #[serde(rename = "USD")]
    Usd,
}

impl Currency {
    /// Every currency the books hold, in code order.
    pub const ALL: [Currency; 2] = [Currency::Khr, Currency::Usd];

    /// Returns the ISO 4217 alphabetic code, e.g. `"KHR"`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Khr => "KHR",
            Currency::Usd => "USD",
        }
    }

    /// Returns the number of decimal places of the minor unit (KHR 0, USD 2).
    pub fn scale(self) -> u32 {
        match self {
            Currency::Khr => 0,
            Currency::Usd => 2,
        }
    }

    /// Returns the ISO 4217 numeric code (KHR 116, USD 840), as KHQR payloads carry it.
    pub fn iso_numeric(self) -> u16 {
        match self {
            Currency::Khr => 116,
            Currency::Usd => 840,
        }
    }

    /// Minor units in one major unit; kept next to `scale` so the two cannot disagree.
    fn minor_per_major(self) -> u64 {
        match self {
            Currency::Khr => 1,
            Currency::Usd => 100,
        }
    }

    /// The scale as a formatting width.
    fn fraction_width(self) -> usize {
        match self {
            Currency::Khr => 0,
            Currency::Usd => 2,
        }
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    /// Reads an exact, upper-case ISO code; `"khr"` or `" KHR"` are refused so that a typo
    /// never silently becomes a currency.
    fn from_str(code: &str) -> Result<Currency, MoneyError> {
        match code {
            "KHR" => Ok(Currency::Khr),
            "USD" => Ok(Currency::Usd),
            _ => Err(MoneyError::UnknownCurrency(clip(code))),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money: a signed whole number of minor units (riel, cents) and its currency.
///
/// There is deliberately no `Add`, `Default` or `From<Decimal>`: every combination goes through
/// a checked method that refuses mixed currencies and overflow, and every conversion from a
/// decimal says what to do with extra decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

impl Money {
    /// Builds an amount from a count of minor units (riel for KHR, cents for USD).
    pub fn from_minor(amount_minor: i64, currency: Currency) -> Money {
        Money {
            amount_minor,
            currency,
        }
    }

    /// Returns zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money::from_minor(0, currency)
    }

    /// Reads a strict decimal string such as `"600000"`, `"12.5"` or `"-3.00"`.
    ///
    /// Accepted: an optional leading `-`, one or more ASCII digits, then optionally `.` and one
    /// or more digits, at most 30 characters in all. Fewer fraction digits than the currency's
    /// scale are allowed (`"12.5"` USD is 1250 cents).
    ///
    /// # Errors
    ///
    /// [`MoneyError::InvalidAmount`] for anything else (empty, `+`, exponents, spaces, commas),
    /// [`MoneyError::TooManyDecimals`] for more fraction digits than the currency's scale (even
    /// zeros: `"1.0"` KHR is refused, because a decimal riel on the wire is a bug upstream), and
    /// [`MoneyError::Overflow`] when the amount does not fit in `i64` minor units.
    pub fn parse(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        let invalid = || MoneyError::InvalidAmount(clip(amount));
        if amount.is_empty() || amount.len() > MAX_AMOUNT_CHARS {
            return Err(invalid());
        }
        let (negative, unsigned) = match amount.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, amount),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
            Some(_) => return Err(invalid()),
            None => (unsigned, ""),
        };
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(invalid());
        }
        let scale = currency.scale();
        let padding = scale
            .checked_sub(u32::try_from(fraction.len()).map_err(|_| invalid())?)
            .ok_or(MoneyError::TooManyDecimals { currency, scale })?;
        let mut magnitude: i128 = 0;
        for byte in whole.bytes().chain(fraction.bytes()) {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|shifted| shifted.checked_add(i128::from(byte - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        magnitude = 10_i128
            .checked_pow(padding)
            .and_then(|factor| magnitude.checked_mul(factor))
            .ok_or(MoneyError::Overflow)?;
        let signed = if negative { -magnitude } else { magnitude };
        let amount_minor = i64::try_from(signed).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::from_minor(amount_minor, currency))
    }

    /// Converts a decimal amount in major units, refusing anything that would need rounding.
    ///
    /// Trailing zeros do not count (`1.50` USD and `600000.00` KHR are accepted) because the
    /// value is normalized first; the caller rounds, with a named strategy, before calling.
    ///
    /// # Errors
    ///
    /// [`MoneyError::TooManyDecimals`] when the normalized value has more decimal places than
    /// the currency's scale, [`MoneyError::Overflow`] when it does not fit in `i64` minor units.
    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let normalized = value.normalize();
        let scale = currency.scale();
        let padding = scale
            .checked_sub(normalized.scale())
            .ok_or(MoneyError::TooManyDecimals { currency, scale })?;
        let minor = 10_i128
            .checked_pow(padding)
            .and_then(|factor| normalized.mantissa().checked_mul(factor))
            .ok_or(MoneyError::Overflow)?;
        let amount_minor = i64::try_from(minor).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::from_minor(amount_minor, currency))
    }

    /// Returns the signed count of minor units.
    pub fn amount_minor(&self) -> i64 {
        self.amount_minor
    }

    /// Returns the currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Returns the amount in major units with exactly the currency's scale (`12.50`, `600000`).
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.amount_minor, self.currency.scale())
    }

    /// Formats the amount as the wire's decimal string: `"600000"`, `"12.50"`, `"-3.00"`.
    pub fn format_amount(&self) -> String {
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        // unsigned_abs, unlike abs, is defined for i64::MIN.
        let magnitude = self.amount_minor.unsigned_abs();
        let width = self.currency.fraction_width();
        if width == 0 {
            return format!("{sign}{magnitude}");
        }
        let unit = self.currency.minor_per_major();
        format!("{sign}{}.{:0width$}", magnitude / unit, magnitude % unit)
    }

    /// Adds two amounts of the same currency.
    ///
    /// # Errors
    ///
    /// [`MoneyError::CurrencyMismatch`] for different currencies, [`MoneyError::Overflow`] when
    /// the sum does not fit.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other)?;
        let amount_minor = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(amount_minor, currency))
    }

    /// Subtracts `other` from this amount; both must have the same currency.
    ///
    /// # Errors
    ///
    /// [`MoneyError::CurrencyMismatch`] for different currencies, [`MoneyError::Overflow`] when
    /// the difference does not fit.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other)?;
        let amount_minor = self
            .amount_minor
            .checked_sub(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(amount_minor, currency))
    }

    /// Multiplies the amount by a whole quantity (units of a per-unit fee).
    ///
    /// # Errors
    ///
    /// [`MoneyError::Overflow`] when the product does not fit.
    pub fn checked_mul(self, quantity: i64) -> Result<Money, MoneyError> {
        let amount_minor = self
            .amount_minor
            .checked_mul(quantity)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(amount_minor, self.currency))
    }

    /// Returns the amount with the opposite sign.
    ///
    /// # Errors
    ///
    /// [`MoneyError::Overflow`] for `i64::MIN` minor units, which has no positive counterpart.
    pub fn negated(self) -> Result<Money, MoneyError> {
        let amount_minor = self
            .amount_minor
            .checked_neg()
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(amount_minor, self.currency))
    }

    /// Tells whether the amount is greater than zero.
    pub fn is_positive(&self) -> bool {
        self.amount_minor > 0
    }

    /// Tells whether the amount is less than zero.
    pub fn is_negative(&self) -> bool {
        self.amount_minor < 0
    }

    /// Tells whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount_minor == 0
    }

    fn same_currency(self, other: Money) -> Result<Currency, MoneyError> {
        if self.currency == other.currency {
            Ok(self.currency)
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

impl fmt::Display for Money {
    /// Shows `12.50 USD`, for logs and messages; the wire uses [`Money::format_amount`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.format_amount(), self.currency)
    }
}

impl Serialize for Money {
    /// Writes `{"amount":"600000","currency":"KHR"}`: JSON numbers lose precision in many
    /// clients, so the amount travels as a decimal string with the currency's scale.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Money", 2)?;
        state.serialize_field("amount", &self.format_amount())?;
        state.serialize_field("currency", &self.currency)?;
        state.end()
    }
}

/// Shortens untrusted input before it is echoed in an error message.
pub(crate) fn clip(input: &str) -> String {
    const LIMIT: usize = 40;
    if input.chars().count() <= LIMIT {
        input.to_owned()
    } else {
        let mut clipped: String = input.chars().take(LIMIT).collect();
        clipped.push('…');
        clipped
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn khr(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Khr)
    }

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Usd)
    }

    #[test]
    fn parse_accepts_strict_decimal_strings() {
        let cases: &[(&str, Currency, i64)] = &[
            ("600000", Currency::Khr, 600_000),
            ("0", Currency::Khr, 0),
            ("-0", Currency::Khr, 0),
            ("-4000", Currency::Khr, -4000),
            ("007", Currency::Khr, 7),
            ("12.50", Currency::Usd, 1250),
            ("12.5", Currency::Usd, 1250),
            ("12", Currency::Usd, 1200),
            ("0.01", Currency::Usd, 1),
            ("-3.00", Currency::Usd, -300),
            ("9223372036854775807", Currency::Khr, i64::MAX),
            ("-9223372036854775808", Currency::Khr, i64::MIN),
            ("92233720368547758.07", Currency::Usd, i64::MAX),
        ];
        for &(input, currency, minor) in cases {
            let money = Money::parse(input, currency)
                .unwrap_or_else(|error| panic!("{input:?} {currency}: {error}"));
            assert_eq!(
                money,
                Money::from_minor(minor, currency),
                "{input:?} {currency}"
            );
        }
    }

    #[test]
    fn parse_refuses_everything_else() {
        let invalid = |input: &str| MoneyError::InvalidAmount(input.to_owned());
        let cases: &[(&str, Currency, MoneyError)] = &[
            (
                "12.345",
                Currency::Usd,
                MoneyError::TooManyDecimals {
                    currency: Currency::Usd,
                    scale: 2,
                },
            ),
            (
                "12.340",
                Currency::Usd,
                MoneyError::TooManyDecimals {
                    currency: Currency::Usd,
                    scale: 2,
                },
            ),
            (
                "1.5",
                Currency::Khr,
                MoneyError::TooManyDecimals {
                    currency: Currency::Khr,
                    scale: 0,
                },
            ),
            (
                "1.0",
                Currency::Khr,
                MoneyError::TooManyDecimals {
                    currency: Currency::Khr,
                    scale: 0,
                },
            ),
            ("", Currency::Khr, invalid("")),
            ("+1", Currency::Khr, invalid("+1")),
            ("1e3", Currency::Khr, invalid("1e3")),
            ("1E3", Currency::Usd, invalid("1E3")),
            (" 1", Currency::Khr, invalid(" 1")),
            ("1 ", Currency::Khr, invalid("1 ")),
            ("1 000", Currency::Khr, invalid("1 000")),
            ("1,000", Currency::Khr, invalid("1,000")),
            ("-", Currency::Khr, invalid("-")),
            ("--1", Currency::Khr, invalid("--1")),
            ("-+1", Currency::Khr, invalid("-+1")),
            (".", Currency::Usd, invalid(".")),
            (".5", Currency::Usd, invalid(".5")),
            ("1.", Currency::Usd, invalid("1.")),
            ("1.2.3", Currency::Usd, invalid("1.2.3")),
            ("-.5", Currency::Usd, invalid("-.5")),
            ("0x10", Currency::Khr, invalid("0x10")),
            ("NaN", Currency::Usd, invalid("NaN")),
            ("١٢", Currency::Khr, invalid("١٢")),
            ("១២", Currency::Khr, invalid("១២")),
            ("1_000", Currency::Khr, invalid("1_000")),
            ("9223372036854775808", Currency::Khr, MoneyError::Overflow),
            ("-9223372036854775809", Currency::Khr, MoneyError::Overflow),
            ("92233720368547758.08", Currency::Usd, MoneyError::Overflow),
            (
                "999999999999999999999999999999",
                Currency::Usd,
                MoneyError::Overflow,
            ),
        ];
        for (input, currency, expected) in cases {
            assert_eq!(
                Money::parse(input, *currency).as_ref(),
                Err(expected),
                "{input:?} {currency}"
            );
        }
        let too_long = "1".repeat(31);
        assert!(matches!(
            Money::parse(&too_long, Currency::Khr),
            Err(MoneyError::InvalidAmount(_))
        ));
    }

    #[test]
    fn currency_codes_are_exact() {
        assert_eq!(Currency::from_str("KHR"), Ok(Currency::Khr));
        assert_eq!(Currency::from_str("USD"), Ok(Currency::Usd));
        for code in ["khr", "Usd", " KHR", "KHR ", "EUR", ""] {
            assert_eq!(
                Currency::from_str(code),
                Err(MoneyError::UnknownCurrency(code.to_owned()))
            );
        }
        assert_eq!((Currency::Khr.scale(), Currency::Usd.scale()), (0, 2));
        assert_eq!(
            (Currency::Khr.iso_numeric(), Currency::Usd.iso_numeric()),
            (116, 840)
        );
        assert_eq!(Currency::Usd.to_string(), "USD");
        assert_eq!(serde_json::to_string(&Currency::Khr).unwrap(), "\"KHR\"");
        assert_eq!(
            serde_json::from_str::<Currency>("\"USD\"").unwrap(),
            Currency::Usd
        );
        assert!(serde_json::from_str::<Currency>("\"usd\"").is_err());
    }

    #[test]
    fn format_amount_uses_the_currency_scale() {
        assert_eq!(khr(600_000).format_amount(), "600000");
        assert_eq!(khr(-4000).format_amount(), "-4000");
        assert_eq!(usd(1250).format_amount(), "12.50");
        assert_eq!(usd(-300).format_amount(), "-3.00");
        assert_eq!(usd(5).format_amount(), "0.05");
        assert_eq!(usd(-5).format_amount(), "-0.05");
        assert_eq!(usd(0).format_amount(), "0.00");
        assert_eq!(usd(i64::MIN).format_amount(), "-92233720368547758.08");
        assert_eq!(usd(1250).to_string(), "12.50 USD");
    }

    #[test]
    fn serializes_amount_as_a_string() {
        assert_eq!(
            serde_json::to_value(khr(600_000)).unwrap(),
            serde_json::json!({"amount": "600000", "currency": "KHR"})
        );
        assert_eq!(
            serde_json::to_value(usd(-300)).unwrap(),
            serde_json::json!({"amount": "-3.00", "currency": "USD"})
        );
    }

    #[test]
    fn decimal_conversions_refuse_rounding() {
        assert_eq!(
            Money::from_decimal(Decimal::new(1250, 2), Currency::Usd),
            Ok(usd(1250))
        );
        assert_eq!(
            Money::from_decimal(Decimal::new(125, 1), Currency::Usd),
            Ok(usd(1250))
        );
        assert_eq!(
            Money::from_decimal(Decimal::new(1_500_000, 2), Currency::Khr),
            Ok(khr(15_000))
        );
        assert_eq!(
            Money::from_decimal(Decimal::new(-3, 0), Currency::Usd),
            Ok(usd(-300))
        );
        assert_eq!(
            Money::from_decimal(Decimal::new(12_345, 3), Currency::Usd),
            Err(MoneyError::TooManyDecimals {
                currency: Currency::Usd,
                scale: 2
            })
        );
        assert_eq!(
            Money::from_decimal(Decimal::new(15, 1), Currency::Khr),
            Err(MoneyError::TooManyDecimals {
                currency: Currency::Khr,
                scale: 0
            })
        );
        assert_eq!(
            Money::from_decimal(Decimal::MAX, Currency::Khr),
            Err(MoneyError::Overflow)
        );
        assert_eq!(usd(1250).to_decimal().to_string(), "12.50");
        assert_eq!(usd(1250).to_decimal().scale(), 2);
        assert_eq!(khr(600_000).to_decimal().to_string(), "600000");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(usd(100).checked_add(usd(50)), Ok(usd(150)));
        assert_eq!(usd(100).checked_sub(usd(150)), Ok(usd(-50)));
        assert_eq!(khr(4000).checked_mul(3), Ok(khr(12_000)));
        assert_eq!(khr(4000).negated(), Ok(khr(-4000)));
        let mismatch = MoneyError::CurrencyMismatch {
            left: Currency::Usd,
            right: Currency::Khr,
        };
        assert_eq!(usd(1).checked_add(khr(1)), Err(mismatch.clone()));
        assert_eq!(usd(1).checked_sub(khr(1)), Err(mismatch));
        assert_eq!(khr(i64::MAX).checked_add(khr(1)), Err(MoneyError::Overflow));
        assert_eq!(khr(i64::MIN).checked_sub(khr(1)), Err(MoneyError::Overflow));
        assert_eq!(khr(i64::MAX).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(khr(i64::MIN).negated(), Err(MoneyError::Overflow));
        assert!(khr(1).is_positive() && !khr(0).is_positive() && !khr(-1).is_positive());
        assert!(Money::zero(Currency::Usd).is_zero() && khr(-1).is_negative());
    }

    #[test]
    fn error_messages_are_readable() {
        let message = Money::parse("12.345", Currency::Usd)
            .unwrap_err()
            .to_string();
        assert_eq!(message, "USD amounts have at most 2 decimal place(s)");
        let long = "x".repeat(100);
        let message = Money::parse(&long, Currency::Usd).unwrap_err().to_string();
        assert!(message.len() < 200, "untrusted input is clipped: {message}");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(minor in any::<i64>(), usd_currency in any::<bool>()) {
            let currency = if usd_currency { Currency::Usd } else { Currency::Khr };
            let money = Money::from_minor(minor, currency);
            prop_assert_eq!(Money::parse(&money.format_amount(), currency), Ok(money));
            prop_assert_eq!(Money::from_decimal(money.to_decimal(), currency), Ok(money));
        }
    }
}
