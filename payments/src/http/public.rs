//! What a payment link shows the citizen as JSON: the payment (only what the pay page shows),
//! its status for a page that follows it, the QR images.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::catalog::views::PublicQuoteLineView;
use super::error::{ApiError, Problem};
use super::extract::{AppPath, AppQuery};
use super::money::MoneyView;
use crate::app::attempts::AttemptRow;
use crate::app::error::AppError;
use crate::app::public::{self, PublicPayment};
use crate::app::receipt_pages;
use crate::app::states::{AttemptStatus, Channel, IntentStatus};
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/public/payments/{token}", get(get_public_payment))
        .route(
            "/v1/public/payments/{token}/status",
            get(get_public_payment_status),
        )
        .route("/v1/public/attempts/{id}/qr.svg", get(get_attempt_qr_svg))
        .route("/v1/public/attempts/{id}/qr.png", get(get_attempt_qr_png))
}

/// One attempt, as the payer can use it: no bank references, no failure internals.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicAttemptView {
    pub id: Uuid,
    pub channel: Channel,
    pub status: AttemptStatus,
    pub amount: MoneyView,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Where a gateway's checkout page is (gateway channels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    /// The QR images (khqr channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_svg_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_png_url: Option<String>,
}

impl PublicAttemptView {
    fn render(state: &AppState, attempt: &AttemptRow) -> Result<PublicAttemptView, AppError> {
        let base = state.config.public_base_url.as_str().trim_end_matches('/');
        let qr_url = |ext: &str| {
            attempt
                .khqr
                .as_ref()
                .map(|_| format!("{base}/v1/public/attempts/{}/qr.{ext}", attempt.id))
        };
        Ok(PublicAttemptView {
            id: attempt.id,
            channel: attempt.channel,
            status: attempt.status,
            amount: MoneyView::from_row(attempt.amount_minor, &attempt.currency)?,
            expires_at: attempt.expires_at,
            paid_at: attempt.paid_at,
            checkout_url: attempt.checkout_url.clone(),
            qr_svg_url: qr_url("svg"),
            qr_png_url: qr_url("png"),
        })
    }
}

/// What the pay page shows, as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicPaymentView {
    pub status: IntentStatus,
    pub total: MoneyView,
    pub case_reference: String,
    pub office_code: String,
    pub office_name_km: String,
    pub office_name_en: String,
    pub lines: Vec<PublicQuoteLineView>,
    /// The latest attempts (at most 10), oldest of them first.
    pub attempts: Vec<PublicAttemptView>,
    pub receipt_number: Option<String>,
    /// The receipt page, with the tag that lets this payer (and only a holder of the link)
    /// open it; null until the payment has its receipt number.
    pub receipt_url: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

impl PublicPaymentView {
    /// What the citizen sees of their payment.
    pub fn render(
        state: &AppState,
        payment: &PublicPayment,
    ) -> Result<PublicPaymentView, AppError> {
        let intent = &payment.intent;
        let receipt_url = match intent.receipt_number.as_deref() {
            Some(number) => {
                // Absolute, like the QR image addresses: a client may not know our origin.
                let base = state.config.public_base_url.as_str().trim_end_matches('/');
                Some(format!(
                    "{base}{}",
                    receipt_pages::receipt_url(&state.keyring, number)
                ))
            }
            None => None,
        };
        Ok(PublicPaymentView {
            status: intent.status,
            total: MoneyView::from_row(intent.total_minor, &intent.currency)?,
            case_reference: intent.case_reference.clone(),
            office_code: intent.office_code.clone(),
            office_name_km: payment.office_name_km.clone(),
            office_name_en: payment.office_name_en.clone(),
            lines: intent
                .lines
                .0
                .iter()
                .map(PublicQuoteLineView::from)
                .collect(),
            attempts: payment
                .attempts
                .iter()
                .map(|attempt| PublicAttemptView::render(state, attempt))
                .collect::<Result<_, _>>()?,
            receipt_number: intent.receipt_number.clone(),
            receipt_url,
            expires_at: intent.expires_at,
            paid_at: intent.paid_at,
        })
    }
}

#[utoipa::path(get, path = "/v1/public/payments/{token}", tag = "citizens", responses((status = 200, body = PublicPaymentView), (status = 404, body = Problem)))]
pub async fn get_public_payment(
    State(state): State<AppState>,
    AppPath(token): AppPath<String>,
) -> Result<Json<PublicPaymentView>, ApiError> {
    let payment = public::by_token(&state, &token).await?;
    Ok(Json(PublicPaymentView::render(&state, &payment)?))
}

/// A payment's state, for a page that follows it: small, and one query to answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicStatusView {
    pub status: IntentStatus,
    /// Set shortly after the payment (receipts are numbered just after it is recorded).
    pub receipt_number: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/v1/public/payments/{token}/status", tag = "citizens",
    responses((status = 200, body = PublicStatusView), (status = 404, body = Problem)))]
pub async fn get_public_payment_status(
    State(state): State<AppState>,
    AppPath(token): AppPath<String>,
) -> Result<Response, ApiError> {
    let status = public::status_by_token(&state, &token).await?;
    let view = PublicStatusView {
        status: status.status,
        receipt_number: status.receipt_number,
        paid_at: status.paid_at,
    };
    // Polled for changes: never kept by a cache.
    Ok(([(header::CACHE_CONTROL, "private, no-store")], Json(view)).into_response())
}

#[utoipa::path(get, path = "/v1/public/attempts/{id}/qr.svg", tag = "citizens",
    responses((status = 200, description = "SVG QR code of the attempt's KHQR", content_type = "image/svg+xml"), (status = 404, body = Problem)))]
pub async fn get_attempt_qr_svg(
    State(state): State<AppState>,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, ApiError> {
    let khqr = public::attempt_khqr(&state, id).await?;
    let svg = crate::app::qr_image::svg(&khqr)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        svg,
    )
        .into_response())
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// `1`: answer as a file to save (`Content-Disposition: attachment`).
    pub download: Option<String>,
}

#[utoipa::path(get, path = "/v1/public/attempts/{id}/qr.png", tag = "citizens", params(QrQuery),
    responses((status = 200, description = "PNG QR code of the attempt's KHQR", content_type = "image/png"), (status = 404, body = Problem)))]
pub async fn get_attempt_qr_png(
    State(state): State<AppState>,
    AppPath(id): AppPath<Uuid>,
    AppQuery(query): AppQuery<QrQuery>,
) -> Result<Response, ApiError> {
    let khqr = public::attempt_khqr(&state, id).await?;
    let png = crate::app::qr_image::png(&khqr)?;
    let mut response = (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        png,
    )
        .into_response();
    if matches!(query.download.as_deref(), Some("1" | "true")) {
        let disposition = format!("attachment; filename=\"khqr-{}.png\"", id.simple());
        if let Ok(value) = header::HeaderValue::from_str(&disposition) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}
