//! The staff console's shell in headless chromium, keyboard and mouse as a cashier would: a
//! wrong password (the error summary takes the focus), the right one-time password, the
//! first-login password change, the office dashboard with an open intent and a payment of
//! today, in Khmer and English, at a desk and on a phone; then logout.

use std::path::Path;

use crate::support::browser::{browser, Browser, DESK, PHONE};
use crate::support::console::*;
use crate::support::*;
use serde_json::Value;

const NEW_PASSWORD: &str = "counter four is mine";

async fn log_in(browser: &Browser, username: &str, password: &str) {
    type_into(browser, "#login-username", username).await;
    type_into(browser, "#login-password", password).await;
    browser.click("[data-testid=login-submit]").await;
}

#[tokio::test]
async fn a_cashier_logs_in_changes_the_one_time_password_sees_the_office_and_logs_out() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(DESK));
    let Some(mut browser) = browser else { return };
    let (code, out, stderr) = run_to_completion(
        "payments",
        &[
            "users",
            "create",
            "--role",
            "cashier",
            "--office",
            "0320",
            "--name",
            "Sok Dara",
            "--username",
            "sok.dara",
        ],
        &[("DATABASE_URL", db.url.as_str())],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(out.trim()).unwrap();
    let one_time = created["one_time_password"].as_str().unwrap().to_owned();
    stack.pending_intent("0320000301").await;
    crate::browser_citizen::paid_case(&stack, &db, "0320000302").await;

    browser.open(&stack.url("/console?lang=en")).await;
    browser.wait_for_element("[data-testid=login-form]").await;
    assert_eq!(browser.attr("html", "lang").await.as_deref(), Some("en"));
    assert_accessible(&browser, "login (en)").await;

    log_in(&browser, "sok.dara", "not the password").await;
    browser.wait_for_element("[data-testid=login-errors]").await;
    assert!(browser.exists("[data-testid=login-wrong]").await);
    let focused = browser
        .js(
            "return document.activeElement && document.activeElement.dataset.testid;",
            vec![],
        )
        .await;
    assert_eq!(
        focused,
        Value::String("login-errors".into()),
        "the summary takes the focus"
    );
    assert_eq!(
        browser
            .attr("#login-password", "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    assert_accessible(&browser, "login with an error (en)").await;

    log_in(&browser, "sok.dara", &one_time).await;
    browser
        .wait_for_element("[data-testid=password-form]")
        .await;
    assert!(browser.exists("[data-testid=password-required]").await);
    assert_accessible(&browser, "first-login password (en)").await;
    type_into(&browser, "#password-current", &one_time).await;
    type_into(&browser, "#password-new", NEW_PASSWORD).await;
    type_into(&browser, "#password-confirm", NEW_PASSWORD).await;
    browser.click("[data-testid=password-submit]").await;

    browser.wait_for_element("[data-testid=open-intents]").await;
    assert_eq!(browser.text("[data-testid=open-count]").await, "1");
    assert!(browser
        .text("[data-testid=open-intents]")
        .await
        .contains("0320000301"));
    assert_eq!(browser.text("[data-testid=paid-count]").await, "1");
    assert_eq!(browser.text("[data-testid=console-name]").await, "Sok Dara");
    assert_accessible(&browser, "dashboard (en, 1280)").await;

    browser.click("[data-testid=lang-switch]").await;
    browser
        .wait_for("Khmer", WAIT_LANG, || async {
            browser.attr("html", "lang").await.as_deref() == Some("km")
        })
        .await;
    browser.wait_for_element("[data-testid=open-intents]").await;
    assert_accessible(&browser, "dashboard (km, 1280)").await;
    browser.set_viewport(PHONE).await;
    browser.open(&stack.url("/console")).await;
    browser.wait_for_element("[data-testid=open-intents]").await;
    assert_accessible(&browser, "dashboard (km, 360)").await;
    browser.open(&stack.url("/console?lang=en")).await;
    browser.wait_for_element("[data-testid=open-intents]").await;
    assert_accessible(&browser, "dashboard (en, 360)").await;

    browser.click("[data-testid=console-logout]").await;
    browser.wait_for_element("[data-testid=login-form]").await;
    browser.open(&stack.url("/console")).await;
    browser.wait_for_element("[data-testid=login-form]").await;
    browser.set_viewport(DESK).await;
    browser.close().await;
}

const WAIT_LANG: std::time::Duration = std::time::Duration::from_secs(10);

/// The console's pages for `make screenshots`: login (with an error), the password form and
/// the dashboard, Khmer and English, at a desk: `console-<page>-<lang>-1280.png` in `dir`.
pub(crate) async fn screenshots(stack: &Stack, browser: &mut Browser, dir: &Path) {
    browser.set_viewport(DESK).await;
    for lang in ["km", "en"] {
        browser
            .open(&stack.url(&format!("/console/login?lang={lang}")))
            .await;
        browser.wait_for_element("[data-testid=login-form]").await;
        browser
            .screenshot(&dir.join(format!("console-login-{lang}-1280.png")))
            .await;
        log_in(browser, "cashier.0320", "not the password").await;
        browser.wait_for_element("[data-testid=login-errors]").await;
        browser
            .screenshot(&dir.join(format!("console-login-error-{lang}-1280.png")))
            .await;
        log_in(browser, "cashier.0320", "owso-demo-pass").await;
        browser.wait_for_element("[data-testid=open-count]").await;
        browser
            .screenshot(&dir.join(format!("console-dashboard-{lang}-1280.png")))
            .await;
        browser.open(&stack.url("/console/password")).await;
        browser
            .wait_for_element("[data-testid=password-form]")
            .await;
        browser
            .screenshot(&dir.join(format!("console-password-{lang}-1280.png")))
            .await;
        browser.click("[data-testid=console-logout]").await;
        browser.wait_for_element("[data-testid=login-form]").await;
        println!("wrote {}/console-*-{lang}-1280.png", dir.display());
    }
}
