//! The quote routes: pricing a case against the schedule in force, and reading a quote back.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::auth::Principal;
use crate::app::money::MoneyView;
use crate::app::quotes::{self, CreateQuoteRequest, Quote, QuoteLine};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppJson, AppPath};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub id: Uuid,
    pub office_code: String,
    pub lines: Vec<QuoteLine>,
    pub total: MoneyView,
    pub schedule_version: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<Quote> for QuoteView {
    fn from(quote: Quote) -> QuoteView {
        QuoteView {
            id: quote.id,
            office_code: quote.office_code,
            lines: quote.lines,
            total: quote.total.into(),
            schedule_version: quote.schedule_version,
            created_at: quote.created_at,
            expires_at: quote.expires_at,
        }
    }
}

#[utoipa::path(post, path = "/v1/quotes", tag = "catalog", request_body = CreateQuoteRequest, security(("bearer" = [])),
    responses((status = 201, body = QuoteView), (status = 404, body = Problem, description = "No such office (or not visible to this key)"), (status = 422, body = Problem)))]
pub async fn create_quote(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(request): AppJson<CreateQuoteRequest>,
) -> Result<(StatusCode, Json<QuoteView>), ApiError> {
    let quote = quotes::create_quote(&state, &principal, request).await?;
    Ok((StatusCode::CREATED, Json(quote.into())))
}

#[utoipa::path(get, path = "/v1/quotes/{id}", tag = "catalog", security(("bearer" = [])), responses((status = 200, body = QuoteView), (status = 404, body = Problem)))]
pub async fn get_quote(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<QuoteView>, ApiError> {
    Ok(Json(
        quotes::get_quote(&state, &principal, id).await?.into(),
    ))
}
