//! The cashier's drawer (issue 14): open with a float counted by denomination, take cash
//! against an intent through the settlement path ([`take`]), void a receipt the same day with
//! a supervisor's approval ([`void`]), close by counting notes, report and deposit
//! ([`close`]). The JSON routes (http::cashier) and the console pages call these same
//! functions with the caller's [`Principal`]: an API key or a logged-in person.
//!
//! The ledger: a cash receipt debits the office's `cash:drawer` and credits revenue (the
//! settlement's `payment_entry`), a void reverses that entry, a variance at close moves
//! `cash:drawer` against `cash-over-short`, a deposit moves `cash:drawer` to
//! `cash-in-transit`. The opening float is the office's change fund, not fee revenue: it is
//! counted in the drawer (expected, counted) but never posted, so `cash:drawer` holds
//! receipts - voids +/- variances - deposits and agrees with the drawer reports to the riel.

mod close;
mod closing;
pub mod counter;
mod take;
mod void;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use ledger::{Currency, Money};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::app::money::MoneyView;
use crate::app::quotes::QuoteLine;
use crate::app::secrets::pay_token_hash;
use crate::app::staff;
use crate::app::states::IntentStatus;
use crate::db;
use crate::db::cashier::{ReceiptLine, SessionRow};
use crate::state::AppState;

pub use close::{
    close, deposit, report, CloseRequest, Deposit, DepositRequest, DrawerReport, ServiceTotal,
};
pub use closing::{
    close_counted, close_form, deposit_form, deposit_from_form, note_values, office_drawers,
    void_form, void_from_form, CloseForm, CloseOutcome, CountedCurrency, DepositForm, SignOff,
    VoidForm,
};
pub use take::{take_cash, CashReceipt, TakeCashRequest};
pub use void::{void_receipt, Approval, VoidRequest, VoidedReceipt};

/// The roles that work a drawer: open it, take cash, close it, deposit.
const DRAWER_ROLES: [Role; 3] = [Role::Cashier, Role::Supervisor, Role::Admin];
/// The roles that read drawers.
const READ_ROLES: [Role; 4] = [Role::Cashier, Role::Supervisor, Role::Admin, Role::Auditor];

/// KHR notes in circulation, in riel.
pub const KHR_NOTES: [i64; 13] = [
    100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 20_000, 30_000, 50_000, 100_000, 200_000,
];
/// USD notes, in whole dollars (coins and cents are not taken at the counter).
pub const USD_NOTES: [i64; 7] = [1, 2, 5, 10, 20, 50, 100];

/// The currencies a drawer holds, in the order every per-currency list is written.
const CURRENCIES: [Currency; 2] = [Currency::Khr, Currency::Usd];

/// Cambodia keeps one time zone, UTC+7: "the same day" and "past midnight" are its days.
fn cambodia() -> Result<FixedOffset, AppError> {
    FixedOffset::east_opt(7 * 3600).ok_or_else(|| AppError::internal("UTC+7 offset"))
}

/// The Cambodian calendar day of `at`.
pub fn cambodian_day(at: DateTime<Utc>) -> Result<NaiveDate, AppError> {
    Ok(at.with_timezone(&cambodia()?).date_naive())
}

/// The start of today in Cambodia, as UTC.
pub fn start_of_cambodian_day(now: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    let offset = cambodia()?;
    let day = now.with_timezone(&offset).date_naive();
    day.and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.and_local_timezone(offset).single())
        .map(|start| start.with_timezone(&Utc))
        .ok_or_else(|| AppError::internal("midnight in UTC+7"))
}

/// Minor units per currency (KHR, USD): a drawer's float, count, expected amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerCurrency {
    pub khr: i64,
    pub usd: i64,
}

impl PerCurrency {
    fn get(&self, currency: Currency) -> i64 {
        match currency {
            Currency::Khr => self.khr,
            Currency::Usd => self.usd,
        }
    }

    fn slot(&mut self, currency: Currency) -> &mut i64 {
        match currency {
            Currency::Khr => &mut self.khr,
            Currency::Usd => &mut self.usd,
        }
    }

    /// Reads a list of amounts, at most one per currency, none negative; a currency left out
    /// is zero.
    fn parse(list: &[MoneyView], field: &str) -> Result<PerCurrency, AppError> {
        let mut seen = Vec::new();
        let mut totals = PerCurrency::default();
        for (index, view) in list.iter().enumerate() {
            let name = format!("{field}[{index}]");
            let money = view.parse(&name)?;
            if money.is_negative() {
                return Err(AppError::validation(
                    &name,
                    format!("{name}.amount must not be negative"),
                ));
            }
            if seen.contains(&money.currency()) {
                return Err(AppError::validation(
                    field,
                    format!("{field} names {} twice", money.currency().code()),
                ));
            }
            seen.push(money.currency());
            *totals.slot(money.currency()) = money.amount_minor();
        }
        Ok(totals)
    }

    /// Both currencies as amounts.
    fn views(&self) -> Vec<MoneyView> {
        CURRENCIES
            .iter()
            .map(|&currency| MoneyView::from(Money::from_minor(self.get(currency), currency)))
            .collect()
    }

    fn map2(
        self,
        other: PerCurrency,
        f: impl Fn(i64, i64) -> Option<i64>,
    ) -> Result<PerCurrency, AppError> {
        let overflow = || AppError::internal("drawer amount overflow");
        Ok(PerCurrency {
            khr: f(self.khr, other.khr).ok_or_else(overflow)?,
            usd: f(self.usd, other.usd).ok_or_else(overflow)?,
        })
    }

    fn plus(self, other: PerCurrency) -> Result<PerCurrency, AppError> {
        self.map2(other, i64::checked_add)
    }

    fn minus(self, other: PerCurrency) -> Result<PerCurrency, AppError> {
        self.map2(other, i64::checked_sub)
    }
}

/// Notes counted: `count` notes of `value` (riel for KHR, whole dollars for USD).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Denomination {
    #[schema(example = "KHR")]
    pub currency: String,
    /// The note's face value: riel for KHR (100 ... 200000), whole dollars for USD (1 ... 100).
    #[schema(example = 10000)]
    pub value: i64,
    #[schema(example = 12, minimum = 0)]
    pub count: i64,
}

/// Checks a count by denomination and returns what it sums to per currency.
fn sum_denominations(list: &[Denomination], field: &str) -> Result<PerCurrency, AppError> {
    let mut totals = PerCurrency::default();
    for (index, note) in list.iter().enumerate() {
        let name = format!("{field}[{index}]");
        let currency: Currency = note.currency.parse().map_err(|_| {
            AppError::validation(&name, format!("{name}.currency must be KHR or USD"))
        })?;
        let (notes, minor_per_unit): (&[i64], i64) = match currency {
            Currency::Khr => (&KHR_NOTES, 1),
            Currency::Usd => (&USD_NOTES, 100),
        };
        if !notes.contains(&note.value) {
            let listed: Vec<String> = notes.iter().map(i64::to_string).collect();
            return Err(AppError::validation(
                &name,
                format!(
                    "{name}.value must be a {} note: {}",
                    currency.code(),
                    listed.join(", ")
                ),
            ));
        }
        if !(0..=1_000_000).contains(&note.count) {
            return Err(AppError::validation(
                &name,
                format!("{name}.count must be 0 to 1000000"),
            ));
        }
        let amount = note
            .value
            .checked_mul(minor_per_unit)
            .and_then(|unit| unit.checked_mul(note.count))
            .and_then(|amount| totals.get(currency).checked_add(amount))
            .ok_or_else(|| AppError::validation(&name, "the count is too large"))?;
        *totals.slot(currency) = amount;
    }
    Ok(totals)
}

/// Denominations, when given, must add up to the amounts they count.
fn check_denominations(
    list: Option<&[Denomination]>,
    amounts: PerCurrency,
    field: &str,
    of: &str,
) -> Result<(), AppError> {
    let Some(list) = list else { return Ok(()) };
    let sums = sum_denominations(list, field)?;
    for currency in CURRENCIES {
        if sums.get(currency) != amounts.get(currency) {
            return Err(AppError::unprocessable(
                "denominations_mismatch",
                "Denominations do not add up",
                format!(
                    "the {} notes in {field} add up to {}, but {of} says {}",
                    currency.code(),
                    Money::from_minor(sums.get(currency), currency).format_amount(),
                    Money::from_minor(amounts.get(currency), currency).format_amount(),
                ),
            )
            .with("parameter", field));
        }
    }
    Ok(())
}

/// Who works a drawer or acts on it: a person, or a cashier API key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Cashier {
    /// The person, when a person is the cashier.
    pub user_id: Option<Uuid>,
    /// The key, when a cashier system key is.
    pub api_key_id: Option<Uuid>,
    /// As printed on receipts and the drawer report.
    pub name: String,
}

impl Cashier {
    /// The caller as a cashier (a key's name read from its row).
    async fn of(conn: &mut PgConnection, principal: &Principal) -> Result<Cashier, AppError> {
        Ok(match &principal.staff {
            Some(staff) => Cashier {
                user_id: Some(staff.user_id),
                api_key_id: None,
                name: staff.name.clone(),
            },
            None => Cashier {
                user_id: None,
                api_key_id: Some(principal.key_id),
                name: db::cashier::key_name(conn, principal.key_id)
                    .await?
                    .unwrap_or_else(|| format!("key:{}", principal.key_id)),
            },
        })
    }

    /// The id the drawer's cashier is known by (person or key).
    fn id(&self) -> Option<Uuid> {
        self.user_id.or(self.api_key_id)
    }
}

/// The id the caller is known by as a cashier: the person, or the key.
fn caller_id(principal: &Principal) -> Uuid {
    principal
        .staff
        .as_ref()
        .map_or(principal.key_id, |staff| staff.user_id)
}

/// A drawer (a cashier session) as its readers see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Drawer {
    pub id: Uuid,
    #[schema(example = "0320")]
    pub office_code: String,
    /// `open` or `closed`.
    #[schema(example = "open")]
    pub status: String,
    pub cashier: Cashier,
    /// The change fund, KHR and USD (not posted to the ledger: the office's own cash).
    pub opening_float: Vec<MoneyView>,
    /// The float as counted by denomination, when it was.
    pub opening_denominations: Vec<Denomination>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Still open after midnight (Cambodia) of the day it was opened.
    pub overdue: bool,
    /// Set at close: opening float + cash receipts - voided, per currency.
    pub expected: Option<Vec<MoneyView>>,
    pub counted: Option<Vec<MoneyView>>,
    /// counted - expected (negative: short).
    pub variance: Option<Vec<MoneyView>>,
    pub counted_denominations: Option<Vec<Denomination>>,
    /// Who signed off the variance.
    pub variance_approved_by: Option<String>,
    /// The over/short entries posted at close.
    pub variance_entry_ids: Vec<i64>,
    /// The drawer's cash receipts, oldest first (in the single drawer's view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipts: Option<Vec<CashReceipt>>,
}

impl Drawer {
    fn from_row(row: SessionRow, now: DateTime<Utc>) -> Result<Drawer, AppError> {
        let float = PerCurrency {
            khr: row.float_khr_minor,
            usd: row.float_usd_minor,
        };
        let pair = |khr: Option<i64>, usd: Option<i64>| {
            khr.zip(usd)
                .map(|(khr, usd)| PerCurrency { khr, usd }.views())
        };
        let overdue = row.status == "open" && cambodian_day(row.opened_at)? < cambodian_day(now)?;
        Ok(Drawer {
            id: row.id,
            office_code: row.office_code,
            status: row.status,
            cashier: Cashier {
                user_id: row.cashier_user_id,
                api_key_id: row.cashier_key_id,
                name: row.cashier_name,
            },
            opening_float: float.views(),
            opening_denominations: serde_json::from_value(row.float_denominations)
                .map_err(AppError::internal)?,
            opened_at: row.opened_at,
            closed_at: row.closed_at,
            overdue,
            expected: pair(row.expected_khr_minor, row.expected_usd_minor),
            counted: pair(row.counted_khr_minor, row.counted_usd_minor),
            variance: pair(row.variance_khr_minor, row.variance_usd_minor),
            counted_denominations: row
                .counted_denominations
                .map(serde_json::from_value)
                .transpose()
                .map_err(AppError::internal)?,
            variance_approved_by: row.variance_approver_name,
            variance_entry_ids: row.variance_entry_ids,
            receipts: None,
        })
    }
}

/// How a drawer is reached.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Only its own cashier (taking cash).
    Own,
    /// Its cashier, or a supervisor or admin of its office (close, deposit).
    Work,
    /// Its cashier, or anyone but a cashier who sees its office (reads).
    Read,
}

/// The drawer `id` as the caller may reach it; anything else is 404, so a drawer of another
/// cashier or office cannot be told from one that does not exist.
async fn reach_drawer(
    conn: &mut PgConnection,
    principal: &Principal,
    id: Uuid,
    reach: Reach,
    lock: bool,
) -> Result<SessionRow, AppError> {
    let row = db::cashier::session(conn, id, lock).await?;
    let own =
        |row: &SessionRow| row.cashier_user_id.or(row.cashier_key_id) == Some(caller_id(principal));
    row.filter(|row| principal.sees_office(&row.office_code))
        .filter(|row| {
            own(row)
                || match reach {
                    Reach::Own => false,
                    Reach::Work => matches!(principal.role, Role::Supervisor | Role::Admin),
                    Reach::Read => principal.role != Role::Cashier,
                }
        })
        .ok_or_else(|| AppError::not_found("cashier session"))
}

/// `POST /v1/cashier/sessions`: what opening a drawer takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    #[schema(example = "0320")]
    pub office_code: String,
    /// At most one amount per currency; a currency left out starts at 0.
    pub opening_float: Vec<MoneyView>,
    /// The float counted by denomination: must add up to `opening_float`.
    pub denominations: Option<Vec<Denomination>>,
}

/// Opens a drawer for the caller at an office they work at. One open drawer per cashier and
/// office (409 `drawer_already_open`, naming it).
#[tracing::instrument(skip_all, fields(office.code = %request.office_code))]
pub async fn open(
    state: &AppState,
    principal: &Principal,
    request: OpenRequest,
) -> Result<Drawer, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let float = PerCurrency::parse(&request.opening_float, "opening_float")?;
    check_denominations(
        request.denominations.as_deref(),
        float,
        "denominations",
        "opening_float",
    )?;
    if !principal.sees_office(&request.office_code) {
        return Err(AppError::not_found("office"));
    }
    let mut tx = state.pool.begin().await?;
    if !db::offices::exists(&mut tx, &request.office_code).await? {
        return Err(AppError::not_found("office"));
    }
    let cashier = Cashier::of(&mut tx, principal).await?;
    let id = Uuid::now_v7();
    let denominations = serde_json::to_value(request.denominations.unwrap_or_default())
        .map_err(AppError::internal)?;
    let opened = db::cashier::insert_session(
        &mut tx,
        &db::cashier::NewSession {
            id,
            office_code: &request.office_code,
            cashier_user_id: cashier.user_id,
            cashier_key_id: cashier.api_key_id,
            cashier_name: &cashier.name,
            float_khr_minor: float.khr,
            float_usd_minor: float.usd,
            float_denominations: denominations,
        },
    )
    .await?;
    if !opened {
        let open = db::cashier::list_sessions(
            &mut tx,
            &db::cashier::SessionFilter {
                offices: None,
                office_code: Some(&request.office_code),
                status: Some("open"),
                cashier: cashier.id(),
                rows: 1,
            },
        )
        .await?;
        let mut error = AppError::conflict(
            "drawer_already_open",
            "Drawer already open",
            "you have an open drawer at this office; close it before opening another",
        );
        if let Some(open) = open.first() {
            error = error.with("session_id", open.id.to_string());
        }
        return Err(error);
    }
    staff::record(
        &mut tx,
        principal,
        "drawer_open",
        Some(&request.office_code),
        Some(&id.to_string()),
        json!({"opening_float": float.views()}),
    )
    .await?;
    let row = db::cashier::session(&mut tx, id, false)
        .await?
        .ok_or_else(|| AppError::internal("the drawer just opened is gone"))?;
    tx.commit().await?;
    tracing::info!(cashier_session.id = %id, "drawer opened");
    Drawer::from_row(row, Utc::now())
}

/// One drawer with its receipts.
#[tracing::instrument(skip_all, fields(cashier_session.id = %id))]
pub async fn get(state: &AppState, principal: &Principal, id: Uuid) -> Result<Drawer, AppError> {
    principal.require(&READ_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let row = reach_drawer(&mut conn, principal, id, Reach::Read, false).await?;
    let receipts = db::cashier::receipts_of_session(&mut conn, id).await?;
    let mut drawer = Drawer::from_row(row, Utc::now())?;
    drawer.receipts = Some(
        receipts
            .into_iter()
            .map(CashReceipt::from_line)
            .collect::<Result<_, _>>()?,
    );
    Ok(drawer)
}

/// The filters of the drawer list.
#[derive(Debug, Default)]
pub struct ListDrawers {
    pub office_code: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
}

/// Most drawers a list returns (newest first): a few days of an office's counters.
const LIST_ROWS: i64 = 200;

/// Drawers of the caller's offices, newest first: a cashier sees their own, a supervisor,
/// admin or auditor every drawer of the offices they see.
#[tracing::instrument(skip_all)]
pub async fn list(
    state: &AppState,
    principal: &Principal,
    query: ListDrawers,
) -> Result<Vec<Drawer>, AppError> {
    principal.require(&READ_ROLES)?;
    if let Some(status) = &query.status {
        if !matches!(status.as_str(), "open" | "closed") {
            return Err(AppError::validation(
                "status",
                "status must be open or closed",
            ));
        }
    }
    let mut conn = state.pool.acquire().await?;
    let rows = db::cashier::list_sessions(
        &mut conn,
        &db::cashier::SessionFilter {
            offices: principal.office_filter(),
            office_code: query.office_code.as_deref(),
            status: query.status.as_deref(),
            cashier: (principal.role == Role::Cashier).then(|| caller_id(principal)),
            rows: LIST_ROWS,
        },
    )
    .await?;
    let now = Utc::now();
    rows.into_iter()
        .map(|row| Drawer::from_row(row, now))
        .collect()
}

/// An intent as the counter finds it: enough to take the payment.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CounterIntent {
    pub id: Uuid,
    pub status: IntentStatus,
    pub office_code: String,
    pub case_reference: String,
    pub payer_name: Option<String>,
    pub total: MoneyView,
    pub receipt_number: Option<String>,
    pub lines: Vec<QuoteLine>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Most intents a look-up returns.
const LOOKUP_ROWS: i64 = 100;

/// Finds intents at the counter, in the offices the caller sees: `q` is a registration code
/// (case reference), or the citizen's pay link (`.../pay/{token}`) or its token (`pt_...`)
/// scanned from the case slip's QR; without `q`, the office's intents awaiting payment created
/// today (Cambodia).
#[tracing::instrument(skip_all)]
pub async fn lookup(
    state: &AppState,
    principal: &Principal,
    office_code: Option<&str>,
    q: Option<&str>,
) -> Result<Vec<CounterIntent>, AppError> {
    principal.require(&DRAWER_ROLES)?;
    if office_code.is_some_and(|code| !principal.sees_office(code)) {
        return Ok(Vec::new());
    }
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.len() > 2048) {
        return Err(AppError::validation(
            "q",
            "q must be at most 2048 characters",
        ));
    }
    let token = q.and_then(|q| {
        let tail = q.rsplit_once("/pay/").map_or(q, |(_, tail)| tail);
        let tail = tail.split(['?', '#', '/']).next().unwrap_or(tail);
        tail.starts_with("pt_").then(|| pay_token_hash(tail))
    });
    let case_reference = if token.is_some() { None } else { q };
    let since = if q.is_none() {
        Some(start_of_cambodian_day(Utc::now())?)
    } else {
        None
    };
    let mut conn = state.pool.acquire().await?;
    let rows = db::cashier::counter_intents(
        &mut conn,
        principal.office_filter(),
        office_code,
        case_reference,
        token.as_deref(),
        since,
        LOOKUP_ROWS,
    )
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(CounterIntent {
                id: row.id,
                status: row.status,
                office_code: row.office_code,
                case_reference: row.case_reference,
                payer_name: row.payer_name,
                total: MoneyView::from_row(row.total_minor, &row.currency)?,
                receipt_number: row.receipt_number,
                lines: row.lines.0,
                created_at: row.created_at,
                expires_at: row.expires_at,
            })
        })
        .collect()
}

impl CashReceipt {
    fn from_line(line: ReceiptLine) -> Result<CashReceipt, AppError> {
        let amount = crate::app::money::from_row(line.amount_minor, &line.currency)?;
        Ok(CashReceipt {
            id: line.id,
            number: line.number,
            session_id: line.session_id,
            office_code: line.office_code,
            payment_intent_id: line.payment_intent_id,
            case_reference: line.case_reference,
            amount: amount.into(),
            tendered: MoneyView::from_row(line.tendered_minor, &line.currency)?,
            change: MoneyView::from_row(line.change_minor, &line.currency)?,
            cashier: Cashier {
                user_id: line.cashier_user_id,
                api_key_id: line.cashier_key_id,
                name: line.cashier_name,
            },
            issued_at: line.created_at,
            status: if line.voided_at.is_some() {
                "void"
            } else {
                "valid"
            }
            .to_owned(),
            voided_at: line.voided_at,
            void_reason: line.void_reason,
            void_approved_by: line.void_approver_name,
            ledger_entry_id: line.ledger_entry_id,
            reversal_entry_id: line.reversal_entry_id,
            lines: line.lines.0,
        })
    }
}
