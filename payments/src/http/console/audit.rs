//! The audit trail (issue 16): catalog changes, staff actions, key and user management, period closes and resolutions on one page with filters.

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;

use super::{ConsoleSession, Shell};
use crate::app::audit::{self, AuditFilter, AuditPage, KINDS};
use crate::app::error::AppError;
use crate::db::audit::AuditRow;
use crate::http::receipt_pages::query_param;
use crate::http::web::{self, format, Caching, PageRequest};
use crate::state::AppState;

/// The page's NAV href.
pub const AUDIT_HREF: &str = "/console/audit";

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new().route("/console/audit", get(get_audit_page))
}

/// The filters as typed (kept in the form).
#[derive(Debug, Default, Clone)]
struct Typed {
    kind: String,
    office: String,
    actor: String,
    from: String,
    to: String,
}

#[derive(Template)]
#[template(path = "console_audit.html")]
struct AuditTrailPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    typed: Typed,
    rows: Vec<AuditRow>,
    /// The link to the next (older) page.
    older: Option<String>,
    problem: Option<String>,
}

impl AuditTrailPage<'_> {
    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        format::local_time(*at)
    }

    fn kinds(&self) -> Vec<(&'static str, &'static str)> {
        KINDS
            .iter()
            .map(|kind| (*kind, self.kind_label(kind)))
            .collect()
    }

    fn kind_label(&self, kind: &str) -> &'static str {
        let lang = self.page.lang;
        match kind {
            "catalog" => lang.pick("កាតាឡុក និងតម្លៃសេវា", "Catalog and fees"),
            "staff" => lang.pick("សកម្មភាពបុគ្គលិក", "Staff action"),
            "access" => lang.pick("កូនសោ និងអ្នកប្រើ", "Keys and people"),
            "period_close" => lang.pick("ការបិទខែ", "Period close"),
            "resolution" => lang.pick("ដំណោះស្រាយករណីលើកលែង", "Exception resolution"),
            "verification" => lang.pick("ការផ្ទៀងផ្ទាត់ខ្សែសង្វាក់", "Chain verification"),
            _ => "",
        }
    }

    fn detail_text(&self, row: &AuditRow) -> String {
        match &row.detail {
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            other => {
                let text = other.to_string();
                // A catalog change's before/after can be long; the JSON route has it whole.
                match text.char_indices().nth(300) {
                    Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
                    None => text,
                }
            }
        }
    }
}

fn date(raw: &str, name: &str) -> Result<Option<NaiveDate>, AppError> {
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| AppError::validation(name, format!("{name} must be a date, YYYY-MM-DD")))
}

fn older_link(typed: &Typed, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("kind", &typed.kind),
        ("office", &typed.office),
        ("actor", &typed.actor),
        ("from", &typed.from),
        ("to", &typed.to),
    ] {
        if !value.is_empty() {
            query.append_pair(name, value);
        }
    }
    query.append_pair("cursor", cursor);
    format!("{AUDIT_HREF}?{}", query.finish())
}

#[utoipa::path(get, path = "/console/audit", tag = "console",
    params(("kind" = Option<String>, Query, description = "catalog, staff, access, period_close, resolution or verification"),
        ("office" = Option<String>, Query, description = "Office code"),
        ("actor" = Option<String>, Query, description = "Part of the actor's name"),
        ("from" = Option<String>, Query, description = "First day, YYYY-MM-DD"),
        ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD"),
        ("cursor" = Option<String>, Query, description = "The page after this one (the Older link)")),
    responses(
        (status = 200, description = "HTML: the audit trail, newest first, 50 rows a page, with its filters", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 403, description = "HTML: not an auditor or admin", content_type = "text/html"),
        (status = 422, description = "HTML: a filter that does not parse, named on the page", content_type = "text/html")))]
pub async fn get_audit_page(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let param = |name: &str| {
        query_param(uri.query(), name)
            .map(|value| value.trim().to_owned())
            .unwrap_or_default()
    };
    let typed = Typed {
        kind: param("kind"),
        office: param("office"),
        actor: param("actor"),
        from: param("from"),
        to: param("to"),
    };
    let filter = date(&typed.from, "from").and_then(|from| {
        Ok(AuditFilter {
            kind: Some(typed.kind.clone()),
            office_code: Some(typed.office.clone()),
            actor: Some(typed.actor.clone()),
            from,
            to: date(&typed.to, "to")?,
            cursor: Some(param("cursor")),
            limit: None,
        })
    });
    let found = match filter {
        Ok(filter) => audit::trail(&state, &session.principal, filter).await,
        Err(error) => Err(error),
    };
    let (status, page_rows, problem) = match found {
        Ok(found) => (StatusCode::OK, found, None),
        Err(AppError::Invalid(refusal)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            AuditPage {
                rows: Vec::new(),
                next_cursor: None,
            },
            Some(refusal.detail),
        ),
        Err(error) => return web::error_page(&page, error),
    };
    let older = page_rows
        .next_cursor
        .as_deref()
        .map(|cursor| older_link(&typed, cursor));
    let view = AuditTrailPage {
        page: &page,
        shell: Some(Shell::new(&session, "audit")),
        typed,
        rows: page_rows.rows,
        older,
        problem,
    };
    web::render(&page, status, &view, Caching::Private)
}
