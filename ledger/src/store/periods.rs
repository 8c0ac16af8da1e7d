//! Period close: a closed month of an office takes no more entries.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::error::LedgerError;

/// First key of the advisory lock that orders entries and period closes of an office; the
/// second is `hashtext(office_code)`. The migration's entry trigger takes it shared.
const PERIOD_LOCK_CLASS: i32 = 1_281_586_244;

/// One closed month of one office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClosedPeriod {
    /// Office whose month is closed.
    pub office_code: String,
    /// First day of the closed month (Cambodian calendar month).
    pub month: NaiveDate,
    /// When it was closed.
    pub closed_at: DateTime<Utc>,
    /// Who closed it: an API key id, or `cli`.
    pub closed_by: String,
}

/// What [`close_period`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseOutcome {
    /// The month was closed now.
    Closed(ClosedPeriod),
    /// The month was closed before; nothing changed.
    AlreadyClosed(ClosedPeriod),
}

/// Parses `YYYY-MM` into the first day of that month.
///
/// # Errors
///
/// [`LedgerError::InvalidEntry`] for anything else.
pub fn parse_month(raw: &str) -> Result<NaiveDate, LedgerError> {
    let well_formed = raw.len() == 7
        && raw.bytes().enumerate().all(|(position, byte)| {
            if position == 4 {
                byte == b'-'
            } else {
                byte.is_ascii_digit()
            }
        });
    let parsed = if well_formed {
        NaiveDate::parse_from_str(&format!("{raw}-01"), "%Y-%m-%d").ok()
    } else {
        None
    };
    parsed.ok_or_else(|| LedgerError::InvalidEntry(format!("month {raw:?} is not YYYY-MM")))
}

/// Formats the first day of a month as `YYYY-MM`.
pub fn format_month(month: NaiveDate) -> String {
    format!("{:04}-{:02}", month.year(), month.month())
}

/// Closes month `month` (its first day) of `office_code`, unless it is closed already.
///
/// The month must be over in Cambodia (Asia/Phnom_Penh). The exclusive period lock makes
/// the close wait for every transaction of the office that is writing entries, so no entry of
/// the month commits after the month closed; the lock is held until the caller commits.
///
/// # Errors
///
/// [`LedgerError::InvalidEntry`] when `month` is not a first day,
/// [`LedgerError::PeriodNotClosable`] when the month is not over or the office has no
/// ledger accounts, [`LedgerError::Database`] when a statement fails.
pub async fn close_period(
    conn: &mut PgConnection,
    office_code: &str,
    month: NaiveDate,
    closed_by: &str,
) -> Result<CloseOutcome, LedgerError> {
    if month.day() != 1 {
        return Err(LedgerError::InvalidEntry(
            "month must be the first day of a month".to_owned(),
        ));
    }
    // language=PostgreSQL
    let (over, has_accounts): (bool, bool) = sqlx::query_as(
        "select (($1::date + interval '1 month')::timestamp at time zone 'Asia/Phnom_Penh') <= now(),
                exists (select 1 from ledger_accounts where office_code = $2)",
    )
    .bind(month)
    .bind(office_code)
    .fetch_one(&mut *conn)
    .await?;
    if !over {
        return Err(LedgerError::PeriodNotClosable(format!(
            "{} is not over yet in Cambodia",
            format_month(month)
        )));
    }
    if !has_accounts {
        return Err(LedgerError::PeriodNotClosable(format!(
            "office {office_code} has no ledger accounts"
        )));
    }
    // language=PostgreSQL
    sqlx::query("select pg_advisory_xact_lock($1, hashtext($2))")
        .bind(PERIOD_LOCK_CLASS)
        .bind(office_code)
        .execute(&mut *conn)
        .await?;
    // language=PostgreSQL
    let inserted: Option<(DateTime<Utc>, String)> = sqlx::query_as(
        "insert into ledger_closed_periods (office_code, month, closed_by) values ($1, $2, $3)
         on conflict (office_code, month) do nothing
         returning closed_at, closed_by",
    )
    .bind(office_code)
    .bind(month)
    .bind(closed_by)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((closed_at, closed_by)) = inserted {
        return Ok(CloseOutcome::Closed(ClosedPeriod {
            office_code: office_code.to_owned(),
            month,
            closed_at,
            closed_by,
        }));
    }
    // language=PostgreSQL
    let (closed_at, closed_by): (DateTime<Utc>, String) = sqlx::query_as(
        "select closed_at, closed_by from ledger_closed_periods where office_code = $1 and month = $2",
    )
    .bind(office_code)
    .bind(month)
    .fetch_one(&mut *conn)
    .await?;
    Ok(CloseOutcome::AlreadyClosed(ClosedPeriod {
        office_code: office_code.to_owned(),
        month,
        closed_at,
        closed_by,
    }))
}

/// Returns the closed months of the given offices (all for `None`), latest first.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn list_closed_periods(
    conn: &mut PgConnection,
    office_codes: Option<&[String]>,
) -> Result<Vec<ClosedPeriod>, LedgerError> {
    // language=PostgreSQL
    let rows: Vec<(String, NaiveDate, DateTime<Utc>, String)> = sqlx::query_as(
        "select office_code, month, closed_at, closed_by from ledger_closed_periods
         where ($1::text[] is null or office_code = any ($1))
         order by month desc, office_code collate \"C\"",
    )
    .bind(office_codes)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(office_code, month, closed_at, closed_by)| ClosedPeriod {
            office_code,
            month,
            closed_at,
            closed_by,
        })
        .collect())
}
