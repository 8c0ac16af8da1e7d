//! Payment intents: one per case payment, amount locked from a quote.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{random_token, Principal, Role};
use super::idempotency::{self, Claim};
use super::money::{self, MoneyView};
use super::outbox::{self, Event, NewEvent};
use super::pagination::{cursor, Created, Page};
use super::secrets::{pay_token_context, pay_token_hash, Keyring};
use super::states::AttemptStatus;
pub use super::states::IntentStatus;
use crate::app::error::{AppError, Refusal};
use crate::db;
use crate::db::intents::{IntentFilter, NewIntent, QuoteTerms};
use crate::state::AppState;

/// Re-exported for the settlement, which reads intents with runtime queries of its own.
pub use crate::db::intents::{ClosingIntent, IntentRow, INTENT_COLUMNS};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayerRequest {
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntentRequest {
    pub quote_id: Uuid,
    #[schema(example = "0320018100", pattern = r"^[A-Za-z0-9._/-]{1,64}$")]
    pub case_reference: String,
    pub payer: Option<PayerRequest>,
    /// An http(s) URL of at most 2048 characters.
    #[schema(
        pattern = "^[hH][tT][tT][pP][sS]?://[^\\u0000-\\u0020]+$",
        max_length = 2048
    )]
    pub return_url: Option<String>,
    /// 60 to 2,592,000 seconds (30 days).
    #[schema(minimum = 60, maximum = 2_592_000)]
    #[serde(default, deserialize_with = "super::validation::whole_number")]
    pub expires_in_s: Option<i64>,
    /// A later fee of a case that has a paid intent already; without it such a case is
    /// refused with 409 `case_already_paid`.
    #[serde(default)]
    pub supplementary: bool,
}

/// An intent as its reader may see it: the payment link only for the roles that create
/// intents (and in a creation's answer).
#[derive(Debug)]
pub struct IntentRecord {
    pub intent: IntentRow,
    /// The citizen's payment link (a bearer credential).
    pub pay_url: Option<String>,
}

/// The roles that create intents, and so may be shown the payment link.
pub const PAY_LINK_ROLES: [Role; 3] = [Role::Workflow, Role::Cashier, Role::Admin];

impl IntentRecord {
    /// The record for `principal`: with the payment link when its role creates intents.
    fn for_principal(
        state: &AppState,
        principal: &Principal,
        intent: IntentRow,
    ) -> Result<IntentRecord, AppError> {
        let pay_url = if PAY_LINK_ROLES.contains(&principal.role) {
            sealed_pay_url(state, &intent)?
        } else {
            None
        };
        Ok(IntentRecord { intent, pay_url })
    }
}

/// The payment link, opened from its sealed copy; `None` for an intent whose token was never
/// sealed (migrated without `payments migrate`).
fn sealed_pay_url(state: &AppState, intent: &IntentRow) -> Result<Option<String>, AppError> {
    let Some(sealed) = &intent.pay_token_sealed else {
        return Ok(None);
    };
    let keyring = Keyring::from_config(&state.config).map_err(AppError::internal)?;
    let token = keyring
        .open_text(&pay_token_context(intent.id), sealed)
        .map_err(AppError::internal)?;
    Ok(Some(pay_url(state, &token)))
}

fn pay_url(state: &AppState, token: &str) -> String {
    let base = state.config.public_base_url.as_str().trim_end_matches('/');
    format!("{base}/pay/{token}")
}

/// Loads an intent the caller may see, optionally locking it for the rest of the transaction.
#[tracing::instrument(skip_all, fields(payment_intent.id = %id, lock))]
pub async fn load(
    conn: &mut PgConnection,
    principal: Option<&Principal>,
    id: Uuid,
    lock: bool,
) -> Result<IntentRow, AppError> {
    let row = if lock {
        db::intents::find_for_update(conn, id).await?
    } else {
        db::intents::find(conn, id).await?
    };
    row.filter(|row| principal.is_none_or(|principal| principal.sees_office(&row.office_code)))
        .ok_or_else(|| AppError::not_found("payment intent"))
}

fn validate_reference(case_reference: &str) -> Result<(), AppError> {
    let ok = (1..=64).contains(&case_reference.len())
        && case_reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(
            "case_reference",
            "case_reference must be 1 to 64 characters of letters, digits, '-', '_', '/' or '.'",
        ))
    }
}

fn validate_payer(payer: Option<&PayerRequest>) -> Result<Value, AppError> {
    let Some(payer) = payer else {
        return Ok(json!({}));
    };
    if let Some(name) = &payer.name {
        if name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(AppError::validation(
                "payer.name",
                "payer.name must be at most 200 printable characters",
            ));
        }
    }
    if let Some(phone) = &payer.phone {
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        if digits.is_empty()
            || digits.len() > 20
            || !digits.chars().all(|c| c.is_ascii_digit() || c == ' ')
        {
            return Err(AppError::validation(
                "payer.phone",
                "payer.phone must be digits, optionally after '+', at most 20",
            ));
        }
    }
    Ok(json!({ "name": payer.name, "phone": payer.phone }))
}

fn validate_return_url(return_url: Option<&str>) -> Result<(), AppError> {
    let Some(raw) = return_url else { return Ok(()) };
    let valid = raw.len() <= 2048
        && url::Url::parse(raw).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
    if valid {
        Ok(())
    } else {
        Err(AppError::validation(
            "return_url",
            "return_url must be an http(s) URL of at most 2048 characters",
        ))
    }
}

/// The checks of a creation request that need no database; returns the payer to store and
/// the lifetime in seconds.
fn validate_create(
    state: &AppState,
    request: &CreateIntentRequest,
) -> Result<(Value, i64), AppError> {
    validate_reference(&request.case_reference)?;
    let payer = validate_payer(request.payer.as_ref())?;
    validate_return_url(request.return_url.as_deref())?;
    let ttl_s = request
        .expires_in_s
        .unwrap_or(i64::try_from(state.config.intent_ttl.as_secs()).unwrap_or(604_800));
    if !(60..=30 * 24 * 3600).contains(&ttl_s) {
        return Err(AppError::validation(
            "expires_in_s",
            "expires_in_s must be between 60 and 2592000 (30 days)",
        ));
    }
    Ok((payer, ttl_s))
}

/// Creates an intent, idempotently. `render` gives the JSON answer of a record; the answer
/// without the payment link is stored with the key in the same transaction, so a replay
/// answers byte for byte what the first request did (plus the link, read again).
#[tracing::instrument(skip_all, fields(principal.key_id = %principal.key_id, quote.id = %request.quote_id, payment_intent.id))]
pub async fn create(
    state: &AppState,
    principal: &Principal,
    idempotency_key: &str,
    request_hash: &[u8],
    request: CreateIntentRequest,
    render: impl Fn(&IntentRecord) -> Result<Value, AppError>,
) -> Result<Created<IntentRecord>, AppError> {
    principal.require(&[Role::Workflow, Role::Cashier, Role::Admin])?;
    let (payer, ttl_s) = validate_create(state, &request)?;
    let scope = principal.idempotency_scope();
    let mut tx = state.pool.begin().await?;
    if let Claim::Replay { status, body } =
        idempotency::claim(&mut tx, &scope, idempotency_key, request_hash).await?
    {
        // The stored response has no payment link (it would be the token in plaintext);
        // the replay gets it back from the intent.
        let body = with_pay_url(state, &mut tx, principal, body).await?;
        return Ok(Created::Replayed { status, body });
    }
    let quote = usable_quote(&mut tx, principal, request.quote_id).await?;
    if !request.supplementary {
        refuse_paid_case(&mut tx, &quote.office_code, &request.case_reference).await?;
    }
    let (id, token) =
        insert_intent(state, &mut tx, principal, &request, &quote, &payer, ttl_s).await?;
    tracing::Span::current().record("payment_intent.id", tracing::field::display(id));
    let intent = load(&mut tx, None, id, false).await?;
    let mut record = IntentRecord {
        intent,
        pay_url: None,
    };
    idempotency::save_created(&mut tx, &scope, idempotency_key, &render(&record)?).await?;
    record.pay_url = Some(pay_url(state, &token));
    tx.commit().await?;
    tracing::info!(payment_intent.id = %id, office.code = %quote.office_code, "payment intent created");
    Ok(Created::New(record))
}

/// The quote an intent is made from: visible to the caller and not expired.
async fn usable_quote(
    conn: &mut PgConnection,
    principal: &Principal,
    quote_id: Uuid,
) -> Result<QuoteTerms, AppError> {
    let quote = db::intents::quote_terms(conn, quote_id)
        .await?
        .filter(|quote| principal.sees_office(&quote.office_code))
        .ok_or_else(|| AppError::not_found("quote"))?;
    if quote.expired {
        return Err(AppError::unprocessable(
            "quote_expired",
            "Quote expired",
            "the quote has expired; ask for a new quote",
        ));
    }
    Ok(quote)
}

/// A case that has a paid intent takes a new one only as `supplementary`.
async fn refuse_paid_case(
    conn: &mut PgConnection,
    office_code: &str,
    case_reference: &str,
) -> Result<(), AppError> {
    let Some(paid) = db::intents::latest_paid(conn, office_code, case_reference).await? else {
        return Ok(());
    };
    Err(AppError::Conflict(Refusal::new(
        "case_already_paid",
        "Case already paid",
        "this case has a paid payment intent; a later fee of the same case needs \"supplementary\": true",
    ))
    .with("payment_intent_id", paid.to_string()))
}

/// Inserts the intent with a fresh pay token; returns its id and the token. A case with an
/// intent awaiting payment is refused, naming that intent.
async fn insert_intent(
    state: &AppState,
    conn: &mut PgConnection,
    principal: &Principal,
    request: &CreateIntentRequest,
    quote: &QuoteTerms,
    payer: &Value,
    ttl_s: i64,
) -> Result<(Uuid, String), AppError> {
    let id = Uuid::now_v7();
    // The database keeps the token's hash (to find the intent from a link) and a sealed copy
    // (to show the link again), never the token.
    let token = random_token("pt_");
    let sealed = Keyring::from_config(&state.config)
        .and_then(|keyring| keyring.seal(&pay_token_context(id), token.as_bytes()))
        .map_err(AppError::internal)?;
    let new = NewIntent {
        id,
        office_code: &quote.office_code,
        quote_id: request.quote_id,
        case_reference: &request.case_reference,
        payer,
        return_url: request.return_url.as_deref(),
        currency: &quote.currency,
        total_minor: quote.total_minor,
        pay_token_hash: &pay_token_hash(&token),
        pay_token_sealed: &sealed,
        created_by: principal.key_id,
        ttl_s,
    };
    if db::intents::insert(&mut *conn, &new).await? {
        return Ok((id, token));
    }
    // Read in a new statement, so it sees the intent the conflict waited for.
    let open =
        db::intents::open_for_case(conn, &quote.office_code, &request.case_reference).await?;
    let mut problem = AppError::Conflict(Refusal::new(
        "case_has_open_intent",
        "Case has an open intent",
        "this case already has a payment intent awaiting payment; use it, or cancel it first",
    ));
    if let Some(open) = open {
        problem = problem.with("payment_intent_id", open.to_string());
    }
    Err(problem)
}

/// Puts the payment link back into a replayed creation response, for a role that may see it.
async fn with_pay_url(
    state: &AppState,
    conn: &mut PgConnection,
    principal: &Principal,
    mut body: Value,
) -> Result<Value, AppError> {
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<Uuid>().ok());
    if let (Some(id), Some(object)) = (id, body.as_object_mut()) {
        if object.contains_key("quote_id") && PAY_LINK_ROLES.contains(&principal.role) {
            let intent = load(conn, Some(principal), id, false).await?;
            if let Some(url) = sealed_pay_url(state, &intent)? {
                object.insert("pay_url".to_owned(), Value::String(url));
            }
        }
    }
    Ok(body)
}

#[tracing::instrument(skip_all, fields(payment_intent.id = %id))]
pub async fn get(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<IntentRecord, AppError> {
    let mut conn = state.pool.acquire().await?;
    let intent = load(&mut conn, Some(principal), id, false).await?;
    IntentRecord::for_principal(state, principal, intent)
}

/// The filters and page of the intents list.
#[derive(Debug, Default)]
pub struct ListIntents {
    pub office_code: Option<String>,
    pub status: Option<IntentStatus>,
    pub case_reference: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[tracing::instrument(skip_all, fields(office.code = query.office_code.as_deref(), payment_intent.status = query.status.map(IntentStatus::as_str)))]
pub async fn list(
    state: &AppState,
    principal: &Principal,
    query: ListIntents,
) -> Result<Page<IntentRecord>, AppError> {
    let limit = cursor::limit(query.limit)?;
    if let Some(code) = &query.office_code {
        if !principal.sees_office(code) {
            return Ok(Page {
                data: Vec::new(),
                next_cursor: None,
            });
        }
    }
    let filter = IntentFilter {
        offices: principal.office_filter(),
        office_code: query.office_code.as_deref(),
        status: query.status,
        case_reference: query.case_reference.as_deref(),
        from: query.from,
        to: query.to,
        after: query.cursor.as_deref().map(cursor::decode).transpose()?,
        rows: limit + 1,
    };
    let rows = db::intents::list(&state.pool, &filter).await?;
    let page = cursor::paginate(rows, limit, |row| (row.created_at, row.id));
    let data = page
        .data
        .into_iter()
        .map(|row| IntentRecord::for_principal(state, principal, row))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        data,
        next_cursor: page.next_cursor,
    })
}

/// Cancels an intent that is still awaiting payment. Cancelling a cancelled intent answers with
/// it unchanged, so a retried request is harmless; paid or expired intents are a 409.
#[tracing::instrument(skip_all, fields(payment_intent.id = %id))]
pub async fn cancel(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<IntentRecord, AppError> {
    principal.require(&[Role::Workflow, Role::Cashier, Role::Supervisor, Role::Admin])?;
    let mut tx = state.pool.begin().await?;
    // Lock order as everywhere (app::settlement::record_claimed): the intent first, then its
    // attempts (the update below), the order a settling callback takes them too.
    let intent = load(&mut tx, Some(principal), id, true).await?;
    match intent.status {
        IntentStatus::Cancelled => return IntentRecord::for_principal(state, principal, intent),
        IntentStatus::AwaitingPayment => {}
        other @ (IntentStatus::Paid | IntentStatus::Expired) => {
            return Err(AppError::invalid_state(format!(
                "a {other} payment intent cannot be cancelled"
            )))
        }
    }
    close(
        &mut tx,
        Closing::Cancelled,
        &[ClosingIntent {
            id,
            office_code: intent.office_code.clone(),
            case_reference: intent.case_reference.clone(),
            currency: intent.currency.clone(),
            total_minor: intent.total_minor,
        }],
    )
    .await?;
    let intent = load(&mut tx, None, id, false).await?;
    let record = IntentRecord::for_principal(state, principal, intent)?;
    tx.commit().await?;
    tracing::info!(payment_intent.id = %id, "payment intent cancelled");
    Ok(record)
}

/// How an intent awaiting payment ends unpaid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    /// Someone cancelled it (`POST .../cancel`).
    Cancelled,
    /// Its time ran out (workers::expiry).
    Expired,
}

/// Closes intents awaiting payment: each intent and its pending attempts move to cancelled or
/// expired, and each gets its `payment.cancelled` or `payment.expired` event, in the caller's
/// transaction. The caller has locked the intents (lock order: intents before attempts, as in
/// app::settlement) and checked they await payment.
#[tracing::instrument(skip_all, fields(payment_intent.count = intents.len(), closing = ?closing))]
pub async fn close(
    conn: &mut PgConnection,
    closing: Closing,
    intents: &[ClosingIntent],
) -> Result<(), AppError> {
    if intents.is_empty() {
        return Ok(());
    }
    let (status, attempt_status) = match closing {
        Closing::Cancelled => (IntentStatus::Cancelled, AttemptStatus::Cancelled),
        Closing::Expired => (IntentStatus::Expired, AttemptStatus::Expired),
    };
    let ids: Vec<Uuid> = intents.iter().map(|intent| intent.id).collect();
    db::intents::set_closed(&mut *conn, &ids, status).await?;
    db::attempts::close_pending(&mut *conn, &ids, attempt_status).await?;
    let mut events = Vec::with_capacity(intents.len());
    for intent in intents {
        let data = outbox::PaymentClosed {
            payment_intent_id: intent.id,
            case_reference: intent.case_reference.clone(),
            office_code: intent.office_code.clone(),
            total: MoneyView::from(money::from_row(intent.total_minor, &intent.currency)?),
        };
        events.push(NewEvent {
            event: match closing {
                Closing::Cancelled => Event::PaymentCancelled(data),
                Closing::Expired => Event::PaymentExpired(data),
            },
            office_code: &intent.office_code,
            case_reference: Some(&intent.case_reference),
            payment_intent_id: Some(intent.id),
        });
    }
    outbox::enqueue_many(conn, events).await?;
    Ok(())
}

/// Expires up to `batch` intents whose time is up (workers::expiry); returns how many.
///
/// Lock order as everywhere (app::settlement::record_claimed): each intent is locked first
/// (`for update ... skip locked`), then its pending attempts by [`close`].
#[tracing::instrument(skip_all)]
pub async fn expire_due(state: &AppState, batch: i64) -> Result<usize, AppError> {
    let grace_ms = i64::try_from(state.config.khqr_grace.as_millis()).unwrap_or(i64::MAX);
    let mut tx = state.pool.begin().await?;
    let expired = db::intents::lock_expired(&mut tx, batch, grace_ms).await?;
    close(&mut tx, Closing::Expired, &expired).await?;
    tx.commit().await?;
    Ok(expired.len())
}
