//! The SQL of working reconciliation exceptions: the exception locked, what it is about (the
//! suspense posting, the statement line, the ledger item), the resolutions appended, the
//! manual matches written.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::states::{ExceptionKind, ExceptionStatus};

/// An exception as a resolution reads it.
#[derive(Debug)]
pub struct ExceptionRow {
    pub id: Uuid,
    pub office_code: String,
    pub kind: ExceptionKind,
    pub status: ExceptionStatus,
    pub provider: String,
    pub provider_transaction_id: String,
    pub payment_intent_id: Option<Uuid>,
    pub payment_attempt_id: Option<Uuid>,
    pub amount: String,
    pub currency: String,
    pub ledger_entry_id: Option<i64>,
    pub details: Value,
    pub statement_line_id: Option<Uuid>,
    pub item_posting_id: Option<i64>,
    pub account_id: Option<String>,
    pub business_date: Option<NaiveDate>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Exceptions `ids`, locked for update in id order (two people matching a line and an item
/// from both sides lock them in the same order, so neither deadlocks the other).
pub async fn lock_exceptions(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<ExceptionRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        ExceptionRow,
        r#"select id, office_code, kind as "kind: ExceptionKind", status as "status: ExceptionStatus",
                  provider, provider_transaction_id, payment_intent_id, payment_attempt_id, amount,
                  currency, ledger_entry_id, details, statement_line_id, item_posting_id, account_id,
                  business_date, resolved_at, created_at
           from reconciliation_exceptions where id = any($1) order by id for update"#,
        ids,
    )
    .fetch_all(conn)
    .await
}

/// One exception, unlocked.
pub async fn exception(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ExceptionRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        ExceptionRow,
        r#"select id, office_code, kind as "kind: ExceptionKind", status as "status: ExceptionStatus",
                  provider, provider_transaction_id, payment_intent_id, payment_attempt_id, amount,
                  currency, ledger_entry_id, details, statement_line_id, item_posting_id, account_id,
                  business_date, resolved_at, created_at
           from reconciliation_exceptions where id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// A posting with its account: the money a suspense entry parked, or a ledger item.
#[derive(Debug, Clone)]
pub struct PostingRow {
    pub id: i64,
    pub entry_id: i64,
    pub office_code: String,
    pub account: String,
    pub account_kind: String,
    pub currency: String,
    /// Debit positive, credit negative.
    pub amount_minor: i64,
    pub created_at: DateTime<Utc>,
    pub description: String,
    /// Whether a statement line is matched to it already.
    pub matched: bool,
    /// Whether it is no longer a candidate for any line: matched, its exception resolved
    /// another way, or its entry reversed (`reconciliation_item_settled`, migration 0020).
    pub settled: bool,
}

/// The credit to a suspense account in entry `entry_id` (where a suspense exception's money
/// sits).
pub async fn suspense_posting(
    conn: &mut PgConnection,
    entry_id: i64,
) -> Result<Option<PostingRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        PostingRow,
        r#"select p.id, p.entry_id, p.office_code, a.code as account, a.kind as account_kind,
                  p.currency as "currency!", p.amount_minor, p.created_at, e.description,
                  exists (select 1 from reconciliation_match_items m where m.posting_id = p.id) as "matched!",
                  reconciliation_item_settled(p.id, p.entry_id) as "settled!"
           from ledger_postings p
           join ledger_accounts a on a.id = p.account_id
           join ledger_entries e on e.id = p.entry_id
           where p.entry_id = $1 and a.kind = 'suspense' and p.amount_minor < 0
           order by p.id limit 1"#,
        entry_id,
    )
    .fetch_optional(conn)
    .await
}

/// One posting (a ledger item).
pub async fn posting(conn: &mut PgConnection, id: i64) -> Result<Option<PostingRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        PostingRow,
        r#"select p.id, p.entry_id, p.office_code, a.code as account, a.kind as account_kind,
                  p.currency as "currency!", p.amount_minor, p.created_at, e.description,
                  exists (select 1 from reconciliation_match_items m where m.posting_id = p.id) as "matched!",
                  reconciliation_item_settled(p.id, p.entry_id) as "settled!"
           from ledger_postings p
           join ledger_accounts a on a.id = p.account_id
           join ledger_entries e on e.id = p.entry_id
           where p.id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// A statement line with the bank account it belongs to.
#[derive(Debug, Clone)]
pub struct LineRow {
    pub id: Uuid,
    pub statement_id: Uuid,
    pub office_code: String,
    pub account_id: String,
    pub line_no: i32,
    pub booking_date: NaiveDate,
    pub transaction_id: Option<String>,
    pub reference: Option<String>,
    pub currency: String,
    pub amount_minor: i64,
    pub direction: String,
    pub description: Option<String>,
    /// The `bank:{segment}` of the account, when the office has it.
    pub ledger_segment: Option<String>,
    pub channels: Option<Vec<String>>,
    /// Whether it is matched already.
    pub matched: bool,
    /// Whether it is no longer open to a match: matched, or its exception resolved another way
    /// (refunded, written off), so its money is accounted for once.
    pub settled: bool,
}

/// One statement line.
pub async fn line(conn: &mut PgConnection, id: Uuid) -> Result<Option<LineRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        LineRow,
        r#"select l.id, l.statement_id, l.office_code, l.account_id, l.line_no, l.booking_date,
                  l.transaction_id, l.reference, l.currency as "currency!", l.amount_minor, l.direction,
                  l.description, a.ledger_segment as "ledger_segment?", a.channels as "channels?",
                  exists (select 1 from reconciliation_matches m where m.statement_line_id = l.id) as "matched!",
                  (exists (select 1 from reconciliation_matches m where m.statement_line_id = l.id)
                   or exists (select 1 from reconciliation_exceptions x
                              where x.statement_line_id = l.id and x.status = 'resolved')) as "settled!"
           from statement_lines l
           left join office_accounts a on a.account_id = l.account_id and a.currency = l.currency
                and a.office_code = l.office_code
           where l.id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The open exception about statement line `line_id`, if any.
pub async fn open_exception_of_line(
    conn: &mut PgConnection,
    line_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "select id from reconciliation_exceptions where statement_line_id = $1 and status = 'open'",
        line_id,
    )
    .fetch_optional(conn)
    .await
}

/// The open exception about ledger item `posting_id`, if any.
pub async fn open_exception_of_item(
    conn: &mut PgConnection,
    posting_id: i64,
) -> Result<Option<Uuid>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "select id from reconciliation_exceptions where item_posting_id = $1 and status = 'open'",
        posting_id,
    )
    .fetch_optional(conn)
    .await
}

/// A resolution to append.
pub struct NewResolution<'a> {
    pub id: Uuid,
    pub exception_id: Uuid,
    pub office_code: &'a str,
    pub action: &'a str,
    pub reason: &'a str,
    pub payment_intent_id: Option<Uuid>,
    pub bank_reference: Option<&'a str>,
    pub write_off_to: Option<&'a str>,
    pub match_id: Option<Uuid>,
    pub reverses_resolution_id: Option<Uuid>,
    pub ledger_entry_id: Option<i64>,
    pub approved_by_user_id: Option<Uuid>,
    pub approved_by_name: Option<&'a str>,
    pub created_by_user_id: Option<Uuid>,
    pub created_by_key_id: Option<Uuid>,
    pub created_by_name: &'a str,
}

/// Appends a resolution (the unique `reverses_resolution_id` refuses a second reversal).
pub async fn insert_resolution(
    conn: &mut PgConnection,
    new: &NewResolution<'_>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into exception_resolutions (id, exception_id, office_code, action, reason,
             payment_intent_id, bank_reference, write_off_to, match_id, reverses_resolution_id,
             ledger_entry_id, approved_by_user_id, approved_by_name, created_by_user_id,
             created_by_key_id, created_by_name)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        new.id,
        new.exception_id,
        new.office_code,
        new.action,
        new.reason,
        new.payment_intent_id,
        new.bank_reference,
        new.write_off_to,
        new.match_id,
        new.reverses_resolution_id,
        new.ledger_entry_id,
        new.approved_by_user_id,
        new.approved_by_name,
        new.created_by_user_id,
        new.created_by_key_id,
        new.created_by_name,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks exception `id` resolved (`resolved`) or open again; returns its new resolved_at.
pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    resolved: bool,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "update reconciliation_exceptions
         set status = case when $2 then 'resolved' else 'open' end,
             resolved_at = case when $2 then now() else null end
         where id = $1
         returning resolved_at",
        id,
        resolved,
    )
    .fetch_one(conn)
    .await
}

/// A resolution as recorded, with whether a later one reversed it.
#[derive(Debug)]
pub struct ResolutionRow {
    pub id: Uuid,
    pub exception_id: Uuid,
    pub office_code: String,
    pub action: String,
    pub reason: String,
    pub payment_intent_id: Option<Uuid>,
    pub receipt_number: Option<String>,
    pub bank_reference: Option<String>,
    pub write_off_to: Option<String>,
    pub match_id: Option<Uuid>,
    pub reverses_resolution_id: Option<Uuid>,
    pub reversed_by_resolution_id: Option<Uuid>,
    pub ledger_entry_id: Option<i64>,
    pub approved_by_name: Option<String>,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
}

/// The resolutions of exception `exception_id`, oldest first.
pub async fn resolutions_of(
    conn: &mut PgConnection,
    exception_id: Uuid,
) -> Result<Vec<ResolutionRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        ResolutionRow,
        r#"select r.id, r.exception_id, r.office_code, r.action, r.reason, r.payment_intent_id,
                  i.receipt_number as "receipt_number?", r.bank_reference, r.write_off_to, r.match_id,
                  r.reverses_resolution_id,
                  (select x.id from exception_resolutions x where x.reverses_resolution_id = r.id) as "reversed_by_resolution_id?",
                  r.ledger_entry_id, r.approved_by_name, r.created_by_name, r.created_at
           from exception_resolutions r
           left join payment_intents i on i.id = r.payment_intent_id and r.action = 'allocate'
           where r.exception_id = $1
           order by r.created_at, r.id"#,
        exception_id,
    )
    .fetch_all(conn)
    .await
}

/// A pending attempt through `channel` for an allocation: the attempt the allocated money
/// settles, as the counter records a cash attempt for the cash it takes. A KHQR allocation
/// has no QR (the money came without one): its QR text is empty, its md5 that of the
/// reference (unique), and it is never polled (`done`).
#[allow(clippy::too_many_arguments)]
pub async fn insert_attempt(
    conn: &mut PgConnection,
    id: Uuid,
    intent_id: Uuid,
    office_code: &str,
    channel: &str,
    currency: &str,
    amount_minor: i64,
    reference: &str,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into payment_attempts (id, payment_intent_id, office_code, channel, status, currency, amount_minor,
             provider_reference, expires_at, khqr, khqr_md5, poll_state)
         values ($1, $2, $3, $4, 'pending', $5, $6, $7, now() + interval '1 hour',
                 case when $4 = 'khqr' then '' end, case when $4 = 'khqr' then md5($7) end,
                 case when $4 = 'khqr' then 'done' end)",
        id,
        intent_id,
        office_code,
        channel,
        currency,
        amount_minor,
        reference,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A match made by hand.
pub struct NewMatch<'a> {
    pub id: Uuid,
    pub statement_line_id: Uuid,
    pub office_code: &'a str,
    pub fee_minor: i64,
    pub ledger_entry_id: i64,
    pub posting_id: i64,
    pub item_entry_id: i64,
    pub item_amount_minor: i64,
    pub created_by_user_id: Option<Uuid>,
    pub created_by_key_id: Option<Uuid>,
    pub created_by_name: &'a str,
}

/// Writes a manual match of one line with one item (the unique line and posting refuse a
/// second match of either).
pub async fn insert_match(conn: &mut PgConnection, new: &NewMatch<'_>) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into reconciliation_matches (id, statement_line_id, office_code, method, fee_minor,
             ledger_entry_id, created_by_user_id, created_by_key_id, created_by_name)
         values ($1, $2, $3, 'manual', $4, $5, $6, $7, $8)",
        new.id,
        new.statement_line_id,
        new.office_code,
        new.fee_minor,
        new.ledger_entry_id,
        new.created_by_user_id,
        new.created_by_key_id,
        new.created_by_name,
    )
    .execute(&mut *conn)
    .await?;
    // language=PostgreSQL
    sqlx::query!(
        "insert into reconciliation_match_items (match_id, posting_id, ledger_entry_id, amount_minor)
         values ($1, $2, $3, $4)",
        new.id,
        new.posting_id,
        new.item_entry_id,
        new.item_amount_minor,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A candidate for a manual match, for the console's choice.
#[derive(Debug)]
pub struct Candidate {
    /// The line id, or the posting id as text.
    pub id: String,
    pub day: Option<NaiveDate>,
    pub currency: String,
    pub amount_minor: i64,
    pub label: String,
}

/// Unmatched statement lines of `office_code` in `currency` booked within 7 days of `day`.
pub async fn candidate_lines(
    conn: &mut PgConnection,
    office_code: &str,
    currency: &str,
    day: NaiveDate,
) -> Result<Vec<Candidate>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        Candidate,
        r#"select l.id::text as "id!", l.booking_date as "day?", l.currency as "currency!", l.amount_minor,
                  l.account_id || ' ' || case l.direction when 'CRDT' then '+' else '−' end || ' '
                      || coalesce(l.reference, l.transaction_id, '') as "label!"
           from statement_lines l
           where l.office_code = $1 and l.currency = $2
             and l.booking_date between $3::date - 7 and $3::date + 7
             and not exists (select 1 from reconciliation_matches m where m.statement_line_id = l.id)
             and not exists (select 1 from reconciliation_exceptions x
                             where x.statement_line_id = l.id and x.status = 'resolved')
           order by l.booking_date, l.line_no
           limit 200"#,
        office_code,
        currency,
        day,
    )
    .fetch_all(conn)
    .await
}

/// Unmatched ledger items (debits to clearing or cash in transit, credits to refunds payable)
/// of `office_code` in `currency` posted within 7 days of `day`.
pub async fn candidate_items(
    conn: &mut PgConnection,
    office_code: &str,
    currency: &str,
    day: NaiveDate,
) -> Result<Vec<Candidate>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        Candidate,
        r#"select p.id::text as "id!", (p.created_at at time zone 'Asia/Phnom_Penh')::date as "day?",
                  p.currency as "currency!", abs(p.amount_minor) as "amount_minor!",
                  a.code || ' ' || e.description as "label!"
           from ledger_postings p
           join ledger_accounts a on a.id = p.account_id
           join ledger_entries e on e.id = p.entry_id
           where p.office_code = $1 and p.currency = $2
             and ((a.kind in ('clearing', 'cash_in_transit') and p.amount_minor > 0)
                  or (a.kind = 'refunds_payable' and p.amount_minor < 0))
             and p.created_at >= ($3::date - 7)::timestamp at time zone 'Asia/Phnom_Penh'
             and p.created_at < ($3::date + 8)::timestamp at time zone 'Asia/Phnom_Penh'
             and not reconciliation_item_settled(p.id, p.entry_id)
           order by p.created_at, p.id
           limit 200"#,
        office_code,
        currency,
        day,
    )
    .fetch_all(conn)
    .await
}

/// The intent of `office_code` awaiting payment for case `case_reference` (the registration
/// code a person types), the newest if several.
pub async fn intent_awaiting_for_case(
    conn: &mut PgConnection,
    office_code: &str,
    case_reference: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "select id from payment_intents
         where office_code = $1 and case_reference = $2 and status = 'awaiting_payment'
         order by created_at desc limit 1",
        office_code,
        case_reference,
    )
    .fetch_optional(conn)
    .await
}
