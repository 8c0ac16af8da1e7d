//! No input reaches a 5xx: generated paths, query strings, headers and bodies (random bytes,
//! NUL, huge numbers, odd unicode, wrong JSON types) for every route of the router, with the
//! valid API keys, against a real database.

use axum::body::Body;
use axum::http::{Method, Request};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::edge::call;
use crate::support::TestApp;

/// Cases per run: enough to touch every route many times, few enough for a few seconds.
const CASES: usize = 1_000;

/// Text that has broken services before: NUL and other controls, huge and negative numbers,
/// timestamps PostgreSQL cannot store, odd unicode, injection-looking strings.
fn nasty_text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just("\0".to_owned()),
        Just("pt_\0".to_owned()),
        Just("99999999999999999999999999".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
        Just("NaN".to_owned()),
        Just("-100000-01-01T00:00:00Z".to_owned()),
        Just("+275760-09-13T00:00:00Z".to_owned()),
        Just("9999-12-31T23:59:59-23:59".to_owned()),
        Just("0000-01-01T00:00:00Z".to_owned()),
        Just("2026-13-45T99:99:99Z".to_owned()),
        Just("0320:revenue:labour:KHR".to_owned()),
        Just("0320".to_owned()),
        Just("00000000-0000-0000-0000-000000000000".to_owned()),
        Just("' or 1=1 --".to_owned()),
        Just("%".to_owned()),
        Just("\\".to_owned()),
        Just("_%\\".to_owned()),
        Just("\u{202e}\u{feff}\u{1F4B8}".to_owned()),
        Just("\u{fffd}\u{d7ff}".to_owned()),
        Just("a".repeat(3_000)),
        "\\PC{0,40}",
        ".{0,20}",
        "[0-9]{1,30}",
    ]
    .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(serde_json::from_str::<Value>("1e308").unwrap()),
        Just(
            serde_json::from_str::<Value>("123456789012345678901234567890").unwrap_or(Value::Null)
        ),
        Just(json!(-0.5)),
        nasty_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..5)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Field names the API's bodies use, and some it does not.
fn field_name() -> BoxedStrategy<String> {
    prop_oneof![
        Just("office_code"),
        Just("items"),
        Just("service_code"),
        Just("quantity"),
        Just("params"),
        Just("quote_id"),
        Just("case_reference"),
        Just("payer"),
        Just("name"),
        Just("phone"),
        Just("return_url"),
        Just("expires_in_s"),
        Just("channel"),
        Just("url"),
        Just("events"),
        Just("description"),
        Just("enabled"),
        Just("month"),
        Just("amount"),
        Just("currency"),
        Just("transaction_id"),
        Just("provider_reference"),
        Just("paid_at"),
        Just("grace_s"),
        Just("unknown"),
    ]
    .prop_map(str::to_owned)
    .boxed()
}

fn body() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|value| serde_json::to_vec(&value).unwrap()),
        json_value().prop_map(|value| serde_json::to_vec(&value).unwrap()),
        Just(br#"{"office_code":"0320","items":[{"service_code":"labour.internal_regulations_8_100","quantity":1}]}"#.to_vec()),
        Just(br#"{"channel":"sandbox"}"#.to_vec()),
        Just(br#"{"channel":"khqr"}"#.to_vec()),
        Just(br#"{"url":"https://example.org/h","events":["payment.paid"]}"#.to_vec()),
        Just(br#"{"office_code":"0320","month":"2020-01"}"#.to_vec()),
        Just(br#"{"s":"\u0000"}"#.to_vec()),
    ]
    .boxed()
}

/// `application/x-www-form-urlencoded` escaping, also for path segments (`/` included).
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    method: Option<Method>,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    raw_query: Option<String>,
    key: usize,
    content_type: usize,
    idempotency_key: Option<String>,
    body: Vec<u8>,
}

const QUERY_NAMES: [&str; 17] = [
    "limit",
    "cursor",
    "from",
    "to",
    "as_of",
    "office_code",
    "case_reference",
    "status",
    "sector",
    "q",
    "schedule_version",
    "lang",
    "endpoint_id",
    "event_type",
    "kind",
    "subject",
    "zz",
];

const CONTENT_TYPES: [Option<&str>; 5] = [
    Some("application/json"),
    None,
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("text/csv"),
];

fn case(routes: usize) -> impl Strategy<Value = Case> {
    let method = prop_oneof![
        3 => Just(None),
        1 => prop_oneof![
            Just(Method::GET),
            Just(Method::POST),
            Just(Method::PATCH),
            Just(Method::DELETE),
            Just(Method::from_bytes(b"BREW").unwrap()),
        ]
        .prop_map(Some),
    ];
    (
        0..routes,
        method,
        prop::collection::vec(nasty_text(), 3),
        prop::collection::vec(
            (
                prop::sample::select(QUERY_NAMES.to_vec()).prop_map(str::to_owned),
                nasty_text(),
            ),
            0..3,
        ),
        prop::option::weighted(
            0.1,
            prop_oneof![Just("%ff%fe=%00".to_owned()), Just("a=%zz&&=&b".to_owned())],
        ),
        0..9usize,
        // Mostly JSON, so that bodies get past the media type check into the use cases.
        prop_oneof![6 => Just(0usize), 1 => Just(1usize), 1 => Just(2usize), 1 => Just(3usize), 1 => Just(4usize)],
        prop::option::weighted(0.8, "[ -~]{0,300}"),
        body(),
    )
        .prop_map(
            |(
                route,
                method,
                segments,
                query,
                raw_query,
                key,
                content_type,
                idempotency_key,
                body,
            )| Case {
                route,
                method,
                segments,
                query,
                raw_query,
                key,
                content_type,
                idempotency_key,
                body,
            },
        )
}

/// Every route template of the router with its methods, from the OpenAPI document (which
/// lists them all), plus a path no route matches.
fn routes() -> Vec<(String, Vec<Method>)> {
    let document = payments::http::openapi::document();
    let mut routes: Vec<(String, Vec<Method>)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|method| {
                    Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()
                })
                .collect();
            (path.clone(), methods)
        })
        .collect();
    routes.push(("/openapi.json".to_owned(), vec![Method::GET]));
    routes.push(("/{anything}/{else}".to_owned(), vec![Method::GET]));
    routes
}

/// Fills `{name}` placeholders with the case's segments (percent-encoded).
fn fill(template: &str, segments: &[String]) -> String {
    let mut out = String::new();
    let mut next = segments.iter().cycle();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map_or(rest.len(), |at| open + at + 1);
        out.push_str(&encode(next.next().unwrap()));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

#[sqlx::test(migrations = "../migrations")]
async fn no_generated_request_gets_a_5xx(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let router = payments::router(app.state.clone());
    // Real objects, so that some generated requests reach deep into the use cases.
    let intent = app.intent("0320777001").await;
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    let pay_token = intent["pay_url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .unwrap_or("pt_none")
        .to_owned();
    let attempt = app.sandbox_attempt(&intent_id).await;
    let attempt_id = attempt["id"].as_str().unwrap().to_owned();
    let keys: Vec<Option<String>> = vec![
        None,
        Some(app.key("admin").to_owned()),
        Some(app.key("workflow").to_owned()),
        Some(app.key("cashier_0320").to_owned()),
        Some(app.key("supervisor_0320").to_owned()),
        Some(app.key("auditor").to_owned()),
        Some(app.key("auditor_1201").to_owned()),
        Some(pay_token.clone()),
        Some("opk_unknown_key".to_owned()),
    ];
    let routes = routes();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: u32::try_from(CASES).unwrap(),
        ..ProptestConfig::default()
    });
    let strategy = case(routes.len());
    let writes: Vec<usize> = routes
        .iter()
        .enumerate()
        .filter(|(_, (_, methods))| methods.iter().any(|method| *method != Method::GET))
        .map(|(index, _)| index)
        .collect();
    for n in 0..CASES {
        let mut case = strategy.new_tree(&mut runner).unwrap().current();
        // A third of the cases name the real intent, attempt or token where a route takes one.
        if n % 3 == 0 {
            case.segments = vec![intent_id.clone(), attempt_id.clone(), pay_token.clone()];
        }
        // A quarter are well-formed requests to a route that takes a body, with a key that may
        // use it: only the body is generated, so it reaches the use case.
        if n % 4 == 1 {
            case.route = writes[case.route % writes.len()];
            case.method = None;
            case.key = 1 + n % 2;
            case.content_type = 0;
            case.segments = vec![intent_id.clone(), attempt_id.clone(), pay_token.clone()];
        }
        let (template, methods) = &routes[case.route];
        let methods: Vec<Method> = if n % 4 == 1 {
            methods
                .iter()
                .filter(|method| **method != Method::GET)
                .cloned()
                .collect()
        } else {
            methods.clone()
        };
        let method = case
            .method
            .clone()
            .unwrap_or_else(|| methods[n % methods.len()].clone());
        let mut uri = fill(template, &case.segments);
        let query = case.raw_query.clone().unwrap_or_else(|| {
            case.query
                .iter()
                .map(|(name, value)| format!("{name}={}", encode(value)))
                .collect::<Vec<_>>()
                .join("&")
        });
        if !query.is_empty() {
            uri = format!("{uri}?{query}");
        }
        let mut request = Request::builder().method(method.clone()).uri(&uri);
        if let Some(key) = &keys[case.key] {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if let Some(content_type) = CONTENT_TYPES[case.content_type] {
            request = request.header("content-type", content_type);
        }
        if let Some(idempotency_key) = &case.idempotency_key {
            request = request.header("idempotency-key", idempotency_key.as_str());
        }
        if n % 5 == 0 {
            request = request.header("accept", "text/csv");
        }
        let request = request.body(Body::from(case.body.clone())).unwrap();
        let answer = call(&router, request).await;
        assert!(
            !answer.status.is_server_error(),
            "case {n}: {method} {uri} with key #{} content type {:?} body {:?} -> {}: {}",
            case.key,
            CONTENT_TYPES[case.content_type],
            String::from_utf8_lossy(&case.body),
            answer.status,
            answer.body
        );
    }
}
