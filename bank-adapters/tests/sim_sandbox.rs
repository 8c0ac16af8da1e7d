//! The sandbox bank simulator: its API, and the callbacks it sends to our service.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bank_adapters::sim::router;
use common::{closed_port_url, create, create_body, pay, sim_state, start_sim, Receiver};
use serde_json::{json, Value};
use tower::ServiceExt as _;

/// Sends one request through the router without a socket.
async fn oneshot(request: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
    let app = router(sim_state(closed_port_url().await));
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, content_type, body.to_vec())
}

fn post_json(uri: &str, body: &Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

#[tokio::test]
async fn healthz_answers_ok() {
    let (status, _, body) = oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"ok");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let (status, content_type, _) =
        oneshot(Request::get("/nowhere").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let (status, content_type, _) =
        oneshot(Request::delete("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
}

#[tokio::test]
async fn create_pay_sends_one_signed_callback_and_marks_the_payment_paid() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let sim = start_sim(receiver.base_url.clone()).await;

    let created = create(&sim, "att_001", "600000", "KHR").await;
    assert_eq!(created["provider_reference"], "att_001");
    assert_eq!(created["status"], "pending");
    assert_eq!(
        created["checkout_url"],
        "http://sim.test:8081/sandbox/checkout/att_001"
    );

    let (status, answer) = pay(&sim, "att_001", None).await;
    assert_eq!(status, 200);
    let transaction_id = answer["transaction_id"].as_str().unwrap().to_owned();
    assert!(transaction_id.starts_with("sbx_"), "{transaction_id}");
    assert_eq!(transaction_id.len(), 4 + 32);
    assert_eq!(answer["callbacks"], json!([{"status": 200}]));

    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert!(
        call.signature_valid,
        "signature must verify with the shared secret"
    );
    assert_eq!(call.content_type.as_deref(), Some("application/json"));
    let body = call.json();
    assert_eq!(body["transaction_id"], transaction_id.as_str());
    assert_eq!(body["provider_reference"], "att_001");
    assert_eq!(body["amount"], "600000");
    assert_eq!(body["currency"], "KHR");
    let paid_at = body["paid_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(paid_at).is_ok(),
        "{paid_at}"
    );
    // The callback is exactly what our own parser accepts.
    let parsed = bank_adapters::sandbox::parse_callback(&call.body).unwrap();
    assert_eq!(parsed.transaction_id, transaction_id);

    let status: Value = common::http()
        .get(sim.join("/sandbox/payments/att_001").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        status,
        json!({"provider_reference": "att_001", "status": "paid", "amount": "600000",
               "currency": "KHR", "transaction_id": transaction_id})
    );
}

#[tokio::test]
async fn duplicate_sends_identical_callbacks_with_one_transaction_id() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let sim = start_sim(receiver.base_url.clone()).await;
    create(&sim, "att_dup", "25.50", "USD").await;

    let (status, answer) = pay(&sim, "att_dup", Some(json!({"duplicate": 3}))).await;
    assert_eq!(status, 200);
    assert_eq!(answer["callbacks"].as_array().unwrap().len(), 3);

    let calls = receiver.calls();
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert!(call.signature_valid);
        assert_eq!(
            call.body, calls[0].body,
            "every copy carries the same bytes"
        );
        assert_eq!(call.signature, calls[0].signature);
        assert_eq!(call.json()["transaction_id"], answer["transaction_id"]);
        assert_eq!(call.json()["amount"], "25.50");
    }
}

#[tokio::test]
async fn paying_another_amount_reports_that_amount() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let sim = start_sim(receiver.base_url.clone()).await;
    create(&sim, "att_wrong", "600000", "KHR").await;

    let (status, _) = pay(
        &sim,
        "att_wrong",
        Some(json!({"amount": "500000", "transaction_id": "bank-tx-42"})),
    )
    .await;
    assert_eq!(status, 200);
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].signature_valid);
    let body = calls[0].json();
    assert_eq!(body["amount"], "500000");
    assert_eq!(body["currency"], "KHR");
    assert_eq!(body["transaction_id"], "bank-tx-42");
}

#[tokio::test]
async fn unknown_reference_without_amount_is_404_and_sends_nothing() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let sim = start_sim(receiver.base_url.clone()).await;

    let (status, problem) = pay(&sim, "never_created", None).await;
    assert_eq!(status, 404);
    assert_eq!(problem["code"], "not_found");
    assert_eq!(problem["status"], 404);
    assert!(receiver.calls().is_empty());

    let response = common::http()
        .get(sim.join("/sandbox/payments/never_created").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn unknown_reference_with_amount_still_pays() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let sim = start_sim(receiver.base_url.clone()).await;

    let (status, _) = pay(
        &sim,
        "stray_ref",
        Some(json!({"amount": "1000", "currency": "KHR"})),
    )
    .await;
    assert_eq!(status, 200);
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].json()["provider_reference"], "stray_ref");
    assert_eq!(calls[0].json()["amount"], "1000");

    let (status, problem) = pay(&sim, "stray_ref", Some(json!({"amount": "1000"}))).await;
    assert_eq!(status, 422, "{problem}");
}

#[tokio::test]
async fn forged_and_missing_signatures_do_not_verify_and_leave_the_payment_pending() {
    let receiver = Receiver::start(StatusCode::UNAUTHORIZED).await;
    let sim = start_sim(receiver.base_url.clone()).await;
    create(&sim, "att_forged", "600000", "KHR").await;

    let (status, answer) = pay(&sim, "att_forged", Some(json!({"signature": "bad"}))).await;
    assert_eq!(status, 200);
    assert_eq!(answer["callbacks"], json!([{"status": 401}]));
    let (status, _) = pay(&sim, "att_forged", Some(json!({"signature": "missing"}))).await;
    assert_eq!(status, 200);

    let calls = receiver.calls();
    assert_eq!(calls.len(), 2);
    let forged = calls[0].signature.as_deref().unwrap();
    assert_eq!(
        forged.len(),
        64,
        "a forged signature is still well-formed hex"
    );
    assert!(!calls[0].signature_valid);
    assert_eq!(calls[1].signature, None);

    let status: Value = common::http()
        .get(sim.join("/sandbox/payments/att_forged").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "pending");
}

#[tokio::test]
async fn delayed_pay_answers_202_then_sends() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let sim = start_sim(receiver.base_url.clone()).await;
    create(&sim, "att_late", "600000", "KHR").await;

    let (status, answer) = pay(
        &sim,
        "att_late",
        Some(json!({"delay_ms": 300, "duplicate": 2})),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(answer["callbacks"], json!([]));
    assert_eq!(answer["delay_ms"], 300);
    assert!(
        receiver.calls().is_empty(),
        "nothing is sent before the delay"
    );

    let calls = receiver.wait_for(2).await;
    assert!(calls.iter().all(|call| call.signature_valid));
    assert_eq!(calls[0].json()["transaction_id"], answer["transaction_id"]);
    assert_eq!(calls[0].body, calls[1].body);
}

#[tokio::test]
async fn unreachable_service_is_reported_per_callback() {
    let sim = start_sim(closed_port_url().await).await;
    create(&sim, "att_down", "600000", "KHR").await;
    let (status, answer) = pay(&sim, "att_down", Some(json!({"duplicate": 2}))).await;
    assert_eq!(status, 200);
    let callbacks = answer["callbacks"].as_array().unwrap();
    assert_eq!(callbacks.len(), 2);
    for callback in callbacks {
        assert_eq!(callback["status"], Value::Null);
        assert!(callback["error"]
            .as_str()
            .is_some_and(|error| !error.is_empty()));
    }
}

#[tokio::test]
async fn recreating_is_idempotent_for_the_same_amount_and_409_otherwise() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let sim = start_sim(receiver.base_url.clone()).await;
    let first = create(&sim, "att_again", "12.50", "USD").await;
    // Same money written with another scale is the same amount.
    let again = create(&sim, "att_again", "12.5", "USD").await;
    assert_eq!(first, again);

    for (amount, currency) in [("13.00", "USD"), ("12.50", "KHR")] {
        let response = common::http()
            .post(sim.join("/sandbox/payments").unwrap())
            .json(&create_body("att_again", amount, currency))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 409);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "reference_conflict");
    }
}

#[tokio::test]
async fn create_refuses_malformed_and_invalid_requests() {
    let (status, content_type, _) = oneshot(
        Request::post("/sandbox/payments")
            .body(Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));

    let mut missing = create_body("att_x", "1", "KHR");
    missing.as_object_mut().unwrap().remove("expires_at");
    let (status, _, _) = oneshot(post_json("/sandbox/payments", &missing)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    for body in [
        create_body("", "1", "KHR"),
        create_body(&"r".repeat(65), "1", "KHR"),
        create_body("att_x", "-1", "KHR"),
        create_body("att_x", "1", "riel"),
    ] {
        let (status, _, problem) = oneshot(post_json("/sandbox/payments", &body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let problem: Value = serde_json::from_slice(&problem).unwrap();
        assert_eq!(problem["code"], "validation_failed");
    }

    let huge = create_body("att_x", "1", "KHR")
        .to_string()
        .replace("Construction", &"x".repeat(70 * 1024));
    let (status, _, _) = oneshot(
        Request::post("/sandbox/payments")
            .header("content-type", "application/json")
            .body(Body::from(huge))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn pay_refuses_out_of_range_options() {
    let cases = [
        (json!({"duplicate": 0}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"duplicate": 21}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"delay_ms": 60_001}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"amount": "1,000"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"currency": "usd"}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"transaction_id": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"signature": "maybe"}), StatusCode::BAD_REQUEST),
        (json!({"duplicates": 2}), StatusCode::BAD_REQUEST),
        (json!({"duplicate": -1}), StatusCode::BAD_REQUEST),
    ];
    for (body, expected) in cases {
        let (status, _, _) = oneshot(post_json("/sandbox/payments/att_1/pay", &body)).await;
        assert_eq!(status, expected, "{body}");
    }
}

#[tokio::test]
async fn checkout_page_offers_a_pay_button_that_pays() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let sim = start_sim(receiver.base_url.clone()).await;
    let created = create(&sim, "att <page>", "600000", "KHR").await;
    let checkout_url = created["checkout_url"].as_str().unwrap();
    assert_eq!(
        checkout_url,
        "http://sim.test:8081/sandbox/checkout/att%20%3Cpage%3E"
    );

    let page_url = sim.join("/sandbox/checkout/att%20%3Cpage%3E").unwrap();
    let response = common::http().get(page_url.clone()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<form method=\"post\""), "{html}");
    assert!(html.contains("600000 KHR"));
    assert!(
        html.contains("att &lt;page&gt;"),
        "the reference is escaped"
    );
    assert!(!html.contains("att <page>"));

    // Submit the form the way a browser does: resolve the action against the page URL.
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let response = common::http()
        .post(page_url.join(action).unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let paid = response.text().await.unwrap();
    assert!(paid.contains("HTTP 200"), "{paid}");
    assert_eq!(receiver.calls().len(), 1);
    assert!(receiver.calls()[0].signature_valid);

    let html = common::http()
        .get(page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("paid (transaction sbx_"), "{html}");

    let response = common::http()
        .get(sim.join("/sandbox/checkout/unknown").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_callback_without_a_2xx_is_retried_until_one_is_taken() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    // The service answers 502 twice (a dead instance behind its balancer), then 200.
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let service = axum::Router::new().route(
        "/v1/callbacks/sandbox",
        axum::routing::post(move || {
            let counted = Arc::clone(&counted);
            async move {
                if counted.fetch_add(1, Ordering::SeqCst) < 2 {
                    StatusCode::BAD_GATEWAY
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let service_url = common::serve(service).await;
    let state = bank_adapters::sim::SimState::with_callback_retry_schedule(
        bank_adapters::sim::SimConfig {
            callback_base_url: service_url,
            sandbox_callback_secret: common::SECRET.to_owned(),
            public_base_url: url::Url::parse("http://sim.test:8081").unwrap(),
            bakong_token: common::BAKONG_TOKEN.to_owned(),
        },
        vec![Duration::from_millis(20); 5],
    )
    .unwrap();
    let sim = common::serve(router(state)).await;
    create(&sim, "att_retry", "600000", "KHR").await;
    let (status, answer) = pay(&sim, "att_retry", None).await;
    assert_eq!(status, 200);
    assert_eq!(answer["callbacks"], json!([{"status": 502}]));
    assert_eq!(answer["retrying"], true);
    for _ in 0..200 {
        if calls.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Once taken, the bank stops: three deliveries, not six.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // Dropping on purpose counts as a failure too, and a taken first delivery is not retried.
    create(&sim, "att_taken", "600000", "KHR").await;
    let (_, answer) = pay(&sim, "att_taken", None).await;
    assert_eq!(answer["callbacks"], json!([{"status": 200}]));
    assert!(answer.get("retrying").is_none());
    create(&sim, "att_dropped", "600000", "KHR").await;
    let (_, answer) = pay(&sim, "att_dropped", Some(json!({"drop_callbacks": 1000}))).await;
    assert_eq!(answer["retrying"], true);
    assert_eq!(answer["callbacks"][0]["status"], Value::Null);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "every delivery of the dropped one stayed home"
    );
    create(&sim, "att_too_many", "600000", "KHR").await;
    let (status, _) = pay(&sim, "att_too_many", Some(json!({"drop_callbacks": 1001}))).await;
    assert_eq!(status, 422);
}
