//! What the catalog says about a service or a bundle: a service's parameters and published
//! prices, a bundle's services and the parameters left open. Pure: the callers read the
//! schedule.

use std::collections::{BTreeMap, BTreeSet};

use ledger::{Currency, Money};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::app::error::AppError;
use crate::app::fees::model::{BundleEntry, ServiceEntry};
use crate::app::fees::params::{self, ParameterKind};
use crate::app::fees::rules::FeeRule;

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
        } => (
            Some(amount(text, service)?),
            None,
            source_rows.clone(),
            None,
        ),
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
#[tracing::instrument(level = "debug", skip_all, fields(service.code = %service.code))]
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

/// Describes a bundle of `version` from the services it names (all of them in `services`).
#[tracing::instrument(level = "debug", skip_all, fields(bundle.code = %bundle.code))]
pub fn describe_bundle(
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
