//! Schedule versions in the database: which version is in force, and reading a version's
//! services and bundles ([`super::publish`] writes them). Store functions: they take a
//! connection and never begin or commit; the caller owns the transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ledger::Currency;
use sqlx::{FromRow, PgConnection};

use super::model::{BundleEntry, BundleItem, Catalog, ScheduleHeader, ServiceEntry};
use super::rules::FeeRule;
use crate::app::error::AppError;

/// Today's date in Cambodia (ICT, UTC+7 all year: no daylight saving), the calendar that
/// effective dates are written in.
pub fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

/// The version in force on `day`, if any.
pub async fn in_force(
    conn: &mut PgConnection,
    day: NaiveDate,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select version from fee_schedules where effective_from <= $1 order by effective_from desc limit 1",
    )
    .bind(day)
    .fetch_optional(&mut *conn)
    .await
}

/// The version to read: the one asked for (404 if unknown) or the one in force today.
pub async fn resolve(conn: &mut PgConnection, asked: Option<&str>) -> Result<String, AppError> {
    match asked {
        Some(version) if !crate::app::validation::is_lookup_text(version, 64) => {
            Err(AppError::not_found("fee schedule"))
        }
        Some(version) => {
            let exists: bool =
                sqlx::query_scalar("select exists(select 1 from fee_schedules where version = $1)")
                    .bind(version)
                    .fetch_one(&mut *conn)
                    .await?;
            if exists {
                Ok(version.to_owned())
            } else {
                Err(AppError::not_found("fee schedule"))
            }
        }
        None => in_force(conn, today())
            .await?
            .ok_or_else(|| AppError::not_found("fee schedule in force")),
    }
}

pub async fn sector_codes(conn: &mut PgConnection) -> Result<BTreeSet<String>, sqlx::Error> {
    let codes: Vec<String> = sqlx::query_scalar("select code from sectors")
        .fetch_all(&mut *conn)
        .await?;
    Ok(codes.into_iter().collect())
}

#[derive(FromRow)]
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
    legal_basis_number: String,
    legal_basis_date: Option<NaiveDate>,
    source: String,
    source_rows: Vec<i32>,
    notes: String,
    fee_rule: sqlx::types::Json<FeeRule>,
}

const SERVICE_COLUMNS: &str = "s.code, s.sector_code, s.name_km, s.name_en, s.currency, s.unit, \
    s.max_quantity, s.level, s.time_limit_days, s.time_limit_text, s.validity, s.legal_basis, \
    s.legal_basis_number, s.legal_basis_date, s.source, s.source_rows, s.notes, s.fee_rule";

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
            legal_basis_number: row.legal_basis_number,
            legal_basis_date: row.legal_basis_date,
            source: row.source,
            source_rows,
            notes: row.notes,
            rule: row.fee_rule.0,
        })
    }
}

/// Services of `version`: all, or those whose code is in `codes`; ordered by sector number
/// (the order of `GET /v1/sectors`) and code.
pub async fn services(
    conn: &mut PgConnection,
    version: &str,
    codes: Option<&[String]>,
) -> Result<Vec<ServiceEntry>, AppError> {
    search(conn, version, codes, None, None).await
}

/// Services of `version` filtered by sector and by a pattern over names and codes (ILIKE).
pub async fn search(
    conn: &mut PgConnection,
    version: &str,
    codes: Option<&[String]>,
    sector: Option<&str>,
    pattern: Option<&str>,
) -> Result<Vec<ServiceEntry>, AppError> {
    // language=PostgreSQL
    let rows: Vec<ServiceRow> = sqlx::query_as(&format!(
        "select {SERVICE_COLUMNS} from fee_schedule_services s join sectors t on t.code = s.sector_code
         where s.schedule_version = $1
           and ($2::text[] is null or s.code = any($2))
           and ($3::text is null or s.sector_code = $3)
           and ($4::text is null or s.name_en ilike $4 or s.name_km like $4 or s.code ilike $4)
         order by t.number, s.code"
    ))
    .bind(version)
    .bind(codes)
    .bind(sector)
    .bind(pattern)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(ServiceEntry::try_from).collect()
}

/// code, name_km, name_en, notes, items.
type BundleRow = (
    String,
    String,
    String,
    String,
    sqlx::types::Json<Vec<BundleItem>>,
);

/// Bundles of `version`: all, or the one named `code`.
pub async fn bundles(
    conn: &mut PgConnection,
    version: &str,
    code: Option<&str>,
) -> Result<Vec<BundleEntry>, AppError> {
    let rows: Vec<BundleRow> = sqlx::query_as(
        "select code, name_km, name_en, notes, items from fee_schedule_bundles
             where schedule_version = $1 and ($2::text is null or code = $2) order by code",
    )
    .bind(version)
    .bind(code)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(code, name_km, name_en, notes, items)| BundleEntry {
            code,
            name_km,
            name_en,
            notes,
            items: items.0,
        })
        .collect())
}

/// A version and when it was published.
#[derive(Clone, Debug)]
pub struct VersionRow {
    pub header: ScheduleHeader,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// Every version, oldest effective date first.
pub async fn versions(conn: &mut PgConnection) -> Result<Vec<VersionRow>, sqlx::Error> {
    let rows: Vec<(String, NaiveDate, String, String, String, DateTime<Utc>)> = sqlx::query_as(
        "select version, effective_from, legal_basis, notes, created_by, created_at
         from fee_schedules order by effective_from",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(version, effective_from, legal_basis, notes, created_by, created_at)| VersionRow {
                header: ScheduleHeader {
                    version,
                    effective_from,
                    legal_basis,
                    notes,
                },
                created_by,
                created_at,
            },
        )
        .collect())
}

/// A whole version, as [`super::csv_format::export`] writes it.
pub async fn load(conn: &mut PgConnection, version: &str) -> Result<Option<Catalog>, AppError> {
    let header: Option<(String, NaiveDate, String, String)> = sqlx::query_as(
        "select version, effective_from, legal_basis, notes from fee_schedules where version = $1",
    )
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((version, effective_from, legal_basis, notes)) = header else {
        return Ok(None);
    };
    let mut services = services(conn, &version, None).await?;
    services.sort_by(|left, right| left.code.cmp(&right.code));
    let bundles = bundles(conn, &version, None).await?;
    Ok(Some(Catalog {
        header: ScheduleHeader {
            version,
            effective_from,
            legal_basis,
            notes,
        },
        services,
        bundles,
    }))
}
