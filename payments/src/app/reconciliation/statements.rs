//! Loading a bank statement: the file is checked whole (format, account, office, currencies,
//! period), kept as received next to its parsed lines, and matched against the account's
//! ledger items in the same transaction: each match posts its entry, what stays unmatched
//! becomes an exception, and an earlier item exception that a late line now settles is
//! resolved (`matched_later`).

use std::collections::BTreeSet;

use bank_adapters::statement::{self, Direction, Problem, Statement, StatementFormat};
use chrono::{DateTime, Days, FixedOffset, NaiveDate, TimeZone as _, Utc};
use ledger::{AccountCode, Currency, EntryBuilder, Money};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::matching::{self, Flow, ItemKind, LedgerItem, Line, LinePart, Outcome, Rules};
use super::postings;
use crate::app::auth::{Principal, Role};
use crate::app::error::{AppError, Refusal};
use crate::app::money::MoneyView;
use crate::app::outbox::{self, Event, NewEvent};
use crate::app::pagination::{cursor, Page};
use crate::app::staff;
use crate::app::states::ExceptionKind;
use crate::db;
use crate::db::reconciliation::{AccountRow, ItemRow, NewLines, StatementRow};
use crate::state::AppState;

/// Who loads statements and reads reconciliation (API.md: supervisor, auditor, admin).
pub const RECONCILIATION_ROLES: [Role; 3] = [Role::Supervisor, Role::Auditor, Role::Admin];

/// How many days around a statement's period the ledger items it may settle are read: a
/// payment made on the last day of a period is booked by the bank days later, and a late line
/// settles an item of an earlier statement.
const ITEM_WINDOW_DAYS: u64 = 7;

/// What the caller says the uploaded body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    Camt053,
    Csv,
}

/// `POST /v1/reconciliation/statements`'s answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoadedStatement {
    pub id: Uuid,
    pub account_id: String,
    pub office_code: String,
    /// `camt053` or `csv`.
    pub format: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Lines in the file.
    pub lines: i64,
    /// Lines matched on loading (0 on a duplicate: nothing was loaded again).
    pub matched: i64,
    /// Exceptions raised on loading: unmatched lines and unmatched items.
    pub exceptions: i64,
    /// True when the same file was loaded before; `id` is then that statement's.
    pub duplicate: bool,
}

/// One problem of a refused file, as the 422 `statement_invalid` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementProblem {
    /// `line 4` (CSV, the header is line 1), an element path, or `file`.
    pub location: String,
    pub message: String,
}

fn invalid(problems: Vec<Problem>) -> AppError {
    let count = problems.len();
    let listed: Vec<serde_json::Value> = problems
        .into_iter()
        .map(|problem| json!({"location": problem.location, "message": problem.message}))
        .collect();
    AppError::unprocessable(
        "statement_invalid",
        "Statement invalid",
        format!("the statement has {count} problem(s); nothing was stored"),
    )
    .with("problems", listed)
}

fn account_unknown(account_id: &str) -> AppError {
    AppError::NotFound(Refusal::new(
        "account_unknown",
        "Account unknown",
        format!("no account {account_id:?} of an office you see"),
    ))
}

/// The first instant of a Cambodian day (UTC+7).
pub fn day_start(day: NaiveDate) -> Result<DateTime<Utc>, AppError> {
    let offset =
        FixedOffset::east_opt(7 * 3600).ok_or_else(|| AppError::internal("UTC+7 offset"))?;
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| AppError::internal("midnight"))?;
    offset
        .from_local_datetime(&midnight)
        .single()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| AppError::internal("a day's start"))
}

fn shift(day: NaiveDate, back: bool, days: u64) -> Result<NaiveDate, AppError> {
    let moved = if back {
        day.checked_sub_days(Days::new(days))
    } else {
        day.checked_add_days(Days::new(days))
    };
    moved.ok_or_else(|| AppError::validation("to", "the statement's period is out of range"))
}

/// Reads the file; every problem at once.
fn parse(upload: Upload, body: &[u8]) -> Result<Statement, AppError> {
    if body.is_empty() {
        return Err(invalid(vec![Problem::new("file", "the file is empty")]));
    }
    let parsed = match upload {
        Upload::Camt053 => statement::parse_camt053(body),
        Upload::Csv => statement::parse_csv(body),
    };
    parsed.map_err(invalid)
}

/// Which account the upload is for: the file's (camt) or the query's (CSV); both given must
/// agree.
fn account_of(parsed: &Statement, query: Option<&str>) -> Result<String, AppError> {
    let query = query.map(str::trim).filter(|value| !value.is_empty());
    match (parsed.account_id.as_deref(), query) {
        (Some(file), Some(asked)) if file != asked => Err(AppError::unprocessable(
            "account_mismatch",
            "Account mismatch",
            format!("the file is a statement of account {file:?}, not {asked:?}"),
        )
        .with("parameter", "account_id")),
        (Some(file), _) => Ok(file.to_owned()),
        (None, Some(asked)) => Ok(asked.to_owned()),
        (None, None) => Err(AppError::validation(
            "account_id",
            "a CSV statement names its account with ?account_id=",
        )),
    }
}

/// Loads a statement (API.md "Bank statements"): 201 with what was matched, or the earlier
/// statement (`duplicate`) when the same bytes were loaded before.
#[tracing::instrument(skip_all, fields(statement.bytes = body.len()))]
pub async fn load(
    state: &AppState,
    principal: &Principal,
    upload: Upload,
    account_query: Option<&str>,
    body: &[u8],
) -> Result<LoadedStatement, AppError> {
    principal.require(&RECONCILIATION_ROLES)?;
    let parsed = parse(upload, body)?;
    let account_id = account_of(&parsed, account_query)?;
    let sha256 = Sha256::digest(body).to_vec();
    let mut tx = state.pool.begin().await?;
    // The lock serializes loads of one account across instances: the overlap check below
    // then sees every statement committed before it.
    let accounts = db::reconciliation::lock_account(&mut tx, &account_id).await?;
    let Some(first) = accounts.first() else {
        return Err(account_unknown(&account_id));
    };
    let office_code = first.office_code.clone();
    if !principal.sees_office(&office_code) {
        return Err(account_unknown(&account_id));
    }
    check_currencies(&parsed, &accounts)?;
    if let Some(earlier) = db::reconciliation::statement_by_sha256(&mut tx, &sha256).await? {
        return duplicate(principal, earlier);
    }
    if let Some(other) =
        db::reconciliation::overlapping_statement(&mut tx, &account_id, parsed.from, parsed.to)
            .await?
    {
        return Err(AppError::conflict(
            "statement_overlaps",
            "Statement overlaps",
            format!(
                "statement {other} of account {account_id} already covers part of {} to {}",
                parsed.from, parsed.to
            ),
        )
        .with("statement_id", other.to_string()));
    }
    let id = Uuid::now_v7();
    let line_count = i32::try_from(parsed.lines.len())
        .map_err(|_| AppError::validation("body", "too many lines"))?;
    let by_name = actor_name(&mut tx, principal).await?;
    let stored = db::reconciliation::insert_statement(
        &mut tx,
        &db::reconciliation::NewStatement {
            id,
            account_id: &account_id,
            office_code: &office_code,
            format: parsed.format.as_str(),
            sha256: &sha256,
            raw: body,
            bank_statement_id: parsed.bank_statement_id.as_deref(),
            period_from: parsed.from,
            period_to: parsed.to,
            line_count,
            created_by_user_id: principal.staff.as_ref().map(|staff| staff.user_id),
            created_by_key_id: principal.api_key_id(),
            created_by_name: &by_name,
        },
    )
    .await?;
    if !stored {
        // The same file for another account won a race; answer as for a duplicate.
        drop(tx);
        let mut conn = state.pool.acquire().await?;
        let earlier = db::reconciliation::statement_by_sha256(&mut conn, &sha256)
            .await?
            .ok_or_else(|| AppError::internal("a statement's hash conflicted, then vanished"))?;
        return duplicate(principal, earlier);
    }
    let (line_ids, new_lines) = stored_lines(&parsed)?;
    db::reconciliation::insert_lines(&mut tx, id, &office_code, &account_id, &new_lines).await?;
    let context = Context {
        office_code: &office_code,
        account_id: &account_id,
        accounts: &accounts,
        from: parsed.from,
        to: parsed.to,
    };
    let (matched, exceptions) =
        match_and_record(&mut tx, &context, &parsed, &line_ids, &new_lines).await?;
    staff::record(
        &mut tx,
        principal,
        "statement_load",
        Some(&office_code),
        Some(&id.to_string()),
        json!({"account_id": account_id, "format": parsed.format.as_str(), "from": parsed.from,
            "to": parsed.to, "lines": line_count, "matched": matched, "exceptions": exceptions}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(statement.id = %id, office.code = %office_code, statement.lines = line_count, statement.matched = matched, statement.exceptions = exceptions, "bank statement loaded");
    Ok(LoadedStatement {
        id,
        account_id,
        office_code,
        format: parsed.format.as_str().to_owned(),
        from: parsed.from,
        to: parsed.to,
        lines: i64::from(line_count),
        matched,
        exceptions,
        duplicate: false,
    })
}

fn duplicate(principal: &Principal, earlier: StatementRow) -> Result<LoadedStatement, AppError> {
    if !principal.sees_office(&earlier.office_code) {
        return Err(account_unknown(&earlier.account_id));
    }
    Ok(LoadedStatement {
        id: earlier.id,
        account_id: earlier.account_id,
        office_code: earlier.office_code,
        format: earlier.format,
        from: earlier.period_from,
        to: earlier.period_to,
        lines: i64::from(earlier.line_count),
        matched: 0,
        exceptions: 0,
        duplicate: true,
    })
}

/// The name recorded beside a statement: the person's, else the key's.
async fn actor_name(conn: &mut PgConnection, principal: &Principal) -> Result<String, AppError> {
    if let Some(staff) = &principal.staff {
        return Ok(staff.name.clone());
    }
    let _ = conn;
    Ok(format!("api key {}", principal.key_id))
}

/// Every line's currency must be one of the account's (and the file's own account currency,
/// when it names one).
fn check_currencies(parsed: &Statement, accounts: &[AccountRow]) -> Result<(), AppError> {
    let held: BTreeSet<&str> = accounts.iter().map(|row| row.currency.trim()).collect();
    let named = parsed.currency.iter().map(|currency| ("file", currency));
    let lines = parsed.lines.iter().map(|line| ("line", &line.currency));
    for (what, currency) in named.chain(lines) {
        if !held.contains(currency.as_str()) {
            let list = held.iter().copied().collect::<Vec<_>>().join(", ");
            return Err(AppError::unprocessable(
                "currency_mismatch",
                "Currency mismatch",
                format!("a {what} is in {currency}; the account holds {list}"),
            ));
        }
    }
    Ok(())
}

fn minor_of(amount: rust_decimal::Decimal, currency: &str) -> Result<i64, AppError> {
    let currency: Currency = currency
        .parse()
        .map_err(|_| AppError::validation("currency", "currency must be KHR or USD"))?;
    Ok(Money::from_decimal(amount, currency)?.amount_minor())
}

/// The parsed lines as stored (ids chosen here so matches and exceptions can name them).
fn stored_lines(parsed: &Statement) -> Result<(Vec<Uuid>, NewLines), AppError> {
    let mut lines = NewLines::default();
    for line in &parsed.lines {
        let parts: Vec<serde_json::Value> = line
            .parts
            .iter()
            .map(|part| {
                let amount_minor = part
                    .amount
                    .map(|amount| minor_of(amount, &line.currency))
                    .transpose()?;
                Ok(
                    json!({"transaction_id": part.transaction_id, "reference": part.reference,
                    "amount_minor": amount_minor}),
                )
            })
            .collect::<Result<_, AppError>>()?;
        lines.ids.push(Uuid::now_v7());
        lines.line_nos.push(
            i32::try_from(line.line_no).map_err(|_| AppError::validation("body", "line number"))?,
        );
        lines.booking_dates.push(line.booking_date);
        lines.transaction_ids.push(line.transaction_id.clone());
        lines.references.push(line.reference.clone());
        lines.currencies.push(line.currency.clone());
        lines
            .amounts_minor
            .push(minor_of(line.amount, &line.currency)?);
        lines.directions.push(line.direction.as_str().to_owned());
        lines.descriptions.push(line.description.clone());
        lines.details.push(serde_json::Value::Array(parts));
    }
    Ok((lines.ids.clone(), lines))
}

/// What the recording of one statement's matching needs to know.
struct Context<'a> {
    office_code: &'a str,
    account_id: &'a str,
    accounts: &'a [AccountRow],
    from: NaiveDate,
    to: NaiveDate,
}

impl Context<'_> {
    fn account(&self, currency: &str) -> Result<&AccountRow, AppError> {
        self.accounts
            .iter()
            .find(|row| row.currency.trim() == currency)
            .ok_or_else(|| AppError::internal("a line's currency lost its account"))
    }
}

fn matcher_lines(parsed: &Statement, stored: &NewLines) -> Vec<Line> {
    parsed
        .lines
        .iter()
        .zip(&stored.amounts_minor)
        .map(|(line, amount_minor)| Line {
            flow: match line.direction {
                Direction::Credit => Flow::In,
                Direction::Debit => Flow::Out,
            },
            currency: line.currency.clone(),
            amount_minor: *amount_minor,
            booking_date: line.booking_date,
            transaction_id: line.transaction_id.clone(),
            reference: line.reference.clone(),
            parts: line
                .parts
                .iter()
                .map(|part| LinePart {
                    transaction_id: part.transaction_id.clone(),
                    reference: part.reference.clone(),
                    amount_minor: part
                        .amount
                        .and_then(|amount| minor_of(amount, &line.currency).ok()),
                })
                .collect(),
        })
        .collect()
}

fn matcher_items(rows: &[ItemRow]) -> Vec<LedgerItem> {
    rows.iter()
        .map(|row| LedgerItem {
            posting_id: row.posting_id,
            kind: match row.source.as_str() {
                "deposit" => ItemKind::Deposit,
                "refund" => ItemKind::Refund,
                _ => ItemKind::Channel(row.channel.clone()),
            },
            flow: if row.source == "refund" {
                Flow::Out
            } else {
                Flow::In
            },
            currency: row.currency.trim().to_owned(),
            amount_minor: row.amount_minor,
            date: row.day,
            keys: row.keys.clone(),
        })
        .collect()
}

/// Reads the candidates, runs the matcher and records its outcome; returns (matched lines,
/// exceptions raised).
async fn match_and_record(
    conn: &mut PgConnection,
    context: &Context<'_>,
    parsed: &Statement,
    line_ids: &[Uuid],
    stored: &NewLines,
) -> Result<(i64, i64), AppError> {
    let since = day_start(shift(context.from, true, ITEM_WINDOW_DAYS)?)?;
    let until = day_start(shift(context.to, false, ITEM_WINDOW_DAYS + 1)?)?;
    let rows =
        db::reconciliation::candidate_items(&mut *conn, context.account_id, since, until).await?;
    let items = matcher_items(&rows);
    let lines = matcher_lines(parsed, stored);
    let outcome: Outcome = matching::reconcile(&items, &lines, &Rules::default());
    let mut exceptions = 0;
    for found in &outcome.matches {
        record_match(conn, context, found, &rows, &lines, line_ids).await?;
    }
    for &index in &outcome.unmatched_lines {
        let (Some(line), Some(line_id), Some(parsed_line)) = (
            lines.get(index),
            line_ids.get(index),
            parsed.lines.get(index),
        ) else {
            return Err(AppError::internal("the matcher named a line out of range"));
        };
        let raised = raise_line(conn, context, line, *line_id, parsed_line.line_no).await?;
        exceptions += i64::from(raised);
    }
    for &index in &outcome.unmatched_items {
        let Some(row) = rows.get(index) else {
            return Err(AppError::internal("the matcher named an item out of range"));
        };
        if row.day < context.from || row.day > context.to {
            continue;
        }
        exceptions += i64::from(raise_item(conn, context, row).await?);
    }
    let matched = i64::try_from(outcome.matches.len()).unwrap_or(i64::MAX);
    Ok((matched, exceptions))
}

fn money(amount_minor: i64, currency: &str) -> Result<Money, AppError> {
    crate::app::money::from_row(amount_minor, currency)
}

/// Posts a match's entry and records it. In: D bank (the line) + D bank-fees (the fee) · C each
/// item's account (its amount). Out: D each item's account (refunds-payable) · C bank (the
/// line), any difference to bank-fees.
async fn record_match(
    conn: &mut PgConnection,
    context: &Context<'_>,
    found: &matching::Match,
    rows: &[ItemRow],
    lines: &[Line],
    line_ids: &[Uuid],
) -> Result<(), AppError> {
    let (Some(line), Some(line_id)) = (lines.get(found.line), line_ids.get(found.line)) else {
        return Err(AppError::internal("the matcher named a line out of range"));
    };
    let items: Vec<&ItemRow> = found
        .items
        .iter()
        .map(|&index| rows.get(index))
        .collect::<Option<_>>()
        .ok_or_else(|| AppError::internal("the matcher named an item out of range"))?;
    let account = context.account(&line.currency)?;
    let currency: Currency = line
        .currency
        .parse()
        .map_err(|_| AppError::internal("a stored line's currency"))?;
    let (kind, what) = match line.flow {
        Flow::In => ("bank_settlement", "settled on the bank statement"),
        Flow::Out => ("bank_payment_out", "paid out on the bank statement"),
    };
    let builder = EntryBuilder::new(
        context.office_code,
        kind,
        &format!("{} line {line_id} {what}", context.account_id),
    )
    .idempotency_key(format!("statement_line:{line_id}"))
    .metadata(
        json!({"statement_line_id": line_id, "account_id": context.account_id,
        "method": found.method.as_str(), "fee_minor": found.fee_minor}),
    );
    let settled = postings::Settled {
        office_code: context.office_code,
        bank_segment: &account.ledger_segment,
        currency,
        flow: line.flow,
        line_minor: line.amount_minor,
        fee_minor: found.fee_minor,
        items: items
            .iter()
            .map(|item| Ok((AccountCode::parse(&item.account_code)?, item.amount_minor)))
            .collect::<Result<_, AppError>>()?,
    };
    let entry = postings::entry(&settled, builder)?;
    let entry = entry.build()?;
    let entry_id = match ledger::store::post(&mut *conn, &entry).await? {
        ledger::store::PostOutcome::Posted(id) | ledger::store::PostOutcome::AlreadyPosted(id) => {
            id.0
        }
    };
    let match_id = Uuid::now_v7();
    db::reconciliation::insert_match(
        &mut *conn,
        &db::reconciliation::NewMatch {
            id: match_id,
            statement_line_id: *line_id,
            office_code: context.office_code,
            method: found.method.as_str(),
            fee_minor: found.fee_minor,
            ledger_entry_id: entry_id,
            posting_ids: items.iter().map(|item| item.posting_id).collect(),
            entry_ids: items.iter().map(|item| item.entry_id).collect(),
            amounts_minor: items.iter().map(|item| item.amount_minor).collect(),
        },
    )
    .await?;
    let posting_ids: Vec<i64> = items.iter().map(|item| item.posting_id).collect();
    let open = db::reconciliation::open_item_exceptions(&mut *conn, &posting_ids).await?;
    for (exception_id, posting_id) in open {
        let reason = format!(
            "matched later by statement line {line_id} ({} booked {}) to posting {posting_id}",
            context.account_id, line.booking_date
        );
        db::reconciliation::resolve_matched_later(
            &mut *conn,
            exception_id,
            context.office_code,
            match_id,
            &reason,
        )
        .await?;
    }
    Ok(())
}

/// An unmatched line becomes an exception (and its event).
async fn raise_line(
    conn: &mut PgConnection,
    context: &Context<'_>,
    line: &Line,
    line_id: Uuid,
    line_no: u32,
) -> Result<bool, AppError> {
    let account = context.account(&line.currency)?;
    let amount = money(line.amount_minor, &line.currency)?;
    let direction = match line.flow {
        Flow::In => "CRDT",
        Flow::Out => "DBIT",
    };
    let transaction_id = line
        .transaction_id
        .clone()
        .unwrap_or_else(|| line_id.to_string());
    let exception = db::reconciliation::NewStatementException {
        id: Uuid::now_v7(),
        office_code: context.office_code,
        kind: ExceptionKind::UnmatchedStatementLine.as_str(),
        provider: &account.kind,
        provider_transaction_id: &transaction_id,
        payment_intent_id: None,
        amount: &amount.format_amount(),
        currency: amount.currency().code(),
        statement_line_id: Some(line_id),
        item_posting_id: None,
        ledger_entry_id: None,
        account_id: context.account_id,
        business_date: line.booking_date,
        details: json!({"amount_minor": line.amount_minor, "direction": direction,
            "line_no": line_no, "reference": line.reference}),
    };
    let raised = db::reconciliation::insert_exception(&mut *conn, &exception).await?;
    if raised {
        stage_event(conn, &exception, amount).await?;
    }
    Ok(raised)
}

/// An unmatched item of the period becomes an exception, unless one is open for it already.
async fn raise_item(
    conn: &mut PgConnection,
    context: &Context<'_>,
    row: &ItemRow,
) -> Result<bool, AppError> {
    let amount = money(row.amount_minor, &row.currency)?;
    let direction = if row.source == "refund" {
        "DBIT"
    } else {
        "CRDT"
    };
    let transaction_id = row
        .keys
        .first()
        .cloned()
        .unwrap_or_else(|| format!("posting:{}", row.posting_id));
    let exception = db::reconciliation::NewStatementException {
        id: Uuid::now_v7(),
        office_code: context.office_code,
        kind: ExceptionKind::UnmatchedLedgerItem.as_str(),
        provider: &row.channel,
        provider_transaction_id: &transaction_id,
        payment_intent_id: row.payment_intent_id,
        amount: &amount.format_amount(),
        currency: amount.currency().code(),
        statement_line_id: None,
        item_posting_id: Some(row.posting_id),
        ledger_entry_id: Some(row.entry_id),
        account_id: context.account_id,
        business_date: row.day,
        details: json!({"amount_minor": row.amount_minor, "direction": direction,
            "source": row.source, "ledger_account": row.account_code, "keys": row.keys}),
    };
    let raised = db::reconciliation::insert_exception(&mut *conn, &exception).await?;
    if raised {
        stage_event(conn, &exception, amount).await?;
    }
    Ok(raised)
}

async fn stage_event(
    conn: &mut PgConnection,
    exception: &db::reconciliation::NewStatementException<'_>,
    amount: Money,
) -> Result<(), AppError> {
    let kind = ExceptionKind::from_text(exception.kind)
        .ok_or_else(|| AppError::internal("an exception kind without a name"))?;
    let event = Event::ReconciliationException(outbox::ReconciliationException {
        exception_id: exception.id,
        kind,
        office_code: exception.office_code.to_owned(),
        payment_intent_id: exception.payment_intent_id,
        case_reference: None,
        provider: exception.provider.to_owned(),
        provider_transaction_id: exception.provider_transaction_id.to_owned(),
        amount: MoneyView::from(amount),
    });
    outbox::enqueue(
        conn,
        NewEvent {
            office_code: exception.office_code,
            case_reference: None,
            payment_intent_id: exception.payment_intent_id,
            event,
        },
    )
    .await?;
    Ok(())
}

/// A stored statement as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementSummary {
    pub id: Uuid,
    pub account_id: String,
    pub office_code: String,
    pub format: String,
    pub bank_statement_id: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub lines: i64,
    pub loaded_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<StatementRow> for StatementSummary {
    fn from(row: StatementRow) -> StatementSummary {
        StatementSummary {
            id: row.id,
            account_id: row.account_id,
            office_code: row.office_code,
            format: row.format,
            bank_statement_id: row.bank_statement_id,
            from: row.period_from,
            to: row.period_to,
            lines: i64::from(row.line_count),
            loaded_by: row.created_by_name,
            created_at: row.created_at,
        }
    }
}

/// One line of a stored statement and what became of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementLineView {
    pub id: Uuid,
    pub line_no: i32,
    pub booking_date: NaiveDate,
    pub transaction_id: Option<String>,
    pub reference: Option<String>,
    pub amount: MoneyView,
    /// `CRDT` or `DBIT`.
    pub direction: String,
    pub description: Option<String>,
    /// `matched`, `exception` (open) or `resolved` (its exception was worked).
    pub status: String,
    /// How it was matched (`exact`, `fee_deducted`, `batch`, ...), when matched.
    pub method: Option<String>,
    pub fee: Option<MoneyView>,
    pub match_id: Option<Uuid>,
    /// The match's ledger entry.
    pub ledger_entry_id: Option<i64>,
    /// The ledger postings it settled.
    pub item_posting_ids: Vec<i64>,
    pub exception_id: Option<Uuid>,
}

/// `GET /v1/reconciliation/statements/{id}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementDetail {
    #[serde(flatten)]
    pub statement: StatementSummary,
    pub matched: i64,
    pub exceptions: i64,
    pub lines_detail: Vec<StatementLineView>,
}

/// A statement of an office the caller sees, with its lines.
#[tracing::instrument(skip_all, fields(statement.id = %id))]
pub async fn get(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<StatementDetail, AppError> {
    principal.require(&RECONCILIATION_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let row = db::reconciliation::statement(&mut conn, id)
        .await?
        .filter(|row| principal.sees_office(&row.office_code))
        .ok_or_else(|| AppError::not_found("statement"))?;
    let lines = db::reconciliation::lines_of(&mut conn, id).await?;
    let mut matched = 0;
    let mut exceptions = 0;
    let mut views = Vec::with_capacity(lines.len());
    for line in lines {
        let status = if line.match_id.is_some() {
            matched += 1;
            "matched"
        } else if line.exception_status.as_deref() == Some("resolved") {
            "resolved"
        } else {
            exceptions += 1;
            "exception"
        };
        views.push(StatementLineView {
            id: line.id,
            line_no: line.line_no,
            booking_date: line.booking_date,
            transaction_id: line.transaction_id,
            reference: line.reference,
            amount: MoneyView::from_row(line.amount_minor, &line.currency)?,
            direction: line.direction,
            description: line.description,
            status: status.to_owned(),
            method: line.method,
            fee: line
                .fee_minor
                .map(|fee| MoneyView::from_row(fee, &line.currency))
                .transpose()?,
            match_id: line.match_id,
            ledger_entry_id: line.match_entry_id,
            item_posting_ids: line.item_posting_ids,
            exception_id: line.exception_id,
        });
    }
    Ok(StatementDetail {
        statement: row.into(),
        matched,
        exceptions,
        lines_detail: views,
    })
}

/// `GET /v1/reconciliation/statements` filters.
#[derive(Debug, Default)]
pub struct StatementFilter {
    pub office_code: Option<String>,
    pub account_id: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Statements of the caller's offices, newest first.
#[tracing::instrument(skip_all)]
pub async fn list(
    state: &AppState,
    principal: &Principal,
    filter: StatementFilter,
) -> Result<Page<StatementSummary>, AppError> {
    principal.require(&RECONCILIATION_ROLES)?;
    let limit = cursor::limit(filter.limit)?;
    if filter
        .office_code
        .as_deref()
        .is_some_and(|code| !principal.sees_office(code))
    {
        return Ok(Page {
            data: Vec::new(),
            next_cursor: None,
        });
    }
    let after = filter.cursor.as_deref().map(cursor::decode).transpose()?;
    let mut conn = state.pool.acquire().await?;
    let rows = db::reconciliation::list_statements(
        &mut conn,
        principal.office_filter(),
        filter.office_code.as_deref(),
        filter.account_id.as_deref(),
        after,
        limit + 1,
    )
    .await?;
    let page = cursor::paginate(rows, limit, |row| (row.created_at, row.id));
    Ok(Page {
        data: page.data.into_iter().map(StatementSummary::from).collect(),
        next_cursor: page.next_cursor,
    })
}

/// The accounts of the offices the caller sees (for the console's account select).
pub async fn accounts(
    state: &AppState,
    principal: &Principal,
    office_code: Option<&str>,
) -> Result<Vec<AccountRow>, AppError> {
    principal.require(&RECONCILIATION_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    Ok(db::reconciliation::accounts(&mut conn, principal.office_filter(), office_code).await?)
}

/// Which upload a format is.
impl From<StatementFormat> for Upload {
    fn from(format: StatementFormat) -> Upload {
        match format {
            StatementFormat::Camt053 => Upload::Camt053,
            StatementFormat::Csv => Upload::Csv,
        }
    }
}
