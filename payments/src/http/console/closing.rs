//! The end of the cashier's day on the console (issue 14, items 4 to 6): void a receipt with a
//! supervisor's approval, close the drawer by counting notes (blind: what the drawer should
//! hold is shown only once the count is in and differs), the drawer's report (printable, and
//! as CSV), the deposit at the bank, and a supervisor's list of the office's drawers. Each
//! handler calls one `app::cashier` function and renders; forms work without script.

use askama::Template;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use ledger::{Currency, Money};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    csrf_refused, form_csrf_ok, form_idempotency_key, new_idempotency_key, see_other,
    ConsoleSession, Shell,
};
use crate::app::cashier::{
    self, Approval, CashReceipt, CloseForm, CloseOutcome, CountedCurrency, Denomination,
    DepositForm, Drawer, DrawerReport, SignOff, VoidForm, VoidRequest,
};
use crate::app::error::AppError;
use crate::app::money::MoneyView;
use crate::http::receipt_pages::query_param;
use crate::http::web::{self, format, Caching, PageRequest};
use crate::state::AppState;

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console/receipts/{number}/void",
            get(get_void).post(post_void),
        )
        .route("/console/receipts/{number}/voided", get(get_voided))
        .route("/console/drawer/close", get(get_my_close))
        .route(
            "/console/drawers/{id}/close",
            get(get_close).post(post_close),
        )
        .route("/console/drawers/{id}/report", get(get_report))
        .route("/console/drawers/{id}/report.csv", get(get_report_csv))
        .route(
            "/console/drawers/{id}/deposit",
            get(get_deposit).post(post_deposit),
        )
        .route("/console/drawers", get(get_drawers))
}

/// Where receipt `number` is voided: the receipts list links here (a "void" link per receipt).
pub fn void_href(number: &str) -> String {
    format!(
        "/console/receipts/{}/void",
        url::form_urlencoded::byte_serialize(number.as_bytes()).collect::<String>()
    )
}

/// The void's result page of receipt `number`.
pub fn voided_href(number: &str) -> String {
    format!("{}ed", void_href(number))
}

/// The report of drawer `id` (the dashboard's "my drawer" may link it).
pub fn report_href(id: Uuid) -> String {
    format!("/console/drawers/{id}/report")
}

/// Where a person closes their own open drawer (a NAV item).
pub const CLOSE_HREF: &str = "/console/drawer/close";
/// The office's drawers, for supervisors (a NAV item).
pub const DRAWERS_HREF: &str = "/console/drawers";

fn money(amount: &Money) -> String {
    format::money(amount)
}

fn money_view(view: &MoneyView) -> String {
    view.parse("amount")
        .map(|amount| format::money(&amount))
        .unwrap_or_else(|_| format!("{} {}", view.amount, view.currency))
}

fn time(at: &chrono::DateTime<chrono::Utc>) -> String {
    format::local_time(*at)
}

/// The drawer page's 404 (no such drawer, or not this person's to reach).
fn no_drawer(page: &PageRequest) -> Response {
    web::not_found(page, "រកមិនឃើញថតប្រាក់នេះទេ។", "This drawer is not here.")
}

// ---------------------------------------------------------------- void

/// What went wrong on the void form, each naming its field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VoidProblem {
    ReasonMissing,
    ReasonTooLong,
    ApprovalMissing,
    ApprovalRefused,
    NotSameDay,
    DrawerClosed,
    CaseHasOpenIntent,
    NotCash,
}

#[derive(Template)]
#[template(path = "console_void.html")]
struct VoidPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    form: VoidForm,
    reason: String,
    then: String,
    approver: String,
    idempotency_key: String,
    problems: Vec<VoidProblem>,
    /// Already void: a plain message, no form.
    already_void: bool,
}

impl VoidPage<'_> {
    fn money(&self, view: &MoneyView) -> String {
        money_view(view)
    }

    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time(at)
    }

    fn number(&self) -> &str {
        self.form.receipt.number.as_deref().unwrap_or("")
    }

    fn has(&self, problem: VoidProblem) -> bool {
        self.problems.contains(&problem)
    }

    fn reason_invalid(&self) -> bool {
        self.has(VoidProblem::ReasonMissing) || self.has(VoidProblem::ReasonTooLong)
    }

    fn approval_invalid(&self) -> bool {
        self.has(VoidProblem::ApprovalMissing) || self.has(VoidProblem::ApprovalRefused)
    }

    /// The field each problem's summary line leads to, and its words.
    fn summary(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        let lang = self.page.lang;
        self.problems
            .iter()
            .map(|problem| match problem {
                VoidProblem::ReasonMissing => ("void-reason", "reason-missing", lang.pick("សូមសរសេរមូលហេតុនៃការទុកជាមោឃៈ", "Enter the reason for the void")),
                VoidProblem::ReasonTooLong => ("void-reason", "reason-long", lang.pick("មូលហេតុត្រូវមានយ៉ាងច្រើន ៥០០ តួអក្សរ", "The reason must be 500 characters or fewer")),
                VoidProblem::ApprovalMissing => ("void-approver", "approval-missing", lang.pick("អ្នកគ្រប់គ្រងត្រូវវាយឈ្មោះអ្នកប្រើ និងពាក្យសម្ងាត់របស់ខ្លួន", "The supervisor must type their username and password")),
                VoidProblem::ApprovalRefused => ("void-approver", "approval-refused", lang.pick("ការអនុម័តមិនត្រូវបានទទួលយកទេ។ អ្នកគ្រប់គ្រងនៃការិយាល័យនេះ ដែលមិនមែនជាអ្នកទទួលប្រាក់នេះ ត្រូវវាយឈ្មោះ និងពាក្យសម្ងាត់ត្រឹមត្រូវ។", "The approval was not accepted. A supervisor of this office, who did not take this payment, must type their right username and password.")),
                VoidProblem::NotSameDay => ("void-reason", "not-same-day", lang.pick("បង្កាន់ដៃទុកជាមោឃៈបានតែនៅថ្ងៃដែលបានចេញប៉ុណ្ណោះ។ ការកែតម្រូវនៅពេលក្រោយគឺការសងប្រាក់វិញ។", "A receipt is voided only on the day it was issued. A later correction is a refund.")),
                VoidProblem::DrawerClosed => ("void-reason", "drawer-closed", lang.pick("ថតប្រាក់នៃបង្កាន់ដៃនេះបានបិទ និងរាប់រួចហើយ។ ការកែតម្រូវឥឡូវនេះគឺការសងប្រាក់វិញ។", "This receipt's drawer is closed and counted. A correction now is a refund.")),
                VoidProblem::CaseHasOpenIntent => ("void-then", "case-open", lang.pick("សំណុំរឿងនេះមានការបង់ប្រាក់មួយទៀតកំពុងរង់ចាំ។ សូមលុបវាជាមុនសិន។", "This case has another payment awaiting payment. Cancel it first.")),
                VoidProblem::NotCash => ("void-reason", "not-cash", lang.pick("មានតែបង្កាន់ដៃសាច់ប្រាក់ទេដែលអាចទុកជាមោឃៈ។ ការបង់តាមអនឡាញត្រូវសងប្រាក់វិញ។", "Only a cash receipt is voided. An online payment is refunded.")),
            })
            .collect()
    }
}

#[utoipa::path(get, path = "/console/receipts/{number}/void", tag = "console",
    params(("number" = String, Path, description = "The receipt number")),
    responses(
        (status = 200, description = "HTML: the receipt and the void form (reason, then reopen or cancel, the supervisor's approval: their username and password, or none when a supervisor of the office voids someone else's payment)", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 404, description = "HTML: no such cash receipt at the person's offices", content_type = "text/html")))]
pub async fn get_void(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(number): Path<String>,
) -> Response {
    match cashier::void_form(&state, &session.principal, &number).await {
        Ok(form) => {
            let already_void = form.receipt.status == "void";
            let view = VoidPage {
                page: &page,
                shell: Some(Shell::new(&session, "receipts")),
                form,
                reason: String::new(),
                then: "reopen".to_owned(),
                approver: String::new(),
                idempotency_key: new_idempotency_key(),
                problems: Vec::new(),
                already_void,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

#[derive(Deserialize)]
pub struct VoidFormData {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    then: String,
    #[serde(default)]
    approver_username: String,
    #[serde(default)]
    approver_password: String,
}

#[utoipa::path(post, path = "/console/receipts/{number}/void", tag = "console",
    params(("number" = String, Path, description = "The receipt number")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`, `idempotency_key`, `reason` (required), `then` (`reopen` or `cancel`), `approver_username` and `approver_password` (a supervisor's; not sent when the person is a supervisor approving from their own session)"),
    responses(
        (status = 303, description = "Voided (or a double submit of the same form): to /console/receipts/{number}/voided"),
        (status = 400, description = "HTML: the form again, naming the field (reason missing, approval missing)", content_type = "text/html"),
        (status = 403, description = "HTML: the approval was refused (one message, never which part), or no CSRF token", content_type = "text/html"),
        (status = 409, description = "HTML: already void (a plain message), not the same day, the drawer closed, not a cash receipt", content_type = "text/html")))]
pub async fn post_void(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(number): Path<String>,
    Form(data): Form<VoidFormData>,
) -> Response {
    if !form_csrf_ok(&session, &data.csrf) {
        return csrf_refused(&page);
    }
    let form = match cashier::void_form(&state, &session.principal, &number).await {
        Ok(form) => form,
        Err(error) => return web::error_page(&page, error),
    };
    let then = if data.then == "cancel" {
        "cancel"
    } else {
        "reopen"
    };
    let mut view = VoidPage {
        page: &page,
        shell: Some(Shell::new(&session, "receipts")),
        reason: data.reason.trim().to_owned(),
        then: then.to_owned(),
        approver: data.approver_username.trim().to_owned(),
        idempotency_key: data.idempotency_key.clone(),
        problems: Vec::new(),
        already_void: false,
        form,
    };
    if view.reason.is_empty() {
        view.problems.push(VoidProblem::ReasonMissing);
    }
    let approval = if view.form.self_approves {
        None
    } else if view.approver.is_empty() || data.approver_password.is_empty() {
        view.problems.push(VoidProblem::ApprovalMissing);
        None
    } else {
        Some(Approval {
            username: view.approver.clone(),
            password: data.approver_password.clone(),
        })
    };
    if !view.problems.is_empty() {
        return web::render(&page, StatusCode::BAD_REQUEST, &view, Caching::Private);
    }
    let request = VoidRequest {
        reason: view.reason.clone(),
        then: Some(then.to_owned()),
        approval,
    };
    let key = form_idempotency_key(&data.idempotency_key);
    match cashier::void_from_form(&state, &session.principal, &number, key, request).await {
        Ok(()) => see_other(&voided_href(&number)),
        Err(error) => {
            let (status, problem) = match error.refusal().map(|refusal| refusal.code) {
                Some("already_void") => {
                    view.already_void = true;
                    (StatusCode::CONFLICT, None)
                }
                Some("approval_refused") => {
                    (StatusCode::FORBIDDEN, Some(VoidProblem::ApprovalRefused))
                }
                Some("void_not_same_day") => (StatusCode::CONFLICT, Some(VoidProblem::NotSameDay)),
                Some("drawer_closed") => (StatusCode::CONFLICT, Some(VoidProblem::DrawerClosed)),
                Some("not_cash") => (StatusCode::CONFLICT, Some(VoidProblem::NotCash)),
                Some("case_has_open_intent") => {
                    (StatusCode::CONFLICT, Some(VoidProblem::CaseHasOpenIntent))
                }
                Some("validation_failed") => {
                    (StatusCode::BAD_REQUEST, Some(VoidProblem::ReasonTooLong))
                }
                _ => return web::error_page(&page, error),
            };
            view.problems.extend(problem);
            // A fresh key: the refused post recorded nothing, the next one is a new request.
            view.idempotency_key = new_idempotency_key();
            web::render(&page, status, &view, Caching::Private)
        }
    }
}

#[derive(Template)]
#[template(path = "console_void_done.html")]
struct VoidedPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    form: VoidForm,
}

impl VoidedPage<'_> {
    fn money(&self, view: &MoneyView) -> String {
        money_view(view)
    }

    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time(at)
    }

    fn receipt(&self) -> &CashReceipt {
        &self.form.receipt
    }
}

#[utoipa::path(get, path = "/console/receipts/{number}/voided", tag = "console",
    params(("number" = String, Path, description = "The receipt number")),
    responses(
        (status = 200, description = "HTML: the void's result: the receipt void, its reason, approver, the reversing entry and the verification link (which says void)", content_type = "text/html"),
        (status = 404, description = "HTML: no such cash receipt at the person's offices", content_type = "text/html")))]
pub async fn get_voided(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(number): Path<String>,
) -> Response {
    match cashier::void_form(&state, &session.principal, &number).await {
        Ok(form) if form.receipt.status != "void" => see_other(&void_href(&number)),
        Ok(form) => {
            let view = VoidedPage {
                page: &page,
                shell: Some(Shell::new(&session, "receipts")),
                form,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

// ---------------------------------------------------------------- close

/// One note row of the count form.
pub struct NoteRow {
    /// The form field: `khr_500`, `usd_20`.
    field: String,
    label: String,
    /// As typed (kept on a re-render).
    count: String,
    invalid: bool,
}

/// One currency's table of notes.
pub struct NoteTable {
    currency: &'static str,
    rows: Vec<NoteRow>,
}

fn note_tables(counts: &std::collections::HashMap<String, String>) -> Vec<NoteTable> {
    [Currency::Khr, Currency::Usd]
        .into_iter()
        .map(|currency| NoteTable {
            currency: currency.code(),
            rows: cashier::note_values(currency)
                .iter()
                .map(|value| {
                    let field = format!("{}_{value}", currency.code().to_lowercase());
                    let minor = match currency {
                        Currency::Khr => *value,
                        Currency::Usd => value.saturating_mul(100),
                    };
                    let count = counts.get(&field).cloned().unwrap_or_default();
                    let invalid = parse_count(&count).is_none();
                    NoteRow {
                        label: format::money(&Money::from_minor(minor, currency)),
                        field,
                        count,
                        invalid,
                    }
                })
                .collect(),
        })
        .collect()
}

/// A count as typed: empty is none counted; otherwise 0 to 1,000,000 notes.
fn parse_count(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Some(0);
    }
    raw.parse::<i64>()
        .ok()
        .filter(|count| (0..=1_000_000).contains(count))
}

#[derive(Template)]
#[template(path = "console_close.html")]
struct ClosePage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    form: CloseForm,
    tables: Vec<NoteTable>,
    /// Revealed after a count that differs.
    counted: Option<Vec<CountedCurrency>>,
    approver: String,
    approval_missing: bool,
    approval_refused: bool,
}

impl ClosePage<'_> {
    fn money(&self, amount: &Money) -> String {
        money(amount)
    }

    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time(at)
    }

    fn bad_counts(&self) -> Vec<&NoteRow> {
        self.tables
            .iter()
            .flat_map(|table| table.rows.iter())
            .filter(|row| row.invalid)
            .collect()
    }

    fn has_errors(&self) -> bool {
        !self.bad_counts().is_empty() || self.approval_missing || self.approval_refused
    }

    fn short(&self, amount: &Money) -> bool {
        amount.is_negative()
    }

    fn currency_name(&self, currency: &str) -> &'static str {
        match currency {
            "KHR" => self.page.lang.pick("ប្រាក់រៀល (KHR)", "Riel (KHR)"),
            _ => self.page.lang.pick("ប្រាក់ដុល្លារ (USD)", "Dollars (USD)"),
        }
    }

    fn close_action(&self) -> String {
        format!("/console/drawers/{}/close", self.form.drawer.id)
    }
}

fn close_page<'a>(
    page: &'a PageRequest,
    session: &crate::app::sessions::Session,
    form: CloseForm,
) -> ClosePage<'a> {
    ClosePage {
        page,
        shell: Some(Shell::new(session, "close")),
        form,
        tables: note_tables(&Default::default()),
        counted: None,
        approver: String::new(),
        approval_missing: false,
        approval_refused: false,
    }
}

#[derive(Template)]
#[template(path = "console_close_none.html")]
struct NoDrawerPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
}

#[utoipa::path(get, path = "/console/drawer/close", tag = "console",
    params(("office" = Option<String>, Query, description = "The office (default: the person's first)")),
    responses(
        (status = 200, description = "HTML: the count form of the person's open drawer at the office (blind: what it should hold is not shown), or a page saying they have none open", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login")))]
pub async fn get_my_close(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let office = query_param(uri.query(), "office");
    match cashier::close_form(&state, &session.principal, None, office.as_deref()).await {
        Ok(Some(form)) => web::render(
            &page,
            StatusCode::OK,
            &close_page(&page, &session, form),
            Caching::Private,
        ),
        Ok(None) => web::render(
            &page,
            StatusCode::OK,
            &NoDrawerPage {
                page: &page,
                shell: Some(Shell::new(&session, "close")),
            },
            Caching::Private,
        ),
        Err(error) => web::error_page(&page, error),
    }
}

#[utoipa::path(get, path = "/console/drawers/{id}/close", tag = "console",
    params(("id" = Uuid, Path, description = "The drawer")),
    responses(
        (status = 200, description = "HTML: the drawer's count form (its cashier's, or a supervisor's of the office); a closed drawer goes to its report", content_type = "text/html"),
        (status = 303, description = "Closed already: to its report"),
        (status = 404, description = "HTML: not a drawer this person may close", content_type = "text/html")))]
pub async fn get_close(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return no_drawer(&page);
    };
    match cashier::close_form(&state, &session.principal, Some(id), None).await {
        Ok(Some(form)) if form.drawer.status != "open" => see_other(&report_href(id)),
        Ok(Some(form)) => web::render(
            &page,
            StatusCode::OK,
            &close_page(&page, &session, form),
            Caching::Private,
        ),
        Ok(None) => no_drawer(&page),
        Err(error) => web::error_page(&page, error),
    }
}

#[utoipa::path(post, path = "/console/drawers/{id}/close", tag = "console",
    params(("id" = Uuid, Path, description = "The drawer")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`; the count of each note: `khr_100` … `khr_200000`, `usd_1` … `usd_100` (empty is 0); after a variance, `approver_username` and `approver_password` (a supervisor's; none when a supervisor closes someone else's drawer)"),
    responses(
        (status = 303, description = "Closed (no variance, or signed off; or closed already): to the drawer's report"),
        (status = 400, description = "HTML: a count that is not a whole number of notes, or an empty sign-off, named", content_type = "text/html"),
        (status = 403, description = "HTML: the sign-off was refused (one message), or no CSRF token", content_type = "text/html"),
        (status = 409, description = "HTML: the count differs: expected, counted and variance per currency shown now, the counts kept, and the supervisor's sign-off asked", content_type = "text/html")))]
pub async fn post_close(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(id): Path<String>,
    Form(data): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        data.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    };
    if !form_csrf_ok(&session, field("csrf")) {
        return csrf_refused(&page);
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return no_drawer(&page);
    };
    let form = match cashier::close_form(&state, &session.principal, Some(id), None).await {
        Ok(Some(form)) => form,
        Ok(None) => return no_drawer(&page),
        Err(error) => return web::error_page(&page, error),
    };
    let counts: std::collections::HashMap<String, String> = data
        .iter()
        .filter(|(key, _)| key.starts_with("khr_") || key.starts_with("usd_"))
        .map(|(key, value)| (key.clone(), value.trim().to_owned()))
        .collect();
    let mut view = close_page(&page, &session, form);
    view.tables = note_tables(&counts);
    view.approver = field("approver_username").trim().to_owned();
    let password = field("approver_password");
    let signing = field("signing") == "1";
    if !view.bad_counts().is_empty() {
        return web::render(&page, StatusCode::BAD_REQUEST, &view, Caching::Private);
    }
    let mut notes = Vec::new();
    for table in &view.tables {
        for row in &table.rows {
            let count = parse_count(&row.count).unwrap_or(0);
            let value = row
                .field
                .split_once('_')
                .and_then(|(_, value)| value.parse::<i64>().ok())
                .unwrap_or(0);
            if count > 0 {
                notes.push(Denomination {
                    currency: table.currency.to_owned(),
                    value,
                    count,
                });
            }
        }
    }
    let sign_off = if !signing {
        SignOff::NotYet
    } else if view.form.self_approves {
        SignOff::Session
    } else if view.approver.is_empty() || password.is_empty() {
        view.approval_missing = true;
        SignOff::NotYet
    } else {
        SignOff::Password(Approval {
            username: view.approver.clone(),
            password: password.to_owned(),
        })
    };
    let outcome = cashier::close_counted(&state, &session.principal, id, notes, sign_off).await;
    match outcome {
        Ok(CloseOutcome::Closed(_)) | Ok(CloseOutcome::AlreadyClosed) => {
            see_other(&report_href(id))
        }
        Ok(CloseOutcome::NeedsSignOff { amounts, refused }) => {
            view.counted = Some(amounts);
            view.approval_refused = refused;
            let status = if view.approval_refused {
                StatusCode::FORBIDDEN
            } else if view.approval_missing {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::CONFLICT
            };
            web::render(&page, status, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

// ---------------------------------------------------------------- report

#[derive(Template)]
#[template(path = "console_report.html")]
struct ReportPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    report: DrawerReport,
}

impl ReportPage<'_> {
    fn money(&self, view: &MoneyView) -> String {
        money_view(view)
    }

    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time(at)
    }

    fn drawer(&self) -> &Drawer {
        &self.report.drawer
    }

    fn is_short(&self, view: &MoneyView) -> bool {
        view.amount.starts_with('-')
    }

    fn csv_href(&self) -> String {
        format!("/console/drawers/{}/report.csv", self.report.drawer.id)
    }

    fn deposit_href(&self) -> String {
        format!("/console/drawers/{}/deposit", self.report.drawer.id)
    }

    fn close_href(&self) -> String {
        format!("/console/drawers/{}/close", self.report.drawer.id)
    }

    fn service_name<'s>(&self, km: &'s str, en: &'s str) -> &'s str {
        self.page.lang.pick(km, en)
    }
}

#[utoipa::path(get, path = "/console/drawers/{id}/report", tag = "console",
    params(("id" = Uuid, Path, description = "The drawer")),
    responses(
        (status = 200, description = "HTML, printable on A4/A5: opening float, receipts by service, voids, expected, counted, variance (and who signed it off), deposits, cashier and times; an open drawer past midnight (Cambodia) is marked overdue", content_type = "text/html"),
        (status = 404, description = "HTML: not a drawer this person may read (another cashier's or office's)", content_type = "text/html")))]
pub async fn get_report(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return no_drawer(&page);
    };
    match cashier::report(&state, &session.principal, id).await {
        Ok(report) => {
            let view = ReportPage {
                page: &page,
                shell: Some(Shell::new(&session, "drawers")),
                report,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

#[utoipa::path(get, path = "/console/drawers/{id}/report.csv", tag = "console",
    params(("id" = Uuid, Path, description = "The drawer")),
    responses(
        (status = 200, description = "The drawer's report as CSV (section,item,currency,amount,detail; text cells neutralised against formulas), as an attachment", content_type = "text/csv"),
        (status = 404, description = "HTML: not a drawer this person may read", content_type = "text/html")))]
pub async fn get_report_csv(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return no_drawer(&page);
    };
    match cashier::report(&state, &session.principal, id).await {
        Ok(report) => {
            let mut response = report.to_csv().into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(value) =
                HeaderValue::from_str(&format!("attachment; filename=\"drawer-{id}.csv\""))
            {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        Err(error) => web::error_page(&page, error),
    }
}

// ---------------------------------------------------------------- deposit

#[derive(Template)]
#[template(path = "console_deposit.html")]
struct DepositPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    form: DepositForm,
    /// As typed, per currency (KHR, USD).
    amounts: Vec<(String, String)>,
    slip: String,
    bank_account: String,
    idempotency_key: String,
    /// (field id, words).
    problems: Vec<(&'static str, String)>,
}

impl DepositPage<'_> {
    fn money(&self, amount: &Money) -> String {
        money(amount)
    }

    fn money_view(&self, view: &MoneyView) -> String {
        money_view(view)
    }

    fn action(&self) -> String {
        format!("/console/drawers/{}/deposit", self.form.report.drawer.id)
    }

    fn report_href(&self) -> String {
        report_href(self.form.report.drawer.id)
    }

    fn invalid(&self, field: &str) -> bool {
        self.problems.iter().any(|(id, _)| *id == field)
    }

    fn drawer_open(&self) -> bool {
        self.form.report.drawer.status == "open"
    }
}

fn deposit_page<'a>(
    page: &'a PageRequest,
    session: &crate::app::sessions::Session,
    form: DepositForm,
) -> DepositPage<'a> {
    let amounts = form
        .holds
        .iter()
        .map(|held| (held.currency().code().to_owned(), held.format_amount()))
        .collect();
    DepositPage {
        page,
        shell: Some(Shell::new(session, "drawers")),
        form,
        amounts,
        slip: String::new(),
        bank_account: String::new(),
        idempotency_key: new_idempotency_key(),
        problems: Vec::new(),
    }
}

#[utoipa::path(get, path = "/console/drawers/{id}/deposit", tag = "console",
    params(("id" = Uuid, Path, description = "The drawer")),
    responses(
        (status = 200, description = "HTML: the deposit form of a closed drawer, each currency prefilled with what the drawer holds to deposit (counted less the float and earlier deposits)", content_type = "text/html"),
        (status = 404, description = "HTML: not a drawer this person may work", content_type = "text/html")))]
pub async fn get_deposit(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return no_drawer(&page);
    };
    match cashier::deposit_form(&state, &session.principal, id).await {
        Ok(form) => web::render(
            &page,
            StatusCode::OK,
            &deposit_page(&page, &session, form),
            Caching::Private,
        ),
        Err(error) => web::error_page(&page, error),
    }
}

#[derive(Deserialize)]
pub struct DepositFormData {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    amount_khr: String,
    #[serde(default)]
    amount_usd: String,
    #[serde(default)]
    slip_reference: String,
    #[serde(default)]
    bank_account: String,
}

#[utoipa::path(post, path = "/console/drawers/{id}/deposit", tag = "console",
    params(("id" = Uuid, Path, description = "The drawer")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`, `idempotency_key`, `amount_khr` and `amount_usd` (empty or 0: none), `slip_reference` (required), `bank_account` (optional)"),
    responses(
        (status = 303, description = "Recorded (cash in drawer → cash in transit; a double submit is one deposit): to the drawer's report"),
        (status = 403, description = "HTML: no CSRF token", content_type = "text/html"),
        (status = 409, description = "HTML: the drawer is still open", content_type = "text/html"),
        (status = 422, description = "HTML: the form again, naming the field: more than the drawer holds, a bad amount, a missing slip reference, a bad account", content_type = "text/html")))]
pub async fn post_deposit(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(id): Path<String>,
    Form(data): Form<DepositFormData>,
) -> Response {
    if !form_csrf_ok(&session, &data.csrf) {
        return csrf_refused(&page);
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return no_drawer(&page);
    };
    let form = match cashier::deposit_form(&state, &session.principal, id).await {
        Ok(form) => form,
        Err(error) => return web::error_page(&page, error),
    };
    let mut view = deposit_page(&page, &session, form);
    view.amounts = vec![
        ("KHR".to_owned(), data.amount_khr.trim().to_owned()),
        ("USD".to_owned(), data.amount_usd.trim().to_owned()),
    ];
    view.slip = data.slip_reference.trim().to_owned();
    view.bank_account = data.bank_account.trim().to_owned();
    view.idempotency_key = data.idempotency_key.clone();
    let lang = page.lang;
    if view.slip.is_empty() {
        view.problems.push((
            "deposit-slip",
            lang.pick(
                "សូមបញ្ចូលលេខប័ណ្ណដាក់ប្រាក់របស់ធនាគារ",
                "Enter the bank's deposit slip reference",
            )
            .to_owned(),
        ));
    }
    let amounts: Vec<MoneyView> = view
        .amounts
        .iter()
        .filter(|(_, amount)| !amount.is_empty())
        .map(|(currency, amount)| MoneyView {
            amount: amount.replace(',', ""),
            currency: currency.clone(),
        })
        .collect();
    if !view.problems.is_empty() {
        return web::render(
            &page,
            StatusCode::UNPROCESSABLE_ENTITY,
            &view,
            Caching::Private,
        );
    }
    let bank = (!view.bank_account.is_empty()).then(|| view.bank_account.clone());
    let key = form_idempotency_key(&data.idempotency_key);
    match cashier::deposit_from_form(
        &state,
        &session.principal,
        id,
        key,
        amounts,
        view.slip.clone(),
        bank,
    )
    .await
    {
        Ok(()) => see_other(&report_href(id)),
        Err(AppError::Invalid(refusal)) => {
            let field = refusal
                .details
                .get("parameter")
                .and_then(|value| value.as_str())
                .unwrap_or("amount");
            let currency = refusal
                .details
                .get("currency")
                .and_then(|value| value.as_str())
                .unwrap_or("KHR");
            let problem = match (refusal.code, field) {
                ("deposit_exceeds_drawer", _) => (
                    if currency == "USD" {
                        "deposit-usd"
                    } else {
                        "deposit-khr"
                    },
                    format!(
                        "{} ({})",
                        lang.pick(
                            "ចំនួននេះលើសពីប្រាក់ដែលថតប្រាក់មានសម្រាប់ដាក់",
                            "This is more than the drawer holds to deposit",
                        ),
                        refusal.detail
                    ),
                ),
                (_, "slip_reference") => (
                    "deposit-slip",
                    lang.pick(
                        "លេខប័ណ្ណដាក់ប្រាក់ត្រូវមាន ១ ដល់ ៦៤ តួអក្សរ",
                        "The slip reference must be 1 to 64 characters",
                    )
                    .to_owned(),
                ),
                (_, "bank_account") => (
                    "deposit-account",
                    lang.pick(
                        "គណនីធនាគារ៖ អក្សរតូច a-z លេខ 0-9 '_' ឬ '-' (១ ដល់ ៤០)",
                        "Bank account: a-z, 0-9, '_' or '-' (1 to 40)",
                    )
                    .to_owned(),
                ),
                (_, field) => (
                    if field.contains('1') {
                        "deposit-usd"
                    } else {
                        "deposit-khr"
                    },
                    lang.pick(
                        "សូមបញ្ចូលចំនួនទឹកប្រាក់ដែលត្រឹមត្រូវ (ធំជាង 0)",
                        "Enter a valid amount (more than 0)",
                    )
                    .to_owned(),
                ),
            };
            view.problems.push(problem);
            view.idempotency_key = new_idempotency_key();
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

// ---------------------------------------------------------------- the office's drawers

#[derive(Template)]
#[template(path = "console_report_list.html")]
struct DrawersPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    drawers: Vec<Drawer>,
}

impl DrawersPage<'_> {
    fn money(&self, view: &MoneyView) -> String {
        money_view(view)
    }

    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time(at)
    }

    fn report_href(&self, id: &Uuid) -> String {
        report_href(*id)
    }
}

#[utoipa::path(get, path = "/console/drawers", tag = "console",
    params(("office" = Option<String>, Query, description = "One office of the person's (default: all of theirs)")),
    responses(
        (status = 200, description = "HTML: today's drawers (Cambodia) and every drawer still open (overdue when opened on an earlier day) of the person's offices, with status and links to each report", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login")))]
pub async fn get_drawers(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let office = query_param(uri.query(), "office");
    match cashier::office_drawers(&state, &session.principal, office.as_deref()).await {
        Ok(drawers) => {
            let view = DrawersPage {
                page: &page,
                shell: Some(Shell::new(&session, "drawers")),
                drawers,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}
