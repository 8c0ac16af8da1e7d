//! The KHQR encoder: a typed request in, the exact string the SDK would emit out.
//!
//! The SDK's checks run in its generation order (tag 15 → 29/30 → 52 → 53 → UPI+USD → 54 →
//! 59 → 60 → 62 → 64 → 99), so an input with several faults reports the SDK's code. Our own,
//! stricter checks (an input the SDK accepts but turns into a malformed or surprising QR) are
//! noted on the way and the first of them is reported only when the SDK's checks all pass.

use super::crc::{md5_hex, push_crc};
use super::encode_fields::{
    account_template, additional_data, amount_short, check_mcc, language_template,
    timestamp_template, upi_account,
};
use super::error::KhqrError;
use super::request::{Currency, Khqr, KhqrRequest};
use super::rules::{DEFAULT_CITY, DEFAULT_MCC, MERCHANT_CITY_MAX, MERCHANT_NAME_MAX};
use super::tlv::{push, push_template, utf16_len, ShortText, Subs};

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
pub(crate) struct Run<'a> {
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

    /// Notes a finding that only we refuse; the first one is reported at the end.
    pub(crate) fn strict(&mut self, error: KhqrError) {
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
    account: Subs<'a, 3>,
    mcc: &'a str,
    currency: Currency,
    amount: Option<ShortText>,
    name: &'a str,
    city: &'a str,
    additional: Option<Subs<'a, 5>>,
    language: Option<Subs<'a, 3>>,
    timestamps: Option<(ShortText, ShortText)>,
}

fn build<'a>(req: &'a KhqrRequest, now_ms: i64, run: &mut Run<'_>) -> Result<Parts<'a>, KhqrError> {
    let amount = req.amount.filter(|amount| !amount.is_zero());
    let dynamic = amount.is_some() || run.has(Stage::Amount);
    run.reach(Stage::Upi)?;
    let upi = upi_account(req)?;
    run.reach(Stage::Account)?;
    let (account_tag, account) = account_template(req, run)?;
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
            .map(|amount| amount_short(amount, req.currency))
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
        account,
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
    let mut qr = String::with_capacity(256);
    push(&mut qr, "00", "01")?;
    push(&mut qr, "01", if parts.dynamic { "12" } else { "11" })?;
    if let Some(upi) = parts.upi {
        push(&mut qr, "15", upi)?;
    }
    push_template(&mut qr, parts.account_tag, &parts.account)?;
    push(&mut qr, "52", parts.mcc)?;
    push(&mut qr, "53", parts.currency.numeric_code())?;
    if let Some(amount) = &parts.amount {
        push(&mut qr, "54", amount.as_str())?;
    }
    push(&mut qr, "58", "KH")?;
    push(&mut qr, "59", parts.name)?;
    push(&mut qr, "60", parts.city)?;
    if let Some(additional) = &parts.additional {
        push_template(&mut qr, "62", additional)?;
    }
    if let Some(language) = &parts.language {
        push_template(&mut qr, "64", language)?;
    }
    if let Some((creation, expiration)) = &parts.timestamps {
        let subs = [
            ("00", Some(creation.as_str())),
            ("01", Some(expiration.as_str())),
        ];
        push_template(&mut qr, "99", &subs)?;
    }
    qr.push_str("6304");
    push_crc(&mut qr);
    let md5 = md5_hex(&qr);
    Ok(Khqr { qr, md5 })
}
