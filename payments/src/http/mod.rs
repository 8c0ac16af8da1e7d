//! HTTP: routes, middleware, problem+json errors. Only this module knows HTTP.

pub mod auth;
pub mod body;
pub mod catalog;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod ledger_handlers;
pub mod openapi;
pub mod pages;
pub mod rate_limit;
pub mod serve;

use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use error::{problem_response, ApiError};

/// API.md: request bodies are at most 64 kB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Every request is cut off after this (an unanswered idempotency claim older than it is
/// abandoned, see app::idempotency).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole HTTP surface; tests call it without a socket.
pub fn router(state: AppState) -> Router {
    let limits = rate_limit::RateLimits::new(&state.config);
    // Bank callbacks settle payments: they run on the workers' pool, which no flood of public
    // reads or exports can drain.
    let callbacks = Router::new()
        .route("/v1/callbacks/{provider}", post(handlers::receive_callback))
        .with_state(state.for_workers());
    let api = Router::new()
        .route("/healthz", get(handlers::get_healthz))
        .route("/readyz", get(handlers::get_readyz))
        .route("/openapi.json", get(handlers::get_openapi))
        .route("/v1/sectors", get(handlers::list_sectors))
        .route("/v1/services", get(handlers::list_services))
        .route("/v1/services/{code}", get(handlers::get_service))
        .route("/v1/quotes", post(handlers::create_quote))
        .route("/v1/quotes/{id}", get(handlers::get_quote))
        .route(
            "/v1/payment-intents",
            post(handlers::create_intent).get(handlers::list_intents),
        )
        .route("/v1/payment-intents/{id}", get(handlers::get_intent))
        .route(
            "/v1/payment-intents/{id}/cancel",
            post(handlers::cancel_intent),
        )
        .route(
            "/v1/payment-intents/{id}/attempts",
            post(handlers::create_attempt).get(handlers::list_attempts),
        )
        .merge(callbacks)
        .route(
            "/v1/public/payments/{token}",
            get(handlers::get_public_payment),
        )
        .route(
            "/v1/public/attempts/{id}/qr.svg",
            get(handlers::get_attempt_qr_svg),
        )
        .route(
            "/v1/public/attempts/{id}/qr.png",
            get(handlers::get_attempt_qr_png),
        )
        .route("/pay/{token}", get(handlers::get_pay_page))
        .route("/v1/ledger/trial-balance", get(handlers::get_trial_balance))
        .route("/v1/ledger/accounts", get(handlers::list_accounts))
        .route(
            "/v1/ledger/accounts/{code}/balance",
            get(ledger_handlers::get_account_balance),
        )
        .route(
            "/v1/ledger/accounts/{code}/statement",
            get(ledger_handlers::get_account_statement),
        )
        .route("/v1/ledger/entries", get(ledger_handlers::export_entries))
        .route("/v1/ledger/periods", get(ledger_handlers::list_periods))
        .route(
            "/v1/ledger/periods/close",
            post(ledger_handlers::close_period),
        )
        .route("/v1/ledger/verify", get(ledger_handlers::verify))
        .route("/v1/ledger/digests", get(ledger_handlers::list_digests))
        .route(
            "/v1/reconciliation/exceptions",
            get(handlers::list_exceptions),
        )
        .route(
            "/v1/webhook-endpoints",
            post(handlers::create_webhook_endpoint).get(handlers::list_webhook_endpoints),
        )
        .route(
            "/v1/webhook-endpoints/{id}",
            get(handlers::get_webhook_endpoint).patch(handlers::update_webhook_endpoint),
        )
        .route(
            "/v1/webhook-endpoints/{id}/rotate-secret",
            post(handlers::rotate_webhook_secret),
        )
        .route(
            "/v1/webhook-endpoints/{id}/retry-dead",
            post(handlers::retry_dead_webhook_deliveries),
        )
        .route(
            "/v1/webhook-deliveries/{id}/attempts",
            get(handlers::list_webhook_attempts),
        )
        .route(
            "/v1/webhook-deliveries",
            get(handlers::list_webhook_deliveries),
        )
        .route(
            "/v1/webhook-deliveries/{id}/retry",
            post(handlers::retry_webhook_delivery),
        )
        .merge(catalog::routes())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .with_state(state);

    api.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("-");
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("-", MatchedPath::as_str);
                    tracing::info_span!("http", http.method = %request.method(), http.route = route, request.id = request_id)
                }),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(middleware::from_fn(problem_for_bare_errors))
            .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
                tracing::error!("a request handler panicked");
                ApiError::internal("handler panicked").into_response()
            }))
            .layer(middleware::from_fn(record_metrics))
            .layer(middleware::from_fn_with_state(
                limits,
                rate_limit::limit_public_routes,
            ))
            .layer(middleware::from_fn(body::require_json_bodies))
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

/// `/metrics` alone, for its own listener (`METRICS_LISTEN_ADDR`): it shows payment volumes,
/// so it is never on the public one.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(handlers::get_metrics))
        .fallback(handlers::not_found)
        .with_state(state)
}

/// The method as a metric label: one of the standard methods, else `other` (a client may send
/// any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Counts requests and their latency. Every label is bounded: the route template (never the raw
/// path) or `unmatched`, a standard method or `other`, and the status code.
async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("owso_http_requests_total", "method" => method, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("owso_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed());
    response
}

/// Errors produced below our handlers (body limits, timeouts, layer rejections) come out as
/// plain text; rewrite them as problem+json so every error has the same shape.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value == HeaderValue::from_static("application/problem+json"));
    if is_problem {
        return response;
    }
    let (code, title) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "Payload too large"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "Request timeout"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed"),
        StatusCode::NOT_FOUND => ("not_found", "Not found"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "Unsupported media type"),
        _ if status.is_server_error() => ("internal_error", "Internal server error"),
        _ => ("bad_request", "Bad request"),
    };
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes")
        }
        _ => title.to_owned(),
    };
    let error = ApiError::Client {
        status,
        code,
        title,
        detail,
        extensions: serde_json::Map::new(),
    };
    let (mut parts, _) = response.into_parts();
    let rendered = problem_response(status, &error.to_problem());
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, rendered.into_body())
}
