//! Webhook deliveries (one per event and subscribed endpoint) and their attempts, as the admin
//! reads and retries them.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub endpoint_id: Uuid,
    pub status: String,
    pub attempt_count: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One try of a delivery; `id` orders tries made in the same microsecond.
#[derive(Debug, Clone)]
pub struct DeliveryAttempt {
    pub id: i64,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

/// The filter and position of a page of deliveries, newest first.
pub struct DeliveryFilter<'a> {
    pub endpoint_id: Option<Uuid>,
    pub status: Option<&'a str>,
    /// (created_at, id) of the last row of the previous page.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    /// Rows to fetch (the page's limit and one more, to tell whether more exist).
    pub fetch: i64,
}

pub async fn list(
    conn: impl PgExecutor<'_>,
    filter: DeliveryFilter<'_>,
) -> Result<Vec<Delivery>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        Delivery,
        "select d.id, d.event_id, e.event_type, d.endpoint_id, d.status, d.attempt_count, d.next_attempt_at,
             d.last_status_code, d.last_error, d.created_at, d.delivered_at
         from webhook_deliveries d join outbox_events e on e.id = d.event_id
         where ($1::uuid is null or d.endpoint_id = $1) and ($2::text is null or d.status = $2)
           and ($3::timestamptz is null or (d.created_at, d.id) < ($3, $4))
         order by d.created_at desc, d.id desc limit $5",
        filter.endpoint_id,
        filter.status,
        filter.after.map(|(at, _)| at),
        filter.after.map(|(_, id)| id),
        filter.fetch,
    )
    .fetch_all(conn)
    .await
}

pub async fn get(conn: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Delivery>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        Delivery,
        "select d.id, d.event_id, e.event_type, d.endpoint_id, d.status, d.attempt_count, d.next_attempt_at,
             d.last_status_code, d.last_error, d.created_at, d.delivered_at
         from webhook_deliveries d join outbox_events e on e.id = d.event_id where d.id = $1",
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn exists(conn: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        r#"select exists(select 1 from webhook_deliveries where id = $1) as "exists!""#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// Puts a dead or pending delivery back in the queue now; false when it has succeeded
/// (or does not exist).
pub async fn requeue(conn: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let updated = sqlx::query!(
        "update webhook_deliveries set status = 'pending', next_attempt_at = now(), leased_until = null
         where id = $1 and status in ('dead', 'pending')",
        id,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// Puts every dead-lettered delivery of an endpoint back in the queue; returns how many.
pub async fn requeue_dead(
    conn: impl PgExecutor<'_>,
    endpoint_id: Uuid,
) -> Result<u64, sqlx::Error> {
    // language=PostgreSQL
    let retried = sqlx::query!(
        "update webhook_deliveries set status = 'pending', next_attempt_at = now(), leased_until = null
         where endpoint_id = $1 and status = 'dead'",
        endpoint_id,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(retried)
}

/// A page of a delivery's attempts, oldest first, after the (attempted_at, id) `after`.
pub async fn attempts(
    conn: impl PgExecutor<'_>,
    delivery_id: Uuid,
    after: Option<(DateTime<Utc>, i64)>,
    fetch: i64,
) -> Result<Vec<DeliveryAttempt>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        DeliveryAttempt,
        "select id, attempted_at, status_code, latency_ms, error from webhook_attempts
         where delivery_id = $1 and ($2::timestamptz is null or (attempted_at, id) > ($2, $3::bigint))
         order by attempted_at, id limit $4",
        delivery_id,
        after.map(|(at, _)| at),
        after.map(|(_, id)| id),
        fetch,
    )
    .fetch_all(conn)
    .await
}
