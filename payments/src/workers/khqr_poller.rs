//! Asks Bakong about KHQR attempts, since Bakong has no push.
//!
//! Each due attempt is leased by one instance at a time (`FOR UPDATE SKIP LOCKED` plus a lease
//! column), checked in bulk by md5 with no transaction open, and then recorded in its own
//! transaction. Attempts are checked with growing intervals until their QR has expired plus a
//! grace period; the last check comes after that, so an attempt is only called expired once
//! Bakong has been asked one final time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bank_adapters::bakong::{BakongClient, BakongTransaction};
use bank_adapters::error::AdapterError;
use chrono::Utc;
use serde_json::json;
use tokio::sync::watch;

use crate::app::error::AppError;
use crate::app::khqr;
use crate::db;
use crate::db::khqr::DueAttempt;
use crate::state::AppState;

/// At most this many attempts per round: one bulk call to Bakong (its list limit is 50).
const BATCH: i64 = 50;
const LEASE_SECONDS: i32 = 30;
/// Check intervals as multiples of the poll interval: quick at first (most payers pay within a
/// minute of scanning), then every 30 intervals.
const BACKOFF_STEPS: [u32; 7] = [2, 3, 5, 8, 13, 20, 30];
/// After Bakong refuses our token, wait this long before asking again: an operator must renew
/// it, and hammering Bakong with a dead token helps no one.
const UNAUTHORIZED_PAUSE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("Bakong: {0}")]
    Bank(#[from] AdapterError),
    #[error("{0}")]
    Service(#[from] AppError),
}

pub async fn run(state: AppState, client: Arc<BakongClient>, mut shutdown: watch::Receiver<bool>) {
    let interval = state.config.khqr_poll_interval;
    let mut rate_limit_pause = interval;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let pause = match poll_once(&state, &client).await {
            Ok(_) => {
                rate_limit_pause = interval;
                interval
            }
            Err(PollError::Bank(AdapterError::Unauthorized)) => {
                metrics::counter!("owso_bakong_errors_total", "kind" => "unauthorized")
                    .increment(1);
                tracing::error!("Bakong refused the API token (errorCode 6 / HTTP 401); renew BAKONG_API_TOKEN; KHQR payments are not being confirmed");
                UNAUTHORIZED_PAUSE
            }
            Err(PollError::Bank(AdapterError::RateLimited { retry_after_s })) => {
                metrics::counter!("owso_bakong_errors_total", "kind" => "rate_limited")
                    .increment(1);
                rate_limit_pause = (rate_limit_pause * 2).min(Duration::from_secs(60));
                let pause = retry_after_s.map_or(rate_limit_pause, Duration::from_secs);
                tracing::warn!(
                    pause_ms = pause.as_millis(),
                    "Bakong rate-limited the poller; backing off"
                );
                pause
            }
            Err(error) => {
                metrics::counter!("owso_bakong_errors_total", "kind" => "other").increment(1);
                tracing::warn!(error = %error, "KHQR poll round failed; will retry");
                interval * 5
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// One round: lease due attempts, ask Bakong, record what it says. Returns how many attempts
/// were checked.
#[tracing::instrument(skip_all)]
pub async fn poll_once(state: &AppState, client: &BakongClient) -> Result<usize, PollError> {
    let due = db::khqr::lease_due(&state.pool, BATCH, LEASE_SECONDS).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let md5s: Vec<String> = due.iter().map(|attempt| attempt.khqr_md5.clone()).collect();
    let answers = match check(client, &md5s).await {
        Ok(answers) => answers,
        Err(error) => {
            // Hand the leases back now rather than in 30 s; the next round asks again.
            release(
                state,
                &due.iter().map(|attempt| attempt.id).collect::<Vec<_>>(),
            )
            .await?;
            return Err(error.into());
        }
    };
    metrics::counter!("owso_bakong_checks_total").increment(u64::try_from(due.len()).unwrap_or(0));
    let answers: HashMap<String, Answer> = answers.into_iter().collect();
    // Each attempt on its own: one that fails (a database error, a bad row) is logged,
    // counted and handed back for the next round; it does not abandon the others, which may
    // be other offices' payments.
    let mut failed = Vec::new();
    for attempt in &due {
        let outcome = match answers.get(&attempt.khqr_md5) {
            Some(Answer::Paid(transaction)) => settle(state, attempt, transaction).await,
            Some(Answer::Unreadable) => ask_again(state, attempt).await,
            Some(Answer::NotPaid) | None => reschedule(state, attempt).await,
        };
        if let Err(error) = outcome {
            metrics::counter!("owso_khqr_attempt_failures_total").increment(1);
            tracing::warn!(payment_attempt.id = %attempt.id, error = %error, "recording a KHQR check failed; the attempt is checked again next round");
            failed.push(attempt.id);
        }
    }
    if !failed.is_empty() {
        release(state, &failed).await?;
    }
    Ok(due.len())
}

/// Hands leases back. Attempts are locked in id order and alone (never with their intent), so
/// this cannot deadlock with a settlement, which locks an intent before its attempts.
async fn release(state: &AppState, ids: &[uuid::Uuid]) -> Result<(), PollError> {
    db::khqr::release(&state.pool, ids).await?;
    Ok(())
}

/// What Bakong said about one md5.
enum Answer {
    Paid(BakongTransaction),
    NotPaid,
    /// Its answer could not be read: we do not know, so it is neither paid nor, after its
    /// last check, expired.
    Unreadable,
}

impl From<Option<BakongTransaction>> for Answer {
    fn from(transaction: Option<BakongTransaction>) -> Self {
        transaction.map_or(Answer::NotPaid, Answer::Paid)
    }
}

/// Asks in bulk; where the list endpoint is refused with a bare 403 (reported of production
/// Bakong by one integration, while the single check works with the same token), asks md5 by md5.
///
/// An answer that cannot be read, for one md5, is counted
/// (`owso_bakong_undecodable_items_total`) and that md5 is asked again later; the other
/// answers of the round are used.
async fn check(
    client: &BakongClient,
    md5s: &[String],
) -> Result<Vec<(String, Answer)>, AdapterError> {
    let entries = match client.check_by_md5_list_detailed(md5s).await {
        Err(AdapterError::Status { status: 403, .. }) => {
            metrics::counter!("owso_bakong_errors_total", "kind" => "list_forbidden").increment(1);
            let mut answers = Vec::with_capacity(md5s.len());
            for md5 in md5s {
                match client.check_by_md5(md5).await {
                    Ok(answer) => answers.push((md5.clone(), Answer::from(answer))),
                    Err(AdapterError::Decode(why)) => {
                        undecodable(md5, &why);
                        answers.push((md5.clone(), Answer::Unreadable));
                    }
                    Err(error) => return Err(error),
                }
            }
            return Ok(answers);
        }
        other => other?,
    };
    Ok(entries
        .into_iter()
        .map(|entry| match &entry.undecodable {
            Some(why) => {
                undecodable(&entry.md5, why);
                (entry.md5, Answer::Unreadable)
            }
            None => (entry.md5, Answer::from(entry.transaction)),
        })
        .collect())
}

fn undecodable(md5: &str, why: &str) {
    metrics::counter!("owso_bakong_undecodable_items_total").increment(1);
    tracing::warn!(
        md5,
        reason = why,
        "Bakong's answer for a KHQR could not be read; it is asked again at its next check"
    );
}

async fn settle(
    state: &AppState,
    attempt: &DueAttempt,
    transaction: &BakongTransaction,
) -> Result<(), PollError> {
    let raw = json!({
        "md5": attempt.khqr_md5,
        "hash": transaction.hash,
        "fromAccountId": transaction.from_account_id,
        "toAccountId": transaction.to_account_id,
        "currency": transaction.currency,
        "amount": transaction.amount.to_string(),
        "createdDateMs": transaction.created_date_ms,
        "acknowledgedDateMs": transaction.acknowledged_date_ms,
    });
    let report = khqr::found_report(&state.pool, attempt, transaction, &raw).await?;
    // The path every channel takes (app::settlement_batch): claimed once by Bakong's hash, so
    // should this instance stop before the update below, the next round's report of the same
    // payment settles nothing twice.
    let outcome = state.settlements.settle(report).await?;
    // The attempt alone, after its settlement committed: no lock held across the two.
    db::khqr::finish_polling(&state.pool, attempt.id, false).await?;
    tracing::info!(payment_attempt.id = %attempt.id, outcome = %outcome.verdict(), "Bakong reported a KHQR payment");
    Ok(())
}

async fn reschedule(state: &AppState, attempt: &DueAttempt) -> Result<(), PollError> {
    let grace = chrono::Duration::from_std(state.config.khqr_grace)
        .unwrap_or_else(|_| chrono::Duration::minutes(5));
    if Utc::now() > attempt.expires_at + grace {
        // This was the final check, made after the QR expired: nothing came, so it is expired.
        db::khqr::finish_polling(&state.pool, attempt.id, true).await?;
        return Ok(());
    }
    let step = usize::try_from(attempt.check_count.saturating_sub(1)).unwrap_or(0);
    let multiple = BACKOFF_STEPS.get(step).copied().unwrap_or(30);
    let delay = state.config.khqr_poll_interval.saturating_mul(multiple);
    let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    // Never schedule past the final check: expiry plus grace.
    db::khqr::schedule_poll(&state.pool, attempt.id, delay_ms, grace.num_seconds()).await?;
    Ok(())
}

/// An attempt whose answer could not be read: asked again after the longest backoff step,
/// even past its final check time, since "no readable answer" is not "not paid". An attempt
/// Bakong keeps answering unreadably stays polled (and counted) until someone looks.
async fn ask_again(state: &AppState, attempt: &DueAttempt) -> Result<(), PollError> {
    let multiple = BACKOFF_STEPS.last().copied().unwrap_or(30);
    let delay = state.config.khqr_poll_interval.saturating_mul(multiple);
    let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    db::khqr::schedule_poll_unbounded(&state.pool, attempt.id, delay_ms).await?;
    Ok(())
}
