//! The staff console's shell: login, logout, the password change, and the office dashboard.
//! Pages are HTML forms (no script needed); every form that changes something carries the
//! session's CSRF token in a hidden `csrf` field, checked in constant time.

pub mod audit;
pub mod books;
pub mod closing;
pub mod counter;
pub mod exceptions;
pub mod periods;
pub mod proofs;
pub mod reconciliation;
pub mod reports;

use askama::Template;
use axum::extract::{FromRequestParts, OriginalUri, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::auth::{clear_session_cookie, session_cookie, session_from_cookie};
use super::receipt_pages::query_param;
use super::web::{self, format, Caching, Lang, PageRequest};
use crate::app::auth::Role;
use crate::app::console::{self, Dashboard};
use crate::app::error::AppError;
use crate::app::sessions::{self, LoginRefusal, LoginRequest, PasswordProblem, Session};
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(get_dashboard))
        .route("/console/login", get(get_login).post(post_login))
        .route("/console/logout", axum::routing::post(post_logout))
        .route("/console/password", get(get_password).post(post_password))
        .merge(closing::routes())
        .merge(exceptions::routes())
        .merge(counter::routes())
        .merge(reconciliation::routes())
        .merge(reports::routes())
        .merge(books::routes())
        .merge(proofs::routes())
        .merge(periods::routes())
        .merge(audit::routes())
}

/// One entry of the console's navigation. The drawer step adds its pages to [`NAV`].
pub struct NavItem {
    /// Marks the current page (`aria-current`), and names it in tests (`data-testid=nav-KEY`).
    pub key: &'static str,
    pub href: &'static str,
    pub km: &'static str,
    pub en: &'static str,
    /// Who sees it.
    pub roles: &'static [Role],
}

const EVERY_PERSON: &[Role] = &[Role::Cashier, Role::Supervisor, Role::Auditor, Role::Admin];
/// Who reads the books and the dashboard of their offices (app::books' audit roles).
const BOOKS_PEOPLE: &[Role] = &[Role::Supervisor, Role::Auditor, Role::Admin];
/// Who works a drawer (app::cashier's drawer roles): the counter's pages.
const DRAWER_PEOPLE: &[Role] = &[Role::Cashier, Role::Supervisor, Role::Admin];

/// The console's navigation, in order. Add an item here when its route exists (a link that
/// 404s fails the console tests): the drawer step adds "drawer", "take payment", "receipts"
/// and "close" after the dashboard.
pub const NAV: &[NavItem] = &[
    NavItem {
        key: "dashboard",
        href: "/console",
        km: "ផ្ទាំងការិយាល័យ",
        en: "Office dashboard",
        roles: EVERY_PERSON,
    },
    NavItem {
        key: "drawer",
        href: "/console/drawer",
        km: "ថតប្រាក់របស់ខ្ញុំ",
        en: "My drawer",
        roles: DRAWER_PEOPLE,
    },
    NavItem {
        key: "take",
        href: "/console/take",
        km: "ទទួលប្រាក់",
        en: "Take payment",
        roles: DRAWER_PEOPLE,
    },
    NavItem {
        key: "receipts",
        href: "/console/receipts",
        km: "បង្កាន់ដៃ",
        en: "Receipts",
        roles: DRAWER_PEOPLE,
    },
    NavItem {
        key: "close",
        href: closing::CLOSE_HREF,
        km: "បិទថតប្រាក់",
        en: "Close drawer",
        roles: &[Role::Cashier, Role::Supervisor, Role::Admin],
    },
    NavItem {
        key: "drawers",
        href: closing::DRAWERS_HREF,
        km: "ថតប្រាក់នៃការិយាល័យ",
        en: "Office drawers",
        roles: &[Role::Supervisor, Role::Admin],
    },
    NavItem {
        key: "reconciliation",
        href: reconciliation::RECONCILIATION_HREF,
        km: "ការផ្ទៀងផ្ទាត់ធនាគារ",
        en: "Bank reconciliation",
        roles: &[Role::Supervisor, Role::Auditor, Role::Admin],
    },
    NavItem {
        key: "exceptions",
        href: exceptions::EXCEPTIONS_HREF,
        km: "ករណីលើកលែង",
        en: "Exceptions",
        roles: &[Role::Supervisor, Role::Auditor, Role::Admin],
    },
    NavItem {
        key: "reports",
        href: reports::REPORTS_HREF,
        km: "ផ្ទាំងរបាយការណ៍",
        en: "Dashboard",
        roles: BOOKS_PEOPLE,
    },
    NavItem {
        key: "books",
        href: books::BOOKS_HREF,
        km: "បញ្ជីគណនេយ្យ",
        en: "Books",
        roles: BOOKS_PEOPLE,
    },
    NavItem {
        key: "proofs",
        href: proofs::PROOFS_HREF,
        km: "ភស្តុតាង",
        en: "Proofs",
        roles: &[Role::Auditor, Role::Admin],
    },
    NavItem {
        key: "periods",
        href: periods::PERIODS_HREF,
        km: "ការបិទគ្រា",
        en: "Period close",
        roles: &[Role::Auditor, Role::Admin],
    },
    NavItem {
        key: "audit",
        href: audit::AUDIT_HREF,
        km: "កំណត់ត្រាសវនកម្ម",
        en: "Audit trail",
        roles: &[Role::Auditor, Role::Admin],
    },
];

/// What every console page shows around its content: the person, their role and office, the
/// navigation and the logout form (with the CSRF token).
pub struct Shell {
    pub name: String,
    pub role: Role,
    pub offices: Vec<String>,
    pub csrf: String,
    /// The [`NavItem::key`] of this page.
    pub current: &'static str,
    pub must_change_password: bool,
}

impl Shell {
    pub fn new(session: &Session, current: &'static str) -> Shell {
        Shell {
            name: session
                .principal
                .staff
                .as_ref()
                .map(|staff| staff.name.clone())
                .unwrap_or_default(),
            role: session.principal.role,
            offices: session.principal.office_codes.clone(),
            csrf: session.csrf_token.clone(),
            current,
            must_change_password: session.must_change_password,
        }
    }

    /// The navigation this person sees (none until they chose their password).
    pub fn nav(&self) -> Vec<&'static NavItem> {
        if self.must_change_password {
            return Vec::new();
        }
        NAV.iter()
            .filter(|item| item.roles.contains(&self.role))
            .collect()
    }

    pub fn role_label(&self, lang: &Lang) -> &'static str {
        let lang = *lang;
        match self.role {
            Role::Cashier => lang.pick("បេឡាករ", "Cashier"),
            Role::Supervisor => lang.pick("អ្នកគ្រប់គ្រង", "Supervisor"),
            Role::Auditor => lang.pick("សវនករ", "Auditor"),
            Role::Admin => lang.pick("អ្នកគ្រប់គ្រងប្រព័ន្ធ", "Administrator"),
            Role::Workflow => "workflow",
        }
    }

    pub fn office_label(&self, lang: &Lang) -> String {
        let lang = *lang;
        if self.offices.is_empty() {
            lang.pick("គ្រប់ការិយាល័យ", "All offices").to_owned()
        } else {
            self.offices.join(", ")
        }
    }
}

/// A console page's person: the live session behind the cookie. Without one, a page answers
/// 303 to `/console/login?next=<this page>`; a person who must still choose a password is sent
/// to `/console/password` from every other page.
pub struct ConsoleSession(pub Session);

impl FromRequestParts<AppState> for ConsoleSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = match session_from_cookie(parts, state).await {
            Ok(session) => session,
            Err(error) => return Err(error.into_response()),
        };
        // A language chosen on the way in (`/console?lang=en`) is kept across the redirect.
        let page = match PageRequest::from_request_parts(parts, state).await {
            Ok(page) => page,
            Err(never) => match never {},
        };
        let path = parts.uri.path();
        let Some(session) = session else {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/console", |value| value.as_str());
            let target = format!(
                "/console/login?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return Err(with_lang_cookie(&page, see_other(&target)));
        };
        if session.must_change_password && path != "/console/password" && path != "/console/logout"
        {
            return Err(with_lang_cookie(&page, see_other("/console/password")));
        }
        Ok(ConsoleSession(session))
    }
}

/// 303 See Other to `target` (after a form post, or to the login page), never cached.
pub fn see_other(target: &str) -> Response {
    let mut response = Redirect::to(target).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `response` with the language cookie when the request chose a language.
fn with_lang_cookie(page: &PageRequest, mut response: Response) -> Response {
    if let Some(cookie) = page.cookie() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Whether a posted form's `csrf` field is the session's token (constant time). Handlers of
/// console forms call it before anything else and answer [`csrf_refused`] when it is not.
pub fn form_csrf_ok(session: &Session, csrf: &str) -> bool {
    session.csrf_matches(csrf)
}

/// The page a form post without the session's CSRF token gets: 403, nothing done.
pub fn csrf_refused(page: &PageRequest) -> Response {
    tracing::warn!("a console form was posted without the session's CSRF token");
    web::error_page(
        page,
        AppError::Forbidden(crate::app::error::Refusal::new(
            "csrf_failed",
            "CSRF check failed",
            "the form did not carry this session's token",
        )),
    )
}

/// A fresh idempotency key for a form that records something (`<input type=hidden
/// name=idempotency_key>`): a double submit of the same rendered form is one request.
pub fn new_idempotency_key() -> String {
    crate::app::auth::random_token("form_")
}

/// A posted form's idempotency key, checked as the `Idempotency-Key` header is (1 to 255
/// characters); `None` when missing or out of bounds.
pub fn form_idempotency_key(value: &str) -> Option<&str> {
    let value = value.trim();
    (1..=255).contains(&value.len()).then_some(value)
}

/// The peer's address when the server records it (`None` in tests without a socket).
pub struct PeerAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddress(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

/// Whether a login post came from our own pages, so no other site's form can log a browser in
/// as someone else. Browsers say where a request comes from in `Sec-Fetch-Site` (whatever the
/// referrer policy); where they do not, `Origin` names the posting page (`null` under our own
/// `no-referrer` policy, so it is taken). Without either (scripts, older clients) the post is
/// taken.
fn same_origin(headers: &axum::http::HeaderMap, state: &AppState) -> bool {
    if let Some(site) = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
    {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
    else {
        return true;
    };
    if origin == "null" || origin == state.config.public_base_url.origin().ascii_serialization() {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    host.is_some_and(|host| authority == Some(host))
}

/// Only a path inside the console is a place to return to after login (never another site).
fn safe_next(next: Option<&str>) -> &str {
    next.filter(|next| {
        (next == &"/console" || next.starts_with("/console/") || next.starts_with("/console?"))
            && !next.contains("//")
            && !next.contains('\\')
    })
    .unwrap_or("/console")
}

#[derive(Template)]
#[template(path = "console_login.html")]
struct LoginPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    username: String,
    next: String,
    /// Which fields were empty.
    missing_username: bool,
    missing_password: bool,
    refusal: Option<LoginRefusal>,
}

impl LoginPage<'_> {
    fn has_errors(&self) -> bool {
        self.missing_username || self.missing_password || self.refusal.is_some()
    }

    /// The lock's end in Phnom Penh time.
    fn locked_until(&self) -> String {
        match self.refusal {
            Some(LoginRefusal::Locked { until }) => format::local_time(until),
            _ => String::new(),
        }
    }

    fn is_locked(&self) -> bool {
        matches!(self.refusal, Some(LoginRefusal::Locked { .. }))
    }

    fn is_disabled(&self) -> bool {
        matches!(self.refusal, Some(LoginRefusal::Disabled))
    }
}

#[utoipa::path(get, path = "/console/login", tag = "console",
    params(("next" = Option<String>, Query, description = "A console path to return to after login")),
    responses((status = 200, description = "HTML: the login form", content_type = "text/html")))]
pub async fn get_login(page: PageRequest, RawQuery(query): RawQuery) -> Response {
    let next = safe_next(query_param(query.as_deref(), "next").as_deref()).to_owned();
    let view = LoginPage {
        page: &page,
        shell: None,
        username: String::new(),
        next,
        missing_username: false,
        missing_password: false,
        refusal: None,
    };
    web::render(&page, StatusCode::OK, &view, Caching::Private)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// The client's address as the rate limits see it (the last `X-Forwarded-For` entry only
/// behind a trusted proxy).
fn client_ip(parts: &axum::http::HeaderMap, state: &AppState) -> Option<String> {
    if state.config.trust_x_forwarded_for {
        let forwarded = parts
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .next_back()
            .map(|last| last.trim().to_owned());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    None
}

#[utoipa::path(post, path = "/console/login", tag = "console",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`username`, `password`, `next`"),
    responses(
        (status = 303, description = "Logged in: the session cookie is set; to `next`, or to /console/password when the password must be changed"),
        (status = 400, description = "HTML: the form again with an error summary (empty field, wrong username or password, locked until a time, disabled)", content_type = "text/html")))]
pub async fn post_login(
    State(state): State<AppState>,
    page: PageRequest,
    PeerAddress(peer): PeerAddress,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        tracing::warn!("a login form was posted from another site");
        return csrf_refused(&page);
    }
    let next = safe_next(Some(form.next.as_str())).to_owned();
    let username = form.username.trim().to_owned();
    let mut view = LoginPage {
        page: &page,
        shell: None,
        username: username.clone(),
        next: next.clone(),
        missing_username: username.is_empty(),
        missing_password: form.password.is_empty(),
        refusal: None,
    };
    if view.has_errors() {
        return web::render(&page, StatusCode::BAD_REQUEST, &view, Caching::Private);
    }
    let ip = client_ip(&headers, &state).or_else(|| peer.map(|address| address.to_string()));
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    let request = LoginRequest {
        username: &username,
        password: &form.password,
        client_ip: ip.as_deref(),
        user_agent,
    };
    match sessions::login(&state, request).await {
        Ok(Ok(session)) => {
            let target = if session.must_change_password {
                "/console/password"
            } else {
                next.as_str()
            };
            let mut response = see_other(target);
            if let Ok(cookie) =
                HeaderValue::from_str(&session_cookie(&state.config, &session.token))
            {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Ok(Err(refusal)) => {
            view.refusal = Some(refusal);
            web::render(&page, StatusCode::BAD_REQUEST, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[utoipa::path(post, path = "/console/logout", tag = "console",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`: the session's token"),
    responses(
        (status = 303, description = "Logged out: the session ended and its cookie removed; to /console/login"),
        (status = 403, description = "HTML: the form did not carry the session's CSRF token", content_type = "text/html")))]
pub async fn post_logout(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !form_csrf_ok(&session, &form.csrf) {
        return csrf_refused(&page);
    }
    if let Err(error) = sessions::logout(&state, &session).await {
        return web::error_page(&page, error);
    }
    let mut response = see_other("/console/login");
    if let Ok(cookie) = HeaderValue::from_str(&clear_session_cookie(&state.config)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Template)]
#[template(path = "console_password.html")]
struct PasswordPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    problem: Option<PasswordProblem>,
    missing: bool,
}

impl PasswordPage<'_> {
    fn error_field(&self) -> &'static str {
        match self.problem {
            Some(problem) => problem.field(),
            None if self.missing => "current",
            None => "",
        }
    }

    fn error_text(&self) -> &'static str {
        let lang = self.page.lang;
        match self.problem {
            Some(PasswordProblem::WrongCurrent) => lang.pick(
                "ពាក្យសម្ងាត់បច្ចុប្បន្នមិនត្រឹមត្រូវ",
                "Your current password is not right",
            ),
            Some(PasswordProblem::Length) => lang.pick(
                "ពាក្យសម្ងាត់ថ្មីត្រូវមាន ១២ ដល់ ១២៨ តួអក្សរ",
                "The new password must be 12 to 128 characters",
            ),
            Some(PasswordProblem::IsUsername) => lang.pick(
                "ពាក្យសម្ងាត់ថ្មីមិនអាចជាឈ្មោះអ្នកប្រើបានទេ",
                "The new password cannot be your username",
            ),
            Some(PasswordProblem::Unchanged) => lang.pick(
                "ពាក្យសម្ងាត់ថ្មីត្រូវខុសពីពាក្យសម្ងាត់បច្ចុប្បន្ន",
                "The new password must differ from the current one",
            ),
            Some(PasswordProblem::Mismatch) => lang.pick(
                "ពាក្យសម្ងាត់ទាំងពីរមិនដូចគ្នា",
                "The two new passwords are not the same",
            ),
            None => lang.pick("សូមបំពេញគ្រប់ប្រអប់", "Fill in every field"),
        }
    }
}

#[utoipa::path(get, path = "/console/password", tag = "console",
    responses(
        (status = 200, description = "HTML: the password change form (every console page leads here until a first-login password is changed)", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login")))]
pub async fn get_password(page: PageRequest, ConsoleSession(session): ConsoleSession) -> Response {
    let view = PasswordPage {
        page: &page,
        shell: Some(Shell::new(&session, "password")),
        problem: None,
        missing: false,
    };
    web::render(&page, StatusCode::OK, &view, Caching::Private)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

#[utoipa::path(post, path = "/console/password", tag = "console",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`csrf`, `current`, `new` (12 to 128 characters, not the username, not the current one), `confirm`"),
    responses(
        (status = 303, description = "Changed: the person's other sessions ended; to /console"),
        (status = 400, description = "HTML: the form again, naming the field", content_type = "text/html"),
        (status = 403, description = "HTML: no CSRF token", content_type = "text/html")))]
pub async fn post_password(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !form_csrf_ok(&session, &form.csrf) {
        return csrf_refused(&page);
    }
    let mut view = PasswordPage {
        page: &page,
        shell: Some(Shell::new(&session, "password")),
        problem: None,
        missing: form.current.is_empty() || form.new.is_empty() || form.confirm.is_empty(),
    };
    if view.missing {
        return web::render(&page, StatusCode::BAD_REQUEST, &view, Caching::Private);
    }
    match sessions::change_password(&state, &session, &form.current, &form.new, &form.confirm).await
    {
        Ok(Ok(())) => see_other("/console"),
        Ok(Err(problem)) => {
            view.problem = Some(problem);
            web::render(&page, StatusCode::BAD_REQUEST, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

#[derive(Template)]
#[template(path = "console_dashboard.html")]
struct DashboardPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    dashboard: Dashboard,
}

impl DashboardPage<'_> {
    fn money(&self, amount: &ledger::Money) -> String {
        format::money(amount)
    }

    fn time(&self, at: &chrono::DateTime<chrono::FixedOffset>) -> String {
        at.format("%Y-%m-%d %H:%M").to_string()
    }

    fn channel_label(&self, channel: &str) -> String {
        let lang = self.page.lang;
        match channel {
            "cash" => lang.pick("សាច់ប្រាក់", "Cash").to_owned(),
            "khqr" => "KHQR".to_owned(),
            "sandbox" => lang.pick("ធនាគារសាកល្បង", "Sandbox bank").to_owned(),
            other => other.to_owned(),
        }
    }

    fn office_name(&self) -> &str {
        let office = &self.dashboard.office;
        self.page.lang.pick(&office.name_km, &office.name_en)
    }
}

#[utoipa::path(get, path = "/console", tag = "console",
    params(("office" = Option<String>, Query, description = "The office to show, for a person with several (default: their first)")),
    responses(
        (status = 200, description = "HTML: the office dashboard: open intents (count and newest 50), paid today (Phnom Penh day, by payment time) by channel and currency", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login?next=…; a first-login password not yet changed: to /console/password"),
        (status = 404, description = "HTML: an office the person does not work at", content_type = "text/html")))]
pub async fn get_dashboard(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let office = query_param(uri.query(), "office");
    match console::dashboard(&state, &session.principal, office.as_deref()).await {
        Ok(dashboard) => {
            let view = DashboardPage {
                page: &page,
                shell: Some(Shell::new(&session, "dashboard")),
                dashboard,
            };
            web::render(&page, StatusCode::OK, &view, Caching::Private)
        }
        Err(error) => web::error_page(&page, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_returned_to() {
        assert_eq!(
            safe_next(Some("/console?office=0320")),
            "/console?office=0320"
        );
        assert_eq!(safe_next(Some("/console/password")), "/console/password");
        assert_eq!(safe_next(Some("https://evil.example/")), "/console");
        assert_eq!(safe_next(Some("//evil.example/console")), "/console");
        assert_eq!(safe_next(Some("/console//evil")), "/console");
        assert_eq!(safe_next(Some("/consolex")), "/console");
        assert_eq!(safe_next(None), "/console");
    }

    #[test]
    fn form_idempotency_keys_are_bounded() {
        assert!(form_idempotency_key(&new_idempotency_key()).is_some());
        assert!(form_idempotency_key("").is_none());
        assert!(form_idempotency_key(&"x".repeat(256)).is_none());
    }
}
