//! The auditor's proofs and the admin's period close in headless chromium (issue 16).
//!
//! Proofs: a payment settles and is sealed; the national auditor verifies the chain from
//! /console/proofs (ok), an entry's postings are tampered with as the database owner, and the
//! next verification started on the page names that entry. Period close: a drawer of office
//! 0320 opened in January 2026 (backdated as the owner) is still open, so the admin sees the
//! checklist fail with the drawer listed and no close form; the drawer closes, the admin
//! closes the month (the confirm step first refuses an unticked box) and it is shown closed
//! and read-only; the audit trail's filters then find that close and nothing for an unknown
//! person. axe-core on every page.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection as _, PgConnection};

use crate::support::browser::{browser, Browser, DESK};
use crate::support::console::*;
use crate::support::*;

async fn login(stack: &Stack, browser: &Browser, username: &str) {
    browser.open(&stack.url("/console/login?lang=en")).await;
    browser.wait_for_element("[data-testid=login-form]").await;
    type_into(browser, "#login-username", username).await;
    type_into(browser, "#login-password", DEMO_PASSWORD).await;
    browser.click("[data-testid=login-submit]").await;
    browser.wait_for_element("[data-testid=console-name]").await;
}

async fn owner(db: &TestDb) -> PgConnection {
    PgConnection::connect(&db.url).await.unwrap()
}

/// Waits until the service's sealer has chained every entry.
async fn all_sealed(db: &TestDb) {
    let mut conn = owner(db).await;
    for _ in 0..300 {
        let unsealed: i64 = sqlx::query_scalar(
            "select count(*) from ledger_entries e
             where not exists (select 1 from ledger_seals s where s.entry_id = e.id)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if unsealed == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("entries left unsealed");
}

async fn paid(stack: &Stack, case: &str) {
    let (intent_id, reference) = stack.pending_attempt(case).await;
    stack.pay_at_sandbox(&reference, json!({})).await;
    stack.wait_paid(&intent_id).await;
}

/// The latest run on the proofs page: `(id, status, ok)`, read in one script call (proofs.js
/// reloads the page while a run goes on, so an element found before a reload goes stale); `None`
/// when there is none or the call met a reload.
async fn latest_run(browser: &Browser) -> Option<(String, String, String)> {
    let found = browser
        .client
        .execute(
            "var e = document.querySelector('[data-testid=verification-status]'); return e ? [e.dataset.run, e.dataset.status, e.dataset.ok || ''] : null;",
            vec![],
        )
        .await
        .ok()?;
    let parts = found.as_array()?;
    let text = |index: usize| parts.get(index).and_then(Value::as_str).map(str::to_owned);
    Some((text(0)?, text(1)?, text(2)?))
}

/// Starts a verification on the page and waits (the page reloads itself) for its result;
/// returns `ok` as the page states it ("true" or "false").
async fn verify_on_page(browser: &Browser) -> String {
    browser.wait_for_element("[data-testid=verify-start]").await;
    let before = latest_run(browser).await.map(|(id, _, _)| id);
    browser.click("[data-testid=verify-start]").await;
    let mut ok = String::new();
    for _ in 0..600 {
        if let Some((id, status, found)) = latest_run(browser).await {
            if Some(&id) != before.as_ref() && status != "running" {
                ok = found;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !ok.is_empty(),
        "the verification did not finish on the page"
    );
    // Let the page settle: nothing reloads it once the run is over.
    browser.wait_for_element("[data-testid=verify-start]").await;
    ok
}

#[tokio::test]
async fn an_auditor_verifies_the_chain_on_the_page_and_it_names_a_tampered_entry() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(DESK));
    let Some(browser) = browser else { return };
    paid(&stack, "0320016301").await;
    paid(&stack, "0320016302").await;
    all_sealed(&db).await;

    login(&stack, &browser, "auditor").await;
    browser.open(&stack.url("/console/proofs")).await;
    browser.wait_for_element("[data-testid=verification]").await;
    assert_accessible(&browser, "proofs (before any run)").await;
    assert_eq!(verify_on_page(&browser).await, "true");
    assert!(!browser.exists("[data-testid=bad-entry]").await);
    assert!(browser.exists("[data-testid=bundle-download]").await);
    assert_accessible(&browser, "proofs (ok)").await;

    // Tamper with the last entry's amounts as the database owner.
    let mut conn = owner(&db).await;
    let last: i64 = sqlx::query_scalar("select max(id) from ledger_entries")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("update ledger_postings set amount_minor = amount_minor + sign(amount_minor) where entry_id = $1")
        .bind(last)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    browser.open(&stack.url("/console/proofs")).await;
    assert_eq!(verify_on_page(&browser).await, "false");
    assert_eq!(
        browser.text("[data-testid=bad-entry]").await,
        last.to_string()
    );
    assert!(!browser
        .text("[data-testid=verification-reason]")
        .await
        .is_empty());
    assert!(browser.exists("[data-testid=verification-history]").await);
    assert_accessible(&browser, "proofs (tampered)").await;
    browser.close().await;
}

async fn post_with_key(stack: &Stack, key: &str, path: &str, body: Value) -> Value {
    let response = stack
        .http
        .post(stack.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

#[tokio::test]
async fn the_admin_closes_a_month_only_after_its_drawer_closed_and_the_audit_trail_shows_it() {
    let db = TestDb::create().await;
    let (stack, browser) = tokio::join!(start_stack(&db), browser(DESK));
    let Some(browser) = browser else { return };
    // Office 0320 has ledger accounts once a payment settled.
    paid(&stack, "0320016303").await;
    let cashier = stack
        .office_key("cashier", "0320")
        .expect("the seed's cashier key of office 0320");
    let drawer = post_with_key(
        &stack,
        &cashier,
        "/v1/cashier/sessions",
        json!({"office_code": "0320", "opening_float": []}),
    )
    .await;
    let drawer_id = drawer["id"].as_str().unwrap().to_owned();
    let mut conn = owner(&db).await;
    sqlx::query(
        "update cashier_sessions set opened_at = '2026-01-15T03:00:00Z' where id = $1::uuid",
    )
    .bind(&drawer_id)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    login(&stack, &browser, "admin").await;
    let month_page = stack.url("/console/periods?office=0320&month=2026-01");
    browser.open(&month_page).await;
    browser.wait_for_element("[data-testid=checklist]").await;
    assert_eq!(
        browser
            .attr("[data-testid=check-drawers]", "data-ok")
            .await
            .as_deref(),
        Some("false")
    );
    assert!(
        browser
            .exists(&format!(
                "[data-testid=open-drawers] tr[data-drawer='{drawer_id}']"
            ))
            .await,
        "the open drawer is listed"
    );
    assert!(browser.exists("[data-testid=close-blocked]").await);
    assert!(!browser.exists("[data-testid=close-form]").await);
    assert_accessible(&browser, "periods (blocked)").await;
    browser
        .open(&stack.url("/console/periods?office=0320&month=2026-01&lang=km"))
        .await;
    browser.wait_for_element("[data-testid=checklist]").await;
    assert_accessible(&browser, "periods (blocked, km)").await;

    // The drawer closes; now the month can be closed, after the confirm step.
    post_with_key(
        &stack,
        &cashier,
        &format!("/v1/cashier/sessions/{drawer_id}/close"),
        json!({"counted": []}),
    )
    .await;
    browser.open(&format!("{month_page}&lang=en")).await;
    browser.wait_for_element("[data-testid=close-form]").await;
    assert_eq!(
        browser
            .attr("[data-testid=checklist]", "data-passes")
            .await
            .as_deref(),
        Some("true")
    );
    browser.click("[data-testid=close-submit]").await;
    browser
        .wait_for_element("[data-testid=error-summary]")
        .await;
    assert_eq!(
        browser
            .attr("[data-testid=error-summary]", "data-code")
            .await
            .as_deref(),
        Some("confirm")
    );
    assert_accessible(&browser, "periods (not confirmed)").await;
    browser.click("[data-testid=close-confirm]").await;
    browser.click("[data-testid=close-submit]").await;
    browser
        .wait_for_element("[data-testid=period-closed-notice]")
        .await;
    assert!(browser.exists("[data-testid=month-closed]").await);
    assert!(!browser.exists("[data-testid=close-form]").await);
    assert!(
        browser
            .exists("[data-testid=closed-periods] tr[data-office='0320'][data-month='2026-01']")
            .await
    );
    assert_accessible(&browser, "periods (closed)").await;

    // The audit trail: the close is there under its kind; an unknown person finds nothing.
    browser.open(&stack.url("/console/audit")).await;
    browser.wait_for_element("[data-testid=audit-filter]").await;
    assert_accessible(&browser, "audit trail").await;
    browser
        .click("#audit-kind option[value='period_close']")
        .await;
    type_into(&browser, "#audit-office", "0320").await;
    browser.click("[data-testid=audit-apply]").await;
    // The unfiltered page has rows too: wait for the filtered one to be the page first.
    browser
        .wait_for(
            "the filtered audit trail",
            Duration::from_secs(10),
            || async {
                browser.client.current_url().await.is_ok_and(|url| {
                    url.as_str().contains("kind=period_close")
                        && url.as_str().contains("office=0320")
                })
            },
        )
        .await;
    browser.wait_for_element("[data-testid=audit-rows]").await;
    let kinds = browser
        .js(
            "return [...document.querySelectorAll('[data-testid=audit-rows] tbody tr')].map(r => r.dataset.kind + ':' + r.dataset.office + ':' + r.dataset.action);",
            vec![],
        )
        .await;
    assert_eq!(kinds, json!(["period_close:0320:period_closed"]));
    assert!(
        browser
            .text("[data-testid=audit-actor-cell]")
            .await
            .contains("Ouk Dara"),
        "the admin person closed it"
    );
    assert_accessible(&browser, "audit trail (filtered)").await;
    browser
        .open(&stack.url("/console/audit?kind=staff&actor=nobody-at-all"))
        .await;
    browser.wait_for_element("[data-testid=audit-none]").await;
    browser
        .open(&stack.url("/console/audit?kind=staff&actor=admin"))
        .await;
    browser.wait_for_element("[data-testid=audit-rows]").await;
    let actions = browser
        .js(
            "return [...document.querySelectorAll('[data-testid=audit-rows] tbody tr')].map(r => r.dataset.action);",
            vec![],
        )
        .await;
    assert!(
        actions
            .as_array()
            .unwrap()
            .iter()
            .any(|action| action == "login"),
        "{actions}"
    );
    browser
        .open(&stack.url("/console/audit?from=not-a-date"))
        .await;
    browser
        .wait_for_element("[data-testid=error-summary]")
        .await;
    assert_accessible(&browser, "audit trail (bad filter)").await;
    browser.close().await;
}

/// Opens `path` in Khmer and in English, holds each to axe-core and writes
/// console-`name`-<lang>-1280.png into `dir`.
async fn shoot(
    stack: &Stack,
    browser: &mut Browser,
    dir: &std::path::Path,
    name: &str,
    path: &str,
    ready: &str,
) {
    for lang in ["km", "en"] {
        let separator = if path.contains('?') { '&' } else { '?' };
        browser
            .open(&stack.url(&format!("{path}{separator}lang={lang}")))
            .await;
        browser.wait_for_element(ready).await;
        assert_accessible(browser, &format!("{name} ({lang})")).await;
        browser
            .screenshot(&dir.join(format!("console-{name}-{lang}-1280.png")))
            .await;
    }
}

/// The proofs, period close and audit trail pages for `make screenshots` (Khmer and English,
/// 1280): console-{proofs,periods,audit}-<lang>-1280.png in `dir`. The proofs page after a run
/// that verified; the admin's checklist of last month for office 0320; the audit trail.
pub(crate) async fn screenshots(stack: &Stack, browser: &mut Browser, dir: &std::path::Path) {
    use chrono::Datelike as _;
    browser.set_viewport(DESK).await;
    paid(stack, "0320016901").await;
    login(stack, browser, "auditor").await;
    browser.open(&stack.url("/console/proofs?lang=en")).await;
    assert_eq!(verify_on_page(browser).await, "true");
    shoot(
        stack,
        browser,
        dir,
        "proofs",
        "/console/proofs",
        "[data-testid=verify-start]",
    )
    .await;
    shoot(
        stack,
        browser,
        dir,
        "audit",
        "/console/audit",
        "[data-testid=audit-filter]",
    )
    .await;
    browser.click("[data-testid=console-logout]").await;
    browser.wait_for_element("[data-testid=login-form]").await;
    login(stack, browser, "admin").await;
    let last_month = (chrono::Utc::now() + chrono::Duration::hours(7))
        .date_naive()
        .with_day(1)
        .and_then(|first| first.pred_opt())
        .map(|day| day.format("%Y-%m").to_string())
        .unwrap();
    shoot(
        stack,
        browser,
        dir,
        "periods",
        &format!("/console/periods?office=0320&month={last_month}"),
        "[data-testid=checklist]",
    )
    .await;
    browser.click("[data-testid=console-logout]").await;
    browser.wait_for_element("[data-testid=login-form]").await;
    println!(
        "wrote {}/console-{{proofs,audit,periods}}-*-1280.png",
        dir.display()
    );
}
