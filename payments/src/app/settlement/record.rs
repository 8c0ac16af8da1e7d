//! Recording one report: its provider transaction claimed, its attempt found by channel and
//! reference, then paid or parked.

use std::collections::HashSet;

use sqlx::PgConnection;

use super::paid::{write_paid, PaidWrite};
use super::suspense::park;
use super::{payment_entry, unexpected, Report, Settlement, UNALLOCATED_OFFICE};
use crate::app::attempts::AttemptRow;
use crate::app::error::AppError;
use crate::app::intents::{self, IntentRow};
use crate::app::states::ExceptionKind;
use crate::db::settlement as store;

/// Records a reported payment. Runs inside the caller's transaction.
#[tracing::instrument(skip_all, fields(provider = report.provider, provider.transaction_id = %report.transaction_id))]
pub async fn record(conn: &mut PgConnection, report: &Report) -> Result<Settlement, AppError> {
    let won = claim(conn, &[report]).await?;
    if won.first() != Some(&true) {
        return Ok(Settlement::Duplicate);
    }
    record_claimed(conn, report).await
}

/// Claims the provider transaction ids of `reports` in one statement: one effect per bank
/// transaction id. Tells, per report, whether it won its claim; a report loses when the id was
/// recorded before, or appears earlier in `reports`.
#[tracing::instrument(skip_all, fields(reports = reports.len()))]
pub async fn claim(conn: &mut PgConnection, reports: &[&Report]) -> Result<Vec<bool>, AppError> {
    let providers: Vec<&str> = reports.iter().map(|r| r.provider).collect();
    let transaction_ids: Vec<&str> = reports.iter().map(|r| r.transaction_id.as_str()).collect();
    let inbox_ids: Vec<Option<i64>> = reports.iter().map(|r| r.inbox_message_id).collect();
    let won = store::claim(&mut *conn, &providers, &transaction_ids, &inbox_ids).await?;
    let mut won: HashSet<(String, String)> = won.into_iter().collect();
    Ok(reports
        .iter()
        .map(|report| {
            // remove(): a second report of the same id in this list is a duplicate.
            let claimed = won.remove(&(report.provider.to_owned(), report.transaction_id.clone()));
            if !claimed {
                metrics::counter!("owso_bank_payments_total", "channel" => report.channel.as_str(), "outcome" => "duplicate").increment(1);
            }
            claimed
        })
        .collect())
}

/// Records a reported payment whose provider transaction id this transaction has claimed
/// already (app::settlement_batch claims a whole group in one statement).
///
/// Lock order: an intent before its attempts. Every transaction that locks both (cancel, the
/// expiry sweep, attempt creation, a settled group and a report settled alone) takes them in
/// this order, so that none of them can deadlock another and die as a 500: the attempt is
/// first read without a lock (only to learn its intent, which never changes), then the intent
/// is locked, then the attempt, read afresh.
#[tracing::instrument(skip_all, fields(provider = report.provider, provider.transaction_id = %report.transaction_id))]
pub async fn record_claimed(
    conn: &mut PgConnection,
    report: &Report,
) -> Result<Settlement, AppError> {
    // Found by (channel, reference): a channel settles only its own attempts. A citizen can
    // read the reference of their own attempt, so a report through another channel naming
    // it must not pay it.
    let own = store::own_attempt(&mut *conn, report.channel, &report.provider_reference).await?;
    let Some((attempt_id, intent_id)) = own else {
        return park_misdirected(conn, report).await;
    };
    let intent = intents::load(&mut *conn, None, intent_id, true).await?;
    let attempt = store::attempt_for_update(&mut *conn, attempt_id).await?;
    match unexpected(report, &attempt, &intent) {
        Some(kind) => {
            park(
                conn,
                report,
                &intent.office_code,
                kind,
                Some(&intent),
                Some(&attempt),
            )
            .await
        }
        None => settle(conn, report, &intent, &attempt).await,
    }
}

/// A report whose reference names no attempt of its channel: an attempt of another channel
/// (`channel_mismatch`, parked in that attempt's office, its intent untouched and not even
/// locked), or nothing we know (`unknown_reference`, the unallocated office).
async fn park_misdirected(
    conn: &mut PgConnection,
    report: &Report,
) -> Result<Settlement, AppError> {
    let other = store::attempt_by_reference(&mut *conn, &report.provider_reference).await?;
    let Some(attempt) = other else {
        return park(
            conn,
            report,
            UNALLOCATED_OFFICE,
            ExceptionKind::UnknownReference,
            None,
            None,
        )
        .await;
    };
    let intent = intents::load(&mut *conn, None, attempt.payment_intent_id, false).await?;
    tracing::warn!(
        payment_attempt.id = %attempt.id,
        attempt.channel = %attempt.channel,
        report.channel = report.channel.as_str(),
        "a bank reported a payment for an attempt of another channel"
    );
    park(
        conn,
        report,
        &attempt.office_code,
        ExceptionKind::ChannelMismatch,
        Some(&intent),
        Some(&attempt),
    )
    .await
}

async fn settle(
    conn: &mut PgConnection,
    report: &Report,
    intent: &IntentRow,
    attempt: &AttemptRow,
) -> Result<Settlement, AppError> {
    let (entry, total, paid_at) = payment_entry(report, intent, attempt)?;
    let posted = ledger::store::post(conn, &entry).await?;
    let entry_id = match posted {
        ledger::store::PostOutcome::Posted(id) | ledger::store::PostOutcome::AlreadyPosted(id) => {
            id
        }
    };
    let paid = PaidWrite {
        report,
        intent,
        attempt,
        entry_id: entry_id.0,
        total,
        paid_at,
    };
    write_paid(conn, &[paid], true).await?;
    Ok(Settlement::Paid {
        payment_intent_id: intent.id,
        office_code: intent.office_code.clone(),
    })
}
