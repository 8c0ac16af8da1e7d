//! The console's office dashboard: open intents and today's payments of one office, each read
//! through its partial index (migration 0017), so the page stays fast at millions of intents.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// One intent awaiting payment, as the dashboard lists it.
pub struct OpenIntentRow {
    pub id: Uuid,
    pub case_reference: String,
    /// The quote's service codes, in line order.
    pub services: Vec<String>,
    pub currency: String,
    pub total_minor: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The office's open intents (awaiting payment, not yet expired at `now`), newest first, at
/// most `limit`.
pub async fn open_intents(
    conn: &mut PgConnection,
    office_code: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OpenIntentRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        OpenIntentRow,
        r#"select i.id, i.case_reference,
                  array(select line->>'service_code' from jsonb_array_elements(q.lines) line) as "services!",
                  i.currency as "currency!", i.total_minor, i.created_at, i.expires_at
           from payment_intents i join quotes q on q.id = i.quote_id
           where i.office_code = $1 and i.status = 'awaiting_payment' and i.expires_at > $2
           order by i.created_at desc
           limit $3"#,
        office_code,
        now,
        limit
    )
    .fetch_all(conn)
    .await
}

/// How many intents of the office await payment and have not expired at `now`.
pub async fn count_open_intents(
    conn: &mut PgConnection,
    office_code: &str,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from payment_intents
           where office_code = $1 and status = 'awaiting_payment' and expires_at > $2"#,
        office_code,
        now
    )
    .fetch_one(conn)
    .await
}

/// Paid intents of one channel and currency in a period.
pub struct PaidRow {
    pub channel: String,
    pub currency: String,
    pub count: i64,
    pub total_minor: i64,
}

/// The office's intents paid in `[from, to)` (by payment time), by channel and currency.
pub async fn paid_between(
    conn: &mut PgConnection,
    office_code: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PaidRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        PaidRow,
        r#"select coalesce(paid_channel, 'unknown') as "channel!", currency as "currency!",
                  count(*) as "count!", sum(amount_paid_minor)::bigint as "total_minor!"
           from payment_intents
           where office_code = $1 and status = 'paid' and paid_at >= $2 and paid_at < $3
           group by 1, 2
           order by 1, 2"#,
        office_code,
        from,
        to
    )
    .fetch_all(conn)
    .await
}

/// An office's names, for the dashboard's heading and its picker.
pub struct OfficeName {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
}

/// The named offices (those that exist), by code.
pub async fn office_names(
    conn: &mut PgConnection,
    codes: &[String],
) -> Result<Vec<OfficeName>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        OfficeName,
        "select code, name_km, name_en from offices where code = any($1) order by code",
        codes
    )
    .fetch_all(conn)
    .await
}

/// Every office, for a person not scoped to offices (auditor, admin).
pub async fn all_office_names(conn: &mut PgConnection) -> Result<Vec<OfficeName>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        OfficeName,
        "select code, name_km, name_en from offices order by code"
    )
    .fetch_all(conn)
    .await
}
