//! Reports over the postings: trial balance.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::error::LedgerError;
use crate::money::Currency;

/// Totals of one account in a trial balance, in minor units of the account's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrialBalanceLine {
    /// Account code, e.g. `0320:revenue:construction:KHR`.
    pub account: String,
    /// Office of the account.
    pub office_code: String,
    /// Currency of the account.
    pub currency: Currency,
    /// Sum of the debits (positive postings).
    pub debit_minor: i64,
    /// Sum of the credits, as a positive number.
    pub credit_minor: i64,
    /// Debits minus credits; negative for an account with a credit balance.
    pub balance_minor: i64,
}

/// Returns the debit, credit and balance totals of every account that has postings, ordered
/// by account code (byte order, whatever the database collation).
///
/// `office_codes` limits the result to those offices (an empty slice returns nothing, so an
/// office-scoped caller with no offices sees nothing). `as_of` keeps only entries created at or
/// before that instant; every posting carries its entry's time, so an entry is never cut in two.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails (including a total beyond `i64`).
pub async fn trial_balance(
    conn: &mut PgConnection,
    office_codes: Option<&[String]>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<TrialBalanceLine>, LedgerError> {
    // language=PostgreSQL
    let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
        "select a.code, a.office_code, a.currency::text,
                coalesce(sum(p.amount_minor) filter (where p.amount_minor > 0), 0)::bigint,
                coalesce(-sum(p.amount_minor) filter (where p.amount_minor < 0), 0)::bigint,
                sum(p.amount_minor)::bigint
         from ledger_postings p
         join ledger_accounts a on a.id = p.account_id
         where ($1::text[] is null or p.office_code = any ($1))
           and ($2::timestamptz is null or p.created_at <= $2)
         group by a.id
         order by a.code collate \"C\"",
    )
    .bind(office_codes)
    .bind(as_of)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(
            |(account, office_code, currency, debit_minor, credit_minor, balance_minor)| {
                Ok(TrialBalanceLine {
                    account,
                    office_code,
                    currency: Currency::from_str(&currency)?,
                    debit_minor,
                    credit_minor,
                    balance_minor,
                })
            },
        )
        .collect()
}
