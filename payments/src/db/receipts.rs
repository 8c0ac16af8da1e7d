//! The store of receipt numbering: the queue of paid payments awaiting their number, and the
//! gapless counters per office and fiscal year.

use chrono::{DateTime, Utc};
use sqlx::postgres::types::PgInterval;
use sqlx::PgExecutor;
use uuid::Uuid;

/// A paid payment still without its receipt number: staged in receipt_queue, or in hand in a
/// settled group's transaction.
pub struct Unnumbered {
    pub payment_intent_id: Uuid,
    pub fiscal_year: i32,
    pub case_reference: String,
    pub total_minor: i64,
    pub currency: String,
    pub channel: String,
    pub paid_at: DateTime<Utc>,
}

/// A staged payment with its queue id.
pub struct Queued {
    pub id: i64,
    pub payment: Unnumbered,
}

/// Locks up to `batch` payments staged for `office`, in staging order. `for update` (not
/// `skip locked`): waiting here is what makes concurrent payments of one office share a
/// numbering transaction; rows another numbering took are gone when the wait ends and are
/// skipped.
pub async fn lock_queued(
    conn: impl PgExecutor<'_>,
    office: &str,
    batch: i64,
) -> Result<Vec<Queued>, sqlx::Error> {
    // language=PostgreSQL
    let rows = sqlx::query!(
        "select id, payment_intent_id, fiscal_year, case_reference, total_minor, currency, channel, paid_at
         from receipt_queue where office_code = $1 order by id limit $2 for update",
        office,
        batch,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Queued {
            id: row.id,
            payment: Unnumbered {
                payment_intent_id: row.payment_intent_id,
                fiscal_year: row.fiscal_year,
                case_reference: row.case_reference,
                total_minor: row.total_minor,
                currency: row.currency,
                channel: row.channel,
                paid_at: row.paid_at,
            },
        })
        .collect())
}

pub async fn delete_queued(conn: impl PgExecutor<'_>, ids: &[i64]) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!("delete from receipt_queue where id = any($1)", ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves the counter of (`office`, `year`) on by `count`; returns its new last number.
pub async fn advance_counter(
    conn: impl PgExecutor<'_>,
    office: &str,
    year: i32,
    count: i64,
) -> Result<i64, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "insert into receipt_counters (office_code, fiscal_year, last_number) values ($1, $2, $3)
         on conflict (office_code, fiscal_year) do update set last_number = receipt_counters.last_number + $3
         returning last_number",
        office,
        year,
        count,
    )
    .fetch_one(conn)
    .await
}

/// Gives each intent its receipt number (one not yet numbered).
pub async fn set_numbers(
    conn: impl PgExecutor<'_>,
    intent_ids: &[Uuid],
    numbers: &[String],
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_intents i set receipt_number = n.receipt_number, updated_at = now()
         from unnest($1::uuid[], $2::text[]) as n (id, receipt_number)
         where i.id = n.id and i.receipt_number is null",
        intent_ids,
        numbers,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The offices with payments staged before `older_than` ago.
pub async fn offices_with_stragglers(
    conn: impl PgExecutor<'_>,
    older_than: PgInterval,
) -> Result<Vec<String>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        r#"select distinct office_code as "office_code!" from receipt_queue where queued_at < now() - $1::interval"#,
        older_than,
    )
    .fetch_all(conn)
    .await
}
