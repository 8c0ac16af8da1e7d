//! `Idempotency-Key` handling (API.md, "Conventions").
//!
//! The key row is inserted in the same transaction as the work it protects. A concurrent twin
//! request blocks on the primary key until the first commits, then finds the stored response
//! and replays it: exactly one effect, whatever the timing.
//!
//! A claim that stays open across a bank call (a sandbox attempt) is committed before the
//! call; should the request die there, the key would answer 409 for ever. A claim still open
//! after [`TAKEOVER_AFTER`] (the HTTP request timeout: the request that made it is gone) is
//! taken over by the next request with the same body. Keys expire after [`KEY_LIFETIME`]: an
//! older key is a fresh key, and [`sweep`] deletes old rows.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::app::error::{AppError, Refusal};
use crate::db::idempotency as store_db;

/// An unanswered claim older than this belongs to a request that no longer runs: every request
/// is cut off after the HTTP request timeout.
pub const TAKEOVER_AFTER: std::time::Duration = crate::config::REQUEST_TIMEOUT;
/// The stored status of a fresh request's answer (the only answer stored: a refusal leaves the
/// key unanswered, and the transaction that made it is rolled back).
const CREATED: u16 = 201;
/// How long a key is remembered (API.md, "Conventions").
pub const KEY_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Most expired keys one sweep deletes (short statements; the next sweep goes on).
const SWEEP_BATCH: i64 = 10_000;

/// What the key says about this request.
pub enum Claim {
    /// First time: do the work, then [`save`] the response in the same transaction.
    Fresh,
    /// Seen before with the same body: answer with the stored response.
    Replay { status: u16, body: Value },
}

/// Fingerprint of a request: the route it was sent to and its exact body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hasher.finalize().to_vec()
}

/// Claims `key` for this request, in the caller's transaction.
///
/// Fresh when the key is new, when it has expired, or when its earlier claim for the same
/// request was never answered and is older than [`TAKEOVER_AFTER`] (taken over: the claim's
/// time restarts, so a second retry racing this one waits on the row and then sees it in
/// progress).
#[tracing::instrument(skip_all)]
pub async fn claim(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    hash: &[u8],
) -> Result<Claim, AppError> {
    let takeover_ms = i64::try_from(TAKEOVER_AFTER.as_millis()).unwrap_or(i64::MAX);
    let lifetime_s = i64::try_from(KEY_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    if store_db::claim(&mut *conn, scope, key, hash, takeover_ms, lifetime_s).await? {
        return Ok(Claim::Fresh);
    }
    let Some(stored) = store_db::find(conn, scope, key).await? else {
        // Released between our insert and select (a failed bank call): ask the client to retry.
        return Err(in_progress());
    };
    if stored.request_hash != hash {
        return Err(AppError::Conflict(Refusal::new(
            "idempotency_key_reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was used with a different request; use a new key for a new request",
        )));
    }
    match (stored.response_status, stored.response_body) {
        (Some(status), Some(body)) => Ok(Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        }),
        _ => Err(in_progress()),
    }
}

fn in_progress() -> AppError {
    AppError::Conflict(Refusal::new(
        "idempotency_request_in_progress",
        "Request in progress",
        "a request with this Idempotency-Key is still being processed; retry shortly",
    ))
}

/// Stores the response to a claimed key, in the transaction of the work it answers.
#[tracing::instrument(skip_all, fields(http.status = status))]
pub async fn save(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    status: u16,
    body: &Value,
) -> Result<(), AppError> {
    store_db::save_response(conn, scope, key, i32::from(status), body).await
}

/// Stores `body` as the 201 response of a fresh request, in its transaction, so that a replay
/// answers with exactly what the first request did.
#[tracing::instrument(skip_all)]
pub async fn save_created(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    body: &Value,
) -> Result<(), AppError> {
    save(conn, scope, key, CREATED, body).await
}

/// Deletes keys older than [`KEY_LIFETIME`]; returns how many. Run by a worker.
#[tracing::instrument(skip_all)]
pub async fn sweep(pool: &PgPool) -> Result<u64, AppError> {
    let lifetime_s = i64::try_from(KEY_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    store_db::delete_expired(pool, lifetime_s, SWEEP_BATCH).await
}

/// Forgets a key whose request failed before any effect, so the client may retry with it.
#[tracing::instrument(skip_all)]
pub async fn release(pool: &PgPool, scope: &str, key: &str) -> Result<(), AppError> {
    store_db::delete_unanswered(pool, scope, key).await
}
