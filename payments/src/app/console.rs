//! The console's office dashboard: what a person at the counter needs at a glance for their
//! office, with the person's open drawer ([`Dashboard::drawer`]).

use chrono::{DateTime, Duration as ChronoDuration, FixedOffset, NaiveTime, Utc};
use ledger::Money;
use uuid::Uuid;

use crate::app::auth::{Principal, Role};
use crate::app::cashier;
use crate::app::error::AppError;
use crate::app::money;
use crate::db;
use crate::state::AppState;

/// Open intents listed on the dashboard (the count covers them all).
pub const OPEN_INTENTS_SHOWN: i64 = 50;

/// An office the person may pick.
#[derive(Clone, Debug)]
pub struct OfficeChoice {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
}

/// One intent awaiting payment.
#[derive(Clone, Debug)]
pub struct OpenIntent {
    pub id: Uuid,
    pub case_reference: String,
    pub services: Vec<String>,
    pub total: Money,
    pub created_at: DateTime<FixedOffset>,
}

/// Paid today through one channel, in one currency.
#[derive(Clone, Debug)]
pub struct PaidToday {
    pub channel: String,
    pub count: i64,
    pub total: Money,
}

/// The person's open drawer at the office shown (app::cashier::counter::my_open_drawer).
#[derive(Clone, Debug)]
pub struct DrawerSummary {
    pub id: Uuid,
    /// What the drawer should hold now (float + cash receipts - voided), KHR then USD.
    pub expected: Vec<Money>,
    pub opened_at: DateTime<FixedOffset>,
    /// Receipts that still stand.
    pub receipts: i64,
    /// Still open after midnight (Cambodia) of the day it was opened.
    pub overdue: bool,
}

/// The office dashboard's view model.
#[derive(Clone, Debug)]
pub struct Dashboard {
    /// The office shown.
    pub office: OfficeChoice,
    /// Every office the person may pick (one for most cashiers: no picker then).
    pub offices: Vec<OfficeChoice>,
    pub open_count: i64,
    /// The newest [`OPEN_INTENTS_SHOWN`] open intents.
    pub open_intents: Vec<OpenIntent>,
    /// Paid today (Cambodian calendar day, by payment time), by channel and currency.
    pub paid_today: Vec<PaidToday>,
    /// The person's open drawer at this office, when they work a drawer and have one open.
    pub drawer: Option<DrawerSummary>,
}

/// Cambodia's clock: UTC+7 all year.
fn cambodia() -> Result<FixedOffset, AppError> {
    FixedOffset::east_opt(7 * 3600).ok_or_else(|| AppError::internal("UTC+7 is an offset"))
}

/// The start and end (UTC) of the Cambodian calendar day holding `now`.
pub fn cambodian_day(now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let local = now.with_timezone(&cambodia()?);
    let start = local
        .date_naive()
        .and_time(NaiveTime::MIN)
        .and_local_timezone(cambodia()?)
        .single()
        .ok_or_else(|| AppError::internal("a fixed offset has one midnight"))?
        .with_timezone(&Utc);
    Ok((start, start + ChronoDuration::days(1)))
}

/// The dashboard of `office` (or of the person's only or first office): 404 for an office the
/// person does not work at, so another office's figures are never shown.
#[tracing::instrument(skip_all, fields(office.code = office.unwrap_or("-")))]
pub async fn dashboard(
    state: &AppState,
    principal: &Principal,
    office: Option<&str>,
) -> Result<Dashboard, AppError> {
    let mut conn = state.pool.acquire().await?;
    let offices = match principal.office_filter() {
        Some(codes) => db::console::office_names(&mut conn, codes).await?,
        None => db::console::all_office_names(&mut conn).await?,
    };
    let offices: Vec<OfficeChoice> = offices
        .into_iter()
        .map(|row| OfficeChoice {
            code: row.code,
            name_km: row.name_km,
            name_en: row.name_en,
        })
        .collect();
    let chosen = match office {
        Some(code) => offices
            .iter()
            .find(|choice| choice.code == code && principal.sees_office(code)),
        None => offices.first(),
    }
    .cloned()
    .ok_or_else(|| AppError::not_found("office"))?;
    let now = Utc::now();
    let open_count = db::console::count_open_intents(&mut conn, &chosen.code, now).await?;
    let rows = db::console::open_intents(&mut conn, &chosen.code, now, OPEN_INTENTS_SHOWN).await?;
    let zone = cambodia()?;
    let open_intents = rows
        .into_iter()
        .map(|row| {
            Ok(OpenIntent {
                id: row.id,
                case_reference: row.case_reference,
                services: row.services,
                total: money::from_row(row.total_minor, &row.currency)?,
                created_at: row.created_at.with_timezone(&zone),
            })
        })
        .collect::<Result<_, AppError>>()?;
    let (from, to) = cambodian_day(now)?;
    let paid_today = db::console::paid_between(&mut conn, &chosen.code, from, to)
        .await?
        .into_iter()
        .map(|row| {
            Ok(PaidToday {
                channel: row.channel,
                count: row.count,
                total: money::from_row(row.total_minor, &row.currency)?,
            })
        })
        .collect::<Result<_, AppError>>()?;
    let drawer = if matches!(
        principal.role,
        Role::Cashier | Role::Supervisor | Role::Admin
    ) {
        cashier::counter::my_open_drawer(&mut conn, principal, &chosen.code)
            .await?
            .map(|drawer| DrawerSummary {
                id: drawer.id,
                expected: drawer.expected,
                opened_at: drawer.opened_at.with_timezone(&zone),
                receipts: drawer.receipts,
                overdue: drawer.overdue,
            })
    } else {
        None
    };
    Ok(Dashboard {
        office: chosen,
        offices,
        open_count,
        open_intents,
        paid_today,
        drawer,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn today_is_the_cambodian_calendar_day() {
        // 18:30 UTC on 1 March is 01:30 on 2 March in Phnom Penh.
        let now = "2026-03-01T18:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let (from, to) = cambodian_day(now).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-03-01T17:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-03-02T17:00:00+00:00");
    }
}
