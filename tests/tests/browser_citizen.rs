//! The citizen's flows in headless chromium, from the first page, clicking and typing as a
//! person would: pay by KHQR and watch the open page turn paid, keep the receipt and verify it;
//! get a new QR when one expired; look a case up by office and code; search the catalog in
//! Khmer. Every page met on the way is held to UI.md's budgets (`assert_budgets`).

use std::time::{Duration, Instant};

use crate::browser_pay::{assert_budgets, has_khmer, shows_amount, CASE};
use crate::support::browser::{browser, Browser, PHONE};
use crate::support::*;
use serde_json::{json, Value};

/// UI.md: a paid KHQR shows as paid on the open page within 5 s of the bank reporting it.
const PAID_ON_SCREEN: Duration = Duration::from_secs(5);

/// The KHQR string of the newest KHQR attempt: what a bank app reads from the QR image.
async fn newest_khqr(db: &TestDb) -> String {
    sqlx::query_scalar(
        "select khqr from payment_attempts where channel = 'khqr' order by created_at desc limit 1",
    )
    .fetch_one(&db.pool().await)
    .await
    .unwrap()
}

/// A bank app pays `qr` at bank-sim's Bakong.
async fn pay_at_bakong(stack: &Stack, qr: &str) {
    let paid = stack
        .http
        .post(format!("{}/bakong/sim/pay", stack.bank_sim_url))
        .json(&json!({ "qr": qr }))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200, "{}", paid.text().await.unwrap());
}

async fn wait_until_shown(browser: &Browser, css: &str, what: &str, timeout: Duration) {
    browser
        .wait_for(what, timeout, || async move { browser.exists(css).await })
        .await;
}

/// Open link → KHQR → pay at Bakong → the open page turns paid by itself → receipt → verified.
async fn pay_keep_and_verify(lang: &str) {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(PHONE));
    let Some(browser) = browser else { return };
    let intent = stack.pending_intent(CASE).await;
    let pay_url = format!("{}?lang={lang}", intent["pay_url"].as_str().unwrap());
    let total = intent["total"]["amount"].as_str().unwrap();

    browser.open(&pay_url).await;
    assert_eq!(browser.attr("html", "lang").await.as_deref(), Some(lang));
    assert_eq!(
        browser.attr("#pay", "data-status").await.as_deref(),
        Some("awaiting_payment")
    );
    assert_budgets(&browser, &format!("pay page, awaiting ({lang})")).await;

    browser.click("[data-testid=pay-khqr]").await;
    browser.wait_for_element("[data-testid=qr-image]").await;
    // The language chosen with ?lang= sticks across the form post.
    assert_eq!(browser.attr("html", "lang").await.as_deref(), Some(lang));
    let amount = browser.text("[data-testid=qr-amount]").await;
    assert!(shows_amount(&amount, total), "QR amount {amount:?}");
    assert!(!browser.text("[data-testid=merchant-name]").await.is_empty());
    assert_budgets(&browser, &format!("pay page with its QR ({lang})")).await;

    let qr = newest_khqr(&db).await;
    pay_at_bakong(&stack, &qr).await;
    let reported = Instant::now();
    // No navigation by the test from here: the page must learn it on its own.
    wait_until_shown(
        &browser,
        "[data-testid=paid]",
        "the open page to show paid",
        Duration::from_secs(20),
    )
    .await;
    let paid_ms = reported.elapsed().as_millis();
    wait_until_shown(
        &browser,
        "[data-testid=receipt-number]",
        "the receipt number on the open page",
        Duration::from_secs(20),
    )
    .await;
    let receipt_ms = reported.elapsed().as_millis();
    println!(
        "paid on screen ({lang}): {paid_ms} ms after bank-sim's Bakong took the payment; \
         receipt number on screen after {receipt_ms} ms"
    );
    assert!(
        paid_ms <= PAID_ON_SCREEN.as_millis(),
        "paid showed after {paid_ms} ms, the budget is {PAID_ON_SCREEN:?}"
    );
    assert_eq!(
        browser.attr("#pay", "data-status").await.as_deref(),
        Some("paid")
    );
    let number = browser.text("[data-testid=receipt-number]").await;
    assert!(!number.trim().is_empty());
    assert!(browser.exists("[data-testid=paid-at]").await);
    assert_budgets(&browser, &format!("pay page, paid ({lang})")).await;

    browser.click("#receipt-link").await;
    browser.wait_for_element("#receipt-total").await;
    assert_eq!(browser.attr("html", "lang").await.as_deref(), Some(lang));
    assert_eq!(browser.text("#receipt-number").await.trim(), number.trim());
    let receipt_total = browser.text("#receipt-total").await;
    assert!(
        shows_amount(&receipt_total, total),
        "receipt total {receipt_total:?}"
    );
    assert!(browser.exists("#verify-qr").await);
    assert!(browser.exists("#print-button").await);
    assert_budgets(&browser, &format!("receipt ({lang})")).await;

    browser.click("#verify-link").await;
    browser.wait_for_element("#verify-result").await;
    assert_eq!(
        browser
            .attr("#verify-result", "data-result")
            .await
            .as_deref(),
        Some("verified")
    );
    assert_eq!(
        browser.text("[data-testid=verify-number]").await.trim(),
        number.trim()
    );
    let verified_amount = browser.text("[data-testid=verify-amount]").await;
    assert!(shows_amount(&verified_amount, total), "{verified_amount:?}");
    assert_budgets(&browser, &format!("verification ({lang})")).await;
    browser.close().await;
}

#[tokio::test]
async fn a_citizen_pays_by_khqr_sees_it_paid_keeps_and_verifies_the_receipt_in_khmer() {
    pay_keep_and_verify("km").await;
}

#[tokio::test]
async fn a_citizen_pays_by_khqr_sees_it_paid_keeps_and_verifies_the_receipt_in_english() {
    pay_keep_and_verify("en").await;
}

#[tokio::test]
async fn an_expired_qr_gives_way_to_a_new_one() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(PHONE));
    let Some(browser) = browser else { return };
    let pay_url = format!("{}?lang=en", stack.pay_link(CASE).await);
    browser.open(&pay_url).await;
    browser.click("[data-testid=pay-khqr]").await;
    browser.wait_for_element("[data-testid=qr-image]").await;
    let first = browser.attr("[data-testid=qr-image]", "src").await.unwrap();

    // The QR's time passes (as the API tests do it).
    sqlx::query(
        "update payment_attempts set created_at = now() - interval '30 minutes',
             expires_at = now() - interval '1 minute'",
    )
    .execute(&db.pool().await)
    .await
    .unwrap();
    browser.open(&pay_url).await;
    browser.wait_for_element("[data-testid=qr-expired]").await;
    assert!(!browser.exists("[data-testid=qr-image]").await);
    browser.click("[data-testid=pay-khqr]").await;
    browser.wait_for_element("[data-testid=qr-image]").await;
    let second = browser.attr("[data-testid=qr-image]", "src").await.unwrap();
    assert_ne!(first, second, "the new QR is the old one");
    assert!(!browser.exists("[data-testid=qr-expired]").await);
    browser.close().await;
}

/// A paid intent of office 0320 for `case`, paid by KHQR through the API and bank-sim, and
/// its receipt numbered: its pay link.
pub(crate) async fn paid_case(stack: &Stack, db: &TestDb, case: &str) -> String {
    let intent = stack.pending_intent(case).await;
    let id = intent["id"].as_str().unwrap().to_owned();
    let token = intent["pay_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let attempt = stack
        .http
        .post(stack.url(&format!("/v1/payment-intents/{id}/attempts")))
        .bearer_auth(&token)
        .header("idempotency-key", format!("attempt-{case}"))
        .json(&json!({"channel": "khqr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(attempt.status(), 201);
    pay_at_bakong(stack, &newest_khqr(db).await).await;
    let receipt = wait_for_some(Duration::from_secs(20), || async {
        let view: Value = stack
            .http
            .get(stack.url(&format!("/v1/public/payments/{token}")))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (view["status"] == "paid" && view["receipt_number"].is_string()).then_some(view)
    })
    .await;
    assert!(receipt.is_some(), "the case was not paid with a receipt");
    intent["pay_url"].as_str().unwrap().to_owned()
}

/// Fills the status form as a person does (office 0320, the registration code) and sends it.
async fn submit_status(browser: &Browser, code: &str) {
    browser
        .find("#status-office")
        .await
        .select_by_value("0320")
        .await
        .unwrap();
    browser
        .find("#status-code")
        .await
        .send_keys(code)
        .await
        .unwrap();
    browser.click("#status-submit").await;
}

#[tokio::test]
async fn status_lookup_by_office_and_code_finds_a_paid_case_and_says_not_found() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(PHONE));
    let Some(browser) = browser else { return };
    paid_case(&stack, &db, CASE).await;

    for lang in ["km", "en"] {
        browser
            .open(&stack.url(&format!("/status?lang={lang}")))
            .await;
        browser.wait_for_element("#status-form").await;
        assert_budgets(&browser, &format!("status form ({lang})")).await;
        submit_status(&browser, CASE).await;
        browser.wait_for_element("#status-result").await;
        assert_eq!(
            browser
                .attr("[data-testid=status-state]", "data-state")
                .await
                .as_deref(),
            Some("paid")
        );
        let number = browser.text("[data-testid=status-receipt-number]").await;
        assert!(!number.trim().is_empty(), "no receipt number");
        assert_budgets(&browser, &format!("status result ({lang})")).await;
    }

    // A code nobody has: the plain not-found page, in the page's language.
    browser.open(&stack.url("/status?lang=en")).await;
    submit_status(&browser, "0320999999").await;
    browser.wait_for_text("body", "No payment was found").await;
    assert!(!browser.exists("#status-result").await);
    assert_budgets(&browser, "not found (en)").await;

    browser.open(&stack.url("/status?lang=km")).await;
    submit_status(&browser, "0320999999").await;
    browser.wait_for_text("body", "រកមិនឃើញការបង់ប្រាក់").await;
    assert_budgets(&browser, "not found (km)").await;
    browser.close().await;
}

#[tokio::test]
async fn catalog_search_in_khmer_finds_the_service() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(PHONE));
    let Some(browser) = browser else { return };
    // One sector's page is held to the pay page's budget.
    browser.open(&stack.url("/services?sector=labour")).await;
    assert_budgets(&browser, "services of one sector (km)").await;
    // The whole catalog (every sector's services, about 70 kB of Khmer text at 3 bytes a
    // letter) is held to the same budget: it travels gzipped.
    browser.open(&stack.url("/services")).await;
    assert_eq!(browser.attr("html", "lang").await.as_deref(), Some("km"));
    assert_budgets(&browser, "the whole catalog (km)").await;
    let row = "li[data-testid=service-row][data-code='labour.internal_regulations_8_100']";

    let words = "បទបញ្ជាផ្ទៃក្នុង";
    browser
        .find("#services-q")
        .await
        .send_keys(words)
        .await
        .unwrap();
    browser.click("#services-search-submit").await;
    browser
        .wait_for("the search's results", WAIT_PAGE, || async {
            browser.js("return location.search;", vec![]).await != Value::String(String::new())
        })
        .await;
    browser.wait_for_element("#services-results").await;
    assert!(browser.exists(row).await, "the Khmer search missed the row");
    let name = browser
        .text(&format!("{row} [data-testid=service-name]"))
        .await;
    assert!(has_khmer(&name), "{name:?}");
    assert!(name.contains(words), "{name:?}");
    let fee = browser.text(&format!("{row} [data-testid=fee-text]")).await;
    assert!(shows_amount(&fee, "600000"), "{fee:?}");
    // A search narrows: a fee of another sector is not listed.
    let rows = browser
        .js(
            "return document.querySelectorAll('li[data-testid=service-row]').length;",
            vec![],
        )
        .await;
    assert!(
        rows.as_u64().unwrap() < 10,
        "{rows} rows: the search did not narrow"
    );
    assert_budgets(&browser, "services search (km)").await;
    browser.close().await;
}

const WAIT_PAGE: Duration = Duration::from_secs(10);
