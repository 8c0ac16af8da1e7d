//! The sandbox bank: a development-only channel that behaves like a simple card/wallet
//! gateway (create a payment, the payer pays on a checkout page, a signed callback follows).
//!
//! `bank-sim` plays the bank; see [`crate::sim`].

pub mod wire;

use std::time::Duration;

use url::Url;

pub use wire::{
    parse_callback, parse_callback_report, CreatePaymentRequest, CreatePaymentResponse,
    PaymentStatusResponse, SandboxCallback, SandboxPaymentStatus, DEFAULT_CALLBACK_SECRET,
    SIGNATURE_HEADER,
};

use crate::error::AdapterError;
use crate::http::{build_client, endpoint, read_json, transport_error};
use crate::signing::verify_hmac_sha256_hex;

/// Checks a callback's [`SIGNATURE_HEADER`] value against the raw body, in constant time.
///
/// `signature_header` is the header's value, or `None` when the header was absent.
///
/// # Errors
///
/// [`AdapterError::InvalidSignature`] when the header is absent or does not match.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    signature_header: Option<&str>,
) -> Result<(), AdapterError> {
    match signature_header {
        Some(signature) if verify_hmac_sha256_hex(secret, body, signature.trim()) => Ok(()),
        _ => Err(AdapterError::InvalidSignature),
    }
}

/// A client for the sandbox bank's payment API.
#[derive(Debug, Clone)]
pub struct SandboxClient {
    http: reqwest::Client,
    base_url: Url,
}

impl SandboxClient {
    /// Builds a client for the bank at `base_url` (for example `bank-sim`'s address).
    ///
    /// `timeout` bounds each whole request; connecting gets at most five seconds of it.
    ///
    /// # Errors
    ///
    /// [`AdapterError::InvalidInput`] when `timeout` is zero or `base_url` cannot hold a
    /// path (such as `mailto:`), [`AdapterError::Transport`] when the TLS backend cannot start.
    pub fn new(base_url: Url, timeout: Duration) -> Result<Self, AdapterError> {
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(AdapterError::InvalidInput(
                "the sandbox base URL must be an http or https URL".to_owned(),
            ));
        }
        Ok(Self {
            http: build_client(timeout)?,
            base_url,
        })
    }

    /// Opens a payment at the bank (`POST {base}/sandbox/payments`).
    ///
    /// Creating the same reference again with the same amount returns the same payment, so a
    /// retry after a timeout is safe.
    ///
    /// # Errors
    ///
    /// [`AdapterError::InvalidInput`] when the request fails [`CreatePaymentRequest::validate`];
    /// [`AdapterError::Timeout`] or [`AdapterError::Transport`] when the bank is unreachable;
    /// [`AdapterError::Status`] for an unexpected status (409 when the reference exists with
    /// another amount); [`AdapterError::Decode`] when the answer is not the documented JSON or
    /// names another reference.
    #[tracing::instrument(skip_all, fields(bank = "sandbox", provider_reference = %request.provider_reference))]
    pub async fn create_payment(
        &self,
        request: &CreatePaymentRequest,
    ) -> Result<CreatePaymentResponse, AdapterError> {
        request.validate()?;
        let url = endpoint(&self.base_url, &["sandbox", "payments"])?;
        let response = self
            .http
            .post(url)
            .json(request)
            .send()
            .await
            .map_err(transport_error)?;
        let created: CreatePaymentResponse = read_json(response).await?;
        ensure_same_reference(&request.provider_reference, &created.provider_reference)?;
        Ok(created)
    }

    /// Asks the bank for the state of a payment (`GET {base}/sandbox/payments/{ref}`).
    ///
    /// # Errors
    ///
    /// [`AdapterError::InvalidInput`] for an empty or over-long reference;
    /// [`AdapterError::Timeout`] or [`AdapterError::Transport`] when the bank is unreachable;
    /// [`AdapterError::Status`] with 404 for a reference the bank does not know;
    /// [`AdapterError::Decode`] when the answer is not the documented JSON or names another
    /// reference.
    #[tracing::instrument(skip_all, fields(bank = "sandbox", provider_reference = %provider_reference))]
    pub async fn payment_status(
        &self,
        provider_reference: &str,
    ) -> Result<PaymentStatusResponse, AdapterError> {
        wire::check_reference("provider_reference", provider_reference)
            .map_err(AdapterError::InvalidInput)?;
        let url = endpoint(&self.base_url, &["sandbox", "payments", provider_reference])?;
        let response = self.http.get(url).send().await.map_err(transport_error)?;
        let status: PaymentStatusResponse = read_json(response).await?;
        ensure_same_reference(provider_reference, &status.provider_reference)?;
        Ok(status)
    }
}

/// An answer about another payment than the one we asked for must never be applied to ours.
fn ensure_same_reference(asked: &str, answered: &str) -> Result<(), AdapterError> {
    if asked == answered {
        Ok(())
    } else {
        Err(AdapterError::Decode(
            "the bank answered about another provider_reference".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn verify_signature_needs_a_matching_header() {
        let body = br#"{"transaction_id":"sbx_1"}"#;
        let signature = crate::signing::hmac_sha256_hex(b"secret", body);
        assert_eq!(verify_signature(b"secret", body, Some(&signature)), Ok(()));
        assert_eq!(
            verify_signature(b"secret", body, Some(&format!(" {signature}\t"))),
            Ok(())
        );
        assert_eq!(
            verify_signature(b"secret", body, None),
            Err(AdapterError::InvalidSignature)
        );
        assert_eq!(
            verify_signature(b"other", body, Some(&signature)),
            Err(AdapterError::InvalidSignature)
        );
        assert_eq!(
            verify_signature(b"secret", b"{}", Some(&signature)),
            Err(AdapterError::InvalidSignature)
        );
    }

    #[test]
    fn client_refuses_unusable_configuration() {
        let url = Url::parse("http://127.0.0.1:8081").unwrap();
        assert!(SandboxClient::new(url.clone(), Duration::from_secs(5)).is_ok());
        assert!(matches!(
            SandboxClient::new(url, Duration::ZERO),
            Err(AdapterError::InvalidInput(_))
        ));
        let mailto = Url::parse("mailto:bank@example.com").unwrap();
        assert!(matches!(
            SandboxClient::new(mailto, Duration::from_secs(5)),
            Err(AdapterError::InvalidInput(_))
        ));
    }

    #[test]
    fn endpoints_keep_a_base_path_and_encode_references() {
        let base = Url::parse("http://bank.test/prefix/").unwrap();
        let url = endpoint(&base, &["sandbox", "payments", "a/b c"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://bank.test/prefix/sandbox/payments/a%2Fb%20c"
        );
    }
}
