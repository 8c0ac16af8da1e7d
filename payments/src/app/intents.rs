//! Payment intents: one per case payment, amount locked from a quote.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{random_token, Principal, Role};
use super::idempotency::{self, Claim};
use super::money::{self, MoneyView};
use super::outbox::{self, Event, NewEvent};
use super::pagination::{cursor, Created, Page};
use super::quotes::QuoteLine;
use super::secrets::{pay_token_context, pay_token_hash, Keyring};
use super::states::AttemptStatus;
pub use super::states::IntentStatus;
use crate::app::error::{AppError, Refusal};
use crate::state::AppState;

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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntentView {
    pub id: Uuid,
    pub status: IntentStatus,
    pub case_reference: String,
    pub office_code: String,
    pub quote_id: Uuid,
    pub total: MoneyView,
    pub amount_paid: MoneyView,
    pub amount_refunded: MoneyView,
    /// The citizen's payment link (a bearer credential): shown only to the roles that create
    /// intents (workflow, cashier, admin); omitted for supervisors and auditors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay_url: Option<String>,
    pub receipt_number: Option<String>,
    pub paid_channel: Option<String>,
    pub lines: Vec<QuoteLine>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When the bank says the money moved, as it reported it; `paid_at` is our clock.
    pub bank_paid_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
pub struct IntentRow {
    pub id: Uuid,
    pub status: IntentStatus,
    pub case_reference: String,
    pub office_code: String,
    pub quote_id: Uuid,
    pub currency: String,
    pub total_minor: i64,
    pub amount_paid_minor: i64,
    pub amount_refunded_minor: i64,
    /// SHA-256 of the pay token: links are looked up by it.
    pub pay_token_hash: Vec<u8>,
    /// The token sealed with `SECRETS_KEY` (app::secrets), to show the link again.
    pub pay_token_sealed: Option<String>,
    pub receipt_number: Option<String>,
    pub paid_channel: Option<String>,
    pub lines: sqlx::types::Json<Vec<QuoteLine>>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub bank_paid_at: Option<DateTime<Utc>>,
}

pub const INTENT_COLUMNS: &str = "i.id, i.status, i.case_reference, i.office_code, i.quote_id, i.currency, \
    i.total_minor, i.amount_paid_minor, i.amount_refunded_minor, i.pay_token_hash, i.pay_token_sealed, i.receipt_number, i.paid_channel, \
    q.lines, i.expires_at, i.created_at, i.paid_at, i.cancelled_at, i.bank_paid_at";

/// The roles that create intents, and so may be shown the payment link.
pub const PAY_LINK_ROLES: [Role; 3] = [Role::Workflow, Role::Cashier, Role::Admin];

impl IntentRow {
    /// The view for `principal`: with the payment link when its role creates intents.
    pub fn view_for(
        &self,
        state: &AppState,
        principal: &Principal,
    ) -> Result<IntentView, AppError> {
        let mut view = self.view(state)?;
        if PAY_LINK_ROLES.contains(&principal.role) {
            view.pay_url = self.pay_url(state)?;
        }
        Ok(view)
    }

    /// The payment link, opened from its sealed copy; `None` for an intent whose token was
    /// never sealed (migrated without `payments migrate`).
    pub fn pay_url(&self, state: &AppState) -> Result<Option<String>, AppError> {
        let Some(sealed) = &self.pay_token_sealed else {
            return Ok(None);
        };
        let keyring = Keyring::from_config(&state.config).map_err(AppError::internal)?;
        let token = keyring
            .open_text(&pay_token_context(self.id), sealed)
            .map_err(AppError::internal)?;
        Ok(Some(pay_url(state, &token)))
    }

    /// The view without the payment link (what is stored for idempotent replays, and what
    /// every reader who does not create intents sees).
    pub fn view(&self, _state: &AppState) -> Result<IntentView, AppError> {
        Ok(IntentView {
            id: self.id,
            status: self.status,
            case_reference: self.case_reference.clone(),
            office_code: self.office_code.clone(),
            quote_id: self.quote_id,
            total: money::from_row(self.total_minor, &self.currency)?.into(),
            amount_paid: money::from_row(self.amount_paid_minor, &self.currency)?.into(),
            amount_refunded: money::from_row(self.amount_refunded_minor, &self.currency)?.into(),
            pay_url: None,
            receipt_number: self.receipt_number.clone(),
            paid_channel: self.paid_channel.clone(),
            lines: self.lines.0.clone(),
            expires_at: self.expires_at,
            created_at: self.created_at,
            paid_at: self.paid_at,
            cancelled_at: self.cancelled_at,
            bank_paid_at: self.bank_paid_at,
        })
    }
}

pub fn pay_url(state: &AppState, token: &str) -> String {
    let base = state.config.public_base_url.as_str().trim_end_matches('/');
    format!("{base}/pay/{token}")
}

/// Loads an intent the caller may see, optionally locking it for the rest of the transaction.
pub async fn load(
    conn: &mut PgConnection,
    principal: Option<&Principal>,
    id: Uuid,
    lock: bool,
) -> Result<IntentRow, AppError> {
    let sql = format!(
        "select {INTENT_COLUMNS} from payment_intents i join quotes q on q.id = i.quote_id where i.id = $1{}",
        if lock { " for update of i" } else { "" }
    );
    let row: Option<IntentRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
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

pub async fn create(
    state: &AppState,
    principal: &Principal,
    idempotency_key: &str,
    request_hash: &[u8],
    request: CreateIntentRequest,
) -> Result<Created<IntentView>, AppError> {
    principal.require(&[Role::Workflow, Role::Cashier, Role::Admin])?;
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
    let quote: Option<(String, String, i64, bool)> = sqlx::query_as(
        "select office_code, currency, total_minor, expires_at <= now() from quotes where id = $1",
    )
    .bind(request.quote_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (office_code, currency, total_minor, expired) = quote
        .filter(|quote| principal.sees_office(&quote.0))
        .ok_or_else(|| AppError::not_found("quote"))?;
    if expired {
        return Err(AppError::unprocessable(
            "quote_expired",
            "Quote expired",
            "the quote has expired; ask for a new quote",
        ));
    }
    if !request.supplementary {
        let paid: Option<Uuid> = sqlx::query_scalar(
            "select id from payment_intents
             where office_code = $1 and case_reference = $2 and status = 'paid'
             order by paid_at desc, id desc limit 1",
        )
        .bind(&office_code)
        .bind(&request.case_reference)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(paid) = paid {
            return Err(AppError::Conflict(Refusal::new(
                "case_already_paid",
                "Case already paid",
                "this case has a paid payment intent; a later fee of the same case needs \"supplementary\": true",
            ))
            .with("payment_intent_id", paid.to_string()));
        }
    }
    let id = Uuid::now_v7();
    // The database keeps the token's hash (to find the intent from a link) and a sealed copy
    // (to show the link again), never the token.
    let token = random_token("pt_");
    let sealed = Keyring::from_config(&state.config)
        .and_then(|keyring| keyring.seal(&pay_token_context(id), token.as_bytes()))
        .map_err(AppError::internal)?;
    // At most one intent awaits payment per case, enforced by a partial unique index
    // (migration 0009): a concurrent creation for the same case waits here for the other
    // transaction and, once that one commits, inserts nothing.
    // language=PostgreSQL
    let inserted = sqlx::query(
        "insert into payment_intents (id, office_code, quote_id, case_reference, payer, return_url, status, currency,
             total_minor, pay_token_hash, pay_token_sealed, created_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, 'awaiting_payment', $7, $8, $9, $12, $10, now() + $11::bigint * interval '1 second')
         on conflict (office_code, case_reference)
             where status = 'awaiting_payment' and not exempt_from_open_case_limit
             do nothing",
    )
    .bind(id)
    .bind(&office_code)
    .bind(request.quote_id)
    .bind(&request.case_reference)
    .bind(&payer)
    .bind(request.return_url.as_deref())
    .bind(&currency)
    .bind(total_minor)
    .bind(pay_token_hash(&token))
    .bind(principal.key_id)
    .bind(ttl_s)
    .bind(&sealed)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        // Read in a new statement, so it sees the intent the conflict waited for.
        let open: Option<Uuid> = sqlx::query_scalar(
            "select id from payment_intents
             where office_code = $1 and case_reference = $2 and status = 'awaiting_payment'
             order by created_at desc, id desc limit 1",
        )
        .bind(&office_code)
        .bind(&request.case_reference)
        .fetch_optional(&mut *tx)
        .await?;
        let mut problem = AppError::Conflict(Refusal::new(
            "case_has_open_intent",
            "Case has an open intent",
            "this case already has a payment intent awaiting payment; use it, or cancel it first",
        ));
        if let Some(open) = open {
            problem = problem.with("payment_intent_id", open.to_string());
        }
        return Err(problem);
    }
    let row = load(&mut tx, None, id, false).await?;
    idempotency::save_created(&mut tx, &scope, idempotency_key, &row.view(state)?).await?;
    let mut view = row.view(state)?;
    view.pay_url = Some(pay_url(state, &token));
    tx.commit().await?;
    tracing::info!(payment.id = %id, office.code = %office_code, "payment intent created");
    Ok(Created::New(view))
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
            if let Some(url) = load(conn, Some(principal), id, false)
                .await?
                .pay_url(state)?
            {
                object.insert("pay_url".to_owned(), Value::String(url));
            }
        }
    }
    Ok(body)
}

pub async fn get(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<IntentView, AppError> {
    let mut conn = state.pool.acquire().await?;
    load(&mut conn, Some(principal), id, false)
        .await?
        .view_for(state, principal)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListIntentsQuery {
    pub office_code: Option<String>,
    #[param(schema_with = status_schema)]
    pub status: Option<String>,
    pub case_reference: Option<String>,
    /// Created at or after (a date: from the start of that day in UTC+7).
    #[serde(default, deserialize_with = "super::dates::start")]
    #[param(schema_with = super::dates::schema)]
    pub from: Option<DateTime<Utc>>,
    /// Created before (a date: up to the end of that day in UTC+7, inclusive).
    #[serde(default, deserialize_with = "super::dates::end_exclusive")]
    #[param(schema_with = super::dates::schema)]
    pub to: Option<DateTime<Utc>>,
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The OpenAPI schema of the `status` filter.
fn status_schema() -> utoipa::openapi::Object {
    crate::app::validation::text_enum(&INTENT_STATUSES)
}

pub const INTENT_STATUSES: [&str; 4] = ["awaiting_payment", "paid", "expired", "cancelled"];

pub async fn list(
    state: &AppState,
    principal: &Principal,
    query: ListIntentsQuery,
) -> Result<Page<IntentView>, AppError> {
    let limit = cursor::limit(query.limit)?;
    if let Some(status) = &query.status {
        if !INTENT_STATUSES.contains(&status.as_str()) {
            return Err(AppError::validation(
                "status",
                format!("status must be one of {}", INTENT_STATUSES.join(", ")),
            ));
        }
    }
    if let Some(code) = &query.office_code {
        if !principal.sees_office(code) {
            return Ok(Page {
                data: Vec::new(),
                next_cursor: None,
            });
        }
    }
    let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let sql = format!(
        "select {INTENT_COLUMNS} from payment_intents i join quotes q on q.id = i.quote_id
         where ($1::text[] is null or i.office_code = any($1))
           and ($2::text is null or i.office_code = $2)
           and ($3::text is null or i.status = $3)
           and ($4::text is null or i.case_reference = $4)
           and ($5::timestamptz is null or i.created_at >= $5)
           and ($6::timestamptz is null or i.created_at < $6)
           and ($7::timestamptz is null or (i.created_at, i.id) < ($7, $8))
         order by i.created_at desc, i.id desc
         limit $9"
    );
    let rows: Vec<IntentRow> = sqlx::query_as(&sql)
        .bind(principal.office_filter())
        .bind(query.office_code.as_deref())
        .bind(query.status.as_deref())
        .bind(query.case_reference.as_deref())
        .bind(query.from)
        .bind(query.to)
        .bind(after.map(|(created_at, _)| created_at))
        .bind(after.map(|(_, id)| id))
        .bind(limit + 1)
        .fetch_all(&state.pool)
        .await?;
    let page = cursor::paginate(rows, limit, |row| (row.created_at, row.id));
    let data = page
        .data
        .iter()
        .map(|row| row.view_for(state, principal))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        data,
        next_cursor: page.next_cursor,
    })
}

/// Cancels an intent that is still awaiting payment. Cancelling a cancelled intent answers with
/// it unchanged, so a retried request is harmless; paid or expired intents are a 409.
pub async fn cancel(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<IntentView, AppError> {
    principal.require(&[Role::Workflow, Role::Cashier, Role::Supervisor, Role::Admin])?;
    let mut tx = state.pool.begin().await?;
    // Lock order as everywhere (app::settlement::record_claimed): the intent first, then its
    // attempts (the update below), the order a settling callback takes them too.
    let intent = load(&mut tx, Some(principal), id, true).await?;
    match intent.status {
        IntentStatus::Cancelled => return intent.view_for(state, principal),
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
    let view = load(&mut tx, None, id, false)
        .await?
        .view_for(state, principal)?;
    tx.commit().await?;
    tracing::info!(payment.id = %id, "payment intent cancelled");
    Ok(view)
}

/// How an intent awaiting payment ends unpaid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    /// Someone cancelled it (`POST .../cancel`).
    Cancelled,
    /// Its time ran out (workers::expiry).
    Expired,
}

/// What [`close`] needs of an intent.
#[derive(Debug, FromRow)]
pub struct ClosingIntent {
    pub id: Uuid,
    pub office_code: String,
    pub case_reference: String,
    pub currency: String,
    pub total_minor: i64,
}

/// Closes intents awaiting payment: each intent and its pending attempts move to cancelled or
/// expired, and each gets its `payment.cancelled` or `payment.expired` event, in the caller's
/// transaction. The caller has locked the intents (lock order: intents before attempts, as in
/// app::settlement) and checked they await payment.
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
    // language=PostgreSQL
    sqlx::query(
        "update payment_intents set status = $2, updated_at = now(),
             cancelled_at = case when $2 = 'cancelled' then now() else cancelled_at end
         where id = any($1)",
    )
    .bind(&ids)
    .bind(status)
    .execute(&mut *conn)
    .await?;
    // language=PostgreSQL
    sqlx::query(
        "update payment_attempts set status = $2, updated_at = now()
         where payment_intent_id = any($1) and status = 'pending'",
    )
    .bind(&ids)
    .bind(attempt_status)
    .execute(&mut *conn)
    .await?;
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
