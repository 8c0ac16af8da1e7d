//! Fee schedule versions: their headers, services and bundles. Store functions: they take a
//! connection and never begin or commit; the app function that calls them owns the
//! transaction.

use chrono::{DateTime, NaiveDate, Utc};
use ledger::Currency;
use sqlx::types::Json;
use sqlx::PgConnection;

use crate::app::error::AppError;
use crate::app::fees::model::{BundleEntry, BundleItem, ScheduleHeader, ServiceEntry};
use crate::app::fees::rules::FeeRule;

/// A version and when it was published.
#[derive(Clone, Debug)]
pub struct VersionRow {
    pub header: ScheduleHeader,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// The version in force on `day`, if any: the one that took effect last.
pub async fn in_force(
    conn: &mut PgConnection,
    day: NaiveDate,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        // language=PostgreSQL
        "select version from fee_schedules where effective_from <= $1
         order by effective_from desc limit 1",
        day,
    )
    .fetch_optional(&mut *conn)
    .await
}

pub async fn exists(conn: &mut PgConnection, version: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        // language=PostgreSQL
        r#"select exists(select 1 from fee_schedules where version = $1) as "exists!""#,
        version,
    )
    .fetch_one(&mut *conn)
    .await
}

/// Whether no version was ever published (the bootstrap seed may take effect today).
pub async fn is_empty(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        // language=PostgreSQL
        r#"select not exists(select 1 from fee_schedules) as "empty!""#
    )
    .fetch_one(&mut *conn)
    .await
}

/// Another version than `version` that takes effect on `effective_from`, if any.
pub async fn version_starting_on(
    conn: &mut PgConnection,
    effective_from: NaiveDate,
    version: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        // language=PostgreSQL
        "select version from fee_schedules where effective_from = $1 and version <> $2",
        effective_from,
        version,
    )
    .fetch_optional(&mut *conn)
    .await
}

/// The version that took effect last before `effective_from`.
pub async fn version_before(
    conn: &mut PgConnection,
    effective_from: NaiveDate,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        // language=PostgreSQL
        "select version from fee_schedules where effective_from < $1
         order by effective_from desc limit 1",
        effective_from,
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Every version, oldest effective date first.
pub async fn versions(conn: &mut PgConnection) -> Result<Vec<VersionRow>, sqlx::Error> {
    let rows = sqlx::query!(
        // language=PostgreSQL
        "select version, effective_from, legal_basis, notes, created_by, created_at
         from fee_schedules order by effective_from"
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| VersionRow {
            header: ScheduleHeader {
                version: row.version,
                effective_from: row.effective_from,
                legal_basis: row.legal_basis,
                notes: row.notes,
            },
            created_by: row.created_by,
            created_at: row.created_at,
        })
        .collect())
}

pub async fn header(
    conn: &mut PgConnection,
    version: &str,
) -> Result<Option<ScheduleHeader>, sqlx::Error> {
    sqlx::query_as!(
        ScheduleHeader,
        // language=PostgreSQL
        "select version, effective_from, legal_basis, notes from fee_schedules where version = $1",
        version,
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Takes the lock that lets one catalog change run at a time across instances; it is
/// released when the caller's transaction ends.
pub async fn lock_for_change(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!(
        // language=PostgreSQL
        "select pg_advisory_xact_lock(hashtext('owso_pay.catalog'))"
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn insert_header(
    conn: &mut PgConnection,
    header: &ScheduleHeader,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        // language=PostgreSQL
        "insert into fee_schedules (version, effective_from, legal_basis, notes, created_by)
         values ($1, $2, $3, $4, $5)",
        header.version,
        header.effective_from,
        header.legal_basis,
        header.notes,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces a version's header and drops its services and bundles, which the caller then
/// writes again.
pub async fn clear_for_replacement(
    conn: &mut PgConnection,
    header: &ScheduleHeader,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        // language=PostgreSQL
        "delete from fee_schedule_services where schedule_version = $1",
        header.version,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        // language=PostgreSQL
        "delete from fee_schedule_bundles where schedule_version = $1",
        header.version,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        // language=PostgreSQL
        "update fee_schedules set effective_from = $2, legal_basis = $3, notes = $4, updated_at = now()
         where version = $1",
        header.version,
        header.effective_from,
        header.legal_basis,
        header.notes,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn insert_service(
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
    sqlx::query!(
        // language=PostgreSQL
        "insert into fee_schedule_services (schedule_version, code, sector_code, name_km, name_en, currency,
             unit, max_quantity, level, time_limit_days, time_limit_text, validity, legal_basis,
             legal_basis_number, legal_basis_date, source, source_rows, notes, fee_rule,
             legal_basis_public)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                 $20)",
        version,
        service.code,
        service.sector,
        service.name_km,
        service.name_en,
        service.currency.code(),
        service.unit,
        max_quantity,
        service.level,
        service.time_limit_days,
        service.time_limit_text,
        service.validity,
        service.legal_basis,
        service.legal_basis_number,
        service.legal_basis_date,
        service.source,
        &source_rows,
        service.notes,
        Json(&service.rule) as _,
        service.legal_basis_public,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn insert_bundle(
    conn: &mut PgConnection,
    version: &str,
    bundle: &BundleEntry,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        // language=PostgreSQL
        "insert into fee_schedule_bundles (schedule_version, code, name_km, name_en, notes, items)
         values ($1, $2, $3, $4, $5, $6)",
        version,
        bundle.code,
        bundle.name_km,
        bundle.name_en,
        bundle.notes,
        Json(&bundle.items) as _,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A stored service, before its currency and source rows are read back into their types.
struct ServiceRow {
    code: String,
    sector_code: String,
    name_km: String,
    name_en: String,
    currency: String,
    unit: String,
    max_quantity: i32,
    level: String,
    time_limit_days: Option<i32>,
    time_limit_text: String,
    validity: String,
    legal_basis: String,
    legal_basis_public: String,
    legal_basis_number: String,
    legal_basis_date: Option<NaiveDate>,
    source: String,
    source_rows: Vec<i32>,
    notes: String,
    fee_rule: Json<FeeRule>,
}

impl TryFrom<ServiceRow> for ServiceEntry {
    type Error = AppError;

    fn try_from(row: ServiceRow) -> Result<ServiceEntry, AppError> {
        let currency: Currency = row.currency.trim().parse().map_err(|_| {
            AppError::internal(format!(
                "service {} has currency {:?}",
                row.code, row.currency
            ))
        })?;
        let source_rows = row
            .source_rows
            .iter()
            .map(|number| u32::try_from(*number))
            .collect::<Result<Vec<u32>, _>>()
            .map_err(AppError::internal)?;
        Ok(ServiceEntry {
            code: row.code,
            sector: row.sector_code,
            name_km: row.name_km,
            name_en: row.name_en,
            currency,
            unit: row.unit,
            max_quantity: i64::from(row.max_quantity),
            level: row.level,
            time_limit_days: row.time_limit_days,
            time_limit_text: row.time_limit_text,
            validity: row.validity,
            legal_basis: row.legal_basis,
            legal_basis_public: row.legal_basis_public,
            legal_basis_number: row.legal_basis_number,
            legal_basis_date: row.legal_basis_date,
            source: row.source,
            source_rows,
            notes: row.notes,
            rule: row.fee_rule.0,
        })
    }
}

/// Services of `version`, those of `codes` when given, filtered by sector and by an ILIKE
/// pattern over names and codes; ordered by sector number (the order of `GET /v1/sectors`)
/// and code.
pub async fn search_services(
    conn: &mut PgConnection,
    version: &str,
    codes: Option<&[String]>,
    sector: Option<&str>,
    pattern: Option<&str>,
) -> Result<Vec<ServiceEntry>, AppError> {
    let rows = sqlx::query_as!(
        ServiceRow,
        // language=PostgreSQL
        r#"select s.code, s.sector_code, s.name_km, s.name_en, s.currency, s.unit,
                  s.max_quantity, s.level, s.time_limit_days, s.time_limit_text, s.validity,
                  s.legal_basis, s.legal_basis_public, s.legal_basis_number, s.legal_basis_date, s.source,
                  s.source_rows, s.notes, s.fee_rule as "fee_rule: Json<FeeRule>"
           from fee_schedule_services s join sectors t on t.code = s.sector_code
           where s.schedule_version = $1
             and ($2::text[] is null or s.code = any($2))
             and ($3::text is null or s.sector_code = $3)
             and ($4::text is null or s.name_en ilike $4 or s.name_km like $4 or s.code ilike $4)
           order by t.number, s.code"#,
        version,
        codes,
        sector,
        pattern,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(ServiceEntry::try_from).collect()
}

/// Bundles of `version`: all, or the one named `code`.
pub async fn bundles(
    conn: &mut PgConnection,
    version: &str,
    code: Option<&str>,
) -> Result<Vec<BundleEntry>, sqlx::Error> {
    let rows = sqlx::query!(
        // language=PostgreSQL
        r#"select code, name_km, name_en, notes, items as "items: Json<Vec<BundleItem>>"
           from fee_schedule_bundles
           where schedule_version = $1 and ($2::text is null or code = $2) order by code"#,
        version,
        code,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| BundleEntry {
            code: row.code,
            name_km: row.name_km,
            name_en: row.name_en,
            notes: row.notes,
            items: row.items.0,
        })
        .collect())
}
