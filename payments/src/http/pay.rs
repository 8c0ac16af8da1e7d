//! The citizen's pay page (`/pay/{token}`): Khmer first, English one tap away; the office,
//! the case, each service line with its legal basis, the total and the state; paying by KHQR
//! with one tap; the page follows the payment (pay.js polls the status route) and works with
//! script off. Paid, cancelled and expired payments each get their own page.

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, FixedOffset, Utc};

use super::attempts::AttemptView;
use super::body::json_value;
use super::error::ApiError;
use super::extract::AppPath;
use super::web::{self, format, Caching, PageRequest};
use crate::app::catalog::public_legal_basis;
use crate::app::error::AppError;
use crate::app::money;
use crate::app::public::{self, DeeplinkSource, PublicPayment};
use crate::app::receipt_pages;
use crate::app::secrets::Keyring;
use crate::app::states::IntentStatus;
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pay/{token}", get(get_pay_page))
        .route("/pay/{token}/khqr", post(post_pay_khqr))
}

/// Cambodia's clock (UTC+7, no daylight saving): times on the page are the payer's.
fn local(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(7 * 3600).map_or_else(|| at.fixed_offset(), |ict| at.with_timezone(&ict))
}

/// A time as the page writes it: machine-readable for `<time datetime>`, and for people.
struct ShownTime {
    iso: String,
    text: String,
}

fn shown(at: DateTime<Utc>) -> ShownTime {
    ShownTime {
        iso: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        text: local(at).format("%d/%m/%Y %H:%M").to_string(),
    }
}

/// One service line in the page's language.
struct LineRow {
    description: String,
    quantity: i64,
    amount: String,
    legal_basis: Option<String>,
}

/// The KHQR box: what the bank app will show, and how long the QR lasts.
struct KhqrBox {
    image_url: String,
    save_url: String,
    amount: Option<String>,
    merchant_name: String,
    merchant_name_km: Option<String>,
    expires: ShownTime,
    /// Seconds left by the server's clock (the countdown does not trust the phone's).
    remaining_s: i64,
    deeplink: Option<String>,
}

#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage<'a> {
    page: &'a PageRequest,
    token: &'a str,
    status: &'static str,
    status_text: &'a str,
    office_name: String,
    case_reference: String,
    lines: Vec<LineRow>,
    total: String,
    receipt_number: Option<String>,
    /// The receipt page, with its tag (the paid page links it).
    receipt_url: Option<String>,
    paid_at: Option<ShownTime>,
    link_expires: ShownTime,
    /// pay.js follows the status while something may still change on screen.
    follow: bool,
    khqr: Option<KhqrBox>,
    khqr_expired: bool,
    khqr_offered: bool,
    limit_reached: bool,
    max_attempts: i64,
}

fn status_text(status: IntentStatus, page: &PageRequest) -> &'static str {
    match status {
        IntentStatus::AwaitingPayment => page.lang.pick("រង់ចាំការបង់ប្រាក់", "Awaiting payment"),
        IntentStatus::Paid => page.lang.pick("បានបង់ប្រាក់", "Paid"),
        IntentStatus::Cancelled => page.lang.pick("បានលុបចោល", "Cancelled"),
        IntentStatus::Expired => page.lang.pick("ផុតកំណត់", "Expired"),
    }
}

impl<'a> PayPage<'a> {
    fn new(
        page: &'a PageRequest,
        token: &'a str,
        payment: PublicPayment,
        keyring: &Keyring,
    ) -> Result<PayPage<'a>, AppError> {
        let km = page.lang == web::Lang::Km;
        let mut intent = payment.intent;
        // A link past its time reads as expired at once, before the expiry sweep records it.
        if intent.status == IntentStatus::AwaitingPayment && intent.expires_at <= Utc::now() {
            intent.status = IntentStatus::Expired;
        }
        let total = money::from_row(intent.total_minor, &intent.currency)?;
        let mut lines = Vec::with_capacity(intent.lines.0.len());
        for line in &intent.lines.0 {
            lines.push(LineRow {
                description: if km {
                    line.description_km.clone()
                } else {
                    line.description_en.clone()
                },
                quantity: line.quantity,
                amount: format::money(&line.amount.parse("amount")?),
                legal_basis: public_legal_basis(line),
            });
        }
        let awaiting = intent.status == IntentStatus::AwaitingPayment;
        let khqr = payment
            .current_khqr
            .filter(|_| awaiting)
            .map(|khqr| KhqrBox {
                // The PNG (a few kB) rather than the SVG (about 30 kB): the page stays in its weight
                // budget; CSS draws its modules sharp at any size.
                image_url: format!("/v1/public/attempts/{}/qr.png", khqr.attempt_id),
                save_url: format!("/v1/public/attempts/{}/qr.png?download=1", khqr.attempt_id),
                amount: khqr.amount.as_ref().map(format::money),
                merchant_name: khqr.merchant_name,
                merchant_name_km: khqr.merchant_name_alternate,
                expires: shown(khqr.expires_at),
                remaining_s: (khqr.expires_at - Utc::now()).num_seconds().max(0),
                deeplink: khqr.deeplink,
            });
        let paid_without_number =
            intent.status == IntentStatus::Paid && intent.receipt_number.is_none();
        Ok(PayPage {
            page,
            token,
            status: intent.status.as_str(),
            status_text: status_text(intent.status, page),
            office_name: if km {
                payment.office_name_km
            } else {
                payment.office_name_en
            },
            case_reference: intent.case_reference,
            lines,
            total: format::money(&total),
            receipt_url: intent
                .receipt_number
                .as_deref()
                .map(|number| receipt_pages::receipt_url(keyring, number)),
            receipt_number: intent.receipt_number,
            paid_at: intent.paid_at.map(shown),
            link_expires: shown(intent.expires_at),
            follow: awaiting || paid_without_number,
            khqr,
            khqr_expired: payment.khqr_expired,
            khqr_offered: payment.khqr_offered,
            limit_reached: payment.attempts_made >= payment.max_attempts,
            max_attempts: payment.max_attempts,
        })
    }
}

fn payment_not_found(page: &PageRequest) -> Response {
    web::not_found(
        page,
        "តំណបង់ប្រាក់នេះមិនត្រឹមត្រូវ ឬមិនមានទេ។ សូមពិនិត្យតំណ ឬសួរការិយាល័យ។",
        "This payment link is not valid or does not exist. Check the link, or ask the office.",
    )
}

/// What went wrong below a page: a payment that is not there is this page's not-found page;
/// the rest (the database unreachable) is the pages' error page.
fn page_error(page: &PageRequest, error: AppError) -> Response {
    match error {
        AppError::NotFound(_) | AppError::Malformed(_) => payment_not_found(page),
        other => web::error_page(page, other),
    }
}

#[utoipa::path(get, path = "/pay/{token}", tag = "citizens",
    params(("token" = String, Path, description = "The payment link token"), ("lang" = Option<String>, Query, description = "`km` (default) or `en`; remembered for the session")),
    responses((status = 200, description = "HTML payment page", body = String, content_type = "text/html"), (status = 404, description = "HTML not-found page", body = String, content_type = "text/html")))]
pub async fn get_pay_page(
    State(state): State<AppState>,
    page: PageRequest,
    token: Result<AppPath<String>, ApiError>,
) -> Response {
    // A malformed token (NUL, too long) is just a link that is not there.
    let Ok(AppPath(token)) = token else {
        return payment_not_found(&page);
    };
    let payment = match public::by_token(&state, &token).await {
        Ok(payment) => payment,
        Err(error) => return page_error(&page, error),
    };
    match PayPage::new(&page, &token, payment, &state.keyring) {
        Ok(view) => web::render(&page, StatusCode::OK, &view, Caching::Private),
        Err(error) => page_error(&page, error),
    }
}

#[utoipa::path(post, path = "/pay/{token}/khqr", tag = "citizens",
    params(("token" = String, Path, description = "The payment link token")),
    responses((status = 303, description = "Back to the pay page, which shows the KHQR (made, or the one still valid) or why there is none"), (status = 404, description = "HTML not-found page", body = String, content_type = "text/html")))]
pub async fn post_pay_khqr(
    State(state): State<AppState>,
    page: PageRequest,
    token: Result<AppPath<String>, ApiError>,
) -> Response {
    let Ok(AppPath(token)) = token else {
        return payment_not_found(&page);
    };
    let base = state.config.public_base_url.as_str().trim_end_matches('/');
    let source = DeeplinkSource {
        app_icon_url: format!("{base}{}", web::assets::url("owso-icon.svg")),
    };
    let render = |attempt: &crate::app::attempts::AttemptRow| {
        json_value(&AttemptView::render(&state, attempt)?)
    };
    match public::pay_by_khqr(&state, &token, &source, render).await {
        Ok(()) => {
            // 303: the browser GETs the page, so a reload does not post again.
            let mut response = Redirect::to(&format!("/pay/{token}")).into_response();
            response.headers_mut().insert(
                header::REFERRER_POLICY,
                header::HeaderValue::from_static("no-referrer"),
            );
            response
        }
        Err(error) => page_error(&page, error),
    }
}
