//! Webhook delivery with real processes: a crash in the middle of a delivery, two instances
//! dispatching, and the latency and throughput of one instance (printed, not asserted).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::{start_stack_with, wait_until, Replies, Stack, TestDb, WebhookReceiver};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

async fn register(stack: &Stack, url: &str) {
    let reply = stack
        .http
        .post(stack.url("/v1/webhook-endpoints"))
        .bearer_auth(stack.key("admin"))
        .json(&json!({"url": url, "events": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
}

/// Quote, intent and cancel through `base`: one `payment.cancelled` event.
async fn cancelled_case(stack: &Stack, base: &str, case_reference: &str) {
    let http = &stack.http;
    let quote: Value = http
        .post(format!("{base}/v1/quotes"))
        .bearer_auth(stack.key("workflow"))
        .json(&json!({"office_code": "0320", "items": [{"service_code": "labour.internal_regulations_8_100"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let intent: Value = http
        .post(format!("{base}/v1/payment-intents"))
        .bearer_auth(stack.key("workflow"))
        .header("idempotency-key", case_reference)
        .json(&json!({"quote_id": quote["id"], "case_reference": case_reference}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cancelled = http
        .post(format!(
            "{base}/v1/payment-intents/{}/cancel",
            intent["id"].as_str().unwrap()
        ))
        .bearer_auth(stack.key("workflow"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
}

#[tokio::test]
async fn a_delivery_cut_by_kill_9_is_delivered_after_restart() {
    let db = TestDb::create().await;
    let mut stack = start_stack_with(
        &db,
        &[("WEBHOOK_LEASE_S", "2"), ("WEBHOOK_TIMEOUT_MS", "30000")],
    )
    .await;
    // Its first request hangs, like a workflow system stuck mid-request.
    let hook = WebhookReceiver::start_with(Replies {
        hang_first: Duration::from_secs(20),
        ..Replies::default()
    })
    .await;
    register(&stack, &hook.url).await;
    let base = stack.payments_url.clone();
    cancelled_case(&stack, &base, "0320070001").await;
    // The service is in the middle of delivering it when it dies.
    assert!(
        wait_until(Duration::from_secs(10), || {
            let arrived = hook.count();
            async move { arrived > 0 }
        })
        .await
    );
    let service = stack
        .procs
        .iter_mut()
        .find(|proc| proc.name.starts_with("payments"))
        .unwrap();
    service.kill9().await;
    stack.add_payments_instance().await;
    assert!(
        wait_until(Duration::from_secs(20), || {
            let arrived = hook.count();
            async move { arrived >= 2 }
        })
        .await,
        "the restarted service delivers the event its predecessor was cut off in"
    );
    let hits = hook.requests();
    assert_eq!(
        hits[0].webhook_id(),
        hits[1].webhook_id(),
        "a redelivery keeps its webhook-id"
    );
    let pool = db.pool().await;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(
                    "select count(*) from webhook_deliveries where status = 'succeeded'",
                )
                .fetch_one(&pool)
                .await
                .unwrap()
                    == 1
            }
        })
        .await
    );
}

#[tokio::test]
async fn two_dispatching_instances_deliver_each_event_once() {
    let db = TestDb::create().await;
    let mut stack = start_stack_with(&db, &[("WEBHOOK_POLL_MS", "50")]).await;
    let second = stack.add_payments_instance().await;
    let hook = WebhookReceiver::start().await;
    register(&stack, &hook.url).await;
    let first = stack.payments_url.clone();
    let cases = 40;
    for case in 0..cases {
        let base = if case % 2 == 0 { &first } else { &second };
        cancelled_case(&stack, base, &format!("03200800{case:02}")).await;
    }
    let pool = db.pool().await;
    assert!(
        wait_until(Duration::from_secs(20), || {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(
                    "select count(*) from webhook_deliveries where status = 'succeeded'",
                )
                .fetch_one(&pool)
                .await
                .unwrap()
                    == 40
            }
        })
        .await
    );
    let hits = hook.requests();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for hit in &hits {
        *per_id.entry(hit.webhook_id()).or_default() += 1;
    }
    assert_eq!(per_id.len(), cases);
    assert!(
        per_id.values().all(|count| *count == 1),
        "an event was delivered twice: {per_id:?}"
    );
    assert_eq!(hits.iter().filter(|hit| hit.answered == 200).count(), cases);
}

#[tokio::test]
async fn one_instance_delivery_latency_and_throughput() {
    let db = TestDb::create().await;
    let stack = start_stack_with(&db, &[]).await;
    let hook = WebhookReceiver::start().await;
    register(&stack, &hook.url).await;
    let base = stack.payments_url.clone();
    let pool = db.pool().await;

    // Latency: events one after another, commit (outbox created_at) to arrival at the receiver.
    for case in 0..30 {
        cancelled_case(&stack, &base, &format!("03200900{case:02}")).await;
        let expected = case + 1;
        wait_until(Duration::from_secs(10), || {
            let arrived = hook.count();
            async move { arrived >= expected }
        })
        .await;
    }
    let created: HashMap<String, DateTime<Utc>> = sqlx::query_as::<_, (uuid::Uuid, DateTime<Utc>)>(
        "select id, created_at from outbox_events",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(id, at)| (id.to_string(), at))
    .collect();
    let mut latencies_ms: Vec<i64> = hook
        .requests()
        .iter()
        .map(|hit| (hit.arrived_at - created[hit.webhook_id()]).num_milliseconds())
        .collect();
    latencies_ms.sort_unstable();
    assert_eq!(latencies_ms.len(), 30);

    // Throughput: 500 events committed at once, as a burst of payments would.
    let endpoint: uuid::Uuid = sqlx::query_scalar("select id from webhook_endpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    let started = Instant::now();
    sqlx::query(
        "with events as (
             insert into outbox_events (id, event_type, office_code, case_reference, payload)
             select gen_random_uuid(), 'payment.cancelled', '0320', 'burst-' || n, jsonb_build_object('type', 'payment.cancelled', 'n', n)
             from generate_series(1, 500) n
             returning id, case_reference)
         insert into webhook_deliveries (id, event_id, endpoint_id, office_code, case_key)
         select gen_random_uuid(), id, $1, '0320', '0320:' || case_reference from events",
    )
    .bind(endpoint)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("select pg_notify('webhook_deliveries', '')")
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || {
            let arrived = hook.count();
            async move { arrived >= 530 }
        })
        .await
    );
    let elapsed = started.elapsed();
    let p = |q: usize| latencies_ms[(latencies_ms.len() * q / 100).min(latencies_ms.len() - 1)];
    eprintln!(
        "webhook delivery, one instance: commit-to-receipt p50 {} ms, p99 {} ms; 500-event burst in {} ms = {} events/s",
        p(50),
        p(99),
        elapsed.as_millis(),
        500_000 / elapsed.as_millis().max(1)
    );
}
