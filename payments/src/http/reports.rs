//! The dashboard's figures as JSON and CSV (API.md "Reports", docs/API.md "Reports"): each
//! route answers `Accept: text/csv` (or `format=csv`, so a plain link from the console works)
//! with the same rows.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{accepts_csv, AppQuery};
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::app::reports::{
    self, AgeReport, GroupBy, IntentReport, LatencyReport, PeriodQuery, RevenueReport, ShareReport,
};
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/reports/intents", get(get_intents_report))
        .route("/v1/reports/revenue", get(get_revenue_report))
        .route("/v1/reports/online-share", get(get_online_share_report))
        .route("/v1/reports/time-to-pay", get(get_time_to_pay_report))
        .route("/v1/reports/exceptions", get(get_exceptions_report))
}

/// The query of every report route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// First Cambodian day (inclusive), `YYYY-MM-DD`; default (also when empty, as a form
    /// sends it): 29 days before `to`.
    #[param(pattern = "^([0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?$")]
    pub from: Option<String>,
    /// Last Cambodian day (inclusive); default (also when empty): today in Cambodia. At most
    /// 732 days in all.
    #[param(pattern = "^([0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?$")]
    pub to: Option<String>,
    /// One office of the caller's; another (or an unknown one) is 404.
    pub office_code: Option<String>,
    /// Revenue only: `office` (default), `sector`, `channel`, `day`; extensions
    /// `channel_group` (khqr, cash, bank, other), `week`, `month`.
    #[param(pattern = "^(office|sector|channel|day|channel_group|week|month)$")]
    pub group_by: Option<String>,
    /// Online share only: `day` (default), `week` or `month`.
    #[param(pattern = "^(day|week|month)$")]
    pub interval: Option<String>,
    /// Extension: `csv` answers CSV whatever the Accept header says (a link in a page).
    #[param(pattern = "^(csv|json)$")]
    pub format: Option<String>,
}

impl ReportQuery {
    fn period(&self) -> PeriodQuery {
        PeriodQuery {
            from: self.from.clone(),
            to: self.to.clone(),
            office_code: self.office_code.clone(),
        }
    }

    /// The query's answer format, grouping and interval, checked before any route runs: the
    /// routes share one query, so a `group_by`, `interval` or `format` the document says is
    /// invalid is refused on each of them, not ignored by those that do not use it.
    fn shape(&self, headers: &HeaderMap) -> Result<Shape, ApiError> {
        let group_by = GroupBy::parse(self.group_by.as_deref())?;
        let interval = GroupBy::parse_interval(self.interval.as_deref())?;
        let csv = match self.format.as_deref() {
            Some("csv") => true,
            Some("json") => false,
            Some(_) => {
                return Err(ApiError::from(
                    AppError::bad_request("format must be csv or json").with("parameter", "format"),
                ))
            }
            None => accepts_csv(headers),
        };
        Ok(Shape {
            csv,
            group_by,
            interval,
        })
    }
}

/// What a report route reads from its query besides the period ([`ReportQuery::shape`]).
struct Shape {
    /// Answer CSV (`format=csv`, or `Accept: text/csv` without `format`).
    csv: bool,
    /// The revenue's grouping (`office` when not given).
    group_by: GroupBy,
    /// The online share's interval (`day` when not given).
    interval: GroupBy,
}

/// The report as JSON, or as the CSV `to_csv` makes of it (a `name.csv` attachment) when the
/// client asked for CSV: the tail of every report route.
fn json_or_csv<T: serde::Serialize>(
    csv_wanted: bool,
    name: &str,
    report: &T,
    to_csv: fn(&T) -> String,
) -> Response {
    if csv_wanted {
        csv(name, to_csv(report))
    } else {
        Json(report).into_response()
    }
}

fn csv(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(get, path = "/v1/reports/intents", tag = "reports", params(ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, body = IntentReport, description = "Intents created in the period per status; with `Accept: text/csv` (or `format=csv`) CSV `status,count`"),
        (status = 400, description = "A bad date, from after to, or more than 732 days"),
        (status = 404, description = "office_code is not one of the caller's offices")))]
pub async fn get_intents_report(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(query): AppQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let shape = query.shape(&headers)?;
    let report = reports::intents(&state, &principal, &query.period()).await?;
    Ok(json_or_csv(
        shape.csv,
        "intents",
        &report,
        reports::intents_csv,
    ))
}

#[utoipa::path(get, path = "/v1/reports/revenue", tag = "reports", params(ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, body = RevenueReport, description = "Revenue from the ledger by key and currency; with `Accept: text/csv` (or `format=csv`) CSV `key,name_km,name_en,province,count,amount,currency`"),
        (status = 400, description = "A bad date or group_by"),
        (status = 404, description = "office_code is not one of the caller's offices")))]
pub async fn get_revenue_report(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(query): AppQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let shape = query.shape(&headers)?;
    let report = reports::revenue(&state, &principal, &query.period(), shape.group_by).await?;
    Ok(json_or_csv(
        shape.csv,
        "revenue",
        &report,
        reports::revenue_csv,
    ))
}

#[utoipa::path(get, path = "/v1/reports/online-share", tag = "reports", params(ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, body = ShareReport, description = "Extension: payments per day, week or month, cash and online (every other channel); CSV `key,payments,cash,online,online_per_mille`"),
        (status = 400, description = "A bad date or interval"),
        (status = 404, description = "office_code is not one of the caller's offices")))]
pub async fn get_online_share_report(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(query): AppQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let shape = query.shape(&headers)?;
    let report = reports::online_share(&state, &principal, &query.period(), shape.interval).await?;
    Ok(json_or_csv(
        shape.csv,
        "online-share",
        &report,
        reports::share_csv,
    ))
}

#[utoipa::path(get, path = "/v1/reports/time-to-pay", tag = "reports", params(ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, body = LatencyReport, description = "Extension: seconds from intent to paid of the intents paid in the period, as a histogram with its median bucket; CSV `from_seconds,width_seconds,count`"),
        (status = 400, description = "A bad date"),
        (status = 404, description = "office_code is not one of the caller's offices")))]
pub async fn get_time_to_pay_report(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(query): AppQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let shape = query.shape(&headers)?;
    let report = reports::time_to_pay(&state, &principal, &query.period()).await?;
    Ok(json_or_csv(
        shape.csv,
        "time-to-pay",
        &report,
        reports::latency_csv,
    ))
}

#[utoipa::path(get, path = "/v1/reports/exceptions", tag = "reports", params(ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, body = AgeReport, description = "Extension: open reconciliation exceptions now by age (0-1d, 1-7d, 7-30d, 30d+); the dates are checked but do not filter; CSV `age,count`"),
        (status = 404, description = "office_code is not one of the caller's offices")))]
pub async fn get_exceptions_report(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(query): AppQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let shape = query.shape(&headers)?;
    let report: AgeReport = reports::exceptions_by_age(&state, &principal, &query.period()).await?;
    Ok(json_or_csv(
        shape.csv,
        "exceptions-by-age",
        &report,
        reports::ages_csv,
    ))
}
