//! The admin catalog routes: import and export of schedule versions as CSV, and the audit log
//! of catalog changes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::auth::Principal;
use crate::app::fees::admin;
use crate::app::fees::audit::AuditFilter;
use crate::app::fees::model;
use crate::app::fees::publish::Outcome;
use crate::app::pagination::Page;
use crate::db::catalog_audit::AuditRecord;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::AppQuery;
use crate::state::AppState;

/// How much a catalog prices.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogCounts {
    pub services: usize,
    pub bundles: usize,
    /// Published prices (a maximum with a preferential price counts two; free counts one).
    pub price_points: usize,
    /// Tiers known to exist without a sourced fee (`unpublished` leaves).
    pub unpublished_price_points: usize,
    /// Services with no published price at all.
    pub unpublished_services: usize,
}

impl From<model::CatalogCounts> for CatalogCounts {
    fn from(counts: model::CatalogCounts) -> CatalogCounts {
        CatalogCounts {
            services: counts.services,
            bundles: counts.bundles,
            price_points: counts.price_points,
            unpublished_price_points: counts.unpublished_price_points,
            unpublished_services: counts.unpublished_services,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub schedule_version: String,
    pub effective_from: NaiveDate,
    /// `created`, `replaced` (a version not yet in force) or `unchanged`.
    pub outcome: String,
    #[serde(flatten)]
    pub counts: CatalogCounts,
    /// Audit records written (0 when unchanged).
    pub audit_records: usize,
}

impl From<admin::ImportReport> for ImportReport {
    fn from(report: admin::ImportReport) -> ImportReport {
        ImportReport {
            schedule_version: report.schedule_version,
            effective_from: report.effective_from,
            outcome: report.outcome,
            counts: report.counts.into(),
            audit_records: report.audit_records,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    /// The API key id, or `cli`.
    pub actor: String,
    /// `schedule.created`, `schedule.replaced`, `service.added`, `service.changed`,
    /// `service.removed`, `bundle.added`, `bundle.changed` or `bundle.removed`.
    pub action: String,
    pub schedule_version: String,
    /// The version, service code or bundle code changed.
    pub subject: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

impl From<AuditRecord> for AuditView {
    fn from(record: AuditRecord) -> AuditView {
        AuditView {
            id: record.id,
            occurred_at: record.occurred_at,
            actor: record.actor,
            action: record.action,
            schedule_version: record.schedule_version,
            subject: record.subject,
            before: record.before,
            after: record.after,
        }
    }
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
    Ok((status, Json(report.into())))
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

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub schedule_version: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/admin/catalog/audit", tag = "catalog", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<AuditView>, description = "Catalog changes, newest first")))]
pub async fn list_catalog_audit(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<Json<Page<AuditView>>, ApiError> {
    let filter = AuditFilter {
        schedule_version: query.schedule_version,
        limit: query.limit,
        cursor: query.cursor,
    };
    let page = admin::audit_log(&state, &principal, filter).await?;
    Ok(Json(Page {
        data: page.data.into_iter().map(AuditView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
