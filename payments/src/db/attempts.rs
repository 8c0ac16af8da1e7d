//! The store of payment attempts (`payment_attempts`): what the API makes and reads, and the
//! sandbox bank's status checks. The KHQR poller's statements are in `db::khqr`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::app::error::AppError;
use crate::app::states::{AttemptStatus, Channel};

/// An attempt as stored.
#[derive(FromRow)]
pub struct AttemptRow {
    pub id: Uuid,
    pub payment_intent_id: Uuid,
    pub office_code: String,
    pub channel: Channel,
    pub status: AttemptStatus,
    pub currency: String,
    pub amount_minor: i64,
    pub provider_reference: String,
    pub checkout_url: Option<String>,
    pub failure_reason: Option<String>,
    pub khqr: Option<String>,
    pub khqr_md5: Option<String>,
    pub bill_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub bank_paid_at: Option<DateTime<Utc>>,
    /// Bakong's short link that opens this KHQR in a bank app, when Bakong gave one.
    pub deeplink: Option<String>,
}

/// The columns of [`AttemptRow`], for the runtime queries of the settlement, whose shape is
/// its own.
pub const ATTEMPT_COLUMNS: &str =
    "id, payment_intent_id, office_code, channel, status, currency, amount_minor, \
    provider_reference, checkout_url, failure_reason, khqr, khqr_md5, bill_number, created_at, expires_at, paid_at, bank_paid_at, deeplink";

/// Reads one attempt.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<AttemptRow>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        AttemptRow,
        r#"select id, payment_intent_id, office_code, channel as "channel: Channel",
               status as "status: AttemptStatus", currency, amount_minor, provider_reference,
               checkout_url, failure_reason, khqr, khqr_md5, bill_number, created_at, expires_at,
               paid_at, bank_paid_at, deeplink
           from payment_attempts where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// One page of an intent's attempts, oldest first, after the (created_at, id) of the last row
/// of the previous page.
pub async fn list_for_intent(
    conn: &mut PgConnection,
    intent_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    rows: i64,
) -> Result<Vec<AttemptRow>, AppError> {
    // language=PostgreSQL
    let rows = sqlx::query_as!(
        AttemptRow,
        r#"select id, payment_intent_id, office_code, channel as "channel: Channel",
               status as "status: AttemptStatus", currency, amount_minor, provider_reference,
               checkout_url, failure_reason, khqr, khqr_md5, bill_number, created_at, expires_at,
               paid_at, bank_paid_at, deeplink
           from payment_attempts
           where payment_intent_id = $1
             and ($2::timestamptz is null or (created_at, id) > ($2, $3))
           order by created_at, id
           limit $4"#,
        intent_id,
        after.map(|(created_at, _)| created_at),
        after.map(|(_, id)| id),
        rows,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The latest `count` attempts of an intent, oldest of them first.
pub async fn latest_for_intent(
    conn: &mut PgConnection,
    intent_id: Uuid,
    count: i64,
) -> Result<Vec<AttemptRow>, AppError> {
    // language=PostgreSQL
    let rows = sqlx::query_as!(
        AttemptRow,
        r#"select id as "id!", payment_intent_id as "payment_intent_id!", office_code as "office_code!",
               channel as "channel!: Channel", status as "status!: AttemptStatus", currency as "currency!",
               amount_minor as "amount_minor!", provider_reference as "provider_reference!",
               checkout_url, failure_reason, khqr, khqr_md5, bill_number, created_at as "created_at!",
               expires_at as "expires_at!", paid_at, bank_paid_at, deeplink
           from (select * from payment_attempts where payment_intent_id = $1
                 order by created_at desc, id desc limit $2) latest
           order by created_at, id"#,
        intent_id,
        count
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// How many attempts an intent has had, whatever became of them.
pub async fn count_for_intent(conn: &mut PgConnection, intent_id: Uuid) -> Result<i64, AppError> {
    // language=PostgreSQL
    let count = sqlx::query_scalar!(
        r#"select count(*) as "count!" from payment_attempts where payment_intent_id = $1"#,
        intent_id
    )
    .fetch_one(conn)
    .await?;
    Ok(count)
}

/// A new attempt through a bank that is called after it is recorded.
pub struct NewBankAttempt<'a> {
    pub id: Uuid,
    pub payment_intent_id: Uuid,
    pub office_code: &'a str,
    pub channel: Channel,
    pub currency: &'a str,
    pub amount_minor: i64,
    pub provider_reference: &'a str,
    pub expires_at: DateTime<Utc>,
    /// When the bank is first asked about it, should no callback settle it.
    pub status_check_after_ms: i64,
}

/// Records a pending attempt before its bank is called.
pub async fn insert_pending(
    conn: &mut PgConnection,
    new: &NewBankAttempt<'_>,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into payment_attempts (id, payment_intent_id, office_code, channel, status, currency, amount_minor,
             provider_reference, expires_at, status_check_at)
         values ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, now() + $9::bigint * interval '1 millisecond')",
        new.id,
        new.payment_intent_id,
        new.office_code,
        new.channel.as_str(),
        new.currency,
        new.amount_minor,
        new.provider_reference,
        new.expires_at,
        new.status_check_after_ms,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records where the bank sends the payer.
pub async fn set_checkout_url(
    conn: &mut PgConnection,
    id: Uuid,
    checkout_url: &str,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts set checkout_url = $2, updated_at = now() where id = $1",
        id,
        checkout_url
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Fails a pending attempt, saying why.
pub async fn mark_failed(conn: &mut PgConnection, id: Uuid, reason: &str) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts set status = 'failed', failure_reason = $2, updated_at = now()
         where id = $1 and status = 'pending'",
        id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves the pending attempts of `intent_ids` to `status` (cancelled or expired).
pub async fn close_pending(
    conn: &mut PgConnection,
    intent_ids: &[Uuid],
    status: AttemptStatus,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts set status = $2, updated_at = now()
         where payment_intent_id = any($1) and status = 'pending'",
        intent_ids,
        status.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the link Bakong gave for opening an attempt's KHQR in a bank app.
pub async fn set_deeplink(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    deeplink: &str,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts set deeplink = $2 where id = $1",
        id,
        deeplink
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// The bank-app link of an attempt, when Bakong gave one.
pub async fn deeplink_of(
    executor: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<String>, AppError> {
    // language=PostgreSQL
    let link = sqlx::query_scalar!("select deeplink from payment_attempts where id = $1", id)
        .fetch_optional(executor)
        .await?;
    Ok(link.flatten())
}

/// The KHQR string of an attempt: `None` for no such attempt, `Some(None)` for one without.
pub async fn khqr_of(
    executor: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<Option<String>>, AppError> {
    // language=PostgreSQL
    let khqr = sqlx::query_scalar!("select khqr from payment_attempts where id = $1", id)
        .fetch_optional(executor)
        .await?;
    Ok(khqr)
}

/// An attempt due for a status check at the sandbox bank.
#[derive(Debug, FromRow)]
pub struct DueCheck {
    pub id: Uuid,
    pub provider_reference: String,
    pub status: AttemptStatus,
    pub expires_at: DateTime<Utc>,
    pub status_checks: i32,
}

/// Leases up to `batch` attempts due for a status check, for `lease_ms`, counting the check.
pub async fn lease_status_checks(
    executor: impl PgExecutor<'_>,
    batch: i64,
    lease_ms: i64,
) -> Result<Vec<DueCheck>, AppError> {
    // language=PostgreSQL
    let due = sqlx::query_as!(
        DueCheck,
        r#"update payment_attempts a
           set status_leased_until = now() + $2::bigint * interval '1 millisecond',
               status_checks = a.status_checks + 1
           where a.id in (
               select id from payment_attempts
               where status_check_at <= now()
                 and (status_leased_until is null or status_leased_until < now())
               order by status_check_at
               limit $1
               for update skip locked)
           returning a.id, a.provider_reference, a.status as "status: AttemptStatus", a.expires_at,
               a.status_checks"#,
        batch,
        lease_ms
    )
    .fetch_all(executor)
    .await?;
    Ok(due)
}

/// Schedules an attempt's next status check `delay_ms` from now; before `final_check` is
/// reached (`past_final` false), never later than it.
pub async fn schedule_status_check(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    delay_ms: i64,
    final_check: DateTime<Utc>,
    past_final: bool,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts
         set status_check_at = case when $4 then now() + $2::bigint * interval '1 millisecond'
                                    else least(now() + $2::bigint * interval '1 millisecond',
                                               greatest(now(), $3)) end,
             status_leased_until = null
         where id = $1",
        id,
        delay_ms,
        final_check,
        past_final
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Ends an attempt's status checks; `expire` also expires it if it is still pending.
pub async fn finish_status_checks(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    expire: bool,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_attempts
         set status_check_at = null, status_leased_until = null,
             status = case when $2 and status = 'pending' then 'expired' else status end,
             updated_at = case when $2 and status = 'pending' then now() else updated_at end
         where id = $1",
        id,
        expire
    )
    .execute(executor)
    .await?;
    Ok(())
}
