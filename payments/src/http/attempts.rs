//! Payment attempts of an intent: create one on a channel (idempotent), list them.

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Caller;
use super::body::{created_as, json_value, parse_json};
use super::error::{ApiError, Problem};
use super::extract::{AppPath, AppQuery, IdempotencyKey, JsonBytes};
use super::money::MoneyView;
use crate::app::attempts::{self, AttemptCaller, AttemptRow, CreateAttemptRequest};
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::app::idempotency::request_hash;
use crate::app::pagination::{ListQuery, Page};
use crate::app::states::{AttemptStatus, Channel};
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/payment-intents/{id}/attempts",
        post(create_attempt).get(list_attempts),
    )
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
    /// Bakong's short link that opens this KHQR in the payer's bank app (khqr channel, once
    /// Bakong gave one; the pay page asks for it just after making the attempt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deeplink: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// When the bank says the money moved, as it reported it; `paid_at` is our clock.
    pub bank_paid_at: Option<DateTime<Utc>>,
}

impl AttemptView {
    /// The view of an attempt; its QR image links start with the service's public URL.
    pub fn render(state: &AppState, attempt: &AttemptRow) -> Result<AttemptView, AppError> {
        let base = state.config.public_base_url.as_str().trim_end_matches('/');
        let qr_url = |ext: &str| {
            attempt
                .khqr
                .as_ref()
                .map(|_| format!("{base}/v1/public/attempts/{}/qr.{ext}", attempt.id))
        };
        Ok(AttemptView {
            khqr: attempt.khqr.clone(),
            khqr_md5: attempt.khqr_md5.clone(),
            bill_number: attempt.bill_number.clone(),
            qr_svg_url: qr_url("svg"),
            qr_png_url: qr_url("png"),
            deeplink: attempt.deeplink.clone(),
            id: attempt.id,
            payment_intent_id: attempt.payment_intent_id,
            channel: attempt.channel,
            status: attempt.status,
            amount: MoneyView::from_row(attempt.amount_minor, &attempt.currency)?,
            provider_reference: attempt.provider_reference.clone(),
            checkout_url: attempt.checkout_url.clone(),
            failure_reason: attempt.failure_reason.clone(),
            created_at: attempt.created_at,
            expires_at: attempt.expires_at,
            paid_at: attempt.paid_at,
            bank_paid_at: attempt.bank_paid_at,
        })
    }
}

#[utoipa::path(post, path = "/v1/payment-intents/{id}/attempts", tag = "payments", request_body(content = CreateAttemptRequest, content_type = "application/json"), security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 255 characters")),
    responses((status = 201, body = AttemptView), (status = 409, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn create_attempt(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<Uuid>,
    IdempotencyKey(key): IdempotencyKey,
    OriginalUri(uri): OriginalUri,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let hash = request_hash("POST", uri.path(), &body);
    let request: CreateAttemptRequest = parse_json(&body)?;
    let caller = match &caller {
        Caller::Key(principal) => AttemptCaller::Key(principal),
        Caller::Citizen { pay_token } => AttemptCaller::Citizen(pay_token),
    };
    let render = |attempt: &AttemptRow| json_value(&AttemptView::render(&state, attempt)?);
    let result = attempts::create(&state, caller, id, &key, &hash, request, render).await?;
    created_as(result, |attempt| AttemptView::render(&state, attempt))
}

#[utoipa::path(get, path = "/v1/payment-intents/{id}/attempts", tag = "payments", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<AttemptView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_attempts(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<AttemptView>>, ApiError> {
    let page =
        attempts::list_for_intent(&state, &principal, id, query.limit, query.cursor.as_deref())
            .await?;
    Ok(Json(Page {
        data: page
            .data
            .iter()
            .map(|attempt| AttemptView::render(&state, attempt))
            .collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    }))
}
