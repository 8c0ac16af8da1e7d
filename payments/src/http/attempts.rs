//! Payment attempts of an intent: create one on a channel (idempotent), list them.

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use uuid::Uuid;

use super::auth::Caller;
use super::body::{created, parse_json};
use super::error::{ApiError, Problem};
use super::extract::{AppPath, IdempotencyKey, JsonBytes};
use crate::app::attempts::{self, AttemptCaller, AttemptView, CreateAttemptRequest};
use crate::app::auth::Principal;
use crate::app::idempotency::request_hash;
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/payment-intents/{id}/attempts",
        post(create_attempt).get(list_attempts),
    )
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
    Ok(created(
        attempts::create(&state, caller, id, &key, &hash, request).await?,
    ))
}

#[utoipa::path(get, path = "/v1/payment-intents/{id}/attempts", tag = "payments", security(("bearer" = [])), responses((status = 200, body = Vec<AttemptView>)))]
pub async fn list_attempts(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<Vec<AttemptView>>, ApiError> {
    Ok(Json(
        attempts::list_for_intent(&state, &principal, id).await?,
    ))
}
