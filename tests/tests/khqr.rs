//! KHQR end to end with the real binaries: the poller inside `payments serve` asks bank-sim's
//! Bakong, which a simulated bank app has paid.

use std::time::Duration;

use crate::support::{start_stack_with, wait_for_some, TestDb, WebhookReceiver};
use serde_json::{json, Value};

#[tokio::test]
async fn a_citizen_pays_a_khqr_from_a_bank_app_and_the_case_is_announced() {
    let db = TestDb::create().await;
    let stack = start_stack_with(&db, &[("KHQR_POLL_MS", "100")]).await;
    let http = &stack.http;
    let receiver = WebhookReceiver::start().await;
    let endpoint: Value = http
        .post(stack.url("/v1/webhook-endpoints"))
        .bearer_auth(stack.key("admin"))
        .json(&json!({"url": receiver.url, "events": ["payment.paid"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let quote: Value = http
        .post(stack.url("/v1/quotes"))
        .bearer_auth(stack.key("workflow"))
        .json(&json!({"office_code": "1201", "items": [{"service_code": "public_works.driving_licence_b_exam", "quantity": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let intent: Value = http
        .post(stack.url("/v1/payment-intents"))
        .bearer_auth(stack.key("workflow"))
        .header("idempotency-key", "khqr-e2e")
        .json(&json!({"quote_id": quote["id"], "case_reference": "1201000042"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    // The citizen opens the payment link and asks for a QR with the link token.
    let token = intent["pay_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let attempt = http
        .post(stack.url(&format!("/v1/payment-intents/{intent_id}/attempts")))
        .bearer_auth(&token)
        .header("idempotency-key", "khqr-e2e-attempt")
        .json(&json!({"channel": "khqr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(attempt.status(), 201);
    let attempt: Value = attempt.json().await.unwrap();
    let svg = http
        .get(attempt["qr_svg_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status(), 200);

    // A bank app scans it and pays.
    let paid = http
        .post(format!("{}/bakong/sim/pay", stack.bank_sim_url))
        .json(&json!({"qr": attempt["khqr"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200, "{}", paid.text().await.unwrap());

    let paid_intent = wait_for_some(Duration::from_secs(15), || async {
        let intent: Value = http
            .get(stack.url(&format!("/v1/payment-intents/{intent_id}")))
            .bearer_auth(stack.key("workflow"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (intent["status"] == "paid").then_some(intent)
    })
    .await
    .expect("the poller finds the payment");
    assert_eq!(paid_intent["paid_channel"], "khqr");
    assert_eq!(
        paid_intent["total"],
        json!({"amount": "90000", "currency": "KHR"})
    );

    let received = receiver
        .wait_for(|requests| !requests.is_empty(), Duration::from_secs(15))
        .await;
    assert!(received[0].verify_standard_webhook(endpoint["secret"].as_str().unwrap()));
    let event = received[0].json();
    assert_eq!(event["data"]["channel"], "khqr");
    assert_eq!(event["data"]["case_reference"], "1201000042");

    let pool = db.pool().await;
    let clearing: i64 = sqlx::query_scalar(
        "select sum(p.amount_minor)::bigint from ledger_postings p join ledger_accounts a on a.id = p.account_id where a.code = '1201:clearing:khqr:KHR'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(clearing, 90_000);
}
