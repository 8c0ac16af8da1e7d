//! Payment intents: one per case payment, amount locked from a quote. Creating one is in
//! [`create`], closing unpaid ones (cancel, expiry) in [`close`].

mod close;
mod create;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::auth::{Principal, Role};
use super::pagination::{cursor, Page};
use super::secrets::pay_token_context;
pub use super::states::IntentStatus;
use crate::app::error::AppError;
use crate::db;
use crate::db::intents::IntentFilter;
use crate::state::AppState;

/// Re-exported for the settlement, which reads intents with runtime queries of its own.
pub use crate::db::intents::{ClosingIntent, IntentRow, INTENT_COLUMNS};
pub use close::{close, expire_due, Closing};
pub use create::{create, CreateIntentRequest, PayerRequest};

/// An intent as its reader may see it: the payment link only for the roles that create
/// intents (and in a creation's answer).
pub struct IntentRecord {
    pub intent: IntentRow,
    /// The citizen's payment link (a bearer credential).
    pub pay_url: Option<String>,
}

/// The roles that create intents, and so may be shown the payment link.
pub const PAY_LINK_ROLES: [Role; 3] = [Role::Workflow, Role::Cashier, Role::Admin];

impl IntentRecord {
    /// The record for `principal`: with the payment link when its role creates intents.
    fn for_principal(
        state: &AppState,
        principal: &Principal,
        intent: IntentRow,
    ) -> Result<IntentRecord, AppError> {
        let pay_url = if PAY_LINK_ROLES.contains(&principal.role) {
            sealed_pay_url(state, &intent)?
        } else {
            None
        };
        Ok(IntentRecord { intent, pay_url })
    }
}

/// The payment link, opened from its sealed copy; `None` for an intent whose token was never
/// sealed (migrated without `payments migrate`).
fn sealed_pay_url(state: &AppState, intent: &IntentRow) -> Result<Option<String>, AppError> {
    let Some(sealed) = &intent.pay_token_sealed else {
        return Ok(None);
    };
    let token = state
        .keyring
        .open_text(&pay_token_context(intent.id), sealed)
        .map_err(AppError::internal)?;
    Ok(Some(pay_url(state, &token)))
}

fn pay_url(state: &AppState, token: &str) -> String {
    let base = state.config.public_base_url.as_str().trim_end_matches('/');
    format!("{base}/pay/{token}")
}

/// Loads an intent the caller may see, optionally locking it for the rest of the transaction.
#[tracing::instrument(skip_all, fields(payment_intent.id = %id, lock))]
pub async fn load(
    conn: &mut PgConnection,
    principal: Option<&Principal>,
    id: Uuid,
    lock: bool,
) -> Result<IntentRow, AppError> {
    let row = if lock {
        db::intents::find_for_update(conn, id).await?
    } else {
        db::intents::find(conn, id).await?
    };
    row.filter(|row| principal.is_none_or(|principal| principal.sees_office(&row.office_code)))
        .ok_or_else(|| AppError::not_found("payment intent"))
}

#[tracing::instrument(skip_all, fields(payment_intent.id = %id))]
pub async fn get(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<IntentRecord, AppError> {
    let mut conn = state.pool.acquire().await?;
    let intent = load(&mut conn, Some(principal), id, false).await?;
    IntentRecord::for_principal(state, principal, intent)
}

/// The filters and page of the intents list.
#[derive(Debug, Default)]
pub struct ListIntents {
    pub office_code: Option<String>,
    pub status: Option<IntentStatus>,
    pub case_reference: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[tracing::instrument(skip_all, fields(office.code = query.office_code.as_deref(), payment_intent.status = query.status.map(IntentStatus::as_str)))]
pub async fn list(
    state: &AppState,
    principal: &Principal,
    query: ListIntents,
) -> Result<Page<IntentRecord>, AppError> {
    let limit = cursor::limit(query.limit)?;
    if let Some(code) = &query.office_code {
        if !principal.sees_office(code) {
            return Ok(Page {
                data: Vec::new(),
                next_cursor: None,
            });
        }
    }
    let filter = IntentFilter {
        offices: principal.office_filter(),
        office_code: query.office_code.as_deref(),
        status: query.status,
        case_reference: query.case_reference.as_deref(),
        from: query.from,
        to: query.to,
        after: query.cursor.as_deref().map(cursor::decode).transpose()?,
        rows: limit + 1,
    };
    let rows = db::intents::list(&state.pool, &filter).await?;
    let page = cursor::paginate(rows, limit, |row| (row.created_at, row.id));
    let data = page
        .data
        .into_iter()
        .map(|row| IntentRecord::for_principal(state, principal, row))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        data,
        next_cursor: page.next_cursor,
    })
}

/// Cancels an intent that is still awaiting payment. Cancelling a cancelled intent answers with
/// it unchanged, so a retried request is harmless; paid or expired intents are a 409.
#[tracing::instrument(skip_all, fields(payment_intent.id = %id))]
pub async fn cancel(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<IntentRecord, AppError> {
    principal.require(&[Role::Workflow, Role::Cashier, Role::Supervisor, Role::Admin])?;
    let mut tx = state.pool.begin().await?;
    // Lock order as everywhere (app::settlement::record_claimed): the intent first, then its
    // attempts (the update below), the order a settling callback takes them too.
    let intent = load(&mut tx, Some(principal), id, true).await?;
    match intent.status {
        IntentStatus::Cancelled => return IntentRecord::for_principal(state, principal, intent),
        IntentStatus::AwaitingPayment => {}
        other @ (IntentStatus::Paid | IntentStatus::Expired) => {
            return Err(AppError::invalid_state(format!(
                "a {other} payment intent cannot be cancelled"
            )))
        }
    }
    close(
        &mut tx,
        Closing::Cancelled,
        &[ClosingIntent {
            id,
            office_code: intent.office_code.clone(),
            case_reference: intent.case_reference.clone(),
            currency: intent.currency.clone(),
            total_minor: intent.total_minor,
        }],
    )
    .await?;
    let intent = load(&mut tx, None, id, false).await?;
    let record = IntentRecord::for_principal(state, principal, intent)?;
    tx.commit().await?;
    tracing::info!(payment_intent.id = %id, "payment intent cancelled");
    Ok(record)
}
