//! HTTP: routes, middleware, problem+json errors. Only this module knows HTTP.

pub mod attempts;
pub mod auth;
pub mod body;
pub mod callbacks;
pub mod cashier;
pub mod catalog;
pub mod console;
pub mod error;
pub mod extract;
pub mod intents;
pub mod ledger;
pub mod money;
pub mod openapi;
pub mod ops;
pub mod pay;
pub mod public;
pub mod rate_limit;
pub mod receipt_pages;
pub mod reconciliation;
pub mod reports;
pub mod resolutions;
pub mod serve;
pub mod status_page;
pub mod web;
pub mod webhooks;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use error::{problem_response, ApiError};

/// API.md: request bodies are at most 64 kB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub use crate::config::REQUEST_TIMEOUT;

/// The whole HTTP surface; tests call it without a socket.
pub fn router(state: AppState) -> Router {
    let limits = rate_limit::RateLimits::new(&state.config);
    // Each resource owns its routes.
    let api = Router::new()
        .merge(ops::routes())
        .merge(catalog::routes())
        .merge(intents::routes())
        .merge(attempts::routes())
        .merge(cashier::routes())
        .merge(callbacks::routes(&state))
        .merge(public::routes())
        .merge(pay::routes())
        .merge(ledger::routes())
        .merge(reconciliation::routes())
        .merge(reports::routes())
        .merge(resolutions::routes())
        .merge(webhooks::routes())
        .merge(web::routes())
        .merge(receipt_pages::routes())
        .merge(status_page::routes())
        .merge(console::routes())
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .with_state(state);

    api.layer(
        ServiceBuilder::new()
            // Pages, stylesheets and JSON go gzipped to clients that ask (a phone on slow data:
            // the whole catalog page is about 70 kB of Khmer text, a few kB compressed); images
            // and tiny bodies are left alone by the layer's default predicate.
            .layer(CompressionLayer::new().gzip(true))
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
        .route("/metrics", get(ops::get_metrics))
        .fallback(ops::not_found)
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

/// The body limit of the route at `path`, for the 413's detail: the routes that take files say
/// their own, larger limit (a statement upload must not be told 64 kB).
fn body_limit_of(path: &str) -> usize {
    match path {
        reconciliation::STATEMENTS_ROUTE => bank_adapters::statement::MAX_STATEMENT_BYTES,
        "/console/reconciliation/statements/new" => console::reconciliation::UPLOAD_FORM_BYTES,
        catalog::IMPORT_ROUTE => crate::app::fees::admin::MAX_IMPORT_BYTES,
        _ => MAX_BODY_BYTES,
    }
}

/// Errors produced below our handlers (body limits, timeouts, layer rejections) come out as
/// plain text; rewrite them as problem+json so every error has the same shape.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let body_limit = body_limit_of(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value == HeaderValue::from_static("application/problem+json"));
    // Pages answer their own HTML error pages (a 404 in the person's language), never JSON.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    if is_problem || is_page {
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
            format!("request bodies are limited to {body_limit} bytes")
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
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was never read: the connection cannot carry another request,
        // and a client that pools it would write its next request into a closed socket.
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Response::from_parts(parts, rendered.into_body())
}
