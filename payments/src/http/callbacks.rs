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
use bank_adapters::sandbox::SIGNATURE_HEADER;
use serde_json::{Map, Value};

/// Headers worth keeping with a raw message; the rest (cookies, proxies' additions) is noise.
const KEPT_HEADERS: [&str; 5] = [
    "content-type",
    "user-agent",
    "x-request-id",
    "x-forwarded-for",
    SIGNATURE_HEADER,
];

fn kept_headers(headers: &HeaderMap) -> Value {
    let mut kept = Map::new();
    for name in KEPT_HEADERS {
        if let Some(value) = headers.get(name).and_then(|value| value.to_str().ok()) {
            kept.insert(
                name.to_owned(),
                Value::String(value.chars().take(512).collect()),
            );
        }
    }
    Value::Object(kept)
}

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
        "sandbox" => {
            let message = callbacks::Inbound {
                headers: kept_headers(&headers),
                signature: headers
                    .get(SIGNATURE_HEADER)
                    .and_then(|value| value.to_str().ok()),
                body: &body,
            };
            Ok(Json(callbacks::sandbox(&state, message).await?))
        }
        _ => Err(ApiError::not_found("callback provider")),
    }
}
