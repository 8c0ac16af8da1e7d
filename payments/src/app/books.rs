//! Auditor reads of the ledger and the reconciliation exceptions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger::store::TrialBalanceLine;
use ledger::Money;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{Principal, Role};
use super::money::MoneyView;
use super::pagination::{cursor, Page};
use super::states::ExceptionKind;
use crate::app::error::AppError;
use crate::state::AppState;

const AUDIT_ROLES: [Role; 3] = [Role::Auditor, Role::Admin, Role::Supervisor];

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceRow {
    pub account: String,
    pub office_code: String,
    pub currency: String,
    pub debit: String,
    pub credit: String,
    pub balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CurrencyTotal {
    pub currency: String,
    pub debit: String,
    pub credit: String,
    /// Always "0" (or "0.00") for a sound ledger.
    pub balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialBalanceView {
    pub as_of: DateTime<Utc>,
    pub accounts: Vec<TrialBalanceRow>,
    pub totals: Vec<CurrencyTotal>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    pub as_of: Option<DateTime<Utc>>,
}

fn amount(minor: i64, line: &TrialBalanceLine) -> String {
    Money::from_minor(minor, line.currency).format_amount()
}

pub async fn trial_balance(
    state: &AppState,
    principal: &Principal,
    as_of: Option<DateTime<Utc>>,
) -> Result<TrialBalanceView, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let as_of = as_of.unwrap_or_else(Utc::now);
    let mut conn = state.pool.acquire().await?;
    let lines =
        ledger::store::trial_balance(&mut conn, principal.office_filter(), Some(as_of)).await?;
    let mut totals: BTreeMap<&'static str, (ledger::Currency, i64, i64)> = BTreeMap::new();
    for line in &lines {
        let total = totals
            .entry(line.currency.code())
            .or_insert((line.currency, 0, 0));
        total.1 = total
            .1
            .checked_add(line.debit_minor)
            .ok_or_else(|| AppError::internal("debit total overflows"))?;
        total.2 = total
            .2
            .checked_add(line.credit_minor)
            .ok_or_else(|| AppError::internal("credit total overflows"))?;
    }
    let accounts = lines
        .iter()
        .map(|line| TrialBalanceRow {
            account: line.account.clone(),
            office_code: line.office_code.clone(),
            currency: line.currency.code().to_owned(),
            debit: amount(line.debit_minor, line),
            credit: amount(line.credit_minor, line),
            balance: amount(line.balance_minor, line),
        })
        .collect();
    let totals = totals
        .into_values()
        .map(|(currency, debit, credit)| CurrencyTotal {
            currency: currency.code().to_owned(),
            debit: Money::from_minor(debit, currency).format_amount(),
            credit: Money::from_minor(credit, currency).format_amount(),
            balance: Money::from_minor(debit.saturating_sub(credit), currency).format_amount(),
        })
        .collect();
    Ok(TrialBalanceView {
        as_of,
        accounts,
        totals,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub code: String,
    pub office_code: String,
    pub kind: String,
    pub currency: String,
    pub normal_balance: String,
}

pub async fn accounts(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<AccountView>, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let rows = ledger::store::list_accounts(&mut conn, principal.office_filter()).await?;
    Ok(rows
        .into_iter()
        .map(|row| AccountView {
            code: row.code,
            office_code: row.office_code,
            kind: row.kind,
            currency: row.currency.code().to_owned(),
            normal_balance: row.normal_balance,
        })
        .collect())
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ExceptionView {
    pub id: Uuid,
    pub office_code: String,
    pub kind: ExceptionKind,
    pub status: String,
    pub provider: String,
    pub provider_transaction_id: String,
    pub payment_intent_id: Option<Uuid>,
    pub payment_attempt_id: Option<Uuid>,
    #[sqlx(skip)]
    pub amount: Option<MoneyView>,
    #[serde(skip)]
    pub raw_amount: String,
    #[serde(skip)]
    pub raw_currency: String,
    pub ledger_entry_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExceptionsQuery {
    pub office_code: Option<String>,
    #[param(schema_with = exception_status_schema)]
    pub status: Option<String>,
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn exception_status_schema() -> utoipa::openapi::Object {
    super::validation::text_enum(&["open", "resolved"])
}

pub async fn exceptions(
    state: &AppState,
    principal: &Principal,
    query: ExceptionsQuery,
) -> Result<Page<ExceptionView>, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let limit = cursor::limit(query.limit)?;
    if query
        .status
        .as_deref()
        .is_some_and(|status| !matches!(status, "open" | "resolved"))
    {
        return Err(AppError::validation(
            "status",
            "status must be open or resolved",
        ));
    }
    if query
        .office_code
        .as_deref()
        .is_some_and(|code| !principal.sees_office(code))
    {
        return Ok(Page {
            data: Vec::new(),
            next_cursor: None,
        });
    }
    let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
    // language=PostgreSQL
    let rows: Vec<ExceptionView> = sqlx::query_as(
        "select id, office_code, kind, status, provider, provider_transaction_id, payment_intent_id, payment_attempt_id,
                amount as raw_amount, currency as raw_currency, ledger_entry_id, created_at
         from reconciliation_exceptions
         where ($1::text[] is null or office_code = any($1))
           and ($2::text is null or office_code = $2)
           and ($3::text is null or status = $3)
           and ($4::timestamptz is null or (created_at, id) < ($4, $5))
         order by created_at desc, id desc
         limit $6",
    )
    .bind(principal.office_filter())
    .bind(query.office_code.as_deref())
    .bind(query.status.as_deref())
    .bind(after.map(|(at, _)| at))
    .bind(after.map(|(_, id)| id))
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    let mut page = cursor::paginate(rows, limit, |row| (row.created_at, row.id));
    for row in &mut page.data {
        row.amount = Some(MoneyView {
            amount: row.raw_amount.clone(),
            currency: row.raw_currency.clone(),
        });
    }
    Ok(page)
}
