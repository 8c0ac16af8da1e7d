//! The JSON of the catalog: sectors, services with their parameters and prices, bundles, and
//! schedule versions.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::catalog::describe::{
    BundleDescription, BundleLine, ServiceDescription, ServiceParameter, ServicePrice,
};
use crate::app::catalog::{public_legal_basis, service_public_legal_basis, Audience};
use crate::app::fees::admin::Schedule;
use crate::app::fees::rules::FeeRule;
use crate::app::money::MoneyView;
use crate::app::quotes::QuoteLine;
use crate::db::catalog::Sector;

#[derive(Debug, Serialize, ToSchema)]
pub struct SectorView {
    pub code: String,
    pub number: i32,
    pub name_km: String,
    pub name_en: String,
}

impl From<Sector> for SectorView {
    fn from(sector: Sector) -> SectorView {
        SectorView {
            code: sector.code,
            number: sector.number,
            name_km: sector.name_km,
            name_en: sector.name_en,
        }
    }
}

/// A parameter a service's fee reads (or `quantity`, the counted units of a line).
#[derive(Debug, Serialize, ToSchema)]
pub struct ParameterView {
    pub name: String,
    /// `decimal`, `integer` or `string`.
    #[serde(rename = "type")]
    pub type_name: String,
    pub unit: Option<String>,
    /// Smallest value, as exact decimal text.
    pub minimum: Option<String>,
    /// Whether `minimum` itself is excluded (areas are greater than 0).
    pub exclusive_minimum: bool,
    pub maximum: Option<String>,
    /// The values this service prices, for choices.
    pub values: Option<Vec<String>>,
    /// Required where the rule reaches it; `province_group` defaults to the office's group and
    /// `preferential_reason` is only for a preferential price.
    pub required: bool,
    pub description: String,
}

impl From<ServiceParameter> for ParameterView {
    fn from(parameter: ServiceParameter) -> ParameterView {
        ParameterView {
            name: parameter.name,
            type_name: parameter.value_type.as_str().to_owned(),
            unit: parameter.unit,
            minimum: parameter.minimum.map(|minimum| minimum.to_string()),
            exclusive_minimum: parameter.exclusive_minimum,
            maximum: parameter.maximum.map(|maximum| maximum.to_string()),
            values: parameter.values,
            required: parameter.required,
            description: parameter.description,
        }
    }
}

/// One published price (or unpublished tier) and the conditions that select it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PricePointView {
    /// Parameter → band (interval notation) or value.
    pub conditions: BTreeMap<String, String>,
    /// `fixed`, `per_unit`, `maximum`, `free` or `unpublished`.
    pub rule: String,
    pub amount: Option<MoneyView>,
    /// The preferential price of a `maximum`, charged with a `preferential_reason`.
    pub preferential: Option<MoneyView>,
    /// Admin and auditor keys only: rows of the sourced fee table behind the price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_rows: Option<Vec<u32>>,
    /// Admin and auditor keys only: the research note of an unpublished tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl PricePointView {
    fn render(price: ServicePrice, audience: Audience) -> PricePointView {
        let provenance = audience == Audience::Auditor;
        PricePointView {
            conditions: price.conditions,
            rule: price.rule.to_owned(),
            amount: price.amount.map(MoneyView::from),
            preferential: price.preferential.map(MoneyView::from),
            source_rows: provenance.then_some(price.source_rows),
            note: price.note.filter(|_| provenance),
        }
    }
}

/// A service as the catalog publishes it. Without a key (or with a key other than admin or
/// auditor) it carries only what a citizen may read; the provenance fields (`legal_basis_note`,
/// `fee_rule`, `source`, `source_rows`, `notes`) are for admin and auditor keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub code: String,
    pub sector: String,
    pub name_km: String,
    pub name_en: String,
    pub currency: String,
    pub unit: String,
    pub max_quantity: i64,
    /// The price of one unit when the fee is one fixed price; null otherwise (see `price_points`).
    pub unit_price: Option<MoneyView>,
    /// Whether any price of the service is published (false: quoting it is `fee_not_published`).
    pub fee_published: bool,
    pub parameters: Vec<ParameterView>,
    pub price_points: Vec<PricePointView>,
    pub time_limit_days: Option<i32>,
    pub time_limit_text: String,
    pub validity: String,
    /// `district`, `provincial`, `national` or `unstated`.
    pub level: String,
    /// The legal basis as the source prints it (an instrument with its number and date), or
    /// null when the source prints none: "legal basis not published".
    pub legal_basis: Option<String>,
    pub legal_basis_number: String,
    pub legal_basis_date: Option<NaiveDate>,
    pub schedule_version: String,
    /// Admin and auditor keys only: the source's text about the legal basis, research notes
    /// included (the catalog file's `legal_basis` column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis_note: Option<String>,
    /// Admin and auditor keys only: the fee rule document itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub fee_rule: Option<FeeRule>,
    /// Admin and auditor keys only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Admin and auditor keys only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_rows: Option<Vec<u32>>,
    /// Admin and auditor keys only: provenance notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl ServiceView {
    /// The service as `audience` may read it.
    pub fn render(description: ServiceDescription, audience: Audience) -> ServiceView {
        let provenance = audience == Audience::Auditor;
        let service = description.service;
        ServiceView {
            legal_basis: service_public_legal_basis(&service.legal_basis_public),
            code: service.code,
            sector: service.sector,
            name_km: service.name_km,
            name_en: service.name_en,
            currency: service.currency.code().to_owned(),
            unit: service.unit,
            max_quantity: service.max_quantity,
            unit_price: description.unit_price.map(MoneyView::from),
            fee_published: description.fee_published,
            parameters: description
                .parameters
                .into_iter()
                .map(ParameterView::from)
                .collect(),
            price_points: description
                .prices
                .into_iter()
                .map(|price| PricePointView::render(price, audience))
                .collect(),
            time_limit_days: service.time_limit_days,
            time_limit_text: service.time_limit_text,
            validity: service.validity,
            level: service.level,
            legal_basis_number: service.legal_basis_number,
            legal_basis_date: service.legal_basis_date,
            schedule_version: description.schedule_version,
            legal_basis_note: provenance.then_some(service.legal_basis),
            fee_rule: provenance.then_some(service.rule),
            source: provenance.then_some(service.source),
            source_rows: provenance.then_some(service.source_rows),
            notes: provenance.then_some(service.notes),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BundleItemView {
    pub service_code: String,
    pub sector: String,
    pub name_km: String,
    pub name_en: String,
    pub quantity: i64,
    /// Parameters the bundle fixes for this service.
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, Value>,
}

impl From<BundleLine> for BundleItemView {
    fn from(line: BundleLine) -> BundleItemView {
        BundleItemView {
            service_code: line.service_code,
            sector: line.sector,
            name_km: line.name_km,
            name_en: line.name_en,
            quantity: line.quantity,
            params: line.params,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BundleView {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
    /// Admin and auditor keys only: how the bundle was assembled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub currency: String,
    pub items: Vec<BundleItemView>,
    /// Parameters a quote request may give (`params`), shared by the services that read them.
    pub parameters: Vec<String>,
    pub schedule_version: String,
}

impl BundleView {
    /// The bundle as `audience` may read it.
    pub fn render(description: BundleDescription, audience: Audience) -> BundleView {
        let bundle = description.bundle;
        BundleView {
            code: bundle.code,
            name_km: bundle.name_km,
            name_en: bundle.name_en,
            notes: (audience == Audience::Auditor).then_some(bundle.notes),
            currency: description.currency.code().to_owned(),
            items: description
                .lines
                .into_iter()
                .map(BundleItemView::from)
                .collect(),
            parameters: description.open_parameters,
            schedule_version: description.schedule_version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    pub version: String,
    /// First day in force (Cambodian date).
    pub effective_from: NaiveDate,
    /// First day of the next version (exclusive end), if one is published.
    pub effective_to: Option<NaiveDate>,
    /// `in_force`, `scheduled` or `superseded`.
    pub status: String,
    pub legal_basis: String,
    /// Admin and auditor keys only: provenance notes of the version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl ScheduleView {
    /// The version as `audience` may read it.
    pub fn render(schedule: Schedule, audience: Audience) -> ScheduleView {
        ScheduleView {
            version: schedule.header.version,
            effective_from: schedule.header.effective_from,
            effective_to: schedule.effective_to,
            status: schedule.status.as_str().to_owned(),
            legal_basis: schedule.header.legal_basis,
            notes: (audience == Audience::Auditor).then_some(schedule.header.notes),
            created_at: schedule.created_at,
        }
    }
}

/// A priced line as citizens see it (the public payment view): what they pay for and the legal
/// basis they may read. The revenue account, the rule path and the provenance note stay in the
/// keyed views (`GET /v1/quotes/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicQuoteLineView {
    pub service_code: String,
    pub description_km: String,
    pub description_en: String,
    pub quantity: i64,
    pub unit: String,
    pub unit_price: MoneyView,
    pub amount: MoneyView,
    /// The citation as the source prints it, or null: "legal basis not published".
    pub legal_basis: Option<String>,
}

impl From<&QuoteLine> for PublicQuoteLineView {
    fn from(line: &QuoteLine) -> PublicQuoteLineView {
        PublicQuoteLineView {
            service_code: line.service_code.clone(),
            description_km: line.description_km.clone(),
            description_en: line.description_en.clone(),
            quantity: line.quantity,
            unit: line.unit.clone(),
            unit_price: line.unit_price.clone(),
            amount: line.amount.clone(),
            legal_basis: public_legal_basis(line),
        }
    }
}
