//! Money that arrived where it was not expected: never dropped, parked in suspense and raised
//! as a reconciliation exception.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::entry::suspense_entry;
use super::{Report, Settlement};
use crate::app::attempts::AttemptRow;
use crate::app::error::AppError;
use crate::app::intents::IntentRow;
use crate::app::money::MoneyView;
use crate::app::outbox::{self, Event, NewEvent};
use crate::app::states::ExceptionKind;
use crate::db::settlement::{self as store, NewException};

/// Parks the reported money of `report` in `office_code`'s suspense account, records the
/// exception and the claim's outcome, and raises the `reconciliation.exception` event.
pub(super) async fn park(
    conn: &mut PgConnection,
    report: &Report,
    office_code: &str,
    kind: ExceptionKind,
    intent: Option<&IntentRow>,
    attempt: Option<&AttemptRow>,
) -> Result<Settlement, AppError> {
    let (kind, entry_id) = post_suspense(conn, report, office_code, kind, intent).await?;
    let reported = report.received.as_reported();
    let exception_id = Uuid::now_v7();
    let exception = NewException {
        id: exception_id,
        office_code,
        kind,
        provider: report.provider,
        provider_transaction_id: &report.transaction_id,
        payment_intent_id: intent.map(|intent| intent.id),
        payment_attempt_id: attempt.map(|attempt| attempt.id),
        amount: &reported.amount,
        currency: &reported.currency,
        ledger_entry_id: entry_id,
        details: json!({
            "provider_reference": report.provider_reference,
            "channel": report.channel,
            "attempt_channel": attempt.map(|attempt| attempt.channel),
            "bank_paid_at": report.paid_at,
        }),
    };
    store::insert_exception(&mut *conn, &exception).await?;
    store::set_claim_outcome(
        &mut *conn,
        report.provider,
        &report.transaction_id,
        &format!("suspense:{}", kind.as_str()),
        attempt.map(|attempt| attempt.id),
        entry_id,
    )
    .await?;
    raise(
        conn,
        report,
        office_code,
        kind,
        exception_id,
        intent,
        reported,
    )
    .await?;
    metrics::counter!("owso_bank_payments_total", "channel" => report.channel.as_str(), "outcome" => "suspense").increment(1);
    tracing::warn!(exception.id = %exception_id, exception.kind = kind.as_str(), office.code = office_code, "unexpected payment parked in suspense");
    Ok(Settlement::Suspense { kind, exception_id })
}

/// Posts the suspense entry when the books can hold the money; returns the kind recorded and
/// the entry. A currency or amount our books cannot hold (or nothing to post) is still
/// recorded, as `unsupported_currency` without an entry, for a person to act on.
async fn post_suspense(
    conn: &mut PgConnection,
    report: &Report,
    office_code: &str,
    kind: ExceptionKind,
    intent: Option<&IntentRow>,
) -> Result<(ExceptionKind, Option<i64>), AppError> {
    let Some(money) = report.received.money().filter(|money| money.is_positive()) else {
        return Ok((ExceptionKind::UnsupportedCurrency, None));
    };
    let entry = suspense_entry(report, office_code, kind, intent, money)?;
    let id = match ledger::store::post(conn, &entry).await? {
        ledger::store::PostOutcome::Posted(id) | ledger::store::PostOutcome::AlreadyPosted(id) => {
            id
        }
    };
    Ok((kind, Some(id.0)))
}

/// The `reconciliation.exception` event, in the outbox of this transaction.
async fn raise(
    conn: &mut PgConnection,
    report: &Report,
    office_code: &str,
    kind: ExceptionKind,
    exception_id: Uuid,
    intent: Option<&IntentRow>,
    reported: MoneyView,
) -> Result<(), AppError> {
    let event = Event::ReconciliationException(outbox::ReconciliationException {
        exception_id,
        kind,
        office_code: office_code.to_owned(),
        payment_intent_id: intent.map(|intent| intent.id),
        case_reference: intent.map(|intent| intent.case_reference.clone()),
        provider: report.provider.to_owned(),
        provider_transaction_id: report.transaction_id.clone(),
        amount: reported,
    });
    outbox::enqueue(
        conn,
        NewEvent {
            office_code,
            case_reference: intent.map(|intent| intent.case_reference.as_str()),
            payment_intent_id: intent.map(|intent| intent.id),
            event,
        },
    )
    .await?;
    Ok(())
}
