//! The dashboard's report routes (issue 16, item 4): figures equal the sums of the intents a
//! test made, office scope, CSV, bad input, roll-ups equal to the postings, verify catching a
//! tampered roll-up row.

use std::collections::BTreeMap;
use std::time::Duration;

use payments::app::auth::Role;
use payments::app::staff;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

const SERVICE: &str = "labour.internal_regulations_8_100";
const SUPERVISOR: (&str, &str) = ("sup.reports", "correct horse battery");

async fn new_intent(app: &TestApp, office: &str, case_reference: &str) -> Value {
    let quote = app.quote(office, SERVICE).await;
    let reply = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some(&format!("intent-{case_reference}")),
            &json!({"quote_id": quote["id"], "case_reference": case_reference}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn refetch(app: &TestApp, intent: &Value) -> Value {
    let reply = app
        .get(
            &format!("/v1/payment-intents/{}", intent["id"].as_str().unwrap()),
            Some(app.key("workflow")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// An intent of `office` paid through the sandbox bank.
async fn paid_by_bank(app: &TestApp, office: &str, case_reference: &str) -> Value {
    let intent = new_intent(app, office, case_reference).await;
    let attempt = app.sandbox_attempt(intent["id"].as_str().unwrap()).await;
    let reply = app
        .callback(
            &callback_body(
                &format!("sbx_{case_reference}"),
                attempt["provider_reference"].as_str().unwrap(),
                intent["total"]["amount"].as_str().unwrap(),
            ),
            SECRET,
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    refetch(app, &intent).await
}

async fn drawer(app: &TestApp) -> String {
    let reply = app
        .post(
            "/v1/cashier/sessions",
            Some(app.key("cashier_0320")),
            None,
            &json!({"office_code": "0320", "opening_float": []}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// An intent of 0320 paid in cash at the counter; returns it and its receipt number.
async fn paid_in_cash(app: &TestApp, session: &str, case_reference: &str) -> (Value, String) {
    let intent = new_intent(app, "0320", case_reference).await;
    let reply = app
        .post(
            &format!("/v1/cashier/sessions/{session}/receipts"),
            Some(app.key("cashier_0320")),
            Some(&format!("take-{case_reference}")),
            &json!({"payment_intent_id": intent["id"], "tendered": intent["total"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let number = reply.body["number"].as_str().unwrap().to_owned();
    (refetch(app, &intent).await, number)
}

async fn supervisor(app: &TestApp) {
    let mut conn = app.pool.acquire().await.unwrap();
    staff::create_user(
        &mut conn,
        SUPERVISOR.0,
        "Reports supervisor",
        Role::Supervisor,
        &["0320".to_owned()],
        Some(SUPERVISOR.1),
    )
    .await
    .unwrap();
    sqlx::query("update staff_users set must_change_password = false")
        .execute(&mut *conn)
        .await
        .unwrap();
}

async fn void(app: &TestApp, number: &str) {
    let reply = app
        .post(
            &format!("/v1/receipts/{number}/void"),
            Some(app.key("cashier_0320")),
            None,
            &json!({"reason": "wrong case", "approval": {"username": SUPERVISOR.0, "password": SUPERVISOR.1}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

fn minor(amount: &Value) -> i64 {
    amount.as_str().unwrap().parse().unwrap()
}

/// Count and KHR total per key, computed from the intents themselves.
fn expected(
    intents: &[&Value],
    key: impl Fn(&Value, &Value) -> String,
) -> BTreeMap<String, (i64, i64)> {
    let mut sums = BTreeMap::new();
    for intent in intents.iter().filter(|intent| intent["status"] == "paid") {
        for line in intent["lines"].as_array().unwrap() {
            let entry = sums.entry(key(intent, line)).or_insert((0, 0));
            entry.0 += 1;
            entry.1 += minor(&line["amount"]["amount"]);
        }
    }
    sums
}

fn found(report: &Value) -> BTreeMap<String, (i64, i64)> {
    report["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            assert_eq!(row["total"]["currency"], "KHR", "{row}");
            (
                row["key"].as_str().unwrap().to_owned(),
                (
                    row["count"].as_i64().unwrap(),
                    minor(&row["total"]["amount"]),
                ),
            )
        })
        .collect()
}

fn today() -> String {
    payments::app::reports::cambodian_today().to_string()
}

async fn report(app: &TestApp, path: &str, key: &str) -> Value {
    let reply = app.get(path, Some(app.key(key))).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

async fn csv(app: &TestApp, path: &str, key: &str) -> String {
    let response = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(app.key(key))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    response.text().await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn report_figures_equal_the_sums_of_the_intents_made(pool: PgPool) {
    let app = TestApp::start(pool).await;
    supervisor(&app).await;
    let a = paid_by_bank(&app, "0320", "0320500001").await;
    let b = paid_by_bank(&app, "0320", "0320500002").await;
    let c = paid_by_bank(&app, "1201", "1201500003").await;
    let session = drawer(&app).await;
    let (d, _) = paid_in_cash(&app, &session, "0320500004").await;
    let (voided, number) = paid_in_cash(&app, &session, "0320500005").await;
    void(&app, &number).await;
    let voided = refetch(&app, &voided).await;
    assert_eq!(voided["status"], "awaiting_payment");
    let waiting = new_intent(&app, "0320", "0320500006").await;
    let cancelled = new_intent(&app, "1201", "1201500007").await;
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
    let cancelled = refetch(&app, &cancelled).await;
    let all = [&a, &b, &c, &d, &voided, &waiting, &cancelled];
    let period = format!("from={}&to={}", today(), today());

    // Intents by state: every status, as the intents say.
    let intents = report(&app, &format!("/v1/reports/intents?{period}"), "auditor").await;
    let mut statuses: BTreeMap<String, i64> = BTreeMap::new();
    for intent in all {
        *statuses
            .entry(intent["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for row in intents["data"].as_array().unwrap() {
        let status = row["status"].as_str().unwrap();
        assert_eq!(
            row["count"],
            statuses.get(status).copied().unwrap_or(0),
            "{status}"
        );
    }
    assert_eq!(intents["data"].as_array().unwrap().len(), 4);

    // Revenue by office (the ranking, with province), sector, channel and day.
    let by_office = report(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=office"),
        "auditor",
    )
    .await;
    assert_eq!(
        found(&by_office),
        expected(&all, |intent, _| intent["office_code"]
            .as_str()
            .unwrap()
            .to_owned())
    );
    assert_eq!(
        by_office["data"][0]["key"], "0320",
        "the larger office ranks first"
    );
    assert_eq!(by_office["data"][0]["province"]["name_en"], "Kampong Cham");
    assert_eq!(by_office["data"][1]["province"]["name_en"], "Phnom Penh");
    let by_sector = report(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=sector"),
        "auditor",
    )
    .await;
    assert_eq!(
        found(&by_sector),
        expected(&all, |_, line| line["sector"].as_str().unwrap().to_owned())
    );
    assert!(by_sector["data"][0]["name_en"].is_string());
    let by_channel = report(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=channel"),
        "auditor",
    )
    .await;
    assert_eq!(
        found(&by_channel),
        expected(&all, |intent, _| intent["paid_channel"]
            .as_str()
            .unwrap()
            .to_owned())
    );
    let grouped = report(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=channel_group"),
        "auditor",
    )
    .await;
    assert_eq!(
        found(&grouped).keys().cloned().collect::<Vec<_>>(),
        ["bank", "cash"],
        "sandbox is a bank"
    );
    let by_day = report(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=day"),
        "auditor",
    )
    .await;
    let total = expected(&all, |_, _| today());
    assert_eq!(found(&by_day), total);
    let (count, amount) = total[&today()];
    assert_eq!(count, 4, "the voided receipt is not counted");
    assert_eq!(
        by_day["currency_totals"],
        json!([{"currency": "KHR", "count": count, "total": {"amount": amount.to_string(), "currency": "KHR"}}])
    );

    // Online share, time to pay, exceptions.
    let share = report(
        &app,
        &format!("/v1/reports/online-share?{period}"),
        "auditor",
    )
    .await;
    assert_eq!(
        share["data"],
        json!([{"key": today(), "payments": 4, "cash": 1, "online": 3, "online_per_mille": 750}])
    );
    let latency = report(
        &app,
        &format!("/v1/reports/time-to-pay?{period}"),
        "auditor",
    )
    .await;
    assert_eq!(latency["paid"], 4);
    assert_eq!(latency["median_from_seconds"], 0);
    assert_eq!(latency["median_width_seconds"], 60);
    let ages = report(&app, "/v1/reports/exceptions", "auditor").await;
    assert_eq!(ages["data"].as_array().unwrap().len(), 4);

    // The office auditor sees 1201 only, whatever they ask.
    let scoped = report(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=office"),
        "auditor_1201",
    )
    .await;
    assert_eq!(
        found(&scoped),
        expected(&[&c], |intent, _| intent["office_code"]
            .as_str()
            .unwrap()
            .to_owned())
    );
    let scoped_intents = report(
        &app,
        &format!("/v1/reports/intents?{period}"),
        "auditor_1201",
    )
    .await;
    let paid = scoped_intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["status"] == "paid")
        .unwrap();
    assert_eq!(paid["count"], 1);
    for path in [
        format!("/v1/reports/revenue?{period}&office_code=0320"),
        format!("/v1/reports/intents?{period}&office_code=0320"),
        "/v1/reports/exceptions?office_code=0320".to_owned(),
    ] {
        let reply = app.get(&path, Some(app.key("auditor_1201"))).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.body
        );
    }
    let one = report(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=channel&office_code=0320"),
        "auditor",
    )
    .await;
    assert_eq!(
        found(&one),
        expected(&[&a, &b, &d], |intent, _| intent["paid_channel"]
            .as_str()
            .unwrap()
            .to_owned())
    );
    let scoped_csv = csv(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=office"),
        "auditor_1201",
    )
    .await;
    assert!(
        scoped_csv.starts_with("key,name_km,name_en,province,count,amount,currency\r\n"),
        "{scoped_csv}"
    );
    assert!(
        scoped_csv.contains("1201,") && !scoped_csv.contains("0320"),
        "{scoped_csv}"
    );

    // CSV for everyone: the same rows.
    let national_csv = csv(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=office"),
        "auditor",
    )
    .await;
    let (count_0320, amount_0320) = found(&by_office)["0320"];
    assert!(
        national_csv.contains("Phnom Penh")
            && national_csv.contains(&format!(",{count_0320},{amount_0320},KHR\r\n")),
        "{national_csv}"
    );
    let intents_csv = csv(&app, &format!("/v1/reports/intents?{period}"), "auditor").await;
    assert!(
        intents_csv.starts_with("status,count\r\nawaiting_payment,2\r\npaid,4\r\n"),
        "{intents_csv}"
    );
    let by_format = app
        .get(
            &format!("/v1/reports/online-share?{period}&format=csv"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(
        by_format.body,
        json!(format!(
            "key,payments,cash,online,online_per_mille\r\n{},4,1,3,750\r\n",
            today()
        ))
    );

    // Bad input: 400 problems; roles.
    for path in [
        "/v1/reports/intents?from=2026-13-01".to_owned(),
        "/v1/reports/intents?from=2026-12-06&to=2026-12-01".to_owned(),
        "/v1/reports/revenue?from=2020-01-01&to=2026-01-01".to_owned(),
        format!("/v1/reports/revenue?{period}&group_by=province"),
        format!("/v1/reports/online-share?{period}&interval=hour"),
        format!("/v1/reports/revenue?{period}&format=xml"),
        format!("/v1/reports/revenue?{period}&colour=red"),
        // The routes share one query: a value none of them takes is refused on each, as
        // /openapi.json says, not ignored where it does not apply.
        format!("/v1/reports/intents?{period}&group_by=province"),
        format!("/v1/reports/time-to-pay?{period}&interval=hour"),
        format!("/v1/reports/exceptions?{period}&group_by="),
    ] {
        let reply = app.get(&path, Some(app.key("auditor"))).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.body
        );
        assert_eq!(
            reply.headers["content-type"], "application/problem+json",
            "{path}"
        );
    }
    let cashier = app
        .get("/v1/reports/intents", Some(app.key("cashier_0320")))
        .await;
    assert_eq!(cashier.status, StatusCode::FORBIDDEN);
    let supervisor = app
        .get("/v1/reports/revenue", Some(app.key("supervisor_0320")))
        .await;
    assert_eq!(supervisor.status, StatusCode::OK);
    assert!(supervisor.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|row| row["key"] == "0320"));
}

/// Runs roll-up rounds until the dashboard's roll-up has reached today (the xid horizon is
/// cluster-wide: a parallel test's transaction can hold it back for a moment, once per day to
/// roll up, so months of history take a while on a busy server).
async fn roll_up(app: &TestApp) {
    for _ in 0..2400 {
        while payments::workers::rollup::round(&app.pool).await.unwrap() > 0 {}
        let next: Option<chrono::NaiveDate> =
            sqlx::query_scalar("select next_day from report_rollup_state")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if next == Some(payments::app::reports::cambodian_today()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the report roll-up did not reach today");
}

#[sqlx::test(migrations = "../migrations")]
async fn rolled_up_days_equal_the_postings_and_verify_names_a_tampered_row(pool: PgPool) {
    let app = TestApp::start(pool).await;
    supervisor(&app).await;
    paid_by_bank(&app, "0320", "0320510001").await;
    paid_by_bank(&app, "1201", "1201510002").await;
    let session = drawer(&app).await;
    paid_in_cash(&app, &session, "0320510003").await;
    let (_, number) = paid_in_cash(&app, &session, "0320510004").await;
    void(&app, &number).await;
    let from = payments::app::reports::cambodian_today() - chrono::Days::new(5);
    let period = format!("from={from}&to={}", today());
    let paths = [
        format!("/v1/reports/revenue?{period}&group_by=office"),
        format!("/v1/reports/revenue?{period}&group_by=sector"),
        format!("/v1/reports/revenue?{period}&group_by=channel"),
        format!("/v1/reports/revenue?{period}&group_by=channel_group"),
        format!("/v1/reports/online-share?{period}&interval=week"),
    ];
    let mut live = Vec::new();
    for path in &paths {
        live.push(report(&app, path, "auditor").await["data"].clone());
    }

    // The books' entries three days back (as the owner, past the append-only triggers), then
    // roll those days up: the same figures, now from report_daily_revenue/_payments.
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("update ledger_entries set created_at = created_at - interval '3 days'")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("update ledger_postings set created_at = created_at - interval '3 days'")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
    roll_up(&app).await;
    assert!(
        app.scalar_i64("select count(*) from report_daily_revenue")
            .await
            >= 3
    );
    assert_eq!(
        app.scalar_i64("select sum(payment_count)::bigint from report_daily_payments")
            .await,
        3
    );
    for (path, before) in paths.iter().zip(&live) {
        let after = report(&app, path, "auditor").await;
        if path.contains("interval=week") {
            // The week may have changed with the three days; the totals did not.
            let sum = |rows: &Value| -> i64 {
                rows.as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["payments"].as_i64().unwrap())
                    .sum()
            };
            assert_eq!(sum(&after["data"]), sum(before));
        } else {
            assert_eq!(&after["data"], before, "{path}");
        }
    }
    let by_day = report(
        &app,
        &format!("/v1/reports/revenue?{period}&group_by=day"),
        "auditor",
    )
    .await;
    let day = (payments::app::reports::cambodian_today() - chrono::Days::new(3)).to_string();
    assert_eq!(by_day["data"].as_array().unwrap().len(), 1, "{}", by_day);
    assert_eq!(by_day["data"][0]["key"], day.as_str());
    assert_eq!(by_day["data"][0]["count"], 3);

    let check = payments::db::reports::verify_rollups(&mut conn)
        .await
        .unwrap();
    assert!(check.first_bad.is_none(), "{:?}", check.first_bad);
    assert!(check.rows_checked >= 3);

    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(
        "update report_daily_revenue set amount_minor = amount_minor + 100
         where (day, office_code, sector, channel) =
               (select day, office_code, sector, channel from report_daily_revenue
                where office_code = '1201' limit 1)",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
    let check = payments::db::reports::verify_rollups(&mut conn)
        .await
        .unwrap();
    let bad = check.first_bad.unwrap();
    assert!(
        bad.starts_with(&format!("report_daily_revenue {day} 1201 ")),
        "{bad}"
    );
    let reply = app.get("/v1/ledger/verify", Some(app.key("auditor"))).await;
    assert_eq!(reply.body["ok"], false, "{}", reply.body);
    assert_eq!(reply.body["first_bad_report_row"], bad.as_str());
}

#[sqlx::test(migrations = "../migrations")]
async fn verify_fails_on_a_tampered_intent_counter(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid_by_bank(&app, "0320", "0320520001").await;
    new_intent(&app, "0320", "0320520002").await;
    crate::ledger_audit::seal(&app, None).await;
    let reply = app.get("/v1/ledger/verify", Some(app.key("auditor"))).await;
    assert_eq!(reply.body["ok"], true, "{}", reply.body);
    assert!(
        reply.body["report_rows_checked"].as_i64().unwrap() >= 3,
        "{}",
        reply.body
    );
    assert!(reply.body.get("first_bad_report_row").is_none());

    sqlx::query("update report_intent_counts set count = count + 1 where status = 'paid'")
        .execute(&app.pool)
        .await
        .unwrap();
    let reply = app.get("/v1/ledger/verify", Some(app.key("admin"))).await;
    assert_eq!(reply.body["ok"], false, "{}", reply.body);
    let bad = reply.body["first_bad_report_row"].as_str().unwrap();
    assert!(
        bad.starts_with("report_intent_counts ") && bad.contains(" 0320 paid: stored 2, intents 1"),
        "{bad}"
    );
    assert!(reply.body["reason"]
        .as_str()
        .unwrap()
        .contains("report_intent_counts"));
}

#[sqlx::test(migrations = "../migrations")]
async fn counters_follow_every_change_of_status_exactly(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = new_intent(&app, "0320", "0320530001").await;
    new_intent(&app, "0320", "0320530002").await;
    // A bulk change in one statement (as the expiry worker makes) is counted once per intent.
    sqlx::query("update payment_intents set status = 'expired' where office_code = '0320'")
        .execute(&app.pool)
        .await
        .unwrap();
    let counts = report(&app, "/v1/reports/intents", "auditor").await;
    assert_eq!(
        counts["data"][0],
        json!({"status": "awaiting_payment", "count": 0})
    );
    assert_eq!(counts["data"][2], json!({"status": "expired", "count": 2}));
    sqlx::query("update payment_intents set status = 'awaiting_payment' where id = $1::uuid")
        .bind(intent["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let check = {
        let mut conn = app.pool.acquire().await.unwrap();
        payments::db::reports::verify_rollups(&mut conn)
            .await
            .unwrap()
    };
    assert!(check.first_bad.is_none(), "{:?}", check.first_bad);
    let counts = report(&app, "/v1/reports/intents", "auditor").await;
    assert_eq!(counts["data"][0]["count"], 1);
    assert_eq!(counts["data"][2]["count"], 1);
}

async fn page(app: &TestApp, person: &crate::pages::Person, path: &str) -> crate::pages::Page {
    crate::pages::read(
        crate::pages::browser()
            .get(format!("{}{path}", app.base))
            .header("cookie", &person.cookie)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_dashboard_shows_a_persons_offices_only_with_charts_tables_and_csv(pool: PgPool) {
    let app = TestApp::start(pool).await;
    sqlx::query("update staff_users set must_change_password = false")
        .execute(&app.pool)
        .await
        .unwrap();
    let a = paid_by_bank(&app, "0320", "0320540001").await;
    let c = paid_by_bank(&app, "1201", "1201540002").await;

    let national = crate::pages::log_in(&app, "auditor").await;
    let html = page(&app, &national, "/console/reports?lang=en").await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.html);
    let html = html.html;
    assert!(
        html.contains(r#"role="img""#) && html.contains("<title id=\"chart-office-khr-title\">")
    );
    assert!(html.contains(r#"data-testid="table-by-office""#));
    for intent in [&a, &c] {
        let code = intent["office_code"].as_str().unwrap();
        let amount = intent["total"]["amount"].as_str().unwrap();
        assert!(html.contains(&format!(r#"<tr data-key="{code}" data-count="1" data-amount="{amount}" data-currency="KHR">"#)), "{code}");
    }
    assert!(html.contains("Kampong Cham") && html.contains("Phnom Penh"));
    assert!(
        html.contains(r#"data-testid="period-office""#),
        "a national person picks an office"
    );
    assert!(html.contains("Never verified"));
    assert!(html.contains("/v1/reports/revenue?from="), "CSV links");
    // The CSV link works with the session alone.
    let today = today();
    let csv = page(
        &app,
        &national,
        &format!("/v1/reports/revenue?from={today}&to={today}&group_by=office&format=csv"),
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.html.contains("0320,") && csv.html.contains("1201,"),
        "{}",
        csv.html
    );

    let scoped = crate::pages::log_in(&app, "auditor.1201").await;
    let html = page(&app, &scoped, "/console/reports?lang=en").await.html;
    assert!(
        html.contains(r#"<tr data-key="1201""#) && !html.contains("0320"),
        "{html}"
    );
    assert!(!html.contains(r#"data-testid="period-office""#));
    let other = page(&app, &scoped, "/console/reports?office_code=0320").await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let csv = page(
        &app,
        &scoped,
        &format!("/v1/reports/revenue?from={today}&to={today}&group_by=office&format=csv"),
    )
    .await;
    assert!(
        csv.html.contains("1201,") && !csv.html.contains("0320"),
        "{}",
        csv.html
    );
    let bad = page(&app, &scoped, "/console/reports?from=someday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.html.contains(r#"data-testid="reports-refused""#)
            && bad.html.contains("from must be a date")
    );

    let cashier = crate::pages::log_in(&app, "cashier.0320").await;
    let refused = page(&app, &cashier, "/console/reports").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

/// Moves each ledger entry (with its postings) and each intent back by its own number of
/// days, as the owner past the append-only triggers (the intents' own triggers move their
/// counters): history over three Cambodian months.
async fn spread_history(app: &TestApp, days_back: &[i64]) {
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    let entries: Vec<i64> = sqlx::query_scalar("select id from ledger_entries order by id")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    for (i, id) in entries.iter().enumerate() {
        let back = days_back[i % days_back.len()];
        sqlx::query(
            "update ledger_entries set created_at = created_at - make_interval(days => $2::int)
             where id = $1",
        )
        .bind(id)
        .bind(back as i32)
        .execute(&mut *conn)
        .await
        .unwrap();
        sqlx::query(
            "update ledger_postings set created_at = created_at - make_interval(days => $2::int)
             where entry_id = $1",
        )
        .bind(id)
        .bind(back as i32)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
    let intents: Vec<uuid::Uuid> =
        sqlx::query_scalar("select id from payment_intents order by created_at, id")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    for (i, id) in intents.iter().enumerate() {
        let back = days_back[i % days_back.len()];
        sqlx::query(
            "update payment_intents
             set created_at = created_at - make_interval(days => $2::int),
                 paid_at = paid_at - make_interval(days => $2::int)
             where id = $1",
        )
        .bind(id)
        .bind(back as i32)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
}

/// Every figure the reports read, through the monthly rows (`months`) or the daily ones.
async fn figures(conn: &mut sqlx::PgConnection, scope: payments::db::reports::Scope<'_>) -> String {
    use payments::db::reports;
    let mut out = String::new();
    for group_by in [
        "office",
        "sector",
        "channel",
        "channel_group",
        "day",
        "week",
        "month",
        "none",
    ] {
        for sum in reports::revenue(conn, scope, group_by, "none")
            .await
            .unwrap()
        {
            out.push_str(&format!(
                "revenue {group_by} {} {} {} {}\n",
                sum.key, sum.currency, sum.amount_minor, sum.sector_payment_count
            ));
        }
        for count in reports::payments(conn, scope, group_by, "channel_group")
            .await
            .unwrap()
        {
            out.push_str(&format!(
                "payments {group_by} {} {} {} {}\n",
                count.key, count.key2, count.currency, count.count
            ));
        }
    }
    for by_month in [false, true] {
        for (set, sum) in reports::revenue_sets(conn, scope, by_month).await.unwrap() {
            out.push_str(&format!(
                "revenue_sets {by_month} {set} {} {} {} {}\n",
                sum.key, sum.currency, sum.amount_minor, sum.sector_payment_count
            ));
        }
        for (set, count) in reports::payment_sets(conn, scope, by_month).await.unwrap() {
            out.push_str(&format!(
                "payment_sets {by_month} {set} {} {} {} {}\n",
                count.key, count.key2, count.currency, count.count
            ));
        }
    }
    for (status, count) in reports::intent_counts(conn, scope).await.unwrap() {
        out.push_str(&format!("intents {status} {count}\n"));
    }
    for (bucket, count) in reports::paid_latency(conn, scope).await.unwrap() {
        out.push_str(&format!("latency {bucket} {count}\n"));
    }
    out
}

#[sqlx::test(migrations = "../migrations")]
async fn monthly_roll_ups_give_the_figures_of_the_days_and_verify_names_a_tampered_month(
    pool: PgPool,
) {
    let app = TestApp::start(pool).await;
    supervisor(&app).await;
    paid_by_bank(&app, "0320", "0320550001").await;
    paid_by_bank(&app, "1201", "1201550002").await;
    paid_by_bank(&app, "0320", "0320550003").await;
    let session = drawer(&app).await;
    paid_in_cash(&app, &session, "0320550004").await;
    let (_, number) = paid_in_cash(&app, &session, "0320550005").await;
    void(&app, &number).await;
    paid_by_bank(&app, "1201", "1201550006").await;
    new_intent(&app, "0320", "0320550007").await;
    // Two or three months back, last month, last week, today.
    let today = payments::app::reports::cambodian_today();
    spread_history(&app, &[70, 64, 40, 33, 7, 0]).await;
    roll_up(&app).await;
    let next_month: Option<chrono::NaiveDate> =
        sqlx::query_scalar("select next_month from report_rollup_state")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    use chrono::Datelike;
    assert_eq!(
        next_month,
        today.with_day(1),
        "every finished month aggregated"
    );
    assert!(
        app.scalar_i64("select count(*) from report_monthly_revenue")
            .await
            >= 2
    );
    assert!(
        app.scalar_i64("select count(distinct month) from report_monthly_intent_counts")
            .await
            >= 3
    );

    // The same figures through the monthly rows and through the days, for periods starting
    // mid-month, on a month's first day, or within one month; national and one office.
    let mut conn = app.pool.acquire().await.unwrap();
    let month_start = (today - chrono::Days::new(64)).with_day(1).unwrap();
    let offices = ["0320".to_owned()];
    for (from, to) in [
        (today - chrono::Days::new(100), today),
        (month_start, today),
        (month_start, today - chrono::Days::new(1)),
        (today - chrono::Days::new(70), today - chrono::Days::new(30)),
        (today - chrono::Days::new(8), today),
    ] {
        for scoped in [None, Some(&offices[..])] {
            let scope = |months| payments::db::reports::Scope {
                from,
                to,
                offices: scoped,
                months,
            };
            let monthly = figures(&mut conn, scope(true)).await;
            let daily = figures(&mut conn, scope(false)).await;
            assert_eq!(monthly, daily, "{from}..{to} {scoped:?}");
            if from == today - chrono::Days::new(100) && scoped.is_none() {
                assert!(monthly.contains("revenue_sets true day "), "{monthly}");
                assert!(monthly.contains("intents paid "), "{monthly}");
            }
        }
    }

    // Over 92 days, the dashboard shows its series by month (and says so); shorter, by day.
    let national = crate::pages::log_in(&app, "auditor").await;
    let long_page = page(
        &app,
        &national,
        &format!(
            "/console/reports?lang=en&from={}&to={today}",
            today - chrono::Days::new(400)
        ),
    )
    .await;
    assert_eq!(long_page.status, StatusCode::OK);
    let month_key = format!(r#"<tr data-key="{}""#, today.format("%Y-%m"));
    assert!(
        long_page.html.contains("Revenue by month")
            && long_page.html.contains("Online share of payments by month")
            && long_page.html.contains(&month_key)
            && long_page.html.contains("group_by=month"),
        "{}",
        long_page.html
    );
    let short_page = page(&app, &national, "/console/reports?lang=en").await.html;
    assert!(
        short_page.contains("Revenue by day")
            && !short_page.contains("by month")
            && short_page.contains(&format!(r#"<tr data-key="{today}""#)),
        "{short_page}"
    );
    let long = report(
        &app,
        &format!(
            "/v1/reports/revenue?from={}&to={today}&group_by=month",
            today - chrono::Days::new(700)
        ),
        "auditor",
    )
    .await;
    assert!(long["data"].as_array().unwrap().len() >= 3, "{long}");

    let check = payments::db::reports::verify_rollups(&mut conn)
        .await
        .unwrap();
    assert!(check.first_bad.is_none(), "{:?}", check.first_bad);

    // A tampered monthly row: the monthly path reads it (the figures differ from the days')
    // and verify names it.
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    let tampered: chrono::NaiveDate = sqlx::query_scalar(
        "update report_monthly_revenue set amount_minor = amount_minor + 100
         where (month, office_code, sector, channel, currency) =
               (select month, office_code, sector, channel, currency
                from report_monthly_revenue where office_code = '0320'
                order by month limit 1)
         returning month",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
    let scope = |months| payments::db::reports::Scope {
        from: today - chrono::Days::new(100),
        to: today,
        offices: None,
        months,
    };
    assert_ne!(
        figures(&mut conn, scope(true)).await,
        figures(&mut conn, scope(false)).await
    );
    let check = payments::db::reports::verify_rollups(&mut conn)
        .await
        .unwrap();
    let bad = check.first_bad.unwrap();
    assert!(
        bad.starts_with(&format!(
            "report_monthly_revenue {} 0320 ",
            tampered.format("%Y-%m")
        )),
        "{bad}"
    );
    let reply = app.get("/v1/ledger/verify", Some(app.key("auditor"))).await;
    assert_eq!(reply.body["ok"], false, "{}", reply.body);
    assert_eq!(reply.body["first_bad_report_row"], bad.as_str());

    // Monthly rows are append-only, like the daily ones.
    sqlx::query(
        "update report_monthly_revenue set amount_minor = amount_minor - 100
         where month = $1 and office_code = '0320'",
    )
    .bind(tampered)
    .execute(&mut *conn)
    .await
    .expect_err("monthly revenue rows are append-only");
}

#[sqlx::test(migrations = "../migrations")]
async fn monthly_counters_follow_every_change_and_verify_names_a_tampered_one(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = new_intent(&app, "0320", "0320560001").await;
    new_intent(&app, "0320", "0320560002").await;
    paid_by_bank(&app, "1201", "1201560003").await;
    spread_history(&app, &[0, 45, 80]).await;
    sqlx::query("update payment_intents set status = 'expired' where office_code = '0320'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update payment_intents set status = 'awaiting_payment' where id = $1::uuid")
        .bind(intent["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("delete from payment_intents where id = $1::uuid")
        .bind(intent["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .ok();
    let mut conn = app.pool.acquire().await.unwrap();
    let check = payments::db::reports::verify_rollups(&mut conn)
        .await
        .unwrap();
    assert!(check.first_bad.is_none(), "{:?}", check.first_bad);
    let truth: Vec<(chrono::NaiveDate, String, String, i64)> = sqlx::query_as(
        "select date_trunc('month', (created_at at time zone 'Asia/Phnom_Penh')::date)::date,
                office_code, status, count(*)
         from payment_intents group by 1, 2, 3 order by 1, 2, 3",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let stored: Vec<(chrono::NaiveDate, String, String, i64)> = sqlx::query_as(
        "select month, office_code, status, count from report_monthly_intent_counts
         where count <> 0 order by 1, 2, 3",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert_eq!(stored, truth);
    assert!(truth.len() >= 2, "{truth:?}");
    let paid_months = app
        .scalar_i64("select count(*) from report_monthly_paid_latency where count <> 0")
        .await;
    assert_eq!(paid_months, 1);

    let (month, office) = (truth[0].0, truth[0].1.clone());
    sqlx::query(
        "update report_monthly_intent_counts set count = count + 1
         where (month, office_code, status) = ($1, $2, $3)",
    )
    .bind(month)
    .bind(&office)
    .bind(&truth[0].2)
    .execute(&mut *conn)
    .await
    .unwrap();
    let check = payments::db::reports::verify_rollups(&mut conn)
        .await
        .unwrap();
    let bad = check.first_bad.unwrap();
    assert!(
        bad.starts_with(&format!(
            "report_monthly_intent_counts {} {office} {}: stored {}, days {}",
            month.format("%Y-%m"),
            truth[0].2,
            truth[0].3 + 1,
            truth[0].3
        )),
        "{bad}"
    );
}
