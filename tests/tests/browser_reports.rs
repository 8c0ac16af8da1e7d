//! The ministry's dashboard in headless chromium (issue 16, item 4). Through the API: two
//! sandbox payments of office 0320 and one of 1201, and one intent of 0320 left waiting. In the
//! browser: the office auditor `auditor.1201` sees only 1201 on `/console/reports` (tables,
//! charts, the CSV link's content); the national `auditor` sees both offices, and every figure
//! of the page equals the sums the test computes itself from `/v1/payment-intents` and the
//! figures of `/v1/reports/*` read with keys. axe-core clean in Khmer and English.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::browser::{browser, Browser, DESK};
use crate::support::console::*;
use crate::support::*;
use serde_json::{json, Value};

/// Today in Cambodia (UTC+7), as the reports count days.
fn today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(7))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

async fn post(stack: &Stack, key: &str, path: &str, body: Value) -> Value {
    let response = stack
        .http
        .post(stack.url(path))
        .bearer_auth(key)
        .header("idempotency-key", format!("{path}-{body}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

async fn get(stack: &Stack, key: &str, path: &str) -> Value {
    let response = stack
        .http
        .get(stack.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}");
    response.json().await.unwrap()
}

/// An intent of `office` paid at bank-sim through a sandbox attempt.
async fn paid(stack: &Stack, office: &str, case_reference: &str) {
    let workflow = stack.key("workflow").to_owned();
    let quote = post(
        stack,
        &workflow,
        "/v1/quotes",
        json!({"office_code": office, "items": [{"service_code": "labour.internal_regulations_8_100", "quantity": 1}]}),
    )
    .await;
    let intent = post(
        stack,
        &workflow,
        "/v1/payment-intents",
        json!({"quote_id": quote["id"], "case_reference": case_reference}),
    )
    .await;
    let id = intent["id"].as_str().unwrap().to_owned();
    let attempt = post(
        stack,
        &workflow,
        &format!("/v1/payment-intents/{id}/attempts"),
        json!({"channel": "sandbox"}),
    )
    .await;
    stack
        .pay_at_sandbox(attempt["provider_reference"].as_str().unwrap(), json!({}))
        .await;
    stack.wait_paid(&id).await;
}

/// Per office: (paid intents, their total in riel), from the intents list of the auditor key.
async fn sums_from_intents(stack: &Stack) -> (BTreeMap<String, (i64, i64)>, BTreeMap<String, i64>) {
    let mut by_office = BTreeMap::new();
    let mut by_status = BTreeMap::new();
    let list = get(stack, stack.key("auditor"), "/v1/payment-intents?limit=100").await;
    for intent in list["data"].as_array().unwrap() {
        *by_status
            .entry(intent["status"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
        if intent["status"] == "paid" {
            let row = by_office
                .entry(intent["office_code"].as_str().unwrap().to_owned())
                .or_insert((0, 0));
            row.0 += 1;
            row.1 += intent["total"]["amount"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap();
        }
    }
    (by_office, by_status)
}

/// The rows of a dashboard table: key → (count, amount in minor units or 0).
async fn table(browser: &Browser, section: &str) -> BTreeMap<String, (i64, i64)> {
    let rows = browser
        .js(
            &format!(
                "return [...document.querySelectorAll('[data-testid=table-{section}] tbody tr')]
                   .map(r => [r.dataset.key, Number(r.dataset.count || 0), Number(r.dataset.amount || 0)]);"
            ),
            vec![],
        )
        .await;
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().to_owned(),
                (row[1].as_i64().unwrap(), row[2].as_i64().unwrap()),
            )
        })
        .collect()
}

/// The text behind the CSV link of `section`, fetched by the page itself (with the session).
async fn csv_of(browser: &Browser, section: &str) -> String {
    browser
        .js(
            &format!(
                "const href = document.querySelector('[data-testid=csv-{section}]').getAttribute('href');
                 const x = new XMLHttpRequest(); x.open('GET', href, false); x.send();
                 return x.status + '\\n' + x.responseText;"
            ),
            vec![],
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

async fn log_in(stack: &Stack, browser: &Browser, username: &str) {
    browser.open(&stack.url("/console/login?lang=en")).await;
    browser.wait_for_element("[data-testid=login-form]").await;
    type_into(browser, "#login-username", username).await;
    type_into(browser, "#login-password", DEMO_PASSWORD).await;
    browser.click("[data-testid=login-submit]").await;
    browser.wait_for_element("[data-testid=console-name]").await;
}

async fn check_languages(browser: &mut Browser, stack: &Stack, name: &str, shots: Option<&Path>) {
    for lang in ["km", "en"] {
        browser
            .open(&stack.url(&format!("/console/reports?lang={lang}")))
            .await;
        browser
            .wait_for_element("[data-testid=report-by-office]")
            .await;
        assert_accessible(browser, &format!("{name} ({lang})")).await;
        if let Some(dir) = shots {
            browser
                .screenshot(&dir.join(format!("console-{name}-{lang}-1280.png")))
                .await;
        }
    }
}

async fn make_data(stack: &Stack) {
    paid(stack, "0320", "0320016001").await;
    paid(stack, "0320", "0320016002").await;
    paid(stack, "1201", "1201016003").await;
    stack.pending_intent("0320016004").await;
}

async fn walk(stack: &Stack, browser: &mut Browser, shots: Option<&Path>) {
    let (by_office, by_status) = sums_from_intents(stack).await;
    assert_eq!(by_office.len(), 2, "{by_office:?}");

    // The office auditor: 1201 only, everywhere on the page and in the CSV.
    log_in(stack, browser, "auditor.1201").await;
    browser.open(&stack.url("/console/reports?lang=en")).await;
    browser
        .wait_for_element("[data-testid=table-by-office]")
        .await;
    let only = table(browser, "by-office").await;
    assert_eq!(
        only,
        by_office
            .iter()
            .filter(|(office, _)| *office == "1201")
            .map(|(office, figures)| (office.clone(), *figures))
            .collect::<BTreeMap<_, _>>()
    );
    let html = browser
        .js("return document.querySelector('main').innerHTML;", vec![])
        .await;
    assert!(!html.as_str().unwrap().contains("0320"), "no trace of 0320");
    assert!(!browser.exists("[data-testid=period-office]").await);
    let csv = csv_of(browser, "by-office").await;
    assert!(
        csv.starts_with("200\n") && csv.contains("1201,") && !csv.contains("0320"),
        "{csv}"
    );
    let paid_1201 = table(browser, "intents").await["paid"].0;
    assert_eq!(paid_1201, 1);
    check_languages(browser, stack, "reports-office", None).await;
    browser.click("[data-testid=console-logout]").await;

    // The national auditor: both offices; the page's figures are the API's and the intents'.
    log_in(stack, browser, "auditor").await;
    browser.open(&stack.url("/console/reports?lang=en")).await;
    browser
        .wait_for_element("[data-testid=table-by-office]")
        .await;
    assert_eq!(table(browser, "by-office").await, by_office);
    let intents = table(browser, "intents").await;
    for (status, count) in &by_status {
        assert_eq!(intents[status].0, *count, "{status}");
    }
    let period = format!("from={}&to={}", today(), today());
    let revenue = get(
        stack,
        stack.key("auditor"),
        &format!("/v1/reports/revenue?{period}&group_by=channel_group"),
    )
    .await;
    let from_api: BTreeMap<String, (i64, i64)> = revenue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["key"].as_str().unwrap().to_owned(),
                (
                    row["count"].as_i64().unwrap(),
                    row["total"]["amount"].as_str().unwrap().parse().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(table(browser, "by-channel").await, from_api);
    let total: (i64, i64) = by_office
        .values()
        .fold((0, 0), |sum, row| (sum.0 + row.0, sum.1 + row.1));
    assert_eq!(
        from_api["bank"], total,
        "sandbox payments are bank payments"
    );
    assert_eq!(table(browser, "by-day").await[&today()], total);
    assert_eq!(table(browser, "online-share").await[&today()].0, total.0);
    let svg = browser
        .js(
            "return document.querySelectorAll('svg[role=img] > title').length;",
            vec![],
        )
        .await;
    assert!(svg.as_u64().unwrap() >= 8, "a titled SVG chart per section");
    assert!(browser
        .text("[data-testid=last-verification]")
        .await
        .contains("Never verified"));
    assert!(browser.exists("[data-testid=period-office]").await);
    let csv = csv_of(browser, "by-office").await;
    assert!(csv.contains("0320,") && csv.contains("1201,"), "{csv}");
    check_languages(browser, stack, "reports", shots).await;
}

#[tokio::test]
async fn an_office_auditor_sees_one_office_and_the_national_one_all() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(DESK));
    let Some(mut browser) = browser else { return };
    make_data(&stack).await;
    walk(&stack, &mut browser, None).await;
    browser.close().await;
}

#[tokio::test]
#[ignore = "writes docs/screens: run by hand"]
async fn reports_screenshots() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(DESK));
    let Some(mut browser) = browser else { return };
    make_data(&stack).await;
    let dir = workspace_dir().join("docs/screens");
    walk(&stack, &mut browser, Some(&dir)).await;
    browser.close().await;
}
