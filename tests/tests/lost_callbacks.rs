//! No payment the bank took stays unknown, with the real binaries: bank-sim drops every
//! callback and the service finds each payment by asking the bank; bank-sim retries a callback
//! that got no 2xx until one does.

use std::time::{Duration, Instant};

use crate::support::{sandbox_signature, start_stack_with, wait_until, Stack, TestDb};
use serde_json::{json, Value};

async fn pay(stack: &Stack, reference: &str, drop_callbacks: u32) -> Value {
    let paid = stack
        .http
        .post(format!(
            "{}/sandbox/payments/{reference}/pay",
            stack.bank_sim_url
        ))
        .json(&json!({"drop_callbacks": drop_callbacks}))
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success());
    paid.json().await.unwrap()
}

#[tokio::test]
async fn every_payment_whose_callbacks_were_all_dropped_is_found_and_posted_once() {
    let db = TestDb::create().await;
    let mut stack = start_stack_with(
        &db,
        &[
            ("SANDBOX_STATUS_AFTER_MS", "500"),
            ("SANDBOX_STATUS_POLL_MS", "200"),
        ],
    )
    .await;
    // Two instances ask the bank; the leases share the attempts out between them.
    stack.add_payments_instance().await;
    let pool = db.pool().await;
    let mut paid = Vec::new();
    for n in 0..20 {
        let (intent_id, reference) = stack.pending_attempt(&format!("03200800{n:02}")).await;
        let answer = pay(&stack, &reference, 1000).await;
        assert_eq!(answer["retrying"], true, "{answer}");
        assert!(answer["callbacks"][0]["error"]
            .as_str()
            .unwrap()
            .contains("dropped"));
        paid.push((
            intent_id,
            reference,
            answer["transaction_id"].as_str().unwrap().to_owned(),
        ));
    }
    let started = Instant::now();
    let all_paid = wait_until(Duration::from_secs(120), || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from payment_intents where status = 'paid' and receipt_number is not null",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
                == 20
        }
    })
    .await;
    assert!(
        all_paid,
        "not every paid attempt was found within 2 minutes"
    );
    eprintln!("all 20 found in {:?}", started.elapsed());

    // A late callback of one of them (the bank's retry, had it not given up) changes nothing.
    let (_, reference, transaction_id) = &paid[0];
    let body = serde_json::to_vec(&json!({
        "transaction_id": transaction_id,
        "provider_reference": reference,
        "amount": "600000",
        "currency": "KHR",
        "paid_at": "2026-11-25T10:00:00Z",
    }))
    .unwrap();
    let late = stack
        .http
        .post(stack.url("/v1/callbacks/sandbox"))
        .header("content-type", "application/json")
        .header(
            "x-sandbox-signature",
            sandbox_signature(&stack.sandbox_secret, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 200);

    // Each posted once: one entry and one receipt number per payment, no callback ever came.
    let entries: i64 = sqlx::query_scalar("select count(*) from ledger_entries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(entries, 20);
    let receipts: i64 =
        sqlx::query_scalar("select count(distinct receipt_number) from payment_intents")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(receipts, 20);
    let verdicts: Vec<(String, i64)> = sqlx::query_as(
        "select status, count(*) from inbox_messages group by status order by status",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        verdicts,
        vec![("duplicate".to_owned(), 1), ("processed".to_owned(), 20)]
    );
    for (intent_id, _, transaction_id) in &paid {
        let recorded: String = sqlx::query_scalar(
            "select provider_transaction_id from payment_attempts where payment_intent_id = $1::uuid",
        )
        .bind(intent_id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(&recorded, transaction_id);
    }
}

#[tokio::test]
async fn a_callback_that_failed_is_delivered_by_the_banks_retry() {
    let db = TestDb::create().await;
    // The status query is left far off: only the bank's own retry can tell the service.
    let stack = start_stack_with(&db, &[("SANDBOX_STATUS_AFTER_MS", "600000")]).await;
    let pool = db.pool().await;
    let (intent_id, reference) = stack.pending_attempt("0320081001").await;
    // The first delivery and the first retry are lost; the second retry (after 1 + 2 s) lands.
    let answer = pay(&stack, &reference, 2).await;
    assert_eq!(answer["retrying"], true, "{answer}");
    let paid = wait_until(Duration::from_secs(30), || {
        let pool = pool.clone();
        let intent_id = intent_id.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "select status from payment_intents where id = $1::uuid",
            )
            .bind(&intent_id)
            .fetch_one(&pool)
            .await
            .unwrap()
                == "paid"
        }
    })
    .await;
    assert!(paid, "the retried callback did not arrive");
    // It came as a signed callback, once.
    let callbacks: i64 = sqlx::query_scalar(
        "select count(*) from inbox_messages where headers ? 'x-sandbox-signature' and status = 'processed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(callbacks, 1);
    // Taken: the bank stops retrying, so nothing more arrives.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let messages: i64 = sqlx::query_scalar("select count(*) from inbox_messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(messages, 1);
}

#[tokio::test]
async fn a_callback_refused_while_the_service_was_down_is_delivered_by_the_banks_retry() {
    let db = TestDb::create().await;
    let mut stack = start_stack_with(&db, &[("SANDBOX_STATUS_AFTER_MS", "600000")]).await;
    let pool = db.pool().await;
    let (intent_id, reference) = stack.pending_attempt("0320081002").await;
    let service = stack
        .procs
        .iter_mut()
        .find(|proc| proc.name.starts_with("payments"))
        .unwrap();
    service.kill9().await;
    // The payer pays while the service is down: the callback gets no answer at all.
    let answer = pay(&stack, &reference, 0).await;
    assert_eq!(answer["callbacks"][0]["status"], Value::Null, "{answer}");
    assert_eq!(answer["retrying"], true, "{answer}");
    let addr = stack.payments_url.trim_start_matches("http://").to_owned();
    stack.restart_payments_at(&addr).await;
    let paid = wait_until(Duration::from_secs(40), || {
        let pool = pool.clone();
        let intent_id = intent_id.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "select status from payment_intents where id = $1::uuid",
            )
            .bind(&intent_id)
            .fetch_one(&pool)
            .await
            .unwrap()
                == "paid"
        }
    })
    .await;
    assert!(paid, "the bank's retry did not reach the restarted service");
    let entries: i64 = sqlx::query_scalar("select count(*) from ledger_entries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(entries, 1);
}
