//! The public catalog: sectors, and the services and bundles of the schedule in force, each
//! described with what a client needs to quote it (its parameters and published prices).
//! Quotes live in [`super::quotes`]; the JSON views in `http::catalog::views`.

use std::collections::{BTreeMap, BTreeSet};

use ledger::{Currency, Money};
use rust_decimal::Decimal;
use serde_json::Value;

use super::fees::model::{BundleEntry, ServiceEntry};
use super::fees::params::{self, ParameterKind};
use super::fees::rules::FeeRule;
use super::fees::schedule;
use super::validation::is_lookup_text;
use crate::app::error::AppError;
use crate::db::catalog::{self as store, Sector};
use crate::db::fee_schedules;
use crate::state::AppState;

/// The type of a parameter's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Decimal,
    Integer,
    Text,
}

impl ValueType {
    /// The JSON type name.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Decimal => "decimal",
            ValueType::Integer => "integer",
            ValueType::Text => "string",
        }
    }
}

/// A parameter a service's fee reads (or `quantity`, the counted units of a line).
#[derive(Clone, Debug)]
pub struct ServiceParameter {
    pub name: String,
    pub value_type: ValueType,
    pub unit: Option<String>,
    pub minimum: Option<Decimal>,
    /// Whether `minimum` itself is excluded (areas are greater than 0).
    pub exclusive_minimum: bool,
    pub maximum: Option<Decimal>,
    /// The values this service prices, for choices.
    pub values: Option<Vec<String>>,
    /// Required where the rule reaches it; `province_group` defaults to the office's group and
    /// `preferential_reason` is only for a preferential price.
    pub required: bool,
    pub description: String,
}

/// One published price (or unpublished tier) and the conditions that select it.
#[derive(Clone, Debug)]
pub struct ServicePrice {
    /// Parameter → band (interval notation) or value.
    pub conditions: BTreeMap<String, String>,
    /// The kind of the leaf: `fixed`, `per_unit`, `maximum`, `free` or `unpublished`.
    pub rule: &'static str,
    pub amount: Option<Money>,
    /// The preferential price of a `maximum`, charged with a `preferential_reason`.
    pub preferential: Option<Money>,
    pub source_rows: Vec<u32>,
    pub note: Option<String>,
}

/// A service of a schedule version, with its parameters and prices.
#[derive(Clone, Debug)]
pub struct ServiceDescription {
    pub service: ServiceEntry,
    /// The price of one unit when the fee is one fixed price.
    pub unit_price: Option<Money>,
    /// Whether any price of the service is published (otherwise quoting it is refused).
    pub fee_published: bool,
    pub parameters: Vec<ServiceParameter>,
    pub prices: Vec<ServicePrice>,
    pub schedule_version: String,
}

/// One service of a bundle, as the bundle fixes it.
#[derive(Clone, Debug)]
pub struct BundleLine {
    pub service_code: String,
    pub sector: String,
    pub name_km: String,
    pub name_en: String,
    pub quantity: i64,
    pub params: BTreeMap<String, Value>,
}

/// A bundle of a schedule version, with the services it names.
#[derive(Clone, Debug)]
pub struct BundleDescription {
    pub bundle: BundleEntry,
    /// The currency of its services (riel for an empty bundle).
    pub currency: Currency,
    pub lines: Vec<BundleLine>,
    /// Parameters a quote request may give, shared by the services that read them.
    pub open_parameters: Vec<String>,
    pub schedule_version: String,
}

fn amount(text: &str, service: &ServiceEntry) -> Result<Money, AppError> {
    Money::parse(text, service.currency)
        .map_err(|error| AppError::internal(format!("service {} fee: {error}", service.code)))
}

/// The amount, preferential amount, source rows and note of a priced leaf; `None` for the
/// inner nodes (bands, choices), which price nothing themselves.
type LeafPrice = (Option<Money>, Option<Money>, Vec<u32>, Option<String>);

fn leaf_price(leaf: &FeeRule, service: &ServiceEntry) -> Result<Option<LeafPrice>, AppError> {
    Ok(Some(match leaf {
        FeeRule::Fixed {
            amount: text,
            source_rows,
        }
        | FeeRule::PerUnit {
            amount: text,
            source_rows,
        } => (Some(amount(text, service)?), None, source_rows.clone(), None),
        FeeRule::Maximum {
            amount: text,
            preferential,
            source_rows,
            ..
        } => (
            Some(amount(text, service)?),
            preferential
                .as_deref()
                .map(|text| amount(text, service))
                .transpose()?,
            source_rows.clone(),
            None,
        ),
        FeeRule::Free { source_rows } => (
            Some(Money::zero(service.currency)),
            None,
            source_rows.clone(),
            None,
        ),
        FeeRule::Unpublished { note } => (None, None, Vec::new(), note.clone()),
        FeeRule::Bands { .. } | FeeRule::Choice { .. } => return Ok(None),
    }))
}

fn prices(service: &ServiceEntry) -> Result<Vec<ServicePrice>, AppError> {
    let mut prices = Vec::new();
    for point in service.rule.price_points() {
        let Some((amount, preferential, source_rows, note)) = leaf_price(point.leaf, service)?
        else {
            continue;
        };
        prices.push(ServicePrice {
            conditions: point.conditions.iter().cloned().collect(),
            rule: point.leaf.kind_name(),
            amount,
            preferential,
            source_rows,
            note,
        });
    }
    Ok(prices)
}

/// The values a rule lists for a choice parameter.
fn option_values(rule: &FeeRule, name: &str, values: &mut BTreeSet<String>) {
    match rule {
        FeeRule::Choice { parameter, options } => {
            for option in options {
                if parameter == name {
                    values.insert(option.value.clone());
                }
                option_values(&option.rule, name, values);
            }
        }
        FeeRule::Bands { bands, .. } => {
            for band in bands {
                option_values(&band.rule, name, values);
            }
        }
        _ => {}
    }
}

/// `quantity`, which every service reads.
fn quantity_parameter(service: &ServiceEntry) -> ServiceParameter {
    ServiceParameter {
        name: "quantity".to_owned(),
        value_type: ValueType::Integer,
        unit: Some(service.unit.clone()),
        minimum: Some(Decimal::ONE),
        exclusive_minimum: false,
        maximum: Some(Decimal::from(service.max_quantity)),
        values: None,
        required: false,
        description: format!("Units of the line ({}); default 1", service.unit),
    }
}

fn parameters(service: &ServiceEntry) -> Vec<ServiceParameter> {
    let mut parameters = vec![quantity_parameter(service)];
    for name in service.rule.parameters() {
        let Some(definition) = params::lookup(&name) else {
            continue;
        };
        let (value_type, values) = match definition.kind {
            ParameterKind::Measure { .. } => (ValueType::Decimal, None),
            ParameterKind::Count { .. } => (ValueType::Integer, None),
            ParameterKind::Choice { .. } | ParameterKind::Category => {
                let mut values = BTreeSet::new();
                option_values(&service.rule, &name, &mut values);
                (ValueType::Text, Some(values.into_iter().collect()))
            }
            ParameterKind::ReasonCode => (ValueType::Text, None),
        };
        let minimum = definition.domain_minimum();
        parameters.push(ServiceParameter {
            value_type,
            unit: definition.unit.map(str::to_owned),
            minimum: minimum.map(|(minimum, _)| minimum),
            exclusive_minimum: minimum.is_some_and(|(_, inclusive)| !inclusive),
            maximum: definition.domain_maximum(),
            values,
            required: !matches!(name.as_str(), "province_group" | "preferential_reason"),
            description: definition.description.to_owned(),
            name,
        });
    }
    parameters
}

/// Describes a service of `version`.
pub fn describe_service(
    service: ServiceEntry,
    version: &str,
) -> Result<ServiceDescription, AppError> {
    let unit_price = match &service.rule {
        FeeRule::Fixed { amount: text, .. } | FeeRule::PerUnit { amount: text, .. } => {
            Some(amount(text, &service)?)
        }
        _ => None,
    };
    let prices = prices(&service)?;
    Ok(ServiceDescription {
        unit_price,
        fee_published: prices.iter().any(|price| price.amount.is_some()),
        parameters: parameters(&service),
        prices,
        service,
        schedule_version: version.to_owned(),
    })
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

fn describe_bundle(
    bundle: BundleEntry,
    services: &[ServiceEntry],
    version: &str,
) -> Result<BundleDescription, AppError> {
    let mut lines = Vec::new();
    let mut open = BTreeSet::new();
    let mut currency = None;
    for item in &bundle.items {
        let service = services
            .iter()
            .find(|service| service.code == item.service_code)
            .ok_or_else(|| {
                AppError::internal(format!(
                    "bundle {} names {}",
                    bundle.code, item.service_code
                ))
            })?;
        currency = Some(service.currency);
        open.extend(
            service
                .rule
                .parameters()
                .into_iter()
                .filter(|name| !item.params.contains_key(name)),
        );
        lines.push(BundleLine {
            service_code: service.code.clone(),
            sector: service.sector.clone(),
            name_km: service.name_km.clone(),
            name_en: service.name_en.clone(),
            quantity: item.quantity,
            params: item.params.clone(),
        });
    }
    Ok(BundleDescription {
        bundle,
        currency: currency.unwrap_or(Currency::Khr),
        lines,
        open_parameters: open.into_iter().collect(),
        schedule_version: version.to_owned(),
    })
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
