//! The books on the console (issue 16) in headless chromium. Through the API: two sandbox
//! payments of office 0320 (a second apart) and one of office 1201. In the browser: the office
//! auditor `auditor.1201` sees only 1201's accounts in the trial balance and gets the
//! not-found page for a 0320 statement; the national `auditor` sees both offices, and one
//! office when chosen; the picker set to an instant between the two 0320 payments shows the
//! balance without the second; the statement pages forward and back by cursor, each line
//! naming its receipt and bank transaction; axe-core clean on both pages, in Khmer and English.

use std::path::Path;

use crate::reconciliation::sandbox_paid;
use crate::support::browser::{browser, Browser, DESK};
use crate::support::console::*;
use crate::support::*;
use serde_json::Value;

const REVENUE_0320: &str = "0320:revenue:labour:KHR";

async fn login(stack: &Stack, browser: &Browser, username: &str) {
    browser.open(&stack.url("/console/login?lang=en")).await;
    browser.wait_for_element("[data-testid=login-form]").await;
    type_into(browser, "#login-username", username).await;
    type_into(browser, "#login-password", DEMO_PASSWORD).await;
    browser.click("[data-testid=login-submit]").await;
    browser.wait_for_element("[data-testid=console-name]").await;
}

async fn logout(browser: &Browser) {
    browser.click("[data-testid=console-logout]").await;
    browser.wait_for_element("[data-testid=login-form]").await;
}

/// The offices of the trial balance's lines on the page now open.
async fn offices_shown(browser: &Browser) -> Vec<String> {
    let offices = browser
        .js(
            "return [...document.querySelectorAll('[data-testid=trial-balance] tbody tr')].map(r => r.dataset.office);",
            vec![],
        )
        .await;
    let mut offices: Vec<String> = offices
        .as_array()
        .unwrap()
        .iter()
        .map(|office| office.as_str().unwrap().to_owned())
        .collect();
    offices.dedup();
    offices
}

/// The balance cell of `account` on the trial balance page now open (read in one script, so
/// a page being replaced reads as nothing rather than failing).
async fn balance_shown(browser: &Browser, account: &str) -> String {
    browser
        .js(
            "const cell = document.querySelector('tr[data-account=\"' + arguments[0] + '\"] [data-testid=account-balance]'); return cell ? cell.textContent.trim() : '';",
            vec![Value::String(account.to_owned())],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The statement page's opening balance (as [`balance_shown`]).
async fn opening_shown(browser: &Browser) -> String {
    browser
        .js(
            "const cell = document.querySelector('[data-testid=statement-opening]'); return cell ? cell.textContent.trim() : '';",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the statement page's opening balance reads exactly `text`.
async fn opening_is(browser: &Browser, text: &str) {
    browser
        .wait_for(
            &format!("opening balance {text}"),
            std::time::Duration::from_secs(10),
            || async { opening_shown(browser).await == text },
        )
        .await;
}

/// The page now open passes axe-core in Khmer and in English (left open in English), and is
/// photographed in both when `shots` is given.
async fn check_page(browser: &mut Browser, name: &str, ready: &str, shots: Option<&Path>) {
    let url = browser.client.current_url().await.unwrap();
    for lang in ["km", "en"] {
        let mut with_lang = url.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| key != "lang")
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        with_lang
            .query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("lang", lang);
        browser.open(with_lang.as_str()).await;
        browser.wait_for_element(ready).await;
        assert_accessible(browser, &format!("{name} ({lang})")).await;
        if let Some(dir) = shots {
            browser
                .screenshot(&dir.join(format!("console-{name}-{lang}-1280.png")))
                .await;
        }
    }
}

/// Two 0320 payments a second apart and one of 1201; the Phnom Penh time (to the second)
/// between the two 0320 payments.
async fn make_books(stack: &Stack, series: u32) -> String {
    sandbox_paid(stack, "0320", &format!("0320{series:03}001")).await;
    let between = chrono::Utc::now() + chrono::Duration::hours(7);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    sandbox_paid(stack, "0320", &format!("0320{series:03}002")).await;
    sandbox_paid(stack, "1201", &format!("1201{series:03}001")).await;
    between.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The national auditor's walk: both offices, one office, the picker, the statement's pages.
async fn national_walk(stack: &Stack, browser: &mut Browser, between: &str) {
    login(stack, browser, "auditor").await;
    browser.open(&stack.url("/console/books?lang=en")).await;
    browser
        .wait_for_element("[data-testid=trial-balance]")
        .await;
    let offices = offices_shown(browser).await;
    assert!(offices.contains(&"0320".to_owned()), "{offices:?}");
    assert!(offices.contains(&"1201".to_owned()), "{offices:?}");
    assert_eq!(balance_shown(browser, REVENUE_0320).await, "-1,200,000 ៛");
    check_page(browser, "books", "[data-testid=trial-balance]", None).await;

    // One office, chosen in the select.
    browser.click("#books-office option[value='0320']").await;
    browser.click("[data-testid=books-show]").await;
    browser
        .wait_for("only 0320", std::time::Duration::from_secs(10), || async {
            offices_shown(browser).await == vec!["0320".to_owned()]
        })
        .await;

    // The instant between the two payments: the second is not in the balance yet.
    browser
        .js(
            "document.getElementById('books-at').value = arguments[0];",
            vec![Value::String(between.to_owned())],
        )
        .await;
    browser.click("[data-testid=books-show]").await;
    browser
        .wait_for(
            "the balance before the second payment",
            std::time::Duration::from_secs(10),
            || async { balance_shown(browser, REVENUE_0320).await == "-600,000 ៛" },
        )
        .await;

    // The statement, one line a page: forward, forward, back.
    browser
        .open(&stack.url(&format!(
            "/console/books/accounts/{REVENUE_0320}?from=2020-01-01&limit=1&lang=en"
        )))
        .await;
    browser
        .wait_for_element("[data-testid=statement-lines]")
        .await;
    assert_eq!(browser.text("[data-testid=statement-opening]").await, "0 ៛");
    assert_eq!(
        browser.text("[data-testid=statement-closing]").await,
        "-1,200,000 ៛"
    );
    assert_eq!(
        browser.text("[data-testid=line-balance]").await,
        "-600,000 ៛"
    );
    assert!(!browser.exists("[data-testid=statement-previous]").await);
    assert!(browser.exists("[data-testid=line-receipt]").await);
    assert!(browser.exists("[data-testid=line-bank-id]").await);
    check_page(
        browser,
        "books-statement",
        "[data-testid=statement-lines]",
        None,
    )
    .await;
    browser.click("[data-testid=statement-next]").await;
    opening_is(browser, "-600,000 ៛").await;
    assert_eq!(
        browser.text("[data-testid=line-balance]").await,
        "-1,200,000 ៛"
    );
    assert!(!browser.exists("[data-testid=statement-next]").await);
    browser.click("[data-testid=statement-previous]").await;
    opening_is(browser, "0 ៛").await;
    assert_eq!(
        browser.text("[data-testid=line-balance]").await,
        "-600,000 ៛"
    );
    assert!(browser.exists("[data-testid=statement-next]").await);
    logout(browser).await;
}

#[tokio::test]
async fn office_and_national_auditors_read_the_books() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(DESK));
    let Some(mut browser) = browser else { return };
    let between = make_books(&stack, 701).await;

    // The office auditor: 1201 only, and a 0320 statement is not found.
    login(&stack, &browser, "auditor.1201").await;
    browser.open(&stack.url("/console/books?lang=en")).await;
    browser
        .wait_for_element("[data-testid=trial-balance]")
        .await;
    assert_eq!(offices_shown(&browser).await, vec!["1201".to_owned()]);
    assert!(!browser.exists("#books-office").await, "no office choice");
    assert_eq!(browser.text("[data-testid=books-own-office]").await, "1201");
    let status = stack
        .http
        .get(stack.url(&format!(
            "/v1/ledger/accounts/{REVENUE_0320}/statement?from=2020-01-01"
        )))
        .bearer_auth(stack.key("auditor"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "the account exists");
    browser
        .open(&stack.url(&format!("/console/books/accounts/{REVENUE_0320}?lang=en")))
        .await;
    browser.wait_for_element("[data-testid=not-found]").await;
    // The not-found page has no console chrome: log out from the books page.
    browser.open(&stack.url("/console/books?lang=en")).await;
    logout(&browser).await;

    national_walk(&stack, &mut browser, &between).await;
    browser.close().await;
}

/// The books pages for `make screenshots` (Khmer and English, 1280):
/// console-books{,-statement}-<lang>-1280.png in `dir`.
pub(crate) async fn screenshots(stack: &Stack, browser: &mut Browser, dir: &Path) {
    browser.set_viewport(DESK).await;
    make_books(stack, 702).await;
    login(stack, browser, "auditor").await;
    browser.open(&stack.url("/console/books?lang=en")).await;
    browser
        .wait_for_element("[data-testid=trial-balance]")
        .await;
    check_page(browser, "books", "[data-testid=trial-balance]", Some(dir)).await;
    browser
        .open(&stack.url(&format!(
            "/console/books/accounts/{REVENUE_0320}?from=2020-01-01&limit=10&lang=en"
        )))
        .await;
    browser
        .wait_for_element("[data-testid=statement-lines]")
        .await;
    check_page(
        browser,
        "books-statement",
        "[data-testid=statement-lines]",
        Some(dir),
    )
    .await;
    logout(browser).await;
    println!(
        "wrote {}/console-books{{,-statement}}-*-1280.png",
        dir.display()
    );
}
