//! Creating a payment intent, idempotently, from a quote.

use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{load, pay_url, sealed_pay_url, IntentRecord, PAY_LINK_ROLES};
use crate::app::auth::{random_token, Principal, Role};
use crate::app::error::{AppError, Refusal};
use crate::app::idempotency::{self, Claim};
use crate::app::pagination::Created;
use crate::app::secrets::{pay_token_context, pay_token_hash};
use crate::db;
use crate::db::intents::{NewIntent, QuoteTerms};
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
    #[serde(default, deserialize_with = "crate::app::validation::whole_number")]
    pub expires_in_s: Option<i64>,
    /// A later fee of a case that has a paid intent already; without it such a case is
    /// refused with 409 `case_already_paid`.
    #[serde(default)]
    pub supplementary: bool,
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
    principal.require_key()?;
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
    let sealed = state
        .keyring
        .seal(&pay_token_context(id), token.as_bytes())
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
