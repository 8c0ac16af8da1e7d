//! The store of `Idempotency-Key`s (`idempotency_keys`).

use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

use crate::app::error::AppError;

/// Inserts a claim of `key`, or takes over the stored one when it has expired
/// (`lifetime_s`) or was never answered and is older than `takeover_ms` with the same
/// request. True when this request now holds the claim.
pub async fn claim(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    hash: &[u8],
    takeover_ms: i64,
    lifetime_s: i64,
) -> Result<bool, AppError> {
    // language=PostgreSQL
    let inserted = sqlx::query!(
        "insert into idempotency_keys (principal, key, request_hash) values ($1, $2, $3)
         on conflict (principal, key) do update
             set request_hash = excluded.request_hash, response_status = null, response_body = null,
                 created_at = now()
             where idempotency_keys.created_at < now() - $5::bigint * interval '1 second'
                or (idempotency_keys.response_status is null
                    and idempotency_keys.request_hash = excluded.request_hash
                    and idempotency_keys.created_at < now() - $4::bigint * interval '1 millisecond')",
        scope,
        key,
        hash,
        takeover_ms,
        lifetime_s
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A key as stored: the request it was claimed for and, once answered, the answer.
pub struct StoredKey {
    pub request_hash: Vec<u8>,
    pub response_status: Option<i32>,
    pub response_body: Option<Value>,
}

/// Reads a key.
pub async fn find(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
) -> Result<Option<StoredKey>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        StoredKey,
        "select request_hash, response_status, response_body from idempotency_keys
         where principal = $1 and key = $2",
        scope,
        key
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// Stores the answer to a claimed key.
pub async fn save_response(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    status: i32,
    body: &Value,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update idempotency_keys set response_status = $3, response_body = $4
         where principal = $1 and key = $2",
        scope,
        key,
        status,
        body
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a claim never answered.
pub async fn delete_unanswered(
    executor: impl PgExecutor<'_>,
    scope: &str,
    key: &str,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "delete from idempotency_keys where principal = $1 and key = $2 and response_status is null",
        scope,
        key
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Deletes up to `batch` keys older than `lifetime_s`; returns how many.
pub async fn delete_expired(
    executor: impl PgExecutor<'_>,
    lifetime_s: i64,
    batch: i64,
) -> Result<u64, AppError> {
    // language=PostgreSQL
    let deleted = sqlx::query!(
        "delete from idempotency_keys where ctid = any(array(
             select ctid from idempotency_keys
             where created_at < now() - $1::bigint * interval '1 second'
             limit $2))",
        lifetime_s,
        batch
    )
    .execute(executor)
    .await?
    .rows_affected();
    Ok(deleted)
}
