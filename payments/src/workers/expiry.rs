//! Expires intents whose time is up, with their `payment.expired` event in the same transaction.

use tokio::sync::watch;

use crate::app::error::AppError;
use crate::app::intents;
use crate::state::AppState;

const BATCH: i64 = 100;

pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        match sweep(&state).await {
            Ok(count) if count > 0 => {
                tracing::info!(intents.expired = count, "expired payment intents")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "expiry sweep failed; will retry"),
        }
        tokio::select! {
            () = tokio::time::sleep(state.config.expiry_sweep_interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

/// Expires one batch; returns how many intents it expired.
#[tracing::instrument(skip_all)]
pub async fn sweep(state: &AppState) -> Result<usize, AppError> {
    intents::expire_due(state, BATCH).await
}
