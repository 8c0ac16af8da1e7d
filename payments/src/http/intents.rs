//! Payment intents: create (idempotent), list, read, cancel.

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use uuid::Uuid;

use super::body::{created, parse_json};
use super::error::{ApiError, Problem};
use super::extract::{AppPath, AppQuery, IdempotencyKey, JsonBytes};
use crate::app::auth::Principal;
use crate::app::idempotency::request_hash;
use crate::app::intents::{self, CreateIntentRequest, IntentView, ListIntentsQuery};
use crate::app::pagination::Page;
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/payment-intents", post(create_intent).get(list_intents))
        .route("/v1/payment-intents/{id}", get(get_intent))
        .route("/v1/payment-intents/{id}/cancel", post(cancel_intent))
}

#[utoipa::path(post, path = "/v1/payment-intents", tag = "payments", request_body(content = CreateIntentRequest, content_type = "application/json"), security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 255 characters")),
    responses((status = 201, body = IntentView), (status = 404, body = Problem, description = "No such quote (or not visible to this key)"), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_intent(
    State(state): State<AppState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    OriginalUri(uri): OriginalUri,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let hash = request_hash("POST", uri.path(), &body);
    let request: CreateIntentRequest = parse_json(&body)?;
    Ok(created(
        intents::create(&state, &principal, &key, &hash, request).await?,
    ))
}

#[utoipa::path(get, path = "/v1/payment-intents", tag = "payments", params(ListIntentsQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<IntentView>)))]
pub async fn list_intents(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListIntentsQuery>,
) -> Result<Json<Page<IntentView>>, ApiError> {
    Ok(Json(intents::list(&state, &principal, query).await?))
}

#[utoipa::path(get, path = "/v1/payment-intents/{id}", tag = "payments", security(("bearer" = [])), responses((status = 200, body = IntentView), (status = 404, body = Problem)))]
pub async fn get_intent(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<IntentView>, ApiError> {
    Ok(Json(intents::get(&state, &principal, id).await?))
}

#[utoipa::path(post, path = "/v1/payment-intents/{id}/cancel", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = IntentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_intent(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<IntentView>, ApiError> {
    Ok(Json(intents::cancel(&state, &principal, id).await?))
}
