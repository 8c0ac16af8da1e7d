//! Nothing received is forgotten: bank callbacks a crash left unprocessed in the inbox are
//! processed again, and expired idempotency keys are deleted.
//!
//! A callback is stored raw before it is acted on (app::inbox). Should the instance die
//! between the two, the message stays `received`; once it is older than
//! `INBOX_RETRY_AFTER_MS` (by then its request has timed out for certain) any instance leases
//! it (`FOR UPDATE SKIP LOCKED` plus a lease column) and runs it through the same processing
//! as a live callback. Settling is idempotent by provider transaction id, so a message whose
//! payment a retried callback already settled ends `duplicate`, and nothing is posted twice.
//! A message whose settlement failed (marked `failed`: the database went away under it) is
//! retried the same way, each time after twice the lease (at most an hour): the crash drill
//! found such messages, which a bank that does not retry would otherwise have left unsettled.

use serde_json::Value;
use tokio::sync::watch;

use crate::app::error::AppError;
use crate::app::{callbacks, idempotency, inbox};
use crate::state::AppState;
use bank_adapters::sandbox::SIGNATURE_HEADER;

/// Messages leased per round.
const BATCH: i64 = 50;
/// Long enough to settle a batch; a crashed worker's lease runs out and another takes over.
const LEASE_SECONDS: i64 = 120;

pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        match retry_inbox_once(&state).await {
            Ok(count) if count > 0 => {
                tracing::info!(
                    inbox.retried = count,
                    "processed inbox messages left unprocessed"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "inbox retry round failed; will retry"),
        }
        match idempotency::sweep(&state.pool).await {
            Ok(count) if count > 0 => {
                tracing::info!(
                    idempotency.expired = count,
                    "deleted expired idempotency keys"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "idempotency sweep failed; will retry"),
        }
        tokio::select! {
            () = tokio::time::sleep(state.config.recovery_interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

/// One round: leases the sandbox callbacks left `received`, or marked `failed`, for longer
/// than `inbox_retry_after` and processes each. Returns how many were leased.
#[tracing::instrument(skip_all)]
pub async fn retry_inbox_once(state: &AppState) -> Result<usize, AppError> {
    let after_ms = i64::try_from(state.config.inbox_retry_after.as_millis()).unwrap_or(i64::MAX);
    let leased = inbox::lease_unprocessed(&state.pool, after_ms, BATCH, LEASE_SECONDS).await?;
    for message in &leased {
        let signature = message
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(Value::as_str);
        metrics::counter!("owso_inbox_retried_total").increment(1);
        // process_sandbox marks the message whatever the outcome (a bad signature, a malformed
        // body, a failed settlement), so it is not leased again.
        if let Err(error) =
            callbacks::process_sandbox(state, message.id, signature, &message.body).await
        {
            tracing::warn!(inbox.id = message.id, error = %error, "an unprocessed inbox message did not settle");
        }
    }
    Ok(leased.len())
}
