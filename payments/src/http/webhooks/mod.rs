//! Webhook endpoints of the workflow system and the deliveries to them: the routes; their
//! requests and views are in [`views`].

mod views;

pub use views::{
    CreateEndpointRequest, CreatedEndpointView, DeliveriesQuery, DeliveryAttemptView, DeliveryView,
    EndpointView, RetriedView, RotateSecretRequest, UpdateEndpointRequest,
};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{AppJson, AppPath, AppQuery};
use crate::app::auth::Principal;
use crate::app::pagination::{ListQuery, Page};
use crate::app::webhooks;
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

/// A page of rows rendered as a page of their views.
fn page_of<T, V: From<T>>(page: Page<T>) -> Page<V> {
    Page {
        data: page.data.into_iter().map(V::from).collect(),
        next_cursor: page.next_cursor,
    }
}

#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", request_body = CreateEndpointRequest, security(("bearer" = [])),
    responses((status = 201, body = CreatedEndpointView), (status = 422, body = Problem)))]
pub async fn create_webhook_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(request): AppJson<CreateEndpointRequest>,
) -> Result<(StatusCode, Json<CreatedEndpointView>), ApiError> {
    let created = webhooks::create_endpoint(&state, &principal, request.into()).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = Page<EndpointView>)))]
pub async fn list_webhook_endpoints(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<EndpointView>>, ApiError> {
    let page = webhooks::list_endpoints(&state, &principal, query).await?;
    Ok(Json(page_of(page)))
}

#[utoipa::path(get, path = "/v1/webhook-deliveries", tag = "webhooks", params(DeliveriesQuery), security(("bearer" = [])), responses((status = 200, body = Page<DeliveryView>)))]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<DeliveriesQuery>,
) -> Result<Json<Page<DeliveryView>>, ApiError> {
    let page = webhooks::list_deliveries(&state, &principal, query.into()).await?;
    Ok(Json(page_of(page)))
}

#[utoipa::path(post, path = "/v1/webhook-deliveries/{id}/retry", tag = "webhooks", security(("bearer" = [])), responses((status = 200, body = DeliveryView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry_webhook_delivery(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<DeliveryView>, ApiError> {
    let delivery = webhooks::retry_delivery(&state, &principal, id).await?;
    Ok(Json(delivery.into()))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])), responses((status = 200, body = EndpointView), (status = 404, body = Problem)))]
pub async fn get_webhook_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<EndpointView>, ApiError> {
    let endpoint = webhooks::get_endpoint(&state, &principal, id).await?;
    Ok(Json(endpoint.into()))
}

#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", request_body = UpdateEndpointRequest, security(("bearer" = [])),
    responses((status = 200, body = EndpointView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_webhook_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppJson(request): AppJson<UpdateEndpointRequest>,
) -> Result<Json<EndpointView>, ApiError> {
    let endpoint = webhooks::update_endpoint(&state, &principal, id, request.into()).await?;
    Ok(Json(endpoint.into()))
}

#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", request_body = RotateSecretRequest, security(("bearer" = [])),
    responses((status = 200, body = CreatedEndpointView), (status = 404, body = Problem)))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppJson(request): AppJson<RotateSecretRequest>,
) -> Result<Json<CreatedEndpointView>, ApiError> {
    let created =
        webhooks::rotate_secret(&state, &principal, id, request.keep_previous_for_s).await?;
    Ok(Json(created.into()))
}

#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/retry-dead", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = RetriedView), (status = 404, body = Problem)))]
pub async fn retry_dead_webhook_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<RetriedView>, ApiError> {
    let retried = webhooks::retry_dead(&state, &principal, id).await?;
    Ok(Json(RetriedView { retried }))
}

#[utoipa::path(get, path = "/v1/webhook-deliveries/{id}/attempts", tag = "webhooks", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DeliveryAttemptView>), (status = 404, body = Problem)))]
pub async fn list_webhook_attempts(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<DeliveryAttemptView>>, ApiError> {
    let page = webhooks::delivery_attempts(&state, &principal, id, query).await?;
    Ok(Json(page_of(page)))
}
