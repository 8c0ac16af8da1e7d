//! Bank statements: what a bank says moved through an account, as ISO 20022 camt.053 or the
//! CSV layout of API.md ("Bank statements"), parsed into typed lines.
//!
//! A parser never stops at the first problem: a statement is refused whole, and the person
//! who loaded it sees every bad line or element at once ([`Problem`]).

mod camt053;
mod csv_layout;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

pub use camt053::{
    parse_camt053, write_camt053, CAMT053_NAMESPACE_PREFIX, CAMT053_WRITTEN_NAMESPACE,
    MAX_XML_DEPTH,
};
pub use csv_layout::{parse_csv, write_csv, CSV_HEADER};

/// Longest transaction id, reference or account id a line may carry.
pub const MAX_TEXT_CHARS: usize = 140;

/// Longest description a line may carry.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// The Cambodian calendar day (UTC+7, no daylight saving) an instant falls on: banks in
/// Cambodia book by their local day, so a payment at 23:30 UTC is booked the next day.
pub fn cambodian_date(at: DateTime<Utc>) -> NaiveDate {
    (at + TimeDelta::hours(7)).date_naive()
}

/// Empty is none; control characters and overlong text are refused.
pub(crate) fn optional_text(
    name: &str,
    text: &str,
    max_chars: usize,
) -> Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().any(char::is_control) {
        return Err(format!("{name} holds a control character"));
    }
    if text.chars().count() > max_chars {
        return Err(format!("{name} is longer than {max_chars} characters"));
    }
    Ok(Some(text.to_owned()))
}

/// The largest statement a parser reads (API.md: statements are uploaded whole); a month
/// of a busy office's lines is a few megabytes.
pub const MAX_STATEMENT_BYTES: usize = 16 * 1024 * 1024;

/// The most lines one statement may carry.
pub const MAX_STATEMENT_LINES: usize = 200_000;

/// The largest amount one line may carry in major units: above it a line is a typo or an
/// attack, not a fee (a trillion riel is far beyond any office's month).
pub const MAX_LINE_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// The two file formats a statement may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementFormat {
    /// ISO 20022 `camt.053.001.02` or later (XML).
    Camt053,
    /// The CSV layout of API.md.
    Csv,
}

impl StatementFormat {
    /// `"camt053"` or `"csv"`, as stored and as bank-sim's `format=` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementFormat::Camt053 => "camt053",
            StatementFormat::Csv => "csv",
        }
    }
}

/// Which way a line moved money, as camt's `CdtDbtInd` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Direction {
    /// `CRDT`: money into the account.
    #[serde(rename = "CRDT")]
    Credit,
    /// `DBIT`: money out of the account (fees, refunds, withdrawals).
    #[serde(rename = "DBIT")]
    Debit,
}

impl Direction {
    /// `"CRDT"` or `"DBIT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Credit => "CRDT",
            Direction::Debit => "DBIT",
        }
    }

    /// Reads `CRDT` or `DBIT` (exactly; banks write them in capitals).
    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "CRDT" => Some(Direction::Credit),
            "DBIT" => Some(Direction::Debit),
            _ => None,
        }
    }
}

/// A parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The file's format.
    pub format: StatementFormat,
    /// The account the statement names (camt `Stmt/Acct/Id`); CSV names none, the uploader
    /// says which account it is.
    pub account_id: Option<String>,
    /// The account's currency when the statement names one (camt `Acct/Ccy`).
    pub currency: Option<String>,
    /// The bank's id of the statement (camt `Stmt/Id`).
    pub bank_statement_id: Option<String>,
    /// First day covered (camt `FrToDt/FrDtTm`; otherwise the earliest booking date).
    pub from: NaiveDate,
    /// Last day covered (camt `FrToDt/ToDtTm`; otherwise the latest booking date).
    pub to: NaiveDate,
    /// The lines in file order.
    pub lines: Vec<StatementLine>,
}

/// One line: a camt `Ntry` or a CSV row.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementLine {
    /// 1-based position among the statement's lines.
    pub line_no: u32,
    /// The day the bank booked it.
    pub booking_date: NaiveDate,
    /// The bank's transaction id (for KHQR the Bakong hash; for a batch, the batch's id).
    pub transaction_id: Option<String>,
    /// The reference the payer gave (bill number, case reference, deposit slip).
    pub reference: Option<String>,
    /// Major units, positive, within the currency's scale.
    pub amount: Decimal,
    /// `KHR` or `USD`.
    pub currency: String,
    /// Money in or out.
    pub direction: Direction,
    /// Free text.
    pub description: Option<String>,
    /// The parts of a batch settlement (camt: one `TxDtls` each); empty for a single payment.
    pub parts: Vec<LinePart>,
}

/// One payment inside a batch line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinePart {
    /// The bank's id of this payment.
    pub transaction_id: Option<String>,
    /// The payer's reference of this payment.
    pub reference: Option<String>,
    /// This payment's amount, when the bank gives it (`TxDtls/AmtDtls`).
    pub amount: Option<Decimal>,
}

/// What is wrong with one place of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where: `line 4` (CSV, counting the header as line 1) or an element path such as
    /// `Stmt/Ntry[3]/Amt`.
    pub location: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl Problem {
    /// A problem at `location`.
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// Decimal places a currency's amounts may have: riel has none in practice (API.md amounts
/// are whole riel), dollars have cents. `None` for a currency the books do not keep.
pub fn currency_scale(currency: &str) -> Option<u32> {
    match currency {
        "KHR" => Some(0),
        "USD" => Some(2),
        _ => None,
    }
}

/// Checks a line's amount text against its currency: a plain positive decimal within the
/// currency's scale and [`MAX_LINE_AMOUNT`]. The message says what is wrong.
pub fn parse_amount(text: &str, currency: &str) -> Result<Decimal, String> {
    let text = text.trim();
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.chars().filter(|&c| c == '.').count() <= 1
        && !text.starts_with('.')
        && !text.ends_with('.');
    if !plain {
        return Err(format!(
            "amount {text:?} is not a plain decimal such as 600000 or 12.50"
        ));
    }
    let amount: Decimal = text
        .parse()
        .map_err(|_| format!("amount {text:?} is not a number"))?;
    if amount <= Decimal::ZERO {
        return Err("amount must be more than zero; the direction says which way".to_owned());
    }
    if amount > MAX_LINE_AMOUNT {
        return Err(format!("amount {text} is more than {MAX_LINE_AMOUNT}"));
    }
    if let Some(scale) = currency_scale(currency) {
        if amount.normalize().scale() > scale {
            return Err(format!(
                "amount {text} has more than {scale} decimal place(s), the scale of {currency}"
            ));
        }
    }
    Ok(amount)
}

/// Checks a currency code: `KHR` or `USD`.
pub fn check_currency(text: &str) -> Result<String, String> {
    let text = text.trim();
    if currency_scale(text).is_some() {
        Ok(text.to_owned())
    } else {
        Err(format!("currency {text:?} is not KHR or USD"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn amounts_follow_the_currency_scale() {
        assert_eq!(
            parse_amount("600000", "KHR").unwrap(),
            Decimal::from(600_000)
        );
        assert_eq!(parse_amount("12.50", "USD").unwrap().to_string(), "12.50");
        assert!(parse_amount("12.5", "KHR").is_err());
        assert!(parse_amount("12.505", "USD").is_err());
        assert!(parse_amount("-5", "USD").is_err());
        assert!(parse_amount("0", "USD").is_err());
        assert!(parse_amount("1e5", "USD").is_err());
        assert!(parse_amount("1,000", "KHR").is_err());
        assert!(parse_amount("99999999999999", "KHR").is_err());
        assert!(parse_amount("", "KHR").is_err());
    }
}
