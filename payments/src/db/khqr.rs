//! The store of the KHQR channel: an office's Bakong account, KHQR attempts, and the
//! poller's leases and schedule on `payment_attempts`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::app::error::AppError;

/// An office's Bakong account, as far as it is set up.
#[derive(FromRow)]
pub struct OfficeBakong {
    pub bakong_account_id: Option<String>,
    pub bakong_merchant_id: Option<String>,
    pub bakong_acquiring_bank: Option<String>,
    pub merchant_name: Option<String>,
    pub merchant_name_km: Option<String>,
    pub merchant_city: Option<String>,
}

/// The Bakong account of an office.
pub async fn office_bakong(
    conn: &mut PgConnection,
    office_code: &str,
) -> Result<OfficeBakong, AppError> {
    // language=PostgreSQL
    let office = sqlx::query_as!(
        OfficeBakong,
        "select bakong_account_id, bakong_merchant_id, bakong_acquiring_bank, merchant_name,
             merchant_name_km, merchant_city
         from offices where code = $1",
        office_code
    )
    .fetch_one(conn)
    .await?;
    Ok(office)
}

/// The Bakong account id payments to an office must reach.
pub async fn office_account_id(
    executor: impl PgExecutor<'_>,
    office_code: &str,
) -> Result<Option<String>, AppError> {
    // language=PostgreSQL
    let account = sqlx::query_scalar!(
        "select bakong_account_id from offices where code = $1",
        office_code
    )
    .fetch_one(executor)
    .await?;
    Ok(account)
}

/// A KHQR attempt, its QR made.
pub struct NewKhqrRow<'a> {
    pub id: Uuid,
    pub payment_intent_id: Uuid,
    pub office_code: &'a str,
    pub currency: &'a str,
    pub amount_minor: i64,
    pub provider_reference: &'a str,
    pub expires_at: DateTime<Utc>,
    pub khqr: &'a str,
    pub khqr_md5: &'a str,
    pub bill_number: &'a str,
}

/// Records a KHQR attempt, its polling active and first due in two seconds.
pub async fn insert_attempt(conn: &mut PgConnection, new: &NewKhqrRow<'_>) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into payment_attempts (id, payment_intent_id, office_code, channel, status, currency, amount_minor,
             provider_reference, expires_at, khqr, khqr_md5, bill_number, poll_state, next_check_at)
         values ($1, $2, $3, 'khqr', 'pending', $4, $5, $6, $7, $8, $9, $10, 'active', now() + interval '2 seconds')",
        new.id,
        new.payment_intent_id,
        new.office_code,
        new.currency,
        new.amount_minor,
        new.provider_reference,
        new.expires_at,
        new.khqr,
        new.khqr_md5,
        new.bill_number,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An attempt the poller has leased.
#[derive(Clone, Debug, FromRow)]
pub struct DueAttempt {
    pub id: Uuid,
    pub office_code: String,
    pub provider_reference: String,
    pub khqr_md5: String,
    pub expires_at: DateTime<Utc>,
    pub check_count: i32,
}

/// Leases up to `batch` attempts due for a poll, for `lease_s`, counting the check.
pub async fn lease_due(
    executor: impl PgExecutor<'_>,
    batch: i64,
    lease_s: i32,
) -> Result<Vec<DueAttempt>, AppError> {
    // language=PostgreSQL
    let due = sqlx::query_as!(
        DueAttempt,
        r#"update payment_attempts a
           set poll_leased_until = now() + $2::int * interval '1 second', check_count = a.check_count + 1,
               last_checked_at = now()
           where a.id in (
               select id from payment_attempts
               where poll_state = 'active' and next_check_at <= now()
                 and (poll_leased_until is null or poll_leased_until < now())
               order by next_check_at
               limit $1
               for update skip locked)
           returning a.id, a.office_code, a.provider_reference, a.khqr_md5 as "khqr_md5!", a.expires_at,
               a.check_count"#,
        batch,
        lease_s
    )
    .fetch_all(executor)
    .await?;
    Ok(due)
}

/// Hands leases back. Attempts are locked in id order and alone (never with their intent), so
/// this cannot deadlock with a settlement, which locks an intent before its attempts.
pub async fn release(executor: impl PgExecutor<'_>, ids: &[Uuid]) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts set poll_leased_until = null
         where id in (select id from payment_attempts where id = any($1) order by id for update)",
        ids
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Ends an attempt's polling; `expire` also expires it if it is still pending.
pub async fn finish_polling(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    expire: bool,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts set poll_state = 'done', poll_leased_until = null,
             status = case when $2 and status = 'pending' then 'expired' else status end,
             updated_at = case when $2 then now() else updated_at end
         where id = $1",
        id,
        expire
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Schedules an attempt's next poll `delay_ms` from now, never past its expiry plus
/// `grace_s` (the final check).
pub async fn schedule_poll(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    delay_ms: i64,
    grace_s: i64,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts
         set next_check_at = least(now() + $2::bigint * interval '1 millisecond',
                                   expires_at + $3::bigint * interval '1 second'),
             poll_leased_until = null
         where id = $1",
        id,
        delay_ms,
        grace_s
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Schedules an attempt's next poll `delay_ms` from now, even past its final check.
pub async fn schedule_poll_unbounded(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    delay_ms: i64,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts
         set next_check_at = now() + $2::bigint * interval '1 millisecond', poll_leased_until = null
         where id = $1",
        id,
        delay_ms
    )
    .execute(executor)
    .await?;
    Ok(())
}
