//! The dashboard's figures (migrations 0022, 0026): intent counts and time-to-pay histograms
//! kept exact by triggers per day and per month, revenue and payment counts rolled up per
//! finished Cambodian day (then per month once all its days are) from the ledger plus the
//! postings since, and the recomputation that verify compares them with. A period reads its
//! whole months from the monthly rows, its edge days from the daily rows, and the days not
//! rolled up from the postings, except for a day or week series.
//!
//! Runtime queries (not the `query!` macros): the grouping key is chosen by a parameter and
//! the roll-up of days is the ledger's own (`ledger::store::roll_finished_days`).

use chrono::{Datelike, Months, NaiveDate};
use sqlx::PgConnection;

/// Cambodian days aggregated per roll-up round at most.
pub const MAX_DAYS_PER_ROUND: i64 = 31;

/// Rolls up to `max_days` finished Cambodian days of revenue into `report_daily_revenue` and
/// `report_daily_payments`; returns the number of days aggregated.
///
/// The xid horizon of `ledger::store::rollup_once`: after a day ended, the round records
/// `pg_snapshot_xmax()` as a mark, and a later round aggregates the day once
/// `pg_snapshot_xmin()` has passed the mark, so no transaction that could still add an entry
/// dated that day is running. The state row is taken with `SKIP LOCKED`: another instance's
/// round in progress makes this one return 0. The caller owns the transaction.
pub async fn rollup_once(conn: &mut PgConnection, max_days: i64) -> Result<i64, sqlx::Error> {
    let (days, next_day) = ledger::store::roll_finished_days(
        conn,
        REPORT_DAYS,
        max_days,
        async |conn: &mut PgConnection, day: NaiveDate| aggregate_day(conn, day).await,
    )
    .await?;
    if next_day.is_some() {
        aggregate_months(conn).await?;
    }
    Ok(days)
}

/// The dashboard's revenue: Cambodian days, their place in `report_rollup_state`.
const REPORT_DAYS: ledger::store::DayRollup = ledger::store::DayRollup {
    state_table: "report_rollup_state",
    time_zone: "Asia/Phnom_Penh",
};

/// Sums the daily rows of every Cambodian month whose days are all rolled up (those before
/// the month of `next_day`) into `report_monthly_revenue` and `report_monthly_payments`, and
/// moves `next_month` past them (as `ledger::store::rollup_once` does for the balances), so a
/// period of two years reads one row per month and key, not per day.
async fn aggregate_months(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query(
        "with state as (
             select coalesce(next_month, '-infinity'::date) as from_month,
                    date_trunc('month', next_day)::date as to_month
             from report_rollup_state
             where next_day is not null
         ), revenue as (
             insert into report_monthly_revenue
                 (month, office_code, sector, channel, currency, amount_minor, payment_count)
             select date_trunc('month', d.day)::date, d.office_code, d.sector, d.channel,
                    d.currency, sum(d.amount_minor), sum(d.payment_count)
             from report_daily_revenue d, state
             where d.day >= state.from_month and d.day < state.to_month
             group by 1, 2, 3, 4, 5
         ), payments as (
             insert into report_monthly_payments
                 (month, office_code, channel, currency, payment_count)
             select date_trunc('month', d.day)::date, d.office_code, d.channel, d.currency,
                    sum(d.payment_count)
             from report_daily_payments d, state
             where d.day >= state.from_month and d.day < state.to_month
             group by 1, 2, 3, 4
         )
         update report_rollup_state s set next_month = state.to_month
         from state
         where s.next_month is distinct from state.to_month",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The revenue rows of `[from, to)` (Cambodian days) computed from the postings.
// language=PostgreSQL
const REVENUE_FROM_POSTINGS: &str = "
    select day, office_code, sector, channel, currency,
           sum(amount_minor)::bigint as amount_minor, sum(payment_sign)::bigint as payment_count
    from report_revenue_entries($1::date::timestamp at time zone 'Asia/Phnom_Penh',
                                $2::date::timestamp at time zone 'Asia/Phnom_Penh')
    group by day, office_code, sector, channel, currency";

/// The payment counts of `[from, to)` computed from the postings: each entry once.
// language=PostgreSQL
const PAYMENTS_FROM_POSTINGS: &str = "
    select day, office_code, channel, currency, sum(payment_sign)::bigint as payment_count
    from (select distinct entry_id, day, office_code, channel, currency, payment_sign
          from report_revenue_entries($1::date::timestamp at time zone 'Asia/Phnom_Penh',
                                      $2::date::timestamp at time zone 'Asia/Phnom_Penh')
          where payment_sign <> 0) e
    group by day, office_code, channel, currency";

async fn aggregate_day(conn: &mut PgConnection, day: NaiveDate) -> Result<(), sqlx::Error> {
    let next = day.succ_opt().ok_or(sqlx::Error::RowNotFound)?;
    sqlx::query(&format!(
        "insert into report_daily_revenue
             (day, office_code, sector, channel, currency, amount_minor, payment_count)
         {REVENUE_FROM_POSTINGS}"
    ))
    .bind(day)
    .bind(next)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "insert into report_daily_payments (day, office_code, channel, currency, payment_count)
         {PAYMENTS_FROM_POSTINGS}"
    ))
    .bind(day)
    .bind(next)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A period of Cambodian days (inclusive) and the offices to count (`None`: all).
///
/// The readers of a scope run unprepared (`persistent(false)`): their best plan depends on
/// the values (one office or all, days or months; `$3 is null or office_code = any ($3)`),
/// and a cached generic plan scans every office's rows (10 to 25 ms per query measured).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub offices: Option<&'a [String]>,
    /// Read the whole months of the period from the monthly roll-ups (the figures are the
    /// same either way; `false` reads the daily rows only, for a test to compare).
    pub months: bool,
}

impl Scope<'_> {
    /// The whole Cambodian months of the period, `[first, end)` as first days of months:
    /// bound as `$6`/`$7` of the readers. The daily rows cover `[from, first)` and
    /// `[end, to]`. Without whole months (or `months` off), both are `to + 1`, so the days
    /// cover the period.
    fn month_span(&self, allowed: bool) -> (NaiveDate, NaiveDate) {
        let after = self.to.succ_opt().unwrap_or(self.to);
        let first = if self.from.day() == 1 {
            Some(self.from)
        } else {
            self.from
                .with_day(1)
                .and_then(|start| start.checked_add_months(Months::new(1)))
        };
        let end = after.with_day(1);
        match (first, end) {
            (Some(first), Some(end)) if self.months && allowed && first < end => (first, end),
            _ => (after, after),
        }
    }
}

/// Whether a grouping can read monthly rows (a day or week series needs days).
fn monthly_grouping(group_by: &str) -> bool {
    !matches!(group_by, "day" | "week")
}

/// The SQL key of a grouping (bound as text, so the query text never changes).
// language=PostgreSQL
const KEY: &str = "case $4::text
        when 'office' then office_code
        when 'channel' then channel
        when 'channel_group' then (case when channel in ('khqr', 'cash', 'other') then channel else 'bank' end)
        when 'day' then day::text
        when 'week' then date_trunc('week', day)::date::text
        when 'month' then to_char(day, 'YYYY-MM')
        else ''
    end";

/// The same for a second grouping ($5); `sector` is allowed where the rows have one.
fn key(param: &str, sector: bool) -> String {
    let key = KEY.replace("$4", param);
    if sector {
        key.replacen("else ''", "when 'sector' then sector else ''", 1)
    } else {
        key
    }
}

/// Revenue (and payments with a line of the key's sector) of one key pair and currency.
#[derive(Debug, Clone)]
pub struct RevenueSum {
    pub key: String,
    pub key2: String,
    pub currency: String,
    pub amount_minor: i64,
    pub sector_payment_count: i64,
}

/// Revenue of `scope` grouped by `group_by` and `group_by2` (one of office, sector, channel,
/// channel_group, day, week, month, or `none`), roll-up rows for rolled-up days and postings
/// for the rest.
pub async fn revenue(
    conn: &mut PgConnection,
    scope: Scope<'_>,
    group_by: &str,
    group_by2: &str,
) -> Result<Vec<RevenueSum>, sqlx::Error> {
    let (first, end) = scope.month_span(monthly_grouping(group_by) && monthly_grouping(group_by2));
    let sql = format!(
        "{rows}
         select {k1} as key, {k2} as key2, currency, sum(amount_minor)::bigint,
                sum(payment_count)::bigint
         from r
         group by 1, 2, 3
         order by 1, 2, 3",
        rows = revenue_source("$6", "$7"),
        k1 = key("$4", true),
        k2 = key("$5", true),
    );
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(&sql)
        .persistent(false)
        .bind(scope.from)
        .bind(scope.to)
        .bind(scope.offices)
        .bind(group_by)
        .bind(group_by2)
        .bind(first)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(key, key2, currency, amount_minor, sector_payment_count)| RevenueSum {
                key,
                key2,
                currency,
                amount_minor,
                sector_payment_count,
            },
        )
        .collect())
}

/// `cut`: the first day not rolled up (`day`) and the end of the whole months read from the
/// monthly rows (`month_end`): the months of `[first, end)` that are aggregated, never beyond
/// `next_month` (which is never beyond the month of `next_day`).
fn cut_cte(first: &str, end: &str) -> String {
    format!(
        "cut as materialized (
             select coalesce(next_day, '-infinity'::date) as day,
                    greatest({first}::date,
                             least({end}::date, coalesce(next_month, '-infinity'::date)))
                        as month_end
             from report_rollup_state
         )"
    )
}

/// The revenue rows of a scope as `r` (`day`, office_code, sector, channel, currency,
/// amount_minor, payment_count): the aggregated whole months from the monthly rows (`day` =
/// the month's first day), the other rolled-up days from the daily rows, the rest from the
/// postings. `$1`..`$3` = from, to, offices; `first`/`end` = [`Scope::month_span`].
fn revenue_source(first: &str, end: &str) -> String {
    format!(
        "with {cut}, r as (
             select month as day, office_code, sector, channel, currency::text as currency,
                    amount_minor, payment_count
             from report_monthly_revenue
             where month >= {first} and month < (select month_end from cut)
               and ($3::text[] is null or office_code = any ($3))
             union all
             select day, office_code, sector, channel, currency::text, amount_minor,
                    payment_count
             from report_daily_revenue
             where day >= $1 and day < {first} and day < (select day from cut)
               and ($3::text[] is null or office_code = any ($3))
             union all
             select day, office_code, sector, channel, currency::text, amount_minor,
                    payment_count
             from report_daily_revenue
             where day >= (select month_end from cut) and day <= $2
               and day < (select day from cut)
               and ($3::text[] is null or office_code = any ($3))
             union all
             select day, office_code, sector, channel, currency, amount_minor, payment_sign
             from report_revenue_entries(
                     greatest($1, (select day from cut))::timestamp at time zone 'Asia/Phnom_Penh',
                     ($2 + 1)::timestamp at time zone 'Asia/Phnom_Penh')
             where ($3::text[] is null or office_code = any ($3))
         )",
        cut = cut_cte(first, end),
    )
}

/// The payment rows of a scope as `r` (`day`, office_code, channel, currency,
/// payment_count), read like [`revenue_source`].
fn payment_source(first: &str, end: &str) -> String {
    format!(
        "with {cut}, r as (
             select month as day, office_code, channel, currency::text as currency,
                    payment_count
             from report_monthly_payments
             where month >= {first} and month < (select month_end from cut)
               and ($3::text[] is null or office_code = any ($3))
             union all
             select day, office_code, channel, currency::text, payment_count
             from report_daily_payments
             where day >= $1 and day < {first} and day < (select day from cut)
               and ($3::text[] is null or office_code = any ($3))
             union all
             select day, office_code, channel, currency::text, payment_count
             from report_daily_payments
             where day >= (select month_end from cut) and day <= $2
               and day < (select day from cut)
               and ($3::text[] is null or office_code = any ($3))
             union all
             select day, office_code, channel, currency, payment_sign
             from (select distinct entry_id, day, office_code, channel, currency, payment_sign
                   from report_revenue_entries(
                       greatest($1, (select day from cut))::timestamp at time zone 'Asia/Phnom_Penh',
                       ($2 + 1)::timestamp at time zone 'Asia/Phnom_Penh')
                   where payment_sign <> 0
                     and ($3::text[] is null or office_code = any ($3))) e
         )",
        cut = cut_cte(first, end),
    )
}

/// Payments (each once, voided ones taken away) of one key pair and currency.
#[derive(Debug, Clone)]
pub struct PaymentCount {
    pub key: String,
    pub key2: String,
    pub currency: String,
    pub count: i64,
}

/// Payments of `scope` grouped like [`revenue`] (no `sector`: a payment has several).
pub async fn payments(
    conn: &mut PgConnection,
    scope: Scope<'_>,
    group_by: &str,
    group_by2: &str,
) -> Result<Vec<PaymentCount>, sqlx::Error> {
    let (first, end) = scope.month_span(monthly_grouping(group_by) && monthly_grouping(group_by2));
    let sql = format!(
        "{rows}
         select {k1} as key, {k2} as key2, currency, sum(payment_count)::bigint
         from r
         group by 1, 2, 3
         order by 1, 2, 3",
        rows = payment_source("$6", "$7"),
        k1 = key("$4", false),
        k2 = key("$5", false),
    );
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(&sql)
        .persistent(false)
        .bind(scope.from)
        .bind(scope.to)
        .bind(scope.offices)
        .bind(group_by)
        .bind(group_by2)
        .bind(first)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(key, key2, currency, count)| PaymentCount {
            key,
            key2,
            currency,
            count,
        })
        .collect())
}

/// The time key of the dashboard's series: the day, or with `$4` true the month (`YYYY-MM`).
// language=PostgreSQL
const SERIES: &str = "case when $4::boolean then to_char(day, 'YYYY-MM') else day::text end";

/// The dashboard's four revenue groupings in one pass (GROUPING SETS): each sum tagged with
/// its grouping (`office`, `day`, `sector`, `channel_group`) in `key2`'s place. The `day`
/// set is per day, or per month (`YYYY-MM`) with `by_month`: then the whole months of the
/// period are read from the monthly rows.
pub async fn revenue_sets(
    conn: &mut PgConnection,
    scope: Scope<'_>,
    by_month: bool,
) -> Result<Vec<(String, RevenueSum)>, sqlx::Error> {
    let (first, end) = scope.month_span(by_month);
    let sql = format!(
        "{rows}, g as (
             select r.*, {SERIES} as t,
                    case when channel in ('khqr', 'cash', 'other') then channel else 'bank' end as cg
             from r
         )
         select case when grouping(office_code) = 0 then 'office'
                     when grouping(t) = 0 then 'day'
                     when grouping(sector) = 0 then 'sector'
                     else 'channel_group' end,
                case when grouping(office_code) = 0 then office_code
                     when grouping(t) = 0 then t
                     when grouping(sector) = 0 then sector
                     else cg end,
                currency, sum(amount_minor)::bigint, sum(payment_count)::bigint
         from g
         group by grouping sets ((office_code, currency), (t, currency), (sector, currency),
                                 (cg, currency))
         order by 1, 2, 3",
        rows = revenue_source("$5", "$6"),
    );
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(&sql)
        .persistent(false)
        .bind(scope.from)
        .bind(scope.to)
        .bind(scope.offices)
        .bind(by_month)
        .bind(first)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(set, key, currency, amount_minor, sector_payment_count)| {
            (
                set,
                RevenueSum {
                    key,
                    key2: String::new(),
                    currency,
                    amount_minor,
                    sector_payment_count,
                },
            )
        })
        .collect())
}

/// The dashboard's payment counts in one pass: tagged `office`, `day`, `channel_group`,
/// `day_channel_group` (key = day, key2 = group) and `none` (per currency); days are months
/// (`YYYY-MM`) with `by_month`, as in [`revenue_sets`].
pub async fn payment_sets(
    conn: &mut PgConnection,
    scope: Scope<'_>,
    by_month: bool,
) -> Result<Vec<(String, PaymentCount)>, sqlx::Error> {
    let (first, end) = scope.month_span(by_month);
    let sql = format!(
        "{rows}, g as (
             select r.*, {SERIES} as t,
                    case when channel in ('khqr', 'cash', 'other') then channel else 'bank' end as cg
             from r
         )
         select case when grouping(office_code) = 0 then 'office'
                     when grouping(t) = 0 and grouping(cg) = 0 then 'day_channel_group'
                     when grouping(t) = 0 then 'day'
                     when grouping(cg) = 0 then 'channel_group'
                     else 'none' end,
                coalesce(case when grouping(office_code) = 0 then office_code end,
                         case when grouping(t) = 0 then t end,
                         case when grouping(cg) = 0 then cg end, ''),
                case when grouping(t) = 0 and grouping(cg) = 0 then cg else '' end,
                currency, sum(payment_count)::bigint
         from g
         group by grouping sets ((office_code, currency), (t, currency), (cg, currency),
                                 (t, cg, currency), (currency))
         order by 1, 2, 3, 4",
        rows = payment_source("$5", "$6"),
    );
    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(&sql)
        .persistent(false)
        .bind(scope.from)
        .bind(scope.to)
        .bind(scope.offices)
        .bind(by_month)
        .bind(first)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(set, key, key2, currency, count)| {
            (
                set,
                PaymentCount {
                    key,
                    key2,
                    currency,
                    count,
                },
            )
        })
        .collect())
}

/// Intents created in `scope` per status: the whole months from the monthly counters, the
/// edge days from the daily ones (both exact at every instant).
pub async fn intent_counts(
    conn: &mut PgConnection,
    scope: Scope<'_>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let (first, end) = scope.month_span(true);
    // language=PostgreSQL
    sqlx::query_as(
        "select status, sum(count)::bigint
         from (select status, count from report_monthly_intent_counts
               where month >= $4 and month < $5
                 and ($3::text[] is null or office_code = any ($3))
               union all
               select status, count from report_intent_counts
               where day >= $1 and day < $4
                 and ($3::text[] is null or office_code = any ($3))
               union all
               select status, count from report_intent_counts
               where day >= $5 and day <= $2
                 and ($3::text[] is null or office_code = any ($3))) c
         group by status
         order by status",
    )
    .persistent(false)
    .bind(scope.from)
    .bind(scope.to)
    .bind(scope.offices)
    .bind(first)
    .bind(end)
    .fetch_all(conn)
    .await
}

/// The time-to-pay histogram of the intents paid in `scope`: (bucket lower bound in seconds,
/// count), by bucket; read like [`intent_counts`].
pub async fn paid_latency(
    conn: &mut PgConnection,
    scope: Scope<'_>,
) -> Result<Vec<(i32, i64)>, sqlx::Error> {
    let (first, end) = scope.month_span(true);
    // language=PostgreSQL
    sqlx::query_as(
        "select bucket_seconds, sum(count)::bigint
         from (select bucket_seconds, count from report_monthly_paid_latency
               where month >= $4 and month < $5
                 and ($3::text[] is null or office_code = any ($3))
               union all
               select bucket_seconds, count from report_paid_latency
               where day >= $1 and day < $4
                 and ($3::text[] is null or office_code = any ($3))
               union all
               select bucket_seconds, count from report_paid_latency
               where day >= $5 and day <= $2
                 and ($3::text[] is null or office_code = any ($3))) c
         group by bucket_seconds
         having sum(count) <> 0
         order by bucket_seconds",
    )
    .persistent(false)
    .bind(scope.from)
    .bind(scope.to)
    .bind(scope.offices)
    .bind(first)
    .bind(end)
    .fetch_all(conn)
    .await
}

/// Open reconciliation exceptions now, by age: `0-1d`, `1-7d`, `7-30d`, `30d+`.
pub async fn open_exceptions_by_age(
    conn: &mut PgConnection,
    offices: Option<&[String]>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as(
        "select case when age < interval '1 day' then '0-1d'
                     when age < interval '7 days' then '1-7d'
                     when age < interval '30 days' then '7-30d'
                     else '30d+' end,
                count(*)
         from (select now() - created_at as age
               from reconciliation_exceptions
               where status = 'open' and ($1::text[] is null or office_code = any ($1))) e
         group by 1",
    )
    .bind(offices)
    .fetch_all(conn)
    .await
}

/// An office as the ranking shows it.
#[derive(Debug, Clone)]
pub struct OfficeName {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
    pub province_code: Option<String>,
    pub province_km: Option<String>,
    pub province_en: Option<String>,
}

type OfficeRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Every office with its province, by code.
pub async fn offices(conn: &mut PgConnection) -> Result<Vec<OfficeName>, sqlx::Error> {
    // language=PostgreSQL
    let rows: Vec<OfficeRow> = sqlx::query_as(
        "select o.code, o.name_km, o.name_en, o.province_code, p.name_km, p.name_en
         from offices o
         left join provinces p on p.code = o.province_code
         order by o.code",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(code, name_km, name_en, province_code, province_km, province_en)| OfficeName {
                code,
                name_km,
                name_en,
                province_code,
                province_km,
                province_en,
            },
        )
        .collect())
}

/// Every sector: (code, name_km, name_en).
pub async fn sectors(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as("select code, name_km, name_en from sectors order by code")
        .fetch_all(conn)
        .await
}

/// What [`verify_rollups`] found.
#[derive(Debug, Clone, Default)]
pub struct RollupCheck {
    /// Roll-up rows compared with their source.
    pub rows_checked: i64,
    /// The first row that differs, named by table and key.
    pub first_bad: Option<String>,
}

/// Recomputes every row of the four daily report roll-ups from its source (intents; postings
/// of the rolled-up days) and every row of the four monthly ones from its daily rows, and
/// names the first that differs (missing, extra or another figure).
/// Run inside verify's read-only snapshot.
pub async fn verify_rollups(conn: &mut PgConnection) -> Result<RollupCheck, sqlx::Error> {
    let mut check = RollupCheck::default();
    // language=PostgreSQL
    let checks: [(&str, String); 8] = [
        (
            "select count(*) from report_intent_counts",
            "with truth as (
                 select (created_at at time zone 'Asia/Phnom_Penh')::date as day, office_code,
                        status, count(*)::bigint as n
                 from payment_intents group by 1, 2, 3
             ), stored as (
                 select day, office_code, status, count as n from report_intent_counts
                 where count <> 0
             )
             select 'report_intent_counts ' || day || ' ' || office_code || ' ' || status
                    || ': stored ' || coalesce(s.n::text, 'none') || ', intents '
                    || coalesce(t.n::text, 'none')
             from truth t full join stored s using (day, office_code, status)
             where t.n is distinct from s.n
             order by day, office_code, status
             limit 1"
                .to_owned(),
        ),
        (
            "select count(*) from report_paid_latency",
            "with truth as (
                 select (paid_at at time zone 'Asia/Phnom_Penh')::date as day, office_code,
                        report_latency_bucket(extract(epoch from paid_at - created_at))
                            as bucket_seconds,
                        count(*)::bigint as n
                 from payment_intents where status = 'paid' and paid_at is not null
                 group by 1, 2, 3
             ), stored as (
                 select day, office_code, bucket_seconds, count as n from report_paid_latency
                 where count <> 0
             )
             select 'report_paid_latency ' || day || ' ' || office_code || ' ' || bucket_seconds
                    || ': stored ' || coalesce(s.n::text, 'none') || ', intents '
                    || coalesce(t.n::text, 'none')
             from truth t full join stored s using (day, office_code, bucket_seconds)
             where t.n is distinct from s.n
             order by day, office_code, bucket_seconds
             limit 1"
                .to_owned(),
        ),
        (
            "select count(*) from report_daily_revenue",
            format!(
                "with cut as (select next_day from report_rollup_state),
                 truth as (
                     select * from ({}) r
                 ), stored as (
                     select day, office_code, sector, channel, currency::text as currency,
                            amount_minor, payment_count
                     from report_daily_revenue
                 )
                 select 'report_daily_revenue ' || day || ' ' || office_code || ' ' || sector
                        || ' ' || channel || ' ' || currency || ': stored '
                        || coalesce(s.amount_minor || '/' || s.payment_count, 'none')
                        || ', postings '
                        || coalesce(t.amount_minor || '/' || t.payment_count, 'none')
                 from truth t full join stored s using (day, office_code, sector, channel, currency)
                 where (t.amount_minor, t.payment_count)
                       is distinct from (s.amount_minor, s.payment_count)
                 order by day, office_code, sector, channel, currency
                 limit 1",
                REVENUE_FROM_POSTINGS
                    .replace("$1::date", "'-infinity'::date")
                    .replace(
                        "$2::date",
                        "coalesce((select next_day from cut), '-infinity')"
                    )
            ),
        ),
        (
            "select count(*) from report_daily_payments",
            format!(
                "with cut as (select next_day from report_rollup_state),
                 truth as (
                     select * from ({}) r
                 ), stored as (
                     select day, office_code, channel, currency::text as currency, payment_count
                     from report_daily_payments
                 )
                 select 'report_daily_payments ' || day || ' ' || office_code || ' ' || channel
                        || ' ' || currency || ': stored ' || coalesce(s.payment_count::text, 'none')
                        || ', postings ' || coalesce(t.payment_count::text, 'none')
                 from truth t full join stored s using (day, office_code, channel, currency)
                 where t.payment_count is distinct from s.payment_count
                 order by day, office_code, channel, currency
                 limit 1",
                PAYMENTS_FROM_POSTINGS
                    .replace("$1::date", "'-infinity'::date")
                    .replace(
                        "$2::date",
                        "coalesce((select next_day from cut), '-infinity')"
                    )
            ),
        ),
        // The monthly rows, from their daily rows (checked above against their sources).
        (
            "select count(*) from report_monthly_revenue",
            "with truth as (
                 select date_trunc('month', day)::date as month, office_code, sector, channel,
                        currency::text as currency, sum(amount_minor)::bigint as amount_minor,
                        sum(payment_count)::bigint as payment_count
                 from report_daily_revenue
                 where day < coalesce((select next_month from report_rollup_state), '-infinity')
                 group by 1, 2, 3, 4, 5
             ), stored as (
                 select month, office_code, sector, channel, currency::text as currency,
                        amount_minor, payment_count
                 from report_monthly_revenue
             )
             select 'report_monthly_revenue ' || to_char(month, 'YYYY-MM') || ' ' || office_code
                    || ' ' || sector || ' ' || channel || ' ' || currency || ': stored '
                    || coalesce(s.amount_minor || '/' || s.payment_count, 'none')
                    || ', days ' || coalesce(t.amount_minor || '/' || t.payment_count, 'none')
             from truth t full join stored s using (month, office_code, sector, channel, currency)
             where (t.amount_minor, t.payment_count)
                   is distinct from (s.amount_minor, s.payment_count)
             order by month, office_code, sector, channel, currency
             limit 1"
                .to_owned(),
        ),
        (
            "select count(*) from report_monthly_payments",
            "with truth as (
                 select date_trunc('month', day)::date as month, office_code, channel,
                        currency::text as currency, sum(payment_count)::bigint as payment_count
                 from report_daily_payments
                 where day < coalesce((select next_month from report_rollup_state), '-infinity')
                 group by 1, 2, 3, 4
             ), stored as (
                 select month, office_code, channel, currency::text as currency, payment_count
                 from report_monthly_payments
             )
             select 'report_monthly_payments ' || to_char(month, 'YYYY-MM') || ' ' || office_code
                    || ' ' || channel || ' ' || currency || ': stored '
                    || coalesce(s.payment_count::text, 'none')
                    || ', days ' || coalesce(t.payment_count::text, 'none')
             from truth t full join stored s using (month, office_code, channel, currency)
             where t.payment_count is distinct from s.payment_count
             order by month, office_code, channel, currency
             limit 1"
                .to_owned(),
        ),
        (
            "select count(*) from report_monthly_intent_counts",
            "with truth as (
                 select date_trunc('month', day)::date as month, office_code, status,
                        sum(count)::bigint as n
                 from report_intent_counts group by 1, 2, 3 having sum(count) <> 0
             ), stored as (
                 select month, office_code, status, count as n from report_monthly_intent_counts
                 where count <> 0
             )
             select 'report_monthly_intent_counts ' || to_char(month, 'YYYY-MM') || ' '
                    || office_code || ' ' || status || ': stored '
                    || coalesce(s.n::text, 'none') || ', days ' || coalesce(t.n::text, 'none')
             from truth t full join stored s using (month, office_code, status)
             where t.n is distinct from s.n
             order by month, office_code, status
             limit 1"
                .to_owned(),
        ),
        (
            "select count(*) from report_monthly_paid_latency",
            "with truth as (
                 select date_trunc('month', day)::date as month, office_code, bucket_seconds,
                        sum(count)::bigint as n
                 from report_paid_latency group by 1, 2, 3 having sum(count) <> 0
             ), stored as (
                 select month, office_code, bucket_seconds, count as n
                 from report_monthly_paid_latency
                 where count <> 0
             )
             select 'report_monthly_paid_latency ' || to_char(month, 'YYYY-MM') || ' '
                    || office_code || ' ' || bucket_seconds || ': stored '
                    || coalesce(s.n::text, 'none') || ', days ' || coalesce(t.n::text, 'none')
             from truth t full join stored s using (month, office_code, bucket_seconds)
             where t.n is distinct from s.n
             order by month, office_code, bucket_seconds
             limit 1"
                .to_owned(),
        ),
    ];
    for (count_sql, diff_sql) in checks {
        let rows: i64 = sqlx::query_scalar(count_sql).fetch_one(&mut *conn).await?;
        check.rows_checked += rows;
        if check.first_bad.is_none() {
            let bad: Option<String> = sqlx::query_scalar(&diff_sql)
                .fetch_optional(&mut *conn)
                .await?;
            check.first_bad = bad;
        }
    }
    Ok(check)
}

/// Whether a Cambodian day that is over still waits to be rolled up (the report counterpart of
/// `ledger::store::rollup_pending`): `payments ledger catch-up` keeps going until neither is.
pub async fn rollup_pending(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    ledger::store::days_pending(conn, REPORT_DAYS).await
}
