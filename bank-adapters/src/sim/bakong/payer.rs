//! The payer's side of the Bakong simulator: scanning and paying a KHQR, the misbehaviour
//! knobs, and the list of what was paid.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{CallCounts, Knobs, SimPayment, MAX_PAYMENTS};
use crate::bakong::BakongTransaction;
use crate::khqr::{verify, Currency, DecodedKhqr, KhqrError};
use crate::sandbox::wire::parse_amount;
use crate::sim::callbacks::MAX_DELAY_MS;
use crate::sim::{SimError, SimState};

/// Bounds of the knobs: enough for any test, small enough that a typo cannot wedge the
/// simulator for hours.
const MAX_FORCED_ANSWERS: u32 = 1_000;
const MAX_RETRY_AFTER_S: u64 = 3_600;
const MAX_MALFORMED_MD5S: usize = 1_000;

/// Bakong account ids have at most 32 characters (BANKS.md "KHQR").
const MAX_ACCOUNT_ID_CHARS: usize = 32;

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/bakong/sim/pay", post(pay_qr))
        .route("/bakong/sim/control", get(get_control).post(set_control))
        .route("/bakong/sim/payments", get(list_payments))
}

/// `POST /bakong/sim/pay`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)] // Our own test API: a misspelt option must not pass silently.
pub(super) struct PayRequest {
    pub(super) qr: String,
    pub(super) from_account_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct PayResponse {
    md5: String,
    pub(super) hash: String,
    /// A decimal string, as in our own APIs; Bakong's API writes it as a JSON number.
    amount: String,
    currency: String,
    from_account_id: String,
    to_account_id: String,
}

/// What the payer's app read from a KHQR it accepts.
struct Payable {
    md5: String,
    bill_number: Option<String>,
    to_account_id: String,
    amount: rust_decimal::Decimal,
    currency: &'static str,
}

async fn pay_qr(State(state): State<SimState>, body: Bytes) -> Result<Json<PayResponse>, SimError> {
    let request: PayRequest = serde_json::from_slice(&body).map_err(malformed_json)?;
    pay(&state, request).await.map(Json)
}

/// Pays a KHQR as a bank app would (the JSON route and the deep-link page share it).
pub(super) async fn pay(state: &SimState, request: PayRequest) -> Result<PayResponse, SimError> {
    let from_account_id = match request.from_account_id {
        Some(account) => check_account_id(account)?,
        None => generated_payer(),
    };
    let now_ms = Utc::now().timestamp_millis();
    let payable = scan(&request.qr, now_ms)?;
    let transaction = BakongTransaction {
        hash: transaction_hash(&payable.md5, now_ms),
        from_account_id: Some(from_account_id.clone()),
        to_account_id: payable.to_account_id.clone(),
        currency: payable.currency.to_owned(),
        amount: payable.amount,
        description: None,
        created_date_ms: now_ms,
        acknowledged_date_ms: Some(now_ms),
        external_ref: Some(external_ref()),
    };
    {
        let mut store = state.inner.bakong.state.lock().await;
        if store.by_md5.contains_key(&payable.md5) {
            return Err(SimError::new(
                StatusCode::CONFLICT,
                "already_paid",
                "this KHQR was already paid; a dynamic KHQR pays once",
            ));
        }
        if store.payments.len() >= MAX_PAYMENTS {
            return Err(SimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "simulator_full",
                format!("the Bakong simulator holds {MAX_PAYMENTS} payments; restart it"),
            ));
        }
        let index = store.payments.len();
        store.by_md5.insert(payable.md5.clone(), index);
        store.by_hash.insert(transaction.hash.clone(), index);
        store.payments.push(SimPayment {
            md5: payable.md5.clone(),
            bill_number: payable.bill_number.clone(),
            transaction: transaction.clone(),
        });
    }
    tracing::info!(
        md5 = %payable.md5,
        amount = %payable.amount,
        currency = payable.currency,
        "Bakong payer paid a KHQR"
    );
    Ok(PayResponse {
        md5: payable.md5,
        hash: transaction.hash,
        amount: payable.amount.to_string(),
        currency: transaction.currency,
        from_account_id,
        to_account_id: transaction.to_account_id,
    })
}

/// Checks a KHQR as a bank app would at `now_ms`: it verifies (CRC and every field rule),
/// has not expired, and carries an amount.
fn scan(qr: &str, now_ms: i64) -> Result<Payable, SimError> {
    let verification = verify(qr, now_ms);
    match &verification.error {
        None => {}
        Some(KhqrError::KhqrExpired) => {
            return Err(qr_problem("qr_expired", "this KHQR has expired".to_owned()))
        }
        Some(error) => {
            let reason = verification.reason().unwrap_or("validation_error");
            return Err(qr_problem(
                "qr_invalid",
                format!("this is not a valid KHQR ({reason}): {error}"),
            ));
        }
    }
    let decoded = verification.decoded.unwrap_or_default();
    let dynamic = decoded.point_of_initiation_method == Some("12");
    let Some(amount_text) = decoded.transaction_amount.filter(|_| dynamic) else {
        return Err(qr_problem(
            "qr_static",
            "this KHQR is static (no amount): a bank app would ask the payer for one, and Bakong \
             cannot track it"
                .to_owned(),
        ));
    };
    let amount = parse_amount(amount_text)
        .ok()
        .filter(|amount| *amount > rust_decimal::Decimal::ZERO)
        .ok_or_else(|| qr_problem("qr_invalid", "the KHQR's amount is not positive".to_owned()))?;
    let currency = currency_of(&decoded)?;
    let to_account_id = decoded
        .bakong_account_id
        .map(str::to_owned)
        .ok_or_else(|| qr_problem("qr_invalid", "the KHQR names no Bakong account".to_owned()))?;
    Ok(Payable {
        md5: verification.md5,
        bill_number: decoded.bill_number.map(str::to_owned),
        to_account_id,
        amount,
        currency,
    })
}

fn currency_of(decoded: &DecodedKhqr<'_>) -> Result<&'static str, SimError> {
    match decoded
        .transaction_currency
        .and_then(Currency::from_numeric_code)
    {
        Some(Currency::Khr) => Ok("KHR"),
        Some(Currency::Usd) => Ok("USD"),
        None => Err(qr_problem(
            "qr_invalid",
            "the KHQR's currency is neither KHR nor USD".to_owned(),
        )),
    }
}

fn qr_problem(code: &'static str, detail: String) -> SimError {
    SimError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
}

fn check_account_id(account: String) -> Result<String, SimError> {
    let length = account.chars().count();
    let at_signs = account.matches('@').count();
    if length == 0
        || length > MAX_ACCOUNT_ID_CHARS
        || at_signs != 1
        || account.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(SimError::unprocessable(format!(
            "from_account_id must look like name@bank: one @, at most {MAX_ACCOUNT_ID_CHARS} \
             characters, no spaces"
        )));
    }
    Ok(account)
}

/// A plausible payer account, such as `payer_3f9a1c07@aclb`.
fn generated_payer() -> String {
    let id: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(8)
        .collect();
    format!("payer_{id}@aclb")
}

/// A 64-hex transaction hash, unique per payment like Bakong's.
fn transaction_hash(md5: &str, now_ms: i64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(md5.as_bytes());
    hasher.update(now_ms.to_be_bytes());
    hasher.update(uuid::Uuid::new_v4().as_bytes());
    hex::encode(hasher.finalize())
}

/// A payer bank reference shaped like the real ones (`100FT` and 11 digits).
fn external_ref() -> String {
    let number: u64 = rand::thread_rng().gen_range(0..100_000_000_000);
    format!("100FT{number:011}")
}

/// `POST /bakong/sim/control`: every field is optional; absent ones keep their value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlRequest {
    unauthorized: Option<bool>,
    rate_limit_next: Option<u32>,
    retry_after_s: Option<u64>,
    fail_next: Option<u32>,
    delay_ms: Option<u64>,
    /// Replaces the list; `[]` clears it.
    malformed_md5s: Option<Vec<String>>,
    deeplink_error: Option<bool>,
}

#[derive(Debug, Serialize)]
struct ControlResponse {
    unauthorized: bool,
    rate_limit_next: u32,
    retry_after_s: u64,
    fail_next: u32,
    delay_ms: u64,
    malformed_md5s: Vec<String>,
    deeplink_error: bool,
    calls: CallCounts,
}

impl ControlResponse {
    fn new(knobs: &Knobs, calls: &CallCounts) -> Self {
        Self {
            unauthorized: knobs.unauthorized,
            rate_limit_next: knobs.rate_limit_next,
            retry_after_s: knobs.retry_after_s,
            fail_next: knobs.fail_next,
            delay_ms: knobs.delay_ms,
            malformed_md5s: knobs.malformed_md5s.clone(),
            deeplink_error: knobs.deeplink_error,
            calls: calls.clone(),
        }
    }
}

async fn get_control(State(state): State<SimState>) -> Json<ControlResponse> {
    let store = state.inner.bakong.state.lock().await;
    Json(ControlResponse::new(&store.knobs, &store.calls))
}

async fn set_control(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Json<ControlResponse>, SimError> {
    let request: ControlRequest = serde_json::from_slice(&body).map_err(malformed_json)?;
    let over = |value: Option<u64>, max: u64| value.is_some_and(|value| value > max);
    if over(
        request.rate_limit_next.map(u64::from),
        u64::from(MAX_FORCED_ANSWERS),
    ) || over(
        request.fail_next.map(u64::from),
        u64::from(MAX_FORCED_ANSWERS),
    ) {
        return Err(SimError::unprocessable(format!(
            "rate_limit_next and fail_next must be 0 to {MAX_FORCED_ANSWERS}"
        )));
    }
    if over(request.retry_after_s, MAX_RETRY_AFTER_S) {
        return Err(SimError::unprocessable(format!(
            "retry_after_s must be 0 to {MAX_RETRY_AFTER_S}"
        )));
    }
    if over(request.delay_ms, MAX_DELAY_MS) {
        return Err(SimError::unprocessable(format!(
            "delay_ms must be 0 to {MAX_DELAY_MS}"
        )));
    }
    if request.malformed_md5s.as_ref().is_some_and(|md5s| {
        md5s.len() > MAX_MALFORMED_MD5S || md5s.iter().any(|md5| md5.len() > 64)
    }) {
        return Err(SimError::unprocessable(format!(
            "malformed_md5s takes at most {MAX_MALFORMED_MD5S} md5s"
        )));
    }
    let mut store = state.inner.bakong.state.lock().await;
    let knobs = &mut store.knobs;
    if let Some(md5s) = request.malformed_md5s {
        knobs.malformed_md5s = md5s;
    }
    knobs.unauthorized = request.unauthorized.unwrap_or(knobs.unauthorized);
    knobs.deeplink_error = request.deeplink_error.unwrap_or(knobs.deeplink_error);
    knobs.rate_limit_next = request.rate_limit_next.unwrap_or(knobs.rate_limit_next);
    knobs.retry_after_s = request.retry_after_s.unwrap_or(knobs.retry_after_s);
    knobs.fail_next = request.fail_next.unwrap_or(knobs.fail_next);
    knobs.delay_ms = request.delay_ms.unwrap_or(knobs.delay_ms);
    tracing::info!(knobs = ?store.knobs, "Bakong simulator knobs set");
    Ok(Json(ControlResponse::new(&store.knobs, &store.calls)))
}

#[derive(Debug, Serialize)]
struct PaymentsResponse {
    payments: Vec<PaymentView>,
}

#[derive(Debug, Serialize)]
struct PaymentView {
    md5: String,
    hash: String,
    from_account_id: Option<String>,
    to_account_id: String,
    amount: String,
    currency: String,
    created_date_ms: i64,
    acknowledged_date_ms: Option<i64>,
    external_ref: Option<String>,
}

async fn list_payments(State(state): State<SimState>) -> Json<PaymentsResponse> {
    let store = state.inner.bakong.state.lock().await;
    let payments = store
        .payments
        .iter()
        .map(|payment| {
            let transaction = &payment.transaction;
            PaymentView {
                md5: payment.md5.clone(),
                hash: transaction.hash.clone(),
                from_account_id: transaction.from_account_id.clone(),
                to_account_id: transaction.to_account_id.clone(),
                amount: transaction.amount.to_string(),
                currency: transaction.currency.clone(),
                created_date_ms: transaction.created_date_ms,
                acknowledged_date_ms: transaction.acknowledged_date_ms,
                external_ref: transaction.external_ref.clone(),
            }
        })
        .collect();
    Json(PaymentsResponse { payments })
}

fn malformed_json(error: serde_json::Error) -> SimError {
    let detail: String = error.to_string().chars().take(200).collect();
    SimError::new(StatusCode::BAD_REQUEST, "malformed_request", detail)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn generated_values_look_like_bakong_ones() {
        let payer = generated_payer();
        assert!(
            payer.starts_with("payer_") && payer.ends_with("@aclb"),
            "{payer}"
        );
        assert!(payer.chars().count() <= MAX_ACCOUNT_ID_CHARS);
        assert!(check_account_id(payer).is_ok());
        let hash = transaction_hash("0123456789abcdef0123456789abcdef", 1);
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        let reference = external_ref();
        assert!(
            reference.starts_with("100FT") && reference.len() == 16,
            "{reference}"
        );
    }

    #[test]
    fn payer_accounts_need_one_at_sign() {
        for bad in ["", "no-at", "a@b@c", "has space@aclb", &"x".repeat(33)] {
            assert!(check_account_id(bad.to_owned()).is_err(), "{bad}");
        }
    }
}
