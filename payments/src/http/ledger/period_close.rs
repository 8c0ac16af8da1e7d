//! `GET /v1/ledger/periods/checklist`: what stands between a month of an office and its close
//! (the same checklist `POST /v1/ledger/periods/close` enforces and the periods page shows).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use ledger::store::format_month;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::views::ClosedPeriodView;
use crate::app::auth::Principal;
use crate::app::books::periods::{self, Checklist};
use crate::db::period_close::{MonthException, OpenDrawer};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::AppQuery;
use crate::state::AppState;

/// The routes of this module (merged into the ledger's).
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/ledger/periods/checklist", get(get_checklist))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChecklistQuery {
    pub office_code: String,
    /// `YYYY-MM`.
    #[param(example = "2026-10")]
    pub month: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenDrawerView {
    pub id: Uuid,
    pub cashier_name: String,
    pub opened_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthExceptionView {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub amount: String,
    pub currency: String,
    pub day: NaiveDate,
    /// The latest resolution's action, reason and author, when resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistView {
    pub office_code: String,
    #[schema(example = "2026-10")]
    pub month: String,
    /// The month is over in Cambodia.
    pub over: bool,
    /// True when the month is closed already (`closed` says when and by whom).
    pub is_closed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed: Option<ClosedPeriodView>,
    /// True when an admin may close it now.
    pub passes: bool,
    pub open_drawers: Vec<OpenDrawerView>,
    /// Open reconciliation exceptions of the month: each blocks the close.
    pub open_exceptions: Vec<MonthExceptionView>,
    /// Resolved ones, with what explained them (listed, not blocking).
    pub resolved_exceptions: Vec<MonthExceptionView>,
}

impl From<OpenDrawer> for OpenDrawerView {
    fn from(drawer: OpenDrawer) -> OpenDrawerView {
        OpenDrawerView {
            id: drawer.id,
            cashier_name: drawer.cashier_name,
            opened_at: drawer.opened_at,
        }
    }
}

impl From<MonthException> for MonthExceptionView {
    fn from(exception: MonthException) -> MonthExceptionView {
        MonthExceptionView {
            id: exception.id,
            kind: exception.kind,
            status: exception.status,
            amount: exception.amount,
            currency: exception.currency,
            day: exception.day,
            resolution_action: exception.resolution_action,
            resolution_reason: exception.resolution_reason,
            resolved_by: exception.resolved_by,
        }
    }
}

impl From<Checklist> for ChecklistView {
    fn from(checklist: Checklist) -> ChecklistView {
        let passes = checklist.passes();
        ChecklistView {
            office_code: checklist.office_code,
            month: format_month(checklist.month),
            over: checklist.over,
            is_closed: checklist.closed.is_some(),
            closed: checklist.closed.map(Into::into),
            passes,
            open_drawers: checklist.open_drawers.into_iter().map(Into::into).collect(),
            open_exceptions: checklist
                .open_exceptions
                .into_iter()
                .map(Into::into)
                .collect(),
            resolved_exceptions: checklist
                .resolved_exceptions
                .into_iter()
                .map(Into::into)
                .collect(),
        }
    }
}

#[utoipa::path(get, path = "/v1/ledger/periods/checklist", tag = "ledger", params(ChecklistQuery), security(("bearer" = [])),
    responses((status = 200, body = ChecklistView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn get_checklist(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<ChecklistQuery>,
) -> Result<Json<ChecklistView>, ApiError> {
    let checklist =
        periods::checklist(&state, &principal, &query.office_code, &query.month).await?;
    Ok(Json(checklist.into()))
}
