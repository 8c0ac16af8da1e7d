//! Taking cash against an intent: the settlement path of every channel, run inside the
//! counter's own transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{reach_drawer, Cashier, Reach, DRAWER_ROLES};
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::app::idempotency::{self, Claim};
use crate::app::intents::{self, IntentStatus};
use crate::app::money::{self, MoneyView};
use crate::app::quotes::QuoteLine;
use crate::app::settlement::{self, Received, Report, Settlement};
use crate::app::staff;
use crate::app::states::Channel;
use crate::db;
use crate::state::AppState;

/// The provider name of cash reports (provider_transactions' claim: one effect per receipt).
pub const CASH_PROVIDER: &str = "cash";

/// `POST /v1/cashier/sessions/{id}/receipts`: what the citizen hands over, for which intent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeCashRequest {
    pub payment_intent_id: Uuid,
    /// In the intent's currency, at least what is due.
    pub tendered: MoneyView,
}

/// A cash receipt.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CashReceipt {
    pub id: Uuid,
    /// The receipt number, gapless per office and fiscal year across every channel; `null`
    /// only for the moment between the payment's commit and its numbering.
    #[schema(example = "0320-2026-000042")]
    pub number: Option<String>,
    pub session_id: Uuid,
    pub office_code: String,
    pub payment_intent_id: Uuid,
    pub case_reference: String,
    /// What was due (and paid).
    pub amount: MoneyView,
    pub tendered: MoneyView,
    /// tendered - amount.
    pub change: MoneyView,
    pub cashier: Cashier,
    pub issued_at: DateTime<Utc>,
    /// `valid` or `void`.
    #[schema(example = "valid")]
    pub status: String,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    pub void_approved_by: Option<String>,
    pub ledger_entry_id: i64,
    pub reversal_entry_id: Option<i64>,
    /// The fee lines paid for (the drawer report sums them by service).
    pub lines: Vec<QuoteLine>,
}

/// Takes cash for an intent at the caller's open drawer, and answers once its receipt is
/// numbered. One transaction: the intent is locked first, so a bank payment of the same
/// intent settling at the same moment either finds it paid (its money goes to suspense as
/// `already_paid`, as for any second payment) or has paid it first (this answers 409
/// `already_paid` with that receipt number and records nothing). The payment settles as a
/// `cash` report through `settlement::record`, the bank's own path: the claim, the checks,
/// the entry (D cash:drawer · C revenue per line), the paid writes and the staged
/// `payment.paid`; numbered right after the commit like any payment settled alone.
///
/// Idempotent by `Idempotency-Key`: a double-submitted form records once, and the replay
/// answers with the receipt as it stands now (its number included).
#[tracing::instrument(skip_all, fields(cashier_session.id = %session_id, payment_intent.id = %request.payment_intent_id))]
pub async fn take_cash(
    state: &AppState,
    principal: &Principal,
    session_id: Uuid,
    idempotency_key: &str,
    request_hash: &[u8],
    request: TakeCashRequest,
) -> Result<CashReceipt, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let tendered = request.tendered.parse("tendered")?;
    let scope = principal.idempotency_scope();
    let mut tx = state.pool.begin().await?;
    if let Claim::Replay { body, .. } =
        idempotency::claim(&mut tx, &scope, idempotency_key, request_hash).await?
    {
        tx.rollback().await?;
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<Uuid>().ok())
            .ok_or_else(|| AppError::internal("a stored cash receipt answer without its id"))?;
        return read_receipt(state, id).await;
    }
    // Lock order as everywhere (app::settlement::record_claimed): the intent, then the rest.
    let intent = intents::load(&mut tx, Some(principal), request.payment_intent_id, true).await?;
    let drawer = reach_drawer(&mut tx, principal, session_id, Reach::Own, true).await?;
    if drawer.status != "open" {
        return Err(AppError::conflict(
            "drawer_closed",
            "Drawer closed",
            "this drawer is closed; open a new one to take cash",
        ));
    }
    if drawer.office_code != intent.office_code {
        return Err(AppError::unprocessable(
            "intent_of_another_office",
            "Intent of another office",
            "this payment intent belongs to another office than the drawer",
        ));
    }
    match intent.status {
        IntentStatus::AwaitingPayment => {}
        IntentStatus::Paid => {
            return Err(AppError::conflict(
                "already_paid",
                "Already paid",
                format!(
                    "this case was already paid ({}); take no money",
                    intent.paid_channel.as_deref().unwrap_or("unknown channel")
                ),
            )
            .with("payment_intent_id", intent.id.to_string())
            .with("receipt_number", intent.receipt_number.clone())
            .with("paid_channel", intent.paid_channel.clone()));
        }
        other @ (IntentStatus::Cancelled | IntentStatus::Expired) => {
            return Err(AppError::invalid_state(format!(
                "a {other} payment intent cannot be paid"
            )));
        }
    }
    let due = money::from_row(intent.total_minor, &intent.currency)?;
    if tendered.currency() != due.currency() {
        return Err(AppError::unprocessable(
            "tender_currency",
            "Wrong currency",
            format!(
                "this fee is due in {}; take {} {}",
                due.currency().code(),
                due.format_amount(),
                due.currency().code()
            ),
        )
        .with("parameter", "tendered"));
    }
    let change = tendered.checked_sub(due).map_err(AppError::internal)?;
    if change.is_negative() {
        return Err(AppError::unprocessable(
            "tender_short",
            "Not enough cash",
            format!(
                "{} {} was handed over, but {} {} is due: {} {} more is needed",
                tendered.format_amount(),
                due.currency().code(),
                due.format_amount(),
                due.currency().code(),
                change
                    .negated()
                    .map_err(AppError::internal)?
                    .format_amount(),
                due.currency().code(),
            ),
        )
        .with("parameter", "tendered")
        .with(
            "due",
            serde_json::to_value(MoneyView::from(due)).map_err(AppError::internal)?,
        ));
    }
    let cashier = Cashier::of(&mut tx, principal).await?;
    let receipt_id = Uuid::now_v7();
    let attempt_id = Uuid::now_v7();
    let reference = format!("cash-{receipt_id}");
    db::cashier::insert_cash_attempt(
        &mut tx,
        attempt_id,
        intent.id,
        &intent.office_code,
        &intent.currency,
        intent.total_minor,
        &reference,
    )
    .await?;
    let report = Report {
        provider: CASH_PROVIDER,
        channel: Channel::Cash,
        transaction_id: receipt_id.to_string(),
        provider_reference: reference,
        received: Received::Money {
            money: due,
            reported: due.format_amount(),
        },
        receiving_account_matches: true,
        paid_at: None,
        inbox_message_id: None,
        signature_valid: None,
    };
    match settlement::record(&mut tx, &report).await? {
        Settlement::Paid { .. } => {}
        // The intent is locked and awaits payment, the amount is the attempt's: anything else
        // is a bug, and nothing of it commits.
        other => {
            return Err(AppError::internal(format!(
                "a cash payment settled as {}",
                other.verdict()
            )))
        }
    }
    let entry_id = db::cashier::claim_entry(&mut tx, CASH_PROVIDER, &report.transaction_id)
        .await?
        .ok_or_else(|| AppError::internal("the cash payment's entry is not recorded"))?;
    db::cashier::insert_receipt(
        &mut tx,
        &db::cashier::NewReceipt {
            id: receipt_id,
            session_id,
            office_code: &intent.office_code,
            payment_intent_id: intent.id,
            payment_attempt_id: attempt_id,
            ledger_entry_id: entry_id,
            currency: &intent.currency,
            amount_minor: due.amount_minor(),
            tendered_minor: tendered.amount_minor(),
            change_minor: change.amount_minor(),
            cashier_user_id: cashier.user_id,
            cashier_key_id: cashier.api_key_id,
            cashier_name: &cashier.name,
        },
    )
    .await?;
    staff::record(
        &mut tx,
        principal,
        "cash_receipt",
        Some(&intent.office_code),
        Some(&receipt_id.to_string()),
        json!({
            "session_id": session_id,
            "payment_intent_id": intent.id,
            "amount": MoneyView::from(due),
            "tendered": MoneyView::from(tendered),
            "change": MoneyView::from(change),
        }),
    )
    .await?;
    // The stored answer names the receipt; a replay reads it afresh, with its number.
    idempotency::save_created(&mut tx, &scope, idempotency_key, &json!({"id": receipt_id})).await?;
    tx.commit().await?;
    tracing::info!(cash_receipt.id = %receipt_id, "cash taken");
    state
        .receipts
        .after_payment(&state.pool, &intent.office_code)
        .await;
    read_receipt(state, receipt_id).await
}

/// One cash receipt as it stands.
async fn read_receipt(state: &AppState, id: Uuid) -> Result<CashReceipt, AppError> {
    let mut conn = state.pool.acquire().await?;
    let line = db::cashier::receipt(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("cash receipt"))?;
    CashReceipt::from_line(line)
}
