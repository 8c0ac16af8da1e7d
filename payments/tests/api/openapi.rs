//! `/openapi.json` as a client's tools read it: a valid OpenAPI 3.1 document whose operations are
//! exactly the router's, each declaring its path parameters, its query parameters `in: query`,
//! and its errors as `application/problem+json`.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::support::TestApp;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The routes the router serves, walked from the `.route("path", get(..).post(..))` calls of
/// `payments/src/http/` and its subdirectories: each resource module owns its `routes()`, so
/// this is the route table.
fn router_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for path in rust_files(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http").as_ref()) {
        let text = std::fs::read_to_string(&path).unwrap();
        for call in text.split(".route(").skip(1) {
            let Some(rest) = call.trim_start().strip_prefix('"') else {
                continue;
            };
            let (route, rest) = rest.split_once('"').unwrap();
            // The arguments end where the parentheses of `.route(` close.
            let mut depth = 1;
            let mut end = rest.len();
            for (index, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = index;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let arguments = &rest[..end];
            for method in METHODS {
                let called = arguments
                    .match_indices(&format!("{method}("))
                    .any(|(at, _)| {
                        at == 0
                            || !arguments[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    });
                if called {
                    routes.insert((route.to_owned(), method.to_owned()));
                }
            }
        }
    }
    routes
}

/// The `.rs` files under `dir`, its subdirectories included (a resource may be a directory).
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().and_then(|ext| ext.to_str()) == Some("rs") {
            files.push(path);
        }
    }
    files
}

/// utoipa names a component after its Rust type and keeps one of two types of the same name
/// silently: the ledger's statement line and the bank statement's line were both
/// `StatementLineView`, so the ledger statement was documented with the other's fields (found
/// by schemathesis: "id is a required property"). Every `ToSchema` type's name (or its
/// `#[schema(as = ...)]`) must be unique.
#[test]
fn no_two_schemas_share_a_component_name() {
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    let mut clashes = Vec::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            if !(line.trim_start().starts_with("#[derive(") && line.contains("ToSchema")) {
                continue;
            }
            let mut renamed = None;
            let mut name = None;
            for following in lines.iter().skip(index + 1).take(8) {
                let following = following.trim();
                if let Some(rest) = following.strip_prefix("#[schema(as = ") {
                    renamed = rest.split([')', ',']).next();
                }
                let item = following
                    .strip_prefix("pub struct ")
                    .or_else(|| following.strip_prefix("pub enum "))
                    .or_else(|| following.strip_prefix("struct "))
                    .or_else(|| following.strip_prefix("enum "));
                if let Some(item) = item {
                    name = item
                        .split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next();
                    break;
                }
            }
            let Some(name) = renamed.or(name) else {
                continue;
            };
            let place = format!("{}:{}", file.display(), index + 1);
            if let Some(first) = seen.insert(name.to_owned(), place.clone()) {
                clashes.push(format!("{name}: {first} and {place}"));
            }
        }
    }
    assert!(seen.len() > 50, "found only {} schemas", seen.len());
    assert!(
        clashes.is_empty(),
        "component names used twice: {clashes:#?}"
    );
}

fn template_parameters(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

fn document() -> Value {
    payments::http::openapi::document()
}

#[test]
fn the_document_parses_as_openapi_3_1() {
    let text = serde_json::to_string(&document()).unwrap();
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    assert!(spec.paths.as_ref().is_some_and(|paths| !paths.is_empty()));
}

/// OpenAPI requires operation ids to be unique (`openapi-spec-validator` refuses the document
/// otherwise, and client generators name functions by them); utoipa takes the handler's name,
/// which two modules may share.
#[test]
fn every_operation_id_is_unique() {
    let document = document();
    let mut seen = std::collections::BTreeMap::<String, String>::new();
    let mut twice = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            let here = format!("{method} {path}");
            if let Some(first) = seen.insert(id.to_owned(), here.clone()) {
                twice.push(format!("{id}: {first} and {here}"));
            }
        }
    }
    assert!(twice.is_empty(), "operation ids used twice: {twice:#?}");
}

#[test]
fn every_route_of_the_router_is_documented_and_nothing_else() {
    let routes = router_routes();
    // `/openapi.json` describes the others; `/metrics` is on its own private listener.
    let undocumented = BTreeSet::from([
        ("/openapi.json".to_owned(), "get".to_owned()),
        ("/metrics".to_owned(), "get".to_owned()),
    ]);
    let mut documented = BTreeSet::new();
    for (path, item) in document()["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((path.clone(), method.to_owned()));
            }
        }
    }
    let missing: Vec<_> = routes
        .difference(&documented)
        .filter(|route| !undocumented.contains(route))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a description: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(extra.is_empty(), "described but not routed: {extra:?}");
    assert!(
        routes.len() > 40,
        "the walk found the route table: {routes:?}"
    );
}

#[test]
fn every_operation_declares_its_parameters_where_they_are() {
    let document = document();
    for (path, item) in document["paths"].as_object().unwrap() {
        let expected = template_parameters(path);
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let declared: BTreeSet<String> = parameters
                .iter()
                .filter(|parameter| parameter["in"] == "path")
                .map(|parameter| {
                    assert_eq!(parameter["required"], true, "{method} {path}: {parameter}");
                    parameter["name"].as_str().unwrap().to_owned()
                })
                .collect();
            assert_eq!(declared, expected, "{method} {path}: path parameters");
            for parameter in &parameters {
                assert!(
                    ["path", "query", "header"].contains(&parameter["in"].as_str().unwrap()),
                    "{method} {path}: {parameter}"
                );
            }
        }
    }
}

#[test]
fn errors_are_documented_as_problems_with_the_statuses_they_can_have() {
    let document = document();
    assert!(document["components"]["schemas"]["Problem"].is_object());
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let responses = operation["responses"].as_object().unwrap();
            let mut expected = vec!["503"];
            if operation.get("security").is_some() {
                expected.extend(["401", "403"]);
            }
            if path.contains('{') {
                expected.push("404");
            }
            if operation.get("parameters").is_some() || path.contains('{') {
                expected.push("400");
            }
            if operation.get("requestBody").is_some() {
                expected.extend(["400", "415", "422"]);
            }
            for status in expected {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} documents {status}"
                );
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = response["content"].as_object().unwrap();
                    // Pages answer "not found" as an HTML page in the person's language.
                    let page_error = payments::http::openapi::is_page_path(path)
                        && content.keys().collect::<Vec<_>>() == vec!["text/html"];
                    if page_error {
                        continue;
                    }
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        vec!["application/problem+json"],
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

#[test]
fn enforced_limits_are_in_the_schemas() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    let intents = &document["paths"]["/v1/payment-intents"]["get"]["parameters"];
    let limit = intents
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "limit")
        .unwrap();
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 500);
    assert_eq!(
        schemas["CreateEndpointRequest"]["properties"]["events"]["minItems"],
        1
    );
    assert_eq!(
        schemas["CreateQuoteRequest"]["properties"]["items"]["minItems"],
        1
    );
    assert_eq!(
        schemas["CreateQuoteRequest"]["properties"]["items"]["maxItems"],
        50
    );
    assert!(schemas["CreateAttemptRequest"]["properties"]["channel"]["enum"].is_array());
    assert!(schemas["ClosePeriodRequest"]["properties"]["month"]["pattern"].is_string());
    assert!(schemas["MoneyView"]["properties"]["amount"]["pattern"].is_string());
}

/// Fills a path template with values of the right shape.
fn concrete(path: &str) -> String {
    path.replace("{id}", "00000000-0000-4000-8000-000000000000")
        .replace("{provider}", "sandbox")
        .replace("{token}", "pt_none")
        .replace("{code}", "none")
}

#[sqlx::test(migrations = "../migrations")]
async fn every_documented_operation_is_routed(pool: PgPool) {
    let app = TestApp::start(pool).await;
    for (path, item) in document()["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_none() {
                continue;
            }
            let url = format!("{}{}", app.base, concrete(path));
            let request = app
                .http
                .request(method.to_uppercase().parse().unwrap(), url)
                .bearer_auth(app.key("admin"));
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(body["detail"], "route not found", "{method} {path}");
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_or_unparsable_query_parameter_is_named(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let auditor = Some(app.key("auditor"));
    let missing = app.get("/v1/ledger/entries", auditor).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    assert_eq!(missing.body["code"], "invalid_query");
    assert_eq!(missing.body["parameter"], "from");
    let wrong = app.get("/v1/payment-intents?limit=ten", auditor).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    assert_eq!(wrong.body["parameter"], "limit");
    let date = app
        .get("/v1/payment-intents?from=06/12/2026", auditor)
        .await;
    assert_eq!(date.body["parameter"], "from", "{}", date.body);
    assert!(
        date.body["detail"].as_str().unwrap().contains("2026-12-06"),
        "{}",
        date.body
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_type_error_in_a_body_names_the_field(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app
        .post(
            "/v1/quotes",
            Some(app.key("workflow")),
            None,
            &serde_json::json!({"office_code": "0320", "items": [{"service_code": "x", "quantity": "two"}]}),
        )
        .await;
    assert_eq!(
        quote.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        quote.body
    );
    assert_eq!(
        quote.body["parameter"], "items[0].quantity",
        "{}",
        quote.body
    );
    assert!(
        !quote.body["detail"].as_str().unwrap().contains("line 1"),
        "{}",
        quote.body
    );
    let missing = app
        .post(
            "/v1/quotes",
            Some(app.key("workflow")),
            None,
            &serde_json::json!({"items": []}),
        )
        .await;
    assert_eq!(missing.body["parameter"], "office_code", "{}", missing.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_list_pages_with_limit_and_cursor(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let admin = Some(app.key("admin"));
    for list in [
        "/v1/sectors",
        "/v1/services",
        "/v1/bundles",
        "/v1/fee-schedules",
        "/v1/ledger/accounts",
        "/v1/ledger/periods",
        "/v1/webhook-endpoints",
    ] {
        let page = app.get(&format!("{list}?limit=1"), admin).await;
        assert_eq!(page.status, StatusCode::OK, "{list}: {}", page.body);
        assert!(page.body["data"].as_array().unwrap().len() <= 1, "{list}");
        assert!(page.body.get("next_cursor").is_some(), "{list}");
        let refused = app.get(&format!("{list}?limit=501"), admin).await;
        assert_eq!(refused.body["parameter"], "limit", "{list}");
    }
    // Walking the sectors one at a time visits all 17, in order, once.
    let mut codes = Vec::new();
    let mut next = String::from("/v1/sectors?limit=5");
    loop {
        let page = app.get(&next, None).await.body;
        codes.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|sector| sector["code"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => next = format!("/v1/sectors?limit=5&cursor={cursor}"),
            None => break,
        }
    }
    let all = app.get("/v1/sectors?limit=500", None).await.body;
    let expected: Vec<String> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sector| sector["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, expected);
    assert_eq!(codes.len(), 17);
    let bogus = app.get("/v1/sectors?cursor=bm9wZQ", None).await;
    assert_eq!(bogus.body["parameter"], "cursor", "{}", bogus.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_sector_filter_is_not_found(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let unknown = app.get("/v1/services?sector=no_such_sector", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    assert_eq!(unknown.body["parameter"], "sector");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_date_only_range_is_the_cambodian_day(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let workflow = Some(app.key("workflow"));
    let intent = app.intent("0320018100").await;
    let created = chrono::DateTime::parse_from_rfc3339(intent["created_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap());
    let today = created.date_naive();
    let yesterday = today.pred_opt().unwrap();
    let listed = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
        let path = format!("/v1/payment-intents?from={from}&to={to}");
        let app = &app;
        async move { app.get(&path, workflow).await }
    };
    let same_day = listed(today, today).await;
    assert_eq!(same_day.status, StatusCode::OK, "{}", same_day.body);
    assert_eq!(
        same_day.body["data"][0]["id"], intent["id"],
        "from=to=today holds the whole day"
    );
    let before = listed(yesterday, yesterday).await;
    assert_eq!(before.body["data"], serde_json::json!([]));
    // The journal's `to` is inclusive: a date there is accepted as the end of that day.
    let journal = app
        .http
        .get(format!(
            "{}/v1/ledger/entries?from={yesterday}&to={today}",
            app.base
        ))
        .bearer_auth(app.key("auditor"))
        .send()
        .await
        .unwrap();
    assert_eq!(journal.status(), StatusCode::OK);
    assert!(journal.text().await.unwrap().starts_with("entry_id"));
}
