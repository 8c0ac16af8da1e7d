//! Raw-body helpers for routes that must fingerprint the exact bytes (idempotency) before
//! parsing them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::ApiError;
use crate::app::intents::Created;

/// Parses a JSON body: syntax errors are 400, shape errors (missing or unknown fields, wrong
/// types) are 422 naming the problem.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Validation failed",
            error.to_string(),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "Malformed JSON",
            error.to_string(),
        ),
    })
}

/// Renders a created object (201) or replays the stored response with `Idempotency-Replayed`.
pub fn created<T: Serialize>(result: Created<T>) -> Response {
    match result {
        Created::New(value) => (StatusCode::CREATED, Json(value)).into_response(),
        Created::Replayed { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (status, [("idempotency-replayed", "true")], Json(body)).into_response()
        }
    }
}
