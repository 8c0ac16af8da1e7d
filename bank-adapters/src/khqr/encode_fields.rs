//! The data objects of a KHQR as the encoder builds and checks them, each in the SDK's order
//! of checks.

use rust_decimal::Decimal;

use super::encode::Run;
use super::error::KhqrError;
use super::request::{AccountKind, Currency, KhqrRequest};
use super::rules::{
    check_additional_data, check_bakong_account_id, check_text, is_timestamp, Fault,
    ACCOUNT_INFORMATION_MAX, ACQUIRING_BANK_MAX, ALTERNATE_CITY_MAX, ALTERNATE_NAME_MAX,
    AMOUNT_MAX, LANGUAGE_PREFERENCE_MAX, MERCHANT_ID_MAX, UPI_MAX,
};
use super::tlv::{push, utf16_len, MAX_VALUE_UTF16};

/// Tag 15, when given. An empty account is left out, as the SDK's truthiness test does.
pub(crate) fn upi_account(req: &KhqrRequest) -> Result<Option<&str>, KhqrError> {
    let Some(upi) = req
        .upi_merchant_account
        .as_deref()
        .filter(|upi| !upi.is_empty())
    else {
        return Ok(None);
    };
    if utf16_len(upi) > UPI_MAX {
        return Err(KhqrError::UpiAccountInformationLengthInvalid);
    }
    Ok(Some(upi))
}

/// Tag 29 or 30 and its value.
pub(crate) fn account_template(
    req: &KhqrRequest,
    run: &mut Run<'_>,
) -> Result<(&'static str, String), KhqrError> {
    match check_bakong_account_id(Some(&req.bakong_account_id)) {
        Ok(()) => {}
        Err(Fault::Sdk(error)) => return Err(error),
        Err(Fault::Strict(error)) => run.strict(error),
    }
    let mut value = String::new();
    push(&mut value, "00", &req.bakong_account_id)?;
    let tag = match &req.kind {
        AccountKind::Merchant {
            merchant_id,
            acquiring_bank,
        } => {
            if merchant_id.is_empty() {
                return Err(KhqrError::MerchantIdRequired);
            }
            if utf16_len(merchant_id) > MERCHANT_ID_MAX {
                return Err(KhqrError::MerchantIdLengthInvalid);
            }
            check_acquiring_bank(acquiring_bank)?;
            push(&mut value, "01", merchant_id)?;
            push(&mut value, "02", acquiring_bank)?;
            "30"
        }
        AccountKind::Individual {
            account_information,
            acquiring_bank,
        } => {
            if let Some(information) = account_information {
                if utf16_len(information) > ACCOUNT_INFORMATION_MAX {
                    return Err(KhqrError::AccountInformationLengthInvalid);
                }
                // The SDK writes an empty account information as "0100".
                if information.is_empty() {
                    run.strict(KhqrError::AccountInformationLengthInvalid);
                }
                push(&mut value, "01", information)?;
            }
            if let Some(bank) = acquiring_bank {
                check_acquiring_bank(bank)?;
                push(&mut value, "02", bank)?;
            }
            "29"
        }
    };
    check_template_length(tag, &value, run);
    Ok((tag, value))
}

/// The SDK writes a 3-digit length past 99 code units (and its own decoder then hangs).
fn check_template_length(tag: &'static str, value: &str, run: &mut Run<'_>) {
    let length_utf16 = utf16_len(value);
    if length_utf16 > MAX_VALUE_UTF16 {
        run.strict(KhqrError::TemplateTooLong { tag, length_utf16 });
    }
}

fn check_acquiring_bank(bank: &str) -> Result<(), KhqrError> {
    if bank.is_empty() {
        return Err(KhqrError::AcquiringBankRequired);
    }
    if utf16_len(bank) > ACQUIRING_BANK_MAX {
        return Err(KhqrError::AcquiringBankLengthInvalid);
    }
    Ok(())
}

/// Tag 52: the SDK's checks (25, 18 when longer than 4, 51), then ours: exactly 4 digits.
pub(crate) fn check_mcc(mcc: &str, run: &mut Run<'_>) -> Result<(), KhqrError> {
    if mcc.is_empty() {
        return Err(KhqrError::MerchantCategoryTagRequired);
    }
    if utf16_len(mcc) > 4 {
        return Err(KhqrError::MerchantCodeLengthInvalid);
    }
    if !mcc.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(KhqrError::InvalidMerchantCategoryCode);
    }
    if mcc.len() != 4 {
        run.strict(KhqrError::MerchantCodeLengthInvalid);
    }
    Ok(())
}

/// Tag 54 as the SDK writes it (see [`KhqrRequest::amount`]).
pub(crate) fn amount_text(amount: Decimal, currency: Currency) -> Result<String, KhqrError> {
    if amount.is_sign_negative() {
        return Err(KhqrError::TransactionAmountInvalid);
    }
    let text = match currency {
        Currency::Khr => {
            if !amount.fract().is_zero() {
                return Err(KhqrError::TransactionAmountInvalid);
            }
            amount.trunc().normalize().to_string()
        }
        Currency::Usd => match amount.scale() {
            0 => amount.to_string(),
            1 | 2 => {
                let mut fixed = amount;
                fixed.rescale(2);
                fixed.to_string()
            }
            _ => return Err(KhqrError::TransactionAmountInvalid),
        },
    };
    if text.len() > AMOUNT_MAX {
        return Err(KhqrError::TransactionAmountInvalid);
    }
    Ok(text)
}

/// Tag 62's value, or `None` when every field is absent or empty.
pub(crate) fn additional_data(
    req: &KhqrRequest,
    run: &mut Run<'_>,
) -> Result<Option<String>, KhqrError> {
    let fields = [
        ("01", req.bill_number.as_deref()),
        ("02", req.mobile_number.as_deref()),
        ("03", req.store_label.as_deref()),
        ("07", req.terminal_label.as_deref()),
        ("08", req.purpose_of_transaction.as_deref()),
    ];
    if fields
        .iter()
        .all(|(_, value)| value.is_none_or(str::is_empty))
    {
        return Ok(None);
    }
    check_additional_data(fields.map(|(_, value)| value))?;
    let mut value = String::new();
    for (tag, field) in fields {
        if let Some(field) = field {
            push(&mut value, tag, field)?;
        }
    }
    check_template_length("62", &value, run);
    Ok(Some(value))
}

/// Tag 64's value, or `None` when every field is absent or empty.
pub(crate) fn language_template(
    req: &KhqrRequest,
    run: &mut Run<'_>,
) -> Result<Option<String>, KhqrError> {
    let preference = req.language_preference.as_deref();
    let name = req.merchant_name_alternate_language.as_deref();
    let city = req.merchant_city_alternate_language.as_deref();
    if [preference, name, city]
        .iter()
        .all(|value| value.is_none_or(str::is_empty))
    {
        return Ok(None);
    }
    if preference.is_some_and(|value| !value.is_empty()) && name.is_none_or(str::is_empty) {
        return Err(KhqrError::MerchantNameAlternateLanguageRequired);
    }
    if let Some(name) = name {
        // The SDK crashes here (`undefined.length`) without a preference; 37 says why.
        let preference = preference.ok_or(KhqrError::LanguagePreferenceRequired)?;
        check_text(
            preference,
            LANGUAGE_PREFERENCE_MAX,
            KhqrError::LanguagePreferenceLengthInvalid,
        )?;
        if !(preference.len() == 2 && preference.bytes().all(|byte| byte.is_ascii_alphabetic())) {
            run.strict(KhqrError::LanguagePreferenceLengthInvalid);
        }
        check_text(
            name,
            ALTERNATE_NAME_MAX,
            KhqrError::MerchantNameAlternateLanguageLengthInvalid,
        )?;
    }
    if let Some(city) = city {
        check_text(
            city,
            ALTERNATE_CITY_MAX,
            KhqrError::MerchantCityAlternateLanguageLengthInvalid,
        )?;
    }
    // EMV makes sub-tags 00 and 01 mandatory; the SDK writes a template with 02 alone.
    if name.is_none() {
        run.strict(KhqrError::LanguagePreferenceRequired);
    }
    let mut value = String::new();
    for (tag, field) in [("00", preference), ("01", name), ("02", city)] {
        if let Some(field) = field {
            push(&mut value, tag, field)?;
        }
    }
    Ok(Some(value))
}

/// Tag 99's value for a dynamic QR.
pub(crate) fn timestamp_template(
    expiration_ms: Option<i64>,
    now_ms: i64,
    run: &mut Run<'_>,
) -> Result<String, KhqrError> {
    let expiration = match expiration_ms {
        None | Some(0) => return Err(KhqrError::ExpirationTimestampRequired),
        Some(expiration) => expiration,
    };
    let expiration_text = expiration.to_string();
    if expiration_text.len() != 13 {
        return Err(KhqrError::ExpirationTimestampLengthInvalid);
    }
    if expiration < now_ms {
        return Err(KhqrError::ExpirationTimestampInThePast);
    }
    let now_text = now_ms.to_string();
    if !is_timestamp(&now_text) {
        run.strict(KhqrError::ClockOutOfRange { now_ms });
    }
    let mut value = String::new();
    push(&mut value, "00", &now_text)?;
    push(&mut value, "01", &expiration_text)?;
    Ok(value)
}
