//! Catalog administration: import and export of schedule versions (CSV), the audit log, and the
//! list of versions. The same functions serve the admin API and `payments catalog`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::audit::{self, AuditFilter};
use super::csv_format::{self, ImportError};
use super::model::{CatalogCounts, ScheduleHeader};
use super::publish::{self, Outcome};
use super::schedule;
use crate::app::auth::{Principal, Role};
use crate::app::error::{AppError, Refusal};
use crate::app::pagination::Page;
use crate::db::catalog_audit::AuditRecord;
use crate::db::{catalog, fee_schedules};
use crate::state::AppState;

/// Largest catalog file the API accepts (the whole bundled catalog is about 30 kB).
pub const MAX_IMPORT_BYTES: usize = 1024 * 1024;

/// What an import did; `payments catalog import` prints it as JSON.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub schedule_version: String,
    pub effective_from: NaiveDate,
    /// `created`, `replaced` (a version not yet in force) or `unchanged`.
    pub outcome: String,
    #[serde(flatten)]
    pub counts: CatalogCounts,
    /// Audit records written (0 when unchanged).
    pub audit_records: usize,
}

/// The problem of a file with errors: 422 `catalog_invalid` listing every one in `errors`.
pub fn invalid(errors: &[ImportError]) -> AppError {
    let detail = format!(
        "the catalog file has {} problem(s); nothing was changed",
        errors.len()
    );
    let errors = serde_json::to_value(errors).unwrap_or_default();
    AppError::unprocessable("catalog_invalid", "Catalog file invalid", detail)
        .with("errors", errors)
}

/// Parses and publishes a catalog file. The caller owns the transaction: on any error it
/// rolls back and nothing changes.
#[tracing::instrument(skip_all, fields(catalog.actor = actor))]
pub async fn import(
    conn: &mut PgConnection,
    bytes: &[u8],
    actor: &str,
) -> Result<(Outcome, ImportReport), AppError> {
    let sectors = catalog::sector_codes(conn).await?;
    let catalog = csv_format::parse(bytes, &sectors).map_err(|errors| invalid(&errors))?;
    let (outcome, audit_records) =
        publish::publish(conn, &catalog, actor, schedule::today()).await?;
    Ok((
        outcome,
        ImportReport {
            schedule_version: catalog.header.version.clone(),
            effective_from: catalog.header.effective_from,
            outcome: outcome.as_str().to_owned(),
            counts: catalog.counts(),
            audit_records,
        },
    ))
}

/// A version (default: the one in force) as a catalog file: `(version, csv)`.
#[tracing::instrument(skip_all, fields(schedule.version = version))]
pub async fn export(
    conn: &mut PgConnection,
    version: Option<&str>,
) -> Result<(String, String), AppError> {
    let version = schedule::resolve(conn, version).await?;
    let catalog = schedule::load(conn, &version)
        .await?
        .ok_or_else(|| AppError::not_found("fee schedule"))?;
    let text = csv_format::export(&catalog).map_err(AppError::internal)?;
    Ok((version, text))
}

#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn import_catalog(
    state: &AppState,
    principal: &Principal,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(Outcome, ImportReport), AppError> {
    principal.require(&[Role::Admin])?;
    let is_csv = content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/csv"))
    });
    if !is_csv {
        return Err(AppError::UnsupportedMedia(Refusal::new(
            "unsupported_media_type",
            "Unsupported media type",
            "send the catalog file as Content-Type: text/csv",
        )));
    }
    let mut tx = state.pool.begin().await?;
    let result = import(&mut tx, body, &principal.key_id.to_string()).await?;
    tx.commit().await?;
    tracing::info!(
        schedule.version = %result.1.schedule_version,
        catalog.outcome = result.0.as_str(),
        "catalog imported"
    );
    Ok(result)
}

#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id, schedule.version = version))]
pub async fn export_catalog(
    state: &AppState,
    principal: &Principal,
    version: Option<&str>,
) -> Result<(String, String), AppError> {
    principal.require(&[Role::Admin, Role::Auditor])?;
    let mut conn = state.pool.acquire().await?;
    export(&mut conn, version).await
}

#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn audit_log(
    state: &AppState,
    principal: &Principal,
    filter: AuditFilter,
) -> Result<Page<AuditRecord>, AppError> {
    principal.require(&[Role::Admin, Role::Auditor])?;
    let mut conn = state.pool.acquire().await?;
    let (data, next_cursor) = audit::list(&mut conn, &filter).await?;
    Ok(Page { data, next_cursor })
}

/// Where a version stands today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleStatus {
    InForce,
    Scheduled,
    Superseded,
}

impl ScheduleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleStatus::InForce => "in_force",
            ScheduleStatus::Scheduled => "scheduled",
            ScheduleStatus::Superseded => "superseded",
        }
    }
}

/// A published version with its effective range.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub header: ScheduleHeader,
    /// First day of the next version (exclusive end), if one is published.
    pub effective_to: Option<NaiveDate>,
    pub status: ScheduleStatus,
    pub created_at: DateTime<Utc>,
}

/// Every version, oldest first, with its effective range and where it stands today.
#[tracing::instrument(skip_all)]
pub async fn list_schedules(state: &AppState) -> Result<Vec<Schedule>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let versions = fee_schedules::versions(&mut conn).await?;
    let today = schedule::today();
    let in_force = fee_schedules::in_force(&mut conn, today).await?;
    // Each version ends where the next one starts.
    let next_starts: Vec<NaiveDate> = versions
        .iter()
        .skip(1)
        .map(|row| row.header.effective_from)
        .collect();
    Ok(versions
        .into_iter()
        .enumerate()
        .map(|(index, row)| {
            let status = if in_force.as_deref() == Some(row.header.version.as_str()) {
                ScheduleStatus::InForce
            } else if row.header.effective_from > today {
                ScheduleStatus::Scheduled
            } else {
                ScheduleStatus::Superseded
            };
            Schedule {
                effective_to: next_starts.get(index).copied(),
                status,
                header: row.header,
                created_at: row.created_at,
            }
        })
        .collect())
}
