//! What the console's browser tests share: the demo people's password, typing into a field,
//! the accessibility check every page passes, and the trial balance to compare a drawer with.

use serde_json::Value;

use super::browser::Browser;
use super::Stack;

/// The development seed's password of every demo person (cashier.0320, supervisor.0320, ...).
pub const DEMO_PASSWORD: &str = "owso-demo-pass";

/// No serious or critical axe-core finding, and no sideways scrolling at the current width.
pub async fn assert_accessible(browser: &Browser, page: &str) {
    if let Some((scroll, inner)) = browser.horizontal_overflow().await {
        // Name the culprits: the elements whose right edge passes the window's (not those inside a
        // scrolling table region, which scroll there).
        let wide = browser
            .js(
                "return [...document.querySelectorAll('body *')]
                   .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement && e.parentElement.closest('.table-scroll')))
                   .slice(0, 8)
                   .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
                vec![],
            )
            .await;
        panic!("{page} scrolls sideways at {inner} px: it is {scroll} px wide; too wide: {wide}");
    }
    let violations = browser.axe_serious_violations().await;
    assert!(
        violations.is_empty(),
        "{page}: axe-core found serious or critical violations:\n{}",
        violations
            .iter()
            .map(|violation| format!("{violation:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Replaces the text of the field `css` with `text`, typed as keys.
pub async fn type_into(browser: &Browser, css: &str, text: &str) {
    let field = browser.find(css).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// The balance of `account` in the trial balance (an auditor's view), "0" when it has none.
pub async fn trial_balance(stack: &Stack, account: &str) -> String {
    let body: Value = stack
        .http
        .get(stack.url("/v1/ledger/trial-balance"))
        .bearer_auth(stack.key("auditor"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["account"] == account)
        .map_or_else(
            || "0".to_owned(),
            |row| row["balance"].as_str().unwrap().to_owned(),
        )
}
