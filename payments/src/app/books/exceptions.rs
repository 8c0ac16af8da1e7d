//! The reconciliation exceptions: money that reached suspense instead of an intent.

use chrono::{DateTime, NaiveDate, Utc};
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
    /// The office account a statement exception is about.
    pub account_id: Option<String>,
    pub statement_line_id: Option<Uuid>,
    /// The posting of an unmatched ledger item.
    pub item_posting_id: Option<i64>,
    /// The day the exception is about (a line's booking date, an item's Cambodian date).
    pub business_date: Option<NaiveDate>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<crate::db::resolutions::ExceptionRow> for Exception {
    fn from(row: crate::db::resolutions::ExceptionRow) -> Exception {
        Exception {
            id: row.id,
            office_code: row.office_code,
            kind: row.kind,
            status: row.status,
            provider: row.provider,
            provider_transaction_id: row.provider_transaction_id,
            payment_intent_id: row.payment_intent_id,
            payment_attempt_id: row.payment_attempt_id,
            amount: row.amount,
            currency: row.currency,
            ledger_entry_id: row.ledger_entry_id,
            created_at: row.created_at,
            account_id: row.account_id,
            statement_line_id: row.statement_line_id,
            item_posting_id: row.item_posting_id,
            business_date: row.business_date,
            resolved_at: row.resolved_at,
        }
    }
}

/// The list's filters as the caller sent them; checked here, after the caller's role.
#[derive(Debug, Default)]
pub struct ExceptionFilter {
    pub office_code: Option<String>,
    /// `open` or `resolved`.
    pub status: Option<String>,
    /// An exception kind, such as `unmatched_statement_line`.
    pub kind: Option<String>,
    /// `oldest` for oldest first (the work queue); newest first otherwise.
    pub oldest_first: bool,
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
    let kind = filter
        .kind
        .as_deref()
        .map(|kind| {
            ExceptionKind::from_text(kind)
                .ok_or_else(|| AppError::validation("kind", "kind must be an exception kind"))
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
        kind,
        oldest_first: filter.oldest_first,
        after,
        limit: limit + 1,
    };
    let rows = db::books::list_exceptions(&mut conn, query).await?;
    Ok(cursor::paginate(rows, limit, |row| {
        (row.created_at, row.id)
    }))
}
