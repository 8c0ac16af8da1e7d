//! Bank statements in (issue 15): a statement is checked whole, kept as received, matched
//! against the account's ledger items in the same transaction, and what stays unmatched is
//! raised as exceptions; the daily report shows the difference.

use chrono::{Days, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::pages::log_in;
use crate::support::{callback_body, Reply, TestApp, SECRET};

const KHR_ACCOUNT: &str = "acleda-0320-khr";
const HEADER: &str =
    "booking_date,transaction_id,reference,amount,currency,direction,description\n";

/// Today in Cambodia (UTC+7), the day the ledger dates what the tests post now.
fn today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(7)).date_naive()
}

fn next_day(day: NaiveDate) -> NaiveDate {
    day.checked_add_days(Days::new(1)).unwrap()
}

/// A CSV statement of `rows` (booking date, transaction id, reference, amount, currency,
/// direction).
fn csv(rows: &[(NaiveDate, &str, &str, &str, &str, &str)]) -> Vec<u8> {
    let mut out = HEADER.to_owned();
    for (day, transaction_id, reference, amount, currency, direction) in rows {
        out.push_str(&format!(
            "{day},{transaction_id},{reference},{amount},{currency},{direction},test line\n"
        ));
    }
    out.into_bytes()
}

async fn upload(
    app: &TestApp,
    key: &str,
    content_type: &str,
    account: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let path = match account {
        Some(account) => format!("/v1/reconciliation/statements?account_id={account}"),
        None => "/v1/reconciliation/statements".to_owned(),
    };
    let response = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

async fn load_csv(app: &TestApp, body: Vec<u8>) -> Reply {
    let key = app.key("supervisor_0320").to_owned();
    upload(app, &key, "text/csv", Some(KHR_ACCOUNT), body).await
}

/// A sandbox payment of 600,000 riel at office 0320, settled by the bank's callback with
/// transaction id `transaction_id`.
async fn paid(app: &TestApp, case: &str, transaction_id: &str) {
    let (_intent, reference) = app.pending_attempt(case).await;
    let reply = app
        .callback(&callback_body(transaction_id, &reference, "600000"), SECRET)
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.scalar_i64(sql).await
}

async fn report(app: &TestApp, day: NaiveDate) -> Value {
    let reply = app
        .get(
            &format!(
                "/v1/reconciliation/report?office_code=0320&account_id={KHR_ACCOUNT}&date={day}"
            ),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn khr(report: &Value) -> &Value {
    report["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|day| day["currency"] == "KHR")
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_perfect_statement_matches_every_payment_and_moves_clearing_to_the_bank(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320150001", "SBX-REC-1").await;
    paid(&app, "0320150002", "SBX-REC-2").await;
    assert_eq!(app.balance("0320:clearing:sandbox:KHR").await, "1200000");
    let day = today();
    let loaded = load_csv(
        &app,
        csv(&[
            (day, "SBX-REC-1", "", "600000", "KHR", "CRDT"),
            (day, "SBX-REC-2", "", "600000", "KHR", "CRDT"),
        ]),
    )
    .await;
    assert_eq!(loaded.status, StatusCode::CREATED, "{}", loaded.body);
    assert_eq!(loaded.body["lines"], 2);
    assert_eq!(loaded.body["matched"], 2);
    assert_eq!(loaded.body["exceptions"], 0);
    assert_eq!(loaded.body["duplicate"], false);
    assert_eq!(loaded.body["format"], "csv");
    assert_eq!(loaded.body["office_code"], "0320");
    assert_eq!(app.balance("0320:clearing:sandbox:KHR").await, "0");
    assert_eq!(
        app.balance(&format!("0320:bank:{KHR_ACCOUNT}:KHR")).await,
        "1200000"
    );
    // Kept as received, with its hash.
    let raw: Vec<u8> = sqlx::query_scalar("select raw from bank_statements")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(raw.starts_with(HEADER.as_bytes()));

    let id = loaded.body["id"].as_str().unwrap();
    let statement = app
        .get(
            &format!("/v1/reconciliation/statements/{id}"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(statement.status, StatusCode::OK, "{}", statement.body);
    let lines = statement.body["lines_detail"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    for line in lines {
        assert_eq!(line["status"], "matched", "{line}");
        assert_eq!(line["method"], "exact");
        assert_eq!(line["item_posting_ids"].as_array().unwrap().len(), 1);
    }
    let list = app
        .get(
            "/v1/reconciliation/statements?office_code=0320",
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(list.body["data"][0]["id"], id);

    let report = report(&app, day).await;
    let khr = khr(&report);
    assert_eq!(khr["difference"]["amount"], "0", "{report}");
    assert_eq!(khr["matched"]["count"], 2);
    assert_eq!(khr["matched"]["sum"]["amount"], "1200000");
    assert_eq!(khr["statement_lines"]["credit"]["amount"], "1200000");
    assert_eq!(khr["closing_balance"]["amount"], "1200000");
    assert_eq!(khr["opening_balance"]["amount"], "0");
    let sandbox = khr["receipts_by_channel"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["channel"] == "sandbox")
        .unwrap();
    assert_eq!(sandbox["count"], 2);
    assert_eq!(report["reconciled"], true, "{report}");

    let days = app
        .get(
            &format!("/v1/reconciliation/days?office_code=0320&from={day}&to={day}"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(days.status, StatusCode::OK, "{}", days.body);
    let row = days
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["account_id"] == KHR_ACCOUNT)
        .unwrap();
    assert_eq!(row["reconciled"], true);
    assert_eq!(row["statement_loaded"], true);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_line_less_a_bank_fee_posts_the_fee_to_bank_fees(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320150101", "SBX-FEE-1").await;
    let loaded = load_csv(
        &app,
        csv(&[(today(), "SBX-FEE-1", "", "599000", "KHR", "CRDT")]),
    )
    .await;
    assert_eq!(loaded.status, StatusCode::CREATED, "{}", loaded.body);
    assert_eq!(loaded.body["matched"], 1, "{}", loaded.body);
    assert_eq!(app.balance("0320:bank-fees:KHR").await, "1000");
    assert_eq!(
        app.balance(&format!("0320:bank:{KHR_ACCOUNT}:KHR")).await,
        "599000"
    );
    assert_eq!(app.balance("0320:clearing:sandbox:KHR").await, "0");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cash_deposit_is_matched_by_its_slip_and_moves_cash_in_transit_to_the_bank(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let opened = app
        .post(
            "/v1/cashier/sessions",
            Some(&key),
            None,
            &json!({"office_code": "0320", "opening_float": [{"amount": "100000", "currency": "KHR"}]}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let drawer = opened.body["id"].as_str().unwrap().to_owned();
    let intent = app.intent("0320150201").await;
    let taken = app
        .post(
            &format!("/v1/cashier/sessions/{drawer}/receipts"),
            Some(&key),
            Some("take-rec-1"),
            &json!({"payment_intent_id": intent["id"], "tendered": {"amount": "600000", "currency": "KHR"}}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.body);
    let closed = app
        .post(
            &format!("/v1/cashier/sessions/{drawer}/close"),
            Some(&key),
            None,
            &json!({"counted": [{"amount": "700000", "currency": "KHR"}]}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    let deposit = app
        .post(
            &format!("/v1/cashier/sessions/{drawer}/deposits"),
            Some(&key),
            None,
            &json!({"amount": {"amount": "600000", "currency": "KHR"}, "slip_reference": "SLIP-77", "bank_account": KHR_ACCOUNT}),
        )
        .await;
    assert_eq!(deposit.status, StatusCode::CREATED, "{}", deposit.body);
    assert_eq!(app.balance("0320:cash-in-transit:KHR").await, "600000");

    let loaded = load_csv(
        &app,
        csv(&[(today(), "ACL-DEP-9", "SLIP-77", "600000", "KHR", "CRDT")]),
    )
    .await;
    assert_eq!(loaded.status, StatusCode::CREATED, "{}", loaded.body);
    assert_eq!(loaded.body["matched"], 1, "{}", loaded.body);
    assert_eq!(loaded.body["exceptions"], 0, "{}", loaded.body);
    assert_eq!(app.balance("0320:cash-in-transit:KHR").await, "0");
    assert_eq!(
        app.balance(&format!("0320:bank:{KHR_ACCOUNT}:KHR")).await,
        "600000"
    );
    let report = report(&app, today()).await;
    assert_eq!(khr(&report)["deposits"]["count"], 1, "{report}");
    assert_eq!(khr(&report)["deposits"]["sum"]["amount"], "600000");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_same_file_twice_is_one_statement(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320150301", "SBX-DUP-1").await;
    let file = csv(&[(today(), "SBX-DUP-1", "", "600000", "KHR", "CRDT")]);
    let first = load_csv(&app, file.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let entries = app.ledger_entries().await;
    let again = load_csv(&app, file).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(app.ledger_entries().await, entries);
    assert_eq!(count(&app, "select count(*) from bank_statements").await, 1);
    assert_eq!(count(&app, "select count(*) from statement_lines").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_overlapping_period_is_refused_naming_the_other_statement(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let day = today();
    let first = load_csv(&app, csv(&[(day, "X-1", "", "100", "KHR", "CRDT")])).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let overlapping = load_csv(
        &app,
        csv(&[
            (day, "X-2", "", "200", "KHR", "CRDT"),
            (next_day(day), "X-3", "", "300", "KHR", "CRDT"),
        ]),
    )
    .await;
    assert_eq!(
        overlapping.status,
        StatusCode::CONFLICT,
        "{}",
        overlapping.body
    );
    assert_eq!(overlapping.body["code"], "statement_overlaps");
    assert_eq!(overlapping.body["statement_id"], first.body["id"]);
    assert_eq!(count(&app, "select count(*) from bank_statements").await, 1);
    // The next day alone is fine.
    let next = load_csv(
        &app,
        csv(&[(next_day(day), "X-3", "", "300", "KHR", "CRDT")]),
    )
    .await;
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn two_overlapping_statements_loaded_at_once_give_exactly_one_statement(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let day = today();
    let a = load_csv(&app, csv(&[(day, "RACE-A", "", "100", "KHR", "CRDT")]));
    let b = load_csv(&app, csv(&[(day, "RACE-B", "", "200", "KHR", "CRDT")]));
    let (a, b) = tokio::join!(a, b);
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} {}",
        a.body,
        b.body
    );
    assert_eq!(count(&app, "select count(*) from bank_statements").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_account_of_another_office_is_not_found(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let file = csv(&[(today(), "Y-1", "", "100", "KHR", "CRDT")]);
    let key = app.key("supervisor_0320").to_owned();
    let other = upload(
        &app,
        &key,
        "text/csv",
        Some("acleda-1201-khr"),
        file.clone(),
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.body);
    assert_eq!(other.body["code"], "account_unknown");
    let unknown = upload(
        &app,
        &key,
        "text/csv",
        Some("no-such-account"),
        file.clone(),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let cashier = app.key("cashier_0320").to_owned();
    let refused = upload(&app, &cashier, "text/csv", Some(KHR_ACCOUNT), file.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let media = upload(&app, &key, "application/json", Some(KHR_ACCOUNT), file).await;
    assert_eq!(
        media.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        media.body
    );
    let empty = upload(&app, &key, "text/csv", Some(KHR_ACCOUNT), Vec::new()).await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.body
    );
    assert_eq!(empty.body["code"], "statement_invalid");
    let huge = vec![b'x'; bank_adapters::statement::MAX_STATEMENT_BYTES + 1];
    let too_large = upload(&app, &key, "text/csv", Some(KHR_ACCOUNT), huge).await;
    assert_eq!(
        too_large.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        too_large.body
    );
    assert_eq!(too_large.body["code"], "payload_too_large");
    // The detail names this route's limit, not the API's 64 kB.
    assert_eq!(
        too_large.body["detail"],
        format!(
            "request bodies are limited to {} bytes",
            bank_adapters::statement::MAX_STATEMENT_BYTES
        )
    );
    // camt.053 is refused whole until its reader lands, with the problem listed.
    let camt = upload(&app, &key, "application/xml", None, b"<Document/>".to_vec()).await;
    assert_eq!(
        camt.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        camt.body
    );
    assert_eq!(count(&app, "select count(*) from bank_statements").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_line_in_another_currency_than_the_account_is_refused(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let reply = load_csv(
        &app,
        csv(&[
            (today(), "Z-1", "", "100", "KHR", "CRDT"),
            (today(), "Z-2", "", "12.50", "USD", "CRDT"),
        ]),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["code"], "currency_mismatch");
    assert_eq!(count(&app, "select count(*) from bank_statements").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_malformed_file_lists_every_problem_and_stores_nothing(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let mut file = HEADER.to_owned();
    file.push_str(&format!("{},OK-1,,100,KHR,CRDT,fine\n", today()));
    file.push_str("2026-13-01,BAD-1,,100,KHR,CRDT,bad date\n");
    file.push_str(&format!("{},BAD-2,,-5,KHR,CRDT,negative\n", today()));
    file.push_str(&format!("{},BAD-3,,100,KHR,SIDEWAYS,direction\n", today()));
    let reply = load_csv(&app, file.into_bytes()).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["code"], "statement_invalid");
    let problems = reply.body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3, "{}", reply.body);
    let locations: Vec<&str> = problems
        .iter()
        .map(|problem| problem["location"].as_str().unwrap())
        .collect();
    assert_eq!(locations, ["line 3", "line 4", "line 5"]);
    assert_eq!(count(&app, "select count(*) from bank_statements").await, 0);
    assert_eq!(count(&app, "select count(*) from statement_lines").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unmatched_line_and_an_unmatched_item_become_exceptions_and_a_report_difference(
    pool: PgPool,
) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320150401", "SBX-MISS-1").await;
    paid(&app, "0320150402", "SBX-MISS-2").await;
    let events_before = count(
        &app,
        "select count(*) from outbox_events where event_type = 'reconciliation.exception'",
    )
    .await;
    let day = today();
    let loaded = load_csv(
        &app,
        csv(&[
            (day, "SBX-MISS-1", "", "600000", "KHR", "CRDT"),
            (day, "STRANGER-1", "", "50000", "KHR", "CRDT"),
        ]),
    )
    .await;
    assert_eq!(loaded.status, StatusCode::CREATED, "{}", loaded.body);
    assert_eq!(loaded.body["matched"], 1);
    assert_eq!(loaded.body["exceptions"], 2);
    let events = count(
        &app,
        "select count(*) from outbox_events where event_type = 'reconciliation.exception'",
    )
    .await;
    assert_eq!(events - events_before, 2);

    let exceptions = app
        .get(
            "/v1/reconciliation/exceptions?office_code=0320&status=open",
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(exceptions.status, StatusCode::OK, "{}", exceptions.body);
    let rows = exceptions.body["data"].as_array().unwrap();
    let line = rows
        .iter()
        .find(|row| row["kind"] == "unmatched_statement_line")
        .unwrap();
    assert_eq!(line["provider_transaction_id"], "STRANGER-1");
    assert!(
        line["created_at"].is_string(),
        "an exception's age counts from created_at"
    );
    let item = rows
        .iter()
        .find(|row| row["kind"] == "unmatched_ledger_item")
        .unwrap();
    assert_eq!(item["provider_transaction_id"], "SBX-MISS-2");
    assert_eq!(
        count(&app, "select count(*) from reconciliation_exceptions where business_date is null and kind like 'unmatched%'").await,
        0
    );

    let report = report(&app, day).await;
    let khr = khr(&report);
    // A stranger's 50,000 in, a 600,000 payment the bank never showed.
    assert_eq!(khr["difference"]["amount"], "-550000", "{report}");
    assert_eq!(khr["unmatched_lines"]["count"], 1);
    assert_eq!(khr["unmatched_items"]["count"], 1);
    assert_eq!(khr["unmatched_items"]["sum"]["amount"], "600000");
    assert_eq!(report["reconciled"], false);

    let statement = app
        .get(
            &format!(
                "/v1/reconciliation/statements/{}",
                loaded.body["id"].as_str().unwrap()
            ),
            Some(app.key("auditor")),
        )
        .await;
    let lines = statement.body["lines_detail"].as_array().unwrap();
    assert_eq!(lines[1]["status"], "exception");
    assert!(lines[1]["exception_id"].is_string());

    let response = app
        .http
        .get(format!(
            "{}/v1/reconciliation/report?account_id={KHR_ACCOUNT}&date={day}",
            app.base
        ))
        .bearer_auth(app.key("auditor"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#""KHR","difference","","","-550000""#),
        "{text}"
    );
    assert!(text.contains(r#""reconciled","false""#), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_late_line_on_the_next_statement_resolves_the_item_exception(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320150501", "SBX-LATE-1").await;
    paid(&app, "0320150502", "SBX-LATE-2").await;
    let day = today();
    let first = load_csv(
        &app,
        csv(&[(day, "SBX-LATE-1", "", "600000", "KHR", "CRDT")]),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["exceptions"], 1, "{}", first.body);
    let exception: uuid::Uuid = sqlx::query_scalar(
        "select id from reconciliation_exceptions where kind = 'unmatched_ledger_item' and status = 'open'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();

    let late = load_csv(
        &app,
        csv(&[(next_day(day), "SBX-LATE-2", "", "600000", "KHR", "CRDT")]),
    )
    .await;
    assert_eq!(late.status, StatusCode::CREATED, "{}", late.body);
    assert_eq!(late.body["matched"], 1, "{}", late.body);
    assert_eq!(late.body["exceptions"], 0, "{}", late.body);
    let (status, resolved_at): (String, Option<chrono::DateTime<Utc>>) =
        sqlx::query_as("select status, resolved_at from reconciliation_exceptions where id = $1")
            .bind(exception)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "resolved");
    assert!(resolved_at.is_some());
    let (action, by, reason, match_id): (String, String, String, Option<uuid::Uuid>) =
        sqlx::query_as(
            "select action, created_by_name, reason, match_id from exception_resolutions where exception_id = $1",
        )
        .bind(exception)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(action, "matched_later");
    assert_eq!(by, "reconciliation");
    assert!(reason.contains("statement line"), "{reason}");
    assert!(match_id.is_some());
    assert_eq!(app.balance("0320:clearing:sandbox:KHR").await, "0");
    // The first day is now reconciled: its item exception is resolved.
    assert_eq!(report(&app, day).await["reconciled"], true);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_supervisor_loads_a_statement_through_the_console_session(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let person = log_in(&app, "supervisor.0320").await;
    let file = csv(&[(today(), "P-1", "", "100", "KHR", "CRDT")]);
    let send = |csrf: Option<&str>| {
        let mut request = app
            .http
            .post(format!(
                "{}/v1/reconciliation/statements?account_id={KHR_ACCOUNT}",
                app.base
            ))
            .header("cookie", &person.cookie)
            .header("content-type", "text/csv")
            .body(file.clone());
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    let without = send(None).await.unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let with = send(Some(&person.csrf)).await.unwrap();
    assert_eq!(with.status(), StatusCode::CREATED);
    let body: Value = with.json().await.unwrap();
    let (name, actions): (String, i64) = sqlx::query_as(
        "select created_by_name, (select count(*) from staff_actions where action = 'statement_load' and user_id is not null)
         from bank_statements where id = $1::uuid",
    )
    .bind(body["id"].as_str().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(!name.starts_with("api key"), "{name}");
    assert_eq!(actions, 1);
}

/// A `multipart/form-data` body as a browser sends the statement form.
fn multipart(csrf: &str, account_id: &str, file_name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----owso-test-boundary";
    let mut body = Vec::new();
    for (name, value) in [("csrf", csrf), ("account_id", account_id)] {
        body.extend_from_slice(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\ncontent-type: text/csv\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_supervisor_loads_a_statement_on_the_console_and_reads_the_report(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320150601", "SBX-PAGE-1").await;
    let person = log_in(&app, "supervisor.0320").await;
    let get = |path: String| {
        crate::pages::browser()
            .get(format!("{}{path}", app.base))
            .header("cookie", &person.cookie)
            .send()
    };
    let overview =
        crate::pages::read(get("/console/reconciliation".to_owned()).await.unwrap()).await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.html);
    assert!(overview.html.contains("data-testid=\"nav-reconciliation\""));
    assert!(overview.html.contains(KHR_ACCOUNT));
    let form = crate::pages::read(
        get("/console/reconciliation/statements/new".to_owned())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("enctype=\"multipart/form-data\""));

    let post = |content_type: String, body: Vec<u8>| {
        crate::pages::browser()
            .post(format!(
                "{}/console/reconciliation/statements/new",
                app.base
            ))
            .header("cookie", &person.cookie)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let mut bad = HEADER.to_owned();
    bad.push_str("2026-13-01,B-1,,100,KHR,CRDT,x\n2026-12-01,B-2,,1.5,KHR,CRDT,x\n2026-12-01,B-3,,100,EUR,CRDT,x\n");
    let (content_type, body) = multipart(&person.csrf, KHR_ACCOUNT, "bad.csv", bad.as_bytes());
    let refused = crate::pages::read(post(content_type, body).await.unwrap()).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.html
    );
    assert_eq!(
        refused
            .html
            .matches("data-testid=\"statement-problem\"")
            .count(),
        3,
        "{}",
        refused.html
    );
    // The page is in Khmer (the default): the parser's "line 2" reads បន្ទាត់ 2.
    assert!(
        refused.html.contains("បន្ទាត់ 2") && refused.html.contains("បន្ទាត់ 4"),
        "{}",
        refused.html
    );
    assert_eq!(count(&app, "select count(*) from bank_statements").await, 0);

    let (content_type, body) = multipart("not-the-token", KHR_ACCOUNT, "s.csv", HEADER.as_bytes());
    let forged = crate::pages::read(post(content_type, body).await.unwrap()).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let good = csv(&[(today(), "SBX-PAGE-1", "", "600000", "KHR", "CRDT")]);
    let (content_type, body) = multipart(&person.csrf, KHR_ACCOUNT, "good.csv", &good);
    let loaded = crate::pages::read(post(content_type, body).await.unwrap()).await;
    assert_eq!(loaded.status, StatusCode::SEE_OTHER, "{}", loaded.html);
    let target = loaded.location().to_owned();
    assert!(
        target.starts_with("/console/reconciliation/statements/"),
        "{target}"
    );
    let statement = crate::pages::read(get(target).await.unwrap()).await;
    assert_eq!(statement.status, StatusCode::OK);
    assert!(
        statement.html.contains("data-status=\"matched\""),
        "{}",
        statement.html
    );

    let day = today();
    let report = crate::pages::read(
        get(format!(
            "/console/reconciliation/report?account_id={KHR_ACCOUNT}&date={day}"
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.html);
    assert!(
        report.html.contains("data-testid=\"report-reconciled\""),
        "{}",
        report.html
    );
    let csv_page = get(format!(
        "/console/reconciliation/report.csv?account_id={KHR_ACCOUNT}&date={day}"
    ))
    .await
    .unwrap();
    assert_eq!(csv_page.status(), StatusCode::OK);
    let text = csv_page.text().await.unwrap();
    assert!(text.contains(r#""KHR","difference","","","0""#), "{text}");

    // Another office's account is not this person's.
    let other = crate::pages::read(
        get(format!(
            "/console/reconciliation/report?account_id=acleda-1201-khr&date={day}"
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

/// Resolves `exception` through the API as office 0320's supervisor key.
async fn resolve(app: &TestApp, exception: uuid::Uuid, body: Value) -> Reply {
    let key = app.key("supervisor_0320").to_owned();
    let reply = app
        .post(
            &format!("/v1/reconciliation/exceptions/{exception}/resolutions"),
            Some(&key),
            None,
            &body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply
}

#[sqlx::test(migrations = "../migrations")]
async fn a_written_off_item_is_never_matched_again_until_its_write_off_is_reversed(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320150601", "SBX-WO-1").await;
    let day = today();
    // The bank shows nothing that day: the payment becomes an item exception, written off.
    let empty_day = load_csv(&app, csv(&[(day, "SBX-OTHER", "", "1000", "KHR", "CRDT")])).await;
    assert_eq!(empty_day.status, StatusCode::CREATED, "{}", empty_day.body);
    let item: uuid::Uuid = sqlx::query_scalar(
        "select id from reconciliation_exceptions where kind = 'unmatched_ledger_item' and status = 'open'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let written_off = resolve(
        &app,
        item,
        json!({"action": "write_off", "reason": "the bank says it never came", "write_off_to": "income"}),
    )
    .await;
    assert_eq!(app.balance("0320:clearing:sandbox:KHR").await, "0");

    // The money shows up the next day after all: not matched to the written-off item (that
    // would credit clearing twice), but a line exception for a person.
    let late = load_csv(
        &app,
        csv(&[(next_day(day), "SBX-WO-1", "", "600000", "KHR", "CRDT")]),
    )
    .await;
    assert_eq!(late.status, StatusCode::CREATED, "{}", late.body);
    assert_eq!(late.body["matched"], 0, "{}", late.body);
    assert_eq!(late.body["exceptions"], 1, "{}", late.body);
    assert_eq!(app.balance("0320:clearing:sandbox:KHR").await, "0");
    let line: uuid::Uuid = sqlx::query_scalar(
        "select id from reconciliation_exceptions where kind = 'unmatched_statement_line' and status = 'open'
         and provider_transaction_id = 'SBX-WO-1'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let item_posting: i64 =
        sqlx::query_scalar("select item_posting_id from reconciliation_exceptions where id = $1")
            .bind(item)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // Matching by hand to the written-off item is refused too.
    let key = app.key("supervisor_0320").to_owned();
    let refused = app
        .post(
            &format!("/v1/reconciliation/exceptions/{line}/resolutions"),
            Some(&key),
            None,
            &json!({"action": "match", "reason": "it came late", "item_posting_id": item_posting}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

    // Reverse the write-off: the item is open again and the reversal's own debit to clearing
    // is no new item; now the line matches it by hand.
    resolve(
        &app,
        item,
        json!({"action": "reverse", "reason": "the money came", "resolution_id": written_off.body["id"]}),
    )
    .await;
    resolve(
        &app,
        line,
        json!({"action": "match", "reason": "it came late", "item_posting_id": item_posting}),
    )
    .await;
    assert_eq!(app.balance("0320:clearing:sandbox:KHR").await, "0");
    assert_eq!(app.balance("0320:bank:acleda-0320-khr:KHR").await, "600000");
    assert_eq!(app.balance("0320:other-income:KHR").await, "0");
    // A third day's statement raises nothing for the reversal's debit.
    let third = load_csv(
        &app,
        csv(&[(
            next_day(next_day(day)),
            "SBX-OTHER-3",
            "",
            "1000",
            "KHR",
            "CRDT",
        )]),
    )
    .await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.body);
    assert_eq!(
        count(
            &app,
            "select count(*) from reconciliation_exceptions where kind = 'unmatched_ledger_item' and status = 'open'"
        )
        .await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refunded_line_is_not_matched_again_by_hand(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320150701", "SBX-RF-1").await;
    let day = today();
    // A line of the payment's amount whose id names nothing: one item alone is no batch, so
    // both stay exceptions.
    let loaded = load_csv(
        &app,
        csv(&[(day, "SBX-UNKNOWN-7", "", "600000", "KHR", "CRDT")]),
    )
    .await;
    assert_eq!(loaded.body["exceptions"], 2, "{}", loaded.body);
    let exception_of = |kind: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, uuid::Uuid>(
                "select id from reconciliation_exceptions where kind = $1 and status = 'open'",
            )
            .bind(kind)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let line = exception_of("unmatched_statement_line").await;
    let item = exception_of("unmatched_ledger_item").await;
    let line_id: uuid::Uuid =
        sqlx::query_scalar("select statement_line_id from reconciliation_exceptions where id = $1")
            .bind(line)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    resolve(
        &app,
        line,
        json!({"action": "refund", "reason": "the payer asked for it back", "bank_reference": "ACL-RF-77"}),
    )
    .await;
    let entries = app.ledger_entries().await;
    // The refunded line's money is accounted for: it cannot also settle the item.
    let key = app.key("supervisor_0320").to_owned();
    let refused = app
        .post(
            &format!("/v1/reconciliation/exceptions/{item}/resolutions"),
            Some(&key),
            None,
            &json!({"action": "match", "reason": "same money", "statement_line_id": line_id}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body["code"], "already_matched");
    assert_eq!(app.ledger_entries().await, entries);
    assert_eq!(app.balance("0320:clearing:sandbox:KHR").await, "600000");
}
