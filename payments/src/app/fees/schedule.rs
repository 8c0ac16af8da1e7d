//! Schedule versions: which version is in force, which one a request reads, and a whole
//! version as one [`Catalog`]. The statements are in [`crate::db::fee_schedules`];
//! [`super::publish`] writes versions.

use chrono::{Duration, NaiveDate, Utc};
use sqlx::PgConnection;

use super::model::Catalog;
use crate::app::error::AppError;
use crate::db::fee_schedules;

/// Today's date in Cambodia (ICT, UTC+7 all year: no daylight saving), the calendar that
/// effective dates are written in.
pub fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

/// The version to read: the one asked for (404 if unknown) or the one in force today.
#[tracing::instrument(skip_all, fields(schedule.version = asked))]
pub async fn resolve(conn: &mut PgConnection, asked: Option<&str>) -> Result<String, AppError> {
    match asked {
        Some(version) if !crate::app::validation::is_lookup_text(version, 64) => {
            Err(AppError::not_found("fee schedule"))
        }
        Some(version) => {
            if fee_schedules::exists(conn, version).await? {
                Ok(version.to_owned())
            } else {
                Err(AppError::not_found("fee schedule"))
            }
        }
        None => fee_schedules::in_force(conn, today())
            .await?
            .ok_or_else(|| AppError::not_found("fee schedule in force")),
    }
}

/// A whole version, as [`super::csv_format::export`] writes it: services and bundles sorted
/// by code.
#[tracing::instrument(skip_all, fields(schedule.version = version))]
pub async fn load(conn: &mut PgConnection, version: &str) -> Result<Option<Catalog>, AppError> {
    let Some(header) = fee_schedules::header(conn, version).await? else {
        return Ok(None);
    };
    let mut services =
        fee_schedules::search_services(conn, &header.version, None, None, None).await?;
    services.sort_by(|left, right| left.code.cmp(&right.code));
    let bundles = fee_schedules::bundles(conn, &header.version, None).await?;
    Ok(Some(Catalog {
        header,
        services,
        bundles,
    }))
}
