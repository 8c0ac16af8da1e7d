//! What the console's end-of-day pages need from the drawer (issue 14, items 4 to 6): one
//! function per page, over the same [`void_receipt`], [`close`], [`report`] and [`deposit`]
//! the JSON routes call. Forms post once: a double-clicked void or deposit is one effect
//! (an idempotency key claimed before the work, as a bank call's claim is), and a counted
//! close that needs a sign-off comes back with the amounts it may now reveal.

use std::time::Duration;

use chrono::Utc;
use ledger::{Currency, Money};
use serde_json::json;
use uuid::Uuid;

use super::{
    caller_id, cambodian_day, close, deposit, list, report, void_receipt, Approval, CashReceipt,
    CloseRequest, Denomination, DepositRequest, Drawer, DrawerReport, ListDrawers, VoidRequest,
    CURRENCIES, DRAWER_ROLES, READ_ROLES,
};
use crate::app::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::app::idempotency::{self, Claim};
use crate::app::money::MoneyView;
use crate::app::receipt_pages::receipt_url;
use crate::db;
use crate::state::AppState;

/// Whether `principal` approves by being who they are: a supervisor or admin, unless they are
/// the one whose work is approved (the domain refuses that; they then need someone else's
/// password like anyone).
fn approves_from_session(principal: &Principal, worker: Option<Uuid>) -> bool {
    matches!(principal.role, Role::Supervisor | Role::Admin) && worker != Some(caller_id(principal))
}

/// A cash receipt the caller may see, by its number; 404 for anything else (an online
/// payment's number included: it is refunded, never voided here).
async fn cash_receipt(
    state: &AppState,
    principal: &Principal,
    number: &str,
) -> Result<CashReceipt, AppError> {
    principal.require(&DRAWER_ROLES)?;
    if number.is_empty() || number.len() > 40 {
        return Err(AppError::not_found("receipt"));
    }
    let mut conn = state.pool.acquire().await?;
    let holder = db::cashier::number_holder(&mut conn, number)
        .await?
        .filter(|holder| principal.sees_office(&holder.office_code))
        .ok_or_else(|| AppError::not_found("receipt"))?;
    let id = holder
        .cash_receipt_id
        .ok_or_else(|| AppError::not_found("cash receipt"))?;
    let line = db::cashier::receipt(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("receipt"))?;
    CashReceipt::from_line(line)
}

/// The void page: the receipt, and whether the caller's session is the approval.
#[derive(Clone, Debug)]
pub struct VoidForm {
    pub receipt: CashReceipt,
    /// A supervisor or admin voiding someone else's payment: no password fields.
    pub self_approves: bool,
    /// Where the receipt is verified (it says void once it is).
    pub verify_url: String,
}

/// The receipt `number` as the void page shows it (void or not).
#[tracing::instrument(skip_all, fields(receipt.number = %number))]
pub async fn void_form(
    state: &AppState,
    principal: &Principal,
    number: &str,
) -> Result<VoidForm, AppError> {
    let receipt = cash_receipt(state, principal, number).await?;
    Ok(VoidForm {
        self_approves: approves_from_session(principal, receipt.cashier.user_id),
        verify_url: receipt_url(&state.keyring, number),
        receipt,
    })
}

/// How long a twin of a form post waits for the first to finish before answering "in
/// progress": a double click lands on the first one's result.
const TWIN_WAIT: Duration = Duration::from_secs(5);
const TWIN_POLL: Duration = Duration::from_millis(100);

/// Runs `work` once per `(caller, key, request)`: the key is claimed and committed first (as
/// before a bank call: app::idempotency), answered after the work, released when it fails.
/// A twin waits for the first to finish and then answers as it did. Without a key, the work
/// simply runs.
async fn once<F, Fut>(
    state: &AppState,
    principal: &Principal,
    key: Option<&str>,
    request: &[u8],
    work: F,
) -> Result<(), AppError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let Some(key) = key else { return work().await };
    let scope = principal.idempotency_scope();
    let hash = idempotency::request_hash("POST", "console", request);
    let started = tokio::time::Instant::now();
    loop {
        let mut tx = state.pool.begin().await?;
        match idempotency::claim(&mut tx, &scope, key, &hash).await {
            Ok(Claim::Fresh) => {
                tx.commit().await?;
                break;
            }
            Ok(Claim::Replay { .. }) => return Ok(()),
            Err(error)
                if error
                    .refusal()
                    .is_some_and(|r| r.code == "idempotency_request_in_progress")
                    && started.elapsed() < TWIN_WAIT =>
            {
                drop(tx);
                tokio::time::sleep(TWIN_POLL).await;
            }
            Err(error) => return Err(error),
        }
    }
    match work().await {
        Ok(()) => {
            let mut tx = state.pool.begin().await?;
            idempotency::save_created(&mut tx, &scope, key, &json!({"done": true})).await?;
            tx.commit().await?;
            Ok(())
        }
        Err(error) => {
            idempotency::release(&state.pool, &scope, key).await?;
            Err(error)
        }
    }
}

/// Voids receipt `number` from the console's form ([`void_receipt`]); a double-submitted form
/// (same `idempotency_key`) is one void, and its twin answers as the first did.
#[tracing::instrument(skip_all, fields(receipt.number = %number))]
pub async fn void_from_form(
    state: &AppState,
    principal: &Principal,
    number: &str,
    idempotency_key: Option<&str>,
    request: VoidRequest,
) -> Result<(), AppError> {
    let fingerprint = json!({"void": number, "reason": request.reason, "then": request.then})
        .to_string()
        .into_bytes();
    once(state, principal, idempotency_key, &fingerprint, || async {
        void_receipt(state, principal, number, request)
            .await
            .map(|_| ())
    })
    .await
}

/// The close page: the drawer to count (never what it should hold: the count is blind), and
/// whether the caller's session signs off a variance.
#[derive(Clone, Debug)]
pub struct CloseForm {
    pub drawer: Drawer,
    pub self_approves: bool,
}

/// The drawer the close page counts: `id`, or without it the caller's own open drawer at
/// `office` (their first office by default); `None` when they have none open.
#[tracing::instrument(skip_all)]
pub async fn close_form(
    state: &AppState,
    principal: &Principal,
    id: Option<Uuid>,
    office: Option<&str>,
) -> Result<Option<CloseForm>, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let drawer = match id {
        Some(id) => Some(super::get(state, principal, id).await?),
        None => {
            let office = office.or(principal.office_codes.first().map(String::as_str));
            let mine = caller_id(principal);
            list(
                state,
                principal,
                ListDrawers {
                    office_code: office.map(str::to_owned),
                    status: Some("open".to_owned()),
                },
            )
            .await?
            .into_iter()
            .find(|drawer| drawer.cashier.user_id.or(drawer.cashier.api_key_id) == Some(mine))
        }
    };
    Ok(drawer.map(|drawer| CloseForm {
        self_approves: approves_from_session(
            principal,
            drawer.cashier.user_id.or(drawer.cashier.api_key_id),
        ),
        drawer,
    }))
}

/// Expected, counted and variance of one currency, revealed once the count is in.
#[derive(Clone, Debug)]
pub struct CountedCurrency {
    pub expected: Money,
    pub counted: Money,
    pub variance: Money,
}

/// What a counted close came to.
#[derive(Clone, Debug)]
pub enum CloseOutcome {
    /// Closed (zero variance, or signed off): show the report.
    Closed(Box<Drawer>),
    /// Closed already (a second submit of the same count, or someone else closed it).
    AlreadyClosed,
    /// The count differs and no valid sign-off came with it: nothing changed.
    NeedsSignOff {
        amounts: Vec<CountedCurrency>,
        /// A sign-off was given and refused (wrong person or password: never which).
        refused: bool,
    },
}

/// How a counted close is signed off.
#[derive(Debug)]
pub enum SignOff {
    /// The first, blind count: a variance is never signed off by it (not even by a
    /// supervisor's session: they see the variance before they sign it).
    NotYet,
    /// A supervisor's username and password typed on this screen.
    Password(Approval),
    /// The caller's own session (a supervisor or admin closing someone else's drawer).
    Session,
}

/// Closes drawer `id` with the notes counted ([`close`]): the amounts are summed from the
/// notes. A variance without a valid sign-off answers [`CloseOutcome::NeedsSignOff`] with
/// expected, counted and variance per currency, which the page now shows; nothing changes.
///
/// The blind count compares with the report's expected amount first, so that a supervisor's
/// session does not sign off a variance unseen; a void landing between that read and the
/// close (the drawer is being counted, so it should not) would be signed by the session.
#[tracing::instrument(skip_all, fields(cashier_session.id = %id))]
pub async fn close_counted(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    notes: Vec<Denomination>,
    sign_off: SignOff,
) -> Result<CloseOutcome, AppError> {
    let sums = super::sum_denominations(&notes, "denominations")?;
    let reveal = |report: &DrawerReport| -> Result<Vec<CountedCurrency>, AppError> {
        let mut amounts = Vec::new();
        for (currency, expected) in CURRENCIES.iter().zip(&report.expected) {
            let expected = expected.parse("expected")?;
            let counted = Money::from_minor(sums.get(*currency), *currency);
            let variance = counted.checked_sub(expected).map_err(AppError::internal)?;
            amounts.push(CountedCurrency {
                expected,
                counted,
                variance,
            });
        }
        Ok(amounts)
    };
    let approval = match sign_off {
        SignOff::NotYet => {
            let current = report(state, principal, id).await?;
            if current.drawer.status != "open" {
                return Ok(CloseOutcome::AlreadyClosed);
            }
            let amounts = reveal(&current)?;
            if amounts.iter().any(|amount| !amount.variance.is_zero()) {
                return Ok(CloseOutcome::NeedsSignOff {
                    amounts,
                    refused: false,
                });
            }
            None
        }
        SignOff::Password(approval) => Some(approval),
        SignOff::Session => None,
    };
    let request = CloseRequest {
        counted: sums.views(),
        denominations: Some(notes),
        approval,
        approved_by: None,
    };
    match close(state, principal, id, request).await {
        Ok(drawer) => Ok(CloseOutcome::Closed(Box::new(drawer))),
        Err(error) => {
            let code = error.refusal().map(|refusal| refusal.code);
            match code {
                Some("drawer_closed") => Ok(CloseOutcome::AlreadyClosed),
                Some("variance_needs_approval") | Some("approval_refused") => {
                    let current = report(state, principal, id).await?;
                    Ok(CloseOutcome::NeedsSignOff {
                        amounts: reveal(&current)?,
                        refused: code == Some("approval_refused"),
                    })
                }
                _ => Err(error),
            }
        }
    }
}

/// The deposit page: the drawer's report and what it holds to deposit per currency (counted
/// less the float, which stays as the change fund, less earlier deposits; never below 0).
#[derive(Clone, Debug)]
pub struct DepositForm {
    pub report: DrawerReport,
    pub holds: Vec<Money>,
}

/// What drawer `id` holds to deposit.
#[tracing::instrument(skip_all, fields(cashier_session.id = %id))]
pub async fn deposit_form(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<DepositForm, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let report = report(state, principal, id).await?;
    let mut holds = Vec::new();
    for (index, currency) in CURRENCIES.iter().enumerate() {
        let of = |list: Option<&Vec<MoneyView>>| -> Result<i64, AppError> {
            Ok(match list.and_then(|list| list.get(index)) {
                Some(view) => view.parse("amount")?.amount_minor(),
                None => 0,
            })
        };
        let held = of(report.counted.as_ref())?
            .saturating_sub(of(Some(&report.opening_float))?)
            .saturating_sub(of(Some(&report.deposited_total))?)
            .max(0);
        holds.push(Money::from_minor(held, *currency));
    }
    Ok(DepositForm { report, holds })
}

/// Records the deposit form's amounts (one [`deposit`] per currency with an amount, same
/// slip), after checking every amount against what the drawer holds so that a refused
/// currency records nothing of the other; a double-submitted form is one deposit.
#[tracing::instrument(skip_all, fields(cashier_session.id = %id))]
pub async fn deposit_from_form(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    idempotency_key: Option<&str>,
    amounts: Vec<MoneyView>,
    slip_reference: String,
    bank_account: Option<String>,
) -> Result<(), AppError> {
    principal.require(&DRAWER_ROLES)?;
    let mut parsed = Vec::new();
    for (index, view) in amounts.iter().enumerate() {
        let money = view.parse(&format!("amount[{index}]"))?;
        if money.is_negative() {
            return Err(AppError::validation(
                &format!("amount[{index}]"),
                "amount must not be negative",
            ));
        }
        if money.is_positive() {
            parsed.push(money);
        }
    }
    if parsed.is_empty() {
        return Err(AppError::validation("amount", "amount must be more than 0"));
    }
    if slip_reference.trim().is_empty() {
        return Err(AppError::validation(
            "slip_reference",
            "slip_reference must be 1 to 64 printable characters",
        ));
    }
    let fingerprint = json!({"deposit": id, "amounts": amounts.iter().map(|m| (&m.amount, &m.currency)).collect::<Vec<_>>(), "slip": slip_reference, "bank": bank_account})
        .to_string()
        .into_bytes();
    // Checked once the key is claimed: a twin of a form that was just recorded answers as
    // it did, not "more than the drawer holds".
    once(state, principal, idempotency_key, &fingerprint, || async {
        let form = deposit_form(state, principal, id).await?;
        for money in &parsed {
            let held = form
                .holds
                .iter()
                .find(|held| held.currency() == money.currency())
                .map_or(0, Money::amount_minor);
            if money.amount_minor() > held && form.report.drawer.status == "closed" {
                return Err(AppError::unprocessable(
                    "deposit_exceeds_drawer",
                    "More than the drawer holds",
                    format!(
                        "the drawer holds {} {} to deposit",
                        Money::from_minor(held, money.currency()).format_amount(),
                        money.currency().code()
                    ),
                )
                .with("parameter", "amount")
                .with("currency", money.currency().code()));
            }
        }
        for money in parsed {
            deposit(
                state,
                principal,
                id,
                DepositRequest {
                    amount: money.into(),
                    slip_reference: slip_reference.clone(),
                    bank_account: bank_account.clone(),
                },
            )
            .await?;
        }
        Ok(())
    })
    .await
}

/// The office's drawers a supervisor watches: today's (Cambodia) and every one still open
/// (an open one from an earlier day is overdue), newest first.
#[tracing::instrument(skip_all)]
pub async fn office_drawers(
    state: &AppState,
    principal: &Principal,
    office: Option<&str>,
) -> Result<Vec<Drawer>, AppError> {
    principal.require(&READ_ROLES)?;
    let today = cambodian_day(Utc::now())?;
    let drawers = list(
        state,
        principal,
        ListDrawers {
            office_code: office.map(str::to_owned),
            status: None,
        },
    )
    .await?;
    let mut kept = Vec::new();
    for drawer in drawers {
        if drawer.status == "open" || cambodian_day(drawer.opened_at)? == today {
            kept.push(drawer);
        }
    }
    Ok(kept)
}

/// The currency of a note table's row (`KHR`/`USD`), for the count form.
pub fn note_values(currency: Currency) -> &'static [i64] {
    match currency {
        Currency::Khr => &super::KHR_NOTES,
        Currency::Usd => &super::USD_NOTES,
    }
}
