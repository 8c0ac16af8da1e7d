//! The JSON shapes of the ledger routes, rendered from what `app::books` returns. Amounts are
//! decimal strings with exactly the currency's scale.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use ledger::store::{self, AccountRow, ClosedPeriod, DigestRow, TrialBalanceLine};
use ledger::{Currency, Money};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::books::accounts::AccountBalance;
use crate::app::books::digests::Digests;
use crate::app::books::exceptions::Exception;
use crate::app::books::statements::AccountStatement;
use crate::app::books::trial_balance::{self, TrialBalance};
use crate::app::books::verify::{self, Verification};
use crate::app::money::MoneyView;
use crate::app::states::{ExceptionKind, ExceptionStatus};

fn amount(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).format_amount()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceRow {
    pub account: String,
    pub office_code: String,
    pub currency: String,
    pub debit: String,
    pub credit: String,
    pub balance: String,
}

impl From<TrialBalanceLine> for TrialBalanceRow {
    fn from(line: TrialBalanceLine) -> TrialBalanceRow {
        TrialBalanceRow {
            account: line.account,
            office_code: line.office_code,
            currency: line.currency.code().to_owned(),
            debit: amount(line.debit_minor, line.currency),
            credit: amount(line.credit_minor, line.currency),
            balance: amount(line.balance_minor, line.currency),
        }
    }
}

/// Named apart from the reports' `CurrencyTotal`: utoipa keeps one of two schemas of one name.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TrialBalanceTotal)]
pub struct CurrencyTotal {
    pub currency: String,
    pub debit: String,
    pub credit: String,
    /// Always "0" (or "0.00") for a sound ledger.
    pub balance: String,
}

impl From<trial_balance::CurrencyTotal> for CurrencyTotal {
    fn from(total: trial_balance::CurrencyTotal) -> CurrencyTotal {
        CurrencyTotal {
            currency: total.currency.code().to_owned(),
            debit: amount(total.debit_minor, total.currency),
            credit: amount(total.credit_minor, total.currency),
            balance: amount(total.balance_minor, total.currency),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceView {
    pub as_of: DateTime<Utc>,
    pub accounts: Vec<TrialBalanceRow>,
    pub totals: Vec<CurrencyTotal>,
    /// Offices whose month of `as_of` (Cambodian calendar) is closed.
    pub closed_offices: Vec<String>,
}

impl From<TrialBalance> for TrialBalanceView {
    fn from(trial_balance: TrialBalance) -> TrialBalanceView {
        TrialBalanceView {
            as_of: trial_balance.as_of,
            closed_offices: trial_balance
                .closed
                .iter()
                .map(|period| period.office_code.clone())
                .collect(),
            accounts: trial_balance.lines.into_iter().map(Into::into).collect(),
            totals: trial_balance.totals.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub code: String,
    pub office_code: String,
    pub kind: String,
    pub currency: String,
    pub normal_balance: String,
}

impl From<AccountRow> for AccountView {
    fn from(row: AccountRow) -> AccountView {
        AccountView {
            code: row.code,
            office_code: row.office_code,
            kind: row.kind,
            currency: row.currency.code().to_owned(),
            normal_balance: row.normal_balance,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    pub account: String,
    pub office_code: String,
    pub currency: String,
    pub as_of: DateTime<Utc>,
    pub debit: String,
    pub credit: String,
    /// Debits minus credits (negative for a credit balance).
    pub balance: String,
}

impl From<AccountBalance> for BalanceView {
    fn from(balance: AccountBalance) -> BalanceView {
        let currency = balance.account.currency;
        BalanceView {
            account: balance.account.code,
            office_code: balance.account.office_code,
            currency: currency.code().to_owned(),
            as_of: balance.as_of,
            debit: amount(balance.debit_minor, currency),
            credit: amount(balance.credit_minor, currency),
            balance: amount(balance.balance_minor, currency),
        }
    }
}

/// Named apart from the bank statement's `StatementLineView` (see `CurrencyTotal`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LedgerStatementLine)]
pub struct StatementLineView {
    pub posting_id: i64,
    pub entry_id: i64,
    pub created_at: DateTime<Utc>,
    pub kind: String,
    pub description: String,
    /// Signed: debit positive, credit negative.
    pub amount: String,
    /// Balance after this line.
    pub balance: String,
    /// The payment intent the entry is about, if any.
    pub payment_intent_id: Option<Uuid>,
    /// That intent's receipt number, once paid.
    pub receipt_number: Option<String>,
    /// How it was paid (`khqr`, `cash`, ...), or the reporting provider of a bank entry.
    pub channel: Option<String>,
    /// The bank's transaction id (a refund's bank reference, a deposit's slip reference).
    pub bank_transaction_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementView {
    pub account: String,
    pub office_code: String,
    pub currency: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The balance before this page's first line (at `from` on the first page).
    pub opening_balance: String,
    pub lines: Vec<StatementLineView>,
    /// The balance at `to`, whatever the page.
    pub closing_balance: String,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
    /// Months (`YYYY-MM`) of the account's office closed in the range.
    pub closed_months: Vec<String>,
}

impl From<AccountStatement> for StatementView {
    fn from(found: AccountStatement) -> StatementView {
        let currency = found.account.currency;
        StatementView {
            account: found.account.code,
            office_code: found.account.office_code,
            currency: currency.code().to_owned(),
            from: found.from,
            to: found.to,
            opening_balance: amount(found.opening_minor, currency),
            lines: found
                .lines
                .into_iter()
                .map(|line| StatementLineView {
                    posting_id: line.posting_id,
                    entry_id: line.entry_id,
                    created_at: line.created_at,
                    kind: line.kind,
                    description: line.description,
                    amount: amount(line.amount_minor, currency),
                    balance: amount(line.balance_minor, currency),
                    payment_intent_id: line.trace.payment_intent_id,
                    receipt_number: line.trace.receipt_number,
                    channel: line.trace.channel,
                    bank_transaction_id: line.trace.bank_transaction_id,
                })
                .collect(),
            closing_balance: amount(found.closing_minor, currency),
            next_cursor: found.next_cursor,
            closed_months: found
                .closed_months
                .iter()
                .map(|period| store::format_month(period.month))
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosedPeriodView {
    pub office_code: String,
    /// `YYYY-MM`.
    pub month: String,
    pub closed_at: DateTime<Utc>,
    pub closed_by: String,
}

impl From<ClosedPeriod> for ClosedPeriodView {
    fn from(period: ClosedPeriod) -> ClosedPeriodView {
        ClosedPeriodView {
            office_code: period.office_code,
            month: store::format_month(period.month),
            closed_at: period.closed_at,
            closed_by: period.closed_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    pub ok: bool,
    pub entries_checked: i64,
    /// The first entry that does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_entry: Option<i64>,
    /// The day of the first digest that is not signed by a trusted key or disagrees with the
    /// chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_digest: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub head_seq: i64,
    /// Hex SHA-256 of the chain head.
    pub head_hash: String,
    /// Stored daily digests whose signature was checked against the trusted keys.
    pub digests_checked: usize,
    /// Daily balance rows recomputed from their postings.
    pub rollup_rows_checked: i64,
    /// Monthly balance rows (whole months of daily rows) recomputed from their days.
    pub monthly_rows_checked: i64,
    /// The first daily balance that differs from its postings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_rollup: Option<BadRollup>,
    /// Rows of the dashboard's roll-ups recomputed from intents and postings.
    pub report_rows_checked: i64,
    /// The first dashboard roll-up row that differs from its source (table, key, both figures).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        example = "report_daily_revenue 2026-12-01 0320 construction khqr KHR: stored 900000/3, postings 800000/2"
    )]
    pub first_bad_report_row: Option<String>,
}

/// A daily balance row that differs from its postings.
#[derive(Debug, Serialize, ToSchema)]
pub struct BadRollup {
    #[schema(example = "0320:revenue:construction:KHR")]
    pub account: String,
    pub day: chrono::NaiveDate,
}

impl From<verify::BadRollup> for BadRollup {
    fn from(rollup: verify::BadRollup) -> BadRollup {
        BadRollup {
            account: rollup.account,
            day: rollup.day,
        }
    }
}

impl From<Verification> for VerifyView {
    fn from(found: Verification) -> VerifyView {
        VerifyView {
            ok: found.ok,
            entries_checked: found.entries_checked,
            first_bad_entry: found.first_bad_entry,
            bad_digest: found.bad_digest,
            reason: found.reason,
            head_seq: found.head_seq,
            head_hash: found.head_hash,
            digests_checked: found.digests_checked,
            rollup_rows_checked: found.rollup_rows_checked,
            monthly_rows_checked: found.monthly_rows_checked,
            first_bad_rollup: found.first_bad_rollup.map(Into::into),
            report_rows_checked: found.report_rows_checked,
            first_bad_report_row: found.first_bad_report_row,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DigestView {
    pub day: NaiveDate,
    pub head_seq: i64,
    pub head_hash: String,
    pub entry_count: i64,
    /// The exact signed text (UTF-8).
    pub payload: String,
    /// Base64 Ed25519 signature of `payload`.
    pub signature: String,
    /// Base64 Ed25519 public key that signed it.
    pub public_key: String,
    pub created_at: DateTime<Utc>,
}

impl From<DigestRow> for DigestView {
    fn from(row: DigestRow) -> DigestView {
        DigestView {
            day: row.day,
            head_seq: row.head_seq,
            head_hash: row.head_hash,
            entry_count: row.entry_count,
            payload: row.payload,
            signature: STANDARD.encode(&row.signature),
            public_key: STANDARD.encode(&row.public_key),
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DigestsView {
    pub algorithm: &'static str,
    /// Base64 public key digests are signed with now (null when signing is off).
    pub public_key: Option<String>,
    pub digests: Vec<DigestView>,
}

impl From<Digests> for DigestsView {
    fn from(digests: Digests) -> DigestsView {
        DigestsView {
            algorithm: "Ed25519",
            public_key: digests
                .public_key
                .map(|key| STANDARD.encode(key.to_bytes())),
            digests: digests.digests.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExceptionView {
    pub id: Uuid,
    pub office_code: String,
    pub kind: ExceptionKind,
    pub status: ExceptionStatus,
    pub provider: String,
    pub provider_transaction_id: String,
    pub payment_intent_id: Option<Uuid>,
    pub payment_attempt_id: Option<Uuid>,
    // Always present; optional in the schema as it has been since the first release.
    pub amount: Option<MoneyView>,
    pub ledger_entry_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// Whole days since the exception was raised.
    pub age_days: i64,
    /// The same age as an ISO 8601 duration, e.g. `P3DT4H`.
    #[schema(example = "P3DT4H")]
    pub age: String,
    /// The office account a statement exception is about.
    pub account_id: Option<String>,
    pub statement_line_id: Option<Uuid>,
    /// The posting of an unmatched ledger item.
    pub item_posting_id: Option<i64>,
    /// The day the exception is about (a line's booking date, an item's Cambodian date).
    pub business_date: Option<NaiveDate>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Whole days and an ISO 8601 duration (days and hours) since `since`.
pub fn age(since: DateTime<Utc>) -> (i64, String) {
    let elapsed = Utc::now()
        .signed_duration_since(since)
        .max(chrono::Duration::zero());
    let days = elapsed.num_days();
    let hours = elapsed.num_hours() - days * 24;
    (days, format!("P{days}DT{hours}H"))
}

impl From<Exception> for ExceptionView {
    fn from(exception: Exception) -> ExceptionView {
        ExceptionView {
            id: exception.id,
            office_code: exception.office_code,
            kind: exception.kind,
            status: exception.status,
            provider: exception.provider,
            provider_transaction_id: exception.provider_transaction_id,
            payment_intent_id: exception.payment_intent_id,
            payment_attempt_id: exception.payment_attempt_id,
            // The bank's text as reported: an exception may be one because it does not parse.
            amount: Some(MoneyView {
                amount: exception.amount,
                currency: exception.currency,
            }),
            ledger_entry_id: exception.ledger_entry_id,
            created_at: exception.created_at,
            age_days: age(exception.created_at).0,
            age: age(exception.created_at).1,
            account_id: exception.account_id,
            statement_line_id: exception.statement_line_id,
            item_posting_id: exception.item_posting_id,
            business_date: exception.business_date,
            resolved_at: exception.resolved_at,
        }
    }
}
