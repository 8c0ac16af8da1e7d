//! Raw-body helpers for routes that must fingerprint the exact bytes (idempotency) before
//! parsing them.

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::ApiError;
use crate::app::pagination::Created;

/// Whether the request declares a JSON body: `application/json` or `application/*+json`, any
/// parameters (e.g. `; charset=utf-8`), any case.
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let media = value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            media == "application/json"
                || media
                    .strip_prefix("application/")
                    .is_some_and(|subtype| subtype.ends_with("+json"))
        })
}

/// 415 `unsupported_media_type` for a body that is not declared JSON.
pub fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Unsupported media type",
        "send the body as Content-Type: application/json",
    )
}

/// Whether the request carries a body (declared length above zero, or chunked).
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().parse::<u64>().unwrap_or(1));
    length.is_some_and(|length| length > 0) || headers.contains_key(header::TRANSFER_ENCODING)
}

/// Routes whose bodies are not JSON: bank callbacks take whatever their bank sends (each
/// adapter checks it), the catalog import takes `text/csv`, the pay page's KHQR button is an
/// HTML form (it reads no body; the path's token is what authorizes it), and the console's
/// HTML forms.
fn takes_other_media(route: &str) -> bool {
    route.starts_with("/v1/callbacks/")
        || route == "/v1/admin/catalog/import"
        // Bank statements are the bank's file as received: camt.053 XML or CSV.
        || route == super::reconciliation::STATEMENTS_ROUTE
        || route == "/pay/{token}/khqr"
        // The console's forms: a person's session cookie is SameSite=Strict and every form
        // carries the session's CSRF token, which a cross-site post cannot know.
        || route.starts_with("/console")
}

/// Every POST, PUT and PATCH of the API takes JSON or nothing: a body (or content type) that
/// is not declared JSON is 415 before any handler runs, so a cross-site form or `text/plain`
/// post (sent by browsers without a preflight) never reaches one. An empty body without a
/// content type is fine (routes such as cancel take no body).
pub async fn require_json_bodies(request: Request, next: Next) -> Response {
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    if writes {
        let exempt = request
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|route| takes_other_media(route.as_str()));
        let headers = request.headers();
        let declared = headers.contains_key(header::CONTENT_TYPE);
        let refused = if declared {
            !is_json_content_type(headers)
        } else {
            has_body(headers)
        };
        if refused && !exempt {
            return unsupported_media_type().into_response();
        }
    }
    next.run(request).await
}

/// Whether a JSON text holds the escape `\u0000` inside a string (PostgreSQL's text cannot
/// store NUL). Raw control characters are already invalid JSON.
fn has_escaped_nul(body: &[u8]) -> bool {
    let mut bytes = body.iter();
    while let Some(byte) = bytes.next() {
        // The byte after a backslash is consumed here, so `\\u0000` (an escaped backslash
        // and text) is not mistaken for NUL.
        if *byte == b'\\' && bytes.next() == Some(&b'u') && bytes.clone().take(4).eq(b"0000".iter())
        {
            return true;
        }
    }
    false
}

/// Parses a JSON body: syntax errors are 400, shape errors (missing or unknown fields, wrong
/// types) are 422 `validation_failed` naming the field in `parameter` (e.g. `payer.name`,
/// `items[0].quantity`), a string holding NUL is 422.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if has_escaped_nul(body) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Validation failed",
            "strings may not contain the NUL character (\\u0000)",
        ));
    }
    let malformed = |error: serde_json::Error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "Malformed JSON",
            error.to_string(),
        )
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = without_location(&inner.to_string());
                let parameter = field_of(&path, &message);
                ApiError::validation(&parameter, format!("{parameter}: {message}"))
            }
            _ => malformed(inner),
        }
    })?;
    // Trailing text after the value is malformed JSON, as serde_json::from_slice says.
    deserializer.end().map_err(malformed)?;
    Ok(value)
}

/// serde's message without serde_json's " at line L column C" (the field is named instead).
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// The field a shape error is about: the path serde_path_to_error tracked, joined with the
/// field a "missing field `x`" or "unknown field `x`" names (those are reported at the
/// enclosing object). `.` (the root) when neither says more.
pub fn field_of(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (".", Some(name)) => name.to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_owned(),
    }
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

/// Renders a created record as its view (201), or replays the stored response: [`created`]
/// for the use cases that return records rather than views.
pub fn created_as<T, V: Serialize>(
    result: Created<T>,
    render: impl FnOnce(&T) -> Result<V, crate::app::error::AppError>,
) -> Result<Response, ApiError> {
    Ok(created(match result {
        Created::New(record) => Created::New(render(&record)?),
        Created::Replayed { status, body } => Created::Replayed { status, body },
    }))
}

/// The JSON value of a view, as an idempotency key stores it.
pub fn json_value<V: Serialize>(
    view: &V,
) -> Result<serde_json::Value, crate::app::error::AppError> {
    serde_json::to_value(view).map_err(crate::app::error::AppError::internal)
}
