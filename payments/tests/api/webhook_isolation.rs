//! Webhook endpoints cannot hold each other up, and a delivery in flight is never sent again
//! by another instance.

use std::time::{Duration, Instant};

use e2e::{Replies, WebhookReceiver};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::TestApp;

/// A receiver that answers 200 after `delay`.
async fn receiver(delay: Duration) -> WebhookReceiver {
    WebhookReceiver::start_with(Replies {
        delay,
        ..Replies::default()
    })
    .await
}

async fn register(app: &TestApp, url: &str) {
    let reply = app
        .post(
            "/v1/webhook-endpoints",
            Some(app.key("admin")),
            None,
            &json!({"url": url, "events": ["*"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

fn dispatcher(
    app: &TestApp,
    change: impl FnOnce(&mut payments::config::Config),
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let mut config = (*app.state.config).clone();
    config.webhook_retry_schedule = vec![Duration::from_millis(50)];
    config.webhook_poll_interval = Duration::from_millis(50);
    change(&mut config);
    let state = payments::AppState::new(app.pool.clone(), config).unwrap();
    let (stop, watch) = tokio::sync::watch::channel(false);
    let worker = payments::workers::dispatcher::Dispatcher::new(state).unwrap();
    (stop, tokio::spawn(worker.run(watch)))
}

/// Makes one event (`payment.cancelled` of a fresh case).
async fn event(app: &TestApp, case_reference: &str) {
    let intent = app.intent(case_reference).await;
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
}

#[sqlx::test(migrations = "../migrations")]
async fn a_slow_endpoint_does_not_delay_a_fast_one(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let slow_hook = receiver(Duration::from_secs(10)).await;
    let fast_hook = receiver(Duration::ZERO).await;
    register(&app, &slow_hook.url).await;
    register(&app, &fast_hook.url).await;
    // The slow endpoint's requests do not time out during the test (so it is never retried).
    let (stop, worker) = dispatcher(&app, |config| {
        config.webhook_timeout = Duration::from_secs(60);
    });
    for n in 0..20 {
        event(&app, &format!("03200900{n:02}")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while fast_hook.count() < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    let fast = fast_hook.requests();
    assert_eq!(fast.len(), 20, "the fast endpoint got {} of 20", fast.len());
    // Each event reached the fast endpoint within 2 s of being recorded.
    let recorded: Vec<(Uuid, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select id, created_at from outbox_events")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    for (id, at) in recorded {
        let arrived = fast
            .iter()
            .find(|seen| seen.webhook_id().parse::<Uuid>().unwrap() == id)
            .map(|seen| seen.arrived_at)
            .unwrap();
        let waited = arrived - at;
        assert!(
            waited < chrono::Duration::seconds(2),
            "event {id} took {waited} to reach the fast endpoint"
        );
    }
    // The slow one is held to its own permits meanwhile.
    let slow = slow_hook.count();
    assert!(
        (1..=4).contains(&slow),
        "{slow} requests in flight to the slow endpoint"
    );
    worker.abort();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_delivery_in_flight_is_not_sent_again_by_another_instance(pool: PgPool) {
    let app = TestApp::start(pool).await;
    // Answers in 4 s: twice the 2 s lease.
    let hook = receiver(Duration::from_secs(4)).await;
    register(&app, &hook.url).await;
    for n in 0..3 {
        event(&app, &format!("03200910{n:02}")).await;
    }
    let short_lease = |config: &mut payments::config::Config| {
        config.webhook_lease = Duration::from_secs(2);
    };
    let (stop_a, worker_a) = dispatcher(&app, short_lease);
    let (stop_b, worker_b) = dispatcher(&app, short_lease);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let delivered = app
            .scalar_i64("select count(*) from webhook_deliveries where status = 'succeeded'")
            .await;
        if delivered == 3 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Long enough for an expired lease to have been claimed again.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    stop_a.send(true).unwrap();
    stop_b.send(true).unwrap();
    let seen: Vec<String> = hook
        .requests()
        .iter()
        .map(|r| r.webhook_id().to_owned())
        .collect();
    assert_eq!(seen.len(), 3, "each event is sent once: {seen:?}");
    assert_eq!(
        app.scalar_i64("select count(*) from webhook_attempts")
            .await,
        3
    );
    worker_a.abort();
    worker_b.abort();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_delivery_in_flight_at_shutdown_is_recorded_before_the_dispatcher_stops(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let hook = receiver(Duration::from_millis(800)).await;
    register(&app, &hook.url).await;
    let (stop, worker) = dispatcher(&app, |_| {});
    event(&app, "0320091001").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while hook.count() == 0 {
        assert!(Instant::now() < deadline, "the delivery never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Stopped while the receiver is still answering: the answer is waited for and recorded,
    // so no other instance sends the event again once the lease runs out.
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the dispatcher stops within its drain time")
        .unwrap();
    let (status, attempts): (String, i64) = sqlx::query_as(
        "select d.status, (select count(*) from webhook_attempts a where a.delivery_id = d.id)
         from webhook_deliveries d",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("succeeded", 1));
}
