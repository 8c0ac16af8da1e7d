//! Quotes: priced lines locked until they expire, and the office a quote is made for.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger::Money;
use sqlx::postgres::types::PgInterval;
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::error::AppError;
use crate::app::quotes::QuoteLine;

/// A quote as stored.
pub struct QuoteRow {
    pub office_code: String,
    pub currency: String,
    pub total_minor: i64,
    pub lines: Json<Vec<QuoteLine>>,
    pub schedule_version: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A quote to store; it expires `ttl` after the database's clock at insert.
pub struct NewQuote<'a> {
    pub id: Uuid,
    pub office_code: &'a str,
    pub total: Money,
    pub lines: &'a [QuoteLine],
    pub schedule_version: &'a str,
    pub created_by: Uuid,
    pub ttl: Duration,
}

/// The province group (`major` or `other`) of the office `code`, if it exists.
pub async fn office_province_group(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        // language=PostgreSQL
        "select province_group from offices where code = $1",
        code,
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Stores a quote: `(created_at, expires_at)`.
pub async fn insert(
    conn: &mut PgConnection,
    quote: NewQuote<'_>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let ttl = PgInterval::try_from(quote.ttl).map_err(AppError::internal)?;
    let row = sqlx::query!(
        // language=PostgreSQL
        "insert into quotes (id, office_code, currency, total_minor, lines, schedule_version, created_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, now() + $8)
         returning created_at, expires_at",
        quote.id,
        quote.office_code,
        quote.total.currency().code(),
        quote.total.amount_minor(),
        Json(quote.lines) as _,
        quote.schedule_version,
        quote.created_by,
        ttl,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.created_at, row.expires_at))
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<QuoteRow>, sqlx::Error> {
    sqlx::query_as!(
        QuoteRow,
        // language=PostgreSQL
        r#"select office_code, currency, total_minor, lines as "lines: Json<Vec<QuoteLine>>",
                  schedule_version, created_at, expires_at
           from quotes where id = $1"#,
        id,
    )
    .fetch_optional(&mut *conn)
    .await
}
