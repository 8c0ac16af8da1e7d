//! The KHQR encoder: a typed request in, the exact string the SDK would emit out.
//!
//! The SDK's checks run in its generation order (tag 15 → 29/30 → 52 → 53 → UPI+USD → 54 →
//! 59 → 60 → 62 → 64 → 99), so an input with several faults reports the SDK's code. Our own,
//! stricter checks (an input the SDK accepts but turns into a malformed or surprising QR) are
//! noted on the way and the first of them is reported only when the SDK's checks all pass.

use rust_decimal::Decimal;

use super::crc::{crc_hex, md5_hex};
use super::error::KhqrError;
use super::request::{AccountKind, Currency, Khqr, KhqrRequest};
use super::rules::{
    check_additional_data, check_bakong_account_id, check_text, is_timestamp, Fault,
    ACCOUNT_INFORMATION_MAX, ACQUIRING_BANK_MAX, ALTERNATE_CITY_MAX, ALTERNATE_NAME_MAX,
    AMOUNT_MAX, DEFAULT_CITY, DEFAULT_MCC, LANGUAGE_PREFERENCE_MAX, MERCHANT_CITY_MAX,
    MERCHANT_ID_MAX, MERCHANT_NAME_MAX, UPI_MAX,
};
use super::tlv::{push, utf16_len, MAX_VALUE_UTF16};

/// A point in the SDK's generation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Tag 15.
    Upi,
    /// Account template, tag 29/30.
    Account,
    /// Tag 53.
    Currency,
    /// Tag 54 (reached only by a dynamic QR; a deferred amount entry makes the QR dynamic).
    Amount,
    /// Tag 59.
    Name,
    /// Tag 60.
    City,
    /// Tag 62.
    Additional,
    /// Tag 64.
    Language,
    /// Tag 99 (reached only by a dynamic QR).
    Timestamp,
}

/// A finding made while reading loosely typed input (the CLI's JSON), reported when
/// generation reaches its stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deferred {
    /// The SDK refuses the input at this stage with this code.
    Sdk(Stage, KhqrError),
    /// The SDK accepts the input but we refuse it, if nothing the SDK refuses comes first.
    Strict(Stage, KhqrError),
    /// The request's currency stands in for a value the SDK does not take as 840 in its
    /// UPI check (such as `840.5`, refused by a `Strict` finding): skip that check.
    NotUsdForUpi,
}

/// Encodes `req` as a KHQR string, with `now_ms` as the creation timestamp of a dynamic QR.
///
/// # Errors
///
/// The first failing SDK check in the SDK's order, with the SDK's code; when the SDK would
/// accept the input, the first of our stricter checks (see the module's `DIFFERENCES`).
pub fn encode(req: &KhqrRequest, now_ms: i64) -> Result<Khqr, KhqrError> {
    encode_with(req, now_ms, &[])
}

/// [`encode`], with findings of the input reader reported at their stages.
pub(crate) fn encode_with(
    req: &KhqrRequest,
    now_ms: i64,
    deferred: &[Deferred],
) -> Result<Khqr, KhqrError> {
    let mut run = Run {
        deferred,
        strict: None,
    };
    let parts = build(req, now_ms, &mut run)?;
    if let Some(error) = run.strict {
        return Err(error);
    }
    assemble(&parts)
}

/// Progress through the generation order.
struct Run<'a> {
    deferred: &'a [Deferred],
    strict: Option<KhqrError>,
}

impl Run<'_> {
    /// Reports the deferred findings of `stage`: an SDK error now, a strict one at the end.
    fn reach(&mut self, stage: Stage) -> Result<(), KhqrError> {
        for finding in self.deferred {
            match finding {
                Deferred::Sdk(at, error) if *at == stage => return Err(error.clone()),
                Deferred::Strict(at, error) if *at == stage => self.strict(error.clone()),
                Deferred::Sdk(..) | Deferred::Strict(..) | Deferred::NotUsdForUpi => {}
            }
        }
        Ok(())
    }

    fn strict(&mut self, error: KhqrError) {
        self.strict.get_or_insert(error);
    }

    fn has(&self, stage: Stage) -> bool {
        self.deferred.iter().any(|finding| match finding {
            Deferred::Sdk(at, _) | Deferred::Strict(at, _) => *at == stage,
            Deferred::NotUsdForUpi => false,
        })
    }
}

/// The checked values of every data object.
struct Parts<'a> {
    dynamic: bool,
    upi: Option<&'a str>,
    account_tag: &'static str,
    account_value: String,
    mcc: &'a str,
    currency: Currency,
    amount: Option<String>,
    name: &'a str,
    city: &'a str,
    additional: Option<String>,
    language: Option<String>,
    timestamps: Option<String>,
}

fn build<'a>(req: &'a KhqrRequest, now_ms: i64, run: &mut Run<'_>) -> Result<Parts<'a>, KhqrError> {
    let amount = req.amount.filter(|amount| !amount.is_zero());
    let dynamic = amount.is_some() || run.has(Stage::Amount);
    run.reach(Stage::Upi)?;
    let upi = upi_account(req)?;
    run.reach(Stage::Account)?;
    let (account_tag, account_value) = account_template(req, run)?;
    let mcc = req.mcc.as_deref().unwrap_or(DEFAULT_MCC);
    check_mcc(mcc, run)?;
    run.reach(Stage::Currency)?;
    let sdk_usd = req.currency == Currency::Usd && !run.deferred.contains(&Deferred::NotUsdForUpi);
    if upi.is_some() && sdk_usd {
        return Err(KhqrError::UpiAccountInformationInvalidCurrency);
    }
    let amount = if dynamic {
        run.reach(Stage::Amount)?;
        amount
            .map(|amount| amount_text(amount, req.currency))
            .transpose()?
    } else {
        None
    };
    run.reach(Stage::Name)?;
    let name = req.merchant_name.as_str();
    if name.is_empty() {
        return Err(KhqrError::MerchantNameRequired);
    }
    if utf16_len(name) > MERCHANT_NAME_MAX {
        return Err(KhqrError::MerchantNameLengthInvalid);
    }
    run.reach(Stage::City)?;
    let city = req
        .merchant_city
        .as_deref()
        .filter(|city| !city.is_empty())
        .unwrap_or(DEFAULT_CITY);
    if utf16_len(city) > MERCHANT_CITY_MAX {
        return Err(KhqrError::MerchantCityLengthInvalid);
    }
    run.reach(Stage::Additional)?;
    let additional = additional_data(req, run)?;
    run.reach(Stage::Language)?;
    let language = language_template(req, run)?;
    let timestamps = if dynamic {
        run.reach(Stage::Timestamp)?;
        Some(timestamp_template(req.expiration_ms, now_ms, run)?)
    } else {
        None
    };
    Ok(Parts {
        dynamic,
        upi,
        account_tag,
        account_value,
        mcc,
        currency: req.currency,
        amount,
        name,
        city,
        additional,
        language,
        timestamps,
    })
}

fn assemble(parts: &Parts<'_>) -> Result<Khqr, KhqrError> {
    let mut qr = String::with_capacity(512);
    push(&mut qr, "00", "01")?;
    push(&mut qr, "01", if parts.dynamic { "12" } else { "11" })?;
    if let Some(upi) = parts.upi {
        push(&mut qr, "15", upi)?;
    }
    push(&mut qr, parts.account_tag, &parts.account_value)?;
    push(&mut qr, "52", parts.mcc)?;
    push(&mut qr, "53", parts.currency.numeric_code())?;
    if let Some(amount) = &parts.amount {
        push(&mut qr, "54", amount)?;
    }
    push(&mut qr, "58", "KH")?;
    push(&mut qr, "59", parts.name)?;
    push(&mut qr, "60", parts.city)?;
    for (tag, value) in [
        ("62", &parts.additional),
        ("64", &parts.language),
        ("99", &parts.timestamps),
    ] {
        if let Some(value) = value {
            push(&mut qr, tag, value)?;
        }
    }
    qr.push_str("6304");
    let crc = crc_hex(&qr);
    qr.push_str(&crc);
    let md5 = md5_hex(&qr);
    Ok(Khqr { qr, md5 })
}

/// Tag 15, when given. An empty account is left out, as the SDK's truthiness test does.
fn upi_account(req: &KhqrRequest) -> Result<Option<&str>, KhqrError> {
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
fn account_template(
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
fn check_mcc(mcc: &str, run: &mut Run<'_>) -> Result<(), KhqrError> {
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
fn additional_data(req: &KhqrRequest, run: &mut Run<'_>) -> Result<Option<String>, KhqrError> {
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
fn language_template(req: &KhqrRequest, run: &mut Run<'_>) -> Result<Option<String>, KhqrError> {
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
fn timestamp_template(
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
