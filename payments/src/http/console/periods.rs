//! Period close on the console (issue 16): the checklist of a month (drawers closed, reconciliation differences zero or explained, exceptions listed) and the admin's close; closed months are read-only.

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use ledger::store::{format_month, ClosedPeriod};
use serde::Deserialize;

use super::{csrf_refused, form_csrf_ok, see_other, ConsoleSession, Shell};
use crate::app::auth::Role;
use crate::app::books::periods::{self, Checklist};
use crate::app::error::AppError;
use crate::app::sessions::Session;
use crate::http::receipt_pages::query_param;
use crate::http::web::{self, format, Caching, PageRequest};
use crate::state::AppState;

/// The page's NAV href.
pub const PERIODS_HREF: &str = "/console/periods";

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/periods", get(get_periods))
        .route("/console/periods/close", post(post_close))
}

#[derive(Template)]
#[template(path = "console_periods.html")]
struct PeriodsPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    offices: Vec<(String, String, String)>,
    office: String,
    month: String,
    checklist: Option<Checklist>,
    closed: Vec<ClosedPeriod>,
    /// A refusal to show above the checklist: (test code, words).
    problem: Option<(&'static str, String)>,
    /// Set after a close.
    just_closed: bool,
}

impl PeriodsPage<'_> {
    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        format::local_time(*at)
    }

    fn month_label(&self, month: &chrono::NaiveDate) -> String {
        format_month(*month)
    }

    fn csrf(&self) -> &str {
        self.shell.as_ref().map_or("", |shell| shell.csrf.as_str())
    }

    fn is_admin(&self) -> bool {
        self.shell
            .as_ref()
            .is_some_and(|shell| shell.role == Role::Admin)
    }

    fn office_name(&self, code: &str) -> String {
        self.offices
            .iter()
            .find(|(known, _, _)| known == code)
            .map(|(_, km, en)| self.page.lang.pick(km, en).to_owned())
            .unwrap_or_default()
    }
}

async fn page_view<'a>(
    state: &AppState,
    page: &'a PageRequest,
    session: &Session,
    office: String,
    month: String,
) -> Result<PeriodsPage<'a>, AppError> {
    let principal = &session.principal;
    let offices = periods::offices(state, principal).await?;
    let closed = periods::list_periods(state, principal).await?;
    let checklist = if office.is_empty() {
        None
    } else {
        Some(periods::checklist(state, principal, &office, &month).await?)
    };
    Ok(PeriodsPage {
        page,
        shell: Some(Shell::new(session, "periods")),
        offices,
        office,
        month,
        checklist,
        closed,
        problem: None,
        just_closed: false,
    })
}

/// The office and month asked for: the query's, else the person's only office and last month.
fn chosen(session: &Session, office: Option<String>, month: Option<String>) -> (String, String) {
    let office = office
        .filter(|office| !office.is_empty())
        .or_else(|| match session.principal.office_codes.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let month = month
        .filter(|month| !month.is_empty())
        .unwrap_or_else(|| periods::last_month(chrono::Utc::now()));
    (office, month)
}

#[utoipa::path(get, path = "/console/periods", tag = "console",
    params(("office" = Option<String>, Query, description = "Office code (a national person picks one)"),
        ("month" = Option<String>, Query, description = "`YYYY-MM`; default the month that ended last")),
    responses(
        (status = 200, description = "HTML: the month's checklist (open drawers, open and resolved reconciliation exceptions), the close form for an admin when it passes, and the closed months (read-only)", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 403, description = "HTML: not an auditor or admin", content_type = "text/html")))]
pub async fn get_periods(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (office, month) = chosen(
        &session,
        query_param(uri.query(), "office"),
        query_param(uri.query(), "month"),
    );
    let just_closed = query_param(uri.query(), "closed").is_some();
    match page_view(&state, &page, &session, office.clone(), month.clone()).await {
        Ok(mut view) => {
            view.just_closed = just_closed;
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(AppError::Invalid(_)) => {
            // A month typed wrong: the page again, saying so.
            match page_view(&state, &page, &session, String::new(), month).await {
                Ok(mut view) => {
                    view.office = office;
                    view.problem = Some((
                        "month",
                        page.lang
                            .pick("ខែត្រូវតែជា YYYY-MM។", "The month must be YYYY-MM.")
                            .to_owned(),
                    ));
                    web::render(
                        &page,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &view,
                        Caching::Private,
                    )
                }
                Err(error) => web::error_page(&page, error),
            }
        }
        Err(error) => web::error_page(&page, error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    office: String,
    #[serde(default)]
    month: String,
    /// The confirm step: the admin ticks that they checked the list.
    #[serde(default)]
    confirm: String,
}

#[utoipa::path(post, operation_id = "post_console_period_close", path = "/console/periods/close", tag = "console",
    request_body(content = String, description = "Form: csrf, office, month (YYYY-MM), confirm=yes", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Closed: back to the month's page, which shows it closed"),
        (status = 409, description = "HTML: the checklist does not pass; the page lists what blocks", content_type = "text/html"),
        (status = 422, description = "HTML: not confirmed, or the month is not over", content_type = "text/html"),
        (status = 403, description = "HTML: no CSRF token, or not an admin", content_type = "text/html")))]
pub async fn post_close(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Form(form): Form<CloseForm>,
) -> Response {
    if !form_csrf_ok(&session, &form.csrf) {
        return csrf_refused(&page);
    }
    let office = form.office.trim().to_owned();
    let month = form.month.trim().to_owned();
    let refusal = if form.confirm != "yes" {
        Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirm",
            page.lang
                .pick(
                    "សូមគូសបញ្ជាក់ថាអ្នកបានពិនិត្យបញ្ជីត្រួតពិនិត្យ មុននឹងបិទខែ។",
                    "Tick that you checked the list before closing the month.",
                )
                .to_owned(),
        ))
    } else {
        match periods::close_period(&state, &session.principal, &office, &month).await {
            Ok(_) => {
                let target = format!(
                    "{PERIODS_HREF}?office={}&month={}&closed=1",
                    url::form_urlencoded::byte_serialize(office.as_bytes()).collect::<String>(),
                    url::form_urlencoded::byte_serialize(month.as_bytes()).collect::<String>()
                );
                return see_other(&target);
            }
            Err(AppError::Conflict(_)) => Some((
                StatusCode::CONFLICT,
                "checklist",
                page.lang
                    .pick(
                        "មិនអាចបិទខែនេះបានទេ៖ បញ្ជីត្រួតពិនិត្យខាងក្រោមមិនទាន់ឆ្លងកាត់។",
                        "The month cannot be closed: the checklist below does not pass.",
                    )
                    .to_owned(),
            )),
            Err(AppError::Invalid(refusal)) => {
                Some((StatusCode::UNPROCESSABLE_ENTITY, "month", refusal.detail))
            }
            Err(error) => return web::error_page(&page, error),
        }
    };
    let Some((status, code, words)) = refusal else {
        return see_other(PERIODS_HREF);
    };
    match page_view(&state, &page, &session, office, month).await {
        Ok(mut view) => {
            view.problem = Some((code, words));
            web::render(&page, status, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}
