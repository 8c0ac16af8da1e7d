//! Balances as of any instant: daily aggregates rolled up off the write path, plus the
//! postings since the last aggregated day (crate docs, "Balances").

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{Stream, TryStreamExt as _};
use serde::Serialize;
use sqlx::PgConnection;

use crate::error::LedgerError;
use crate::money::Currency;

/// What one [`rollup_once`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RollupOutcome {
    /// Days aggregated by this call.
    pub days: i64,
    /// Days before this one are aggregated (`None`: the ledger has no postings yet).
    pub next_day: Option<NaiveDate>,
}

/// Aggregates up to `max_days` finished UTC days into `ledger_daily_balances`.
///
/// A day is aggregated only once no transaction that could still add a posting to it is
/// running: after the day ended, the round records `pg_snapshot_xmax()` as a mark, and a
/// later round (or this one, when nothing was running) aggregates the day once
/// `pg_snapshot_xmin()` has passed the mark. The entry trigger assigns the transaction id
/// before it reads the clock, so an entry dated before midnight has an id below the mark.
/// Another instance's round in progress makes this one return at once. The caller owns the
/// transaction and commits it.
///
/// # Errors
///
/// [`LedgerError::Database`] when a statement fails.
pub async fn rollup_once(
    conn: &mut PgConnection,
    max_days: i64,
) -> Result<RollupOutcome, LedgerError> {
    let (days, next_day) = roll_finished_days(
        conn,
        LEDGER_DAYS,
        max_days,
        async |conn: &mut PgConnection, day: NaiveDate| aggregate_day(conn, day).await,
    )
    .await?;
    if next_day.is_some() {
        aggregate_months(conn).await?;
    }
    Ok(RollupOutcome { days, next_day })
}

/// Where a day-by-day roll-up keeps its place and whose midnight ends its days: the ledger's
/// balances ([`rollup_once`], UTC) and, in the service, the dashboard's revenue (Cambodian
/// days) share [`roll_finished_days`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRollup {
    /// A one-row table with the columns `next_day date` and `mark_xid xid8`.
    pub state_table: &'static str,
    /// The time zone whose midnight ends a day, as PostgreSQL names it.
    pub time_zone: &'static str,
}

/// The ledger's daily balances: UTC days, their place in `ledger_rollup_state`.
const LEDGER_DAYS: DayRollup = DayRollup {
    state_table: "ledger_rollup_state",
    time_zone: "UTC",
};

/// Runs `aggregate` for each finished day of `rollup`, oldest first and at most `max_days`,
/// that no running transaction can still add a posting to (the xid horizon described at
/// [`rollup_once`]), and moves the state row past them. Returns the days aggregated and the
/// first day not aggregated (`None`: no postings yet, or another instance's round holds the
/// state row). The caller owns the transaction.
///
/// # Errors
///
/// What `aggregate` returns, or a database error.
pub async fn roll_finished_days<E: From<sqlx::Error>>(
    conn: &mut PgConnection,
    rollup: DayRollup,
    max_days: i64,
    mut aggregate: impl AsyncFnMut(&mut PgConnection, NaiveDate) -> Result<(), E>,
) -> Result<(i64, Option<NaiveDate>), E> {
    // Before any write: this transaction has no xid yet, so it does not hold xmin back.
    // language=PostgreSQL
    let (xmin, xmax): (String, String) = sqlx::query_as(
        "select pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text from pg_current_snapshot() s",
    )
    .fetch_one(&mut *conn)
    .await?;
    // A constant of this crate's callers, never input: a table name cannot be a parameter.
    let state: Option<(Option<NaiveDate>, Option<String>)> = sqlx::query_as(&format!(
        "select next_day, mark_xid::text from {} for update skip locked",
        rollup.state_table
    ))
    .fetch_optional(&mut *conn)
    .await?;
    let Some((next_day, mut mark)) = state else {
        return Ok((0, None));
    };
    let next_day = match next_day {
        Some(day) => Some(day),
        // language=PostgreSQL
        None => {
            sqlx::query_scalar(
                "select (min(created_at) at time zone $1)::date from ledger_postings",
            )
            .bind(rollup.time_zone)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    let Some(mut day) = next_day else {
        return Ok((0, None));
    };
    let mut days = 0;
    while days < max_days {
        // language=PostgreSQL
        let over: bool =
            sqlx::query_scalar("select (($1::date + 1)::timestamp at time zone $2) <= now()")
                .bind(day)
                .bind(rollup.time_zone)
                .fetch_one(&mut *conn)
                .await?;
        if !over {
            break;
        }
        let Some(mark_xid) = mark.clone() else {
            mark = Some(xmax.clone());
            continue;
        };
        // language=PostgreSQL
        let finished: bool = sqlx::query_scalar("select $1::xid8 >= $2::xid8")
            .bind(&xmin)
            .bind(&mark_xid)
            .fetch_one(&mut *conn)
            .await?;
        if !finished {
            break;
        }
        aggregate(&mut *conn, day).await?;
        day = day.succ_opt().ok_or(sqlx::Error::RowNotFound)?;
        mark = None;
        days += 1;
    }
    sqlx::query(&format!(
        "update {} set next_day = $1, mark_xid = $2::xid8",
        rollup.state_table
    ))
    .bind(day)
    .bind(mark.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok((days, Some(day)))
}

/// Tells whether a finished UTC day has postings that [`rollup_once`] has not aggregated yet:
/// a catch-up loop keeps calling it while a round returns 0 only because transactions of the
/// cluster were still running (the day's mark not yet passed).
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn rollup_pending(conn: &mut PgConnection) -> Result<bool, LedgerError> {
    Ok(days_pending(conn, LEDGER_DAYS).await?)
}

/// Whether a day of `rollup` that is over still waits for [`roll_finished_days`]: the day
/// after its state's `next_day` has begun, or, before the first round, some posting is older
/// than today's midnight in the rollup's time zone.
///
/// # Errors
///
/// A database error.
pub async fn days_pending(conn: &mut PgConnection, rollup: DayRollup) -> Result<bool, sqlx::Error> {
    // A constant of this crate's callers, never input: a table name cannot be a parameter.
    sqlx::query_scalar(&format!(
        "select case
             when (select next_day from {state}) is null
                 then exists (select 1 from ledger_postings
                              where created_at < date_trunc('day', now() at time zone $1) at time zone $1)
             else ((select next_day from {state}) + 1)::timestamp at time zone $1 <= now()
         end",
        state = rollup.state_table
    ))
    .bind(rollup.time_zone)
    .fetch_one(&mut *conn)
    .await
}

/// Sums the daily rows of every month whose days are all rolled up (those before the month of
/// `next_day`) into `ledger_monthly_balances`, and moves `next_month` past them, so that a
/// balance two years into the books reads one row per account and month, not per day.
async fn aggregate_months(conn: &mut PgConnection) -> Result<(), LedgerError> {
    // language=PostgreSQL
    sqlx::query(
        "with state as (
             select coalesce(next_month, '-infinity'::date) as from_month,
                    date_trunc('month', next_day)::date as to_month
             from ledger_rollup_state
             where next_day is not null
         ), inserted as (
             insert into ledger_monthly_balances
                 (account_id, month, office_code, debit_minor, credit_minor, balance_minor, posting_count)
             select d.account_id, date_trunc('month', d.day)::date, min(d.office_code),
                    sum(d.debit_minor), sum(d.credit_minor), sum(d.balance_minor), sum(d.posting_count)
             from ledger_daily_balances d, state
             where d.day >= state.from_month and d.day < state.to_month
             group by 1, 2
         )
         update ledger_rollup_state s set next_month = state.to_month
         from state
         where s.next_month is distinct from state.to_month",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn aggregate_day(conn: &mut PgConnection, day: NaiveDate) -> Result<(), LedgerError> {
    // language=PostgreSQL
    sqlx::query(
        "insert into ledger_daily_balances
             (account_id, day, office_code, debit_minor, credit_minor, balance_minor, posting_count)
         select p.account_id, $1, min(p.office_code),
                coalesce(sum(p.amount_minor) filter (where p.amount_minor > 0), 0),
                coalesce(-sum(p.amount_minor) filter (where p.amount_minor < 0), 0),
                sum(p.amount_minor), count(*)
         from ledger_postings p
         where p.created_at >= $1::timestamp at time zone 'UTC'
           and p.created_at < ($1 + 1)::timestamp at time zone 'UTC'
         group by p.account_id",
    )
    .bind(day)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

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

/// Debits, credits and balance of every account (of `office_codes`, or all for `None`)
/// over the entries created at or before `as_of` (all for `None`), ordered by account code.
const TOTALS_SQL: &str = "
    with cut as materialized (
        select least(coalesce((select next_day from ledger_rollup_state), '-infinity'::date),
                     (coalesce($2::timestamptz, 'infinity'::timestamptz) at time zone 'UTC')::date) as day
    ), month_cut as materialized (
        -- Whole months before the cut's month come from the monthly rows (never beyond the
        -- months aggregated), the days from there to the cut from the daily rows.
        select least(coalesce((select next_month from ledger_rollup_state), '-infinity'::date),
                     date_trunc('month', (select day from cut))::date) as month
    ), totals as (
        select m.account_id, m.debit_minor as debit, m.credit_minor as credit
        from ledger_monthly_balances m
        where m.month < (select month from month_cut)
          and ($1::text[] is null or m.office_code = any ($1))
          and ($3::bigint is null or m.account_id = $3)
        union all
        select d.account_id, d.debit_minor, d.credit_minor
        from ledger_daily_balances d
        where d.day >= (select month from month_cut)
          and d.day < (select day from cut)
          and ($1::text[] is null or d.office_code = any ($1))
          and ($3::bigint is null or d.account_id = $3)
        union all
        select p.account_id, greatest(p.amount_minor, 0), greatest(-p.amount_minor, 0)
        from ledger_postings p
        where p.created_at >= ((select day from cut)::timestamp at time zone 'UTC')
          and ($2::timestamptz is null or p.created_at <= $2)
          and ($1::text[] is null or p.office_code = any ($1))
          and ($3::bigint is null or p.account_id = $3)
    )
    select a.code, a.office_code, a.currency::text,
           sum(t.debit)::bigint, sum(t.credit)::bigint, (sum(t.debit) - sum(t.credit))::bigint
    from totals t
    join ledger_accounts a on a.id = t.account_id
    group by a.id
    order by a.code collate \"C\"";

type TotalsRow = (String, String, String, i64, i64, i64);

fn totals_line(row: TotalsRow) -> Result<TrialBalanceLine, LedgerError> {
    let (account, office_code, currency, debit_minor, credit_minor, balance_minor) = row;
    Ok(TrialBalanceLine {
        account,
        office_code,
        currency: Currency::from_str(&currency)?,
        debit_minor,
        credit_minor,
        balance_minor,
    })
}

/// Returns the debit, credit and balance totals of every account that has postings, ordered
/// by account code (byte order, whatever the database collation).
///
/// `office_codes` limits the result to those offices (an empty slice returns nothing, so an
/// office-scoped caller with no offices sees nothing). `as_of` keeps only entries created at or
/// before that instant; every posting carries its entry's time, so an entry is never cut in two.
/// Whole days come from the daily aggregates, the rest from the postings.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails (including a total beyond `i64`).
pub async fn trial_balance(
    conn: &mut PgConnection,
    office_codes: Option<&[String]>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<TrialBalanceLine>, LedgerError> {
    let rows: Vec<TotalsRow> = sqlx::query_as(TOTALS_SQL)
        .bind(office_codes)
        .bind(as_of)
        .bind(None::<i64>)
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(totals_line).collect()
}

/// An account found by code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRef {
    /// Database id.
    pub id: i64,
    /// Account code.
    pub code: String,
    /// Office of the account.
    pub office_code: String,
    /// Currency of the account.
    pub currency: Currency,
}

/// Looks an account up by code.
///
/// # Errors
///
/// [`LedgerError::AccountNotFound`] for an unknown code, [`LedgerError::Database`].
pub async fn find_account(conn: &mut PgConnection, code: &str) -> Result<AccountRef, LedgerError> {
    // language=PostgreSQL
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "select id, office_code, currency::text from ledger_accounts where code = $1",
    )
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, office_code, currency) =
        row.ok_or_else(|| LedgerError::AccountNotFound(code.to_owned()))?;
    Ok(AccountRef {
        id,
        code: code.to_owned(),
        office_code,
        currency: Currency::from_str(&currency)?,
    })
}

/// Returns the totals of one account over the entries created at or before `as_of`; zeros
/// when it had no postings then.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn account_balance(
    conn: &mut PgConnection,
    account: &AccountRef,
    as_of: DateTime<Utc>,
) -> Result<TrialBalanceLine, LedgerError> {
    let row: Option<TotalsRow> = sqlx::query_as(TOTALS_SQL)
        .bind(None::<Vec<String>>)
        .bind(as_of)
        .bind(account.id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => totals_line(row),
        None => Ok(TrialBalanceLine {
            account: account.code.clone(),
            office_code: account.office_code.clone(),
            currency: account.currency,
            debit_minor: 0,
            credit_minor: 0,
            balance_minor: 0,
        }),
    }
}

/// One line of an account statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    /// Entry of the posting.
    pub entry_id: i64,
    /// Time of the entry.
    pub created_at: DateTime<Utc>,
    /// Template name of the entry.
    pub kind: String,
    /// Description of the entry.
    pub description: String,
    /// Signed amount: debit positive, credit negative.
    pub amount_minor: i64,
    /// Balance of the account after this posting.
    pub balance_minor: i64,
}

/// An account's postings between two instants with the running balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// Balance at `from` (entries created at or before it).
    pub opening_minor: i64,
    /// Postings created after `from` and at or before `to`, in time order.
    pub lines: Vec<StatementLine>,
    /// Balance at `to`.
    pub closing_minor: i64,
}

/// Returns the statement of `account` for `(from, to]`, at most `max_lines` lines.
///
/// # Errors
///
/// [`LedgerError::RangeTooLarge`] beyond `max_lines`, [`LedgerError::Money`] on overflow,
/// [`LedgerError::Database`] when a query fails.
pub async fn statement(
    conn: &mut PgConnection,
    account: &AccountRef,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_lines: i64,
) -> Result<Statement, LedgerError> {
    let opening_minor = account_balance(conn, account, from).await?.balance_minor;
    // language=PostgreSQL
    let rows: Vec<(i64, DateTime<Utc>, String, String, i64)> = sqlx::query_as(
        "select p.entry_id, p.created_at, e.kind, e.description, p.amount_minor
         from ledger_postings p
         join ledger_entries e on e.id = p.entry_id
         where p.account_id = $1 and p.created_at > $2 and p.created_at <= $3
         order by p.created_at, p.id
         limit $4",
    )
    .bind(account.id)
    .bind(from)
    .bind(to)
    .bind(max_lines.saturating_add(1))
    .fetch_all(&mut *conn)
    .await?;
    if i64::try_from(rows.len()).map_or(true, |count| count > max_lines) {
        return Err(LedgerError::RangeTooLarge(max_lines));
    }
    let mut balance = opening_minor;
    let mut lines = Vec::with_capacity(rows.len());
    for (entry_id, created_at, kind, description, amount_minor) in rows {
        balance = balance
            .checked_add(amount_minor)
            .ok_or(crate::error::MoneyError::Overflow)?;
        lines.push(StatementLine {
            entry_id,
            created_at,
            kind,
            description,
            amount_minor,
            balance_minor: balance,
        });
    }
    Ok(Statement {
        opening_minor,
        lines,
        closing_minor: balance,
    })
}

/// One posting of the journal export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct JournalRow {
    /// Entry id.
    pub entry_id: i64,
    /// Time of the entry.
    pub created_at: DateTime<Utc>,
    /// Office of the entry.
    pub office_code: String,
    /// Template name.
    pub kind: String,
    /// Description.
    pub description: String,
    /// The entry this one reverses, if any.
    pub reverses_entry_id: Option<i64>,
    /// First day of the closed month this entry corrects, if any.
    pub corrects_period: Option<NaiveDate>,
    /// Posting id.
    pub posting_id: i64,
    /// Account code.
    pub account: String,
    /// Currency code.
    pub currency: String,
    /// Signed amount in minor units.
    pub amount_minor: i64,
    /// Chain position of the entry, once sealed.
    pub seal_seq: Option<i64>,
    /// Seal hash, hex, once sealed.
    pub seal_hash: Option<String>,
}

/// Streams the postings created in `(from, to]` of the given offices (all for `None`), in
/// time order, one row at a time: memory stays flat whatever the range.
pub fn journal(
    conn: &mut PgConnection,
    office_codes: Option<Vec<String>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> impl Stream<Item = Result<JournalRow, LedgerError>> + Send + '_ {
    // language=PostgreSQL
    sqlx::query_as::<_, JournalRow>(
        "select e.id as entry_id, p.created_at, e.office_code, e.kind, e.description,
                e.reverses_entry_id, e.corrects_period, p.id as posting_id, a.code as account,
                p.currency::text as currency, p.amount_minor, s.seq as seal_seq,
                encode(s.hash, 'hex') as seal_hash
         from ledger_postings p
         join ledger_entries e on e.id = p.entry_id
         join ledger_accounts a on a.id = p.account_id
         left join ledger_seals s on s.entry_id = p.entry_id
         where p.created_at > $2 and p.created_at <= $3
           and ($1::text[] is null or p.office_code = any ($1))
         order by p.created_at, p.entry_id, p.id",
    )
    .bind(office_codes)
    .bind(from)
    .bind(to)
    .fetch(conn)
    .map_err(LedgerError::Database)
}

/// Where a page of the journal ends: the `(created_at, entry_id, posting_id)` of its last row.
pub type JournalCursor = (DateTime<Utc>, i64, i64);

/// One page of [`journal`]: at most `limit` rows after `after` (from the start for `None`), in
/// the same order. Each page is a short statement, so a reader that pauses between pages
/// holds no connection meanwhile.
pub async fn journal_page(
    conn: &mut PgConnection,
    office_codes: Option<&[String]>,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    after: Option<JournalCursor>,
    limit: i64,
) -> Result<Vec<JournalRow>, LedgerError> {
    let (after_at, after_entry, after_posting) = match after {
        Some((at, entry, posting)) => (Some(at), entry, posting),
        None => (None, 0, 0),
    };
    // language=PostgreSQL
    let rows = sqlx::query_as::<_, JournalRow>(
        "select e.id as entry_id, p.created_at, e.office_code, e.kind, e.description,
                e.reverses_entry_id, e.corrects_period, p.id as posting_id, a.code as account,
                p.currency::text as currency, p.amount_minor, s.seq as seal_seq,
                encode(s.hash, 'hex') as seal_hash
         from ledger_postings p
         join ledger_entries e on e.id = p.entry_id
         join ledger_accounts a on a.id = p.account_id
         left join ledger_seals s on s.entry_id = p.entry_id
         where p.created_at > $2 and p.created_at <= $3
           and ($1::text[] is null or p.office_code = any ($1))
           and ($4::timestamptz is null or (p.created_at, p.entry_id, p.id) > ($4, $5, $6))
         order by p.created_at, p.entry_id, p.id
         limit $7",
    )
    .bind(office_codes)
    .bind(from)
    .bind(to)
    .bind(after_at)
    .bind(after_entry)
    .bind(after_posting)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}
