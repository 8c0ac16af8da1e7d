//! The counter's console pages (issue 14) over the router: open the drawer by counting notes,
//! find a case, take cash, the receipt printed from the console (original once, then COPY),
//! today's receipts, and the dashboard's "my drawer".

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::pages::{browser, log_in, read, Page, Person};
use crate::support::{callback_body, TestApp, SECRET};

/// The demo cashier of office 0320, as printed on receipts.
const CASHIER_NAME: &str = "Sok Dara (cashier 0320)";

async fn get_page(app: &TestApp, path: &str, person: &Person) -> Page {
    read(
        browser()
            .get(format!("{}{path}", app.base))
            .header("cookie", &person.cookie)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post_form(app: &TestApp, path: &str, person: &Person, pairs: &[(&str, &str)]) -> Page {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    read(
        browser()
            .post(format!("{}{path}", app.base))
            .header("cookie", &person.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The value of the hidden input `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Opens the person's drawer with a float of 5 x 10,000 riel and 10 x 1 dollar.
async fn open_drawer(app: &TestApp, person: &Person) {
    let page = post_form(
        app,
        "/console/drawer",
        person,
        &[
            ("csrf", &person.csrf),
            ("khr_10000", "5"),
            ("usd_1", "10"),
            ("action", "open"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// Posts the take-payment form of `intent` as rendered (its idempotency key) with `tendered`.
async fn take(app: &TestApp, person: &Person, intent: &str, tendered: &str) -> Page {
    let form = get_page(app, &format!("/console/take/{intent}"), person).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    let key = hidden(&form.html, "idempotency_key");
    post_form(
        app,
        &format!("/console/take/{intent}?lang=en"),
        person,
        &[
            ("csrf", &person.csrf),
            ("idempotency_key", &key),
            ("tendered", tendered),
        ],
    )
    .await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.scalar_i64(sql).await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cashier_opens_the_drawer_by_counting_notes_and_takes_cash_with_change(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let person = log_in(&app, "cashier.0320").await;

    // No drawer: the opening form, a count input per note.
    let form = get_page(&app, "/console/drawer?lang=en", &person).await;
    assert_eq!(form.status, StatusCode::OK);
    for field in ["khr_100", "khr_200000", "usd_1", "usd_100"] {
        assert!(
            form.html.contains(&format!("id=\"{field}\"")),
            "{field}: {}",
            form.html
        );
    }
    assert!(form.html.contains("data-testid=\"nav-drawer\""));
    assert!(
        !form.html.contains("data-testid=\"drawer-close-link\""),
        "no drawer open, nothing to close from this card"
    );

    // The server adds the count up and shows it back; nothing is opened yet.
    let fields = [
        ("csrf", person.csrf.as_str()),
        ("khr_10000", "5"),
        ("khr_500", "4"),
        ("usd_1", "10"),
        ("action", "review"),
    ];
    let review = post_form(&app, "/console/drawer?lang=en", &person, &fields).await;
    assert_eq!(review.status, StatusCode::OK, "{}", review.html);
    assert!(
        review
            .html
            .contains("data-testid=\"float-total-KHR\">52,000 ៛</li>"),
        "{}",
        review.html
    );
    assert!(review
        .html
        .contains("data-testid=\"float-total-USD\">$10.00</li>"));
    assert_eq!(
        count(&app, "select count(*) from cashier_sessions").await,
        0
    );

    // A count that is not a whole number is named; nothing is opened.
    let bad = post_form(
        &app,
        "/console/drawer?lang=en",
        &person,
        &[
            ("csrf", &person.csrf),
            ("khr_500", "2.5"),
            ("action", "open"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.html.contains("href=\"#khr_500\""), "{}", bad.html);
    assert_eq!(
        count(&app, "select count(*) from cashier_sessions").await,
        0
    );

    // Open: the drawer holds the counted float, by denomination.
    let mut open = fields.to_vec();
    open.pop();
    open.push(("action", "open"));
    let opened = post_form(&app, "/console/drawer", &person, &open).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.html);
    assert_eq!(opened.location(), "/console/drawer");
    let (khr, usd, notes): (i64, i64, Value) = sqlx::query_as(
        "select float_khr_minor, float_usd_minor, float_denominations from cashier_sessions",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((khr, usd), (52_000, 1_000));
    assert_eq!(notes.as_array().unwrap().len(), 3, "{notes}");
    // A second click on "Open" lands on the same drawer.
    let again = post_form(&app, "/console/drawer", &person, &open).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(
        count(&app, "select count(*) from cashier_sessions").await,
        1
    );

    // Take 600,000 riel with 700,000 handed over.
    let intent = app.intent("0320077001").await;
    let found = get_page(&app, "/console/take?q=0320077001", &person).await;
    assert_eq!(
        found.status,
        StatusCode::SEE_OTHER,
        "one case: straight to it"
    );
    assert_eq!(found.location(), format!("/console/take/{}", id(&intent)));
    let form = get_page(&app, &format!("{}?lang=en", found.location()), &person).await;
    assert!(form.html.contains("data-testid=\"take-due\">600,000 ៛</p>"));
    assert!(
        form.html.contains("whole riel"),
        "the label says the currency"
    );
    let taken = take(&app, &person, &id(&intent), "700,000").await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER, "{}", taken.html);
    assert!(
        taken.location().ends_with("?paper=80mm"),
        "the counter's roll by default: {}",
        taken.location()
    );
    let receipt_path = taken.location().split('?').next().unwrap().to_owned();
    assert!(
        receipt_path.starts_with("/console/receipts/0320-"),
        "{receipt_path}"
    );
    let receipt = get_page(&app, &format!("{}&lang=en", taken.location()), &person).await;
    assert!(receipt.html.contains("paper-80mm"));
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.html);
    assert!(receipt.html.contains(&format!(
        "data-testid=\"receipt-cashier\">{CASHIER_NAME}</dd>"
    )));
    assert!(
        receipt
            .html
            .contains("data-testid=\"change-amount\">100,000 ៛</p>"),
        "{}",
        receipt.html
    );
    assert!(receipt
        .html
        .contains("data-testid=\"receipt-tendered\">700,000 ៛</td>"));
    assert!(receipt.html.contains("data-print=\"original\""));
    assert!(!receipt.html.contains("data-testid=\"receipt-copy\""));

    // A USD service is paid in dollars and cents.
    let dollars = app.usd_intent("0320077002").await;
    let due: i64 = {
        let amount = dollars["total"]["amount"].as_str().unwrap();
        let (whole, cents) = amount.split_once('.').unwrap();
        whole.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
    };
    let form = get_page(
        &app,
        &format!("/console/take/{}?lang=en", id(&dollars)),
        &person,
    )
    .await;
    assert!(form.html.contains("dollars and cents"), "{}", form.html);
    let tendered = format!("{}.00", due / 100 + 1);
    let taken = take(&app, &person, &id(&dollars), &tendered).await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER, "{}", taken.html);
    let receipt = get_page(&app, taken.location(), &person).await;
    let change = 100 - due % 100;
    assert!(
        receipt.html.contains(&format!(
            "data-testid=\"change-amount\">${}.{:02}</p>",
            change / 100,
            change % 100
        )),
        "{}",
        receipt.html
    );

    // My drawer and the dashboard: the float plus what was taken.
    let drawer = get_page(&app, "/console/drawer?lang=en", &person).await;
    assert!(drawer.html.contains("652,000 ៛"), "{}", drawer.html);
    assert!(drawer
        .html
        .contains("data-testid=\"drawer-receipts\">2</dd>"));
    assert!(!drawer.html.contains("data-testid=\"drawer-overdue\""));
    assert!(drawer
        .html
        .contains("href=\"/console/drawer/close\" data-testid=\"drawer-close-link\""));
    let dashboard = get_page(&app, "/console?lang=en", &person).await;
    assert!(
        dashboard.html.contains("data-testid=\"my-drawer\""),
        "{}",
        dashboard.html
    );
    assert!(dashboard.html.contains("652,000 ៛"));
    assert!(dashboard
        .html
        .contains("data-testid=\"my-drawer-receipts\">2</span>"));

    // Today's receipts, newest first, each with a reprint link.
    let list = get_page(&app, "/console/receipts?lang=en", &person).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.html.contains(&format!("href=\"{receipt_path}\"")));
    assert!(list.html.contains("0320077001") && list.html.contains("0320077002"));
    // Each standing cash receipt links to its void (the closing pages, with a supervisor).
    assert!(list.html.contains("data-testid=\"void-link\""));
    assert!(list.html.contains(&format!("href=\"{receipt_path}/void\"")));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_short_or_unreadable_tender_or_a_missing_csrf_token_records_nothing(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let person = log_in(&app, "cashier.0320").await;
    open_drawer(&app, &person).await;
    let intent = id(&app.intent("0320077101").await);
    let entries = count(&app, "select count(*) from ledger_entries").await;

    let short = take(&app, &person, &intent, "500000").await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST, "{}", short.html);
    assert!(
        short
            .html
            .contains("Tendered 500,000 ៛ is less than the 600,000 ៛ due"),
        "{}",
        short.html
    );
    assert!(short.html.contains("href=\"#tendered\""));
    assert!(short.html.contains("aria-invalid=\"true\""));

    for unreadable in ["", "six hundred", "600000.5", "-600000"] {
        let page = take(&app, &person, &intent, unreadable).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{unreadable}");
        assert!(
            page.html.contains("Enter the cash received in whole riel"),
            "{unreadable}: {}",
            page.html
        );
    }

    let forged = post_form(
        &app,
        &format!("/console/take/{intent}"),
        &person,
        &[("idempotency_key", "k-1"), ("tendered", "600000")],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    assert_eq!(
        count(&app, "select count(*) from ledger_entries").await,
        entries
    );
    assert_eq!(count(&app, "select count(*) from cash_receipts").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_case_paid_a_moment_earlier_names_its_receipt_and_records_nothing(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let person = log_in(&app, "cashier.0320").await;
    open_drawer(&app, &person).await;
    let (intent, reference) = app.pending_attempt("0320077201").await;
    // The cashier has the form on screen when the bank reports the payment.
    let form = get_page(&app, &format!("/console/take/{intent}"), &person).await;
    let key = hidden(&form.html, "idempotency_key");
    let reply = app
        .callback(&callback_body("tx-counter-1", &reference, "600000"), SECRET)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let number: String =
        sqlx::query_scalar("select receipt_number from payment_intents where id = $1::uuid")
            .bind(&intent)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let entries = count(&app, "select count(*) from ledger_entries").await;

    let page = post_form(
        &app,
        &format!("/console/take/{intent}?lang=en"),
        &person,
        &[
            ("csrf", &person.csrf),
            ("idempotency_key", &key),
            ("tendered", "600000"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.html.contains("already paid"), "{}", page.html);
    assert!(page
        .html
        .contains(&format!("href=\"/console/receipts/{number}\"")));
    assert!(!page.html.contains("data-testid=\"take-form\""));
    assert_eq!(
        count(&app, "select count(*) from ledger_entries").await,
        entries
    );
    assert_eq!(count(&app, "select count(*) from cash_receipts").await, 0);

    // The online receipt reprinted at the counter is a copy from its first print.
    let receipt = get_page(&app, &format!("/console/receipts/{number}"), &person).await;
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.html);
    assert!(receipt.html.contains("data-testid=\"receipt-copy\""));
    assert!(receipt.html.contains("ច្បាប់ចម្លង") && receipt.html.contains("COPY"));
    assert!(!receipt.html.contains("data-testid=\"change-due\""));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_double_submitted_form_records_once_and_shows_the_same_receipt(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let person = log_in(&app, "cashier.0320").await;
    open_drawer(&app, &person).await;
    let intent = id(&app.intent("0320077301").await);
    let form = get_page(&app, &format!("/console/take/{intent}"), &person).await;
    let key = hidden(&form.html, "idempotency_key");
    let path = format!("/console/take/{intent}");
    let fields = [
        ("csrf", person.csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("tendered", "600000"),
    ];
    let (first, second) = tokio::join!(
        post_form(&app, &path, &person, &fields),
        post_form(&app, &path, &person, &fields)
    );
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.html);
    assert_eq!(second.status, StatusCode::SEE_OTHER, "{}", second.html);
    assert_eq!(first.location(), second.location());
    let third = post_form(&app, &path, &person, &fields).await;
    assert_eq!(third.location(), first.location());
    assert_eq!(count(&app, "select count(*) from cash_receipts").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_first_print_is_the_original_once_and_every_later_one_a_copy(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let person = log_in(&app, "cashier.0320").await;
    open_drawer(&app, &person).await;
    let intent = id(&app.intent("0320077401").await);
    let taken = take(&app, &person, &intent, "600000").await;
    let path = taken.location().to_owned();

    // Two first views at once (two tabs, two instances): exactly one original.
    let (a, b) = tokio::join!(
        get_page(&app, &path, &person),
        get_page(&app, &path, &person)
    );
    let originals = [&a, &b]
        .iter()
        .filter(|page| page.html.contains("data-print=\"original\""))
        .count();
    assert_eq!(originals, 1, "{}\n{}", a.html, b.html);
    let copy = if a.html.contains("data-print=\"copy\"") {
        &a
    } else {
        &b
    };
    assert!(copy.html.contains("data-testid=\"receipt-copy\""));
    assert!(copy.html.contains("COPY") && copy.html.contains("ច្បាប់ចម្លង"));
    assert!(
        !copy.html.contains("data-testid=\"change-due\""),
        "the change is given once"
    );
    assert!(
        copy.html.contains("data-testid=\"receipt-change\""),
        "the printed copy still reads the change"
    );

    // A5 is the same receipt, and a reprint too.
    let a5 = get_page(&app, path.split('?').next().unwrap(), &person).await;
    assert!(a5.html.contains("paper-a5"));
    assert!(a5.html.contains("data-print=\"copy\""));
    assert_eq!(
        count(&app, "select print_count::bigint from receipt_prints").await,
        3
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from staff_actions where action = 'receipt_reprint'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from staff_actions where action = 'receipt_print'"
        )
        .await,
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn another_offices_receipt_or_case_is_not_found(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let person = log_in(&app, "cashier.0320").await;
    open_drawer(&app, &person).await;
    let intent = id(&app.intent("0320077501").await);
    let taken = take(&app, &person, &intent, "600000").await;
    let path = taken.location().to_owned();

    let elsewhere = log_in(&app, "cashier.1201").await;
    let page = get_page(&app, &path, &elsewhere).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.html.contains("0320077501"));
    assert_eq!(
        get_page(&app, &format!("/console/take/{intent}"), &elsewhere)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_page(&app, "/console/receipts/0320-2026-999999", &person)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        count(&app, "select count(*) from receipt_prints").await,
        0,
        "nobody printed it"
    );
    // An auditor reads, and works no drawer.
    let auditor = log_in(&app, "auditor").await;
    assert_eq!(
        get_page(&app, "/console/take?office=0320", &auditor)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let dashboard = get_page(&app, "/console?office=0320", &auditor).await;
    assert!(!dashboard.html.contains("data-testid=\"nav-take\""));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_counter_finds_a_case_by_code_by_the_scanned_link_or_in_todays_list(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let person = log_in(&app, "cashier.0320").await;
    let intent = app.intent("0320077601").await;
    app.intent("0320077602").await;

    // Before the drawer is open, the page says so (and still finds cases).
    let page = get_page(&app, "/console/take?lang=en", &person).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("data-testid=\"no-drawer\""));
    assert!(page.html.contains("Registration code or scan the slip"));
    assert!(page.html.contains(" autofocus"));
    assert!(page.html.contains("0320077601") && page.html.contains("0320077602"));
    assert!(
        !page.html.contains("labour.internal_regulations_8_100"),
        "services by name, not by code"
    );

    // The scanner types the slip's pay link and Enter.
    let link = intent["pay_url"].as_str().unwrap();
    let q: String = url::form_urlencoded::byte_serialize(link.as_bytes()).collect();
    let scanned = get_page(&app, &format!("/console/take?q={q}"), &person).await;
    assert_eq!(scanned.status, StatusCode::SEE_OTHER, "{}", scanned.html);
    assert_eq!(scanned.location(), format!("/console/take/{}", id(&intent)));

    let unknown = get_page(&app, "/console/take?q=NOPE-1&lang=en", &person).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(unknown.html.contains("data-testid=\"take-none\""));
    assert!(unknown.html.contains("No case was found for"));
    assert!(unknown.html.contains("NOPE-1"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_drawer_left_open_past_midnight_shows_as_overdue(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let person = log_in(&app, "cashier.0320").await;
    open_drawer(&app, &person).await;
    let fresh = get_page(&app, "/console/drawer", &person).await;
    assert!(!fresh.html.contains("data-testid=\"drawer-overdue\""));
    sqlx::query("update cashier_sessions set opened_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let drawer = get_page(&app, "/console/drawer?lang=en", &person).await;
    assert!(
        drawer.html.contains("data-testid=\"drawer-overdue\""),
        "{}",
        drawer.html
    );
    let dashboard = get_page(&app, "/console?lang=en", &person).await;
    assert!(dashboard.html.contains("data-testid=\"my-drawer-overdue\""));
}
