//! Asks the sandbox bank about attempts no callback has settled, so that a payment the bank
//! took is found even when every callback about it was lost (a dead instance's 502, a bank
//! that stopped retrying).
//!
//! Each attempt is first checked `SANDBOX_STATUS_AFTER_MS` after it was made (the callback
//! usually comes first), then at doubling intervals, and a last time at its expiry plus
//! `SANDBOX_STATUS_GRACE_S`. Due attempts are leased by one instance at a time
//! (`FOR UPDATE SKIP LOCKED` plus a lease column), asked about with no transaction open, and
//! what the bank says is recorded in a transaction of its own through the settlement every
//! channel uses: the provider transaction id is claimed once, so a late callback of the same
//! payment (or a second instance) settles nothing twice.

use std::sync::Arc;
use std::time::Duration;

use bank_adapters::error::AdapterError;
use bank_adapters::sandbox::{PaymentStatusResponse, SandboxClient, SandboxPaymentStatus};
use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::app::error::AppError;
use crate::app::inbox;
use crate::app::settlement::{Report, Settlement};
use crate::app::states::{AttemptStatus, Channel};
use crate::db;
use crate::db::attempts::DueCheck;
use crate::state::AppState;

/// Attempts leased per round; their checks go to the bank at once.
const BATCH: i64 = 32;
/// The longest pause between two checks of one attempt.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// An attempt the bank could not be asked about is given up this long after its final check
/// was due (logged): by then an operator has the bank's own statement to reconcile.
const GIVE_UP_AFTER_FINAL: chrono::Duration = chrono::Duration::hours(24);

pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        let pause = match check_once(&state).await {
            // A full batch: more may be due at once.
            Ok(count) if i64::try_from(count).unwrap_or(0) >= BATCH => Duration::ZERO,
            Ok(_) => state.config.sandbox_status_poll_interval,
            Err(error) => {
                tracing::warn!(error = %error, "sandbox status round failed; will retry");
                state.config.sandbox_status_poll_interval * 5
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

/// One round: lease due attempts, ask the bank about each, record what it says. Returns how
/// many attempts were leased.
#[tracing::instrument(skip_all)]
pub async fn check_once(state: &AppState) -> Result<usize, AppError> {
    // The lease outlasts a bank call that times out and the recording after it.
    let lease_ms = i64::try_from(
        state
            .config
            .bank_timeout
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(30))
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    let due = db::attempts::lease_status_checks(&state.pool, BATCH, lease_ms).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let count = due.len();
    let mut asking = JoinSet::new();
    for attempt in due {
        if attempt.status == AttemptStatus::Paid {
            // Settled by its callback meanwhile: nothing to ask.
            finish(&state.pool, attempt.id, false).await?;
            continue;
        }
        let client: Arc<SandboxClient> = Arc::clone(&state.sandbox);
        asking.spawn(async move {
            let answer = client.payment_status(&attempt.provider_reference).await;
            (attempt, answer)
        });
    }
    while let Some(joined) = asking.join_next().await {
        let Ok((attempt, answer)) = joined else {
            continue;
        };
        metrics::counter!("owso_sandbox_status_checks_total").increment(1);
        let result = match answer {
            Ok(answer) if answer.status == SandboxPaymentStatus::Paid => {
                settle(state, &attempt, &answer).await
            }
            // Not paid, or a reference the bank never recorded (its create call failed).
            Ok(_) | Err(AdapterError::Status { status: 404, .. }) => {
                reschedule(state, &attempt, true).await
            }
            Err(error) => {
                tracing::warn!(payment_attempt.id = %attempt.id, error = %error, "could not ask the sandbox bank about an attempt");
                reschedule(state, &attempt, false).await
            }
        };
        if let Err(error) = result {
            // The lease runs out and a later round asks again.
            tracing::warn!(payment_attempt.id = %attempt.id, error = %error, "could not record the sandbox bank's answer");
        }
    }
    Ok(count)
}

/// Records a payment the bank reports, with the raw answer kept in the inbox, through the path
/// every channel takes (app::settlement_batch); the attempt is checked no more.
async fn settle(
    state: &AppState,
    attempt: &DueCheck,
    answer: &PaymentStatusResponse,
) -> Result<(), AppError> {
    let Some(paid) = answer.paid_report() else {
        tracing::warn!(payment_attempt.id = %attempt.id, "the sandbox bank reports a payment without a transaction id; asking again later");
        return reschedule(state, attempt, false).await;
    };
    let body = serde_json::to_vec(answer).map_err(AppError::internal)?;
    let inbox_id = inbox::store(
        &state.pool,
        "sandbox",
        &serde_json::json!({"source": "status_query"}),
        &body,
    )
    .await?;
    // The bank answered our own request over TLS: as trusted as a verified signature.
    let mut report = Report::new("sandbox", Channel::Sandbox, paid, Some(inbox_id));
    report.signature_valid = Some(true);
    let outcome = state.settlements.settle(report).await?;
    // After the settlement committed; should this instance stop in between, the next check
    // finds the payment claimed already and settles nothing twice.
    finish(&state.pool, attempt.id, false).await?;
    metrics::counter!("owso_sandbox_status_found_total", "outcome" => outcome.inbox_status().as_str())
        .increment(1);
    if let Settlement::Paid { .. } = &outcome {
        tracing::info!(payment_attempt.id = %attempt.id, "the sandbox bank reported a payment no callback had settled");
    }
    Ok(())
}

/// Schedules the next check, doubling the pause each time, never past the final check at
/// expiry plus grace. After a definite "not paid" at or past that final check, the attempt is
/// expired and checked no more.
async fn reschedule(state: &AppState, attempt: &DueCheck, answered: bool) -> Result<(), AppError> {
    let grace = chrono::Duration::from_std(state.config.sandbox_status_grace)
        .unwrap_or_else(|_| chrono::Duration::minutes(5));
    let final_check = attempt.expires_at + grace;
    let now = Utc::now();
    if (answered && now >= final_check) || now > final_check + GIVE_UP_AFTER_FINAL {
        if !answered {
            tracing::warn!(payment_attempt.id = %attempt.id, "the sandbox bank could not be asked about an attempt; giving up");
        }
        return finish(&state.pool, attempt.id, true).await;
    }
    let doublings = u32::try_from(attempt.status_checks.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    let delay = state
        .config
        .sandbox_status_after
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF);
    let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    db::attempts::schedule_status_check(
        &state.pool,
        attempt.id,
        delay_ms,
        final_check,
        now >= final_check,
    )
    .await
}

/// No more checks; `expire` also expires an attempt the bank never saw paid.
async fn finish<'c>(
    executor: impl sqlx::PgExecutor<'c>,
    attempt_id: Uuid,
    expire: bool,
) -> Result<(), AppError> {
    db::attempts::finish_status_checks(executor, attempt_id, expire).await
}
