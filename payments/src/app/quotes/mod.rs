//! Quotes: the fee of one case, priced from the schedule in force and then locked until it
//! expires. Each line names the rule and band that priced it and the revenue account of its
//! sector; a bundle expands to one line per service.

mod items;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger::{AccountCode, AccountKind, Money};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{Principal, Role};
use super::fees::engine::{self, LineError, PricedLine};
use super::fees::model::ServiceEntry;
use super::fees::schedule;
use super::money::MoneyView;
use super::validation::is_lookup_text;
use crate::app::error::AppError;
use crate::state::AppState;
use items::{plan, unknown_service, Planned};

/// One item of a quote request: a service, or a bundle of services.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteItemRequest {
    /// A service code (or give `bundle_code`).
    #[serde(default)]
    pub service_code: Option<String>,
    /// A bundle code: one line per service of the bundle.
    #[serde(default)]
    pub bundle_code: Option<String>,
    /// Units of a service line (default 1); not for bundles (see `quantities`).
    #[serde(default, deserialize_with = "crate::app::validation::whole_number")]
    pub quantity: Option<i64>,
    /// Fee parameters (`floor_area_m2`, `location`, ...). For a bundle, each goes to the
    /// services that read it.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Option<Map<String, Value>>,
    /// Bundles only: units per service code, replacing the bundle's default quantity.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub quantities: Option<BTreeMap<String, i64>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuoteRequest {
    pub office_code: String,
    /// 1 to 50 items.
    #[schema(min_items = 1, max_items = 50)]
    pub items: Vec<QuoteItemRequest>,
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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub id: Uuid,
    pub office_code: String,
    pub lines: Vec<QuoteLine>,
    pub total: MoneyView,
    pub schedule_version: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const MAX_QUOTE_ITEMS: usize = 50;
/// Most lines a quote may have once bundles are expanded.
pub(super) const MAX_QUOTE_LINES: usize = 100;

/// Checks that an office exists and that the caller may act for it (404 otherwise, so that an
/// office-scoped key learns nothing about other offices).
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
    let group: Option<String> =
        sqlx::query_scalar("select province_group from offices where code = $1")
            .bind(code)
            .fetch_optional(&mut *conn)
            .await?;
    group.ok_or_else(|| AppError::not_found("office"))
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
    })
}

/// Prices the request against `version`: the lines and their total.
async fn price_items(
    conn: &mut PgConnection,
    request: &CreateQuoteRequest,
    version: &str,
    province_group: &str,
) -> Result<(Vec<QuoteLine>, Money), AppError> {
    items::check_codes(&request.items)?;
    let bundle_codes: Vec<&String> = request
        .items
        .iter()
        .filter_map(|item| item.bundle_code.as_ref())
        .collect();
    let mut bundles = Vec::new();
    for code in bundle_codes {
        bundles.extend(schedule::bundles(conn, version, Some(code)).await?);
    }
    let mut codes: Vec<String> = request
        .items
        .iter()
        .filter_map(|item| item.service_code.clone())
        .collect();
    codes.extend(
        bundles
            .iter()
            .flat_map(|bundle| bundle.items.iter().map(|item| item.service_code.clone())),
    );
    let services = schedule::services(conn, version, Some(&codes)).await?;
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

#[tracing::instrument(skip_all, fields(office.code = %request.office_code))]
pub async fn create_quote(
    state: &AppState,
    principal: &Principal,
    request: CreateQuoteRequest,
) -> Result<QuoteView, AppError> {
    principal.require(&[Role::Workflow, Role::Cashier, Role::Admin])?;
    if request.items.is_empty() || request.items.len() > MAX_QUOTE_ITEMS {
        return Err(AppError::validation(
            "items",
            format!("items must hold 1 to {MAX_QUOTE_ITEMS} services or bundles"),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let province_group = office_province_group(&mut tx, principal, &request.office_code).await?;
    let version = match schedule::in_force(&mut tx, schedule::today()).await? {
        Some(version) => version,
        None => {
            let code = request
                .items
                .first()
                .and_then(|item| item.service_code.clone())
                .unwrap_or_default();
            return Err(unknown_service(0, &code));
        }
    };
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
    let ttl = chrono::Duration::from_std(state.config.quote_ttl).map_err(AppError::internal)?;
    // language=PostgreSQL
    let (created_at, expires_at): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "insert into quotes (id, office_code, currency, total_minor, lines, schedule_version, created_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, now() + $8)
         returning created_at, expires_at",
    )
    .bind(id)
    .bind(&request.office_code)
    .bind(total.currency().code())
    .bind(total.amount_minor())
    .bind(sqlx::types::Json(&lines))
    .bind(&version)
    .bind(principal.key_id)
    .bind(ttl)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(QuoteView {
        id,
        office_code: request.office_code,
        lines,
        total: total.into(),
        schedule_version: version,
        created_at,
        expires_at,
    })
}

#[derive(FromRow)]
struct QuoteRow {
    office_code: String,
    currency: String,
    total_minor: i64,
    lines: sqlx::types::Json<Vec<QuoteLine>>,
    schedule_version: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

pub async fn get_quote(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<QuoteView, AppError> {
    let row: Option<QuoteRow> = sqlx::query_as(
        "select office_code, currency, total_minor, lines, schedule_version, created_at, expires_at from quotes where id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let row = row
        .filter(|row| principal.sees_office(&row.office_code))
        .ok_or_else(|| AppError::not_found("quote"))?;
    Ok(QuoteView {
        id,
        total: super::money::from_row(row.total_minor, &row.currency)?.into(),
        office_code: row.office_code,
        lines: row.lines.0,
        schedule_version: row.schedule_version,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}
