//! The store of reconciliation with the bank: office accounts, statements and their lines,
//! the ledger items a statement is matched against, matches, and the exceptions and
//! resolutions the matcher writes itself.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// One currency of an office account (`office_accounts`).
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub account_id: String,
    pub currency: String,
    pub office_code: String,
    pub kind: String,
    pub ledger_segment: String,
    pub channels: Vec<String>,
}

/// The rows of `account_id` (one per currency), locked `for update` so that two instances
/// loading statements of the account at once take turns for the overlap check.
pub async fn lock_account(
    conn: &mut PgConnection,
    account_id: &str,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        AccountRow,
        "select account_id, currency, office_code, kind, ledger_segment, channels
         from office_accounts where account_id = $1 order by currency for update",
        account_id,
    )
    .fetch_all(conn)
    .await
}

/// The rows of `account_id` (one per currency), unlocked.
pub async fn account(
    conn: &mut PgConnection,
    account_id: &str,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        AccountRow,
        "select account_id, currency, office_code, kind, ledger_segment, channels
         from office_accounts where account_id = $1 order by currency",
        account_id,
    )
    .fetch_all(conn)
    .await
}

/// Every account of the offices in `offices` (all offices when `None`), by office, account and
/// currency.
pub async fn accounts(
    conn: &mut PgConnection,
    offices: Option<&[String]>,
    office_code: Option<&str>,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        AccountRow,
        "select account_id, currency, office_code, kind, ledger_segment, channels
         from office_accounts
         where ($1::text[] is null or office_code = any($1)) and ($2::text is null or office_code = $2)
         order by office_code, account_id, currency",
        offices,
        office_code,
    )
    .fetch_all(conn)
    .await
}

/// Registers one currency of an account and maps its channels to it; `false` when the
/// (account, currency) exists already (nothing changed).
pub async fn insert_account(
    conn: &mut PgConnection,
    account: &AccountRow,
) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let inserted = sqlx::query!(
        "insert into office_accounts (account_id, currency, office_code, kind, ledger_segment, channels)
         values ($1, $2, $3, $4, $5, $6) on conflict (account_id, currency) do nothing",
        account.account_id,
        account.currency,
        account.office_code,
        account.kind,
        account.ledger_segment,
        &account.channels,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    // language=PostgreSQL
    sqlx::query!(
        "insert into office_account_channels (office_code, currency, channel, account_id)
         select $1, $2, unnest($3::text[]), $4",
        account.office_code,
        account.currency,
        &account.channels,
        account.account_id,
    )
    .execute(conn)
    .await?;
    Ok(true)
}

/// A stored statement, without its raw bytes.
#[derive(Debug, Clone)]
pub struct StatementRow {
    pub id: Uuid,
    pub account_id: String,
    pub office_code: String,
    pub format: String,
    pub bank_statement_id: Option<String>,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub line_count: i32,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
}

/// The statement whose file has this SHA-256, if loaded.
pub async fn statement_by_sha256(
    conn: &mut PgConnection,
    sha256: &[u8],
) -> Result<Option<StatementRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        StatementRow,
        "select id, account_id, office_code, format, bank_statement_id, period_from, period_to,
                line_count, created_by_name, created_at
         from bank_statements where sha256 = $1",
        sha256,
    )
    .fetch_optional(conn)
    .await
}

/// The statement `id`.
pub async fn statement(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<StatementRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        StatementRow,
        "select id, account_id, office_code, format, bank_statement_id, period_from, period_to,
                line_count, created_by_name, created_at
         from bank_statements where id = $1",
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Statements newest first (by creation), at most `limit`, after the cursor.
pub async fn list_statements(
    conn: &mut PgConnection,
    offices: Option<&[String]>,
    office_code: Option<&str>,
    account_id: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<StatementRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        StatementRow,
        "select id, account_id, office_code, format, bank_statement_id, period_from, period_to,
                line_count, created_by_name, created_at
         from bank_statements
         where ($1::text[] is null or office_code = any($1))
           and ($2::text is null or office_code = $2)
           and ($3::text is null or account_id = $3)
           and ($4::timestamptz is null or (created_at, id) < ($4, $5::uuid))
         order by created_at desc, id desc
         limit $6",
        offices,
        office_code,
        account_id,
        after.map(|(at, _)| at),
        after.map(|(_, id)| id),
        limit,
    )
    .fetch_all(conn)
    .await
}

/// A stored statement of `account_id` whose period shares a day with `[from, to]`.
pub async fn overlapping_statement(
    conn: &mut PgConnection,
    account_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<Uuid>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "select id from bank_statements
         where account_id = $1 and period_from <= $3 and period_to >= $2
         order by period_from limit 1",
        account_id,
        from,
        to,
    )
    .fetch_optional(conn)
    .await
}

/// A statement to store.
pub struct NewStatement<'a> {
    pub id: Uuid,
    pub account_id: &'a str,
    pub office_code: &'a str,
    pub format: &'a str,
    pub sha256: &'a [u8],
    pub raw: &'a [u8],
    pub bank_statement_id: Option<&'a str>,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub line_count: i32,
    pub created_by_user_id: Option<Uuid>,
    pub created_by_key_id: Option<Uuid>,
    pub created_by_name: &'a str,
}

/// Stores the statement; `false` when a statement with the same SHA-256 won a race (nothing
/// stored).
pub async fn insert_statement(
    conn: &mut PgConnection,
    statement: &NewStatement<'_>,
) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let done = sqlx::query!(
        "insert into bank_statements (id, account_id, office_code, format, sha256, raw,
             bank_statement_id, period_from, period_to, line_count, created_by_user_id,
             created_by_key_id, created_by_name)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (sha256) do nothing",
        statement.id,
        statement.account_id,
        statement.office_code,
        statement.format,
        statement.sha256,
        statement.raw,
        statement.bank_statement_id,
        statement.period_from,
        statement.period_to,
        statement.line_count,
        statement.created_by_user_id,
        statement.created_by_key_id,
        statement.created_by_name,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The lines of a statement, as parallel columns (one insert for the whole file).
#[derive(Default)]
pub struct NewLines {
    pub ids: Vec<Uuid>,
    pub line_nos: Vec<i32>,
    pub booking_dates: Vec<NaiveDate>,
    pub transaction_ids: Vec<Option<String>>,
    pub references: Vec<Option<String>>,
    pub currencies: Vec<String>,
    pub amounts_minor: Vec<i64>,
    pub directions: Vec<String>,
    pub descriptions: Vec<Option<String>>,
    pub details: Vec<Value>,
}

/// Stores the lines of statement `statement_id`.
pub async fn insert_lines(
    conn: &mut PgConnection,
    statement_id: Uuid,
    office_code: &str,
    account_id: &str,
    lines: &NewLines,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into statement_lines (id, statement_id, office_code, account_id, line_no,
             booking_date, transaction_id, reference, currency, amount_minor, direction,
             description, details)
         select id, $1, $2, $3, line_no, booking_date, transaction_id, reference, currency,
                amount_minor, direction, description, details
         from unnest($4::uuid[], $5::int[], $6::date[], $7::text[], $8::text[], $9::text[],
                     $10::bigint[], $11::text[], $12::text[], $13::jsonb[])
              as t (id, line_no, booking_date, transaction_id, reference, currency,
                    amount_minor, direction, description, details)",
        statement_id,
        office_code,
        account_id,
        &lines.ids,
        &lines.line_nos,
        &lines.booking_dates,
        &lines.transaction_ids as _,
        &lines.references as _,
        &lines.currencies,
        &lines.amounts_minor,
        &lines.directions,
        &lines.descriptions as _,
        &lines.details,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A ledger item a statement of the account may settle.
#[derive(Debug, Clone)]
pub struct ItemRow {
    pub posting_id: i64,
    pub entry_id: i64,
    /// The posting's ledger account code.
    pub account_code: String,
    pub currency: String,
    /// Positive.
    pub amount_minor: i64,
    /// The Cambodian date of the posting.
    pub day: NaiveDate,
    /// `channel`, `deposit` or `refund`.
    pub source: String,
    /// The channel (`cash` for deposits, `refund` for refunds).
    pub channel: String,
    pub keys: Vec<String>,
    pub payment_intent_id: Option<Uuid>,
}

/// The unmatched ledger items of `account_id` posted in `[since, until)`: debits to the
/// clearing account of each channel mapped to the account (with the bank's transaction id and
/// the attempt's KHQR md5, bill number and reference), cash deposits to cash-in-transit for
/// this account (by slip), and refunds recorded as sent (credits to refunds-payable, by the
/// bank's reference).
pub async fn candidate_items(
    conn: &mut PgConnection,
    account_id: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        ItemRow,
        r#"select p.id as "posting_id!", p.entry_id as "entry_id!", a.code as "account_code!",
                  p.currency as "currency!", p.amount_minor as "amount_minor!",
                  ((p.created_at at time zone 'UTC') + interval '7 hours')::date as "day!",
                  'channel' as "source!", c.channel as "channel!",
                  array_remove(array[k.transaction_id, k.khqr_md5, k.bill_number,
                      k.provider_reference], null) as "keys!",
                  k.payment_intent_id as "payment_intent_id?"
           from office_account_channels c
           join ledger_accounts a on a.code = c.office_code || ':clearing:' || c.channel || ':' || c.currency
           join ledger_postings p on p.account_id = a.id and p.amount_minor > 0
           left join lateral (
               select pt.transaction_id, pa.khqr_md5, pa.bill_number, pa.provider_reference,
                      pa.payment_intent_id
               from provider_transactions pt
               left join payment_attempts pa on pa.id = pt.payment_attempt_id
               where pt.ledger_entry_id = p.entry_id
               limit 1
           ) k on true
           where c.account_id = $1 and c.channel <> 'cash'
             and p.created_at >= $2 and p.created_at < $3
             and not reconciliation_item_settled(p.id, p.entry_id)
           union all
           select p.id, p.entry_id, a.code, p.currency, p.amount_minor,
                  ((p.created_at at time zone 'UTC') + interval '7 hours')::date,
                  'deposit', 'cash', array[d.slip_reference], null::uuid
           from office_account_channels c
           join ledger_accounts a on a.code = c.office_code || ':cash-in-transit:' || c.currency
           join ledger_postings p on p.account_id = a.id and p.amount_minor > 0
           join cash_deposits d on d.ledger_entry_id = p.entry_id
                and (d.bank_account is null or d.bank_account = c.account_id)
           where c.account_id = $1 and c.channel = 'cash'
             and p.created_at >= $2 and p.created_at < $3
             and not reconciliation_item_settled(p.id, p.entry_id)
           union all
           select p.id, p.entry_id, a.code, p.currency, -p.amount_minor,
                  ((p.created_at at time zone 'UTC') + interval '7 hours')::date,
                  'refund', 'refund', array[r.bank_reference], r.payment_intent_id
           from office_accounts o
           join ledger_accounts a on a.code = o.office_code || ':refunds-payable:' || o.currency
           join ledger_postings p on p.account_id = a.id and p.amount_minor < 0
           join exception_resolutions r on r.ledger_entry_id = p.entry_id and r.action = 'refund'
                and r.bank_reference is not null
           where o.account_id = $1
             and p.created_at >= $2 and p.created_at < $3
             and not reconciliation_item_settled(p.id, p.entry_id)
           order by 1"#,
        account_id,
        since,
        until,
    )
    .fetch_all(conn)
    .await
}

/// A match to record.
pub struct NewMatch<'a> {
    pub id: Uuid,
    pub statement_line_id: Uuid,
    pub office_code: &'a str,
    pub method: &'a str,
    pub fee_minor: i64,
    pub ledger_entry_id: i64,
    pub posting_ids: Vec<i64>,
    pub entry_ids: Vec<i64>,
    pub amounts_minor: Vec<i64>,
}

/// Records a match and its items (the unique posting makes an item matched once).
pub async fn insert_match(conn: &mut PgConnection, m: &NewMatch<'_>) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into reconciliation_matches (id, statement_line_id, office_code, method, fee_minor,
             ledger_entry_id)
         values ($1, $2, $3, $4, $5, $6)",
        m.id,
        m.statement_line_id,
        m.office_code,
        m.method,
        m.fee_minor,
        m.ledger_entry_id,
    )
    .execute(&mut *conn)
    .await?;
    // language=PostgreSQL
    sqlx::query!(
        "insert into reconciliation_match_items (match_id, posting_id, ledger_entry_id, amount_minor)
         select $1, * from unnest($2::bigint[], $3::bigint[], $4::bigint[])",
        m.id,
        &m.posting_ids,
        &m.entry_ids,
        &m.amounts_minor,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An exception of a statement line or a ledger item.
pub struct NewStatementException<'a> {
    pub id: Uuid,
    pub office_code: &'a str,
    /// `unmatched_statement_line` or `unmatched_ledger_item`.
    pub kind: &'a str,
    pub provider: &'a str,
    pub provider_transaction_id: &'a str,
    pub payment_intent_id: Option<Uuid>,
    pub amount: &'a str,
    pub currency: &'a str,
    pub statement_line_id: Option<Uuid>,
    pub item_posting_id: Option<i64>,
    pub ledger_entry_id: Option<i64>,
    pub account_id: &'a str,
    pub business_date: NaiveDate,
    pub details: Value,
}

/// Records the exception; `false` when an open one for the same item exists (nothing stored).
pub async fn insert_exception(
    conn: &mut PgConnection,
    e: &NewStatementException<'_>,
) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let done = sqlx::query!(
        "insert into reconciliation_exceptions (id, office_code, kind, provider,
             provider_transaction_id, payment_intent_id, amount, currency, statement_line_id,
             item_posting_id, ledger_entry_id, account_id, business_date, details)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         on conflict (item_posting_id) where status = 'open' and item_posting_id is not null
         do nothing",
        e.id,
        e.office_code,
        e.kind,
        e.provider,
        e.provider_transaction_id,
        e.payment_intent_id,
        e.amount,
        e.currency,
        e.statement_line_id,
        e.item_posting_id,
        e.ledger_entry_id,
        e.account_id,
        e.business_date,
        e.details,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The open `unmatched_ledger_item` exceptions of these postings, locked: (exception, posting).
pub async fn open_item_exceptions(
    conn: &mut PgConnection,
    posting_ids: &[i64],
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    // language=PostgreSQL
    let rows = sqlx::query!(
        r#"select id, item_posting_id as "item_posting_id!" from reconciliation_exceptions
           where item_posting_id = any($1) and status = 'open' and kind = 'unmatched_ledger_item'
           for update"#,
        posting_ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.id, row.item_posting_id))
        .collect())
}

/// Marks an exception resolved by a later match and records the `matched_later` resolution.
pub async fn resolve_matched_later(
    conn: &mut PgConnection,
    exception_id: Uuid,
    office_code: &str,
    match_id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update reconciliation_exceptions set status = 'resolved', resolved_at = now()
         where id = $1 and status = 'open'",
        exception_id,
    )
    .execute(&mut *conn)
    .await?;
    // language=PostgreSQL
    sqlx::query!(
        "insert into exception_resolutions (id, exception_id, office_code, action, reason,
             match_id, created_by_name)
         values ($1, $2, $3, 'matched_later', $4, $5, 'reconciliation')",
        Uuid::now_v7(),
        exception_id,
        office_code,
        reason,
        match_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One line of a stored statement with what became of it.
#[derive(Debug, Clone)]
pub struct LineRow {
    pub id: Uuid,
    pub line_no: i32,
    pub booking_date: NaiveDate,
    pub transaction_id: Option<String>,
    pub reference: Option<String>,
    pub currency: String,
    pub amount_minor: i64,
    pub direction: String,
    pub description: Option<String>,
    pub match_id: Option<Uuid>,
    pub method: Option<String>,
    pub fee_minor: Option<i64>,
    pub match_entry_id: Option<i64>,
    /// The match's postings.
    pub item_posting_ids: Vec<i64>,
    pub exception_id: Option<Uuid>,
    pub exception_status: Option<String>,
}

/// The lines of statement `id` in file order, each with its match or exception.
pub async fn lines_of(conn: &mut PgConnection, id: Uuid) -> Result<Vec<LineRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        LineRow,
        r#"select l.id, l.line_no, l.booking_date, l.transaction_id, l.reference, l.currency,
                  l.amount_minor, l.direction, l.description,
                  m.id as "match_id?", m.method as "method?", m.fee_minor as "fee_minor?",
                  m.ledger_entry_id as "match_entry_id?",
                  coalesce((select array_agg(i.posting_id order by i.posting_id)
                            from reconciliation_match_items i where i.match_id = m.id),
                           '{}') as "item_posting_ids!",
                  e.id as "exception_id?", e.status as "exception_status?"
           from statement_lines l
           left join reconciliation_matches m on m.statement_line_id = l.id
           left join reconciliation_exceptions e on e.statement_line_id = l.id
           where l.statement_id = $1
           order by l.line_no"#,
        id,
    )
    .fetch_all(conn)
    .await
}

/// A day's figures of one currency of an account (sums in minor units).
#[derive(Debug, Clone, Default)]
pub struct DayFigures {
    pub opening_minor: i64,
    pub closing_minor: i64,
    pub deposits_count: i64,
    pub deposits_minor: i64,
    pub lines_count: i64,
    pub lines_credit_minor: i64,
    pub lines_debit_minor: i64,
    pub matched_count: i64,
    pub matched_minor: i64,
    pub matched_fee_minor: i64,
    pub unmatched_lines_count: i64,
    pub unmatched_lines_minor: i64,
    pub unmatched_items_count: i64,
    pub unmatched_items_minor: i64,
    /// Lines in − lines out − items in + items out, of the open exceptions.
    pub difference_minor: i64,
    pub statement_loaded: bool,
}

/// The day's figures of one currency of `account_id`: `start`/`end` bound the Cambodian day.
#[allow(clippy::too_many_arguments)]
pub async fn day_figures(
    conn: &mut PgConnection,
    account_id: &str,
    currency: &str,
    bank_code: &str,
    transit_code: &str,
    day: NaiveDate,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<DayFigures, sqlx::Error> {
    // language=PostgreSQL
    let row = sqlx::query!(
        r#"with bank as (select id from ledger_accounts where code = $3),
         transit as (select id from ledger_accounts where code = $4),
         open_exceptions as (
             select kind, (details->>'amount_minor')::bigint as amount_minor,
                    details->>'direction' as direction
             from reconciliation_exceptions
             where account_id = $1 and currency = $2 and business_date = $5 and status = 'open'
               and kind in ('unmatched_statement_line', 'unmatched_ledger_item'))
         select
           coalesce((select sum(amount_minor) from ledger_postings
                     where account_id = (select id from bank) and created_at < $6), 0)::bigint as "opening!",
           coalesce((select sum(amount_minor) from ledger_postings
                     where account_id = (select id from bank) and created_at < $7), 0)::bigint as "closing!",
           (select count(*) from ledger_postings p join cash_deposits d on d.ledger_entry_id = p.entry_id
              and (d.bank_account is null or d.bank_account = $1)
            where p.account_id = (select id from transit) and p.amount_minor > 0
              and p.created_at >= $6 and p.created_at < $7) as "deposits_count!",
           coalesce((select sum(p.amount_minor) from ledger_postings p join cash_deposits d
              on d.ledger_entry_id = p.entry_id and (d.bank_account is null or d.bank_account = $1)
            where p.account_id = (select id from transit) and p.amount_minor > 0
              and p.created_at >= $6 and p.created_at < $7), 0)::bigint as "deposits_minor!",
           (select count(*) from statement_lines where account_id = $1 and currency = $2
              and booking_date = $5) as "lines_count!",
           coalesce((select sum(amount_minor) from statement_lines where account_id = $1
              and currency = $2 and booking_date = $5 and direction = 'CRDT'), 0)::bigint as "lines_credit!",
           coalesce((select sum(amount_minor) from statement_lines where account_id = $1
              and currency = $2 and booking_date = $5 and direction = 'DBIT'), 0)::bigint as "lines_debit!",
           (select count(*) from reconciliation_matches m join statement_lines l on l.id = m.statement_line_id
            where l.account_id = $1 and l.currency = $2 and l.booking_date = $5) as "matched_count!",
           coalesce((select sum(l.amount_minor) from reconciliation_matches m join statement_lines l
              on l.id = m.statement_line_id
            where l.account_id = $1 and l.currency = $2 and l.booking_date = $5), 0)::bigint as "matched_minor!",
           coalesce((select sum(m.fee_minor) from reconciliation_matches m join statement_lines l
              on l.id = m.statement_line_id
            where l.account_id = $1 and l.currency = $2 and l.booking_date = $5), 0)::bigint as "matched_fee!",
           (select count(*) from open_exceptions where kind = 'unmatched_statement_line') as "unmatched_lines_count!",
           coalesce((select sum(amount_minor) from open_exceptions
              where kind = 'unmatched_statement_line'), 0)::bigint as "unmatched_lines_minor!",
           (select count(*) from open_exceptions where kind = 'unmatched_ledger_item') as "unmatched_items_count!",
           coalesce((select sum(amount_minor) from open_exceptions
              where kind = 'unmatched_ledger_item'), 0)::bigint as "unmatched_items_minor!",
           coalesce((select sum(case
                 when kind = 'unmatched_statement_line' and direction = 'CRDT' then amount_minor
                 when kind = 'unmatched_statement_line' then -amount_minor
                 when direction = 'DBIT' then amount_minor
                 else -amount_minor end) from open_exceptions), 0)::bigint as "difference!",
           exists (select 1 from bank_statements where account_id = $1
              and period_from <= $5 and period_to >= $5) as "statement_loaded!""#,
        account_id,
        currency,
        bank_code,
        transit_code,
        day,
        start,
        end,
    )
    .fetch_one(conn)
    .await?;
    Ok(DayFigures {
        opening_minor: row.opening,
        closing_minor: row.closing,
        deposits_count: row.deposits_count,
        deposits_minor: row.deposits_minor,
        lines_count: row.lines_count,
        lines_credit_minor: row.lines_credit,
        lines_debit_minor: row.lines_debit,
        matched_count: row.matched_count,
        matched_minor: row.matched_minor,
        matched_fee_minor: row.matched_fee,
        unmatched_lines_count: row.unmatched_lines_count,
        unmatched_lines_minor: row.unmatched_lines_minor,
        unmatched_items_count: row.unmatched_items_count,
        unmatched_items_minor: row.unmatched_items_minor,
        difference_minor: row.difference,
        statement_loaded: row.statement_loaded,
    })
}

/// Receipts by channel of one day: (channel, count, sum) of the debits to the clearing
/// accounts of the channels mapped to this account and currency.
pub async fn day_receipts(
    conn: &mut PgConnection,
    account_id: &str,
    currency: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    // language=PostgreSQL
    let rows = sqlx::query!(
        r#"select c.channel as "channel!", count(p.id) as "count!",
                  coalesce(sum(p.amount_minor), 0)::bigint as "sum!"
           from office_account_channels c
           join ledger_accounts a on a.code = c.office_code || ':clearing:' || c.channel || ':' || c.currency
           left join ledger_postings p on p.account_id = a.id and p.amount_minor > 0
                and p.created_at >= $3 and p.created_at < $4
           where c.account_id = $1 and c.currency = $2 and c.channel <> 'cash'
           group by c.channel order by c.channel"#,
        account_id,
        currency,
        start,
        end,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.channel, row.count, row.sum))
        .collect())
}

/// Per day of `[from, to]` and account of the office: whether a statement covers the day and
/// how many exceptions of the day are open.
pub struct DayStatusRow {
    pub day: NaiveDate,
    pub account_id: String,
    pub statement_loaded: bool,
    pub open_exceptions: i64,
}

/// The days of an office's accounts, newest day first.
pub async fn day_statuses(
    conn: &mut PgConnection,
    office_code: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayStatusRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        DayStatusRow,
        r#"select d.day::date as "day!", a.account_id as "account_id!",
                  exists (select 1 from bank_statements s where s.account_id = a.account_id
                      and s.period_from <= d.day::date and s.period_to >= d.day::date) as "statement_loaded!",
                  (select count(*) from reconciliation_exceptions e where e.account_id = a.account_id
                      and e.business_date = d.day::date and e.status = 'open') as "open_exceptions!"
           from generate_series($2::date, $3::date, interval '1 day') as d (day)
           cross join (select distinct account_id from office_accounts where office_code = $1) a
           order by 1 desc, 2"#,
        office_code,
        from,
        to,
    )
    .fetch_all(conn)
    .await
}
