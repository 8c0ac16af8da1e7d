//! The reconciliation exceptions: money that reached suspense instead of an intent.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::AUDIT_ROLES;
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::app::pagination::{cursor, Page};
use crate::app::states::{ExceptionKind, ExceptionStatus};
use crate::db;
use crate::state::AppState;

/// One exception. The amount and currency are the bank's text as reported: an exception may
/// be one because they do not parse (an unsupported currency, say).
#[derive(Debug)]
pub struct Exception {
    pub id: Uuid,
    pub office_code: String,
    pub kind: ExceptionKind,
    pub status: ExceptionStatus,
    pub provider: String,
    pub provider_transaction_id: String,
    pub payment_intent_id: Option<Uuid>,
    pub payment_attempt_id: Option<Uuid>,
    pub amount: String,
    pub currency: String,
    pub ledger_entry_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// The list's filters as the caller sent them; checked here, after the caller's role.
#[derive(Debug, Default)]
pub struct ExceptionFilter {
    pub office_code: Option<String>,
    /// `open` or `resolved`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// One page of the exceptions of the caller's offices, newest first.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn list(
    state: &AppState,
    principal: &Principal,
    filter: ExceptionFilter,
) -> Result<Page<Exception>, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let limit = cursor::limit(filter.limit)?;
    let status = filter
        .status
        .as_deref()
        .map(|status| {
            ExceptionStatus::from_text(status)
                .ok_or_else(|| AppError::validation("status", "status must be open or resolved"))
        })
        .transpose()?;
    if filter
        .office_code
        .as_deref()
        .is_some_and(|code| !principal.sees_office(code))
    {
        return Ok(Page {
            data: Vec::new(),
            next_cursor: None,
        });
    }
    let after = filter.cursor.as_deref().map(cursor::decode).transpose()?;
    let mut conn = state.pool.acquire().await?;
    let query = db::books::ExceptionQuery {
        offices: principal.office_filter(),
        office_code: filter.office_code.as_deref(),
        status,
        after,
        limit: limit + 1,
    };
    let rows = db::books::list_exceptions(&mut conn, query).await?;
    Ok(cursor::paginate(rows, limit, |row| {
        (row.created_at, row.id)
    }))
}
