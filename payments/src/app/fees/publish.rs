//! Publishing a schedule version: a new version from a future date, or a correction of one
//! not yet in force, with its audit records. A version in force never changes.

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::audit;
use super::model::{Catalog, ScheduleHeader, ServiceEntry};
use super::schedule::load;
use crate::app::error::{AppError, Refusal};

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
pub async fn publish(
    conn: &mut PgConnection,
    catalog: &Catalog,
    actor: &str,
    day: NaiveDate,
) -> Result<(Outcome, usize), AppError> {
    // One catalog change at a time, across instances; released at commit.
    sqlx::query("select pg_advisory_xact_lock(hashtext('owso_pay.catalog'))")
        .execute(&mut *conn)
        .await?;
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
    let first: bool = sqlx::query_scalar("select not exists(select 1 from fee_schedules)")
        .fetch_one(&mut *conn)
        .await?;
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
    let taken: Option<String> = sqlx::query_scalar(
        "select version from fee_schedules where effective_from = $1 and version <> $2",
    )
    .bind(header.effective_from)
    .bind(&header.version)
    .fetch_optional(&mut *conn)
    .await?;
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
    let version: Option<String> = sqlx::query_scalar(
        "select version from fee_schedules where effective_from < $1 order by effective_from desc limit 1",
    )
    .bind(effective_from)
    .fetch_optional(&mut *conn)
    .await?;
    match version {
        Some(version) => load(conn, &version).await,
        None => Ok(None),
    }
}

async fn write(
    conn: &mut PgConnection,
    catalog: &Catalog,
    actor: &str,
    replace: bool,
) -> Result<(), AppError> {
    let header = &catalog.header;
    if replace {
        for table in ["fee_schedule_services", "fee_schedule_bundles"] {
            sqlx::query(&format!("delete from {table} where schedule_version = $1"))
                .bind(&header.version)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(
            "update fee_schedules set effective_from = $2, legal_basis = $3, notes = $4, updated_at = now()
             where version = $1",
        )
        .bind(&header.version)
        .bind(header.effective_from)
        .bind(&header.legal_basis)
        .bind(&header.notes)
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query(
            "insert into fee_schedules (version, effective_from, legal_basis, notes, created_by)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(&header.version)
        .bind(header.effective_from)
        .bind(&header.legal_basis)
        .bind(&header.notes)
        .bind(actor)
        .execute(&mut *conn)
        .await?;
    }
    for service in &catalog.services {
        insert_service(conn, &header.version, service).await?;
    }
    for bundle in &catalog.bundles {
        sqlx::query(
            "insert into fee_schedule_bundles (schedule_version, code, name_km, name_en, notes, items)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&header.version)
        .bind(&bundle.code)
        .bind(&bundle.name_km)
        .bind(&bundle.name_en)
        .bind(&bundle.notes)
        .bind(sqlx::types::Json(&bundle.items))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_service(
    conn: &mut PgConnection,
    version: &str,
    service: &ServiceEntry,
) -> Result<(), AppError> {
    let max_quantity = i32::try_from(service.max_quantity).map_err(AppError::internal)?;
    let source_rows = service
        .source_rows
        .iter()
        .map(|row| i32::try_from(*row))
        .collect::<Result<Vec<i32>, _>>()
        .map_err(AppError::internal)?;
    // language=PostgreSQL
    sqlx::query(
        "insert into fee_schedule_services (schedule_version, code, sector_code, name_km, name_en, currency,
             unit, max_quantity, level, time_limit_days, time_limit_text, validity, legal_basis,
             legal_basis_number, legal_basis_date, source, source_rows, notes, fee_rule)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(version)
    .bind(&service.code)
    .bind(&service.sector)
    .bind(&service.name_km)
    .bind(&service.name_en)
    .bind(service.currency.code())
    .bind(&service.unit)
    .bind(max_quantity)
    .bind(&service.level)
    .bind(service.time_limit_days)
    .bind(&service.time_limit_text)
    .bind(&service.validity)
    .bind(&service.legal_basis)
    .bind(&service.legal_basis_number)
    .bind(service.legal_basis_date)
    .bind(&service.source)
    .bind(source_rows)
    .bind(&service.notes)
    .bind(sqlx::types::Json(&service.rule))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
