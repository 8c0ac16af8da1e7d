//! How an intent awaiting payment ends unpaid: cancelled by someone, or expired.

use sqlx::PgConnection;
use uuid::Uuid;

use super::ClosingIntent;
use crate::app::error::AppError;
use crate::app::money::{self, MoneyView};
use crate::app::outbox::{self, Event, NewEvent};
use crate::app::states::{AttemptStatus, IntentStatus};
use crate::db;
use crate::state::AppState;

/// How an intent awaiting payment ends unpaid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    /// Someone cancelled it (`POST .../cancel`).
    Cancelled,
    /// Its time ran out (workers::expiry).
    Expired,
}

/// Closes intents awaiting payment: each intent and its pending attempts move to cancelled or
/// expired, and each gets its `payment.cancelled` or `payment.expired` event, in the caller's
/// transaction. The caller has locked the intents (lock order: intents before attempts, as in
/// app::settlement) and checked they await payment.
#[tracing::instrument(skip_all, fields(payment_intent.count = intents.len(), closing = ?closing))]
pub async fn close(
    conn: &mut PgConnection,
    closing: Closing,
    intents: &[ClosingIntent],
) -> Result<(), AppError> {
    if intents.is_empty() {
        return Ok(());
    }
    let (status, attempt_status) = match closing {
        Closing::Cancelled => (IntentStatus::Cancelled, AttemptStatus::Cancelled),
        Closing::Expired => (IntentStatus::Expired, AttemptStatus::Expired),
    };
    let ids: Vec<Uuid> = intents.iter().map(|intent| intent.id).collect();
    db::intents::set_closed(&mut *conn, &ids, status).await?;
    db::attempts::close_pending(&mut *conn, &ids, attempt_status).await?;
    let mut events = Vec::with_capacity(intents.len());
    for intent in intents {
        let data = outbox::PaymentClosed {
            payment_intent_id: intent.id,
            case_reference: intent.case_reference.clone(),
            office_code: intent.office_code.clone(),
            total: MoneyView::from(money::from_row(intent.total_minor, &intent.currency)?),
        };
        events.push(NewEvent {
            event: match closing {
                Closing::Cancelled => Event::PaymentCancelled(data),
                Closing::Expired => Event::PaymentExpired(data),
            },
            office_code: &intent.office_code,
            case_reference: Some(&intent.case_reference),
            payment_intent_id: Some(intent.id),
        });
    }
    outbox::enqueue_many(conn, events).await?;
    Ok(())
}

/// Expires up to `batch` intents whose time is up (workers::expiry); returns how many.
///
/// Lock order as everywhere (app::settlement::record_claimed): each intent is locked first
/// (`for update ... skip locked`), then its pending attempts by [`close`].
#[tracing::instrument(skip_all)]
pub async fn expire_due(state: &AppState, batch: i64) -> Result<usize, AppError> {
    let grace_ms = i64::try_from(state.config.khqr_grace.as_millis()).unwrap_or(i64::MAX);
    let mut tx = state.pool.begin().await?;
    let expired = db::intents::lock_expired(&mut tx, batch, grace_ms).await?;
    close(&mut tx, Closing::Expired, &expired).await?;
    tx.commit().await?;
    Ok(expired.len())
}
