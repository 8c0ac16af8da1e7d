//! Rate limits of the public routes (`/pay/...`, `/receipts/...`, `/verify/...`, `/status`,
//! `/v1/public/...`, `/v1/callbacks/...`, the
//! last before any signature check): per client address (callbacks with a limit of their own,
//! since a bank sends many from few addresses) and per pay token (or attempt id) named in the
//! path, GCRA from `governor`. A refused request is 429 `rate_limited` with `Retry-After`.
//!
//! The client address is the TCP peer. Behind a reverse proxy every request has the proxy's
//! address, so with `TRUST_X_FORWARDED_FOR=true` the last entry of `X-Forwarded-For` (the one
//! the nearest proxy appended, which a client cannot forge) is used instead. Turn it on only
//! when such a proxy is always in front, or a client could pick its own address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use crate::config::Config;

/// Longest token kept as a key (longer ones are cut; real tokens are far shorter).
const MAX_KEY_CHARS: usize = 128;
/// Every this many checks, keys whose limit has fully recovered are dropped, so that the maps
/// hold only recently active clients.
const PRUNE_EVERY: u64 = 4_096;

/// The limiters of one router.
pub struct RateLimits {
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    callbacks_by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    by_token: Option<DefaultKeyedRateLimiter<String>>,
    trust_x_forwarded_for: bool,
    checks: AtomicU64,
}

fn per_minute(limit: u32) -> Option<Quota> {
    NonZeroU32::new(limit).map(Quota::per_minute)
}

impl RateLimits {
    /// The limits the configuration asks for (a limit of 0 is off).
    pub fn new(config: &Config) -> Arc<RateLimits> {
        Arc::new(RateLimits {
            by_address: per_minute(config.rate_limit_address_per_minute).map(RateLimiter::keyed),
            callbacks_by_address: per_minute(config.rate_limit_callback_address_per_minute)
                .map(RateLimiter::keyed),
            by_token: per_minute(config.rate_limit_token_per_minute).map(RateLimiter::keyed),
            trust_x_forwarded_for: config.trust_x_forwarded_for,
            checks: AtomicU64::new(0),
        })
    }

    fn client_address(&self, request: &Request) -> IpAddr {
        if self.trust_x_forwarded_for {
            let forwarded = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .next_back()
                .and_then(|last| last.trim().parse::<IpAddr>().ok());
            if let Some(address) = forwarded {
                return address;
            }
        }
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
    }

    fn prune(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            for limiter in self.by_token.iter() {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            for limiter in self
                .by_address
                .iter()
                .chain(self.callbacks_by_address.iter())
            {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

/// Whether a route template is public (no API key), and the token it names if any.
fn public_route(route: &str, path: &str) -> Option<Option<String>> {
    let token = |prefix: &str| {
        path.strip_prefix(prefix)
            .map(|rest| rest.split('/').next().unwrap_or_default())
            .map(|token| token.chars().take(MAX_KEY_CHARS).collect::<String>())
    };
    match route {
        "/pay/{token}" | "/pay/{token}/khqr" => Some(token("/pay/")),
        "/v1/public/payments/{token}/status" => Some(token("/v1/public/payments/")),
        "/services" => Some(None),
        "/v1/public/payments/{token}" => Some(token("/v1/public/payments/")),
        // A receipt's tag is checked per number too, so guessing one number's tag is slow.
        "/receipts/{receipt_number}" => Some(token("/receipts/")),
        "/verify/{receipt_number}" | "/status" => Some(None),
        // Password guessing is stopped per account by the lockout, and per address here.
        "/console/login" => Some(None),
        _ if route.starts_with("/v1/public/attempts/") => Some(token("/v1/public/attempts/")),
        _ if route.starts_with("/v1/public/") || route.starts_with("/v1/callbacks/") => Some(None),
        _ => None,
    }
}

fn too_many(wait: std::time::Duration, what: &str) -> Response {
    let seconds = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
        .max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many requests",
        format!("too many requests {what}; retry after {seconds} s"),
    )
    .with("retry_after_s", seconds)
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Middleware: applies the limits to the public routes, lets every other route through.
pub async fn limit_public_routes(
    State(limits): State<Arc<RateLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|route| route.as_str().to_owned());
    let Some(token) = route.and_then(|route| public_route(&route, request.uri().path())) else {
        return next.run(request).await;
    };
    limits.prune();
    let by_address = if request.uri().path().starts_with("/v1/callbacks/") {
        &limits.callbacks_by_address
    } else {
        &limits.by_address
    };
    if let Some(limiter) = by_address {
        let address = limits.client_address(&request);
        if let Err(not_until) = limiter.check_key(&address) {
            metrics::counter!("owso_rate_limited_total", "by" => "address").increment(1);
            return too_many(
                not_until.wait_time_from(DefaultClock::default().now()),
                "from this address",
            );
        }
    }
    if let (Some(limiter), Some(token)) = (&limits.by_token, token) {
        if let Err(not_until) = limiter.check_key(&token) {
            metrics::counter!("owso_rate_limited_total", "by" => "token").increment(1);
            return too_many(
                not_until.wait_time_from(DefaultClock::default().now()),
                "for this payment",
            );
        }
    }
    next.run(request).await
}
