//! Operations: health, readiness, the OpenAPI document, metrics, and the answers for unknown
//! routes and methods.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, Problem};
use crate::state::AppState;

/// The routes of this module (merged into the main router; `/metrics` has its own listener).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(get_healthz))
        .route("/readyz", get(get_readyz))
        .route("/openapi.json", get(get_openapi))
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is up")))]
pub async fn get_healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Database reachable and migrations applied"),
    (status = 503, description = "Not ready", body = Problem)))]
pub async fn get_readyz(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    crate::db::ready(&state.pool).await.map_err(|reason| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "Not ready",
            reason,
        )
    })?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn get_metrics(State(state): State<AppState>) -> Response {
    let body = state
        .prometheus
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

pub async fn get_openapi() -> Json<serde_json::Value> {
    Json(super::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        "this route does not accept that method",
    )
}
