//! The web pages: server-rendered HTML (askama templates under `payments/templates/`), Khmer
//! first with English one tap away, one stylesheet and a few small scripts embedded in the
//! binary. A page handler is a JSON handler that renders a template: extract, call one `app::`
//! function, render. Every page works with script off.

pub mod assets;
pub mod charts;
pub mod format;
mod lang;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use lang::{Lang, PageRequest};

use super::error::{ApiError, DATABASE_RETRY_AFTER_S};
use crate::app::error::AppError;
use crate::state::AppState;

/// The routes every page shares (the pages themselves live with their audience's module).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/{file}", get(assets::get_asset))
        .route("/favicon.ico", get(assets::get_favicon))
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
    let (status, body) = match template.render() {
        Ok(body) => (status, body),
        Err(error) => {
            // Logged once here; the person sees a plain page, never a stack of text. HTML (not
            // text/plain, which the bare-error layer would turn into problem+json), in both
            // languages since the template that knows the language is what failed.
            tracing::error!(error.cause = %error, "a page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                RENDER_FAILED_HTML.to_owned(),
            )
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

/// What a page answers when its own template fails: static, so it cannot fail too.
const RENDER_FAILED_HTML: &str = r#"<!doctype html><html lang="km"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>OWSO</title></head><body><h1>មិនអាចបង្ហាញទំព័រនេះបានទេ។ សូមព្យាយាមម្ដងទៀត។</h1><p lang="en">The page could not be shown. Please try again.</p></body></html>"#;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: &'a PageRequest,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// A page's answer to anything its `app::` call refused or failed with, in the person's
/// language: pages answer HTML, never problem+json and never a cause. Something not there (or
/// a value that cannot name anything) is the not-found page; a database that is away is 503
/// with `Retry-After` (as the API says it); a fault of ours is 500, logged here once. A handler
/// with its own "not found" words matches `NotFound` first and passes the rest here.
pub fn error_page(page: &PageRequest, error: AppError) -> Response {
    if matches!(error, AppError::NotFound(_) | AppError::Malformed(_)) {
        return not_found(
            page,
            "រកមិនឃើញអ្វីដែលអ្នកកំពុងស្វែងរកទេ។ សូមពិនិត្យតំណ។",
            "What you are looking for is not here. Check the link.",
        );
    }
    let api = ApiError::from(error);
    if let ApiError::Internal(cause) = &api {
        tracing::error!(error.cause = %cause, "a page failed with an internal error");
    }
    let status = api.status();
    let lang = page.lang;
    let closed_month = matches!(
        &api,
        ApiError::Client {
            code: "period_closed",
            ..
        }
    );
    let (title, message) = match status {
        // A form that would post into a closed month (issue 16): say so, the month is
        // read-only and nothing was done.
        StatusCode::CONFLICT if closed_month => (
            lang.pick("ខែនេះត្រូវបានបិទហើយ", "This month is closed"),
            lang.pick(
                "គ្រាគណនេយ្យនេះត្រូវបានបិទ៖ មិនអាចកត់ត្រាអ្វីចូលក្នុងខែនេះបានទៀតទេ ហើយគ្មានអ្វីត្រូវបានផ្លាស់ប្ដូរទេ។ ការកែតម្រូវត្រូវកត់ត្រាក្នុងខែដែលនៅបើក។",
                "This accounting period is closed: nothing can be posted into this month any more, and nothing was changed. Corrections are posted in the open month.",
            ),
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            lang.pick("សេវាមិនទាន់អាចប្រើបានទេ", "The service is busy"),
            lang.pick(
                "ប្រព័ន្ធកំពុងរវល់ ឬកំពុងថែទាំ។ សូមព្យាយាមម្ដងទៀតក្នុងពេលបន្តិចទៀត។ ការបង់ប្រាក់របស់អ្នកមិនបាត់ទេ។",
                "The system is busy or under maintenance. Please try again in a moment. Your payment is not lost.",
            ),
        ),
        StatusCode::BAD_GATEWAY => (
            lang.pick("ធនាគារមិនឆ្លើយតប", "The bank did not answer"),
            lang.pick(
                "ធនាគារមិនបានឆ្លើយតបទេ ហើយគ្មានអ្វីត្រូវបានផ្លាស់ប្ដូរទេ។ សូមព្យាយាមម្ដងទៀត។",
                "The bank did not answer and nothing was changed. Please try again.",
            ),
        ),
        other if other.is_server_error() => (
            lang.pick("មានបញ្ហាមួយកើតឡើង", "Something went wrong"),
            lang.pick(
                "ទំព័រនេះមិនអាចបង្ហាញបានទេ។ សូមព្យាយាមម្ដងទៀត ឬសួរការិយាល័យ។",
                "This page could not be shown. Please try again, or ask the office.",
            ),
        ),
        _ => (
            lang.pick("មិនអាចធ្វើបានទេ", "This could not be done"),
            lang.pick(
                "សំណើនេះមិនអាចធ្វើបានទេ។ សូមត្រឡប់ទៅទំព័រមុន ហើយព្យាយាមម្ដងទៀត។",
                "This request could not be done. Go back to the page and try again.",
            ),
        ),
    };
    let view = ErrorPage {
        page,
        status: status.as_u16(),
        title,
        message,
    };
    let mut response = render(page, status, &view, Caching::Private);
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(DATABASE_RETRY_AFTER_S),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn page(uri: &str) -> PageRequest {
        PageRequest::for_uri(uri)
    }

    #[tokio::test]
    async fn a_fault_of_ours_is_a_plain_500_page_without_its_cause() {
        for (uri, words) in [
            ("/pay/x", "មានបញ្ហាមួយកើតឡើង"),
            ("/pay/x?lang=en", "Something went wrong"),
        ] {
            let response = error_page(&page(uri), AppError::internal("secret cause: pool 7"));
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            assert!(!response.headers().contains_key(header::RETRY_AFTER));
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let html = String::from_utf8(bytes.to_vec()).unwrap();
            assert!(html.contains(words), "{uri}: {html}");
            assert!(!html.contains("secret cause"), "{html}");
        }
    }
}
