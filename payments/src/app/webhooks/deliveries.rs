//! Webhook deliveries as an admin sees them: the list, each one's attempts, and retries.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::app::pagination::{cursor, ListQuery, Page};
use crate::db::webhooks::deliveries::{self as store, Delivery, DeliveryAttempt, DeliveryFilter};
use crate::db::webhooks::{endpoints, notify_dispatchers};
use crate::state::AppState;

/// Which deliveries to list, and the page.
pub struct DeliveriesQuery {
    pub endpoint_id: Option<Uuid>,
    /// `pending`, `succeeded` or `dead`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn list_deliveries(
    state: &AppState,
    principal: &Principal,
    query: DeliveriesQuery,
) -> Result<Page<Delivery>, AppError> {
    principal.require(&[Role::Admin])?;
    let limit = cursor::limit(query.limit)?;
    if query
        .status
        .as_deref()
        .is_some_and(|status| !matches!(status, "pending" | "succeeded" | "dead"))
    {
        return Err(AppError::validation(
            "status",
            "status must be pending, succeeded or dead",
        ));
    }
    let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let filter = DeliveryFilter {
        endpoint_id: query.endpoint_id,
        status: query.status.as_deref(),
        after,
        fetch: limit + 1,
    };
    let rows = store::list(&state.pool, filter).await?;
    Ok(cursor::paginate(rows, limit, |row| {
        (row.created_at, row.id)
    }))
}

/// Puts a delivery back in the queue now. Its `webhook-id` (the event id) does not change.
#[tracing::instrument(skip_all, fields(delivery.id = %id))]
pub async fn retry_delivery(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<Delivery, AppError> {
    principal.require(&[Role::Admin])?;
    let requeued = store::requeue(&state.pool, id).await?;
    let row = store::get(&state.pool, id)
        .await?
        .ok_or_else(|| AppError::not_found("webhook delivery"))?;
    if !requeued {
        return Err(AppError::invalid_state(
            "this delivery has already succeeded",
        ));
    }
    notify_dispatchers(&state.pool).await?;
    Ok(row)
}

/// Puts every dead-lettered delivery of an endpoint back in the queue, in case order; returns
/// how many.
#[tracing::instrument(skip_all, fields(endpoint.id = %endpoint_id))]
pub async fn retry_dead(
    state: &AppState,
    principal: &Principal,
    endpoint_id: Uuid,
) -> Result<u64, AppError> {
    principal.require(&[Role::Admin])?;
    if endpoints::get(&state.pool, endpoint_id).await?.is_none() {
        return Err(AppError::not_found("webhook endpoint"));
    }
    let retried = store::requeue_dead(&state.pool, endpoint_id).await?;
    notify_dispatchers(&state.pool).await?;
    Ok(retried)
}

/// One page of a delivery's attempts, oldest first.
#[tracing::instrument(skip_all, fields(delivery.id = %delivery_id))]
pub async fn delivery_attempts(
    state: &AppState,
    principal: &Principal,
    delivery_id: Uuid,
    query: ListQuery,
) -> Result<Page<DeliveryAttempt>, AppError> {
    principal.require(&[Role::Admin])?;
    let limit = cursor::limit(query.limit)?;
    let after = query
        .cursor
        .as_deref()
        .map(decode_attempt_cursor)
        .transpose()?;
    if !store::exists(&state.pool, delivery_id).await? {
        return Err(AppError::not_found("webhook delivery"));
    }
    let mut rows = store::attempts(&state.pool, delivery_id, after, limit + 1).await?;
    let keep = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > keep;
    rows.truncate(keep);
    let next_cursor = rows
        .last()
        .filter(|_| more)
        .map(|row| encode_attempt_cursor(row.attempted_at, row.id));
    Ok(Page {
        data: rows,
        next_cursor,
    })
}

/// An attempt's place in its delivery's list: (attempted_at, id), as a key cursor (attempt ids
/// are numbers, not the uuids of the (created_at, id) cursors).
fn encode_attempt_cursor(attempted_at: DateTime<Utc>, id: i64) -> String {
    cursor::encode_key(&format!("{}|{id}", attempted_at.timestamp_micros()))
}

fn decode_attempt_cursor(raw: &str) -> Result<(DateTime<Utc>, i64), AppError> {
    let invalid = || AppError::validation("cursor", "cursor is not one this API returned");
    let key = cursor::decode_key(raw)?;
    let (micros, id) = key.split_once('|').ok_or_else(invalid)?;
    let attempted_at = micros
        .parse()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .filter(|at| crate::app::dates::timestamp_in_range(*at))
        .ok_or_else(invalid)?;
    Ok((attempted_at, id.parse().map_err(|_| invalid())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_cursor_reads_back_and_others_are_refused() {
        let at = DateTime::<Utc>::from_timestamp_micros(1_780_000_000_123_456).unwrap_or_default();
        let raw = encode_attempt_cursor(at, 42);
        assert_eq!(decode_attempt_cursor(&raw).ok(), Some((at, 42)));
        assert!(decode_attempt_cursor(&cursor::encode(at, Uuid::nil())).is_err());
        assert!(decode_attempt_cursor(&cursor::encode_key("x|y")).is_err());
    }
}
