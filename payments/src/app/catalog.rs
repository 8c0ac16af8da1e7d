//! The public catalog: sectors, the services and bundles of the schedule in force, and the
//! schedule versions. Quotes live in
//! [`super::quotes`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use ledger::Money;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::fees::model::{BundleEntry, ServiceEntry};
use super::fees::params::{self, ParameterKind};
use super::fees::rules::FeeRule;
use super::fees::schedule;
use super::money::MoneyView;
use crate::app::error::AppError;
use crate::state::AppState;

use super::validation::is_lookup_text;

#[derive(Debug, Serialize, ToSchema)]
pub struct SectorView {
    pub code: String,
    pub number: i32,
    pub name_km: String,
    pub name_en: String,
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
    pub source_rows: Vec<u32>,
    pub note: Option<String>,
}

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
    /// The fee rule document itself.
    #[schema(value_type = Object)]
    pub fee_rule: FeeRule,
    pub time_limit_days: Option<i32>,
    pub time_limit_text: String,
    pub validity: String,
    /// `district`, `provincial`, `national` or `unstated`.
    pub level: String,
    pub legal_basis: String,
    pub legal_basis_number: String,
    pub legal_basis_date: Option<NaiveDate>,
    pub source: String,
    pub source_rows: Vec<u32>,
    pub notes: String,
    pub schedule_version: String,
}

fn money_view(text: &str, service: &ServiceEntry) -> Result<MoneyView, AppError> {
    Money::parse(text, service.currency)
        .map(MoneyView::from)
        .map_err(|error| AppError::internal(format!("service {} fee: {error}", service.code)))
}

fn price_points(service: &ServiceEntry) -> Result<Vec<PricePointView>, AppError> {
    let mut views = Vec::new();
    for point in service.rule.price_points() {
        let conditions = point.conditions.iter().cloned().collect();
        let (amount, preferential, source_rows, note) = match point.leaf {
            FeeRule::Fixed {
                amount,
                source_rows,
            }
            | FeeRule::PerUnit {
                amount,
                source_rows,
            } => (
                Some(money_view(amount, service)?),
                None,
                source_rows.clone(),
                None,
            ),
            FeeRule::Maximum {
                amount,
                preferential,
                source_rows,
                ..
            } => (
                Some(money_view(amount, service)?),
                preferential
                    .as_deref()
                    .map(|text| money_view(text, service))
                    .transpose()?,
                source_rows.clone(),
                None,
            ),
            FeeRule::Free { source_rows } => (
                Some(Money::zero(service.currency).into()),
                None,
                source_rows.clone(),
                None,
            ),
            FeeRule::Unpublished { note } => (None, None, Vec::new(), note.clone()),
            FeeRule::Bands { .. } | FeeRule::Choice { .. } => continue,
        };
        views.push(PricePointView {
            conditions,
            rule: point.leaf.kind_name().to_owned(),
            amount,
            preferential,
            source_rows,
            note,
        });
    }
    Ok(views)
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

fn parameters(service: &ServiceEntry) -> Vec<ParameterView> {
    let mut views = vec![ParameterView {
        name: "quantity".to_owned(),
        type_name: "integer".to_owned(),
        unit: Some(service.unit.clone()),
        minimum: Some("1".to_owned()),
        exclusive_minimum: false,
        maximum: Some(service.max_quantity.to_string()),
        values: None,
        required: false,
        description: format!("Units of the line ({}); default 1", service.unit),
    }];
    for name in service.rule.parameters() {
        let Some(definition) = params::lookup(&name) else {
            continue;
        };
        let (type_name, values) = match definition.kind {
            ParameterKind::Measure { .. } => ("decimal", None),
            ParameterKind::Count { .. } => ("integer", None),
            ParameterKind::Choice { .. } | ParameterKind::Category => {
                let mut values = BTreeSet::new();
                option_values(&service.rule, &name, &mut values);
                ("string", Some(values.into_iter().collect()))
            }
            ParameterKind::ReasonCode => ("string", None),
        };
        views.push(ParameterView {
            type_name: type_name.to_owned(),
            unit: definition.unit.map(str::to_owned),
            minimum: definition
                .domain_minimum()
                .map(|(minimum, _)| minimum.to_string()),
            exclusive_minimum: definition
                .domain_minimum()
                .is_some_and(|(_, inclusive)| !inclusive),
            maximum: definition
                .domain_maximum()
                .map(|maximum| maximum.to_string()),
            values,
            required: !matches!(name.as_str(), "province_group" | "preferential_reason"),
            description: definition.description.to_owned(),
            name,
        });
    }
    views
}

/// The public view of a service of `version`.
pub fn service_view(service: &ServiceEntry, version: &str) -> Result<ServiceView, AppError> {
    let unit_price = match &service.rule {
        FeeRule::Fixed { amount, .. } | FeeRule::PerUnit { amount, .. } => {
            Some(money_view(amount, service)?)
        }
        _ => None,
    };
    let points = price_points(service)?;
    Ok(ServiceView {
        code: service.code.clone(),
        sector: service.sector.clone(),
        name_km: service.name_km.clone(),
        name_en: service.name_en.clone(),
        currency: service.currency.code().to_owned(),
        unit: service.unit.clone(),
        max_quantity: service.max_quantity,
        unit_price,
        fee_published: points.iter().any(|point| point.amount.is_some()),
        parameters: parameters(service),
        price_points: points,
        fee_rule: service.rule.clone(),
        time_limit_days: service.time_limit_days,
        time_limit_text: service.time_limit_text.clone(),
        validity: service.validity.clone(),
        level: service.level.clone(),
        legal_basis: service.legal_basis.clone(),
        legal_basis_number: service.legal_basis_number.clone(),
        legal_basis_date: service.legal_basis_date,
        source: service.source.clone(),
        source_rows: service.source_rows.clone(),
        notes: service.notes.clone(),
        schedule_version: version.to_owned(),
    })
}

pub async fn list_sectors(state: &AppState) -> Result<Vec<SectorView>, AppError> {
    let rows: Vec<(String, i32, String, String)> =
        sqlx::query_as("select code, number, name_km, name_en from sectors order by number")
            .fetch_all(&state.pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(code, number, name_km, name_en)| SectorView {
            code,
            number,
            name_km,
            name_en,
        })
        .collect())
}

/// Services of the schedule in force (or of `schedule_version`), by sector and text.
pub async fn list_services(
    state: &AppState,
    sector: Option<&str>,
    query: Option<&str>,
    schedule_version: Option<&str>,
) -> Result<Vec<ServiceView>, AppError> {
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
    // Khmer has no case; ILIKE handles the Latin names. ILIKE wildcards in user text are
    // escaped so a search for "100%" means the literal text.
    let pattern = query.map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let mut conn = state.pool.acquire().await?;
    if let Some(sector) = sector {
        // An unknown sector is a mistake, not a sector without services.
        let known: bool =
            sqlx::query_scalar("select exists(select 1 from sectors where code = $1)")
                .bind(sector)
                .fetch_one(&mut *conn)
                .await?;
        if !known {
            return Err(AppError::not_found("sector").with("parameter", "sector"));
        }
    }
    let version = schedule::resolve(&mut conn, schedule_version).await?;
    let services = schedule::search(&mut conn, &version, None, sector, pattern.as_deref()).await?;
    services
        .iter()
        .map(|service| service_view(service, &version))
        .collect()
}

pub async fn get_service(state: &AppState, code: &str) -> Result<ServiceView, AppError> {
    if !is_lookup_text(code, 64) {
        return Err(AppError::not_found("service"));
    }
    let mut conn = state.pool.acquire().await?;
    let version = schedule::resolve(&mut conn, None).await?;
    let codes = [code.to_owned()];
    let services = schedule::services(&mut conn, &version, Some(&codes)).await?;
    let service = services
        .first()
        .ok_or_else(|| AppError::not_found("service"))?;
    service_view(service, &version)
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

#[derive(Debug, Serialize, ToSchema)]
pub struct BundleView {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
    pub notes: String,
    pub currency: String,
    pub items: Vec<BundleItemView>,
    /// Parameters a quote request may give (`params`), shared by the services that read them.
    pub parameters: Vec<String>,
    pub schedule_version: String,
}

fn bundle_view(
    bundle: &BundleEntry,
    services: &[ServiceEntry],
    version: &str,
) -> Result<BundleView, AppError> {
    let mut items = Vec::new();
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
        items.push(BundleItemView {
            service_code: service.code.clone(),
            sector: service.sector.clone(),
            name_km: service.name_km.clone(),
            name_en: service.name_en.clone(),
            quantity: item.quantity,
            params: item.params.clone(),
        });
    }
    Ok(BundleView {
        code: bundle.code.clone(),
        name_km: bundle.name_km.clone(),
        name_en: bundle.name_en.clone(),
        notes: bundle.notes.clone(),
        currency: currency
            .map_or("KHR", |currency| currency.code())
            .to_owned(),
        items,
        parameters: open.into_iter().collect(),
        schedule_version: version.to_owned(),
    })
}

/// Bundles of the schedule in force: all, or the one named `code` (404 if none).
pub async fn list_bundles(
    state: &AppState,
    code: Option<&str>,
) -> Result<Vec<BundleView>, AppError> {
    if code.is_some_and(|code| !is_lookup_text(code, 64)) {
        return Err(AppError::not_found("bundle"));
    }
    let mut conn = state.pool.acquire().await?;
    let version = schedule::resolve(&mut conn, None).await?;
    let bundles = schedule::bundles(&mut conn, &version, code).await?;
    if code.is_some() && bundles.is_empty() {
        return Err(AppError::not_found("bundle"));
    }
    let codes: Vec<String> = bundles
        .iter()
        .flat_map(|bundle| bundle.items.iter().map(|item| item.service_code.clone()))
        .collect();
    let services = schedule::services(&mut conn, &version, Some(&codes)).await?;
    bundles
        .iter()
        .map(|bundle| bundle_view(bundle, &services, &version))
        .collect()
}
