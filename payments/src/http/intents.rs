//! Payment intents: create (idempotent), list, read, cancel.

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::body::{created_as, json_value, parse_json};
use super::error::{ApiError, Problem};
use super::extract::{AppPath, AppQuery, IdempotencyKey, JsonBytes};
use super::money::MoneyView;
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::app::idempotency::request_hash;
use crate::app::intents::{self, CreateIntentRequest, IntentRecord, ListIntents};
use crate::app::pagination::Page;
use crate::app::quotes::QuoteLine;
use crate::app::states::IntentStatus;
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/payment-intents", post(create_intent).get(list_intents))
        .route("/v1/payment-intents/{id}", get(get_intent))
        .route("/v1/payment-intents/{id}/cancel", post(cancel_intent))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntentView {
    pub id: Uuid,
    pub status: IntentStatus,
    pub case_reference: String,
    pub office_code: String,
    pub quote_id: Uuid,
    pub total: MoneyView,
    pub amount_paid: MoneyView,
    pub amount_refunded: MoneyView,
    /// The citizen's payment link (a bearer credential): shown only to the roles that create
    /// intents (workflow, cashier, admin); omitted for supervisors and auditors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay_url: Option<String>,
    pub receipt_number: Option<String>,
    pub paid_channel: Option<String>,
    pub lines: Vec<QuoteLine>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When the bank says the money moved, as it reported it; `paid_at` is our clock.
    pub bank_paid_at: Option<DateTime<Utc>>,
}

impl IntentView {
    /// The view of an intent, with the payment link its reader may see.
    pub fn render(record: &IntentRecord) -> Result<IntentView, AppError> {
        let intent = &record.intent;
        Ok(IntentView {
            id: intent.id,
            status: intent.status,
            case_reference: intent.case_reference.clone(),
            office_code: intent.office_code.clone(),
            quote_id: intent.quote_id,
            total: MoneyView::from_row(intent.total_minor, &intent.currency)?,
            amount_paid: MoneyView::from_row(intent.amount_paid_minor, &intent.currency)?,
            amount_refunded: MoneyView::from_row(intent.amount_refunded_minor, &intent.currency)?,
            pay_url: record.pay_url.clone(),
            receipt_number: intent.receipt_number.clone(),
            paid_channel: intent.paid_channel.clone(),
            lines: intent.lines.0.clone(),
            expires_at: intent.expires_at,
            created_at: intent.created_at,
            paid_at: intent.paid_at,
            cancelled_at: intent.cancelled_at,
            bank_paid_at: intent.bank_paid_at,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListIntentsQuery {
    pub office_code: Option<String>,
    /// Read as text and parsed here, so that an unknown status is a 422 naming `status`.
    #[param(schema_with = status_schema)]
    pub status: Option<String>,
    pub case_reference: Option<String>,
    /// Created at or after (a date: from the start of that day in UTC+7).
    #[serde(default, deserialize_with = "crate::app::dates::start")]
    #[param(schema_with = crate::app::dates::schema)]
    pub from: Option<DateTime<Utc>>,
    /// Created before (a date: up to the end of that day in UTC+7, inclusive).
    #[serde(default, deserialize_with = "crate::app::dates::end_exclusive")]
    #[param(schema_with = crate::app::dates::schema)]
    pub to: Option<DateTime<Utc>>,
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

const INTENT_STATUSES: [IntentStatus; 4] = [
    IntentStatus::AwaitingPayment,
    IntentStatus::Paid,
    IntentStatus::Expired,
    IntentStatus::Cancelled,
];

/// The OpenAPI schema of the `status` filter.
fn status_schema() -> utoipa::openapi::Object {
    crate::app::validation::text_enum(&INTENT_STATUSES.map(IntentStatus::as_str))
}

impl TryFrom<ListIntentsQuery> for ListIntents {
    type Error = AppError;

    fn try_from(query: ListIntentsQuery) -> Result<ListIntents, AppError> {
        let status = query
            .status
            .as_deref()
            .map(|status| {
                IntentStatus::from_text(status).ok_or_else(|| {
                    let names = INTENT_STATUSES.map(IntentStatus::as_str);
                    AppError::validation(
                        "status",
                        format!("status must be one of {}", names.join(", ")),
                    )
                })
            })
            .transpose()?;
        Ok(ListIntents {
            office_code: query.office_code,
            status,
            case_reference: query.case_reference,
            from: query.from,
            to: query.to,
            limit: query.limit,
            cursor: query.cursor,
        })
    }
}

#[utoipa::path(post, path = "/v1/payment-intents", tag = "payments", request_body(content = CreateIntentRequest, content_type = "application/json"), security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 255 characters")),
    responses((status = 201, body = IntentView), (status = 404, body = Problem, description = "No such quote (or not visible to this key)"), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_intent(
    State(state): State<AppState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    OriginalUri(uri): OriginalUri,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let hash = request_hash("POST", uri.path(), &body);
    let request: CreateIntentRequest = parse_json(&body)?;
    let render = |record: &IntentRecord| json_value(&IntentView::render(record)?);
    let result = intents::create(&state, &principal, &key, &hash, request, render).await?;
    created_as(result, IntentView::render)
}

#[utoipa::path(get, path = "/v1/payment-intents", tag = "payments", params(ListIntentsQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<IntentView>)))]
pub async fn list_intents(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListIntentsQuery>,
) -> Result<Json<Page<IntentView>>, ApiError> {
    let page = intents::list(&state, &principal, query.try_into()?).await?;
    Ok(Json(Page {
        data: page
            .data
            .iter()
            .map(IntentView::render)
            .collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/payment-intents/{id}", tag = "payments", security(("bearer" = [])), responses((status = 200, body = IntentView), (status = 404, body = Problem)))]
pub async fn get_intent(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<IntentView>, ApiError> {
    let record = intents::get(&state, &principal, id).await?;
    Ok(Json(IntentView::render(&record)?))
}

#[utoipa::path(post, path = "/v1/payment-intents/{id}/cancel", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = IntentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_intent(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<IntentView>, ApiError> {
    let record = intents::cancel(&state, &principal, id).await?;
    Ok(Json(IntentView::render(&record)?))
}
