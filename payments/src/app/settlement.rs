//! What happens when a bank says money moved. Every channel (sandbox callback today, the
//! Bakong poller and the gateways later) ends here, so the checks and the postings are the
//! same whatever told us.
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
use super::intents::{self, IntentRow};
use super::money::{self, MoneyView};
use super::outbox::{self, Event, NewEvent};
use super::receipts;
use crate::http::error::ApiError;

/// The office whose suspense account holds money for references we cannot place.
pub const UNALLOCATED_OFFICE: &str = "0000";

/// A payment a bank reports, as reported (amount and currency are the bank's strings).
pub struct ReportedPayment<'a> {
    pub provider: &'a str,
    pub channel: &'a str,
    pub transaction_id: &'a str,
    pub provider_reference: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    /// False when the bank says the money reached another account than the one we asked for.
    pub receiving_account_matches: bool,
    pub paid_at: Option<DateTime<Utc>>,
    pub inbox_message_id: Option<i64>,
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
    Suspense { kind: String, exception_id: Uuid },
}

impl Settlement {
    /// The inbox status of the message that reported it.
    pub fn inbox_status(&self) -> &'static str {
        match self {
            Settlement::Duplicate => "duplicate",
            _ => "processed",
        }
    }

    pub fn verdict(&self) -> String {
        match self {
            Settlement::Paid { .. } => "paid".to_owned(),
            Settlement::Duplicate => "duplicate".to_owned(),
            Settlement::Suspense { kind, .. } => format!("suspense:{kind}"),
        }
    }
}

/// Records a reported payment. Runs inside the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    report: &ReportedPayment<'_>,
) -> Result<Settlement, ApiError> {
    let won = claim(conn, std::slice::from_ref(report)).await?;
    if won.first() != Some(&true) {
        return Ok(Settlement::Duplicate);
    }
    record_claimed(conn, report).await
}

/// Claims the provider transaction ids of `reports` in one statement: one effect per bank
/// transaction id. Tells, per report, whether it won its claim; a report loses when the id was
/// recorded before, or appears earlier in `reports`.
pub async fn claim(
    conn: &mut PgConnection,
    reports: &[ReportedPayment<'_>],
) -> Result<Vec<bool>, ApiError> {
    let providers: Vec<&str> = reports.iter().map(|r| r.provider).collect();
    let transaction_ids: Vec<&str> = reports.iter().map(|r| r.transaction_id).collect();
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
            let claimed =
                won.remove(&(report.provider.to_owned(), report.transaction_id.to_owned()));
            if !claimed {
                metrics::counter!("owso_bank_payments_total", "channel" => report.channel.to_owned(), "outcome" => "duplicate").increment(1);
            }
            claimed
        })
        .collect())
}

/// Records a reported payment whose provider transaction id this transaction has claimed
/// already (app::settlement_batch claims a whole group in one statement).
///
/// Lock order: an intent before its attempts. Every transaction that locks both (cancel, the
/// expiry sweep, attempt creation, both settlement paths and the KHQR poller) takes them in
/// this order, so that none of them can deadlock another and die as a 500: the attempt is
/// first read without a lock (only to learn its intent, which never changes), then the intent
/// is locked, then the attempt, read afresh.
pub async fn record_claimed(
    conn: &mut PgConnection,
    report: &ReportedPayment<'_>,
) -> Result<Settlement, ApiError> {
    // Found by (channel, reference): a channel settles only its own attempts. A citizen can
    // read the reference of their own attempt, so a report through another channel naming
    // it must not pay it.
    let own: Option<(Uuid, Uuid)> = sqlx::query_as(
        "select id, payment_intent_id from payment_attempts where channel = $1 and provider_reference = $2",
    )
    .bind(report.channel)
    .bind(report.provider_reference)
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
    report: &ReportedPayment<'_>,
) -> Result<Settlement, ApiError> {
    let other: Option<AttemptRow> = sqlx::query_as(&format!(
        "select {ATTEMPT_COLUMNS} from payment_attempts where provider_reference = $1"
    ))
    .bind(report.provider_reference)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(attempt) = other else {
        return park(
            conn,
            report,
            UNALLOCATED_OFFICE,
            "unknown_reference",
            None,
            None,
        )
        .await;
    };
    let intent = intents::load(&mut *conn, None, attempt.payment_intent_id, false).await?;
    tracing::warn!(
        attempt.id = %attempt.id,
        attempt.channel = %attempt.channel,
        report.channel = report.channel,
        "a bank reported a payment for an attempt of another channel"
    );
    park(
        conn,
        report,
        &attempt.office_code,
        "channel_mismatch",
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
pub fn note_bank_clock(report: &ReportedPayment<'_>, attempt: &AttemptRow, now: DateTime<Utc>) {
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
    metrics::counter!("owso_bank_clock_skew_total", "channel" => report.channel.to_owned(), "direction" => direction).increment(1);
    tracing::warn!(
        attempt.id = %attempt.id,
        channel = report.channel,
        bank_paid_at = %reported,
        attempt.created_at = %attempt.created_at,
        direction,
        "the bank's reported payment time is implausible; the payment is dated by our clock"
    );
}

/// Why a reported payment cannot settle its attempt (a suspense kind), or `None` when it
/// pays the attempt exactly, to the right account, while the intent awaits payment.
pub fn unexpected(
    report: &ReportedPayment<'_>,
    attempt: &AttemptRow,
    intent: &IntentRow,
) -> Option<&'static str> {
    let received = report
        .currency
        .parse::<Currency>()
        .ok()
        .and_then(|currency| Money::parse(report.amount, currency).ok());
    match received {
        None => Some("unsupported_currency"),
        Some(_) if !report.receiving_account_matches => Some("account_mismatch"),
        Some(money) if money.currency().code() != attempt.currency.trim() => {
            Some("currency_mismatch")
        }
        Some(money) if money.amount_minor() != attempt.amount_minor => Some("amount_mismatch"),
        Some(_) => match intent.status.as_str() {
            "awaiting_payment" => None,
            "paid" => Some("already_paid"),
            "cancelled" => Some("after_cancel"),
            _ => Some("after_expiry"),
        },
    }
}

/// The ledger entry of a payment that settles its attempt: debit the channel's clearing
/// account, credit each quote line's revenue account. Also returns the total and the time the
/// payment counts from: our clock now, never the bank's (a bank's clock must not pick the
/// fiscal year of a receipt number); the bank's time is kept beside it as `bank_paid_at`.
pub fn payment_entry(
    report: &ReportedPayment<'_>,
    intent: &IntentRow,
    attempt: &AttemptRow,
) -> Result<(BalancedEntry, Money, DateTime<Utc>), ApiError> {
    let total = money::from_row(intent.total_minor, &intent.currency)?;
    let paid_at = Utc::now();
    note_bank_clock(report, attempt, paid_at);
    let clearing = AccountCode::new(
        &intent.office_code,
        AccountKind::Clearing {
            channel: report.channel.to_owned(),
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
    report: &ReportedPayment<'_>,
    intent: &IntentRow,
    attempt: &AttemptRow,
) -> Result<Settlement, ApiError> {
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
    pub report: &'a ReportedPayment<'a>,
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
) -> Result<(), ApiError> {
    let intent_ids: Vec<Uuid> = paid.iter().map(|p| p.intent.id).collect();
    let attempt_ids: Vec<Uuid> = paid.iter().map(|p| p.attempt.id).collect();
    let paid_ats: Vec<DateTime<Utc>> = paid.iter().map(|p| p.paid_at).collect();
    let transaction_ids: Vec<&str> = paid.iter().map(|p| p.report.transaction_id).collect();
    let channels: Vec<&str> = paid.iter().map(|p| p.report.channel).collect();
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
        return Err(ApiError::internal(format!(
            "{written} of {} intents moved to paid",
            paid.len()
        )));
    }
    for p in paid {
        metrics::counter!("owso_bank_payments_total", "channel" => p.report.channel.to_owned(), "outcome" => "paid").increment(1);
        tracing::info!(payment.id = %p.intent.id, attempt.id = %p.attempt.id, "payment confirmed");
    }
    Ok(())
}

/// Money that arrived where it was not expected: never dropped, parked in suspense and raised.
async fn park(
    conn: &mut PgConnection,
    report: &ReportedPayment<'_>,
    office_code: &str,
    kind: &str,
    intent: Option<&IntentRow>,
    attempt: Option<&AttemptRow>,
) -> Result<Settlement, ApiError> {
    let received = report
        .currency
        .parse::<Currency>()
        .ok()
        .and_then(|currency| Money::parse(report.amount, currency).ok());
    let (kind, entry_id) = match received {
        Some(money) if money.is_positive() => {
            let clearing = AccountCode::new(
                office_code,
                AccountKind::Clearing {
                    channel: report.channel.to_owned(),
                },
                money.currency(),
            )?;
            let suspense = AccountCode::new(office_code, AccountKind::Suspense, money.currency())?;
            let entry = EntryBuilder::new(
                office_code,
                "suspense",
                &format!("unexpected {} payment: {kind}", report.channel),
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
        _ => ("unsupported_currency", None),
    };
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
    .bind(report.transaction_id)
    .bind(intent.map(|intent| intent.id))
    .bind(attempt.map(|attempt| attempt.id))
    .bind(truncate(report.amount, 64))
    .bind(truncate(report.currency, 16))
    .bind(entry_id)
    .bind(json!({
        "provider_reference": report.provider_reference,
        "channel": report.channel,
        "attempt_channel": attempt.map(|attempt| attempt.channel.as_str()),
        "bank_paid_at": report.paid_at,
    }))
    .execute(&mut *conn)
    .await?;
    sqlx::query("update provider_transactions set outcome = $3, payment_attempt_id = $4, ledger_entry_id = $5 where provider = $1 and transaction_id = $2")
        .bind(report.provider)
        .bind(report.transaction_id)
        .bind(format!("suspense:{kind}"))
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
                kind: kind.to_owned(),
                office_code: office_code.to_owned(),
                payment_intent_id: intent.map(|intent| intent.id),
                case_reference: intent.map(|intent| intent.case_reference.clone()),
                provider: report.provider.to_owned(),
                provider_transaction_id: report.transaction_id.to_owned(),
                amount: MoneyView {
                    amount: truncate(report.amount, 64),
                    currency: truncate(report.currency, 16),
                },
            }),
        },
    )
    .await?;
    metrics::counter!("owso_bank_payments_total", "channel" => report.channel.to_owned(), "outcome" => "suspense").increment(1);
    tracing::warn!(exception.id = %exception_id, exception.kind = kind, office.code = office_code, "unexpected payment parked in suspense");
    Ok(Settlement::Suspense {
        kind: kind.to_owned(),
        exception_id,
    })
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
