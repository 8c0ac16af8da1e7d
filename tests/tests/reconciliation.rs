//! Bank reconciliation end to end with the real binaries: payments made at bank-sim (Bakong,
//! the sandbox bank, a counter deposit, a payout), the statements bank-sim writes for them with
//! the noise a test asks for, loaded into `payments serve` and matched against the ledger.

use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{start_stack, start_stack_with, wait_for_some, Stack, TestDb};

/// The Cambodian calendar day now (UTC+7), as bank-sim books payments.
fn cambodian_today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(7)).date_naive()
}

fn next_day(day: NaiveDate) -> NaiveDate {
    day.checked_add_days(Days::new(1)).unwrap()
}

/// A fixed-price service per demo office: (service code, price in riel).
fn service_of(office: &str) -> (&'static str, i64) {
    match office {
        "0320" => ("labour.internal_regulations_8_100", 600_000),
        "1201" => ("public_works.driving_licence_b_exam", 90_000),
        other => panic!("no demo service for office {other}"),
    }
}

/// A fresh intent of `office` for `case`: its id and its payment link token.
async fn intent(stack: &Stack, office: &str, case: &str) -> (String, String) {
    let (service, _) = service_of(office);
    let quote: Value = stack
        .http
        .post(stack.url("/v1/quotes"))
        .bearer_auth(stack.key("workflow"))
        .json(&json!({"office_code": office, "items": [{"service_code": service, "quantity": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let intent: Value = stack
        .http
        .post(stack.url("/v1/payment-intents"))
        .bearer_auth(stack.key("workflow"))
        .header("idempotency-key", format!("intent-{case}"))
        .json(&json!({"quote_id": quote["id"], "case_reference": case}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = intent["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no intent: {intent} (quote {quote})"))
        .to_owned();
    let token = intent["pay_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    (id, token)
}

/// A sandbox payment of a fresh intent of `office`, paid at bank-sim and settled: the intent id.
pub(crate) async fn sandbox_paid(stack: &Stack, office: &str, case: &str) -> String {
    let (intent_id, _) = intent(stack, office, case).await;
    let attempt: Value = stack
        .http
        .post(stack.url(&format!("/v1/payment-intents/{intent_id}/attempts")))
        .bearer_auth(stack.key("workflow"))
        .header("idempotency-key", format!("attempt-{case}"))
        .json(&json!({"channel": "sandbox"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reference = attempt["provider_reference"]
        .as_str()
        .unwrap_or_else(|| panic!("no attempt: {attempt}"));
    stack.pay_at_sandbox(reference, json!({})).await;
    stack.wait_paid(&intent_id).await;
    intent_id
}

/// A KHQR payment of a fresh intent of `office`, paid at bank-sim's Bakong and found by the
/// service's poller: the intent id.
async fn khqr_paid(stack: &Stack, office: &str, case: &str) -> String {
    let (intent_id, token) = intent(stack, office, case).await;
    let attempt = stack
        .http
        .post(stack.url(&format!("/v1/payment-intents/{intent_id}/attempts")))
        .bearer_auth(&token)
        .header("idempotency-key", format!("attempt-{case}"))
        .json(&json!({"channel": "khqr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(attempt.status(), 201);
    let attempt: Value = attempt.json().await.unwrap();
    let paid = stack
        .http
        .post(format!("{}/bakong/sim/pay", stack.bank_sim_url))
        .json(&json!({"qr": attempt["khqr"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200, "{}", paid.text().await.unwrap());
    stack.wait_paid(&intent_id).await;
    intent_id
}

/// bank-sim's statement of `account` for `date` (`format` camt053 or csv) with `noise`.
async fn sim_statement(
    stack: &Stack,
    account: &str,
    date: NaiveDate,
    format: &str,
    noise: &str,
) -> Vec<u8> {
    let response = stack
        .http
        .get(format!(
            "{}/sim/statements/{account}?date={date}&format={format}&noise={noise}",
            stack.bank_sim_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

/// `POST /v1/reconciliation/statements` at `base` (a service instance) with `key`:
/// (status, answer).
async fn upload_at(
    stack: &Stack,
    base: &str,
    key: &str,
    account: &str,
    format: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let content_type = if format == "csv" {
        "text/csv"
    } else {
        "application/xml"
    };
    let response = stack
        .http
        .post(format!(
            "{base}/v1/reconciliation/statements?account_id={account}"
        ))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Loads bank-sim's statement of `account` for `date` as admin and expects 201.
async fn load(stack: &Stack, account: &str, date: NaiveDate, format: &str, noise: &str) -> Value {
    let body = sim_statement(stack, account, date, format, noise).await;
    let (status, answer) = upload_at(
        stack,
        &stack.payments_url,
        stack.key("admin"),
        account,
        format,
        body.clone(),
    )
    .await;
    assert_eq!(status, 201, "{answer}\n{}", String::from_utf8_lossy(&body));
    answer
}

/// The stored statement with `lines_detail`.
async fn statement_detail(stack: &Stack, id: &Value) -> Value {
    let id = id.as_str().unwrap();
    let response = stack
        .http
        .get(stack.url(&format!("/v1/reconciliation/statements/{id}")))
        .bearer_auth(stack.key("admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The signed balance (debits − credits, minor units) of a ledger account.
async fn balance(pool: &PgPool, code: &str) -> i64 {
    sqlx::query_scalar(
        "select coalesce(sum(p.amount_minor), 0)::bigint from ledger_postings p \
         join ledger_accounts a on a.id = p.account_id where a.code = $1",
    )
    .bind(code)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The reconciliation exceptions of `office` raised by statements: (id, kind, status, amount).
async fn statement_exceptions(
    pool: &PgPool,
    office: &str,
) -> Vec<(String, String, String, String)> {
    sqlx::query_as::<_, (uuid::Uuid, String, String, String)>(
        "select id, kind, status, amount from reconciliation_exceptions \
         where office_code = $1 and kind in ('unmatched_statement_line', 'unmatched_ledger_item') \
         order by created_at, id",
    )
    .bind(office)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(id, kind, status, amount)| (id.to_string(), kind, status, amount))
    .collect()
}

/// No posting is matched twice and every match's items add up with its fee to its line.
async fn assert_matches_sound(pool: &PgPool) {
    let unsound: i64 = sqlx::query_scalar(
        "select count(*) from reconciliation_matches m join statement_lines l on l.id = m.statement_line_id \
         where (select sum(i.amount_minor) from reconciliation_match_items i where i.match_id = m.id) \
               <> l.amount_minor + m.fee_minor",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(unsound, 0, "a match whose items are not its line plus fee");
    let unbalanced: i64 = sqlx::query_scalar(
        "select count(*) from (select a.currency from ledger_postings p join ledger_accounts a on a.id = p.account_id \
         group by a.currency having sum(p.amount_minor) <> 0) t",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(unbalanced, 0, "the books do not balance");
}

/// The daily reconciliation report of `account` for `date`: (reconciled, its KHR day).
async fn report(stack: &Stack, account: &str, date: NaiveDate) -> (bool, Value) {
    let response = stack
        .http
        .get(stack.url(&format!(
            "/v1/reconciliation/report?account_id={account}&date={date}"
        )))
        .bearer_auth(stack.key("admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    let khr = report["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|day| day["currency"] == "KHR")
        .unwrap_or_else(|| panic!("no KHR in {report}"))
        .clone();
    (report["reconciled"].as_bool().unwrap(), khr)
}

/// Runs the futures at once (on this task) and returns their outputs in order.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

/// The methods of a statement's matched lines, by line number.
fn methods(detail: &Value) -> Vec<(i64, String)> {
    detail["lines_detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["line_no"].as_i64().unwrap(),
                line["method"]
                    .as_str()
                    .unwrap_or_else(|| line["status"].as_str().unwrap_or("?"))
                    .to_owned(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. KHQR

#[tokio::test]
async fn khqr_payments_match_todays_bakong_statement_exactly() {
    let db = TestDb::create().await;
    let stack = start_stack_with(&db, &[("KHQR_POLL_MS", "100")]).await;
    let pool = db.pool().await;
    let today = cambodian_today();
    for case in ["0320700001", "0320700002", "0320700003"] {
        khqr_paid(&stack, "0320", case).await;
    }
    assert_eq!(balance(&pool, "0320:clearing:khqr:KHR").await, 1_800_000);

    let loaded = load(&stack, "owso_0320@demo", today, "camt053", "").await;
    assert_eq!(loaded["lines"], 3, "{loaded}");
    assert_eq!(loaded["matched"], 3, "{loaded}");
    assert_eq!(loaded["exceptions"], 0, "{loaded}");
    let detail = statement_detail(&stack, &loaded["id"]).await;
    for (line_no, method) in methods(&detail) {
        assert_eq!(method, "exact", "line {line_no}: {detail}");
    }

    let trial: Value = stack
        .http
        .get(stack.url("/v1/ledger/trial-balance"))
        .bearer_auth(stack.key("auditor"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let balance_of = |code: &str| -> String {
        trial["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["account"] == code)
            .map_or_else(
                || "0".to_owned(),
                |row| row["balance"].as_str().unwrap().to_owned(),
            )
    };
    assert_eq!(balance_of("0320:clearing:khqr:KHR"), "0", "{trial}");
    assert_eq!(balance_of("0320:bank:bakong:KHR"), "1800000", "{trial}");
    for total in trial["totals"].as_array().unwrap() {
        assert_eq!(total["balance"], "0", "{trial}");
    }
    assert!(statement_exceptions(&pool, "0320").await.is_empty());
    let (reconciled, day) = report(&stack, "owso_0320@demo", today).await;
    assert!(reconciled, "{day}");
    assert_eq!(day["difference"]["amount"], "0", "{day}");
    assert_eq!(day["matched"]["count"], 3, "{day}");
    assert_eq!(day["closing_balance"]["amount"], "1800000", "{day}");
    assert_matches_sound(&pool).await;
}

// ---------------------------------------------------------------------------------------------
// 2. Sandbox payments with each kind of noise, in both formats

/// Three sandbox payments of `office` into its KHR bank account, today.
async fn three_sandbox_payments(stack: &Stack, office: &str, series: u32) -> Vec<String> {
    let mut intents = Vec::new();
    for n in 1..=3 {
        intents.push(sandbox_paid(stack, office, &format!("{office}{series:03}{n:03}")).await);
    }
    intents
}

fn bank_account(office: &str) -> String {
    format!("acleda-{office}-khr")
}

/// `missing_line`: the last payment is not on the statement → one unmatched ledger item.
async fn missing_line(stack: &Stack, pool: &PgPool, office: &str, format: &str) {
    let (_, price) = service_of(office);
    three_sandbox_payments(stack, office, 1).await;
    let loaded = load(
        stack,
        &bank_account(office),
        cambodian_today(),
        format,
        "missing_line",
    )
    .await;
    assert_eq!(
        (
            loaded["lines"].as_i64(),
            loaded["matched"].as_i64(),
            loaded["exceptions"].as_i64()
        ),
        (Some(2), Some(2), Some(1)),
        "{loaded}"
    );
    let exceptions = statement_exceptions(pool, office).await;
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert_eq!(exceptions[0].1, "unmatched_ledger_item");
    assert_eq!(exceptions[0].2, "open");
    assert_eq!(
        balance(pool, &format!("{office}:clearing:sandbox:KHR")).await,
        price
    );
    assert_eq!(
        balance(pool, &format!("{office}:bank:acleda-{office}-khr:KHR")).await,
        2 * price
    );
    let (reconciled, day) = report(stack, &bank_account(office), cambodian_today()).await;
    assert!(!reconciled, "{day}");
    assert_eq!(day["unmatched_items"]["count"], 1, "{day}");
    assert_eq!(day["difference"]["amount"], (-price).to_string(), "{day}");
}

/// `extra_line`: a credit nobody expects → one unmatched statement line; the rest matched.
async fn extra_line(stack: &Stack, pool: &PgPool, office: &str, format: &str) {
    let (_, price) = service_of(office);
    three_sandbox_payments(stack, office, 2).await;
    let loaded = load(
        stack,
        &bank_account(office),
        cambodian_today(),
        format,
        "extra_line",
    )
    .await;
    assert_eq!(
        (
            loaded["lines"].as_i64(),
            loaded["matched"].as_i64(),
            loaded["exceptions"].as_i64()
        ),
        (Some(4), Some(3), Some(1)),
        "{loaded}"
    );
    let exceptions = statement_exceptions(pool, office).await;
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert_eq!(exceptions[0].1, "unmatched_statement_line");
    assert_eq!(exceptions[0].3, "12300");
    assert_eq!(
        balance(pool, &format!("{office}:clearing:sandbox:KHR")).await,
        0
    );
    assert_eq!(
        balance(pool, &format!("{office}:bank:acleda-{office}-khr:KHR")).await,
        3 * price
    );
    let (reconciled, day) = report(stack, &bank_account(office), cambodian_today()).await;
    assert!(!reconciled, "{day}");
    assert_eq!(day["unmatched_lines"]["count"], 1, "{day}");
    assert_eq!(day["difference"]["amount"], "12300", "{day}");
}

/// `fee_deducted`: the first line less 1% → matched, the fee on bank-fees.
async fn fee_deducted(stack: &Stack, pool: &PgPool, office: &str, format: &str) {
    let (_, price) = service_of(office);
    three_sandbox_payments(stack, office, 3).await;
    let loaded = load(
        stack,
        &bank_account(office),
        cambodian_today(),
        format,
        "fee_deducted",
    )
    .await;
    assert_eq!(
        (
            loaded["lines"].as_i64(),
            loaded["matched"].as_i64(),
            loaded["exceptions"].as_i64()
        ),
        (Some(3), Some(3), Some(0)),
        "{loaded}"
    );
    let fee = price / 100;
    assert_eq!(balance(pool, &format!("{office}:bank-fees:KHR")).await, fee);
    assert_eq!(
        balance(pool, &format!("{office}:clearing:sandbox:KHR")).await,
        0
    );
    assert_eq!(
        balance(pool, &format!("{office}:bank:acleda-{office}-khr:KHR")).await,
        3 * price - fee
    );
    let detail = statement_detail(stack, &loaded["id"]).await;
    let charged: Vec<&Value> = detail["lines_detail"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| !line["fee"].is_null() && line["fee"]["amount"] != "0")
        .collect();
    assert_eq!(charged.len(), 1, "exactly one line kept a fee: {detail}");
    assert_eq!(charged[0]["fee"]["amount"], fee.to_string(), "{detail}");
    assert_eq!(charged[0]["method"], "fee_deducted", "{detail}");
    assert!(statement_exceptions(pool, office).await.is_empty());
}

/// `batch`: the day's payments as one line → matched `batch` (camt, by its parts) or
/// `batch_by_sum` (CSV, the day's exact total).
async fn batch(stack: &Stack, pool: &PgPool, office: &str, format: &str) {
    let (_, price) = service_of(office);
    three_sandbox_payments(stack, office, 4).await;
    let loaded = load(
        stack,
        &bank_account(office),
        cambodian_today(),
        format,
        "batch",
    )
    .await;
    assert_eq!(
        (
            loaded["lines"].as_i64(),
            loaded["matched"].as_i64(),
            loaded["exceptions"].as_i64()
        ),
        (Some(1), Some(1), Some(0)),
        "{loaded}"
    );
    let detail = statement_detail(stack, &loaded["id"]).await;
    let expected = if format == "csv" {
        "batch_by_sum"
    } else {
        "batch"
    };
    assert_eq!(methods(&detail), vec![(1, expected.to_owned())], "{detail}");
    assert_eq!(
        balance(pool, &format!("{office}:clearing:sandbox:KHR")).await,
        0
    );
    assert_eq!(
        balance(pool, &format!("{office}:bank:acleda-{office}-khr:KHR")).await,
        3 * price
    );
    let items: i64 = sqlx::query_scalar("select count(*) from reconciliation_match_items")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(items >= 3);
}

/// `late_line`: today's statement leaves the first payment an item exception; tomorrow's
/// (a statement dated after today) matches it and resolves the exception `matched_later`.
async fn late_line(stack: &Stack, pool: &PgPool, office: &str, format: &str) {
    let (_, price) = service_of(office);
    three_sandbox_payments(stack, office, 5).await;
    let today = cambodian_today();
    let account = bank_account(office);
    let loaded = load(stack, &account, today, format, "late_line").await;
    assert_eq!(
        (
            loaded["lines"].as_i64(),
            loaded["matched"].as_i64(),
            loaded["exceptions"].as_i64()
        ),
        (Some(2), Some(2), Some(1)),
        "{loaded}"
    );
    let exceptions = statement_exceptions(pool, office).await;
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert_eq!(
        (exceptions[0].1.as_str(), exceptions[0].2.as_str()),
        ("unmatched_ledger_item", "open")
    );
    assert_eq!(
        balance(pool, &format!("{office}:clearing:sandbox:KHR")).await,
        price
    );
    let (reconciled, day) = report(stack, &account, today).await;
    assert!(!reconciled, "{day}");
    assert_eq!(day["difference"]["amount"], (-price).to_string(), "{day}");

    let tomorrow = load(stack, &account, next_day(today), format, "late_line").await;
    assert_eq!(
        (
            tomorrow["lines"].as_i64(),
            tomorrow["matched"].as_i64(),
            tomorrow["exceptions"].as_i64()
        ),
        (Some(1), Some(1), Some(0)),
        "{tomorrow}"
    );
    let exceptions = statement_exceptions(pool, office).await;
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert_eq!(exceptions[0].2, "resolved", "{exceptions:?}");
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from exception_resolutions where exception_id = $1::uuid",
    )
    .bind(&exceptions[0].0)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(actions, vec!["matched_later".to_owned()]);
    assert_eq!(
        balance(pool, &format!("{office}:clearing:sandbox:KHR")).await,
        0
    );
    assert_eq!(
        balance(pool, &format!("{office}:bank:acleda-{office}-khr:KHR")).await,
        3 * price
    );
    for date in [today, next_day(today)] {
        let (reconciled, day) = report(stack, &account, date).await;
        assert!(reconciled, "{date}: {day}");
        assert_eq!(day["difference"]["amount"], "0", "{date}: {day}");
    }
}

#[tokio::test]
async fn camt_missing_line_and_extra_line() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    missing_line(&stack, &pool, "0320", "camt053").await;
    extra_line(&stack, &pool, "1201", "camt053").await;
    assert_matches_sound(&pool).await;
}

#[tokio::test]
async fn csv_missing_line_and_extra_line() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    missing_line(&stack, &pool, "1201", "csv").await;
    extra_line(&stack, &pool, "0320", "csv").await;
    assert_matches_sound(&pool).await;
}

#[tokio::test]
async fn camt_fee_deducted_and_batch() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    fee_deducted(&stack, &pool, "0320", "camt053").await;
    batch(&stack, &pool, "1201", "camt053").await;
    assert_matches_sound(&pool).await;
}

#[tokio::test]
async fn csv_fee_deducted_and_batch() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    fee_deducted(&stack, &pool, "1201", "csv").await;
    batch(&stack, &pool, "0320", "csv").await;
    assert_matches_sound(&pool).await;
}

#[tokio::test]
async fn a_late_line_is_matched_the_next_day_in_both_formats() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    late_line(&stack, &pool, "0320", "camt053").await;
    late_line(&stack, &pool, "1201", "csv").await;
    assert_matches_sound(&pool).await;
}

/// All the noise at once where it combines: late, missing, fee and extra (camt and CSV), and a
/// batch with an extra line.
#[tokio::test]
async fn the_noise_together() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    let today = cambodian_today();
    for (office, format) in [("0320", "camt053"), ("1201", "csv")] {
        let (_, price) = service_of(office);
        let account = bank_account(office);
        // Four payments: the first is late, the last missing, the second (the first on the
        // statement) keeps a fee, and a line nobody expects is added.
        for n in 1..=4 {
            sandbox_paid(&stack, office, &format!("{office}600{n:03}")).await;
        }
        let loaded = load(
            &stack,
            &account,
            today,
            format,
            "late_line,missing_line,fee_deducted,extra_line",
        )
        .await;
        assert_eq!(
            (
                loaded["lines"].as_i64(),
                loaded["matched"].as_i64(),
                loaded["exceptions"].as_i64()
            ),
            (Some(3), Some(2), Some(3)),
            "{office} {loaded}"
        );
        let mut kinds: Vec<(String, String)> = statement_exceptions(&pool, office)
            .await
            .into_iter()
            .map(|(_, kind, status, _)| (kind, status))
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            vec![
                ("unmatched_ledger_item".to_owned(), "open".to_owned()),
                ("unmatched_ledger_item".to_owned(), "open".to_owned()),
                ("unmatched_statement_line".to_owned(), "open".to_owned()),
            ],
            "{office}"
        );
        let fee = price / 100;
        assert_eq!(
            balance(&pool, &format!("{office}:bank-fees:KHR")).await,
            fee
        );
        assert_eq!(
            balance(&pool, &format!("{office}:clearing:sandbox:KHR")).await,
            2 * price
        );
        // The late line the next day resolves its item; the missing one stays open.
        let tomorrow = load(&stack, &account, next_day(today), format, "late_line").await;
        assert_eq!(
            (
                tomorrow["matched"].as_i64(),
                tomorrow["exceptions"].as_i64()
            ),
            (Some(1), Some(0)),
            "{office} {tomorrow}"
        );
        let open = statement_exceptions(&pool, office)
            .await
            .into_iter()
            .filter(|(_, _, status, _)| status == "open")
            .count();
        assert_eq!(
            open, 2,
            "{office}: the missing item and the extra line stay open"
        );
        assert_eq!(
            balance(&pool, &format!("{office}:clearing:sandbox:KHR")).await,
            price
        );
    }
    assert_matches_sound(&pool).await;
}

/// A batch of which one payment the bank kept a fee from, plus an extra line (camt: by parts).
#[tokio::test]
async fn a_batch_with_an_extra_line() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    let today = cambodian_today();
    for (office, format, method) in [
        ("0320", "camt053", "batch"),
        ("1201", "csv", "batch_by_sum"),
    ] {
        let (_, price) = service_of(office);
        for n in 1..=3 {
            sandbox_paid(&stack, office, &format!("{office}610{n:03}")).await;
        }
        let loaded = load(
            &stack,
            &bank_account(office),
            today,
            format,
            "batch,extra_line",
        )
        .await;
        assert_eq!(
            (
                loaded["lines"].as_i64(),
                loaded["matched"].as_i64(),
                loaded["exceptions"].as_i64()
            ),
            (Some(2), Some(1), Some(1)),
            "{office} {loaded}"
        );
        let detail = statement_detail(&stack, &loaded["id"]).await;
        assert_eq!(methods(&detail)[0], (1, method.to_owned()), "{detail}");
        assert_eq!(
            balance(&pool, &format!("{office}:clearing:sandbox:KHR")).await,
            0
        );
        assert_eq!(
            balance(&pool, &format!("{office}:bank:acleda-{office}-khr:KHR")).await,
            3 * price
        );
    }
    assert_matches_sound(&pool).await;
}

// ---------------------------------------------------------------------------------------------
// 3. Cash deposited at the bank counter

/// `POST` `body` at `path` of the service with `key` (and an idempotency key): (status, answer).
async fn post_json(stack: &Stack, key: &str, path: &str, body: Value) -> (u16, Value) {
    let response = stack
        .http
        .post(stack.url(path))
        .bearer_auth(key)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A cashier of `office` takes the cash of a fresh intent, closes the drawer and deposits it
/// with slip `slip`: the amount in riel.
async fn cash_deposited(stack: &Stack, office: &str, case: &str, slip: &str) -> i64 {
    let (_, price) = service_of(office);
    let cashier = stack
        .office_key("cashier", office)
        .unwrap_or_else(|| panic!("the demo seed has no cashier key of {office}"));
    let (intent_id, _) = intent(stack, office, case).await;
    let (status, drawer) = post_json(
        stack,
        &cashier,
        "/v1/cashier/sessions",
        json!({"office_code": office, "opening_float": [{"amount": "0", "currency": "KHR"}]}),
    )
    .await;
    assert_eq!(status, 201, "{drawer}");
    let drawer = drawer["id"].as_str().unwrap().to_owned();
    let cash = json!({"amount": price.to_string(), "currency": "KHR"});
    let (status, receipt) = post_json(
        stack,
        &cashier,
        &format!("/v1/cashier/sessions/{drawer}/receipts"),
        json!({"payment_intent_id": intent_id, "tendered": cash}),
    )
    .await;
    assert_eq!(status, 201, "{receipt}");
    let (status, closed) = post_json(
        stack,
        &cashier,
        &format!("/v1/cashier/sessions/{drawer}/close"),
        json!({"counted": [cash]}),
    )
    .await;
    assert_eq!(status, 200, "{closed}");
    let (status, deposit) = post_json(
        stack,
        &cashier,
        &format!("/v1/cashier/sessions/{drawer}/deposits"),
        json!({"amount": cash, "slip_reference": slip}),
    )
    .await;
    assert_eq!(status, 201, "{deposit}");
    price
}

/// bank-sim books a counter deposit of `amount` riel into `account` on `date`.
async fn bank_deposit(stack: &Stack, account: &str, slip: &str, amount: i64) {
    let response = stack
        .http
        .post(format!("{}/sim/deposits", stack.bank_sim_url))
        .json(&json!({"account_id": account, "slip_reference": slip,
                      "amount": amount.to_string(), "currency": "KHR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn a_cash_deposit_matches_its_counter_line_by_slip() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    let today = cambodian_today();
    for (office, format) in [("0320", "camt053"), ("1201", "csv")] {
        let slip = format!("SLIP-{office}-0001");
        let amount = cash_deposited(&stack, office, &format!("{office}800001"), &slip).await;
        let in_transit = format!("{office}:cash-in-transit:KHR");
        let bank = format!("{office}:bank:acleda-{office}-khr:KHR");
        assert_eq!(balance(&pool, &in_transit).await, amount);
        assert_eq!(balance(&pool, &bank).await, 0);
        bank_deposit(&stack, &bank_account(office), &slip, amount).await;
        let loaded = load(&stack, &bank_account(office), today, format, "").await;
        assert_eq!(
            (
                loaded["lines"].as_i64(),
                loaded["matched"].as_i64(),
                loaded["exceptions"].as_i64()
            ),
            (Some(1), Some(1), Some(0)),
            "{office} {loaded}"
        );
        assert_eq!(balance(&pool, &in_transit).await, 0, "{office}");
        assert_eq!(balance(&pool, &bank).await, amount, "{office}");
        let (reconciled, day) = report(&stack, &bank_account(office), today).await;
        assert!(reconciled, "{day}");
        assert_eq!(day["deposits"]["count"], 1, "{day}");
        assert_eq!(day["difference"]["amount"], "0", "{day}");
    }
    assert_matches_sound(&pool).await;
}

// ---------------------------------------------------------------------------------------------
// 4. A refund paid out by the bank

#[tokio::test]
async fn a_refunded_extra_line_is_matched_to_the_banks_payout_the_next_day() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    let today = cambodian_today();
    for (office, format) in [("0320", "camt053"), ("1201", "csv")] {
        let (_, price) = service_of(office);
        let account = bank_account(office);
        let bank = format!("{office}:bank:acleda-{office}-khr:KHR");
        let payable = format!("{office}:refunds-payable:KHR");
        sandbox_paid(&stack, office, &format!("{office}900001")).await;
        let loaded = load(&stack, &account, today, format, "extra_line").await;
        assert_eq!(loaded["exceptions"], 1, "{loaded}");
        let exceptions = statement_exceptions(&pool, office).await;
        assert_eq!(exceptions.len(), 1, "{exceptions:?}");
        let (exception, kind, _, amount) = &exceptions[0];
        assert_eq!(
            (kind.as_str(), amount.as_str()),
            ("unmatched_statement_line", "12300")
        );
        assert_eq!(balance(&pool, &bank).await, price);

        let reference = format!("RF-{office}-0001");
        let (status, refund) = post_json(
            &stack,
            stack.key("admin"),
            &format!("/v1/reconciliation/exceptions/{exception}/resolutions"),
            json!({"action": "refund", "reason": "a transfer nobody can place, sent back",
                   "bank_reference": reference}),
        )
        .await;
        assert_eq!(status, 201, "{refund}");
        assert_eq!(balance(&pool, &bank).await, price + 12_300);
        assert_eq!(balance(&pool, &payable).await, -12_300);

        let tomorrow = next_day(today);
        let paid_out = stack
            .http
            .post(format!("{}/sim/payouts", stack.bank_sim_url))
            .json(
                &json!({"account_id": account, "reference": reference, "amount": "12300",
                          "currency": "KHR", "date": tomorrow.to_string()}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(paid_out.status(), 201);
        let next = load(&stack, &account, tomorrow, format, "").await;
        assert_eq!(
            (
                next["lines"].as_i64(),
                next["matched"].as_i64(),
                next["exceptions"].as_i64()
            ),
            (Some(1), Some(1), Some(0)),
            "{office} {next}"
        );
        let detail = statement_detail(&stack, &next["id"]).await;
        assert_eq!(detail["lines_detail"][0]["direction"], "DBIT", "{detail}");
        assert_eq!(detail["lines_detail"][0]["status"], "matched", "{detail}");
        assert_eq!(balance(&pool, &payable).await, 0, "{office}");
        assert_eq!(balance(&pool, &bank).await, price, "{office}");
        for date in [today, tomorrow] {
            let (reconciled, day) = report(&stack, &account, date).await;
            assert!(reconciled, "{office} {date}: {day}");
            assert_eq!(day["difference"]["amount"], "0", "{day}");
        }
        let (_, day) = report(&stack, &account, tomorrow).await;
        assert_eq!(day["statement_lines"]["debit"]["amount"], "12300", "{day}");
    }
    assert_matches_sound(&pool).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Bad input over HTTP

async fn statements_stored(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from bank_statements")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_statements_are_refused_whole_over_http() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    let admin = stack.key("admin").to_owned();

    // Billion laughs: refused at once, never expanded.
    let mut bomb = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n \
         <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n",
    );
    for level in 2..=9 {
        let previous = format!("&lol{};", level - 1);
        bomb.push_str(&format!(
            " <!ENTITY lol{level} \"{}\">\n",
            previous.repeat(10)
        ));
    }
    bomb.push_str("]>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt><Stmt><Id>&lol9;</Id></Stmt></BkToCstmrStmt></Document>\n");
    let started = std::time::Instant::now();
    let (status, answer) = upload_at(
        &stack,
        &stack.payments_url,
        &admin,
        "acleda-0320-khr",
        "camt053",
        bomb.into_bytes(),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["code"], "statement_invalid", "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the bomb took {:?}",
        started.elapsed()
    );
    assert_eq!(statements_stored(&pool).await, 0);

    // 20 MB: past the route's limit, and the problem says which limit.
    let (status, answer) = upload_at(
        &stack,
        &stack.payments_url,
        &admin,
        "acleda-0320-khr",
        "csv",
        vec![b'a'; 20 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["code"], "payload_too_large", "{answer}");
    let detail = answer["detail"].as_str().unwrap();
    assert!(detail.contains("16777216"), "{detail}");
    assert!(!detail.contains("65536"), "{detail}");
    assert_eq!(statements_stored(&pool).await, 0);

    // Another office's account with an office-scoped key: as if it did not exist.
    let today = cambodian_today();
    sandbox_paid(&stack, "1201", "1201950001").await;
    let statement = sim_statement(&stack, "acleda-1201-khr", today, "camt053", "").await;
    let supervisor_0320 = stack
        .office_key("supervisor", "0320")
        .expect("a supervisor key of 0320");
    let (status, answer) = upload_at(
        &stack,
        &stack.payments_url,
        &supervisor_0320,
        "acleda-1201-khr",
        "camt053",
        statement.clone(),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["code"], "account_unknown", "{answer}");
    assert_eq!(statements_stored(&pool).await, 0);

    // The same file twice: the second answer is the first statement, nothing loaded again.
    let (status, first) = upload_at(
        &stack,
        &stack.payments_url,
        &admin,
        "acleda-1201-khr",
        "camt053",
        statement.clone(),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["duplicate"], false);
    let (status, again) = upload_at(
        &stack,
        &stack.payments_url,
        &admin,
        "acleda-1201-khr",
        "camt053",
        statement,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(statements_stored(&pool).await, 1);
    assert_eq!(
        balance(&pool, "1201:bank:acleda-1201-khr:KHR").await,
        90_000
    );
    assert_matches_sound(&pool).await;
}

// ---------------------------------------------------------------------------------------------
// 6. Several instances loading at once

#[tokio::test]
async fn two_instances_loading_at_once_load_one_statement() {
    let db = TestDb::create().await;
    let mut stack = start_stack(&db).await;
    let second = stack.add_payments_instance().await;
    let first = stack.payments_url.clone();
    let pool = db.pool().await;
    let admin = stack.key("admin").to_owned();
    let today = cambodian_today();

    // The same file three times at each instance at once: one 201, the rest 200 duplicates
    // naming it.
    for n in 1..=3 {
        sandbox_paid(&stack, "0320", &format!("03209600{n:02}")).await;
    }
    let statement = sim_statement(&stack, "acleda-0320-khr", today, "camt053", "").await;
    let answers = futures_join(
        (0..6)
            .map(|n| {
                let base = if n % 2 == 0 { &first } else { &second };
                upload_at(
                    &stack,
                    base,
                    &admin,
                    "acleda-0320-khr",
                    "camt053",
                    statement.clone(),
                )
            })
            .collect(),
    )
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 201], "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(_, answer)| answer["id"] == answers[0].1["id"]),
        "{answers:?}"
    );

    // Three different files of one account and day at once: one 201, two 409.
    for n in 1..=3 {
        sandbox_paid(&stack, "1201", &format!("12019600{n:02}")).await;
    }
    let mut files = Vec::new();
    for noise in ["", "extra_line", "fee_deducted"] {
        files.push(sim_statement(&stack, "acleda-1201-khr", today, "csv", noise).await);
    }
    let answers = futures_join(
        files
            .into_iter()
            .enumerate()
            .map(|(n, file)| {
                let base = if n % 2 == 0 { &first } else { &second };
                upload_at(&stack, base, &admin, "acleda-1201-khr", "csv", file)
            })
            .collect(),
    )
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409], "{answers:?}");
    let winner = answers
        .iter()
        .find(|(status, _)| *status == 201)
        .map(|(_, answer)| answer.clone())
        .unwrap();
    for (status, answer) in &answers {
        if *status == 409 {
            assert_eq!(answer["code"], "statement_overlaps", "{answer}");
            assert_eq!(answer["statement_id"], winner["id"], "{answer}");
        }
    }
    assert_eq!(statements_stored(&pool).await, 2);
    let lines: i64 = sqlx::query_scalar("select count(*) from statement_lines")
        .fetch_one(&pool)
        .await
        .unwrap();
    let loaded_lines = 3 + winner["lines"].as_i64().unwrap();
    assert_eq!(lines, loaded_lines);
    let items: i64 = sqlx::query_scalar("select count(*) from reconciliation_match_items")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(items, 6, "each payment matched once");
    for office in ["0320", "1201"] {
        assert_eq!(
            balance(&pool, &format!("{office}:clearing:sandbox:KHR")).await,
            0
        );
    }
    assert_eq!(
        balance(&pool, "0320:bank:acleda-0320-khr:KHR").await,
        1_800_000
    );
    assert_matches_sound(&pool).await;
}

/// A batch from which the bank kept a fee: camt lists the parts, so each payment is found and
/// the fee goes to bank-fees; a CSV batch line is only a sum, short of the day's total, so the
/// matcher does not guess: one unmatched line, and the day's payments stay open items.
#[tokio::test]
async fn a_batch_less_a_fee() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    let today = cambodian_today();
    for (office, format) in [("0320", "camt053"), ("1201", "csv")] {
        let (_, price) = service_of(office);
        for n in 1..=3 {
            sandbox_paid(&stack, office, &format!("{office}620{n:03}")).await;
        }
        let loaded = load(
            &stack,
            &bank_account(office),
            today,
            format,
            "batch,fee_deducted",
        )
        .await;
        let fee = price / 100;
        let clearing = format!("{office}:clearing:sandbox:KHR");
        let bank = format!("{office}:bank:acleda-{office}-khr:KHR");
        if format == "camt053" {
            assert_eq!(
                (
                    loaded["lines"].as_i64(),
                    loaded["matched"].as_i64(),
                    loaded["exceptions"].as_i64()
                ),
                (Some(1), Some(1), Some(0)),
                "{office} {loaded}"
            );
            let detail = statement_detail(&stack, &loaded["id"]).await;
            assert_eq!(detail["lines_detail"][0]["method"], "batch", "{detail}");
            assert_eq!(
                detail["lines_detail"][0]["fee"]["amount"],
                fee.to_string(),
                "{detail}"
            );
            assert_eq!(balance(&pool, &clearing).await, 0);
            assert_eq!(balance(&pool, &bank).await, 3 * price - fee);
            assert_eq!(
                balance(&pool, &format!("{office}:bank-fees:KHR")).await,
                fee
            );
        } else {
            assert_eq!(
                (
                    loaded["lines"].as_i64(),
                    loaded["matched"].as_i64(),
                    loaded["exceptions"].as_i64()
                ),
                (Some(1), Some(0), Some(4)),
                "{office} {loaded}"
            );
            let mut kinds: Vec<String> = statement_exceptions(&pool, office)
                .await
                .into_iter()
                .map(|(_, kind, _, _)| kind)
                .collect();
            kinds.sort();
            assert_eq!(
                kinds,
                [
                    "unmatched_ledger_item",
                    "unmatched_ledger_item",
                    "unmatched_ledger_item",
                    "unmatched_statement_line"
                ]
            );
            assert_eq!(balance(&pool, &clearing).await, 3 * price);
            // An unmatched line is not booked until someone works it.
            assert_eq!(balance(&pool, &bank).await, 0);
        }
    }
    assert_matches_sound(&pool).await;
}

/// Money that arrived for the wrong amount went to suspense (an `amount_mismatch` exception):
/// the bank's line still matches that arrival, which leaves clearing for the bank, while the
/// suspense exception stays for a person to work.
#[tokio::test]
async fn a_payment_of_the_wrong_amount_matches_its_line_and_stays_in_suspense() {
    let db = TestDb::create().await;
    let stack = start_stack(&db).await;
    let pool = db.pool().await;
    let (intent_id, _) = intent(&stack, "0320", "0320970001").await;
    let attempt: Value = stack
        .http
        .post(stack.url(&format!("/v1/payment-intents/{intent_id}/attempts")))
        .bearer_auth(stack.key("workflow"))
        .header("idempotency-key", "attempt-short")
        .json(&json!({"channel": "sandbox"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reference = attempt["provider_reference"].as_str().unwrap();
    stack
        .pay_at_sandbox(reference, json!({"amount": "500000"}))
        .await;
    let suspense = wait_for_some(Duration::from_secs(15), || async {
        let kinds: Vec<String> = sqlx::query_scalar(
            "select kind from reconciliation_exceptions where office_code = '0320'",
        )
        .fetch_all(&pool)
        .await
        .ok()?;
        (!kinds.is_empty()).then_some(kinds)
    })
    .await
    .expect("the short payment is an exception");
    assert_eq!(suspense, ["amount_mismatch"]);
    assert_eq!(balance(&pool, "0320:suspense:KHR").await, -500_000);
    assert_eq!(balance(&pool, "0320:clearing:sandbox:KHR").await, 500_000);

    let loaded = load(&stack, "acleda-0320-khr", cambodian_today(), "camt053", "").await;
    assert_eq!(
        (
            loaded["lines"].as_i64(),
            loaded["matched"].as_i64(),
            loaded["exceptions"].as_i64()
        ),
        (Some(1), Some(1), Some(0)),
        "{loaded}"
    );
    assert_eq!(balance(&pool, "0320:clearing:sandbox:KHR").await, 0);
    assert_eq!(
        balance(&pool, "0320:bank:acleda-0320-khr:KHR").await,
        500_000
    );
    assert_eq!(balance(&pool, "0320:suspense:KHR").await, -500_000);
    assert_matches_sound(&pool).await;
}

/// KHQR payments of office 1201 against bank-sim's CSV statement of its Bakong account.
#[tokio::test]
async fn khqr_payments_match_a_csv_bakong_statement() {
    let db = TestDb::create().await;
    let stack = start_stack_with(&db, &[("KHQR_POLL_MS", "100")]).await;
    let pool = db.pool().await;
    for case in ["1201710001", "1201710002"] {
        khqr_paid(&stack, "1201", case).await;
    }
    let loaded = load(
        &stack,
        "owso_1201@demo",
        cambodian_today(),
        "csv",
        "fee_deducted",
    )
    .await;
    assert_eq!(
        (
            loaded["lines"].as_i64(),
            loaded["matched"].as_i64(),
            loaded["exceptions"].as_i64()
        ),
        (Some(2), Some(2), Some(0)),
        "{loaded}"
    );
    let detail = statement_detail(&stack, &loaded["id"]).await;
    let mut found: Vec<String> = methods(&detail)
        .into_iter()
        .map(|(_, method)| method)
        .collect();
    found.sort();
    assert_eq!(found, ["exact", "fee_deducted"], "{detail}");
    assert_eq!(balance(&pool, "1201:clearing:khqr:KHR").await, 0);
    assert_eq!(balance(&pool, "1201:bank-fees:KHR").await, 900);
    assert_eq!(balance(&pool, "1201:bank:bakong:KHR").await, 180_000 - 900);
    assert_matches_sound(&pool).await;
}
