//! Several service instances on one database, and what the service writes to its logs.

use crate::support::{sandbox_signature, start_stack, start_stack_with, TestDb};
use serde_json::{json, Value};

#[tokio::test]
async fn two_instances_receiving_the_same_callback_post_it_once() {
    let db = TestDb::create().await;
    let mut stack = start_stack(&db).await;
    let second = stack.add_payments_instance().await;
    let first = stack.payments_url.clone();
    let mut intents = Vec::new();
    for case in 0..10 {
        intents.push(stack.pending_attempt(&format!("0320100{case:03}")).await);
    }
    // Every payment's callback reaches both instances, three times each, all at once.
    let mut sends = Vec::new();
    for (index, (_, reference)) in intents.iter().enumerate() {
        let body = serde_json::to_vec(&json!({
            "transaction_id": format!("sbx_multi_{index}"),
            "provider_reference": reference,
            "amount": "600000",
            "currency": "KHR",
            "paid_at": "2026-11-25T10:00:00Z",
        }))
        .unwrap();
        let signature = sandbox_signature(&stack.sandbox_secret, &body);
        for base in [&first, &second, &first, &second, &first, &second] {
            let request = stack
                .http
                .post(format!("{base}/v1/callbacks/sandbox"))
                .header("x-sandbox-signature", signature.clone())
                .header("content-type", "application/json")
                .body(body.clone());
            sends.push(tokio::spawn(async move {
                request.send().await.unwrap().status().as_u16()
            }));
        }
    }
    for send in sends {
        assert_eq!(send.await.unwrap(), 200);
    }
    let pool = db.pool().await;
    let entries: i64 = sqlx::query_scalar("select count(*) from ledger_entries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        entries, 10,
        "one entry per payment, whatever instance took it"
    );
    let paid: i64 =
        sqlx::query_scalar("select count(*) from payment_intents where status = 'paid'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(paid, 10);
    let events: i64 =
        sqlx::query_scalar("select count(*) from outbox_events where event_type = 'payment.paid'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(events, 10);
    let exceptions: i64 = sqlx::query_scalar("select count(*) from reconciliation_exceptions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(exceptions, 0);
    // Receipt numbers are gapless per office: 1..=10, each once.
    let numbers: Vec<String> =
        sqlx::query_scalar("select receipt_number from payment_intents order by receipt_number")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected: Vec<String> = numbers
        .iter()
        .enumerate()
        .map(|(index, number)| format!("{}{:06}", &number[..number.len() - 6], index + 1))
        .collect();
    assert_eq!(numbers, expected);
}

#[tokio::test]
async fn json_logs_carry_request_ids_and_no_secrets() {
    let db = TestDb::create().await;
    let stack = start_stack_with(
        &db,
        &[
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "debug,sqlx=warn,hyper=warn,reqwest=warn"),
        ],
    )
    .await;
    let (_, reference) = stack.pending_attempt("0320200001").await;
    let paid = stack
        .http
        .post(format!(
            "{}/sandbox/payments/{reference}/pay",
            stack.bank_sim_url
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success());
    let unauthorized = stack
        .http
        .get(stack.url("/v1/payment-intents"))
        .bearer_auth("opk_this_is_a_wrong_key_that_must_not_be_logged")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let log = stack
        .procs
        .iter()
        .find(|proc| proc.name.contains("payments"))
        .unwrap()
        .log_text();
    let mut with_request_id = 0;
    for line in log
        .lines()
        .filter_map(|line| line.strip_prefix("[err] "))
        .filter(|line| line.starts_with('{'))
    {
        let record: Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        if line.contains("request.id") {
            with_request_id += 1;
        }
        assert!(record["level"].is_string());
    }
    assert!(
        with_request_id > 0,
        "request ids appear in the request spans:\n{log}"
    );
    for secret in [
        "opk_demo",
        "opk_this_is_a_wrong_key",
        &stack.sandbox_secret,
        "pt_",
        "postgres://",
    ] {
        assert!(!log.contains(secret), "the log contains {secret:?}");
    }
}
