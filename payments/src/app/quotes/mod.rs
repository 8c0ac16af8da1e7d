//! Quotes: the fee of one case, priced from the schedule in force and then locked until it
//! expires. Each line names the rule and band that priced it and the revenue account of its
//! sector; a bundle expands to one line per service.

mod items;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger::{AccountCode, AccountKind, Money};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{Principal, Role};
use super::fees::engine::{self, LineError, PricedLine};
use super::fees::model::{BundleEntry, ServiceEntry};
use super::fees::schedule;
use super::money::MoneyView;
use super::validation::is_lookup_text;
use crate::app::error::AppError;
use crate::db::{fee_schedules, quotes as store};
use crate::state::AppState;
use items::{plan, unknown_service, Planned};

/// One item of a quote request: a service, or a bundle of services.
#[derive(Clone, Debug)]
pub struct QuoteItem {
    /// A service code (or a `bundle_code`).
    pub service_code: Option<String>,
    /// A bundle code: one line per service of the bundle.
    pub bundle_code: Option<String>,
    /// Units of a service line (default 1); not for bundles (see `quantities`).
    pub quantity: Option<i64>,
    /// Fee parameters. For a bundle, each goes to the services that read it.
    pub params: Option<Map<String, Value>>,
    /// Bundles only: units per service code, replacing the bundle's default quantity.
    pub quantities: Option<BTreeMap<String, i64>>,
}

/// A request to price a case for an office: 1 to 50 items.
#[derive(Clone, Debug)]
pub struct QuoteRequest {
    pub office_code: String,
    pub items: Vec<QuoteItem>,
}

/// One priced line of a quote; it names the rule and band that produced it and the revenue
/// account it will credit. Fields after `legal_basis` were added with versioned schedules and
/// default to empty on quotes made before.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QuoteLine {
    pub service_code: String,
    pub sector: String,
    pub description_km: String,
    pub description_en: String,
    pub quantity: i64,
    pub unit: String,
    pub unit_price: MoneyView,
    pub amount: MoneyView,
    pub revenue_account: String,
    /// The leaf that priced the line: `fixed`, `per_unit`, `maximum`, `preferential` or `free`.
    pub rule: String,
    /// The source's text about the legal basis, research notes included: for the workflow
    /// system and auditors. Citizens are shown `legal_basis_public` instead (through
    /// `app::catalog::public_legal_basis`).
    pub legal_basis: String,
    /// The band(s) the parameters fell in, e.g. `floor_area_m2 (100, 200]`.
    #[serde(default)]
    pub band: Option<String>,
    /// Every decision of the rule, root to leaf.
    #[serde(default)]
    pub rule_path: Vec<String>,
    /// The parameters applied, as exact text.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub preferential_reason: Option<String>,
    #[serde(default)]
    pub bundle_code: Option<String>,
    #[serde(default)]
    pub schedule_version: Option<String>,
    /// Rows of the sourced fee table behind the price.
    #[serde(default)]
    pub source_rows: Vec<u32>,
    /// The citation citizens are shown, or null when the source prints none. Lines priced
    /// before it existed have none: their `legal_basis` text mixed citations and notes, so
    /// citizens are told the legal basis is not published rather than shown a note.
    #[serde(default)]
    pub legal_basis_public: Option<String>,
}

/// A quote: priced lines, locked until `expires_at`.
#[derive(Clone, Debug)]
pub struct Quote {
    pub id: Uuid,
    pub office_code: String,
    pub lines: Vec<QuoteLine>,
    pub total: Money,
    pub schedule_version: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const MAX_QUOTE_ITEMS: usize = 50;
/// Most lines a quote may have once bundles are expanded.
pub(super) const MAX_QUOTE_LINES: usize = 100;

/// Checks that an office exists and that the caller may act for it (404 otherwise, so that an
/// office-scoped key learns nothing about other offices).
#[tracing::instrument(skip_all, fields(office.code = code))]
pub async fn visible_office(
    conn: &mut PgConnection,
    principal: &Principal,
    code: &str,
) -> Result<(), AppError> {
    office_province_group(conn, principal, code)
        .await
        .map(|_| ())
}

/// [`visible_office`], returning the office's province group (`major` or `other`).
async fn office_province_group(
    conn: &mut PgConnection,
    principal: &Principal,
    code: &str,
) -> Result<String, AppError> {
    if code.is_empty() || !is_lookup_text(code, 64) || !principal.sees_office(code) {
        return Err(AppError::not_found("office"));
    }
    store::office_province_group(conn, code)
        .await?
        .ok_or_else(|| AppError::not_found("office"))
}

fn line_error(planned: &Planned, error: LineError) -> AppError {
    let index = planned.item;
    match error {
        LineError::Parameter {
            name,
            reason,
            allowed,
        } => {
            let parameter = match (name.as_str(), &planned.bundle_code) {
                ("quantity", None) => format!("items[{index}].quantity"),
                ("quantity", Some(_)) => {
                    format!("items[{index}].quantities.{}", planned.service_code)
                }
                (name, _) => format!("items[{index}].params.{name}"),
            };
            let mut problem = AppError::validation(&parameter, reason);
            if !allowed.is_null() {
                problem = problem.with("allowed", allowed);
            }
            if planned.bundle_code.is_some() {
                problem = problem.with("service_code", planned.service_code.clone());
            }
            problem
        }
        LineError::Unpublished { path, note } => {
            let tier = if path.is_empty() {
                String::new()
            } else {
                format!(" for {}", path.join(", "))
            };
            AppError::unprocessable(
                "fee_not_published",
                "Fee not published",
                format!(
                    "no published fee is known for service {}{tier}; it cannot be quoted",
                    planned.service_code
                ),
            )
            .with("service_code", planned.service_code.clone())
            .with("tier", path)
            .with("note", note.map_or(Value::Null, Value::String))
        }
        LineError::Broken(cause) => {
            AppError::internal(format!("service {} rule: {cause}", planned.service_code))
        }
    }
}

fn quote_line(
    office_code: &str,
    version: &str,
    service: &ServiceEntry,
    planned: &Planned,
    priced: PricedLine,
) -> Result<QuoteLine, AppError> {
    let revenue_account = AccountCode::new(
        office_code,
        AccountKind::Revenue {
            sector: service.sector.clone(),
        },
        priced.amount.currency(),
    )
    .map_err(AppError::internal)?;
    let evaluation = priced.evaluation;
    Ok(QuoteLine {
        service_code: service.code.clone(),
        sector: service.sector.clone(),
        description_km: service.name_km.clone(),
        description_en: service.name_en.clone(),
        quantity: priced.quantity,
        unit: service.unit.clone(),
        unit_price: evaluation.unit_price.into(),
        amount: priced.amount.into(),
        revenue_account: revenue_account.as_str().to_owned(),
        rule: evaluation.rule.to_owned(),
        legal_basis: service.legal_basis.clone(),
        band: evaluation.band,
        rule_path: evaluation.path,
        params: priced.params,
        preferential_reason: evaluation.preferential_reason,
        bundle_code: planned.bundle_code.clone(),
        schedule_version: Some(version.to_owned()),
        source_rows: evaluation.source_rows,
        legal_basis_public: Some(service.legal_basis_public.clone())
            .filter(|text| !text.trim().is_empty()),
    })
}

/// The bundles the items name, and the services they name directly or through a bundle.
async fn load_items(
    conn: &mut PgConnection,
    items: &[QuoteItem],
    version: &str,
) -> Result<(Vec<BundleEntry>, Vec<ServiceEntry>), AppError> {
    let mut bundles = Vec::new();
    for code in items.iter().filter_map(|item| item.bundle_code.as_deref()) {
        bundles.extend(fee_schedules::bundles(conn, version, Some(code)).await?);
    }
    let mut codes: Vec<String> = items
        .iter()
        .filter_map(|item| item.service_code.clone())
        .collect();
    codes.extend(
        bundles
            .iter()
            .flat_map(|bundle| bundle.items.iter().map(|item| item.service_code.clone())),
    );
    let services = fee_schedules::search_services(conn, version, Some(&codes), None, None).await?;
    Ok((bundles, services))
}

/// Prices the request against `version`: the lines and their total.
async fn price_items(
    conn: &mut PgConnection,
    request: &QuoteRequest,
    version: &str,
    province_group: &str,
) -> Result<(Vec<QuoteLine>, Money), AppError> {
    items::check_codes(&request.items)?;
    let (bundles, services) = load_items(conn, &request.items, version).await?;
    let planned = plan(&request.items, &bundles, &services)?;
    let mut lines = Vec::with_capacity(planned.len());
    let mut amounts = Vec::with_capacity(planned.len());
    for line in &planned {
        let service = services
            .iter()
            .find(|service| service.code == line.service_code)
            .ok_or_else(|| unknown_service(line.item, &line.service_code))?;
        let priced = engine::price(service, line.quantity, &line.params, province_group)
            .map_err(|error| line_error(line, error))?;
        amounts.push(priced.amount);
        lines.push(quote_line(
            &request.office_code,
            version,
            service,
            line,
            priced,
        )?);
    }
    let total = engine::total(&amounts)
        .map_err(|position| {
            let index = planned.get(position).map_or(0, |line| line.item);
            AppError::validation(
                &format!("items[{index}]"),
                "all services of one quote must be priced in the same currency",
            )
        })?
        .ok_or_else(|| AppError::validation("items", "items must not be empty"))?;
    Ok((lines, total))
}

/// The schedule version in force, or the refusal of a request when none is: its first
/// service is unknown, as every service is.
async fn version_in_force(
    conn: &mut PgConnection,
    request: &QuoteRequest,
) -> Result<String, AppError> {
    match fee_schedules::in_force(conn, schedule::today()).await? {
        Some(version) => Ok(version),
        None => {
            let code = request
                .items
                .first()
                .and_then(|item| item.service_code.clone())
                .unwrap_or_default();
            Err(unknown_service(0, &code))
        }
    }
}

/// Prices the request against the schedule in force and stores the quote.
#[tracing::instrument(skip_all, fields(office.code = %request.office_code, api_key.id = %principal.key_id))]
pub async fn create_quote(
    state: &AppState,
    principal: &Principal,
    request: QuoteRequest,
) -> Result<Quote, AppError> {
    principal.require(&[Role::Workflow, Role::Cashier, Role::Admin])?;
    principal.require_key()?;
    if request.items.is_empty() || request.items.len() > MAX_QUOTE_ITEMS {
        return Err(AppError::validation(
            "items",
            format!("items must hold 1 to {MAX_QUOTE_ITEMS} services or bundles"),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let province_group = office_province_group(&mut tx, principal, &request.office_code).await?;
    let version = version_in_force(&mut tx, &request).await?;
    let (lines, total) = price_items(&mut tx, &request, &version, &province_group).await?;
    if !total.is_positive() {
        // quotes.total_minor > 0: a case whose services are all free has nothing to pay, so
        // there is no cashier step to run; say so rather than store a quote no intent can use.
        return Err(AppError::unprocessable(
            "no_fee_due",
            "No fee due",
            "every service asked for is free of charge; there is nothing to pay",
        ));
    }
    let id = Uuid::now_v7();
    let (created_at, expires_at) = store::insert(
        &mut tx,
        store::NewQuote {
            id,
            office_code: &request.office_code,
            total,
            lines: &lines,
            schedule_version: &version,
            created_by: principal.key_id,
            ttl: state.config.quote_ttl,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(quote.id = %id, "quote created");
    Ok(Quote {
        id,
        office_code: request.office_code,
        lines,
        total,
        schedule_version: version,
        created_at,
        expires_at,
    })
}

/// A quote the caller's key may see.
#[tracing::instrument(skip_all, fields(quote.id = %id, api_key.id = %principal.key_id))]
pub async fn get_quote(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<Quote, AppError> {
    let mut conn = state.pool.acquire().await?;
    let row = store::find(&mut conn, id)
        .await?
        .filter(|row| principal.sees_office(&row.office_code))
        .ok_or_else(|| AppError::not_found("quote"))?;
    Ok(Quote {
        id,
        total: super::money::from_row(row.total_minor, &row.currency)?,
        office_code: row.office_code,
        lines: row.lines.0,
        schedule_version: row.schedule_version,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}
