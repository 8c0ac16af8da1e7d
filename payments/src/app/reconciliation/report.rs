//! The daily reconciliation report of one account (per currency it holds), and which days of
//! an office's accounts are reconciled.

use chrono::{Days, NaiveDate};
use ledger::{AccountCode, AccountKind, Currency};
use serde::Serialize;
use utoipa::ToSchema;

use super::statements::{day_start, RECONCILIATION_ROLES};
use crate::app::auth::Principal;
use crate::app::csv_cells::neutralise;
use crate::app::error::{AppError, Refusal};
use crate::app::money::MoneyView;
use crate::db;
use crate::state::AppState;

/// The longest range `GET /v1/reconciliation/days` answers at once.
pub const MAX_DAYS: i64 = 92;

/// A count and a sum.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountSum {
    pub count: i64,
    pub sum: MoneyView,
}

/// Receipts of one channel that day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelReceipts {
    pub channel: String,
    pub count: i64,
    pub sum: MoneyView,
}

/// The statement lines booked that day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineSums {
    pub count: i64,
    /// Money in (`CRDT`).
    pub credit: MoneyView,
    /// Money out (`DBIT`).
    pub debit: MoneyView,
}

/// What was matched among the day's lines.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatchedSums {
    pub count: i64,
    /// The lines' amounts.
    pub sum: MoneyView,
    /// Bank fees kept from them.
    pub fees: MoneyView,
}

/// One currency of the account that day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CurrencyDay {
    pub currency: String,
    /// The ledger account `{office}:bank:{segment}:{currency}`.
    pub ledger_account: String,
    /// Its balance at the start of the day (Cambodian).
    pub opening_balance: MoneyView,
    pub receipts_by_channel: Vec<ChannelReceipts>,
    /// Cash deposits taken to this account that day.
    pub deposits: CountSum,
    pub statement_lines: LineSums,
    pub matched: MatchedSums,
    /// Open exceptions of lines booked that day.
    pub unmatched_lines: CountSum,
    /// Open exceptions of ledger items of that day.
    pub unmatched_items: CountSum,
    /// Its balance at the end of the day.
    pub closing_balance: MoneyView,
    /// Signed sum of the day's open exceptions: lines in − lines out − items in + items out.
    /// Zero when reconciled.
    pub difference: MoneyView,
}

/// `GET /v1/reconciliation/report`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DailyReport {
    pub office_code: String,
    pub account_id: String,
    pub date: NaiveDate,
    /// A statement covering the day is loaded.
    pub statement_loaded: bool,
    /// A statement covers the day and no exception of the account and day is open.
    pub reconciled: bool,
    pub currencies: Vec<CurrencyDay>,
}

fn view(amount_minor: i64, currency: &str) -> Result<MoneyView, AppError> {
    MoneyView::from_row(amount_minor, currency)
}

/// The daily report of `account_id` on `date`.
#[tracing::instrument(skip_all, fields(account.id = %account_id, report.date = %date))]
pub async fn daily(
    state: &AppState,
    principal: &Principal,
    office_code: Option<&str>,
    account_id: &str,
    date: NaiveDate,
) -> Result<DailyReport, AppError> {
    principal.require(&RECONCILIATION_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let accounts = db::reconciliation::account(&mut conn, account_id).await?;
    let unknown = || {
        AppError::NotFound(Refusal::new(
            "account_unknown",
            "Account unknown",
            format!("no account {account_id:?} of an office you see"),
        ))
    };
    let first = accounts.first().ok_or_else(unknown)?;
    let office = first.office_code.clone();
    if !principal.sees_office(&office) || office_code.is_some_and(|code| code != office) {
        return Err(unknown());
    }
    let start = day_start(date)?;
    let next = date
        .checked_add_days(Days::new(1))
        .ok_or_else(|| AppError::validation("date", "date out of range"))?;
    let end = day_start(next)?;
    let mut currencies = Vec::new();
    let mut statement_loaded = false;
    let mut open = false;
    for account in &accounts {
        let code = account.currency.trim().to_owned();
        let currency: Currency = code
            .parse()
            .map_err(|_| AppError::internal("stored currency"))?;
        let bank = AccountCode::new(
            &office,
            AccountKind::Bank {
                account: account.ledger_segment.clone(),
            },
            currency,
        )?;
        let transit = AccountCode::new(&office, AccountKind::CashInTransit, currency)?;
        let figures = db::reconciliation::day_figures(
            &mut conn,
            account_id,
            &code,
            bank.as_str(),
            transit.as_str(),
            date,
            start,
            end,
        )
        .await?;
        let receipts = db::reconciliation::day_receipts(&mut conn, account_id, &code, start, end)
            .await?
            .into_iter()
            .map(|(channel, count, sum)| {
                Ok(ChannelReceipts {
                    channel,
                    count,
                    sum: view(sum, &code)?,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        statement_loaded = figures.statement_loaded;
        open |= figures.unmatched_lines_count + figures.unmatched_items_count > 0;
        currencies.push(CurrencyDay {
            ledger_account: bank.as_str().to_owned(),
            opening_balance: view(figures.opening_minor, &code)?,
            receipts_by_channel: receipts,
            deposits: CountSum {
                count: figures.deposits_count,
                sum: view(figures.deposits_minor, &code)?,
            },
            statement_lines: LineSums {
                count: figures.lines_count,
                credit: view(figures.lines_credit_minor, &code)?,
                debit: view(figures.lines_debit_minor, &code)?,
            },
            matched: MatchedSums {
                count: figures.matched_count,
                sum: view(figures.matched_minor, &code)?,
                fees: view(figures.matched_fee_minor, &code)?,
            },
            unmatched_lines: CountSum {
                count: figures.unmatched_lines_count,
                sum: view(figures.unmatched_lines_minor, &code)?,
            },
            unmatched_items: CountSum {
                count: figures.unmatched_items_count,
                sum: view(figures.unmatched_items_minor, &code)?,
            },
            closing_balance: view(figures.closing_minor, &code)?,
            difference: view(figures.difference_minor, &code)?,
            currency: code,
        });
    }
    Ok(DailyReport {
        office_code: office,
        account_id: account_id.to_owned(),
        date,
        statement_loaded,
        reconciled: statement_loaded && !open,
        currencies,
    })
}

impl DailyReport {
    /// The report as CSV (`currency,section,item,count,amount`), text cells neutralised
    /// against spreadsheet formulas.
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("office_code,account_id,date,currency,section,item,count,amount\r\n");
        let date = self.date.to_string();
        let mut row = |currency: &str, section: &str, item: &str, count: &str, amount: &str| {
            let cells = [
                self.office_code.as_str(),
                self.account_id.as_str(),
                date.as_str(),
                currency,
                section,
                item,
                count,
                amount,
            ];
            let quoted: Vec<String> = cells
                .iter()
                .map(|cell| format!("\"{}\"", neutralise(cell).replace('"', "\"\"")))
                .collect();
            out.push_str(&quoted.join(","));
            out.push_str("\r\n");
        };
        for day in &self.currencies {
            let c = day.currency.as_str();
            row(
                c,
                "opening_balance",
                &day.ledger_account,
                "",
                &day.opening_balance.amount,
            );
            for channel in &day.receipts_by_channel {
                let count = channel.count.to_string();
                row(c, "receipts", &channel.channel, &count, &channel.sum.amount);
            }
            let count = day.deposits.count.to_string();
            row(c, "deposits", "cash", &count, &day.deposits.sum.amount);
            let count = day.statement_lines.count.to_string();
            row(
                c,
                "statement_lines",
                "CRDT",
                &count,
                &day.statement_lines.credit.amount,
            );
            row(
                c,
                "statement_lines",
                "DBIT",
                "",
                &day.statement_lines.debit.amount,
            );
            let count = day.matched.count.to_string();
            row(c, "matched", "lines", &count, &day.matched.sum.amount);
            row(c, "matched", "fees", "", &day.matched.fees.amount);
            let count = day.unmatched_lines.count.to_string();
            row(
                c,
                "unmatched_lines",
                "",
                &count,
                &day.unmatched_lines.sum.amount,
            );
            let count = day.unmatched_items.count.to_string();
            row(
                c,
                "unmatched_items",
                "",
                &count,
                &day.unmatched_items.sum.amount,
            );
            row(
                c,
                "closing_balance",
                &day.ledger_account,
                "",
                &day.closing_balance.amount,
            );
            row(c, "difference", "", "", &day.difference.amount);
        }
        let reconciled = if self.reconciled { "true" } else { "false" };
        row("", "reconciled", reconciled, "", "");
        out
    }
}

/// One day of one account in `GET /v1/reconciliation/days`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayStatus {
    pub date: NaiveDate,
    pub account_id: String,
    pub statement_loaded: bool,
    pub open_exceptions: i64,
    pub reconciled: bool,
}

/// Per day of `[from, to]` (at most [`MAX_DAYS`]) and account of the office, newest first.
#[tracing::instrument(skip_all, fields(office.code = %office_code))]
pub async fn days(
    state: &AppState,
    principal: &Principal,
    office_code: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayStatus>, AppError> {
    principal.require(&RECONCILIATION_ROLES)?;
    if !principal.sees_office(office_code) {
        return Err(AppError::not_found("office"));
    }
    let span = to.signed_duration_since(from).num_days();
    if !(0..MAX_DAYS).contains(&span) {
        return Err(AppError::validation(
            "to",
            format!("to must be on or after from, at most {MAX_DAYS} days"),
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let rows = db::reconciliation::day_statuses(&mut conn, office_code, from, to).await?;
    Ok(rows
        .into_iter()
        .map(|row| DayStatus {
            date: row.day,
            account_id: row.account_id,
            statement_loaded: row.statement_loaded,
            open_exceptions: row.open_exceptions,
            reconciled: row.statement_loaded && row.open_exceptions == 0,
        })
        .collect())
}
