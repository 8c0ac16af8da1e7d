//! Reconciliation on the console (issue 15): which days of the office's accounts are
//! reconciled, loading a statement file (a multipart form), a statement's lines, and the
//! daily report (printable, and as CSV). Each handler calls one `app::reconciliation`
//! function and renders; forms work without script.

use askama::Template;
use axum::extract::{DefaultBodyLimit, Multipart, OriginalUri, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bank_adapters::statement::MAX_STATEMENT_BYTES;
use chrono::{Days, NaiveDate, Utc};
use uuid::Uuid;

use super::{csrf_refused, form_csrf_ok, see_other, ConsoleSession, Shell};
use crate::app::error::AppError;
use crate::app::money::MoneyView;
use crate::app::reconciliation::report::{self, DailyReport, DayStatus};
use crate::app::reconciliation::statements::{self, StatementDetail, Upload};
use crate::db::reconciliation::AccountRow;
use crate::http::receipt_pages::query_param;
use crate::http::web::{self, format, Caching, PageRequest};
use crate::state::AppState;

/// The overview (a NAV item).
pub const RECONCILIATION_HREF: &str = "/console/reconciliation";

/// How many days the overview shows.
const OVERVIEW_DAYS: u64 = 14;

/// The upload form's body limit: the file plus the form's few fields.
pub const UPLOAD_FORM_BYTES: usize = MAX_STATEMENT_BYTES + 64 * 1024;

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/reconciliation", get(get_reconciliation))
        .route(
            "/console/reconciliation/statements/new",
            get(get_new_statement)
                .post(post_new_statement)
                .layer(DefaultBodyLimit::max(UPLOAD_FORM_BYTES)),
        )
        .route(
            "/console/reconciliation/statements/{id}",
            get(get_statement_page),
        )
        .route("/console/reconciliation/report", get(get_report_page))
        .route("/console/reconciliation/report.csv", get(get_report_csv))
}

fn money_view(view: &MoneyView) -> String {
    view.parse("amount")
        .map(|amount| format::money(&amount))
        .unwrap_or_else(|_| format!("{} {}", view.amount, view.currency))
}

/// A channel as a person names it.
fn channel_words(lang: web::Lang, channel: &str) -> String {
    match channel {
        "khqr" => "KHQR".to_owned(),
        "sandbox" => lang.pick("ធនាគារសាកល្បង", "sandbox bank").to_owned(),
        "cash" => lang.pick("សាច់ប្រាក់", "cash").to_owned(),
        "aba_payway" => "ABA PayWay".to_owned(),
        "acleda_xpay" => "ACLEDA XPAY".to_owned(),
        "wing" => "Wing".to_owned(),
        other => other.to_owned(),
    }
}

/// An account's kind as a person names it.
fn kind_words(lang: web::Lang, kind: &str) -> String {
    match kind {
        "bakong" => "Bakong".to_owned(),
        "bank" => lang.pick("ធនាគារ", "bank").to_owned(),
        other => other.to_owned(),
    }
}

fn today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(7)).date_naive()
}

fn report_href(account_id: &str, date: NaiveDate) -> String {
    format!(
        "/console/reconciliation/report?account_id={}&date={date}",
        url::form_urlencoded::byte_serialize(account_id.as_bytes()).collect::<String>()
    )
}

// ---------------------------------------------------------------- overview

#[derive(Template)]
#[template(path = "console_reconciliation.html")]
struct OverviewPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    office: String,
    accounts: Vec<AccountRow>,
    days: Vec<DayStatus>,
}

impl OverviewPage<'_> {
    fn report_href(&self, account_id: &str, date: &NaiveDate) -> String {
        report_href(account_id, *date)
    }

    fn kind_label(&self, kind: &str) -> String {
        kind_words(self.page.lang, kind)
    }

    fn channels_label(&self, channels: &[String]) -> String {
        channels
            .iter()
            .map(|channel| channel_words(self.page.lang, channel))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn account_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .accounts
            .iter()
            .map(|row| row.account_id.clone())
            .collect();
        ids.dedup();
        ids
    }

    fn dates(&self) -> Vec<NaiveDate> {
        let mut dates: Vec<NaiveDate> = self.days.iter().map(|day| day.date).collect();
        dates.dedup();
        dates
    }

    fn day(&self, date: &NaiveDate, account_id: &str) -> Option<&DayStatus> {
        self.days
            .iter()
            .find(|day| day.date == *date && day.account_id == account_id)
    }
}

#[utoipa::path(get, path = "/console/reconciliation", tag = "console",
    params(("office" = Option<String>, Query, description = "The office to show, for a person with several (default: their first)")),
    responses(
        (status = 200, description = "HTML: the office's accounts and the last 14 days of each: reconciled, open exceptions, or no statement", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 404, description = "HTML: an office the person does not work at", content_type = "text/html")))]
pub async fn get_reconciliation(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let principal = &session.principal;
    // A person of every office (an admin, a national auditor) sees the office they ask for,
    // else the first office that has accounts.
    let all = match statements::accounts(&state, principal, None).await {
        Ok(accounts) => accounts,
        Err(error) => return web::error_page(&page, error),
    };
    let office = query_param(uri.query(), "office")
        .or_else(|| principal.office_codes.first().cloned())
        .or_else(|| all.first().map(|row| row.office_code.clone()))
        .unwrap_or_default();
    let accounts: Vec<AccountRow> = all
        .into_iter()
        .filter(|row| row.office_code == office)
        .collect();
    let to = today();
    let from = to
        .checked_sub_days(Days::new(OVERVIEW_DAYS - 1))
        .unwrap_or(to);
    let days = match report::days(&state, principal, &office, from, to).await {
        Ok(days) => days,
        Err(error) => return web::error_page(&page, error),
    };
    let view = OverviewPage {
        page: &page,
        shell: Some(Shell::new(&session, "reconciliation")),
        office,
        accounts,
        days,
    };
    web::render(&page, StatusCode::OK, &view, Caching::Private)
}

// ---------------------------------------------------------------- load a statement

#[derive(Template)]
#[template(path = "console_statement_new.html")]
struct NewStatementPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    accounts: Vec<AccountRow>,
    chosen: String,
    /// (location, message) of each problem.
    problems: Vec<(String, String)>,
}

impl NewStatementPage<'_> {
    /// A problem's place in the page's words: the parser says `line 4` or a camt path.
    fn location_label(&self, location: &str) -> String {
        match location.strip_prefix("line ") {
            Some(number) => format!("{} {number}", self.page.lang.pick("បន្ទាត់", "line")),
            None if location == "file" => self.page.lang.pick("ឯកសារ", "file").to_owned(),
            None => location.to_owned(),
        }
    }

    /// One option per account id (an account of two currencies is one file's account).
    fn options(&self) -> Vec<(String, String)> {
        let mut options: Vec<(String, String)> = Vec::new();
        for row in &self.accounts {
            match options.iter_mut().find(|(id, _)| *id == row.account_id) {
                Some((_, label)) => {
                    label.push_str(", ");
                    label.push_str(row.currency.trim());
                }
                None => options.push((
                    row.account_id.clone(),
                    format!(
                        "{} · {} · {} {}",
                        row.account_id,
                        row.office_code,
                        kind_words(self.page.lang, &row.kind),
                        row.currency.trim()
                    ),
                )),
            }
        }
        options
    }
}

async fn render_new(
    state: &AppState,
    page: &PageRequest,
    session: &crate::app::sessions::Session,
    chosen: String,
    problems: Vec<(String, String)>,
    status: StatusCode,
) -> Response {
    let accounts = match statements::accounts(state, &session.principal, None).await {
        Ok(accounts) => accounts,
        Err(error) => return web::error_page(page, error),
    };
    let view = NewStatementPage {
        page,
        shell: Some(Shell::new(session, "reconciliation")),
        accounts,
        chosen,
        problems,
    };
    web::render(page, status, &view, Caching::Private)
}

#[utoipa::path(get, path = "/console/reconciliation/statements/new", tag = "console",
    responses(
        (status = 200, description = "HTML: the form to load a statement file (account, file)", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login")))]
pub async fn get_new_statement(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let chosen = query_param(uri.query(), "account_id").unwrap_or_default();
    render_new(&state, &page, &session, chosen, Vec::new(), StatusCode::OK).await
}

/// The posted form: its CSRF token, account and file.
#[derive(Default)]
struct StatementForm {
    csrf: String,
    account_id: String,
    file_name: String,
    file_type: String,
    file: Vec<u8>,
}

async fn read_form(mut multipart: Multipart) -> Result<StatementForm, String> {
    let mut form = StatementForm::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|error| error.body_text())?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                form.file_name = field.file_name().unwrap_or_default().to_owned();
                form.file_type = field.content_type().unwrap_or_default().to_owned();
                form.file = field
                    .bytes()
                    .await
                    .map_err(|error| error.body_text())?
                    .to_vec();
            }
            "csrf" => form.csrf = field.text().await.map_err(|error| error.body_text())?,
            "account_id" => {
                form.account_id = field.text().await.map_err(|error| error.body_text())?;
            }
            _ => {}
        }
    }
    Ok(form)
}

/// camt.053 when the file says it is XML (its name or type), CSV otherwise.
fn upload_of(form: &StatementForm) -> Upload {
    let name = form.file_name.to_ascii_lowercase();
    let xml = name.ends_with(".xml")
        || form.file_type.contains("xml")
        || form.file.trim_ascii_start().starts_with(b"<");
    if xml {
        Upload::Camt053
    } else {
        Upload::Csv
    }
}

/// Each problem of a refusal, as (location, message): the statement's own list when it has
/// one, else the refusal's detail.
fn problems_of(error: &AppError) -> Vec<(String, String)> {
    let Some(refusal) = error.refusal() else {
        return vec![(
            "file".to_owned(),
            "the statement could not be loaded; try again".to_owned(),
        )];
    };
    let listed: Vec<(String, String)> = refusal
        .details
        .get("problems")
        .and_then(|value| value.as_array())
        .map(|problems| {
            problems
                .iter()
                .map(|problem| {
                    (
                        problem["location"].as_str().unwrap_or("file").to_owned(),
                        problem["message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        vec![("file".to_owned(), refusal.detail.clone())]
    } else {
        listed
    }
}

#[utoipa::path(post, path = "/console/reconciliation/statements/new", tag = "console",
    request_body(content = String, content_type = "multipart/form-data", description = "`csrf`, `account_id`, `file` (camt.053 XML or CSV)"),
    responses(
        (status = 303, description = "Loaded (or loaded before): to the statement's page"),
        (status = 403, description = "HTML: no valid CSRF token", content_type = "text/html"),
        (status = 422, description = "HTML: the form again with an error summary listing every problem (location and message); nothing stored", content_type = "text/html")))]
pub async fn post_new_statement(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let form = match multipart {
        Ok(multipart) => read_form(multipart).await,
        Err(rejection) => Err(rejection.body_text()),
    };
    let form = match form {
        Ok(form) => form,
        Err(message) => {
            let problems = vec![("file".to_owned(), message)];
            return render_new(
                &state,
                &page,
                &session,
                String::new(),
                problems,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if !form_csrf_ok(&session, &form.csrf) {
        return csrf_refused(&page);
    }
    let upload = upload_of(&form);
    let account = Some(form.account_id.as_str()).filter(|id| !id.is_empty());
    match statements::load(&state, &session.principal, upload, account, &form.file).await {
        Ok(loaded) => see_other(&format!("/console/reconciliation/statements/{}", loaded.id)),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict(_) | AppError::NotFound(_))) => {
            let status = match &error {
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let problems = problems_of(&error);
            render_new(&state, &page, &session, form.account_id, problems, status).await
        }
        Err(error) => web::error_page(&page, error),
    }
}

// ---------------------------------------------------------------- a statement

#[derive(Template)]
#[template(path = "console_statement.html")]
struct StatementPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    detail: StatementDetail,
}

impl StatementPage<'_> {
    fn money(&self, view: &MoneyView) -> String {
        money_view(view)
    }

    fn report_href(&self, date: &NaiveDate) -> String {
        report_href(&self.detail.statement.account_id, *date)
    }

    /// The file's format as a person names it.
    fn format_label(&self) -> &'static str {
        match self.detail.statement.format.as_str() {
            "camt053" => "camt.053",
            _ => "CSV",
        }
    }

    /// `CRDT` / `DBIT` in the page's words.
    fn direction_label(&self, direction: &str) -> &'static str {
        if direction == "DBIT" {
            self.page.lang.pick("ប្រាក់ចេញ", "Money out")
        } else {
            self.page.lang.pick("ប្រាក់ចូល", "Money in")
        }
    }

    /// How a line was matched, in the page's words (the stored method otherwise).
    fn method_label<'m>(&self, method: &'m str) -> &'m str {
        let lang = self.page.lang;
        match method {
            "exact" => lang.pick("ត្រូវគ្នាទាំងស្រុង", "exact"),
            "fee_deducted" => lang.pick("ដកកម្រៃ", "less a fee"),
            "batch" => lang.pick("ជាបាច់", "a batch"),
            "batch_by_sum" => lang.pick("ជាបាច់តាមផលបូក", "a batch, by its sum"),
            "manual" => lang.pick("ដោយដៃ", "by hand"),
            other => other,
        }
    }
}

#[utoipa::path(get, path = "/console/reconciliation/statements/{id}", tag = "console",
    params(("id" = Uuid, Path, description = "The statement")),
    responses(
        (status = 200, description = "HTML: the statement's lines, each matched (method, fee) or its exception", content_type = "text/html"),
        (status = 404, description = "HTML: no such statement of the person's offices", content_type = "text/html")))]
pub async fn get_statement_page(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return web::not_found(
            &page,
            "រកមិនឃើញរបាយការណ៍ធនាគារនេះទេ។",
            "This statement is not here.",
        );
    };
    match statements::get(&state, &session.principal, id).await {
        Ok(detail) => {
            let view = StatementPage {
                page: &page,
                shell: Some(Shell::new(&session, "reconciliation")),
                detail,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

// ---------------------------------------------------------------- the daily report

#[derive(Template)]
#[template(path = "console_reconciliation_report.html")]
struct ReportPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    report: DailyReport,
}

impl ReportPage<'_> {
    fn money(&self, view: &MoneyView) -> String {
        money_view(view)
    }

    fn channel_label(&self, channel: &str) -> String {
        channel_words(self.page.lang, channel)
    }

    fn csv_href(&self) -> String {
        report_href(&self.report.account_id, self.report.date).replacen(
            "/report?",
            "/report.csv?",
            1,
        )
    }
}

/// The report's account and day from the query (today by default).
fn report_query(query: Option<&str>) -> Result<(String, NaiveDate), AppError> {
    let account = query_param(query, "account_id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| AppError::validation("account_id", "choose an account"))?;
    let date = match query_param(query, "date").filter(|date| !date.is_empty()) {
        Some(raw) => NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
            .map_err(|_| AppError::validation("date", "date must be YYYY-MM-DD"))?,
        None => today(),
    };
    Ok((account, date))
}

#[utoipa::path(get, path = "/console/reconciliation/report", tag = "console",
    params(("account_id" = String, Query, description = "The account"), ("date" = Option<String>, Query, description = "YYYY-MM-DD (default: today, Cambodia)")),
    responses(
        (status = 200, description = "HTML: the day's reconciliation report of the account, printable", content_type = "text/html"),
        (status = 404, description = "HTML: an account of an office the person does not see", content_type = "text/html")))]
pub async fn get_report_page(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (account, date) = match report_query(uri.query()) {
        Ok(query) => query,
        Err(error) => return web::error_page(&page, error),
    };
    match report::daily(&state, &session.principal, None, &account, date).await {
        Ok(report) => {
            let view = ReportPage {
                page: &page,
                shell: Some(Shell::new(&session, "reconciliation")),
                report,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

#[utoipa::path(get, operation_id = "get_reconciliation_report_csv_page", path = "/console/reconciliation/report.csv", tag = "console",
    params(("account_id" = String, Query, description = "The account"), ("date" = Option<String>, Query, description = "YYYY-MM-DD (default: today, Cambodia)")),
    responses(
        (status = 200, description = "The day's report as CSV (office_code,account_id,date,currency,section,item,count,amount), as an attachment", content_type = "text/csv"),
        (status = 404, description = "HTML: an account of an office the person does not see", content_type = "text/html")))]
pub async fn get_report_csv(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (account, date) = match report_query(uri.query()) {
        Ok(query) => query,
        Err(error) => return web::error_page(&page, error),
    };
    match report::daily(&state, &session.principal, None, &account, date).await {
        Ok(report) => {
            let mut response = crate::http::reconciliation::report_csv(&report);
            let headers = response.headers_mut();
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response.into_response()
        }
        Err(error) => web::error_page(&page, error),
    }
}
