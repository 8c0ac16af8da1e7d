//! An account's postings over a range: pages by cursor with the opening balance of each page
//! and the closing balance of the range, and the whole range streamed as CSV. Every line
//! carries its trace (intent, receipt number, channel, bank transaction id).

use chrono::{DateTime, Utc};
use ledger::store::{self, AccountRef, ClosedPeriod};
use ledger::Money;
use sqlx::PgPool;
use tracing::Instrument as _;

use super::accounts::visible_account;
use super::export::{self, Chunk, ExportInfo};
use super::range;
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::app::pagination::cursor;
use crate::db;
use crate::db::books::Trace;
use crate::state::AppState;

/// One line of a statement, with the account's balance after it.
#[derive(Debug, Clone)]
pub struct StatementLine {
    pub posting_id: i64,
    pub entry_id: i64,
    pub created_at: DateTime<Utc>,
    pub kind: String,
    pub description: String,
    /// Signed: debit positive, credit negative.
    pub amount_minor: i64,
    pub balance_minor: i64,
    pub trace: Trace,
}

/// One page of the statement of one account for `(from, to]`.
#[derive(Debug)]
pub struct AccountStatement {
    pub account: AccountRef,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The balance before this page's first line (at `from` on the first page).
    pub opening_minor: i64,
    pub lines: Vec<StatementLine>,
    /// The balance at `to`: the end of the range, whatever the page.
    pub closing_minor: i64,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
    /// The page before: `Some(None)` is the first page, `None` means this is the first.
    pub previous_cursor: Option<Option<String>>,
    /// Months of the account's office closed in the range (read-only books).
    pub closed_months: Vec<ClosedPeriod>,
}

fn encode(key: (DateTime<Utc>, i64)) -> String {
    cursor::encode_key(&format!("{}|{}", key.0.timestamp_micros(), key.1))
}

fn decode(raw: &str) -> Result<(DateTime<Utc>, i64), AppError> {
    let invalid = || AppError::validation("cursor", "cursor is not one this API returned");
    let key = cursor::decode_key(raw)?;
    let (micros, id) = key.split_once('|').ok_or_else(invalid)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .filter(|at| crate::app::dates::timestamp_in_range(*at))
        .ok_or_else(invalid)?;
    Ok((at, id.parse().map_err(|_| invalid())?))
}

/// One page of the statement of account `code` for `(from, to]` (`to` defaults to now):
/// `limit` lines (1 to 500, default 50) after `cursor`. Walking every page gives every posting
/// of the range once; each page's opening balance plus its lines is the next page's opening.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id, ledger_account.code = %code))]
pub async fn statement(
    state: &AppState,
    principal: &Principal,
    code: &str,
    (from, to): (DateTime<Utc>, Option<DateTime<Utc>>),
    limit: Option<i64>,
    after: Option<&str>,
) -> Result<AccountStatement, AppError> {
    let (from, to) = range(from, to)?;
    let limit = cursor::limit(limit)?;
    let after = after.map(decode).transpose()?;
    let account = visible_account(state, principal, code).await?;
    let mut conn = state.pool.acquire().await?;
    let mut previous_cursor = None;
    let opening_minor = match after {
        None => {
            store::account_balance(&mut conn, &account, from)
                .await?
                .balance_minor
        }
        // The balance after the cursor's posting: the balance just before its instant (from
        // the daily roll-ups, so a deep page costs no more than the first) plus the postings
        // of that instant up to it. PostgreSQL keeps microseconds, so "just before" is 1 µs.
        Some((at, id)) => {
            if at <= from || at > to {
                return Err(AppError::validation(
                    "cursor",
                    "cursor is not one this API returned for this range",
                ));
            }
            let before = at - chrono::TimeDelta::microseconds(1);
            let balance = store::account_balance(&mut conn, &account, before)
                .await?
                .balance_minor;
            let same_instant = db::books::statement_sum_at(&mut conn, account.id, (at, id)).await?;
            balance
                .checked_add(same_instant)
                .ok_or_else(|| AppError::internal("statement balance overflows"))?
        }
    };
    if let Some(after) = after {
        previous_cursor = db::books::statement_previous(&mut conn, account.id, from, after, limit)
            .await?
            .map(|key| key.map(encode));
    }
    let mut rows = db::books::statement_rows(
        &mut conn,
        account.id,
        (from, to),
        after,
        limit.saturating_add(1),
    )
    .await?;
    let keep = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > keep;
    rows.truncate(keep);
    let closing_minor = store::account_balance(&mut conn, &account, to)
        .await?
        .balance_minor;
    let closed_months = closed_in_range(&mut conn, &account.office_code, (from, to)).await?;
    let lines = running(opening_minor, rows)?;
    let next_cursor = more
        .then(|| {
            lines
                .last()
                .map(|line| encode((line.created_at, line.posting_id)))
        })
        .flatten();
    Ok(AccountStatement {
        account,
        from,
        to,
        opening_minor,
        lines,
        closing_minor,
        next_cursor,
        previous_cursor,
        closed_months,
    })
}

/// The closed months of `office_code` that meet `(from, to]`.
pub(super) async fn closed_in_range(
    conn: &mut sqlx::PgConnection,
    office_code: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<ClosedPeriod>, AppError> {
    let office = [office_code.to_owned()];
    let periods = store::list_closed_periods(conn, Some(&office)).await?;
    let (first, last) = (
        super::trial_balance::local_month(from),
        super::trial_balance::local_month(to),
    );
    Ok(periods
        .into_iter()
        .filter(|period| period.month >= first && period.month <= last)
        .collect())
}

fn running(
    mut balance: i64,
    rows: Vec<db::books::StatementRow>,
) -> Result<Vec<StatementLine>, AppError> {
    rows.into_iter()
        .map(|row| {
            balance = balance
                .checked_add(row.amount_minor)
                .ok_or_else(|| AppError::internal("statement balance overflows"))?;
            Ok(StatementLine {
                posting_id: row.posting_id,
                entry_id: row.entry_id,
                created_at: row.created_at,
                kind: row.kind,
                description: row.description,
                amount_minor: row.amount_minor,
                balance_minor: balance,
                trace: row.trace,
            })
        })
        .collect()
}

/// Column names of the statement CSV, in order.
pub const STATEMENT_CSV_HEADER: [&str; 11] = [
    "posting_id",
    "entry_id",
    "created_at",
    "kind",
    "description",
    "payment_intent_id",
    "receipt_number",
    "channel",
    "bank_transaction_id",
    "amount",
    "balance",
];

fn csv_record(line: &StatementLine, account: &AccountRef) -> [String; 11] {
    let money = |minor| Money::from_minor(minor, account.currency).format_amount();
    [
        line.posting_id.to_string(),
        line.entry_id.to_string(),
        line.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        line.kind.clone(),
        line.description.clone(),
        line.trace
            .payment_intent_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        line.trace.receipt_number.clone().unwrap_or_default(),
        line.trace.channel.clone().unwrap_or_default(),
        line.trace.bank_transaction_id.clone().unwrap_or_default(),
        money(line.amount_minor),
        money(line.balance_minor),
    ]
}

/// What a streamed statement names: the account, its balances and the export's facts.
#[derive(Debug)]
pub struct StatementExport {
    pub account: AccountRef,
    pub opening_minor: i64,
    pub closing_minor: i64,
    pub info: ExportInfo,
}

/// Streams the whole statement of `code` for `(from, to]` as CSV, any length: pages read on
/// short statements (no connection held while the client reads), flat memory, cut off after
/// the export's maximum duration like the journal.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id, ledger_account.code = %code))]
pub async fn statement_csv(
    state: &AppState,
    principal: &Principal,
    code: &str,
    (from, to): (DateTime<Utc>, Option<DateTime<Utc>>),
) -> Result<
    (
        StatementExport,
        impl futures_util::Stream<Item = Chunk> + Send + 'static,
    ),
    AppError,
> {
    let (from, to) = range(from, to)?;
    let account = visible_account(state, principal, code).await?;
    let mut conn = state.pool.acquire().await?;
    let opening_minor = store::account_balance(&mut conn, &account, from)
        .await?
        .balance_minor;
    let closing_minor = store::account_balance(&mut conn, &account, to)
        .await?
        .balance_minor;
    let head = store::chain_head(&mut conn).await?;
    drop(conn);
    let info = ExportInfo {
        from,
        to,
        offices: Some(vec![account.office_code.clone()]),
        head,
        made_at: Utc::now(),
    };
    let header = export::csv_chunk(&[STATEMENT_CSV_HEADER.map(str::to_owned)])?;
    let pool = state.pool.clone();
    let max_duration = state.config.export_max_duration;
    let streamed = account.clone();
    let stream = export::spawn_stream(header, max_duration, move |sender, deadline| {
        async move {
            write_statement(
                &pool,
                &streamed,
                (from, to),
                opening_minor,
                &sender,
                deadline,
            )
            .await
        }
        .in_current_span()
    });
    Ok((
        StatementExport {
            account,
            opening_minor,
            closing_minor,
            info,
        },
        stream,
    ))
}

async fn write_statement(
    pool: &PgPool,
    account: &AccountRef,
    range: (DateTime<Utc>, DateTime<Utc>),
    mut balance: i64,
    sender: &tokio::sync::mpsc::Sender<Chunk>,
    deadline: tokio::time::Instant,
) -> Result<(), export::ExportError> {
    let mut after = None;
    loop {
        let rows = {
            let mut conn = pool.acquire().await.map_err(AppError::from)?;
            db::books::statement_rows(&mut conn, account.id, range, after, export::PAGE_ROWS)
                .await
                .map_err(AppError::from)?
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(export::ExportError::PastDeadline);
        }
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= export::PAGE_ROWS;
        let lines = running(balance, rows)?;
        let Some(last) = lines.last() else {
            return Ok(());
        };
        after = Some((last.created_at, last.posting_id));
        balance = last.balance_minor;
        for chunk in lines.chunks(export::CSV_ROWS_PER_CHUNK) {
            let records: Vec<[String; 11]> =
                chunk.iter().map(|line| csv_record(line, account)).collect();
            if sender.send(Ok(export::csv_chunk(&records)?)).await.is_err() {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}
