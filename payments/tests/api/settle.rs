//! One settlement path for every channel: what each channel's report leaves behind, and the
//! sandbox signature read the way the adapter reads it.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

async fn intent_status(app: &TestApp, id: &str) -> Value {
    app.get(
        &format!("/v1/payment-intents/{id}"),
        Some(app.key("workflow")),
    )
    .await
    .body["status"]
        .clone()
}

/// The signature is checked by `bank_adapters::sandbox::verify_signature`, which ignores
/// whitespace around the header value (a proxy or a stored header may keep it); the service
/// once had its own copy that did not, and refused such a message as forged.
#[sqlx::test(migrations = "../migrations")]
async fn a_signature_with_whitespace_around_it_verifies_as_the_adapter_reads_it(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320071001").await;
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    let attempt = app.sandbox_attempt(&intent_id).await;
    let reference = attempt["provider_reference"].as_str().unwrap();
    let raw = serde_json::to_vec(&callback_body("sbx_ws_1", reference, "600000")).unwrap();
    let signature = bank_adapters::signing::hmac_sha256_hex(SECRET.as_bytes(), &raw);
    sqlx::query(
        "insert into inbox_messages (provider, headers, body, received_at)
         values ('sandbox', $1, $2, now() - interval '2 minutes')",
    )
    .bind(json!({"x-sandbox-signature": format!(" {signature}\t")}))
    .bind(raw)
    .execute(&app.pool)
    .await
    .unwrap();
    payments::workers::recovery::retry_inbox_once(&app.state)
        .await
        .unwrap();
    let kept: (String, Option<bool>, Option<String>) =
        sqlx::query_as("select status, signature_valid, verdict from inbox_messages")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        kept,
        ("processed".to_owned(), Some(true), Some("paid".to_owned()))
    );
    assert_eq!(intent_status(&app, &intent_id).await, "paid");
}

/// The Bakong poller settles through the path callbacks take: its raw answer is marked with
/// the verdict and the transaction, and, Bakong signing nothing, no signature verdict is
/// invented for it.
#[sqlx::test(migrations = "../migrations")]
async fn a_bakong_report_is_marked_by_the_one_path_without_a_signature_verdict(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320071002").await;
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    let attempt = app
        .post(
            &format!("/v1/payment-intents/{intent_id}/attempts"),
            Some(app.key("workflow")),
            Some("khqr-0320071002"),
            &json!({"channel": "khqr"}),
        )
        .await
        .body;
    let paid = app
        .http
        .post(format!("{}/bakong/sim/pay", app.sim_base))
        .json(&json!({"qr": attempt["khqr"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    sqlx::query("update payment_attempts set next_check_at = now() where poll_state = 'active'")
        .execute(&app.pool)
        .await
        .unwrap();
    let client = app.state.bakong.clone().unwrap();
    payments::workers::khqr_poller::poll_once(&app.state, &client)
        .await
        .unwrap();
    assert_eq!(intent_status(&app, &intent_id).await, "paid");
    let kept: (String, Option<bool>, Option<String>, Option<String>) = sqlx::query_as(
        "select status, signature_valid, verdict, provider_transaction_id from inbox_messages
         where provider = 'bakong'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let claimed: (i64, String) = sqlx::query_as(
        "select inbox_message_id, transaction_id from provider_transactions where provider = 'bakong'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        kept,
        (
            "processed".to_owned(),
            None,
            Some("paid".to_owned()),
            Some(claimed.1)
        )
    );
    // The receipt is numbered by the time the poller's round returns.
    let receipt = app
        .get(
            &format!("/v1/payment-intents/{intent_id}"),
            Some(app.key("workflow")),
        )
        .await
        .body["receipt_number"]
        .clone();
    assert!(receipt.is_string(), "{receipt}");
    let attempt_state: String =
        sqlx::query_scalar("select poll_state from payment_attempts where channel = 'khqr'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(attempt_state, "done");
}

/// The webhooks the OpenAPI document announces are the events the service emits, named once.
#[test]
fn the_documented_webhooks_are_the_emitted_events() {
    use payments::app::outbox::EventType;
    let document = payments::http::openapi::document();
    let mut documented: Vec<&str> = document["webhooks"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    let mut emitted: Vec<&str> = EventType::ALL
        .into_iter()
        .filter(|kind| kind.documentation().is_some())
        .map(EventType::name)
        .collect();
    emitted.sort_unstable();
    assert_eq!(
        documented,
        vec![
            "payment.cancelled",
            "payment.expired",
            "payment.paid",
            "payment.voided",
            "reconciliation.exception"
        ]
    );
    assert_eq!(documented, emitted);
}
