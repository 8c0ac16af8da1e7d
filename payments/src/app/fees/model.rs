//! What a fee schedule version holds: its header, its services (each with a fee rule) and its
//! bundles. These are checked values: they come from [`super::csv_format::parse`] or from the
//! database, which only ever stored parsed values.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledger::Currency;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rules::FeeRule;

/// A schedule version: in force from `effective_from` (a Cambodian calendar date) until the
/// next version's `effective_from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScheduleHeader {
    pub version: String,
    pub effective_from: NaiveDate,
    pub legal_basis: String,
    pub notes: String,
}

/// The administrative level that publishes a fee. USD is allowed only for national services.
pub const LEVELS: [&str; 4] = ["district", "provincial", "national", "unstated"];

/// One service of a schedule version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceEntry {
    pub code: String,
    pub sector: String,
    pub name_km: String,
    pub name_en: String,
    pub currency: Currency,
    /// What one unit of `quantity` is (permit, room, sheet, day, ...).
    pub unit: String,
    /// The most units one quote line may ask for; more is refused as absurd.
    pub max_quantity: i64,
    pub level: String,
    /// The time limit in working days (the upper end when the source gives a range).
    pub time_limit_days: Option<i32>,
    /// The time limit as the source writes it ("3-5", "1 month").
    pub time_limit_text: String,
    pub validity: String,
    /// The source's text about the legal basis, research notes included ("not printed in the
    /// page excerpt (presumably ...)"): for auditors and the catalog export, never for citizens.
    pub legal_basis: String,
    /// The citation citizens are shown, as the source prints it; empty when the source prints
    /// none (pages then say that the legal basis is not published).
    pub legal_basis_public: String,
    pub legal_basis_number: String,
    pub legal_basis_date: Option<NaiveDate>,
    pub source: String,
    /// Rows of `payments/data/sources/owso-fees-sourced.csv` this service is built from.
    pub source_rows: Vec<u32>,
    pub notes: String,
    pub rule: FeeRule,
}

/// One service of a bundle, with the parameters the bundle fixes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleItem {
    pub service_code: String,
    #[serde(default = "one")]
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
}

fn one() -> i64 {
    1
}

/// A service package: one quote and one payment for several services, each line still
/// credited to its own sector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BundleEntry {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
    pub notes: String,
    pub items: Vec<BundleItem>,
}

/// A whole schedule version, services and bundles sorted by code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    pub header: ScheduleHeader,
    pub services: Vec<ServiceEntry>,
    pub bundles: Vec<BundleEntry>,
}

/// How much a catalog prices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CatalogCounts {
    pub services: usize,
    pub bundles: usize,
    /// Published prices (a maximum with a preferential price counts two; free counts one).
    pub price_points: usize,
    /// Tiers known to exist without a sourced fee (`unpublished` leaves).
    pub unpublished_price_points: usize,
    /// Services with no published price at all.
    pub unpublished_services: usize,
}

impl Catalog {
    pub fn counts(&self) -> CatalogCounts {
        let mut counts = CatalogCounts {
            services: self.services.len(),
            bundles: self.bundles.len(),
            ..CatalogCounts::default()
        };
        for service in &self.services {
            let mut published = 0;
            for point in service.rule.price_points() {
                let prices = point.published_prices();
                published += prices;
                if prices == 0 {
                    counts.unpublished_price_points += 1;
                }
            }
            counts.price_points += published;
            if published == 0 {
                counts.unpublished_services += 1;
            }
        }
        counts
    }

    pub fn service(&self, code: &str) -> Option<&ServiceEntry> {
        self.services.iter().find(|service| service.code == code)
    }
}
