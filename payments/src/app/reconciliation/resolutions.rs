//! Exceptions worked to zero (issue 15, part 5): a person allocates, refunds, writes off or
//! matches an exception by hand, or reverses what was done, with a reason.
//!
//! Every exception has an *open side*: the account and amount the books hold because of it.
//!
//! | kind | open side | closing it |
//! |---|---|---|
//! | suspense kinds | credit in `{office}:suspense:{CUR}` | D suspense · C target |
//! | `unmatched_statement_line` CRDT | money in `bank:{segment}` the ledger never recorded | D bank · C target |
//! | `unmatched_statement_line` DBIT | money the bank paid out | D target · C bank |
//! | `unmatched_ledger_item` (debit to clearing / cash in transit) | money expected that never came | D target · C clearing |
//! | `unmatched_ledger_item` (credit to refunds payable) | money expected to leave | D refunds-payable · C target |
//!
//! Each resolution posts ONE entry (idempotency key `resolution:{id}`) in the same transaction
//! as its row in `exception_resolutions`, the exception's new status, the `staff_actions` row
//! and the `reconciliation.exception` event (`data.status`). The exception row is locked
//! first, so of two people resolving it at once one wins and the other is told 409
//! `exception_already_resolved`.
//!
//! Decisions: `allocate` pays only an intent awaiting payment (an expired intent is not made
//! payable again behind the workflow's back: the workflow makes a new intent) of the
//! exception's own office (an entry is of one office: money parked in the unallocated office
//! 0000 is refunded or written off, not allocated). `allocate` is not reversible: the payment
//! is a receipt now, and its correction is a refund. `match` is not reversible either here:
//! the match rows keep a line and an item matched once, and undoing a match would need a
//! marker on them. A write-off needs a supervisor's approval: their username and password
//! (app::staff::approve, whose failures count toward their lockout; nobody approves their own
//! action), or the caller being a supervisor or admin themselves, as a void does.

use chrono::{DateTime, Utc};
use ledger::{AccountCode, AccountKind, BalancedEntry, Currency, EntryBuilder, Money};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::matching::Flow;
use super::postings;
use crate::app::auth::{Principal, Role};
use crate::app::cashier::Approval;
use crate::app::error::{AppError, Refusal};
use crate::app::idempotency::{self, Claim};
use crate::app::intents::{self, IntentStatus};
use crate::app::money::MoneyView;
use crate::app::outbox::{self, Event, NewEvent};
use crate::app::settlement::{self, PaidWrite, Received, Report};
use crate::app::staff::{self, Approver};
use crate::app::states::{Channel, ExceptionKind, ExceptionStatus};
use crate::db;
use crate::db::resolutions::{ExceptionRow, LineRow, PostingRow};
use crate::state::AppState;

/// Who works exceptions: supervisors, auditors and admins (keys and persons).
pub const RESOLVE_ROLES: [Role; 3] = [Role::Supervisor, Role::Auditor, Role::Admin];

/// The provider name of allocations in provider_transactions: one allocation per exception.
pub const ALLOCATION_PROVIDER: &str = "reconciliation";

/// `POST /v1/reconciliation/exceptions/{id}/resolutions`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionRequest {
    /// `allocate`, `refund`, `write_off`, `match` or `reverse`.
    #[schema(example = "refund")]
    pub action: String,
    /// Why, 1 to 1000 characters; kept with the resolution.
    pub reason: Option<String>,
    /// allocate: the intent the money pays.
    pub payment_intent_id: Option<Uuid>,
    /// allocate, instead of `payment_intent_id`: the case's registration code; the office's
    /// intent awaiting payment for it.
    pub case_reference: Option<String>,
    /// refund: the bank's reference of the refund.
    pub bank_reference: Option<String>,
    /// write_off: `suspense`, `income` or `bank_fees`.
    pub write_off_to: Option<String>,
    /// write_off: a supervisor's approval; not needed when the caller is a supervisor or admin.
    pub approval: Option<Approval>,
    /// match (an item exception): the statement line.
    pub statement_line_id: Option<Uuid>,
    /// match (a line exception): the ledger item, named by its posting.
    pub item_posting_id: Option<i64>,
    /// reverse: the resolution of this exception to undo.
    pub resolution_id: Option<Uuid>,
}

/// A resolution as recorded.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Resolution {
    pub id: Uuid,
    pub exception_id: Uuid,
    pub office_code: String,
    #[schema(example = "refund")]
    pub action: String,
    pub reason: String,
    pub payment_intent_id: Option<Uuid>,
    /// allocate: the receipt number of the paid intent.
    pub receipt_number: Option<String>,
    pub bank_reference: Option<String>,
    pub write_off_to: Option<String>,
    pub match_id: Option<Uuid>,
    pub reverses_resolution_id: Option<Uuid>,
    /// The later resolution that reversed this one.
    pub reversed_by_resolution_id: Option<Uuid>,
    pub ledger_entry_id: Option<i64>,
    pub approved_by: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<db::resolutions::ResolutionRow> for Resolution {
    fn from(row: db::resolutions::ResolutionRow) -> Resolution {
        Resolution {
            id: row.id,
            exception_id: row.exception_id,
            office_code: row.office_code,
            action: row.action,
            reason: row.reason,
            payment_intent_id: row.payment_intent_id,
            receipt_number: row.receipt_number,
            bank_reference: row.bank_reference,
            write_off_to: row.write_off_to,
            match_id: row.match_id,
            reverses_resolution_id: row.reverses_resolution_id,
            reversed_by_resolution_id: row.reversed_by_resolution_id,
            ledger_entry_id: row.ledger_entry_id,
            approved_by: row.approved_by_name,
            created_by: row.created_by_name,
            created_at: row.created_at,
        }
    }
}

/// What a resolution answers: the resolution and the exception's status now.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Resolved {
    #[serde(flatten)]
    pub resolution: Resolution,
    pub exception_status: ExceptionStatus,
    /// match: the other side's exception, resolved by the same match.
    pub also_resolved_exception_id: Option<Uuid>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Allocate,
    Refund,
    WriteOff,
    Match,
    Reverse,
}

impl Action {
    fn parse(text: &str) -> Result<Action, AppError> {
        Ok(match text {
            "allocate" => Action::Allocate,
            "refund" => Action::Refund,
            "write_off" => Action::WriteOff,
            "match" => Action::Match,
            "reverse" => Action::Reverse,
            _ => {
                return Err(AppError::validation(
                    "action",
                    "action must be allocate, refund, write_off, match or reverse",
                ))
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Action::Allocate => "allocate",
            Action::Refund => "refund",
            Action::WriteOff => "write_off",
            Action::Match => "match",
            Action::Reverse => "reverse",
        }
    }
}

/// The account and amount the books hold because of an exception.
struct OpenSide {
    account: AccountCode,
    money: Money,
    /// True when closing it debits `account` (money in suspense, in the bank unrecorded, a
    /// refund expected to leave); false when closing credits it (money paid out unrecorded,
    /// money expected that never came).
    inflow: bool,
    /// The channel whose money it is (allocate settles through it).
    channel: Option<Channel>,
    about: About,
}

enum About {
    Suspense,
    Line(LineRow),
    Item(PostingRow),
}

fn checked_text(field: &str, text: Option<&str>, max: usize) -> Result<String, AppError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(AppError::validation(
            field,
            format!("{field} must be 1 to {max} printable characters"),
        ));
    }
    Ok(text.to_owned())
}

fn not_allowed(detail: impl Into<String>) -> AppError {
    AppError::unprocessable("action_not_allowed", "Action not allowed", detail)
}

fn already_resolved() -> AppError {
    AppError::conflict(
        "exception_already_resolved",
        "Exception already resolved",
        "this exception is resolved already (perhaps by someone else a moment ago); reverse its resolution first to work it again",
    )
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

fn creator_name(principal: &Principal) -> String {
    match &principal.staff {
        Some(staff) => staff.name.clone(),
        None => format!("key:{}", principal.key_id),
    }
}

/// Works exception `exception_id` as `request` says. See the module's table for the entry
/// each action posts. Refused: a caller without the role (403), another office's exception
/// (404), bad input (422 `validation_failed` naming the field, `action_not_allowed`,
/// `intent_not_payable`, `amount_not_due`, `currency_mismatch`, `write_off_target`,
/// `flow_mismatch`), a resolved exception (409 `exception_already_resolved`), a reversal of a
/// resolution that cannot be reversed (409 `not_reversible`) or is reversed already (409
/// `already_reversed`), an approval refused (403 `approval_refused`).
///
/// With `idempotency` (`Idempotency-Key` and the request's hash; a console form's key) a
/// double-submitted request records once and the replay answers with the resolution as it
/// stands.
#[tracing::instrument(skip_all, fields(exception.id = %exception_id))]
pub async fn resolve(
    state: &AppState,
    principal: &Principal,
    exception_id: Uuid,
    idempotency: Option<(&str, &[u8])>,
    request: ResolutionRequest,
) -> Result<Resolved, AppError> {
    principal.require(&RESOLVE_ROLES)?;
    let action = Action::parse(request.action.trim())?;
    let reason = checked_text("reason", request.reason.as_deref(), 1000)?;
    check_fields(action, &request)?;
    let scope = principal.idempotency_scope();
    let mut tx = state.pool.begin().await?;
    if let Some((key, hash)) = idempotency {
        if let Claim::Replay { body, .. } = idempotency::claim(&mut tx, &scope, key, hash).await? {
            tx.rollback().await?;
            return replay(state, principal, &body).await;
        }
    }
    // Seen without a lock first only to learn the office (404 before anything) and, for a
    // match, the other side's exception: both are then locked in id order.
    let seen = db::resolutions::exception(&mut tx, exception_id)
        .await?
        .filter(|row| principal.sees_office(&row.office_code))
        .ok_or_else(|| AppError::not_found("exception"))?;
    let other_id = if action == Action::Match {
        match (request.statement_line_id, request.item_posting_id) {
            (Some(line), _) => db::resolutions::open_exception_of_line(&mut tx, line).await?,
            (_, Some(item)) => db::resolutions::open_exception_of_item(&mut tx, item).await?,
            _ => None,
        }
        .filter(|id| *id != seen.id)
    } else {
        None
    };
    let mut ids = vec![exception_id];
    ids.extend(other_id);
    let mut locked = db::resolutions::lock_exceptions(&mut tx, &ids).await?;
    let Some(position) = locked.iter().position(|row| row.id == exception_id) else {
        return Err(AppError::not_found("exception"));
    };
    let exception = locked.swap_remove(position);
    let other = locked.pop();
    let resolution_id = Uuid::now_v7();
    let actor = Actor::of(principal);
    if action == Action::Reverse {
        let resolved = reverse(
            &mut tx,
            principal,
            &actor,
            &exception,
            resolution_id,
            &reason,
            request.resolution_id,
        )
        .await?;
        if let Some((key, _)) = idempotency {
            idempotency::save_created(
                &mut tx,
                &scope,
                key,
                &json!({"id": resolution_id, "exception_id": exception_id}),
            )
            .await?;
        }
        tx.commit().await?;
        tracing::info!(exception_resolution.id = %resolution_id, "exception reopened by a reversal");
        return Ok(resolved);
    }
    if exception.status != ExceptionStatus::Open {
        return Err(already_resolved());
    }
    let side = open_side(&mut tx, &exception).await?;
    let mut done = Done::default();
    match action {
        Action::Allocate => {
            let intent_id = match (request.payment_intent_id, request.case_reference.as_deref()) {
                (Some(id), _) => Some(id),
                (None, Some(case)) => {
                    let case = case.trim();
                    if case.chars().count() > 64 || case.chars().any(char::is_control) {
                        return Err(AppError::validation(
                            "case_reference",
                            "case_reference must be up to 64 printable characters",
                        ));
                    }
                    let found = db::resolutions::intent_awaiting_for_case(
                        &mut tx,
                        &exception.office_code,
                        case,
                    )
                    .await?;
                    if found.is_none() {
                        return Err(AppError::unprocessable(
                            "intent_not_payable",
                            "Intent not payable",
                            "this office has no payment awaiting for that case",
                        )
                        .with("parameter", "case_reference"));
                    }
                    found
                }
                (None, None) => None,
            };
            allocate(
                &mut tx,
                &exception,
                &side,
                resolution_id,
                &reason,
                intent_id,
                &mut done,
            )
            .await?;
        }
        Action::Refund => {
            if !side.inflow || matches!(side.about, About::Item(_)) {
                return Err(not_allowed(
                    "a refund gives back money that arrived: it is for suspense exceptions and money-in statement lines",
                ));
            }
            let payable = account(&exception.office_code, AccountKind::RefundsPayable, &side)?;
            let entry = closing_entry(
                &exception,
                "exception_refund",
                &format!("refund given back by the bank: {reason}"),
                resolution_id,
                &side,
                &[(payable, side.money)],
            )?;
            done.entry_id = Some(post(&mut tx, &entry).await?);
            done.bank_reference = request.bank_reference.as_deref().map(str::trim);
        }
        Action::WriteOff => {
            write_off(
                &mut tx,
                state,
                principal,
                &exception,
                &side,
                resolution_id,
                &reason,
                &request,
                &mut done,
            )
            .await?;
        }
        Action::Match => {
            manual_match(
                &mut tx,
                &actor,
                &exception,
                other.as_ref(),
                &side,
                resolution_id,
                &reason,
                &request,
                &mut done,
            )
            .await?;
        }
        Action::Reverse => return Err(AppError::internal("reverse handled above")),
    }
    let new = db::resolutions::NewResolution {
        id: resolution_id,
        exception_id,
        office_code: &exception.office_code,
        action: action.as_str(),
        reason: &reason,
        payment_intent_id: done.payment_intent_id,
        bank_reference: done.bank_reference,
        write_off_to: done.write_off_to,
        match_id: done.match_id,
        reverses_resolution_id: None,
        ledger_entry_id: done.entry_id,
        approved_by_user_id: done.approver.as_ref().and_then(|a| a.user_id),
        approved_by_name: done.approver.as_ref().map(|a| a.name.as_str()),
        created_by_user_id: actor.user_id,
        created_by_key_id: actor.key_id,
        created_by_name: &actor.name,
    };
    db::resolutions::insert_resolution(&mut tx, &new).await?;
    db::resolutions::set_status(&mut tx, exception_id, true).await?;
    announce(
        &mut tx,
        &exception,
        &side.money,
        ExceptionStatus::Resolved,
        action.as_str(),
        resolution_id,
        done.entry_id,
        done.payment_intent_id,
    )
    .await?;
    staff::record(
        &mut tx,
        principal,
        "exception_resolution",
        Some(&exception.office_code),
        Some(&exception_id.to_string()),
        json!({
            "resolution_id": resolution_id,
            "action": action.as_str(),
            "reason": reason,
            "ledger_entry_id": done.entry_id,
            "payment_intent_id": done.payment_intent_id,
            "bank_reference": done.bank_reference,
            "write_off_to": done.write_off_to,
            "match_id": done.match_id,
            "approved_by": done.approver.as_ref().map(|a| json!({"user_id": a.user_id, "api_key_id": a.api_key_id, "name": a.name})),
        }),
    )
    .await?;
    // The other side of a manual match: its own resolution row, the same match and entry.
    let also = match (&other, done.match_id) {
        (Some(other), Some(match_id)) => {
            let other_resolution = Uuid::now_v7();
            let new = db::resolutions::NewResolution {
                id: other_resolution,
                exception_id: other.id,
                office_code: &other.office_code,
                action: "match",
                reason: &reason,
                payment_intent_id: None,
                bank_reference: None,
                write_off_to: None,
                match_id: Some(match_id),
                reverses_resolution_id: None,
                ledger_entry_id: done.entry_id,
                approved_by_user_id: None,
                approved_by_name: None,
                created_by_user_id: actor.user_id,
                created_by_key_id: actor.key_id,
                created_by_name: &actor.name,
            };
            db::resolutions::insert_resolution(&mut tx, &new).await?;
            db::resolutions::set_status(&mut tx, other.id, true).await?;
            let other_side = open_side(&mut tx, other).await?;
            announce(
                &mut tx,
                other,
                &other_side.money,
                ExceptionStatus::Resolved,
                "match",
                other_resolution,
                done.entry_id,
                None,
            )
            .await?;
            Some(other.id)
        }
        _ => None,
    };
    if let Some((key, _)) = idempotency {
        idempotency::save_created(
            &mut tx,
            &scope,
            key,
            &json!({"id": resolution_id, "exception_id": exception_id, "also_resolved_exception_id": also}),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(exception_resolution.id = %resolution_id, action = action.as_str(), "exception resolved");
    if let Some(office) = done.paid_office.as_deref() {
        // Numbered right after the commit, like any payment settled alone.
        state.receipts.after_payment(&state.pool, office).await;
    }
    let mut conn = state.pool.acquire().await?;
    let resolution = read_resolution(&mut conn, exception_id, resolution_id).await?;
    Ok(Resolved {
        resolution,
        exception_status: ExceptionStatus::Resolved,
        also_resolved_exception_id: also,
    })
}

/// The answer to a replayed request: the resolution it recorded, as it stands now.
async fn replay(
    state: &AppState,
    principal: &Principal,
    body: &serde_json::Value,
) -> Result<Resolved, AppError> {
    let id_of = |field: &str| {
        body.get(field)
            .and_then(serde_json::Value::as_str)
            .and_then(|id| id.parse::<Uuid>().ok())
    };
    let (Some(id), Some(exception_id)) = (id_of("id"), id_of("exception_id")) else {
        return Err(AppError::internal(
            "a stored resolution answer without its ids",
        ));
    };
    let mut conn = state.pool.acquire().await?;
    let exception = db::resolutions::exception(&mut conn, exception_id)
        .await?
        .filter(|row| principal.sees_office(&row.office_code))
        .ok_or_else(|| AppError::not_found("exception"))?;
    let resolution = read_resolution(&mut conn, exception_id, id).await?;
    Ok(Resolved {
        resolution,
        exception_status: exception.status,
        also_resolved_exception_id: id_of("also_resolved_exception_id"),
    })
}

/// The fields each action needs, checked before anything is read.
fn check_fields(action: Action, request: &ResolutionRequest) -> Result<(), AppError> {
    match action {
        Action::Allocate
            if request.payment_intent_id.is_none()
                && request.case_reference.as_deref().is_none_or(|case| case.trim().is_empty()) =>
        {
            Err(AppError::validation(
                "payment_intent_id",
                "allocate needs payment_intent_id (or case_reference): the intent the money pays",
            ))
        }
        Action::Refund => checked_text("bank_reference", request.bank_reference.as_deref(), 140)
            .map(|_| ()),
        Action::WriteOff => match request.write_off_to.as_deref() {
            Some("suspense" | "income" | "bank_fees") => Ok(()),
            _ => Err(AppError::validation(
                "write_off_to",
                "write_off_to must be suspense, income or bank_fees",
            )),
        },
        Action::Match => match (request.statement_line_id, request.item_posting_id) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(AppError::validation(
                "statement_line_id",
                "match needs exactly one of statement_line_id (for an item) or item_posting_id (for a line)",
            )),
        },
        Action::Reverse if request.resolution_id.is_none() => Err(AppError::validation(
            "resolution_id",
            "reverse needs resolution_id: the resolution to undo",
        )),
        _ => Ok(()),
    }
}

/// Who acts, as the rows record it.
struct Actor {
    user_id: Option<Uuid>,
    key_id: Option<Uuid>,
    name: String,
}

impl Actor {
    fn of(principal: &Principal) -> Actor {
        Actor {
            user_id: principal.staff.as_ref().map(|staff| staff.user_id),
            key_id: principal.api_key_id(),
            name: creator_name(principal),
        }
    }
}

/// What an action did, for the resolution row.
#[derive(Default)]
struct Done<'a> {
    entry_id: Option<i64>,
    payment_intent_id: Option<Uuid>,
    bank_reference: Option<&'a str>,
    write_off_to: Option<&'a str>,
    match_id: Option<Uuid>,
    approver: Option<Approver>,
    /// allocate: the office whose receipt queue to number after the commit.
    paid_office: Option<String>,
}

fn account(office: &str, kind: AccountKind, side: &OpenSide) -> Result<AccountCode, AppError> {
    Ok(AccountCode::new(office, kind, side.money.currency())?)
}

fn channel_of(text: Option<&str>) -> Option<Channel> {
    text.and_then(Channel::from_text)
}

/// Where the exception's money sits (see the module's table).
async fn open_side(
    conn: &mut PgConnection,
    exception: &ExceptionRow,
) -> Result<OpenSide, AppError> {
    match exception.kind {
        ExceptionKind::UnmatchedStatementLine => {
            let line_id = exception
                .statement_line_id
                .ok_or_else(|| AppError::internal("a line exception without its line"))?;
            let line = db::resolutions::line(conn, line_id)
                .await?
                .ok_or_else(|| AppError::internal("a line exception's line is gone"))?;
            let segment = line.ledger_segment.clone().ok_or_else(|| {
                not_allowed(format!(
                    "account {} {} is not one of this office's accounts",
                    line.account_id, line.currency
                ))
            })?;
            let currency = currency(&line.currency)?;
            let bank = AccountCode::new(
                &exception.office_code,
                AccountKind::Bank { account: segment },
                currency,
            )?;
            let channel = line
                .channels
                .iter()
                .flatten()
                .find_map(|c| channel_of(Some(c)).filter(|c| *c != Channel::Cash));
            Ok(OpenSide {
                account: bank,
                money: Money::from_minor(line.amount_minor, currency),
                inflow: line.direction == "CRDT",
                channel,
                about: About::Line(line),
            })
        }
        ExceptionKind::UnmatchedLedgerItem => {
            let posting_id = exception
                .item_posting_id
                .ok_or_else(|| AppError::internal("an item exception without its posting"))?;
            let item = db::resolutions::posting(conn, posting_id)
                .await?
                .ok_or_else(|| AppError::internal("an item exception's posting is gone"))?;
            let currency = currency(&item.currency)?;
            Ok(OpenSide {
                account: AccountCode::parse(&item.account)?,
                money: Money::from_minor(item.amount_minor.abs(), currency),
                inflow: item.amount_minor < 0,
                channel: None,
                about: About::Item(item),
            })
        }
        _ => {
            let entry_id = exception.ledger_entry_id.ok_or_else(|| {
                not_allowed("this exception's money was never posted (a currency or amount the books cannot hold): nothing to resolve in the ledger")
            })?;
            let posting = db::resolutions::suspense_posting(conn, entry_id)
                .await?
                .ok_or_else(|| {
                    AppError::internal("a suspense exception's entry has no suspense credit")
                })?;
            let currency = currency(&posting.currency)?;
            Ok(OpenSide {
                account: AccountCode::parse(&posting.account)?,
                money: Money::from_minor(-posting.amount_minor, currency),
                inflow: true,
                channel: channel_of(exception.details.get("channel").and_then(|c| c.as_str())),
                about: About::Suspense,
            })
        }
    }
}

fn currency(code: &str) -> Result<Currency, AppError> {
    code.trim()
        .parse::<Currency>()
        .map_err(|_| AppError::internal(format!("a stored currency {code:?}")))
}

/// The entry closing `side` against `counter` (each the other account and its amount).
fn closing_entry(
    exception: &ExceptionRow,
    kind: &str,
    description: &str,
    resolution_id: Uuid,
    side: &OpenSide,
    counter: &[(AccountCode, Money)],
) -> Result<BalancedEntry, AppError> {
    let description: String = description.chars().take(1000).collect();
    let mut entry = EntryBuilder::new(&exception.office_code, kind, &description)
        .idempotency_key(format!("resolution:{resolution_id}"))
        .metadata(json!({
            "exception_id": exception.id,
            "exception_kind": exception.kind,
            "resolution_id": resolution_id,
        }));
    if side.inflow {
        entry = entry.debit(side.account.clone(), side.money);
        for (account, money) in counter {
            entry = entry.credit(account.clone(), *money);
        }
    } else {
        entry = entry.credit(side.account.clone(), side.money);
        for (account, money) in counter {
            entry = entry.debit(account.clone(), *money);
        }
    }
    Ok(entry.build()?)
}

async fn post(conn: &mut PgConnection, entry: &BalancedEntry) -> Result<i64, AppError> {
    Ok(match ledger::store::post(conn, entry).await? {
        ledger::store::PostOutcome::Posted(id) | ledger::store::PostOutcome::AlreadyPosted(id) => {
            id.0
        }
    })
}

/// Allocates the money to an intent: it becomes paid exactly as a bank payment would (the
/// provider-transaction claim, an attempt of the exception's channel, the paid writes and
/// the staged `payment.paid` of app::settlement), with an entry from the open side to the
/// intent's revenue lines.
async fn allocate(
    conn: &mut PgConnection,
    exception: &ExceptionRow,
    side: &OpenSide,
    resolution_id: Uuid,
    reason: &str,
    intent_id: Option<Uuid>,
    done: &mut Done<'_>,
) -> Result<(), AppError> {
    if !side.inflow || matches!(side.about, About::Item(_)) {
        return Err(not_allowed(
            "allocate places money that arrived: it is for suspense exceptions and money-in statement lines",
        ));
    }
    let intent_id =
        intent_id.ok_or_else(|| AppError::validation("payment_intent_id", "missing"))?;
    let intent = match intents::load(conn, None, intent_id, true).await {
        Ok(intent) => intent,
        Err(AppError::NotFound(_)) => {
            return Err(AppError::unprocessable(
                "intent_not_payable",
                "Intent not payable",
                "no such payment intent",
            )
            .with("parameter", "payment_intent_id"))
        }
        Err(other) => return Err(other),
    };
    if intent.office_code != exception.office_code {
        return Err(AppError::unprocessable(
            "intent_not_payable",
            "Intent not payable",
            "the payment intent belongs to another office than the exception",
        )
        .with("parameter", "payment_intent_id"));
    }
    if intent.status != IntentStatus::AwaitingPayment {
        return Err(AppError::unprocessable(
            "intent_not_payable",
            "Intent not payable",
            format!(
                "the payment intent is {}; only an intent awaiting payment takes an allocation",
                intent.status
            ),
        )
        .with("parameter", "payment_intent_id"));
    }
    if intent.currency.trim() != side.money.currency().code() {
        return Err(AppError::unprocessable(
            "currency_mismatch",
            "Currency mismatch",
            format!(
                "the money is in {}, the intent is due in {}",
                side.money.currency().code(),
                intent.currency.trim()
            ),
        )
        .with("parameter", "payment_intent_id"));
    }
    if intent.total_minor != side.money.amount_minor() {
        let due = Money::from_minor(intent.total_minor, side.money.currency());
        return Err(AppError::unprocessable(
            "amount_not_due",
            "Amount not due",
            format!(
                "the money is {} {}, the intent's total is {} {}",
                side.money.format_amount(),
                side.money.currency().code(),
                due.format_amount(),
                due.currency().code()
            ),
        )
        .with("parameter", "payment_intent_id"));
    }
    let channel = side.channel.unwrap_or(Channel::Sandbox);
    let attempt_id = Uuid::now_v7();
    let reference = format!("allocation-{resolution_id}");
    let report = Report {
        provider: ALLOCATION_PROVIDER,
        channel,
        transaction_id: format!("allocation:{}", exception.id),
        provider_reference: reference.clone(),
        received: Received::Money {
            money: side.money,
            reported: side.money.format_amount(),
        },
        receiving_account_matches: true,
        paid_at: None,
        inbox_message_id: None,
        signature_valid: None,
    };
    if settlement::claim(conn, &[&report]).await?.first() != Some(&true) {
        return Err(already_resolved());
    }
    db::resolutions::insert_attempt(
        conn,
        attempt_id,
        intent.id,
        &intent.office_code,
        channel.as_str(),
        &intent.currency,
        intent.total_minor,
        &reference,
    )
    .await?;
    let attempt = db::settlement::attempt_for_update(&mut *conn, attempt_id).await?;
    let mut counter = Vec::new();
    for line in &intent.lines.0 {
        let amount = line.amount.parse("amount")?;
        // A free line beside paid ones: postings are never 0.
        if amount.is_zero() {
            continue;
        }
        counter.push((AccountCode::parse(&line.revenue_account)?, amount));
    }
    let entry = closing_entry(
        exception,
        "exception_allocated",
        &format!(
            "case {} paid by an allocation: {reason}",
            intent.case_reference
        ),
        resolution_id,
        side,
        &counter,
    )?;
    let entry_id = post(conn, &entry).await?;
    settlement::write_paid(
        conn,
        &[PaidWrite {
            report: &report,
            intent: &intent,
            attempt: &attempt,
            entry_id,
            total: side.money,
            paid_at: Utc::now(),
        }],
        true,
    )
    .await?;
    done.entry_id = Some(entry_id);
    done.payment_intent_id = Some(intent.id);
    done.paid_office = Some(intent.office_code.clone());
    Ok(())
}

fn approval_refused(detail: &str) -> AppError {
    AppError::Forbidden(Refusal::new(
        "approval_refused",
        "Approval refused",
        detail.to_owned(),
    ))
}

#[allow(clippy::too_many_arguments)]
async fn write_off<'a>(
    conn: &mut PgConnection,
    state: &AppState,
    principal: &Principal,
    exception: &ExceptionRow,
    side: &OpenSide,
    resolution_id: Uuid,
    reason: &str,
    request: &'a ResolutionRequest,
    done: &mut Done<'a>,
) -> Result<(), AppError> {
    let target = request.write_off_to.as_deref().unwrap_or_default();
    let kind = match target {
        "suspense" if matches!(side.about, About::Suspense) => {
            return Err(AppError::unprocessable(
                "write_off_target",
                "Write-off target not allowed",
                "the money is in suspense already: write it off to income or bank_fees",
            )
            .with("parameter", "write_off_to"))
        }
        "suspense" => AccountKind::Suspense,
        "income" => AccountKind::OtherIncome,
        "bank_fees" => AccountKind::BankFees,
        _ => {
            return Err(AppError::validation(
                "write_off_to",
                "write_off_to must be suspense, income or bank_fees",
            ))
        }
    };
    let approver = match &request.approval {
        Some(approval) => {
            staff::approve(
                conn,
                &state.pool,
                principal,
                &approval.username,
                &approval.password,
                &exception.office_code,
            )
            .await?
        }
        None if matches!(principal.role, Role::Supervisor | Role::Admin) => {
            Approver::from_caller(principal)?
        }
        None => {
            return Err(approval_refused(
                "a write-off needs a supervisor's approval: their username and password in \"approval\"",
            ))
        }
    };
    let target_account = account(&exception.office_code, kind, side)?;
    let entry = closing_entry(
        exception,
        "exception_write_off",
        &format!("written off to {target}: {reason}"),
        resolution_id,
        side,
        &[(target_account, side.money)],
    )?;
    done.entry_id = Some(post(conn, &entry).await?);
    done.write_off_to = Some(target);
    done.approver = Some(approver);
    Ok(())
}

/// Pairs a line with an item by hand, as automatic matching would: D bank (+ D bank-fees) ·
/// C the item's account for money in; D refunds-payable · C bank for money out.
#[allow(clippy::too_many_arguments)]
async fn manual_match(
    conn: &mut PgConnection,
    actor: &Actor,
    exception: &ExceptionRow,
    other: Option<&ExceptionRow>,
    side: &OpenSide,
    resolution_id: Uuid,
    reason: &str,
    request: &ResolutionRequest,
    done: &mut Done<'_>,
) -> Result<(), AppError> {
    let (line, item) = match (&side.about, request.item_posting_id, request.statement_line_id) {
        (About::Line(line), Some(posting_id), None) => {
            let item = db::resolutions::posting(conn, posting_id)
                .await?
                .filter(|item| item.office_code == exception.office_code)
                .ok_or_else(|| {
                    AppError::unprocessable("flow_mismatch", "Nothing to match", "no such ledger item of this office")
                        .with("parameter", "item_posting_id")
                })?;
            (line.clone(), item)
        }
        (About::Item(item), None, Some(line_id)) => {
            let line = db::resolutions::line(conn, line_id)
                .await?
                .filter(|line| line.office_code == exception.office_code)
                .ok_or_else(|| {
                    AppError::unprocessable("flow_mismatch", "Nothing to match", "no such statement line of this office")
                        .with("parameter", "statement_line_id")
                })?;
            (line, item.clone())
        }
        _ => {
            return Err(not_allowed(
                "match pairs a statement line exception with a ledger item (item_posting_id), or an item exception with a line (statement_line_id)",
            ))
        }
    };
    if let Some(other) = other {
        if other.status != ExceptionStatus::Open {
            return Err(already_resolved());
        }
    }
    if line.settled || item.settled {
        return Err(AppError::conflict(
            "already_matched",
            "Already matched",
            "this statement line or ledger item is matched or settled already",
        ));
    }
    if line.currency.trim() != item.currency.trim() {
        return Err(AppError::unprocessable(
            "currency_mismatch",
            "Currency mismatch",
            "the line and the item are in different currencies",
        ));
    }
    let currency = currency(&line.currency)?;
    let segment = line.ledger_segment.clone().ok_or_else(|| {
        not_allowed("the statement line's account is not one of this office's accounts")
    })?;
    let item_account = AccountCode::parse(&item.account)?;
    let money_in = line.direction == "CRDT"
        && item.amount_minor > 0
        && matches!(item.account_kind.as_str(), "clearing" | "cash_in_transit");
    let money_out =
        line.direction == "DBIT" && item.amount_minor < 0 && item.account_kind == "refunds_payable";
    let (flow, fee_minor) = if money_in {
        let fee = item.amount_minor - line.amount_minor;
        if fee < 0 {
            return Err(AppError::unprocessable(
                "flow_mismatch",
                "Amounts do not match",
                "the line brings more than the item expects; only a bank fee may make the line smaller",
            ));
        }
        (Flow::In, fee)
    } else if money_out {
        if line.amount_minor != item.amount_minor.abs() {
            return Err(AppError::unprocessable(
                "flow_mismatch",
                "Amounts do not match",
                "a refund's line must pay out exactly the amount payable",
            ));
        }
        (Flow::Out, 0)
    } else {
        return Err(AppError::unprocessable(
            "flow_mismatch",
            "Directions do not match",
            "money in (CRDT) matches an item expected in (clearing, cash in transit); money out (DBIT) matches a refund payable",
        ));
    };
    let builder = EntryBuilder::new(
        &exception.office_code,
        "bank_settlement",
        &format!("statement line matched by hand: {reason}")
            .chars()
            .take(1000)
            .collect::<String>(),
    )
    .idempotency_key(format!("resolution:{resolution_id}"))
    .metadata(json!({
        "exception_id": exception.id,
        "resolution_id": resolution_id,
        "statement_line_id": line.id,
        "posting_id": item.id,
        "method": "manual",
    }));
    let settled = postings::Settled {
        office_code: &exception.office_code,
        bank_segment: &segment,
        currency,
        flow,
        line_minor: line.amount_minor,
        fee_minor,
        items: vec![(item_account, item.amount_minor.abs())],
    };
    let entry = postings::entry(&settled, builder)?;
    let entry_id = post(conn, &entry.build()?).await?;
    let match_id = Uuid::now_v7();
    let written = db::resolutions::insert_match(
        conn,
        &db::resolutions::NewMatch {
            id: match_id,
            statement_line_id: line.id,
            office_code: &exception.office_code,
            fee_minor,
            ledger_entry_id: entry_id,
            posting_id: item.id,
            item_entry_id: item.entry_id,
            item_amount_minor: item.amount_minor.abs(),
            created_by_user_id: actor.user_id,
            created_by_key_id: actor.key_id,
            created_by_name: &actor.name,
        },
    )
    .await;
    match written {
        Ok(()) => {}
        Err(error) if is_unique_violation(&error) => {
            return Err(AppError::conflict(
                "already_matched",
                "Already matched",
                "this statement line or ledger item was matched a moment ago",
            ))
        }
        Err(error) => return Err(error.into()),
    }
    done.entry_id = Some(entry_id);
    done.match_id = Some(match_id);
    Ok(())
}

/// Undoes resolution `target` of `exception`: the reversal of its entry, a `reverse`
/// resolution naming it, the exception open again.
#[allow(clippy::too_many_arguments)]
async fn reverse(
    conn: &mut PgConnection,
    principal: &Principal,
    actor: &Actor,
    exception: &ExceptionRow,
    resolution_id: Uuid,
    reason: &str,
    target: Option<Uuid>,
) -> Result<Resolved, AppError> {
    let target = target.ok_or_else(|| AppError::validation("resolution_id", "missing"))?;
    let history = db::resolutions::resolutions_of(conn, exception.id).await?;
    let original = history
        .into_iter()
        .find(|row| row.id == target)
        .ok_or_else(|| {
            AppError::unprocessable(
                "resolution_not_found",
                "No such resolution",
                "this exception has no such resolution",
            )
            .with("parameter", "resolution_id")
        })?;
    let not_reversible =
        |detail: &str| AppError::conflict("not_reversible", "Not reversible", detail.to_owned());
    match original.action.as_str() {
        "allocate" => return Err(not_reversible(
            "an allocation paid an intent and its receipt is issued: the correction is a refund",
        )),
        "matched_later" => return Err(not_reversible(
            "the reconciliation matched this later: that is not undone by hand",
        )),
        "match" => return Err(not_reversible(
            "a match keeps its line and item matched once; a wrong match is corrected by the reconciliation team",
        )),
        "reverse" => return Err(not_reversible("a reversal is not reversed; resolve the exception again")),
        _ => {}
    }
    if original.reversed_by_resolution_id.is_some() {
        return Err(AppError::conflict(
            "already_reversed",
            "Already reversed",
            "this resolution is reversed already",
        ));
    }
    let original_entry = original
        .ledger_entry_id
        .ok_or_else(|| AppError::internal("a posted resolution without its entry"))?;
    let reversal = ledger::store::reversal_of(
        conn,
        ledger::EntryId(original_entry),
        &format!("resolution {} reversed: {reason}", original.id)
            .chars()
            .take(1000)
            .collect::<String>(),
    )
    .await?
    .idempotency_key(format!("resolution:{resolution_id}"))
    .build()?;
    let entry_id = post(conn, &reversal).await?;
    let new = db::resolutions::NewResolution {
        id: resolution_id,
        exception_id: exception.id,
        office_code: &exception.office_code,
        action: "reverse",
        reason,
        payment_intent_id: None,
        bank_reference: None,
        write_off_to: None,
        match_id: None,
        reverses_resolution_id: Some(original.id),
        ledger_entry_id: Some(entry_id),
        approved_by_user_id: None,
        approved_by_name: None,
        created_by_user_id: actor.user_id,
        created_by_key_id: actor.key_id,
        created_by_name: &actor.name,
    };
    match db::resolutions::insert_resolution(conn, &new).await {
        Ok(()) => {}
        Err(error) if is_unique_violation(&error) => {
            return Err(AppError::conflict(
                "already_reversed",
                "Already reversed",
                "this resolution is reversed already",
            ))
        }
        Err(error) => return Err(error.into()),
    }
    db::resolutions::set_status(conn, exception.id, false).await?;
    let side = open_side(conn, exception).await?;
    announce(
        conn,
        exception,
        &side.money,
        ExceptionStatus::Open,
        "reverse",
        resolution_id,
        Some(entry_id),
        None,
    )
    .await?;
    staff::record(
        conn,
        principal,
        "exception_resolution",
        Some(&exception.office_code),
        Some(&exception.id.to_string()),
        json!({
            "resolution_id": resolution_id,
            "action": "reverse",
            "reverses_resolution_id": original.id,
            "reason": reason,
            "ledger_entry_id": entry_id,
        }),
    )
    .await?;
    Ok(Resolved {
        resolution: Resolution {
            id: resolution_id,
            exception_id: exception.id,
            office_code: exception.office_code.clone(),
            action: "reverse".to_owned(),
            reason: reason.to_owned(),
            payment_intent_id: None,
            receipt_number: None,
            bank_reference: None,
            write_off_to: None,
            match_id: None,
            reverses_resolution_id: Some(original.id),
            reversed_by_resolution_id: None,
            ledger_entry_id: Some(entry_id),
            approved_by: None,
            created_by: actor.name.clone(),
            created_at: Utc::now(),
        },
        exception_status: ExceptionStatus::Open,
        also_resolved_exception_id: None,
    })
}

/// The `reconciliation.exception` event of a status change, in this transaction's outbox.
#[allow(clippy::too_many_arguments)]
async fn announce(
    conn: &mut PgConnection,
    exception: &ExceptionRow,
    money: &Money,
    status: ExceptionStatus,
    action: &str,
    resolution_id: Uuid,
    entry_id: Option<i64>,
    allocated_to: Option<Uuid>,
) -> Result<(), AppError> {
    let payment_intent_id = allocated_to.or(exception.payment_intent_id);
    outbox::enqueue(
        conn,
        NewEvent {
            office_code: &exception.office_code,
            case_reference: None,
            payment_intent_id,
            event: Event::ReconciliationExceptionStatus(outbox::ReconciliationExceptionStatus {
                exception_id: exception.id,
                kind: exception.kind,
                office_code: exception.office_code.clone(),
                status,
                action: action.to_owned(),
                resolution_id,
                ledger_entry_id: entry_id,
                payment_intent_id,
                amount: MoneyView::from(*money),
            }),
        },
    )
    .await?;
    Ok(())
}

async fn read_resolution(
    conn: &mut PgConnection,
    exception_id: Uuid,
    id: Uuid,
) -> Result<Resolution, AppError> {
    db::resolutions::resolutions_of(conn, exception_id)
        .await?
        .into_iter()
        .find(|row| row.id == id)
        .map(Resolution::from)
        .ok_or_else(|| AppError::internal("a committed resolution is gone"))
}

/// A statement line as an exception's detail shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LineDetail {
    pub id: Uuid,
    pub statement_id: Uuid,
    pub account_id: String,
    pub line_no: i32,
    pub booking_date: chrono::NaiveDate,
    pub transaction_id: Option<String>,
    pub reference: Option<String>,
    pub amount: MoneyView,
    /// `CRDT` (money in) or `DBIT` (money out).
    pub direction: String,
    pub description: Option<String>,
    pub matched: bool,
}

/// A ledger item as an exception's detail shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ItemDetail {
    pub posting_id: i64,
    pub ledger_entry_id: i64,
    pub account: String,
    /// Positive: a debit (money expected in); negative: a credit (money expected out).
    pub amount: MoneyView,
    pub posted_at: DateTime<Utc>,
    pub description: String,
    pub matched: bool,
}

/// One exception with what it is about and its history.
#[derive(Debug)]
pub struct ExceptionDetail {
    pub exception: ExceptionRow,
    pub line: Option<LineDetail>,
    pub item: Option<ItemDetail>,
    pub resolutions: Vec<Resolution>,
}

/// Exception `id` of the caller's offices, with its resolutions oldest first and, for a line
/// or item exception, the line or item.
#[tracing::instrument(skip_all, fields(exception.id = %id))]
pub async fn detail(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<ExceptionDetail, AppError> {
    principal.require(&RESOLVE_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let exception = db::resolutions::exception(&mut conn, id)
        .await?
        .filter(|row| principal.sees_office(&row.office_code))
        .ok_or_else(|| AppError::not_found("exception"))?;
    let line = match exception.statement_line_id {
        Some(line_id) => db::resolutions::line(&mut conn, line_id)
            .await?
            .map(|line| -> Result<LineDetail, AppError> {
                Ok(LineDetail {
                    amount: MoneyView::from_row(line.amount_minor, &line.currency)?,
                    id: line.id,
                    statement_id: line.statement_id,
                    account_id: line.account_id,
                    line_no: line.line_no,
                    booking_date: line.booking_date,
                    transaction_id: line.transaction_id,
                    reference: line.reference,
                    direction: line.direction,
                    description: line.description,
                    matched: line.matched,
                })
            })
            .transpose()?,
        None => None,
    };
    let item = match exception.item_posting_id {
        Some(posting_id) => db::resolutions::posting(&mut conn, posting_id)
            .await?
            .map(|item| -> Result<ItemDetail, AppError> {
                Ok(ItemDetail {
                    amount: MoneyView::from_row(item.amount_minor, &item.currency)?,
                    posting_id: item.id,
                    ledger_entry_id: item.entry_id,
                    account: item.account,
                    posted_at: item.created_at,
                    description: item.description,
                    matched: item.matched,
                })
            })
            .transpose()?,
        None => None,
    };
    let resolutions = db::resolutions::resolutions_of(&mut conn, id)
        .await?
        .into_iter()
        .map(Resolution::from)
        .collect();
    Ok(ExceptionDetail {
        exception,
        line,
        item,
        resolutions,
    })
}

/// A line or item a person may choose for a manual match.
#[derive(Clone, Debug, Serialize)]
pub struct MatchCandidate {
    pub id: String,
    pub day: Option<chrono::NaiveDate>,
    pub amount: MoneyView,
    pub label: String,
}

/// The candidates for matching exception `exception` by hand: for a line, the office's
/// unmatched items of its currency within 7 days; for an item, the unmatched lines.
pub async fn match_candidates(
    state: &AppState,
    exception: &ExceptionRow,
) -> Result<Vec<MatchCandidate>, AppError> {
    let day = exception
        .business_date
        .unwrap_or_else(|| exception.created_at.date_naive());
    let mut conn = state.pool.acquire().await?;
    let rows = match exception.kind {
        ExceptionKind::UnmatchedStatementLine => {
            db::resolutions::candidate_items(
                &mut conn,
                &exception.office_code,
                exception.currency.trim(),
                day,
            )
            .await?
        }
        ExceptionKind::UnmatchedLedgerItem => {
            db::resolutions::candidate_lines(
                &mut conn,
                &exception.office_code,
                exception.currency.trim(),
                day,
            )
            .await?
        }
        _ => Vec::new(),
    };
    rows.into_iter()
        .map(|row| {
            Ok(MatchCandidate {
                amount: MoneyView::from_row(row.amount_minor, &row.currency)?,
                id: row.id,
                day: row.day,
                label: row.label,
            })
        })
        .collect()
}
