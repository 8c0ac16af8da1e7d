//! Bank statements from the simulators' own payments, with the discrepancies a reconciliation
//! must find planted on request.
//!
//! Routes (API.md "Bank statements"):
//!
//! - `GET /sim/statements/{account_id}?date=YYYY-MM-DD&format=camt053|csv&noise=...`: what the
//!   simulated banks paid into that account that Cambodian day (UTC+7), as camt.053.001.08
//!   (`application/xml`, the default) or the CSV layout (`text/csv; charset=utf-8`). Bakong
//!   payments land in the KHQR's Bakong account, sandbox payments in the `account_id` their
//!   create request named, deposits in theirs. Lines are in booking order (time, then id).
//! - `POST /sim/deposits {"account_id","slip_reference","amount","currency","date"?}`: cash a
//!   cashier paid in at the bank counter, a `CRDT` line whose reference is the slip's.
//! - `POST /sim/payouts {"account_id","reference","amount","currency","date"?}`: money the bank
//!   paid out of the account on the office's order (a refund), a `DBIT` line whose reference is
//!   the bank's reference the office recorded.
//!
//! `noise` is a comma list, applied in this order whatever order it is written in:
//!
//! - `late_line`: the day's first payment line is booked the next day instead (asking for D
//!   omits it; asking for D+1 lists it first, booked D+1).
//! - `missing_line`: the day's last payment line is left out.
//! - `fee_deducted`: the first payment line is credited less a 1% fee, rounded half away from
//!   zero to the currency's scale and at least one minor unit (a line of one minor unit stays
//!   whole, as nothing would be left).
//! - `batch`: the day's payment lines (not deposits) of one currency become one line, their
//!   sum, transaction id `BATCH-<date>` (`BATCH-<date>-<currency>` when the day has both),
//!   no reference; camt lists each payment as a `TxDtls` with its amount, CSV only the sum.
//!   A day with fewer than two such payments has nothing to batch.
//! - `extra_line`: a credit nobody expects is added last: reference `UNKNOWN-<yyyymmdd>`,
//!   transaction id `SIM-EXTRA-<yyyymmdd>`, 12 300 riel (or 3.07 dollars on a dollar account).
//!
//! Every choice is a function of the stored payments, so the same state gives the same file.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{SimError, SimState};
use crate::statement::{
    cambodian_date, check_currency, currency_scale, parse_amount, write_camt053, write_csv,
    Direction, LinePart, Statement, StatementFormat, StatementLine,
};

/// Deposits kept in memory at most, as for payments.
const MAX_DEPOSITS: usize = 100_000;

/// Longest account id or slip reference (API.md: references ≤ 64).
const MAX_ID_CHARS: usize = 64;

/// The simulated bank's counter deposits and the payments it made out of accounts.
#[derive(Default)]
pub(super) struct DepositStore {
    deposits: Mutex<Vec<Deposit>>,
    payouts: Mutex<Vec<Deposit>>,
}

#[derive(Debug, Clone)]
struct Deposit {
    account_id: String,
    slip_reference: String,
    amount: Decimal,
    currency: String,
    date: NaiveDate,
    transaction_id: String,
    recorded_at: DateTime<Utc>,
}

/// One movement of an account before noise: a payment or a deposit in, a payout out.
#[derive(Debug, Clone)]
struct Credit {
    booked: NaiveDate,
    /// Orders a day's lines: when it happened, then the id.
    at: DateTime<Utc>,
    transaction_id: String,
    reference: String,
    amount: Decimal,
    currency: String,
    description: &'static str,
    /// `Credit` for money in; `Debit` for a payout.
    direction: Direction,
    /// A payment (Bakong or sandbox) rather than a counter deposit: only payments are moved,
    /// dropped, charged or batched by noise.
    payment: bool,
}

/// The discrepancies `noise=` can plant.
#[derive(Debug, Default, Clone, Copy)]
struct Noise {
    missing_line: bool,
    extra_line: bool,
    fee_deducted: bool,
    batch: bool,
    late_line: bool,
}

impl Noise {
    fn parse(text: &str) -> Result<Noise, SimError> {
        let mut noise = Noise::default();
        for word in text
            .split(',')
            .map(str::trim)
            .filter(|word| !word.is_empty())
        {
            match word {
                "missing_line" => noise.missing_line = true,
                "extra_line" => noise.extra_line = true,
                "fee_deducted" => noise.fee_deducted = true,
                "batch" => noise.batch = true,
                "late_line" => noise.late_line = true,
                other => {
                    return Err(SimError::unprocessable(format!(
                        "noise {other:?} is not one of missing_line, extra_line, fee_deducted, \
                         batch, late_line"
                    )))
                }
            }
        }
        Ok(noise)
    }
}

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/sim/statements/{account_id}", get(statement))
        .route("/sim/deposits", post(deposit))
        .route("/sim/payouts", post(payout))
}

async fn statement(
    State(state): State<SimState>,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, SimError> {
    check_id("account_id", &account_id)?;
    let mut date = None;
    let mut format = StatementFormat::Camt053;
    let mut noise = Noise::default();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "date" => date = Some(parse_date(&value)?),
            "format" => {
                format = match value.as_ref() {
                    "camt053" => StatementFormat::Camt053,
                    "csv" => StatementFormat::Csv,
                    other => {
                        return Err(SimError::unprocessable(format!(
                            "format {other:?} is not camt053 or csv"
                        )))
                    }
                }
            }
            "noise" => noise = Noise::parse(&value)?,
            other => {
                return Err(SimError::unprocessable(format!(
                    "unknown query parameter {other:?}; use date, format, noise"
                )))
            }
        }
    }
    let date = date.ok_or_else(|| SimError::unprocessable("date=YYYY-MM-DD is required"))?;
    let credits = credits_into(&state, &account_id).await;
    let statement = build_statement(&account_id, date, format, credits, noise);
    Ok(match format {
        StatementFormat::Camt053 => (
            [(header::CONTENT_TYPE, "application/xml")],
            write_camt053(&statement),
        )
            .into_response(),
        StatementFormat::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            write_csv(&statement),
        )
            .into_response(),
    })
}

/// Every movement of the account: credits from both banks and the counter, payouts.
async fn credits_into(state: &SimState, account_id: &str) -> Vec<Credit> {
    let mut credits = Vec::new();
    for credit in state.inner.bakong.credits_into(account_id).await {
        let transaction = credit.transaction;
        let millis = transaction
            .acknowledged_date_ms
            .unwrap_or(transaction.created_date_ms);
        let at = DateTime::from_timestamp_millis(millis).unwrap_or_default();
        credits.push(Credit {
            booked: cambodian_date(at),
            at,
            transaction_id: transaction.hash,
            reference: credit.bill_number.unwrap_or(credit.md5),
            amount: transaction.amount,
            currency: transaction.currency,
            description: "Bakong KHQR payment",
            direction: Direction::Credit,
            payment: true,
        });
    }
    for credit in state.inner.sandbox.credits_into(account_id).await {
        // The sandbox bank took these amounts when they were paid; one it would not read as
        // the currency's amount has no place on a statement.
        let Ok(amount) = parse_amount(&credit.amount, &credit.currency) else {
            continue;
        };
        credits.push(Credit {
            booked: cambodian_date(credit.paid_at),
            at: credit.paid_at,
            transaction_id: credit.transaction_id,
            reference: credit.provider_reference,
            amount,
            currency: credit.currency,
            description: "Sandbox bank payment",
            direction: Direction::Credit,
            payment: true,
        });
    }
    for deposit in state.inner.deposits.deposits.lock().await.iter() {
        if deposit.account_id == account_id {
            credits.push(Credit {
                booked: deposit.date,
                at: deposit.recorded_at,
                transaction_id: deposit.transaction_id.clone(),
                reference: deposit.slip_reference.clone(),
                amount: deposit.amount,
                currency: deposit.currency.clone(),
                description: "Cash deposit at the counter",
                direction: Direction::Credit,
                payment: false,
            });
        }
    }
    for payout in state.inner.deposits.payouts.lock().await.iter() {
        if payout.account_id == account_id {
            credits.push(Credit {
                booked: payout.date,
                at: payout.recorded_at,
                transaction_id: payout.transaction_id.clone(),
                reference: payout.slip_reference.clone(),
                amount: payout.amount,
                currency: payout.currency.clone(),
                description: "Payment out on the account holder's order",
                direction: Direction::Debit,
                payment: false,
            });
        }
    }
    credits.sort_by(|a, b| {
        (a.booked, a.at, &a.transaction_id).cmp(&(b.booked, b.at, &b.transaction_id))
    });
    credits
}

/// The statement of `date` with the noise planted.
fn build_statement(
    account_id: &str,
    date: NaiveDate,
    format: StatementFormat,
    credits: Vec<Credit>,
    noise: Noise,
) -> Statement {
    let first_payment_of = |day: NaiveDate| -> Option<usize> {
        credits
            .iter()
            .position(|credit| credit.booked == day && credit.payment)
    };
    let moved_away = noise.late_line.then(|| first_payment_of(date)).flatten();
    let moved_in = noise
        .late_line
        .then(|| {
            date.checked_sub_days(Days::new(1))
                .and_then(first_payment_of)
        })
        .flatten();
    let mut day: Vec<Credit> = Vec::new();
    if let Some(late) = moved_in.and_then(|index| credits.get(index)) {
        day.push(Credit {
            booked: date,
            ..late.clone()
        });
    }
    day.extend(
        credits
            .iter()
            .enumerate()
            .filter(|(index, credit)| credit.booked == date && Some(*index) != moved_away)
            .map(|(_, credit)| credit.clone()),
    );
    if noise.missing_line {
        if let Some(last) = day.iter().rposition(|credit| credit.payment) {
            day.remove(last);
        }
    }
    let mut lines: Vec<StatementLine> = day.iter().map(line_of).collect();
    if noise.fee_deducted {
        if let Some(first) = day
            .iter()
            .position(|credit| credit.payment)
            .and_then(|index| lines.get_mut(index))
        {
            deduct_fee(first);
        }
    }
    if noise.batch {
        lines = batch(lines, &day, date);
    }
    if noise.extra_line {
        let currency = lines
            .first()
            .map_or_else(|| "KHR".to_owned(), |line| line.currency.clone());
        let amount = if currency == "USD" {
            Decimal::new(307, 2)
        } else {
            Decimal::from(12_300)
        };
        let stamp = date.format("%Y%m%d");
        lines.push(StatementLine {
            line_no: 0,
            booking_date: date,
            transaction_id: Some(format!("SIM-EXTRA-{stamp}")),
            reference: Some(format!("UNKNOWN-{stamp}")),
            amount,
            currency,
            direction: Direction::Credit,
            description: Some("Transfer from an unknown payer".to_owned()),
            parts: Vec::new(),
        });
    }
    for (index, line) in lines.iter_mut().enumerate() {
        line.line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
    }
    let shared = lines
        .first()
        .map(|line| line.currency.clone())
        .filter(|first| lines.iter().all(|line| line.currency == *first));
    Statement {
        format,
        account_id: Some(account_id.to_owned()),
        currency: shared,
        bank_statement_id: Some(format!("SIM-{}", date.format("%Y%m%d"))),
        from: date,
        to: date,
        lines,
    }
}

fn line_of(credit: &Credit) -> StatementLine {
    StatementLine {
        line_no: 0,
        booking_date: credit.booked,
        transaction_id: Some(credit.transaction_id.clone()),
        reference: Some(credit.reference.clone()),
        amount: credit.amount,
        currency: credit.currency.clone(),
        direction: credit.direction,
        description: Some(credit.description.to_owned()),
        parts: Vec::new(),
    }
}

/// The bank keeps 1% of the payment, rounded half away from zero to the currency's scale and
/// at least one minor unit; a payment of one minor unit is left whole.
fn deduct_fee(line: &mut StatementLine) {
    let scale = currency_scale(&line.currency).unwrap_or(0);
    let minor_unit = Decimal::new(1, scale);
    let fee = (line.amount / Decimal::from(100))
        .round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero)
        .max(minor_unit);
    if line.amount > fee {
        line.amount -= fee;
        line.description = Some(format!(
            "Payment less a bank fee of {fee} {}",
            line.currency
        ));
    }
}

/// Folds the payment lines of each currency into one batch line, where the first of them was.
fn batch(lines: Vec<StatementLine>, day: &[Credit], date: NaiveDate) -> Vec<StatementLine> {
    let payment_currencies: Vec<String> = {
        let mut currencies: Vec<String> = lines
            .iter()
            .zip(day)
            .filter(|(_, credit)| credit.payment)
            .map(|(line, _)| line.currency.clone())
            .collect();
        currencies.sort();
        currencies.dedup();
        currencies
    };
    let mut result: Vec<StatementLine> = Vec::new();
    let mut batches: Vec<(String, usize)> = Vec::new();
    for (line, credit) in lines.iter().zip(day) {
        let members = lines
            .iter()
            .zip(day)
            .filter(|(other, other_credit)| other_credit.payment && other.currency == line.currency)
            .count();
        if !credit.payment || members < 2 {
            result.push(line.clone());
            continue;
        }
        let part = LinePart {
            transaction_id: line.transaction_id.clone(),
            reference: line.reference.clone(),
            amount: Some(line.amount),
        };
        let existing = batches
            .iter()
            .find(|(currency, _)| *currency == line.currency)
            .map(|(_, index)| *index);
        match existing.and_then(|index| result.get_mut(index)) {
            Some(batch_line) => {
                batch_line.amount += line.amount;
                batch_line.parts.push(part);
            }
            None => {
                let stamp = date.format("%Y-%m-%d");
                let transaction_id = if payment_currencies.len() > 1 {
                    format!("BATCH-{stamp}-{}", line.currency)
                } else {
                    format!("BATCH-{stamp}")
                };
                batches.push((line.currency.clone(), result.len()));
                result.push(StatementLine {
                    line_no: 0,
                    booking_date: date,
                    transaction_id: Some(transaction_id),
                    reference: None,
                    amount: line.amount,
                    currency: line.currency.clone(),
                    direction: Direction::Credit,
                    description: Some("Batch settlement".to_owned()),
                    parts: vec![part],
                });
            }
        }
    }
    result
}

/// A cashier's cash paid in at the bank counter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)] // Our own test control API: a misspelt field must not pass silently.
struct DepositRequest {
    account_id: String,
    slip_reference: String,
    amount: String,
    currency: String,
    /// The Cambodian day it is booked; today's when left out.
    date: Option<String>,
}

#[derive(Debug, Serialize)]
struct DepositResponse {
    transaction_id: String,
    account_id: String,
    slip_reference: String,
    amount: String,
    currency: String,
    date: String,
}

async fn deposit(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<(StatusCode, Json<DepositResponse>), SimError> {
    let request: DepositRequest = serde_json::from_slice(&body).map_err(|error| {
        SimError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            format!("the body is not a deposit ({error})"),
        )
    })?;
    check_id("slip_reference", &request.slip_reference)?;
    let recorded = record_at_counter(
        &state.inner.deposits.deposits,
        Counter::Deposit,
        &request.account_id,
        &request.slip_reference,
        &request.amount,
        &request.currency,
        request.date.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(DepositResponse {
            transaction_id: recorded.transaction_id,
            account_id: recorded.account_id,
            slip_reference: recorded.slip_reference,
            amount: recorded.amount.to_string(),
            currency: recorded.currency,
            date: recorded.date.to_string(),
        }),
    ))
}

/// Which way money crossed the bank's counter: names the record, its transaction ids and
/// its log line.
#[derive(Clone, Copy)]
enum Counter {
    Deposit,
    Payout,
}

impl Counter {
    fn noun(self) -> &'static str {
        match self {
            Counter::Deposit => "deposits",
            Counter::Payout => "payouts",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Counter::Deposit => "DEP",
            Counter::Payout => "OUT",
        }
    }
}

/// Checks a counter movement (account, amount in its currency's scale, optional Cambodian
/// day) and keeps it in `store` with a transaction id of its own.
async fn record_at_counter(
    store: &Mutex<Vec<Deposit>>,
    counter: Counter,
    account_id: &str,
    reference: &str,
    amount: &str,
    currency: &str,
    date: Option<&str>,
) -> Result<Deposit, SimError> {
    check_id("account_id", account_id)?;
    let currency = check_currency(currency).map_err(SimError::unprocessable)?;
    let amount = parse_amount(amount, &currency).map_err(SimError::unprocessable)?;
    let now = Utc::now();
    let date = match date {
        Some(text) => parse_date(text)?,
        None => cambodian_date(now),
    };
    let mut records = store.lock().await;
    if records.len() >= MAX_DEPOSITS {
        return Err(SimError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "simulator_full",
            format!(
                "the simulator holds {MAX_DEPOSITS} {}; restart it",
                counter.noun()
            ),
        ));
    }
    let transaction_id = format!(
        "{}-{}-{:06}",
        counter.id_prefix(),
        date.format("%Y%m%d"),
        records.len() + 1
    );
    let recorded = Deposit {
        account_id: account_id.to_owned(),
        slip_reference: reference.to_owned(),
        amount,
        currency,
        date,
        transaction_id,
        recorded_at: now,
    };
    records.push(recorded.clone());
    drop(records);
    tracing::info!(
        transaction_id = %recorded.transaction_id,
        amount = %recorded.amount,
        currency = %recorded.currency,
        kind = counter.noun(),
        "counter movement recorded"
    );
    Ok(recorded)
}

/// Money the bank paid out of an account on its holder's order (a refund to a citizen).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)] // Our own test control API: a misspelt field must not pass silently.
struct PayoutRequest {
    account_id: String,
    /// The bank's reference, the one the office records with the refund.
    reference: String,
    amount: String,
    currency: String,
    /// The Cambodian day it is booked; today's when left out.
    date: Option<String>,
}

#[derive(Debug, Serialize)]
struct PayoutResponse {
    transaction_id: String,
    account_id: String,
    reference: String,
    amount: String,
    currency: String,
    date: String,
}

async fn payout(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<(StatusCode, Json<PayoutResponse>), SimError> {
    let request: PayoutRequest = serde_json::from_slice(&body).map_err(|error| {
        SimError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            format!("the body is not a payout ({error})"),
        )
    })?;
    check_id("reference", &request.reference)?;
    let recorded = record_at_counter(
        &state.inner.deposits.payouts,
        Counter::Payout,
        &request.account_id,
        &request.reference,
        &request.amount,
        &request.currency,
        request.date.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(PayoutResponse {
            transaction_id: recorded.transaction_id,
            account_id: recorded.account_id,
            reference: recorded.slip_reference,
            amount: recorded.amount.to_string(),
            currency: recorded.currency,
            date: recorded.date.to_string(),
        }),
    ))
}

fn check_id(field: &str, value: &str) -> Result<(), SimError> {
    crate::text::check_text(field, value, MAX_ID_CHARS).map_err(SimError::unprocessable)
}

fn parse_date(text: &str) -> Result<NaiveDate, SimError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| SimError::unprocessable(format!("date {text:?} is not YYYY-MM-DD")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn line(amount: &str, currency: &str) -> StatementLine {
        StatementLine {
            line_no: 1,
            booking_date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            transaction_id: Some("TX".to_owned()),
            reference: None,
            amount: amount.parse().unwrap(),
            currency: currency.to_owned(),
            direction: Direction::Credit,
            description: None,
            parts: Vec::new(),
        }
    }

    #[test]
    fn the_fee_is_one_percent_rounded_and_at_least_one_minor_unit() {
        for (amount, currency, left) in [
            ("600000", "KHR", "594000"),
            ("150", "KHR", "148"), // 1.5 rounds half away from zero to 2
            ("40", "KHR", "39"),   // 0.4 rounds to 0, the least fee is 1 riel
            ("0.40", "USD", "0.39"),
            ("12.50", "USD", "12.37"), // 0.125 rounds to 0.13
            ("1", "KHR", "1"),         // nothing would be left: the line stays whole
        ] {
            let mut line = line(amount, currency);
            deduct_fee(&mut line);
            assert_eq!(
                line.amount,
                left.parse::<Decimal>().unwrap(),
                "{amount} {currency}"
            );
        }
    }

    #[test]
    fn unknown_noise_words_are_refused_and_blanks_ignored() {
        assert!(Noise::parse("batch, late_line,,").is_ok());
        assert!(Noise::parse("batch,fees").is_err());
    }
}
