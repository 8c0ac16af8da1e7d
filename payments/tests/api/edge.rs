//! The edge of the service: bad input is a 4xx naming what was wrong, a lost database is 503,
//! bodies must be declared JSON, metric labels are bounded and /metrics is private, public
//! routes are rate-limited, the pools keep settlement apart, CSV cells cannot run formulas.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request};
use axum::Router;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use payments::config::Config;
use payments::AppState;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tower::ServiceExt as _;

use crate::support::{callback_body, TestApp, SECRET};

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Sends one request through the router in process.
pub async fn call(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}

fn get(uri: &str, key: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request.body(Body::empty()).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_path_and_query_values_are_400_naming_the_parameter(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let router = payments::router(app.state.clone());
    let workflow = app.key("workflow").to_owned();
    let auditor = app.key("auditor").to_owned();
    let too_long = "a".repeat(5_000);
    let cases: Vec<(String, Option<&str>, &str)> = vec![
        ("/v1/public/payments/pt_%00".into(), None, "token"),
        ("/v1/services/%00".into(), None, "code"),
        (
            "/v1/ledger/accounts/%00/balance".into(),
            Some(&auditor),
            "code",
        ),
        (
            "/v1/payment-intents?from=-100000-01-01T00:00:00Z".into(),
            Some(&workflow),
            "from",
        ),
        (
            "/v1/payment-intents?to=%2B200000-01-01T00:00:00Z".into(),
            Some(&workflow),
            "to",
        ),
        (
            "/v1/ledger/trial-balance?as_of=-100000-01-01T00:00:00Z".into(),
            Some(&auditor),
            "as_of",
        ),
        (
            "/v1/ledger/accounts/0320:revenue:labour:KHR/balance?as_of=-100000-01-01T00:00:00Z"
                .into(),
            Some(&auditor),
            "as_of",
        ),
        (
            "/v1/ledger/entries?from=-100000-01-01T00:00:00Z".into(),
            Some(&auditor),
            "from",
        ),
        (
            "/v1/payment-intents?case_reference=%00".into(),
            Some(&workflow),
            "case_reference",
        ),
        (
            "/v1/payment-intents?office_code=%00".into(),
            Some(&workflow),
            "office_code",
        ),
        (
            format!("/v1/payment-intents?case_reference={too_long}"),
            Some(&workflow),
            "case_reference",
        ),
        ("/v1/services?q=%00".into(), None, "q"),
    ];
    for (uri, key, parameter) in cases {
        let answer = call(&router, get(&uri, key)).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.body
        );
        assert_eq!(
            answer.body["parameter"], parameter,
            "{uri}: {}",
            answer.body
        );
        assert_eq!(
            answer.headers["content-type"], "application/problem+json",
            "{uri}"
        );
    }

    // A cursor this API never returned, decoding to a time PostgreSQL cannot store.
    let crafted = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        i64::MAX / 2,
        uuid::Uuid::nil()
    ));
    let answer = call(
        &router,
        get(
            &format!("/v1/payment-intents?cursor={crafted}"),
            Some(&workflow),
        ),
    )
    .await;
    assert!(answer.status.is_client_error(), "{}", answer.body);
    assert_eq!(answer.body["parameter"], "cursor", "{}", answer.body);

    // A NUL inside a JSON string is refused before it reaches the database.
    let answer = call(
        &router,
        Request::post("/v1/quotes")
            .header("authorization", format!("Bearer {workflow}"))
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"office_code":"03\u00000","items":[{"service_code":"x","quantity":1}]}"#,
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
}

async fn unavailable_answers(router: &Router) {
    // A page answers a page (HTML, still 503 with Retry-After), never a problem document.
    let answer = call(router, get("/pay/pt_abc", None)).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.headers["content-type"], "text/html; charset=utf-8");
    assert!(answer.headers.contains_key("retry-after"));
    assert!(
        answer
            .body
            .as_str()
            .is_some_and(|html| html.contains("សេវាមិនទាន់អាចប្រើបានទេ")),
        "{}",
        answer.body
    );
    for uri in ["/v1/sectors", "/v1/public/payments/pt_abc"] {
        let answer = call(router, get(uri, None)).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{uri}: {}",
            answer.body
        );
        assert_eq!(answer.body["code"], "database_unavailable", "{uri}");
        assert!(answer.headers.contains_key("retry-after"), "{uri}");
    }
    let answer = call(
        router,
        get("/v1/payment-intents", Some("opk_demo_workflow")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body["code"], "database_unavailable");
}

#[tokio::test]
async fn a_lost_database_is_503_database_unavailable_with_retry_after() {
    // Nothing listens on port 1: every connection is refused.
    let refused = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/owso_pay")
        .unwrap();
    let router = payments::router(AppState::new(refused, Config::for_tests("")).unwrap());
    unavailable_answers(&router).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_closed_pool_is_503_database_unavailable(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let router = payments::router(app.state.clone());
    assert_eq!(
        call(&router, get("/v1/sectors", None)).await.status,
        StatusCode::OK
    );
    app.state.pool.close().await;
    unavailable_answers(&router).await;
}

fn post(uri: &str, key: &str, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post(uri)
        .header("authorization", format!("Bearer {key}"))
        .header("idempotency-key", format!("k-{}", uuid::Uuid::new_v4()));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn json_routes_answer_415_to_bodies_not_declared_json(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let router = payments::router(app.state.clone());
    let workflow = app.key("workflow").to_owned();
    let admin = app.key("admin").to_owned();
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    let intent_body = json!({"quote_id": quote["id"], "case_reference": "0320009001", "payer": {"name": "Sok Dara"}}).to_string();
    let intent = app.intent("0320009002").await;
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    let endpoint = app
        .post(
            "/v1/webhook-endpoints",
            Some(&admin),
            None,
            &json!({"url": "https://example.org/hook", "events": ["payment.paid"]}),
        )
        .await;
    assert_eq!(endpoint.status, StatusCode::CREATED, "{}", endpoint.body);
    let endpoint_id = endpoint.body["id"].as_str().unwrap().to_owned();

    let families: Vec<(Method, String, &str, String)> = vec![
        (
            Method::POST,
            "/v1/quotes".into(),
            workflow.as_str(),
            json!({"office_code": "0320", "items": []}).to_string(),
        ),
        (
            Method::POST,
            "/v1/payment-intents".into(),
            workflow.as_str(),
            intent_body.clone(),
        ),
        (
            Method::POST,
            format!("/v1/payment-intents/{intent_id}/attempts"),
            workflow.as_str(),
            json!({"channel": "sandbox"}).to_string(),
        ),
        (
            Method::POST,
            "/v1/webhook-endpoints".into(),
            admin.as_str(),
            json!({"url": "https://example.org/x"}).to_string(),
        ),
        (
            Method::PATCH,
            format!("/v1/webhook-endpoints/{endpoint_id}"),
            admin.as_str(),
            json!({"enabled": false}).to_string(),
        ),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
            admin.as_str(),
            "{}".into(),
        ),
        (
            Method::POST,
            "/v1/ledger/periods/close".into(),
            admin.as_str(),
            json!({"office_code": "0320", "month": "2020-01"}).to_string(),
        ),
        // Routes that take no body: a declared non-JSON body is refused too.
        (
            Method::POST,
            format!("/v1/payment-intents/{intent_id}/cancel"),
            workflow.as_str(),
            String::new(),
        ),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{endpoint_id}/retry-dead"),
            admin.as_str(),
            String::new(),
        ),
    ];
    for (method, uri, key, body) in &families {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            if content_type.is_none() && body.is_empty() {
                continue;
            }
            let mut request = post(uri, key, content_type, body);
            *request.method_mut() = method.clone();
            let answer = call(&router, request).await;
            assert_eq!(
                answer.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {uri} as {content_type:?}: {}",
                answer.body
            );
            assert_eq!(answer.body["code"], "unsupported_media_type");
        }
    }
    // Nothing was created or changed by the refused requests.
    assert_eq!(
        app.scalar_i64("select count(*) from payment_intents").await,
        1
    );
    assert_eq!(
        app.scalar_i64("select count(*) from payment_attempts")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("select count(*) from payment_intents where status = 'cancelled'")
            .await,
        0
    );

    // JSON with parameters, and a +json type, are JSON.
    let created = call(
        &router,
        post(
            "/v1/payment-intents",
            &workflow,
            Some("application/json; charset=utf-8"),
            &intent_body,
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let mut patch = post(
        &format!("/v1/webhook-endpoints/{endpoint_id}"),
        &admin,
        Some("application/merge-patch+json"),
        &json!({"description": "x"}).to_string(),
    );
    *patch.method_mut() = Method::PATCH;
    let patched = call(&router, patch).await;
    assert_ne!(
        patched.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        patched.body
    );
    // A body-less POST without content type is fine.
    let cancelled = call(
        &router,
        post(
            &format!("/v1/payment-intents/{intent_id}/cancel"),
            &workflow,
            None,
            "",
        ),
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    // The bank callback and the catalog import keep their own media types.
    let attempt = app
        .sandbox_attempt(created.body["id"].as_str().unwrap())
        .await;
    let reply = app
        .callback(
            &callback_body(
                "sbx_media",
                attempt["provider_reference"].as_str().unwrap(),
                "600000",
            ),
            SECRET,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let csv = call(
        &router,
        post("/v1/admin/catalog/import", &admin, Some("text/csv"), ""),
    )
    .await;
    assert_ne!(
        csv.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        csv.body
    );
}

const STANDARD_METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other",
];

#[sqlx::test(migrations = "../migrations")]
async fn metric_labels_stay_bounded_and_metrics_are_not_public(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let router = payments::router(app.state.clone());
    for n in 0..300 {
        let method = Method::from_bytes(format!("INVENTED{n}").as_bytes()).unwrap();
        let uri = if n % 2 == 0 {
            "/v1/sectors".to_owned()
        } else {
            format!("/made/up/{n}")
        };
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        assert!(call(&router, request).await.status.is_client_error());
    }
    let metrics = app.metrics().await;
    let series: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("owso_http_requests_total{"))
        .collect();
    for line in &series {
        let method = line
            .split("method=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        assert!(STANDARD_METHODS.contains(&method), "{line}");
        let route = line
            .split("route=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        assert!(!route.starts_with("/made/up/"), "{line}");
    }
    // The 300 invented methods are counted in two series (the recorder is shared with tests
    // running beside this one, so only these routes are looked at), not 300.
    let ours: Vec<&&str> = series
        .iter()
        .filter(|line| {
            line.contains("method=\"other\"")
                && (line.contains("route=\"/v1/sectors\"") || line.contains("route=\"unmatched\""))
        })
        .collect();
    assert!(ours.len() <= 2, "{ours:?}");
    let counted: u64 = ours
        .iter()
        .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(counted >= 300, "{ours:?}");

    let public = call(&router, get("/metrics", None)).await;
    assert_eq!(public.status, StatusCode::NOT_FOUND);
}

fn from(address: [u8; 4], request: Request<Body>) -> Request<Body> {
    let mut request = request;
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((address, 40_000))));
    request
}

#[sqlx::test(migrations = "../migrations")]
async fn public_routes_are_rate_limited_per_address_and_per_token(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let mut config = (*app.state.config).clone();
    config.rate_limit_address_per_minute = 5;
    config.rate_limit_token_per_minute = 3;
    config.rate_limit_callback_address_per_minute = 2;
    let state = AppState::new(app.pool.clone(), config.clone()).unwrap();
    let router = payments::router(state);

    // One token: three looks, then 429 with Retry-After.
    for _ in 0..3 {
        let answer = call(&router, from([10, 0, 0, 1], get("/pay/pt_one", None))).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    }
    // The same token through the other public route, from another address: still limited.
    let limited = call(
        &router,
        from([10, 0, 0, 2], get("/v1/public/payments/pt_one", None)),
    )
    .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert_eq!(limited.body["code"], "rate_limited");
    assert_eq!(limited.headers["content-type"], "application/problem+json");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    // One address: five public requests a minute, whatever the tokens.
    for n in 0..2 {
        let answer = call(
            &router,
            from([10, 0, 0, 1], get(&format!("/pay/pt_other{n}"), None)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
    }
    let answer = call(&router, from([10, 0, 0, 1], get("/pay/pt_fresh", None))).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    // Private routes are not limited; another address is not.
    for _ in 0..10 {
        let answer = call(&router, from([10, 0, 0, 1], get("/v1/sectors", None))).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let answer = call(&router, from([10, 0, 0, 3], get("/pay/pt_fresh", None))).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    // Callbacks, before their signature is checked, per address.
    let unsigned = || {
        Request::post("/v1/callbacks/sandbox")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap()
    };
    for _ in 0..2 {
        let answer = call(&router, from([10, 0, 0, 9], unsigned())).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    let answer = call(&router, from([10, 0, 0, 9], unsigned())).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);

    // Behind a trusted proxy the last X-Forwarded-For entry is the client.
    config.trust_x_forwarded_for = true;
    let router = payments::router(AppState::new(app.pool.clone(), config).unwrap());
    let via_proxy = |client: &str, n: u32| {
        let mut request = get(&format!("/pay/pt_proxy{n}"), None);
        request.headers_mut().insert(
            "x-forwarded-for",
            format!("203.0.113.50, {client}").parse().unwrap(),
        );
        from([10, 0, 0, 254], request)
    };
    for n in 0..5 {
        assert_eq!(
            call(&router, via_proxy("198.51.100.1", n)).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        call(&router, via_proxy("198.51.100.1", 5)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        call(&router, via_proxy("198.51.100.2", 6)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_callback_settles_while_the_http_pool_is_exhausted(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320009101").await;
    let attempt = app.sandbox_attempt(intent["id"].as_str().unwrap()).await;
    let options = app.pool.connect_options();
    // Two small pools, as `payments serve` makes them from DB_MAX_CONNECTIONS.
    let http_pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(500))
        .connect_with((*options).clone())
        .await
        .unwrap();
    let worker_pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with((*options).clone())
        .await
        .unwrap();
    let state =
        AppState::with_worker_pool(http_pool.clone(), worker_pool, (*app.state.config).clone())
            .unwrap();
    let router = payments::router(state);

    // A flood holds every HTTP connection (slow exports and reads would, for as long as
    // they run); public reads now wait and give up with 503.
    let held = vec![
        http_pool.acquire().await.unwrap(),
        http_pool.acquire().await.unwrap(),
    ];
    let read = call(&router, get("/v1/sectors", None)).await;
    assert_eq!(
        read.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        read.body
    );

    let raw = serde_json::to_vec(&callback_body(
        "sbx_starve",
        attempt["provider_reference"].as_str().unwrap(),
        "600000",
    ))
    .unwrap();
    let signature = bank_adapters::signing::hmac_sha256_hex(SECRET.as_bytes(), &raw);
    let answer = call(
        &router,
        Request::post("/v1/callbacks/sandbox")
            .header("content-type", "application/json")
            .header("x-sandbox-signature", signature)
            .body(Body::from(raw))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let status: String = sqlx::query_scalar("select status from payment_intents where id = $1")
        .bind(uuid::Uuid::parse_str(intent["id"].as_str().unwrap()).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "paid");
    drop(held);
}

#[sqlx::test(migrations = "../migrations")]
async fn service_connections_cancel_statements_past_the_timeout(pool: PgPool) {
    let options = pool.connect_options();
    let url = format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap()
    );
    let mut config = Config::for_tests(&url);
    config.db_statement_timeout = Duration::from_millis(300);
    config.db_idle_in_transaction_timeout = Duration::from_secs(5);
    for service_pool in [
        payments::db::connect(&config).await.unwrap(),
        payments::db::connect_workers(&config).await.unwrap(),
    ] {
        let shown: String = sqlx::query_scalar("show statement_timeout")
            .fetch_one(&service_pool)
            .await
            .unwrap();
        assert_eq!(shown, "300ms");
        let shown: String = sqlx::query_scalar("show idle_in_transaction_session_timeout")
            .fetch_one(&service_pool)
            .await
            .unwrap();
        assert_eq!(shown, "5s");
        let error = sqlx::query("select pg_sleep(2)")
            .execute(&service_pool)
            .await
            .unwrap_err();
        assert_eq!(
            error
                .as_database_error()
                .and_then(|db| db.code())
                .as_deref(),
            Some("57014"),
            "{error}"
        );
        // Answered as an unavailable database, never a 500.
        let api = payments::http::error::ApiError::from(error);
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    // Migrations run without the limit (an index build may take longer).
    let service_pool = payments::db::connect(&config).await.unwrap();
    let keyring = payments::app::secrets::Keyring::from_config(&config).unwrap();
    payments::db::migrate(&service_pool, &keyring)
        .await
        .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_journal_export_stops_at_its_maximum_duration(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let mut config = (*app.state.config).clone();
    config.export_max_duration = Duration::ZERO;
    let router = payments::router(AppState::new(app.pool.clone(), config).unwrap());
    let response = router
        .oneshot(get(
            "/v1/ledger/entries?from=2020-01-01T00:00:00Z",
            Some(app.key("auditor")),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.into_body().collect().await.is_err(),
        "the body is cut off with an error, not ended as if complete"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn csv_exports_neutralise_formula_cells(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let formula = "=HYPERLINK(\"http://evil.example/\",\"Click\")";

    // The journal: an entry whose description a spreadsheet would run.
    let clearing = ledger::AccountCode::parse("0320:clearing:sandbox:KHR").unwrap();
    let revenue = ledger::AccountCode::parse("0320:revenue:labour:KHR").unwrap();
    let amount = ledger::Money::from_minor(100, ledger::Currency::Khr);
    let entry = ledger::EntryBuilder::new("0320", "adjustment", formula)
        .debit(clearing.clone(), amount)
        .credit(revenue.clone(), amount)
        .build()
        .unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    ledger::store::ensure_account(&mut tx, &clearing)
        .await
        .unwrap();
    ledger::store::ensure_account(&mut tx, &revenue)
        .await
        .unwrap();
    ledger::store::post(&mut tx, &entry).await.unwrap();
    tx.commit().await.unwrap();

    let text = app
        .http
        .get(format!(
            "{}/v1/ledger/entries?from=2020-01-01T00:00:00Z",
            app.base
        ))
        .bearer_auth(app.key("auditor"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{text}");
    for row in &rows {
        assert_eq!(&row[4], format!("'{formula}"), "{text}");
        // Amounts stay numbers, the credit's minus sign included.
        let amount: i64 = row[10].parse().unwrap();
        assert_eq!(amount.abs(), 100);
    }
    assert!(!text.contains(",=HYPERLINK"), "{text}");

    // The catalog export, and its import back unchanged.
    let (_, exported) = crate::fees::export(&app, app.key("admin"), "").await;
    let renamed =
        crate::fees::as_version(&exported, "2026-formula", &crate::fees::day_after_today(3));
    let name = ",Registration and visa of the internal regulations of an enterprise with 8 to 100 workers,";
    assert!(renamed.contains(name));
    let edited = renamed.replacen(name, &format!(",\"{}\",", formula.replace('"', "\"\"")), 1);
    let (status, report) =
        crate::fees::import(&app, Some(app.key("admin")), "text/csv", &edited).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let (_, again) =
        crate::fees::export(&app, app.key("admin"), "?schedule_version=2026-formula").await;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(again.as_bytes());
    let cells: Vec<String> = reader
        .records()
        .flat_map(|record| {
            record
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        cells.iter().any(|cell| cell == &format!("'{formula}")),
        "{again}"
    );
    assert!(!cells.iter().any(|cell| cell.starts_with('=')), "{again}");
    let (status, report) =
        crate::fees::import(&app, Some(app.key("admin")), "text/csv", &again).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["outcome"], "unchanged", "{report}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_client_reading_an_export_slowly_holds_no_connection(pool: PgPool) {
    let app = TestApp::start(pool).await;
    // 1,500 entries, 3,000 postings: more than the export buffers ahead of its client.
    let clearing = ledger::AccountCode::parse("0320:clearing:sandbox:KHR").unwrap();
    let revenue = ledger::AccountCode::parse("0320:revenue:labour:KHR").unwrap();
    let amount = ledger::Money::from_minor(100, ledger::Currency::Khr);
    let mut tx = app.pool.begin().await.unwrap();
    ledger::store::ensure_account(&mut tx, &clearing)
        .await
        .unwrap();
    ledger::store::ensure_account(&mut tx, &revenue)
        .await
        .unwrap();
    for n in 0..1_500 {
        let entry = ledger::EntryBuilder::new("0320", "adjustment", &format!("bulk {n}"))
            .debit(clearing.clone(), amount)
            .credit(revenue.clone(), amount)
            .build()
            .unwrap();
        ledger::store::post(&mut tx, &entry).await.unwrap();
    }
    tx.commit().await.unwrap();

    // One connection for everything the HTTP routes do.
    let one = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with((*app.pool.connect_options()).clone())
        .await
        .unwrap();
    let router = payments::router(AppState::new(one, (*app.state.config).clone()).unwrap());
    let response = router
        .clone()
        .oneshot(get(
            "/v1/ledger/entries?from=2020-01-01T00:00:00Z",
            Some(app.key("auditor")),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    // The header, then the first rows: the export has read its first page.
    let mut text = Vec::new();
    for _ in 0..2 {
        let frame = body.frame().await.unwrap().unwrap();
        text.extend_from_slice(frame.data_ref().unwrap());
    }
    // The client pauses; the export must not sit on the only connection meanwhile.
    let read = call(&router, get("/v1/sectors", None)).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let rest = body.collect().await.unwrap().to_bytes();
    text.extend_from_slice(&rest);
    let lines = String::from_utf8(text).unwrap().lines().count();
    assert_eq!(lines, 3_001, "the header and every posting");
}
