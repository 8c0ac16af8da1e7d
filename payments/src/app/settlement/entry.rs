//! The ledger entries of settlement: a payment that settles its attempt, and money parked in
//! suspense.

use chrono::{DateTime, Utc};
use ledger::{AccountCode, AccountKind, BalancedEntry, EntryBuilder, Money};
use serde_json::json;

use super::{note_bank_clock, Report};
use crate::app::attempts::AttemptRow;
use crate::app::error::AppError;
use crate::app::intents::IntentRow;
use crate::app::money;
use crate::app::states::{Channel, ExceptionKind};

/// The ledger entry of a payment that settles its attempt: debit the channel's clearing
/// account (cash: the office's drawer, where the money already is), credit each quote line's
/// revenue account. Also returns the total and the time the
/// payment counts from: our clock now, never the bank's (a bank's clock must not pick the
/// fiscal year of a receipt number); the bank's time is kept beside it as `bank_paid_at`.
pub fn payment_entry(
    report: &Report,
    intent: &IntentRow,
    attempt: &AttemptRow,
) -> Result<(BalancedEntry, Money, DateTime<Utc>), AppError> {
    let total = money::from_row(intent.total_minor, &intent.currency)?;
    let paid_at = Utc::now();
    note_bank_clock(report, attempt, paid_at);
    let debited = match report.channel {
        Channel::Cash => AccountKind::CashDrawer,
        channel => AccountKind::Clearing {
            channel: channel.as_str().to_owned(),
        },
    };
    let clearing = AccountCode::new(&intent.office_code, debited, total.currency())?;
    let kind = match report.channel {
        Channel::Cash => "cash_receipt",
        _ => "payment_confirmed",
    };
    let mut entry = EntryBuilder::new(
        &intent.office_code,
        kind,
        &format!("case {} paid by {}", intent.case_reference, report.channel),
    )
    .idempotency_key(format!("{}:{}", report.provider, report.transaction_id))
    .metadata(json!({
        "payment_intent_id": intent.id,
        "payment_attempt_id": attempt.id,
        "case_reference": intent.case_reference,
        "provider": report.provider,
        "provider_transaction_id": report.transaction_id,
        "bank_paid_at": report.paid_at,
    }))
    .debit(clearing, total);
    for line in &intent.lines.0 {
        let amount = line.amount.parse("amount")?;
        // A service published as free is a line of 0 beside paid ones; postings are never 0.
        if amount.is_zero() {
            continue;
        }
        entry = entry.credit(AccountCode::parse(&line.revenue_account)?, amount);
    }
    Ok((entry.build()?, total, paid_at))
}

/// The entry that parks `money` reported for `office_code` in its suspense account, out of
/// the channel's clearing account.
pub fn suspense_entry(
    report: &Report,
    office_code: &str,
    kind: ExceptionKind,
    intent: Option<&IntentRow>,
    money: Money,
) -> Result<BalancedEntry, AppError> {
    let clearing = AccountCode::new(
        office_code,
        AccountKind::Clearing {
            channel: report.channel.as_str().to_owned(),
        },
        money.currency(),
    )?;
    let suspense = AccountCode::new(office_code, AccountKind::Suspense, money.currency())?;
    let entry = EntryBuilder::new(
        office_code,
        "suspense",
        &format!("unexpected {} payment: {}", report.channel, kind.as_str()),
    )
    .idempotency_key(format!("{}:{}", report.provider, report.transaction_id))
    .metadata(json!({
        "kind": kind,
        "provider": report.provider,
        "provider_transaction_id": report.transaction_id,
        "provider_reference": report.provider_reference,
        "payment_intent_id": intent.map(|intent| intent.id),
    }))
    .debit(clearing, money)
    .credit(suspense, money)
    .build()?;
    Ok(entry)
}
