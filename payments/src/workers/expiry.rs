//! Expires intents whose time is up, with their `payment.expired` event in the same transaction.

use tokio::sync::watch;

use crate::app::error::AppError;
use crate::app::intents::{self, Closing, ClosingIntent};
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
///
/// Lock order as everywhere (app::settlement::record_claimed): each intent is locked first
/// (`for update ... skip locked`), then its pending attempts by the update below.
pub async fn sweep(state: &AppState) -> Result<usize, AppError> {
    let grace = i64::try_from(state.config.khqr_grace.as_millis()).unwrap_or(i64::MAX);
    let mut tx = state.pool.begin().await?;
    // language=PostgreSQL
    let expired: Vec<ClosingIntent> = sqlx::query_as(
        "select i.id, i.office_code, i.case_reference, i.currency, i.total_minor
         from payment_intents i
         where i.status = 'awaiting_payment' and i.expires_at < now()
           -- Bakong is asked once more about a QR before its intent may expire, but no longer
           -- than the grace period after the intent's expiry: a poller that cannot reach
           -- Bakong (or is stuck) must not keep intents open for ever. A payment found later
           -- still goes to suspense.
           and (i.expires_at + $2::bigint * interval '1 millisecond' < now()
                or not exists (select 1 from payment_attempts a
                               where a.payment_intent_id = i.id and a.poll_state = 'active'))
         order by i.expires_at limit $1 for update of i skip locked",
    )
    .bind(BATCH)
    .bind(grace)
    .fetch_all(&mut *tx)
    .await?;
    intents::close(&mut tx, Closing::Expired, &expired).await?;
    tx.commit().await?;
    Ok(expired.len())
}
