//! The bank simulators served by `bank-sim`: each speaks its bank's wire format and offers
//! the payer's actions (pay, pay twice, pay late, pay a wrong amount) for tests and demos.
//!
//! State is in memory: a restart forgets every payment, which is what tests want.

mod bakong;
mod callbacks;
mod html;
mod sandbox;
mod statements;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use url::Url;

use crate::error::AdapterError;
use crate::http::build_client;

pub use callbacks::DEFAULT_RETRY_SCHEDULE_MS;

/// Request bodies past this are refused with 413 (API.md: bodies ≤ 64 kB).
const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024;

/// How long one callback to our service may take; the service answers in milliseconds, so
/// this only bounds a stuck or unreachable service.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's bound on one request. A synchronous pay sends up to
/// [`callbacks::MAX_DUPLICATE`] callbacks one after another, each bounded by
/// [`CALLBACK_TIMEOUT`]; the rest is headroom for the handler itself.
const REQUEST_TIMEOUT: Duration = CALLBACK_TIMEOUT
    .saturating_mul(callbacks::MAX_DUPLICATE)
    .saturating_add(Duration::from_secs(10));

/// Where the simulators send callbacks, how they sign them, and how they name themselves.
#[derive(Clone)]
pub struct SimConfig {
    /// Our service's base URL; callbacks go to `{callback_base_url}/v1/callbacks/{provider}`.
    pub callback_base_url: Url,
    /// The secret the sandbox bank signs its callbacks with (`SANDBOX_CALLBACK_SECRET`).
    pub sandbox_callback_secret: String,
    /// The simulator's own base URL as payers reach it; checkout links start with it.
    pub public_base_url: Url,
    /// The bearer token the Bakong simulator's Open API accepts (`BAKONG_API_TOKEN`;
    /// `bank-sim` defaults it to [`crate::bakong::DEFAULT_SIM_TOKEN`]).
    pub bakong_token: String,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("callback_base_url", &self.callback_base_url.as_str())
            .field("sandbox_callback_secret", &"<redacted>")
            .field("public_base_url", &self.public_base_url.as_str())
            .field("bakong_token", &"<redacted>")
            .finish()
    }
}

/// The simulators' shared state: configuration, the callback HTTP client and each bank's
/// in-memory payments. Cloning shares it.
#[derive(Clone)]
pub struct SimState {
    inner: Arc<SimInner>,
}

struct SimInner {
    config: SimConfig,
    http: reqwest::Client,
    sandbox: sandbox::SandboxStore,
    bakong: bakong::BakongStore,
    /// Cash paid in at the simulated bank's counter, for statements.
    deposits: statements::DepositStore,
    /// Delays before each retry of a callback that got no 2xx.
    callback_retry_schedule: Vec<Duration>,
}

impl SimState {
    /// Builds the state from a configuration, retrying failed callbacks on
    /// [`DEFAULT_RETRY_SCHEDULE_MS`].
    ///
    /// # Errors
    ///
    /// As [`SimState::with_callback_retry_schedule`].
    pub fn new(config: SimConfig) -> Result<Self, AdapterError> {
        let schedule = DEFAULT_RETRY_SCHEDULE_MS
            .iter()
            .copied()
            .map(Duration::from_millis)
            .collect();
        Self::with_callback_retry_schedule(config, schedule)
    }

    /// Builds the state from a configuration; a callback none of whose copies got a 2xx is
    /// sent again after each delay of `schedule` until one does (an empty schedule: never).
    ///
    /// # Errors
    ///
    /// [`AdapterError::InvalidInput`] when a configured URL is not an http(s) base URL or the
    /// Bakong token is empty, [`AdapterError::Transport`] when the HTTP client cannot be built.
    pub fn with_callback_retry_schedule(
        config: SimConfig,
        schedule: Vec<Duration>,
    ) -> Result<Self, AdapterError> {
        for (name, url) in [
            ("callback_base_url", &config.callback_base_url),
            ("public_base_url", &config.public_base_url),
        ] {
            if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
                return Err(AdapterError::InvalidInput(format!(
                    "{name} must be an http or https URL"
                )));
            }
        }
        if config.bakong_token.trim().is_empty() {
            return Err(AdapterError::InvalidInput(
                "bakong_token must not be empty".to_owned(),
            ));
        }
        Ok(Self {
            inner: Arc::new(SimInner {
                http: build_client(CALLBACK_TIMEOUT)?,
                sandbox: sandbox::SandboxStore::default(),
                bakong: bakong::BakongStore::default(),
                deposits: statements::DepositStore::default(),
                callback_retry_schedule: schedule,
                config,
            }),
        })
    }

    fn config(&self) -> &SimConfig {
        &self.inner.config
    }
}

/// The router of every simulator, plus `GET /healthz`.
pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(sandbox::routes())
        .merge(bakong::routes())
        .merge(statements::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        // Request spans and one line per response at info: the simulator's log is how a
        // person follows a demo. The default span records method and URI, never headers.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found() -> SimError {
    SimError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> SimError {
    SimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// An error answer, written as RFC 9457 problem+json like the service's own errors.
#[derive(Debug)]
struct SimError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl SimError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }

    fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    r#type: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let problem = Problem {
            r#type: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
        };
        match serde_json::to_vec(&problem) {
            Ok(body) => (
                self.status,
                [(header::CONTENT_TYPE, "application/problem+json")],
                body,
            )
                .into_response(),
            Err(_) => self.status.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn debug_output_hides_the_secret() {
        let config = SimConfig {
            callback_base_url: Url::parse("http://127.0.0.1:8080").unwrap(),
            sandbox_callback_secret: "top-secret-value".to_owned(),
            public_base_url: Url::parse("http://127.0.0.1:8081").unwrap(),
            bakong_token: "top-secret-token".to_owned(),
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("top-secret-value"));
        assert!(!debug.contains("top-secret-token"));
    }

    #[test]
    fn state_refuses_non_http_urls() {
        let config = SimConfig {
            callback_base_url: Url::parse("mailto:x@example.com").unwrap(),
            sandbox_callback_secret: "s".to_owned(),
            public_base_url: Url::parse("http://127.0.0.1:8081").unwrap(),
            bakong_token: "top-secret-token".to_owned(),
        };
        assert!(matches!(
            SimState::new(config),
            Err(AdapterError::InvalidInput(_))
        ));
    }
}
