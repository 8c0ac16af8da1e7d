//! The citizen's pay page: its language, lines and total, each state's own page, the KHQR
//! button (made, reused, renewed, bounded), the deep link, the status route it follows, and
//! the public JSON carrying only what the page shows.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::TestApp;

fn token_of(intent: &Value) -> String {
    intent["pay_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

/// A browser that does not follow redirects (the KHQR button's 303 is checked as it is).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(app: &TestApp, path: &str) -> Page {
    let response = browser()
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    Page {
        status,
        headers,
        html: response.text().await.unwrap(),
    }
}

/// Taps the KHQR button (an HTML form post, no script).
async fn tap_khqr(app: &TestApp, token: &str) {
    let response = browser()
        .post(format!("{}/pay/{token}/khqr", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        format!("/pay/{token}").as_str()
    );
}

async fn attempts(app: &TestApp) -> i64 {
    app.scalar_i64("select count(*) from payment_attempts")
        .await
}

/// Expires every attempt, as if its time had passed.
async fn expire_attempts(app: &TestApp) {
    sqlx::query(
        "update payment_attempts set created_at = now() - interval '30 minutes',
             expires_at = now() - interval '1 minute'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

/// The QR's KHQR string, read back from the attempt the page shows.
async fn current_qr(app: &TestApp) -> String {
    sqlx::query_scalar(
        "select khqr from payment_attempts where channel = 'khqr' order by created_at desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn pay_at_bakong(app: &TestApp, qr: &str) {
    let paid = app
        .http
        .post(format!("{}/bakong/sim/pay", app.sim_base))
        .json(&json!({ "qr": qr }))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    sqlx::query("update payment_attempts set next_check_at = now() where poll_state = 'active'")
        .execute(&app.pool)
        .await
        .unwrap();
    let client = app.state.bakong.clone().unwrap();
    payments::workers::khqr_poller::poll_once(&app.state, &client)
        .await
        .unwrap();
}

fn assert_page_headers(page: &Page) {
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(page.headers["cache-control"], "private, no-store");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(!page.html.contains("style="), "no inline style");
    assert!(!page.html.contains("<script>"), "no inline script");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_page_is_khmer_by_default_and_english_one_tap_away(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320018100").await;
    let token = token_of(&intent);

    let km = page(&app, &format!("/pay/{token}")).await;
    assert_eq!(km.status, StatusCode::OK);
    assert_page_headers(&km);
    assert!(km.html.contains("<html lang=\"km\">"), "{}", km.html);
    assert!(km.html.contains("លេខកូដចុះបញ្ជីសេវា"));
    assert!(km
        .html
        .contains("data-testid=\"case-reference\">0320018100<"));
    assert!(km.html.contains("ច្រកចេញចូលតែមួយ") || km.html.contains("0320"));
    assert!(
        km.html.contains("ការចុះបញ្ជី និងទិដ្ឋាការបទបញ្ជាផ្ទៃក្នុង"),
        "the line in Khmer"
    );
    assert!(
        km.html
            .contains("id=\"total\" data-testid=\"total\">600,000 ៛<"),
        "{}",
        km.html
    );
    assert!(km.html.contains("data-testid=\"status\""));
    assert!(km.html.contains("រង់ចាំការបង់ប្រាក់"));
    assert!(km.html.contains("data-testid=\"pay-khqr\""));
    assert!(km.html.contains("data-testid=\"check-again\""));
    assert!(km.html.contains(&format!(
        "data-status-url=\"/v1/public/payments/{token}/status\""
    )));
    // The script is served under its hashed name, and the page links it.
    let script = payments::http::web::assets::url("pay.js");
    assert!(
        km.html
            .contains(&format!("<script src=\"{script}\" defer>")),
        "{}",
        km.html
    );
    let js = app
        .http
        .get(format!("{}{script}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("data-status-url"));
    // Every line says its legal basis, or that none is published.
    let lines = km.html.matches("data-testid=\"line\"").count();
    let bases = km.html.matches("data-testid=\"legal-basis").count();
    assert_eq!((lines, bases), (1, 1));

    let en = page(&app, &format!("/pay/{token}?lang=en")).await;
    assert_eq!(en.status, StatusCode::OK);
    assert!(en.html.contains("<html lang=\"en\">"));
    assert!(en.html.contains("Service registration code"));
    assert!(en
        .html
        .contains("Registration and visa of the internal regulations"));
    assert!(en.html.contains("Awaiting payment"));
    assert!(en.html.contains(">600,000 ៛<"));
    let cookie = en.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("owso_lang=en"), "{cookie}");
    // The choice sticks: the next page is English without ?lang.
    let again = browser()
        .get(format!("{}/pay/{token}", app.base))
        .header("cookie", "owso_lang=en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(again.contains("<html lang=\"en\">"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_legal_basis_the_source_does_not_print_reads_as_not_published(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app
        .quote("0320", "legalization.business_certificate_notarization")
        .await;
    let intent = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("intent-legal"),
            &json!({"quote_id": quote["id"], "case_reference": "0320018150", "payer": {"name": "Sok Dara", "phone": "+85512345678"}}),
        )
        .await;
    assert_eq!(intent.status, StatusCode::CREATED, "{}", intent.body);
    let token = token_of(&intent.body);
    let km = page(&app, &format!("/pay/{token}")).await;
    assert!(km.html.contains("មិនទាន់បានផ្សព្វផ្សាយមូលដ្ឋានច្បាប់"), "{}", km.html);
    assert!(
        !km.html.contains("presumably"),
        "no research note on the page"
    );
    let en = page(&app, &format!("/pay/{token}?lang=en")).await;
    assert!(en.html.contains("legal basis not published"));
    let public = app.get(&format!("/v1/public/payments/{token}"), None).await;
    assert_eq!(public.body["lines"][0]["legal_basis"], Value::Null);
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_and_malformed_tokens_get_the_not_found_page(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let long = format!("/pay/pt_{}", "a".repeat(5_000));
    for path in [
        "/pay/pt_nope",
        "/pay/nope",
        "/pay/pt_%00",
        "/pay/pt_%ff%fe",
        "/pay/%E1%9E%80",
        "/pay/pt_nope?lang=en",
        "/pay/pt_nope?lang=%00",
        long.as_str(),
    ] {
        let answer = page(&app, path).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            answer.html
        );
        assert_eq!(
            answer.headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        assert!(answer.html.contains("<!doctype html>"), "{path}");
        assert_eq!(answer.headers["referrer-policy"], "no-referrer");
    }
    let en = page(&app, "/pay/pt_nope?lang=en").await;
    assert!(en.html.contains("This payment link is not valid"));
    let km = page(&app, "/pay/pt_nope").await;
    assert!(km.html.contains("តំណបង់ប្រាក់នេះមិនត្រឹមត្រូវ"));
    // The KHQR button of a link that is not there, too.
    let answer = browser()
        .post(format!("{}/pay/pt_nope/khqr", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert_eq!(answer.headers()["content-type"], "text/html; charset=utf-8");
    // The status route is JSON: a problem, never a 5xx.
    for path in [
        "/v1/public/payments/pt_nope/status",
        "/v1/public/payments/x/status",
    ] {
        let answer = app.get(path, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn cancelled_and_expired_payments_say_to_ask_for_a_new_link(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let cancelled = app.intent("0320018101").await;
    let reply = app
        .post(
            &format!(
                "/v1/payment-intents/{}/cancel",
                cancelled["id"].as_str().unwrap()
            ),
            Some(app.key("workflow")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = token_of(&cancelled);
    let km = page(&app, &format!("/pay/{token}")).await;
    assert_eq!(km.status, StatusCode::OK);
    assert!(km.html.contains("data-testid=\"cancelled\""));
    assert!(km.html.contains("បានលុបចោល"));
    assert!(
        !km.html.contains("data-testid=\"pay-khqr\""),
        "no way to pay"
    );
    assert!(!km.html.contains("data-status-url"), "nothing to follow");
    let en = page(&app, &format!("/pay/{token}?lang=en")).await;
    assert!(en.html.contains("This payment was cancelled"));
    assert!(en
        .html
        .contains("Ask the One Window Service Office for a new payment link"));
    // Its button does nothing but show the page again.
    tap_khqr(&app, &token).await;
    assert_eq!(attempts(&app).await, 0);

    let expired = app.intent("0320018102").await;
    sqlx::query(
        "update payment_intents set created_at = now() - interval '2 days',
             expires_at = now() - interval '1 minute' where id = $1::uuid",
    )
    .bind(expired["id"].as_str().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    payments::workers::expiry::sweep(&app.state).await.unwrap();
    let token = token_of(&expired);
    let en = page(&app, &format!("/pay/{token}?lang=en")).await;
    assert_eq!(en.status, StatusCode::OK);
    assert!(en.html.contains("data-testid=\"expired\""), "{}", en.html);
    assert!(en.html.contains("This payment link has expired"));
    assert!(
        en.html.contains("ask the One Window Service Office")
            || en.html.contains("Ask the One Window Service Office")
    );
    assert!(!en.html.contains("data-testid=\"pay-khqr\""));
}

#[sqlx::test(migrations = "../migrations")]
async fn one_tap_shows_a_khqr_to_scan_and_a_second_tap_reuses_it(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320018103").await;
    let token = token_of(&intent);
    tap_khqr(&app, &token).await;
    assert_eq!(attempts(&app).await, 1);
    let attempt_id: uuid::Uuid = sqlx::query_scalar("select id from payment_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let km = page(&app, &format!("/pay/{token}")).await;
    assert_page_headers(&km);
    let image = format!("src=\"/v1/public/attempts/{attempt_id}/qr.png\"");
    assert!(km.html.contains(&image), "{}", km.html);
    assert!(km.html.contains("id=\"qr-image\" data-testid=\"qr-image\""));
    assert!(km.html.contains("width=\"264\""));
    assert!(km.html.contains("alt=\""));
    // The amount and the payee as the bank app reads them from the QR.
    assert!(
        km.html.contains("data-testid=\"qr-amount\">600,000 ៛<"),
        "{}",
        km.html
    );
    assert!(km.html.contains("data-testid=\"merchant-name\">OWSO 0320"));
    assert!(km.html.contains("ច្រកចេញចូលតែមួយ ០៣២០"));
    assert!(km.html.contains("data-testid=\"countdown\""));
    assert!(km.html.contains("data-testid=\"qr-expiry\" datetime=\""));
    let save = format!("/v1/public/attempts/{attempt_id}/qr.png?download=1");
    assert!(km.html.contains(&format!("href=\"{save}\"")), "{}", km.html);
    let saved = app
        .http
        .get(format!("{}{save}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    assert_eq!(saved.headers()["content-type"], "image/png");
    assert!(saved.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"khqr-"));
    let shown = app
        .http
        .get(format!(
            "{}/v1/public/attempts/{attempt_id}/qr.png",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 200);
    assert!(!shown.headers().contains_key("content-disposition"));
    // The page's weight budget (UI.md: 50 kB without the font): the PNG, not the 30 kB SVG.
    let png = shown.bytes().await.unwrap().len();
    eprintln!("pay page {} bytes, QR PNG {png} bytes", km.html.len());
    assert!(png < 10_000, "the QR image is {png} bytes");
    // Bank-sim gave a deep link on its own origin; the page offers it.
    assert!(
        km.html.contains(&format!(
            "data-testid=\"deeplink\" href=\"{}/bakong/sim/deeplink/",
            app.sim_base
        )),
        "{}",
        km.html
    );

    // The workflow's JSON view of the attempt carries the same deep link.
    let workflow = app.key("workflow").to_owned();
    let listed = app
        .get(
            &format!(
                "/v1/payment-intents/{}/attempts",
                intent["id"].as_str().unwrap()
            ),
            Some(&workflow),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let deeplink = listed.body["data"][0]["deeplink"]
        .as_str()
        .unwrap_or_default();
    assert!(
        deeplink.starts_with(&format!("{}/bakong/sim/deeplink/", app.sim_base)),
        "{}",
        listed.body
    );
    let document = app.get("/openapi.json", None).await.body;
    assert!(
        document["components"]["schemas"]["AttemptView"]["properties"]
            .get("deeplink")
            .is_some()
    );

    // A second tap while the QR is good keeps it.
    tap_khqr(&app, &token).await;
    assert_eq!(attempts(&app).await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_deep_link_the_page_just_has_no_such_button(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let knobs = app
        .http
        .post(format!("{}/bakong/sim/control", app.sim_base))
        .json(&json!({"deeplink_error": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(knobs.status(), 200);
    let intent = app.intent("0320018104").await;
    let token = token_of(&intent);
    tap_khqr(&app, &token).await;
    assert_eq!(attempts(&app).await, 1);
    let km = page(&app, &format!("/pay/{token}")).await;
    assert!(km.html.contains("data-testid=\"qr-image\""));
    assert!(!km.html.contains("data-testid=\"deeplink\""));
    // Nor does the JSON view carry one: the field is left out, not null.
    let workflow = app.key("workflow").to_owned();
    let listed = app
        .get(
            &format!(
                "/v1/payment-intents/{}/attempts",
                intent["id"].as_str().unwrap()
            ),
            Some(&workflow),
        )
        .await;
    assert!(
        listed.body["data"][0]["khqr"].is_string(),
        "{}",
        listed.body
    );
    assert!(
        listed.body["data"][0].get("deeplink").is_none(),
        "{}",
        listed.body
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_expired_qr_offers_a_new_one_up_to_the_attempt_limit(pool: PgPool) {
    let app = TestApp::start_with(pool, |config| config.max_attempts_per_intent = 2).await;
    let intent = app.intent("0320018105").await;
    let token = token_of(&intent);
    tap_khqr(&app, &token).await;
    expire_attempts(&app).await;
    let en = page(&app, &format!("/pay/{token}?lang=en")).await;
    assert!(!en.html.contains("data-testid=\"qr-image\""));
    assert!(
        en.html.contains("data-testid=\"qr-expired\""),
        "{}",
        en.html
    );
    assert!(en.html.contains("New QR code"));
    tap_khqr(&app, &token).await;
    assert_eq!(attempts(&app).await, 2);
    assert!(page(&app, &format!("/pay/{token}"))
        .await
        .html
        .contains("data-testid=\"qr-image\""));
    // The limit reached: said plainly, and the button makes nothing.
    expire_attempts(&app).await;
    let en = page(&app, &format!("/pay/{token}?lang=en")).await;
    assert!(
        en.html.contains("data-testid=\"attempt-limit\""),
        "{}",
        en.html
    );
    assert!(en.html.contains("the most QR codes it may have (2)"));
    assert!(!en.html.contains("data-testid=\"pay-khqr\""));
    tap_khqr(&app, &token).await;
    assert_eq!(attempts(&app).await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_status_route_and_the_page_turn_paid_with_the_receipt_number(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320018106").await;
    let token = token_of(&intent);
    let status_path = format!("/v1/public/payments/{token}/status");
    let before = app.get(&status_path, None).await;
    assert_eq!(before.status, StatusCode::OK);
    assert_eq!(
        before.body,
        json!({"status": "awaiting_payment", "receipt_number": null, "paid_at": null})
    );
    assert_eq!(before.headers["cache-control"], "private, no-store");
    let json_path = format!("/v1/public/payments/{token}");
    let unpaid = app.get(&json_path, None).await;
    assert_eq!(unpaid.body["receipt_url"], Value::Null, "{}", unpaid.body);

    tap_khqr(&app, &token).await;
    pay_at_bakong(&app, &current_qr(&app).await).await;
    // The receipt number follows the payment's commit closely.
    let mut after = app.get(&status_path, None).await;
    for _ in 0..50 {
        if after.body["receipt_number"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = app.get(&status_path, None).await;
    }
    assert_eq!(after.body["status"], "paid", "{}", after.body);
    let number = after.body["receipt_number"].as_str().unwrap().to_owned();
    assert!(after.body["paid_at"].is_string());

    let km = page(&app, &format!("/pay/{token}")).await;
    assert!(km.html.contains("data-testid=\"paid\""));
    assert!(
        km.html
            .contains(&format!("data-testid=\"receipt-number\">{number}<")),
        "{}",
        km.html
    );
    assert!(km.html.contains("data-testid=\"paid-at\" datetime=\""));
    assert!(km.html.contains("បានបង់ប្រាក់"));
    assert!(
        !km.html.contains("data-testid=\"qr-image\""),
        "nothing left to pay"
    );
    assert!(
        !km.html.contains("data-status-url"),
        "final: nothing to follow"
    );
    let en = page(&app, &format!("/pay/{token}?lang=en")).await;
    assert!(en.html.contains("Paid. Thank you."));
    assert!(en.html.contains("Receipt number"));

    // The paid page links the receipt with its tag, and the link opens it.
    let link = km
        .html
        .split("data-testid=\"receipt-link\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no receipt link: {}", km.html))
        .replace("&amp;", "&");
    assert!(
        link.starts_with(&format!("/receipts/{number}?t=")),
        "{link}"
    );
    let receipt = page(&app, &link).await;
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.html);
    assert!(receipt.html.contains(&number));

    // The public JSON links the same tagged receipt, absolute like its other addresses.
    let paid = app.get(&json_path, None).await;
    assert_eq!(
        paid.body["receipt_url"],
        json!(format!("{}{link}", app.base)),
        "{}",
        paid.body
    );
    let document = app.get("/openapi.json", None).await.body;
    assert!(
        document["components"]["schemas"]["PublicPaymentView"]["properties"]
            .get("receipt_url")
            .is_some()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_public_json_carries_only_what_the_page_shows(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320018107").await;
    let token = token_of(&intent);
    tap_khqr(&app, &token).await;
    let public = app.get(&format!("/v1/public/payments/{token}"), None).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.body);
    let line = &public.body["lines"][0];
    for internal in [
        "revenue_account",
        "rule_path",
        "rule",
        "params",
        "source_rows",
        "schedule_version",
        "band",
        "sector",
    ] {
        assert!(
            line.get(internal).is_none(),
            "line carries {internal}: {line}"
        );
    }
    assert_eq!(
        line["amount"],
        json!({"amount": "600000", "currency": "KHR"})
    );
    let attempt = &public.body["attempts"][0];
    for internal in [
        "provider_reference",
        "khqr_md5",
        "bill_number",
        "failure_reason",
        "bank_paid_at",
        "payment_intent_id",
        "khqr",
    ] {
        assert!(
            attempt.get(internal).is_none(),
            "attempt carries {internal}: {attempt}"
        );
    }
    assert!(attempt["qr_png_url"].as_str().unwrap().ends_with("/qr.png"));
    // The OpenAPI schema says the same.
    let document = app.get("/openapi.json", None).await.body;
    let schemas = &document["components"]["schemas"];
    assert!(schemas["PublicLineView"]["properties"]
        .get("revenue_account")
        .is_none());
    assert!(schemas["PublicAttemptView"]["properties"]
        .get("provider_reference")
        .is_none());
    assert!(document["paths"]["/v1/public/payments/{token}/status"]["get"].is_object());
}

#[sqlx::test(migrations = "../migrations")]
async fn two_taps_at_once_make_one_khqr(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320018108").await;
    let token = token_of(&intent);
    tokio::join!(
        tap_khqr(&app, &token),
        tap_khqr(&app, &token),
        tap_khqr(&app, &token),
        tap_khqr(&app, &token)
    );
    assert_eq!(attempts(&app).await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_status_route_is_rate_limited_per_token_with_the_page(pool: PgPool) {
    let app = TestApp::start_with(pool, |config| config.rate_limit_token_per_minute = 3).await;
    let intent = app.intent("0320018109").await;
    let token = token_of(&intent);
    assert_eq!(
        page(&app, &format!("/pay/{token}")).await.status,
        StatusCode::OK
    );
    let status_path = format!("/v1/public/payments/{token}/status");
    for _ in 0..2 {
        assert_eq!(app.get(&status_path, None).await.status, StatusCode::OK);
    }
    let limited = app.get(&status_path, None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["code"], "rate_limited");
    // Another payment's link is not held back by this one's.
    let other = token_of(&app.intent("0320018110").await);
    assert_eq!(
        app.get(&format!("/v1/public/payments/{other}/status"), None)
            .await
            .status,
        StatusCode::OK
    );
}
