//! What the period-close checklist reads: the office's drawers still open at the month's end
//! and the reconciliation exceptions of the month.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A drawer opened in or before the month and not closed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenDrawer {
    pub id: Uuid,
    pub cashier_name: String,
    pub opened_at: DateTime<Utc>,
}

/// A reconciliation exception whose day falls in the month, with its latest resolution.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MonthException {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub amount: String,
    pub currency: String,
    /// The day it is about: the statement line's or item's date, else the day it was raised
    /// (Cambodian calendar).
    pub day: NaiveDate,
    pub resolution_action: Option<String>,
    pub resolution_reason: Option<String>,
    pub resolved_by: Option<String>,
}

/// Drawers of `office_code` opened before the end of `month` (its first day, Cambodian
/// calendar) that are still open, oldest first.
pub async fn open_drawers(
    conn: &mut PgConnection,
    office_code: &str,
    month: NaiveDate,
) -> Result<Vec<OpenDrawer>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as::<_, OpenDrawer>(
        "select id, cashier_name, opened_at from cashier_sessions
         where office_code = $1 and status = 'open'
           and opened_at < (($2::date + interval '1 month')::timestamp at time zone 'Asia/Phnom_Penh')
         order by opened_at, id",
    )
    .bind(office_code)
    .bind(month)
    .fetch_all(conn)
    .await
}

/// The reconciliation exceptions of `office_code` whose day is in `month`, open ones first.
pub async fn month_exceptions(
    conn: &mut PgConnection,
    office_code: &str,
    month: NaiveDate,
) -> Result<Vec<MonthException>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as::<_, MonthException>(
        "select e.id, e.kind, e.status, e.amount, e.currency, d.day,
                r.action as resolution_action, r.reason as resolution_reason,
                r.created_by_name as resolved_by
         from reconciliation_exceptions e
         cross join lateral (select coalesce(e.business_date,
             (e.created_at at time zone 'Asia/Phnom_Penh')::date) as day) d
         left join lateral (select action, reason, created_by_name from exception_resolutions r
                            where r.exception_id = e.id order by r.created_at desc limit 1) r on true
         where e.office_code = $1 and d.day >= $2::date and d.day < ($2::date + interval '1 month')
         order by e.status = 'open' desc, d.day, e.id",
    )
    .bind(office_code)
    .bind(month)
    .fetch_all(conn)
    .await
}

/// Whether the month (its first day) is over in Cambodia.
pub async fn month_is_over(conn: &mut PgConnection, month: NaiveDate) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar(
        "select (($1::date + interval '1 month')::timestamp at time zone 'Asia/Phnom_Penh') <= now()",
    )
    .bind(month)
    .fetch_one(conn)
    .await
}

/// Offices by code (for the national person's office picker).
pub async fn office_codes(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as("select code, name_km, name_en from offices order by code")
        .fetch_all(conn)
        .await
}
