//! Voiding a cash receipt: the same Cambodian day, with a reason and a supervisor's approval;
//! the payment's entry reversed, `payment.voided` sent, the number kept used.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{cambodian_day, DRAWER_ROLES};
use crate::app::auth::{Principal, Role};
use crate::app::error::{AppError, Refusal};
use crate::app::intents::{self, Closing, ClosingIntent, IntentStatus};
use crate::app::money::{self, MoneyView};
use crate::app::outbox::{self, Event, NewEvent};
use crate::app::staff::{self, Approver};
use crate::db;
use crate::state::AppState;

/// A supervisor's username and password, typed on the requester's screen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub username: String,
    pub password: String,
}

/// `POST /v1/receipts/{number}/void`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    /// Why: kept with the void and sent in `payment.voided` (1 to 500 characters).
    pub reason: String,
    /// What becomes of the intent: `reopen` (awaiting payment again, the default) or `cancel`.
    #[schema(example = "reopen")]
    pub then: Option<String>,
    /// A supervisor's approval; not needed when the caller is a supervisor or admin.
    pub approval: Option<Approval>,
}

/// A voided receipt.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct VoidedReceipt {
    #[schema(example = "0320-2026-000042")]
    pub number: String,
    /// Always `void`.
    #[schema(example = "void")]
    pub status: String,
    pub payment_intent_id: Uuid,
    pub amount: MoneyView,
    pub reason: String,
    pub voided_at: DateTime<Utc>,
    pub approved_by: String,
    /// `reopen` or `cancel`.
    pub then: String,
    /// The intent's status now: `awaiting_payment` or `cancelled`.
    pub payment_intent_status: IntentStatus,
    pub reversal_entry_id: i64,
}

fn approval_refused(detail: &str) -> AppError {
    AppError::Forbidden(Refusal::new(
        "approval_refused",
        "Approval refused",
        detail.to_owned(),
    ))
}

/// Voids cash receipt `number`. Refused: an online payment (409 `not_cash`: it is refunded,
/// not voided), a receipt of another day (409 `void_not_same_day`) or of a drawer closed
/// already (409 `drawer_closed`), a second void (409
/// `already_void`), no approval or the approval of the person who took the payment or asks
/// for the void (403 `approval_refused`). One transaction: the reversal entry, the void on
/// the receipt, the intent reopened or cancelled, `payment.voided`, the staff action.
#[tracing::instrument(skip_all, fields(receipt.number = %number))]
pub async fn void_receipt(
    state: &AppState,
    principal: &Principal,
    number: &str,
    request: VoidRequest,
) -> Result<VoidedReceipt, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let reason = request.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(AppError::validation(
            "reason",
            "reason must be 1 to 500 printable characters",
        ));
    }
    let then = request.then.as_deref().unwrap_or("reopen").to_owned();
    if !matches!(then.as_str(), "reopen" | "cancel") {
        return Err(AppError::validation(
            "then",
            "then must be reopen or cancel",
        ));
    }
    let mut tx = state.pool.begin().await?;
    let found = db::cashier::number_holder(&mut tx, number)
        .await?
        .filter(|holder| principal.sees_office(&holder.office_code))
        .ok_or_else(|| AppError::not_found("receipt"))?;
    // Lock order as everywhere: the intent first; then the holder is read again, so of two
    // voids at once the second sees the first.
    let intent = intents::load(&mut tx, None, found.payment_intent_id, true).await?;
    let holder = db::cashier::number_holder(&mut tx, number)
        .await?
        .ok_or_else(|| AppError::not_found("receipt"))?;
    if holder.voided {
        return Err(AppError::conflict(
            "already_void",
            "Already void",
            "this receipt is void already",
        ));
    }
    let receipt_id = match (holder.paid_channel.as_deref(), holder.cash_receipt_id) {
        (Some("cash"), Some(id)) => id,
        _ => {
            return Err(AppError::conflict(
                "not_cash",
                "Not a cash receipt",
                "only a cash receipt is voided; an online payment is refunded",
            ))
        }
    };
    // Its drawer next (intent before drawer, as taking cash locks them): a drawer being
    // closed counts either with this void or without it, never half.
    let session_id = db::cashier::receipt(&mut tx, receipt_id)
        .await?
        .ok_or_else(|| AppError::internal("a numbered cash receipt is gone"))?
        .session_id;
    let drawer = db::cashier::session(&mut tx, session_id, true)
        .await?
        .ok_or_else(|| AppError::internal("a cash receipt without its drawer"))?;
    if drawer.status != "open" {
        return Err(AppError::conflict(
            "drawer_closed",
            "Drawer closed",
            "this receipt's drawer is closed and counted; a correction now is a refund",
        ));
    }
    db::cashier::lock_receipt(&mut tx, receipt_id).await?;
    let receipt = db::cashier::receipt(&mut tx, receipt_id)
        .await?
        .ok_or_else(|| AppError::internal("a locked cash receipt is gone"))?;
    let paid_at = intent
        .paid_at
        .ok_or_else(|| AppError::internal("a numbered intent without paid_at"))?;
    let now = Utc::now();
    if cambodian_day(paid_at)? != cambodian_day(now)? {
        return Err(AppError::conflict(
            "void_not_same_day",
            "Not the same day",
            "a receipt is voided only on the day it was issued (Cambodia); a later correction is a refund",
        ));
    }
    let approver =
        match &request.approval {
            Some(approval) => {
                staff::approve(
                    &mut tx,
                    &state.pool,
                    principal,
                    &approval.username,
                    &approval.password,
                    &intent.office_code,
                )
                .await?
            }
            None if matches!(principal.role, Role::Supervisor | Role::Admin) => {
                Approver::from_caller(principal)?
            }
            None => return Err(approval_refused(
                "a void needs a supervisor's approval: their username and password in \"approval\"",
            )),
        };
    let took_it = (approver.user_id.is_some() && approver.user_id == receipt.cashier_user_id)
        || (approver.api_key_id.is_some() && approver.api_key_id == receipt.cashier_key_id);
    if took_it {
        return Err(approval_refused(
            "a supervisor cannot approve the void of a payment they took themselves",
        ));
    }
    let reversal = ledger::store::reversal_of(
        &mut tx,
        ledger::EntryId(receipt.ledger_entry_id),
        &format!("receipt {number} voided: {reason}"),
    )
    .await?
    .idempotency_key(format!("void:{receipt_id}"))
    .build()?;
    let reversal_id = match ledger::store::post(&mut tx, &reversal).await? {
        ledger::store::PostOutcome::Posted(id) | ledger::store::PostOutcome::AlreadyPosted(id) => {
            id.0
        }
    };
    let requester_user = principal.staff.as_ref().map(|staff| staff.user_id);
    db::cashier::void_receipt(
        &mut tx,
        &db::cashier::VoidWrite {
            id: receipt_id,
            receipt_number: number,
            reason: &reason,
            requested_by_user_id: requester_user,
            requested_by_key_id: principal.api_key_id(),
            approver_user_id: approver.user_id,
            approver_key_id: approver.api_key_id,
            approver_name: &approver.name,
            reversal_entry_id: reversal_id,
            then: &then,
        },
    )
    .await?;
    if !db::cashier::reopen_intent(&mut tx, intent.id, receipt.payment_attempt_id).await? {
        return Err(AppError::conflict(
            "case_has_open_intent",
            "Case has an open intent",
            "this case has another payment intent awaiting payment; cancel it before voiding this receipt",
        ));
    }
    if then == "cancel" {
        intents::close(
            &mut tx,
            Closing::Cancelled,
            &[ClosingIntent {
                id: intent.id,
                office_code: intent.office_code.clone(),
                case_reference: intent.case_reference.clone(),
                currency: intent.currency.clone(),
                total_minor: intent.total_minor,
            }],
        )
        .await?;
    }
    let total = money::from_row(intent.total_minor, &intent.currency)?;
    outbox::enqueue(
        &mut tx,
        NewEvent {
            event: Event::PaymentVoided(outbox::PaymentVoided {
                payment_intent_id: intent.id,
                case_reference: intent.case_reference.clone(),
                office_code: intent.office_code.clone(),
                total: total.into(),
                channel: "cash".to_owned(),
                receipt_number: number.to_owned(),
                reason: reason.clone(),
                then: then.clone(),
                voided_at: now,
            }),
            office_code: &intent.office_code,
            case_reference: Some(&intent.case_reference),
            payment_intent_id: Some(intent.id),
        },
    )
    .await?;
    staff::record(
        &mut tx,
        principal,
        "cash_receipt_void",
        Some(&intent.office_code),
        Some(number),
        json!({
            "cash_receipt_id": receipt_id,
            "reason": reason,
            "then": then,
            "approved_by": {"user_id": approver.user_id, "api_key_id": approver.api_key_id, "name": approver.name},
            "reversal_entry_id": reversal_id,
        }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(receipt.number = %number, "cash receipt voided");
    Ok(VoidedReceipt {
        number: number.to_owned(),
        status: "void".to_owned(),
        payment_intent_id: intent.id,
        amount: total.into(),
        reason,
        voided_at: now,
        approved_by: approver.name,
        payment_intent_status: if then == "cancel" {
            IntentStatus::Cancelled
        } else {
            IntentStatus::AwaitingPayment
        },
        then,
        reversal_entry_id: reversal_id,
    })
}
