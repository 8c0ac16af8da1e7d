//! Resolving `Authorization: Bearer` (or a person's console session cookie) into a caller.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};

use crate::app::auth::{self, Principal, KEY_PREFIX};
use crate::app::sessions::{self, Session};
use crate::config::{Config, Profile};
use crate::http::error::ApiError;
use crate::state::AppState;

/// The session cookie's name in development (plain HTTP on localhost, so not `Secure`).
pub const SESSION_COOKIE_DEV: &str = "owso_session";
/// The name everywhere else: `__Host-` makes browsers accept it only when `Secure`, from the
/// host itself, with `Path=/` and no `Domain`, so a sibling subdomain cannot plant one.
pub const SESSION_COOKIE_SECURE: &str = "__Host-owso_session";

/// The header a script sends the session's CSRF token in, on a write through the cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session cookie's name under this configuration.
pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.profile == Profile::Development {
        SESSION_COOKIE_DEV
    } else {
        SESSION_COOKIE_SECURE
    }
}

/// The `Set-Cookie` value that carries a new session's token: HttpOnly (no script reads it),
/// SameSite=Strict (no other site's page sends it), Secure unless in development.
pub fn session_cookie(config: &Config, token: &str) -> String {
    let secure = if config.profile == Profile::Development {
        ""
    } else {
        "; Secure"
    };
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict{secure}",
        session_cookie_name(config)
    )
}

/// The `Set-Cookie` value that removes the session cookie (logout).
pub fn clear_session_cookie(config: &Config) -> String {
    let secure = if config.profile == Profile::Development {
        ""
    } else {
        "; Secure"
    };
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
        session_cookie_name(config)
    )
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

/// The live session named by the request's cookie, if any.
pub async fn session_from_cookie(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<Session>, ApiError> {
    let Some(token) = cookie_value(parts, session_cookie_name(&state.config)) else {
        return Ok(None);
    };
    Ok(sessions::resolve(state, token).await?)
}

/// 403 `csrf_failed`: a write through a session cookie without the session's token.
fn csrf_failed() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "CSRF check failed",
        "a write with a session cookie must send the session's CSRF token in the X-CSRF-Token header",
    )
}

/// A person's session as an API caller: the same role and office scope as a key. A write
/// (POST, PUT, PATCH, DELETE) must carry the session's CSRF token in `X-CSRF-Token`; a person
/// who must still choose a password is refused until they have.
async fn principal_from_session(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let session = session_from_cookie(parts, state)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the console session has ended; log in again"))?;
    let writes = matches!(
        parts.method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if writes {
        let presented = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !session.csrf_matches(presented) {
            tracing::warn!("a write through a session cookie had no valid CSRF token");
            return Err(csrf_failed());
        }
    }
    if session.must_change_password {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "password_change_required",
            "Password change required",
            "choose your own password at /console/password first",
        ));
    }
    Ok(session.principal)
}

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
        // A key when there is one; otherwise a person's console session, so the JSON routes
        // serve a logged-in cashier exactly as a cashier key.
        if !parts.headers.contains_key(header::AUTHORIZATION)
            && cookie_value(parts, session_cookie_name(&state.config)).is_some()
        {
            return principal_from_session(parts, state).await;
        }
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
        // A person at the counter starts an attempt through their session, as a cashier key.
        if !parts.headers.contains_key(header::AUTHORIZATION)
            && cookie_value(parts, session_cookie_name(&state.config)).is_some()
        {
            return principal_from_session(parts, state).await.map(Caller::Key);
        }
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
