//! Whether a report pays its attempt exactly, and whether the bank's clock is plausible.

use chrono::{DateTime, Utc};

use super::Report;
use crate::app::attempts::AttemptRow;
use crate::app::intents::{IntentRow, IntentStatus};
use crate::app::states::ExceptionKind;

/// How far ahead of our clock a bank's reported time may be before it is called skewed.
const BANK_CLOCK_AHEAD_TOLERANCE_S: i64 = 300;

/// Checks the time a bank reports for a payment against ours: before the attempt existed, or
/// more than five minutes ahead, the bank's clock (or its report) is wrong. Logged and
/// counted, never used: our clock dates the payment either way.
pub fn note_bank_clock(report: &Report, attempt: &AttemptRow, now: DateTime<Utc>) {
    let Some(reported) = report.paid_at else {
        return;
    };
    let direction = if reported < attempt.created_at {
        "past"
    } else if reported > now + chrono::Duration::seconds(BANK_CLOCK_AHEAD_TOLERANCE_S) {
        "future"
    } else {
        return;
    };
    metrics::counter!("owso_bank_clock_skew_total", "channel" => report.channel.as_str(), "direction" => direction).increment(1);
    tracing::warn!(
        payment_attempt.id = %attempt.id,
        channel = report.channel.as_str(),
        bank_paid_at = %reported,
        attempt.created_at = %attempt.created_at,
        direction,
        "the bank's reported payment time is implausible; the payment is dated by our clock"
    );
}

/// Why a reported payment cannot settle its attempt (a suspense kind), or `None` when it
/// pays the attempt exactly, to the right account, while the intent awaits payment.
pub fn unexpected(
    report: &Report,
    attempt: &AttemptRow,
    intent: &IntentRow,
) -> Option<ExceptionKind> {
    let Some(money) = report.received.money() else {
        return Some(ExceptionKind::UnsupportedCurrency);
    };
    if !report.receiving_account_matches {
        return Some(ExceptionKind::AccountMismatch);
    }
    if money.currency().code() != attempt.currency.trim() {
        return Some(ExceptionKind::CurrencyMismatch);
    }
    if money.amount_minor() != attempt.amount_minor {
        return Some(ExceptionKind::AmountMismatch);
    }
    match intent.status {
        IntentStatus::AwaitingPayment => None,
        IntentStatus::Paid => Some(ExceptionKind::AlreadyPaid),
        IntentStatus::Cancelled => Some(ExceptionKind::AfterCancel),
        IntentStatus::Expired => Some(ExceptionKind::AfterExpiry),
    }
}
