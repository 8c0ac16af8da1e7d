//! The store of payment intents (`payment_intents`, read with their quote's lines).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::app::error::AppError;
use crate::app::quotes::QuoteLine;
use crate::app::states::IntentStatus;

/// An intent as stored, with its quote's lines.
#[derive(FromRow)]
pub struct IntentRow {
    pub id: Uuid,
    pub status: IntentStatus,
    pub case_reference: String,
    pub office_code: String,
    pub quote_id: Uuid,
    pub currency: String,
    pub total_minor: i64,
    pub amount_paid_minor: i64,
    pub amount_refunded_minor: i64,
    /// SHA-256 of the pay token: links are looked up by it.
    pub pay_token_hash: Vec<u8>,
    /// The token sealed with `SECRETS_KEY` (app::secrets), to show the link again.
    pub pay_token_sealed: Option<String>,
    pub receipt_number: Option<String>,
    pub paid_channel: Option<String>,
    pub lines: Json<Vec<QuoteLine>>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub bank_paid_at: Option<DateTime<Utc>>,
}

/// The columns of [`IntentRow`] (`i` the intent, `q` its quote), for the runtime queries of
/// the settlement batch, whose shape is its own.
pub const INTENT_COLUMNS: &str = "i.id, i.status, i.case_reference, i.office_code, i.quote_id, i.currency, \
    i.total_minor, i.amount_paid_minor, i.amount_refunded_minor, i.pay_token_hash, i.pay_token_sealed, i.receipt_number, i.paid_channel, \
    q.lines, i.expires_at, i.created_at, i.paid_at, i.cancelled_at, i.bank_paid_at";

/// Reads one intent.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<IntentRow>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        IntentRow,
        r#"select i.id, i.status as "status: IntentStatus", i.case_reference, i.office_code, i.quote_id,
               i.currency, i.total_minor, i.amount_paid_minor, i.amount_refunded_minor, i.pay_token_hash,
               i.pay_token_sealed, i.receipt_number, i.paid_channel, q.lines as "lines!: Json<Vec<QuoteLine>>",
               i.expires_at, i.created_at, i.paid_at, i.cancelled_at, i.bank_paid_at
           from payment_intents i join quotes q on q.id = i.quote_id where i.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// Reads one intent and locks it for the rest of the caller's transaction.
pub async fn find_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<IntentRow>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        IntentRow,
        r#"select i.id, i.status as "status: IntentStatus", i.case_reference, i.office_code, i.quote_id,
               i.currency, i.total_minor, i.amount_paid_minor, i.amount_refunded_minor, i.pay_token_hash,
               i.pay_token_sealed, i.receipt_number, i.paid_channel, q.lines as "lines!: Json<Vec<QuoteLine>>",
               i.expires_at, i.created_at, i.paid_at, i.cancelled_at, i.bank_paid_at
           from payment_intents i join quotes q on q.id = i.quote_id where i.id = $1
           for update of i"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// Reads the intent a payment link's token hashes to.
pub async fn find_by_token_hash(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<IntentRow>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        IntentRow,
        r#"select i.id, i.status as "status: IntentStatus", i.case_reference, i.office_code, i.quote_id,
               i.currency, i.total_minor, i.amount_paid_minor, i.amount_refunded_minor, i.pay_token_hash,
               i.pay_token_sealed, i.receipt_number, i.paid_channel, q.lines as "lines!: Json<Vec<QuoteLine>>",
               i.expires_at, i.created_at, i.paid_at, i.cancelled_at, i.bank_paid_at
           from payment_intents i join quotes q on q.id = i.quote_id where i.pay_token_hash = $1"#,
        token_hash
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// The filters of the intents list; `None` filters nothing.
pub struct IntentFilter<'a> {
    /// The offices the caller sees (`None`: every office).
    pub offices: Option<&'a [String]>,
    pub office_code: Option<&'a str>,
    pub status: Option<IntentStatus>,
    pub case_reference: Option<&'a str>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The (created_at, id) of the last row of the previous page.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    /// Rows to read (the page size plus one, which says whether more exist).
    pub rows: i64,
}

/// One page of intents, newest first.
pub async fn list(
    executor: impl PgExecutor<'_>,
    filter: &IntentFilter<'_>,
) -> Result<Vec<IntentRow>, AppError> {
    // language=PostgreSQL
    let rows = sqlx::query_as!(
        IntentRow,
        r#"select i.id, i.status as "status: IntentStatus", i.case_reference, i.office_code, i.quote_id,
               i.currency, i.total_minor, i.amount_paid_minor, i.amount_refunded_minor, i.pay_token_hash,
               i.pay_token_sealed, i.receipt_number, i.paid_channel, q.lines as "lines!: Json<Vec<QuoteLine>>",
               i.expires_at, i.created_at, i.paid_at, i.cancelled_at, i.bank_paid_at
           from payment_intents i join quotes q on q.id = i.quote_id
           where ($1::text[] is null or i.office_code = any($1))
             and ($2::text is null or i.office_code = $2)
             and ($3::text is null or i.status = $3)
             and ($4::text is null or i.case_reference = $4)
             and ($5::timestamptz is null or i.created_at >= $5)
             and ($6::timestamptz is null or i.created_at < $6)
             and ($7::timestamptz is null or (i.created_at, i.id) < ($7, $8))
           order by i.created_at desc, i.id desc
           limit $9"#,
        filter.offices,
        filter.office_code,
        filter.status.map(IntentStatus::as_str),
        filter.case_reference,
        filter.from,
        filter.to,
        filter.after.map(|(created_at, _)| created_at),
        filter.after.map(|(_, id)| id),
        filter.rows,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows)
}

/// What an intent takes from its quote.
pub struct QuoteTerms {
    pub office_code: String,
    pub currency: String,
    pub total_minor: i64,
    pub expired: bool,
}

/// The terms of the quote an intent is made from.
pub async fn quote_terms(
    conn: &mut PgConnection,
    quote_id: Uuid,
) -> Result<Option<QuoteTerms>, AppError> {
    // language=PostgreSQL
    let terms = sqlx::query_as!(
        QuoteTerms,
        r#"select office_code, currency, total_minor, expires_at <= now() as "expired!"
           from quotes where id = $1"#,
        quote_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(terms)
}

/// The latest paid intent of a case, if any.
pub async fn latest_paid(
    conn: &mut PgConnection,
    office_code: &str,
    case_reference: &str,
) -> Result<Option<Uuid>, AppError> {
    // language=PostgreSQL
    let id = sqlx::query_scalar!(
        "select id from payment_intents
         where office_code = $1 and case_reference = $2 and status = 'paid'
         order by paid_at desc, id desc limit 1",
        office_code,
        case_reference
    )
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// The open intent of a case (awaiting payment), if any.
pub async fn open_for_case(
    conn: &mut PgConnection,
    office_code: &str,
    case_reference: &str,
) -> Result<Option<Uuid>, AppError> {
    // language=PostgreSQL
    let id = sqlx::query_scalar!(
        "select id from payment_intents
         where office_code = $1 and case_reference = $2 and status = 'awaiting_payment'
         order by created_at desc, id desc limit 1",
        office_code,
        case_reference
    )
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// A new intent, awaiting payment.
pub struct NewIntent<'a> {
    pub id: Uuid,
    pub office_code: &'a str,
    pub quote_id: Uuid,
    pub case_reference: &'a str,
    pub payer: &'a serde_json::Value,
    pub return_url: Option<&'a str>,
    pub currency: &'a str,
    pub total_minor: i64,
    pub pay_token_hash: &'a [u8],
    pub pay_token_sealed: &'a str,
    pub created_by: Uuid,
    pub ttl_s: i64,
}

/// Inserts an intent; false when the case already has one awaiting payment.
///
/// At most one intent awaits payment per case, enforced by a partial unique index (migration
/// 0009): a concurrent creation for the same case waits here for the other transaction and,
/// once that one commits, inserts nothing.
pub async fn insert(conn: &mut PgConnection, new: &NewIntent<'_>) -> Result<bool, AppError> {
    // language=PostgreSQL
    let inserted = sqlx::query!(
        "insert into payment_intents (id, office_code, quote_id, case_reference, payer, return_url, status, currency,
             total_minor, pay_token_hash, pay_token_sealed, created_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, 'awaiting_payment', $7, $8, $9, $10, $11, now() + $12::bigint * interval '1 second')
         on conflict (office_code, case_reference)
             where status = 'awaiting_payment' and not exempt_from_open_case_limit
             do nothing",
        new.id,
        new.office_code,
        new.quote_id,
        new.case_reference,
        new.payer,
        new.return_url,
        new.currency,
        new.total_minor,
        new.pay_token_hash,
        new.pay_token_sealed,
        new.created_by,
        new.ttl_s,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// What closing an intent needs of it.
#[derive(Debug, FromRow)]
pub struct ClosingIntent {
    pub id: Uuid,
    pub office_code: String,
    pub case_reference: String,
    pub currency: String,
    pub total_minor: i64,
}

/// Moves intents to `status` (cancelled or expired), stamping `cancelled_at` on a cancel.
pub async fn set_closed(
    conn: &mut PgConnection,
    ids: &[Uuid],
    status: IntentStatus,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_intents set status = $2, updated_at = now(),
             cancelled_at = case when $2 = 'cancelled' then now() else cancelled_at end
         where id = any($1)",
        ids,
        status.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks and returns up to `batch` intents awaiting payment whose time is up, skipping those
/// another transaction holds.
pub async fn lock_expired(
    conn: &mut PgConnection,
    batch: i64,
    grace_ms: i64,
) -> Result<Vec<ClosingIntent>, AppError> {
    // language=PostgreSQL
    let rows = sqlx::query_as!(
        ClosingIntent,
        "select i.id, i.office_code, i.case_reference, i.currency, i.total_minor
         from payment_intents i
         where i.status = 'awaiting_payment' and i.expires_at < now()
           -- Bakong is asked once more about a QR before its intent may expire, but no longer
           -- than the grace period after the intent's expiry: a poller that cannot reach
           -- Bakong (or is stuck) must not keep intents open for ever. A payment found later
           -- still goes to suspense.
           and (i.expires_at + $2::bigint * interval '1 millisecond' < now()
                or not exists (select 1 from payment_attempts a
                               where a.payment_intent_id = i.id and a.poll_state = 'active'))
         order by i.expires_at limit $1 for update of i skip locked",
        batch,
        grace_ms
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// An office's names, for the citizen's page.
pub async fn office_names(
    conn: &mut PgConnection,
    office_code: &str,
) -> Result<(String, String), AppError> {
    // language=PostgreSQL
    let row = sqlx::query!(
        "select name_km, name_en from offices where code = $1",
        office_code
    )
    .fetch_one(conn)
    .await?;
    Ok((row.name_km, row.name_en))
}
