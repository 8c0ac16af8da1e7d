//! The catalog: sectors, services, fee schedule versions and bundles; quotes
//! ([`quotes`]) and the admin catalog routes ([`admin`]: CSV import and export, audit log).

pub mod admin;
pub mod page;
pub mod quotes;
pub mod views;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, Problem};
use super::extract::{AppPath, AppQuery};
use crate::app::auth::Principal;
use crate::app::catalog::{self, Audience};
use crate::app::fees::admin::{list_schedules, MAX_IMPORT_BYTES};

/// The catalog import route (its body limit is the import's, not the API's 64 kB; the router
/// names it as a literal for the OpenAPI route check).
pub const IMPORT_ROUTE: &str = "/v1/admin/catalog/import";
use crate::app::pagination::{ListQuery, Page};
use crate::state::AppState;
use admin::{export_catalog, import_catalog, list_catalog_audit};
use quotes::{create_quote, get_quote};
use views::{BundleView, ScheduleView, SectorView, ServiceView};

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sectors", get(list_sectors))
        .route("/v1/services", get(list_services))
        .route("/v1/services/{code}", get(get_service))
        .route("/v1/quotes", post(create_quote))
        .route("/v1/quotes/{id}", get(get_quote))
        .route("/v1/fee-schedules", get(list_fee_schedules))
        .route("/v1/bundles", get(list_bundles))
        .route("/v1/bundles/{code}", get(get_bundle))
        .route(
            "/v1/admin/catalog/import",
            // A whole catalog file is larger than the API's 64 kB JSON bodies.
            post(import_catalog).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/v1/admin/catalog/export", get(export_catalog))
        .route("/v1/admin/catalog/audit", get(list_catalog_audit))
        .route("/services", get(page::get_services_page))
}

#[utoipa::path(get, path = "/v1/sectors", tag = "catalog", params(ListQuery), responses((status = 200, body = Page<SectorView>)))]
pub async fn list_sectors(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<SectorView>>, ApiError> {
    let sectors = catalog::list_sectors(&state).await?;
    Ok(Json(Page::cut(
        sectors.into_iter().map(SectorView::from).collect(),
        query.limit,
        query.cursor.as_deref(),
        |sector| sector.code.clone(),
    )?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ServicesQuery {
    /// Sector code.
    pub sector: Option<String>,
    /// Text matched against Khmer and English names and codes.
    pub q: Option<String>,
    /// A schedule version (default: the one in force), e.g. to review a scheduled version.
    pub schedule_version: Option<String>,
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/services", tag = "catalog", params(ServicesQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Page<ServiceView>, description = "Without a key, only what a citizen may read; an admin or auditor key also gets the provenance fields"),
        (status = 401, body = Problem, description = "An Authorization header that names no valid key"),
        (status = 404, body = Problem, description = "No such sector or schedule version")))]
pub async fn list_services(
    State(state): State<AppState>,
    principal: Option<Principal>,
    AppQuery(query): AppQuery<ServicesQuery>,
) -> Result<Json<Page<ServiceView>>, ApiError> {
    let audience = Audience::of(principal.as_ref());
    let services = catalog::list_services(
        &state,
        query.sector.as_deref(),
        query.q.as_deref(),
        query.schedule_version.as_deref(),
    )
    .await?;
    Ok(Json(Page::cut(
        services
            .into_iter()
            .map(|service| ServiceView::render(service, audience))
            .collect(),
        query.limit,
        query.cursor.as_deref(),
        |service| service.code.clone(),
    )?))
}

#[utoipa::path(get, path = "/v1/services/{code}", tag = "catalog", security((), ("bearer" = [])),
    responses((status = 200, body = ServiceView, description = "Provenance fields for admin and auditor keys only"), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_service(
    State(state): State<AppState>,
    principal: Option<Principal>,
    AppPath(code): AppPath<String>,
) -> Result<Json<ServiceView>, ApiError> {
    let audience = Audience::of(principal.as_ref());
    let service = catalog::get_service(&state, &code).await?;
    Ok(Json(ServiceView::render(service, audience)))
}

#[utoipa::path(get, path = "/v1/fee-schedules", tag = "catalog", params(ListQuery), security((), ("bearer" = [])),
    responses((status = 200, body = Page<ScheduleView>, description = "Schedule versions, oldest first, with their effective ranges; `notes` for admin and auditor keys only"), (status = 401, body = Problem)))]
pub async fn list_fee_schedules(
    State(state): State<AppState>,
    principal: Option<Principal>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<ScheduleView>>, ApiError> {
    let audience = Audience::of(principal.as_ref());
    let schedules = list_schedules(&state).await?;
    Ok(Json(Page::cut(
        schedules
            .into_iter()
            .map(|schedule| ScheduleView::render(schedule, audience))
            .collect(),
        query.limit,
        query.cursor.as_deref(),
        |schedule| schedule.version.clone(),
    )?))
}

#[utoipa::path(get, path = "/v1/bundles", tag = "catalog", params(ListQuery), security((), ("bearer" = [])),
    responses((status = 200, body = Page<BundleView>, description = "`notes` for admin and auditor keys only"), (status = 401, body = Problem)))]
pub async fn list_bundles(
    State(state): State<AppState>,
    principal: Option<Principal>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<BundleView>>, ApiError> {
    let audience = Audience::of(principal.as_ref());
    let bundles = catalog::list_bundles(&state, None).await?;
    Ok(Json(Page::cut(
        bundles
            .into_iter()
            .map(|bundle| BundleView::render(bundle, audience))
            .collect(),
        query.limit,
        query.cursor.as_deref(),
        |bundle| bundle.code.clone(),
    )?))
}

#[utoipa::path(get, path = "/v1/bundles/{code}", tag = "catalog", security((), ("bearer" = [])),
    responses((status = 200, body = BundleView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_bundle(
    State(state): State<AppState>,
    principal: Option<Principal>,
    AppPath(code): AppPath<String>,
) -> Result<Json<BundleView>, ApiError> {
    let audience = Audience::of(principal.as_ref());
    let bundles = catalog::list_bundles(&state, Some(&code)).await?;
    bundles
        .into_iter()
        .next()
        .map(|bundle| Json(BundleView::render(bundle, audience)))
        .ok_or_else(|| ApiError::not_found("bundle"))
}
