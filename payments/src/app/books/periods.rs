//! Closed periods: a month of an office after which no entry may be dated in it, closed by an
//! admin only when the month's checklist passes.
//!
//! The checklist (one function, [`checklist`], used by the page and by the JSON close):
//! - the month is over in Cambodia;
//! - every drawer (`cashier_sessions`) of the office opened in or before the month is closed;
//! - reconciliation differences are zero or explained. "Explained" is this rule: every
//!   reconciliation exception of the office whose day (the statement line's or item's date,
//!   else the day it was raised) falls in the month is resolved; an open one blocks the close.
//!   Resolved ones are listed with their latest resolution (what explained them), so the admin
//!   sees what was written off or refunded before closing.

use chrono::NaiveDate;
use ledger::store::{self, CloseOutcome, ClosedPeriod};
use serde_json::json;

use super::{ledger_error, AUDIT_ROLES};
use crate::app::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::db;
use crate::db::period_close::{MonthException, OpenDrawer};
use crate::state::AppState;

/// Who reads the checklist and the closed months on the periods page.
const PERIOD_READERS: [Role; 2] = [Role::Auditor, Role::Admin];

/// The checklist of one office's month.
#[derive(Debug, Clone)]
pub struct Checklist {
    pub office_code: String,
    /// First day of the month.
    pub month: NaiveDate,
    /// The month is over in Cambodia (only such a month can be closed).
    pub over: bool,
    /// Set when the month is closed already.
    pub closed: Option<ClosedPeriod>,
    /// Drawers opened in or before the month and still open: each blocks.
    pub open_drawers: Vec<OpenDrawer>,
    /// Reconciliation exceptions of the month that are open: each blocks.
    pub open_exceptions: Vec<MonthException>,
    /// Reconciliation exceptions of the month that were resolved (listed, do not block).
    pub resolved_exceptions: Vec<MonthException>,
}

impl Checklist {
    /// Whether an admin may close the month now.
    pub fn passes(&self) -> bool {
        self.over && self.open_drawers.is_empty() && self.open_exceptions.is_empty()
    }

    /// The items that block the close, in words (English; the page has its own).
    pub fn blocking(&self) -> Vec<serde_json::Value> {
        let mut items = Vec::new();
        if !self.over {
            items.push(json!({"kind": "month_not_over", "detail": format!("{} is not over yet in Cambodia", store::format_month(self.month))}));
        }
        for drawer in &self.open_drawers {
            items.push(json!({"kind": "open_drawer", "id": drawer.id, "detail": format!("the drawer of {} opened {} is still open", drawer.cashier_name, drawer.opened_at.format("%Y-%m-%d %H:%M UTC"))}));
        }
        for exception in &self.open_exceptions {
            items.push(json!({"kind": "open_exception", "id": exception.id, "detail": format!("the {} exception of {} ({} {}) is open", exception.kind, exception.day, exception.amount, exception.currency)}));
        }
        items
    }
}

fn parse_month(month: &str) -> Result<NaiveDate, AppError> {
    store::parse_month(month).map_err(ledger_error)
}

fn require_office(principal: &Principal, office_code: &str) -> Result<(), AppError> {
    match principal.office_filter() {
        Some(offices) if !offices.iter().any(|office| office == office_code) => {
            Err(AppError::not_found("office"))
        }
        _ => Ok(()),
    }
}

async fn gather(
    conn: &mut sqlx::PgConnection,
    office_code: &str,
    month: NaiveDate,
) -> Result<Checklist, AppError> {
    if !db::offices::exists(conn, office_code).await? {
        return Err(AppError::not_found("office"));
    }
    let over = db::period_close::month_is_over(conn, month).await?;
    let closed = store::list_closed_periods(conn, Some(&[office_code.to_owned()]))
        .await?
        .into_iter()
        .find(|period| period.month == month);
    let open_drawers = db::period_close::open_drawers(conn, office_code, month).await?;
    let (open_exceptions, resolved_exceptions) =
        db::period_close::month_exceptions(conn, office_code, month)
            .await?
            .into_iter()
            .partition(|exception| exception.status == "open");
    Ok(Checklist {
        office_code: office_code.to_owned(),
        month,
        over,
        closed,
        open_drawers,
        open_exceptions,
        resolved_exceptions,
    })
}

/// The checklist of `month` (`YYYY-MM`) of an office of the caller's.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id, office.code = %office_code, period.month = %month))]
pub async fn checklist(
    state: &AppState,
    principal: &Principal,
    office_code: &str,
    month: &str,
) -> Result<Checklist, AppError> {
    principal.require(&PERIOD_READERS)?;
    require_office(principal, office_code)?;
    let month = parse_month(month)?;
    let mut conn = state.pool.acquire().await?;
    gather(&mut conn, office_code, month).await
}

/// Closes `month` (`YYYY-MM`, a Cambodian calendar month that is over) of an office when its
/// [`checklist`] passes (409 `period_checklist_failed` naming the blocking items otherwise);
/// closing a closed month again changes nothing and says so.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id, office.code = %office_code, period.month = %month))]
pub async fn close_period(
    state: &AppState,
    principal: &Principal,
    office_code: &str,
    month: &str,
) -> Result<CloseOutcome, AppError> {
    principal.require(&[Role::Admin])?;
    require_office(principal, office_code)?;
    let month = parse_month(month)?;
    let mut tx = state.pool.begin().await?;
    let checklist = gather(&mut tx, office_code, month).await?;
    if let Some(closed) = checklist.closed.clone() {
        return Ok(CloseOutcome::AlreadyClosed(closed));
    }
    // A month that is not over keeps the ledger's own refusal (422 period_not_closable).
    if checklist.over && !checklist.passes() {
        return Err(AppError::conflict(
            "period_checklist_failed",
            "Period checklist not passed",
            format!(
                "{} of office {office_code} cannot be closed yet: close every drawer and resolve every reconciliation exception of the month first (see blocking)",
                store::format_month(month)
            ),
        )
        .with("blocking", serde_json::Value::Array(checklist.blocking())));
    }
    let closed_by = match &principal.staff {
        Some(staff) => format!("user:{}", staff.user_id),
        None => format!("key:{}", principal.key_id),
    };
    let outcome = store::close_period(&mut tx, office_code, month, &closed_by)
        .await
        .map_err(ledger_error)?;
    tx.commit().await?;
    Ok(outcome)
}

/// The closed periods of the caller's offices.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn list_periods(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<ClosedPeriod>, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    Ok(store::list_closed_periods(&mut conn, principal.office_filter()).await?)
}

/// The offices a person may pick on the periods page: theirs, or every office for a national
/// person; `(code, Khmer name, English name)`.
pub async fn offices(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<(String, String, String)>, AppError> {
    principal.require(&PERIOD_READERS)?;
    let mut conn = state.pool.acquire().await?;
    let all = db::period_close::office_codes(&mut conn).await?;
    Ok(match principal.office_filter() {
        None => all,
        Some(mine) => all
            .into_iter()
            .filter(|(code, _, _)| mine.contains(code))
            .collect(),
    })
}

/// The month that ended last in Cambodia (UTC+7 all year), `YYYY-MM`: the periods page's
/// default, the one an admin usually closes.
pub fn last_month(now: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Datelike as _;
    let today = (now + chrono::Duration::hours(7)).date_naive();
    let (year, month) = if today.month() == 1 {
        (today.year() - 1, 12)
    } else {
        (today.year(), today.month() - 1)
    };
    format!("{year:04}-{month:02}")
}
