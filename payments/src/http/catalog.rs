//! The catalog: sectors, services, quotes, fee schedule versions, bundles, and the admin
//! catalog routes (CSV import and export, audit log).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, Problem};
use super::extract::{AppJson, AppPath, AppQuery};
use crate::app::auth::Principal;
use crate::app::catalog::{self, BundleView, SectorView, ServiceView};
use crate::app::fees::admin::{self, ImportReport, ScheduleView, MAX_IMPORT_BYTES};
use crate::app::fees::audit::{AuditQuery, AuditView};
use crate::app::fees::publish::Outcome;
use crate::app::pagination::{ListQuery, Page};
use crate::app::quotes::{self, CreateQuoteRequest, QuoteView};
use crate::state::AppState;
use uuid::Uuid;

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
}

#[utoipa::path(get, path = "/v1/sectors", tag = "catalog", params(ListQuery), responses((status = 200, body = Page<SectorView>)))]
pub async fn list_sectors(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<SectorView>>, ApiError> {
    let sectors = catalog::list_sectors(&state).await?;
    Ok(Json(Page::cut(
        sectors,
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
    responses((status = 200, body = Page<ServiceView>), (status = 404, body = Problem, description = "No such sector or schedule version")))]
pub async fn list_services(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ServicesQuery>,
) -> Result<Json<Page<ServiceView>>, ApiError> {
    let services = catalog::list_services(
        &state,
        query.sector.as_deref(),
        query.q.as_deref(),
        query.schedule_version.as_deref(),
    )
    .await?;
    Ok(Json(Page::cut(
        services,
        query.limit,
        query.cursor.as_deref(),
        |service| service.code.clone(),
    )?))
}

#[utoipa::path(get, path = "/v1/services/{code}", tag = "catalog", responses((status = 200, body = ServiceView), (status = 404, body = Problem)))]
pub async fn get_service(
    State(state): State<AppState>,
    AppPath(code): AppPath<String>,
) -> Result<Json<ServiceView>, ApiError> {
    Ok(Json(catalog::get_service(&state, &code).await?))
}

#[utoipa::path(post, path = "/v1/quotes", tag = "catalog", request_body = CreateQuoteRequest, security(("bearer" = [])),
    responses((status = 201, body = QuoteView), (status = 404, body = Problem, description = "No such office (or not visible to this key)"), (status = 422, body = Problem)))]
pub async fn create_quote(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(request): AppJson<CreateQuoteRequest>,
) -> Result<(StatusCode, Json<QuoteView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(quotes::create_quote(&state, &principal, request).await?),
    ))
}

#[utoipa::path(get, path = "/v1/quotes/{id}", tag = "catalog", security(("bearer" = [])), responses((status = 200, body = QuoteView), (status = 404, body = Problem)))]
pub async fn get_quote(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<QuoteView>, ApiError> {
    Ok(Json(quotes::get_quote(&state, &principal, id).await?))
}

#[utoipa::path(get, path = "/v1/fee-schedules", tag = "catalog", params(ListQuery),
    responses((status = 200, body = Page<ScheduleView>, description = "Schedule versions, oldest first, with their effective ranges")))]
pub async fn list_fee_schedules(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<ScheduleView>>, ApiError> {
    let schedules = admin::list_schedules(&state).await?;
    Ok(Json(Page::cut(
        schedules,
        query.limit,
        query.cursor.as_deref(),
        |schedule| schedule.version.clone(),
    )?))
}

#[utoipa::path(get, path = "/v1/bundles", tag = "catalog", params(ListQuery), responses((status = 200, body = Page<BundleView>)))]
pub async fn list_bundles(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<BundleView>>, ApiError> {
    let bundles = catalog::list_bundles(&state, None).await?;
    Ok(Json(Page::cut(
        bundles,
        query.limit,
        query.cursor.as_deref(),
        |bundle| bundle.code.clone(),
    )?))
}

#[utoipa::path(get, path = "/v1/bundles/{code}", tag = "catalog", responses((status = 200, body = BundleView), (status = 404, body = Problem)))]
pub async fn get_bundle(
    State(state): State<AppState>,
    AppPath(code): AppPath<String>,
) -> Result<Json<BundleView>, ApiError> {
    let bundles = catalog::list_bundles(&state, Some(&code)).await?;
    bundles
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("bundle"))
}

#[utoipa::path(post, path = "/v1/admin/catalog/import", tag = "catalog", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "A catalog file (UTF-8 CSV, at most 1 MiB): one schedule row, service rows, bundle rows"),
    responses(
        (status = 201, body = ImportReport, description = "A new schedule version was published"),
        (status = 200, body = ImportReport, description = "A scheduled version was replaced, or the file matches the version exactly (unchanged)"),
        (status = 409, body = Problem, description = "schedule_version_in_force or effective_from_taken"),
        (status = 415, body = Problem),
        (status = 422, body = Problem, description = "catalog_invalid (with `errors`: line, column, code, message) or effective_from_not_in_future")))]
pub async fn import_catalog(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let (outcome, report) = admin::import_catalog(&state, &principal, content_type, &body).await?;
    let status = match outcome {
        Outcome::Created => StatusCode::CREATED,
        Outcome::Replaced | Outcome::Unchanged => StatusCode::OK,
    };
    Ok((status, Json(report)))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// The version to export (default: the one in force).
    pub schedule_version: Option<String>,
}

#[utoipa::path(get, path = "/v1/admin/catalog/export", tag = "catalog", params(ExportQuery), security(("bearer" = [])),
    responses((status = 200, description = "The version as a catalog file", content_type = "text/csv"), (status = 404, body = Problem)))]
pub async fn export_catalog(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let (version, text) =
        admin::export_catalog(&state, &principal, query.schedule_version.as_deref()).await?;
    let disposition = format!("attachment; filename=\"owso-catalog-{version}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/admin/catalog/audit", tag = "catalog", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<AuditView>, description = "Catalog changes, newest first")))]
pub async fn list_catalog_audit(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<Json<Page<AuditView>>, ApiError> {
    Ok(Json(admin::audit_log(&state, &principal, query).await?))
}
