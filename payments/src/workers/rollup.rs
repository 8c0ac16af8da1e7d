//! Rolls finished days of postings up into per-account daily aggregates, off the write path,
//! so that balances and trial balances read aggregates plus one day of postings.
//!
//! Safe in every instance: the roll-up state row is taken with `SKIP LOCKED`, so one instance
//! rolls up and the others skip the round.

use tokio::sync::watch;

use crate::app::error::AppError;
use crate::state::AppState;

/// Days aggregated per round; catching up a long history takes a few rounds, never one
/// long transaction.
const MAX_DAYS_PER_ROUND: i64 = 31;

pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        match round(&state.pool).await {
            Ok(days) if days > 0 => {
                tracing::info!(ledger.days_rolled_up = days, "rolled up ledger days")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "ledger roll-up failed; will retry"),
        }
        tokio::select! {
            () = tokio::time::sleep(state.config.ledger_rollup_interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

/// Days one [`round_counts`] aggregated, apart: the ledger's UTC days and the reports'
/// Cambodian days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundCounts {
    pub ledger_days: i64,
    pub report_days: i64,
}

/// One roll-up round: the ledger's daily balances (UTC days), then the dashboard's revenue
/// (Cambodian days, db::reports), each in its own transaction; returns the number of days
/// aggregated by both, so a caller that loops until 0 has caught both up.
pub async fn round(pool: &sqlx::PgPool) -> Result<i64, AppError> {
    let counts = round_counts(pool).await?;
    Ok(counts.ledger_days.saturating_add(counts.report_days))
}

/// [`round`], telling the ledger's days from the reports'.
#[tracing::instrument(skip_all)]
pub async fn round_counts(pool: &sqlx::PgPool) -> Result<RoundCounts, AppError> {
    let mut tx = pool.begin().await?;
    let outcome = ledger::store::rollup_once(&mut tx, MAX_DAYS_PER_ROUND).await?;
    tx.commit().await?;
    let mut tx = pool.begin().await?;
    let report_days =
        crate::db::reports::rollup_once(&mut tx, crate::db::reports::MAX_DAYS_PER_ROUND).await?;
    tx.commit().await?;
    Ok(RoundCounts {
        ledger_days: outcome.days,
        report_days,
    })
}
