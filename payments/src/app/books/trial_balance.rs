//! Every account's debits, credits and balance at an instant, with the totals per currency.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger::store::TrialBalanceLine;
use ledger::Currency;

use super::AUDIT_ROLES;
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::state::AppState;

/// The trial balance of the caller's offices at `as_of`.
#[derive(Debug)]
pub struct TrialBalance {
    pub as_of: DateTime<Utc>,
    /// One line per account, by account code.
    pub lines: Vec<TrialBalanceLine>,
    /// One total per currency, by currency code.
    pub totals: Vec<CurrencyTotal>,
}

/// The sums of one currency's accounts, in its minor units.
#[derive(Debug)]
pub struct CurrencyTotal {
    pub currency: Currency,
    pub debit_minor: i64,
    pub credit_minor: i64,
    /// Debits minus credits: zero for a sound ledger.
    pub balance_minor: i64,
}

/// The trial balance at `as_of` (default: now).
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn trial_balance(
    state: &AppState,
    principal: &Principal,
    as_of: Option<DateTime<Utc>>,
) -> Result<TrialBalance, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let as_of = as_of.unwrap_or_else(Utc::now);
    let mut conn = state.pool.acquire().await?;
    let lines =
        ledger::store::trial_balance(&mut conn, principal.office_filter(), Some(as_of)).await?;
    let totals = totals(&lines)?;
    Ok(TrialBalance {
        as_of,
        lines,
        totals,
    })
}

/// Sums the lines per currency; an overflowing sum is an internal error, never a wrap.
fn totals(lines: &[TrialBalanceLine]) -> Result<Vec<CurrencyTotal>, AppError> {
    let mut totals: BTreeMap<&'static str, (Currency, i64, i64)> = BTreeMap::new();
    for line in lines {
        let total = totals
            .entry(line.currency.code())
            .or_insert((line.currency, 0, 0));
        total.1 = total
            .1
            .checked_add(line.debit_minor)
            .ok_or_else(|| AppError::internal("debit total overflows"))?;
        total.2 = total
            .2
            .checked_add(line.credit_minor)
            .ok_or_else(|| AppError::internal("credit total overflows"))?;
    }
    Ok(totals
        .into_values()
        .map(|(currency, debit_minor, credit_minor)| CurrencyTotal {
            currency,
            debit_minor,
            credit_minor,
            balance_minor: debit_minor.saturating_sub(credit_minor),
        })
        .collect())
}
