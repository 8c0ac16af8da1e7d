//! The transactional outbox: an event row commits with the state change that caused it, and
//! its deliveries to every subscribed endpoint are created in the same transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::money::MoneyView;
use super::states::{ExceptionKind, ExceptionStatus};
use crate::app::error::AppError;
use crate::db::outbox::{self as store, EventColumns};

/// The name of every event type a webhook endpoint may subscribe to (API.md, "Webhooks to the
/// workflow system"). Named here once: the `type` of each event, the endpoints' `events` check
/// and the OpenAPI `webhooks` section read these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    PaymentPaid,
    PaymentExpired,
    PaymentCancelled,
    /// Announced by the contract so endpoints can subscribe now; emitted once refunds exist.
    RefundSucceeded,
    /// As `RefundSucceeded`.
    RefundFailed,
    ReconciliationException,
    /// A cash receipt voided the day it was issued (issue 14).
    PaymentVoided,
}

impl EventType {
    /// Every type, in the contract's order.
    pub const ALL: [EventType; 7] = [
        EventType::PaymentPaid,
        EventType::PaymentExpired,
        EventType::PaymentCancelled,
        EventType::RefundSucceeded,
        EventType::RefundFailed,
        EventType::ReconciliationException,
        EventType::PaymentVoided,
    ];

    /// The name on the wire, such as `payment.paid`.
    pub const fn name(self) -> &'static str {
        match self {
            EventType::PaymentPaid => "payment.paid",
            EventType::PaymentExpired => "payment.expired",
            EventType::PaymentCancelled => "payment.cancelled",
            EventType::RefundSucceeded => "refund.succeeded",
            EventType::RefundFailed => "refund.failed",
            EventType::ReconciliationException => "reconciliation.exception",
            EventType::PaymentVoided => "payment.voided",
        }
    }

    /// The type named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// What the OpenAPI `webhooks` section says of an emitted type: the name of its `data`
    /// schema and a summary; `None` for a type nothing emits yet.
    pub const fn documentation(self) -> Option<(&'static [&'static str], &'static str)> {
        match self {
            EventType::PaymentPaid => {
                Some((&["PaymentPaid"], "The cashier step is done: the case is paid."))
            }
            EventType::PaymentCancelled => Some((
                &["PaymentClosed"],
                "The payment intent was cancelled before payment.",
            )),
            EventType::PaymentExpired => {
                Some((&["PaymentClosed"], "The payment intent expired unpaid."))
            }
            EventType::ReconciliationException => Some((
                &["ReconciliationException", "ReconciliationExceptionStatus"],
                "Money that did not match: held in suspense, or a statement line or ledger item nobody matched; or a person worked such an exception (`status` resolved, or open again after a reversal).",
            )),
            EventType::PaymentVoided => Some((
                &["PaymentVoided"],
                "A cash receipt was voided the day it was issued: the case is unpaid again (or cancelled).",
            )),
            EventType::RefundSucceeded | EventType::RefundFailed => None,
        }
    }

    /// Every name, comma-separated (for messages).
    pub fn names() -> String {
        EventType::ALL.map(EventType::name).join(", ")
    }
}

/// An event the service emits, with its payload: each variant owns its `data` type.
#[derive(Debug)]
pub enum Event {
    PaymentPaid(PaymentPaid),
    PaymentExpired(PaymentClosed),
    PaymentCancelled(PaymentClosed),
    ReconciliationException(ReconciliationException),
    /// An exception resolved, or reopened by a reversing resolution (same event type).
    ReconciliationExceptionStatus(ReconciliationExceptionStatus),
    PaymentVoided(PaymentVoided),
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::PaymentPaid(_) => EventType::PaymentPaid,
            Event::PaymentExpired(_) => EventType::PaymentExpired,
            Event::PaymentCancelled(_) => EventType::PaymentCancelled,
            Event::ReconciliationException(_) | Event::ReconciliationExceptionStatus(_) => {
                EventType::ReconciliationException
            }
            Event::PaymentVoided(_) => EventType::PaymentVoided,
        }
    }

    /// The event's `data` (infallible for these types; an error is reported, not hidden).
    fn data(&self) -> Result<Value, AppError> {
        match self {
            Event::PaymentPaid(data) => serde_json::to_value(data),
            Event::PaymentExpired(data) | Event::PaymentCancelled(data) => {
                serde_json::to_value(data)
            }
            Event::ReconciliationException(data) => serde_json::to_value(data),
            Event::ReconciliationExceptionStatus(data) => serde_json::to_value(data),
            Event::PaymentVoided(data) => serde_json::to_value(data),
        }
        .map_err(AppError::internal)
    }
}

pub struct NewEvent<'a> {
    pub event: Event,
    pub office_code: &'a str,
    pub case_reference: Option<&'a str>,
    pub payment_intent_id: Option<Uuid>,
}

/// Records an event and fans it out to the subscribed active endpoints. Runs inside the
/// caller's transaction; nothing is sent from here.
#[tracing::instrument(skip_all, fields(event.type = event.event.event_type().name()))]
pub async fn enqueue(conn: &mut PgConnection, event: NewEvent<'_>) -> Result<Uuid, AppError> {
    let ids = enqueue_many(conn, vec![event]).await?;
    ids.into_iter()
        .next()
        .ok_or_else(|| AppError::internal("the outbox recorded no event"))
}

/// Records events, in order, and fans them out, in one statement whatever their number.
#[tracing::instrument(skip_all, fields(events = events.len()))]
pub async fn enqueue_many(
    conn: &mut PgConnection,
    events: Vec<NewEvent<'_>>,
) -> Result<Vec<Uuid>, AppError> {
    let now: DateTime<Utc> = Utc::now();
    let timestamp = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut columns = EventColumns {
        ids: Vec::with_capacity(events.len()),
        types: Vec::with_capacity(events.len()),
        offices: Vec::with_capacity(events.len()),
        cases: Vec::with_capacity(events.len()),
        intents: Vec::with_capacity(events.len()),
        payloads: Vec::with_capacity(events.len()),
        case_keys: Vec::with_capacity(events.len()),
    };
    for event in events {
        let id = Uuid::now_v7();
        // Events without a case are ordered by nothing but themselves.
        columns.case_keys.push(format!(
            "{}:{}",
            event.office_code,
            event
                .case_reference
                .map_or_else(|| id.to_string(), str::to_owned)
        ));
        let event_type = event.event.event_type().name();
        columns.payloads.push(json!({
            "type": event_type,
            "timestamp": timestamp,
            "data": event.event.data()?,
        }));
        metrics::counter!("owso_events_total", "type" => event_type).increment(1);
        columns.ids.push(id);
        columns.types.push(event_type);
        columns.offices.push(event.office_code);
        columns.cases.push(event.case_reference);
        columns.intents.push(event.payment_intent_id);
    }
    store::insert_events(conn, &columns, now).await?;
    Ok(columns.ids)
}

/// `data` of `payment.paid`: the cashier step is done.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentPaid {
    pub payment_intent_id: Uuid,
    #[schema(example = "0320018100")]
    pub case_reference: String,
    #[schema(example = "0320")]
    pub office_code: String,
    pub total: MoneyView,
    #[schema(example = "khqr")]
    pub channel: String,
    /// Gapless per office and fiscal year.
    #[schema(example = "0320-2026-000042")]
    pub receipt_number: String,
    pub paid_at: DateTime<Utc>,
}

/// `data` of `payment.voided`: a cash receipt was voided the day it was issued; its payment
/// is reversed in the books and the case is unpaid again (or cancelled).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentVoided {
    pub payment_intent_id: Uuid,
    #[schema(example = "0320018100")]
    pub case_reference: String,
    #[schema(example = "0320")]
    pub office_code: String,
    pub total: MoneyView,
    #[schema(example = "cash")]
    pub channel: String,
    /// The voided number: it stays used, and its verification page says void.
    #[schema(example = "0320-2026-000042")]
    pub receipt_number: String,
    pub reason: String,
    /// `reopen` (the intent awaits payment again) or `cancel`.
    pub then: String,
    pub voided_at: DateTime<Utc>,
}

/// `data` of `payment.cancelled` and `payment.expired`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentClosed {
    pub payment_intent_id: Uuid,
    pub case_reference: String,
    pub office_code: String,
    pub total: MoneyView,
}

/// `data` of `reconciliation.exception`: money arrived that did not match; it sits in suspense.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationException {
    pub exception_id: Uuid,
    pub kind: ExceptionKind,
    pub office_code: String,
    pub payment_intent_id: Option<Uuid>,
    pub case_reference: Option<String>,
    pub provider: String,
    pub provider_transaction_id: String,
    /// As the bank reported it.
    pub amount: MoneyView,
}

/// `data` of `reconciliation.exception` when someone worked an exception: `status` is
/// `resolved` after a resolution, `open` again after a reversing one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationExceptionStatus {
    pub exception_id: Uuid,
    pub kind: ExceptionKind,
    pub office_code: String,
    pub status: ExceptionStatus,
    /// The resolution's action: allocate, refund, write_off, match, reverse.
    pub action: String,
    pub resolution_id: Uuid,
    pub ledger_entry_id: Option<i64>,
    /// The intent the money was allocated to (allocate), or the exception's own.
    pub payment_intent_id: Option<Uuid>,
    pub amount: MoneyView,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_type() {
        for kind in EventType::ALL {
            assert_eq!(EventType::from_name(kind.name()), Some(kind));
        }
        assert_eq!(EventType::from_name("payment.refunded"), None);
    }
}
