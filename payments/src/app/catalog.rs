//! The fee catalog: sectors, services and their fee rules, and quoting.
//!
//! Fee rules are data (a tagged JSON document per service). This first engine knows fixed
//! prices, prices per counted unit, and services whose fee is not published; the banded,
//! tiered and preferential rules of the full schedule extend [`FeeRule`].

use chrono::{DateTime, Utc};
use ledger::{AccountCode, AccountKind, Currency, Money};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{Principal, Role};
use super::money::MoneyView;
use crate::http::error::ApiError;
use crate::state::AppState;

/// How a service's fee is computed. Stored as JSON in `services.fee_rule`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeeRule {
    /// One price per unit of the service (per permit, per application); quantity multiplies.
    Fixed { amount: String },
    /// A price per counted unit (per room, per copy, per sheet, per plot).
    PerUnit { amount: String, unit: String },
    /// The service exists but no sourced fee is known: quoting it is refused.
    Unpublished,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SectorView {
    pub code: String,
    pub number: i32,
    pub name_km: String,
    pub name_en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParameterView {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub unit: Option<String>,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub required: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub code: String,
    pub sector: String,
    pub name_km: String,
    pub name_en: String,
    pub currency: String,
    pub unit: String,
    /// The price of one unit, or null when the fee is not published.
    pub unit_price: Option<MoneyView>,
    pub fee_published: bool,
    pub parameters: Vec<ParameterView>,
    pub time_limit_days: Option<i32>,
    pub legal_basis: String,
    pub source: String,
    pub schedule_version: String,
}

#[derive(FromRow)]
struct ServiceRow {
    code: String,
    sector_code: String,
    name_km: String,
    name_en: String,
    currency: String,
    unit: String,
    fee_rule: sqlx::types::Json<FeeRule>,
    time_limit_days: Option<i32>,
    legal_basis: String,
    source: String,
    schedule_version: String,
}

/// The most of one counted unit a single quote line may ask for (API.md limits).
pub const MAX_QUANTITY: i64 = 10_000;

impl ServiceRow {
    fn currency(&self) -> Result<Currency, ApiError> {
        self.currency.trim().parse().map_err(|_| {
            ApiError::internal(format!(
                "service {} has currency {:?}",
                self.code, self.currency
            ))
        })
    }

    fn unit_price(&self) -> Result<Option<Money>, ApiError> {
        let currency = self.currency()?;
        match &self.fee_rule.0 {
            FeeRule::Fixed { amount } | FeeRule::PerUnit { amount, .. } => {
                Money::parse(amount, currency).map(Some).map_err(|error| {
                    ApiError::internal(format!("service {} fee: {error}", self.code))
                })
            }
            FeeRule::Unpublished => Ok(None),
        }
    }

    fn view(&self) -> Result<ServiceView, ApiError> {
        let unit_price = self.unit_price()?;
        Ok(ServiceView {
            code: self.code.clone(),
            sector: self.sector_code.clone(),
            name_km: self.name_km.clone(),
            name_en: self.name_en.clone(),
            currency: self.currency.trim().to_owned(),
            unit: self.unit.clone(),
            fee_published: unit_price.is_some(),
            unit_price: unit_price.map(MoneyView::from),
            parameters: vec![ParameterView {
                name: "quantity".to_owned(),
                type_name: "integer".to_owned(),
                unit: Some(self.unit.clone()),
                minimum: Some(1),
                maximum: Some(MAX_QUANTITY),
                required: false,
            }],
            time_limit_days: self.time_limit_days,
            legal_basis: self.legal_basis.clone(),
            source: self.source.clone(),
            schedule_version: self.schedule_version.clone(),
        })
    }
}

const SERVICE_COLUMNS: &str = "code, sector_code, name_km, name_en, currency, unit, fee_rule, \
     time_limit_days, legal_basis, source, schedule_version";

pub async fn list_sectors(state: &AppState) -> Result<Vec<SectorView>, ApiError> {
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

pub async fn list_services(
    state: &AppState,
    sector: Option<&str>,
    query: Option<&str>,
) -> Result<Vec<ServiceView>, ApiError> {
    if query.is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::validation(
            "q",
            "q must be at most 200 characters",
        ));
    }
    // Khmer has no case; lower() handles the Latin names. ILIKE wildcards in user text are
    // escaped so a search for "100%" means the literal text.
    let pattern = query.map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let rows: Vec<ServiceRow> = sqlx::query_as(&format!(
        "select {SERVICE_COLUMNS} from services
         where ($1::text is null or sector_code = $1)
           and ($2::text is null or name_en ilike $2 or name_km like $2 or code ilike $2)
         order by sector_code, code"
    ))
    .bind(sector)
    .bind(pattern)
    .fetch_all(&state.pool)
    .await?;
    rows.iter().map(ServiceRow::view).collect()
}

pub async fn get_service(state: &AppState, code: &str) -> Result<ServiceView, ApiError> {
    let row: Option<ServiceRow> = sqlx::query_as(&format!(
        "select {SERVICE_COLUMNS} from services where code = $1"
    ))
    .bind(code)
    .fetch_optional(&state.pool)
    .await?;
    row.ok_or_else(|| ApiError::not_found("service"))?.view()
}

// ---------------------------------------------------------------------------------------------
// Quotes

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteItemRequest {
    pub service_code: String,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuoteRequest {
    pub office_code: String,
    pub items: Vec<QuoteItemRequest>,
}

/// One priced line of a quote; it names the rule that produced it and the revenue account it
/// will credit.
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
    pub rule: String,
    pub legal_basis: String,
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

/// Checks that an office exists and that the caller may act for it (404 otherwise, so that an
/// office-scoped key learns nothing about other offices).
pub async fn visible_office(
    conn: &mut PgConnection,
    principal: &Principal,
    code: &str,
) -> Result<(), ApiError> {
    if code.is_empty() || code.len() > 64 || !principal.sees_office(code) {
        return Err(ApiError::not_found("office"));
    }
    let exists: bool = sqlx::query_scalar("select exists(select 1 from offices where code = $1)")
        .bind(code)
        .fetch_one(&mut *conn)
        .await?;
    if exists {
        Ok(())
    } else {
        Err(ApiError::not_found("office"))
    }
}

fn price_line(
    office_code: &str,
    index: usize,
    item: &QuoteItemRequest,
    service: &ServiceRow,
) -> Result<QuoteLine, ApiError> {
    let field = format!("items[{index}]");
    let quantity = item.quantity.unwrap_or(1);
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(ApiError::validation(
            &format!("{field}.quantity"),
            format!("quantity must be between 1 and {MAX_QUANTITY}, got {quantity}"),
        ));
    }
    if let Some(name) = item.params.as_ref().and_then(|params| params.keys().next()) {
        return Err(ApiError::validation(
            &format!("{field}.params.{name}"),
            format!("service {} takes no parameter {name:?}", service.code),
        ));
    }
    let unit_price = service.unit_price()?.ok_or_else(|| {
        ApiError::unprocessable(
            "fee_not_published",
            "Fee not published",
            format!(
                "no published fee is known for service {}; it cannot be quoted",
                service.code
            ),
        )
        .with("service_code", service.code.clone())
    })?;
    let amount = unit_price
        .checked_mul(quantity)
        .map_err(|_| ApiError::validation(&format!("{field}.quantity"), "amount overflows"))?;
    let revenue_account = AccountCode::new(
        office_code,
        AccountKind::Revenue {
            sector: service.sector_code.clone(),
        },
        amount.currency(),
    )
    .map_err(ApiError::internal)?;
    let rule = match &service.fee_rule.0 {
        FeeRule::Fixed { .. } => "fixed",
        FeeRule::PerUnit { .. } => "per_unit",
        FeeRule::Unpublished => "unpublished",
    };
    Ok(QuoteLine {
        service_code: service.code.clone(),
        sector: service.sector_code.clone(),
        description_km: service.name_km.clone(),
        description_en: service.name_en.clone(),
        quantity,
        unit: service.unit.clone(),
        unit_price: unit_price.into(),
        amount: amount.into(),
        revenue_account: revenue_account.as_str().to_owned(),
        rule: rule.to_owned(),
        legal_basis: service.legal_basis.clone(),
    })
}

pub async fn create_quote(
    state: &AppState,
    principal: &Principal,
    request: CreateQuoteRequest,
) -> Result<QuoteView, ApiError> {
    principal.require(&[Role::Workflow, Role::Cashier, Role::Admin])?;
    if request.items.is_empty() || request.items.len() > MAX_QUOTE_ITEMS {
        return Err(ApiError::validation(
            "items",
            format!("items must hold 1 to {MAX_QUOTE_ITEMS} services"),
        ));
    }
    let mut tx = state.pool.begin().await?;
    visible_office(&mut tx, principal, &request.office_code).await?;
    let mut lines = Vec::with_capacity(request.items.len());
    let mut versions = Vec::new();
    for (index, item) in request.items.iter().enumerate() {
        let service: Option<ServiceRow> = sqlx::query_as(&format!(
            "select {SERVICE_COLUMNS} from services where code = $1"
        ))
        .bind(&item.service_code)
        .fetch_optional(&mut *tx)
        .await?;
        let service = service.ok_or_else(|| {
            ApiError::unprocessable(
                "unknown_service",
                "Unknown service",
                format!("no service has the code {:?}", item.service_code),
            )
            .with("parameter", format!("items[{index}].service_code"))
        })?;
        if !versions.contains(&service.schedule_version) {
            versions.push(service.schedule_version.clone());
        }
        lines.push(price_line(&request.office_code, index, item, &service)?);
    }
    let mut total: Option<Money> = None;
    for (index, line) in lines.iter().enumerate() {
        let amount = line.amount.parse("amount")?;
        total = Some(match total {
            None => amount,
            Some(sum) => sum.checked_add(amount).map_err(|_| {
                ApiError::validation(
                    &format!("items[{index}]"),
                    "all services of one quote must be priced in the same currency",
                )
            })?,
        });
    }
    let total = total.ok_or_else(|| ApiError::validation("items", "items must not be empty"))?;
    let id = Uuid::now_v7();
    let schedule_version = versions.join("+");
    let ttl = chrono::Duration::from_std(state.config.quote_ttl).map_err(ApiError::internal)?;
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
    .bind(&schedule_version)
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
        schedule_version,
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
) -> Result<QuoteView, ApiError> {
    let row: Option<QuoteRow> = sqlx::query_as(
        "select office_code, currency, total_minor, lines, schedule_version, created_at, expires_at from quotes where id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let row = row
        .filter(|row| principal.sees_office(&row.office_code))
        .ok_or_else(|| ApiError::not_found("quote"))?;
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
