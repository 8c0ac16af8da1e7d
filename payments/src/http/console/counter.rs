//! The counter's console pages (issue 14): my drawer (open it by counting the float), take
//! payment (find the case, take the cash), the receipt printed from the console (original,
//! then copies), and today's receipts. Each handler calls one `app::cashier::counter`
//! function and renders; every page works without script and with the keyboard alone.

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use ledger::{Currency, Money};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    csrf_refused, form_csrf_ok, form_idempotency_key, new_idempotency_key, see_other,
    ConsoleSession, Shell,
};
use crate::app::cashier::counter::{
    self, CounterCase, CounterReceipt, DrawerPage, FloatCount, MyReceipts, TakeForm, TakeOutcome,
    TakeProblem, TakeSearch,
};
use crate::app::cashier::CashReceipt;
use crate::app::error::AppError;
use crate::http::receipt_pages::{query_param, CounterView, ReceiptPage};
use crate::http::web::{self, format, Caching, Lang, PageRequest};
use crate::state::AppState;

/// The routes of this module (merged into the console's router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/drawer", get(get_drawer).post(post_drawer))
        .route("/console/take", get(get_take))
        .route(
            "/console/take/{intent_id}",
            get(get_take_intent).post(post_take_intent),
        )
        .route("/console/receipts", get(get_receipts))
        .route(
            "/console/receipts/{receipt_number}",
            get(get_console_receipt),
        )
}

/// The void page of a receipt (the closing pages own it).
fn void_href(number: &str) -> Option<String> {
    Some(super::closing::void_href(number))
}

/// `?office=` kept on the counter's own links, for a person who works at several offices.
fn office_query(uri: &axum::http::Uri) -> Option<String> {
    query_param(uri.query(), "office")
}

fn money(amount: &Money) -> String {
    format::money(amount)
}

fn currency_word(lang: Lang, currency: Currency) -> &'static str {
    match currency {
        Currency::Khr => lang.pick("រៀល", "riel"),
        Currency::Usd => lang.pick("ដុល្លារអាមេរិក", "US dollars"),
    }
}

// ---------------------------------------------------------------------------------------
// My drawer

#[derive(Template)]
#[template(path = "console_drawer.html")]
struct DrawerView<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    drawer: counter::MyDrawer,
}

impl DrawerView<'_> {
    fn money(&self, amount: &Money) -> String {
        money(amount)
    }

    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        format::local_time(*at)
    }

    fn note(&self, currency: &str, value: &i64) -> String {
        match currency {
            "USD" => money(&Money::from_minor(value * 100, Currency::Usd)),
            _ => money(&Money::from_minor(*value, Currency::Khr)),
        }
    }
}

#[derive(Template)]
#[template(path = "console_drawer_open.html")]
struct DrawerOpenView<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    office_code: String,
    action: String,
    count: FloatCount,
    /// Totals shown back (after "Check totals").
    reviewed: bool,
    /// A refusal of the open that the form cannot name a field for.
    refusal: Option<String>,
}

impl DrawerOpenView<'_> {
    fn money(&self, amount: &Money) -> String {
        money(amount)
    }

    fn note(&self, row: &counter::CountRow) -> String {
        match row.currency {
            Currency::Usd => money(&Money::from_minor(row.value * 100, Currency::Usd)),
            Currency::Khr => money(&Money::from_minor(row.value, Currency::Khr)),
        }
    }

    fn rows_of(&self, code: &str) -> Vec<&counter::CountRow> {
        self.count
            .rows
            .iter()
            .filter(|row| row.currency.code() == code)
            .collect()
    }

    fn has_errors(&self) -> bool {
        self.count.has_problems() || self.refusal.is_some()
    }

    fn is_khr(&self, code: &str) -> bool {
        code == "KHR"
    }
}

fn drawer_action(office: Option<&str>) -> String {
    match office {
        Some(office) => format!(
            "/console/drawer?office={}",
            url::form_urlencoded::byte_serialize(office.as_bytes()).collect::<String>()
        ),
        None => "/console/drawer".to_owned(),
    }
}

#[utoipa::path(get, path = "/console/drawer", tag = "console",
    params(("office" = Option<String>, Query, description = "The office (default: the person's first)")),
    responses(
        (status = 200, description = "HTML: my open drawer at the office (opened at, float, receipts, expected cash per currency, overdue past midnight), or the form to open one by counting the float by denomination", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 403, description = "HTML: a role that works no drawer (auditor)", content_type = "text/html"),
        (status = 404, description = "HTML: an office the person does not work at", content_type = "text/html")))]
pub async fn get_drawer(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let office = office_query(&uri);
    match counter::drawer_page(&state, &session.principal, office.as_deref()).await {
        Ok(DrawerPage {
            drawer: Some(drawer),
            ..
        }) => {
            let view = DrawerView {
                page: &page,
                shell: Some(Shell::new(&session, "drawer")),
                drawer,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Ok(DrawerPage {
            office_code,
            drawer: None,
        }) => {
            let view = DrawerOpenView {
                page: &page,
                shell: Some(Shell::new(&session, "drawer")),
                office_code,
                action: drawer_action(office.as_deref()),
                count: FloatCount::empty(),
                reviewed: false,
                refusal: None,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

#[utoipa::path(post, path = "/console/drawer", tag = "console",
    params(("office" = Option<String>, Query, description = "The office (default: the person's first)")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`; `khr_{note}` (100 … 200000) and `usd_{note}` (1 … 100): how many notes of each (blank: 0); `action`: `review` shows the totals the server added up, `open` opens the drawer with them"),
    responses(
        (status = 200, description = "HTML: the form with the totals per currency (action `review`)", content_type = "text/html"),
        (status = 303, description = "Opened (or already open): to /console/drawer"),
        (status = 400, description = "HTML: the form again, naming each count that is not a whole number", content_type = "text/html"),
        (status = 403, description = "HTML: no CSRF token", content_type = "text/html")))]
pub async fn post_drawer(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    };
    if !form_csrf_ok(&session, field("csrf")) {
        return csrf_refused(&page);
    }
    let office = office_query(&uri);
    let count = FloatCount::read(&fields);
    let mut view = DrawerOpenView {
        page: &page,
        shell: Some(Shell::new(&session, "drawer")),
        office_code: office.clone().unwrap_or_default(),
        action: drawer_action(office.as_deref()),
        reviewed: !count.has_problems(),
        count,
        refusal: None,
    };
    if view.count.has_problems() {
        return web::render(&page, StatusCode::BAD_REQUEST, &view, Caching::Private);
    }
    if field("action") != "open" {
        return web::render(&page, StatusCode::OK, &view, Caching::Private);
    }
    match counter::open_counted(&state, &session.principal, office.as_deref(), &view.count).await {
        Ok(_) => see_other(&view.action),
        Err(error) => match error.refusal().map(|refusal| refusal.code) {
            // Two clicks on "Open": the first opened it.
            Some("drawer_already_open") => see_other(&view.action),
            Some("validation_failed" | "denominations_mismatch") => {
                view.refusal = Some(error.to_string());
                web::render(&page, StatusCode::BAD_REQUEST, &view, Caching::Private)
            }
            _ => web::error_page(&page, error),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Take payment: find the case

#[derive(Template)]
#[template(path = "console_take.html")]
struct TakeView<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    search: TakeSearch,
}

impl TakeView<'_> {
    fn money(&self, amount: &Money) -> String {
        money(amount)
    }

    fn services(&self, case: &CounterCase) -> String {
        let lang = self.page.lang;
        case.services
            .iter()
            .map(|(km, en)| lang.pick(km, en))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn status_label(&self, case: &CounterCase) -> &'static str {
        status_label(self.page.lang, case)
    }

    fn q(&self) -> &str {
        self.search.q.as_deref().unwrap_or_default()
    }
}

fn status_label(lang: Lang, case: &CounterCase) -> &'static str {
    use crate::app::states::IntentStatus;
    match case.status {
        IntentStatus::AwaitingPayment => lang.pick("រង់ចាំការបង់ប្រាក់", "Awaiting payment"),
        IntentStatus::Paid => lang.pick("បានបង់", "Paid"),
        IntentStatus::Cancelled => lang.pick("បានលុបចោល", "Cancelled"),
        IntentStatus::Expired => lang.pick("ផុតកំណត់", "Expired"),
    }
}

#[utoipa::path(get, path = "/console/take", tag = "console",
    params(
        ("q" = Option<String>, Query, description = "A registration code (case reference), or the pay link scanned from the case slip's QR (`https://…/pay/{token}`) or its token"),
        ("office" = Option<String>, Query, description = "The office (default: the person's first)")),
    responses(
        (status = 200, description = "HTML: the search field, what it found (case, services, amount, a Take payment link), and today's open intents of the office", content_type = "text/html"),
        (status = 303, description = "The search found exactly one case awaiting payment: to /console/take/{intent_id}; no session: to /console/login"),
        (status = 403, description = "HTML: a role that works no drawer", content_type = "text/html"),
        (status = 404, description = "HTML: an office the person does not work at", content_type = "text/html")))]
pub async fn get_take(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let office = office_query(&uri);
    let q = query_param(uri.query(), "q");
    match counter::take_search(&state, &session.principal, office.as_deref(), q.as_deref()).await {
        Ok(search) => {
            // A scanner types the slip's link and Enter: one case to pay goes straight to it.
            if let [only] = search.found.as_slice() {
                if only.status == crate::app::states::IntentStatus::AwaitingPayment {
                    return see_other(&format!("/console/take/{}", only.id));
                }
            }
            let view = TakeView {
                page: &page,
                shell: Some(Shell::new(&session, "take")),
                search,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

// ---------------------------------------------------------------------------------------
// Take payment: the cash

#[derive(Template)]
#[template(path = "console_take_intent.html")]
struct TakeIntentView<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    form: TakeForm,
    tendered: String,
    /// The original goes to A5 rather than the counter's 80 mm roll.
    a5: bool,
    idempotency_key: String,
    problem: Option<TakeProblem>,
}

impl TakeIntentView<'_> {
    fn money(&self, amount: &Money) -> String {
        money(amount)
    }

    fn is_paid(&self) -> bool {
        self.form.case.status == crate::app::states::IntentStatus::Paid
    }

    fn is_open(&self) -> bool {
        self.form.case.status == crate::app::states::IntentStatus::AwaitingPayment
    }

    fn status_label(&self) -> &'static str {
        status_label(self.page.lang, &self.form.case)
    }

    fn services(&self) -> Vec<(String, String)> {
        let lang = self.page.lang;
        self.form
            .case
            .services
            .iter()
            .zip(&self.form.case.amounts)
            .map(|((km, en), amount)| (lang.pick(km, en).to_owned(), money(amount)))
            .collect()
    }

    fn tendered_label(&self) -> String {
        let lang = self.page.lang;
        let currency = self.form.currency();
        let hint = match currency {
            Currency::Khr => lang.pick("គិតជារៀលគត់ ឧ. 600000", "whole riel, e.g. 600000"),
            Currency::Usd => lang.pick("ដុល្លារ និងសេន ឧ. 20.00", "dollars and cents, e.g. 20.00"),
        };
        format!(
            "{} ({}, {hint})",
            lang.pick("ប្រាក់ដែលបានទទួល", "Cash received"),
            currency_word(lang, currency)
        )
    }

    fn inputmode(&self) -> &'static str {
        match self.form.currency() {
            Currency::Khr => "numeric",
            Currency::Usd => "decimal",
        }
    }

    fn action(&self) -> String {
        format!("/console/take/{}", self.form.case.id)
    }

    /// The error summary's line, and whether it names the tendered field.
    fn problem_text(&self) -> String {
        let lang = self.page.lang;
        match &self.problem {
            None => String::new(),
            Some(TakeProblem::Format) => match self.form.currency() {
                Currency::Khr => lang
                    .pick(
                        "សូមបញ្ចូលប្រាក់ដែលបានទទួលជារៀលគត់ ឧ. 600000",
                        "Enter the cash received in whole riel, for example 600000",
                    )
                    .to_owned(),
                Currency::Usd => lang
                    .pick(
                        "សូមបញ្ចូលប្រាក់ដែលបានទទួលជាដុល្លារ ឧ. 20.00",
                        "Enter the cash received in dollars and cents, for example 20.00",
                    )
                    .to_owned(),
            },
            Some(TakeProblem::Short { tendered, due }) => match lang {
                Lang::Km => format!(
                    "ប្រាក់ដែលបានទទួល {} តិចជាងប្រាក់ត្រូវបង់ {}",
                    money(tendered),
                    money(due)
                ),
                Lang::En => format!(
                    "Tendered {} is less than the {} due",
                    money(tendered),
                    money(due)
                ),
            },
            Some(TakeProblem::AlreadyPaid { .. }) => lang
                .pick(
                    "ករណីនេះបានបង់រួចហើយ។ កុំទទួលប្រាក់។",
                    "This case is already paid. Take no money.",
                )
                .to_owned(),
            Some(TakeProblem::NotPayable) => lang
                .pick(
                    "ការបង់ប្រាក់នេះត្រូវបានលុបចោល ឬផុតកំណត់។ កុំទទួលប្រាក់។",
                    "This payment was cancelled or has expired. Take no money.",
                )
                .to_owned(),
            Some(TakeProblem::NoDrawer) => lang
                .pick(
                    "អ្នកមិនទាន់បើកថតប្រាក់នៅការិយាល័យនេះទេ។",
                    "You have no open drawer at this office.",
                )
                .to_owned(),
        }
    }

    fn problem_field(&self) -> &'static str {
        match self.problem {
            Some(TakeProblem::Format | TakeProblem::Short { .. }) => "#tendered",
            Some(TakeProblem::AlreadyPaid { .. }) => "#already-paid",
            Some(TakeProblem::NoDrawer) => "#no-drawer",
            _ => "#due",
        }
    }

    fn paid_receipt(&self) -> Option<String> {
        match &self.problem {
            Some(TakeProblem::AlreadyPaid { receipt_number }) => receipt_number.clone(),
            _ => self.form.case.receipt_number.clone(),
        }
    }
}

fn take_not_found(page: &PageRequest, error: AppError) -> Response {
    match error {
        AppError::NotFound(_) => web::not_found(
            page,
            "រកមិនឃើញការបង់ប្រាក់នេះនៅការិយាល័យរបស់អ្នកទេ។",
            "There is no such payment at your office.",
        ),
        other => web::error_page(page, other),
    }
}

#[utoipa::path(get, path = "/console/take/{intent_id}", tag = "console",
    params(("intent_id" = Uuid, Path, description = "The payment intent")),
    responses(
        (status = 200, description = "HTML: the amount due, the services with their amounts, and the cash-received form (in the intent's currency) with a hidden idempotency key; a paid case names its receipt instead", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 404, description = "HTML: no such intent at the person's offices", content_type = "text/html")))]
pub async fn get_take_intent(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    path: Result<Path<Uuid>, PathRejection>,
) -> Response {
    let Ok(Path(intent_id)) = path else {
        return take_not_found(&page, AppError::not_found("payment intent"));
    };
    match counter::take_form(&state, &session.principal, intent_id).await {
        Ok(form) => {
            let view = TakeIntentView {
                page: &page,
                shell: Some(Shell::new(&session, "take")),
                form,
                tendered: String::new(),
                a5: false,
                idempotency_key: new_idempotency_key(),
                problem: None,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => take_not_found(&page, error),
    }
}

#[derive(Deserialize)]
pub struct TakeFormBody {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    tendered: String,
    /// `80mm` or `a5`: the paper the original is printed on (a later paper switch is a copy).
    #[serde(default)]
    paper: String,
}

#[utoipa::path(post, path = "/console/take/{intent_id}", tag = "console",
    params(("intent_id" = Uuid, Path, description = "The payment intent")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`; `idempotency_key` (the form's: a double submit records once and shows the same receipt); `tendered`: the cash received in the intent's currency (whole riel; dollars with cents); `paper`: `80mm` (default) or `a5`, what the original prints on"),
    responses(
        (status = 303, description = "Taken: to /console/receipts/{number}?paper=80mm (or without `paper` for A5): the original print, with the change to give back"),
        (status = 400, description = "HTML: the form again with an error summary naming the field (not an amount, less than due), or the case was already paid (its receipt number and link) or cannot be paid; nothing recorded", content_type = "text/html"),
        (status = 403, description = "HTML: no CSRF token; nothing recorded", content_type = "text/html"),
        (status = 404, description = "HTML: no such intent at the person's offices", content_type = "text/html")))]
pub async fn post_take_intent(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    path: Result<Path<Uuid>, PathRejection>,
    Form(body): Form<TakeFormBody>,
) -> Response {
    if !form_csrf_ok(&session, &body.csrf) {
        return csrf_refused(&page);
    }
    let Ok(Path(intent_id)) = path else {
        return take_not_found(&page, AppError::not_found("payment intent"));
    };
    // A form without its key still records once per submit: a fresh key stands in.
    let fresh;
    let key = match form_idempotency_key(&body.idempotency_key) {
        Some(key) => key,
        None => {
            fresh = new_idempotency_key();
            fresh.as_str()
        }
    };
    match counter::take_at_counter(&state, &session.principal, intent_id, key, &body.tendered).await
    {
        Ok(TakeOutcome::Taken(receipt)) => match receipt.number {
            Some(number) if body.paper == "a5" => see_other(&format!("/console/receipts/{number}")),
            Some(number) => see_other(&format!("/console/receipts/{number}?paper=80mm")),
            None => see_other("/console/receipts"),
        },
        Ok(TakeOutcome::Refused { form, problem }) => {
            let view = TakeIntentView {
                page: &page,
                shell: Some(Shell::new(&session, "take")),
                form: *form,
                tendered: body.tendered.trim().to_owned(),
                a5: body.paper == "a5",
                idempotency_key: new_idempotency_key(),
                problem: Some(problem),
            };
            web::render(&page, StatusCode::BAD_REQUEST, &view, Caching::Private)
        }
        Err(error) => take_not_found(&page, error),
    }
}

// ---------------------------------------------------------------------------------------
// Receipts

const RECEIPT_NOT_FOUND_KM: &str = "រកមិនឃើញបង្កាន់ដៃនេះនៅការិយាល័យរបស់អ្នកទេ។";
const RECEIPT_NOT_FOUND_EN: &str = "There is no such receipt at your office.";

fn counter_view(printed: &CounterReceipt) -> CounterView {
    let cash = printed.cash.as_ref();
    let amount = |view: &crate::app::money::MoneyView| {
        view.parse("amount")
            .map_or_else(|_| view.amount.clone(), |money| format::money(&money))
    };
    CounterView {
        copy: printed.copy,
        cashier: cash.map(|cash| cash.cashier.name.clone()),
        tendered: cash.map(|cash| amount(&cash.tendered)),
        change: cash.map(|cash| amount(&cash.change)),
        show_change: !printed.copy && cash.is_some_and(|cash| cash.status == "valid"),
    }
}

#[utoipa::path(get, path = "/console/receipts/{receipt_number}", tag = "console",
    params(
        ("receipt_number" = String, Path, description = "The receipt number, e.g. `0320-2026-000001`"),
        ("paper" = Option<String>, Query, description = "`80mm` lays the receipt out for an 80 mm thermal roll; A5 otherwise")),
    responses(
        (status = 200, description = "HTML: the citizen's receipt with the cashier's name, the cash received and the change. The first print of a cash receipt is the original (with the change to give back shown large); every later print, and every online receipt, is marked COPY / ច្បាប់ចម្លង. Each print is counted and recorded as a staff action", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 404, description = "HTML: no such receipt at the person's offices", content_type = "text/html")))]
pub async fn get_console_receipt(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(number)) = path else {
        return web::not_found(&page, RECEIPT_NOT_FOUND_KM, RECEIPT_NOT_FOUND_EN);
    };
    let printed = match counter::print_receipt(&state, &session.principal, &number).await {
        Ok(printed) => printed,
        Err(AppError::NotFound(_)) => {
            return web::not_found(&page, RECEIPT_NOT_FOUND_KM, RECEIPT_NOT_FOUND_EN)
        }
        Err(error) => return web::error_page(&page, error),
    };
    let paper_80mm = query_param(uri.query(), "paper").as_deref() == Some("80mm");
    let extras = counter_view(&printed);
    match ReceiptPage::for_console(&page, printed.receipt, paper_80mm, extras) {
        Ok(view) => web::render(&page, StatusCode::OK, &view, Caching::Private),
        Err(error) => web::error_page(&page, error),
    }
}

#[derive(Template)]
#[template(path = "console_receipts.html")]
struct ReceiptsView<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    mine: MyReceipts,
}

impl ReceiptsView<'_> {
    fn amount(&self, receipt: &CashReceipt) -> String {
        receipt.amount.parse("amount").map_or_else(
            |_| receipt.amount.amount.clone(),
            |money| format::money(&money),
        )
    }

    fn time(&self, receipt: &CashReceipt) -> String {
        format::local_time(receipt.issued_at)
    }

    fn is_void(&self, receipt: &CashReceipt) -> bool {
        receipt.status == "void"
    }

    fn void_href(&self, receipt: &CashReceipt) -> Option<String> {
        receipt
            .number
            .as_deref()
            .filter(|_| receipt.status == "valid")
            .and_then(void_href)
    }
}

#[utoipa::path(get, path = "/console/receipts", tag = "console",
    params(("office" = Option<String>, Query, description = "The office (default: the person's first)")),
    responses(
        (status = 200, description = "HTML: today's receipts of my drawers at the office (number, case, amount, time, paid or void), newest first, each with a Reprint link", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 404, description = "HTML: an office the person does not work at", content_type = "text/html")))]
pub async fn get_receipts(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let office = office_query(&uri);
    match counter::my_receipts(&state, &session.principal, office.as_deref()).await {
        Ok(mine) => {
            let view = ReceiptsView {
                page: &page,
                shell: Some(Shell::new(&session, "receipts")),
                mine,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}
