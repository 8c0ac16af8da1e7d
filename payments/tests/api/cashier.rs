//! The cashier's drawer over HTTP (issue 14): open with a float, take cash through the
//! settlement path, void with a supervisor's approval, close by counting, report, deposit.

use payments::app::auth::{create_key, Role};
use payments::app::receipt_pages::receipt_url;
use payments::app::secrets::Keyring;
use payments::app::staff;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{callback_body, Reply, TestApp, SECRET};

/// A second cashier key at office 0320 (the seed has one per office).
const CASHIER_B: &str = "opk_test_cashier_b_0320";
/// A supervisor person of office 0320 and the password they type on the cashier's screen.
const SUPERVISOR: (&str, &str) = ("sup.chenda", "correct horse battery");

async fn setup(pool: PgPool) -> TestApp {
    let app = TestApp::start(pool).await;
    let mut conn = app.pool.acquire().await.unwrap();
    create_key(
        &mut conn,
        Role::Cashier,
        &["0320".to_owned()],
        "Cashier B 0320",
        Some(CASHIER_B),
    )
    .await
    .unwrap();
    staff::create_user(
        &mut conn,
        SUPERVISOR.0,
        "Chenda (supervisor)",
        Role::Supervisor,
        &["0320".to_owned()],
        Some(SUPERVISOR.1),
    )
    .await
    .unwrap();
    // As if they had chosen their own password at first login.
    sqlx::query("update staff_users set must_change_password = false")
        .execute(&mut *conn)
        .await
        .unwrap();
    app
}

fn approval() -> Value {
    json!({"username": SUPERVISOR.0, "password": SUPERVISOR.1})
}

async fn open(app: &TestApp, key: &str, float: Value) -> Value {
    let reply = app
        .post(
            "/v1/cashier/sessions",
            Some(key),
            None,
            &json!({"office_code": "0320", "opening_float": float}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn take(app: &TestApp, key: &str, session: &str, intent: &str, tendered: &str) -> Reply {
    take_in(app, key, session, intent, tendered, "KHR").await
}

async fn take_in(
    app: &TestApp,
    key: &str,
    session: &str,
    intent: &str,
    tendered: &str,
    currency: &str,
) -> Reply {
    app.post(
        &format!("/v1/cashier/sessions/{session}/receipts"),
        Some(key),
        Some(&format!("take-{intent}-{tendered}")),
        &json!({"payment_intent_id": intent, "tendered": {"amount": tendered, "currency": currency}}),
    )
    .await
}

async fn intent_of(app: &TestApp, id: &str) -> Value {
    app.get(
        &format!("/v1/payment-intents/{id}"),
        Some(app.key("workflow")),
    )
    .await
    .body
}

#[sqlx::test(migrations = "../migrations")]
async fn a_drawer_opens_once_per_cashier_and_office_with_a_float_that_adds_up(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let body = json!({
        "office_code": "0320",
        "opening_float": [{"amount": "150000", "currency": "KHR"}, {"amount": "20.00", "currency": "USD"}],
        "denominations": [
            {"currency": "KHR", "value": 50000, "count": 2},
            {"currency": "KHR", "value": 10000, "count": 5},
            {"currency": "USD", "value": 10, "count": 2},
        ],
    });
    let opened = app
        .post("/v1/cashier/sessions", Some(&key), None, &body)
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    assert_eq!(opened.body["status"], "open");
    assert_eq!(opened.body["office_code"], "0320");
    assert_eq!(
        opened.body["opening_float"],
        json!([{"amount": "150000", "currency": "KHR"}, {"amount": "20.00", "currency": "USD"}])
    );
    assert_eq!(opened.body["overdue"], false);
    assert!(opened.body["cashier"]["api_key_id"].is_string());

    let again = app
        .post("/v1/cashier/sessions", Some(&key), None, &body)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.body["code"], "drawer_already_open");
    assert_eq!(again.body["session_id"], opened.body["id"]);
    // Another cashier of the office opens their own.
    open(&app, CASHIER_B, json!([])).await;

    let short = json!({
        "office_code": "0320",
        "opening_float": [{"amount": "150000", "currency": "KHR"}],
        "denominations": [{"currency": "KHR", "value": 50000, "count": 2}],
    });
    let mismatch = app
        .post(
            "/v1/cashier/sessions",
            Some(app.key("supervisor_0320")),
            None,
            &short,
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(mismatch.body["code"], "denominations_mismatch");
    let no_such_note = json!({
        "office_code": "0320",
        "opening_float": [{"amount": "3.00", "currency": "USD"}],
        "denominations": [{"currency": "USD", "value": 3, "count": 1}],
    });
    let refused = app
        .post(
            "/v1/cashier/sessions",
            Some(app.key("supervisor_0320")),
            None,
            &no_such_note,
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    for role in ["workflow", "auditor"] {
        let reply = app
            .post("/v1/cashier/sessions", Some(app.key(role)), None, &body)
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{role}");
    }
    assert_eq!(
        app.scalar_i64("select count(*) from staff_actions where action = 'drawer_open'")
            .await,
        2
    );
    // Still open after midnight (Cambodia) of its day: overdue.
    sqlx::query("update cashier_sessions set opened_at = opened_at - interval '1 day'")
        .execute(&app.pool)
        .await
        .unwrap();
    let listed = app.get("/v1/cashier/sessions", Some(&key)).await;
    assert_eq!(listed.body[0]["overdue"], true, "{}", listed.body);
    let one = app
        .get(
            &format!("/v1/cashier/sessions/{}", id(&opened.body)),
            Some(&key),
        )
        .await;
    assert_eq!(one.body["overdue"], true);
}

#[sqlx::test(migrations = "../migrations")]
async fn cash_pays_the_intent_through_the_settlement_path_with_change(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let drawer = id(&open(&app, &key, json!([{"amount": "100000", "currency": "KHR"}])).await);
    let intent = id(&app.intent("0320099001").await);
    let reply = take(&app, &key, &drawer, &intent, "700000").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let number = reply.body["number"].as_str().unwrap().to_owned();
    assert!(number.starts_with("0320-"), "{number}");
    assert_eq!(reply.body["payment_intent_id"], intent.as_str());
    assert_eq!(
        reply.body["amount"],
        json!({"amount": "600000", "currency": "KHR"})
    );
    assert_eq!(
        reply.body["tendered"],
        json!({"amount": "700000", "currency": "KHR"})
    );
    assert_eq!(
        reply.body["change"],
        json!({"amount": "100000", "currency": "KHR"})
    );
    assert!(reply.body["issued_at"].is_string());
    assert_eq!(reply.body["status"], "valid");

    let paid = intent_of(&app, &intent).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid_channel"], "cash");
    assert_eq!(paid["receipt_number"], number.as_str());
    // One entry: D cash:drawer, C revenue; nothing through a clearing account.
    assert_eq!(app.balance("0320:cash:drawer:KHR").await, "600000");
    assert_eq!(app.balance("0320:clearing:cash:KHR").await, "0");
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries where kind = 'cash_receipt'")
            .await,
        1
    );
    let event: Value =
        sqlx::query_scalar("select payload from outbox_events where event_type = 'payment.paid'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(event["data"]["channel"], "cash");
    assert_eq!(event["data"]["receipt_number"], number.as_str());
    assert_eq!(
        app.scalar_i64("select count(*) from staff_actions where action = 'cash_receipt'")
            .await,
        1
    );
    // The drawer lists it.
    let view = app
        .get(&format!("/v1/cashier/sessions/{drawer}"), Some(&key))
        .await;
    assert_eq!(view.body["receipts"][0]["number"], number.as_str());
}

#[sqlx::test(migrations = "../migrations")]
async fn too_little_cash_or_the_wrong_currency_records_nothing(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let drawer = id(&open(&app, &key, json!([])).await);
    let intent = id(&app.intent("0320099002").await);
    let before = app.ledger_entries().await;
    let short = take(&app, &key, &drawer, &intent, "599900").await;
    assert_eq!(
        short.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        short.body
    );
    assert_eq!(short.body["code"], "tender_short");
    assert!(
        short.body["detail"]
            .as_str()
            .unwrap()
            .contains("100 KHR more"),
        "{}",
        short.body
    );
    let dollars = take_in(&app, &key, &drawer, &intent, "200.00", "USD").await;
    assert_eq!(dollars.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(dollars.body["code"], "tender_currency");
    assert_eq!(app.ledger_entries().await, before);
    assert_eq!(intent_of(&app, &intent).await["status"], "awaiting_payment");
    assert_eq!(
        app.scalar_i64("select count(*) from cash_receipts").await,
        0
    );
    assert_eq!(
        app.scalar_i64("select count(*) from payment_attempts where channel = 'cash'")
            .await,
        0
    );
    // The exact amount is fine: no change.
    let exact = take(&app, &key, &drawer, &intent, "600000").await;
    assert_eq!(exact.status, StatusCode::CREATED, "{}", exact.body);
    assert_eq!(exact.body["change"]["amount"], "0");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_usd_service_is_paid_in_dollars(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let drawer = id(&open(&app, &key, json!([{"amount": "10.00", "currency": "USD"}])).await);
    let intent = app.usd_intent("0320099003").await;
    assert_eq!(intent["total"]["currency"], "USD");
    let due = intent["total"]["amount"].as_str().unwrap().to_owned();
    let reply = take_in(&app, &key, &drawer, &id(&intent), "200.00", "USD").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["amount"]["amount"], due.as_str());
    assert_eq!(reply.body["change"]["currency"], "USD");
    assert_eq!(app.balance("0320:cash:drawer:USD").await, due);
    assert_eq!(intent_of(&app, &id(&intent)).await["paid_channel"], "cash");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_intent_paid_a_moment_earlier_is_already_paid_with_its_receipt(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let mine = id(&open(&app, &key, json!([])).await);
    let theirs = id(&open(&app, CASHIER_B, json!([])).await);
    // Paid by the other cashier.
    let intent = id(&app.intent("0320099004").await);
    let first = take(&app, CASHIER_B, &theirs, &intent, "600000").await;
    assert_eq!(first.status, StatusCode::CREATED);
    let before = app.ledger_entries().await;
    let second = take(&app, &key, &mine, &intent, "600000").await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.body);
    assert_eq!(second.body["code"], "already_paid");
    assert_eq!(second.body["receipt_number"], first.body["number"]);
    assert_eq!(app.ledger_entries().await, before);
    // Paid by a bank.
    let (bank_intent, reference) = app.pending_attempt("0320099005").await;
    let callback = app
        .callback(&callback_body("sbx_cash_1", &reference, "600000"), SECRET)
        .await;
    assert!(callback.status.is_success());
    let bank_number = intent_of(&app, &bank_intent).await["receipt_number"].clone();
    let before = app.ledger_entries().await;
    let late = take(&app, &key, &mine, &bank_intent, "600000").await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.body["code"], "already_paid");
    assert_eq!(late.body["receipt_number"], bank_number);
    assert_eq!(late.body["paid_channel"], "sandbox");
    assert_eq!(app.ledger_entries().await, before);
    assert_eq!(
        app.scalar_i64("select count(*) from cash_receipts").await,
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_drawer_of_another_cashier_or_office_cannot_be_touched(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let drawer = id(&open(&app, &key, json!([])).await);
    let intent = id(&app.intent("0320099006").await);
    for other in [CASHIER_B, app.key("cashier_1201")] {
        let reply = take(&app, other, &drawer, &intent, "600000").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
        let read = app
            .get(&format!("/v1/cashier/sessions/{drawer}"), Some(other))
            .await;
        assert_eq!(read.status, StatusCode::NOT_FOUND);
        let close = app
            .post(
                &format!("/v1/cashier/sessions/{drawer}/close"),
                Some(other),
                None,
                &json!({"counted": []}),
            )
            .await;
        assert_eq!(close.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(intent_of(&app, &intent).await["status"], "awaiting_payment");
    // The office's supervisor and auditors see it; a cashier lists only their own drawers.
    for reader in ["supervisor_0320", "auditor"] {
        let read = app
            .get(
                &format!("/v1/cashier/sessions/{drawer}"),
                Some(app.key(reader)),
            )
            .await;
        assert_eq!(read.status, StatusCode::OK, "{reader}");
    }
    let auditor_1201 = app
        .get(
            &format!("/v1/cashier/sessions/{drawer}"),
            Some(app.key("auditor_1201")),
        )
        .await;
    assert_eq!(auditor_1201.status, StatusCode::NOT_FOUND);
    open(&app, CASHIER_B, json!([])).await;
    let mine = app.get("/v1/cashier/sessions", Some(&key)).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 1);
    let all = app
        .get(
            "/v1/cashier/sessions?status=open",
            Some(app.key("supervisor_0320")),
        )
        .await;
    assert_eq!(all.body.as_array().unwrap().len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_double_submitted_form_records_one_payment(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let drawer = id(&open(&app, &key, json!([])).await);
    let intent = id(&app.intent("0320099007").await);
    let first = take(&app, &key, &drawer, &intent, "600000").await;
    let before = app.ledger_entries().await;
    let again = take(&app, &key, &drawer, &intent, "600000").await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["number"], first.body["number"]);
    assert_eq!(app.ledger_entries().await, before);
    assert_eq!(
        app.scalar_i64("select count(*) from cash_receipts").await,
        1
    );
}

async fn post_raw(
    http: reqwest::Client,
    url: String,
    key: String,
    idempotency: String,
    body: Value,
) -> (StatusCode, Value) {
    let response = http
        .post(url)
        .bearer_auth(key)
        .header("idempotency-key", idempotency)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Two cashiers of one office and a bank paying at once: receipt numbers stay gapless and
/// unique per office across cash and online payments.
#[sqlx::test(migrations = "../migrations")]
async fn two_cashiers_and_a_bank_at_once_keep_the_numbers_gapless(pool: PgPool) {
    let app = setup(pool).await;
    let drawers = [
        (
            app.key("cashier_0320").to_owned(),
            id(&open(&app, app.key("cashier_0320"), json!([])).await),
        ),
        (
            CASHIER_B.to_owned(),
            id(&open(&app, CASHIER_B, json!([])).await),
        ),
    ];
    let mut tasks = Vec::new();
    for n in 0..24 {
        let intent = id(&app.intent(&format!("03200991{n:02}")).await);
        let (key, drawer) = drawers[n % 2].clone();
        tasks.push(tokio::spawn(post_raw(
            app.http.clone(),
            format!("{}/v1/cashier/sessions/{drawer}/receipts", app.base),
            key,
            format!("k{n}"),
            json!({"payment_intent_id": intent, "tendered": {"amount": "600000", "currency": "KHR"}}),
        )));
    }
    let mut bank = Vec::new();
    for n in 0..8 {
        let (_, reference) = app.pending_attempt(&format!("03200992{n:02}")).await;
        let raw = serde_json::to_vec(&callback_body(
            &format!("sbx_gap_{n}"),
            &reference,
            "600000",
        ))
        .unwrap();
        let signature = bank_adapters::signing::hmac_sha256_hex(SECRET.as_bytes(), &raw);
        let http = app.http.clone();
        let url = format!("{}/v1/callbacks/sandbox", app.base);
        bank.push(tokio::spawn(async move {
            http.post(url)
                .header("content-type", "application/json")
                .header("x-sandbox-signature", signature)
                .body(raw)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for task in bank {
        assert!(task.await.unwrap().is_success());
    }
    payments::app::receipts::number_office(&app.pool, "0320")
        .await
        .unwrap();
    let numbers: Vec<String> = sqlx::query_scalar(
        "select receipt_number from payment_intents where office_code = '0320' and status = 'paid' order by receipt_number",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(numbers.len(), 32);
    let counters: Vec<i64> = numbers
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(counters, (1..=32).collect::<Vec<i64>>(), "{numbers:?}");
    let cash: i64 = app
        .scalar_i64("select count(*) from payment_intents where paid_channel = 'cash' and receipt_number is not null")
        .await;
    assert_eq!(cash, 24);
}

/// A cash payment racing a bank payment of one intent: one settles; the other is 409 (cash)
/// or suspense (the bank's), and revenue is credited once.
#[sqlx::test(migrations = "../migrations")]
async fn cash_racing_a_bank_payment_settles_once(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let drawer = id(&open(&app, &key, json!([])).await);
    for round in 0..4 {
        let (intent, reference) = app.pending_attempt(&format!("03200993{round:02}")).await;
        let cash = tokio::spawn(post_raw(
            app.http.clone(),
            format!("{}/v1/cashier/sessions/{drawer}/receipts", app.base),
            key.clone(),
            format!("race{round}"),
            json!({"payment_intent_id": intent, "tendered": {"amount": "600000", "currency": "KHR"}}),
        ));
        let bank = app
            .callback(
                &callback_body(&format!("sbx_race_{round}"), &reference, "600000"),
                SECRET,
            )
            .await;
        assert!(bank.status.is_success(), "{}", bank.body);
        let (status, body) = cash.await.unwrap();
        let paid = intent_of(&app, &intent).await;
        assert_eq!(paid["status"], "paid");
        let revenue_credits = app
            .scalar_i64(&format!(
                "select count(*) from ledger_entries where kind in ('payment_confirmed', 'cash_receipt')
                 and metadata ->> 'payment_intent_id' = '{intent}'"
            ))
            .await;
        assert_eq!(revenue_credits, 1, "round {round}");
        let suspense = app
            .scalar_i64(&format!(
                "select count(*) from reconciliation_exceptions where payment_intent_id = '{intent}' and kind = 'already_paid'"
            ))
            .await;
        if status == StatusCode::CREATED {
            assert_eq!(paid["paid_channel"], "cash");
            assert_eq!(suspense, 1, "the bank's money waits in suspense");
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["code"], "already_paid");
            assert_eq!(paid["paid_channel"], "sandbox");
            assert_eq!(suspense, 0);
        }
    }
    let totals = app
        .get("/v1/ledger/trial-balance", Some(app.key("auditor")))
        .await;
    for total in totals.body["totals"].as_array().unwrap() {
        assert_eq!(total["debit"], total["credit"], "{total}");
    }
}

fn receipt_link(app: &TestApp, number: &str) -> String {
    receipt_url(&Keyring::from_config(&app.state.config).unwrap(), number)
}

async fn html(app: &TestApp, path: &str) -> String {
    app.http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The verification address on a receipt page, as a path.
fn verify_path(app: &TestApp, page: &str) -> String {
    let marker = page.find(r#"data-testid="verify-link""#).unwrap();
    let rest = &page[marker..];
    let start = rest.find("href=\"").unwrap() + 6;
    let url = rest[start..start + rest[start..].find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    url[app.base.len()..].to_owned()
}

fn void_path(number: &str) -> String {
    format!("/v1/receipts/{number}/void")
}

#[sqlx::test(migrations = "../migrations")]
async fn a_void_needs_the_same_day_a_reason_and_someone_elses_approval(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let drawer = id(&open(&app, &key, json!([])).await);
    let intent = id(&app.intent("0320099401").await);
    let taken = take(&app, &key, &drawer, &intent, "600000").await;
    let number = taken.body["number"].as_str().unwrap().to_owned();
    let page_before = html(&app, &receipt_link(&app, &number)).await;
    let verify = verify_path(&app, &page_before);
    assert!(html(&app, &verify)
        .await
        .contains(r#"data-result="verified""#));

    // A cashier alone may not void.
    let alone = app
        .post(
            &void_path(&number),
            Some(&key),
            None,
            &json!({"reason": "wrong case"}),
        )
        .await;
    assert_eq!(alone.status, StatusCode::FORBIDDEN, "{}", alone.body);
    assert_eq!(alone.body["code"], "approval_refused");
    let wrong = app
        .post(
            &void_path(&number),
            Some(&key),
            None,
            &json!({"reason": "wrong case", "approval": {"username": SUPERVISOR.0, "password": "guess"}}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let no_reason = app
        .post(
            &void_path(&number),
            Some(&key),
            None,
            &json!({"reason": " ", "approval": approval()}),
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Not the same day (Cambodia): moved to yesterday.
    sqlx::query(
        "update payment_intents set paid_at = paid_at - interval '1 day' where id = $1::uuid",
    )
    .bind(&intent)
    .execute(&app.pool)
    .await
    .unwrap();
    let late = app
        .post(
            &void_path(&number),
            Some(&key),
            None,
            &json!({"reason": "wrong case", "approval": approval()}),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert_eq!(late.body["code"], "void_not_same_day");
    sqlx::query(
        "update payment_intents set paid_at = paid_at + interval '1 day' where id = $1::uuid",
    )
    .bind(&intent)
    .execute(&app.pool)
    .await
    .unwrap();

    let entries_before = app.ledger_entries().await;
    let voided = app
        .post(
            &void_path(&number),
            Some(&key),
            None,
            &json!({"reason": "wrong case", "approval": approval()}),
        )
        .await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.body);
    assert_eq!(voided.body["status"], "void");
    assert_eq!(voided.body["approved_by"], "Chenda (supervisor)");
    assert_eq!(voided.body["payment_intent_status"], "awaiting_payment");
    assert_eq!(app.ledger_entries().await, entries_before + 1);
    // The reversal references the payment's entry and leaves the drawer as before.
    let reversed = app
        .scalar_i64(&format!(
            "select count(*) from ledger_entries r join cash_receipts c on c.ledger_entry_id = r.reverses_entry_id
             where c.receipt_number = '{number}' and r.id = c.reversal_entry_id"
        ))
        .await;
    assert_eq!(reversed, 1);
    assert_eq!(app.balance("0320:cash:drawer:KHR").await, "0");
    let event: Value =
        sqlx::query_scalar("select payload from outbox_events where event_type = 'payment.voided'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(event["data"]["receipt_number"], number.as_str());
    assert_eq!(event["data"]["reason"], "wrong case");
    assert_eq!(event["data"]["then"], "reopen");

    let again = app
        .post(
            &void_path(&number),
            Some(app.key("supervisor_0320")),
            None,
            &json!({"reason": "again"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "already_void");

    // The number stays used and reads as void, on the receipt and on its verification page.
    assert!(html(&app, &verify).await.contains(r#"data-result="void""#));
    assert!(html(&app, &receipt_link(&app, &number))
        .await
        .contains(r#"data-testid="receipt-void""#));
    // The intent awaits payment again and is paid under a new number; the old stays void.
    let reopened = intent_of(&app, &intent).await;
    assert_eq!(reopened["status"], "awaiting_payment");
    assert!(reopened["receipt_number"].is_null());
    let repaid = app
        .post(
            &format!("/v1/cashier/sessions/{drawer}/receipts"),
            Some(&key),
            Some("repay"),
            &json!({"payment_intent_id": intent, "tendered": {"amount": "600000", "currency": "KHR"}}),
        )
        .await;
    assert_eq!(repaid.status, StatusCode::CREATED, "{}", repaid.body);
    assert_ne!(repaid.body["number"], number.as_str());
    assert!(html(&app, &verify).await.contains(r#"data-result="void""#));
    assert_eq!(
        app.scalar_i64("select count(*) from staff_actions where action = 'cash_receipt_void'")
            .await,
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn nobody_approves_the_void_of_their_own_payment_and_online_payments_are_not_voided(
    pool: PgPool,
) {
    let app = setup(pool).await;
    // A supervisor key that took the payment cannot approve its void itself.
    let supervisor = app.key("supervisor_0320").to_owned();
    let drawer = id(&open(&app, &supervisor, json!([])).await);
    let intent = id(&app.intent("0320099501").await);
    let taken = take(&app, &supervisor, &drawer, &intent, "600000").await;
    let number = taken.body["number"].as_str().unwrap().to_owned();
    let own = app
        .post(
            &void_path(&number),
            Some(&supervisor),
            None,
            &json!({"reason": "mistake"}),
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    assert_eq!(own.body["code"], "approval_refused");
    // The supervisor person approving the cashier key's receipt, with "cancel".
    let voided = app
        .post(
            &void_path(&number),
            Some(&supervisor),
            None,
            &json!({"reason": "mistake", "then": "cancel", "approval": approval()}),
        )
        .await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.body);
    assert_eq!(intent_of(&app, &intent).await["status"], "cancelled");

    let (online, reference) = app.pending_attempt("0320099502").await;
    app.callback(&callback_body("sbx_void_1", &reference, "600000"), SECRET)
        .await;
    let online_number = intent_of(&app, &online).await["receipt_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = app
        .post(
            &void_path(&online_number),
            Some(&supervisor),
            None,
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.body["code"], "not_cash");
    let unknown = app
        .post(
            &void_path("0320-2026-999999"),
            Some(&supervisor),
            None,
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// The cashier's day in figures: a float, three payments (one USD), a void, a 500-riel
/// shortage signed off, a deposit; the trial balance and the drawer report agree to the riel.
#[sqlx::test(migrations = "../migrations")]
async fn a_short_drawer_closes_only_signed_off_and_the_books_agree_with_its_report(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let float =
        json!([{"amount": "200000", "currency": "KHR"}, {"amount": "20.00", "currency": "USD"}]);
    let drawer = id(&open(&app, &key, float).await);
    let a = id(&app.intent("0320099601").await);
    let b = id(&app.intent("0320099602").await);
    let usd = app.usd_intent("0320099603").await;
    let usd_due = usd["total"]["amount"].as_str().unwrap().to_owned();
    take(&app, &key, &drawer, &a, "600000").await;
    let voided = take(&app, &key, &drawer, &b, "1000000").await;
    let dollars = take_in(&app, &key, &drawer, &id(&usd), &usd_due, "USD").await;
    assert_eq!(dollars.status, StatusCode::CREATED, "{}", dollars.body);
    let number = voided.body["number"].as_str().unwrap();
    let reply = app
        .post(
            &void_path(number),
            Some(&key),
            None,
            &json!({"reason": "paid twice", "approval": approval()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // Expected KHR: 200,000 float + 1,200,000 taken - 600,000 voided = 800,000; 500 short.
    let usd_expected = format!(
        "{}.00",
        20 + usd_due.split('.').next().unwrap().parse::<i64>().unwrap()
    );
    let counted = json!([{"amount": "799500", "currency": "KHR"}, {"amount": usd_expected, "currency": "USD"}]);
    let close_path = format!("/v1/cashier/sessions/{drawer}/close");
    let entries_before = app.ledger_entries().await;
    let unsigned = app
        .post(&close_path, Some(&key), None, &json!({"counted": counted}))
        .await;
    assert_eq!(unsigned.status, StatusCode::CONFLICT, "{}", unsigned.body);
    assert_eq!(unsigned.body["code"], "variance_needs_approval");
    assert_eq!(app.ledger_entries().await, entries_before);
    let still = app
        .get(&format!("/v1/cashier/sessions/{drawer}"), Some(&key))
        .await;
    assert_eq!(still.body["status"], "open");
    let bad_notes = app
        .post(
            &close_path,
            Some(&key),
            None,
            &json!({"counted": counted, "denominations": [{"currency": "KHR", "value": 100000, "count": 8}], "approved_by": approval()}),
        )
        .await;
    assert_eq!(bad_notes.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_notes.body["code"], "denominations_mismatch");

    let closed = app
        .post(
            &close_path,
            Some(&key),
            None,
            &json!({"counted": counted, "approved_by": approval()}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert_eq!(closed.body["status"], "closed");
    assert_eq!(
        closed.body["expected"][0],
        json!({"amount": "800000", "currency": "KHR"})
    );
    assert_eq!(
        closed.body["counted"][0],
        json!({"amount": "799500", "currency": "KHR"})
    );
    assert_eq!(
        closed.body["variance"][0],
        json!({"amount": "-500", "currency": "KHR"})
    );
    assert_eq!(closed.body["variance"][1]["amount"], "0.00");
    assert_eq!(closed.body["variance_approved_by"], "Chenda (supervisor)");
    assert_eq!(app.balance("0320:cash-over-short:KHR").await, "500");
    // cash:drawer = receipts - voids - shortage; the float was never posted.
    assert_eq!(app.balance("0320:cash:drawer:KHR").await, "599500");

    let report = app
        .get(&format!("/v1/cashier/sessions/{drawer}/report"), Some(&key))
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(report.body["opening_float"][0]["amount"], "200000");
    assert_eq!(report.body["receipts_total"][0]["amount"], "1200000");
    assert_eq!(report.body["voided_total"][0]["amount"], "600000");
    assert_eq!(report.body["voids"].as_array().unwrap().len(), 1);
    assert_eq!(report.body["ledger_net"][0]["amount"], "599500");
    assert_eq!(
        report.body["receipts_by_service"].as_array().unwrap().len(),
        2,
        "{}",
        report.body
    );

    // Deposit: at most the fee cash (counted less the float).
    let deposits = format!("/v1/cashier/sessions/{drawer}/deposits");
    let too_much = app
        .post(
            &deposits,
            Some(&key),
            None,
            &json!({"amount": {"amount": "799500", "currency": "KHR"}, "slip_reference": "SLIP-1"}),
        )
        .await;
    assert_eq!(
        too_much.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_much.body
    );
    assert_eq!(too_much.body["code"], "deposit_exceeds_drawer");
    let deposit = app
        .post(
            &deposits,
            Some(&key),
            None,
            &json!({"amount": {"amount": "599500", "currency": "KHR"}, "slip_reference": "=SLIP-1", "bank_account": "acleda-001"}),
        )
        .await;
    assert_eq!(deposit.status, StatusCode::CREATED, "{}", deposit.body);
    assert_eq!(app.balance("0320:cash:drawer:KHR").await, "0");
    assert_eq!(app.balance("0320:cash-in-transit:KHR").await, "599500");
    let report = app
        .get(
            &format!("/v1/cashier/sessions/{drawer}/report"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(report.body["ledger_net"][0]["amount"], "0");
    assert_eq!(report.body["deposits"][0]["slip_reference"], "=SLIP-1");

    // The same report as CSV, its cells safe in a spreadsheet.
    let csv = app
        .http
        .get(format!("{}/v1/cashier/sessions/{drawer}/report", app.base))
        .bearer_auth(&key)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("section,item,currency,amount,detail"),
        "{text}"
    );
    assert!(text.contains(r#""variance","","KHR","-500""#), "{text}");
    assert!(
        text.contains(r#""deposit","'=SLIP-1","KHR","599500""#),
        "{text}"
    );
    // Closed is closed.
    let twice = app
        .post(&close_path, Some(&key), None, &json!({"counted": counted}))
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let after_count = app
        .post(
            &void_path(dollars.body["number"].as_str().unwrap()),
            Some(&key),
            None,
            &json!({"reason": "late", "approval": approval()}),
        )
        .await;
    assert_eq!(
        after_count.status,
        StatusCode::CONFLICT,
        "{}",
        after_count.body
    );
    assert_eq!(after_count.body["code"], "drawer_closed");
    let no_cash = take(
        &app,
        &key,
        &drawer,
        &id(&app.intent("0320099604").await),
        "600000",
    )
    .await;
    assert_eq!(no_cash.status, StatusCode::CONFLICT);
    assert_eq!(no_cash.body["code"], "drawer_closed");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_counter_finds_intents_by_code_by_the_slips_link_or_todays_list(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let intent = app.intent("0320099701").await;
    app.intent("0320099702").await;
    let by_code = app
        .get(
            "/v1/cashier/lookup?office_code=0320&q=0320099701",
            Some(&key),
        )
        .await;
    assert_eq!(by_code.status, StatusCode::OK, "{}", by_code.body);
    assert_eq!(by_code.body[0]["id"], intent["id"]);
    let link = intent["pay_url"].as_str().unwrap();
    let by_link = app
        .get(
            &format!("/v1/cashier/lookup?q={}", urlencode(link)),
            Some(&key),
        )
        .await;
    assert_eq!(
        by_link.body.as_array().unwrap().len(),
        1,
        "{}",
        by_link.body
    );
    assert_eq!(by_link.body[0]["id"], intent["id"]);
    let today = app
        .get("/v1/cashier/lookup?office_code=0320", Some(&key))
        .await;
    assert_eq!(today.body.as_array().unwrap().len(), 2);
    let elsewhere = app
        .get(
            "/v1/cashier/lookup?q=0320099701",
            Some(app.key("cashier_1201")),
        )
        .await;
    assert_eq!(elsewhere.body.as_array().unwrap().len(), 0);
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A logged-in person (the console's caller) works a drawer through the same app::cashier
/// functions: the drawer and receipt carry their name, and their own approval of the void of
/// a payment they took is refused.
#[sqlx::test(migrations = "../migrations")]
async fn a_person_works_the_drawer_through_the_same_functions(pool: PgPool) {
    use payments::app::auth::{Principal, Staff};
    use payments::app::cashier::{self, Approval, OpenRequest, TakeCashRequest, VoidRequest};
    use payments::app::money::MoneyView;

    let app = setup(pool).await;
    let mut conn = app.pool.acquire().await.unwrap();
    let person = |user_id: uuid::Uuid, role: Role, name: &str| Principal {
        key_id: user_id,
        role,
        office_codes: vec!["0320".to_owned()],
        staff: Some(Staff {
            user_id,
            session_id: uuid::Uuid::now_v7(),
            name: name.to_owned(),
        }),
    };
    let dara = staff::create_user(
        &mut conn,
        "dara",
        "Sok Dara",
        Role::Cashier,
        &["0320".to_owned()],
        Some("pw-dara-123"),
    )
    .await
    .unwrap();
    let supervisor_id: uuid::Uuid =
        sqlx::query_scalar("select id from staff_users where username = $1")
            .bind(SUPERVISOR.0)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let cashier = person(dara.id, Role::Cashier, "Sok Dara");
    let chenda = person(supervisor_id, Role::Supervisor, "Chenda (supervisor)");
    for principal in [&cashier, &chenda] {
        let staff = principal.staff.as_ref().unwrap();
        sqlx::query(
            "insert into staff_sessions (id, token_hash, user_id, csrf_token, expires_at)
             values ($1, sha256($1::text::bytea), $2, 'csrf', now() + interval '1 hour')",
        )
        .bind(staff.session_id)
        .bind(staff.user_id)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    let drawer = cashier::open(
        &app.state,
        &cashier,
        OpenRequest {
            office_code: "0320".to_owned(),
            opening_float: vec![],
            denominations: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(drawer.cashier.name, "Sok Dara");
    assert_eq!(drawer.cashier.user_id, Some(dara.id));
    let intent: uuid::Uuid = id(&app.intent("0320099801").await).parse().unwrap();
    let receipt = cashier::take_cash(
        &app.state,
        &cashier,
        drawer.id,
        "form-1",
        b"hash-1",
        TakeCashRequest {
            payment_intent_id: intent,
            tendered: MoneyView {
                amount: "600000".to_owned(),
                currency: "KHR".to_owned(),
            },
        },
    )
    .await
    .unwrap();
    assert_eq!(receipt.cashier.name, "Sok Dara");
    let number = receipt.number.clone().unwrap();
    // The cashier typing their own password is no approval.
    let own = cashier::void_receipt(
        &app.state,
        &cashier,
        &number,
        VoidRequest {
            reason: "mistake".to_owned(),
            then: None,
            approval: Some(Approval {
                username: "dara".to_owned(),
                password: "pw-dara-123".to_owned(),
            }),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(own.refusal().unwrap().code, "approval_refused");
    // The supervisor approving from their own session.
    let voided = cashier::void_receipt(
        &app.state,
        &chenda,
        &number,
        VoidRequest {
            reason: "mistake".to_owned(),
            then: None,
            approval: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(voided.approved_by, "Chenda (supervisor)");
    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from staff_actions where user_id = $1 and session_id is not null",
    )
    .bind(dara.id)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(recorded, 2, "open and receipt, with the session");
}

/// A supervisor's password typed on a cashier's screen is guessed as easily as at the login, so
/// wrong guesses count toward the same lockout: after five, even the right password is refused
/// for the lock's time, and each guess is in the audit trail with who asked.
#[sqlx::test(migrations = "../migrations")]
async fn wrong_approval_passwords_lock_the_supervisor_as_logins_do(pool: PgPool) {
    let app = setup(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let drawer = id(&open(&app, &key, json!([])).await);
    let intent = id(&app.intent("0320099501").await);
    let taken = take(&app, &key, &drawer, &intent, "600000").await;
    let number = taken.body["number"].as_str().unwrap().to_owned();
    let void = |password: &'static str| json!({"reason": "wrong case", "approval": {"username": SUPERVISOR.0, "password": password}});
    for _ in 0..5 {
        let wrong = app
            .post(&void_path(&number), Some(&key), None, &void("guess"))
            .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
        assert_eq!(wrong.body["code"], "approval_refused");
    }
    let (failures, locked): (i32, bool) = sqlx::query_as(
        "select failed_logins, locked_until > now() from staff_users where username = $1",
    )
    .bind(SUPERVISOR.0)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((failures, locked), (5, true));
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from staff_actions where action = 'approval_failed'
         and detail ->> 'requested_by_key_id' is not null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 5);

    // Locked: the right password is refused too, and nothing was voided.
    let right = app
        .post(&void_path(&number), Some(&key), None, &void(SUPERVISOR.1))
        .await;
    assert_eq!(right.status, StatusCode::FORBIDDEN, "{}", right.body);
    assert_eq!(intent_of(&app, &intent).await["status"], "paid");

    // Once the lock has run out the right password works, and the count starts again.
    sqlx::query(
        "update staff_users set locked_until = now() - interval '1 second' where username = $1",
    )
    .bind(SUPERVISOR.0)
    .execute(&app.pool)
    .await
    .unwrap();
    let approved = app
        .post(&void_path(&number), Some(&key), None, &void(SUPERVISOR.1))
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let failures: i32 =
        sqlx::query_scalar("select failed_logins from staff_users where username = $1")
            .bind(SUPERVISOR.0)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(failures, 0);
}
