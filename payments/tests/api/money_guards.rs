//! The money path's guards: callbacks bound to their channel, the bank's clock kept apart
//! from ours, one open intent per case, one lock order for cancel and settlement, a bound on
//! attempts, and a KHQR poller that one bad answer or one failed settlement does not stop.

use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::task::JoinSet;

use crate::support::{callback_body, Reply, TestApp, SECRET};

/// The value of a counter in the process's Prometheus output (0 when not yet counted).
/// Counters are process-wide and tests run in parallel, so callers compare before and after.
fn counter(app: &TestApp, name: &str, labels: &[(&str, &str)]) -> u64 {
    let rendered = app
        .state
        .prometheus
        .as_ref()
        .expect("the test process installs the Prometheus recorder")
        .render();
    rendered
        .lines()
        .filter(|line| {
            line.starts_with(name)
                && line[name.len()..].starts_with(['{', ' '])
                && labels
                    .iter()
                    .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn intent_status(app: &TestApp, id: &str) -> Value {
    app.get(
        &format!("/v1/payment-intents/{id}"),
        Some(app.key("workflow")),
    )
    .await
    .body
}

async fn khqr_attempt(app: &TestApp, intent_id: &str, key: &str) -> Value {
    let reply = app
        .post(
            &format!("/v1/payment-intents/{intent_id}/attempts"),
            Some(app.key("workflow")),
            Some(key),
            &json!({"channel": "khqr"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn assert_ledger_balanced(app: &TestApp) {
    let balance = app
        .get("/v1/ledger/trial-balance", Some(app.key("auditor")))
        .await;
    assert_eq!(balance.status, StatusCode::OK, "{}", balance.body);
    for total in balance.body["totals"].as_array().unwrap() {
        assert_eq!(total["balance"], "0", "{total}");
    }
}

async fn postings(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as(
        "select a.code, p.amount_minor from ledger_postings p join ledger_accounts a on a.id = p.account_id
         order by p.amount_minor desc, a.code",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

// ---- a callback settles only an attempt of its own channel ----------------------------------

#[sqlx::test(migrations = "../migrations")]
async fn a_sandbox_callback_naming_a_khqr_attempt_is_parked_not_paid(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320090001").await;
    let intent_id = intent["id"].as_str().unwrap();
    let attempt = khqr_attempt(&app, intent_id, "khqr-1").await;
    // The citizen reads the reference of their own KHQR attempt and has the sandbox bank
    // report it paid, correctly signed and for the right amount.
    let reference = attempt["provider_reference"].as_str().unwrap();
    let reply = app
        .callback(&callback_body("sbx_cross_1", reference, "600000"), SECRET)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let intent = intent_status(&app, intent_id).await;
    assert_eq!(intent["status"], "awaiting_payment");
    assert_eq!(intent["receipt_number"], Value::Null);
    let attempt_status: String =
        sqlx::query_scalar("select status from payment_attempts where provider_reference = $1")
            .bind(reference)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(attempt_status, "pending");
    let exceptions: Vec<(String, String, Option<uuid::Uuid>)> = sqlx::query_as(
        "select kind, office_code, payment_intent_id from reconciliation_exceptions",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        exceptions,
        vec![(
            "channel_mismatch".to_owned(),
            "0320".to_owned(),
            Some(intent_id.parse().unwrap())
        )]
    );
    assert_eq!(
        postings(&app).await,
        vec![
            ("0320:clearing:sandbox:KHR".to_owned(), 600_000),
            ("0320:suspense:KHR".to_owned(), -600_000)
        ]
    );
    assert_ledger_balanced(&app).await;

    // The single path (a group that failed, settled alone; the KHQR poller) applies the same
    // rule.
    let mut tx = app.pool.begin().await.unwrap();
    let report = payments::app::settlement::Report::new(
        "sandbox",
        payments::app::states::Channel::Sandbox,
        bank_adapters::report::PaymentReport {
            transaction_id: "sbx_cross_2".to_owned(),
            provider_reference: reference.to_owned(),
            amount: bank_adapters::report::ReportedAmount::from_text("600000", "KHR"),
            paid_at: None,
        },
        None,
    );
    let outcome = payments::app::settlement::record(&mut tx, &report)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outcome.verdict(), "suspense:channel_mismatch");
    assert_eq!(
        intent_status(&app, intent_id).await["status"],
        "awaiting_payment"
    );
    assert_ledger_balanced(&app).await;
}

// ---- the bank's clock does not number receipts ----------------------------------------------

#[sqlx::test(migrations = "../migrations")]
async fn a_bank_clock_in_2019_does_not_number_the_receipt(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let skew = |direction| {
        counter(
            &app,
            "owso_bank_clock_skew_total",
            &[("channel", "sandbox"), ("direction", direction)],
        )
    };
    let (past_before, future_before) = (skew("past"), skew("future"));

    let intent = app.intent("0320090002").await;
    let intent_id = intent["id"].as_str().unwrap();
    let attempt = app.sandbox_attempt(intent_id).await;
    let reference = attempt["provider_reference"].as_str().unwrap();
    let mut body = callback_body("sbx_2019", reference, "600000");
    body["paid_at"] = json!("2019-03-01T08:00:00Z");
    let reply = app.callback(&body, SECRET).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let intent = intent_status(&app, intent_id).await;
    assert_eq!(intent["status"], "paid");
    let this_year = Utc::now()
        .with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap())
        .year();
    let receipt = intent["receipt_number"].as_str().unwrap();
    assert!(
        receipt.starts_with(&format!("0320-{this_year}-")),
        "{receipt}"
    );
    assert_eq!(intent["bank_paid_at"], "2019-03-01T08:00:00Z");
    let paid_at: DateTime<Utc> = intent["paid_at"].as_str().unwrap().parse().unwrap();
    assert!(
        Utc::now() - paid_at < chrono::Duration::minutes(1),
        "{paid_at}"
    );
    let attempts = app
        .get(
            &format!("/v1/payment-intents/{intent_id}/attempts"),
            Some(app.key("workflow")),
        )
        .await;
    assert_eq!(
        attempts.body["data"][0]["bank_paid_at"],
        "2019-03-01T08:00:00Z"
    );
    assert_eq!(attempts.body["data"][0]["paid_at"], intent["paid_at"]);
    let event: Value =
        sqlx::query_scalar("select payload from outbox_events where event_type = 'payment.paid'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(event["data"]["receipt_number"], receipt);
    assert!(skew("past") > past_before);

    // A bank clock an hour ahead is counted too, and does not date the payment either.
    let intent = app.intent("0320090003").await;
    let intent_id = intent["id"].as_str().unwrap();
    let attempt = app.sandbox_attempt(intent_id).await;
    let mut body = callback_body(
        "sbx_future",
        attempt["provider_reference"].as_str().unwrap(),
        "600000",
    );
    let ahead = Utc::now() + chrono::Duration::hours(1);
    body["paid_at"] = json!(ahead.to_rfc3339());
    app.callback(&body, SECRET).await;
    let intent = intent_status(&app, intent_id).await;
    assert_eq!(intent["status"], "paid");
    let paid_at: DateTime<Utc> = intent["paid_at"].as_str().unwrap().parse().unwrap();
    assert!(paid_at < ahead - chrono::Duration::minutes(30));
    assert!(skew("future") > future_before);
}

// ---- one open intent per case ---------------------------------------------------------------

#[sqlx::test(migrations = "../migrations")]
async fn six_concurrent_creations_for_one_case_make_one_open_intent(pool: PgPool) {
    let app = Arc::new(TestApp::start(pool).await);
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    let body = json!({"quote_id": quote["id"], "case_reference": "0320090010"});
    let mut requests = JoinSet::new();
    for n in 0..6 {
        let (app, body) = (Arc::clone(&app), body.clone());
        requests.spawn(async move {
            let key = format!("open-{n}");
            let reply = app
                .post(
                    "/v1/payment-intents",
                    Some(app.key("workflow")),
                    Some(&key),
                    &body,
                )
                .await;
            (key, reply)
        });
    }
    let replies: Vec<(String, Reply)> = requests.join_all().await;
    let created: Vec<&(String, Reply)> = replies
        .iter()
        .filter(|(_, reply)| reply.status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "exactly one 201");
    let (winner_key, winner) = created[0];
    let id = winner.body["id"].as_str().unwrap();
    for (_, reply) in &replies {
        assert!(!reply.status.is_server_error(), "{}", reply.body);
        if reply.status != StatusCode::CREATED {
            assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
            assert_eq!(reply.body["code"], "case_has_open_intent");
            assert_eq!(reply.body["payment_intent_id"], id);
        }
    }
    assert_eq!(
        app.scalar_i64("select count(*) from payment_intents").await,
        1
    );
    // The winner's key still replays its 201.
    let replay = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some(winner_key),
            &body,
        )
        .await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.headers["idempotency-replayed"], "true");
    assert_eq!(replay.body["id"], id);
    // Once cancelled, the case takes a new intent.
    let cancelled = app
        .post(
            &format!("/v1/payment-intents/{id}/cancel"),
            Some(app.key("workflow")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let again = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("open-after-cancel"),
            &body,
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_paid_case_takes_a_new_intent_only_as_supplementary(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320090011").await;
    let paid_id = intent["id"].as_str().unwrap();
    let attempt = app.sandbox_attempt(paid_id).await;
    app.callback(
        &callback_body(
            "sbx_case_paid",
            attempt["provider_reference"].as_str().unwrap(),
            "600000",
        ),
        SECRET,
    )
    .await;
    assert_eq!(intent_status(&app, paid_id).await["status"], "paid");

    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    let refused = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("second-fee"),
            &json!({"quote_id": quote["id"], "case_reference": "0320090011"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body["code"], "case_already_paid");
    assert_eq!(refused.body["payment_intent_id"], paid_id);
    let explicit_no = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("second-fee-no"),
            &json!({"quote_id": quote["id"], "case_reference": "0320090011", "supplementary": false}),
        )
        .await;
    assert_eq!(explicit_no.body["code"], "case_already_paid");
    let supplementary = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("second-fee-yes"),
            &json!({"quote_id": quote["id"], "case_reference": "0320090011", "supplementary": true}),
        )
        .await;
    assert_eq!(
        supplementary.status,
        StatusCode::CREATED,
        "{}",
        supplementary.body
    );
    assert_ne!(supplementary.body["id"], paid_id);
    // A supplementary intent is still the case's one open intent.
    let third = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("third-fee"),
            &json!({"quote_id": quote["id"], "case_reference": "0320090011", "supplementary": true}),
        )
        .await;
    assert_eq!(third.body["code"], "case_has_open_intent");
    assert_eq!(third.body["payment_intent_id"], supplementary.body["id"]);

    // The contract says so: an optional request field, and the bank's time on the intent.
    let openapi = app.get("/openapi.json", None).await.body;
    let schemas = &openapi["components"]["schemas"];
    let request = &schemas["CreateIntentRequest"];
    assert_eq!(request["properties"]["supplementary"]["type"], "boolean");
    let required = request["required"].as_array().unwrap();
    assert!(!required.contains(&json!("supplementary")), "{request}");
    assert!(schemas["IntentView"]["properties"]["bank_paid_at"].is_object());
    assert!(schemas["AttemptView"]["properties"]["bank_paid_at"].is_object());
}

/// A database that already holds several open intents for one case (made before the limit)
/// must still migrate: the newest stays under the index, the older ones are left payable.
#[sqlx::test(migrations = "../migrations")]
async fn the_migration_leaves_existing_duplicate_open_intents_payable(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let first = app.intent("0320090012").await;
    let first_id: uuid::Uuid = first["id"].as_str().unwrap().parse().unwrap();
    // Back to the schema before the limit, then two more open intents for the same case.
    sqlx::query("drop index payment_intents_one_open_per_case")
        .execute(&app.pool)
        .await
        .unwrap();
    for n in 0..2 {
        sqlx::query(
            "insert into payment_intents (id, office_code, quote_id, case_reference, status, currency, total_minor,
                 pay_token_hash, created_by, expires_at, created_at)
             select gen_random_uuid(), office_code, quote_id, case_reference, status, currency, total_minor,
                 sha256(pay_token_hash || convert_to($2, 'UTF8')), created_by, expires_at,
                 created_at + $1 * interval '1 second'
             from payment_intents where id = $3",
        )
        .bind(f64::from(n + 1))
        .bind(format!("dup{n}"))
        .bind(first_id)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let migration = include_str!("../../../migrations/0009_money_path_guards.sql");
    let (_, tail) = migration
        .split_once("update payment_intents i set exempt_from_open_case_limit = true")
        .unwrap();
    sqlx::raw_sql(&format!(
        "update payment_intents i set exempt_from_open_case_limit = true{tail}"
    ))
    .execute(&app.pool)
    .await
    .unwrap();
    let rows: Vec<(bool, String)> = sqlx::query_as(
        "select exempt_from_open_case_limit, status from payment_intents order by created_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (true, "awaiting_payment".to_owned()),
            (true, "awaiting_payment".to_owned()),
            (false, "awaiting_payment".to_owned())
        ]
    );
    // The older duplicate is still payable.
    let attempt = app.sandbox_attempt(&first_id.to_string()).await;
    app.callback(
        &callback_body(
            "sbx_legacy",
            attempt["provider_reference"].as_str().unwrap(),
            "600000",
        ),
        SECRET,
    )
    .await;
    assert_eq!(
        intent_status(&app, &first_id.to_string()).await["status"],
        "paid"
    );
}

// ---- cancel and settlement take locks in one order ------------------------------------------

#[sqlx::test(migrations = "../migrations")]
async fn a_hundred_cancels_racing_callbacks_end_paid_or_cancelled_never_both(pool: PgPool) {
    let app = Arc::new(TestApp::start(pool).await);
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    let mut cases = Vec::new();
    for n in 0..100 {
        let reply = app
            .post(
                "/v1/payment-intents",
                Some(app.key("workflow")),
                Some(&format!("race-{n}")),
                &json!({"quote_id": quote["id"], "case_reference": format!("0320R{n:05}")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let id = reply.body["id"].as_str().unwrap().to_owned();
        let attempt = app.sandbox_attempt(&id).await;
        cases.push((
            id,
            attempt["provider_reference"].as_str().unwrap().to_owned(),
        ));
    }
    // Ten races at a time, each a cancel and a callback for the same intent sent together.
    for chunk in cases.chunks(10) {
        let mut races = JoinSet::new();
        for (n, (id, reference)) in chunk.iter().enumerate() {
            let (app, id, reference) = (Arc::clone(&app), id.clone(), reference.clone());
            races.spawn(async move {
                let cancel_path = format!("/v1/payment-intents/{id}/cancel");
                let empty = json!({});
                let cancel = app.post(&cancel_path, Some(app.key("workflow")), None, &empty);
                let body = callback_body(&format!("sbx_race_{id}"), &reference, "600000");
                let callback = app.callback(&body, SECRET);
                let (cancel, callback) = if n % 2 == 0 {
                    tokio::join!(cancel, callback)
                } else {
                    let (callback, cancel) = tokio::join!(callback, cancel);
                    (cancel, callback)
                };
                (id, cancel, callback)
            });
        }
        for (id, cancel, callback) in races.join_all().await {
            assert!(!cancel.status.is_server_error(), "{}", cancel.body);
            assert_eq!(callback.status, StatusCode::OK, "{}", callback.body);
            let intent = intent_status(&app, &id).await;
            let exceptions: Vec<String> = sqlx::query_scalar(
                "select kind from reconciliation_exceptions where payment_intent_id = $1",
            )
            .bind(id.parse::<uuid::Uuid>().unwrap())
            .fetch_all(&app.pool)
            .await
            .unwrap();
            match intent["status"].as_str().unwrap() {
                "paid" => {
                    assert_eq!(cancel.status, StatusCode::CONFLICT, "{}", cancel.body);
                    assert_eq!(cancel.body["code"], "invalid_state");
                    assert!(exceptions.is_empty(), "{exceptions:?}");
                    assert!(intent["cancelled_at"].is_null());
                }
                "cancelled" => {
                    assert_eq!(cancel.status, StatusCode::OK, "{}", cancel.body);
                    assert_eq!(exceptions, vec!["after_cancel".to_owned()]);
                    assert!(intent["paid_at"].is_null());
                }
                other => panic!("intent {id} ended {other}"),
            }
        }
    }
    assert_eq!(
        app.scalar_i64(
            "select count(*) from payment_intents where status not in ('paid', 'cancelled')"
        )
        .await,
        0
    );
    assert_ledger_balanced(&app).await;
}

// ---- attempts per intent are bounded --------------------------------------------------------

#[sqlx::test(migrations = "../migrations")]
async fn an_intent_takes_ten_attempts_even_when_asked_concurrently(pool: PgPool) {
    let app = Arc::new(TestApp::start(pool).await);
    let intent = app.intent("0320090020").await;
    let id = intent["id"].as_str().unwrap().to_owned();
    let mut requests = JoinSet::new();
    for n in 0..14 {
        let (app, id) = (Arc::clone(&app), id.clone());
        requests.spawn(async move {
            let key = format!("many-{n}");
            let reply = app
                .post(
                    &format!("/v1/payment-intents/{id}/attempts"),
                    Some(app.key("workflow")),
                    Some(&key),
                    &json!({"channel": "sandbox"}),
                )
                .await;
            (key, reply)
        });
    }
    let replies: Vec<(String, Reply)> = requests.join_all().await;
    let created: Vec<&(String, Reply)> = replies
        .iter()
        .filter(|(_, reply)| reply.status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 10);
    for (_, reply) in replies
        .iter()
        .filter(|(_, reply)| reply.status != StatusCode::CREATED)
    {
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            reply.body
        );
        assert_eq!(reply.body["code"], "too_many_attempts");
    }
    assert_eq!(
        app.scalar_i64("select count(*) from payment_attempts")
            .await,
        10
    );
    // A replay of an accepted request still replays.
    let (key, accepted) = created[0];
    let replay = app
        .post(
            &format!("/v1/payment-intents/{id}/attempts"),
            Some(app.key("workflow")),
            Some(key),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.body);
    assert_eq!(replay.headers["idempotency-replayed"], "true");
    assert_eq!(replay.body["id"], accepted.body["id"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_public_view_lists_the_latest_ten_attempts(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320090021").await;
    let id: uuid::Uuid = intent["id"].as_str().unwrap().parse().unwrap();
    // Rows from before attempts were bounded: fifteen, a minute apart.
    sqlx::query(
        "insert into payment_attempts (id, payment_intent_id, office_code, channel, status, currency, amount_minor,
             provider_reference, expires_at, created_at)
         select gen_random_uuid(), i.id, i.office_code, 'sandbox', 'failed', i.currency, i.total_minor,
             'legacy' || n, i.expires_at, now() - (20 - n) * interval '1 minute'
         from payment_intents i, generate_series(1, 15) n where i.id = $1",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    let token = intent["pay_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let public = app.get(&format!("/v1/public/payments/{token}"), None).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.body);
    // The public view names attempts by id only (no bank references): the ids of the
    // latest ten, oldest first.
    let ids: Vec<String> = public.body["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = sqlx::query_scalar(
        "select id::text from payment_attempts where payment_intent_id = $1
         and provider_reference in (select 'legacy' || n from generate_series(6, 15) n)
         order by created_at",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(ids, expected);
    // And the intent takes no more.
    let refused = app
        .post(
            &format!("/v1/payment-intents/{id}/attempts"),
            Some(app.key("workflow")),
            Some("one-more"),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body["code"], "too_many_attempts");
}

// ---- one bad Bakong answer does not stop the KHQR confirmations ------------------------------

async fn scan_and_pay(app: &TestApp, qr: &str) {
    let paid = app
        .http
        .post(format!("{}/bakong/sim/pay", app.sim_base))
        .json(&json!({"qr": qr}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
}

async fn poll(app: &TestApp) -> usize {
    let client = app.state.bakong.clone().unwrap();
    payments::workers::khqr_poller::poll_once(&app.state, &client)
        .await
        .unwrap()
}

/// Two paid KHQR attempts (two cases), due now, `first` checked before `second`.
async fn two_paid_qrs(app: &TestApp, cases: [&str; 2]) -> [(String, Value); 2] {
    let mut paid = Vec::new();
    for case in cases {
        let intent = app.intent(case).await;
        let id = intent["id"].as_str().unwrap().to_owned();
        let attempt = khqr_attempt(app, &id, &format!("qr-{case}")).await;
        scan_and_pay(app, attempt["khqr"].as_str().unwrap()).await;
        paid.push((id, attempt));
    }
    for (order, (_, attempt)) in paid.iter().enumerate() {
        sqlx::query(
            "update payment_attempts set next_check_at = now() - $2 * interval '1 minute' where id = $1",
        )
        .bind(attempt["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap())
        .bind(f64::from(2 - u8::try_from(order).unwrap()))
        .execute(&app.pool)
        .await
        .unwrap();
    }
    paid.try_into().unwrap()
}

async fn make_due(app: &TestApp) {
    sqlx::query("update payment_attempts set next_check_at = now() where poll_state = 'active'")
        .execute(&app.pool)
        .await
        .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unreadable_item_in_bakongs_answer_spoils_only_itself(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let [(broken_id, broken), (fine_id, _)] =
        two_paid_qrs(&app, ["0320090030", "0320090031"]).await;
    let before = counter(&app, "owso_bakong_undecodable_items_total", &[]);
    let knob = app
        .http
        .post(format!("{}/bakong/sim/control", app.sim_base))
        .json(&json!({"malformed_md5s": [broken["khqr_md5"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(knob.status(), 200);
    // Its QR expired long ago, so this is its last check; an unreadable answer is not "not
    // paid", so the attempt must not be expired on it.
    let grace = i32::try_from(app.state.config.khqr_grace.as_secs()).unwrap();
    sqlx::query(
        "update payment_attempts set expires_at = now() - ($2 + 60) * interval '1 second' where id = $1",
    )
    .bind(broken["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap())
    .bind(f64::from(grace))
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(poll(&app).await, 2);
    let (status, poll_state): (String, String) =
        sqlx::query_as("select status, poll_state from payment_attempts where id = $1")
            .bind(
                broken["id"]
                    .as_str()
                    .unwrap()
                    .parse::<uuid::Uuid>()
                    .unwrap(),
            )
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), poll_state.as_str()),
        ("pending", "active")
    );
    let fine = intent_status(&app, &fine_id).await;
    assert_eq!(fine["status"], "paid");
    // Bakong's own time is kept beside ours.
    assert!(fine["bank_paid_at"].is_string(), "{fine}");
    assert_eq!(
        intent_status(&app, &broken_id).await["status"],
        "awaiting_payment"
    );
    assert!(counter(&app, "owso_bakong_undecodable_items_total", &[]) > before);
    // Still polled: once Bakong answers properly, the payment is found.
    app.http
        .post(format!("{}/bakong/sim/control", app.sim_base))
        .json(&json!({"malformed_md5s": []}))
        .send()
        .await
        .unwrap();
    make_due(&app).await;
    poll(&app).await;
    assert_eq!(intent_status(&app, &broken_id).await["status"], "paid");
    assert_ledger_balanced(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn one_failed_settlement_does_not_abandon_the_round(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let [(failing_id, _), (fine_id, _)] = two_paid_qrs(&app, ["0320090032", "0320090033"]).await;
    // The first settlement of the round fails in the database.
    sqlx::raw_sql(&format!(
        "create function refuse_one_payment() returns trigger language plpgsql as $$
         begin
             if new.id = '{failing_id}' and new.status = 'paid' then
                 raise exception 'refused for the test';
             end if;
             return new;
         end $$;
         create trigger refuse_one_payment before update on payment_intents
             for each row execute function refuse_one_payment();"
    ))
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(poll(&app).await, 2);
    assert_eq!(intent_status(&app, &fine_id).await["status"], "paid");
    assert_eq!(
        intent_status(&app, &failing_id).await["status"],
        "awaiting_payment"
    );
    // Its lease is handed back at once, for the next round.
    assert_eq!(
        app.scalar_i64("select count(*) from payment_attempts where poll_leased_until is not null")
            .await,
        0
    );
    sqlx::raw_sql("drop trigger refuse_one_payment on payment_intents")
        .execute(&app.pool)
        .await
        .unwrap();
    make_due(&app).await;
    poll(&app).await;
    assert_eq!(intent_status(&app, &failing_id).await["status"], "paid");
    assert_ledger_balanced(&app).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn intents_expire_after_the_grace_period_while_their_qr_is_still_polled(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320090034").await;
    let id = intent["id"].as_str().unwrap();
    khqr_attempt(&app, id, "qr-expiring").await;
    let grace = i64::try_from(app.state.config.khqr_grace.as_secs()).unwrap();
    // Just expired: Bakong is still asked about the QR, so the intent waits.
    sqlx::query("update payment_intents set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        payments::workers::expiry::sweep(&app.state).await.unwrap(),
        0
    );
    // Past expiry plus grace, though the poller never got to its last check (Bakong down, a
    // stuck round): the intent expires anyway.
    sqlx::query("update payment_intents set expires_at = now() - ($1 + 1) * interval '1 second'")
        .bind(f64::from(i32::try_from(grace).unwrap()))
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        payments::workers::expiry::sweep(&app.state).await.unwrap(),
        1
    );
    assert_eq!(intent_status(&app, id).await["status"], "expired");
    assert_eq!(
        app.scalar_i64("select count(*) from payment_attempts where status = 'expired' and poll_state = 'active'")
            .await,
        1
    );
}
