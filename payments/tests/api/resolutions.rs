//! Exceptions worked to zero (issue 15): allocate, refund, write off, match by hand, reverse,
//! each posting one entry with its resolution; suspense exceptions made through the real
//! callback path, statement lines and ledger-item exceptions inserted by SQL (the upload and
//! the matcher are not on this branch).

use payments::app::seed::DEMO_PASSWORD;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::pages::{browser, log_in};
use crate::support::{callback_body, Reply, TestApp, SECRET};

fn resolutions_path(exception: &str) -> String {
    format!("/v1/reconciliation/exceptions/{exception}/resolutions")
}

async fn resolve(app: &TestApp, key: &str, exception: &str, body: Value) -> Reply {
    app.post(&resolutions_path(exception), Some(key), None, &body)
        .await
}

/// The id of the only exception of `kind`.
async fn exception_of(app: &TestApp, kind: &str) -> String {
    let id: Uuid = sqlx::query_scalar("select id from reconciliation_exceptions where kind = $1")
        .bind(kind)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    id.to_string()
}

/// A 500,000 riel payment for a 600,000 riel attempt: `amount_mismatch`, 500,000 in
/// 0320:suspense:KHR.
async fn amount_mismatch(app: &TestApp, case: &str) -> String {
    let (_intent, reference) = app.pending_attempt(case).await;
    let reply = app
        .callback(
            &callback_body(&format!("sbx_short_{case}"), &reference, "500000"),
            SECRET,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    exception_of(app, "amount_mismatch").await
}

/// A paid intent paid a second time: `already_paid`, 600,000 in 0320:suspense:KHR. Returns
/// (exception id, the paid intent).
async fn already_paid(app: &TestApp, case: &str) -> (String, String) {
    let (intent, reference) = app.pending_attempt(case).await;
    for transaction in ["sbx_first", "sbx_second"] {
        let reply = app
            .callback(&callback_body(transaction, &reference, "600000"), SECRET)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    (exception_of(app, "already_paid").await, intent)
}

/// A statement of account `account_id` with one line, and its `unmatched_statement_line`
/// exception, as the upload would make them. Returns (exception id, line id).
async fn line_exception(
    app: &TestApp,
    account_id: &str,
    amount_minor: i64,
    direction: &str,
) -> (String, Uuid) {
    let statement = Uuid::now_v7();
    let line = Uuid::now_v7();
    let exception = Uuid::now_v7();
    let key: Uuid = sqlx::query_scalar("select id from api_keys order by created_at limit 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into bank_statements (id, account_id, office_code, format, sha256, raw, period_from,
             period_to, line_count, created_by_key_id, created_by_name)
         values ($1, $2, '0320', 'csv', sha256($1::text::bytea), 'raw'::bytea, current_date, current_date, 1, $3, 'test')",
    )
    .bind(statement)
    .bind(account_id)
    .bind(key)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into statement_lines (id, statement_id, office_code, account_id, line_no, booking_date,
             transaction_id, reference, currency, amount_minor, direction, description)
         values ($1, $2, '0320', $3, 1, current_date, 'bank-tx-1', 'REF-1', 'KHR', $4, $5, 'test line')",
    )
    .bind(line)
    .bind(statement)
    .bind(account_id)
    .bind(amount_minor)
    .bind(direction)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into reconciliation_exceptions (id, office_code, kind, provider, provider_transaction_id,
             amount, currency, statement_line_id, account_id, business_date)
         values ($1, '0320', 'unmatched_statement_line', 'statement', $2::text, $3, 'KHR', $2, $4, current_date)",
    )
    .bind(exception)
    .bind(line)
    .bind(amount_minor.to_string())
    .bind(account_id)
    .execute(&app.pool)
    .await
    .unwrap();
    (exception.to_string(), line)
}

/// A sandbox payment of 600,000 riel (D clearing:sandbox) and its `unmatched_ledger_item`
/// exception. Returns (exception id, posting id).
async fn item_exception(app: &TestApp, case: &str) -> (String, i64) {
    let (_intent, reference) = app.pending_attempt(case).await;
    app.callback(
        &callback_body(&format!("sbx_{case}"), &reference, "600000"),
        SECRET,
    )
    .await;
    let posting: i64 = sqlx::query_scalar(
        "select p.id from ledger_postings p join ledger_accounts a on a.id = p.account_id
         where a.code = '0320:clearing:sandbox:KHR' and p.amount_minor > 0 order by p.id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let exception = Uuid::now_v7();
    sqlx::query(
        "insert into reconciliation_exceptions (id, office_code, kind, provider, provider_transaction_id,
             amount, currency, item_posting_id, business_date)
         values ($1, '0320', 'unmatched_ledger_item', 'ledger', $2::text, '600000', 'KHR', $2, current_date)",
    )
    .bind(exception)
    .bind(posting)
    .execute(&app.pool)
    .await
    .unwrap();
    (exception.to_string(), posting)
}

async fn status_of(app: &TestApp, exception: &str) -> String {
    sqlx::query_scalar("select status from reconciliation_exceptions where id = $1::uuid")
        .bind(exception)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn assert_books_balance(app: &TestApp) {
    let balance = app
        .get("/v1/ledger/trial-balance", Some(app.key("auditor")))
        .await;
    for total in balance.body["totals"].as_array().unwrap() {
        assert_eq!(total["balance"], "0", "{}", balance.body);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn allocating_suspense_money_pays_the_intent_like_a_bank_payment(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (exception, _paid) = already_paid(&app, "0320100001").await;
    assert_eq!(app.balance("0320:suspense:KHR").await, "-600000");
    let target = app.intent("0320100002").await;
    let target_id = target["id"].as_str().unwrap().to_owned();
    let dollars = app.usd_intent("0320100003").await;
    let auditor = app.key("auditor").to_owned();

    // Bad input first: nothing is posted.
    let entries = app.ledger_entries().await;
    let wrong_currency = resolve(&app, &auditor, &exception, json!({"action": "allocate", "reason": "wrong reference", "payment_intent_id": dollars["id"]})).await;
    assert_eq!(
        wrong_currency.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong_currency.body
    );
    assert_eq!(wrong_currency.body["code"], "currency_mismatch");
    let no_reason = resolve(
        &app,
        &auditor,
        &exception,
        json!({"action": "allocate", "payment_intent_id": target_id}),
    )
    .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_reason.body["parameter"], "reason");
    let unknown = resolve(
        &app,
        &auditor,
        &exception,
        json!({"action": "donate", "reason": "x"}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.body["parameter"], "action");
    let nowhere = resolve(
        &app,
        &auditor,
        &exception,
        json!({"action": "allocate", "reason": "x", "payment_intent_id": Uuid::now_v7()}),
    )
    .await;
    assert_eq!(nowhere.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(nowhere.body["code"], "intent_not_payable");
    let cashier = resolve(
        &app,
        app.key("cashier_0320"),
        &exception,
        json!({"action": "allocate", "reason": "x", "payment_intent_id": target_id}),
    )
    .await;
    assert_eq!(cashier.status, StatusCode::FORBIDDEN);
    assert_eq!(app.ledger_entries().await, entries);
    assert_eq!(status_of(&app, &exception).await, "open");

    let allocated = resolve(&app, &auditor, &exception, json!({"action": "allocate", "reason": "the citizen typed the wrong reference", "payment_intent_id": target_id})).await;
    assert_eq!(allocated.status, StatusCode::CREATED, "{}", allocated.body);
    assert_eq!(allocated.body["action"], "allocate");
    assert_eq!(allocated.body["exception_status"], "resolved");
    let receipt = allocated.body["receipt_number"].as_str().unwrap();
    assert!(receipt.starts_with("0320-"), "{receipt}");
    assert_eq!(app.ledger_entries().await, entries + 1);
    assert_eq!(app.balance("0320:suspense:KHR").await, "0");
    assert_books_balance(&app).await;
    let intent = app
        .get(
            &format!("/v1/payment-intents/{target_id}"),
            Some(app.key("workflow")),
        )
        .await;
    assert_eq!(intent.body["status"], "paid", "{}", intent.body);
    assert_eq!(
        app.scalar_i64(&format!(
            "select count(*) from outbox_events where event_type = 'payment.paid' and payment_intent_id = '{target_id}'"
        ))
        .await,
        1
    );
    let resolved_events: i64 = sqlx::query_scalar(
        "select count(*) from outbox_events where event_type = 'reconciliation.exception'
         and payload::text like '%\"status\": \"resolved\"%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(resolved_events, 1);
    assert_eq!(
        app.scalar_i64("select count(*) from staff_actions where action = 'exception_resolution'")
            .await,
        1
    );

    // Resolved once: a second resolution is told, and an allocation is not reversed.
    let again = resolve(
        &app,
        &auditor,
        &exception,
        json!({"action": "refund", "reason": "x", "bank_reference": "RF-1"}),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "exception_already_resolved");
    let undo = resolve(
        &app,
        &auditor,
        &exception,
        json!({"action": "reverse", "reason": "oops", "resolution_id": allocated.body["id"]}),
    )
    .await;
    assert_eq!(undo.status, StatusCode::CONFLICT);
    assert_eq!(undo.body["code"], "not_reversible");

    let detail = app
        .get(
            &format!("/v1/reconciliation/exceptions/{exception}"),
            Some(&auditor),
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_eq!(detail.body["status"], "resolved");
    assert!(detail.body["resolved_at"].is_string());
    let history = detail.body["resolutions"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["receipt_number"], receipt);
    assert_eq!(
        history[0]["created_by"],
        format!("key:{}", key_id(&app, "opk_demo_auditor").await)
    );
}

async fn key_id(app: &TestApp, secret: &str) -> Uuid {
    sqlx::query_scalar("select id from api_keys where key_hash = sha256($1::bytea)")
        .bind(secret.as_bytes())
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_amount_that_is_not_the_intents_total_is_not_allocated(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let exception = amount_mismatch(&app, "0320100011").await;
    let target = app.intent("0320100012").await;
    let entries = app.ledger_entries().await;
    let reply = resolve(
        &app,
        app.key("auditor"),
        &exception,
        json!({"action": "allocate", "reason": "x", "payment_intent_id": target["id"]}),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["code"], "amount_not_due");
    assert_eq!(app.ledger_entries().await, entries);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refund_posts_to_refunds_payable_and_a_reversal_reopens(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let exception = amount_mismatch(&app, "0320100021").await;
    // A supervisor person, through their session.
    let person = log_in(&app, "supervisor.0320").await;
    let response = browser()
        .post(format!("{}{}", app.base, resolutions_path(&exception)))
        .header("cookie", &person.cookie)
        .header("x-csrf-token", &person.csrf)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&json!({"action": "refund", "reason": "the citizen asked for it back", "bank_reference": "ACL-RF-0001"})).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let refund: Value = response.json().await.unwrap();
    assert_eq!(refund["bank_reference"], "ACL-RF-0001");
    assert_eq!(refund["created_by"], "Keo Vanna (supervisor 0320)");
    assert_eq!(app.balance("0320:suspense:KHR").await, "0");
    assert_eq!(app.balance("0320:refunds-payable:KHR").await, "-500000");
    assert_eq!(status_of(&app, &exception).await, "resolved");

    let supervisor = app.key("supervisor_0320").to_owned();
    let reversed = resolve(&app, &supervisor, &exception, json!({"action": "reverse", "reason": "the bank did not send it", "resolution_id": refund["id"]})).await;
    assert_eq!(reversed.status, StatusCode::CREATED, "{}", reversed.body);
    assert_eq!(reversed.body["exception_status"], "open");
    assert_eq!(reversed.body["reverses_resolution_id"], refund["id"]);
    let reverses: Option<i64> =
        sqlx::query_scalar("select reverses_entry_id from ledger_entries where id = $1")
            .bind(reversed.body["ledger_entry_id"].as_i64().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(reverses, refund["ledger_entry_id"].as_i64());
    assert_eq!(app.balance("0320:suspense:KHR").await, "-500000");
    assert_eq!(app.balance("0320:refunds-payable:KHR").await, "0");
    assert_eq!(status_of(&app, &exception).await, "open");
    let resolved_at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select resolved_at from reconciliation_exceptions where id = $1::uuid")
            .bind(&exception)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(resolved_at.is_none());
    let twice = resolve(
        &app,
        &supervisor,
        &exception,
        json!({"action": "reverse", "reason": "again", "resolution_id": refund["id"]}),
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.body["code"], "already_reversed");
    // Open again, it is worked again.
    let again = resolve(
        &app,
        &supervisor,
        &exception,
        json!({"action": "refund", "reason": "sent now", "bank_reference": "ACL-RF-0002"}),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    let detail = app
        .get(
            &format!("/v1/reconciliation/exceptions/{exception}"),
            Some(&supervisor),
        )
        .await;
    let actions: Vec<&str> = detail.body["resolutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["refund", "reverse", "refund"]);
    assert_eq!(
        detail.body["resolutions"][0]["reversed_by_resolution_id"],
        reversed.body["id"]
    );
    assert_books_balance(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_write_off_needs_a_supervisors_approval(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let exception = amount_mismatch(&app, "0320100031").await;
    let auditor = app.key("auditor").to_owned();
    let entries = app.ledger_entries().await;
    let alone = resolve(
        &app,
        &auditor,
        &exception,
        json!({"action": "write_off", "reason": "nobody claims it", "write_off_to": "income"}),
    )
    .await;
    assert_eq!(alone.status, StatusCode::FORBIDDEN, "{}", alone.body);
    assert_eq!(alone.body["code"], "approval_refused");
    let wrong = resolve(&app, &auditor, &exception, json!({"action": "write_off", "reason": "nobody claims it", "write_off_to": "income", "approval": {"username": "supervisor.0320", "password": "guess"}})).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.scalar_i64(
            "select failed_logins::bigint from staff_users where username = 'supervisor.0320'"
        )
        .await,
        1
    );
    let to_suspense = resolve(&app, &auditor, &exception, json!({"action": "write_off", "reason": "x", "write_off_to": "suspense", "approval": {"username": "supervisor.0320", "password": DEMO_PASSWORD}})).await;
    assert_eq!(to_suspense.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(to_suspense.body["code"], "write_off_target");
    assert_eq!(app.ledger_entries().await, entries);

    let approved = resolve(&app, &auditor, &exception, json!({"action": "write_off", "reason": "nobody claims it", "write_off_to": "income", "approval": {"username": "supervisor.0320", "password": DEMO_PASSWORD}})).await;
    assert_eq!(approved.status, StatusCode::CREATED, "{}", approved.body);
    assert_eq!(approved.body["approved_by"], "Keo Vanna (supervisor 0320)");
    assert_eq!(app.balance("0320:other-income:KHR").await, "-500000");
    assert_eq!(app.balance("0320:suspense:KHR").await, "0");

    // A bank fee the bank took: D bank-fees · C bank, a supervisor's key approving itself.
    let (fee, _line) = line_exception(&app, "acleda-0320-khr", 2_500, "DBIT").await;
    let written = resolve(&app, app.key("supervisor_0320"), &fee, json!({"action": "write_off", "reason": "monthly account fee", "write_off_to": "bank_fees"})).await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.body);
    assert_eq!(app.balance("0320:bank-fees:KHR").await, "2500");
    assert_eq!(app.balance("0320:bank:acleda-0320-khr:KHR").await, "-2500");
    // A refund of money paid out makes no sense.
    let (out, _) = line_exception(&app, "acleda-0320-khr", 1_000, "DBIT").await;
    let refund = resolve(
        &app,
        app.key("supervisor_0320"),
        &out,
        json!({"action": "refund", "reason": "x", "bank_reference": "R"}),
    )
    .await;
    assert_eq!(refund.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refund.body["code"], "action_not_allowed");
    assert_books_balance(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn matching_by_hand_posts_the_bank_and_resolves_both_sides(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (item_exception, posting) = item_exception(&app, "0320100041").await;
    let (line_exception, line) = line_exception(&app, "acleda-0320-khr", 599_000, "CRDT").await;
    let supervisor = app.key("supervisor_0320").to_owned();

    // Allocating or refunding an item is not a thing.
    let refund = resolve(
        &app,
        &supervisor,
        &item_exception,
        json!({"action": "refund", "reason": "x", "bank_reference": "R"}),
    )
    .await;
    assert_eq!(refund.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = app
        .get(
            "/v1/reconciliation/exceptions?kind=unmatched_ledger_item",
            Some(&supervisor),
        )
        .await;
    let listed = listed.body["data"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["item_posting_id"], posting);
    assert_eq!(listed[0]["age_days"], 0);
    let detail = app
        .get(
            &format!("/v1/reconciliation/exceptions/{line_exception}"),
            Some(&supervisor),
        )
        .await;
    assert_eq!(
        detail.body["statement_line"]["amount"],
        json!({"amount": "599000", "currency": "KHR"})
    );
    assert_eq!(detail.body["statement_line"]["direction"], "CRDT");

    let matched = resolve(
        &app,
        &supervisor,
        &line_exception,
        json!({"action": "match", "reason": "the bank kept a fee", "item_posting_id": posting}),
    )
    .await;
    assert_eq!(matched.status, StatusCode::CREATED, "{}", matched.body);
    assert_eq!(
        matched.body["also_resolved_exception_id"],
        item_exception.as_str()
    );
    assert_eq!(app.balance("0320:bank:acleda-0320-khr:KHR").await, "599000");
    assert_eq!(app.balance("0320:bank-fees:KHR").await, "1000");
    assert_eq!(app.balance("0320:clearing:sandbox:KHR").await, "0");
    assert_eq!(status_of(&app, &line_exception).await, "resolved");
    assert_eq!(status_of(&app, &item_exception).await, "resolved");
    let (method, fee): (String, i64) = sqlx::query_as(
        "select method, fee_minor from reconciliation_matches where statement_line_id = $1",
    )
    .bind(line)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((method.as_str(), fee), ("manual", 1000));
    assert_eq!(
        app.scalar_i64(&format!(
            "select count(*) from reconciliation_match_items where posting_id = {posting}"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar_i64("select count(*) from exception_resolutions where action = 'match'")
            .await,
        2
    );
    let undo = resolve(
        &app,
        &supervisor,
        &line_exception,
        json!({"action": "reverse", "reason": "x", "resolution_id": matched.body["id"]}),
    )
    .await;
    assert_eq!(undo.status, StatusCode::CONFLICT);
    assert_eq!(undo.body["code"], "not_reversible");
    assert_books_balance(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_crdt_line_is_allocated_from_the_bank(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (exception, _line) = line_exception(&app, "owso_0320@demo", 600_000, "CRDT").await;
    let target = app.intent("0320100051").await;
    let reply = resolve(&app, app.key("supervisor_0320"), &exception, json!({"action": "allocate", "reason": "paid with the case number only", "payment_intent_id": target["id"]})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(app.balance("0320:bank:bakong:KHR").await, "600000");
    let paid_channel: String =
        sqlx::query_scalar("select paid_channel from payment_intents where id = $1::uuid")
            .bind(target["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(paid_channel, "khqr");
    assert_books_balance(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn two_people_resolving_at_once_one_wins(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let exception = amount_mismatch(&app, "0320100061").await;
    let entries = app.ledger_entries().await;
    let body = json!({"action": "refund", "reason": "given back", "bank_reference": "RF-9"});
    let (first, second) = tokio::join!(
        resolve(&app, app.key("supervisor_0320"), &exception, body.clone()),
        resolve(&app, app.key("auditor"), &exception, body.clone()),
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} {}",
        first.body,
        second.body
    );
    let loser = if first.status == StatusCode::CONFLICT {
        first
    } else {
        second
    };
    assert_eq!(loser.body["code"], "exception_already_resolved");
    assert_eq!(app.ledger_entries().await, entries + 1);
    assert_eq!(
        app.scalar_i64("select count(*) from exception_resolutions")
            .await,
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn another_offices_exception_is_not_found(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let exception = amount_mismatch(&app, "0320100071").await;
    let entries = app.ledger_entries().await;
    let other = app.key("auditor_1201").to_owned();
    let posted = resolve(
        &app,
        &other,
        &exception,
        json!({"action": "refund", "reason": "x", "bank_reference": "R"}),
    )
    .await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND, "{}", posted.body);
    let read = app
        .get(
            &format!("/v1/reconciliation/exceptions/{exception}"),
            Some(&other),
        )
        .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    let missing = resolve(
        &app,
        app.key("auditor"),
        &Uuid::now_v7().to_string(),
        json!({"action": "refund", "reason": "x", "bank_reference": "R"}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let long = resolve(
        &app,
        app.key("auditor"),
        &exception,
        json!({"action": "refund", "reason": "x".repeat(1001), "bank_reference": "R"}),
    )
    .await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no_reference = resolve(
        &app,
        app.key("auditor"),
        &exception,
        json!({"action": "refund", "reason": "x"}),
    )
    .await;
    assert_eq!(no_reference.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_reference.body["parameter"], "bank_reference");
    assert_eq!(app.ledger_entries().await, entries);
    assert_eq!(status_of(&app, &exception).await, "open");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_repeated_request_with_its_key_records_once(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let exception = amount_mismatch(&app, "0320100081").await;
    let body = json!({"action": "refund", "reason": "given back", "bank_reference": "RF-7"});
    let path = resolutions_path(&exception);
    let first = app
        .post(&path, Some(app.key("auditor")), Some("form-1"), &body)
        .await;
    let entries = app.ledger_entries().await;
    let second = app
        .post(&path, Some(app.key("auditor")), Some("form-1"), &body)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    assert_eq!(first.body["id"], second.body["id"]);
    assert_eq!(app.ledger_entries().await, entries);
    let other_body = app
        .post(
            &path,
            Some(app.key("auditor")),
            Some("form-1"),
            &json!({"action": "refund", "reason": "other", "bank_reference": "RF-8"}),
        )
        .await;
    assert_eq!(other_body.status.as_u16() / 100, 4, "{}", other_body.body);
}

async fn page_as(app: &TestApp, person: &crate::pages::Person, path: &str) -> crate::pages::Page {
    crate::pages::read(
        browser()
            .get(format!("{}{path}", app.base))
            .header("cookie", &person.cookie)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post_form_as(
    app: &TestApp,
    person: &crate::pages::Person,
    path: &str,
    pairs: &[(&str, &str)],
) -> crate::pages::Page {
    crate::pages::read(
        browser()
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &person.cookie)
            .body(crate::pages::form(pairs))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_console_lists_open_exceptions_and_works_them_with_forms(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let exception = amount_mismatch(&app, "0320100091").await;
    let (line, _) = line_exception(&app, "acleda-0320-khr", 2_000, "DBIT").await;
    let person = log_in(&app, "auditor").await;
    let list = page_as(&app, &person, "/console/exceptions").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.html);
    assert!(list
        .html
        .contains(&format!("/console/exceptions/{exception}")));
    assert!(list.html.contains(r#"data-testid="nav-exceptions""#));
    // Oldest first: the suspense exception was raised before the line's.
    let first = list.html.find(&exception).unwrap();
    let second = list.html.find(&line).unwrap();
    assert!(first < second);
    let lines_only = page_as(
        &app,
        &person,
        "/console/exceptions?status=open&kind=unmatched_statement_line",
    )
    .await;
    assert!(!lines_only.html.contains(&exception));
    assert!(lines_only.html.contains(&line));

    let path = format!("/console/exceptions/{exception}");
    let detail = page_as(&app, &person, &path).await;
    assert_eq!(detail.status, StatusCode::OK);
    for form in ["allocate-form", "refund-form", "write-off-form"] {
        assert!(detail.html.contains(form), "{form}");
    }
    assert!(!detail.html.contains("match-form"));

    // No reason: the page again, naming the field; nothing posted.
    let entries = app.ledger_entries().await;
    let missing = post_form_as(
        &app,
        &person,
        &path,
        &[
            ("csrf", &person.csrf),
            ("idempotency_key", "f-1"),
            ("action", "refund"),
            ("bank_reference", "RF-1"),
            ("reason", ""),
        ],
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.html);
    assert!(
        missing.html.contains(r##"href="#reason""##),
        "{}",
        missing.html
    );
    // A wrong approval on the write-off: refused, naming the approver field.
    let refused = post_form_as(
        &app,
        &person,
        &path,
        &[
            ("csrf", &person.csrf),
            ("idempotency_key", "f-2"),
            ("action", "write_off"),
            ("write_off_to", "income"),
            ("approver_username", "supervisor.0320"),
            ("approver_password", "guess"),
            ("reason", "nobody claims it"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.html.contains(r##"href="#approver""##));
    assert_eq!(app.ledger_entries().await, entries);
    // No CSRF: refused.
    let forged = post_form_as(
        &app,
        &person,
        &path,
        &[
            ("idempotency_key", "f-3"),
            ("action", "refund"),
            ("bank_reference", "RF-1"),
            ("reason", "x"),
        ],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let done = post_form_as(
        &app,
        &person,
        &path,
        &[
            ("csrf", &person.csrf),
            ("idempotency_key", "f-4"),
            ("action", "refund"),
            ("bank_reference", "RF-1"),
            ("reason", "given back"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location(), path);
    // The same form twice records once.
    let again = post_form_as(
        &app,
        &person,
        &path,
        &[
            ("csrf", &person.csrf),
            ("idempotency_key", "f-4"),
            ("action", "refund"),
            ("bank_reference", "RF-1"),
            ("reason", "given back"),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(app.ledger_entries().await, entries + 1);
    let after = page_as(&app, &person, &path).await;
    assert!(after.html.contains(r#"data-action="refund""#));
    assert!(after.html.contains("reverse-form"));
    assert!(after.html.contains("Meas Rithy (auditor)"));

    // The line: a match form with the office's unmatched items (none here) and a write-off.
    let line_page = page_as(&app, &person, &format!("/console/exceptions/{line}")).await;
    assert!(line_page.html.contains("match-form"));
    assert!(line_page.html.contains("write-off-form"));
    assert!(!line_page.html.contains("refund-form"));
}
