//! Payment attempts: one payment request through one channel.
//!
//! Creating an attempt calls the bank, so it takes two transactions: record the attempt and
//! commit, call the bank with no transaction open, then record the outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{Principal, Role};
use super::idempotency::{self, Claim};
use super::intents;
use super::money::{self, MoneyView};
use super::pagination::Created;
use super::states::{AttemptStatus, Channel, IntentStatus};
use crate::app::error::{AppError, Refusal};
use crate::state::AppState;
use bank_adapters::sandbox::CreatePaymentRequest;

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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptView {
    pub id: Uuid,
    pub payment_intent_id: Uuid,
    pub channel: Channel,
    pub status: AttemptStatus,
    pub amount: MoneyView,
    pub provider_reference: String,
    pub checkout_url: Option<String>,
    pub failure_reason: Option<String>,
    /// The KHQR string to show or encode as a QR (khqr channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub khqr: Option<String>,
    /// How Bakong finds this payment (khqr channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub khqr_md5: Option<String>,
    /// The reference the payer's bank app shows (khqr channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_svg_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_png_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// When the bank says the money moved, as it reported it; `paid_at` is our clock.
    pub bank_paid_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
pub struct AttemptRow {
    pub id: Uuid,
    pub payment_intent_id: Uuid,
    pub office_code: String,
    pub channel: Channel,
    pub status: AttemptStatus,
    pub currency: String,
    pub amount_minor: i64,
    pub provider_reference: String,
    pub checkout_url: Option<String>,
    pub failure_reason: Option<String>,
    pub khqr: Option<String>,
    pub khqr_md5: Option<String>,
    pub bill_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub bank_paid_at: Option<DateTime<Utc>>,
}

pub const ATTEMPT_COLUMNS: &str =
    "id, payment_intent_id, office_code, channel, status, currency, amount_minor, \
    provider_reference, checkout_url, failure_reason, khqr, khqr_md5, bill_number, created_at, expires_at, paid_at, bank_paid_at";

impl AttemptRow {
    pub fn view(&self, state: &AppState) -> Result<AttemptView, AppError> {
        let base = state.config.public_base_url.as_str().trim_end_matches('/');
        let qr_url = |ext: &str| {
            self.khqr
                .as_ref()
                .map(|_| format!("{base}/v1/public/attempts/{}/qr.{ext}", self.id))
        };
        Ok(AttemptView {
            khqr: self.khqr.clone(),
            khqr_md5: self.khqr_md5.clone(),
            bill_number: self.bill_number.clone(),
            qr_svg_url: qr_url("svg"),
            qr_png_url: qr_url("png"),
            id: self.id,
            payment_intent_id: self.payment_intent_id,
            channel: self.channel,
            status: self.status,
            amount: money::from_row(self.amount_minor, &self.currency)?.into(),
            provider_reference: self.provider_reference.clone(),
            checkout_url: self.checkout_url.clone(),
            failure_reason: self.failure_reason.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            paid_at: self.paid_at,
            bank_paid_at: self.bank_paid_at,
        })
    }
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
}

pub async fn create(
    state: &AppState,
    caller: AttemptCaller<'_>,
    intent_id: Uuid,
    idempotency_key: &str,
    request_hash: &[u8],
    request: CreateAttemptRequest,
) -> Result<Created<AttemptView>, AppError> {
    if let AttemptCaller::Key(principal) = &caller {
        principal.require(&[Role::Workflow, Role::Cashier, Role::Admin])?;
    }
    if !CHANNELS.contains(&request.channel.as_str()) {
        return Err(AppError::validation(
            "channel",
            format!("channel must be one of {}", CHANNELS.join(", ")),
        ));
    }
    let channel = Channel::from_text(&request.channel);
    let offered = match channel {
        Some(Channel::Sandbox) => state.config.sandbox_enabled,
        Some(Channel::Khqr) => state.bakong.is_some(),
        Some(Channel::AbaPayway | Channel::AcledaXpay | Channel::Wing | Channel::Cash) | None => {
            false
        }
    };
    if !offered {
        return Err(AppError::unprocessable(
            "channel_unavailable",
            "Channel unavailable",
            format!(
                "the {} channel is not available on this service",
                request.channel
            ),
        ));
    }
    let scope = caller.idempotency_scope(intent_id);

    // Transaction 1: claim the key, check the intent, record the attempt.
    let mut tx = state.pool.begin().await?;
    let principal = match &caller {
        AttemptCaller::Key(principal) => Some(*principal),
        AttemptCaller::Citizen(_) => None,
    };
    let intent = intents::load(&mut tx, principal, intent_id, true).await?;
    if let AttemptCaller::Citizen(token) = &caller {
        let presented = super::secrets::pay_token_hash(token);
        if !bool::from(presented.as_slice().ct_eq(intent.pay_token_hash.as_slice())) {
            return Err(AppError::not_found("payment intent"));
        }
    }
    if let Claim::Replay { status, body } =
        idempotency::claim(&mut tx, &scope, idempotency_key, request_hash).await?
    {
        return Ok(Created::Replayed { status, body });
    }
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
    // Counted under the intent's row lock (taken by the load above), so concurrent requests,
    // from any number of instances, cannot together pass the bound.
    let made: i64 =
        sqlx::query_scalar("select count(*) from payment_attempts where payment_intent_id = $1")
            .bind(intent_id)
            .fetch_one(&mut *tx)
            .await?;
    let max = state.config.max_attempts_per_intent;
    if made >= max {
        return Err(AppError::TooMany(Refusal::new(
            "too_many_attempts",
            "Too many attempts",
            format!("this payment intent has had {made} attempts, the most it takes ({max}); pay one of them or ask the office for a new payment link"),
        )));
    }
    let attempt_id = Uuid::now_v7();
    let provider_reference = format!("op{}", attempt_id.simple());
    let ttl = chrono::Duration::from_std(state.config.attempt_ttl).map_err(AppError::internal)?;
    let expires_at = intent.expires_at.min(Utc::now() + ttl);
    if channel == Some(Channel::Khqr) {
        // A dynamic KHQR is made here, not by a bank: one transaction, no outside call.
        let new = super::khqr::NewKhqrAttempt {
            attempt_id,
            provider_reference: &provider_reference,
            expires_at,
        };
        super::khqr::insert_attempt(&mut tx, &intent, &new).await?;
        let view = load(&mut tx, attempt_id).await?.view(state)?;
        idempotency::save_created(&mut tx, &scope, idempotency_key, &view).await?;
        tx.commit().await?;
        tracing::info!(payment.id = %intent_id, attempt.id = %attempt_id, channel = "khqr", "payment attempt created");
        return Ok(Created::New(view));
    }
    // language=PostgreSQL
    sqlx::query(
        "insert into payment_attempts (id, payment_intent_id, office_code, channel, status, currency, amount_minor,
             provider_reference, expires_at, status_check_at)
         values ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, now() + $9::bigint * interval '1 millisecond')",
    )
    .bind(attempt_id)
    .bind(intent_id)
    .bind(&intent.office_code)
    .bind(&request.channel)
    .bind(&intent.currency)
    .bind(intent.total_minor)
    .bind(&provider_reference)
    .bind(expires_at)
    // The bank is asked about the attempt later, should no callback settle it
    // (workers::sandbox_status).
    .bind(i64::try_from(state.config.sandbox_status_after.as_millis()).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    // The bank call, with no transaction open.
    let total = money::from_row(intent.total_minor, &intent.currency)?;
    let bank_request = CreatePaymentRequest {
        provider_reference: provider_reference.clone(),
        amount: total.format_amount(),
        currency: total.currency().code().to_owned(),
        description: format!("OWSO case {}", intent.case_reference),
        expires_at,
    };
    let outcome = state.sandbox.create_payment(&bank_request).await;

    // Transaction 2: record what the bank said.
    let mut tx = state.pool.begin().await?;
    match outcome {
        Ok(created) => {
            sqlx::query(
                "update payment_attempts set checkout_url = $2, updated_at = now() where id = $1",
            )
            .bind(attempt_id)
            .bind(&created.checkout_url)
            .execute(&mut *tx)
            .await?;
            let view = load(&mut tx, attempt_id).await?.view(state)?;
            idempotency::save_created(&mut tx, &scope, idempotency_key, &view).await?;
            tx.commit().await?;
            tracing::info!(payment.id = %intent_id, attempt.id = %attempt_id, channel = %request.channel, "payment attempt created");
            Ok(Created::New(view))
        }
        Err(error) => {
            tracing::warn!(payment.id = %intent_id, attempt.id = %attempt_id, error = %error, "bank refused or did not answer the payment request");
            sqlx::query("update payment_attempts set status = 'failed', failure_reason = $2, updated_at = now() where id = $1 and status = 'pending'")
                .bind(attempt_id)
                .bind(format!("bank: {error}"))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            // Nothing moved: free the key so the client may retry the same request.
            idempotency::release(&state.pool, &scope, idempotency_key).await?;
            Err(AppError::BankUnavailable(Refusal::new(
                "bank_unavailable",
                "Bank unavailable",
                "the bank did not accept the payment request; retry later",
            )))
        }
    }
}

pub async fn load(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<AttemptRow, AppError> {
    let row: Option<AttemptRow> = sqlx::query_as(&format!(
        "select {ATTEMPT_COLUMNS} from payment_attempts where id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or_else(|| AppError::not_found("payment attempt"))
}

pub async fn list_for_intent(
    state: &AppState,
    principal: &Principal,
    intent_id: Uuid,
) -> Result<Vec<AttemptView>, AppError> {
    let mut conn = state.pool.acquire().await?;
    intents::load(&mut conn, Some(principal), intent_id, false).await?;
    let rows: Vec<AttemptRow> = sqlx::query_as(&format!(
        "select {ATTEMPT_COLUMNS} from payment_attempts where payment_intent_id = $1 order by created_at, id"
    ))
    .bind(intent_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|row| row.view(state)).collect()
}
