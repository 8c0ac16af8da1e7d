//! The store of settlement: provider-transaction claims, the attempts and intents a report
//! settles (locked intents first, then attempts), the paid writes and reconciliation
//! exceptions.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::app::attempts::AttemptRow;
use crate::app::intents::IntentRow;
use crate::app::quotes::QuoteLine;
use crate::app::states::{AttemptStatus, Channel, ExceptionKind, IntentStatus};

/// Claims provider transaction ids, in the order given; returns the (provider,
/// transaction_id) pairs won (recorded before: lost).
pub async fn claim(
    conn: impl PgExecutor<'_>,
    providers: &[&str],
    transaction_ids: &[&str],
    inbox_ids: &[Option<i64>],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    // language=PostgreSQL
    let won = sqlx::query!(
        "insert into provider_transactions (provider, transaction_id, inbox_message_id, outcome)
         select provider, transaction_id, inbox_message_id, 'processing'
         from unnest($1::text[], $2::text[], $3::bigint[]) with ordinality
              as t (provider, transaction_id, inbox_message_id, position)
         order by position
         on conflict do nothing
         returning provider, transaction_id",
        providers as _,
        transaction_ids as _,
        inbox_ids as _,
    )
    .fetch_all(conn)
    .await?;
    Ok(won
        .into_iter()
        .map(|row| (row.provider, row.transaction_id))
        .collect())
}

/// The (attempt id, intent id) of the attempt of `channel` with this reference, unlocked.
pub async fn own_attempt(
    conn: impl PgExecutor<'_>,
    channel: Channel,
    provider_reference: &str,
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    // language=PostgreSQL
    let row = sqlx::query!(
        "select id, payment_intent_id from payment_attempts where channel = $1 and provider_reference = $2",
        channel.as_str(),
        provider_reference,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| (row.id, row.payment_intent_id)))
}

/// An attempt, locked (its intent locked before it: see app::settlement).
pub async fn attempt_for_update(
    conn: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<AttemptRow, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        AttemptRow,
        r#"select id, payment_intent_id, office_code, channel as "channel: Channel",
               status as "status: AttemptStatus", currency, amount_minor, provider_reference,
               checkout_url, failure_reason, khqr, khqr_md5, bill_number, created_at, expires_at,
               paid_at, bank_paid_at, deeplink
           from payment_attempts where id = $1 for update"#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// The attempt of any channel with this reference, unlocked.
pub async fn attempt_by_reference(
    conn: impl PgExecutor<'_>,
    provider_reference: &str,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        AttemptRow,
        r#"select id, payment_intent_id, office_code, channel as "channel: Channel",
               status as "status: AttemptStatus", currency, amount_minor, provider_reference,
               checkout_url, failure_reason, khqr, khqr_md5, bill_number, created_at, expires_at,
               paid_at, bank_paid_at, deeplink
           from payment_attempts where provider_reference = $1"#,
        provider_reference,
    )
    .fetch_optional(conn)
    .await
}

/// The intents of the attempts named by (channel, reference) pairs, unlocked.
pub async fn group_intent_ids(
    conn: impl PgExecutor<'_>,
    channels: &[&str],
    references: &[&str],
) -> Result<Vec<Uuid>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "select distinct a.payment_intent_id from payment_attempts a
         join unnest($1::text[], $2::text[]) as r (channel, provider_reference)
           on a.channel = r.channel and a.provider_reference = r.provider_reference",
        channels as _,
        references as _,
    )
    .fetch_all(conn)
    .await
}

/// Intents with their quote lines, locked in id order.
pub async fn lock_intents(
    conn: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> Result<Vec<IntentRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        IntentRow,
        r#"select i.id, i.status as "status: IntentStatus", i.case_reference, i.office_code,
               i.quote_id, i.currency, i.total_minor, i.amount_paid_minor, i.amount_refunded_minor,
               i.pay_token_hash, i.pay_token_sealed, i.receipt_number, i.paid_channel,
               q.lines as "lines: Json<Vec<QuoteLine>>", i.expires_at, i.created_at, i.paid_at,
               i.cancelled_at, i.bank_paid_at
           from payment_intents i join quotes q on q.id = i.quote_id
           where i.id = any($1) order by i.id for update of i"#,
        ids,
    )
    .fetch_all(conn)
    .await
}

/// The attempts named by (channel, reference) pairs, locked in id order (their intents
/// locked before).
pub async fn lock_group_attempts(
    conn: impl PgExecutor<'_>,
    channels: &[&str],
    references: &[&str],
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        AttemptRow,
        r#"select a.id, a.payment_intent_id, a.office_code, a.channel as "channel: Channel",
               a.status as "status: AttemptStatus", a.currency, a.amount_minor, a.provider_reference,
               a.checkout_url, a.failure_reason, a.khqr, a.khqr_md5, a.bill_number, a.created_at,
               a.expires_at, a.paid_at, a.bank_paid_at, a.deeplink
           from payment_attempts a
           where (a.channel, a.provider_reference) in (select * from unnest($1::text[], $2::text[]))
           order by a.id for update"#,
        channels as _,
        references as _,
    )
    .fetch_all(conn)
    .await
}

/// The columns of [`write_paid`], one entry per settled payment.
pub struct PaidColumns<'a> {
    pub intent_ids: Vec<Uuid>,
    pub attempt_ids: Vec<Uuid>,
    pub paid_ats: Vec<DateTime<Utc>>,
    pub transaction_ids: Vec<&'a str>,
    pub channels: Vec<&'a str>,
    pub entry_ids: Vec<i64>,
    pub providers: Vec<&'a str>,
    pub offices: Vec<&'a str>,
    pub fiscal_years: Vec<i32>,
    pub cases: Vec<&'a str>,
    pub totals: Vec<i64>,
    pub currencies: Vec<&'a str>,
    pub bank_paid_ats: Vec<Option<DateTime<Utc>>>,
}

/// Each paid attempt (and its intent's other pending attempts cancelled), each intent paid,
/// each claim's outcome, and with `stage` each payment staged in receipt_queue, in one
/// statement; returns how many intents moved to paid.
pub async fn write_paid(
    conn: impl PgExecutor<'_>,
    paid: &PaidColumns<'_>,
    stage: bool,
) -> Result<i64, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
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
         select count(*) as \"count!\" from intents",
        &paid.intent_ids as _,
        &paid.attempt_ids as _,
        &paid.paid_ats as _,
        &paid.transaction_ids as _,
        &paid.channels as _,
        &paid.entry_ids as _,
        &paid.providers as _,
        &paid.offices as _,
        &paid.fiscal_years as _,
        &paid.cases as _,
        &paid.totals as _,
        &paid.currencies as _,
        stage,
        &paid.bank_paid_ats as _,
    )
    .fetch_one(conn)
    .await
}

/// A reconciliation exception as recorded.
pub struct NewException<'a> {
    pub id: Uuid,
    pub office_code: &'a str,
    pub kind: ExceptionKind,
    pub provider: &'a str,
    pub provider_transaction_id: &'a str,
    pub payment_intent_id: Option<Uuid>,
    pub payment_attempt_id: Option<Uuid>,
    pub amount: &'a str,
    pub currency: &'a str,
    pub ledger_entry_id: Option<i64>,
    pub details: serde_json::Value,
}

pub async fn insert_exception(
    conn: impl PgExecutor<'_>,
    exception: &NewException<'_>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into reconciliation_exceptions (id, office_code, kind, provider, provider_transaction_id,
             payment_intent_id, payment_attempt_id, amount, currency, ledger_entry_id, details)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        exception.id,
        exception.office_code,
        exception.kind.as_str(),
        exception.provider,
        exception.provider_transaction_id,
        exception.payment_intent_id,
        exception.payment_attempt_id,
        exception.amount,
        exception.currency,
        exception.ledger_entry_id,
        exception.details,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records what a claimed provider transaction came to, other than paid (which
/// [`write_paid`] records).
pub async fn set_claim_outcome(
    conn: impl PgExecutor<'_>,
    provider: &str,
    transaction_id: &str,
    outcome: &str,
    payment_attempt_id: Option<Uuid>,
    ledger_entry_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update provider_transactions set outcome = $3, payment_attempt_id = $4, ledger_entry_id = $5
         where provider = $1 and transaction_id = $2",
        provider,
        transaction_id,
        outcome,
        payment_attempt_id,
        ledger_entry_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}
