//! What a payment link shows the citizen: the payment, its page, the QR images.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::attempts::AttemptView;
use super::catalog::views::PublicQuoteLineView;
use super::error::{ApiError, Problem};
use super::extract::{AppPath, AppQuery};
use super::money::MoneyView;
use crate::app::error::AppError;
use crate::app::public::{self, PublicPayment};
use crate::app::states::IntentStatus;
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/public/payments/{token}", get(get_public_payment))
        .route("/v1/public/attempts/{id}/qr.svg", get(get_attempt_qr_svg))
        .route("/v1/public/attempts/{id}/qr.png", get(get_attempt_qr_png))
        .route("/pay/{token}", get(get_pay_page))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicPaymentView {
    pub status: IntentStatus,
    pub total: MoneyView,
    pub case_reference: String,
    pub office_code: String,
    pub office_name_km: String,
    pub office_name_en: String,
    /// Only what the citizen is shown of each line (no accounts, rule paths or notes).
    pub lines: Vec<PublicQuoteLineView>,
    pub attempts: Vec<AttemptView>,
    pub receipt_number: Option<String>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl PublicPaymentView {
    /// What the citizen sees of their payment.
    pub fn render(state: &AppState, payment: PublicPayment) -> Result<PublicPaymentView, AppError> {
        let intent = payment.intent;
        Ok(PublicPaymentView {
            status: intent.status,
            total: MoneyView::from_row(intent.total_minor, &intent.currency)?,
            case_reference: intent.case_reference,
            office_code: intent.office_code,
            office_name_km: payment.office_name_km,
            office_name_en: payment.office_name_en,
            lines: intent
                .lines
                .0
                .iter()
                .map(PublicQuoteLineView::from)
                .collect(),
            attempts: payment
                .attempts
                .iter()
                .map(|attempt| AttemptView::render(state, attempt))
                .collect::<Result<_, _>>()?,
            receipt_number: intent.receipt_number,
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
    Ok(Json(PublicPaymentView::render(&state, payment)?))
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

#[utoipa::path(get, path = "/v1/public/attempts/{id}/qr.png", tag = "citizens",
    responses((status = 200, description = "PNG QR code of the attempt's KHQR", content_type = "image/png"), (status = 404, body = Problem)))]
pub async fn get_attempt_qr_png(
    State(state): State<AppState>,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, ApiError> {
    let khqr = public::attempt_khqr(&state, id).await?;
    let png = crate::app::qr_image::png(&khqr)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        png,
    )
        .into_response())
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// `km` (default) or `en`.
    pub lang: Option<String>,
}

#[utoipa::path(get, path = "/pay/{token}", tag = "citizens", params(LangQuery), responses((status = 200, description = "HTML payment page"), (status = 404, body = Problem)))]
pub async fn get_pay_page(
    State(state): State<AppState>,
    AppPath(token): AppPath<String>,
    AppQuery(query): AppQuery<LangQuery>,
) -> Result<Html<String>, ApiError> {
    let view = PublicPaymentView::render(&state, public::by_token(&state, &token).await?)?;
    Ok(Html(super::pages::pay_page(
        &view,
        query.lang.as_deref() == Some("en"),
    )))
}
