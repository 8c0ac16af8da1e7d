//! Thin handlers: extract, call one `app::` function, render.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use uuid::Uuid;

use super::auth::Caller;
use super::body::{created, parse_json};
use super::error::{ApiError, Problem};
use super::extract::{AppJson, AppPath, AppQuery, IdempotencyKey, JsonBytes};
use crate::app::attempts::{self, AttemptCaller, AttemptView, CreateAttemptRequest};
use crate::app::auth::Principal;
use crate::app::books::{
    self, AccountView, AsOfQuery, ExceptionView, ExceptionsQuery, TrialBalanceView,
};
use crate::app::callbacks;
use crate::app::catalog::{self, CreateQuoteRequest, QuoteView, SectorView, ServiceView};
use crate::app::idempotency::request_hash;
use crate::app::intents::{self, CreateIntentRequest, IntentView, ListIntentsQuery, Page};
use crate::app::public::{self, PublicPaymentView};
use crate::app::webhooks::{
    self, CreateEndpointRequest, CreatedEndpointView, DeliveriesQuery, DeliveryView, EndpointView,
};
use crate::state::AppState;

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is up")))]
pub async fn get_healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Database reachable and migrations applied"),
    (status = 503, description = "Not ready", body = Problem)))]
pub async fn get_readyz(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    crate::db::ready(&state.pool).await.map_err(|reason| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "Not ready",
            reason,
        )
    })?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn get_metrics(State(state): State<AppState>) -> Response {
    let body = state
        .prometheus
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[utoipa::path(get, path = "/v1/sectors", tag = "catalog", responses((status = 200, body = Vec<SectorView>)))]
pub async fn list_sectors(
    State(state): State<AppState>,
) -> Result<Json<Vec<SectorView>>, ApiError> {
    Ok(Json(catalog::list_sectors(&state).await?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ServicesQuery {
    /// Sector code.
    pub sector: Option<String>,
    /// Text matched against Khmer and English names and codes.
    pub q: Option<String>,
    /// A schedule version (default: the one in force), e.g. to review a scheduled version.
    pub schedule_version: Option<String>,
}

#[utoipa::path(get, path = "/v1/services", tag = "catalog", params(ServicesQuery), responses((status = 200, body = Vec<ServiceView>)))]
pub async fn list_services(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ServicesQuery>,
) -> Result<Json<Vec<ServiceView>>, ApiError> {
    Ok(Json(
        catalog::list_services(
            &state,
            query.sector.as_deref(),
            query.q.as_deref(),
            query.schedule_version.as_deref(),
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/v1/services/{code}", tag = "catalog", responses((status = 200, body = ServiceView), (status = 404, body = Problem)))]
pub async fn get_service(
    State(state): State<AppState>,
    AppPath(code): AppPath<String>,
) -> Result<Json<ServiceView>, ApiError> {
    Ok(Json(catalog::get_service(&state, &code).await?))
}

#[utoipa::path(post, path = "/v1/quotes", tag = "catalog", request_body = CreateQuoteRequest, security(("bearer" = [])),
    responses((status = 201, body = QuoteView), (status = 422, body = Problem)))]
pub async fn create_quote(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(request): AppJson<CreateQuoteRequest>,
) -> Result<(StatusCode, Json<QuoteView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(catalog::create_quote(&state, &principal, request).await?),
    ))
}

#[utoipa::path(get, path = "/v1/quotes/{id}", tag = "catalog", security(("bearer" = [])), responses((status = 200, body = QuoteView), (status = 404, body = Problem)))]
pub async fn get_quote(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<QuoteView>, ApiError> {
    Ok(Json(catalog::get_quote(&state, &principal, id).await?))
}

#[utoipa::path(post, path = "/v1/payment-intents", tag = "payments", request_body(content = CreateIntentRequest, content_type = "application/json"), security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 255 characters")),
    responses((status = 201, body = IntentView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_intent(
    State(state): State<AppState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    OriginalUri(uri): OriginalUri,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let hash = request_hash("POST", uri.path(), &body);
    let request: CreateIntentRequest = parse_json(&body)?;
    Ok(created(
        intents::create(&state, &principal, &key, &hash, request).await?,
    ))
}

#[utoipa::path(get, path = "/v1/payment-intents", tag = "payments", params(ListIntentsQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<IntentView>)))]
pub async fn list_intents(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListIntentsQuery>,
) -> Result<Json<Page<IntentView>>, ApiError> {
    Ok(Json(intents::list(&state, &principal, query).await?))
}

#[utoipa::path(get, path = "/v1/payment-intents/{id}", tag = "payments", security(("bearer" = [])), responses((status = 200, body = IntentView), (status = 404, body = Problem)))]
pub async fn get_intent(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<IntentView>, ApiError> {
    Ok(Json(intents::get(&state, &principal, id).await?))
}

#[utoipa::path(post, path = "/v1/payment-intents/{id}/cancel", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = IntentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_intent(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<IntentView>, ApiError> {
    Ok(Json(intents::cancel(&state, &principal, id).await?))
}

#[utoipa::path(post, path = "/v1/payment-intents/{id}/attempts", tag = "payments", request_body(content = CreateAttemptRequest, content_type = "application/json"), security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 255 characters")),
    responses((status = 201, body = AttemptView), (status = 409, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn create_attempt(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<Uuid>,
    IdempotencyKey(key): IdempotencyKey,
    OriginalUri(uri): OriginalUri,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let hash = request_hash("POST", uri.path(), &body);
    let request: CreateAttemptRequest = parse_json(&body)?;
    let caller = match &caller {
        Caller::Key(principal) => AttemptCaller::Key(principal),
        Caller::Citizen { pay_token } => AttemptCaller::Citizen(pay_token),
    };
    Ok(created(
        attempts::create(&state, caller, id, &key, &hash, request).await?,
    ))
}

#[utoipa::path(get, path = "/v1/payment-intents/{id}/attempts", tag = "payments", security(("bearer" = [])), responses((status = 200, body = Vec<AttemptView>)))]
pub async fn list_attempts(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<Vec<AttemptView>>, ApiError> {
    Ok(Json(
        attempts::list_for_intent(&state, &principal, id).await?,
    ))
}

#[utoipa::path(post, path = "/v1/callbacks/{provider}", tag = "callbacks",
    request_body(content = String, content_type = "application/json", description = "The bank's message, verified over its exact bytes (sandbox: header X-Sandbox-Signature = hex HMAC-SHA256)"),
    params(("provider" = String, Path, description = "sandbox (more providers later)")),
    responses((status = 200, description = "Received"), (status = 401, body = Problem), (status = 400, body = Problem)))]
pub async fn receive_callback(
    State(state): State<AppState>,
    AppPath(provider): AppPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    match provider.as_str() {
        "sandbox" => Ok(Json(callbacks::sandbox(&state, &headers, &body).await?)),
        _ => Err(ApiError::not_found("callback provider")),
    }
}

#[utoipa::path(get, path = "/v1/public/payments/{token}", tag = "citizens", responses((status = 200, body = PublicPaymentView), (status = 404, body = Problem)))]
pub async fn get_public_payment(
    State(state): State<AppState>,
    AppPath(token): AppPath<String>,
) -> Result<Json<PublicPaymentView>, ApiError> {
    Ok(Json(public::by_token(&state, &token).await?))
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
    let view = public::by_token(&state, &token).await?;
    Ok(Html(super::pages::pay_page(
        &view,
        query.lang.as_deref() == Some("en"),
    )))
}

#[utoipa::path(get, path = "/v1/ledger/trial-balance", tag = "ledger", params(AsOfQuery), security(("bearer" = [])), responses((status = 200, body = TrialBalanceView)))]
pub async fn get_trial_balance(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<AsOfQuery>,
) -> Result<Json<TrialBalanceView>, ApiError> {
    Ok(Json(
        books::trial_balance(&state, &principal, query.as_of).await?,
    ))
}

#[utoipa::path(get, path = "/v1/ledger/accounts", tag = "ledger", security(("bearer" = [])), responses((status = 200, body = Vec<AccountView>)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    Ok(Json(books::accounts(&state, &principal).await?))
}

#[utoipa::path(get, path = "/v1/reconciliation/exceptions", tag = "reconciliation", params(ExceptionsQuery), security(("bearer" = [])), responses((status = 200, body = Page<ExceptionView>)))]
pub async fn list_exceptions(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ExceptionsQuery>,
) -> Result<Json<Page<ExceptionView>>, ApiError> {
    Ok(Json(books::exceptions(&state, &principal, query).await?))
}

#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", request_body = CreateEndpointRequest, security(("bearer" = [])),
    responses((status = 201, body = CreatedEndpointView), (status = 422, body = Problem)))]
pub async fn create_webhook_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(request): AppJson<CreateEndpointRequest>,
) -> Result<(StatusCode, Json<CreatedEndpointView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(webhooks::create_endpoint(&state, &principal, request).await?),
    ))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", security(("bearer" = [])), responses((status = 200, body = Vec<EndpointView>)))]
pub async fn list_webhook_endpoints(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<EndpointView>>, ApiError> {
    Ok(Json(webhooks::list_endpoints(&state, &principal).await?))
}

#[utoipa::path(get, path = "/v1/webhook-deliveries", tag = "webhooks", params(DeliveriesQuery), security(("bearer" = [])), responses((status = 200, body = Page<DeliveryView>)))]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<DeliveriesQuery>,
) -> Result<Json<Page<DeliveryView>>, ApiError> {
    Ok(Json(
        webhooks::list_deliveries(&state, &principal, query).await?,
    ))
}

#[utoipa::path(post, path = "/v1/webhook-deliveries/{id}/retry", tag = "webhooks", security(("bearer" = [])), responses((status = 200, body = DeliveryView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry_webhook_delivery(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<DeliveryView>, ApiError> {
    Ok(Json(
        webhooks::retry_delivery(&state, &principal, id).await?,
    ))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])), responses((status = 200, body = crate::app::webhooks::EndpointView), (status = 404, body = Problem)))]
pub async fn get_webhook_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<crate::app::webhooks::EndpointView>, ApiError> {
    Ok(Json(webhooks::get_endpoint(&state, &principal, id).await?))
}

#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", request_body = crate::app::webhooks::UpdateEndpointRequest, security(("bearer" = [])),
    responses((status = 200, body = crate::app::webhooks::EndpointView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_webhook_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppJson(request): AppJson<crate::app::webhooks::UpdateEndpointRequest>,
) -> Result<Json<crate::app::webhooks::EndpointView>, ApiError> {
    Ok(Json(
        webhooks::update_endpoint(&state, &principal, id, request).await?,
    ))
}

#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", request_body = crate::app::webhooks::RotateSecretRequest, security(("bearer" = [])),
    responses((status = 200, body = CreatedEndpointView), (status = 404, body = Problem)))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppJson(request): AppJson<crate::app::webhooks::RotateSecretRequest>,
) -> Result<Json<CreatedEndpointView>, ApiError> {
    Ok(Json(
        webhooks::rotate_secret(&state, &principal, id, request).await?,
    ))
}

#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/retry-dead", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = crate::app::webhooks::RetriedView), (status = 404, body = Problem)))]
pub async fn retry_dead_webhook_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<crate::app::webhooks::RetriedView>, ApiError> {
    Ok(Json(webhooks::retry_dead(&state, &principal, id).await?))
}

#[utoipa::path(get, path = "/v1/webhook-deliveries/{id}/attempts", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<crate::app::webhooks::DeliveryAttemptView>), (status = 404, body = Problem)))]
pub async fn list_webhook_attempts(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<Vec<crate::app::webhooks::DeliveryAttemptView>>, ApiError> {
    Ok(Json(
        webhooks::delivery_attempts(&state, &principal, id).await?,
    ))
}

pub async fn get_openapi() -> Json<serde_json::Value> {
    Json(super::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        "this route does not accept that method",
    )
}
