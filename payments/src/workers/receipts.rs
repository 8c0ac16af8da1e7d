//! Numbers payments whose numbering did not follow their commit (the process stopped between
//! the two transactions, or the numbering failed): the safety net of `app::receipts`.

use std::time::Duration;

use tokio::sync::watch;

use crate::app::receipts;
use crate::state::AppState;

/// How often the queue is checked, and how old a staged payment must be to count as left
/// behind (younger ones are being numbered by the request that confirmed them).
const INTERVAL: Duration = Duration::from_secs(2);

pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        match receipts::number_stragglers(&state.pool, chrono::Duration::seconds(2)).await {
            Ok(count) if count > 0 => {
                tracing::warn!(
                    receipts.numbered = count,
                    "numbered payments left without a receipt number"
                )
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %error, "receipt numbering round failed; will retry")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}
