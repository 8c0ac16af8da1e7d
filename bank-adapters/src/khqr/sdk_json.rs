//! Reading the SDK's loosely typed input (JSON shaped like the SDK's constructor arguments) into
//! a typed [`KhqrRequest`].
//!
//! The input is `{"type":"individual"|"merchant","bakongAccountID","merchantName",
//! "merchantCity","merchantID"?,"acquiringBank"?,"optional":{...}}`, as the records of
//! `khqr-vectors.json`. Each field goes through the JavaScript conversions the SDK applies to
//! it: where the SDK refuses the value, its code is reported at the SDK's stage; where it turns
//! the value into something other than what a strict reading gives (`"1,000.00"` written as
//! `1.00`, `true` written as `"true"`), we refuse it, after every SDK check has passed.

use std::borrow::Cow;
use std::num::FpCategory;
use std::str::FromStr as _;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::encode::{encode_with, Deferred, Stage};
use super::encode_fields::amount_short;
use super::error::KhqrError;
use super::js::{
    is_integral, json_number_to_string, loosely_equals_empty_string, number_to_string, parse_float,
    parse_int, to_fixed_2, to_js_string, to_number,
};
use super::request::{Currency, Khqr, KhqrRequest, KindView, RequestView};
use super::rules::{is_plain_decimal, AMOUNT_MAX};
use super::tlv::{decimal_len, longer_than, utf16_len};

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
///
/// It borrows the texts of the JSON it was read from (no copy on the way to the QR);
/// [`SdkRequest::to_request`] gives the owned, typed [`KhqrRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkRequest<'a> {
    request: RequestView<'a>,
    deferred: Vec<Deferred>,
}

impl<'a> SdkRequest<'a> {
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
    pub fn from_json(input: &'a Value) -> Result<Self, SdkInputError> {
        let usage = |message: &str| SdkInputError::Usage(message.to_owned());
        let top = Top::new(
            Some(
                input
                    .as_object()
                    .ok_or_else(|| usage("input must be a JSON object"))?,
            ),
            |_| false,
        );
        let is_merchant = match top.get(TopKey::Type).and_then(Value::as_str) {
            Some("individual") => false,
            Some("merchant") => true,
            _ => return Err(usage(r#""type" must be "individual" or "merchant""#)),
        };
        let optional = match top.get(TopKey::Optional) {
            None | Some(Value::Null) => Optional::new(None, is_removed),
            Some(Value::Object(optional)) => Optional::new(Some(optional), is_removed),
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

    /// The typed request read from the input (a copy that owns its texts).
    #[must_use]
    pub fn to_request(&self) -> KhqrRequest {
        self.request.to_request()
    }

    /// Encodes `request` instead of the one read, still reporting what reading found at its
    /// place in the SDK's order: the SDK's `Info` objects can be changed between construction
    /// and generation, so this is [`Self::to_request`] changed, then generated.
    ///
    /// # Errors
    ///
    /// As [`super::encode`].
    pub fn encode_request(&self, request: &KhqrRequest, now_ms: i64) -> Result<Khqr, KhqrError> {
        encode_with(&RequestView::of(request), now_ms, &self.deferred)
    }
}

/// Whether the SDK's `removeEmptyElement` drops `value` (`v != null && v != ""`).
fn is_removed(value: &Value) -> bool {
    value.is_null() || loosely_equals_empty_string(value)
}

/// A key of the top-level input object that the reader looks at.
#[derive(Debug, Clone, Copy)]
enum TopKey {
    Type,
    Optional,
    BakongAccountId,
    MerchantName,
    MerchantCity,
    MerchantId,
    AcquiringBank,
}

impl Key for TopKey {
    const COUNT: usize = 7;

    fn slot(self) -> usize {
        match self {
            Self::Type => 0,
            Self::Optional => 1,
            Self::BakongAccountId => 2,
            Self::MerchantName => 3,
            Self::MerchantCity => 4,
            Self::MerchantId => 5,
            Self::AcquiringBank => 6,
        }
    }

    fn slot_of(key: &str) -> Option<usize> {
        Some(match key {
            "type" => 0,
            "optional" => 1,
            "bakongAccountID" => 2,
            "merchantName" => 3,
            "merchantCity" => 4,
            "merchantID" => 5,
            "acquiringBank" => 6,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::Optional => "optional",
            Self::BakongAccountId => "bakongAccountID",
            Self::MerchantName => "merchantName",
            Self::MerchantCity => "merchantCity",
            Self::MerchantId => "merchantID",
            Self::AcquiringBank => "acquiringBank",
        }
    }
}

/// A key of `optional` that the reader looks at.
#[derive(Debug, Clone, Copy)]
enum OptionalKey {
    AccountInformation,
    AcquiringBank,
    Currency,
    Amount,
    ExpirationTimestamp,
    MerchantCategoryCode,
    BillNumber,
    MobileNumber,
    StoreLabel,
    TerminalLabel,
    PurposeOfTransaction,
    LanguagePreference,
    MerchantNameAlternateLanguage,
    MerchantCityAlternateLanguage,
    UpiMerchantAccount,
}

impl Key for OptionalKey {
    const COUNT: usize = 15;

    fn slot(self) -> usize {
        match self {
            Self::AccountInformation => 0,
            Self::AcquiringBank => 1,
            Self::Currency => 2,
            Self::Amount => 3,
            Self::ExpirationTimestamp => 4,
            Self::MerchantCategoryCode => 5,
            Self::BillNumber => 6,
            Self::MobileNumber => 7,
            Self::StoreLabel => 8,
            Self::TerminalLabel => 9,
            Self::PurposeOfTransaction => 10,
            Self::LanguagePreference => 11,
            Self::MerchantNameAlternateLanguage => 12,
            Self::MerchantCityAlternateLanguage => 13,
            Self::UpiMerchantAccount => 14,
        }
    }

    fn slot_of(key: &str) -> Option<usize> {
        Some(match key {
            "accountInformation" => 0,
            "acquiringBank" => 1,
            "currency" => 2,
            "amount" => 3,
            "expirationTimestamp" => 4,
            "merchantCategoryCode" => 5,
            "billNumber" => 6,
            "mobileNumber" => 7,
            "storeLabel" => 8,
            "terminalLabel" => 9,
            "purposeOfTransaction" => 10,
            "languagePreference" => 11,
            "merchantNameAlternateLanguage" => 12,
            "merchantCityAlternateLanguage" => 13,
            "upiMerchantAccount" => 14,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::AccountInformation => "accountInformation",
            Self::AcquiringBank => "acquiringBank",
            Self::Currency => "currency",
            Self::Amount => "amount",
            Self::ExpirationTimestamp => "expirationTimestamp",
            Self::MerchantCategoryCode => "merchantCategoryCode",
            Self::BillNumber => "billNumber",
            Self::MobileNumber => "mobileNumber",
            Self::StoreLabel => "storeLabel",
            Self::TerminalLabel => "terminalLabel",
            Self::PurposeOfTransaction => "purposeOfTransaction",
            Self::LanguagePreference => "languagePreference",
            Self::MerchantNameAlternateLanguage => "merchantNameAlternateLanguage",
            Self::MerchantCityAlternateLanguage => "merchantCityAlternateLanguage",
            Self::UpiMerchantAccount => "upiMerchantAccount",
        }
    }
}

/// The fixed keys of a JSON object that the reader looks at. Matching a key with `match`
/// (by length, then bytes) is cheaper than comparing it with each name in turn.
trait Key: Copy {
    /// How many keys there are; slots are `0..COUNT`.
    const COUNT: usize;
    /// The slot of this key.
    fn slot(self) -> usize;
    /// The slot of the key written `key`, when it is one of them.
    fn slot_of(key: &str) -> Option<usize>;
    /// The key as written in the JSON (and in errors).
    fn name(self) -> &'static str;
}

/// The values of a JSON object under the keys `K`, read in one pass over the object (a view,
/// not a copy); [`Slots::get`] answers as `Map::get` on those keys.
struct Slots<'a, K: Key, const N: usize> {
    values: [Option<&'a Value>; N],
    keys: std::marker::PhantomData<K>,
}

impl<'a, K: Key, const N: usize> Slots<'a, K, N> {
    /// The values of `object` under the keys, leaving out those `skip` holds true for.
    fn new(object: Option<&'a Map<String, Value>>, skip: fn(&Value) -> bool) -> Self {
        let mut values = [None; N];
        for (key, value) in object.into_iter().flatten() {
            if skip(value) {
                continue;
            }
            if let Some(slot) = K::slot_of(key).and_then(|index| values.get_mut(index)) {
                *slot = Some(value);
            }
        }
        Self {
            values,
            keys: std::marker::PhantomData,
        }
    }

    fn get(&self, key: K) -> Option<&'a Value> {
        self.values.get(key.slot()).copied().flatten()
    }
}

/// The `optional` object as the SDK sees it after `removeEmptyElement`: keys whose value it
/// drops read as absent.
type Optional<'a> = Slots<'a, OptionalKey, { OptionalKey::COUNT }>;

/// The top-level input object.
type Top<'a> = Slots<'a, TopKey, { TopKey::COUNT }>;

struct Reader {
    deferred: Vec<Deferred>,
}

impl Reader {
    fn request<'a>(
        &mut self,
        top: &Top<'a>,
        optional: &Optional<'a>,
        is_merchant: bool,
    ) -> Result<RequestView<'a>, KhqrError> {
        let constructor_fields: &[TopKey] = if is_merchant {
            &[
                TopKey::BakongAccountId,
                TopKey::MerchantName,
                TopKey::MerchantCity,
                TopKey::MerchantId,
                TopKey::AcquiringBank,
            ]
        } else {
            &[
                TopKey::BakongAccountId,
                TopKey::MerchantName,
                TopKey::MerchantCity,
            ]
        };
        for &field in constructor_fields {
            if matches!(top.get(field), Some(Value::Object(_) | Value::Array(_))) {
                return Err(KhqrError::InvalidFieldType {
                    field: field.name(),
                });
            }
        }
        // Read in this order: findings of one stage are reported in the order they are made.
        let kind = if is_merchant {
            KindView::Merchant {
                merchant_id: self.positional(top, TopKey::MerchantId, Stage::Account),
                acquiring_bank: self.positional(top, TopKey::AcquiringBank, Stage::Account),
            }
        } else {
            KindView::Individual {
                account_information: self.text(
                    optional,
                    OptionalKey::AccountInformation,
                    Stage::Account,
                ),
                acquiring_bank: self.text(optional, OptionalKey::AcquiringBank, Stage::Account),
            }
        };
        let bakong_account_id = self.bakong_account_id(top.get(TopKey::BakongAccountId));
        let merchant_name = self.positional(top, TopKey::MerchantName, Stage::Name);
        let merchant_city = Some(self.positional(top, TopKey::MerchantCity, Stage::City))
            .filter(|city| !city.is_empty());
        let currency = self.currency(optional.get(OptionalKey::Currency));
        let amount = self.amount(optional.get(OptionalKey::Amount), currency);
        let expiration_ms = self.expiration(optional.get(OptionalKey::ExpirationTimestamp));
        // `String(merchantCategoryCode ?? "5999")`.
        let mcc = optional
            .get(OptionalKey::MerchantCategoryCode)
            .map(|value| match value {
                Value::String(text) => Cow::Borrowed(text.as_str()),
                value => Cow::Owned(to_js_string(value)),
            });
        let additional = Stage::Additional;
        let bill_number = self.text(optional, OptionalKey::BillNumber, additional);
        let mobile_number = self.text(optional, OptionalKey::MobileNumber, additional);
        let store_label = self.text(optional, OptionalKey::StoreLabel, additional);
        let terminal_label = self.text(optional, OptionalKey::TerminalLabel, additional);
        let purpose_of_transaction =
            self.text(optional, OptionalKey::PurposeOfTransaction, additional);
        let language = Stage::Language;
        let language_preference = self.text(optional, OptionalKey::LanguagePreference, language);
        let merchant_name_alternate_language = self.text(
            optional,
            OptionalKey::MerchantNameAlternateLanguage,
            language,
        );
        let merchant_city_alternate_language = self.text(
            optional,
            OptionalKey::MerchantCityAlternateLanguage,
            language,
        );
        let upi_merchant_account = self.text(optional, OptionalKey::UpiMerchantAccount, Stage::Upi);
        Ok(RequestView {
            kind,
            bakong_account_id,
            merchant_name,
            merchant_city,
            currency,
            amount,
            expiration_ms,
            mcc,
            bill_number,
            mobile_number,
            store_label,
            terminal_label,
            purpose_of_transaction,
            language_preference,
            merchant_name_alternate_language,
            merchant_city_alternate_language,
            upi_merchant_account,
        })
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
    fn bakong_account_id<'a>(&mut self, value: Option<&'a Value>) -> Cow<'a, str> {
        match value {
            Some(Value::String(text)) => Cow::Borrowed(text),
            Some(value) if !loosely_equals_empty_string(value) && !value.is_null() => {
                self.sdk(
                    Stage::Account,
                    KhqrError::InvalidFieldType {
                        field: TopKey::BakongAccountId.name(),
                    },
                );
                Cow::Borrowed("")
            }
            _ => Cow::Borrowed(""),
        }
    }

    /// A positional argument as text: `null`, `0`, `false` are empty (`value == ""` in the
    /// SDK's checks); a number is written as JavaScript writes it; `true` becomes "true" in the
    /// SDK's QR, which we refuse.
    fn positional<'a>(&mut self, top: &Top<'a>, field: TopKey, stage: Stage) -> Cow<'a, str> {
        match top.get(field) {
            None | Some(Value::Null) => Cow::Borrowed(""),
            Some(value) if loosely_equals_empty_string(value) => Cow::Borrowed(""),
            Some(Value::String(text)) => Cow::Borrowed(text),
            Some(Value::Number(number)) => Cow::Owned(json_number_to_string(number)),
            Some(value) => {
                self.strict(
                    stage,
                    KhqrError::InvalidFieldType {
                        field: field.name(),
                    },
                );
                Cow::Owned(to_js_string(value))
            }
        }
    }

    /// An optional text field (already filtered by [`is_removed`]): numbers as JavaScript
    /// writes them; booleans, objects and arrays, which the SDK writes as "true",
    /// "[object Object]" or a comma list, refused.
    fn text<'a>(
        &mut self,
        optional: &Optional<'a>,
        field: OptionalKey,
        stage: Stage,
    ) -> Option<Cow<'a, str>> {
        match optional.get(field)? {
            Value::String(text) => Some(Cow::Borrowed(text)),
            Value::Number(number) => Some(Cow::Owned(json_number_to_string(number))),
            value => {
                self.strict(
                    stage,
                    KhqrError::InvalidFieldType {
                        field: field.name(),
                    },
                );
                Some(Cow::Owned(to_js_string(value)))
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
                1.. if decimal_len(integer) <= AMOUNT_MAX => Some(Decimal::from(integer)),
                _ => {
                    self.sdk(Stage::Amount, KhqrError::TransactionAmountInvalid);
                    None
                }
            };
        }
        let number = to_number(value);
        if number.classify() == FpCategory::Zero {
            return None;
        }
        // `String(value)`: what the SDK's USD rules read, and what our decimal reading reads
        // (for a string or a number).
        let text = match value {
            Value::String(text) => Cow::Borrowed(text.as_str()),
            value => Cow::Owned(to_js_string(value)),
        };
        let Some(sdk_text) = sdk_amount_text_of(number, &text, currency == Currency::Khr) else {
            self.sdk(Stage::Amount, KhqrError::TransactionAmountInvalid);
            return None;
        };
        let ours = matches!(value, Value::String(_) | Value::Number(_))
            .then_some(&*text)
            .and_then(parse_amount)
            .and_then(|amount| Some((amount, amount_short(amount, currency).ok()?)));
        match ours {
            Some((amount, written)) if written.as_str() == sdk_text => Some(amount),
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
            if decimal_len(integer) != 13 {
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
#[cfg(test)]
fn sdk_amount_text(value: &Value, khr: bool) -> Option<String> {
    sdk_amount_text_of(to_number(value), &to_js_string(value), khr).map(Cow::into_owned)
}

/// [`sdk_amount_text`] of an amount read as `number` (`Number(amount)`) and written as `text`
/// (`String(amount)`).
fn sdk_amount_text_of(number: f64, text: &str, khr: bool) -> Option<Cow<'_, str>> {
    let written = if khr {
        // `amount % 1 == 0` then `Math.round(amount)`.
        if !is_integral(number) {
            return None;
        }
        Cow::Owned(number_to_string(number))
    } else {
        match text.split('.').nth(1) {
            Some(precision) if longer_than(precision, 2) => return None,
            Some(_) => Cow::Owned(to_fixed_2(parse_float(text))),
            None => Cow::Borrowed(text),
        }
    };
    // `TransactionAmount`: longer than 13, holding "-", or empty.
    if longer_than(&written, AMOUNT_MAX) || written.contains('-') || written.is_empty() {
        return None;
    }
    Some(written)
}

/// A decimal amount; `"1."` reads as `"1.0"` and `".5"` as `"0.5"`, as the SDK reads them.
fn parse_amount(text: &str) -> Option<Decimal> {
    let mut normalized = Cow::Borrowed(text);
    if normalized.starts_with('.') {
        normalized.to_mut().insert(0, '0');
    }
    if normalized.ends_with('.') {
        normalized.to_mut().push('0');
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
