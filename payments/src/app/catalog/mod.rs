//! The public catalog: sectors, and the services and bundles of the schedule in force, each
//! described with what a client needs to quote it (its parameters and published prices).
//! Quotes live in [`super::quotes`]; the JSON views in `http::catalog::views`.

pub mod describe;
mod legal_basis;
pub mod page;

use super::fees::schedule;
use super::validation::is_lookup_text;
use crate::app::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::db::catalog::{self as store, Sector};
use crate::db::fee_schedules;
use crate::state::AppState;
use describe::{describe_bundle, describe_service, BundleDescription, ServiceDescription};
pub use legal_basis::{public_legal_basis, service_public_legal_basis};
pub use page::{catalog_page, CatalogPage, SectorServices};

/// Who reads the catalog: what a citizen may read, or that and the provenance (research notes,
/// sources, the rule documents) for those who check the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Public,
    Auditor,
}

impl Audience {
    /// Admin and auditor keys see the provenance; no key or any other key sees the public text.
    pub fn of(principal: Option<&Principal>) -> Audience {
        match principal.map(|principal| principal.role) {
            Some(Role::Admin | Role::Auditor) => Audience::Auditor,
            _ => Audience::Public,
        }
    }
}

/// Every sector, in the order of their numbers.
#[tracing::instrument(skip_all)]
pub async fn list_sectors(state: &AppState) -> Result<Vec<Sector>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(store::sectors(&mut conn).await?)
}

/// The ILIKE pattern of a search text. Khmer has no case; ILIKE handles the Latin names.
/// Wildcards in the text are escaped so that a search for "100%" means the literal text.
fn search_pattern(query: &str) -> String {
    let escaped = query
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Services of the schedule in force (or of `schedule_version`), by sector and text.
#[tracing::instrument(skip_all, fields(sector.code = sector, schedule.version = schedule_version))]
pub async fn list_services(
    state: &AppState,
    sector: Option<&str>,
    query: Option<&str>,
    schedule_version: Option<&str>,
) -> Result<Vec<ServiceDescription>, AppError> {
    if query.is_some_and(|q| !is_lookup_text(q, 200)) {
        return Err(AppError::validation(
            "q",
            "q must be at most 200 characters, without NUL",
        ));
    }
    if sector.is_some_and(|sector| !is_lookup_text(sector, 64)) {
        return Err(AppError::validation(
            "sector",
            "sector must be a sector code",
        ));
    }
    let pattern = query.map(search_pattern);
    let mut conn = state.pool.acquire().await?;
    if let Some(sector) = sector {
        // An unknown sector is a mistake, not a sector without services.
        if !store::sector_exists(&mut conn, sector).await? {
            return Err(AppError::not_found("sector").with("parameter", "sector"));
        }
    }
    let version = schedule::resolve(&mut conn, schedule_version).await?;
    let services =
        fee_schedules::search_services(&mut conn, &version, None, sector, pattern.as_deref())
            .await?;
    services
        .into_iter()
        .map(|service| describe_service(service, &version))
        .collect()
}

/// A service of the schedule in force.
#[tracing::instrument(skip_all, fields(service.code = code))]
pub async fn get_service(state: &AppState, code: &str) -> Result<ServiceDescription, AppError> {
    if !is_lookup_text(code, 64) {
        return Err(AppError::not_found("service"));
    }
    let mut conn = state.pool.acquire().await?;
    let version = schedule::resolve(&mut conn, None).await?;
    let codes = [code.to_owned()];
    let services =
        fee_schedules::search_services(&mut conn, &version, Some(&codes), None, None).await?;
    let service = services
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("service"))?;
    describe_service(service, &version)
}

/// Bundles of the schedule in force: all, or the one named `code` (404 if none).
#[tracing::instrument(skip_all, fields(bundle.code = code))]
pub async fn list_bundles(
    state: &AppState,
    code: Option<&str>,
) -> Result<Vec<BundleDescription>, AppError> {
    if code.is_some_and(|code| !is_lookup_text(code, 64)) {
        return Err(AppError::not_found("bundle"));
    }
    let mut conn = state.pool.acquire().await?;
    let version = schedule::resolve(&mut conn, None).await?;
    let bundles = fee_schedules::bundles(&mut conn, &version, code).await?;
    if code.is_some() && bundles.is_empty() {
        return Err(AppError::not_found("bundle"));
    }
    let codes: Vec<String> = bundles
        .iter()
        .flat_map(|bundle| bundle.items.iter().map(|item| item.service_code.clone()))
        .collect();
    let services =
        fee_schedules::search_services(&mut conn, &version, Some(&codes), None, None).await?;
    bundles
        .into_iter()
        .map(|bundle| describe_bundle(bundle, &services, &version))
        .collect()
}
