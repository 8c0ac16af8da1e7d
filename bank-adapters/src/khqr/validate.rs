//! Field rules of a parsed KHQR, in the order of the SDK's `decodeValidation.js`:
//! dynamic-QR presence checks, then required tags, then each data object in the order it
//! appears in the string. As in the encoder, our stricter rules are noted on the way and the
//! first of them is reported only when every SDK rule passes.

use super::decode::{Parsed, Template};
use super::error::KhqrError;
use super::js::{number_to_string, string_to_number};
use super::rules::{
    check_additional_data, check_bakong_account_id, check_language_template, check_max, check_mcc,
    is_plain_decimal, is_timestamp, Fault, ACCOUNT_INFORMATION_MAX, ACQUIRING_BANK_MAX, AMOUNT_MAX,
    MERCHANT_CITY_MAX, MERCHANT_NAME_MAX, TIMESTAMP_DIGITS,
};
use super::tlv::{longer_than, tag_text};

/// Checks every field rule; `now_ms` adds the expiry check (code 46).
pub(crate) fn validate(parsed: &Parsed<'_>, now_ms: Option<i64>) -> Result<(), KhqrError> {
    let has = |tag: u8| parsed.has(tag);
    let dynamic = parsed.value(1) == Some("12");
    if dynamic && !has(54) {
        return Err(KhqrError::InvalidDynamicKhqr);
    }
    if (dynamic || has(54)) && !has(99) {
        return Err(KhqrError::ExpirationTimestampRequired);
    }
    // The SDK's required tags, in its order; the error is built only for the missing one.
    let required: [(u8, fn() -> KhqrError); 8] = [
        (0, || KhqrError::PayloadFormatIndicatorTagRequired),
        (29, || KhqrError::MerchantTypeRequired),
        (52, || KhqrError::MerchantCategoryTagRequired),
        (53, || KhqrError::CurrencyTypeRequired),
        (58, || KhqrError::CountryCodeTagRequired),
        (59, || KhqrError::MerchantNameRequired),
        (60, || KhqrError::MerchantCityTagRequired),
        (63, || KhqrError::CrcTagRequired),
    ];
    for (tag, error) in required {
        let present = has(tag) || (tag == 29 && has(30));
        if !present {
            return Err(error());
        }
    }
    let mut checker = Checker {
        strict: None,
        dynamic,
        // The SDK applies the dynamic timestamp rules only when tag 01 comes before tag 99.
        sdk_dynamic: false,
        now_ms,
    };
    for tag in parsed.tags() {
        if tag == 1 {
            checker.sdk_dynamic = dynamic;
        }
        checker.object(tag, parsed)?;
    }
    checker.strict.map_or(Ok(()), Err)
}

struct Checker {
    strict: Option<KhqrError>,
    dynamic: bool,
    sdk_dynamic: bool,
    now_ms: Option<i64>,
}

impl Checker {
    /// An SDK fault now; a strict one kept for the end.
    fn fault(&mut self, result: Result<(), Fault>) -> Result<(), KhqrError> {
        match result {
            Ok(()) => Ok(()),
            Err(Fault::Sdk(error)) => Err(error),
            Err(Fault::Strict(error)) => {
                self.strict.get_or_insert(error);
                Ok(())
            }
        }
    }

    /// Notes the error `error()` builds (only then) when `condition` holds.
    fn strict_if(&mut self, condition: bool, error: impl FnOnce() -> KhqrError) {
        if condition && self.strict.is_none() {
            self.strict = Some(error());
        }
    }

    /// The rules of top-level data object `tag`.
    fn object(&mut self, tag: u8, parsed: &Parsed<'_>) -> Result<(), KhqrError> {
        // Every tag matched below but the last arm has a value in `parsed`.
        let value = parsed.value(tag).unwrap_or_default();
        let template = parsed.template(tag);
        match tag {
            0 => {
                if value.is_empty() {
                    return Err(KhqrError::PayloadFormatIndicatorTagRequired);
                }
                check_max(value, 2, KhqrError::PayloadFormatIndicatorLengthInvalid)
            }
            1 => {
                check_max(value, 2, KhqrError::PointOfInitiationLengthInvalid)?;
                match value {
                    "11" | "12" => Ok(()),
                    _ => Err(KhqrError::PointOfInitiationMethodInvalid),
                }
            }
            29 | 30 => self.account(tag, value, template),
            52 => self.fault(check_mcc(value)),
            53 => validate_currency(value),
            54 => self.amount(value),
            58 => required_max(
                value,
                3,
                KhqrError::CountryCodeTagRequired,
                KhqrError::CountryCodeLengthInvalid,
            ),
            59 => required_max(
                value,
                MERCHANT_NAME_MAX,
                KhqrError::MerchantNameRequired,
                KhqrError::MerchantNameLengthInvalid,
            ),
            60 => required_max(
                value,
                MERCHANT_CITY_MAX,
                KhqrError::MerchantCityTagRequired,
                KhqrError::MerchantCityLengthInvalid,
            ),
            62 => {
                check_additional_data([1, 2, 3, 7, 8].map(|sub| template.sub(sub)))?;
                self.template_content(tag, value, template);
                Ok(())
            }
            64 => {
                let [preference, name, city] = [0, 1, 2].map(|sub| template.sub(sub));
                let result = check_language_template(preference, name, city);
                self.fault(result)?;
                self.template_content(tag, value, template);
                Ok(())
            }
            99 => {
                self.timestamps(template)?;
                self.template_content(tag, value, template);
                Ok(())
            }
            // Checked before parsing.
            63 => Ok(()),
            _ => {
                self.strict_if(parsed.is_empty(tag), || empty(tag, None));
                Ok(())
            }
        }
    }

    /// A template the SDK accepts empty, and sub-objects it never checks (those without a
    /// field), must hold something.
    fn template_content(&mut self, tag: u8, value: &str, template: &Template<'_>) {
        if self.strict.is_some() {
            return;
        }
        self.strict_if(value.is_empty(), || empty(tag, None));
        if let Some(sub) = template.unnamed_empty {
            self.strict_if(true, || empty(tag, Some(sub)));
        }
    }

    /// Tag 29/30. The SDK's verifier checks a merchant's sub-tag 01 with the individual rule
    /// (35) and does not require sub-tags 01 and 02 of tag 30; we keep that.
    fn account(&mut self, tag: u8, value: &str, template: &Template<'_>) -> Result<(), KhqrError> {
        self.fault(check_bakong_account_id(template.sub(0)))?;
        if let Some(information) = template.sub(1) {
            check_max(
                information,
                ACCOUNT_INFORMATION_MAX,
                KhqrError::AccountInformationLengthInvalid,
            )?;
            self.strict_if(information.is_empty(), || {
                KhqrError::AccountInformationLengthInvalid
            });
        }
        if let Some(bank) = template.sub(2) {
            if bank.is_empty() {
                return Err(KhqrError::AcquiringBankRequired);
            }
            check_max(
                bank,
                ACQUIRING_BANK_MAX,
                KhqrError::AcquiringBankLengthInvalid,
            )?;
        }
        self.template_content(tag, value, template);
        Ok(())
    }

    /// Tag 54: the SDK refuses empty, longer than 13, or holding `-`; we also want a plain
    /// decimal number (no exponent, comma, space or letter).
    fn amount(&mut self, value: &str) -> Result<(), KhqrError> {
        if value.is_empty() || longer_than(value, AMOUNT_MAX) || value.contains('-') {
            return Err(KhqrError::TransactionAmountInvalid);
        }
        self.strict_if(!is_plain_decimal(value), || {
            KhqrError::TransactionAmountInvalid
        });
        Ok(())
    }

    /// Tag 99. For a dynamic QR the SDK reads both timestamps with `Number()` and refuses, in
    /// order: 45 (expiration missing, not a number, or 0), 49 (not 13 characters once written
    /// back), 50 (before creation), 46 (before now). We also want every timestamp present, in
    /// a static QR too, to be written as 13 digits.
    fn timestamps(&mut self, template: &Template<'_>) -> Result<(), KhqrError> {
        let creation = template.sub(0);
        let expiration = template.sub(1);
        if self.dynamic {
            let sdk_checks = self.dynamic_timestamps(creation, expiration);
            if self.sdk_dynamic {
                sdk_checks?;
            } else if let Err(error) = sdk_checks {
                self.strict_if(true, || error);
            }
        }
        self.strict_if(
            expiration.is_some_and(|expiration| !is_timestamp(expiration.as_bytes())),
            || KhqrError::ExpirationTimestampLengthInvalid,
        );
        self.strict_if(
            creation.is_some_and(|creation| !is_timestamp(creation.as_bytes())),
            || KhqrError::CreationTimestampInvalid,
        );
        Ok(())
    }

    fn dynamic_timestamps(
        &self,
        creation: Option<&str>,
        expiration: Option<&str>,
    ) -> Result<(), KhqrError> {
        if let Some(result) = self.integer_timestamps(creation, expiration) {
            return result;
        }
        let expiration = expiration.map_or(f64::NAN, string_to_number);
        if expiration.is_nan() || expiration == 0.0 {
            return Err(KhqrError::ExpirationTimestampRequired);
        }
        if number_to_string(expiration).len() != 13 {
            return Err(KhqrError::ExpirationTimestampLengthInvalid);
        }
        let creation = creation.map_or(f64::NAN, string_to_number);
        if expiration < creation {
            return Err(KhqrError::ExpirationTimestampInThePast);
        }
        if let Some(now_ms) = self.now_ms {
            // Exact: both are integers far below 2^53 here or the comparison is moot.
            let now = now_ms.to_string().parse::<f64>().unwrap_or(f64::NAN);
            if expiration < now {
                return Err(KhqrError::KhqrExpired);
            }
        }
        Ok(())
    }
}

impl Checker {
    /// [`Self::dynamic_timestamps`] without floating point, when every number involved is an
    /// integer that `f64` holds exactly (the usual case): an expiration (and creation, when
    /// present) of 1–15 digits without a leading zero, which `Number()` reads as that integer
    /// and `String()` writes back unchanged, and a clock within ±2^53. `None` otherwise.
    fn integer_timestamps(
        &self,
        creation: Option<&str>,
        expiration: Option<&str>,
    ) -> Option<Result<(), KhqrError>> {
        const EXACT: i64 = 1 << 53;
        let expiration_text = expiration?;
        let expiration = plain_integer(expiration_text)?;
        let creation = match creation {
            Some(text) => Some(plain_integer(text)?),
            None => None,
        };
        let now = match self.now_ms {
            Some(now) if (-EXACT..=EXACT).contains(&now) => Some(now),
            Some(_) => return None,
            None => None,
        };
        // Not 0 (no leading zero), so never code 45 here.
        if expiration_text.len() != TIMESTAMP_DIGITS {
            return Some(Err(KhqrError::ExpirationTimestampLengthInvalid));
        }
        if creation.is_some_and(|creation| expiration < creation) {
            return Some(Err(KhqrError::ExpirationTimestampInThePast));
        }
        if now.is_some_and(|now| expiration < now) {
            return Some(Err(KhqrError::KhqrExpired));
        }
        Some(Ok(()))
    }
}

/// The value of 1–15 ASCII digits without a leading zero.
fn plain_integer(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 15 || bytes.first() == Some(&b'0') {
        return None;
    }
    // At most 15 digits: below 10^15, no overflow (cheaper than `str::parse`).
    bytes.iter().try_fold(0_i64, |value, &byte| {
        let digit = byte.wrapping_sub(b'0');
        (digit < 10).then(|| value * 10 + i64::from(digit))
    })
}

fn empty(tag: u8, sub: Option<u8>) -> KhqrError {
    let tag = match sub {
        Some(sub) => format!("{}.{}", tag_text(tag), tag_text(sub)),
        None => tag_text(tag),
    };
    KhqrError::EmptyValue { tag }
}

#[inline]
fn required_max(
    value: &str,
    max: usize,
    required: KhqrError,
    too_long: KhqrError,
) -> Result<(), KhqrError> {
    if value.is_empty() {
        return Err(required);
    }
    check_max(value, max, too_long)
}

fn validate_currency(value: &str) -> Result<(), KhqrError> {
    if value.is_empty() {
        return Err(KhqrError::CurrencyTypeRequired);
    }
    check_max(value, 3, KhqrError::TransactionCurrencyLengthInvalid)?;
    match value {
        "116" | "840" => Ok(()),
        _ => Err(KhqrError::UnsupportedCurrency),
    }
}
