//! The cashier's drawer as JSON (issue 14, API.md "Cashier"): open, take cash, void, close,
//! report (JSON or CSV), deposit, and the counter's intent look-up. The console pages call
//! the same app::cashier functions.

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::body::parse_json;
use super::error::{ApiError, Problem};
use super::extract::{accepts_csv, AppJson, AppPath, AppQuery, IdempotencyKey, JsonBytes};
use crate::app::auth::Principal;
use crate::app::cashier::{
    self, CashReceipt, CloseRequest, CounterIntent, Deposit, DepositRequest, Drawer, DrawerReport,
    ListDrawers, OpenRequest, TakeCashRequest, VoidRequest, VoidedReceipt,
};
use crate::app::idempotency::request_hash;
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/cashier/sessions",
            post(open_cashier_session).get(list_cashier_sessions),
        )
        .route("/v1/cashier/sessions/{id}", get(get_cashier_session))
        .route(
            "/v1/cashier/sessions/{id}/receipts",
            post(create_cash_receipt),
        )
        .route(
            "/v1/cashier/sessions/{id}/close",
            post(close_cashier_session),
        )
        .route(
            "/v1/cashier/sessions/{id}/report",
            get(get_cashier_session_report),
        )
        .route(
            "/v1/cashier/sessions/{id}/deposits",
            post(create_cash_deposit),
        )
        .route("/v1/cashier/lookup", get(lookup_counter_intents))
        .route("/v1/receipts/{receipt_number}/void", post(void_receipt))
}

#[utoipa::path(post, path = "/v1/cashier/sessions", tag = "cashier", request_body(content = OpenRequest, content_type = "application/json"), security(("bearer" = [])),
    responses((status = 201, body = Drawer), (status = 403, body = Problem), (status = 404, body = Problem, description = "No such office (or not the caller's)"),
        (status = 409, body = Problem, description = "`drawer_already_open`: the caller has an open drawer at this office"),
        (status = 422, body = Problem, description = "A bad amount, or `denominations_mismatch`")))]
pub async fn open_cashier_session(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(request): AppJson<OpenRequest>,
) -> Result<Response, ApiError> {
    let drawer = cashier::open(&state, &principal, request).await?;
    Ok((StatusCode::CREATED, Json(drawer)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListSessionsQuery {
    pub office_code: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/cashier/sessions", tag = "cashier", params(ListSessionsQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Drawer>, description = "Newest first, at most 200: a cashier's own drawers, or every drawer of the offices a supervisor, admin or auditor sees")))]
pub async fn list_cashier_sessions(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ListSessionsQuery>,
) -> Result<Json<Vec<Drawer>>, ApiError> {
    let drawers = cashier::list(
        &state,
        &principal,
        ListDrawers {
            office_code: query.office_code,
            status: query.status,
        },
    )
    .await?;
    Ok(Json(drawers))
}

#[utoipa::path(get, path = "/v1/cashier/sessions/{id}", tag = "cashier", security(("bearer" = [])),
    responses((status = 200, body = Drawer, description = "The drawer with its receipts"), (status = 404, body = Problem)))]
pub async fn get_cashier_session(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<Drawer>, ApiError> {
    Ok(Json(cashier::get(&state, &principal, id).await?))
}

#[utoipa::path(post, path = "/v1/cashier/sessions/{id}/receipts", tag = "cashier", request_body(content = TakeCashRequest, content_type = "application/json"), security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 255 characters; one per form")),
    responses((status = 201, body = CashReceipt), (status = 404, body = Problem, description = "No such drawer or intent for this caller (another cashier's or office's drawer included)"),
        (status = 409, body = Problem, description = "`already_paid` (with `receipt_number`), `drawer_closed`, `invalid_state`"),
        (status = 422, body = Problem, description = "`tender_short`, `tender_currency`, `intent_of_another_office`")))]
pub async fn create_cash_receipt(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    IdempotencyKey(key): IdempotencyKey,
    OriginalUri(uri): OriginalUri,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let hash = request_hash("POST", uri.path(), &body);
    let request: TakeCashRequest = parse_json(&body)?;
    let receipt = cashier::take_cash(&state, &principal, id, &key, &hash, request).await?;
    Ok((StatusCode::CREATED, Json(receipt)).into_response())
}

#[utoipa::path(post, path = "/v1/receipts/{receipt_number}/void", tag = "cashier", request_body(content = VoidRequest, content_type = "application/json"), security(("bearer" = [])),
    responses((status = 200, body = VoidedReceipt), (status = 403, body = Problem, description = "`approval_refused`: no approval, a wrong one, or the approver took the payment or asks for the void"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "`already_void`, `not_cash` (an online payment is refunded), `void_not_same_day`, `case_has_open_intent`")))]
pub async fn void_receipt(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(number): AppPath<String>,
    AppJson(request): AppJson<VoidRequest>,
) -> Result<Json<VoidedReceipt>, ApiError> {
    Ok(Json(
        cashier::void_receipt(&state, &principal, &number, request).await?,
    ))
}

#[utoipa::path(post, path = "/v1/cashier/sessions/{id}/close", tag = "cashier", request_body(content = CloseRequest, content_type = "application/json"), security(("bearer" = [])),
    responses((status = 200, body = Drawer, description = "Closed, with expected, counted and variance per currency"), (status = 403, body = Problem, description = "`approval_refused`"), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`variance_needs_approval` (nothing changed), `drawer_closed`"),
        (status = 422, body = Problem, description = "A bad amount or note, `denominations_mismatch`")))]
pub async fn close_cashier_session(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppJson(request): AppJson<CloseRequest>,
) -> Result<Json<Drawer>, ApiError> {
    Ok(Json(cashier::close(&state, &principal, id, request).await?))
}

#[utoipa::path(get, path = "/v1/cashier/sessions/{id}/report", tag = "cashier", security(("bearer" = [])),
    responses((status = 200, body = DrawerReport, description = "JSON; with `Accept: text/csv`, the same report as CSV (section,item,currency,amount,detail)"),
        (status = 404, body = Problem)))]
pub async fn get_cashier_session_report(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, ApiError> {
    let report = cashier::report(&state, &principal, id).await?;
    if accepts_csv(&headers) {
        let disposition = format!("attachment; filename=\"drawer-{id}.csv\"");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            report.to_csv(),
        )
            .into_response());
    }
    Ok(Json(report).into_response())
}

#[utoipa::path(post, path = "/v1/cashier/sessions/{id}/deposits", tag = "cashier", request_body(content = DepositRequest, content_type = "application/json"), security(("bearer" = [])),
    responses((status = 201, body = Deposit), (status = 404, body = Problem), (status = 409, body = Problem, description = "`drawer_open`: close the drawer first"),
        (status = 422, body = Problem, description = "`deposit_exceeds_drawer`, a bad amount, slip or account")))]
pub async fn create_cash_deposit(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppJson(request): AppJson<DepositRequest>,
) -> Result<Response, ApiError> {
    let deposit = cashier::deposit(&state, &principal, id, request).await?;
    Ok((StatusCode::CREATED, Json(deposit)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    pub office_code: Option<String>,
    /// A registration code (case reference), or the pay link / its `pt_` token scanned from
    /// the case slip's QR. Without it: the office's intents awaiting payment created today.
    pub q: Option<String>,
}

#[utoipa::path(get, path = "/v1/cashier/lookup", tag = "cashier", params(LookupQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<CounterIntent>, description = "Newest first, at most 100")))]
pub async fn lookup_counter_intents(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<LookupQuery>,
) -> Result<Json<Vec<CounterIntent>>, ApiError> {
    Ok(Json(
        cashier::lookup(
            &state,
            &principal,
            query.office_code.as_deref(),
            query.q.as_deref(),
        )
        .await?,
    ))
}
