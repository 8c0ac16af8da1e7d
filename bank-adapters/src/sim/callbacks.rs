//! Sending a simulated bank's callback to our service, possibly several times or late.

use axum::http::HeaderMap;
use serde::Serialize;
use url::Url;

use crate::http::transport_error;

/// Most copies of one callback a single pay action may send; enough to test idempotency
/// under repetition without turning the simulator into a load generator.
pub(super) const MAX_DUPLICATE: u32 = 20;

/// Longest delay before a late callback (one minute covers every retry/ordering test).
pub(super) const MAX_DELAY_MS: u64 = 60_000;

/// What became of one copy of a callback.
#[derive(Debug, Clone, Serialize)]
pub(super) struct CallbackOutcome {
    /// Our service's HTTP status, or `None` when no answer came back.
    pub status: Option<u16>,
    /// Why no answer came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One callback ready to send: the exact bytes, the headers, and where to.
#[derive(Debug, Clone)]
pub(super) struct PreparedCallback {
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// For logs only: which bank transaction this is.
    pub transaction_id: String,
}

/// Sends the same callback `copies` times, one after another, and reports each outcome.
///
/// Copies go out sequentially, as a bank's retry loop would; each is bounded by the client's
/// timeout.
pub(super) async fn deliver(
    http: &reqwest::Client,
    callback: &PreparedCallback,
    copies: u32,
) -> Vec<CallbackOutcome> {
    let mut outcomes = Vec::new();
    for copy in 1..=copies {
        let sent = http
            .post(callback.url.clone())
            .headers(callback.headers.clone())
            .body(callback.body.clone())
            .send()
            .await;
        let outcome = match sent {
            Ok(response) => CallbackOutcome {
                status: Some(response.status().as_u16()),
                error: None,
            },
            Err(error) => CallbackOutcome {
                status: None,
                error: Some(transport_error(error).to_string()),
            },
        };
        tracing::info!(
            transaction_id = %callback.transaction_id,
            callback.copy = copy,
            callback.copies = copies,
            http.status = ?outcome.status,
            error = ?outcome.error,
            "simulated bank callback sent"
        );
        outcomes.push(outcome);
    }
    outcomes
}
