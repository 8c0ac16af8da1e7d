//! Extractors whose rejections come out as problem+json. Every path and query value is checked
//! here, before any handler or SQL sees it: text PostgreSQL cannot store (NUL), values longer
//! than any identifier of the API, and timestamps outside the range the service accepts.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use chrono::{DateTime, Datelike as _, FixedOffset, Utc};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body: declared `application/json` (or `application/*+json`), parsed by
/// [`super::body::parse_json`] (NUL refused, shape errors 422). Anything else is 415.
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBytes(bytes) = JsonBytes::from_request(request, state).await?;
        Ok(AppJson(super::body::parse_json(&bytes)?))
    }
}

/// The raw bytes of a body declared JSON (for routes that fingerprint the exact bytes before
/// parsing them); 415 `unsupported_media_type` for any other or no content type.
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !super::body::is_json_content_type(request.headers()) {
            return Err(super::body::unsupported_media_type());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "payload_too_large",
                        "Payload too large",
                        rejection.body_text(),
                    )
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })?;
        Ok(JsonBytes(bytes))
    }
}

/// Longest path value (tokens, codes, ids are far shorter).
pub const MAX_PATH_VALUE_CHARS: usize = 200;
/// Longest query value (cursors, search text, timestamps are far shorter).
pub const MAX_QUERY_VALUE_CHARS: usize = 1_000;
pub use crate::app::dates::{timestamp_in_range, MAX_YEAR, MIN_YEAR};

/// Why one value is refused, or `None` when it may go on.
fn refusal(value: &str, max_chars: usize) -> Option<String> {
    if value.chars().any(|c| c.is_control()) {
        return Some("contains a control character (e.g. NUL)".to_owned());
    }
    if value.chars().count() > max_chars {
        return Some(format!("is longer than {max_chars} characters"));
    }
    // A value that reads as a timestamp is checked for range here, whatever field takes it.
    if let Ok(at) = value.parse::<DateTime<FixedOffset>>() {
        let local_year = at.year();
        if !timestamp_in_range(at.with_timezone(&Utc))
            || !(MIN_YEAR..=MAX_YEAR).contains(&local_year)
        {
            return Some(format!(
                "is a timestamp outside the years {MIN_YEAR} to {MAX_YEAR}"
            ));
        }
    }
    None
}

fn invalid_path(parameter: &str, detail: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_path",
        "Invalid path",
        detail,
    )
    .with("parameter", parameter)
}

fn invalid_query(parameter: &str, detail: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        "Invalid query",
        detail,
    )
    .with("parameter", parameter)
}

/// Checks every query pair of a raw query string (names and values, percent-decoded).
pub fn check_query(query: Option<&str>) -> Result<(), ApiError> {
    let Some(query) = query else {
        return Ok(());
    };
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let shown: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
        if let Some(why) = refusal(&name, 64) {
            return Err(invalid_query(
                &shown,
                format!("a query parameter name {why}"),
            ));
        }
        if let Some(why) = refusal(&value, MAX_QUERY_VALUE_CHARS) {
            return Err(invalid_query(
                &shown,
                format!("query parameter {shown} {why}"),
            ));
        }
    }
    Ok(())
}

/// Checks every captured path value (percent-decoded).
async fn check_path<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<(), ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|rejection| invalid_path("path", rejection.body_text()))?;
    for (name, value) in &params {
        if let Some(why) = refusal(value, MAX_PATH_VALUE_CHARS) {
            return Err(invalid_path(name, format!("path segment {name} {why}")));
        }
    }
    Ok(())
}

/// `Path` that refuses unstorable values with 400 `invalid_path` and whose other rejections
/// are an [`ApiError`].
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        check_path(parts, state).await?;
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(AppPath(value))
    }
}

/// `Query` that refuses unstorable values, and values that do not parse (or are missing), with
/// 400 `invalid_query` naming the parameter (axum's own rejection names none).
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        check_query(parts.uri.query())?;
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        let value = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            let parameter = super::body::field_of(&path, &message);
            invalid_query(
                &parameter,
                format!("query parameter {parameter}: {message}"),
            )
        })?;
        Ok(AppQuery(value))
    }
}

/// The `Idempotency-Key` header, required on every POST that creates or moves money.
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "Idempotency-Key required",
                "this request creates or moves money and needs an Idempotency-Key header",
            ));
        };
        let key = value
            .to_str()
            .ok()
            .filter(|key| {
                (1..=255).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic())
            })
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_idempotency_key",
                    "Invalid Idempotency-Key",
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                )
            })?;
        Ok(IdempotencyKey(key.to_owned()))
    }
}

/// Whether the client asks for CSV: an `Accept` header naming `text/csv` among its ranges
/// (parameters such as `;q=` ignored). The routes that answer JSON or CSV read it here.
pub fn accepts_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|range| range.split(';').next().unwrap_or("").trim() == "text/csv")
        })
}
