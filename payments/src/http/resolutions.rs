//! Working reconciliation exceptions as JSON (issue 15): one exception with its history, and
//! its resolutions (allocate, refund, write off, match by hand, reverse). The console pages
//! call the same app::reconciliation::resolutions functions.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::body::parse_json;
use super::error::{ApiError, Problem};
use super::extract::{AppPath, JsonBytes};
use super::ledger::views::ExceptionView;
use crate::app::auth::Principal;
use crate::app::books::exceptions::Exception;
use crate::app::error::AppError;
use crate::app::idempotency::request_hash;
use crate::app::reconciliation::resolutions::{
    self, ItemDetail, LineDetail, Resolution, ResolutionRequest, Resolved,
};
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/reconciliation/exceptions/{id}", get(get_exception))
        .route(
            "/v1/reconciliation/exceptions/{id}/resolutions",
            post(create_resolution),
        )
}

/// One exception with what it is about and what was done about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExceptionDetailView {
    #[serde(flatten)]
    pub exception: ExceptionView,
    /// For `unmatched_statement_line`: the line.
    pub statement_line: Option<LineDetail>,
    /// For `unmatched_ledger_item`: the item.
    pub ledger_item: Option<ItemDetail>,
    /// Oldest first: who, when, why, what, the entry posted, who approved.
    pub resolutions: Vec<Resolution>,
}

#[utoipa::path(get, operation_id = "get_reconciliation_exception", path = "/v1/reconciliation/exceptions/{id}", tag = "reconciliation", security(("bearer" = [])),
    responses((status = 200, body = ExceptionDetailView), (status = 403, body = Problem), (status = 404, body = Problem, description = "No such exception (or another office's)")))]
pub async fn get_exception(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<ExceptionDetailView>, ApiError> {
    let detail = resolutions::detail(&state, &principal, id).await?;
    Ok(Json(ExceptionDetailView {
        exception: Exception::from(detail.exception).into(),
        statement_line: detail.line,
        ledger_item: detail.item,
        resolutions: detail.resolutions,
    }))
}

#[utoipa::path(post, path = "/v1/reconciliation/exceptions/{id}/resolutions", tag = "reconciliation",
    request_body(content = ResolutionRequest, content_type = "application/json"), security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Optional, 1 to 255 characters: a repeated request records once and answers the same resolution")),
    responses((status = 201, body = Resolved, description = "Posted and recorded; `exception_status` is `resolved` (`open` after a reverse)"),
        (status = 403, body = Problem, description = "Not a supervisor, auditor or admin; `approval_refused` for a write-off"),
        (status = 404, body = Problem, description = "No such exception (or another office's)"),
        (status = 409, body = Problem, description = "`exception_already_resolved`, `not_reversible` (allocate, match, matched_later, reverse), `already_reversed`, `already_matched`"),
        (status = 422, body = Problem, description = "`validation_failed` (naming the field), `action_not_allowed`, `intent_not_payable`, `currency_mismatch`, `amount_not_due`, `write_off_target`, `flow_mismatch`, `resolution_not_found`")))]
pub async fn create_resolution(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|key| (1..=255).contains(&key.len()))
                .ok_or_else(|| {
                    AppError::validation(
                        "Idempotency-Key",
                        "Idempotency-Key must be 1 to 255 characters",
                    )
                })?
                .to_owned(),
        ),
    };
    let hash = request_hash("POST", uri.path(), &body);
    let request: ResolutionRequest = parse_json(&body)?;
    let idempotency = key.as_deref().map(|key| (key, hash.as_slice()));
    let resolved = resolutions::resolve(&state, &principal, id, idempotency, request).await?;
    Ok((StatusCode::CREATED, Json(resolved)).into_response())
}
