//! Closing a drawer by counting it, its report, and the deposit of its cash at the bank.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger::{AccountCode, AccountKind, Currency, EntryBuilder, Money};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::void::Approval;
use super::{
    check_denominations, reach_drawer, CashReceipt, Denomination, Drawer, PerCurrency, Reach,
    CURRENCIES, DRAWER_ROLES, READ_ROLES,
};
use crate::app::auth::{Principal, Role};
use crate::app::csv_cells::neutralise;
use crate::app::error::{AppError, Refusal};
use crate::app::money::MoneyView;
use crate::app::staff::{self, Approver};
use crate::db;
use crate::db::cashier::SessionRow;
use crate::state::AppState;

/// `POST /v1/cashier/sessions/{id}/close`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// What is in the drawer, float included: at most one amount per currency; a currency
    /// left out was counted as 0.
    pub counted: Vec<MoneyView>,
    /// The count by denomination: must add up to `counted`.
    pub denominations: Option<Vec<Denomination>>,
    /// A supervisor's sign-off of a variance (their username and password).
    pub approval: Option<Approval>,
    /// The contract's name for `approval` (../shared/API.md): the same object.
    pub approved_by: Option<Approval>,
}

fn approval_refused(detail: &str) -> AppError {
    AppError::Forbidden(Refusal::new(
        "approval_refused",
        "Approval refused",
        detail.to_owned(),
    ))
}

/// The drawer's running sums: expected (float + receipts - voids) and what the ledger's
/// cash:drawer holds of it (receipts - voids - deposits), per currency.
struct Sums {
    float: PerCurrency,
    receipts: PerCurrency,
    voided: PerCurrency,
    deposited: PerCurrency,
}

impl Sums {
    async fn of(conn: &mut sqlx::PgConnection, row: &SessionRow) -> Result<Sums, AppError> {
        let totals = db::cashier::session_totals(conn, row.id).await?;
        Ok(Sums {
            float: PerCurrency {
                khr: row.float_khr_minor,
                usd: row.float_usd_minor,
            },
            receipts: PerCurrency {
                khr: totals.receipts_khr,
                usd: totals.receipts_usd,
            },
            voided: PerCurrency {
                khr: totals.voided_khr,
                usd: totals.voided_usd,
            },
            deposited: PerCurrency {
                khr: totals.deposited_khr,
                usd: totals.deposited_usd,
            },
        })
    }

    fn expected(&self) -> Result<PerCurrency, AppError> {
        self.float.plus(self.receipts)?.minus(self.voided)
    }
}

/// Closes a drawer: expected = opening float + cash receipts - voided, per currency;
/// variance = counted - expected. A variance needs a supervisor's sign-off (409
/// `variance_needs_approval` without one, and nothing changes): the `approval` (or
/// `approved_by`) of a supervisor of the office, or the caller itself when a supervisor or
/// admin closes someone else's drawer; never the drawer's own cashier. Each currency's
/// variance is posted against cash-over-short in the same transaction.
#[tracing::instrument(skip_all, fields(cashier_session.id = %id))]
pub async fn close(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    request: CloseRequest,
) -> Result<Drawer, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let counted = PerCurrency::parse(&request.counted, "counted")?;
    check_denominations(
        request.denominations.as_deref(),
        counted,
        "denominations",
        "counted",
    )?;
    let approval = request.approval.or(request.approved_by);
    let mut tx = state.pool.begin().await?;
    let row = reach_drawer(&mut tx, principal, id, Reach::Work, true).await?;
    if row.status != "open" {
        return Err(AppError::conflict(
            "drawer_closed",
            "Drawer closed",
            "this drawer is closed already",
        ));
    }
    let sums = Sums::of(&mut tx, &row).await?;
    let expected = sums.expected()?;
    let variance = counted.minus(expected)?;
    let approver = if variance == PerCurrency::default() {
        None
    } else {
        Some(
            sign_off(
                &mut tx,
                &state.pool,
                principal,
                &row,
                approval.as_ref(),
                expected,
                counted,
            )
            .await?,
        )
    };
    let mut entry_ids = Vec::new();
    for currency in CURRENCIES {
        let amount = variance.get(currency);
        if amount == 0 {
            continue;
        }
        entry_ids.push(post_variance(&mut tx, &row, currency, amount).await?);
    }
    let denominations = request
        .denominations
        .map(serde_json::to_value)
        .transpose()
        .map_err(AppError::internal)?
        .unwrap_or_else(|| json!([]));
    db::cashier::close_session(
        &mut tx,
        &db::cashier::CloseWrite {
            id,
            expected_khr_minor: expected.khr,
            expected_usd_minor: expected.usd,
            counted_khr_minor: counted.khr,
            counted_usd_minor: counted.usd,
            variance_khr_minor: variance.khr,
            variance_usd_minor: variance.usd,
            counted_denominations: denominations,
            approver_user_id: approver.as_ref().and_then(|a| a.user_id),
            approver_key_id: approver.as_ref().and_then(|a| a.api_key_id),
            approver_name: approver.as_ref().map(|a| a.name.as_str()),
            variance_entry_ids: &entry_ids,
        },
    )
    .await?;
    staff::record(
        &mut tx,
        principal,
        "drawer_close",
        Some(&row.office_code),
        Some(&id.to_string()),
        json!({
            "expected": expected.views(),
            "counted": counted.views(),
            "variance": variance.views(),
            "approved_by": approver.as_ref().map(|a| json!({"user_id": a.user_id, "api_key_id": a.api_key_id, "name": a.name})),
            "variance_entry_ids": entry_ids,
        }),
    )
    .await?;
    let closed = db::cashier::session(&mut tx, id, false)
        .await?
        .ok_or_else(|| AppError::internal("the drawer just closed is gone"))?;
    tx.commit().await?;
    tracing::info!(cashier_session.id = %id, "drawer closed");
    Drawer::from_row(closed, Utc::now())
}

/// The supervisor who signs off a variance, or 409 `variance_needs_approval`.
async fn sign_off(
    conn: &mut sqlx::PgConnection,
    pool: &sqlx::PgPool,
    principal: &Principal,
    row: &SessionRow,
    approval: Option<&Approval>,
    expected: PerCurrency,
    counted: PerCurrency,
) -> Result<Approver, AppError> {
    let own = row.cashier_user_id.or(row.cashier_key_id) == Some(super::caller_id(principal));
    let approver = match approval {
        Some(approval) => {
            staff::approve(
                conn,
                pool,
                principal,
                &approval.username,
                &approval.password,
                &row.office_code,
            )
            .await?
        }
        None if !own && matches!(principal.role, Role::Supervisor | Role::Admin) => {
            Approver::from_caller(principal)?
        }
        None => {
            return Err(AppError::conflict(
                "variance_needs_approval",
                "Variance needs approval",
                "the count differs from what the drawer should hold; a supervisor must sign off (\"approval\": their username and password)",
            )
            .with("expected", serde_json::to_value(expected.views()).map_err(AppError::internal)?)
            .with("counted", serde_json::to_value(counted.views()).map_err(AppError::internal)?))
        }
    };
    let cashier_signs = (approver.user_id.is_some() && approver.user_id == row.cashier_user_id)
        || (approver.api_key_id.is_some() && approver.api_key_id == row.cashier_key_id);
    if cashier_signs {
        return Err(approval_refused(
            "the drawer's own cashier cannot sign off its variance",
        ));
    }
    Ok(approver)
}

/// D/C cash:drawer against cash-over-short: a shortage (negative variance) debits
/// over/short, an overage credits it.
async fn post_variance(
    conn: &mut sqlx::PgConnection,
    row: &SessionRow,
    currency: Currency,
    variance_minor: i64,
) -> Result<i64, AppError> {
    let drawer = AccountCode::new(&row.office_code, AccountKind::CashDrawer, currency)?;
    let over_short = AccountCode::new(&row.office_code, AccountKind::CashOverShort, currency)?;
    let amount = Money::from_minor(variance_minor.checked_abs().unwrap_or(i64::MAX), currency);
    let builder = EntryBuilder::new(
        &row.office_code,
        "cash_over_short",
        &format!(
            "drawer {} closed {} {} {}",
            row.id,
            if variance_minor < 0 { "short" } else { "over" },
            amount.format_amount(),
            currency.code()
        ),
    )
    .idempotency_key(format!("drawer-close:{}:{}", row.id, currency.code()))
    .metadata(json!({"cashier_session_id": row.id, "variance": MoneyView::from(Money::from_minor(variance_minor, currency))}));
    let entry = if variance_minor < 0 {
        builder.debit(over_short, amount).credit(drawer, amount)
    } else {
        builder.debit(drawer, amount).credit(over_short, amount)
    }
    .build()?;
    Ok(match ledger::store::post(conn, &entry).await? {
        ledger::store::PostOutcome::Posted(id) | ledger::store::PostOutcome::AlreadyPosted(id) => {
            id.0
        }
    })
}

/// `POST /v1/cashier/sessions/{id}/deposits`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    pub amount: MoneyView,
    /// The bank's deposit slip number (1 to 64 characters): what the reconciliation matches.
    #[schema(example = "ACL-DEP-0001234")]
    pub slip_reference: String,
    /// Which of the office's bank accounts (1 to 40 of a-z, 0-9, `_`, `-`).
    #[schema(example = "acleda-001")]
    pub bank_account: Option<String>,
}

/// A deposit of a closed drawer's cash.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Deposit {
    pub id: Uuid,
    pub session_id: Uuid,
    pub amount: MoneyView,
    pub slip_reference: String,
    pub bank_account: Option<String>,
    pub ledger_entry_id: i64,
    pub deposited_by: String,
    pub created_at: DateTime<Utc>,
}

/// Records cash of a closed drawer taken to the bank: D cash-in-transit · C cash:drawer.
/// At most what the drawer holds of fee cash per currency (counted - opening float - earlier
/// deposits: the float stays as the change fund), else 422 `deposit_exceeds_drawer`.
#[tracing::instrument(skip_all, fields(cashier_session.id = %id))]
pub async fn deposit(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    request: DepositRequest,
) -> Result<Deposit, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let amount = request.amount.parse("amount")?;
    if !amount.is_positive() {
        return Err(AppError::validation("amount", "amount must be more than 0"));
    }
    let slip = request.slip_reference.trim().to_owned();
    if slip.is_empty() || slip.chars().count() > 64 || slip.chars().any(char::is_control) {
        return Err(AppError::validation(
            "slip_reference",
            "slip_reference must be 1 to 64 printable characters",
        ));
    }
    let bank_account = request.bank_account.as_deref().map(str::trim);
    let valid_account = |account: &str| {
        (1..=40).contains(&account.len())
            && account
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    if bank_account.is_some_and(|account| !valid_account(account)) {
        return Err(AppError::validation(
            "bank_account",
            "bank_account must be 1 to 40 characters of a-z, 0-9, '_' or '-'",
        ));
    }
    let mut tx = state.pool.begin().await?;
    let row = reach_drawer(&mut tx, principal, id, Reach::Work, true).await?;
    if row.status != "closed" {
        return Err(AppError::conflict(
            "drawer_open",
            "Drawer still open",
            "a drawer's cash is deposited once it is closed and counted",
        ));
    }
    let sums = Sums::of(&mut tx, &row).await?;
    let counted = PerCurrency {
        khr: row.counted_khr_minor.unwrap_or(0),
        usd: row.counted_usd_minor.unwrap_or(0),
    };
    let holds = counted.minus(sums.float)?.minus(sums.deposited)?;
    let available = holds.get(amount.currency()).max(0);
    if amount.amount_minor() > available {
        return Err(AppError::unprocessable(
            "deposit_exceeds_drawer",
            "More than the drawer holds",
            format!(
                "the drawer holds {} {} to deposit (counted less the float and earlier deposits)",
                Money::from_minor(available, amount.currency()).format_amount(),
                amount.currency().code()
            ),
        )
        .with("parameter", "amount"));
    }
    let deposit_id = Uuid::now_v7();
    let drawer = AccountCode::new(&row.office_code, AccountKind::CashDrawer, amount.currency())?;
    let transit = AccountCode::new(
        &row.office_code,
        AccountKind::CashInTransit,
        amount.currency(),
    )?;
    let entry = EntryBuilder::new(
        &row.office_code,
        "cash_deposit",
        &format!("drawer {} deposited, slip {slip}", row.id),
    )
    .idempotency_key(format!("deposit:{deposit_id}"))
    .metadata(json!({
        "cashier_session_id": row.id,
        "deposit_id": deposit_id,
        "slip_reference": slip,
        "bank_account": bank_account,
    }))
    .debit(transit, amount)
    .credit(drawer, amount)
    .build()?;
    let entry_id = match ledger::store::post(&mut tx, &entry).await? {
        ledger::store::PostOutcome::Posted(id) | ledger::store::PostOutcome::AlreadyPosted(id) => {
            id.0
        }
    };
    let by = super::Cashier::of(&mut tx, principal).await?;
    db::cashier::insert_deposit(
        &mut tx,
        &db::cashier::NewDeposit {
            id: deposit_id,
            session_id: id,
            office_code: &row.office_code,
            currency: amount.currency().code(),
            amount_minor: amount.amount_minor(),
            slip_reference: &slip,
            bank_account,
            ledger_entry_id: entry_id,
            created_by_user_id: by.user_id,
            created_by_key_id: by.api_key_id,
            created_by_name: &by.name,
        },
    )
    .await?;
    staff::record(
        &mut tx,
        principal,
        "drawer_deposit",
        Some(&row.office_code),
        Some(&id.to_string()),
        json!({"deposit_id": deposit_id, "amount": MoneyView::from(amount), "slip_reference": slip, "bank_account": bank_account, "ledger_entry_id": entry_id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(cashier_session.id = %id, deposit.id = %deposit_id, "drawer cash deposited");
    Ok(Deposit {
        id: deposit_id,
        session_id: id,
        amount: amount.into(),
        slip_reference: slip,
        bank_account: bank_account.map(str::to_owned),
        ledger_entry_id: entry_id,
        deposited_by: by.name,
        created_at: Utc::now(),
    })
}

/// One service's takings in a drawer (receipts that stand).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ServiceTotal {
    pub service_code: String,
    pub description_km: String,
    pub description_en: String,
    /// How many receipts paid for it.
    pub receipts: i64,
    pub amount: MoneyView,
}

/// The drawer's report: what it started with, took by service, voided, should hold, held,
/// and sent to the bank. The ledger's cash:drawer moved by receipts - voids + variance -
/// deposits for this drawer (`ledger_net`), which is what the trial balance shows when it is
/// the office's only drawer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DrawerReport {
    pub drawer: Drawer,
    pub opening_float: Vec<MoneyView>,
    /// Cash receipts that stand, summed by service and currency.
    pub receipts_by_service: Vec<ServiceTotal>,
    /// Every receipt taken (void ones too), per currency.
    pub receipts_total: Vec<MoneyView>,
    pub voided_total: Vec<MoneyView>,
    /// The voided receipts.
    pub voids: Vec<CashReceipt>,
    /// Opening float + receipts - voided.
    pub expected: Vec<MoneyView>,
    /// Set once closed.
    pub counted: Option<Vec<MoneyView>>,
    pub variance: Option<Vec<MoneyView>>,
    pub deposits: Vec<Deposit>,
    pub deposited_total: Vec<MoneyView>,
    /// What this drawer moved cash:drawer by: receipts - voids + variance - deposits.
    pub ledger_net: Vec<MoneyView>,
}

/// The report of a drawer the caller may read (open or closed: an open one's expected amount
/// is as of now).
#[tracing::instrument(skip_all, fields(cashier_session.id = %id))]
pub async fn report(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<DrawerReport, AppError> {
    principal.require(&READ_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let row = reach_drawer(&mut conn, principal, id, Reach::Read, false).await?;
    let sums = Sums::of(&mut conn, &row).await?;
    let receipts = db::cashier::receipts_of_session(&mut conn, id).await?;
    let deposits = db::cashier::deposits_of_session(&mut conn, id).await?;
    let expected = sums.expected()?;
    let variance = PerCurrency {
        khr: row.variance_khr_minor.unwrap_or(0),
        usd: row.variance_usd_minor.unwrap_or(0),
    };
    let ledger_net = sums
        .receipts
        .minus(sums.voided)?
        .plus(variance)?
        .minus(sums.deposited)?;
    let mut by_service: BTreeMap<(String, String), ServiceTotal> = BTreeMap::new();
    let mut voids = Vec::new();
    for line in receipts {
        let receipt = CashReceipt::from_line(line)?;
        if receipt.status == "void" {
            voids.push(receipt);
            continue;
        }
        for fee in &receipt.lines {
            let amount = fee.amount.parse("amount")?;
            let key = (
                fee.service_code.clone(),
                amount.currency().code().to_owned(),
            );
            let total = by_service.entry(key).or_insert_with(|| ServiceTotal {
                service_code: fee.service_code.clone(),
                description_km: fee.description_km.clone(),
                description_en: fee.description_en.clone(),
                receipts: 0,
                amount: Money::zero(amount.currency()).into(),
            });
            total.receipts += 1;
            let sum = total
                .amount
                .parse("amount")?
                .checked_add(amount)
                .map_err(AppError::internal)?;
            total.amount = sum.into();
        }
    }
    let deposits = deposits
        .into_iter()
        .map(|d| {
            Ok(Deposit {
                id: d.id,
                session_id: id,
                amount: MoneyView::from_row(d.amount_minor, &d.currency)?,
                slip_reference: d.slip_reference,
                bank_account: d.bank_account,
                ledger_entry_id: d.ledger_entry_id,
                deposited_by: d.created_by_name,
                created_at: d.created_at,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let drawer = Drawer::from_row(row, Utc::now())?;
    Ok(DrawerReport {
        opening_float: sums.float.views(),
        receipts_by_service: by_service.into_values().collect(),
        receipts_total: sums.receipts.views(),
        voided_total: sums.voided.views(),
        voids,
        expected: expected.views(),
        counted: drawer.counted.clone(),
        variance: drawer.variance.clone(),
        deposits,
        deposited_total: sums.deposited.views(),
        ledger_net: ledger_net.views(),
        drawer,
    })
}

impl DrawerReport {
    /// The report as CSV (`section,item,currency,amount,detail`), every text cell neutralised
    /// against spreadsheet formulas (app::csv_cells): a service name or slip number is data.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("section,item,currency,amount,detail\r\n");
        let mut row = |section: &str, item: &str, money: &MoneyView, detail: &str| {
            let cells = [section, item, &money.currency, &money.amount, detail];
            let quoted: Vec<String> = cells
                .iter()
                .map(|cell| format!("\"{}\"", neutralise(cell).replace('"', "\"\"")))
                .collect();
            out.push_str(&quoted.join(","));
            out.push_str("\r\n");
        };
        let drawer = &self.drawer;
        let head = format!(
            "drawer {} office {} cashier {} opened {} status {}",
            drawer.id, drawer.office_code, drawer.cashier.name, drawer.opened_at, drawer.status
        );
        for money in &self.opening_float {
            row("opening_float", "", money, &head);
        }
        for service in &self.receipts_by_service {
            row(
                "receipts_by_service",
                &service.service_code,
                &service.amount,
                &format!("{} receipts; {}", service.receipts, service.description_en),
            );
        }
        for money in &self.receipts_total {
            row("receipts_total", "", money, "");
        }
        for void in &self.voids {
            row(
                "void",
                void.number.as_deref().unwrap_or(""),
                &void.amount,
                void.void_reason.as_deref().unwrap_or(""),
            );
        }
        for money in &self.voided_total {
            row("voided_total", "", money, "");
        }
        for money in &self.expected {
            row("expected", "", money, "");
        }
        for money in self.counted.iter().flatten() {
            row("counted", "", money, "");
        }
        for money in self.variance.iter().flatten() {
            row(
                "variance",
                "",
                money,
                drawer.variance_approved_by.as_deref().unwrap_or(""),
            );
        }
        for deposit in &self.deposits {
            row(
                "deposit",
                &deposit.slip_reference,
                &deposit.amount,
                deposit.bank_account.as_deref().unwrap_or(""),
            );
        }
        for money in &self.ledger_net {
            row("ledger_net", "cash:drawer", money, "");
        }
        out
    }
}
