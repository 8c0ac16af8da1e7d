//! Webhook delivery machinery: order per case under failures, rotation, health, dead letters.

use std::time::Duration;

use axum::http::StatusCode as AxumStatus;
use e2e::{ReceivedRequest, Replies, WebhookReceiver};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

/// How long a test waits for its receiver to see what it expects.
const WAIT: Duration = Duration::from_secs(15);

/// A receiver that answers 502 to the first `fail_first` requests, then 200.
async fn receiver(fail_first: usize) -> WebhookReceiver {
    WebhookReceiver::start_with(Replies {
        fail_first,
        failure: AxumStatus::BAD_GATEWAY,
        ..Replies::default()
    })
    .await
}

/// A dispatcher with a fast retry schedule, as a second instance would run it.
fn dispatcher(
    app: &TestApp,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let mut config = (*app.state.config).clone();
    config.webhook_retry_schedule = vec![Duration::from_millis(50)];
    config.webhook_poll_interval = Duration::from_millis(50);
    let state = payments::AppState::new(app.pool.clone(), config).unwrap();
    let (stop, watch) = tokio::sync::watch::channel(false);
    let worker = payments::workers::dispatcher::Dispatcher::new(state).unwrap();
    (stop, tokio::spawn(worker.run(watch)))
}

async fn register(app: &TestApp, url: &str) -> Value {
    let reply = app
        .post(
            "/v1/webhook-endpoints",
            Some(app.key("admin")),
            None,
            &json!({"url": url, "events": ["*"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

#[sqlx::test(migrations = "../migrations")]
async fn a_receiver_that_was_down_gets_every_event_in_case_order(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let hook = receiver(5).await;
    register(&app, &hook.url).await;
    // Case A: a short payment (exception), then the full one (paid). Case B: cancelled.
    let a = app.intent("0320050001").await;
    let attempt = app.sandbox_attempt(a["id"].as_str().unwrap()).await;
    let reference = attempt["provider_reference"].as_str().unwrap();
    app.callback(&callback_body("sbx_a1", reference, "100"), SECRET)
        .await;
    app.callback(&callback_body("sbx_a2", reference, "600000"), SECRET)
        .await;
    let b = app.intent("0320050002").await;
    app.post(
        &format!("/v1/payment-intents/{}/cancel", b["id"].as_str().unwrap()),
        Some(app.key("workflow")),
        None,
        &json!({}),
    )
    .await;

    let (stop, worker) = dispatcher(&app);
    let seen = hook
        .wait_for(
            |seen| seen.iter().filter(|r| r.answered == 200).count() == 3,
            WAIT,
        )
        .await;
    stop.send(true).unwrap();
    worker.await.unwrap();

    assert!(
        seen.iter().filter(|r| r.answered != 200).count() >= 5,
        "the first five were refused"
    );
    // Each event's id is the same on every try of it.
    for received in &seen {
        let same_type: Vec<_> = seen
            .iter()
            .filter(|other| other.webhook_id() == received.webhook_id())
            .collect();
        assert!(same_type
            .iter()
            .all(|other| other.json() == received.json()));
    }
    // Case A: the exception is delivered before payment.paid is even tried.
    let case_a: Vec<&ReceivedRequest> = seen
        .iter()
        .filter(|r| r.json()["data"]["case_reference"] == "0320050001")
        .collect();
    let first_paid_try = case_a
        .iter()
        .position(|r| r.json()["type"] == "payment.paid")
        .unwrap();
    let exception_ok = case_a
        .iter()
        .position(|r| r.json()["type"] == "reconciliation.exception" && r.answered == 200)
        .unwrap();
    assert!(
        exception_ok < first_paid_try,
        "payment.paid was tried before the earlier exception was delivered"
    );
    let delivered: i64 = app
        .scalar_i64("select count(*) from webhook_deliveries where status = 'succeeded'")
        .await;
    assert_eq!(delivered, 3);
    let attempts: i64 = app
        .scalar_i64("select count(*) from webhook_attempts")
        .await;
    assert_eq!(
        attempts,
        i64::try_from(seen.len()).unwrap(),
        "every attempt is recorded"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn during_a_rotation_both_secrets_sign(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let hook = receiver(0).await;
    let endpoint = register(&app, &hook.url).await;
    let id = endpoint["id"].as_str().unwrap();
    let old_secret = endpoint["secret"].as_str().unwrap().to_owned();
    let rotated = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            Some(app.key("admin")),
            None,
            &json!({"keep_previous_for_s": 3600}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    assert!(rotated.body["previous_secret_expires_at"].is_string());

    let intent = app.intent("0320050003").await;
    app.post(
        &format!(
            "/v1/payment-intents/{}/cancel",
            intent["id"].as_str().unwrap()
        ),
        Some(app.key("workflow")),
        None,
        &json!({}),
    )
    .await;
    let (stop, worker) = dispatcher(&app);
    let seen = hook.wait_for(|seen| !seen.is_empty(), WAIT).await;
    let header = seen[0].headers["webhook-signature"].to_str().unwrap();
    assert_eq!(header.split(' ').count(), 2, "{header}");
    assert_eq!(seen[0].signatures_by(&new_secret), 1);
    assert_eq!(seen[0].signatures_by(&old_secret), 1);

    // Without a grace period the old secret stops at once.
    let rotated = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            Some(app.key("admin")),
            None,
            &json!({"keep_previous_for_s": 0}),
        )
        .await;
    let newest = rotated.body["secret"].as_str().unwrap().to_owned();
    let other = app.intent("0320050004").await;
    app.post(
        &format!(
            "/v1/payment-intents/{}/cancel",
            other["id"].as_str().unwrap()
        ),
        Some(app.key("workflow")),
        None,
        &json!({}),
    )
    .await;
    let seen = hook.wait_for(|seen| seen.len() == 2, WAIT).await;
    stop.send(true).unwrap();
    worker.await.unwrap();
    assert_eq!(
        seen[1].headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        1
    );
    assert_eq!(seen[1].signatures_by(&newest), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_endpoint_failing_for_three_days_is_marked_and_counted(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let hook = receiver(usize::MAX).await;
    let endpoint = register(&app, &hook.url).await;
    let id = endpoint["id"].as_str().unwrap();
    sqlx::query("update webhook_endpoints set failing_since = now() - interval '3 days 1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    let intent = app.intent("0320050005").await;
    app.post(
        &format!(
            "/v1/payment-intents/{}/cancel",
            intent["id"].as_str().unwrap()
        ),
        Some(app.key("workflow")),
        None,
        &json!({}),
    )
    .await;
    let (stop, worker) = dispatcher(&app);
    let mut health = Value::Null;
    for _ in 0..100 {
        health = app
            .get(
                &format!("/v1/webhook-endpoints/{id}"),
                Some(app.key("admin")),
            )
            .await
            .body["health"]
            .clone();
        if health == "failing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(health, "failing");
    stop.send(true).unwrap();
    worker.await.unwrap();
    // Its events are kept, still pending.
    assert_eq!(
        app.scalar_i64("select count(*) from webhook_deliveries where status = 'pending'")
            .await,
        1
    );
    // A dispatcher starting now reports it in /metrics.
    let (stop, worker) = dispatcher(&app);
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = app.metrics().await;
        if metrics.contains("owso_webhook_endpoints_failing 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
    assert!(
        metrics.contains("owso_webhook_endpoints_failing 1"),
        "{metrics}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn dead_letters_of_an_endpoint_are_retried_together_in_order(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let hook = receiver(0).await;
    let endpoint = register(&app, &hook.url).await;
    let id = endpoint["id"].as_str().unwrap();
    for case in 0..3 {
        let intent = app.intent(&format!("03200600{case}")).await;
        app.post(
            &format!(
                "/v1/payment-intents/{}/cancel",
                intent["id"].as_str().unwrap()
            ),
            Some(app.key("workflow")),
            None,
            &json!({}),
        )
        .await;
    }
    sqlx::query("update webhook_deliveries set status = 'dead'")
        .execute(&app.pool)
        .await
        .unwrap();
    let retried = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/retry-dead"),
            Some(app.key("admin")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(retried.body["retried"], 3);
    let (stop, worker) = dispatcher(&app);
    hook.wait_for(|seen| seen.len() == 3, WAIT).await;
    // The receiver has the third request before the dispatcher has recorded its answer: wait
    // for the records, not only the requests, before stopping it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let delivered: i64 = sqlx::query_scalar(
            "select count(*) from webhook_deliveries where status = 'succeeded'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if delivered == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{delivered} of 3 recorded as delivered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
    let delivery: uuid::Uuid = sqlx::query_scalar("select id from webhook_deliveries limit 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let attempts = app
        .get(
            &format!("/v1/webhook-deliveries/{delivery}/attempts"),
            Some(app.key("admin")),
        )
        .await;
    assert_eq!(attempts.status, StatusCode::OK, "{}", attempts.body);
    assert_eq!(attempts.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(attempts.body["data"][0]["status_code"], 200);
    assert_eq!(attempts.body["next_cursor"], Value::Null);
    let missing = app
        .post(
            &format!("/v1/webhook-endpoints/{}/retry-dead", uuid::Uuid::nil()),
            Some(app.key("admin")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_disabled_endpoint_gets_nothing_new_and_updates_are_validated(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let hook = receiver(0).await;
    let endpoint = register(&app, &hook.url).await;
    let id = endpoint["id"].as_str().unwrap();
    let disabled = app
        .http
        .patch(format!("{}/v1/webhook-endpoints/{id}", app.base))
        .bearer_auth(app.key("admin"))
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    let intent = app.intent("0320050007").await;
    app.post(
        &format!(
            "/v1/payment-intents/{}/cancel",
            intent["id"].as_str().unwrap()
        ),
        Some(app.key("workflow")),
        None,
        &json!({}),
    )
    .await;
    assert_eq!(
        app.scalar_i64("select count(*) from webhook_deliveries")
            .await,
        0
    );
    for body in [
        json!({"status": "paused"}),
        json!({"url": "http://169.254.169.254/"}),
        json!({"events": ["nope"]}),
        json!({"colour": "red"}),
    ] {
        let reply = app
            .http
            .patch(format!("{}/v1/webhook-endpoints/{id}", app.base))
            .bearer_auth(app.key("admin"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let by_workflow = app
        .http
        .patch(format!("{}/v1/webhook-endpoints/{id}", app.base))
        .bearer_auth(app.key("workflow"))
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_workflow.status(), StatusCode::FORBIDDEN);
    let openapi = app.get("/openapi.json", None).await.body;
    for event in [
        "payment.paid",
        "payment.cancelled",
        "payment.expired",
        "reconciliation.exception",
    ] {
        assert!(
            openapi["webhooks"][event]["post"]["requestBody"].is_object(),
            "openapi webhooks lack {event}"
        );
    }
    assert!(openapi["components"]["schemas"]["PaymentPaid"].is_object());
}

/// A delivery's attempts are a list like every other: `{"data", "next_cursor"}`, paged with
/// `limit` and `cursor`, oldest first.
#[sqlx::test(migrations = "../migrations")]
async fn the_attempts_of_a_delivery_come_a_page_at_a_time(pool: PgPool) {
    let app = TestApp::start(pool).await;
    register(&app, "http://127.0.0.1:9/never-sent").await;
    let intent = app.intent("0320050009").await;
    let cancelled = app
        .post(
            &format!(
                "/v1/payment-intents/{}/cancel",
                intent["id"].as_str().unwrap()
            ),
            Some(app.key("workflow")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    let delivery: uuid::Uuid = sqlx::query_scalar("select id from webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // Three tries, the two first in the same microsecond: the id breaks the tie.
    sqlx::query(
        "insert into webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, error)
         values ($1, '2026-12-01T00:00:00Z', 502, 10, null), ($1, '2026-12-01T00:00:00Z', null, 20, 'timeout'),
                ($1, '2026-12-01T00:05:00Z', 200, 30, null)",
    )
    .bind(delivery)
    .execute(&app.pool)
    .await
    .unwrap();
    let path = format!("/v1/webhook-deliveries/{delivery}/attempts");
    let first = app
        .get(&format!("{path}?limit=2"), Some(app.key("admin")))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let latencies = |page: &Value| -> Vec<i64> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|attempt| attempt["latency_ms"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(latencies(&first.body), vec![10, 20]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("{path}?limit=2&cursor={cursor}"),
            Some(app.key("admin")),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(latencies(&second.body), vec![30]);
    assert_eq!(second.body["next_cursor"], Value::Null);
    let whole = app.get(&path, Some(app.key("admin"))).await;
    assert_eq!(latencies(&whole.body), vec![10, 20, 30]);
    let too_many = app
        .get(&format!("{path}?limit=501"), Some(app.key("admin")))
        .await;
    assert_eq!(
        too_many.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_many.body
    );
    let missing = app
        .get(
            &format!("/v1/webhook-deliveries/{}/attempts", uuid::Uuid::nil()),
            Some(app.key("admin")),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
