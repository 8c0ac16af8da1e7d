//! The auditor's reads that the ledger crate does not make: the reconciliation exceptions,
//! and the snapshot a verification reads in.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::books::exceptions::Exception;
use crate::app::states::{ExceptionKind, ExceptionStatus};

/// Makes the caller's transaction one read-only snapshot: seals, entries and the sealer's
/// horizon are then read as of one instant, and the reads block no writer.
pub async fn read_only_snapshot(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!("set transaction isolation level repeatable read, read only")
        .execute(conn)
        .await?;
    Ok(())
}

/// Which exceptions to read: `offices` is the caller's scope (`None` for every office),
/// `after` the `(created_at, id)` of the last row of the previous page.
pub struct ExceptionQuery<'a> {
    pub offices: Option<&'a [String]>,
    pub office_code: Option<&'a str>,
    pub status: Option<ExceptionStatus>,
    pub kind: Option<ExceptionKind>,
    /// Oldest first (the console's work queue) instead of newest first.
    pub oldest_first: bool,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

/// Exceptions newest first (or oldest first), at most `query.limit`.
pub async fn list_exceptions(
    conn: &mut PgConnection,
    query: ExceptionQuery<'_>,
) -> Result<Vec<Exception>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        Exception,
        r#"select id, office_code, kind as "kind: ExceptionKind", status as "status: ExceptionStatus",
                  provider, provider_transaction_id, payment_intent_id, payment_attempt_id,
                  amount, currency, ledger_entry_id, created_at, account_id, statement_line_id,
                  item_posting_id, business_date, resolved_at
           from reconciliation_exceptions
           where ($1::text[] is null or office_code = any($1))
             and ($2::text is null or office_code = $2)
             and ($3::text is null or status = $3)
             and ($7::text is null or kind = $7)
             and ($4::timestamptz is null
                  or (not $8 and (created_at, id) < ($4, $5::uuid))
                  or ($8 and (created_at, id) > ($4, $5::uuid)))
           order by case when $8 then created_at end asc, case when $8 then id end asc,
                    created_at desc, id desc
           limit $6"#,
        query.offices,
        query.office_code,
        query.status.map(ExceptionStatus::as_str),
        query.after.map(|(at, _)| at),
        query.after.map(|(_, id)| id),
        query.limit,
        query.kind.map(ExceptionKind::as_str),
        query.oldest_first,
    )
    .fetch_all(conn)
    .await
}

// ---------------------------------------------------------------- the books, traced

/// The columns that trace a posting to its source: the intent named by the entry's metadata
/// (a reversal's: by the metadata of the entry it reverses, so a voided receipt's reversal
/// traces to the same intent), the receipt number (a voided cash receipt keeps its own number,
/// the intent may have had a new one since), the channel, and the bank's (or the deposit
/// slip's) reference. An entry without them (a fee, a write-off) has nulls there.
macro_rules! trace_columns {
    () => {
        "t.payment_intent_id, coalesce(cr.receipt_number, i.receipt_number) as receipt_number,
         coalesce(i.paid_channel, m.meta->>'provider') as channel,
         coalesce(m.meta->>'provider_transaction_id', m.meta->>'bank_reference',
                  m.meta->>'slip_reference') as bank_transaction_id"
    };
}

/// The intent an entry names, joined by primary key from the page's rows (no index on the
/// metadata is needed: the join is driven by the postings). A malformed id traces to nothing
/// rather than failing the read.
macro_rules! trace_join {
    () => {
        "left join ledger_entries r on r.id = e.reverses_entry_id
         cross join lateral (
             select case when r.id is null or e.metadata ? 'payment_intent_id' then e.metadata
                         else r.metadata end as meta
         ) m
         cross join lateral (
             select case when m.meta->>'payment_intent_id'
                              ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                         then (m.meta->>'payment_intent_id')::uuid end as payment_intent_id
         ) t
         left join payment_intents i on i.id = t.payment_intent_id
         left join cash_receipts cr on cr.payment_intent_id = t.payment_intent_id
                                   and cr.ledger_entry_id = coalesce(r.id, e.id)"
    };
}

/// Where a line of the books came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Trace {
    pub payment_intent_id: Option<Uuid>,
    pub receipt_number: Option<String>,
    /// The intent's paid channel, else the entry's provider (a bank's suspense entry).
    pub channel: Option<String>,
    /// The bank's transaction id, a refund's bank reference or a deposit's slip reference.
    pub bank_transaction_id: Option<String>,
}

/// One posting of an account statement, before its running balance.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatementRow {
    pub posting_id: i64,
    pub entry_id: i64,
    pub created_at: DateTime<Utc>,
    pub kind: String,
    pub description: String,
    pub amount_minor: i64,
    #[sqlx(flatten)]
    pub trace: Trace,
}

/// The postings of `account_id` in `(from, to]` after `after` (its `(created_at, posting id)`),
/// in time order, at most `limit`. The account's (account_id, created_at, id) index serves it.
pub async fn statement_rows(
    conn: &mut PgConnection,
    account_id: i64,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> Result<Vec<StatementRow>, sqlx::Error> {
    sqlx::query_as::<_, StatementRow>(concat!(
        "select p.id as posting_id, p.entry_id, p.created_at, e.kind, e.description, p.amount_minor, ",
        trace_columns!(),
        " from ledger_postings p join ledger_entries e on e.id = p.entry_id ",
        trace_join!(),
        " where p.account_id = $1 and p.created_at > $2 and p.created_at <= $3
           and ($4::timestamptz is null or (p.created_at, p.id) > ($4, $5))
         order by p.created_at, p.id
         limit $6"
    ))
    .bind(account_id)
    .bind(from)
    .bind(to)
    .bind(after.map(|(at, _)| at))
    .bind(after.map_or(0, |(_, id)| id))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The sum of the postings of `account_id` at exactly `upto.0` with an id up to `upto.1`: with
/// the balance just before that instant, the balance after the cursor's posting (postings of
/// one instant are ordered by id, as the statement orders them).
pub async fn statement_sum_at(
    conn: &mut PgConnection,
    account_id: i64,
    upto: (DateTime<Utc>, i64),
) -> Result<i64, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar(
        "select coalesce(sum(amount_minor), 0)::bigint from ledger_postings
         where account_id = $1 and created_at = $2 and id <= $3",
    )
    .bind(account_id)
    .bind(upto.0)
    .bind(upto.1)
    .fetch_one(conn)
    .await
}

/// Where the page before the one starting after `before` starts: `Some(Some(key))` after that
/// posting, `Some(None)` at the range's start, `None` when nothing comes before.
pub async fn statement_previous(
    conn: &mut PgConnection,
    account_id: i64,
    from: DateTime<Utc>,
    before: (DateTime<Utc>, i64),
    limit: i64,
) -> Result<Option<Option<(DateTime<Utc>, i64)>>, sqlx::Error> {
    // The rows before the page, newest first: the limit-th is the previous page's first, the
    // one after it (offset limit) is where that page starts after.
    // language=PostgreSQL
    let rows: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(
        "select created_at, id from ledger_postings
         where account_id = $1 and created_at > $2 and (created_at, id) <= ($3, $4)
         order by created_at desc, id desc
         limit $5 + 1",
    )
    .bind(account_id)
    .bind(from)
    .bind(before.0)
    .bind(before.1)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(match rows.len() {
        0 => None,
        count if count <= limit => Some(None),
        _ => Some(rows.last().copied()),
    })
}

/// One posting of the journal export with its trace.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JournalRow {
    #[sqlx(flatten)]
    pub row: ledger::store::JournalRow,
    #[sqlx(flatten)]
    pub trace: Trace,
}

/// One page of the journal of `(from, to]` for `offices` (all for `None`) after `after`, in
/// the order of `ledger::store::journal_page`, with each posting's trace.
pub async fn journal_page(
    conn: &mut PgConnection,
    offices: Option<&[String]>,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    after: Option<ledger::store::JournalCursor>,
    limit: i64,
) -> Result<Vec<JournalRow>, sqlx::Error> {
    let (after_at, after_entry, after_posting) = match after {
        Some((at, entry, posting)) => (Some(at), entry, posting),
        None => (None, 0, 0),
    };
    sqlx::query_as::<_, JournalRow>(concat!(
        "select e.id as entry_id, p.created_at, e.office_code, e.kind, e.description,
                e.reverses_entry_id, e.corrects_period, p.id as posting_id, a.code as account,
                p.currency::text as currency, p.amount_minor, s.seq as seal_seq,
                encode(s.hash, 'hex') as seal_hash, ",
        trace_columns!(),
        " from ledger_postings p
         join ledger_entries e on e.id = p.entry_id
         join ledger_accounts a on a.id = p.account_id
         left join ledger_seals s on s.entry_id = p.entry_id ",
        trace_join!(),
        " where p.created_at > $2 and p.created_at <= $3
           and ($1::text[] is null or p.office_code = any ($1))
           and ($4::timestamptz is null or (p.created_at, p.entry_id, p.id) > ($4, $5, $6))
         order by p.created_at, p.entry_id, p.id
         limit $7"
    ))
    .bind(offices)
    .bind(from)
    .bind(to)
    .bind(after_at)
    .bind(after_entry)
    .bind(after_posting)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// How many postings the journal of `(from, to]` for `offices` has, counting no further than
/// `cap` (so a huge range costs no more than `cap` rows to refuse).
pub async fn journal_count(
    conn: &mut PgConnection,
    offices: Option<&[String]>,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    cap: i64,
) -> Result<i64, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar(
        "select count(*) from (
             select 1 from ledger_postings p
             where p.created_at > $2 and p.created_at <= $3
               and ($1::text[] is null or p.office_code = any ($1))
             limit $4) capped",
    )
    .bind(offices)
    .bind(from)
    .bind(to)
    .bind(cap)
    .fetch_one(conn)
    .await
}

/// Every office's code, in order: the office choice of a national reader.
pub async fn office_codes(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar("select code from offices order by code collate \"C\"")
        .fetch_all(conn)
        .await
}
