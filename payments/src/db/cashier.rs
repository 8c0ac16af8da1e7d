//! The store of the cashier's drawer: drawers (`cashier_sessions`), cash receipts and their
//! voids, deposits, and what the counter looks intents up by.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::error::AppError;
use crate::app::quotes::QuoteLine;
use crate::app::states::IntentStatus;

/// A drawer as stored.
pub struct SessionRow {
    pub id: Uuid,
    pub office_code: String,
    pub cashier_user_id: Option<Uuid>,
    pub cashier_key_id: Option<Uuid>,
    pub cashier_name: String,
    pub status: String,
    pub float_khr_minor: i64,
    pub float_usd_minor: i64,
    pub float_denominations: Value,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub expected_khr_minor: Option<i64>,
    pub expected_usd_minor: Option<i64>,
    pub counted_khr_minor: Option<i64>,
    pub counted_usd_minor: Option<i64>,
    pub variance_khr_minor: Option<i64>,
    pub variance_usd_minor: Option<i64>,
    pub counted_denominations: Option<Value>,
    pub variance_approver_name: Option<String>,
    pub variance_entry_ids: Vec<i64>,
}

/// A drawer to open.
pub struct NewSession<'a> {
    pub id: Uuid,
    pub office_code: &'a str,
    pub cashier_user_id: Option<Uuid>,
    pub cashier_key_id: Option<Uuid>,
    pub cashier_name: &'a str,
    pub float_khr_minor: i64,
    pub float_usd_minor: i64,
    pub float_denominations: Value,
}

/// Opens a drawer; false when the cashier has an open drawer at this office already (the
/// partial unique index, so two clicks cannot open two).
pub async fn insert_session(
    conn: &mut PgConnection,
    new: &NewSession<'_>,
) -> Result<bool, AppError> {
    // language=PostgreSQL
    let inserted = sqlx::query!(
        "insert into cashier_sessions (id, office_code, cashier_user_id, cashier_key_id, cashier_name, status,
             float_khr_minor, float_usd_minor, float_denominations)
         values ($1, $2, $3, $4, $5, 'open', $6, $7, $8)
         on conflict do nothing",
        new.id,
        new.office_code,
        new.cashier_user_id,
        new.cashier_key_id,
        new.cashier_name,
        new.float_khr_minor,
        new.float_usd_minor,
        new.float_denominations,
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// One drawer, optionally locked for the rest of the transaction.
pub async fn session(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<SessionRow>, AppError> {
    // One statement for both: `for update` only when asked, so a read never waits on a close.
    // language=PostgreSQL
    let row = if lock {
        sqlx::query_as!(
            SessionRow,
            "select id, office_code, cashier_user_id, cashier_key_id, cashier_name, status, float_khr_minor,
                 float_usd_minor, float_denominations, opened_at, closed_at, expected_khr_minor, expected_usd_minor,
                 counted_khr_minor, counted_usd_minor, variance_khr_minor, variance_usd_minor, counted_denominations,
                 variance_approver_name, variance_entry_ids
             from cashier_sessions where id = $1 for update",
            id
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            SessionRow,
            "select id, office_code, cashier_user_id, cashier_key_id, cashier_name, status, float_khr_minor,
                 float_usd_minor, float_denominations, opened_at, closed_at, expected_khr_minor, expected_usd_minor,
                 counted_khr_minor, counted_usd_minor, variance_khr_minor, variance_usd_minor, counted_denominations,
                 variance_approver_name, variance_entry_ids
             from cashier_sessions where id = $1",
            id
        )
        .fetch_optional(conn)
        .await?
    };
    Ok(row)
}

/// The drawers a list shows, newest first: in `offices` (`None`: all), of one office, one
/// status, one cashier (`None`: anyone's).
pub struct SessionFilter<'a> {
    pub offices: Option<&'a [String]>,
    pub office_code: Option<&'a str>,
    pub status: Option<&'a str>,
    pub cashier: Option<Uuid>,
    pub rows: i64,
}

pub async fn list_sessions(
    conn: &mut PgConnection,
    filter: &SessionFilter<'_>,
) -> Result<Vec<SessionRow>, AppError> {
    // language=PostgreSQL
    let rows = sqlx::query_as!(
        SessionRow,
        "select id, office_code, cashier_user_id, cashier_key_id, cashier_name, status, float_khr_minor,
             float_usd_minor, float_denominations, opened_at, closed_at, expected_khr_minor, expected_usd_minor,
             counted_khr_minor, counted_usd_minor, variance_khr_minor, variance_usd_minor, counted_denominations,
             variance_approver_name, variance_entry_ids
         from cashier_sessions
         where ($1::text[] is null or office_code = any($1))
           and ($2::text is null or office_code = $2)
           and ($3::text is null or status = $3)
           and ($4::uuid is null or coalesce(cashier_user_id, cashier_key_id) = $4)
         order by opened_at desc, id desc
         limit $5",
        filter.offices,
        filter.office_code,
        filter.status,
        filter.cashier,
        filter.rows,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// What a drawer took, gave back and sent to the bank, per currency, in minor units.
pub struct SessionTotals {
    pub receipts_khr: i64,
    pub receipts_usd: i64,
    pub voided_khr: i64,
    pub voided_usd: i64,
    pub deposited_khr: i64,
    pub deposited_usd: i64,
}

pub async fn session_totals(conn: &mut PgConnection, id: Uuid) -> Result<SessionTotals, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        SessionTotals,
        r#"select
             coalesce((select sum(amount_minor) from cash_receipts where session_id = $1 and currency = 'KHR'), 0)::bigint as "receipts_khr!",
             coalesce((select sum(amount_minor) from cash_receipts where session_id = $1 and currency = 'USD'), 0)::bigint as "receipts_usd!",
             coalesce((select sum(amount_minor) from cash_receipts where session_id = $1 and currency = 'KHR' and voided_at is not null), 0)::bigint as "voided_khr!",
             coalesce((select sum(amount_minor) from cash_receipts where session_id = $1 and currency = 'USD' and voided_at is not null), 0)::bigint as "voided_usd!",
             coalesce((select sum(amount_minor) from cash_deposits where session_id = $1 and currency = 'KHR'), 0)::bigint as "deposited_khr!",
             coalesce((select sum(amount_minor) from cash_deposits where session_id = $1 and currency = 'USD'), 0)::bigint as "deposited_usd!""#,
        id
    )
    .fetch_one(conn)
    .await?;
    Ok(row)
}

/// What closing writes.
pub struct CloseWrite<'a> {
    pub id: Uuid,
    pub expected_khr_minor: i64,
    pub expected_usd_minor: i64,
    pub counted_khr_minor: i64,
    pub counted_usd_minor: i64,
    pub variance_khr_minor: i64,
    pub variance_usd_minor: i64,
    pub counted_denominations: Value,
    pub approver_user_id: Option<Uuid>,
    pub approver_key_id: Option<Uuid>,
    pub approver_name: Option<&'a str>,
    pub variance_entry_ids: &'a [i64],
}

pub async fn close_session(
    conn: &mut PgConnection,
    close: &CloseWrite<'_>,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update cashier_sessions set status = 'closed', closed_at = now(),
             expected_khr_minor = $2, expected_usd_minor = $3, counted_khr_minor = $4, counted_usd_minor = $5,
             variance_khr_minor = $6, variance_usd_minor = $7, counted_denominations = $8,
             variance_approver_user_id = $9, variance_approver_key_id = $10, variance_approver_name = $11,
             variance_entry_ids = $12
         where id = $1 and status = 'open'",
        close.id,
        close.expected_khr_minor,
        close.expected_usd_minor,
        close.counted_khr_minor,
        close.counted_usd_minor,
        close.variance_khr_minor,
        close.variance_usd_minor,
        close.counted_denominations,
        close.approver_user_id,
        close.approver_key_id,
        close.approver_name,
        close.variance_entry_ids,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the pending cash attempt a receipt settles (no bank is asked about it: no status
/// check is scheduled).
pub async fn insert_cash_attempt(
    conn: &mut PgConnection,
    id: Uuid,
    intent_id: Uuid,
    office_code: &str,
    currency: &str,
    amount_minor: i64,
    reference: &str,
) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into payment_attempts (id, payment_intent_id, office_code, channel, status, currency, amount_minor,
             provider_reference, expires_at)
         values ($1, $2, $3, 'cash', 'pending', $4, $5, $6, now() + interval '1 hour')",
        id,
        intent_id,
        office_code,
        currency,
        amount_minor,
        reference,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A cash payment to record.
pub struct NewReceipt<'a> {
    pub id: Uuid,
    pub session_id: Uuid,
    pub office_code: &'a str,
    pub payment_intent_id: Uuid,
    pub payment_attempt_id: Uuid,
    pub ledger_entry_id: i64,
    pub currency: &'a str,
    pub amount_minor: i64,
    pub tendered_minor: i64,
    pub change_minor: i64,
    pub cashier_user_id: Option<Uuid>,
    pub cashier_key_id: Option<Uuid>,
    pub cashier_name: &'a str,
}

pub async fn insert_receipt(conn: &mut PgConnection, new: &NewReceipt<'_>) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into cash_receipts (id, session_id, office_code, payment_intent_id, payment_attempt_id,
             ledger_entry_id, currency, amount_minor, tendered_minor, change_minor, cashier_user_id,
             cashier_key_id, cashier_name)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        new.id,
        new.session_id,
        new.office_code,
        new.payment_intent_id,
        new.payment_attempt_id,
        new.ledger_entry_id,
        new.currency,
        new.amount_minor,
        new.tendered_minor,
        new.change_minor,
        new.cashier_user_id,
        new.cashier_key_id,
        new.cashier_name,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A cash receipt with its number and what it paid for. The number is the intent's while the
/// receipt stands, the copy on the receipt once voided (`cash_receipts.receipt_number`).
pub struct ReceiptLine {
    pub id: Uuid,
    pub session_id: Uuid,
    pub office_code: String,
    pub number: Option<String>,
    pub payment_intent_id: Uuid,
    pub payment_attempt_id: Uuid,
    pub case_reference: String,
    pub currency: String,
    pub amount_minor: i64,
    pub tendered_minor: i64,
    pub change_minor: i64,
    pub cashier_user_id: Option<Uuid>,
    pub cashier_key_id: Option<Uuid>,
    pub cashier_name: String,
    pub created_at: DateTime<Utc>,
    pub ledger_entry_id: i64,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    pub void_approver_name: Option<String>,
    pub void_then: Option<String>,
    pub reversal_entry_id: Option<i64>,
    pub lines: Json<Vec<QuoteLine>>,
}

/// The receipts of a drawer, oldest first.
pub async fn receipts_of_session(
    conn: &mut PgConnection,
    session_id: Uuid,
) -> Result<Vec<ReceiptLine>, AppError> {
    // language=PostgreSQL
    let rows = sqlx::query_as!(
        ReceiptLine,
        r#"select r.id, r.session_id, r.office_code,
               coalesce(r.receipt_number, case when r.voided_at is null then i.receipt_number end) as number,
               r.payment_intent_id, r.payment_attempt_id, i.case_reference, r.currency as "currency!", r.amount_minor, r.tendered_minor,
               r.change_minor, r.cashier_user_id, r.cashier_key_id, r.cashier_name, r.created_at, r.ledger_entry_id,
               r.voided_at, r.void_reason, r.void_approver_name, r.void_then, r.reversal_entry_id,
               q.lines as "lines!: Json<Vec<QuoteLine>>"
           from cash_receipts r
           join payment_intents i on i.id = r.payment_intent_id
           join quotes q on q.id = i.quote_id
           where r.session_id = $1
           order by r.created_at, r.id"#,
        session_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// One cash receipt by its id.
pub async fn receipt(conn: &mut PgConnection, id: Uuid) -> Result<Option<ReceiptLine>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        ReceiptLine,
        r#"select r.id, r.session_id, r.office_code,
               coalesce(r.receipt_number, case when r.voided_at is null then i.receipt_number end) as number,
               r.payment_intent_id, r.payment_attempt_id, i.case_reference, r.currency as "currency!", r.amount_minor, r.tendered_minor,
               r.change_minor, r.cashier_user_id, r.cashier_key_id, r.cashier_name, r.created_at, r.ledger_entry_id,
               r.voided_at, r.void_reason, r.void_approver_name, r.void_then, r.reversal_entry_id,
               q.lines as "lines!: Json<Vec<QuoteLine>>"
           from cash_receipts r
           join payment_intents i on i.id = r.payment_intent_id
           join quotes q on q.id = i.quote_id
           where r.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// Where a receipt number stands: the intent that holds it now (paid, with its channel), or a
/// voided cash receipt that kept it.
pub struct NumberHolder {
    pub payment_intent_id: Uuid,
    pub office_code: String,
    pub paid_channel: Option<String>,
    /// The standing cash receipt of the paid intent (none for an online payment).
    pub cash_receipt_id: Option<Uuid>,
    pub voided: bool,
}

pub async fn number_holder(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<NumberHolder>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        NumberHolder,
        r#"select i.id as "payment_intent_id!", i.office_code as "office_code!", i.paid_channel,
               (select r.id from cash_receipts r where r.payment_intent_id = i.id and r.voided_at is null
                order by r.created_at desc limit 1) as cash_receipt_id,
               false as "voided!"
           from payment_intents i where i.receipt_number = $1 and i.status = 'paid'
           union all
           select r.payment_intent_id, r.office_code, 'cash', r.id, true
           from cash_receipts r where r.receipt_number = $1"#,
        number
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// The cash receipt, locked (its intent is locked first: lock order as in app::settlement).
pub async fn lock_receipt(conn: &mut PgConnection, id: Uuid) -> Result<bool, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_scalar!(
        "select voided_at is null as \"standing!\" from cash_receipts where id = $1 for update",
        id
    )
    .fetch_one(conn)
    .await?;
    Ok(row)
}

/// What a void writes on the receipt.
pub struct VoidWrite<'a> {
    pub id: Uuid,
    pub receipt_number: &'a str,
    pub reason: &'a str,
    pub requested_by_user_id: Option<Uuid>,
    pub requested_by_key_id: Option<Uuid>,
    pub approver_user_id: Option<Uuid>,
    pub approver_key_id: Option<Uuid>,
    pub approver_name: &'a str,
    pub reversal_entry_id: i64,
    pub then: &'a str,
}

pub async fn void_receipt(conn: &mut PgConnection, void: &VoidWrite<'_>) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "update cash_receipts set receipt_number = $2, voided_at = now(), void_reason = $3,
             void_requested_by_user_id = $4, void_requested_by_key_id = $5, void_approver_user_id = $6,
             void_approver_key_id = $7, void_approver_name = $8, reversal_entry_id = $9, void_then = $10
         where id = $1 and voided_at is null",
        void.id,
        void.receipt_number,
        void.reason,
        void.requested_by_user_id,
        void.requested_by_key_id,
        void.approver_user_id,
        void.approver_key_id,
        void.approver_name,
        void.reversal_entry_id,
        void.then,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A voided payment's intent awaits payment again: its paid fields cleared (the number
/// stays on the voided receipt), its cash attempt cancelled, a fresh expiry when its own has
/// passed. False when the case has another intent awaiting payment (one open per case).
pub async fn reopen_intent(
    conn: &mut PgConnection,
    intent_id: Uuid,
    attempt_id: Uuid,
) -> Result<bool, AppError> {
    // language=PostgreSQL
    let reopened = sqlx::query_scalar!(
        "with reopened as (
             update payment_intents set status = 'awaiting_payment', paid_at = null, bank_paid_at = null,
                 paid_channel = null, receipt_number = null, amount_paid_minor = 0, updated_at = now(),
                 expires_at = greatest(expires_at, now() + interval '1 day')
             where id = $1 and status = 'paid'
               and not exists (select 1 from payment_intents o
                               where o.office_code = payment_intents.office_code
                                 and o.case_reference = payment_intents.case_reference
                                 and o.status = 'awaiting_payment' and o.id <> $1)
             returning id
         ),
         attempt as (
             update payment_attempts set status = 'cancelled', failure_reason = 'voided', updated_at = now()
             where id = $2 and exists (select 1 from reopened)
             returning 1
         )
         select count(*) as \"count!\" from reopened",
        intent_id,
        attempt_id,
    )
    .fetch_one(conn)
    .await?;
    Ok(reopened == 1)
}

/// A deposit to record.
pub struct NewDeposit<'a> {
    pub id: Uuid,
    pub session_id: Uuid,
    pub office_code: &'a str,
    pub currency: &'a str,
    pub amount_minor: i64,
    pub slip_reference: &'a str,
    pub bank_account: Option<&'a str>,
    pub ledger_entry_id: i64,
    pub created_by_user_id: Option<Uuid>,
    pub created_by_key_id: Option<Uuid>,
    pub created_by_name: &'a str,
}

pub async fn insert_deposit(conn: &mut PgConnection, new: &NewDeposit<'_>) -> Result<(), AppError> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into cash_deposits (id, session_id, office_code, currency, amount_minor, slip_reference,
             bank_account, ledger_entry_id, created_by_user_id, created_by_key_id, created_by_name)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        new.id,
        new.session_id,
        new.office_code,
        new.currency,
        new.amount_minor,
        new.slip_reference,
        new.bank_account,
        new.ledger_entry_id,
        new.created_by_user_id,
        new.created_by_key_id,
        new.created_by_name,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A deposit as stored.
pub struct DepositRow {
    pub id: Uuid,
    pub currency: String,
    pub amount_minor: i64,
    pub slip_reference: String,
    pub bank_account: Option<String>,
    pub ledger_entry_id: i64,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
}

pub async fn deposits_of_session(
    conn: &mut PgConnection,
    session_id: Uuid,
) -> Result<Vec<DepositRow>, AppError> {
    // language=PostgreSQL
    let rows = sqlx::query_as!(
        DepositRow,
        r#"select id, currency as "currency!", amount_minor, slip_reference, bank_account, ledger_entry_id,
               created_by_name, created_at
           from cash_deposits where session_id = $1 order by created_at, id"#,
        session_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// An intent as the counter finds it.
pub struct CounterIntent {
    pub id: Uuid,
    pub status: IntentStatus,
    pub office_code: String,
    pub case_reference: String,
    pub payer_name: Option<String>,
    pub currency: String,
    pub total_minor: i64,
    pub receipt_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub lines: Json<Vec<QuoteLine>>,
}

/// Intents of `offices` (`None`: all) found by case reference, or by the hash of the pay
/// token scanned from the case slip, newest first; or, with neither, the office's intents
/// awaiting payment created since `since`.
pub async fn counter_intents(
    conn: &mut PgConnection,
    offices: Option<&[String]>,
    office_code: Option<&str>,
    case_reference: Option<&str>,
    token_hash: Option<&[u8]>,
    since: Option<DateTime<Utc>>,
    rows: i64,
) -> Result<Vec<CounterIntent>, AppError> {
    // language=PostgreSQL
    let rows = sqlx::query_as!(
        CounterIntent,
        r#"select i.id, i.status as "status: IntentStatus", i.office_code, i.case_reference,
               i.payer ->> 'name' as payer_name, i.currency as "currency!", i.total_minor, i.receipt_number,
               i.created_at, i.expires_at, q.lines as "lines!: Json<Vec<QuoteLine>>"
           from payment_intents i join quotes q on q.id = i.quote_id
           where ($1::text[] is null or i.office_code = any($1))
             and ($2::text is null or i.office_code = $2)
             and ($3::text is null or i.case_reference = $3)
             and ($4::bytea is null or i.pay_token_hash = $4)
             and ($5::timestamptz is null or (i.created_at >= $5 and i.status = 'awaiting_payment'))
           order by i.created_at desc, i.id desc
           limit $6"#,
        offices,
        office_code,
        case_reference,
        token_hash,
        since,
        rows,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The name of an API key (a cashier key's name is printed as the cashier's).
pub async fn key_name(conn: &mut PgConnection, id: Uuid) -> Result<Option<String>, AppError> {
    // language=PostgreSQL
    let name = sqlx::query_scalar!("select name from api_keys where id = $1", id)
        .fetch_optional(conn)
        .await?;
    Ok(name)
}

/// The ledger entry a claimed provider transaction posted.
pub async fn claim_entry(
    conn: &mut PgConnection,
    provider: &str,
    transaction_id: &str,
) -> Result<Option<i64>, AppError> {
    // language=PostgreSQL
    let entry = sqlx::query_scalar!(
        "select ledger_entry_id from provider_transactions where provider = $1 and transaction_id = $2",
        provider,
        transaction_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(entry.flatten())
}
