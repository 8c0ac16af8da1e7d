//! Sending a simulated bank's callback to our service, possibly several times or late, and
//! again after a failure, as a real bank's retry loop does.
//!
//! A callback none of whose copies got a 2xx is sent again after each delay of the retry
//! schedule ([`DEFAULT_RETRY_SCHEDULE_MS`], or `SIM_CALLBACK_RETRY_MS` for `bank-sim`) until
//! one gets a 2xx; then the simulator gives up, and only a status query finds the payment.
//! A pay action may ask for its first deliveries to be dropped (never sent, counted as failed)
//! to play a callback lost on the way.

use std::time::Duration;

use axum::http::HeaderMap;
use serde::Serialize;
use url::Url;

use crate::http::transport_error;

/// Most copies of one callback a single pay action may send; enough to test idempotency
/// under repetition without turning the simulator into a load generator.
pub(super) const MAX_DUPLICATE: u32 = 20;

/// Longest delay before a late callback (one minute covers every retry/ordering test).
pub(super) const MAX_DELAY_MS: u64 = 60_000;

/// Most deliveries a pay action may ask to drop; past the tries a schedule makes, every one.
pub(super) const MAX_DROP: u32 = 1_000;

/// Delays before each retry of a callback that got no 2xx, in milliseconds: short, so tests
/// see the retry in seconds, and long enough in total (about four minutes) to ride out a
/// service restart.
pub const DEFAULT_RETRY_SCHEDULE_MS: [u64; 8] =
    [1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 60_000, 120_000];

/// What became of one copy of a callback.
#[derive(Debug, Clone, Serialize)]
pub(super) struct CallbackOutcome {
    /// Our service's HTTP status, or `None` when no answer came back.
    pub status: Option<u16>,
    /// Why no answer came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CallbackOutcome {
    /// The service took the callback.
    pub fn succeeded(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
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
/// timeout. While `drops_left` is above zero a copy is dropped instead of sent (and counts it
/// down).
pub(super) async fn deliver(
    http: &reqwest::Client,
    callback: &PreparedCallback,
    copies: u32,
    drops_left: &mut u32,
) -> Vec<CallbackOutcome> {
    let mut outcomes = Vec::new();
    for copy in 1..=copies {
        if *drops_left > 0 {
            *drops_left -= 1;
            tracing::info!(
                transaction_id = %callback.transaction_id,
                callback.copy = copy,
                "simulated bank callback dropped on purpose"
            );
            outcomes.push(CallbackOutcome {
                status: None,
                error: Some("dropped on purpose (drop_callbacks)".to_owned()),
            });
            continue;
        }
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

/// Sends the callback again after each delay of `schedule` until one copy gets a 2xx.
/// Runs in the background: a simulator that stops simply forgets the rest.
pub(super) async fn retry(
    http: reqwest::Client,
    callback: PreparedCallback,
    schedule: Vec<Duration>,
    mut drops_left: u32,
) {
    for (index, delay) in schedule.iter().enumerate() {
        tokio::time::sleep(*delay).await;
        let outcomes = deliver(&http, &callback, 1, &mut drops_left).await;
        if outcomes.iter().any(CallbackOutcome::succeeded) {
            tracing::info!(
                transaction_id = %callback.transaction_id,
                callback.retry = index + 1,
                "simulated bank callback delivered on retry"
            );
            return;
        }
    }
    tracing::warn!(
        transaction_id = %callback.transaction_id,
        "simulated bank gave up on a callback; only a status query finds this payment"
    );
}
