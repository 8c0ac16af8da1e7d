//! The inbox: every inbound bank message (a callback, a Bakong answer) is stored raw before it
//! is acted on, then marked with what came of it.

use serde_json::Value;
use sqlx::{PgExecutor, PgPool};

use super::states::InboxStatus;
use crate::app::error::AppError;

/// Stores a message as received; returns its id.
pub async fn store<'c>(
    executor: impl PgExecutor<'c>,
    provider: &str,
    headers: &Value,
    body: &[u8],
) -> Result<i64, AppError> {
    // language=PostgreSQL
    let id: i64 = sqlx::query_scalar(
        "insert into inbox_messages (provider, headers, body) values ($1, $2, $3) returning id",
    )
    .bind(provider)
    .bind(headers)
    .bind(body)
    .fetch_one(executor)
    .await?;
    Ok(id)
}

/// Stores a bank's callback as received, in a transaction of its own whose commit does not
/// wait for its WAL flush (`synchronous_commit` off for that transaction only, one round
/// trip). It loses nothing a bank is told about: the message is committed, so visible,
/// before it is processed, and every answer the handler gives follows a synchronous commit
/// of its own (the settled group, or the verdict), which flushes the WAL up to a point after
/// this commit. A crash before that answer loses at most a message the bank was never
/// acknowledged and sends again.
pub async fn receive(
    pool: &PgPool,
    provider: &str,
    headers: &Value,
    body: &[u8],
) -> Result<i64, AppError> {
    // set_config(.., true) is SET LOCAL: it ends with this statement's implicit transaction
    // and never reaches the next user of the pooled connection.
    // language=PostgreSQL
    let id: i64 = sqlx::query_scalar(
        "insert into inbox_messages (provider, headers, body)
         select $1, $2, $3 from (select set_config('synchronous_commit', 'off', true)) as lazily
         returning id",
    )
    .bind(provider)
    .bind(headers)
    .bind(body)
    .fetch_one(pool)
    .await?;
    Ok(id)
}

/// Records the verdict on a stored message. `None` leaves the signature verdict and the
/// transaction id as they were.
pub async fn mark<'c>(
    executor: impl PgExecutor<'c>,
    id: i64,
    status: InboxStatus,
    signature_valid: Option<bool>,
    verdict: &str,
    transaction_id: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(
        "update inbox_messages set status = $2, signature_valid = coalesce($3, signature_valid), verdict = $4,
             provider_transaction_id = coalesce($5, provider_transaction_id), processed_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(signature_valid)
    .bind(verdict)
    .bind(transaction_id)
    .execute(executor)
    .await?;
    Ok(())
}

/// Records the verdicts of many messages in one statement (a settled group); a `None`
/// signature verdict leaves the stored one.
pub async fn mark_many(
    conn: &mut sqlx::PgConnection,
    ids: &[i64],
    statuses: &[InboxStatus],
    verdicts: &[String],
    transaction_ids: &[&str],
    signatures_valid: &[Option<bool>],
) -> Result<(), AppError> {
    let statuses: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    // A runtime query: the unnest of parallel arrays is the batch's shape.
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
    .bind(&statuses)
    .bind(verdicts)
    .bind(transaction_ids)
    .bind(signatures_valid)
    .execute(conn)
    .await?;
    Ok(())
}
