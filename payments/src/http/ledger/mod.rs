//! The auditor's reads of the books (trial balance, accounts, balances, statements, the
//! journal export, periods, verification, digests) and the reconciliation exceptions.

pub mod audit;
pub mod period_close;
pub mod proofs;
pub mod queries;
pub mod views;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ledger::store::{format_month, CloseOutcome};

use super::error::{ApiError, Problem};
use super::extract::{AppJson, AppPath, AppQuery};
use crate::app::auth::Principal;
use crate::app::books::{
    accounts, digests, exceptions, export as journal_export, journal, periods, statements,
    trial_balance, verify as chain,
};
use crate::app::pagination::{ListQuery, Page};
use crate::state::AppState;
use queries::{
    AsOfQuery, BalanceQuery, ClosePeriodRequest, DigestsQuery, ExceptionsQuery, JournalQuery,
    StatementQuery,
};
use views::{
    AccountView, BalanceView, ClosedPeriodView, DigestsView, ExceptionView, StatementView,
    TrialBalanceView, VerifyView,
};

/// A page of domain rows rendered as a page of views.
fn render_page<T, V: From<T>>(page: Page<T>) -> Page<V> {
    Page {
        data: page.data.into_iter().map(V::from).collect(),
        next_cursor: page.next_cursor,
    }
}

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/ledger/trial-balance", get(get_trial_balance))
        .route("/v1/ledger/accounts", get(list_accounts))
        .route(
            "/v1/ledger/accounts/{code}/balance",
            get(get_account_balance),
        )
        .route(
            "/v1/ledger/accounts/{code}/statement",
            get(get_account_statement),
        )
        .route("/v1/ledger/entries", get(export_entries))
        .route("/v1/ledger/periods", get(list_periods))
        .route("/v1/ledger/periods/close", post(close_period))
        .route("/v1/ledger/verify", get(verify))
        .route("/v1/ledger/digests", get(list_digests))
        .route("/v1/reconciliation/exceptions", get(list_exceptions))
        .merge(proofs::routes())
        .merge(period_close::routes())
        .merge(audit::routes())
}

#[utoipa::path(get, path = "/v1/ledger/trial-balance", tag = "ledger", params(AsOfQuery), security(("bearer" = [])), responses((status = 200, body = TrialBalanceView)))]
pub async fn get_trial_balance(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<AsOfQuery>,
) -> Result<Json<TrialBalanceView>, ApiError> {
    let trial_balance = trial_balance::trial_balance(
        &state,
        &principal,
        query.as_of,
        query.office_code.as_deref(),
    )
    .await?;
    Ok(Json(trial_balance.into()))
}

#[utoipa::path(get, path = "/v1/ledger/accounts", tag = "ledger", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = Page<AccountView>)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<AccountView>>, ApiError> {
    let accounts = accounts::list(&state, &principal).await?;
    let page = Page::cut(accounts, query.limit, query.cursor.as_deref(), |account| {
        account.code.clone()
    })?;
    Ok(Json(render_page(page)))
}

#[utoipa::path(get, path = "/v1/ledger/accounts/{code}/balance", tag = "ledger", params(BalanceQuery), security(("bearer" = [])),
    responses((status = 200, body = BalanceView), (status = 404, body = Problem)))]
pub async fn get_account_balance(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(code): AppPath<String>,
    AppQuery(query): AppQuery<BalanceQuery>,
) -> Result<Json<BalanceView>, ApiError> {
    let balance = accounts::balance(&state, &principal, &code, query.as_of).await?;
    Ok(Json(balance.into()))
}

#[utoipa::path(get, path = "/v1/ledger/accounts/{code}/statement", tag = "ledger", params(StatementQuery), security(("bearer" = [])),
    responses((status = 200, body = StatementView, description = "One page of the statement; with `format=csv` or `Accept: text/csv`, the whole range as CSV, streamed"),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn get_account_statement(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppPath(code): AppPath<String>,
    AppQuery(query): AppQuery<StatementQuery>,
) -> Result<Response, ApiError> {
    let csv = match query.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        None => wants(&headers, "text/csv"),
        Some(_) => return Err(bad_format("json or csv")),
    };
    if csv {
        let (export, body) =
            statements::statement_csv(&state, &principal, &code, (query.from, query.to)).await?;
        return Ok(statement_csv_response(export, body));
    }
    let statement = statements::statement(
        &state,
        &principal,
        &code,
        (query.from, query.to),
        query.limit,
        query.cursor.as_deref(),
    )
    .await?;
    Ok(Json(StatementView::from(statement)).into_response())
}

/// The CSV of a statement with the facts of its export in its headers.
pub fn statement_csv_response(
    export: statements::StatementExport,
    body: impl futures_util::Stream<Item = journal_export::Chunk> + Send + 'static,
) -> Response {
    let currency = export.account.currency;
    let money = |minor| ledger::Money::from_minor(minor, currency).format_amount();
    let stem = format!("statement_{}", export.account.code.replace(':', "-"));
    let mut response = export_response(&export.info, &stem, CSV, Body::from_stream(body));
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-statement-account", export.account.code.clone()),
        ("x-statement-opening-balance", money(export.opening_minor)),
        ("x-statement-closing-balance", money(export.closing_minor)),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

/// The media type of an XLSX workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV: &str = "text/csv; charset=utf-8";

/// An export's body with the facts it was made from: its file name (Content-Disposition) and
/// the `X-Export-*` headers (period, offices, chain head).
pub fn export_response(
    info: &journal_export::ExportInfo,
    stem: &str,
    content_type: &'static str,
    body: Body,
) -> Response {
    let extension = if content_type == XLSX { "xlsx" } else { "csv" };
    let file_name = info.file_name(stem, extension);
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-export-period", info.period()),
        ("x-export-offices", info.offices_label()),
        ("x-export-chain-head-seq", info.head.seq.to_string()),
        ("x-export-chain-head-hash", info.head.hash.clone()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn bad_format(allowed: &str) -> ApiError {
    crate::app::error::AppError::validation("format", format!("format must be {allowed}")).into()
}

/// Whether the Accept header names `media` itself (not a wildcard).
fn wants(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|range| range.split(';').next().unwrap_or("").trim() == media)
        })
}

/// Whether the client takes CSV: no Accept header, or one naming `text/csv`, `text/*` or `*/*`.
fn accepts_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|accept| {
            accept.split(',').any(|range| {
                let media = range.split(';').next().unwrap_or("").trim();
                matches!(media, "text/csv" | "text/*" | "*/*")
            })
        })
}

#[utoipa::path(get, path = "/v1/ledger/entries", tag = "ledger", params(JournalQuery), security(("bearer" = [])),
    responses((status = 200, description = "The journal of (from, to] as CSV (default) or XLSX (`format=xlsx` or that Accept), one posting a line, streamed; `X-Export-*` headers and the file name name its period, offices and chain head",
            content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 406, body = Problem), (status = 422, body = Problem)))]
pub async fn export_entries(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(query): AppQuery<JournalQuery>,
) -> Result<Response, ApiError> {
    let xlsx = match query.format.as_deref() {
        Some("xlsx") => true,
        Some("csv") => false,
        None if wants(&headers, XLSX) => true,
        None if accepts_csv(&headers) => false,
        None => {
            return Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "not_acceptable",
                "Not acceptable",
                "the journal is exported as text/csv or XLSX only",
            ))
        }
        Some(_) => return Err(bad_format("csv or xlsx")),
    };
    let period = (query.from, query.to);
    let office = query.office_code.as_deref();
    Ok(if xlsx {
        let (info, body) = journal::journal_xlsx(&state, &principal, period, office).await?;
        export_response(&info, "journal", XLSX, Body::from_stream(body))
    } else {
        let (info, body) = journal::journal_csv(&state, &principal, period, office).await?;
        export_response(&info, "journal", CSV, Body::from_stream(body))
    })
}

#[utoipa::path(get, path = "/v1/ledger/periods", tag = "ledger", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = Page<ClosedPeriodView>)))]
pub async fn list_periods(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<ClosedPeriodView>>, ApiError> {
    let periods = periods::list_periods(&state, &principal).await?;
    let page = Page::cut(periods, query.limit, query.cursor.as_deref(), |period| {
        format!("{}|{}", period.office_code, format_month(period.month))
    })?;
    Ok(Json(render_page(page)))
}

#[utoipa::path(post, path = "/v1/ledger/periods/close", tag = "ledger", request_body = ClosePeriodRequest, security(("bearer" = [])),
    responses((status = 201, body = ClosedPeriodView, description = "Closed now"), (status = 200, body = ClosedPeriodView, description = "Was closed already"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "`period_checklist_failed`: a drawer of the office opened in or before the month is open, or a reconciliation exception of the month is open; `blocking` lists them"),
        (status = 422, body = Problem)))]
pub async fn close_period(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(request): AppJson<ClosePeriodRequest>,
) -> Result<(StatusCode, Json<ClosedPeriodView>), ApiError> {
    let outcome =
        periods::close_period(&state, &principal, &request.office_code, &request.month).await?;
    Ok(match outcome {
        CloseOutcome::Closed(period) => (StatusCode::CREATED, Json(period.into())),
        CloseOutcome::AlreadyClosed(period) => (StatusCode::OK, Json(period.into())),
    })
}

#[utoipa::path(get, path = "/v1/ledger/verify", tag = "ledger", security(("bearer" = [])), responses((status = 200, body = VerifyView)))]
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<VerifyView>, ApiError> {
    Ok(Json(chain::verify(&state, &principal).await?.into()))
}

#[utoipa::path(get, path = "/v1/ledger/digests", tag = "ledger", params(DigestsQuery), security(("bearer" = [])), responses((status = 200, body = DigestsView)))]
pub async fn list_digests(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<DigestsQuery>,
) -> Result<Json<DigestsView>, ApiError> {
    let digests = digests::digests(&state, &principal, query.limit).await?;
    Ok(Json(digests.into()))
}

#[utoipa::path(get, path = "/v1/reconciliation/exceptions", tag = "reconciliation", params(ExceptionsQuery), security(("bearer" = [])), responses((status = 200, body = Page<ExceptionView>)))]
pub async fn list_exceptions(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ExceptionsQuery>,
) -> Result<Json<Page<ExceptionView>>, ApiError> {
    let page = exceptions::list(&state, &principal, query.into()).await?;
    Ok(Json(render_page(page)))
}
