//! A cashier's whole day in headless chromium (issue 14), as a cashier works it: log in, open
//! the drawer by counting the float note by note, take three cash payments (one in dollars; the
//! first with the keyboard alone: the search field has the focus, a scan is the link and Enter,
//! the cash field has the focus, Enter), the receipt with the cashier's name and the change, a
//! reprint marked COPY / ច្បាប់ចម្លង, my drawer on the dashboard; then one payment voided with
//! the supervisor's password, the drawer closed 500 riel short and signed off, the deposit
//! recorded, with the drawer report and the trial balance agreeing to the riel. axe-core on
//! every page, no sideways scrolling at 1280 px (and at 360 px on the take page).

use std::path::Path;

use crate::support::browser::{browser, Browser, DESK, PHONE};
use crate::support::console::*;
use crate::support::*;
use serde_json::{json, Value};

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

async fn focused_id(browser: &Browser) -> Value {
    browser
        .js(
            "return document.activeElement && document.activeElement.id;",
            vec![],
        )
        .await
}

/// Types into whatever has the focus (the keyboard, not a click).
async fn keys(browser: &Browser, text: &str) {
    let active = browser.js("return document.activeElement;", vec![]).await;
    assert!(active.is_object(), "something has the focus");
    let element = browser.find(":focus").await;
    element.send_keys(text).await.unwrap();
}

async fn log_in(browser: &Browser, stack: &Stack, username: &str) {
    browser.open(&stack.url("/console/login?lang=en")).await;
    browser.wait_for_element("[data-testid=login-form]").await;
    type_into(browser, "#login-username", username).await;
    type_into(browser, "#login-password", DEMO_PASSWORD).await;
    browser.click("[data-testid=login-submit]").await;
    browser.wait_for_element("[data-testid=open-count]").await;
}

/// A fresh intent of office 0320 for a service priced in dollars.
async fn usd_intent(stack: &Stack, case_reference: &str) -> Value {
    let post = |path: &str, body: Value, key: Option<String>| {
        let mut request = stack
            .http
            .post(stack.url(path))
            .bearer_auth(stack.key("workflow"))
            .json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };
    let quote: Value = post(
        "/v1/quotes",
        json!({"office_code": "0320", "items": [{"service_code": "administration.passport_ordinary_20_day", "quantity": 1}]}),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let intent: Value = post(
        "/v1/payment-intents",
        json!({"quote_id": quote["id"], "case_reference": case_reference}),
        Some(format!("intent-{case_reference}")),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(intent["total"]["currency"], "USD", "{intent}");
    intent
}

/// Opens the drawer through the form: 5 x 10,000 riel and 10 x 1 dollar, checked, then open.
async fn open_drawer(browser: &Browser, stack: &Stack, lang: &str) {
    browser
        .open(&stack.url(&format!("/console/drawer?lang={lang}")))
        .await;
    browser
        .wait_for_element("[data-testid=drawer-open-form]")
        .await;
    type_into(browser, "#khr_10000", "5").await;
    type_into(browser, "#usd_1", "10").await;
    browser.click("[data-testid=drawer-review]").await;
    browser.wait_for_element("[data-testid=float-totals]").await;
}

#[tokio::test]
async fn a_cashiers_whole_day_from_login_to_the_deposit() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(DESK));
    let Some(mut browser) = browser else { return };
    let first = stack.pending_intent("0320000501").await;
    let second = stack.pending_intent("0320000502").await;
    let dollars = usd_intent(&stack, "0320000503").await;

    log_in(&browser, &stack, "cashier.0320").await;
    assert!(!browser.exists("[data-testid=my-drawer]").await);
    browser.click("[data-testid=nav-drawer]").await;
    browser
        .wait_for_element("[data-testid=drawer-open-form]")
        .await;
    assert_accessible(&browser, "drawer open form (en)").await;

    open_drawer(&browser, &stack, "en").await;
    assert_eq!(
        browser.text("[data-testid=float-total-KHR]").await,
        "50,000 ៛"
    );
    assert_eq!(
        browser.text("[data-testid=float-total-USD]").await,
        "$10.00"
    );
    assert_accessible(&browser, "drawer totals (en)").await;
    browser.click("[data-testid=drawer-open-submit]").await;
    browser.wait_for_element("[data-testid=drawer]").await;
    assert!(browser
        .text("[data-testid=drawer-expected]")
        .await
        .contains("50,000 ៛"));
    assert_accessible(&browser, "my drawer (en)").await;

    // 1. Keyboard only: the search has the focus; the scanner types the slip's link and Enter.
    browser.click("[data-testid=nav-take]").await;
    browser.wait_for_element("[data-testid=take-search]").await;
    assert_accessible(&browser, "take payment (en, 1280)").await;
    assert_eq!(focused_id(&browser).await, Value::String("q".into()));
    let link = first["pay_url"].as_str().unwrap();
    keys(&browser, &format!("{link}{ENTER}")).await;
    browser.wait_for_element("[data-testid=take-form]").await;
    assert_eq!(browser.text("[data-testid=take-due]").await, "600,000 ៛");
    assert_accessible(&browser, "take the cash (en)").await;
    assert_eq!(focused_id(&browser).await, Value::String("tendered".into()));
    keys(&browser, &format!("700000{ENTER}")).await;
    browser.wait_for_element("[data-testid=change-due]").await;
    assert_eq!(
        browser.text("[data-testid=change-amount]").await,
        "100,000 ៛"
    );
    assert!(browser
        .text("[data-testid=receipt-cashier]")
        .await
        .contains("Sok Dara"));
    assert!(!browser.exists("[data-testid=receipt-copy]").await);
    assert_accessible(&browser, "receipt, the original (en)").await;
    let first_number = browser.text("[data-testid=receipt-number]").await;

    // 2. From today's list, short first: the error names the field and takes the focus.
    browser.open(&stack.url("/console/take?lang=en")).await;
    let row = format!(
        "tr[data-intent=\"{}\"] [data-testid=take-link]",
        second["id"].as_str().unwrap()
    );
    browser.wait_for_element(&row).await;
    browser.click(&row).await;
    browser.wait_for_element("[data-testid=take-form]").await;
    type_into(&browser, "#tendered", "500000").await;
    browser.click("[data-testid=take-submit]").await;
    browser.wait_for_element("[data-testid=take-errors]").await;
    assert!(browser
        .text("[data-testid=take-error]")
        .await
        .contains("Tendered 500,000 ៛ is less than the 600,000 ៛ due"));
    assert_eq!(
        browser
            .js(
                "return document.activeElement && document.activeElement.dataset.testid;",
                vec![]
            )
            .await,
        Value::String("take-errors".into()),
        "the summary takes the focus"
    );
    assert_accessible(&browser, "take the cash, short (en)").await;
    type_into(&browser, "#tendered", "600000").await;
    browser.click("[data-testid=take-submit]").await;
    browser.wait_for_element("[data-testid=change-due]").await;
    assert_eq!(browser.text("[data-testid=change-amount]").await, "0 ៛");

    // 3. Dollars, found by the registration code.
    browser.open(&stack.url("/console/take?lang=en")).await;
    browser.wait_for_element("#q").await;
    type_into(&browser, "#q", &format!("0320000503{ENTER}")).await;
    browser.wait_for_element("[data-testid=take-form]").await;
    let due = dollars["total"]["amount"].as_str().unwrap().to_owned();
    let (whole, cents) = due.split_once('.').unwrap_or((&due, "00"));
    let whole: i64 = whole.parse().unwrap();
    // Dollar notes only: the close below counts the drawer exactly.
    assert_eq!(cents, "00", "a whole-dollar fee: {due}");
    type_into(&browser, "#tendered", &format!("{}.00", whole + 1)).await;
    browser.click("[data-testid=take-submit]").await;
    browser.wait_for_element("[data-testid=change-due]").await;
    assert!(browser
        .text("[data-testid=change-amount]")
        .await
        .starts_with('$'));
    assert_accessible(&browser, "receipt in dollars (en)").await;

    // Today's receipts, and a reprint: COPY / ច្បាប់ចម្លង.
    browser.click("[data-testid=my-receipts]").await;
    browser.wait_for_element("[data-testid=receipts]").await;
    assert_eq!(
        browser
            .js(
                "return document.querySelectorAll('[data-testid=receipts] tbody tr').length;",
                vec![]
            )
            .await,
        json!(3)
    );
    assert_accessible(&browser, "today's receipts (en)").await;
    browser.click("[data-testid=reprint]").await;
    browser.wait_for_element("[data-testid=receipt-copy]").await;
    let stamp = browser.text("[data-testid=receipt-copy]").await;
    assert!(
        stamp.contains("COPY") && stamp.contains("ច្បាប់ចម្លង"),
        "{stamp}"
    );
    assert!(!browser.exists("[data-testid=change-due]").await);
    assert_accessible(&browser, "receipt, a copy (en)").await;

    // My drawer on the dashboard.
    browser.open(&stack.url("/console?lang=en")).await;
    browser.wait_for_element("[data-testid=my-drawer]").await;
    assert_eq!(browser.text("[data-testid=my-drawer-receipts]").await, "3");
    assert!(browser
        .text("[data-testid=my-drawer-expected]")
        .await
        .contains("1,250,000 ៛"));
    assert_accessible(&browser, "dashboard with my drawer (en)").await;

    // The rest of the day: the first payment voided with the supervisor's password typed on
    // the cashier's screen, the drawer closed 500 riel short (dollars exact) and signed off,
    // the deposit recorded; the report and the trial balance agree to the riel at each step.
    browser.open(&stack.url("/console/receipts?lang=en")).await;
    let void_link =
        format!("a[data-testid=void-link][href=\"/console/receipts/{first_number}/void\"]");
    browser.wait_for_element(&void_link).await;
    browser.click(&void_link).await;
    browser.wait_for_element("[data-testid=void-form]").await;
    type_into(&browser, "#void-reason", "Paid for the wrong case").await;
    type_into(&browser, "#void-approver", "supervisor.0320").await;
    type_into(&browser, "#void-approver-password", DEMO_PASSWORD).await;
    browser.click("[data-testid=void-submit]").await;
    browser.wait_for_element("[data-testid=voided]").await;
    assert_eq!(
        browser.text("[data-testid=voided-number]").await,
        first_number
    );

    // Float 50,000 + 600,000 kept (the voided 600,000 went back) = 650,000 ៛ expected;
    // 649,500 counted. Dollars: the $10 float and the fee, counted in notes.
    browser.click("[data-testid=nav-drawer]").await;
    browser
        .wait_for_element("[data-testid=drawer-close-link]")
        .await;
    browser.click("[data-testid=drawer-close-link]").await;
    browser.wait_for_element("[data-testid=close-blind]").await;
    for (field, count) in [
        ("khr_200000", "3"),
        ("khr_20000", "2"),
        ("khr_5000", "1"),
        ("khr_2000", "2"),
        ("khr_500", "1"),
    ] {
        type_into(&browser, &format!("#count-{field}"), count).await;
    }
    let mut dollars_left = whole + 10;
    for note in [100, 50, 20, 10, 5, 2, 1] {
        let count = dollars_left / note;
        dollars_left %= note;
        if count > 0 {
            type_into(&browser, &format!("#count-usd_{note}"), &count.to_string()).await;
        }
    }
    browser.click("[data-testid=close-submit]").await;
    browser
        .wait_for_element("[data-testid=close-variance]")
        .await;
    assert_eq!(
        browser.text("[data-testid=expected-KHR]").await,
        "650,000 ៛"
    );
    assert_eq!(browser.text("[data-testid=counted-KHR]").await, "649,500 ៛");
    assert!(browser
        .text("[data-testid=variance-KHR]")
        .await
        .starts_with("-500 ៛"));
    type_into(&browser, "#close-approver", "supervisor.0320").await;
    type_into(&browser, "#close-approver-password", DEMO_PASSWORD).await;
    browser.click("[data-testid=close-submit]").await;
    browser
        .wait_for_element("[data-testid=report-summary]")
        .await;
    // What the drawer moved cash:drawer by: 600,000 kept less the 500 short; the dollars'
    // fee. The office had no other drawer, so the trial balance says the same.
    assert_eq!(
        browser.text("[data-testid=ledger-net-KHR]").await,
        "599,500 ៛"
    );
    assert_eq!(
        trial_balance(&stack, "0320:cash:drawer:KHR").await,
        "599500"
    );
    assert_eq!(
        trial_balance(&stack, "0320:cash-over-short:KHR").await,
        "500"
    );
    assert_eq!(trial_balance(&stack, "0320:cash:drawer:USD").await, due);
    assert_accessible(&browser, "the day's report (en)").await;

    browser.click("[data-testid=report-deposit]").await;
    browser.wait_for_element("[data-testid=deposit-form]").await;
    type_into(&browser, "#deposit-slip", "ACL-DEP-DAY-1").await;
    browser.click("[data-testid=deposit-submit]").await;
    browser
        .wait_for_element("[data-testid=report-deposits]")
        .await;
    assert_eq!(browser.text("[data-testid=ledger-net-KHR]").await, "0 ៛");
    assert_eq!(trial_balance(&stack, "0320:cash:drawer:KHR").await, "0");
    assert_eq!(trial_balance(&stack, "0320:cash:drawer:USD").await, "0.00");
    assert_eq!(
        trial_balance(&stack, "0320:cash-in-transit:KHR").await,
        "599500"
    );
    assert_eq!(trial_balance(&stack, "0320:cash-in-transit:USD").await, due);

    // Khmer, and the take page on a phone.
    browser.open(&stack.url("/console/take?lang=km")).await;
    browser.wait_for_element("[data-testid=take-search]").await;
    assert_accessible(&browser, "take payment (km, 1280)").await;
    browser.set_viewport(PHONE).await;
    browser.open(&stack.url("/console/take")).await;
    browser.wait_for_element("[data-testid=take-search]").await;
    assert_accessible(&browser, "take payment (km, 360)").await;
    browser.open(&stack.url("/console/take?lang=en")).await;
    browser.wait_for_element("[data-testid=take-search]").await;
    assert_accessible(&browser, "take payment (en, 360)").await;
    browser.set_viewport(DESK).await;
    browser.close().await;
}

/// The counter's pages for `make screenshots`, Khmer and English at 1280 px:
/// `console-<page>-<lang>-1280.png` in `dir`.
pub(crate) async fn screenshots(stack: &Stack, browser: &mut Browser, dir: &Path) {
    browser.set_viewport(DESK).await;
    log_in(browser, stack, "cashier.0320").await;
    let shot = |name: &str, lang: &str| dir.join(format!("console-{name}-{lang}-1280.png"));
    for lang in ["km", "en"] {
        open_drawer(browser, stack, lang).await;
        browser.screenshot(&shot("drawer-open", lang)).await;
    }
    browser.click("[data-testid=drawer-open-submit]").await;
    browser.wait_for_element("[data-testid=drawer]").await;
    let mut intents = Vec::new();
    for (index, lang) in ["km", "en"].iter().enumerate() {
        let case = format!("03200006{index}1");
        intents.push((lang, stack.pending_intent(&case).await));
        stack.pending_intent(&format!("03200006{index}2")).await;
    }
    for (lang, intent) in &intents {
        let id = intent["id"].as_str().unwrap();
        browser
            .open(&stack.url(&format!("/console/drawer?lang={lang}")))
            .await;
        browser.wait_for_element("[data-testid=drawer]").await;
        browser.screenshot(&shot("drawer", lang)).await;
        browser
            .open(&stack.url(&format!("/console/take?lang={lang}")))
            .await;
        browser.wait_for_element("[data-testid=take-search]").await;
        browser.screenshot(&shot("take", lang)).await;
        browser
            .open(&stack.url(&format!("/console/take/{id}?lang={lang}")))
            .await;
        browser.wait_for_element("[data-testid=take-form]").await;
        browser.screenshot(&shot("take-intent", lang)).await;
        type_into(browser, "#tendered", "500000").await;
        browser.click("[data-testid=take-submit]").await;
        browser.wait_for_element("[data-testid=take-errors]").await;
        browser.screenshot(&shot("take-error", lang)).await;
        type_into(browser, "#tendered", "700000").await;
        browser.click("[data-testid=take-submit]").await;
        browser.wait_for_element("[data-testid=change-due]").await;
        browser.screenshot(&shot("receipt-80mm", lang)).await;
        let a5 = browser
            .attr("[data-testid=paper-a5]", "href")
            .await
            .unwrap();
        browser.open(&stack.url(&a5)).await;
        browser.wait_for_element("[data-testid=receipt-copy]").await;
        browser.screenshot(&shot("receipt-copy", lang)).await;
    }
    // An original on A5 (the paper chosen on the form), in each language.
    for (lang, case) in [("km", "0320000602"), ("en", "0320000612")] {
        browser
            .open(&stack.url(&format!("/console/take?q={case}&lang={lang}")))
            .await;
        browser.wait_for_element("[data-testid=take-form]").await;
        browser.click("[data-testid=paper-a5-choice]").await;
        type_into(browser, "#tendered", "600000").await;
        browser.click("[data-testid=take-submit]").await;
        browser.wait_for_element("[data-testid=receipt]").await;
        browser.screenshot(&shot("receipt-a5", lang)).await;
    }
    for lang in ["km", "en"] {
        browser
            .open(&stack.url(&format!("/console/receipts?lang={lang}")))
            .await;
        browser.wait_for_element("[data-testid=receipts]").await;
        browser.screenshot(&shot("receipts", lang)).await;
    }
    browser.click("[data-testid=console-logout]").await;
    browser.wait_for_element("[data-testid=login-form]").await;
    println!("wrote {}/console-(counter pages)-*-1280.png", dir.display());
}
