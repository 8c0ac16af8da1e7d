//! Webhook endpoints of the workflow system and the deliveries to them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{AppJson, AppPath, AppQuery};
use crate::app::auth::Principal;
use crate::app::pagination::{ListQuery, Page};
use crate::app::webhooks::{
    self, CreateEndpointRequest, CreatedEndpointView, DeliveriesQuery, DeliveryView, EndpointView,
};
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/webhook-endpoints",
            post(create_webhook_endpoint).get(list_webhook_endpoints),
        )
        .route(
            "/v1/webhook-endpoints/{id}",
            get(get_webhook_endpoint).patch(update_webhook_endpoint),
        )
        .route(
            "/v1/webhook-endpoints/{id}/rotate-secret",
            post(rotate_webhook_secret),
        )
        .route(
            "/v1/webhook-endpoints/{id}/retry-dead",
            post(retry_dead_webhook_deliveries),
        )
        .route("/v1/webhook-deliveries", get(list_webhook_deliveries))
        .route(
            "/v1/webhook-deliveries/{id}/attempts",
            get(list_webhook_attempts),
        )
        .route(
            "/v1/webhook-deliveries/{id}/retry",
            post(retry_webhook_delivery),
        )
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

#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = Page<EndpointView>)))]
pub async fn list_webhook_endpoints(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<EndpointView>>, ApiError> {
    let endpoints = webhooks::list_endpoints(&state, &principal).await?;
    Ok(Json(Page::cut(
        endpoints,
        query.limit,
        query.cursor.as_deref(),
        |endpoint| endpoint.id.to_string(),
    )?))
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
