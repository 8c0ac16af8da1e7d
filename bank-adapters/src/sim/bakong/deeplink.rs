//! Bakong's deep links, simulated: `generate_deeplink_by_qr` answers a short link on the
//! simulator's own origin, and that link's page plays the payer's bank app (it shows what the
//! QR asks and pays it with one tap).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;

use super::payer::{pay, PayRequest};
use super::{envelope, gate, missing_fields, Endpoint, MAX_PAYMENTS};
use crate::bakong::wire::{ERROR_DEEPLINK_PROVIDER, RESPONSE_CODE_FAIL, RESPONSE_CODE_SUCCESS};
use crate::bakong::{DeeplinkData, DeeplinkRequest};
use crate::khqr::verify;
use crate::sim::html::{escape_html, page, path_segment};
use crate::sim::SimState;

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/v1/generate_deeplink_by_qr", post(generate))
        .route(
            "/bakong/sim/deeplink/{md5}",
            get(show_deeplink).post(pay_deeplink),
        )
}

/// `POST /v1/generate_deeplink_by_qr`: a link for a valid KHQR, or errorCode 4 when the knob
/// `deeplink_error` is set (the real provider's failure), or errorCode 5 for a body that is
/// not a valid KHQR request (our choice: the real answer is not documented).
async fn generate(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = gate(&state, &headers, Endpoint::Deeplink).await {
        return refusal;
    }
    let Some(request) = serde_json::from_slice::<DeeplinkRequest>(&body)
        .ok()
        .filter(|request| !request.qr.is_empty())
    else {
        return missing_fields("the body must be {\"qr\": \"...\", \"sourceInfo\": {...}}");
    };
    let verification = verify(&request.qr, Utc::now().timestamp_millis());
    if verification.error.is_some() {
        return missing_fields("qr is not a valid KHQR");
    }
    let md5 = verification.md5;
    let mut store = state.inner.bakong.state.lock().await;
    if store.knobs.deeplink_error {
        return envelope::<()>(
            StatusCode::OK,
            RESPONSE_CODE_FAIL,
            "Deeplink provider error",
            Some(ERROR_DEEPLINK_PROVIDER),
            None,
        );
    }
    if store.deeplinks.len() >= MAX_PAYMENTS && !store.deeplinks.contains_key(&md5) {
        return envelope::<()>(
            StatusCode::SERVICE_UNAVAILABLE,
            RESPONSE_CODE_FAIL,
            "the Bakong simulator holds too many deep links; restart it",
            None,
            None,
        );
    }
    store.deeplinks.insert(md5.clone(), request.qr);
    let base = state
        .config()
        .public_base_url
        .as_str()
        .trim_end_matches('/');
    let short_link = format!("{base}/bakong/sim/deeplink/{}", path_segment(&md5));
    envelope(
        StatusCode::OK,
        RESPONSE_CODE_SUCCESS,
        "Success",
        None,
        Some(DeeplinkData { short_link }),
    )
}

/// `GET /bakong/sim/deeplink/{md5}`: the bank app opened by the link, asking to pay.
async fn show_deeplink(State(state): State<SimState>, Path(md5): Path<String>) -> Response {
    let store = state.inner.bakong.state.lock().await;
    let Some(qr) = store.deeplinks.get(&md5) else {
        return (
            StatusCode::NOT_FOUND,
            Html(page(
                "Unknown link",
                "<p>This deep link was not made here.</p>",
            )),
        )
            .into_response();
    };
    let decoded = crate::khqr::decode(qr).ok();
    let decoded = decoded.as_ref();
    let text = |value: Option<&str>| value.map(escape_html).unwrap_or_default();
    let content = format!(
        "<p>Pay <strong>{amount}</strong> (currency {currency}) to <strong>{name}</strong>, \
         bill {bill}.</p>\n<form method=\"post\"><button type=\"submit\">Pay</button></form>",
        amount = text(decoded.and_then(|d| d.transaction_amount)),
        currency = text(decoded.and_then(|d| d.transaction_currency)),
        name = text(decoded.and_then(|d| d.merchant_name)),
        bill = text(decoded.and_then(|d| d.bill_number)),
    );
    Html(page("Bakong bank app", &content)).into_response()
}

/// `POST /bakong/sim/deeplink/{md5}`: the payer taps "Pay" in the bank app.
async fn pay_deeplink(State(state): State<SimState>, Path(md5): Path<String>) -> Response {
    let qr = state
        .inner
        .bakong
        .state
        .lock()
        .await
        .deeplinks
        .get(&md5)
        .cloned();
    let Some(qr) = qr else {
        return (
            StatusCode::NOT_FOUND,
            Html(page(
                "Unknown link",
                "<p>This deep link was not made here.</p>",
            )),
        )
            .into_response();
    };
    let request = PayRequest {
        qr,
        from_account_id: None,
    };
    match pay(&state, request).await {
        Ok(paid) => Html(page(
            "Paid",
            &format!(
                "<p>Paid. Transaction <code>{}</code>.</p>",
                escape_html(&paid.hash)
            ),
        ))
        .into_response(),
        Err(error) => error.into_response(),
    }
}
