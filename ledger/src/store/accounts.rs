//! Accounts: created on first use, listed for auditors.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::Serialize;
use sqlx::PgConnection;

use crate::account::AccountCode;
use crate::entry::Posting;
use crate::error::LedgerError;
use crate::money::Currency;

/// One stored account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRow {
    /// Account code.
    pub code: String,
    /// Office of the account.
    pub office_code: String,
    /// Kind name, e.g. `revenue` or `cash_drawer` (see [`crate::AccountKind::name`]).
    pub kind: String,
    /// Currency of the account.
    pub currency: Currency,
    /// `debit` or `credit`.
    pub normal_balance: String,
}

/// Creates the account if it does not exist yet and returns its id.
///
/// # Errors
///
/// [`LedgerError::Database`] when a statement fails.
pub async fn ensure_account(
    conn: &mut PgConnection,
    code: &AccountCode,
) -> Result<i64, LedgerError> {
    // language=PostgreSQL
    sqlx::query(
        "insert into ledger_accounts (code, office_code, kind, currency, normal_balance)
         values ($1, $2, $3, $4, $5)
         on conflict (code) do nothing",
    )
    .bind(code.as_str())
    .bind(code.office_code())
    .bind(code.kind().name())
    .bind(code.currency().code())
    .bind(code.normal_balance().as_str())
    .execute(&mut *conn)
    .await?;
    // language=PostgreSQL
    let id = sqlx::query_scalar("select id from ledger_accounts where code = $1")
        .bind(code.as_str())
        .fetch_one(&mut *conn)
        .await?;
    Ok(id)
}

/// Returns the accounts of the given offices (all offices for `None`), ordered by code.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn list_accounts(
    conn: &mut PgConnection,
    office_codes: Option<&[String]>,
) -> Result<Vec<AccountRow>, LedgerError> {
    // language=PostgreSQL
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "select code, office_code, kind, currency::text, normal_balance
         from ledger_accounts
         where ($1::text[] is null or office_code = any ($1))
         order by code collate \"C\"",
    )
    .bind(office_codes)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(code, office_code, kind, currency, normal_balance)| {
            Ok(AccountRow {
                code,
                office_code,
                kind,
                currency: Currency::from_str(&currency)?,
                normal_balance,
            })
        })
        .collect()
}

/// Creates the accounts of an entry that do not exist yet, in one statement.
pub(super) async fn upsert_accounts(
    conn: &mut PgConnection,
    postings: &[Posting],
) -> Result<(), LedgerError> {
    upsert_account_codes(conn, postings.iter().map(Posting::account).collect()).await
}

/// Creates the accounts of `accounts` that do not exist yet, in one statement.
pub(super) async fn upsert_account_codes(
    conn: &mut PgConnection,
    // Sorted and deduplicated: two transactions creating the same new accounts then take the
    // unique-index locks in the same order and cannot deadlock on each other.
    accounts: BTreeSet<&AccountCode>,
) -> Result<(), LedgerError> {
    let codes: Vec<&str> = accounts.iter().map(|account| account.as_str()).collect();
    let offices: Vec<&str> = accounts
        .iter()
        .map(|account| account.office_code())
        .collect();
    let kinds: Vec<&str> = accounts
        .iter()
        .map(|account| account.kind().name())
        .collect();
    let currencies: Vec<&str> = accounts
        .iter()
        .map(|account| account.currency().code())
        .collect();
    let sides: Vec<&str> = accounts
        .iter()
        .map(|account| account.normal_balance().as_str())
        .collect();
    // language=PostgreSQL
    sqlx::query(
        "insert into ledger_accounts (code, office_code, kind, currency, normal_balance)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         on conflict (code) do nothing",
    )
    .bind(&codes)
    .bind(&offices)
    .bind(&kinds)
    .bind(&currencies)
    .bind(&sides)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
