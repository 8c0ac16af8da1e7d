//! The books on the console (issue 16): the trial balance at any instant (national or one
//! office), account statements with opening and closing balances and cursor pages, and the
//! exports (journal CSV and XLSX, statement CSV) behind the person's session. Each handler
//! reads its query, calls one `app::books` function and renders; amounts are formatted for
//! people here, the exports keep plain numbers.

use askama::Template;
use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use ledger::{Currency, Money};

use super::{ConsoleSession, Shell};
use crate::app::books::statements::{self, AccountStatement};
use crate::app::books::trial_balance::{self, TrialBalance};
use crate::app::books::{journal, trial_balance::office_choices};
use crate::app::dates;
use crate::app::error::AppError;
use crate::app::sessions::Session;
use crate::http::ledger::{export_response, statement_csv_response, XLSX};
use crate::http::receipt_pages::query_param;
use crate::http::web::{self, format, Caching, PageRequest};
use crate::state::AppState;

/// The page's NAV href.
pub const BOOKS_HREF: &str = "/console/books";

/// Lines per statement page on the console.
const STATEMENT_PAGE_LINES: i64 = 50;

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/books", get(get_books))
        .route("/console/books/journal.csv", get(get_journal_csv))
        .route("/console/books/journal.xlsx", get(get_journal_xlsx))
        .route("/console/books/accounts/{code}", get(get_account_page))
        .route(
            "/console/books/accounts/{code}/statement.csv",
            get(get_statement_csv),
        )
}

fn money(minor: i64, currency: Currency) -> String {
    format::money(&Money::from_minor(minor, currency))
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Today in Phnom Penh.
fn today() -> NaiveDate {
    (Utc::now() + chrono::TimeDelta::hours(7)).date_naive()
}

/// A query value, `None` when missing or blank.
fn param(query: Option<&str>, name: &str) -> Option<String> {
    query_param(query, name).filter(|value| !value.trim().is_empty())
}

/// The period of a form: `from` and `to` dates (or times), by default this month in Phnom
/// Penh up to today. The texts are kept to fill the form again.
struct Period {
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    from_text: String,
    to_text: String,
}

fn period(query: Option<&str>) -> Result<Period, AppError> {
    let today = today();
    let from_text =
        param(query, "from").unwrap_or_else(|| today.with_day(1).unwrap_or(today).to_string());
    let to_text = param(query, "to").unwrap_or_else(|| today.to_string());
    let from = dates::parse_start(&from_text)
        .ok_or_else(|| AppError::validation("from", format!("expected {}", dates::FORMAT)))?;
    let to = dates::parse_end_inclusive(&to_text)
        .ok_or_else(|| AppError::validation("to", format!("expected {}", dates::FORMAT)))?;
    Ok(Period {
        from,
        to: Some(to),
        from_text,
        to_text,
    })
}

/// What a download from the console answers besides the export's own headers.
fn download(mut response: Response) -> Response {
    let headers = response.headers_mut();
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

// ---------------------------------------------------------------- the trial balance

#[derive(Template)]
#[template(path = "console_books.html")]
struct BooksPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    balance: TrialBalance,
    /// The `datetime-local` value shown (Phnom Penh).
    at_text: String,
    office: String,
    offices: Vec<String>,
    national: bool,
    export_from: String,
    export_to: String,
}

impl BooksPage<'_> {
    fn money(&self, minor: &i64, currency: &Currency) -> String {
        money(*minor, *currency)
    }

    fn as_of(&self) -> String {
        format::local_time(self.balance.as_of)
    }

    fn account_href(&self, code: &str) -> String {
        format!(
            "/console/books/accounts/{}?from={}&to={}",
            encode(code),
            self.export_from,
            self.export_to
        )
    }

    fn closed_offices(&self) -> String {
        self.balance
            .closed
            .iter()
            .map(|period| period.office_code.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn closed_month(&self) -> String {
        ledger::store::format_month(trial_balance::local_month(self.balance.as_of))
    }
}

#[utoipa::path(get, operation_id = "get_books_page", path = "/console/books", tag = "console",
    params(("at" = Option<String>, Query, description = "An instant in Phnom Penh time, `YYYY-MM-DDTHH:MM` (a datetime-local value; default now)"),
        ("office" = Option<String>, Query, description = "One office (national people only; default: all)")),
    responses(
        (status = 200, description = "HTML: the trial balance at that instant, lines linking to their statements, totals per currency, the journal exports", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 403, description = "HTML: not a supervisor, auditor or admin", content_type = "text/html")))]
pub async fn get_books(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let query = uri.query();
    let at_text = param(query, "at");
    let as_of = match at_text.as_deref().map(dates::parse_local_datetime) {
        None => None,
        Some(Some(at)) => Some(at),
        Some(None) => {
            return web::error_page(
                &page,
                AppError::validation("at", "expected a date and time, 2026-12-06T14:30"),
            )
        }
    };
    let office = param(query, "office");
    let principal = &session.principal;
    let balance =
        match trial_balance::trial_balance(&state, principal, as_of, office.as_deref()).await {
            Ok(balance) => balance,
            Err(error) => return web::error_page(&page, error),
        };
    let offices = match office_choices(&state, principal).await {
        Ok(offices) => offices,
        Err(error) => return web::error_page(&page, error),
    };
    let local = balance.as_of + chrono::TimeDelta::hours(7);
    let at_text = at_text.unwrap_or_else(|| local.format("%Y-%m-%dT%H:%M:%S").to_string());
    let day = local.date_naive();
    let view = BooksPage {
        page: &page,
        shell: Some(Shell::new(&session, "books")),
        national: principal.office_filter().is_none(),
        at_text,
        office: office.unwrap_or_default(),
        offices,
        export_from: day.with_day(1).unwrap_or(day).to_string(),
        export_to: day.to_string(),
        balance,
    };
    web::render(&page, StatusCode::OK, &view, Caching::Private)
}

// ---------------------------------------------------------------- a statement

#[derive(Template)]
#[template(path = "console_books_account.html")]
struct AccountPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    statement: AccountStatement,
    from_text: String,
    to_text: String,
    /// Lines per page, kept in the page links.
    limit: i64,
}

impl AccountPage<'_> {
    fn money(&self, minor: &i64) -> String {
        money(*minor, self.statement.account.currency)
    }

    fn time(&self, at: &DateTime<Utc>) -> String {
        format::local_time(*at)
    }

    fn base_href(&self) -> String {
        let limit = if self.limit == STATEMENT_PAGE_LINES {
            String::new()
        } else {
            format!("&limit={}", self.limit)
        };
        format!(
            "/console/books/accounts/{}?from={}&to={}{limit}",
            encode(&self.statement.account.code),
            encode(&self.from_text),
            encode(&self.to_text)
        )
    }

    fn form_action(&self) -> String {
        format!(
            "/console/books/accounts/{}",
            encode(&self.statement.account.code)
        )
    }

    fn next_href(&self) -> Option<String> {
        self.statement
            .next_cursor
            .as_ref()
            .map(|cursor| format!("{}&cursor={}", self.base_href(), encode(cursor)))
    }

    fn previous_href(&self) -> Option<String> {
        self.statement
            .previous_cursor
            .as_ref()
            .map(|cursor| match cursor {
                Some(cursor) => format!("{}&cursor={}", self.base_href(), encode(cursor)),
                None => self.base_href(),
            })
    }

    fn csv_href(&self) -> String {
        format!(
            "/console/books/accounts/{}/statement.csv?from={}&to={}",
            encode(&self.statement.account.code),
            encode(&self.from_text),
            encode(&self.to_text)
        )
    }

    fn closed_months(&self) -> String {
        self.statement
            .closed_months
            .iter()
            .map(|period| ledger::store::format_month(period.month))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn channel(&self, channel: &Option<String>) -> String {
        match channel.as_deref() {
            None => String::new(),
            Some("cash") => self.page.lang.pick("សាច់ប្រាក់", "cash").to_owned(),
            Some("khqr") => "KHQR".to_owned(),
            Some("sandbox") => self
                .page
                .lang
                .pick("ធនាគារសាកល្បង", "sandbox bank")
                .to_owned(),
            Some(other) => other.to_owned(),
        }
    }
}

#[utoipa::path(get, operation_id = "get_books_account_page", path = "/console/books/accounts/{code}", tag = "console",
    params(("code" = String, Path, description = "The account code"),
        ("from" = Option<String>, Query, description = "A date (start of that day in Phnom Penh; default: the 1st of this month)"),
        ("to" = Option<String>, Query, description = "A date (end of that day; default: today)"),
        ("cursor" = Option<String>, Query, description = "A page's cursor"),
        ("limit" = Option<i64>, Query, description = "Lines per page, 1 to 500 (default 50)")),
    responses(
        (status = 200, description = "HTML: the statement page: opening balance, lines with their source, closing balance, next/previous pages", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 404, description = "HTML: an account the person does not see", content_type = "text/html")))]
pub async fn get_account_page(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(code): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let query = uri.query();
    let period = match period(query) {
        Ok(period) => period,
        Err(error) => return web::error_page(&page, error),
    };
    let cursor = param(query, "cursor");
    let limit = match param(query, "limit").map(|raw| raw.parse::<i64>()) {
        None => STATEMENT_PAGE_LINES,
        Some(Ok(limit)) => limit,
        Some(Err(_)) => {
            return web::error_page(
                &page,
                AppError::validation("limit", "limit must be between 1 and 500"),
            )
        }
    };
    let found = statements::statement(
        &state,
        &session.principal,
        &code,
        (period.from, period.to),
        Some(limit),
        cursor.as_deref(),
    )
    .await;
    match found {
        Ok(statement) => {
            let view = AccountPage {
                page: &page,
                shell: Some(Shell::new(&session, "books")),
                statement,
                from_text: period.from_text,
                to_text: period.to_text,
                limit,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

// ---------------------------------------------------------------- downloads

#[utoipa::path(get, operation_id = "get_books_statement_csv", path = "/console/books/accounts/{code}/statement.csv", tag = "console",
    params(("code" = String, Path, description = "The account code"),
        ("from" = Option<String>, Query, description = "A date or time (default: the 1st of this month)"),
        ("to" = Option<String>, Query, description = "A date or time (default: today)")),
    responses(
        (status = 200, description = "The statement of the whole period as CSV, streamed, as an attachment", content_type = "text/csv"),
        (status = 404, description = "HTML: an account the person does not see", content_type = "text/html")))]
pub async fn get_statement_csv(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Path(code): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let period = match period(uri.query()) {
        Ok(period) => period,
        Err(error) => return web::error_page(&page, error),
    };
    match statements::statement_csv(&state, &session.principal, &code, (period.from, period.to))
        .await
    {
        Ok((export, body)) => download(statement_csv_response(export, body)),
        Err(error) => web::error_page(&page, error),
    }
}

#[utoipa::path(get, operation_id = "get_books_journal_csv", path = "/console/books/journal.csv", tag = "console",
    params(("from" = Option<String>, Query, description = "A date or time (default: the 1st of this month)"),
        ("to" = Option<String>, Query, description = "A date or time (default: today)"),
        ("office" = Option<String>, Query, description = "One office (default: all the person sees)")),
    responses(
        (status = 200, description = "The journal as CSV, streamed, as an attachment", content_type = "text/csv"),
        (status = 404, description = "HTML: an office the person does not see", content_type = "text/html")))]
pub async fn get_journal_csv(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    journal_download(&state, &page, &session, uri.query(), JournalFormat::Csv).await
}

#[utoipa::path(get, operation_id = "get_books_journal_xlsx", path = "/console/books/journal.xlsx", tag = "console",
    params(("from" = Option<String>, Query, description = "A date or time (default: the 1st of this month)"),
        ("to" = Option<String>, Query, description = "A date or time (default: today)"),
        ("office" = Option<String>, Query, description = "One office (default: all the person sees)")),
    responses(
        (status = 200, description = "The journal as an XLSX workbook (sheets About and Journal), streamed, as an attachment",
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 404, description = "HTML: an office the person does not see", content_type = "text/html"),
        (status = 422, description = "HTML: more postings than one sheet holds", content_type = "text/html")))]
pub async fn get_journal_xlsx(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    journal_download(&state, &page, &session, uri.query(), JournalFormat::Xlsx).await
}

/// The journal's two downloads.
#[derive(Debug, Clone, Copy)]
enum JournalFormat {
    Csv,
    Xlsx,
}

/// The journal of the query's period and office, as a download in `format`.
async fn journal_download(
    state: &AppState,
    page: &PageRequest,
    session: &Session,
    query: Option<&str>,
    format: JournalFormat,
) -> Response {
    let period = match period(query) {
        Ok(period) => period,
        Err(error) => return web::error_page(page, error),
    };
    let office = param(query, "office");
    let range = (period.from, period.to);
    let made = match format {
        JournalFormat::Csv => {
            journal::journal_csv(state, &session.principal, range, office.as_deref())
                .await
                .map(|(info, body)| (info, "text/csv; charset=utf-8", Body::from_stream(body)))
        }
        JournalFormat::Xlsx => {
            journal::journal_xlsx(state, &session.principal, range, office.as_deref())
                .await
                .map(|(info, body)| (info, XLSX, Body::from_stream(body)))
        }
    };
    match made {
        Ok((info, content_type, body)) => {
            download(export_response(&info, "journal", content_type, body))
        }
        Err(error) => web::error_page(page, error),
    }
}
