//! Every account's debits, credits and balance at an instant, with the totals per currency.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use ledger::store::{ClosedPeriod, TrialBalanceLine};
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
    /// The offices it covers; `None` is every office.
    pub offices: Option<Vec<String>>,
    /// The offices whose month of `as_of` (Phnom Penh) is closed: their books there are final.
    pub closed: Vec<ClosedPeriod>,
}

/// The first day of the Cambodian (UTC+7) calendar month of `at`, as closed periods name it.
pub fn local_month(at: DateTime<Utc>) -> NaiveDate {
    let local = (at + chrono::TimeDelta::hours(7)).date_naive();
    local.with_day(1).unwrap_or(local)
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

/// The trial balance at `as_of` (default: now) of `office` (default: every office the caller
/// sees; another office is "not found").
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn trial_balance(
    state: &AppState,
    principal: &Principal,
    as_of: Option<DateTime<Utc>>,
    office: Option<&str>,
) -> Result<TrialBalance, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let offices = super::export::offices(principal.office_filter(), office)?;
    let as_of = as_of.unwrap_or_else(Utc::now);
    let mut conn = state.pool.acquire().await?;
    let lines = ledger::store::trial_balance(&mut conn, offices.as_deref(), Some(as_of)).await?;
    let totals = totals(&lines)?;
    let month = local_month(as_of);
    let closed = ledger::store::list_closed_periods(&mut conn, offices.as_deref())
        .await?
        .into_iter()
        .filter(|period| period.month == month)
        .collect();
    Ok(TrialBalance {
        as_of,
        lines,
        totals,
        offices,
        closed,
    })
}

/// The office codes a reader may choose between: every office for a national reader, their
/// own otherwise.
pub async fn office_choices(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<String>, AppError> {
    principal.require(&AUDIT_ROLES)?;
    if let Some(own) = principal.office_filter() {
        return Ok(own.to_vec());
    }
    let mut conn = state.pool.acquire().await?;
    Ok(crate::db::books::office_codes(&mut conn).await?)
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
