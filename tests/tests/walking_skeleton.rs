//! The walking skeleton end to end: the real `payments` and `bank-sim` binaries on free ports,
//! a fresh database, and a workflow-system webhook receiver.

use std::time::Duration;

use crate::support::{run_to_completion, start_stack, wait_for_some, TestDb, WebhookReceiver};
use serde_json::{json, Value};

#[tokio::test]
async fn a_fee_is_quoted_paid_through_the_sandbox_bank_and_announced() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
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
    let secret = endpoint["secret"]
        .as_str()
        .expect("endpoint secret")
        .to_owned();

    let quote = http
        .post(stack.url("/v1/quotes"))
        .bearer_auth(stack.key("workflow"))
        .json(&json!({"office_code": "0320", "items": [{"service_code": "labour.internal_regulations_8_100", "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(quote.status(), 201);
    let quote: Value = quote.json().await.unwrap();
    assert_eq!(
        quote["total"],
        json!({"amount": "600000", "currency": "KHR"})
    );

    let intent = http
        .post(stack.url("/v1/payment-intents"))
        .bearer_auth(stack.key("workflow"))
        .header("idempotency-key", "e2e-intent-1")
        .json(&json!({"quote_id": quote["id"], "case_reference": "0320018100", "payer": {"name": "Sok Dara"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(intent.status(), 201);
    let intent: Value = intent.json().await.unwrap();
    let intent_id = intent["id"].as_str().unwrap().to_owned();

    let attempt = http
        .post(stack.url(&format!("/v1/payment-intents/{intent_id}/attempts")))
        .bearer_auth(stack.key("workflow"))
        .header("idempotency-key", "e2e-attempt-1")
        .json(&json!({"channel": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(attempt.status(), 201);
    let attempt: Value = attempt.json().await.unwrap();
    let reference = attempt["provider_reference"].as_str().unwrap();
    assert!(attempt["checkout_url"]
        .as_str()
        .unwrap()
        .starts_with(&stack.bank_sim_url));

    // The payer pays at the sandbox bank, which calls the service back, signed.
    let paid = http
        .post(format!(
            "{}/sandbox/payments/{reference}/pay",
            stack.bank_sim_url
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success());

    let paid_intent = wait_for_some(Duration::from_secs(10), || async {
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
    .expect("the intent becomes paid");
    assert_eq!(
        paid_intent["amount_paid"],
        json!({"amount": "600000", "currency": "KHR"})
    );

    // The workflow system hears of it, and can prove it came from us.
    let received = receiver
        .wait_for(|requests| !requests.is_empty(), Duration::from_secs(15))
        .await;
    let delivery = &received[0];
    assert!(
        delivery.verify_standard_webhook(&secret),
        "webhook signature does not verify"
    );
    let event = delivery.json();
    assert_eq!(event["type"], "payment.paid");
    assert_eq!(event["data"]["payment_intent_id"], intent_id.as_str());
    assert_eq!(event["data"]["case_reference"], "0320018100");
    assert_eq!(event["data"]["office_code"], "0320");
    assert_eq!(
        event["data"]["total"],
        json!({"amount": "600000", "currency": "KHR"})
    );
    assert_eq!(
        event["data"]["receipt_number"],
        paid_intent["receipt_number"]
    );

    // The books balance.
    let balance: Value = http
        .get(stack.url("/v1/ledger/trial-balance"))
        .bearer_auth(stack.key("auditor"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let totals = balance["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0]["debit"], "600000");
    assert_eq!(totals[0]["balance"], "0");
}

#[tokio::test]
async fn the_command_line_creates_keys_and_seeds_idempotently() {
    let db = TestDb::create().await;
    let env = [("DATABASE_URL", db.url.as_str())];
    let (code, _, stderr) = run_to_completion("payments", &["migrate"], &env).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, first, stderr) = run_to_completion("payments", &["seed", "--demo"], &env).await;
    assert_eq!(code, 0, "{stderr}");
    let pool = db.pool().await;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let before = (
        count("select count(*) from api_keys").await,
        count("select count(*) from services").await,
        count("select count(*) from offices").await,
    );
    // Row versions: an update that writes the same values still makes a new version.
    let versions = |table: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(&format!(
                "select string_agg(xmin::text, ',' order by ctid) from {table}"
            ))
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let offices_before = versions("offices").await;
    let keys_before = versions("api_keys").await;
    let (code, second, _) = run_to_completion("payments", &["seed", "--demo"], &env).await;
    assert_eq!(code, 0);
    let after = (
        count("select count(*) from api_keys").await,
        count("select count(*) from services").await,
        count("select count(*) from offices").await,
    );
    assert_eq!(before, after, "a second seed changes nothing");
    assert_eq!(
        offices_before,
        versions("offices").await,
        "a second seed rewrites no office"
    );
    assert_eq!(
        keys_before,
        versions("api_keys").await,
        "a second seed rewrites no key"
    );
    assert_eq!(first, second, "a second seed prints the same keys");
    assert_eq!(before.2, 3, "the unallocated office plus 0320 and 1201");

    let (code, out, stderr) = run_to_completion(
        "payments",
        &[
            "keys",
            "create",
            "--role",
            "cashier",
            "--office",
            "0320",
            "--name",
            "Counter 1",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(created["role"], "cashier");
    assert_eq!(created["office_codes"], json!(["0320"]));
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("opk_") && key.len() > 40);
    assert!(created["id"].is_string());
    let stored: i64 =
        sqlx::query_scalar("select count(*) from api_keys where key_hash = sha256($1::bytea)")
            .bind(key.as_bytes())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, 1, "the key is stored as its SHA-256 hash");
    let plain: i64 = sqlx::query_scalar(
        "select count(*) from api_keys where position($1::bytea in key_hash) > 0",
    )
    .bind(key.as_bytes())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(plain, 0);

    let (code, out, _) = run_to_completion(
        "payments",
        &["keys", "create", "--role", "cashier", "--office", "9999"],
        &env,
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        out.trim().is_empty(),
        "nothing printed on stdout for a refused key"
    );
    let (code, _, _) =
        run_to_completion("payments", &["keys", "create", "--role", "emperor"], &env).await;
    assert_eq!(code, 2);
}
