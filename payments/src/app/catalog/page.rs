//! The catalog as the public services page shows it: the sectors in their order, each with the
//! services of the schedule in force that match a search (the same data as `GET /v1/services`).

use super::describe::{describe_service, ServiceDescription};
use super::search_pattern;
use crate::app::error::AppError;
use crate::app::validation::is_lookup_text;
use crate::db::catalog::{self as store, Sector};
use crate::db::fee_schedules;
use crate::state::AppState;

/// Longest search text the page takes, in characters (as `GET /v1/services?q=`).
pub const MAX_QUERY_CHARS: usize = 200;

/// A sector and its services that match.
#[derive(Debug)]
pub struct SectorServices {
    pub sector: Sector,
    pub services: Vec<ServiceDescription>,
}

/// What the services page shows.
#[derive(Debug)]
pub struct CatalogPage {
    /// Every sector, for the sector filter.
    pub all_sectors: Vec<Sector>,
    /// The sectors shown: all of them when nothing is asked, the one asked for, or those with
    /// services matching the search.
    pub sectors: Vec<SectorServices>,
    /// The search text as understood (trimmed; empty when none).
    pub query: String,
    /// The sector asked for, if any.
    pub sector: Option<String>,
    /// Whether the search text could not be used (a NUL, or longer than [`MAX_QUERY_CHARS`]):
    /// the page says so and lists nothing rather than fail.
    pub query_refused: bool,
    /// Services shown.
    pub matched: usize,
    /// The schedule version the fees come from (none in force: no services).
    pub schedule_version: Option<String>,
}

/// The services page: sectors and the services of the schedule in force matching `query`
/// (Khmer or English names, or codes) in `sector`.
///
/// # Errors
///
/// `NotFound` for a sector that does not exist (the page answers its 404 page).
#[tracing::instrument(skip_all, fields(sector.code = sector))]
pub async fn catalog_page(
    state: &AppState,
    sector: Option<&str>,
    query: Option<&str>,
) -> Result<CatalogPage, AppError> {
    let sector = sector.map(str::trim).filter(|sector| !sector.is_empty());
    let query = query.map(str::trim).unwrap_or_default();
    let query_refused = !is_lookup_text(query, MAX_QUERY_CHARS);
    let mut conn = state.pool.acquire().await?;
    let all_sectors = store::sectors(&mut conn).await?;
    if let Some(code) = sector {
        if !all_sectors.iter().any(|known| known.code == code) {
            return Err(AppError::not_found("sector"));
        }
    }
    let version = fee_schedules::in_force(&mut conn, super::schedule::today()).await?;
    let services = match (&version, query_refused) {
        (Some(version), false) => {
            let pattern = Some(query)
                .filter(|query| !query.is_empty())
                .map(search_pattern);
            fee_schedules::search_services(&mut conn, version, None, sector, pattern.as_deref())
                .await?
                .into_iter()
                .map(|service| describe_service(service, version))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => Vec::new(),
    };
    let matched = services.len();
    let searching = !query.is_empty() || query_refused;
    let mut sectors = Vec::new();
    for known in &all_sectors {
        if sector.is_some_and(|code| code != known.code) {
            continue;
        }
        let in_sector: Vec<ServiceDescription> = services
            .iter()
            .filter(|description| description.service.sector == known.code)
            .cloned()
            .collect();
        // A search shows the sectors it found something in; browsing shows every sector,
        // the empty ones saying so.
        if searching && in_sector.is_empty() {
            continue;
        }
        sectors.push(SectorServices {
            sector: known.clone(),
            services: in_sector,
        });
    }
    Ok(CatalogPage {
        all_sectors,
        sectors,
        query: if query_refused {
            String::new()
        } else {
            query.to_owned()
        },
        sector: sector.map(str::to_owned),
        query_refused,
        matched,
        schedule_version: version,
    })
}
