//! The inbox: every inbound bank message (a callback, a Bakong answer) is stored raw before it
//! is acted on, then marked with what came of it.

use serde_json::Value;
use sqlx::PgExecutor;

use crate::http::error::ApiError;

/// Stores a message as received; returns its id.
pub async fn store<'c>(
    executor: impl PgExecutor<'c>,
    provider: &str,
    headers: &Value,
    body: &[u8],
) -> Result<i64, ApiError> {
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

/// Records the verdict on a stored message. `None` leaves the signature verdict and the
/// transaction id as they were.
pub async fn mark<'c>(
    executor: impl PgExecutor<'c>,
    id: i64,
    status: &str,
    signature_valid: Option<bool>,
    verdict: &str,
    transaction_id: Option<&str>,
) -> Result<(), ApiError> {
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

/// Records the verdicts of many verified messages in one statement (a settled group).
pub async fn mark_many(
    conn: &mut sqlx::PgConnection,
    ids: &[i64],
    statuses: &[&str],
    verdicts: &[String],
    transaction_ids: &[&str],
) -> Result<(), ApiError> {
    // language=PostgreSQL
    sqlx::query(
        "update inbox_messages m set status = v.status, signature_valid = true, verdict = v.verdict,
             provider_transaction_id = v.transaction_id, processed_at = now()
         from unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) as v (id, status, verdict, transaction_id)
         where m.id = v.id",
    )
    .bind(ids)
    .bind(statuses)
    .bind(verdicts)
    .bind(transaction_ids)
    .execute(conn)
    .await?;
    Ok(())
}
