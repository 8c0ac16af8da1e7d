//! The store of inbound bank messages (`inbox_messages`).

use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

use crate::app::error::AppError;
use crate::app::states::InboxStatus;

/// Stores a message as received; returns its id.
pub async fn insert(
    executor: impl PgExecutor<'_>,
    provider: &str,
    headers: &Value,
    body: &[u8],
) -> Result<i64, AppError> {
    // language=PostgreSQL
    let id = sqlx::query_scalar!(
        "insert into inbox_messages (provider, headers, body) values ($1, $2, $3) returning id",
        provider,
        headers,
        body
    )
    .fetch_one(executor)
    .await?;
    Ok(id)
}

/// Stores a message as received in a statement of its own whose commit does not wait for its
/// WAL flush; returns its id. app::inbox::receive says why that loses nothing.
pub async fn insert_lazily(
    executor: impl PgExecutor<'_>,
    provider: &str,
    headers: &Value,
    body: &[u8],
) -> Result<i64, AppError> {
    // set_config(.., true) is SET LOCAL: it ends with this statement's implicit transaction
    // and never reaches the next user of the pooled connection.
    // language=PostgreSQL
    let id = sqlx::query_scalar!(
        r#"insert into inbox_messages (provider, headers, body)
           select $1, $2, $3 from (select set_config('synchronous_commit', 'off', true)) as lazily
           returning id as "id!""#,
        provider,
        headers,
        body
    )
    .fetch_one(executor)
    .await?;
    Ok(id)
}

/// Records the verdict on a stored message. `None` leaves the signature verdict and the
/// transaction id as they were.
pub async fn mark(
    executor: impl PgExecutor<'_>,
    id: i64,
    status: InboxStatus,
    signature_valid: Option<bool>,
    verdict: &str,
    transaction_id: Option<&str>,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update inbox_messages set status = $2, signature_valid = coalesce($3, signature_valid), verdict = $4,
             provider_transaction_id = coalesce($5, provider_transaction_id), processed_at = now()
         where id = $1",
        id,
        status.as_str(),
        signature_valid,
        verdict,
        transaction_id
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records the verdicts of many messages in one statement; a `None` signature verdict leaves
/// the stored one.
pub async fn mark_many(
    conn: &mut PgConnection,
    ids: &[i64],
    statuses: &[&str],
    verdicts: &[String],
    transaction_ids: &[&str],
    signatures_valid: &[Option<bool>],
) -> Result<(), AppError> {
    // Runtime query: an unnest of parallel arrays, one of them of nullable booleans.
    // language=PostgreSQL
    sqlx::query(
        "update inbox_messages m set status = v.status,
             signature_valid = coalesce(v.signature_valid, m.signature_valid), verdict = v.verdict,
             provider_transaction_id = v.transaction_id, processed_at = now()
         from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bool[])
             as v (id, status, verdict, transaction_id, signature_valid)
         where m.id = v.id",
    )
    .bind(ids)
    .bind(statuses)
    .bind(verdicts)
    .bind(transaction_ids)
    .bind(signatures_valid)
    .execute(conn)
    .await?;
    Ok(())
}

/// A message leased for another try.
pub struct LeasedMessage {
    pub id: i64,
    pub headers: Value,
    pub body: Vec<u8>,
}

/// Leases up to `batch` sandbox messages left `received`, or marked `failed`, for longer than
/// `after_ms`, oldest first: for `lease_s` the first time, then twice as long at each retry
/// (at most an hour), so the lease is also the backoff of a message that keeps failing.
pub async fn lease_unprocessed(
    executor: impl PgExecutor<'_>,
    after_ms: i64,
    batch: i64,
    lease_s: i64,
) -> Result<Vec<LeasedMessage>, AppError> {
    // language=PostgreSQL
    let leased = sqlx::query_as!(
        LeasedMessage,
        "update inbox_messages m
         set retry_leased_until = now()
                 + least($3::bigint * power(2, least(m.retries, 12))::bigint, 3600) * interval '1 second',
             retries = m.retries + 1
         where m.id in (
             select id from inbox_messages
             where status in ('received', 'failed') and provider = 'sandbox'
               and received_at < now() - $1::bigint * interval '1 millisecond'
               and (retry_leased_until is null or retry_leased_until < now())
             order by received_at
             limit $2
             for update skip locked)
         returning m.id, m.headers, m.body",
        after_ms,
        batch,
        lease_s
    )
    .fetch_all(executor)
    .await?;
    Ok(leased)
}
