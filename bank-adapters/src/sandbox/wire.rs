//! The sandbox bank's wire format: JSON bodies in both directions and their checks.
//!
//! `bank-sim` serves this format and [`super::SandboxClient`] speaks it, so the same structs
//! serve both sides.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::AdapterError;
use crate::http::decode_error;
use crate::report::{PaymentReport, ReportedAmount};

/// The header that carries the callback signature (lowercase, as HTTP/2 and axum store it).
pub const SIGNATURE_HEADER: &str = "x-sandbox-signature";

/// The callback secret used by both `payments` and `bank-sim` when `SANDBOX_CALLBACK_SECRET`
/// is unset, so that a bare local start works. Never use it outside development.
pub const DEFAULT_CALLBACK_SECRET: &str = "sandbox-dev-secret-change-me";

/// Longest transaction id or provider reference we accept (API.md: references ≤ 64).
pub const MAX_REFERENCE_CHARS: usize = 64;

/// Longest payment description the sandbox bank keeps (API.md: names ≤ 200).
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// Digits before the decimal point: enough for any fee in riel, short of `i64` minor units.
const MAX_INTEGER_DIGITS: usize = 15;

/// Digits after the decimal point. The currency's own scale is the payments service's check;
/// here we only refuse what is not a plain amount at all.
const MAX_FRACTION_DIGITS: usize = 4;

/// The sandbox bank's payment notification (bank → our service).
///
/// Sent as JSON with the [`SIGNATURE_HEADER`] holding the hex HMAC-SHA256 of the raw body.
/// Unknown fields are ignored: banks add fields without notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxCallback {
    /// The bank's id of this money movement; one effect per id.
    pub transaction_id: String,
    /// Our reference of the attempt, as given when the payment was created.
    pub provider_reference: String,
    /// The amount paid, a decimal string such as `"600000"` or `"12.50"`.
    pub amount: String,
    /// ISO 4217 code of the amount, such as `"KHR"`.
    pub currency: String,
    /// When the payer paid, RFC 3339.
    pub paid_at: String,
}

impl SandboxCallback {
    /// The amount as a decimal.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Decode`] when the amount is not a plain decimal string (never the case
    /// for a callback that came out of [`parse_callback`]).
    pub fn amount_decimal(&self) -> Result<Decimal, AdapterError> {
        parse_amount(&self.amount).map_err(AdapterError::Decode)
    }

    /// The payment time in UTC.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Decode`] when `paid_at` is not RFC 3339 (never the case for a callback
    /// that came out of [`parse_callback`]).
    pub fn paid_at_utc(&self) -> Result<DateTime<Utc>, AdapterError> {
        DateTime::parse_from_rfc3339(&self.paid_at)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| AdapterError::Decode("paid_at is not an RFC 3339 timestamp".to_owned()))
    }

    /// The payment this callback reports, typed.
    pub fn report(&self) -> PaymentReport {
        PaymentReport {
            transaction_id: self.transaction_id.clone(),
            provider_reference: self.provider_reference.clone(),
            amount: ReportedAmount::from_text(&self.amount, &self.currency),
            paid_at: self.paid_at_utc().ok(),
        }
    }
}

/// Reads, checks and types a sandbox callback body in one step ([`parse_callback`], then
/// [`SandboxCallback::report`]).
///
/// # Errors
///
/// As [`parse_callback`].
pub fn parse_callback_report(body: &[u8]) -> Result<PaymentReport, AdapterError> {
    parse_callback(body).map(|callback| callback.report())
}

/// Reads a sandbox callback body and checks every field.
///
/// Verify the signature over the same raw bytes first (see [`super::verify_signature`]).
///
/// # Errors
///
/// [`AdapterError::Decode`] when the body is not JSON of this shape, a field is missing, an
/// id is empty or longer than 64 characters, the amount is not a plain non-negative decimal,
/// the currency is not three capital letters, or `paid_at` is not RFC 3339.
pub fn parse_callback(body: &[u8]) -> Result<SandboxCallback, AdapterError> {
    let callback: SandboxCallback =
        serde_json::from_slice(body).map_err(|error| decode_error(&error))?;
    check_reference("transaction_id", &callback.transaction_id).map_err(AdapterError::Decode)?;
    check_reference("provider_reference", &callback.provider_reference)
        .map_err(AdapterError::Decode)?;
    parse_amount(&callback.amount).map_err(AdapterError::Decode)?;
    check_currency(&callback.currency).map_err(AdapterError::Decode)?;
    callback.paid_at_utc()?;
    Ok(callback)
}

/// Asks the sandbox bank to open a payment (our service → bank, `POST /sandbox/payments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePaymentRequest {
    /// Our reference of the attempt; the bank echoes it in callbacks.
    pub provider_reference: String,
    /// The amount to pay, a decimal string with the currency's scale.
    pub amount: String,
    /// ISO 4217 code, such as `"KHR"`.
    pub currency: String,
    /// What the payer sees on the checkout page.
    pub description: String,
    /// When the payment request stops being payable.
    pub expires_at: DateTime<Utc>,
    /// The account the money lands in (the office's account for this channel and currency),
    /// so the bank's statement of that account lists the payment. Optional: a payment
    /// without one is paid all the same and appears on no statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

impl CreatePaymentRequest {
    /// Checks the request the way the sandbox bank does.
    ///
    /// # Errors
    ///
    /// [`AdapterError::InvalidInput`] naming the first field that is out of bounds.
    pub fn validate(&self) -> Result<(), AdapterError> {
        check_reference("provider_reference", &self.provider_reference)
            .map_err(AdapterError::InvalidInput)?;
        parse_amount(&self.amount).map_err(AdapterError::InvalidInput)?;
        check_currency(&self.currency).map_err(AdapterError::InvalidInput)?;
        if let Some(account_id) = &self.account_id {
            check_reference("account_id", account_id).map_err(AdapterError::InvalidInput)?;
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(AdapterError::InvalidInput(format!(
                "description is longer than {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        Ok(())
    }
}

/// The sandbox bank's answer to a create (`201`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePaymentResponse {
    /// Our reference, echoed.
    pub provider_reference: String,
    /// Where the payer completes the payment.
    pub checkout_url: String,
    /// The payment's state at the bank (`pending` for a new payment).
    pub status: SandboxPaymentStatus,
}

/// The sandbox bank's view of one payment (`GET /sandbox/payments/{ref}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentStatusResponse {
    /// Our reference, echoed.
    pub provider_reference: String,
    /// Whether the payer has paid.
    pub status: SandboxPaymentStatus,
    /// The amount paid once `paid`, the amount asked before.
    pub amount: String,
    /// The currency paid once `paid`, the currency asked before.
    pub currency: String,
    /// The bank's id of the latest payment, once `paid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

impl PaymentStatusResponse {
    /// The payment the bank reports, typed, once it is paid with a transaction id. The status
    /// route tells no payment time.
    pub fn paid_report(&self) -> Option<PaymentReport> {
        if self.status != SandboxPaymentStatus::Paid {
            return None;
        }
        Some(PaymentReport {
            transaction_id: self.transaction_id.clone()?,
            provider_reference: self.provider_reference.clone(),
            amount: ReportedAmount::from_text(&self.amount, &self.currency),
            paid_at: None,
        })
    }
}

/// The state of a payment at the sandbox bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxPaymentStatus {
    /// Created and not paid yet.
    Pending,
    /// The payer has paid (at least once).
    Paid,
}

/// Checks an id or reference: 1 to 64 characters, no control characters.
pub(crate) fn check_reference(field: &str, value: &str) -> Result<(), String> {
    crate::text::check_text(field, value, MAX_REFERENCE_CHARS)
}

/// Parses a plain non-negative decimal string: digits, optionally a point and more digits.
///
/// `Decimal::from_str` alone would also accept signs, underscores and other forms that no
/// bank sends and that would make two spellings of one amount.
pub(crate) fn parse_amount(value: &str) -> Result<Decimal, String> {
    let (integer, fraction) = match value.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (value, None),
    };
    let digits_ok = |part: &str, max: usize| {
        !part.is_empty() && part.len() <= max && part.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits_ok(integer, MAX_INTEGER_DIGITS)
        || fraction.is_some_and(|fraction| !digits_ok(fraction, MAX_FRACTION_DIGITS))
    {
        return Err(format!(
            "amount must be a plain decimal string with at most {MAX_INTEGER_DIGITS} integer \
             and {MAX_FRACTION_DIGITS} fraction digits"
        ));
    }
    Decimal::from_str(value).map_err(|_| "amount is not a decimal".to_owned())
}

/// Checks an ISO 4217-shaped currency code: three capital ASCII letters.
pub(crate) fn check_currency(value: &str) -> Result<(), String> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err("currency must be three capital letters, such as KHR".to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;

    const VALID: &str = r#"{"transaction_id":"sbx_1","provider_reference":"att_1","amount":"600000","currency":"KHR","paid_at":"2025-01-02T03:04:05Z"}"#;

    #[test]
    fn parses_a_valid_callback() {
        let callback = parse_callback(VALID.as_bytes()).unwrap();
        assert_eq!(callback.transaction_id, "sbx_1");
        assert_eq!(callback.provider_reference, "att_1");
        assert_eq!(callback.amount_decimal().unwrap(), Decimal::from(600_000));
        assert_eq!(callback.currency, "KHR");
        assert_eq!(
            callback.paid_at_utc().unwrap().to_rfc3339(),
            "2025-01-02T03:04:05+00:00"
        );
    }

    #[test]
    fn ignores_fields_the_bank_adds() {
        let body = VALID.replace("{", r#"{"channel":"mobile","fee":{"amount":"0"},"#);
        assert!(parse_callback(body.as_bytes()).is_ok());
    }

    #[test]
    fn requires_every_field() {
        for field in [
            "transaction_id",
            "provider_reference",
            "amount",
            "currency",
            "paid_at",
        ] {
            let mut value: serde_json::Value = serde_json::from_str(VALID).unwrap();
            value.as_object_mut().unwrap().remove(field);
            let body = serde_json::to_vec(&value).unwrap();
            let error = parse_callback(&body).unwrap_err();
            assert!(
                matches!(&error, AdapterError::Decode(message) if message.contains(field)),
                "{field}: {error:?}"
            );
        }
    }

    #[test]
    fn refuses_out_of_bounds_fields() {
        let cases = [
            ("transaction_id", serde_json::json!("")),
            ("transaction_id", serde_json::json!("x".repeat(65))),
            ("provider_reference", serde_json::json!("a\nb")),
            ("amount", serde_json::json!("-1")),
            ("amount", serde_json::json!("1e5")),
            ("amount", serde_json::json!("1_000")),
            ("amount", serde_json::json!("1.")),
            ("amount", serde_json::json!(".5")),
            ("amount", serde_json::json!(600000)),
            ("currency", serde_json::json!("khr")),
            ("currency", serde_json::json!("KHRR")),
            ("paid_at", serde_json::json!("yesterday")),
        ];
        for (field, bad) in cases {
            let mut value: serde_json::Value = serde_json::from_str(VALID).unwrap();
            value[field] = bad.clone();
            let body = serde_json::to_vec(&value).unwrap();
            assert!(
                matches!(parse_callback(&body), Err(AdapterError::Decode(_))),
                "{field} = {bad}"
            );
        }
        let longest = VALID.replace("sbx_1", &"x".repeat(64));
        assert!(parse_callback(longest.as_bytes()).is_ok());
        assert!(parse_callback(b"not json").is_err());
        assert!(parse_callback(b"").is_err());
    }

    #[test]
    fn amounts_keep_their_scale() {
        assert_eq!(parse_amount("12.50").unwrap().to_string(), "12.50");
        assert_eq!(parse_amount("0").unwrap(), Decimal::ZERO);
        assert!(parse_amount("1234567890123456").is_err());
    }

    #[test]
    fn create_request_validation_names_the_field() {
        let request = CreatePaymentRequest {
            provider_reference: "att_1".to_owned(),
            amount: "600000".to_owned(),
            currency: "KHR".to_owned(),
            description: "Construction permit".to_owned(),
            expires_at: Utc::now(),
            account_id: Some("001-234-567".to_owned()),
        };
        assert!(request.validate().is_ok());
        let bad = CreatePaymentRequest {
            amount: "6,000".to_owned(),
            ..request.clone()
        };
        assert!(
            matches!(bad.validate(), Err(AdapterError::InvalidInput(m)) if m.contains("amount"))
        );
        let bad = CreatePaymentRequest {
            description: "d".repeat(201),
            ..request.clone()
        };
        assert!(matches!(bad.validate(), Err(AdapterError::InvalidInput(_))));
        let bad = CreatePaymentRequest {
            account_id: Some(String::new()),
            ..request
        };
        assert!(
            matches!(bad.validate(), Err(AdapterError::InvalidInput(m)) if m.contains("account_id"))
        );
    }

    #[test]
    fn a_request_without_an_account_leaves_the_field_out() {
        let request = CreatePaymentRequest {
            provider_reference: "att_1".to_owned(),
            amount: "600000".to_owned(),
            currency: "KHR".to_owned(),
            description: "Construction permit".to_owned(),
            expires_at: Utc::now(),
            account_id: None,
        };
        let json = serde_json::to_value(&request).unwrap();
        assert!(json.get("account_id").is_none());
        let back: CreatePaymentRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, request);
    }
}
