//! Publishing a schedule version: a new version from a future date, or a correction of one
//! not yet in force, with its audit records. A version in force never changes.

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::audit;
use super::model::{Catalog, ScheduleHeader};
use super::schedule::load;
use crate::app::error::{AppError, Refusal};
use crate::db::fee_schedules;

/// What publishing a catalog did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new version.
    Created,
    /// A version not yet in force was replaced.
    Replaced,
    /// The version exists with exactly this content.
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Replaced => "replaced",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Publishes `catalog` as its version, recording the change in the audit log.
///
/// A new version must start after today (Cambodian date) unless it is the first one (the
/// bootstrap seed). A version that exists is left alone if identical, replaced if not yet in
/// force, and refused (409) once in force: a version that has priced quotes never changes.
#[tracing::instrument(skip_all, fields(schedule.version = %catalog.header.version))]
pub async fn publish(
    conn: &mut PgConnection,
    catalog: &Catalog,
    actor: &str,
    day: NaiveDate,
) -> Result<(Outcome, usize), AppError> {
    fee_schedules::lock_for_change(conn).await?;
    let header = &catalog.header;
    let existing = load(conn, &header.version).await?;
    if let Some(existing) = &existing {
        if existing == catalog {
            return Ok((Outcome::Unchanged, 0));
        }
        if existing.header.effective_from <= day {
            return Err(AppError::Conflict(Refusal::new(
                "schedule_version_in_force",
                "Schedule version in force",
                format!(
                    "version {} is in force since {}; publish a new version instead",
                    header.version, existing.header.effective_from
                ),
            )));
        }
    }
    check_new_date(conn, header, day).await?;
    let baseline = match &existing {
        Some(existing) => Some(existing.clone()),
        None => previous(conn, header.effective_from).await?,
    };
    write(conn, catalog, actor, existing.is_some()).await?;
    let outcome = if existing.is_some() {
        Outcome::Replaced
    } else {
        Outcome::Created
    };
    let records =
        audit::record_publication(conn, actor, outcome, baseline.as_ref(), catalog).await?;
    Ok((outcome, records))
}

/// A new date must lie after today (except for the very first version, the bootstrap seed)
/// and belong to no other version.
async fn check_new_date(
    conn: &mut PgConnection,
    header: &ScheduleHeader,
    day: NaiveDate,
) -> Result<(), AppError> {
    let first = fee_schedules::is_empty(conn).await?;
    if !first && header.effective_from <= day {
        return Err(AppError::unprocessable(
            "effective_from_not_in_future",
            "Effective date not in the future",
            format!(
                "a new schedule version must take effect after today ({day}); {} was given",
                header.effective_from
            ),
        ));
    }
    let taken =
        fee_schedules::version_starting_on(conn, header.effective_from, &header.version).await?;
    if let Some(other) = taken {
        return Err(AppError::Conflict(Refusal::new(
            "effective_from_taken",
            "Effective date taken",
            format!(
                "version {other} already takes effect on {}",
                header.effective_from
            ),
        )));
    }
    Ok(())
}

/// The version in force just before `effective_from`: what a new version changes.
async fn previous(
    conn: &mut PgConnection,
    effective_from: NaiveDate,
) -> Result<Option<Catalog>, AppError> {
    match fee_schedules::version_before(conn, effective_from).await? {
        Some(version) => load(conn, &version).await,
        None => Ok(None),
    }
}

/// Writes the version: its header (new, or replacing a version not yet in force together
/// with its old services and bundles), then its services and bundles.
async fn write(
    conn: &mut PgConnection,
    catalog: &Catalog,
    actor: &str,
    replace: bool,
) -> Result<(), AppError> {
    let header = &catalog.header;
    if replace {
        fee_schedules::clear_for_replacement(conn, header).await?;
    } else {
        fee_schedules::insert_header(conn, header, actor).await?;
    }
    for service in &catalog.services {
        fee_schedules::insert_service(conn, &header.version, service).await?;
    }
    for bundle in &catalog.bundles {
        fee_schedules::insert_bundle(conn, &header.version, bundle).await?;
    }
    Ok(())
}
