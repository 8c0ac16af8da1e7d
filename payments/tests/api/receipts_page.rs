//! The citizen's receipt page (`/receipts/{number}?t=`), its verification page (`/verify/...`,
//! what the receipt's QR opens) and the status page (`/status`), over HTTP.

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use payments::app::receipt_pages::receipt_url;
use payments::app::secrets::Keyring;
use reqwest::StatusCode;
use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

/// The payer every test intent carries (support.rs), which no public page but the receipt
/// may show.
const PAYER: &str = "Sok Dara";

struct Page {
    status: StatusCode,
    content_type: String,
    cache_control: String,
    body: String,
}

async fn page(app: &TestApp, path: &str) -> Page {
    let response = app
        .http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, cache_control) = (header("content-type"), header("cache-control"));
    Page {
        status: response.status(),
        content_type,
        cache_control,
        body: response.text().await.unwrap(),
    }
}

/// A paid (sandbox) payment of 600,000 KHR at office 0320: its receipt number.
async fn paid(app: &TestApp, case: &str) -> String {
    let (intent_id, reference) = app.pending_attempt(case).await;
    let reply = app
        .callback(
            &callback_body(&format!("sbx_{case}"), &reference, "600000"),
            SECRET,
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    sqlx::query_scalar("select receipt_number from payment_intents where id = $1::uuid")
        .bind(&intent_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The Cambodian date of a receipt's payment.
async fn paid_date(app: &TestApp, number: &str) -> String {
    sqlx::query_scalar(
        "select to_char(paid_at at time zone 'UTC' + interval '7 hours', 'YYYY-MM-DD')
         from payment_intents where receipt_number = $1",
    )
    .bind(number)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

fn link(app: &TestApp, number: &str) -> String {
    receipt_url(&Keyring::from_config(&app.state.config).unwrap(), number)
}

/// The value of the first `attribute="..."` after `marker` (HTML entities of `&` undone).
fn attribute_after(html: &str, marker: &str, attribute: &str) -> String {
    let rest = &html[html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker}: {html}"))..];
    let start = rest.find(&format!("{attribute}=\"")).unwrap() + attribute.len() + 2;
    let value = &rest[start..];
    value[..value.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// The text of the element that carries `marker` (up to its closing tag).
fn text_of(html: &str, marker: &str) -> String {
    let rest = &html[html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker}: {html}"))..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..start + rest[start..].find('<').unwrap()].to_owned()
}

/// The verification address on a receipt page, as a path on the test server.
fn verify_path(app: &TestApp, receipt_html: &str) -> String {
    let url = attribute_after(receipt_html, r#"data-testid="verify-link""#, "href");
    assert!(
        url.starts_with(&format!("{}/verify/", app.base)),
        "under PUBLIC_BASE_URL: {url}"
    );
    url[app.base.len()..].to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_receipt_opens_with_its_tag_and_shows_the_payment(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let number = paid(&app, "0320RCPT01").await;
    assert!(number.starts_with("0320-"), "{number}");

    let receipt = page(&app, &link(&app, &number)).await;
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.body);
    assert_eq!(receipt.content_type, "text/html; charset=utf-8");
    assert_eq!(receipt.cache_control, "private, no-store");
    let html = &receipt.body;
    assert!(html.contains(r#"<html lang="km">"#));
    assert_eq!(text_of(html, r#"data-testid="receipt-number""#), number);
    assert_eq!(text_of(html, r#"data-testid="receipt-total""#), "600,000 ៛");
    assert_eq!(text_of(html, r#"data-testid="receipt-case""#), "0320RCPT01");
    assert_eq!(text_of(html, r#"data-testid="receipt-payer""#), PAYER);
    // The office in both languages, the channel, the time in Cambodia.
    assert!(html.contains("ការិយាល័យច្រកចេញចូលតែមួយ ស្រុក (ខេត្តកំពង់ចាម) ០៣២០"));
    assert!(html.contains("OWSO district 0320 (Kampong Cham)"));
    assert_eq!(
        text_of(html, r#"data-testid="receipt-channel""#),
        "ធនាគារសាកល្បង"
    );
    assert!(html.contains("UTC+7"));
    let date = paid_date(&app, &number).await;
    assert!(
        html.contains(&format!("<time>{date} ")),
        "the Cambodian date {date}"
    );
    // The line, with its amount formatted for people.
    assert!(html.contains(r#"<td class="num amount">600,000 ៛</td>"#));
    // The verification QR, drawn on the server, encodes exactly the verification address.
    let qr = attribute_after(html, r#"data-testid="verify-qr""#, "src");
    let png = qr.strip_prefix("data:image/png;base64,").unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(png)
        .unwrap();
    let verify_url = format!("{}{}", app.base, verify_path(&app, html));
    let mut reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(
        grids[0].decode().unwrap().1,
        verify_url,
        "the QR scans to the link"
    );
    // The page stays light on a phone: the QR is a small PNG, not a large SVG.
    assert!(html.len() < 20_000, "{} bytes", html.len());
    // The print button (shown by its script) and the script itself.
    assert!(html.contains(r#"id="print-button" data-testid="print-button" hidden"#));
    let script = payments::http::web::assets::url("print.js");
    assert!(html.contains(&format!(r#"<script src="{script}" defer></script>"#)));
    let script = page(&app, &script).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.body.contains("window.print()"));

    // In English, the same receipt.
    let english = page(&app, &format!("{}&lang=en", link(&app, &number))).await;
    assert_eq!(english.status, StatusCode::OK);
    assert!(english.body.contains("Service fee receipt"));
    assert!(english.body.contains("Test bank (sandbox)"));
    assert_eq!(
        text_of(&english.body, r#"data-testid="receipt-total""#),
        "600,000 ៛"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_receipt_without_its_own_tag_is_not_found(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let number = paid(&app, "0320RCPT02").await;
    let other = paid(&app, "0320RCPT03").await;
    let other_tag = link(&app, &other).split("?t=").nth(1).unwrap().to_owned();
    let unknown = "0320-2026-999999";
    for path in [
        format!("/receipts/{number}"),
        format!("/receipts/{number}?t="),
        format!("/receipts/{number}?t=AAAAAAAAAAAAAAAAAAAAAA"),
        format!("/receipts/{number}?t=not%20base64%21"),
        // Another receipt's tag opens that receipt only.
        format!("/receipts/{number}?t={other_tag}"),
        // A well-made tag of a number no payment holds.
        link(&app, unknown),
        format!("/receipts/%FF%FE?t={other_tag}"),
        format!("/receipts/{}", "9".repeat(500)),
    ] {
        let answer = page(&app, &path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            answer.content_type, "text/html; charset=utf-8",
            "an HTML page, not a problem: {path}"
        );
        assert!(answer.body.contains("រកមិនឃើញបង្កាន់ដៃនេះទេ"), "{path}");
        assert!(!answer.body.contains(PAYER), "{path}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_receipts_verification_link_verifies_and_shows_nothing_personal(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let number = paid(&app, "0320RCPT04").await;
    let receipt = page(&app, &link(&app, &number)).await;
    let path = verify_path(&app, &receipt.body);

    let verified = page(&app, &format!("{path}&lang=en")).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.content_type, "text/html; charset=utf-8");
    assert_eq!(verified.cache_control, "private, no-store");
    let html = &verified.body;
    assert_eq!(
        attribute_after(html, r#"id="verify-result""#, "data-result"),
        "verified"
    );
    assert!(html.contains("This receipt is genuine"));
    assert_eq!(text_of(html, r#"data-testid="verify-number""#), number);
    assert_eq!(text_of(html, r#"data-testid="verify-amount""#), "600,000 ៛");
    assert!(text_of(html, r#"data-testid="verify-office""#).contains("OWSO district 0320"));
    assert_eq!(
        text_of(html, r#"data-testid="verify-date""#),
        paid_date(&app, &number).await
    );
    assert!(!html.contains(PAYER), "no payer on the verification page");
    assert!(
        !html.contains("0320RCPT04"),
        "no case on the verification page"
    );

    // Khmer by default.
    let khmer = page(&app, &path).await;
    assert_eq!(khmer.status, StatusCode::OK);
    assert!(khmer.body.contains("បង្កាន់ដៃនេះត្រឹមត្រូវ"));
}

/// `path` with query parameter `name` set to `value`.
fn with_param(path: &str, name: &str, value: &str) -> String {
    let (route, query) = path.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key == name => format!("{key}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{route}?{}", query.join("&"))
}

fn param(path: &str, name: &str) -> String {
    path.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap()
        .to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_altered_or_forged_receipt_does_not_verify(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let number = paid(&app, "0320RCPT05").await;
    let other = paid(&app, "0320RCPT06").await;
    let path = verify_path(&app, &page(&app, &link(&app, &number)).await.body);
    let date = param(&path, "d");
    let signature = param(&path, "s");

    // A fixer's own key signing the receipt they want to show.
    let claim = |number: &str, amount: &str| {
        format!("owso-pay receipt v1\n{number}\n{amount}\nKHR\n0320\n{date}")
    };
    let forger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(forger.sign(claim(&number, "60000").as_bytes()).to_bytes());
    // The service's own key over a receipt it never issued (a leaked key is not enough).
    let service = payments::app::books::digests::signing_key(&app.state.config)
        .unwrap()
        .unwrap();
    let unknown = "0320-2026-999999";
    let never_issued = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(service.sign(claim(unknown, "600000").as_bytes()).to_bytes());
    let mut flipped = signature.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();

    for altered in [
        with_param(&path, "a", "6000000"),
        with_param(&path, "a", "60000"),
        with_param(&path, "c", "USD"),
        with_param(&path, "o", "1201"),
        with_param(&path, "d", "2020-01-01"),
        path.replace(&number, &other),
        with_param(&path, "s", &flipped),
        with_param(&path, "s", "AAAA"),
        with_param(&path, "s", "%FF%00"),
        with_param(&with_param(&path, "a", "60000"), "s", &forged),
        with_param(&path.replace(&number, unknown), "s", &never_issued),
        path.split_once('?').unwrap().0.to_owned(),
        format!("/verify/{number}?a=&c=&o=&d=&s="),
        format!("/verify/%FF?{}", path.split_once('?').unwrap().1),
        "/verify/x%0Ay?a=1&c=KHR&o=0320&d=2026-01-01&s=AAAA".to_owned(),
    ] {
        let separator = if altered.contains('?') { '&' } else { '?' };
        let answer = page(&app, &format!("{altered}{separator}lang=en")).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{altered}");
        assert_eq!(answer.content_type, "text/html; charset=utf-8", "{altered}");
        assert_eq!(
            attribute_after(&answer.body, r#"id="verify-result""#, "data-result"),
            "not-verified",
            "{altered}"
        );
        assert!(
            answer.body.contains("This receipt does NOT verify"),
            "{altered}"
        );
        assert!(!answer.body.contains("600,000"), "{altered}");
    }
    // The genuine one still verifies (the loop changed nothing).
    assert_eq!(page(&app, &path).await.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn receipts_print_on_a5_or_an_80mm_roll_without_their_buttons(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let css = page(&app, &payments::http::web::assets::url("site.css"))
        .await
        .body;
    assert!(css.contains("@page receipt-a5 { size: A5 portrait;"), "A5");
    assert!(
        css.contains("@page receipt-80mm { size: 80mm "),
        "80 mm roll"
    );
    let print = &css[css.rfind("@media print").unwrap()..];
    assert!(print.contains("main.paper-a5 { page: receipt-a5;"));
    assert!(print.contains("main.paper-80mm { page: receipt-80mm;"));
    assert!(
        print.contains(".receipt-actions, #print-button, .no-print { display: none !important; }")
    );

    let number = paid(&app, "0320RCPT07").await;
    let a5 = page(&app, &link(&app, &number)).await.body;
    assert!(a5.contains(r#"<main id="main" class="receipt-main paper-a5">"#));
    // The buttons and paper links sit in the block print hides.
    let actions = &a5[a5.find(r#"class="receipt-actions no-print""#).unwrap()..];
    assert!(actions.contains(r#"data-testid="print-button""#));
    let roll = attribute_after(&a5, r#"data-testid="paper-80mm""#, "href");
    let roll = page(&app, &roll).await;
    assert_eq!(roll.status, StatusCode::OK);
    assert!(roll
        .body
        .contains(r#"<main id="main" class="receipt-main paper-80mm">"#));
}

#[sqlx::test(migrations = "../migrations")]
async fn status_finds_a_paid_case_by_office_and_code_without_personal_data(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let number = paid(&app, "0320STAT01").await;

    let found = page(&app, "/status?office=0320&code=0320STAT01").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(found.content_type, "text/html; charset=utf-8");
    assert_eq!(found.cache_control, "private, no-store");
    let html = &found.body;
    assert!(html.contains(r#"data-testid="status-result""#));
    assert_eq!(
        attribute_after(html, r#"data-testid="status-state""#, "data-state"),
        "paid"
    );
    assert_eq!(text_of(html, r#"data-testid="status-state""#), "បានបង់ប្រាក់");
    assert_eq!(text_of(html, r#"data-testid="status-total""#), "600,000 ៛");
    assert_eq!(
        text_of(html, r#"data-testid="status-receipt-number""#),
        number
    );
    assert!(!html.contains(PAYER));
    assert!(!html.contains("85512345678"));
    assert!(
        !html.contains("/receipts/"),
        "no way to the receipt from here"
    );

    // A case still awaiting payment: its state and total, no receipt number.
    app.intent("0320STAT02").await;
    let waiting = page(&app, "/status?office=0320&code=+0320STAT02+&lang=en").await;
    assert_eq!(waiting.status, StatusCode::OK);
    assert_eq!(
        text_of(&waiting.body, r#"data-testid="status-state""#),
        "Awaiting payment"
    );
    assert!(!waiting.body.contains("status-receipt-number"));

    // Unknown code, the right code at another office, an unknown office, an absurd code.
    for path in [
        "/status?office=0320&code=NOPE".to_owned(),
        "/status?office=1201&code=0320STAT01".to_owned(),
        "/status?office=9999&code=0320STAT01".to_owned(),
        format!("/status?office=0320&code={}", "x".repeat(500)),
        "/status?office=%FF&code=%FE".to_owned(),
        "/status?office=0320&code=%00".to_owned(),
        "/status?office=%00&code=0320STAT01".to_owned(),
    ] {
        let answer = page(&app, &path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.content_type, "text/html; charset=utf-8", "{path}");
        assert!(answer.body.contains("រកមិនឃើញការបង់ប្រាក់"), "{path}");
    }

    // A field left empty: the form again, naming it, with what was typed.
    let incomplete = page(&app, "/status?office=0320&code=").await;
    assert_eq!(incomplete.status, StatusCode::BAD_REQUEST);
    assert!(incomplete.body.contains(r#"data-testid="status-errors""#));
    assert!(incomplete.body.contains(r##"href="#status-code""##));
    assert!(!incomplete.body.contains(r##"href="#status-office""##));
    assert!(incomplete
        .body
        .contains(r#"<option value="0320" selected>"#));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_status_form_lists_offices_by_province(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let form = page(&app, "/status").await;
    assert_eq!(form.status, StatusCode::OK);
    let html = &form.body;
    assert!(html.contains(r#"<form method="get" action="/status" id="status-form""#));
    assert!(html.contains(r#"<label for="status-office">"#));
    assert!(html.contains(r#"<label for="status-code">"#));
    assert!(!html.contains(r#"data-testid="status-errors""#));
    // Each office inside its province's group, in Khmer.
    let group = |label: &str| {
        let start = html.find(&format!(r#"<optgroup label="{label}""#)).unwrap();
        html[start..start + html[start..].find("</optgroup>").unwrap()].to_owned()
    };
    assert!(group("ខេត្តកំពង់ចាម")
        .contains(r#"<option value="0320">ការិយាល័យច្រកចេញចូលតែមួយ ស្រុក (ខេត្តកំពង់ចាម) ០៣២០</option>"#));
    assert!(group("រាជធានីភ្នំពេញ").contains(r#"<option value="1201">"#));
    assert!(!group("ខេត្តកំពង់ចាម").contains(r#"value="1201""#));
    // The national suspense office is nobody's to visit.
    assert!(!html.contains(r#"value="0000""#));

    let english = page(&app, "/status?lang=en").await.body;
    assert!(english.contains(r#"<optgroup label="Kampong Cham" data-province="03">"#));
    assert!(english.contains("OWSO khan 1201 (Phnom Penh)</option>"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_citizen_pages_are_rate_limited_per_address(pool: PgPool) {
    let app = TestApp::start_with(pool, |config| config.rate_limit_address_per_minute = 1).await;
    assert_eq!(page(&app, "/status").await.status, StatusCode::OK);
    for path in ["/status", "/verify/x?a=1", "/receipts/x?t=y"] {
        let limited = page(&app, path).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lost_database_is_a_503_page_in_the_persons_language_on_every_citizen_page(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let number = paid(&app, "0320777001").await;
    let receipt = link(&app, &number);
    let verify = verify_path(&app, &page(&app, &receipt).await.body);
    app.state.pool.close().await;
    for path in [
        receipt.clone(),
        verify.clone(),
        "/status".to_owned(),
        "/status?office=0320&code=0320777001".to_owned(),
        "/services".to_owned(),
        "/services?q=labour".to_owned(),
    ] {
        for (lang, words) in [
            ("km", "សេវាមិនទាន់អាចប្រើបានទេ"),
            ("en", "The service is busy"),
        ] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = format!("{}{path}{sep}lang={lang}", app.base);
            let response = app.http.get(&url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{url}");
            let headers = response.headers().clone();
            assert_eq!(headers["content-type"], "text/html; charset=utf-8", "{url}");
            assert_eq!(headers["retry-after"], "2", "{url}");
            assert_eq!(headers["cache-control"], "private, no-store", "{url}");
            let html = response.text().await.unwrap();
            assert!(html.contains(words), "{url}: {html}");
            assert!(html.contains(r#"data-testid="error-page""#), "{url}");
            assert!(!html.contains("database_unavailable"), "{url}: {html}");
        }
    }
}
