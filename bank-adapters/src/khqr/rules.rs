//! Field rules shared by the encoder and the verifier, in the SDK's check order.

use super::error::KhqrError;
use super::tlv::longer_than;

/// Limits from the SDK's `emv.INVALID_LENGTH`, in UTF-16 code units.
pub(crate) const BAKONG_ACCOUNT_MAX: usize = 32;
pub(crate) const ACCOUNT_INFORMATION_MAX: usize = 32;
pub(crate) const MERCHANT_ID_MAX: usize = 32;
pub(crate) const ACQUIRING_BANK_MAX: usize = 32;
pub(crate) const MERCHANT_NAME_MAX: usize = 25;
pub(crate) const MERCHANT_CITY_MAX: usize = 15;
pub(crate) const AMOUNT_MAX: usize = 13;
pub(crate) const ADDITIONAL_FIELD_MAX: usize = 25;
pub(crate) const LANGUAGE_PREFERENCE_MAX: usize = 2;
pub(crate) const ALTERNATE_NAME_MAX: usize = 25;
pub(crate) const ALTERNATE_CITY_MAX: usize = 15;
pub(crate) const UPI_MAX: usize = 99;
pub(crate) const TIMESTAMP_DIGITS: usize = 13;

/// The default merchant category code (tag 52).
pub(crate) const DEFAULT_MCC: &str = "5999";
/// The default merchant city (tag 60).
pub(crate) const DEFAULT_CITY: &str = "Phnom Penh";

/// A finding of a field rule: refused by the SDK too, or only by us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The SDK refuses it with this code.
    Sdk(KhqrError),
    /// The SDK accepts it; we refuse it when nothing the SDK refuses comes first.
    Strict(KhqrError),
}

/// Sub-tag 00 of tag 29/30: required, ≤ 32, and `name@domain` with exactly one `@`.
///
/// The SDK accepts any string holding at least one `@` (even `"@"`), which cannot be a
/// Bakong account; we ask for exactly one `@` with text on both sides.
pub(crate) fn check_bakong_account_id(value: Option<&str>) -> Result<(), Fault> {
    let value = value.unwrap_or_default();
    if value.is_empty() {
        return Err(Fault::Sdk(KhqrError::BakongAccountIdRequired));
    }
    if longer_than(value, BAKONG_ACCOUNT_MAX) {
        return Err(Fault::Sdk(KhqrError::BakongAccountIdLengthInvalid));
    }
    // `@` is ASCII, so a byte scan finds it (`str::split_once` costs several times more).
    let bytes = value.as_bytes();
    match bytes.iter().position(|&byte| byte == b'@') {
        None => Err(Fault::Sdk(KhqrError::BakongAccountIdInvalid)),
        Some(at) => {
            let domain = bytes.get(at.saturating_add(1)..).unwrap_or_default();
            if at > 0 && !domain.is_empty() && !domain.contains(&b'@') {
                Ok(())
            } else {
                Err(Fault::Strict(KhqrError::BakongAccountIdInvalid))
            }
        }
    }
}

/// Tag 52: required (25), at most 4 code units (18), digits only (51); and, ours, exactly 4.
pub(crate) fn check_mcc(value: &str) -> Result<(), Fault> {
    if value.is_empty() {
        return Err(Fault::Sdk(KhqrError::MerchantCategoryTagRequired));
    }
    if longer_than(value, 4) {
        return Err(Fault::Sdk(KhqrError::MerchantCodeLengthInvalid));
    }
    if !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Fault::Sdk(KhqrError::InvalidMerchantCategoryCode));
    }
    if value.len() != 4 {
        return Err(Fault::Strict(KhqrError::MerchantCodeLengthInvalid));
    }
    Ok(())
}

/// A text field that must be non-empty and at most `max` code units long.
#[inline]
pub(crate) fn check_text(value: &str, max: usize, error: KhqrError) -> Result<(), KhqrError> {
    if value.is_empty() || longer_than(value, max) {
        return Err(error);
    }
    Ok(())
}

/// A text field that may be empty but at most `max` code units long.
#[inline]
pub(crate) fn check_max(value: &str, max: usize, error: KhqrError) -> Result<(), KhqrError> {
    if longer_than(value, max) {
        return Err(error);
    }
    Ok(())
}

/// Tag 62's sub-fields in the order the SDK checks them: bill number, mobile number, store
/// label, terminal label, purpose of transaction. `None` is absent.
pub(crate) fn check_additional_data(fields: [Option<&str>; 5]) -> Result<(), KhqrError> {
    // The error is built only for the field that fails.
    let errors: [fn() -> KhqrError; 5] = [
        || KhqrError::BillNumberLengthInvalid,
        || KhqrError::MobileNumberLengthInvalid,
        || KhqrError::StoreLabelLengthInvalid,
        || KhqrError::TerminalLabelLengthInvalid,
        || KhqrError::PurposeOfTransactionLengthInvalid,
    ];
    for (field, error) in fields.into_iter().zip(errors) {
        if field.is_some_and(|value| value.is_empty() || longer_than(value, ADDITIONAL_FIELD_MAX)) {
            return Err(error());
        }
    }
    Ok(())
}

/// Tag 64 as the SDK's verifier checks it (39, 37 where the SDK crashes, 38, 40, 41), then
/// ours: sub-tags 00 and 01 are both mandatory in EMV, so a template with 02 alone is refused
/// (the SDK accepts it).
pub(crate) fn check_language_template(
    preference: Option<&str>,
    alternate_name: Option<&str>,
    alternate_city: Option<&str>,
) -> Result<(), Fault> {
    let sdk = Fault::Sdk;
    if preference.is_some_and(|value| !value.is_empty()) && alternate_name.is_none_or(str::is_empty)
    {
        return Err(sdk(KhqrError::MerchantNameAlternateLanguageRequired));
    }
    if let Some(name) = alternate_name {
        let preference = preference.ok_or(sdk(KhqrError::LanguagePreferenceRequired))?;
        check_text(
            preference,
            LANGUAGE_PREFERENCE_MAX,
            KhqrError::LanguagePreferenceLengthInvalid,
        )
        .map_err(sdk)?;
        check_text(
            name,
            ALTERNATE_NAME_MAX,
            KhqrError::MerchantNameAlternateLanguageLengthInvalid,
        )
        .map_err(sdk)?;
    }
    if let Some(city) = alternate_city {
        check_text(
            city,
            ALTERNATE_CITY_MAX,
            KhqrError::MerchantCityAlternateLanguageLengthInvalid,
        )
        .map_err(sdk)?;
    }
    if alternate_name.is_none() {
        return Err(Fault::Strict(KhqrError::LanguagePreferenceRequired));
    }
    Ok(())
}

/// Whether `value` is a plain unsigned decimal number: digits, then optionally `.` and digits.
pub(crate) fn is_plain_decimal(value: &str) -> bool {
    // On bytes: `.` and digits are ASCII (`str::split_once` costs several times more).
    let bytes = value.as_bytes();
    let (whole, fraction) = match bytes.iter().position(|&byte| byte == b'.') {
        Some(point) => (
            bytes.get(..point).unwrap_or_default(),
            Some(bytes.get(point.saturating_add(1)..).unwrap_or_default()),
        ),
        None => (bytes, None),
    };
    let digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    digits(whole) && fraction.is_none_or(digits)
}

/// Whether `value` is exactly 13 ASCII digits without a leading zero (a millisecond timestamp
/// of our era, written as JS `String(Number(x))` would write it).
pub(crate) fn is_timestamp(value: &[u8]) -> bool {
    value.len() == TIMESTAMP_DIGITS
        && value.iter().all(u8::is_ascii_digit)
        && value.first() != Some(&b'0')
}
