//! Webhook URLs are checked where it matters: every spelling of a refused address at
//! registration, and the addresses a host name resolves to when a delivery connects.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use e2e::WebhookReceiver;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::TestApp;
use payments::workers::webhook_dns::FilteringResolver;

async fn register(app: &TestApp, url: &str) -> crate::support::Reply {
    app.post(
        "/v1/webhook-endpoints",
        Some(app.key("admin")),
        None,
        &json!({"url": url, "events": ["*"]}),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn every_spelling_of_a_link_local_or_metadata_address_is_refused(pool: PgPool) {
    let app = TestApp::start(pool).await;
    for url in [
        // IPv4-mapped IPv6, in both notations.
        "http://[::ffff:169.254.169.254]/latest",
        "http://[::ffff:a9fe:a9fe]/latest",
        // IPv4-compatible, NAT64 (well-known and local-use), 6to4, Teredo.
        "http://[::169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b::169.254.169.254]/",
        "http://[64:ff9b:1::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[2001:0:1:2::5601:5601]/",
        // Decimal, octal, hexadecimal and short forms (the URL parser normalises them).
        "http://2852039166/",
        "http://0251.0376.0251.0376/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://0xa9fea9fe/",
        "http://169.254.43518/",
        "http://169.254.169.254./",
        // "This host", in every form.
        "http://0.0.0.0:8080/",
        "http://0/",
        "http://0.1.2.3/",
        "http://[::]/",
        "http://[::ffff:0.0.0.0]/",
        // Other metadata addresses and names.
        "http://100.100.100.200/",
        "http://[fd00:ec2::254]/",
        "http://[FE80::1%25eth0]/",
        "http://METADATA.google.internal./",
    ] {
        let reply = register(&app, url).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            reply.body
        );
    }
    // Loopback and private targets stay allowed (API.md), also through IPv6 spellings.
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
        "http://[::ffff:127.0.0.1]:9/hook",
        "http://10.1.2.3/hook",
        "https://hooks.example.org/owso",
    ] {
        let reply = register(&app, url).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{url}: {}", reply.body);
    }
}

async fn cancelled_event(app: &TestApp, case_reference: &str) {
    let intent = app.intent(case_reference).await;
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

#[sqlx::test(migrations = "../migrations")]
async fn a_host_resolving_only_to_refused_addresses_is_never_connected_to(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let hook = WebhookReceiver::start().await;
    let port = hook.port();
    let ip = |text: &str| text.parse::<IpAddr>().unwrap();
    // rebound.test resolves to the metadata address only (DNS rebinding after registration);
    // mixed.test to the metadata address and to our receiver.
    let resolver = FilteringResolver::new(false)
        .with_fixed(
            "rebound.test",
            vec![ip("169.254.169.254"), ip("::ffff:169.254.169.254")],
        )
        .with_fixed("mixed.test", vec![ip("169.254.169.254"), ip("127.0.0.1")]);
    let rebound = register(&app, &format!("http://rebound.test:{port}/hook")).await;
    assert_eq!(rebound.status, StatusCode::CREATED, "{}", rebound.body);
    let mixed = register(&app, &format!("http://mixed.test:{port}/hook")).await;
    assert_eq!(mixed.status, StatusCode::CREATED, "{}", mixed.body);
    // An endpoint stored before this spelling was refused is refused when it is sent to.
    let stored = register(&app, &format!("http://127.0.0.1:{port}/hook")).await;
    sqlx::query("update webhook_endpoints set url = $2 where id = $1::uuid")
        .bind(stored.body["id"].as_str().unwrap())
        .bind(format!("http://[::ffff:a9fe:a9fe]:{port}/hook"))
        .execute(&app.pool)
        .await
        .unwrap();
    cancelled_event(&app, "0320095001").await;

    let mut config = (*app.state.config).clone();
    config.webhook_poll_interval = Duration::from_millis(50);
    let state = payments::AppState::new(app.pool.clone(), config).unwrap();
    let (stop, watch) = tokio::sync::watch::channel(false);
    let dispatcher =
        payments::workers::dispatcher::Dispatcher::with_resolver(state, resolver).unwrap();
    let worker = tokio::spawn(dispatcher.run(watch));
    let started = Instant::now();
    while app
        .scalar_i64("select count(*) from webhook_attempts")
        .await
        < 3
        && started.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();

    let attempts: Vec<(String, Option<i32>, Option<String>)> = sqlx::query_as(
        "select w.url, a.status_code, a.error from webhook_attempts a
         join webhook_deliveries d on d.id = a.delivery_id
         join webhook_endpoints w on w.id = d.endpoint_id order by w.url",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    for (url, status, error) in &attempts {
        if url.contains("mixed.test") {
            // Only the allowed address was tried, and it answered.
            assert_eq!(*status, Some(200), "{url}: {error:?}");
        } else {
            // Refused before connecting: no status, a clear error, and no connect timeout.
            assert_eq!(*status, None, "{url}");
            let error = error.as_deref().unwrap();
            assert!(error.starts_with("refused"), "{url}: {error}");
        }
    }
    assert_eq!(hook.count(), 1, "only mixed.test's delivery arrived");
    assert!(started.elapsed() < Duration::from_secs(5));
}
