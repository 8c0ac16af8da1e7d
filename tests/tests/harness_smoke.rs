//! Exercises the e2e harness itself (no workspace binaries needed): test databases, free ports,
//! the webhook receiver and its signature helpers, and the pollers.

use std::time::{Duration, Instant};

use crate::support::*;
use sqlx::{Connection as _, PgConnection};

#[tokio::test]
async fn test_db_is_fresh_usable_and_dropped() {
    let db = TestDb::create().await;
    assert!(db.name.starts_with("owso_e2e_"), "{}", db.name);
    assert!(
        db.url.ends_with(&format!("/{}", db.name)) || db.url.contains(&format!("/{}?", db.name))
    );

    let pool = db.pool().await;
    let current: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(current, db.name);
    let tables: i64 =
        sqlx::query_scalar("select count(*) from pg_tables where schemaname = 'public'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tables, 0, "a fresh database has no tables");
    sqlx::raw_sql("create table t (id int primary key); insert into t values (1)")
        .execute(&pool)
        .await
        .unwrap();

    // A connection that is still open when the TestDb goes away must not keep the database alive.
    let _lingering = pool.acquire().await.unwrap();
    let name = db.name.clone();
    drop(db);

    let mut admin = PgConnection::connect(&std::env::var("DATABASE_URL").unwrap())
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("select count(*) from pg_database where datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "database {name} was not dropped");
}

#[tokio::test]
async fn test_dbs_are_distinct() {
    let (a, b) = tokio::join!(TestDb::create(), TestDb::create());
    assert_ne!(a.name, b.name);
    assert_ne!(a.url, b.url);
}

#[test]
fn with_database_keeps_server_and_query() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/owso_pay", "x"),
        "postgres://u:p@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u@h:5432", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgresql://u@h/db?sslmode=disable", "x"),
        "postgresql://u@h/x?sslmode=disable"
    );
}

#[test]
fn free_port_is_bindable() {
    let port = free_port();
    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port))
        .expect("the port free_port returned can be bound");
}

#[tokio::test]
async fn webhook_receiver_records_and_fails_first_n() {
    let receiver = WebhookReceiver::start_failing_first(2).await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for n in 0..3 {
        let response = http
            .post(&receiver.url)
            .header("webhook-id", format!("msg_{n}"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"n":{n}}}"#))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [500, 500, 200]);

    let requests = receiver
        .wait_for(|requests| requests.len() >= 3, Duration::from_secs(5))
        .await;
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].method, "POST");
    assert_eq!(requests[2].uri, "/webhook");
    assert_eq!(requests[2].header("webhook-id"), Some("msg_2"));
    assert_eq!(requests[2].json()["n"], 2);
    assert_eq!(
        requests.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );

    // Requests that arrive later, from a task, are seen by wait_for.
    receiver.fail_next(1);
    let url = format!("{}/other?x=1", receiver.base_url);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = reqwest::Client::new().put(url).body("late").send().await;
    });
    let requests = receiver
        .wait_for(|requests| requests.len() == 4, Duration::from_secs(5))
        .await;
    assert_eq!(requests[3].uri, "/other?x=1");
    assert_eq!(requests[3].text(), "late");
    assert_eq!(requests[3].answered, 500);
}

#[tokio::test]
#[should_panic(expected = "webhook condition not met")]
async fn webhook_wait_for_times_out_with_a_message() {
    let receiver = WebhookReceiver::start().await;
    receiver
        .wait_for(|requests| !requests.is_empty(), Duration::from_millis(200))
        .await;
}

#[test]
fn signatures_match_known_values() {
    // Computed independently with openssl:
    //   printf 'msg_1.1700000000.{"a":1}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:30313233343536373839616263646566 -binary | base64
    let whsec = "whsec_MDEyMzQ1Njc4OWFiY2RlZg==";
    assert_eq!(
        standard_webhook_signature(whsec, "msg_1", "1700000000", br#"{"a":1}"#),
        "v1,41C4mdfM4X7k7EqLRBhc2OjUAQFwQVsqMUoL0CbTfxc="
    );
    //   printf '{"a":1}' | openssl dgst -sha256 -hmac secret
    assert_eq!(
        sandbox_signature("secret", br#"{"a":1}"#),
        "aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
    );
}

#[tokio::test]
async fn received_request_verifies_standard_webhook_signature() {
    let receiver = WebhookReceiver::start().await;
    let whsec = "whsec_MDEyMzQ1Njc4OWFiY2RlZg==";
    let body = r#"{"type":"payment.paid"}"#;
    let signature = standard_webhook_signature(whsec, "msg_9", "1700000000", body.as_bytes());
    reqwest::Client::new()
        .post(&receiver.url)
        .header("webhook-id", "msg_9")
        .header("webhook-timestamp", "1700000000")
        .header("webhook-signature", format!("v1,bm90IGl0 {signature}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let requests = receiver
        .wait_for(|requests| requests.len() == 1, Duration::from_secs(5))
        .await;
    assert!(requests[0].verify_standard_webhook(whsec));
    assert!(!requests[0].verify_standard_webhook("whsec_b3RoZXI="));
}

#[tokio::test]
async fn wait_until_polls_until_true_or_timeout() {
    let start = Instant::now();
    let ready_at = start + Duration::from_millis(150);
    assert!(
        wait_until(Duration::from_secs(5), || async move {
            Instant::now() >= ready_at
        })
        .await
    );
    assert!(start.elapsed() < Duration::from_secs(2));

    let start = Instant::now();
    assert!(!wait_until(Duration::from_millis(200), || async { false }).await);
    assert!(start.elapsed() >= Duration::from_millis(200));

    let mut calls = 0;
    let value = wait_for_some(Duration::from_secs(5), || {
        calls += 1;
        let current = calls;
        async move { (current >= 3).then_some(current) }
    })
    .await;
    assert_eq!(value, Some(3));
}

#[test]
fn test_label_names_the_test() {
    assert!(
        test_label().contains("test_label_names_the_test"),
        "{}",
        test_label()
    );
}
