use std::time::Duration;

use axum::http::StatusCode as AxumStatus;
use e2e::{Replies, WebhookReceiver};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

/// How long a test waits for its receiver to see what it expects.
const WAIT: Duration = Duration::from_secs(10);

/// A receiver that answers 503 to the first `fail_first` requests, then 204.
async fn start_receiver(fail_first: usize) -> WebhookReceiver {
    WebhookReceiver::start_with(Replies {
        fail_first,
        failure: AxumStatus::SERVICE_UNAVAILABLE,
        success: AxumStatus::NO_CONTENT,
        ..Replies::default()
    })
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn payment_paid_reaches_the_workflow_system_signed(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let receiver = start_receiver(1).await;
    let url = &receiver.url;
    let endpoint = app
        .post(
            "/v1/webhook-endpoints",
            Some(app.key("admin")),
            None,
            &json!({"url": url, "events": ["payment.paid"]}),
        )
        .await;
    assert_eq!(endpoint.status, StatusCode::CREATED, "{}", endpoint.body);
    let secret = endpoint.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let listed = app
        .get("/v1/webhook-endpoints", Some(app.key("admin")))
        .await;
    assert!(
        listed.body["data"][0].get("secret").is_none(),
        "the secret is shown once only"
    );

    let (shutdown, watch) = tokio::sync::watch::channel(false);
    let dispatcher = payments::workers::dispatcher::Dispatcher::new(app.state.clone()).unwrap();
    let worker = tokio::spawn(dispatcher.run(watch));

    let intent = app.intent("0320018100").await;
    let attempt = app.sandbox_attempt(intent["id"].as_str().unwrap()).await;
    app.callback(
        &callback_body(
            "sbx_hook",
            attempt["provider_reference"].as_str().unwrap(),
            "600000",
        ),
        SECRET,
    )
    .await;

    // The first delivery fails (503); the retry is scheduled later; bring it forward.
    receiver.wait_for(|seen| seen.len() == 1, WAIT).await;
    let mut pending = 0;
    for _ in 0..100 {
        pending = app.scalar_i64("select count(*) from webhook_deliveries where status = 'pending' and last_status_code = 503").await;
        if pending == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pending, 1);
    let next_in: i64 = app
        .scalar_i64(
            "select extract(epoch from next_attempt_at - now())::bigint from webhook_deliveries",
        )
        .await;
    assert!(
        (3..=6).contains(&next_in),
        "first retry about 5 s later, got {next_in}"
    );
    sqlx::query("update webhook_deliveries set next_attempt_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("select pg_notify('webhook_deliveries', '')")
        .execute(&app.pool)
        .await
        .unwrap();
    receiver.wait_for(|seen| seen.len() == 2, WAIT).await;
    let mut succeeded = 0;
    for _ in 0..100 {
        succeeded = app
            .scalar_i64("select count(*) from webhook_deliveries where status = 'succeeded'")
            .await;
        if succeeded == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(succeeded, 1);
    shutdown.send(true).unwrap();
    worker.await.unwrap();

    let seen = receiver.requests();
    let (first, retry) = (&seen[0], &seen[1]);
    assert!(
        retry.verify_standard_webhook(&secret),
        "signature does not verify"
    );
    assert_eq!(
        first.headers["webhook-id"], retry.headers["webhook-id"],
        "a retry keeps its webhook-id"
    );
    let event: Value = serde_json::from_slice(&retry.body).unwrap();
    assert_eq!(event["type"], "payment.paid");
    assert_eq!(event["data"]["case_reference"], "0320018100");
    assert_eq!(event["data"]["payment_intent_id"], intent["id"]);
    assert!(event["data"]["receipt_number"]
        .as_str()
        .unwrap()
        .starts_with("0320-"));
    assert_eq!(
        app.scalar_i64("select count(*) from webhook_attempts")
            .await,
        2
    );
    let deliveries = app
        .get(
            "/v1/webhook-deliveries?status=succeeded",
            Some(app.key("admin")),
        )
        .await;
    assert_eq!(deliveries.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(deliveries.body["data"][0]["attempt_count"], 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn dead_deliveries_can_be_retried(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let receiver = start_receiver(0).await;
    let url = &receiver.url;
    app.post(
        "/v1/webhook-endpoints",
        Some(app.key("admin")),
        None,
        &json!({"url": url, "events": ["*"]}),
    )
    .await;
    let intent = app.intent("0320000066").await;
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
    sqlx::query("update webhook_deliveries set status = 'dead', attempt_count = 9")
        .execute(&app.pool)
        .await
        .unwrap();
    let delivery: uuid::Uuid = sqlx::query_scalar("select id from webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let retried = app
        .post(
            &format!("/v1/webhook-deliveries/{delivery}/retry"),
            Some(app.key("admin")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    let (shutdown, watch) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(
        payments::workers::dispatcher::Dispatcher::new(app.state.clone())
            .unwrap()
            .run(watch),
    );
    receiver.wait_for(|seen| seen.len() == 1, WAIT).await;
    shutdown.send(true).unwrap();
    worker.await.unwrap();
    let event: Value = serde_json::from_slice(&receiver.requests()[0].body).unwrap();
    assert_eq!(event["type"], "payment.cancelled");
    let missing = app
        .post(
            &format!("/v1/webhook-deliveries/{}/retry", uuid::Uuid::nil()),
            Some(app.key("admin")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn link_local_and_metadata_urls_are_refused(pool: PgPool) {
    let app = TestApp::start(pool).await;
    for url in [
        "http://169.254.169.254/latest",
        "http://[fe80::1]/x",
        "http://metadata.google.internal/x",
        "ftp://example.org/x",
        "not a url",
    ] {
        let reply = app
            .post(
                "/v1/webhook-endpoints",
                Some(app.key("admin")),
                None,
                &json!({"url": url, "events": ["payment.paid"]}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            reply.body
        );
    }
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://10.1.2.3/hook",
        "https://workflow.example.gov.kh/hook",
    ] {
        let reply = app
            .post(
                "/v1/webhook-endpoints",
                Some(app.key("admin")),
                None,
                &json!({"url": url, "events": ["payment.paid"]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{url}: {}", reply.body);
    }
    let unknown_event = app
        .post(
            "/v1/webhook-endpoints",
            Some(app.key("admin")),
            None,
            &json!({"url": "http://127.0.0.1/x", "events": ["payment.nope"]}),
        )
        .await;
    assert_eq!(unknown_event.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.scalar_i64("select count(*) from webhook_endpoints")
            .await,
        3
    );
}
