use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::TestApp;

#[sqlx::test(migrations = "../migrations")]
async fn keys_are_stored_as_hashes_and_checked(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("select key_hash from api_keys")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!stored.is_empty());
    for hash in &stored {
        assert_eq!(hash.len(), 32);
        assert!(!String::from_utf8_lossy(hash).contains("opk_"));
    }
    let none = app.get("/v1/payment-intents", None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body["code"], "unauthorized");
    let wrong = app.get("/v1/payment-intents", Some("opk_not_a_key")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn roles_are_enforced(pool: PgPool) {
    let app = TestApp::start(pool).await;
    // An auditor reads the books but may not quote or register webhooks.
    let quote = app
        .post("/v1/quotes", Some(app.key("auditor")), None, &json!({"office_code": "0320", "items": [{"service_code": "labour.internal_regulations_8_100"}]}))
        .await;
    assert_eq!(quote.status, StatusCode::FORBIDDEN);
    assert_eq!(quote.body["code"], "forbidden");
    let webhook = app
        .post(
            "/v1/webhook-endpoints",
            Some(app.key("workflow")),
            None,
            &json!({"url": "http://127.0.0.1:9/x", "events": ["*"]}),
        )
        .await;
    assert_eq!(webhook.status, StatusCode::FORBIDDEN);
    let books = app
        .get("/v1/ledger/trial-balance", Some(app.key("workflow")))
        .await;
    assert_eq!(books.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/v1/ledger/trial-balance", Some(app.key("auditor")))
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn another_offices_objects_are_not_found(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320000001").await;
    let id = intent["id"].as_str().unwrap();
    assert_eq!(
        app.get(
            &format!("/v1/payment-intents/{id}"),
            Some(app.key("cashier_0320"))
        )
        .await
        .status,
        StatusCode::OK
    );
    let other = app
        .get(
            &format!("/v1/payment-intents/{id}"),
            Some(app.key("cashier_1201")),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.body["code"], "not_found");
    // Lists never show it either, and quoting for another office is refused the same way.
    let list = app
        .get("/v1/payment-intents", Some(app.key("cashier_1201")))
        .await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 0);
    let quote = app
        .post("/v1/quotes", Some(app.key("cashier_1201")), None, &json!({"office_code": "0320", "items": [{"service_code": "labour.internal_regulations_8_100"}]}))
        .await;
    assert_eq!(quote.status, StatusCode::NOT_FOUND);
    // Cancelling it from another office is a 404 and changes nothing.
    let cancel = app
        .post(
            &format!("/v1/payment-intents/{id}/cancel"),
            Some(app.key("cashier_1201")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
    let still = app
        .get(
            &format!("/v1/payment-intents/{id}"),
            Some(app.key("workflow")),
        )
        .await;
    assert_eq!(still.body["status"], "awaiting_payment");
}

#[sqlx::test(migrations = "../migrations")]
async fn key_creation_refuses_unknown_offices(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let mut conn = app.pool.acquire().await.unwrap();
    use payments::app::auth::{create_key, KeyError, Role};
    let refused = create_key(&mut conn, Role::Cashier, &["9999".to_owned()], "x", None).await;
    assert!(matches!(refused, Err(KeyError::UnknownOffice(_))));
    let created = create_key(&mut conn, Role::Cashier, &["0320".to_owned()], "x", None)
        .await
        .unwrap();
    assert!(created.key.starts_with("opk_"));
    let reply = app.get("/v1/payment-intents", Some(&created.key)).await;
    assert_eq!(reply.status, StatusCode::OK);
}
