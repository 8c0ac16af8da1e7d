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
use super::request::{Currency, Khqr, KhqrRequest, KindView, RequestView};
use super::rules::{DEFAULT_CITY, DEFAULT_MCC, MERCHANT_CITY_MAX, MERCHANT_NAME_MAX};
use super::tlv::{longer_than, push_two_digits, utf16_len, ShortText, Subs, MAX_VALUE_UTF16};

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
    encode_with(&RequestView::of(req), now_ms, &[])
}

/// [`encode`] of a borrowed request, with findings of the input reader reported at their
/// stages.
pub(crate) fn encode_with(
    req: &RequestView<'_>,
    now_ms: i64,
    deferred: &[Deferred],
) -> Result<Khqr, KhqrError> {
    let mut run = Run {
        deferred,
        strict: None,
    };
    let mut out = Writer {
        qr: String::with_capacity(capacity(req)),
        overflow: None,
    };
    write(req, now_ms, &mut run, &mut out)?;
    if let Some(error) = run.strict {
        return Err(error);
    }
    out.finish()
}

/// Progress through the generation order.
pub(crate) struct Run<'a> {
    deferred: &'a [Deferred],
    strict: Option<KhqrError>,
}

impl Run<'_> {
    /// Reports the deferred findings of `stage`: an SDK error now, a strict one at the end.
    #[inline]
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

/// Checks each data object in the SDK's order and writes it, in one pass: the writing order
/// (00, 01, 15, 29/30, 52, 53, 54, 58, 59, 60, 62, 64, 99) is the order of the checks. An SDK
/// error ends it (the partly written string is dropped); a strict finding is noted in `run`.
fn write(
    req: &RequestView<'_>,
    now_ms: i64,
    run: &mut Run<'_>,
    out: &mut Writer,
) -> Result<(), KhqrError> {
    let amount = req.amount.filter(|amount| !amount.is_zero());
    let dynamic = amount.is_some() || run.has(Stage::Amount);
    // Data objects with fixed values are written whole: "00" "02" "01", then "01" "02" ...
    out.fixed("000201");
    out.fixed(if dynamic { "010212" } else { "010211" });
    run.reach(Stage::Upi)?;
    let upi = upi_account(req)?;
    if let Some(upi) = upi {
        out.field("15", upi);
    }
    run.reach(Stage::Account)?;
    let (account_tag, account) = account_template(req, run)?;
    out.template(account_tag, &account);
    let mcc = req.mcc.as_deref().unwrap_or(DEFAULT_MCC);
    check_mcc(mcc, run)?;
    out.field("52", mcc);
    run.reach(Stage::Currency)?;
    let sdk_usd = req.currency == Currency::Usd && !run.deferred.contains(&Deferred::NotUsdForUpi);
    if upi.is_some() && sdk_usd {
        return Err(KhqrError::UpiAccountInformationInvalidCurrency);
    }
    out.fixed(match req.currency {
        Currency::Khr => "5303116",
        Currency::Usd => "5303840",
    });
    if dynamic {
        run.reach(Stage::Amount)?;
        if let Some(amount) = amount {
            out.number("54", &amount_short(amount, req.currency)?);
        }
    }
    out.fixed("5802KH");
    run.reach(Stage::Name)?;
    let name = &*req.merchant_name;
    if name.is_empty() {
        return Err(KhqrError::MerchantNameRequired);
    }
    if longer_than(name, MERCHANT_NAME_MAX) {
        return Err(KhqrError::MerchantNameLengthInvalid);
    }
    out.field("59", name);
    run.reach(Stage::City)?;
    let city = req
        .merchant_city
        .as_deref()
        .filter(|city| !city.is_empty())
        .unwrap_or(DEFAULT_CITY);
    if longer_than(city, MERCHANT_CITY_MAX) {
        return Err(KhqrError::MerchantCityLengthInvalid);
    }
    out.field("60", city);
    run.reach(Stage::Additional)?;
    if let Some(additional) = additional_data(req, run)? {
        out.template("62", &additional);
    }
    run.reach(Stage::Language)?;
    if let Some(language) = language_template(req, run)? {
        out.template("64", &language);
    }
    if dynamic {
        run.reach(Stage::Timestamp)?;
        let (creation, expiration) = timestamp_template(req.expiration_ms, now_ms, run)?;
        // Two sub-objects of 4-byte headers and ASCII digits.
        let length = creation
            .len()
            .saturating_add(expiration.len())
            .saturating_add(8);
        out.header("99", length);
        out.number("00", &creation);
        out.number("01", &expiration);
    }
    Ok(())
}

/// Bytes enough for the whole QR of `req`: its texts plus every fixed part (tags, lengths,
/// defaults, amount, timestamps, CRC), so that the string is allocated once.
fn capacity(req: &RequestView<'_>) -> usize {
    /// More than all the fixed parts: 13 data objects and 13 sub-objects of 4-byte headers,
    /// 2-byte indicator values, the 10-byte default city, a 13-byte amount, two 13-byte
    /// timestamps, and 4 CRC digits.
    const FIXED: usize = 192;
    let account = match &req.kind {
        KindView::Individual {
            account_information,
            acquiring_bank,
        } => [account_information.as_deref(), acquiring_bank.as_deref()],
        KindView::Merchant {
            merchant_id,
            acquiring_bank,
        } => [Some(&**merchant_id), Some(&**acquiring_bank)],
    };
    let texts = [
        Some(&*req.bakong_account_id),
        Some(&*req.merchant_name),
        req.merchant_city.as_deref(),
        req.mcc.as_deref(),
        req.bill_number.as_deref(),
        req.mobile_number.as_deref(),
        req.store_label.as_deref(),
        req.terminal_label.as_deref(),
        req.purpose_of_transaction.as_deref(),
        req.language_preference.as_deref(),
        req.merchant_name_alternate_language.as_deref(),
        req.merchant_city_alternate_language.as_deref(),
        req.upi_merchant_account.as_deref(),
    ];
    texts
        .iter()
        .chain(&account)
        .flatten()
        .map(|text| text.len())
        .fold(FIXED, usize::saturating_add)
}

/// The QR being written.
struct Writer {
    qr: String,
    /// The first value found longer than a 2-digit length can say. The checks keep every
    /// value within its limit or note a strict finding first, so this is a last guard; it is
    /// reported only when no check failed, as when the string was assembled after the checks.
    overflow: Option<KhqrError>,
}

impl Writer {
    /// Appends a whole data object, written out by hand.
    fn fixed(&mut self, object: &'static str) {
        self.qr.push_str(object);
    }

    /// Appends `tag`, the 2-digit UTF-16 length of `value`, and `value`.
    fn field(&mut self, tag: &'static str, value: &str) {
        self.header(tag, utf16_len(value));
        self.qr.push_str(value);
    }

    #[inline]
    fn header(&mut self, tag: &'static str, length: usize) {
        if length > MAX_VALUE_UTF16 {
            self.overflow.get_or_insert(KhqrError::TemplateTooLong {
                tag,
                length_utf16: length,
            });
        }
        self.qr.push_str(tag);
        push_two_digits(&mut self.qr, length);
    }

    /// Appends `tag`, the length of `text` (ASCII: bytes are code units), and `text`.
    fn number(&mut self, tag: &'static str, text: &ShortText) {
        self.header(tag, text.len());
        self.qr.push_str(text.as_str());
    }

    /// Appends template `tag` made of the present `subs`, in their order.
    fn template<const N: usize>(&mut self, tag: &'static str, subs: &Subs<'_, N>) {
        // Each length is counted once, for the template's length and the sub-object's.
        let lengths = subs.map(|(_, value)| value.map(utf16_len));
        let length = lengths
            .iter()
            .flatten()
            .map(|length| length.saturating_add(4))
            .fold(0, usize::saturating_add);
        self.header(tag, length);
        for ((sub_tag, value), length) in subs.iter().zip(lengths) {
            if let (Some(value), Some(length)) = (value, length) {
                self.header(sub_tag, length);
                self.qr.push_str(value);
            }
        }
    }

    /// Tag 63 and the md5.
    fn finish(mut self) -> Result<Khqr, KhqrError> {
        if let Some(error) = self.overflow {
            return Err(error);
        }
        self.qr.push_str("6304");
        push_crc(&mut self.qr);
        let md5 = md5_hex(&self.qr);
        Ok(Khqr { qr: self.qr, md5 })
    }
}
