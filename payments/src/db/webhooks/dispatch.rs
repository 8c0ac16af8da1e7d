//! The dispatcher's side of webhook deliveries: claims under a lease, lease renewals, and the
//! record of each attempt with its effect on the delivery and the endpoint's health.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// A delivery claimed for sending, with what sending needs.
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    pub attempt_count: i32,
    pub payload: serde_json::Value,
    pub url: String,
    /// Sealed (app::secrets).
    pub secret: String,
    /// Sealed; only while it is still signed with.
    pub previous_secret: Option<String>,
    pub endpoint_status: String,
    pub age_ms: i64,
    /// This claim's lease as claimed; renewals move it on, and the result is recorded only
    /// while the latest one is still the delivery's.
    pub leased_until: DateTime<Utc>,
    /// How many deliveries the claim looked at (a full look means more may be due).
    pub candidates: i64,
}

/// The room a claim has: in all, and per endpoint.
pub struct ClaimRoom<'a> {
    /// Most deliveries to claim.
    pub room: i64,
    pub lease_ms: i64,
    /// Endpoints with no free permit, not even looked at.
    pub busy: &'a [Uuid],
    /// Free permits of the endpoints this instance has sent to, beside `endpoints`.
    pub endpoints: &'a [Uuid],
    pub free: &'a [i32],
    /// Free permits of any other endpoint.
    pub per_endpoint: i32,
}

/// Claims due deliveries in case order, within `room`, leased for `lease_ms`.
pub async fn claim(
    conn: impl PgExecutor<'_>,
    room: ClaimRoom<'_>,
) -> Result<Vec<ClaimedDelivery>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        ClaimedDelivery,
        r#"with candidates as (
               select d.id, d.endpoint_id, d.next_attempt_at from webhook_deliveries d
               where d.status = 'pending' and d.next_attempt_at <= now()
                 and (d.leased_until is null or d.leased_until < now())
                 and d.endpoint_id <> all($3::uuid[])
                 -- Case order: wait while an earlier event of the same case is undelivered
                 -- to this endpoint (a dead-lettered one holds the later ones until retried).
                 and not exists (
                     select 1 from webhook_deliveries earlier
                     where earlier.endpoint_id = d.endpoint_id and earlier.case_key = d.case_key
                       and earlier.seq < d.seq and earlier.status <> 'succeeded')
               order by d.next_attempt_at
               limit $1
               for update skip locked
           ),
           ranked as (
               select c.id,
                      row_number() over (partition by c.endpoint_id order by c.next_attempt_at, c.id) as rank,
                      coalesce((select f.free from unnest($4::uuid[], $5::int[]) as f (endpoint_id, free)
                                where f.endpoint_id = c.endpoint_id), $6) as free
               from candidates c
           ),
           due as (select id from ranked where rank <= free)
           update webhook_deliveries d
           set leased_until = now() + $2::bigint * interval '1 millisecond', attempt_count = d.attempt_count + 1
           from due, outbox_events e, webhook_endpoints w
           where d.id = due.id and e.id = d.event_id and w.id = d.endpoint_id
           returning d.id as "id!", d.event_id as "event_id!", d.endpoint_id as "endpoint_id!",
                     d.attempt_count as "attempt_count!", e.payload as "payload!", w.url as "url!",
                     w.secret as "secret!",
                     case when w.previous_secret_expires_at > now() then w.previous_secret end as "previous_secret?",
                     w.status as "endpoint_status!",
                     (extract(epoch from now() - e.created_at) * 1000)::bigint as "age_ms!",
                     d.leased_until as "leased_until!",
                     (select count(*) from candidates) as "candidates!""#,
        room.room,
        room.lease_ms,
        room.busy,
        room.endpoints,
        room.free,
        room.per_endpoint,
    )
    .fetch_all(conn)
    .await
}

/// Hands back claims that will not be sent now, as if they had not been claimed.
pub async fn unclaim(conn: impl PgExecutor<'_>, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update webhook_deliveries set leased_until = null, attempt_count = attempt_count - 1
         where id = any($1) and status = 'pending'",
        ids,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a lease still `held` on by `lease_ms`; the new lease, or `None` when it was lost.
pub async fn renew(
    conn: impl PgExecutor<'_>,
    delivery_id: Uuid,
    held: DateTime<Utc>,
    lease_ms: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        r#"update webhook_deliveries set leased_until = now() + $3::bigint * interval '1 millisecond'
           where id = $1 and leased_until = $2 returning leased_until as "leased_until!""#,
        delivery_id,
        held,
        lease_ms,
    )
    .fetch_optional(conn)
    .await
}

/// What one attempt of a delivery came to.
pub struct AttemptRecord<'a> {
    pub delivery_id: Uuid,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<&'a str>,
}

pub async fn insert_attempt(
    conn: impl PgExecutor<'_>,
    attempt: &AttemptRecord<'_>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into webhook_attempts (delivery_id, status_code, latency_ms, error) values ($1, $2, $3, $4)",
        attempt.delivery_id,
        attempt.status_code,
        attempt.latency_ms,
        attempt.error,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a delivery delivered, if this claim's lease is still its own.
pub async fn mark_succeeded(
    conn: impl PgExecutor<'_>,
    delivery_id: Uuid,
    status_code: Option<i32>,
    lease: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update webhook_deliveries set status = 'succeeded', delivered_at = now(), leased_until = null,
             last_status_code = $2, last_error = null where id = $1 and leased_until = $3",
        delivery_id,
        status_code,
        lease,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_endpoint_healthy(
    conn: impl PgExecutor<'_>,
    endpoint_id: Uuid,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update webhook_endpoints set health = 'healthy', failing_since = null, last_success_at = now() where id = $1",
        endpoint_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A failed attempt's effect on its delivery: tried again after `delay_ms`, or dead.
pub struct Reschedule<'a> {
    pub delivery_id: Uuid,
    pub dead: bool,
    pub delay_ms: i64,
    pub status_code: Option<i32>,
    pub last_error: &'a str,
    pub lease: DateTime<Utc>,
}

/// Schedules the next try (or dead-letters), if this claim's lease is still the delivery's.
pub async fn reschedule(
    conn: impl PgExecutor<'_>,
    reschedule: &Reschedule<'_>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update webhook_deliveries set status = $2, next_attempt_at = now() + $3::bigint * interval '1 millisecond',
             leased_until = null, last_status_code = $4, last_error = $5
         where id = $1 and leased_until = $6 and status = 'pending'",
        reschedule.delivery_id,
        if reschedule.dead { "dead" } else { "pending" },
        reschedule.delay_ms,
        reschedule.status_code,
        reschedule.last_error,
        reschedule.lease,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Failing since the first failure after the last success; `failing` once that is
/// `give_up_ms` ago (as long as a delivery is retried).
pub async fn mark_endpoint_failing(
    conn: impl PgExecutor<'_>,
    endpoint_id: Uuid,
    give_up_ms: i64,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update webhook_endpoints
         set failing_since = coalesce(failing_since, now()),
             health = case when now() - coalesce(failing_since, now()) >= $2::bigint * interval '1 millisecond'
                           then 'failing' else health end
         where id = $1",
        endpoint_id,
        give_up_ms,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Active endpoints whose deliveries have failed for as long as they are retried.
pub async fn count_failing_endpoints(conn: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from webhook_endpoints where status = 'active' and health = 'failing'"#
    )
    .fetch_one(conn)
    .await
}
