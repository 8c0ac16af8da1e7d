//! The web pages: server-rendered HTML (askama templates under `payments/templates/`), Khmer
//! first with English one tap away, one stylesheet and a few small scripts embedded in the
//! binary. A page handler is a JSON handler that renders a template: extract, call one `app::`
//! function, render. Every page works with script off.

pub mod assets;
pub mod format;
mod lang;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use lang::{Lang, PageRequest};

use crate::state::AppState;

/// The routes every page shares (the pages themselves live with their audience's module).
pub fn routes() -> Router<AppState> {
    Router::new().route("/assets/{file}", get(assets::get_asset))
}

/// Self only, no inline script or style: what a page may load and who may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// How a page may be kept by caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    /// Carries a token or someone's case: no shared cache keeps it, and no browser stores it.
    Private,
    /// The same for everyone (the catalog): shared caches may keep it this many seconds.
    Public(u32),
}

/// Renders `template` as a complete HTML response with the pages' security headers.
pub fn render(
    page: &PageRequest,
    status: StatusCode,
    template: &impl Template,
    caching: Caching,
) -> Response {
    let body = match template.render() {
        Ok(body) => body,
        Err(error) => {
            // Logged once here; the person sees a plain page, never a stack of text.
            tracing::error!(error.cause = %error, "a page template failed to render");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "The page could not be shown. Please try again.",
            )
                .into_response();
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A page's address may carry a token: it never leaves in a Referer header.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let cookie = page.cookie();
    let cache = match caching {
        Caching::Private => HeaderValue::from_static("private, no-store"),
        // A response that sets the language cookie is that person's alone: no shared cache
        // may keep it (and hand the cookie to the next visitor).
        Caching::Public(_) if cookie.is_some() => HeaderValue::from_static("private, no-cache"),
        Caching::Public(seconds) => HeaderValue::from_str(&format!("public, max-age={seconds}"))
            .unwrap_or(HeaderValue::from_static("no-cache")),
    };
    headers.insert(header::CACHE_CONTROL, cache);
    // The language follows the person; caches keep one copy per cookie.
    headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
    if let Some(cookie) = cookie {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage<'a> {
    page: &'a PageRequest,
    what: &'a str,
}

/// The plain "not found" page in the person's language (pages answer HTML, not problem+json).
pub fn not_found(page: &PageRequest, what_km: &str, what_en: &str) -> Response {
    let what = page.lang.pick(what_km, what_en);
    render(
        page,
        StatusCode::NOT_FOUND,
        &NotFoundPage { page, what },
        Caching::Private,
    )
}
