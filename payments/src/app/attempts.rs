//! Payment attempts: one payment request through one channel.
//!
//! Creating an attempt calls the bank, so it takes two transactions: record the attempt and
//! commit, call the bank with no transaction open, then record the outcome.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::{PgConnection, Postgres, Transaction};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{Principal, Role};
use super::idempotency::{self, Claim};
use super::intents::{self, IntentRow};
use super::money;
use super::pagination::{cursor, Created, Page};
use super::states::{Channel, IntentStatus};
use crate::app::error::{AppError, Refusal};
use crate::db;
use crate::db::attempts::NewBankAttempt;
use crate::state::AppState;
use bank_adapters::sandbox::CreatePaymentRequest;

/// Re-exported for the settlement, which reads attempts with runtime queries of its own.
pub use crate::db::attempts::{AttemptRow, ATTEMPT_COLUMNS};

/// Channels of API.md. The sandbox and KHQR are wired; the gateways are refused with a clear
/// problem until their adapters land.
pub const CHANNELS: [&str; 5] = ["khqr", "aba_payway", "acleda_xpay", "wing", "sandbox"];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAttemptRequest {
    #[schema(example = "sandbox", schema_with = channel_schema)]
    pub channel: String,
}

/// The OpenAPI schema of `channel` (a channel whose gateway is not configured answers 422
/// `channel_unavailable`).
fn channel_schema() -> utoipa::openapi::Object {
    super::validation::text_enum(&CHANNELS)
}

/// Who asks for an attempt: staff or the workflow system with a key, or the citizen with the
/// payment link token.
pub enum AttemptCaller<'a> {
    Key(&'a Principal),
    Citizen(&'a str),
}

impl AttemptCaller<'_> {
    fn idempotency_scope(&self, intent_id: Uuid) -> String {
        match self {
            AttemptCaller::Key(principal) => principal.idempotency_scope(),
            AttemptCaller::Citizen(_) => format!("citizen:{intent_id}"),
        }
    }

    fn principal(&self) -> Option<&Principal> {
        match self {
            AttemptCaller::Key(principal) => Some(principal),
            AttemptCaller::Citizen(_) => None,
        }
    }
}

/// The idempotency key of a creation, and how its answer is rendered (the body stored with
/// the key is the one answered, byte for byte).
struct Answer<'a, R> {
    scope: String,
    key: &'a str,
    render: R,
}

/// An attempt about to be recorded.
struct Planned {
    id: Uuid,
    provider_reference: String,
    expires_at: DateTime<Utc>,
}

/// Creates an attempt, idempotently. `render` gives the JSON answer of the attempt, stored
/// with the key in the transaction that records it.
#[tracing::instrument(skip_all, fields(payment_intent.id = %intent_id, payment_attempt.id, channel))]
pub async fn create(
    state: &AppState,
    caller: AttemptCaller<'_>,
    intent_id: Uuid,
    idempotency_key: &str,
    request_hash: &[u8],
    request: CreateAttemptRequest,
    render: impl Fn(&AttemptRow) -> Result<Value, AppError>,
) -> Result<Created<AttemptRow>, AppError> {
    if let AttemptCaller::Key(principal) = &caller {
        principal.require(&[Role::Workflow, Role::Cashier, Role::Admin])?;
    }
    let channel = offered_channel(state, &request.channel)?;
    tracing::Span::current().record("channel", channel.as_str());
    let answer = Answer {
        scope: caller.idempotency_scope(intent_id),
        key: idempotency_key,
        render,
    };
    // Transaction 1: claim the key, check the intent, record the attempt.
    let mut tx = state.pool.begin().await?;
    let intent = intents::load(&mut tx, caller.principal(), intent_id, true).await?;
    if let AttemptCaller::Citizen(token) = &caller {
        let presented = super::secrets::pay_token_hash(token);
        if !bool::from(presented.as_slice().ct_eq(intent.pay_token_hash.as_slice())) {
            return Err(AppError::not_found("payment intent"));
        }
    }
    if let Claim::Replay { status, body } =
        idempotency::claim(&mut tx, &answer.scope, answer.key, request_hash).await?
    {
        return Ok(Created::Replayed { status, body });
    }
    check_takes_attempt(state, &mut tx, &intent).await?;
    let planned = plan(state, &intent)?;
    tracing::Span::current().record("payment_attempt.id", tracing::field::display(planned.id));
    let attempt = match channel {
        Channel::Khqr => create_khqr(tx, &intent, &planned, &answer).await?,
        _ => create_at_bank(state, tx, &intent, channel, &planned, &answer).await?,
    };
    tracing::info!(payment_intent.id = %intent_id, payment_attempt.id = %attempt.id, channel = %channel, "payment attempt created");
    Ok(Created::New(attempt))
}

/// The channel asked for, if this service offers it.
fn offered_channel(state: &AppState, requested: &str) -> Result<Channel, AppError> {
    if !CHANNELS.contains(&requested) {
        return Err(AppError::validation(
            "channel",
            format!("channel must be one of {}", CHANNELS.join(", ")),
        ));
    }
    let channel = Channel::from_text(requested);
    let offered = match channel {
        Some(Channel::Sandbox) => state.config.sandbox_enabled,
        Some(Channel::Khqr) => state.bakong.is_some(),
        Some(Channel::AbaPayway | Channel::AcledaXpay | Channel::Wing | Channel::Cash) | None => {
            false
        }
    };
    match channel {
        Some(channel) if offered => Ok(channel),
        _ => Err(AppError::unprocessable(
            "channel_unavailable",
            "Channel unavailable",
            format!("the {requested} channel is not available on this service"),
        )),
    }
}

/// An intent takes a new attempt while it awaits payment, has not expired, and has had fewer
/// than `MAX_ATTEMPTS_PER_INTENT`. The caller holds the intent's row lock.
async fn check_takes_attempt(
    state: &AppState,
    conn: &mut PgConnection,
    intent: &IntentRow,
) -> Result<(), AppError> {
    if intent.status != IntentStatus::AwaitingPayment {
        return Err(AppError::invalid_state(format!(
            "the payment intent is {}; it takes no new attempt",
            intent.status
        )));
    }
    if intent.expires_at <= Utc::now() {
        return Err(AppError::invalid_state(
            "the payment intent has expired; it takes no new attempt",
        ));
    }
    // Counted under the intent's row lock, so concurrent requests, from any number of
    // instances, cannot together pass the bound.
    let made = db::attempts::count_for_intent(conn, intent.id).await?;
    let max = state.config.max_attempts_per_intent;
    if made >= max {
        return Err(AppError::TooMany(Refusal::new(
            "too_many_attempts",
            "Too many attempts",
            format!("this payment intent has had {made} attempts, the most it takes ({max}); pay one of them or ask the office for a new payment link"),
        )));
    }
    Ok(())
}

/// The new attempt's id, bank reference and expiry (its own lifetime, never past the
/// intent's).
fn plan(state: &AppState, intent: &IntentRow) -> Result<Planned, AppError> {
    let id = Uuid::now_v7();
    let ttl = chrono::Duration::from_std(state.config.attempt_ttl).map_err(AppError::internal)?;
    Ok(Planned {
        id,
        provider_reference: format!("op{}", id.simple()),
        expires_at: intent.expires_at.min(Utc::now() + ttl),
    })
}

/// A dynamic KHQR is made here, not by a bank: one transaction, no outside call.
async fn create_khqr<R>(
    mut tx: Transaction<'static, Postgres>,
    intent: &IntentRow,
    planned: &Planned,
    answer: &Answer<'_, R>,
) -> Result<AttemptRow, AppError>
where
    R: Fn(&AttemptRow) -> Result<Value, AppError>,
{
    let new = super::khqr::NewKhqrAttempt {
        attempt_id: planned.id,
        provider_reference: &planned.provider_reference,
        expires_at: planned.expires_at,
    };
    super::khqr::insert_attempt(&mut tx, intent, &new).await?;
    let attempt = load(&mut tx, planned.id).await?;
    idempotency::save_created(
        &mut tx,
        &answer.scope,
        answer.key,
        &(answer.render)(&attempt)?,
    )
    .await?;
    tx.commit().await?;
    Ok(attempt)
}

/// Records the attempt and commits, asks the bank with no transaction open, then records
/// what the bank said in a second transaction.
async fn create_at_bank<R>(
    state: &AppState,
    mut tx: Transaction<'static, Postgres>,
    intent: &IntentRow,
    channel: Channel,
    planned: &Planned,
    answer: &Answer<'_, R>,
) -> Result<AttemptRow, AppError>
where
    R: Fn(&AttemptRow) -> Result<Value, AppError>,
{
    let new = NewBankAttempt {
        id: planned.id,
        payment_intent_id: intent.id,
        office_code: &intent.office_code,
        channel,
        currency: &intent.currency,
        amount_minor: intent.total_minor,
        provider_reference: &planned.provider_reference,
        expires_at: planned.expires_at,
        // The bank is asked about the attempt later, should no callback settle it
        // (workers::sandbox_status).
        status_check_after_ms: i64::try_from(state.config.sandbox_status_after.as_millis())
            .unwrap_or(i64::MAX),
    };
    db::attempts::insert_pending(&mut tx, &new).await?;
    // The bank books the money to the office's account for this channel (`sandbox` for the
    // sandbox bank), so its statement of that account lists the payment for reconciliation;
    // an office without one still takes payments, they only appear on no statement.
    let account_id = db::offices::channel_account(
        &mut tx,
        &intent.office_code,
        &intent.currency,
        channel.as_str(),
    )
    .await?;
    tx.commit().await?;

    let total = money::from_row(intent.total_minor, &intent.currency)?;
    let bank_request = CreatePaymentRequest {
        provider_reference: planned.provider_reference.clone(),
        amount: total.format_amount(),
        currency: total.currency().code().to_owned(),
        description: format!("OWSO case {}", intent.case_reference),
        expires_at: planned.expires_at,
        account_id,
    };
    let outcome = state.sandbox.create_payment(&bank_request).await;
    match outcome {
        Ok(created) => record_checkout(state, planned.id, &created.checkout_url, answer).await,
        Err(error) => {
            tracing::warn!(payment_intent.id = %intent.id, payment_attempt.id = %planned.id, error = %error, "bank refused or did not answer the payment request");
            record_bank_refusal(state, planned.id, &error.to_string(), answer).await
        }
    }
}

/// Transaction 2 when the bank took the request: its checkout URL, and the stored answer.
async fn record_checkout<R>(
    state: &AppState,
    attempt_id: Uuid,
    checkout_url: &str,
    answer: &Answer<'_, R>,
) -> Result<AttemptRow, AppError>
where
    R: Fn(&AttemptRow) -> Result<Value, AppError>,
{
    let mut tx = state.pool.begin().await?;
    db::attempts::set_checkout_url(&mut tx, attempt_id, checkout_url).await?;
    let attempt = load(&mut tx, attempt_id).await?;
    idempotency::save_created(
        &mut tx,
        &answer.scope,
        answer.key,
        &(answer.render)(&attempt)?,
    )
    .await?;
    tx.commit().await?;
    Ok(attempt)
}

/// Transaction 2 when the bank refused or did not answer: the attempt fails, and the key is
/// freed (nothing moved) so the client may retry the same request.
async fn record_bank_refusal<R>(
    state: &AppState,
    attempt_id: Uuid,
    error: &str,
    answer: &Answer<'_, R>,
) -> Result<AttemptRow, AppError> {
    let mut tx = state.pool.begin().await?;
    db::attempts::mark_failed(&mut tx, attempt_id, &format!("bank: {error}")).await?;
    tx.commit().await?;
    idempotency::release(&state.pool, &answer.scope, answer.key).await?;
    Err(AppError::BankUnavailable(Refusal::new(
        "bank_unavailable",
        "Bank unavailable",
        "the bank did not accept the payment request; retry later",
    )))
}

#[tracing::instrument(skip_all, fields(payment_attempt.id = %id))]
pub async fn load(conn: &mut PgConnection, id: Uuid) -> Result<AttemptRow, AppError> {
    db::attempts::find(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("payment attempt"))
}

/// One page of an intent's attempts, oldest first (API.md, "Lists").
#[tracing::instrument(skip_all, fields(payment_intent.id = %intent_id))]
pub async fn list_for_intent(
    state: &AppState,
    principal: &Principal,
    intent_id: Uuid,
    limit: Option<i64>,
    after: Option<&str>,
) -> Result<Page<AttemptRow>, AppError> {
    let limit = cursor::limit(limit)?;
    let after = after.map(cursor::decode).transpose()?;
    let mut conn = state.pool.acquire().await?;
    intents::load(&mut conn, Some(principal), intent_id, false).await?;
    let rows = db::attempts::list_for_intent(&mut conn, intent_id, after, limit + 1).await?;
    Ok(cursor::paginate(rows, limit, |row| {
        (row.created_at, row.id)
    }))
}
