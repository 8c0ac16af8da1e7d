//! The data objects of a KHQR as the encoder builds and checks them, each in the SDK's order
//! of checks.

use rust_decimal::Decimal;

use super::encode::Run;
use super::error::KhqrError;
use super::request::{Currency, KindView, RequestView};
use super::rules::{
    check_additional_data, check_bakong_account_id, check_text, is_timestamp, Fault,
    ACCOUNT_INFORMATION_MAX, ACQUIRING_BANK_MAX, ALTERNATE_CITY_MAX, ALTERNATE_NAME_MAX,
    AMOUNT_MAX, LANGUAGE_PREFERENCE_MAX, MERCHANT_ID_MAX, UPI_MAX,
};
use super::tlv::{longer_than, template_len, ShortText, Subs, MAX_VALUE_UTF16};

/// Tag 15, when given. An empty account is left out, as the SDK's truthiness test does.
pub(crate) fn upi_account<'a>(req: &'a RequestView<'_>) -> Result<Option<&'a str>, KhqrError> {
    let Some(upi) = req
        .upi_merchant_account
        .as_deref()
        .filter(|upi| !upi.is_empty())
    else {
        return Ok(None);
    };
    if longer_than(upi, UPI_MAX) {
        return Err(KhqrError::UpiAccountInformationLengthInvalid);
    }
    Ok(Some(upi))
}

/// Tag 29 or 30 and its sub-objects.
pub(crate) fn account_template<'a>(
    req: &'a RequestView<'_>,
    run: &mut Run<'_>,
) -> Result<(&'static str, Subs<'a, 3>), KhqrError> {
    match check_bakong_account_id(Some(&req.bakong_account_id)) {
        Ok(()) => {}
        Err(Fault::Sdk(error)) => return Err(error),
        Err(Fault::Strict(error)) => run.strict(error),
    }
    let id = Some(&*req.bakong_account_id);
    let (tag, subs) = match &req.kind {
        KindView::Merchant {
            merchant_id,
            acquiring_bank,
        } => {
            if merchant_id.is_empty() {
                return Err(KhqrError::MerchantIdRequired);
            }
            if longer_than(merchant_id, MERCHANT_ID_MAX) {
                return Err(KhqrError::MerchantIdLengthInvalid);
            }
            check_acquiring_bank(acquiring_bank)?;
            let subs = [
                ("00", id),
                ("01", Some(&**merchant_id)),
                ("02", Some(&**acquiring_bank)),
            ];
            ("30", subs)
        }
        KindView::Individual {
            account_information,
            acquiring_bank,
        } => {
            if let Some(information) = account_information {
                if longer_than(information, ACCOUNT_INFORMATION_MAX) {
                    return Err(KhqrError::AccountInformationLengthInvalid);
                }
                // The SDK writes an empty account information as "0100".
                if information.is_empty() {
                    run.strict(KhqrError::AccountInformationLengthInvalid);
                }
            }
            if let Some(bank) = acquiring_bank {
                check_acquiring_bank(bank)?;
            }
            let subs = [
                ("00", id),
                ("01", account_information.as_deref()),
                ("02", acquiring_bank.as_deref()),
            ];
            ("29", subs)
        }
    };
    check_template_length(tag, &subs, run);
    Ok((tag, subs))
}

/// The SDK writes a 3-digit length past 99 code units (and its own decoder then hangs).
fn check_template_length(
    tag: &'static str,
    subs: &[(&'static str, Option<&str>)],
    run: &mut Run<'_>,
) {
    // A UTF-16 length never exceeds the UTF-8 length: count units only when bytes are many.
    let bytes = subs
        .iter()
        .filter_map(|(_, value)| *value)
        .map(|value| value.len().saturating_add(4))
        .fold(0, usize::saturating_add);
    if bytes <= MAX_VALUE_UTF16 {
        return;
    }
    let length_utf16 = template_len(subs);
    if length_utf16 > MAX_VALUE_UTF16 {
        run.strict(KhqrError::TemplateTooLong { tag, length_utf16 });
    }
}

fn check_acquiring_bank(bank: &str) -> Result<(), KhqrError> {
    if bank.is_empty() {
        return Err(KhqrError::AcquiringBankRequired);
    }
    if longer_than(bank, ACQUIRING_BANK_MAX) {
        return Err(KhqrError::AcquiringBankLengthInvalid);
    }
    Ok(())
}

/// Tag 52: the SDK's checks (25, 18 when longer than 4, 51), then ours: exactly 4 digits.
pub(crate) fn check_mcc(mcc: &str, run: &mut Run<'_>) -> Result<(), KhqrError> {
    if mcc.is_empty() {
        return Err(KhqrError::MerchantCategoryTagRequired);
    }
    if longer_than(mcc, 4) {
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

/// Tag 54 as the SDK writes it (see [`super::KhqrRequest::amount`]), on the stack.
pub(crate) fn amount_short(amount: Decimal, currency: Currency) -> Result<ShortText, KhqrError> {
    if amount.is_sign_negative() {
        return Err(KhqrError::TransactionAmountInvalid);
    }
    // Written from the mantissa and scale (the value is mantissa / 10^scale) rather than with
    // `Decimal` arithmetic and `Display`: the same digits at a fraction of the cost.
    let mantissa = amount.mantissa().unsigned_abs();
    let (mantissa, scale) = match (currency, amount.scale()) {
        (_, 0) => (mantissa, 0),
        // KHR: a whole number, written without decimals (`trunc().normalize()`).
        (Currency::Khr, scale) => {
            let unit = 10_u128
                .checked_pow(scale)
                .ok_or(KhqrError::TransactionAmountInvalid)?;
            if mantissa.checked_rem(unit) != Some(0) {
                return Err(KhqrError::TransactionAmountInvalid);
            }
            (mantissa / unit, 0)
        }
        // USD: exactly two decimals once there are any (`rescale(2)`).
        (Currency::Usd, 1) => (mantissa.saturating_mul(10), 2),
        (Currency::Usd, 2) => (mantissa, 2),
        (Currency::Usd, _) => return Err(KhqrError::TransactionAmountInvalid),
    };
    let mut written = ShortText::new();
    // Longer than 32 bytes is longer than 13 too.
    if !written.push_decimal(mantissa, scale) || written.len() > AMOUNT_MAX {
        return Err(KhqrError::TransactionAmountInvalid);
    }
    Ok(written)
}

/// Tag 62's value, or `None` when every field is absent or empty.
pub(crate) fn additional_data<'a>(
    req: &'a RequestView<'_>,
    run: &mut Run<'_>,
) -> Result<Option<Subs<'a, 5>>, KhqrError> {
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
    check_template_length("62", &fields, run);
    Ok(Some(fields))
}

/// Tag 64's value, or `None` when every field is absent or empty.
pub(crate) fn language_template<'a>(
    req: &'a RequestView<'_>,
    run: &mut Run<'_>,
) -> Result<Option<Subs<'a, 3>>, KhqrError> {
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
    Ok(Some([("00", preference), ("01", name), ("02", city)]))
}

/// Tag 99's sub-values for a dynamic QR: creation (`now_ms`) and expiration, as text.
pub(crate) fn timestamp_template(
    expiration_ms: Option<i64>,
    now_ms: i64,
    run: &mut Run<'_>,
) -> Result<(ShortText, ShortText), KhqrError> {
    let expiration = match expiration_ms {
        None | Some(0) => return Err(KhqrError::ExpirationTimestampRequired),
        Some(expiration) => expiration,
    };
    let expiration_text = ShortText::from_i64(expiration);
    if expiration_text.len() != 13 {
        return Err(KhqrError::ExpirationTimestampLengthInvalid);
    }
    if expiration < now_ms {
        return Err(KhqrError::ExpirationTimestampInThePast);
    }
    let now_text = ShortText::from_i64(now_ms);
    if !is_timestamp(now_text.as_bytes()) {
        run.strict(KhqrError::ClockOutOfRange { now_ms });
    }
    Ok((now_text, expiration_text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`amount_short`] as first written, with `Decimal` arithmetic and `Display`.
    fn reference(amount: Decimal, currency: Currency) -> Option<String> {
        if amount.is_sign_negative() {
            return None;
        }
        let text = match currency {
            Currency::Khr => {
                if !amount.fract().is_zero() {
                    return None;
                }
                amount.trunc().normalize()
            }
            Currency::Usd => match amount.scale() {
                0 => amount,
                1 | 2 => {
                    let mut fixed = amount;
                    fixed.rescale(2);
                    fixed
                }
                _ => return None,
            },
        };
        let written = text.to_string();
        (written.len() <= AMOUNT_MAX).then_some(written)
    }

    #[test]
    fn amounts_are_written_as_decimal_arithmetic_writes_them() {
        let mut mantissas: Vec<i128> = vec![0, 1, 5, 9, 10, 50, 99, 100, 150, 1_000, 123_456];
        mantissas.extend([9_999_999_999_999, 10_000_000_000_000, 99_999_999_999_999]);
        mantissas.extend([-1, -150, 79_228_162_514_264_337_593_543_950_335]);
        for mantissa in mantissas {
            for scale in 0..=28 {
                let amount = Decimal::from_i128_with_scale(mantissa, scale);
                for currency in [Currency::Khr, Currency::Usd] {
                    let ours = amount_short(amount, currency)
                        .ok()
                        .map(|text| text.as_str().to_owned());
                    assert_eq!(ours, reference(amount, currency), "{amount} {currency:?}");
                }
            }
        }
    }
}
