//! Working reconciliation exceptions on the console (issue 15, part 5): the office's open
//! exceptions, oldest first with their age; one exception with what it is about, its history
//! of resolutions and one form per action it allows (allocate, refund, write off, match by
//! hand, reverse). Each handler calls one app function and renders; forms work without script,
//! carry the session's CSRF token and an idempotency key, and a refusal comes back as the page
//! with an error summary naming the field.

use askama::Template;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    csrf_refused, form_csrf_ok, form_idempotency_key, new_idempotency_key, see_other,
    ConsoleSession, Shell,
};
use crate::app::auth::Role;
use crate::app::books::exceptions::{self, Exception, ExceptionFilter};
use crate::app::cashier::Approval;
use crate::app::error::AppError;
use crate::app::money::MoneyView;
use crate::app::reconciliation::resolutions::{
    self, ExceptionDetail, MatchCandidate, Resolution, ResolutionRequest,
};
use crate::app::states::{ExceptionKind, ExceptionStatus};
use crate::http::ledger::views::age;
use crate::http::receipt_pages::query_param;
use crate::http::web::{self, format, Caching, PageRequest};
use crate::state::AppState;

/// The office's exceptions (a NAV item).
pub const EXCEPTIONS_HREF: &str = "/console/exceptions";

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/exceptions", get(get_exceptions))
        .route(
            "/console/exceptions/{id}",
            get(get_exception).post(post_exception),
        )
}

fn money_view(view: &MoneyView) -> String {
    view.parse("amount")
        .map(|amount| format::money(&amount))
        .unwrap_or_else(|_| format!("{} {}", view.amount, view.currency))
}

fn time(at: &chrono::DateTime<chrono::Utc>) -> String {
    format::local_time(*at)
}

/// An exception kind in the page's words.
fn kind_words(kind: ExceptionKind) -> (&'static str, &'static str) {
    match kind {
        ExceptionKind::AmountMismatch => ("ចំនួនទឹកប្រាក់មិនត្រូវ", "Wrong amount"),
        ExceptionKind::CurrencyMismatch => ("រូបិយប័ណ្ណមិនត្រូវ", "Wrong currency"),
        ExceptionKind::AccountMismatch => ("គណនីមិនត្រូវ", "Wrong account"),
        ExceptionKind::AlreadyPaid => ("បានបង់រួចហើយ", "Paid twice"),
        ExceptionKind::AfterCancel => ("បង់ក្រោយពេលលុបចោល", "Paid after cancel"),
        ExceptionKind::AfterExpiry => ("បង់ក្រោយពេលផុតកំណត់", "Paid after expiry"),
        ExceptionKind::UnknownReference => ("លេខយោងមិនស្គាល់", "Unknown reference"),
        ExceptionKind::UnsupportedCurrency => ("រូបិយប័ណ្ណមិនគាំទ្រ", "Unsupported currency"),
        ExceptionKind::ChannelMismatch => ("ឆានែលមិនត្រូវ", "Wrong channel"),
        ExceptionKind::UnmatchedStatementLine => {
            ("បន្ទាត់របាយការណ៍ធនាគារមិនផ្គូផ្គង", "Unmatched statement line")
        }
        ExceptionKind::UnmatchedLedgerItem => ("ធាតុបញ្ជីមិនឃើញនៅធនាគារ", "Ledger item not at the bank"),
    }
}

const KINDS: [ExceptionKind; 11] = [
    ExceptionKind::AmountMismatch,
    ExceptionKind::CurrencyMismatch,
    ExceptionKind::AccountMismatch,
    ExceptionKind::AlreadyPaid,
    ExceptionKind::AfterCancel,
    ExceptionKind::AfterExpiry,
    ExceptionKind::UnknownReference,
    ExceptionKind::UnsupportedCurrency,
    ExceptionKind::ChannelMismatch,
    ExceptionKind::UnmatchedStatementLine,
    ExceptionKind::UnmatchedLedgerItem,
];

// ---------------------------------------------------------------- the list

#[derive(Template)]
#[template(path = "console_exceptions.html")]
struct ListPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    exceptions: Vec<Exception>,
    status: String,
    kind: String,
}

impl ListPage<'_> {
    fn amount(&self, exception: &Exception) -> String {
        money_view(&MoneyView {
            amount: exception.amount.clone(),
            currency: exception.currency.clone(),
        })
    }

    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time(at)
    }

    fn age_days(&self, exception: &Exception) -> i64 {
        age(exception.created_at).0
    }

    fn kind_label(&self, kind: &ExceptionKind) -> &'static str {
        let (km, en) = kind_words(*kind);
        self.page.lang.pick(km, en)
    }

    fn kinds(&self) -> Vec<(&'static str, &'static str)> {
        KINDS
            .iter()
            .map(|kind| (kind.as_str(), self.kind_label(kind)))
            .collect()
    }
}

#[utoipa::path(get, path = "/console/exceptions", tag = "console",
    params(("status" = Option<String>, Query, description = "`open` (default), `resolved` or `all`"),
        ("kind" = Option<String>, Query, description = "An exception kind")),
    responses(
        (status = 200, description = "HTML: the exceptions of the person's offices, oldest first, with kind, amount, age in days and a link to each", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 403, description = "HTML: not a supervisor, auditor or admin", content_type = "text/html")))]
pub async fn get_exceptions(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let status = query_param(uri.query(), "status").unwrap_or_else(|| "open".to_owned());
    let kind = query_param(uri.query(), "kind").unwrap_or_default();
    let filter = ExceptionFilter {
        status: (status != "all" && !status.is_empty()).then(|| status.clone()),
        kind: (!kind.is_empty()).then(|| kind.clone()),
        oldest_first: true,
        limit: Some(500),
        ..ExceptionFilter::default()
    };
    match exceptions::list(&state, &session.principal, filter).await {
        Ok(found) => {
            let view = ListPage {
                page: &page,
                shell: Some(Shell::new(&session, "exceptions")),
                exceptions: found.data,
                status,
                kind,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

// ---------------------------------------------------------------- one exception

/// A refusal on the page: the field it names (an element id), a test code, the words.
struct Problem {
    field: &'static str,
    code: &'static str,
    km: &'static str,
    detail: String,
}

#[derive(Template)]
#[template(path = "console_exception.html")]
struct DetailPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    detail: ExceptionDetail,
    candidates: Vec<MatchCandidate>,
    idempotency_key: String,
    problems: Vec<Problem>,
    /// The form that was posted, to keep what the person typed.
    posted: FormData,
}

impl DetailPage<'_> {
    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time(at)
    }

    fn money(&self, view: &MoneyView) -> String {
        money_view(view)
    }

    fn amount(&self) -> String {
        money_view(&MoneyView {
            amount: self.detail.exception.amount.clone(),
            currency: self.detail.exception.currency.clone(),
        })
    }

    fn kind_label(&self) -> &'static str {
        let (km, en) = kind_words(self.detail.exception.kind);
        self.page.lang.pick(km, en)
    }

    fn age_days(&self) -> i64 {
        age(self.detail.exception.created_at).0
    }

    fn id(&self) -> Uuid {
        self.detail.exception.id
    }

    fn is_open(&self) -> bool {
        self.detail.exception.status == ExceptionStatus::Open
    }

    fn csrf(&self) -> &str {
        self.shell.as_ref().map_or("", |shell| shell.csrf.as_str())
    }

    /// A supervisor or admin approves their own write-off (app::reconciliation::resolutions):
    /// no one else's name and password to ask for.
    fn approves_self(&self) -> bool {
        self.shell
            .as_ref()
            .is_some_and(|shell| matches!(shell.role, Role::Supervisor | Role::Admin))
    }

    fn is_suspense(&self) -> bool {
        !matches!(
            self.detail.exception.kind,
            ExceptionKind::UnmatchedStatementLine | ExceptionKind::UnmatchedLedgerItem
        ) && self.detail.exception.ledger_entry_id.is_some()
    }

    fn money_in_line(&self) -> bool {
        self.detail
            .line
            .as_ref()
            .is_some_and(|line| line.direction == "CRDT")
    }

    fn is_line_or_item(&self) -> bool {
        self.detail.line.is_some() || self.detail.item.is_some()
    }

    /// Whether `action` has a form on this exception.
    fn allows(&self, action: &str) -> bool {
        if !self.is_open() {
            return false;
        }
        match action {
            "allocate" | "refund" => self.is_suspense() || self.money_in_line(),
            "write_off" => self.is_suspense() || self.is_line_or_item(),
            "match" => self.is_line_or_item(),
            _ => false,
        }
    }

    /// Whether resolution `resolution` has a reverse form.
    fn reversible(&self, resolution: &Resolution) -> bool {
        matches!(resolution.action.as_str(), "refund" | "write_off")
            && resolution.reversed_by_resolution_id.is_none()
    }

    fn action_label(&self, action: &str) -> &'static str {
        let lang = self.page.lang;
        match action {
            "allocate" => lang.pick("ដាក់ទៅការបង់ប្រាក់", "Allocated to a payment"),
            "refund" => lang.pick("សងប្រាក់វិញ", "Refunded"),
            "write_off" => lang.pick("លុបចេញពីបញ្ជី", "Written off"),
            "match" => lang.pick("ផ្គូផ្គងដោយដៃ", "Matched by hand"),
            "matched_later" => lang.pick("ផ្គូផ្គងពេលក្រោយ", "Matched later"),
            "reverse" => lang.pick("បញ្ច្រាស", "Reversed"),
            _ => "",
        }
    }

    /// A write-off's target in the page's words.
    fn target_label<'t>(&self, target: &'t str) -> &'t str {
        let lang = self.page.lang;
        match target {
            "suspense" => lang.pick("គណនីរង់ចាំ", "Suspense"),
            "income" => lang.pick("ចំណូលផ្សេងៗ", "Other income"),
            "bank_fees" => lang.pick("កម្រៃធនាគារ", "Bank fees"),
            other => other,
        }
    }

    fn has(&self, field: &str) -> bool {
        self.problems.iter().any(|problem| problem.field == field)
    }

    fn summary(&self) -> Vec<(&'static str, &'static str, String)> {
        self.problems
            .iter()
            .map(|problem| {
                let words = match self.page.lang {
                    web::Lang::Km => format!("{} ({})", problem.km, problem.detail),
                    web::Lang::En => problem.detail.clone(),
                };
                (problem.field, problem.code, words)
            })
            .collect()
    }
}

fn no_exception(page: &PageRequest) -> Response {
    web::not_found(
        page,
        "រកមិនឃើញករណីលើកលែងនេះទេ។",
        "This exception is not here.",
    )
}

async fn detail_page<'a>(
    state: &AppState,
    page: &'a PageRequest,
    session: &crate::app::sessions::Session,
    id: Uuid,
    posted: FormData,
) -> Result<DetailPage<'a>, AppError> {
    let detail = resolutions::detail(state, &session.principal, id).await?;
    let candidates = if detail.exception.status == ExceptionStatus::Open {
        resolutions::match_candidates(state, &detail.exception).await?
    } else {
        Vec::new()
    };
    Ok(DetailPage {
        page,
        shell: Some(Shell::new(session, "exceptions")),
        detail,
        candidates,
        idempotency_key: new_idempotency_key(),
        problems: Vec::new(),
        posted,
    })
}

#[utoipa::path(get, operation_id = "get_exception_page", path = "/console/exceptions/{id}", tag = "console",
    params(("id" = Uuid, Path, description = "The exception")),
    responses(
        (status = 200, description = "HTML: the exception, its line or item, its resolutions and one form per action it allows", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 404, description = "HTML: no such exception at the person's offices", content_type = "text/html")))]
pub async fn get_exception(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return no_exception(&page);
    };
    match detail_page(&state, &page, &session, id, FormData::default()).await {
        Ok(view) => web::render(&page, StatusCode::OK, &view, Caching::Private),
        Err(AppError::NotFound(_)) => no_exception(&page),
        Err(error) => web::error_page(&page, error),
    }
}

/// One posted form: `action` says which; the other fields are those of that action.
#[derive(Debug, Default, Deserialize)]
pub struct FormData {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    intent: String,
    #[serde(default)]
    bank_reference: String,
    #[serde(default)]
    write_off_to: String,
    #[serde(default)]
    approver_username: String,
    #[serde(default)]
    approver_password: String,
    #[serde(default)]
    counterpart: String,
    #[serde(default)]
    resolution_id: String,
}

impl FormData {
    /// The request the form stands for; a field that does not parse names itself.
    fn request(&self, kind: ExceptionKind) -> Result<ResolutionRequest, AppError> {
        let text = |value: &str| {
            let value = value.trim();
            (!value.is_empty()).then(|| value.to_owned())
        };
        let mut request = ResolutionRequest {
            action: self.action.trim().to_owned(),
            reason: text(&self.reason),
            ..ResolutionRequest::default()
        };
        match request.action.as_str() {
            "allocate" => match self.intent.trim().parse::<Uuid>() {
                Ok(id) => request.payment_intent_id = Some(id),
                Err(_) => request.case_reference = text(&self.intent),
            },
            "refund" => request.bank_reference = text(&self.bank_reference),
            "write_off" => {
                request.write_off_to = text(&self.write_off_to);
                let username = self.approver_username.trim();
                if !username.is_empty() || !self.approver_password.is_empty() {
                    request.approval = Some(Approval {
                        username: username.to_owned(),
                        password: self.approver_password.clone(),
                    });
                }
            }
            "match" => {
                let chosen = self.counterpart.trim();
                if kind == ExceptionKind::UnmatchedLedgerItem {
                    request.statement_line_id = Some(chosen.parse().map_err(|_| {
                        AppError::validation("statement_line_id", "choose a statement line")
                    })?);
                } else {
                    request.item_posting_id = Some(chosen.parse().map_err(|_| {
                        AppError::validation("item_posting_id", "choose a ledger item")
                    })?);
                }
            }
            "reverse" => {
                request.resolution_id = Some(self.resolution_id.trim().parse().map_err(|_| {
                    AppError::validation("resolution_id", "choose the resolution to reverse")
                })?);
            }
            _ => {}
        }
        Ok(request)
    }
}

/// The field a refusal names, as an element id of the page, with its Khmer words.
fn problem_of(action: &str, refusal: &crate::app::error::Refusal) -> Problem {
    let parameter = refusal
        .details
        .get("parameter")
        .and_then(|value| value.as_str())
        .unwrap_or("");
    let (field, km) = match (refusal.code, parameter) {
        (_, "reason") => ("reason", "សូមសរសេរមូលហេតុ (១ ដល់ ១០០០ តួអក្សរ)"),
        (_, "bank_reference") => ("bank-reference", "សូមវាយលេខយោងរបស់ធនាគារ"),
        (_, "payment_intent_id" | "case_reference")
        | ("intent_not_payable" | "amount_not_due" | "currency_mismatch", _)
            if action == "allocate" =>
        {
            ("allocate-intent", "ការបង់ប្រាក់នេះមិនអាចទទួលប្រាក់នេះបានទេ")
        }
        (_, "write_off_to") | ("write_off_target", _) => {
            ("write-off-to", "សូមជ្រើសរើសគណនីដែលត្រូវលុបចេញទៅ")
        }
        ("approval_refused", _) => ("approver", "ការអនុម័តមិនត្រូវបានទទួលយកទេ"),
        (_, "item_posting_id" | "statement_line_id")
        | ("flow_mismatch" | "already_matched" | "currency_mismatch", _) => {
            ("counterpart", "ការផ្គូផ្គងនេះមិនត្រូវគ្នាទេ")
        }
        (_, "resolution_id") | ("not_reversible" | "already_reversed", _) => {
            ("history", "ដំណោះស្រាយនេះមិនអាចបញ្ច្រាសបានទេ")
        }
        ("exception_already_resolved", _) => ("history", "ករណីនេះត្រូវបានដោះស្រាយរួចហើយ"),
        _ => ("actions", "សកម្មភាពនេះមិនអាចធ្វើបានទេ"),
    };
    Problem {
        field,
        code: refusal.code,
        km,
        detail: refusal.detail.clone(),
    }
}

#[utoipa::path(post, path = "/console/exceptions/{id}", tag = "console",
    params(("id" = Uuid, Path, description = "The exception")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`, `idempotency_key`, `action` (`allocate`, `refund`, `write_off`, `match`, `reverse`), `reason`, and the action's field: `intent` (an intent id or a registration code), `bank_reference`, `write_off_to` with `approver_username`/`approver_password`, `counterpart` (the chosen line or item), `resolution_id`"),
    responses(
        (status = 303, description = "Done (or a double submit of the same form): back to /console/exceptions/{id}"),
        (status = 400, description = "HTML: the page again with an error summary naming the field", content_type = "text/html"),
        (status = 403, description = "HTML: the approval was refused, or no CSRF token", content_type = "text/html"),
        (status = 409, description = "HTML: resolved already (by someone else), not reversible", content_type = "text/html")))]
pub async fn post_exception(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(id): Path<String>,
    Form(data): Form<FormData>,
) -> Response {
    if !form_csrf_ok(&session, &data.csrf) {
        return csrf_refused(&page);
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return no_exception(&page);
    };
    let kind = match resolutions::detail(&state, &session.principal, id).await {
        Ok(detail) => detail.exception.kind,
        Err(AppError::NotFound(_)) => return no_exception(&page),
        Err(error) => return web::error_page(&page, error),
    };
    let action = data.action.trim().to_owned();
    let key = form_idempotency_key(&data.idempotency_key).map(str::to_owned);
    // The form's key and its own fields (the password left out) say whether it was sent before.
    let hash = crate::app::idempotency::request_hash(
        "POST",
        &format!("/console/exceptions/{id}"),
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            action,
            data.reason,
            data.intent,
            data.bank_reference,
            data.write_off_to,
            data.approver_username,
            data.counterpart,
            data.resolution_id
        )
        .as_bytes(),
    );
    let outcome = match data.request(kind) {
        Ok(request) => {
            let idempotency = key.as_deref().map(|key| (key, hash.as_slice()));
            resolutions::resolve(&state, &session.principal, id, idempotency, request).await
        }
        Err(error) => Err(error),
    };
    let error = match outcome {
        Ok(_) => return see_other(&format!("/console/exceptions/{id}")),
        Err(error) => error,
    };
    let status = match &error {
        AppError::Invalid(_) | AppError::Malformed(_) => StatusCode::BAD_REQUEST,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        _ => return web::error_page(&page, error),
    };
    let Some(refusal) = error.refusal() else {
        return web::error_page(&page, error);
    };
    let problem = problem_of(&action, refusal);
    let mut posted = data;
    posted.approver_password.clear();
    match detail_page(&state, &page, &session, id, posted).await {
        Ok(mut view) => {
            view.problems.push(problem);
            web::render(&page, status, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}
