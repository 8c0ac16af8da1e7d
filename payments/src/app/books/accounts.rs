//! The chart of accounts and one account's balance at an instant.

use chrono::{DateTime, Utc};
use ledger::store::{self, AccountRef, AccountRow};

use super::{ledger_error, AUDIT_ROLES};
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::state::AppState;

/// The accounts of the caller's offices, by code.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<AccountRow>, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    Ok(store::list_accounts(&mut conn, principal.office_filter()).await?)
}

/// The account, if the caller may see it (another office's account is "not found").
pub(super) async fn visible_account(
    state: &AppState,
    principal: &Principal,
    code: &str,
) -> Result<AccountRef, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let account = store::find_account(&mut conn, code)
        .await
        .map_err(ledger_error)?;
    if !principal.sees_office(&account.office_code) {
        return Err(AppError::not_found("account"));
    }
    Ok(account)
}

/// Debits, credits and balance of one account over the entries up to `as_of`, in minor units
/// of its currency.
#[derive(Debug)]
pub struct AccountBalance {
    pub account: AccountRef,
    pub as_of: DateTime<Utc>,
    pub debit_minor: i64,
    pub credit_minor: i64,
    /// Debits minus credits (negative for a credit balance).
    pub balance_minor: i64,
}

/// The balance of account `code` at `as_of` (default: now).
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id, ledger_account.code = %code))]
pub async fn balance(
    state: &AppState,
    principal: &Principal,
    code: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<AccountBalance, AppError> {
    let account = visible_account(state, principal, code).await?;
    let as_of = as_of.unwrap_or_else(Utc::now);
    let mut conn = state.pool.acquire().await?;
    let line = store::account_balance(&mut conn, &account, as_of).await?;
    Ok(AccountBalance {
        account,
        as_of,
        debit_minor: line.debit_minor,
        credit_minor: line.credit_minor,
        balance_minor: line.balance_minor,
    })
}
