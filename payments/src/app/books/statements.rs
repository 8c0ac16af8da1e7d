//! An account's postings over a range, with the running balance.

use chrono::{DateTime, Utc};
use ledger::store::{self, AccountRef, Statement};

use super::accounts::visible_account;
use super::{ledger_error, range};
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::state::AppState;

/// A statement longer than this is refused; the CSV journal has no limit.
const MAX_STATEMENT_LINES: i64 = 10_000;

/// The statement of one account for `(from, to]`.
#[derive(Debug)]
pub struct AccountStatement {
    pub account: AccountRef,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub statement: Statement,
}

/// The statement of account `code` for `(from, to]` (`to` defaults to now).
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id, ledger_account.code = %code))]
pub async fn statement(
    state: &AppState,
    principal: &Principal,
    code: &str,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
) -> Result<AccountStatement, AppError> {
    let (from, to) = range(from, to)?;
    let account = visible_account(state, principal, code).await?;
    let mut conn = state.pool.acquire().await?;
    let statement = store::statement(&mut conn, &account, from, to, MAX_STATEMENT_LINES)
        .await
        .map_err(ledger_error)?;
    Ok(AccountStatement {
        account,
        from,
        to,
        statement,
    })
}
