//! Inbound bank messages: stored raw first, then verified, then processed idempotently.

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::inbox;
use super::settlement::Report;
use super::states::{Channel, InboxStatus};
use crate::app::error::{AppError, Refusal};
use crate::state::AppState;
use bank_adapters::sandbox;

/// A message as a bank sent it: the headers worth keeping with it (a JSON object of name to
/// text), its signature as sent, and its exact bytes.
pub struct Inbound<'a> {
    pub headers: Value,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// Handles `POST /v1/callbacks/sandbox`: stores the message raw, then verifies and settles it.
#[tracing::instrument(skip_all, fields(bank.provider = "sandbox"))]
pub async fn sandbox(state: &AppState, message: Inbound<'_>) -> Result<Value, AppError> {
    if !state.config.sandbox_enabled {
        return Err(AppError::not_found("provider"));
    }
    let inbox_id = inbox::receive(&state.pool, "sandbox", &message.headers, message.body).await?;
    process_sandbox(state, inbox_id, message.signature, message.body).await
}

/// Verifies, parses and settles a sandbox callback stored as inbox message `inbox_id`, and
/// marks the message with what came of it. Also the path of a message a crash left
/// unprocessed (workers::recovery): settling is idempotent by provider transaction id.
#[tracing::instrument(skip_all, fields(inbox.id = inbox_id, bank.provider = "sandbox"))]
pub async fn process_sandbox(
    state: &AppState,
    inbox_id: i64,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Value, AppError> {
    let secret = state.config.sandbox_callback_secret.expose_secret();
    if sandbox::verify_signature(secret.as_bytes(), body, signature).is_err() {
        inbox::mark(
            &state.pool,
            inbox_id,
            InboxStatus::Rejected,
            Some(false),
            "bad_signature",
            None,
        )
        .await?;
        metrics::counter!("owso_callbacks_total", "provider" => "sandbox", "verdict" => "bad_signature").increment(1);
        tracing::warn!(
            inbox.id = inbox_id,
            "sandbox callback refused: signature does not verify"
        );
        return Err(AppError::Unauthenticated(Refusal::new(
            "invalid_signature",
            "Invalid signature",
            "the X-Sandbox-Signature header does not match the body",
        )));
    }
    let report = match sandbox::parse_callback_report(body) {
        Ok(report) => report,
        Err(error) => {
            inbox::mark(
                &state.pool,
                inbox_id,
                InboxStatus::Rejected,
                Some(true),
                &format!("malformed: {error}"),
                None,
            )
            .await?;
            metrics::counter!("owso_callbacks_total", "provider" => "sandbox", "verdict" => "malformed").increment(1);
            return Err(AppError::bad_request(format!(
                "callback body is not a sandbox callback: {error}"
            )));
        }
    };
    let transaction_id = report.transaction_id.clone();
    let mut report = Report::new("sandbox", Channel::Sandbox, report, Some(inbox_id));
    report.signature_valid = Some(true);
    // Settled in a group with the reports arriving meanwhile (app::settlement_batch): the
    // claim, entry, state change, staged event and this message's verdict commit together,
    // and the answer comes once the payment is numbered.
    let outcome = state.settlements.settle(report).await?;
    metrics::counter!("owso_callbacks_total", "provider" => "sandbox", "verdict" => outcome.verdict()).increment(1);
    // The bank only needs to know we have it; the outcome is ours to act on.
    Ok(json!({ "received": true, "transaction_id": transaction_id }))
}
