//! The end of the cashier's day on the console (issue 14): void with a supervisor's approval,
//! the blind close with a sign-off of a variance, the drawer's report (HTML and CSV) and the
//! deposit, as a browser posts the forms (session cookie, CSRF field).

use payments::app::seed::DEMO_PASSWORD;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::pages::{browser, log_in, read, Page, Person};
use crate::support::TestApp;

async fn post_form(app: &TestApp, path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Page {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    read(
        browser()
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get_page(app: &TestApp, path: &str, cookie: &str) -> Page {
    read(
        browser()
            .get(format!("{}{path}", app.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A JSON call as the logged-in person (the console's own JSON side: cookie + X-CSRF-Token).
async fn json_as(app: &TestApp, person: &Person, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = browser()
        .post(format!("{}{path}", app.base))
        .header("cookie", &person.cookie)
        .header("x-csrf-token", &person.csrf)
        .header("content-type", "application/json")
        .header("idempotency-key", Uuid::now_v7().to_string())
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The cashier opens a drawer with a 10,000 riel float and takes cash for `cases` (600,000
/// riel each); returns the drawer id and the receipt numbers.
async fn a_day(app: &TestApp, cashier: &Person, cases: &[&str]) -> (String, Vec<String>) {
    let (status, drawer) = json_as(
        app,
        cashier,
        "/v1/cashier/sessions",
        &json!({"office_code": "0320", "opening_float": [{"amount": "10000", "currency": "KHR"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{drawer}");
    let id = drawer["id"].as_str().unwrap().to_owned();
    let mut numbers = Vec::new();
    for case in cases {
        let intent = app.intent(case).await;
        let (status, receipt) = json_as(
            app,
            cashier,
            &format!("/v1/cashier/sessions/{id}/receipts"),
            &json!({"payment_intent_id": intent["id"], "tendered": {"amount": "600000", "currency": "KHR"}}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        numbers.push(receipt["number"].as_str().unwrap().to_owned());
    }
    (id, numbers)
}

/// The hidden `idempotency_key` of a rendered form.
fn form_key(html: &str) -> String {
    let at = html.find("name=\"idempotency_key\" value=\"").unwrap() + 30;
    html[at..].split('"').next().unwrap().to_owned()
}

/// The text of the element with `data-testid=ID`.
fn testid(html: &str, id: &str) -> String {
    let marker = format!("data-testid=\"{id}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id} in {html}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    rest[start..start + end].trim().to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_void_needs_a_supervisors_password_never_the_cashiers_own(pool: sqlx::PgPool) {
    let app = TestApp::start(pool).await;
    let cashier = log_in(&app, "cashier.0320").await;
    let (_, numbers) = a_day(&app, &cashier, &["0320099801"]).await;
    let number = &numbers[0];
    let path = format!("/console/receipts/{number}/void");

    let form = get_page(&app, &path, &cashier.cookie).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    assert_eq!(testid(&form.html, "void-number"), *number);
    assert!(form.html.contains("data-testid=\"void-approver-password\""));
    assert!(form
        .html
        .contains("value=\"reopen\" data-testid=\"void-then-reopen\" checked"));
    let key = form_key(&form.html);

    // The reason is required, and named.
    let before = app.ledger_entries().await;
    let missing = post_form(
        &app,
        &path,
        &cashier.cookie,
        &[
            ("csrf", &cashier.csrf),
            ("idempotency_key", &key),
            ("reason", " "),
            ("then", "reopen"),
            ("approver_username", "supervisor.0320"),
            ("approver_password", DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing
        .html
        .contains("data-testid=\"void-error-reason-missing\""));
    assert!(missing.html.contains("href=\"#void-reason\""));
    // The password field is never filled again.
    assert!(!missing.html.contains(DEMO_PASSWORD));

    // The cashier typing their own username and password: refused, one message, nothing posted.
    let own = post_form(
        &app,
        &path,
        &cashier.cookie,
        &[
            ("csrf", &cashier.csrf),
            ("idempotency_key", &key),
            ("reason", "typed twice"),
            ("then", "reopen"),
            ("approver_username", "cashier.0320"),
            ("approver_password", DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.html);
    assert!(own
        .html
        .contains("data-testid=\"void-error-approval-refused\""));
    assert!(!own.html.contains(DEMO_PASSWORD));
    assert_eq!(app.ledger_entries().await, before);

    // No CSRF field: refused, nothing changes.
    let forged = post_form(
        &app,
        &path,
        &cashier.cookie,
        &[
            ("idempotency_key", &key),
            ("reason", "forged"),
            ("approver_username", "supervisor.0320"),
            ("approver_password", DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.ledger_entries().await, before);

    // The supervisor types their password on the cashier's screen; a double click is one void.
    let pairs = [
        ("csrf", cashier.csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("reason", "typed twice"),
        ("then", "reopen"),
        ("approver_username", "supervisor.0320"),
        ("approver_password", DEMO_PASSWORD),
    ];
    let (first, second) = tokio::join!(
        post_form(&app, &path, &cashier.cookie, &pairs),
        post_form(&app, &path, &cashier.cookie, &pairs)
    );
    for page in [&first, &second] {
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        assert_eq!(
            page.location(),
            format!("/console/receipts/{number}/voided")
        );
    }
    assert_eq!(
        app.ledger_entries().await,
        before + 1,
        "one reversing entry"
    );
    let done = get_page(&app, first.location(), &cashier.cookie).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(testid(&done.html, "voided-reason"), "typed twice");
    assert!(testid(&done.html, "voided-reversal").starts_with('#'));
    assert!(
        done.html.contains("/receipts/") && done.html.contains("data-testid=\"voided-verify\"")
    );
    assert_eq!(app.balance("0320:cash:drawer:KHR").await, "0");

    // A second void (a new form): a plain 409 message, nothing posted.
    let again = post_form(
        &app,
        &path,
        &cashier.cookie,
        &[
            ("csrf", &cashier.csrf),
            ("idempotency_key", "another-form"),
            ("reason", "again"),
            ("approver_username", "supervisor.0320"),
            ("approver_password", DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);
    assert!(again.html.contains("data-testid=\"void-already\""));
    assert_eq!(app.ledger_entries().await, before + 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_supervisor_approves_a_void_from_their_own_session(pool: sqlx::PgPool) {
    let app = TestApp::start(pool).await;
    let cashier = log_in(&app, "cashier.0320").await;
    let supervisor = log_in(&app, "supervisor.0320").await;
    let (_, numbers) = a_day(&app, &cashier, &["0320099802"]).await;
    let path = format!("/console/receipts/{}/void", numbers[0]);
    let form = get_page(&app, &path, &supervisor.cookie).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    assert!(form.html.contains("data-testid=\"void-self-approves\""));
    assert!(!form.html.contains("approver_password"));
    let key = form_key(&form.html);
    let page = post_form(
        &app,
        &path,
        &supervisor.cookie,
        &[
            ("csrf", &supervisor.csrf),
            ("idempotency_key", &key),
            ("reason", "wrong case"),
            ("then", "cancel"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let done = get_page(&app, page.location(), &supervisor.cookie).await;
    assert!(
        done.html.contains("Supervisor") || done.html.contains("supervisor"),
        "{}",
        done.html
    );
    let status: String = sqlx::query_scalar(
        "select status::text from payment_intents where case_reference = '0320099802'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(status, "cancelled");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_drawer_that_counts_right_closes_and_a_short_one_needs_a_sign_off(pool: sqlx::PgPool) {
    let app = TestApp::start(pool).await;
    let cashier = log_in(&app, "cashier.0320").await;

    // Zero variance: 10,000 float + 600,000 counted as notes.
    let (right, _) = a_day(&app, &cashier, &["0320099803"]).await;
    let form = get_page(&app, "/console/drawer/close", &cashier.cookie).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    assert!(form.html.contains("data-testid=\"close-blind\""));
    assert!(
        !form.html.contains("data-testid=\"expected-KHR\""),
        "the count is blind"
    );
    assert!(form
        .html
        .contains(&format!("/console/drawers/{right}/close")));
    let closed = post_form(
        &app,
        &format!("/console/drawers/{right}/close"),
        &cashier.cookie,
        &[
            ("csrf", &cashier.csrf),
            ("khr_200000", "3"),
            ("khr_10000", "1"),
        ],
    )
    .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.html);
    assert_eq!(
        closed.location(),
        format!("/console/drawers/{right}/report")
    );

    // 500 riel short: first refused, the amounts now shown, the counts kept.
    let (short, _) = a_day(&app, &cashier, &["0320099804"]).await;
    let path = format!("/console/drawers/{short}/close");
    let counts = [
        ("khr_200000", "3"),
        ("khr_5000", "1"),
        ("khr_2000", "2"),
        ("khr_500", "1"),
    ];
    let mut pairs = vec![("csrf", cashier.csrf.as_str())];
    pairs.extend(counts);
    let before = app.ledger_entries().await;
    let first = post_form(&app, &path, &cashier.cookie, &pairs).await;
    assert_eq!(first.status, StatusCode::CONFLICT, "{}", first.html);
    assert_eq!(testid(&first.html, "expected-KHR"), "610,000 ៛");
    assert_eq!(testid(&first.html, "counted-KHR"), "609,500 ៛");
    assert!(testid(&first.html, "variance-KHR").starts_with("-500 ៛"));
    assert!(
        first.html.contains("name=\"khr_5000\" value=\"1\""),
        "counts kept"
    );
    assert!(first.html.contains("name=\"signing\" value=\"1\""));
    assert_eq!(app.ledger_entries().await, before, "nothing posted");

    // The cashier's own password is no sign-off.
    let mut own = pairs.clone();
    own.extend([
        ("signing", "1"),
        ("approver_username", "cashier.0320"),
        ("approver_password", DEMO_PASSWORD),
    ]);
    let refused = post_form(&app, &path, &cashier.cookie, &own).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    assert!(refused
        .html
        .contains("data-testid=\"close-approval-refused\""));
    assert!(!refused.html.contains(DEMO_PASSWORD));
    assert_eq!(app.ledger_entries().await, before);

    // The supervisor signs off on the cashier's screen.
    let mut signed = pairs.clone();
    signed.extend([
        ("signing", "1"),
        ("approver_username", "supervisor.0320"),
        ("approver_password", DEMO_PASSWORD),
    ]);
    let done = post_form(&app, &path, &cashier.cookie, &signed).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(app.balance("0320:cash-over-short:KHR").await, "500");

    // The report's numbers are the books': both drawers together are the office's cash:drawer.
    let report = get_page(&app, done.location(), &cashier.cookie).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.html);
    assert_eq!(testid(&report.html, "variance-KHR"), "-500 ៛");
    assert_eq!(testid(&report.html, "ledger-net-KHR"), "599,500 ៛");
    assert!(report.html.contains("data-testid=\"report-signed-off\""));
    let right_report = get_page(
        &app,
        &format!("/console/drawers/{right}/report"),
        &cashier.cookie,
    )
    .await;
    assert_eq!(testid(&right_report.html, "ledger-net-KHR"), "600,000 ៛");
    assert_eq!(app.balance("0320:cash:drawer:KHR").await, "1199500");

    // The CSV of the report, as an attachment.
    let csv = browser()
        .get(format!("{}/console/drawers/{short}/report.csv", app.base))
        .header("cookie", &cashier.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("section,item,currency,amount,detail"));
    assert!(
        text.contains("\"variance\",\"\",\"KHR\",\"-500\""),
        "{text}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deposit_is_at_most_what_the_drawer_holds(pool: sqlx::PgPool) {
    let app = TestApp::start(pool).await;
    let cashier = log_in(&app, "cashier.0320").await;
    let (id, _) = a_day(&app, &cashier, &["0320099805"]).await;
    let closed = post_form(
        &app,
        &format!("/console/drawers/{id}/close"),
        &cashier.cookie,
        &[
            ("csrf", &cashier.csrf),
            ("khr_200000", "3"),
            ("khr_10000", "1"),
        ],
    )
    .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.html);
    let path = format!("/console/drawers/{id}/deposit");
    let form = get_page(&app, &path, &cashier.cookie).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    // Prefilled with what the drawer holds: counted less the 10,000 float.
    assert!(
        form.html.contains("name=\"amount_khr\" value=\"600000\""),
        "{}",
        form.html
    );
    let key = form_key(&form.html);
    let before = app.ledger_entries().await;

    let too_much = post_form(
        &app,
        &path,
        &cashier.cookie,
        &[
            ("csrf", &cashier.csrf),
            ("idempotency_key", &key),
            ("amount_khr", "610000"),
            ("slip_reference", "ACL-1"),
        ],
    )
    .await;
    assert_eq!(
        too_much.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_much.html
    );
    assert!(too_much
        .html
        .contains("data-testid=\"deposit-error-deposit-khr\""));
    let no_slip = post_form(
        &app,
        &path,
        &cashier.cookie,
        &[
            ("csrf", &cashier.csrf),
            ("idempotency_key", &key),
            ("amount_khr", "600000"),
            ("slip_reference", ""),
        ],
    )
    .await;
    assert_eq!(no_slip.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_slip
        .html
        .contains("data-testid=\"deposit-error-deposit-slip\""));
    let forged = post_form(
        &app,
        &path,
        &cashier.cookie,
        &[("amount_khr", "600000"), ("slip_reference", "ACL-1")],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.ledger_entries().await, before);

    let pairs = [
        ("csrf", cashier.csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("amount_khr", "600,000"),
        ("amount_usd", ""),
        ("slip_reference", "ACL-DEP-0001"),
        ("bank_account", "acleda-001"),
    ];
    let (first, second) = tokio::join!(
        post_form(&app, &path, &cashier.cookie, &pairs),
        post_form(&app, &path, &cashier.cookie, &pairs)
    );
    for page in [&first, &second] {
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        assert_eq!(page.location(), format!("/console/drawers/{id}/report"));
    }
    assert_eq!(
        app.ledger_entries().await,
        before + 1,
        "a double submit is one deposit"
    );
    assert_eq!(app.balance("0320:cash-in-transit:KHR").await, "600000");
    assert_eq!(app.balance("0320:cash:drawer:KHR").await, "0");
    let report = get_page(&app, first.location(), &cashier.cookie).await;
    assert_eq!(testid(&report.html, "deposit-slip"), "ACL-DEP-0001");
    assert_eq!(testid(&report.html, "deposited-KHR"), "600,000 ៛");
}

#[sqlx::test(migrations = "../migrations")]
async fn another_offices_or_cashiers_drawer_is_not_there(pool: sqlx::PgPool) {
    let app = TestApp::start(pool).await;
    let cashier = log_in(&app, "cashier.0320").await;
    let (id, numbers) = a_day(&app, &cashier, &["0320099806"]).await;
    let elsewhere = log_in(&app, "cashier.1201").await;
    let colleague = log_in(&app, "cashier2.0320").await;
    for person in [&elsewhere, &colleague] {
        for path in [
            format!("/console/drawers/{id}/report"),
            format!("/console/drawers/{id}/report.csv"),
            format!("/console/drawers/{id}/close"),
            format!("/console/drawers/{id}/deposit"),
        ] {
            let page = get_page(&app, &path, &person.cookie).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.html);
        }
        let page = post_form(
            &app,
            &format!("/console/drawers/{id}/close"),
            &person.cookie,
            &[("csrf", &person.csrf), ("khr_200000", "3")],
        )
        .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
    }
    let page = get_page(
        &app,
        &format!("/console/receipts/{}/void", numbers[0]),
        &elsewhere.cookie,
    )
    .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // The supervisor sees the office's drawers, the overdue ones marked.
    let supervisor = log_in(&app, "supervisor.0320").await;
    let list = get_page(&app, "/console/drawers", &supervisor.cookie).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.html);
    assert!(list.html.contains(&format!("data-drawer=\"{id}\"")));
    sqlx::query(
        "update cashier_sessions set opened_at = now() - interval '2 days' where id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.pool)
    .await
    .unwrap();
    let list = get_page(&app, "/console/drawers", &supervisor.cookie).await;
    assert!(list.html.contains("data-testid=\"drawer-overdue\""));
    let report = get_page(
        &app,
        &format!("/console/drawers/{id}/report"),
        &supervisor.cookie,
    )
    .await;
    assert!(report.html.contains("data-testid=\"report-overdue\""));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_supervisor_closing_a_cashiers_drawer_sees_the_variance_before_their_session_signs_it(
    pool: sqlx::PgPool,
) {
    let app = TestApp::start(pool).await;
    let cashier = log_in(&app, "cashier.0320").await;
    let supervisor = log_in(&app, "supervisor.0320").await;
    let (id, _) = a_day(&app, &cashier, &["0320099807"]).await;
    let path = format!("/console/drawers/{id}/close");
    let form = get_page(&app, &path, &supervisor.cookie).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    let counts = [
        ("csrf", supervisor.csrf.as_str()),
        ("khr_200000", "3"),
        ("khr_5000", "1"),
    ];
    let before = app.ledger_entries().await;
    // The first count never signs, even by a supervisor's session: the variance is shown first.
    let first = post_form(&app, &path, &supervisor.cookie, &counts).await;
    assert_eq!(first.status, StatusCode::CONFLICT, "{}", first.html);
    assert!(first.html.contains("data-testid=\"close-self-approves\""));
    assert!(!first.html.contains("approver_password"));
    assert!(testid(&first.html, "variance-KHR").starts_with("-5,000 ៛"));
    assert_eq!(app.ledger_entries().await, before);
    let mut signed = counts.to_vec();
    signed.push(("signing", "1"));
    let done = post_form(&app, &path, &supervisor.cookie, &signed).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(app.balance("0320:cash-over-short:KHR").await, "5000");
}
