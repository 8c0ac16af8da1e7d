//! The problem bodies clients see, as snapshots: a change to a `type`, `title`, `detail`,
//! `code` or extension member of these representative errors fails here and shows the
//! difference (`cargo insta review` accepts an intended one). Ids are replaced by `[uuid]`.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use payments::config::Config;
use payments::AppState;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::edge::call;
use crate::support::{Reply, TestApp};

/// Checks the status and the content type, then snapshots the body with its ids replaced.
fn assert_problem(name: &str, reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{name}: {}", reply.body);
    assert_eq!(
        reply.headers["content-type"], "application/problem+json",
        "{name}"
    );
    insta::assert_json_snapshot!(name, scrub(reply.body.clone()));
}

/// Replaces every UUID in the document's strings by `[uuid]`: ids change on every run.
fn scrub(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(scrub_text(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub).collect()),
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(key, value)| (key, scrub(value)))
                .collect(),
        ),
        other => other,
    }
}

fn scrub_text(text: &str) -> String {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    while at < chars.len() {
        let candidate: String = chars[at..].iter().take(36).collect();
        let groups: Vec<&str> = candidate.split('-').collect();
        let is_uuid = candidate.len() == 36
            && groups.len() == 5
            && groups.iter().zip(SHAPE).all(|(group, len)| {
                group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit())
            });
        if is_uuid {
            out.push_str("[uuid]");
            at += 36;
        } else {
            out.push(chars[at]);
            at += 1;
        }
    }
    out
}

fn quote_body() -> Value {
    json!({"office_code": "0320", "items": [{"service_code": "labour.internal_regulations_8_100"}]})
}

#[test]
fn uuids_are_scrubbed_wherever_they_appear() {
    assert_eq!(
        scrub_text("intent 0190a6b2-1c3d-7e4f-8a9b-0c1d2e3f4a5b is open; 0190a6b2 is not"),
        "intent [uuid] is open; 0190a6b2 is not"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn validation_failed_names_the_parameter(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let reply = app
        .post(
            "/v1/quotes",
            Some(app.key("workflow")),
            None,
            &json!({"office_code": "0320", "items": []}),
        )
        .await;
    assert_problem(
        "validation_failed",
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn not_found(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let reply = app
        .get(
            &format!("/v1/payment-intents/{}", uuid::Uuid::now_v7()),
            Some(app.key("workflow")),
        )
        .await;
    assert_problem("not_found", &reply, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn unauthorized_and_forbidden(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let none = app.get("/v1/payment-intents", None).await;
    assert_problem("unauthorized", &none, StatusCode::UNAUTHORIZED);
    let auditor = app
        .post("/v1/quotes", Some(app.key("auditor")), None, &quote_body())
        .await;
    assert_problem("forbidden", &auditor, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn idempotency_key_reused_and_case_has_open_intent(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320110001").await;
    // The same key with another body.
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    let reused = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("intent-0320110001"),
            &json!({"quote_id": quote["id"], "case_reference": "0320110002"}),
        )
        .await;
    assert_problem("idempotency_key_reused", &reused, StatusCode::CONFLICT);
    // Another intent for the open case.
    let second = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("another-intent-0320110001"),
            &json!({"quote_id": quote["id"], "case_reference": "0320110001"}),
        )
        .await;
    assert_problem("case_has_open_intent", &second, StatusCode::CONFLICT);
    assert!(intent["id"].is_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn too_many_attempts(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320110003").await;
    let id = intent["id"].as_str().unwrap();
    let mut reply = None;
    for n in 0..11 {
        let answer = app
            .post(
                &format!("/v1/payment-intents/{id}/attempts"),
                Some(app.key("workflow")),
                Some(&format!("attempt-{n}")),
                &json!({"channel": "sandbox"}),
            )
            .await;
        if answer.status != StatusCode::CREATED {
            reply = Some(answer);
            break;
        }
    }
    let reply = reply.expect("an attempt is refused by the eleventh");
    assert_problem("too_many_attempts", &reply, StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test(migrations = "../migrations")]
async fn unsupported_media_type(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let response = app
        .http
        .post(format!("{}/v1/quotes", app.base))
        .bearer_auth(app.key("workflow"))
        .header("content-type", "text/plain")
        .body(quote_body().to_string())
        .send()
        .await
        .unwrap();
    let reply = Reply {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.json().await.unwrap(),
    };
    assert_problem(
        "unsupported_media_type",
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn invalid_query(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let reply = app
        .get("/v1/payment-intents?limit=abc", Some(app.key("workflow")))
        .await;
    assert_problem("invalid_query", &reply, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = "../migrations")]
async fn rate_limited(pool: PgPool) {
    let app = TestApp::start_with(pool, |config: &mut Config| {
        config.rate_limit_token_per_minute = 1;
    })
    .await;
    let first = app.get("/v1/public/payments/pt_one", None).await;
    assert_eq!(first.status, StatusCode::NOT_FOUND, "{}", first.body);
    let limited = app.get("/v1/public/payments/pt_one", None).await;
    assert_problem("rate_limited", &limited, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn database_unavailable() {
    // Nothing listens on port 1: every connection is refused.
    let refused = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/owso_pay")
        .unwrap();
    let router = payments::router(AppState::new(refused, Config::for_tests("")).unwrap());
    let answer = call(
        &router,
        Request::get("/v1/sectors").body(Body::empty()).unwrap(),
    )
    .await;
    let reply = Reply {
        status: answer.status,
        headers: answer.headers,
        body: answer.body,
    };
    assert_problem(
        "database_unavailable",
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
    );
}

/// The cash drawer's refusals (issue 14): what a cashier's screen shows.
#[sqlx::test(migrations = "../migrations")]
async fn cashier_refusals(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let open =
        json!({"office_code": "0320", "opening_float": [{"amount": "100000", "currency": "KHR"}]});
    let drawer = app
        .post("/v1/cashier/sessions", Some(&key), None, &open)
        .await;
    assert_eq!(drawer.status, StatusCode::CREATED, "{}", drawer.body);
    let again = app
        .post("/v1/cashier/sessions", Some(&key), None, &open)
        .await;
    assert_problem("drawer_already_open", &again, StatusCode::CONFLICT);
    let drawer = drawer.body["id"].as_str().unwrap().to_owned();
    let intent = app.intent("0320110101").await;
    let receipts = format!("/v1/cashier/sessions/{drawer}/receipts");
    let tender = |amount: &str| json!({"payment_intent_id": intent["id"], "tendered": {"amount": amount, "currency": "KHR"}});
    let short = app
        .post(&receipts, Some(&key), Some("short"), &tender("500000"))
        .await;
    assert_problem("tender_short", &short, StatusCode::UNPROCESSABLE_ENTITY);
    let paid = app
        .post(&receipts, Some(&key), Some("paid"), &tender("600000"))
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    let mut twice = app
        .post(&receipts, Some(&key), Some("twice"), &tender("600000"))
        .await;
    // The number carries the fiscal year.
    assert_eq!(twice.body["receipt_number"], paid.body["number"]);
    twice.body["receipt_number"] = json!("[receipt number]");
    assert_problem("already_paid", &twice, StatusCode::CONFLICT);
    let number = paid.body["number"].as_str().unwrap();
    let alone = app
        .post(
            &format!("/v1/receipts/{number}/void"),
            Some(&key),
            None,
            &json!({"reason": "wrong case"}),
        )
        .await;
    assert_problem("approval_refused", &alone, StatusCode::FORBIDDEN);
    let close = app
        .post(
            &format!("/v1/cashier/sessions/{drawer}/close"),
            Some(&key),
            None,
            &json!({"counted": [{"amount": "699500", "currency": "KHR"}]}),
        )
        .await;
    assert_problem("variance_needs_approval", &close, StatusCode::CONFLICT);
}
