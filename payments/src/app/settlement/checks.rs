//! Whether a report pays its attempt exactly, and whether the bank's clock is plausible.

use chrono::{DateTime, Utc};

use super::Report;
use crate::app::attempts::AttemptRow;
use crate::app::intents::{IntentRow, IntentStatus};
use crate::app::states::ExceptionKind;

/// How far ahead of our clock a bank's reported time may be before it is called skewed.
const BANK_CLOCK_AHEAD_TOLERANCE_S: i64 = 300;
/// How far before the attempt's creation a bank's reported time may be before it is called
/// skewed. Banks report whole seconds (the sandbox bank truncates), so a payment made in the
/// second its attempt was created reads up to a second early; another second allows for two
/// NTP-synchronised clocks. Without it, a payer quick enough to pay within the same second
/// raised a false alarm: the crash drill (`make drill`) counted 1,446 of 1,500 payments.
const BANK_CLOCK_BEHIND_TOLERANCE_S: i64 = 2;

/// Checks the time a bank reports for a payment against ours: before the attempt existed, or
/// more than five minutes ahead, the bank's clock (or its report) is wrong. Logged and
/// counted, never used: our clock dates the payment either way.
pub fn note_bank_clock(report: &Report, attempt: &AttemptRow, now: DateTime<Utc>) {
    let Some(reported) = report.paid_at else {
        return;
    };
    let Some(direction) = clock_skew(reported, attempt.created_at, now) else {
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

/// `past` when a bank reports a payment before its attempt existed, `future` when it reports
/// one too far ahead of `now`, beyond the tolerances above; `None` when the time is plausible.
fn clock_skew(
    reported: DateTime<Utc>,
    attempt_created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    if reported < attempt_created_at - chrono::Duration::seconds(BANK_CLOCK_BEHIND_TOLERANCE_S) {
        Some("past")
    } else if reported > now + chrono::Duration::seconds(BANK_CLOCK_AHEAD_TOLERANCE_S) {
        Some("future")
    } else {
        None
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_whole_second_report_of_a_payment_in_the_attempts_own_second_is_plausible() {
        // Attempt made at .697 s, paid at once; the bank reports the whole second.
        let created = at("2026-12-06T17:46:52.697Z");
        let now = at("2026-12-06T17:46:52.740Z");
        assert_eq!(clock_skew(at("2026-12-06T17:46:52Z"), created, now), None);
        assert_eq!(clock_skew(at("2026-12-06T17:46:51Z"), created, now), None);
    }

    #[test]
    fn a_report_well_before_the_attempt_or_far_ahead_is_skewed() {
        let created = at("2026-12-06T17:46:52.697Z");
        let now = at("2026-12-06T17:46:53Z");
        assert_eq!(
            clock_skew(at("2026-12-06T17:46:50Z"), created, now),
            Some("past")
        );
        assert_eq!(
            clock_skew(at("2019-03-01T08:00:00Z"), created, now),
            Some("past")
        );
        assert_eq!(clock_skew(at("2026-12-06T17:51:53Z"), created, now), None);
        assert_eq!(
            clock_skew(at("2026-12-06T17:51:54Z"), created, now),
            Some("future")
        );
    }
}
