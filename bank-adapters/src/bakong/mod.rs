//! The Bakong Open API (National Bank of Cambodia): whether a KHQR was paid.
//!
//! Bakong never pushes: we poll with the md5 of the dynamic KHQR we issued (BANKS.md
//! "Bakong Open API"). `bank-sim` plays Bakong; see [`crate::sim`]. The wire format and what
//! we know of it are in [`wire`].

pub mod wire;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

pub use wire::{
    deeplink_outcome, parse_md5_list_response, parse_transaction_response, BakongEnvelope,
    DeeplinkData, DeeplinkRequest, Md5ListEntry, Md5ListItem, Md5Status, SourceInfo,
    TransactionData, MAX_MD5_LIST_LEN,
};

use crate::error::AdapterError;
use crate::http::{build_client, endpoint, read_json, transport_error};
use crate::report::{PaymentReport, ReportedAmount};
use wire::{list_outcome, match_answers, transaction_outcome, HashRequest, Md5Request};

/// The token `bank-sim` accepts when `BAKONG_API_TOKEN` is unset, so that a bare local start
/// works. Never use it against the real API.
pub const DEFAULT_SIM_TOKEN: &str = "bakong-sim-token";

/// Why a 403 is not reported as [`AdapterError::Unauthorized`]: Bakong's edge answers 403 to
/// addresses outside Cambodia (and, reportedly, to the md5-list path on production) while a
/// bad token gets 401 with errorCode 6. Renewing the token would not help.
const FORBIDDEN_EXCERPT: &str = "Bakong's edge refused the request (HTTP 403): production \
     accepts Cambodian IP addresses only, and has been reported to refuse \
     check_transaction_by_md5_list; a bad token would be HTTP 401";

/// A payment Bakong has recorded, as our code uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BakongTransaction {
    /// Bakong's transaction hash (64 hex digits); unique per money movement.
    pub hash: String,
    /// The payer's Bakong account id, when Bakong gives it.
    pub from_account_id: Option<String>,
    /// The account that received the money; compare it with the QR's `bakongAccountID`.
    pub to_account_id: String,
    /// ISO 4217 code as Bakong writes it: `"KHR"` or `"USD"`.
    pub currency: String,
    /// The amount paid in major units, exactly as Bakong wrote it.
    pub amount: Decimal,
    /// Free text, usually absent.
    pub description: Option<String>,
    /// When the payer sent the money, milliseconds since the epoch; compare it with the QR's
    /// expiry.
    pub created_date_ms: i64,
    /// When Bakong recorded it, milliseconds since the epoch.
    pub acknowledged_date_ms: Option<i64>,
    /// The payer bank's reference, such as `100FT35781491692`.
    pub external_ref: Option<String>,
}

impl BakongTransaction {
    /// The payment this transaction reports for the attempt whose reference is
    /// `provider_reference` (Bakong knows the QR's md5, not our reference), typed. The amount
    /// is normalized: Bakong writes JSON numbers, so `100.0` and `100` are one amount; the
    /// time is when Bakong acknowledged it, else when the payer sent it.
    pub fn report(&self, provider_reference: &str) -> PaymentReport {
        PaymentReport {
            transaction_id: self.hash.clone(),
            provider_reference: provider_reference.to_owned(),
            amount: ReportedAmount::Decimal {
                value: self.amount.normalize(),
                currency: self.currency.clone(),
            },
            paid_at: self
                .acknowledged_date_ms
                .or(Some(self.created_date_ms))
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
        }
    }
}

/// A client for the Bakong Open API's transaction checks.
///
/// `Debug` shows `[REDACTED]` for the token, and no method logs it.
#[derive(Debug, Clone)]
pub struct BakongClient {
    http: reqwest::Client,
    base_url: Url,
    token: SecretString,
}

impl BakongClient {
    /// Builds a client for the API at `base_url` (`https://api-bakong.nbc.gov.kh`, or
    /// `bank-sim`'s address) with the bearer `token`.
    ///
    /// `timeout` bounds each whole request; connecting gets at most five seconds of it.
    /// Redirects are not followed and answers past 64 KiB are refused.
    ///
    /// # Errors
    ///
    /// [`AdapterError::InvalidInput`] when `timeout` is zero, `base_url` is not an http(s)
    /// base URL, or the token is empty or not printable ASCII without spaces (a JWT is);
    /// [`AdapterError::Transport`] when the TLS backend cannot start.
    pub fn new(
        base_url: Url,
        token: SecretString,
        timeout: Duration,
    ) -> Result<Self, AdapterError> {
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(AdapterError::InvalidInput(
                "the Bakong base URL must be an http or https URL".to_owned(),
            ));
        }
        let secret = token.expose_secret();
        if secret.is_empty() || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            // The message never quotes the token.
            return Err(AdapterError::InvalidInput(
                "the Bakong API token must be non-empty printable ASCII without spaces".to_owned(),
            ));
        }
        Ok(Self {
            http: build_client(timeout)?,
            base_url,
            token,
        })
    }

    /// Asks whether the KHQR with this md5 was paid (`POST /v1/check_transaction_by_md5`).
    ///
    /// `Ok(None)` means no successful payment yet (errorCode 1, or a failed transaction).
    ///
    /// # Errors
    ///
    /// [`AdapterError::InvalidInput`] when `md5` is not 32 lowercase hex digits or Bakong
    /// refused the request (such as errorCode 2, a static QR);
    /// [`AdapterError::Unauthorized`] for HTTP 401 or errorCode 6 (renew the token);
    /// [`AdapterError::RateLimited`] for HTTP 429; [`AdapterError::Timeout`],
    /// [`AdapterError::Transport`] or [`AdapterError::Status`] 5xx when Bakong is unreachable
    /// or failing (all retryable); [`AdapterError::Status`] 403 when Bakong's edge refuses
    /// us; [`AdapterError::Decode`] for an answer that is not the documented JSON.
    #[tracing::instrument(skip_all, fields(bank = "bakong", md5 = %md5))]
    pub async fn check_by_md5(&self, md5: &str) -> Result<Option<BakongTransaction>, AdapterError> {
        check_md5(md5)?;
        let request = Md5Request {
            md5: md5.to_owned(),
        };
        let envelope = self.post("check_transaction_by_md5", &request).await?;
        transaction_outcome(envelope)
    }

    /// Asks about many md5s (`POST /v1/check_transaction_by_md5_list`), one answer per md5
    /// in the order given: `Some` when paid, `None` otherwise.
    ///
    /// Duplicates are asked once. Lists longer than [`MAX_MD5_LIST_LEN`] go out as several
    /// calls, one after another; if one fails the whole call fails, and asking again is safe.
    /// `STATIC_QR`, `FAILED`, unknown statuses and items that cannot be read read as `None`
    /// and are logged; use [`Self::check_by_md5_list_detailed`] to see them.
    ///
    /// # Errors
    ///
    /// As [`Self::check_by_md5`], plus [`AdapterError::Decode`] when an answer does not line
    /// up with the md5s asked.
    #[tracing::instrument(skip_all, fields(bank = "bakong", md5.count = md5s.len()))]
    pub async fn check_by_md5_list(
        &self,
        md5s: &[String],
    ) -> Result<Vec<(String, Option<BakongTransaction>)>, AdapterError> {
        let entries = self.check_by_md5_list_detailed(md5s).await?;
        Ok(entries
            .into_iter()
            .map(|entry| {
                match &entry.status {
                    _ if entry.undecodable.is_some() => tracing::warn!(
                        md5 = %entry.md5,
                        reason = entry.undecodable.as_deref().unwrap_or_default(),
                        "Bakong's answer for this md5 could not be read; treating it as not paid"
                    ),
                    Md5Status::Success | Md5Status::NotFound => {}
                    other => tracing::warn!(
                        md5 = %entry.md5,
                        bakong.status = ?other,
                        "Bakong reports a status other than SUCCESS or NOT_FOUND; treating it as not paid"
                    ),
                }
                (entry.md5, entry.transaction)
            })
            .collect())
    }

    /// [`Self::check_by_md5_list`] with Bakong's status of each md5, and which answers could
    /// not be read ([`Md5ListEntry::undecodable`]).
    ///
    /// # Errors
    ///
    /// As [`Self::check_by_md5_list`].
    #[tracing::instrument(skip_all, fields(bank = "bakong", md5.count = md5s.len()))]
    pub async fn check_by_md5_list_detailed(
        &self,
        md5s: &[String],
    ) -> Result<Vec<Md5ListEntry>, AdapterError> {
        for md5 in md5s {
            check_md5(md5)?;
        }
        let mut seen = HashSet::with_capacity(md5s.len());
        let unique: Vec<&str> = md5s
            .iter()
            .map(String::as_str)
            .filter(|md5| seen.insert(*md5))
            .collect();
        let mut answers: HashMap<&str, Md5ListEntry> = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(MAX_MD5_LIST_LEN) {
            // Items stay raw until list_outcome reads each one: one unreadable item must not
            // make the whole answer unreadable.
            let envelope: BakongEnvelope<Vec<Box<serde_json::value::RawValue>>> =
                self.post("check_transaction_by_md5_list", chunk).await?;
            let entries = match_answers(chunk, list_outcome(envelope)?)?;
            for (md5, entry) in chunk.iter().zip(entries) {
                answers.insert(md5, entry);
            }
        }
        md5s.iter()
            .map(|md5| {
                answers
                    .get(md5.as_str())
                    .cloned()
                    .ok_or_else(|| AdapterError::Decode(format!("no answer for md5 {md5}")))
            })
            .collect()
    }

    /// Asks about a transaction by its full hash (`POST /v1/check_transaction_by_hash`,
    /// body `{"hash"}`), for example to re-check a payment found earlier.
    ///
    /// # Errors
    ///
    /// [`AdapterError::InvalidInput`] when `hash` is not 64 hex digits; otherwise as
    /// [`Self::check_by_md5`].
    #[tracing::instrument(skip_all, fields(bank = "bakong", bakong.hash = %hash))]
    pub async fn check_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<BakongTransaction>, AdapterError> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AdapterError::InvalidInput(
                "a Bakong transaction hash has 64 hex digits".to_owned(),
            ));
        }
        let request = HashRequest {
            hash: hash.to_owned(),
        };
        let envelope = self.post("check_transaction_by_hash", &request).await?;
        transaction_outcome(envelope)
    }

    /// Asks Bakong for a link that opens the KHQR `qr` in the payer's bank app
    /// (`POST /v1/generate_deeplink_by_qr {"qr", "sourceInfo"}` → `data.shortLink`).
    ///
    /// The link is checked to be a plain http(s) URL before it is returned.
    ///
    /// # Errors
    ///
    /// [`AdapterError::InvalidInput`] when `qr` is empty or Bakong refused the request;
    /// [`AdapterError::Transport`] for errorCode 4 (the deep-link provider failed) and the
    /// other failures of [`Self::check_by_md5`]; [`AdapterError::Decode`] for an answer
    /// without a usable link.
    #[tracing::instrument(skip_all, fields(bank = "bakong"))]
    pub async fn generate_deeplink_by_qr(
        &self,
        qr: &str,
        source: &SourceInfo,
    ) -> Result<String, AdapterError> {
        if qr.is_empty() {
            return Err(AdapterError::InvalidInput(
                "a deep link needs the KHQR string".to_owned(),
            ));
        }
        let request = DeeplinkRequest {
            qr: qr.to_owned(),
            source_info: source.clone(),
        };
        let envelope = self.post("generate_deeplink_by_qr", &request).await?;
        deeplink_outcome(envelope)
    }

    /// POSTs `body` as JSON to `{base}/v1/{path}` and reads the envelope.
    async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<BakongEnvelope<T>, AdapterError> {
        let url = endpoint(&self.base_url, &["v1", path])?;
        let response = self
            .http
            .post(url)
            .bearer_auth(self.token.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(transport_error)?;
        if response.status() == StatusCode::FORBIDDEN {
            return Err(AdapterError::Status {
                status: StatusCode::FORBIDDEN.as_u16(),
                body_excerpt: FORBIDDEN_EXCERPT.to_owned(),
            });
        }
        read_json(response).await
    }
}

/// Our md5s come from `khqr::md5_hex`: 32 lowercase hex digits. Anything else is a bug on our
/// side, and Bakong would only answer "not found" forever.
fn check_md5(md5: &str) -> Result<(), AdapterError> {
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if md5.len() == 32 && md5.bytes().all(lower_hex) {
        Ok(())
    } else {
        Err(AdapterError::InvalidInput(
            "a KHQR md5 has 32 lowercase hex digits".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn token() -> SecretString {
        SecretString::from("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl")
    }

    #[test]
    fn client_refuses_unusable_configuration() {
        let url = Url::parse("https://api-bakong.nbc.gov.kh").unwrap();
        assert!(BakongClient::new(url.clone(), token(), Duration::from_secs(5)).is_ok());
        assert!(matches!(
            BakongClient::new(url.clone(), token(), Duration::ZERO),
            Err(AdapterError::InvalidInput(_))
        ));
        for bad in ["", "two words", "line\nbreak"] {
            assert!(matches!(
                BakongClient::new(url.clone(), SecretString::from(bad), Duration::from_secs(5)),
                Err(AdapterError::InvalidInput(message)) if !message.contains(bad) || bad.is_empty()
            ));
        }
        let mailto = Url::parse("mailto:bakong@example.com").unwrap();
        assert!(matches!(
            BakongClient::new(mailto, token(), Duration::from_secs(5)),
            Err(AdapterError::InvalidInput(_))
        ));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let url = Url::parse("https://api-bakong.nbc.gov.kh").unwrap();
        let client = BakongClient::new(url, token(), Duration::from_secs(5)).unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("c2lnbmF0dXJl"), "{debug}");
    }

    #[test]
    fn md5s_must_be_lowercase_hex() {
        assert!(check_md5("0123456789abcdef0123456789abcdef").is_ok());
        assert!(check_md5("0123456789ABCDEF0123456789abcdef").is_err());
        assert!(check_md5("0123456789abcdef").is_err());
        assert!(check_md5("0123456789abcdef0123456789abcdeg").is_err());
    }
}
