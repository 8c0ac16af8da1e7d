//! The auditor's reads of the books (trial balance, accounts, balances, statements, the
//! journal export, periods, verification, digests) and the reconciliation exceptions.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, Problem};
use super::extract::{AppJson, AppPath, AppQuery};
use crate::app::auth::Principal;
use crate::app::books::{
    self, AccountView, AsOfQuery, ExceptionView, ExceptionsQuery, TrialBalanceView,
};
use crate::app::ledger_audit::{
    self, BalanceQuery, BalanceView, ClosePeriodRequest, ClosedPeriodView, DigestsQuery,
    DigestsView, RangeQuery, StatementView, VerifyView,
};
use crate::app::pagination::{ListQuery, Page};
use crate::state::AppState;

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

#[utoipa::path(get, path = "/v1/ledger/accounts", tag = "ledger", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = Page<AccountView>)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<AccountView>>, ApiError> {
    let accounts = books::accounts(&state, &principal).await?;
    Ok(Json(Page::cut(
        accounts,
        query.limit,
        query.cursor.as_deref(),
        |account| account.code.clone(),
    )?))
}

#[utoipa::path(get, path = "/v1/ledger/accounts/{code}/balance", tag = "ledger", params(BalanceQuery), security(("bearer" = [])),
    responses((status = 200, body = BalanceView), (status = 404, body = Problem)))]
pub async fn get_account_balance(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(code): AppPath<String>,
    AppQuery(query): AppQuery<BalanceQuery>,
) -> Result<Json<BalanceView>, ApiError> {
    Ok(Json(
        ledger_audit::balance(&state, &principal, &code, query.as_of).await?,
    ))
}

#[utoipa::path(get, path = "/v1/ledger/accounts/{code}/statement", tag = "ledger", params(RangeQuery), security(("bearer" = [])),
    responses((status = 200, body = StatementView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn get_account_statement(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(code): AppPath<String>,
    AppQuery(query): AppQuery<RangeQuery>,
) -> Result<Json<StatementView>, ApiError> {
    Ok(Json(
        ledger_audit::statement(&state, &principal, &code, query).await?,
    ))
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

#[utoipa::path(get, path = "/v1/ledger/entries", tag = "ledger", params(RangeQuery), security(("bearer" = [])),
    responses((status = 200, description = "The journal of (from, to] as CSV, one posting a line, streamed", content_type = "text/csv"),
        (status = 406, body = Problem)))]
pub async fn export_entries(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(query): AppQuery<RangeQuery>,
) -> Result<Response, ApiError> {
    if !accepts_csv(&headers) {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "Not acceptable",
            "the journal is exported as text/csv only",
        ));
    }
    let body = Body::from_stream(ledger_audit::journal_csv(&state, &principal, query).await?);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"journal.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/ledger/periods", tag = "ledger", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = Page<ClosedPeriodView>)))]
pub async fn list_periods(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<Page<ClosedPeriodView>>, ApiError> {
    let periods = ledger_audit::list_periods(&state, &principal).await?;
    Ok(Json(Page::cut(
        periods,
        query.limit,
        query.cursor.as_deref(),
        |period| format!("{}|{}", period.office_code, period.month),
    )?))
}

#[utoipa::path(post, path = "/v1/ledger/periods/close", tag = "ledger", request_body = ClosePeriodRequest, security(("bearer" = [])),
    responses((status = 201, body = ClosedPeriodView, description = "Closed now"), (status = 200, body = ClosedPeriodView, description = "Was closed already"),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn close_period(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(request): AppJson<ClosePeriodRequest>,
) -> Result<(StatusCode, Json<ClosedPeriodView>), ApiError> {
    let (closed_now, view) = ledger_audit::close_period(&state, &principal, request).await?;
    let status = if closed_now {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

#[utoipa::path(get, path = "/v1/ledger/verify", tag = "ledger", security(("bearer" = [])), responses((status = 200, body = VerifyView)))]
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<VerifyView>, ApiError> {
    Ok(Json(ledger_audit::verify(&state, &principal).await?))
}

#[utoipa::path(get, path = "/v1/ledger/digests", tag = "ledger", params(DigestsQuery), security(("bearer" = [])), responses((status = 200, body = DigestsView)))]
pub async fn list_digests(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<DigestsQuery>,
) -> Result<Json<DigestsView>, ApiError> {
    Ok(Json(
        ledger_audit::digests(&state, &principal, query.limit).await?,
    ))
}

#[utoipa::path(get, path = "/v1/reconciliation/exceptions", tag = "reconciliation", params(ExceptionsQuery), security(("bearer" = [])), responses((status = 200, body = Page<ExceptionView>)))]
pub async fn list_exceptions(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ExceptionsQuery>,
) -> Result<Json<Page<ExceptionView>>, ApiError> {
    Ok(Json(books::exceptions(&state, &principal, query).await?))
}
