//! The transactional outbox: an event row commits with the state change that caused it, and
//! its deliveries to every subscribed endpoint are created in the same transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

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
    // language=PostgreSQL
    sqlx::query(
        "insert into outbox_events (id, event_type, office_code, case_reference, payment_intent_id, payload, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(event.event_type)
    .bind(event.office_code)
    .bind(event.case_reference)
    .bind(event.payment_intent_id)
    .bind(&payload)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // language=PostgreSQL
    let fanned = sqlx::query(
        "insert into webhook_deliveries (id, event_id, endpoint_id, office_code)
         select gen_random_uuid(), $1, id, $3 from webhook_endpoints
         where status = 'active' and ($2 = any(events) or '*' = any(events))",
    )
    .bind(id)
    .bind(event.event_type)
    .bind(event.office_code)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if fanned > 0 {
        // Wakes the dispatchers at commit (NOTIFY is transactional), so delivery does not wait
        // for the next poll.
        sqlx::query("select pg_notify('webhook_deliveries', '')")
            .execute(&mut *conn)
            .await?;
    }
    metrics::counter!("owso_events_total", "type" => event.event_type.to_owned()).increment(1);
    Ok(id)
}
