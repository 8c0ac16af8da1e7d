//! The sandbox bank simulator: its payment API, a checkout page, and the payer's pay action
//! (in [`pay`]).

mod pay;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::RwLock;

use super::html::{escape_html, page, path_segment};
use super::{SimError, SimState};
use crate::error::AdapterError;
use crate::http::{decode_error, endpoint};
use crate::sandbox::wire::parse_amount;
use crate::sandbox::{
    CreatePaymentRequest, CreatePaymentResponse, PaymentStatusResponse, SandboxPaymentStatus,
};

/// The simulator keeps every payment in memory; past this many it refuses new ones rather
/// than grow without bound during a long soak test.
const MAX_PAYMENTS: usize = 100_000;

/// The sandbox bank's payments, by provider reference.
#[derive(Default)]
pub(super) struct SandboxStore {
    payments: RwLock<HashMap<String, SandboxPayment>>,
}

#[derive(Debug, Clone)]
struct SandboxPayment {
    amount: String,
    currency: String,
    description: String,
    expires_at: DateTime<Utc>,
    /// The account the money lands in, when the creator named one; its statement lists
    /// the payment.
    account_id: Option<String>,
    /// The latest payment; a second pay replaces it, as the bank only reports the latest.
    paid: Option<PaidPayment>,
}

#[derive(Debug, Clone)]
struct PaidPayment {
    transaction_id: String,
    amount: String,
    currency: String,
    paid_at: DateTime<Utc>,
}

/// A paid sandbox payment into a named account, as a statement lists it.
#[derive(Debug, Clone)]
pub(in crate::sim) struct SandboxCredit {
    pub(in crate::sim) provider_reference: String,
    pub(in crate::sim) transaction_id: String,
    pub(in crate::sim) amount: String,
    pub(in crate::sim) currency: String,
    pub(in crate::sim) paid_at: DateTime<Utc>,
}

impl SandboxStore {
    /// Every paid payment into `account_id`.
    pub(in crate::sim) async fn credits_into(&self, account_id: &str) -> Vec<SandboxCredit> {
        let payments = self.payments.read().await;
        payments
            .iter()
            .filter_map(|(provider_reference, payment)| {
                let paid = payment.paid.as_ref()?;
                let account = payment.account_id.as_deref()?;
                (account == account_id).then(|| SandboxCredit {
                    provider_reference: provider_reference.clone(),
                    transaction_id: paid.transaction_id.clone(),
                    amount: paid.amount.clone(),
                    currency: paid.currency.clone(),
                    paid_at: paid.paid_at,
                })
            })
            .collect()
    }
}

impl SandboxPayment {
    fn status(&self) -> SandboxPaymentStatus {
        match self.paid {
            Some(_) => SandboxPaymentStatus::Paid,
            None => SandboxPaymentStatus::Pending,
        }
    }
}

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/sandbox/payments", post(create_payment))
        .route("/sandbox/payments/{provider_reference}", get(get_payment))
        .route("/sandbox/payments/{provider_reference}/pay", post(pay::pay))
        .route("/sandbox/checkout/{provider_reference}", get(checkout_page))
}

async fn create_payment(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatePaymentResponse>), SimError> {
    let request: CreatePaymentRequest = serde_json::from_slice(&body).map_err(malformed_json)?;
    request.validate().map_err(invalid_input)?;
    let amount = parse_amount(&request.amount).map_err(SimError::unprocessable)?;
    let mut payments = state.inner.sandbox.payments.write().await;
    let status = match payments.get(&request.provider_reference) {
        Some(existing) => {
            let same_money = existing.currency == request.currency
                && parse_amount(&existing.amount).is_ok_and(|existing| existing == amount);
            if !same_money {
                return Err(SimError::new(
                    StatusCode::CONFLICT,
                    "reference_conflict",
                    "this provider_reference exists with another amount or currency",
                ));
            }
            existing.status()
        }
        None => {
            if payments.len() >= MAX_PAYMENTS {
                return Err(SimError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "simulator_full",
                    format!("the simulator holds {MAX_PAYMENTS} payments; restart it"),
                ));
            }
            payments.insert(
                request.provider_reference.clone(),
                SandboxPayment {
                    amount: request.amount.clone(),
                    currency: request.currency.clone(),
                    description: request.description.clone(),
                    expires_at: request.expires_at,
                    account_id: request.account_id.clone(),
                    paid: None,
                },
            );
            SandboxPaymentStatus::Pending
        }
    };
    drop(payments);
    tracing::info!(
        provider_reference = %request.provider_reference,
        amount = %request.amount,
        currency = %request.currency,
        "sandbox payment created"
    );
    let checkout_url = endpoint(
        &state.config().public_base_url,
        &["sandbox", "checkout", &request.provider_reference],
    )
    .map_err(internal)?;
    let response = CreatePaymentResponse {
        provider_reference: request.provider_reference,
        checkout_url: checkout_url.into(),
        status,
    };
    Ok((StatusCode::CREATED, Json(response)))
}

async fn get_payment(
    State(state): State<SimState>,
    Path(provider_reference): Path<String>,
) -> Result<Json<PaymentStatusResponse>, SimError> {
    let payments = state.inner.sandbox.payments.read().await;
    let payment = payments
        .get(&provider_reference)
        .ok_or_else(unknown_reference)?;
    let (amount, currency) = match &payment.paid {
        Some(paid) => (paid.amount.clone(), paid.currency.clone()),
        None => (payment.amount.clone(), payment.currency.clone()),
    };
    Ok(Json(PaymentStatusResponse {
        status: payment.status(),
        amount,
        currency,
        transaction_id: payment
            .paid
            .as_ref()
            .map(|paid| paid.transaction_id.clone()),
        provider_reference,
    }))
}

async fn checkout_page(
    State(state): State<SimState>,
    Path(provider_reference): Path<String>,
) -> Response {
    let payments = state.inner.sandbox.payments.read().await;
    let Some(payment) = payments.get(&provider_reference) else {
        let body = page(
            "Unknown payment",
            "<p>The sandbox bank has no payment with this reference.</p>",
        );
        return (StatusCode::NOT_FOUND, Html(body)).into_response();
    };
    let status = match &payment.paid {
        Some(paid) => format!("paid (transaction {})", escape_html(&paid.transaction_id)),
        None => "pending".to_owned(),
    };
    // A relative action keeps the form working behind a proxy that adds a path prefix.
    let action = format!("../payments/{}/pay", path_segment(&provider_reference));
    let content = format!(
        "<p>{description}</p>\n<p>Amount: <strong>{amount} {currency}</strong></p>\n\
         <p>Reference: {reference}<br>Expires: {expires}<br>Status: {status}</p>\n\
         <form method=\"post\" action=\"{action}\"><button type=\"submit\">Pay</button></form>",
        description = escape_html(&payment.description),
        amount = escape_html(&payment.amount),
        currency = escape_html(&payment.currency),
        reference = escape_html(&provider_reference),
        expires = payment
            .expires_at
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        action = escape_html(&action),
    );
    Html(page("Sandbox bank checkout", &content)).into_response()
}

fn unknown_reference() -> SimError {
    SimError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "the sandbox bank has no payment with this provider_reference",
    )
}

fn malformed_json(error: serde_json::Error) -> SimError {
    let detail = match decode_error(&error) {
        AdapterError::Decode(message) => message,
        other => other.to_string(),
    };
    SimError::new(StatusCode::BAD_REQUEST, "malformed_request", detail)
}

fn invalid_input(error: AdapterError) -> SimError {
    match error {
        AdapterError::InvalidInput(message) => SimError::unprocessable(message),
        other => SimError::unprocessable(other.to_string()),
    }
}

/// Our own mistake (a URL that config validation should have refused); the detail stays
/// generic and the cause goes to the log.
fn internal(error: AdapterError) -> SimError {
    tracing::error!(error = %error, "sandbox simulator failed");
    SimError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the simulator failed; see its log",
    )
}
