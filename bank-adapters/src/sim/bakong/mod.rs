//! The Bakong Open API simulator: the transaction checks our service polls, behind bearer
//! auth, with knobs to misbehave; the payer's pay action and the test controls are in
//! [`payer`].
//!
//! Routes (API.md "Configuration and the sandbox"; shapes in `crate::bakong::wire`):
//!
//! - `POST /v1/check_transaction_by_md5 {"md5"}`, `POST /v1/check_transaction_by_md5_list
//!   [md5, ...]`, `POST /v1/check_transaction_by_hash {"hash"}`: bearer token
//!   `SimConfig::bakong_token` (`BAKONG_API_TOKEN`, default `bakong-sim-token`).
//! - `POST /v1/generate_deeplink_by_qr {"qr", "sourceInfo"}`: a short link on the simulator's
//!   own origin (`/bakong/sim/deeplink/{md5}`), whose page pays the QR as a bank app would
//!   (knob `deeplink_error`: answer errorCode 4 instead).
//! - `POST /bakong/sim/pay {"qr", "from_account_id"?}`: a bank app scans and pays a KHQR.
//! - `GET|POST /bakong/sim/control`: misbehaviour knobs and per-endpoint call counts
//!   (`malformed_md5s`: list answers carry an unreadable item for these md5s).
//! - `GET /bakong/sim/payments`: what was paid.
//!
//! Answers the real API does not document are our choice (\[U\] in `crate::bakong::wire`):
//! a wrong or missing token → HTTP 401 with errorCode 6 (as the real API); a malformed body,
//! an empty md5, or more than 50 md5s → HTTP 400 with `responseCode` 1 and errorCode 5
//! (missing required fields); a forced rate limit → HTTP 429 with `Retry-After`; a forced
//! failure → HTTP 500; both with an envelope without errorCode.

mod deeplink;
mod payer;

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use subtle::ConstantTimeEq as _;
use tokio::sync::Mutex;

use super::SimState;
use crate::bakong::wire::{
    HashRequest, Md5Request, ERROR_MISSING_FIELDS, ERROR_NOT_FOUND, ERROR_UNAUTHORIZED,
    NOT_FOUND_MESSAGE, RESPONSE_CODE_FAIL, RESPONSE_CODE_SUCCESS,
};
use crate::bakong::{
    BakongEnvelope, BakongTransaction, Md5ListItem, Md5Status, TransactionData, MAX_MD5_LIST_LEN,
};

/// The simulator keeps every payment in memory; past this many it refuses new ones rather
/// than grow without bound during a long soak test (and `GET /bakong/sim/payments` stays a
/// few megabytes at most).
const MAX_PAYMENTS: usize = 10_000;

/// Bakong's in-memory state: payments, knobs and call counts.
#[derive(Default)]
pub(super) struct BakongStore {
    state: Mutex<BakongState>,
}

#[derive(Default)]
struct BakongState {
    /// In the order they were paid.
    payments: Vec<SimPayment>,
    by_md5: HashMap<String, usize>,
    by_hash: HashMap<String, usize>,
    /// The KHQRs deep links were made for, by md5 (at most [`MAX_PAYMENTS`]).
    deeplinks: HashMap<String, String>,
    knobs: Knobs,
    calls: CallCounts,
}

#[derive(Debug, Clone)]
struct SimPayment {
    md5: String,
    /// The paid KHQR's bill number (tag 62, sub-tag 01), the payer's reference on statements.
    bill_number: Option<String>,
    transaction: BakongTransaction,
}

/// A Bakong payment as a statement of its receiving account lists it.
#[derive(Debug, Clone)]
pub(in crate::sim) struct BakongCredit {
    pub(in crate::sim) md5: String,
    pub(in crate::sim) bill_number: Option<String>,
    pub(in crate::sim) transaction: BakongTransaction,
}

impl BakongStore {
    /// Every payment whose KHQR named `account_id` (its `to_account_id`).
    pub(in crate::sim) async fn credits_into(&self, account_id: &str) -> Vec<BakongCredit> {
        let state = self.state.lock().await;
        state
            .payments
            .iter()
            .filter(|payment| payment.transaction.to_account_id == account_id)
            .map(|payment| BakongCredit {
                md5: payment.md5.clone(),
                bill_number: payment.bill_number.clone(),
                transaction: payment.transaction.clone(),
            })
            .collect()
    }
}

impl BakongState {
    fn find_md5(&self, md5: &str) -> Option<&BakongTransaction> {
        let index = *self.by_md5.get(md5)?;
        self.payments.get(index).map(|payment| &payment.transaction)
    }

    fn find_hash(&self, hash: &str) -> Option<&BakongTransaction> {
        let index = *self.by_hash.get(hash)?;
        self.payments.get(index).map(|payment| &payment.transaction)
    }
}

/// How the Open API endpoints misbehave; set with `POST /bakong/sim/control`.
#[derive(Debug, Clone, Serialize)]
struct Knobs {
    /// Answer every call 401 / errorCode 6, as for an expired token.
    unauthorized: bool,
    /// Answer this many next calls 429.
    rate_limit_next: u32,
    /// The `Retry-After` of those 429s, in seconds.
    retry_after_s: u64,
    /// Answer this many next calls 500.
    fail_next: u32,
    /// Wait this long before answering every call.
    delay_ms: u64,
    /// In list answers, these md5s get an item Bakong's format does not allow (a `SUCCESS`
    /// whose transaction has a numeric hash and a text amount), as a broken answer would.
    malformed_md5s: Vec<String>,
    /// Answer `generate_deeplink_by_qr` with errorCode 4 (the deep-link provider failed).
    deeplink_error: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            unauthorized: false,
            rate_limit_next: 0,
            retry_after_s: 1,
            fail_next: 0,
            delay_ms: 0,
            malformed_md5s: Vec::new(),
            deeplink_error: false,
        }
    }
}

/// Calls each Open API endpoint received (every call, whatever the answer), so tests can
/// check how a client batches.
#[derive(Debug, Clone, Default, Serialize)]
struct CallCounts {
    check_transaction_by_md5: u64,
    check_transaction_by_md5_list: u64,
    check_transaction_by_hash: u64,
    generate_deeplink_by_qr: u64,
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Md5,
    Md5List,
    Hash,
    Deeplink,
}

impl CallCounts {
    fn count(&mut self, endpoint: Endpoint) {
        let counter = match endpoint {
            Endpoint::Md5 => &mut self.check_transaction_by_md5,
            Endpoint::Md5List => &mut self.check_transaction_by_md5_list,
            Endpoint::Hash => &mut self.check_transaction_by_hash,
            Endpoint::Deeplink => &mut self.generate_deeplink_by_qr,
        };
        *counter = counter.saturating_add(1);
    }
}

/// What the knobs and the token decide for one call.
enum Verdict {
    Pass,
    RateLimited { retry_after_s: u64 },
    Unauthorized,
    Fail,
}

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/v1/check_transaction_by_md5", post(check_by_md5))
        .route("/v1/check_transaction_by_md5_list", post(check_by_md5_list))
        .route("/v1/check_transaction_by_hash", post(check_by_hash))
        .merge(deeplink::routes())
        .merge(payer::routes())
}

async fn check_by_md5(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = gate(&state, &headers, Endpoint::Md5).await {
        return refusal;
    }
    let Some(request) = serde_json::from_slice::<Md5Request>(&body)
        .ok()
        .filter(|request| !request.md5.is_empty())
    else {
        return missing_fields("the body must be {\"md5\": \"...\"}");
    };
    let store = state.inner.bakong.state.lock().await;
    transaction_answer(store.find_md5(&request.md5))
}

async fn check_by_hash(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = gate(&state, &headers, Endpoint::Hash).await {
        return refusal;
    }
    let Some(request) = serde_json::from_slice::<HashRequest>(&body)
        .ok()
        .filter(|request| !request.hash.is_empty())
    else {
        return missing_fields("the body must be {\"hash\": \"...\"}");
    };
    let store = state.inner.bakong.state.lock().await;
    transaction_answer(store.find_hash(&request.hash))
}

async fn check_by_md5_list(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = gate(&state, &headers, Endpoint::Md5List).await {
        return refusal;
    }
    let Ok(md5s) = serde_json::from_slice::<Vec<String>>(&body) else {
        return missing_fields("the body must be a JSON array of md5 strings");
    };
    if md5s.len() > MAX_MD5_LIST_LEN {
        return missing_fields(&format!(
            "at most {MAX_MD5_LIST_LEN} md5s per call, got {}",
            md5s.len()
        ));
    }
    let store = state.inner.bakong.state.lock().await;
    let items: Vec<serde_json::Value> = md5s
        .into_iter()
        .map(|md5| {
            if store.knobs.malformed_md5s.contains(&md5) {
                return serde_json::json!({
                    "md5": md5,
                    "status": "SUCCESS",
                    "message": "Success",
                    "data": {"hash": 42, "currency": "KHR", "amount": "not a number"},
                });
            }
            let item = match store.find_md5(&md5) {
                Some(transaction) => Md5ListItem {
                    md5,
                    status: Md5Status::Success,
                    message: Some("Success".to_owned()),
                    data: Some(TransactionData::from(transaction)),
                },
                None => Md5ListItem {
                    md5,
                    status: Md5Status::NotFound,
                    message: Some(NOT_FOUND_MESSAGE.to_owned()),
                    data: None,
                },
            };
            serde_json::to_value(item).unwrap_or(serde_json::Value::Null)
        })
        .collect();
    envelope(
        StatusCode::OK,
        RESPONSE_CODE_SUCCESS,
        "Success",
        None,
        Some(items),
    )
}

/// Counts the call, applies the delay, and answers for the knobs and the token; `None` lets
/// the call through.
async fn gate(state: &SimState, headers: &HeaderMap, endpoint: Endpoint) -> Option<Response> {
    let token_ok = bearer_matches(headers, &state.config().bakong_token);
    let (delay_ms, verdict) = {
        let mut store = state.inner.bakong.state.lock().await;
        store.calls.count(endpoint);
        let knobs = &mut store.knobs;
        // The order of a real deployment: the edge's rate limiter, then the token, then the
        // backend. Only the knob that fires is used up.
        let verdict = if knobs.rate_limit_next > 0 {
            knobs.rate_limit_next = knobs.rate_limit_next.saturating_sub(1);
            Verdict::RateLimited {
                retry_after_s: knobs.retry_after_s,
            }
        } else if knobs.unauthorized || !token_ok {
            Verdict::Unauthorized
        } else if knobs.fail_next > 0 {
            knobs.fail_next = knobs.fail_next.saturating_sub(1);
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        (knobs.delay_ms, verdict)
    };
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    match verdict {
        Verdict::Pass => None,
        Verdict::RateLimited { retry_after_s } => {
            let mut response = envelope::<()>(
                StatusCode::TOO_MANY_REQUESTS,
                RESPONSE_CODE_FAIL,
                "Too many requests",
                None,
                None,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            Some(response)
        }
        Verdict::Unauthorized => {
            let mut response = envelope::<()>(
                StatusCode::UNAUTHORIZED,
                RESPONSE_CODE_FAIL,
                "Unauthorized",
                Some(ERROR_UNAUTHORIZED),
                None,
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Some(response)
        }
        Verdict::Fail => Some(envelope::<()>(
            StatusCode::INTERNAL_SERVER_ERROR,
            RESPONSE_CODE_FAIL,
            "Internal server error",
            None,
            None,
        )),
    }
}

/// Whether `Authorization` is `Bearer <token>`, compared in constant time.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, presented)) = value.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && bool::from(presented.trim().as_bytes().ct_eq(token.as_bytes()))
}

/// A found transaction, or the not-found envelope (HTTP 200, errorCode 1) as Bakong answers.
fn transaction_answer(transaction: Option<&BakongTransaction>) -> Response {
    match transaction {
        Some(transaction) => envelope(
            StatusCode::OK,
            RESPONSE_CODE_SUCCESS,
            "Success",
            None,
            Some(TransactionData::from(transaction)),
        ),
        None => envelope::<()>(
            StatusCode::OK,
            RESPONSE_CODE_FAIL,
            NOT_FOUND_MESSAGE,
            Some(ERROR_NOT_FOUND),
            None,
        ),
    }
}

fn missing_fields(message: &str) -> Response {
    envelope::<()>(
        StatusCode::BAD_REQUEST,
        RESPONSE_CODE_FAIL,
        &format!("Missing required fields: {message}"),
        Some(ERROR_MISSING_FIELDS),
        None,
    )
}

fn envelope<T: Serialize>(
    status: StatusCode,
    response_code: i64,
    message: &str,
    error_code: Option<i64>,
    data: Option<T>,
) -> Response {
    let body = BakongEnvelope {
        response_code,
        response_message: message.to_owned(),
        error_code,
        data,
    };
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let mut headers = HeaderMap::new();
        assert!(!bearer_matches(&headers, "t0k"));
        for (value, ok) in [
            ("Bearer t0k", true),
            ("bearer t0k", true),
            ("Bearer t0k ", true),
            ("Bearer t0", false),
            ("Bearer t0kk", false),
            ("Basic t0k", false),
            ("t0k", false),
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            assert_eq!(bearer_matches(&headers, "t0k"), ok, "{value}");
        }
    }
}
