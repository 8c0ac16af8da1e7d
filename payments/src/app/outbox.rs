//! The transactional outbox: an event row commits with the state change that caused it, and
//! its deliveries to every subscribed endpoint are created in the same transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::money::MoneyView;
use crate::http::error::ApiError;

/// The event types of API.md, "Webhooks to the workflow system".
pub const EVENT_TYPES: [&str; 6] = [
    "payment.paid",
    "payment.expired",
    "payment.cancelled",
    "refund.succeeded",
    "refund.failed",
    "reconciliation.exception",
];

pub struct NewEvent<'a> {
    pub event_type: &'a str,
    pub office_code: &'a str,
    pub case_reference: Option<&'a str>,
    pub payment_intent_id: Option<Uuid>,
    pub data: Value,
}

/// Records an event and fans it out to the subscribed active endpoints. Runs inside the
/// caller's transaction; nothing is sent from here.
pub async fn enqueue(conn: &mut PgConnection, event: NewEvent<'_>) -> Result<Uuid, ApiError> {
    let id = Uuid::now_v7();
    let now: DateTime<Utc> = Utc::now();
    let payload = json!({
        "type": event.event_type,
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": event.data,
    });
    // One statement: the event, a delivery per subscribed endpoint, and, when there is one, a
    // NOTIFY that wakes the dispatchers at commit (NOTIFY is transactional) so delivery does
    // not wait for the next poll. The deliveries' foreign key to the event is checked at the
    // end of the statement, when the event row exists.
    // language=PostgreSQL
    sqlx::query(
        "with event as (
             insert into outbox_events (id, event_type, office_code, case_reference, payment_intent_id, payload, created_at)
             values ($1, $2, $3, $4, $5, $6, $7)
             returning id
         ),
         fanned as (
             insert into webhook_deliveries (id, event_id, endpoint_id, office_code, case_key)
             select gen_random_uuid(), event.id, endpoint.id, $3, $8
             from event, webhook_endpoints endpoint
             where endpoint.status = 'active' and ($2 = any(endpoint.events) or '*' = any(endpoint.events))
             returning 1
         )
         select pg_notify('webhook_deliveries', '') from (select count(*) as n from fanned) f where n > 0",
    )
    .bind(id)
    .bind(event.event_type)
    .bind(event.office_code)
    .bind(event.case_reference)
    .bind(event.payment_intent_id)
    .bind(&payload)
    .bind(now)
    // Events without a case are ordered by nothing but themselves.
    .bind(format!(
        "{}:{}",
        event.office_code,
        event
            .case_reference
            .map_or_else(|| id.to_string(), str::to_owned)
    ))
    .execute(&mut *conn)
    .await?;
    metrics::counter!("owso_events_total", "type" => event.event_type.to_owned()).increment(1);
    Ok(id)
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
    /// `amount_mismatch`, `currency_mismatch`, `account_mismatch`, `already_paid`,
    /// `after_cancel`, `after_expiry`, `unknown_reference` or `unsupported_currency`.
    pub kind: String,
    pub office_code: String,
    pub payment_intent_id: Option<Uuid>,
    pub case_reference: Option<String>,
    pub provider: String,
    pub provider_transaction_id: String,
    /// As the bank reported it.
    pub amount: MoneyView,
}

/// Serializes an event body (infallible for these types; an error is reported, not hidden).
pub fn data<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}
