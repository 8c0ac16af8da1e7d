//! The proofs on the console (issue 16): chain verification run from the page with its progress, the signed daily digests and the bundle an outside auditor checks without the service.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};

use super::{csrf_refused, form_csrf_ok, see_other, ConsoleSession, CsrfForm, Shell};
use crate::app::books::proofs::{self, CheckedDigest, DigestProofs, Run};
use crate::http::ledger::proofs::bundle_response;
use crate::http::web::{self, format, Caching, PageRequest};
use crate::state::AppState;

/// The page's NAV href.
pub const PROOFS_HREF: &str = "/console/proofs";

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/proofs", get(get_proofs))
        .route("/console/proofs/verify", post(post_verify))
        .route("/console/proofs/bundle", get(get_bundle))
}

#[derive(Template)]
#[template(path = "console_proofs.html")]
struct ProofsPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    /// Newest first; the first is the one the page is about.
    runs: Vec<Run>,
    /// `None` for an office-scoped person: digests state every office's balances.
    digests: Option<DigestProofs>,
}

impl ProofsPage<'_> {
    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        format::local_time(*at)
    }

    fn csrf(&self) -> &str {
        self.shell.as_ref().map_or("", |shell| shell.csrf.as_str())
    }

    fn latest(&self) -> Option<&Run> {
        self.runs.first()
    }

    fn running(&self) -> bool {
        self.latest().is_some_and(Run::is_running)
    }

    fn earlier(&self) -> &[Run] {
        self.runs.get(1..).unwrap_or(&[])
    }

    fn status_label(&self, run: &Run) -> &'static str {
        let lang = self.page.lang;
        match (run.row.status.as_str(), run.row.ok) {
            ("running", _) => lang.pick("កំពុងផ្ទៀងផ្ទាត់", "Running"),
            ("finished", Some(true)) => lang.pick("ត្រឹមត្រូវ", "OK: the chain verifies"),
            ("finished", _) => lang.pick("មិនត្រឹមត្រូវ", "FAILED: the chain does not verify"),
            _ => lang.pick("ការផ្ទៀងផ្ទាត់បានបរាជ័យ", "The run broke"),
        }
    }

    fn key_index(&self, digest: &CheckedDigest) -> Option<usize> {
        let keys = &self.digests.as_ref()?.keys;
        let key = digest.verified_by.as_ref()?;
        keys.iter()
            .position(|known| known == key)
            .map(|index| index + 1)
    }
}

#[utoipa::path(get, path = "/console/proofs", tag = "console",
    responses(
        (status = 200, description = "HTML: the latest chain verification (its progress while it runs, then ok or the first bad entry, digest or roll-up and why), a form to start one, the signed daily digests with the configured key that verifies each, and the bundle download", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 403, description = "HTML: not an auditor or admin", content_type = "text/html")))]
pub async fn get_proofs(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
) -> Response {
    let runs = match proofs::recent(&state, &session.principal).await {
        Ok(runs) => runs,
        Err(error) => return web::error_page(&page, error),
    };
    let digests = if session.principal.office_filter().is_some() {
        None
    } else {
        match proofs::digest_proofs(&state, &session.principal, Some(62)).await {
            Ok(digests) => Some(digests),
            Err(error) => return web::error_page(&page, error),
        }
    };
    let view = ProofsPage {
        page: &page,
        shell: Some(Shell::new(&session, "proofs")),
        runs,
        digests,
    };
    web::render(&page, StatusCode::OK, &view, Caching::Private)
}

#[utoipa::path(post, path = "/console/proofs/verify", tag = "console",
    request_body(content = String, description = "Form: csrf", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Started (or one was running already): back to /console/proofs, which shows its progress"),
        (status = 403, description = "HTML: no CSRF token, or not an auditor or admin", content_type = "text/html")))]
pub async fn post_verify(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !form_csrf_ok(&session, &form.csrf) {
        return csrf_refused(&page);
    }
    match proofs::start(&state, &session.principal).await {
        Ok(_) => see_other(PROOFS_HREF),
        Err(error) => web::error_page(&page, error),
    }
}

#[utoipa::path(get, operation_id = "get_console_digest_bundle", path = "/console/proofs/bundle", tag = "console",
    responses(
        (status = 200, description = "The digest bundle (.tar.gz), as GET /v1/ledger/digests/bundle", content_type = "application/gzip"),
        (status = 303, description = "No session: to /console/login"),
        (status = 403, description = "HTML: not a national auditor or admin", content_type = "text/html")))]
pub async fn get_bundle(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
) -> Response {
    match proofs::digest_bundle(&state, &session.principal).await {
        Ok((name, bytes)) => bundle_response(&name, bytes),
        Err(error) => web::error_page(&page, error),
    }
}
