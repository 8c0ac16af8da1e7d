//! The payer's pay action: build one callback, sign it, and send it once, several times,
//! late, or forged.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{internal, malformed_json, unknown_reference, PaidPayment};
use crate::error::AdapterError;
use crate::http::endpoint;
use crate::sandbox::wire::{check_currency, check_reference, parse_amount};
use crate::sandbox::{SandboxCallback, SIGNATURE_HEADER};
use crate::signing::hmac_sha256_hex;
use crate::sim::callbacks::{
    deliver, retry, CallbackOutcome, PreparedCallback, MAX_DELAY_MS, MAX_DROP, MAX_DUPLICATE,
};
use crate::sim::html::{escape_html, page, path_segment};
use crate::sim::{SimError, SimState};

/// The payer's pay action. Everything is optional; see API.md "Configuration and the sandbox".
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)] // Our own test control API: a misspelt option must not pass silently.
struct PayRequest {
    amount: Option<String>,
    currency: Option<String>,
    duplicate: Option<u32>,
    delay_ms: Option<u64>,
    signature: Option<SignatureMode>,
    transaction_id: Option<String>,
    /// Drop this many deliveries (copies and retries) instead of sending them, to play
    /// callbacks lost on the way; more than the tries the retry schedule makes drops all.
    drop_callbacks: Option<u32>,
}

/// How the callback is signed. `bad` and `missing` play a forger, so they leave the bank's
/// own record of the payment untouched.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SignatureMode {
    #[default]
    Valid,
    Bad,
    Missing,
}

#[derive(Debug, Serialize)]
struct PayResponse {
    transaction_id: String,
    callbacks: Vec<CallbackOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    /// True when no copy got a 2xx and the callback will be sent again on the retry schedule.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    retrying: bool,
}

/// A pay action whose options passed their checks.
#[derive(Debug)]
struct PayPlan {
    amount: Option<String>,
    currency: Option<String>,
    copies: u32,
    delay_ms: Option<u64>,
    signature_mode: SignatureMode,
    transaction_id: String,
    drop_callbacks: u32,
}

impl PayRequest {
    fn into_plan(self) -> Result<PayPlan, SimError> {
        let copies = self.duplicate.unwrap_or(1);
        if !(1..=MAX_DUPLICATE).contains(&copies) {
            return Err(SimError::unprocessable(format!(
                "duplicate must be 1 to {MAX_DUPLICATE}"
            )));
        }
        if self
            .delay_ms
            .is_some_and(|delay_ms| delay_ms > MAX_DELAY_MS)
        {
            return Err(SimError::unprocessable(format!(
                "delay_ms must be 0 to {MAX_DELAY_MS}"
            )));
        }
        let drop_callbacks = self.drop_callbacks.unwrap_or(0);
        if drop_callbacks > MAX_DROP {
            return Err(SimError::unprocessable(format!(
                "drop_callbacks must be 0 to {MAX_DROP}"
            )));
        }
        if let Some(amount) = &self.amount {
            parse_amount(amount).map_err(SimError::unprocessable)?;
        }
        if let Some(currency) = &self.currency {
            check_currency(currency).map_err(SimError::unprocessable)?;
        }
        let transaction_id = match self.transaction_id {
            Some(transaction_id) => {
                check_reference("transaction_id", &transaction_id)
                    .map_err(SimError::unprocessable)?;
                transaction_id
            }
            None => format!("sbx_{}", uuid::Uuid::new_v4().simple()),
        };
        Ok(PayPlan {
            amount: self.amount,
            currency: self.currency,
            copies,
            delay_ms: self.delay_ms,
            signature_mode: self.signature.unwrap_or_default(),
            transaction_id,
            drop_callbacks,
        })
    }
}

pub(super) async fn pay(
    State(state): State<SimState>,
    Path(provider_reference): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SimError> {
    // The checkout page's form posts an empty urlencoded body; a person wants a page back.
    let from_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let request = if from_form || body.iter().all(u8::is_ascii_whitespace) {
        PayRequest::default()
    } else {
        serde_json::from_slice::<PayRequest>(&body).map_err(malformed_json)?
    };
    check_reference("provider_reference", &provider_reference).map_err(SimError::unprocessable)?;
    let plan = request.into_plan()?;
    let (amount, currency) = record_payment(&state, &provider_reference, &plan).await?;
    let callback = SandboxCallback {
        transaction_id: plan.transaction_id.clone(),
        provider_reference,
        amount,
        currency,
        paid_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    tracing::info!(
        provider_reference = %callback.provider_reference,
        transaction_id = %callback.transaction_id,
        amount = %callback.amount,
        currency = %callback.currency,
        callback.copies = plan.copies,
        callback.delay_ms = ?plan.delay_ms,
        callback.signature_mode = ?plan.signature_mode,
        "sandbox payer paid"
    );
    let prepared = prepare_callback(&state, &callback, plan.signature_mode)?;
    // A forger does not retry; the bank retries its own callbacks until one is taken.
    let schedule = if plan.signature_mode == SignatureMode::Valid {
        state.inner.callback_retry_schedule.clone()
    } else {
        Vec::new()
    };
    let mut drops_left = plan.drop_callbacks;
    if let Some(delay_ms) = plan.delay_ms {
        // Delayed callbacks are not awaited on shutdown: a simulator that stops simply
        // forgets them, like a bank that never retried.
        let http = state.inner.http.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            let outcomes = deliver(&http, &prepared, plan.copies, &mut drops_left).await;
            if !outcomes.iter().any(CallbackOutcome::succeeded) {
                retry(http, prepared, schedule, drops_left).await;
            }
        });
        let response = PayResponse {
            transaction_id: callback.transaction_id,
            callbacks: Vec::new(),
            delay_ms: Some(delay_ms),
            retrying: false,
        };
        return Ok((StatusCode::ACCEPTED, Json(response)).into_response());
    }
    let callbacks = deliver(&state.inner.http, &prepared, plan.copies, &mut drops_left).await;
    let retrying = !schedule.is_empty() && !callbacks.iter().any(CallbackOutcome::succeeded);
    if retrying {
        tokio::spawn(retry(
            state.inner.http.clone(),
            prepared,
            schedule,
            drops_left,
        ));
    }
    if from_form {
        let page = paid_page(
            &callback.provider_reference,
            &callback.transaction_id,
            &callbacks,
        );
        return Ok(Html(page).into_response());
    }
    let response = PayResponse {
        transaction_id: callback.transaction_id,
        callbacks,
        delay_ms: None,
        retrying,
    };
    Ok(Json(response).into_response())
}

/// Works out what was paid and, unless the callback plays a forger, records the payment.
///
/// A reference the bank never issued can still be paid when the payer names an amount: it
/// plays money arriving for an unknown reference, so the bank keeps no record of it.
async fn record_payment(
    state: &SimState,
    provider_reference: &str,
    plan: &PayPlan,
) -> Result<(String, String), SimError> {
    let mut payments = state.inner.sandbox.payments.write().await;
    let Some(payment) = payments.get_mut(provider_reference) else {
        let amount = plan.amount.clone().ok_or_else(unknown_reference)?;
        let currency = plan.currency.clone().ok_or_else(|| {
            SimError::unprocessable("currency is required to pay a reference the bank never issued")
        })?;
        return Ok((amount, currency));
    };
    let amount = plan
        .amount
        .clone()
        .unwrap_or_else(|| payment.amount.clone());
    let currency = plan
        .currency
        .clone()
        .unwrap_or_else(|| payment.currency.clone());
    if plan.signature_mode == SignatureMode::Valid {
        payment.paid = Some(PaidPayment {
            transaction_id: plan.transaction_id.clone(),
            amount: amount.clone(),
            currency: currency.clone(),
            paid_at: Utc::now(),
        });
    }
    Ok((amount, currency))
}

/// Serializes and signs the callback once, so every copy carries the same bytes.
fn prepare_callback(
    state: &SimState,
    callback: &SandboxCallback,
    signature_mode: SignatureMode,
) -> Result<PreparedCallback, SimError> {
    let config = state.config();
    let url =
        endpoint(&config.callback_base_url, &["v1", "callbacks", "sandbox"]).map_err(internal)?;
    let body = serde_json::to_vec(callback)
        .map_err(|error| internal(AdapterError::Decode(error.to_string())))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let signature = hmac_sha256_hex(config.sandbox_callback_secret.as_bytes(), &body);
    let signature = match signature_mode {
        SignatureMode::Valid => Some(signature),
        SignatureMode::Bad => Some(forge(&signature)),
        SignatureMode::Missing => None,
    };
    if let Some(signature) = signature {
        let value = HeaderValue::from_str(&signature)
            .map_err(|_| internal(AdapterError::InvalidInput("signature header".to_owned())))?;
        headers.insert(SIGNATURE_HEADER, value);
    }
    Ok(PreparedCallback {
        url,
        headers,
        body,
        transaction_id: callback.transaction_id.clone(),
    })
}

/// A well-formed signature that is certainly wrong: the right one with its first digit changed.
fn forge(signature: &str) -> String {
    let mut chars = signature.chars();
    let first = match chars.next() {
        Some('0') => '1',
        _ => '0',
    };
    std::iter::once(first).chain(chars).collect()
}

fn paid_page(
    provider_reference: &str,
    transaction_id: &str,
    callbacks: &[CallbackOutcome],
) -> String {
    let answers: Vec<String> = callbacks
        .iter()
        .map(|outcome| match (outcome.status, &outcome.error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => format!("no answer ({})", escape_html(error)),
            (None, None) => "no answer".to_owned(),
        })
        .collect();
    let back = format!("../../checkout/{}", path_segment(provider_reference));
    let content = format!(
        "<p>Paid. Transaction {transaction}.</p>\n<p>OWSO Pay answered the callback: {answers}.</p>\n\
         <p><a href=\"{back}\">Back to the checkout page</a></p>",
        transaction = escape_html(transaction_id),
        answers = answers.join(", "),
        back = escape_html(&back),
    );
    page("Sandbox bank: paid", &content)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn forged_signatures_differ_but_stay_well_formed() {
        let right = "0abc";
        assert_eq!(forge(right), "1abc");
        assert_eq!(forge("fabc"), "0abc");
    }
}
