//! Closed periods: a month of an office after which no entry may be dated in it.

use ledger::store::{self, CloseOutcome, ClosedPeriod};

use super::{ledger_error, AUDIT_ROLES};
use crate::app::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::db;
use crate::state::AppState;

/// Closes `month` (`YYYY-MM`, a Cambodian calendar month that is over) of an office; closing
/// a closed month again changes nothing and says so.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id, office.code = %office_code, period.month = %month))]
pub async fn close_period(
    state: &AppState,
    principal: &Principal,
    office_code: &str,
    month: &str,
) -> Result<CloseOutcome, AppError> {
    principal.require(&[Role::Admin])?;
    let month = store::parse_month(month).map_err(ledger_error)?;
    let mut tx = state.pool.begin().await?;
    if !db::offices::exists(&mut tx, office_code).await? {
        return Err(AppError::not_found("office"));
    }
    let closed_by = format!("key:{}", principal.key_id);
    let outcome = store::close_period(&mut tx, office_code, month, &closed_by)
        .await
        .map_err(ledger_error)?;
    tx.commit().await?;
    Ok(outcome)
}

/// The closed periods of the caller's offices.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn list_periods(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<ClosedPeriod>, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    Ok(store::list_closed_periods(&mut conn, principal.office_filter()).await?)
}
