//! Messages from banks.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};

use super::error::{ApiError, Problem};
use super::extract::AppPath;
use crate::app::callbacks;
use crate::state::AppState;

/// The routes of this module. Bank callbacks settle payments: they run on the workers' pool,
/// which no flood of public reads or exports can drain.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/callbacks/{provider}", post(receive_callback))
        .with_state(state.for_workers())
}

#[utoipa::path(post, path = "/v1/callbacks/{provider}", tag = "callbacks",
    request_body(content = String, content_type = "application/json", description = "The bank's message, verified over its exact bytes (sandbox: header X-Sandbox-Signature = hex HMAC-SHA256)"),
    params(("provider" = String, Path, description = "sandbox (more providers later)")),
    responses((status = 200, description = "Received"), (status = 401, body = Problem), (status = 400, body = Problem)))]
pub async fn receive_callback(
    State(state): State<AppState>,
    AppPath(provider): AppPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    match provider.as_str() {
        "sandbox" => Ok(Json(callbacks::sandbox(&state, &headers, &body).await?)),
        _ => Err(ApiError::not_found("callback provider")),
    }
}
