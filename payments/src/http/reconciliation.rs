//! Reconciliation with the bank as JSON (issue 15, API.md "Bank statements"): statements in
//! (camt.053 or CSV, the raw file as the body), statements out with their lines, the daily
//! report (JSON or CSV) and which days are reconciled. The exceptions list stays in
//! `http::ledger`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bank_adapters::statement::MAX_STATEMENT_BYTES;
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{accepts_csv, AppPath, AppQuery};
use crate::app::auth::Principal;
use crate::app::error::{AppError, Refusal};
use crate::app::pagination::Page;
use crate::app::reconciliation::report::{self, DailyReport, DayStatus};
use crate::app::reconciliation::statements::{
    self, LoadedStatement, StatementDetail, StatementFilter, StatementSummary, Upload,
};
use crate::state::AppState;

/// The statement upload route (exempt from the JSON-only body rule: the body is the bank's
/// file).
pub const STATEMENTS_ROUTE: &str = "/v1/reconciliation/statements";

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/reconciliation/statements",
            // A month of a busy office's lines is megabytes, past the API's 64 kB bodies.
            axum::routing::post(load_statement)
                .layer(DefaultBodyLimit::max(MAX_STATEMENT_BYTES))
                .get(list_statements),
        )
        .route("/v1/reconciliation/statements/{id}", get(get_statement))
        .route("/v1/reconciliation/report", get(get_report))
        .route("/v1/reconciliation/days", get(list_days))
}

/// `camt053` for `application/xml` (or `text/xml`), `csv` for `text/csv`; 415 otherwise.
fn upload_of(headers: &HeaderMap) -> Result<Upload, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        "application/xml" | "text/xml" => Ok(Upload::Camt053),
        "text/csv" => Ok(Upload::Csv),
        _ => Err(AppError::UnsupportedMedia(Refusal::new(
            "unsupported_media_type",
            "Unsupported media type",
            "send a camt.053 statement as Content-Type: application/xml or a CSV statement as text/csv",
        ))
        .into()),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LoadQuery {
    /// The account of a CSV statement (a camt.053 file names its own; if given, it must agree).
    pub account_id: Option<String>,
}

#[utoipa::path(post, path = "/v1/reconciliation/statements", tag = "reconciliation", params(LoadQuery), security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "The bank's file as received: `text/csv` (API.md layout, with `?account_id=`) or `application/xml` (camt.053), at most 16 MiB"),
    responses(
        (status = 201, body = LoadedStatement, description = "Loaded and matched"),
        (status = 200, body = LoadedStatement, description = "The same file was loaded before (`duplicate: true`, the earlier id)"),
        (status = 403, body = Problem),
        (status = 404, body = Problem, description = "`account_unknown`: no such account of an office the caller sees"),
        (status = 409, body = Problem, description = "`statement_overlaps` (with `statement_id`)"),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem, description = "`statement_invalid` (with `problems`: location, message), `currency_mismatch`, `account_mismatch`, `validation_failed` (no account_id)")))]
pub async fn load_statement(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(query): AppQuery<LoadQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let upload = upload_of(&headers)?;
    let loaded = statements::load(
        &state,
        &principal,
        upload,
        query.account_id.as_deref(),
        &body,
    )
    .await?;
    let status = if loaded.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(loaded)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListStatementsQuery {
    pub office_code: Option<String>,
    pub account_id: Option<String>,
    /// At most 500 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/reconciliation/statements", tag = "reconciliation", params(ListStatementsQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<StatementSummary>, description = "Newest first")))]
pub async fn list_statements(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListStatementsQuery>,
) -> Result<Json<Page<StatementSummary>>, ApiError> {
    let filter = StatementFilter {
        office_code: query.office_code,
        account_id: query.account_id,
        limit: query.limit,
        cursor: query.cursor,
    };
    Ok(Json(statements::list(&state, &principal, filter).await?))
}

#[utoipa::path(get, path = "/v1/reconciliation/statements/{id}", tag = "reconciliation", security(("bearer" = [])),
    responses((status = 200, body = StatementDetail, description = "The statement and its lines, each `matched` (method, fee, postings), `exception` or `resolved`"),
        (status = 404, body = Problem)))]
pub async fn get_statement(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<StatementDetail>, ApiError> {
    Ok(Json(statements::get(&state, &principal, id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    pub office_code: Option<String>,
    pub account_id: String,
    /// The Cambodian day, `YYYY-MM-DD`.
    pub date: NaiveDate,
}

/// The report as a CSV download.
pub fn report_csv(report: &DailyReport) -> Response {
    let disposition = format!(
        "attachment; filename=\"reconciliation-{}-{}.csv\"",
        report.account_id, report.date
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        report.to_csv(),
    )
        .into_response()
}

#[utoipa::path(get, operation_id = "get_reconciliation_report", path = "/v1/reconciliation/report", tag = "reconciliation", params(ReportQuery), security(("bearer" = [])),
    responses((status = 200, body = DailyReport, description = "JSON; with `Accept: text/csv` the same as CSV (office_code,account_id,date,currency,section,item,count,amount)"),
        (status = 404, body = Problem, description = "`account_unknown`")))]
pub async fn get_report(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(query): AppQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let report = report::daily(
        &state,
        &principal,
        query.office_code.as_deref(),
        &query.account_id,
        query.date,
    )
    .await?;
    if accepts_csv(&headers) {
        return Ok(report_csv(&report));
    }
    Ok(Json(report).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DaysQuery {
    pub office_code: String,
    pub from: NaiveDate,
    /// At most 92 days after `from`.
    pub to: NaiveDate,
}

#[utoipa::path(get, path = "/v1/reconciliation/days", tag = "reconciliation", params(DaysQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<DayStatus>, description = "Per day (newest first) and account: statement loaded, open exceptions, reconciled"),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_days(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<DaysQuery>,
) -> Result<Json<Vec<DayStatus>>, ApiError> {
    Ok(Json(
        report::days(&state, &principal, &query.office_code, query.from, query.to).await?,
    ))
}
