//! Reading the SDK's loosely typed input (JSON shaped like the SDK's constructor arguments) into
//! a typed [`KhqrRequest`].
//!
//! The input is `{"type":"individual"|"merchant","bakongAccountID","merchantName",
//! "merchantCity","merchantID"?,"acquiringBank"?,"optional":{...}}`, as the records of
//! `khqr-vectors.json`. Each field goes through the JavaScript conversions the SDK applies to
//! it: where the SDK refuses the value, its code is reported at the SDK's stage; where it turns
//! the value into something other than what a strict reading gives (`"1,000.00"` written as
//! `1.00`, `true` written as `"true"`), we refuse it, after every SDK check has passed.

use std::num::FpCategory;
use std::str::FromStr as _;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::encode::{encode_with, Deferred, Stage};
use super::encode_fields::amount_text;
use super::error::KhqrError;
use super::js::{
    is_integral, json_number_to_string, loosely_equals_empty_string, number_to_string, parse_float,
    parse_int, to_fixed_2, to_js_string, to_number,
};
use super::request::{AccountKind, Currency, Khqr, KhqrRequest};
use super::rules::{is_plain_decimal, AMOUNT_MAX};
use super::tlv::{utf16_len, ShortText};

/// Why SDK-shaped JSON could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkInputError {
    /// The input is not an object of the expected shape (the CLI's exit code 2).
    #[error("usage: {0}")]
    Usage(String),
    /// The SDK (or our stricter encoder) refuses the input (exit code 1).
    #[error(transparent)]
    Khqr(#[from] KhqrError),
}

/// SDK-shaped input read into a typed request, with what reading found about fields that the
/// SDK checks later (reported at their place in the SDK's order by [`SdkRequest::encode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkRequest {
    /// The typed request.
    pub request: KhqrRequest,
    deferred: Vec<Deferred>,
}

impl SdkRequest {
    /// Reads SDK-shaped JSON. Optional keys whose value the SDK's `removeEmptyElement` drops
    /// (`null`, `""`, `0`, `false`, `[]`) count as absent.
    ///
    /// # Errors
    ///
    /// [`SdkInputError::Usage`] when `input` is not an object with `type` "individual" or
    /// "merchant" and an object (or nothing) as `optional`; [`SdkInputError::Khqr`] with
    /// [`KhqrError::InvalidFieldType`] where the SDK's constructor throws (an object or array
    /// as `bakongAccountID`, `merchantName`, `merchantCity`, or a merchant's `merchantID`,
    /// `acquiringBank`).
    pub fn from_json(input: &Value) -> Result<Self, SdkInputError> {
        let usage = |message: &str| SdkInputError::Usage(message.to_owned());
        let top = Top::new(
            &TOP_KEYS,
            Some(
                input
                    .as_object()
                    .ok_or_else(|| usage("input must be a JSON object"))?,
            ),
            |_| false,
        );
        let is_merchant = match top.get("type").and_then(Value::as_str) {
            Some("individual") => false,
            Some("merchant") => true,
            _ => return Err(usage(r#""type" must be "individual" or "merchant""#)),
        };
        let optional = match top.get("optional") {
            None | Some(Value::Null) => Optional::new(&OPTIONAL_KEYS, None, is_removed),
            Some(Value::Object(optional)) => {
                Optional::new(&OPTIONAL_KEYS, Some(optional), is_removed)
            }
            Some(_) => return Err(usage(r#""optional" must be an object"#)),
        };
        let mut reader = Reader {
            deferred: Vec::new(),
        };
        let request = reader.request(&top, &optional, is_merchant)?;
        Ok(Self {
            request,
            deferred: reader.deferred,
        })
    }

    /// Encodes the request, reporting what reading found at its place in the SDK's order.
    ///
    /// # Errors
    ///
    /// As [`super::encode`].
    pub fn encode(&self, now_ms: i64) -> Result<Khqr, KhqrError> {
        encode_with(&self.request, now_ms, &self.deferred)
    }
}

/// Whether the SDK's `removeEmptyElement` drops `value` (`v != null && v != ""`).
fn is_removed(value: &Value) -> bool {
    value.is_null() || loosely_equals_empty_string(value)
}

/// The keys of the top-level input object that the reader looks at.
const TOP_KEYS: [&str; 7] = [
    "type",
    "optional",
    "bakongAccountID",
    "merchantName",
    "merchantCity",
    "merchantID",
    "acquiringBank",
];

/// The keys of `optional` that the reader looks at.
const OPTIONAL_KEYS: [&str; 15] = [
    "accountInformation",
    "acquiringBank",
    "currency",
    "amount",
    "expirationTimestamp",
    "merchantCategoryCode",
    "billNumber",
    "mobileNumber",
    "storeLabel",
    "terminalLabel",
    "purposeOfTransaction",
    "languagePreference",
    "merchantNameAlternateLanguage",
    "merchantCityAlternateLanguage",
    "upiMerchantAccount",
];

/// The values of a JSON object under a fixed list of keys, read in one pass over the object
/// (a view, not a copy); [`Slots::get`] answers as `Map::get` on those keys.
struct Slots<'a, const N: usize> {
    keys: &'static [&'static str; N],
    values: [Option<&'a Value>; N],
}

impl<'a, const N: usize> Slots<'a, N> {
    /// The values of `object` under `keys`, leaving out those `skip` holds true for.
    fn new(
        keys: &'static [&'static str; N],
        object: Option<&'a Map<String, Value>>,
        skip: fn(&Value) -> bool,
    ) -> Self {
        let mut values = [None; N];
        for (key, value) in object.into_iter().flatten() {
            if skip(value) {
                continue;
            }
            if let Some(slot) = keys
                .iter()
                .position(|known| *known == key)
                .and_then(|index| values.get_mut(index))
            {
                *slot = Some(value);
            }
        }
        Self { keys, values }
    }

    // Inlined, a constant `key` resolves to its slot at compile time.
    #[inline(always)]
    fn get(&self, key: &str) -> Option<&'a Value> {
        let index = self.keys.iter().position(|known| *known == key)?;
        self.values.get(index).copied().flatten()
    }
}

/// The `optional` object as the SDK sees it after `removeEmptyElement`: keys whose value it
/// drops read as absent.
type Optional<'a> = Slots<'a, 15>;

/// The top-level input object.
type Top<'a> = Slots<'a, 7>;

struct Reader {
    deferred: Vec<Deferred>,
}

impl Reader {
    fn request(
        &mut self,
        top: &Top<'_>,
        optional: &Optional<'_>,
        is_merchant: bool,
    ) -> Result<KhqrRequest, KhqrError> {
        let constructor_fields: &[&'static str] = if is_merchant {
            &[
                "bakongAccountID",
                "merchantName",
                "merchantCity",
                "merchantID",
                "acquiringBank",
            ]
        } else {
            &["bakongAccountID", "merchantName", "merchantCity"]
        };
        for &field in constructor_fields {
            if matches!(top.get(field), Some(Value::Object(_) | Value::Array(_))) {
                return Err(KhqrError::InvalidFieldType { field });
            }
        }
        let kind = if is_merchant {
            AccountKind::Merchant {
                merchant_id: self.positional(top, "merchantID", Stage::Account),
                acquiring_bank: self.positional(top, "acquiringBank", Stage::Account),
            }
        } else {
            AccountKind::Individual {
                account_information: self.text(optional, "accountInformation", Stage::Account),
                acquiring_bank: self.text(optional, "acquiringBank", Stage::Account),
            }
        };
        let bakong_account_id = self.bakong_account_id(top.get("bakongAccountID"));
        let merchant_name = self.positional(top, "merchantName", Stage::Name);
        let mut request = KhqrRequest::new(kind, bakong_account_id, merchant_name);
        request.merchant_city =
            Some(self.positional(top, "merchantCity", Stage::City)).filter(|city| !city.is_empty());
        request.currency = self.currency(optional.get("currency"));
        request.amount = self.amount(optional.get("amount"), request.currency);
        request.expiration_ms = self.expiration(optional.get("expirationTimestamp"));
        // `String(merchantCategoryCode ?? "5999")`.
        request.mcc = optional.get("merchantCategoryCode").map(to_js_string);
        request.bill_number = self.text(optional, "billNumber", Stage::Additional);
        request.mobile_number = self.text(optional, "mobileNumber", Stage::Additional);
        request.store_label = self.text(optional, "storeLabel", Stage::Additional);
        request.terminal_label = self.text(optional, "terminalLabel", Stage::Additional);
        request.purpose_of_transaction =
            self.text(optional, "purposeOfTransaction", Stage::Additional);
        request.language_preference = self.text(optional, "languagePreference", Stage::Language);
        request.merchant_name_alternate_language =
            self.text(optional, "merchantNameAlternateLanguage", Stage::Language);
        request.merchant_city_alternate_language =
            self.text(optional, "merchantCityAlternateLanguage", Stage::Language);
        request.upi_merchant_account = self.text(optional, "upiMerchantAccount", Stage::Upi);
        Ok(request)
    }

    /// Refused with `error` when generation reaches `stage`.
    fn sdk(&mut self, stage: Stage, error: KhqrError) {
        self.deferred.push(Deferred::Sdk(stage, error));
    }

    /// Refused by us only, if nothing the SDK refuses comes first.
    fn strict(&mut self, stage: Stage, error: KhqrError) {
        self.deferred.push(Deferred::Strict(stage, error));
    }

    /// The SDK tests `== ""` (null, "", 0, false: code 1), then calls `.split`, which throws
    /// for any other non-string: the SDK returns the exception as its QR.
    fn bakong_account_id(&mut self, value: Option<&Value>) -> String {
        match value {
            Some(Value::String(text)) => text.clone(),
            Some(value) if !loosely_equals_empty_string(value) && !value.is_null() => {
                self.sdk(
                    Stage::Account,
                    KhqrError::InvalidFieldType {
                        field: "bakongAccountID",
                    },
                );
                String::new()
            }
            _ => String::new(),
        }
    }

    /// A positional argument as text: `null`, `0`, `false` are empty (`value == ""` in the
    /// SDK's checks); a number is written as JavaScript writes it; `true` becomes "true" in the
    /// SDK's QR, which we refuse.
    fn positional(&mut self, top: &Top<'_>, field: &'static str, stage: Stage) -> String {
        match top.get(field) {
            None | Some(Value::Null) => String::new(),
            Some(value) if loosely_equals_empty_string(value) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => json_number_to_string(number),
            Some(value) => {
                self.strict(stage, KhqrError::InvalidFieldType { field });
                to_js_string(value)
            }
        }
    }

    /// An optional text field (already filtered by [`is_removed`]): numbers as JavaScript
    /// writes them; booleans, objects and arrays, which the SDK writes as "true",
    /// "[object Object]" or a comma list, refused.
    fn text(
        &mut self,
        optional: &Optional<'_>,
        field: &'static str,
        stage: Stage,
    ) -> Option<String> {
        match optional.get(field)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(json_number_to_string(number)),
            value => {
                self.strict(stage, KhqrError::InvalidFieldType { field });
                Some(to_js_string(value))
            }
        }
    }

    /// Tag 53, as `TransactionCurrency`: `.length > 3` is 19; `parseInt(value)` other than
    /// 116 or 840 is 28; the SDK then writes `String(value)`, which we accept only as "116"
    /// or "840" from a string or a number.
    fn currency(&mut self, value: Option<&Value>) -> Currency {
        let Some(value) = value else {
            return Currency::Khr;
        };
        // Fast path, same outcome: the number or string 116 or 840.
        let exact = match value {
            Value::Number(number) => match number.as_i64() {
                Some(116) => Some(Currency::Khr),
                Some(840) => Some(Currency::Usd),
                _ => None,
            },
            Value::String(text) => Currency::from_numeric_code(text),
            _ => None,
        };
        if let Some(currency) = exact {
            return currency;
        }
        let length = match value {
            Value::String(text) => utf16_len(text),
            Value::Array(items) => items.len(),
            _ => 0,
        };
        if length > 3 {
            self.sdk(Stage::Currency, KhqrError::TransactionCurrencyLengthInvalid);
            return Currency::Khr;
        }
        let text = to_js_string(value);
        if !matches!(parse_int(&text), Some(116 | 840)) {
            self.sdk(Stage::Currency, KhqrError::UnsupportedCurrency);
            return Currency::Khr;
        }
        match (value, Currency::from_numeric_code(&text)) {
            (Value::String(_) | Value::Number(_), Some(currency)) => currency,
            (_, currency) => {
                self.strict(Stage::Currency, KhqrError::UnsupportedCurrency);
                // The SDK's later tests are `currency == 116` (else its USD rules apply) and
                // `currency == 840` (UPI).
                let number = number_to_string(to_number(value));
                if number != "840" {
                    self.deferred.push(Deferred::NotUsdForUpi);
                }
                currency.unwrap_or(if number == "116" {
                    Currency::Khr
                } else {
                    Currency::Usd
                })
            }
        }
    }

    /// Tag 54. `None` when absent or `== 0` (a static QR, as the SDK's `amount == 0`).
    fn amount(&mut self, value: Option<&Value>, currency: Currency) -> Option<Decimal> {
        let value = value?;
        // Fast path, same outcome: an integer that `f64` holds exactly, which `Number()`,
        // `String()` and our decimal reading all take as itself.
        if let Some(integer) = exact_integer(value) {
            return match integer {
                0 => None,
                1.. if ShortText::from_i64(integer).len() <= AMOUNT_MAX => {
                    Some(Decimal::from(integer))
                }
                _ => {
                    self.sdk(Stage::Amount, KhqrError::TransactionAmountInvalid);
                    None
                }
            };
        }
        if to_number(value).classify() == FpCategory::Zero {
            return None;
        }
        let Some(sdk_text) = sdk_amount_text(value, currency == Currency::Khr) else {
            self.sdk(Stage::Amount, KhqrError::TransactionAmountInvalid);
            return None;
        };
        let text = match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(json_number_to_string(number)),
            _ => None,
        };
        let ours = text
            .as_deref()
            .and_then(parse_amount)
            .and_then(|amount| Some((amount, amount_text(amount, currency).ok()?)));
        match ours {
            Some((amount, text)) if text == sdk_text => Some(amount),
            _ => {
                self.strict(Stage::Amount, KhqrError::TransactionAmountInvalid);
                Some(Decimal::ONE)
            }
        }
    }

    /// Tag 99 sub-tag 01 as `TimeStamp` reads it: `Number(value)`; `NaN` or 0 is 45, not 13
    /// characters once written back is 49; a value that is not an integer is below any
    /// creation time (50).
    fn expiration(&mut self, value: Option<&Value>) -> Option<i64> {
        // Fast path, same outcome: an integer that `f64` holds exactly is written back as
        // itself.
        if let Some(integer) = value.and_then(exact_integer) {
            if integer == 0 {
                self.sdk(Stage::Timestamp, KhqrError::ExpirationTimestampRequired);
                return None;
            }
            if ShortText::from_i64(integer).len() != 13 {
                self.sdk(
                    Stage::Timestamp,
                    KhqrError::ExpirationTimestampLengthInvalid,
                );
                return None;
            }
            return Some(integer);
        }
        let number = to_number(value?);
        if number.is_nan() || number.classify() == FpCategory::Zero {
            self.sdk(Stage::Timestamp, KhqrError::ExpirationTimestampRequired);
            return None;
        }
        let text = number_to_string(number);
        if utf16_len(&text) != 13 {
            self.sdk(
                Stage::Timestamp,
                KhqrError::ExpirationTimestampLengthInvalid,
            );
            return None;
        }
        match text.parse::<i64>() {
            Ok(expiration) => Some(expiration),
            Err(_) => {
                self.sdk(Stage::Timestamp, KhqrError::ExpirationTimestampInThePast);
                None
            }
        }
    }
}

/// A JSON integer within ±2^53 (exact as a JavaScript number).
fn exact_integer(value: &Value) -> Option<i64> {
    const EXACT: i64 = 1 << 53;
    match value {
        Value::Number(number) => number
            .as_i64()
            .filter(|integer| (-EXACT..=EXACT).contains(integer)),
        _ => None,
    }
}

/// What the SDK writes in tag 54 for a dynamic QR's `amount`, or `None` when it refuses it.
fn sdk_amount_text(value: &Value, khr: bool) -> Option<String> {
    let written = if khr {
        // `amount % 1 == 0` then `Math.round(amount)`.
        let number = to_number(value);
        if !is_integral(number) {
            return None;
        }
        number_to_string(number)
    } else {
        let text = to_js_string(value);
        match text.split('.').nth(1) {
            Some(precision) if utf16_len(precision) > 2 => return None,
            Some(_) => to_fixed_2(parse_float(&text)),
            None => text,
        }
    };
    // `TransactionAmount`: longer than 13, holding "-", or empty.
    if utf16_len(&written) > AMOUNT_MAX || written.contains('-') || written.is_empty() {
        return None;
    }
    Some(written)
}

/// A decimal amount; `"1."` reads as `"1.0"` and `".5"` as `"0.5"`, as the SDK reads them.
fn parse_amount(text: &str) -> Option<Decimal> {
    let mut normalized = text.to_owned();
    if normalized.starts_with('.') {
        normalized.insert(0, '0');
    }
    if normalized.ends_with('.') {
        normalized.push('0');
    }
    if !is_plain_decimal(&normalized) {
        return None;
    }
    Decimal::from_str(&normalized).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sdk_amounts_follow_javascript() {
        let usd = |value: Value| sdk_amount_text(&value, false);
        let khr = |value: Value| sdk_amount_text(&value, true);
        assert_eq!(usd(json!(1.5)), Some("1.50".to_owned()));
        assert_eq!(usd(json!("1,000.00")), Some("1.00".to_owned()));
        assert_eq!(usd(json!("10")), Some("10".to_owned()));
        assert_eq!(usd(json!(0.30000000000000004)), None);
        assert_eq!(usd(json!(1e-7)), None);
        assert_eq!(khr(json!("5000.0")), Some("5000".to_owned()));
        assert_eq!(khr(json!(100.5)), None);
        assert_eq!(khr(json!(1e21)), Some("1e+21".to_owned()));
    }

    #[test]
    fn amounts_parse_like_decimal_strings() {
        assert_eq!(parse_amount("1.").map(|amount| amount.scale()), Some(1));
        assert_eq!(
            parse_amount(".5").map(|amount| amount.to_string()),
            Some("0.5".to_owned())
        );
        for garbage in ["1,000.00", "1e3", " 5", "0x10", "", "-1", "abc"] {
            assert!(parse_amount(garbage).is_none(), "{garbage}");
        }
    }
}
