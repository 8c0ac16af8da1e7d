//! The state writes of settled payments, one statement for all of them.

use chrono::{DateTime, Utc};
use ledger::Money;
use sqlx::PgConnection;

use super::Report;
use crate::app::attempts::AttemptRow;
use crate::app::error::AppError;
use crate::app::intents::IntentRow;
use crate::app::receipts;
use crate::db::settlement::{self as store, PaidColumns};

/// What [`write_paid`] writes for one settled payment.
pub struct PaidWrite<'a> {
    pub report: &'a Report,
    pub intent: &'a IntentRow,
    pub attempt: &'a AttemptRow,
    pub entry_id: i64,
    pub total: Money,
    pub paid_at: DateTime<Utc>,
}

/// The state writes of settled payments, one statement for all: each paid attempt (and its
/// intent's other pending attempts cancelled), each intent paid, each claim's outcome, and,
/// with `stage`, each `payment.paid` event staged in receipt_queue. A staged event becomes an
/// outbox event with its receipt number right after the transaction commits (app::receipts):
/// a counter row locked here would be held through the commit's disk flush and let one office
/// confirm one payment per flush. Without `stage` the caller numbers the payments itself
/// before it commits ([`receipts::number_paid_in`], a settled group). The intents must be
/// locked and awaiting payment, each once.
#[tracing::instrument(skip_all, fields(payments = paid.len(), stage))]
pub async fn write_paid(
    conn: &mut PgConnection,
    paid: &[PaidWrite<'_>],
    stage: bool,
) -> Result<(), AppError> {
    let written = store::write_paid(conn, &columns(paid), stage).await?;
    if usize::try_from(written).ok() != Some(paid.len()) {
        // Every intent was locked and awaiting payment a moment ago in this transaction.
        return Err(AppError::internal(format!(
            "{written} of {} intents moved to paid",
            paid.len()
        )));
    }
    for p in paid {
        metrics::counter!("owso_bank_payments_total", "channel" => p.report.channel.as_str(), "outcome" => "paid").increment(1);
        tracing::info!(payment_intent.id = %p.intent.id, payment_attempt.id = %p.attempt.id, "payment confirmed");
    }
    Ok(())
}

/// The payments as the store's parallel columns.
fn columns<'a>(paid: &'a [PaidWrite<'_>]) -> PaidColumns<'a> {
    PaidColumns {
        intent_ids: paid.iter().map(|p| p.intent.id).collect(),
        attempt_ids: paid.iter().map(|p| p.attempt.id).collect(),
        paid_ats: paid.iter().map(|p| p.paid_at).collect(),
        transaction_ids: paid
            .iter()
            .map(|p| p.report.transaction_id.as_str())
            .collect(),
        channels: paid.iter().map(|p| p.report.channel.as_str()).collect(),
        entry_ids: paid.iter().map(|p| p.entry_id).collect(),
        providers: paid.iter().map(|p| p.report.provider).collect(),
        offices: paid.iter().map(|p| p.intent.office_code.as_str()).collect(),
        fiscal_years: paid
            .iter()
            .map(|p| receipts::fiscal_year(p.paid_at))
            .collect(),
        cases: paid
            .iter()
            .map(|p| p.intent.case_reference.as_str())
            .collect(),
        totals: paid.iter().map(|p| p.total.amount_minor()).collect(),
        currencies: paid.iter().map(|p| p.total.currency().code()).collect(),
        bank_paid_ats: paid.iter().map(|p| p.report.paid_at).collect(),
    }
}
