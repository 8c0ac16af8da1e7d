//! Resolving `Authorization: Bearer` into a caller.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::app::auth::{self, Principal, KEY_PREFIX};
use crate::http::error::ApiError;
use crate::state::AppState;

/// Who is calling: an API key holder, or a citizen holding a payment link token.
pub enum Caller {
    Key(Principal),
    Citizen { pay_token: String },
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer header"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not ASCII"))?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty() && token.len() <= 512)
        .ok_or_else(|| ApiError::unauthorized("Authorization must be 'Bearer <key>'"))
}

async fn resolve_key(state: &AppState, secret: &str) -> Result<Principal, ApiError> {
    let mut conn = state.pool.acquire().await?;
    auth::lookup(&mut conn, secret)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = bearer(parts)?;
        resolve_key(state, secret).await
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = bearer(parts)?;
        if secret.starts_with(KEY_PREFIX) {
            Ok(Caller::Key(resolve_key(state, secret).await?))
        } else {
            Ok(Caller::Citizen {
                pay_token: secret.to_owned(),
            })
        }
    }
}

/// An optional key (`Option<Principal>`): no `Authorization` header (or a citizen's pay token,
/// which is not a key) is an anonymous caller, while an API key that is unknown or revoked is
/// still refused (401), so a mistyped key is never silently served the anonymous answer.
impl OptionalFromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(None);
        }
        let secret = bearer(parts)?;
        if !secret.starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        resolve_key(state, secret).await.map(Some)
    }
}
