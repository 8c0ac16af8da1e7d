//! Seals committed ledger entries into the hash chain, then signs yesterday's digest.
//!
//! Every instance runs this loop; a transaction-level advisory lock makes one of them the
//! sealer for each round, and the others skip it. Sealing reads only entries whose
//! transactions are finished (ledger crate docs, "Sealing"), so the chain never has to make
//! room for an entry that commits late.

use ed25519_dalek::SigningKey;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::app::books::digests;
use crate::app::error::AppError;
use crate::state::AppState;

/// Entries sealed per transaction: short transactions, and a round still catches up fast.
const BATCH: i64 = 1_000;
/// Batches per round before the loop sleeps (and looks at the shutdown signal).
const MAX_BATCHES_PER_ROUND: usize = 50;

pub async fn run(state: AppState, key: Option<SigningKey>, mut shutdown: watch::Receiver<bool>) {
    loop {
        match round(&state.pool, key.as_ref()).await {
            Ok(sealed) if sealed > 0 => {
                tracing::debug!(ledger.sealed = sealed, "sealed ledger entries")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "ledger sealing round failed; will retry"),
        }
        tokio::select! {
            () = tokio::time::sleep(state.config.ledger_seal_interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

/// Seals what is finished, then makes yesterday's digest once the chain has caught up;
/// returns how many entries it sealed. Returns 0 at once when another instance is sealing.
#[tracing::instrument(skip_all)]
pub async fn round(pool: &PgPool, key: Option<&SigningKey>) -> Result<usize, AppError> {
    let mut sealed = 0;
    for _ in 0..MAX_BATCHES_PER_ROUND {
        let mut tx = pool.begin().await?;
        if !ledger::store::try_lock_sealer(&mut tx).await? {
            return Ok(sealed);
        }
        let batch = ledger::store::seal_pending(&mut tx, BATCH).await?;
        tx.commit().await?;
        sealed = sealed.saturating_add(batch);
        if i64::try_from(batch).map_or(true, |count| count < BATCH) {
            break;
        }
    }
    if let (Some(key), Some(day)) = (key, digests::digest_day(chrono::Utc::now())) {
        if digests::make_digest(pool, key, day).await? {
            tracing::info!(digest.day = %day, "signed the ledger digest of the day");
        }
    }
    Ok(sealed)
}
