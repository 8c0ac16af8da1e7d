//! The auditor's reads of the books (trial balance, accounts, balances, statements, the
//! journal export, periods, verification, digests) and the reconciliation exceptions.

pub mod audit;
pub mod period_close;
pub mod proofs;
pub mod queries;
pub mod views;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ledger::store::{format_month, CloseOutcome};

use super::error::{ApiError, Problem};
use super::extract::{AppJson, AppPath, AppQuery};
use crate::app::auth::Principal;
use crate::app::books::{
    accounts, digests, exceptions, journal, periods, statements, trial_balance, verify as chain,
};
use crate::app::pagination::{ListQuery, Page};
use crate::state::AppState;
use queries::{
    AsOfQuery, BalanceQuery, ClosePeriodRequest, DigestsQuery, ExceptionsQuery, RangeQuery,
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
    let trial_balance = trial_balance::trial_balance(&state, &principal, query.as_of).await?;
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

#[utoipa::path(get, path = "/v1/ledger/accounts/{code}/statement", tag = "ledger", params(RangeQuery), security(("bearer" = [])),
    responses((status = 200, body = StatementView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn get_account_statement(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(code): AppPath<String>,
    AppQuery(query): AppQuery<RangeQuery>,
) -> Result<Json<StatementView>, ApiError> {
    let statement = statements::statement(&state, &principal, &code, query.from, query.to).await?;
    Ok(Json(statement.into()))
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
    let body =
        Body::from_stream(journal::journal_csv(&state, &principal, query.from, query.to).await?);
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
