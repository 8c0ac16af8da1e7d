//! The quote routes: pricing a case against the schedule in force, and reading a quote back.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::auth::Principal;
use crate::app::money::MoneyView;
use crate::app::quotes::{self, Quote, QuoteItem, QuoteLine, QuoteRequest};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{AppJson, AppPath};
use crate::state::AppState;

/// One item of a quote request: a service, or a bundle of services.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteItemRequest {
    /// A service code (or give `bundle_code`).
    #[serde(default)]
    pub service_code: Option<String>,
    /// A bundle code: one line per service of the bundle.
    #[serde(default)]
    pub bundle_code: Option<String>,
    /// Units of a service line (default 1); not for bundles (see `quantities`).
    #[serde(default, deserialize_with = "crate::app::validation::whole_number")]
    pub quantity: Option<i64>,
    /// Fee parameters (`floor_area_m2`, `location`, ...). For a bundle, each goes to the
    /// services that read it.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Option<Map<String, Value>>,
    /// Bundles only: units per service code, replacing the bundle's default quantity.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub quantities: Option<BTreeMap<String, i64>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuoteRequest {
    pub office_code: String,
    /// 1 to 50 items.
    #[schema(min_items = 1, max_items = 50)]
    pub items: Vec<QuoteItemRequest>,
}

impl From<QuoteItemRequest> for QuoteItem {
    fn from(item: QuoteItemRequest) -> QuoteItem {
        QuoteItem {
            service_code: item.service_code,
            bundle_code: item.bundle_code,
            quantity: item.quantity,
            params: item.params,
            quantities: item.quantities,
        }
    }
}

impl From<CreateQuoteRequest> for QuoteRequest {
    fn from(request: CreateQuoteRequest) -> QuoteRequest {
        QuoteRequest {
            office_code: request.office_code,
            items: request.items.into_iter().map(QuoteItem::from).collect(),
        }
    }
}

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
    let quote = quotes::create_quote(&state, &principal, request.into()).await?;
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
