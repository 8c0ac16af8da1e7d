//! The inbox: every inbound bank message (a callback, a Bakong answer) is stored raw before it
//! is acted on, then marked with what came of it.

use serde_json::Value;
use sqlx::{PgExecutor, PgPool};

use super::states::InboxStatus;
use crate::app::error::AppError;
use crate::db::inbox as store_db;

pub use crate::db::inbox::LeasedMessage;

/// Stores a message as received; returns its id.
#[tracing::instrument(skip_all, fields(inbox.provider = provider))]
pub async fn store<'c>(
    executor: impl PgExecutor<'c>,
    provider: &str,
    headers: &Value,
    body: &[u8],
) -> Result<i64, AppError> {
    store_db::insert(executor, provider, headers, body).await
}

/// Stores a bank's callback as received, in a transaction of its own whose commit does not
/// wait for its WAL flush (`synchronous_commit` off for that transaction only, one round
/// trip). It loses nothing a bank is told about: the message is committed, so visible,
/// before it is processed, and every answer the handler gives follows a synchronous commit
/// of its own (the settled group, or the verdict), which flushes the WAL up to a point after
/// this commit. A crash before that answer loses at most a message the bank was never
/// acknowledged and sends again.
#[tracing::instrument(skip_all, fields(inbox.provider = provider))]
pub async fn receive(
    pool: &PgPool,
    provider: &str,
    headers: &Value,
    body: &[u8],
) -> Result<i64, AppError> {
    store_db::insert_lazily(pool, provider, headers, body).await
}

/// Records the verdict on a stored message. `None` leaves the signature verdict and the
/// transaction id as they were.
#[tracing::instrument(skip_all, fields(inbox.id = id, inbox.status = %status))]
pub async fn mark<'c>(
    executor: impl PgExecutor<'c>,
    id: i64,
    status: InboxStatus,
    signature_valid: Option<bool>,
    verdict: &str,
    transaction_id: Option<&str>,
) -> Result<(), AppError> {
    store_db::mark(
        executor,
        id,
        status,
        signature_valid,
        verdict,
        transaction_id,
    )
    .await
}

/// Records the verdicts of many messages in one statement (a settled group); a `None`
/// signature verdict leaves the stored one.
#[tracing::instrument(skip_all, fields(inbox.count = ids.len()))]
pub async fn mark_many(
    conn: &mut sqlx::PgConnection,
    ids: &[i64],
    statuses: &[InboxStatus],
    verdicts: &[String],
    transaction_ids: &[&str],
    signatures_valid: &[Option<bool>],
) -> Result<(), AppError> {
    let statuses: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    store_db::mark_many(
        conn,
        ids,
        &statuses,
        verdicts,
        transaction_ids,
        signatures_valid,
    )
    .await
}

/// Leases up to `batch` sandbox messages left `received` (a crash) or marked `failed` (their
/// settlement failed, e.g. the database went away) for longer than `after_ms`, for `lease_s`
/// doubled at each retry (workers::recovery).
#[tracing::instrument(skip_all)]
pub async fn lease_unprocessed(
    pool: &PgPool,
    after_ms: i64,
    batch: i64,
    lease_s: i64,
) -> Result<Vec<LeasedMessage>, AppError> {
    store_db::lease_unprocessed(pool, after_ms, batch, lease_s).await
}
