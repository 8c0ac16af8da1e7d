//! `GET /v1/audit`: the audit trail (catalog changes, staff actions, key and user management,
//! period closes, resolutions, verification runs), newest first, with the console page's
//! filters and a cursor.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::audit::{self, AuditFilter, AuditPage};
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::db::audit::AuditRow;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::AppQuery;
use crate::state::AppState;

/// The routes of this module (merged into the ledger's).
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/audit", get(get_audit))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    /// `catalog`, `staff`, `access` (keys and people), `period_close`, `resolution` or
    /// `verification`.
    pub kind: Option<String>,
    pub office_code: Option<String>,
    /// Part of the actor's name (case-insensitive).
    pub actor: Option<String>,
    /// First day (Cambodian calendar), inclusive.
    pub from: Option<NaiveDate>,
    /// Last day (Cambodian calendar), inclusive.
    pub to: Option<NaiveDate>,
    pub cursor: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
}

impl From<AuditQueryParams> for AuditFilter {
    fn from(query: AuditQueryParams) -> AuditFilter {
        AuditFilter {
            kind: query.kind,
            office_code: query.office_code,
            actor: query.actor,
            from: query.from,
            to: query.to,
            cursor: query.cursor,
            limit: query.limit,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRowView {
    pub at: DateTime<Utc>,
    #[schema(example = "period_close")]
    pub kind: String,
    /// The row's id in its source (unique with `kind`).
    pub id: String,
    /// Absent for national rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_code: Option<String>,
    /// A person's name, `key:NAME`, or `cli`.
    pub actor: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageView {
    pub data: Vec<AuditRowView>,
    pub next_cursor: Option<String>,
}

impl From<AuditRow> for AuditRowView {
    fn from(row: AuditRow) -> AuditRowView {
        AuditRowView {
            at: row.at,
            kind: row.kind,
            id: row.id,
            office_code: row.office_code,
            actor: row.actor,
            action: row.action,
            subject: row.subject,
            detail: row.detail,
        }
    }
}

impl From<AuditPage> for AuditPageView {
    fn from(page: AuditPage) -> AuditPageView {
        AuditPageView {
            data: page.rows.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[utoipa::path(get, path = "/v1/audit", tag = "ledger", params(AuditQueryParams), security(("bearer" = [])),
    responses((status = 200, body = AuditPageView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn get_audit(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<AuditQueryParams>,
) -> Result<Json<AuditPageView>, ApiError> {
    // The trail reads an empty filter as none (the console's form sends empty fields), but an
    // empty cursor is no cursor this API returned, as on every other list.
    if query.cursor.as_deref() == Some("") {
        return Err(AppError::validation("cursor", "cursor is not one this list gave").into());
    }
    Ok(Json(
        audit::trail(&state, &principal, query.into()).await?.into(),
    ))
}
