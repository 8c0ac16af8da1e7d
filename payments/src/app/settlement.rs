//! What happens when a bank says money moved. Every channel (sandbox callback today, the
//! Bakong poller and the gateways later) ends here, so the checks and the postings are the
//! same whatever told us.
//!
//! One transaction holds: the provider-transaction claim (one effect per bank transaction id),
//! the state change, the balanced ledger entry and the outbox event.

use chrono::{DateTime, Utc};
use ledger::{AccountCode, AccountKind, Currency, EntryBuilder, Money};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::attempts::{AttemptRow, ATTEMPT_COLUMNS};
use super::intents::{self, IntentRow};
use super::money::{self, MoneyView};
use super::outbox::{self, NewEvent};
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
    // language=PostgreSQL
    let claimed = sqlx::query(
        "insert into provider_transactions (provider, transaction_id, inbox_message_id, outcome)
         values ($1, $2, $3, 'processing') on conflict do nothing",
    )
    .bind(report.provider)
    .bind(report.transaction_id)
    .bind(report.inbox_message_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if claimed == 0 {
        metrics::counter!("owso_bank_payments_total", "channel" => report.channel.to_owned(), "outcome" => "duplicate").increment(1);
        return Ok(Settlement::Duplicate);
    }

    let attempt: Option<AttemptRow> = sqlx::query_as(&format!(
        "select {ATTEMPT_COLUMNS} from payment_attempts where provider_reference = $1 for update"
    ))
    .bind(report.provider_reference)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(attempt) = attempt else {
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
    let intent = intents::load(&mut *conn, None, attempt.payment_intent_id, true).await?;
    let received = report
        .currency
        .parse::<Currency>()
        .ok()
        .and_then(|currency| Money::parse(report.amount, currency).ok());
    let kind = match received {
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
    };
    match kind {
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

async fn settle(
    conn: &mut PgConnection,
    report: &ReportedPayment<'_>,
    intent: &IntentRow,
    attempt: &AttemptRow,
) -> Result<Settlement, ApiError> {
    let total = money::from_row(intent.total_minor, &intent.currency)?;
    let now = Utc::now();
    // A bank clock far in the future is not believed; the receipt is dated when we learnt it.
    let paid_at = report.paid_at.filter(|at| *at <= now).unwrap_or(now);
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
    let posted = ledger::store::post(conn, &entry.build()?).await?;
    let entry_id = match posted {
        ledger::store::PostOutcome::Posted(id) | ledger::store::PostOutcome::AlreadyPosted(id) => {
            id
        }
    };

    // One statement, four writes: the paid attempt (and the intent's other pending attempts
    // cancelled), the intent paid, the claim's outcome, and the `payment.paid` event staged in
    // receipt_queue. The event becomes an outbox event with its receipt number right after
    // this transaction commits (app::receipts): a counter row locked here would be held
    // through the commit's disk flush and let one office confirm one payment per flush.
    // language=PostgreSQL
    let paid: i64 = sqlx::query_scalar(
        "with attempts as (
             update payment_attempts
             set status = case when id = $2 then 'paid' else 'cancelled' end,
                 paid_at = case when id = $2 then $3 else paid_at end,
                 provider_transaction_id = case when id = $2 then $4 else provider_transaction_id end,
                 updated_at = now()
             where payment_intent_id = $1 and (id = $2 or status = 'pending')
             returning 1
         ),
         intent as (
             update payment_intents set status = 'paid', amount_paid_minor = total_minor, paid_at = $3,
                 paid_channel = $5, updated_at = now()
             where id = $1 and status = 'awaiting_payment'
             returning 1
         ),
         claim as (
             update provider_transactions set outcome = 'paid', payment_attempt_id = $2, ledger_entry_id = $6
             where provider = $7 and transaction_id = $4
             returning 1
         ),
         staged as (
             insert into receipt_queue (payment_intent_id, office_code, fiscal_year, case_reference,
                 total_minor, currency, channel, paid_at)
             values ($1, $8, $9, $10, $11, $12, $5, $3)
             returning 1
         )
         -- Every data-modifying WITH runs to completion, read or not.
         select count(*) from intent",
    )
    .bind(intent.id)
    .bind(attempt.id)
    .bind(paid_at)
    .bind(report.transaction_id)
    .bind(report.channel)
    .bind(entry_id.0)
    .bind(report.provider)
    .bind(&intent.office_code)
    .bind(receipts::fiscal_year(paid_at))
    .bind(&intent.case_reference)
    .bind(total.amount_minor())
    .bind(total.currency().code())
    .fetch_one(&mut *conn)
    .await?;
    if paid != 1 {
        // The intent was locked and awaiting payment a moment ago in this transaction.
        return Err(ApiError::internal(format!(
            "intent {} did not move to paid",
            intent.id
        )));
    }
    metrics::counter!("owso_bank_payments_total", "channel" => report.channel.to_owned(), "outcome" => "paid").increment(1);
    tracing::info!(payment.id = %intent.id, attempt.id = %attempt.id, "payment confirmed");
    Ok(Settlement::Paid {
        payment_intent_id: intent.id,
        office_code: intent.office_code.clone(),
    })
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
    .bind(json!({ "provider_reference": report.provider_reference }))
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
            event_type: "reconciliation.exception",
            office_code,
            case_reference: intent.map(|intent| intent.case_reference.as_str()),
            payment_intent_id: intent.map(|intent| intent.id),
            data: outbox::data(&outbox::ReconciliationException {
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
            })?,
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
