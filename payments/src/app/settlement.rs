//! What happens when a bank says money moved: the checks and the postings of one [`Report`].
//! Every channel (sandbox callbacks, the sandbox status worker, the Bakong poller, inbox
//! recovery; cash and the gateways later) submits its report to app::settlement_batch, which
//! settles it with these functions, so the rules are the same whatever told us.
//!
//! One transaction holds: the provider-transaction claim (one effect per bank transaction id),
//! the state change, the balanced ledger entry and the outbox event.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use ledger::{AccountCode, AccountKind, BalancedEntry, Currency, EntryBuilder, Money};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::attempts::{AttemptRow, ATTEMPT_COLUMNS};
use super::intents::{self, IntentRow, IntentStatus};
use super::money::{self, MoneyView};
use super::outbox::{self, Event, NewEvent};
use super::receipts;
use super::states::{Channel, ExceptionKind, InboxStatus};
use crate::app::error::AppError;
use bank_adapters::report::{PaymentReport, ReportedAmount};

/// The office whose suspense account holds money for references we cannot place.
pub const UNALLOCATED_OFFICE: &str = "0000";

/// A payment a bank reports, typed once where its message was read (the adapter's
/// [`PaymentReport`], placed by [`Report::new`]). Every channel settles one of these, through
/// app::settlement_batch.
#[derive(Debug)]
pub struct Report {
    pub provider: &'static str,
    pub channel: Channel,
    pub transaction_id: String,
    pub provider_reference: String,
    pub received: Received,
    /// False when the bank says the money reached another account than the one we asked for.
    pub receiving_account_matches: bool,
    /// The bank's time of the payment, when it tells one.
    pub paid_at: Option<DateTime<Utc>>,
    /// The stored raw message, which settling marks with its verdict (every channel stores
    /// one; `None` only where a caller settles a report it made itself).
    pub inbox_message_id: Option<i64>,
    /// Whether the message's signature verified: `None` for a channel without signatures.
    pub signature_valid: Option<bool>,
}

impl Report {
    /// The report of `provider` through `channel`, with its amount placed ([`Received`]).
    pub fn new(
        provider: &'static str,
        channel: Channel,
        report: PaymentReport,
        inbox_message_id: Option<i64>,
    ) -> Report {
        Report {
            provider,
            channel,
            transaction_id: report.transaction_id,
            provider_reference: report.provider_reference,
            received: Received::from_bank(report.amount),
            receiving_account_matches: true,
            paid_at: report.paid_at,
            inbox_message_id,
            signature_valid: None,
        }
    }
}

/// What a bank says was paid, as our books see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// An amount the books can hold; `reported` is the bank's spelling, for the records.
    Money { money: Money, reported: String },
    /// A currency we do not keep, more decimals than the currency has, an amount too large or
    /// no amount at all: never rounded or guessed, parked as `unsupported_currency` with the
    /// text as sent.
    Unplaceable { amount: String, currency: String },
}

impl Received {
    /// The one place a bank's amount becomes money.
    pub fn from_bank(amount: ReportedAmount) -> Received {
        match amount {
            ReportedAmount::Decimal { value, currency } => {
                let money = currency.parse::<Currency>().ok().and_then(|code| {
                    // More fraction digits than the currency has, even zeros (`1.0` riel), is
                    // a bug at the bank: refused, as Money::parse refuses it, never rounded.
                    (value.scale() <= code.scale())
                        .then(|| Money::from_decimal(value, code).ok())
                        .flatten()
                });
                match money {
                    Some(money) => Received::Money {
                        money,
                        reported: value.to_string(),
                    },
                    None => Received::Unplaceable {
                        amount: value.to_string(),
                        currency,
                    },
                }
            }
            ReportedAmount::Unreadable { amount, currency } => {
                Received::Unplaceable { amount, currency }
            }
        }
    }

    /// The money, when the books can hold it.
    pub fn money(&self) -> Option<Money> {
        match self {
            Received::Money { money, .. } => Some(*money),
            Received::Unplaceable { .. } => None,
        }
    }

    /// Amount and currency as the bank reported them, cut to what the records keep.
    fn as_reported(&self) -> MoneyView {
        let (amount, currency) = match self {
            Received::Money { money, reported } => (reported.as_str(), money.currency().code()),
            Received::Unplaceable { amount, currency } => (amount.as_str(), currency.as_str()),
        };
        MoneyView {
            amount: truncate(amount, 64),
            currency: truncate(currency, 16),
        }
    }
}

/// What the report led to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Settlement {
    /// The intent is now paid; its receipt number follows once this commits
    /// ([`receipts::number_office`] for `office_code`).
    Paid {
        payment_intent_id: Uuid,
        office_code: String,
    },
    /// This bank transaction was already recorded; nothing changed.
    Duplicate,
    /// The money was parked in suspense and raised as a reconciliation exception.
    Suspense {
        kind: ExceptionKind,
        exception_id: Uuid,
    },
}

impl Settlement {
    /// The inbox status of the message that reported it.
    pub fn inbox_status(&self) -> InboxStatus {
        match self {
            Settlement::Duplicate => InboxStatus::Duplicate,
            Settlement::Paid { .. } | Settlement::Suspense { .. } => InboxStatus::Processed,
        }
    }

    pub fn verdict(&self) -> String {
        match self {
            Settlement::Paid { .. } => "paid".to_owned(),
            Settlement::Duplicate => "duplicate".to_owned(),
            Settlement::Suspense { kind, .. } => format!("suspense:{}", kind.as_str()),
        }
    }
}

/// Records a reported payment. Runs inside the caller's transaction.
pub async fn record(conn: &mut PgConnection, report: &Report) -> Result<Settlement, AppError> {
    let won = claim(conn, &[report]).await?;
    if won.first() != Some(&true) {
        return Ok(Settlement::Duplicate);
    }
    record_claimed(conn, report).await
}

/// Claims the provider transaction ids of `reports` in one statement: one effect per bank
/// transaction id. Tells, per report, whether it won its claim; a report loses when the id was
/// recorded before, or appears earlier in `reports`.
pub async fn claim(conn: &mut PgConnection, reports: &[&Report]) -> Result<Vec<bool>, AppError> {
    let providers: Vec<&str> = reports.iter().map(|r| r.provider).collect();
    let transaction_ids: Vec<&str> = reports.iter().map(|r| r.transaction_id.as_str()).collect();
    let inbox_ids: Vec<Option<i64>> = reports.iter().map(|r| r.inbox_message_id).collect();
    // language=PostgreSQL
    let won: Vec<(String, String)> = sqlx::query_as(
        "insert into provider_transactions (provider, transaction_id, inbox_message_id, outcome)
         select provider, transaction_id, inbox_message_id, 'processing'
         from unnest($1::text[], $2::text[], $3::bigint[]) with ordinality
              as t (provider, transaction_id, inbox_message_id, position)
         order by position
         on conflict do nothing
         returning provider, transaction_id",
    )
    .bind(&providers)
    .bind(&transaction_ids)
    .bind(&inbox_ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut won: HashSet<(String, String)> = won.into_iter().collect();
    Ok(reports
        .iter()
        .map(|report| {
            // remove(): a second report of the same id in this list is a duplicate.
            let claimed = won.remove(&(report.provider.to_owned(), report.transaction_id.clone()));
            if !claimed {
                metrics::counter!("owso_bank_payments_total", "channel" => report.channel.as_str(), "outcome" => "duplicate").increment(1);
            }
            claimed
        })
        .collect())
}

/// Records a reported payment whose provider transaction id this transaction has claimed
/// already (app::settlement_batch claims a whole group in one statement).
///
/// Lock order: an intent before its attempts. Every transaction that locks both (cancel, the
/// expiry sweep, attempt creation, a settled group and a report settled alone) takes them in
/// this order, so that none of them can deadlock another and die as a 500: the attempt is
/// first read without a lock (only to learn its intent, which never changes), then the intent
/// is locked, then the attempt, read afresh.
pub async fn record_claimed(
    conn: &mut PgConnection,
    report: &Report,
) -> Result<Settlement, AppError> {
    // Found by (channel, reference): a channel settles only its own attempts. A citizen can
    // read the reference of their own attempt, so a report through another channel naming
    // it must not pay it.
    let own: Option<(Uuid, Uuid)> = sqlx::query_as(
        "select id, payment_intent_id from payment_attempts where channel = $1 and provider_reference = $2",
    )
    .bind(report.channel)
    .bind(&report.provider_reference)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((attempt_id, intent_id)) = own else {
        return park_misdirected(conn, report).await;
    };
    let intent = intents::load(&mut *conn, None, intent_id, true).await?;
    let attempt: AttemptRow = sqlx::query_as(&format!(
        "select {ATTEMPT_COLUMNS} from payment_attempts where id = $1 for update"
    ))
    .bind(attempt_id)
    .fetch_one(&mut *conn)
    .await?;
    match unexpected(report, &attempt, &intent) {
        Some(kind) => {
            park(
                conn,
                report,
                &intent.office_code,
                kind,
                Some(&intent),
                Some(&attempt),
            )
            .await
        }
        None => settle(conn, report, &intent, &attempt).await,
    }
}

/// A report whose reference names no attempt of its channel: an attempt of another channel
/// (`channel_mismatch`, parked in that attempt's office, its intent untouched and not even
/// locked), or nothing we know (`unknown_reference`, the unallocated office).
async fn park_misdirected(
    conn: &mut PgConnection,
    report: &Report,
) -> Result<Settlement, AppError> {
    let other: Option<AttemptRow> = sqlx::query_as(&format!(
        "select {ATTEMPT_COLUMNS} from payment_attempts where provider_reference = $1"
    ))
    .bind(&report.provider_reference)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(attempt) = other else {
        return park(
            conn,
            report,
            UNALLOCATED_OFFICE,
            ExceptionKind::UnknownReference,
            None,
            None,
        )
        .await;
    };
    let intent = intents::load(&mut *conn, None, attempt.payment_intent_id, false).await?;
    tracing::warn!(
        attempt.id = %attempt.id,
        attempt.channel = %attempt.channel,
        report.channel = report.channel.as_str(),
        "a bank reported a payment for an attempt of another channel"
    );
    park(
        conn,
        report,
        &attempt.office_code,
        ExceptionKind::ChannelMismatch,
        Some(&intent),
        Some(&attempt),
    )
    .await
}

/// How far ahead of our clock a bank's reported time may be before it is called skewed.
const BANK_CLOCK_AHEAD_TOLERANCE_S: i64 = 300;

/// Checks the time a bank reports for a payment against ours: before the attempt existed, or
/// more than five minutes ahead, the bank's clock (or its report) is wrong. Logged and
/// counted, never used: our clock dates the payment either way.
pub fn note_bank_clock(report: &Report, attempt: &AttemptRow, now: DateTime<Utc>) {
    let Some(reported) = report.paid_at else {
        return;
    };
    let direction = if reported < attempt.created_at {
        "past"
    } else if reported > now + chrono::Duration::seconds(BANK_CLOCK_AHEAD_TOLERANCE_S) {
        "future"
    } else {
        return;
    };
    metrics::counter!("owso_bank_clock_skew_total", "channel" => report.channel.as_str(), "direction" => direction).increment(1);
    tracing::warn!(
        attempt.id = %attempt.id,
        channel = report.channel.as_str(),
        bank_paid_at = %reported,
        attempt.created_at = %attempt.created_at,
        direction,
        "the bank's reported payment time is implausible; the payment is dated by our clock"
    );
}

/// Why a reported payment cannot settle its attempt (a suspense kind), or `None` when it
/// pays the attempt exactly, to the right account, while the intent awaits payment.
pub fn unexpected(
    report: &Report,
    attempt: &AttemptRow,
    intent: &IntentRow,
) -> Option<ExceptionKind> {
    let Some(money) = report.received.money() else {
        return Some(ExceptionKind::UnsupportedCurrency);
    };
    if !report.receiving_account_matches {
        return Some(ExceptionKind::AccountMismatch);
    }
    if money.currency().code() != attempt.currency.trim() {
        return Some(ExceptionKind::CurrencyMismatch);
    }
    if money.amount_minor() != attempt.amount_minor {
        return Some(ExceptionKind::AmountMismatch);
    }
    match intent.status {
        IntentStatus::AwaitingPayment => None,
        IntentStatus::Paid => Some(ExceptionKind::AlreadyPaid),
        IntentStatus::Cancelled => Some(ExceptionKind::AfterCancel),
        IntentStatus::Expired => Some(ExceptionKind::AfterExpiry),
    }
}

/// The ledger entry of a payment that settles its attempt: debit the channel's clearing
/// account, credit each quote line's revenue account. Also returns the total and the time the
/// payment counts from: our clock now, never the bank's (a bank's clock must not pick the
/// fiscal year of a receipt number); the bank's time is kept beside it as `bank_paid_at`.
pub fn payment_entry(
    report: &Report,
    intent: &IntentRow,
    attempt: &AttemptRow,
) -> Result<(BalancedEntry, Money, DateTime<Utc>), AppError> {
    let total = money::from_row(intent.total_minor, &intent.currency)?;
    let paid_at = Utc::now();
    note_bank_clock(report, attempt, paid_at);
    let clearing = AccountCode::new(
        &intent.office_code,
        AccountKind::Clearing {
            channel: report.channel.as_str().to_owned(),
        },
        total.currency(),
    )?;
    let mut entry = EntryBuilder::new(
        &intent.office_code,
        "payment_confirmed",
        &format!("case {} paid by {}", intent.case_reference, report.channel),
    )
    .idempotency_key(format!("{}:{}", report.provider, report.transaction_id))
    .metadata(json!({
        "payment_intent_id": intent.id,
        "payment_attempt_id": attempt.id,
        "case_reference": intent.case_reference,
        "provider": report.provider,
        "provider_transaction_id": report.transaction_id,
        "bank_paid_at": report.paid_at,
    }))
    .debit(clearing, total);
    for line in &intent.lines.0 {
        let amount = line.amount.parse("amount")?;
        // A service published as free is a line of 0 beside paid ones; postings are never 0.
        if amount.is_zero() {
            continue;
        }
        entry = entry.credit(AccountCode::parse(&line.revenue_account)?, amount);
    }
    Ok((entry.build()?, total, paid_at))
}

async fn settle(
    conn: &mut PgConnection,
    report: &Report,
    intent: &IntentRow,
    attempt: &AttemptRow,
) -> Result<Settlement, AppError> {
    let (entry, total, paid_at) = payment_entry(report, intent, attempt)?;
    let posted = ledger::store::post(conn, &entry).await?;
    let entry_id = match posted {
        ledger::store::PostOutcome::Posted(id) | ledger::store::PostOutcome::AlreadyPosted(id) => {
            id
        }
    };

    write_paid(
        conn,
        &[PaidWrite {
            report,
            intent,
            attempt,
            entry_id: entry_id.0,
            total,
            paid_at,
        }],
        true,
    )
    .await?;
    Ok(Settlement::Paid {
        payment_intent_id: intent.id,
        office_code: intent.office_code.clone(),
    })
}

/// What [`write_paid`] writes for one settled payment.
pub struct PaidWrite<'a> {
    pub report: &'a Report,
    pub intent: &'a IntentRow,
    pub attempt: &'a AttemptRow,
    pub entry_id: i64,
    pub total: Money,
    pub paid_at: DateTime<Utc>,
}

/// The state writes of settled payments, one statement for all: each paid attempt (and its
/// intent's other pending attempts cancelled), each intent paid, each claim's outcome, and,
/// with `stage`, each `payment.paid` event staged in receipt_queue. A staged event becomes an
/// outbox event with its receipt number right after the transaction commits (app::receipts):
/// a counter row locked here would be held through the commit's disk flush and let one office
/// confirm one payment per flush. Without `stage` the caller numbers the payments itself
/// before it commits ([`receipts::number_paid_in`], a settled group). The intents must be
/// locked and awaiting payment, each once.
pub async fn write_paid(
    conn: &mut PgConnection,
    paid: &[PaidWrite<'_>],
    stage: bool,
) -> Result<(), AppError> {
    let intent_ids: Vec<Uuid> = paid.iter().map(|p| p.intent.id).collect();
    let attempt_ids: Vec<Uuid> = paid.iter().map(|p| p.attempt.id).collect();
    let paid_ats: Vec<DateTime<Utc>> = paid.iter().map(|p| p.paid_at).collect();
    let transaction_ids: Vec<&str> = paid
        .iter()
        .map(|p| p.report.transaction_id.as_str())
        .collect();
    let channels: Vec<&str> = paid.iter().map(|p| p.report.channel.as_str()).collect();
    let entry_ids: Vec<i64> = paid.iter().map(|p| p.entry_id).collect();
    let providers: Vec<&str> = paid.iter().map(|p| p.report.provider).collect();
    let offices: Vec<&str> = paid.iter().map(|p| p.intent.office_code.as_str()).collect();
    let years: Vec<i32> = paid
        .iter()
        .map(|p| receipts::fiscal_year(p.paid_at))
        .collect();
    let cases: Vec<&str> = paid
        .iter()
        .map(|p| p.intent.case_reference.as_str())
        .collect();
    let totals: Vec<i64> = paid.iter().map(|p| p.total.amount_minor()).collect();
    let currencies: Vec<&str> = paid.iter().map(|p| p.total.currency().code()).collect();
    let bank_paid_ats: Vec<Option<DateTime<Utc>>> = paid.iter().map(|p| p.report.paid_at).collect();
    // language=PostgreSQL
    let written: i64 = sqlx::query_scalar(
        "with input as materialized (
             select * from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[],
                                  $6::bigint[], $7::text[], $8::text[], $9::int[], $10::text[],
                                  $11::bigint[], $12::text[], $14::timestamptz[])
                 as t (intent_id, attempt_id, paid_at, transaction_id, channel, entry_id, provider,
                       office_code, fiscal_year, case_reference, total_minor, currency, bank_paid_at)
         ),
         attempts as (
             update payment_attempts a
             set status = case when a.id = input.attempt_id then 'paid' else 'cancelled' end,
                 paid_at = case when a.id = input.attempt_id then input.paid_at else a.paid_at end,
                 bank_paid_at = case when a.id = input.attempt_id then input.bank_paid_at else a.bank_paid_at end,
                 provider_transaction_id = case when a.id = input.attempt_id then input.transaction_id
                                                else a.provider_transaction_id end,
                 updated_at = now()
             from input
             where a.payment_intent_id = input.intent_id and (a.id = input.attempt_id or a.status = 'pending')
             returning 1
         ),
         intents as (
             update payment_intents i set status = 'paid', amount_paid_minor = i.total_minor,
                 paid_at = input.paid_at, bank_paid_at = input.bank_paid_at, paid_channel = input.channel,
                 updated_at = now()
             from input
             where i.id = input.intent_id and i.status = 'awaiting_payment'
             returning 1
         ),
         claims as (
             update provider_transactions p set outcome = 'paid', payment_attempt_id = input.attempt_id,
                 ledger_entry_id = input.entry_id
             from input
             where p.provider = input.provider and p.transaction_id = input.transaction_id
             returning 1
         ),
         staged as (
             insert into receipt_queue (payment_intent_id, office_code, fiscal_year, case_reference,
                 total_minor, currency, channel, paid_at)
             select intent_id, office_code, fiscal_year, case_reference, total_minor, currency, channel, paid_at
             from input
             where $13
             returning 1
         )
         -- Every data-modifying WITH runs to completion, read or not.
         select count(*) from intents",
    )
    .bind(&intent_ids)
    .bind(&attempt_ids)
    .bind(&paid_ats)
    .bind(&transaction_ids)
    .bind(&channels)
    .bind(&entry_ids)
    .bind(&providers)
    .bind(&offices)
    .bind(&years)
    .bind(&cases)
    .bind(&totals)
    .bind(&currencies)
    .bind(stage)
    .bind(&bank_paid_ats)
    .fetch_one(&mut *conn)
    .await?;
    if usize::try_from(written).ok() != Some(paid.len()) {
        // Every intent was locked and awaiting payment a moment ago in this transaction.
        return Err(AppError::internal(format!(
            "{written} of {} intents moved to paid",
            paid.len()
        )));
    }
    for p in paid {
        metrics::counter!("owso_bank_payments_total", "channel" => p.report.channel.as_str(), "outcome" => "paid").increment(1);
        tracing::info!(payment.id = %p.intent.id, attempt.id = %p.attempt.id, "payment confirmed");
    }
    Ok(())
}

/// Money that arrived where it was not expected: never dropped, parked in suspense and raised.
async fn park(
    conn: &mut PgConnection,
    report: &Report,
    office_code: &str,
    kind: ExceptionKind,
    intent: Option<&IntentRow>,
    attempt: Option<&AttemptRow>,
) -> Result<Settlement, AppError> {
    let (kind, entry_id) = match report.received.money() {
        Some(money) if money.is_positive() => {
            let clearing = AccountCode::new(
                office_code,
                AccountKind::Clearing {
                    channel: report.channel.as_str().to_owned(),
                },
                money.currency(),
            )?;
            let suspense = AccountCode::new(office_code, AccountKind::Suspense, money.currency())?;
            let entry = EntryBuilder::new(
                office_code,
                "suspense",
                &format!("unexpected {} payment: {}", report.channel, kind.as_str()),
            )
            .idempotency_key(format!("{}:{}", report.provider, report.transaction_id))
            .metadata(json!({
                "kind": kind,
                "provider": report.provider,
                "provider_transaction_id": report.transaction_id,
                "provider_reference": report.provider_reference,
                "payment_intent_id": intent.map(|intent| intent.id),
            }))
            .debit(clearing, money)
            .credit(suspense, money)
            .build()?;
            let id = match ledger::store::post(conn, &entry).await? {
                ledger::store::PostOutcome::Posted(id)
                | ledger::store::PostOutcome::AlreadyPosted(id) => id,
            };
            (kind, Some(id.0))
        }
        // A currency or amount our books cannot hold is still recorded, for a person to act on.
        _ => (ExceptionKind::UnsupportedCurrency, None),
    };
    let reported = report.received.as_reported();
    let exception_id = Uuid::now_v7();
    // language=PostgreSQL
    sqlx::query(
        "insert into reconciliation_exceptions (id, office_code, kind, provider, provider_transaction_id,
             payment_intent_id, payment_attempt_id, amount, currency, ledger_entry_id, details)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(exception_id)
    .bind(office_code)
    .bind(kind)
    .bind(report.provider)
    .bind(&report.transaction_id)
    .bind(intent.map(|intent| intent.id))
    .bind(attempt.map(|attempt| attempt.id))
    .bind(&reported.amount)
    .bind(&reported.currency)
    .bind(entry_id)
    .bind(json!({
        "provider_reference": report.provider_reference,
        "channel": report.channel,
        "attempt_channel": attempt.map(|attempt| attempt.channel),
        "bank_paid_at": report.paid_at,
    }))
    .execute(&mut *conn)
    .await?;
    sqlx::query("update provider_transactions set outcome = $3, payment_attempt_id = $4, ledger_entry_id = $5 where provider = $1 and transaction_id = $2")
        .bind(report.provider)
        .bind(&report.transaction_id)
        .bind(format!("suspense:{}", kind.as_str()))
        .bind(attempt.map(|attempt| attempt.id))
        .bind(entry_id)
        .execute(&mut *conn)
        .await?;
    outbox::enqueue(
        conn,
        NewEvent {
            office_code,
            case_reference: intent.map(|intent| intent.case_reference.as_str()),
            payment_intent_id: intent.map(|intent| intent.id),
            event: Event::ReconciliationException(outbox::ReconciliationException {
                exception_id,
                kind,
                office_code: office_code.to_owned(),
                payment_intent_id: intent.map(|intent| intent.id),
                case_reference: intent.map(|intent| intent.case_reference.clone()),
                provider: report.provider.to_owned(),
                provider_transaction_id: report.transaction_id.clone(),
                amount: reported,
            }),
        },
    )
    .await?;
    metrics::counter!("owso_bank_payments_total", "channel" => report.channel.as_str(), "outcome" => "suspense").increment(1);
    tracing::warn!(exception.id = %exception_id, exception.kind = kind.as_str(), office.code = office_code, "unexpected payment parked in suspense");
    Ok(Settlement::Suspense { kind, exception_id })
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn decimal(value: Decimal, currency: &str) -> Received {
        Received::from_bank(ReportedAmount::Decimal {
            value,
            currency: currency.to_owned(),
        })
    }

    /// Money when the books can hold it, exactly as Money::parse would read the bank's text;
    /// otherwise the text as sent, for suspense.
    #[test]
    fn a_bank_amount_becomes_money_once_or_stays_text() {
        assert_eq!(
            decimal(Decimal::new(125, 1), "USD"),
            Received::Money {
                money: Money::from_minor(1250, Currency::Usd),
                reported: "12.5".to_owned()
            }
        );
        assert_eq!(
            decimal(Decimal::new(600_000, 0), "KHR").money(),
            Some(Money::from_minor(600_000, Currency::Khr))
        );
        // A decimal riel, even `.0`, is a bug at the bank: never rounded.
        assert_eq!(
            decimal(Decimal::new(6_000_000, 1), "KHR"),
            Received::Unplaceable {
                amount: "600000.0".to_owned(),
                currency: "KHR".to_owned()
            }
        );
        assert_eq!(
            decimal(Decimal::new(100, 0), "EUR"),
            Received::Unplaceable {
                amount: "100".to_owned(),
                currency: "EUR".to_owned()
            }
        );
        assert_eq!(
            Received::from_bank(ReportedAmount::Unreadable {
                amount: "-5".to_owned(),
                currency: "KHR".to_owned()
            })
            .money(),
            None
        );
        assert_eq!(
            Received::from_bank(ReportedAmount::Unreadable {
                amount: "x".repeat(100),
                currency: "KHR".to_owned()
            })
            .as_reported()
            .amount
            .len(),
            64
        );
    }
}
