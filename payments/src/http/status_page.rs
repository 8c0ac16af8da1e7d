//! `/status`: a case's payment status by office and registration code, for a citizen holding
//! the case slip. A GET form, so it works without script and the answer can be bookmarked;
//! the answer carries nothing personal.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::receipt_pages::query_param;
use super::web::{self, format, Caching, PageRequest};
use crate::app::case_status::{self, CaseStatus, Missing, Province, StatusPage, StatusQuery};
use crate::app::error::AppError;
use crate::app::states::IntentStatus;
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new().route("/status", get(get_status_page))
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusForm<'a> {
    page: &'a PageRequest,
    provinces: Vec<Province>,
    missing: Missing,
    /// The office picked, selected again in the list.
    chosen_office: String,
    code: String,
}

#[derive(Template)]
#[template(path = "status_result.html")]
struct StatusResult<'a> {
    page: &'a PageRequest,
    case_reference: String,
    office_name: String,
    /// The state's text (`paid`, ...), for the badge's class and `data-state`.
    state: &'static str,
    state_label: &'static str,
    total: String,
    receipt_number: Option<String>,
}

impl<'a> StatusResult<'a> {
    fn new(page: &'a PageRequest, found: CaseStatus) -> StatusResult<'a> {
        let lang = page.lang;
        let state_label = match found.status {
            IntentStatus::Paid => lang.pick("បានបង់ប្រាក់", "Paid"),
            IntentStatus::AwaitingPayment => lang.pick("រង់ចាំការបង់ប្រាក់", "Awaiting payment"),
            IntentStatus::Cancelled => lang.pick("បានលុបចោល", "Cancelled"),
            IntentStatus::Expired => lang.pick("ផុតកំណត់", "Expired"),
        };
        StatusResult {
            page,
            case_reference: found.case_reference,
            office_name: lang
                .pick(&found.office_name_km, &found.office_name_en)
                .to_owned(),
            state: found.status.as_str(),
            state_label,
            total: format::money(&found.total),
            receipt_number: found.receipt_number,
        }
    }
}

#[utoipa::path(get, path = "/status", tag = "citizens",
    params(
        ("office" = Option<String>, Query, description = "The office code (the form lists the offices by province)"),
        ("code" = Option<String>, Query, description = "The service registration code (case reference) on the case slip"),
        ("lang" = Option<String>, Query, description = "`km` (default) or `en`; remembered for the session"),
    ),
    responses(
        (status = 200, description = "HTML: the form (no query), or the case's state, total and receipt number (nothing personal)", content_type = "text/html"),
        (status = 400, description = "HTML: the form again, naming the empty field", content_type = "text/html"),
        (status = 404, description = "HTML not-found page: no such case at that office", content_type = "text/html"),
        (status = 429, description = "Too many requests from this address"),
    ))]
pub async fn get_status_page(
    State(state): State<AppState>,
    page: PageRequest,
    RawQuery(query): RawQuery,
) -> Response {
    let query = StatusQuery {
        office: query_param(query.as_deref(), "office"),
        code: query_param(query.as_deref(), "code"),
    };
    match case_status::status_page(&state, query).await {
        Ok(StatusPage::Form {
            provinces,
            missing,
            office,
            code,
        }) => {
            let status = if missing.office || missing.code {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            let form = StatusForm {
                page: &page,
                provinces,
                missing,
                chosen_office: office,
                code,
            };
            web::render(&page, status, &form, Caching::Private)
        }
        Ok(StatusPage::Found(found)) => web::render(
            &page,
            StatusCode::OK,
            &StatusResult::new(&page, found),
            Caching::Private,
        ),
        Err(AppError::NotFound(_)) => web::not_found(
            &page,
            "រកមិនឃើញការបង់ប្រាក់សម្រាប់លេខកូដនេះ នៅការិយាល័យនេះទេ។ សូមពិនិត្យលេខកូដចុះបញ្ជីសេវា និងការិយាល័យ លើប័ណ្ណរបស់អ្នក។",
            "No payment was found for this code at this office. Check the service registration code and the office on your case slip.",
        ),
        Err(error) => web::error_page(&page, error),
    }
}
