use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::TestApp;

#[sqlx::test(migrations = "../migrations")]
async fn health_ready_metrics_and_openapi_answer(pool: PgPool) {
    let app = TestApp::start(pool).await;
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    // A request first, so that the HTTP counter has a sample to show.
    app.get("/v1/sectors", None).await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("owso_http_requests_total"), "{metrics}");
    // Payment volumes are not for the public listener.
    let public_metrics = app.get("/metrics", None).await;
    assert_eq!(public_metrics.status, StatusCode::NOT_FOUND);
    let openapi = app.get("/openapi.json", None).await;
    assert_eq!(openapi.status, StatusCode::OK);
    let paths = openapi.body["paths"].as_object().unwrap();
    for path in [
        "/v1/quotes",
        "/v1/payment-intents",
        "/v1/payment-intents/{id}/attempts",
        "/v1/callbacks/{provider}",
        "/v1/ledger/trial-balance",
        "/v1/webhook-endpoints",
    ] {
        assert!(paths.contains_key(path), "openapi lacks {path}");
    }
    assert!(openapi.body["components"]["schemas"]["Problem"].is_object());
}

#[sqlx::test(migrations = "../migrations")]
async fn readyz_fails_when_migrations_are_missing(pool: PgPool) {
    let app = TestApp::start(pool).await;
    sqlx::query(
        "delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["code"], "not_ready");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_error_is_a_problem_document(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let workflow = app.key("workflow").to_owned();

    let unknown_route = app.get("/v1/nothing-here", None).await;
    assert_eq!(unknown_route.status, StatusCode::NOT_FOUND);
    assert_eq!(
        unknown_route.headers["content-type"],
        "application/problem+json"
    );
    assert_eq!(unknown_route.body["code"], "not_found");

    let wrong_method = app.post("/v1/sectors", None, None, &json!({})).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.body["code"], "method_not_allowed");

    let malformed = app
        .post_raw("/v1/quotes", Some(&workflow), None, b"{not json".to_vec())
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.headers["content-type"],
        "application/problem+json"
    );

    let wrong_shape = app
        .post(
            "/v1/quotes",
            Some(&workflow),
            None,
            &json!({"office_code": 320}),
        )
        .await;
    assert_eq!(wrong_shape.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_shape.body["code"], "validation_failed");

    let bad_uuid = app
        .get("/v1/payment-intents/not-a-uuid", Some(&workflow))
        .await;
    assert_eq!(bad_uuid.status, StatusCode::NOT_FOUND);
    assert_eq!(bad_uuid.body["code"], "not_found");

    let bad_query = app
        .get("/v1/payment-intents?limit=abc", Some(&workflow))
        .await;
    assert_eq!(bad_query.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_query.body["code"], "invalid_query");

    let too_big = app
        .post_raw(
            "/v1/payment-intents",
            Some(&workflow),
            Some("big"),
            vec![b' '; 70 * 1024],
        )
        .await;
    assert_eq!(
        too_big.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        too_big.body
    );
    assert_eq!(too_big.body["code"], "payload_too_large");
    assert_eq!(
        app.scalar_i64("select count(*) from idempotency_keys")
            .await,
        0
    );

    for problem in [
        &unknown_route,
        &wrong_method,
        &malformed,
        &wrong_shape,
        &bad_uuid,
        &too_big,
    ] {
        for member in ["type", "title", "status", "detail", "code"] {
            assert!(
                !problem.body[member].is_null(),
                "{member} missing in {}",
                problem.body
            );
        }
    }
    // A request id comes back on every response, errors included.
    assert!(unknown_route.headers.contains_key("x-request-id"));
}
