use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

async fn intent(app: &TestApp, id: &str) -> Value {
    app.get(
        &format!("/v1/payment-intents/{id}"),
        Some(app.key("workflow")),
    )
    .await
    .body
}

#[sqlx::test(migrations = "../migrations")]
async fn the_bank_simulator_pays_and_the_intent_is_paid(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320018100").await;
    let paid = app
        .http
        .post(format!("{}/sandbox/payments/{reference}/pay", app.sim_base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success(), "{}", paid.text().await.unwrap());
    let intent = intent(&app, &intent_id).await;
    assert_eq!(intent["status"], "paid");
    assert_eq!(
        intent["amount_paid"],
        json!({"amount": "600000", "currency": "KHR"})
    );
    let receipt = intent["receipt_number"].as_str().unwrap();
    assert!(
        receipt.starts_with("0320-20") && receipt.ends_with("-000001"),
        "{receipt}"
    );

    // One balanced entry: D clearing:sandbox, C revenue:labour.
    let postings: Vec<(String, i64)> = sqlx::query_as(
        "select a.code, p.amount_minor from ledger_postings p join ledger_accounts a on a.id = p.account_id order by p.amount_minor desc",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        postings,
        vec![
            ("0320:clearing:sandbox:KHR".to_owned(), 600_000),
            ("0320:revenue:labour:KHR".to_owned(), -600_000)
        ]
    );
    let event: Value =
        sqlx::query_scalar("select payload from outbox_events where event_type = 'payment.paid'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(event["type"], "payment.paid");
    assert_eq!(event["data"]["case_reference"], "0320018100");
    assert_eq!(event["data"]["receipt_number"], receipt);
    assert_eq!(event["data"]["channel"], "sandbox");
    assert_eq!(
        event["data"]["total"],
        json!({"amount": "600000", "currency": "KHR"})
    );

    let balance = app
        .get("/v1/ledger/trial-balance", Some(app.key("auditor")))
        .await;
    assert_eq!(balance.status, StatusCode::OK);
    for total in balance.body["totals"].as_array().unwrap() {
        assert_eq!(total["balance"], "0", "{total}");
    }
    assert_eq!(balance.body["totals"][0]["debit"], "600000");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_callback_sent_five_times_posts_once(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320000005").await;
    let body = callback_body("sbx_dup_1", &reference, "600000");
    for _ in 0..5 {
        let reply = app.callback(&body, SECRET).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    assert_eq!(intent(&app, &intent_id).await["status"], "paid");
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        1
    );
    assert_eq!(
        app.scalar_i64("select count(*) from outbox_events where event_type = 'payment.paid'")
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("select count(*) from inbox_messages").await,
        5
    );
    assert_eq!(
        app.scalar_i64("select count(*) from inbox_messages where status = 'duplicate'")
            .await,
        4
    );
    assert_eq!(
        app.scalar_i64("select count(*) from reconciliation_exceptions")
            .await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_duplicates_from_the_simulator_post_once(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320000006").await;
    let paid = app
        .http
        .post(format!("{}/sandbox/payments/{reference}/pay", app.sim_base))
        .json(&json!({"duplicate": 5}))
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success());
    assert_eq!(intent(&app, &intent_id).await["status"], "paid");
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        1
    );
    assert_eq!(
        app.scalar_i64("select count(*) from inbox_messages").await,
        5
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_amount_goes_to_suspense(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320000007").await;
    let reply = app
        .callback(&callback_body("sbx_short", &reference, "500000"), SECRET)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(intent(&app, &intent_id).await["status"], "awaiting_payment");
    let postings: Vec<(String, i64)> = sqlx::query_as(
        "select a.code, p.amount_minor from ledger_postings p join ledger_accounts a on a.id = p.account_id order by p.amount_minor desc",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        postings,
        vec![
            ("0320:clearing:sandbox:KHR".to_owned(), 500_000),
            ("0320:suspense:KHR".to_owned(), -500_000)
        ]
    );
    let exceptions = app
        .get("/v1/reconciliation/exceptions", Some(app.key("auditor")))
        .await;
    let exceptions = exceptions.body["data"].as_array().unwrap().clone();
    assert_eq!(exceptions.len(), 1);
    assert_eq!(exceptions[0]["kind"], "amount_mismatch");
    assert_eq!(
        exceptions[0]["amount"],
        json!({"amount": "500000", "currency": "KHR"})
    );
    assert_eq!(exceptions[0]["payment_intent_id"], intent_id.as_str());
    assert_eq!(
        app.scalar_i64(
            "select count(*) from outbox_events where event_type = 'reconciliation.exception'"
        )
        .await,
        1
    );
    // The exception is the office's: another office's auditor does not see it.
    let other = app
        .get(
            "/v1/reconciliation/exceptions",
            Some(app.key("auditor_1201")),
        )
        .await;
    assert_eq!(other.body["data"].as_array().unwrap().len(), 0);

    // The right amount afterwards still pays the intent.
    app.callback(&callback_body("sbx_full", &reference, "600000"), SECRET)
        .await;
    assert_eq!(intent(&app, &intent_id).await["status"], "paid");
}

#[sqlx::test(migrations = "../migrations")]
async fn paying_twice_or_after_cancel_or_to_nowhere_goes_to_suspense(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (_paid_id, paid_reference) = app.pending_attempt("0320000008").await;
    app.callback(
        &callback_body("sbx_first", &paid_reference, "600000"),
        SECRET,
    )
    .await;
    app.callback(
        &callback_body("sbx_second", &paid_reference, "600000"),
        SECRET,
    )
    .await;

    let (cancel_id, cancel_reference) = app.pending_attempt("0320000009").await;
    let cancelled = app
        .post(
            &format!("/v1/payment-intents/{cancel_id}/cancel"),
            Some(app.key("workflow")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    app.callback(
        &callback_body("sbx_late", &cancel_reference, "600000"),
        SECRET,
    )
    .await;
    assert_eq!(intent(&app, &cancel_id).await["status"], "cancelled");

    app.callback(
        &callback_body("sbx_lost", "op-unknown-reference", "12000"),
        SECRET,
    )
    .await;

    let kinds: Vec<(String, String)> = sqlx::query_as(
        "select kind, office_code from reconciliation_exceptions order by created_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        vec![
            ("already_paid".to_owned(), "0320".to_owned()),
            ("after_cancel".to_owned(), "0320".to_owned()),
            ("unknown_reference".to_owned(), "0000".to_owned()),
        ]
    );
    let suspense: i64 = sqlx::query_scalar(
        "select coalesce(sum(p.amount_minor), 0)::bigint from ledger_postings p join ledger_accounts a on a.id = p.account_id where a.kind = 'suspense'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(suspense, -(600_000 + 600_000 + 12_000));
    let balance = app
        .get("/v1/ledger/trial-balance", Some(app.key("auditor")))
        .await;
    for total in balance.body["totals"].as_array().unwrap() {
        assert_eq!(total["balance"], "0");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_forged_callback_is_refused_kept_and_changes_nothing(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320000010").await;
    let forged = app
        .callback(
            &callback_body("sbx_forged", &reference, "600000"),
            "not-the-secret",
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(forged.body["code"], "invalid_signature");
    let unsigned = app
        .http
        .post(format!("{}/v1/callbacks/sandbox", app.base))
        .body(serde_json::to_vec(&callback_body("sbx_unsigned", &reference, "600000")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(intent(&app, &intent_id).await["status"], "awaiting_payment");
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        0
    );
    assert_eq!(
        app.scalar_i64("select count(*) from outbox_events").await,
        0
    );
    assert_eq!(
        app.scalar_i64("select count(*) from provider_transactions")
            .await,
        0
    );
    let kept: Vec<(Option<bool>, String, Option<String>)> =
        sqlx::query_as("select signature_valid, status, verdict from inbox_messages order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(kept.len(), 2);
    for (valid, status, verdict) in kept {
        assert_eq!(valid, Some(false));
        assert_eq!(status, "rejected");
        assert_eq!(verdict.as_deref(), Some("bad_signature"));
    }
    // A signed but malformed body is a 400, also kept.
    let raw = b"{\"transaction_id\": 5}".to_vec();
    let signature = bank_adapters::signing::hmac_sha256_hex(SECRET.as_bytes(), &raw);
    let malformed = app
        .http
        .post(format!("{}/v1/callbacks/sandbox", app.base))
        .header("x-sandbox-signature", signature)
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.scalar_i64("select count(*) from inbox_messages").await,
        3
    );
    assert_eq!(
        app.get("/v1/nothing", None).await.status,
        StatusCode::NOT_FOUND
    );
    let unknown_provider = app
        .post("/v1/callbacks/paypal", None, None, &json!({}))
        .await;
    assert_eq!(unknown_provider.status, StatusCode::NOT_FOUND);
}

/// The raw callback is stored with a commit that does not wait for the disk; the setting must
/// end with that statement, or the next payment settled on the same pooled connection would
/// commit without waiting either.
#[sqlx::test(migrations = "../migrations")]
async fn storing_a_callback_lazily_leaves_the_connection_synchronous(pool: PgPool) {
    use sqlx::postgres::PgPoolOptions;
    let one = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap();
    let before: String = sqlx::query_scalar("show synchronous_commit")
        .fetch_one(&one)
        .await
        .unwrap();
    assert_eq!(before, "on");
    let id = payments::app::inbox::receive(&one, "sandbox", &json!({"k": "v"}), b"raw body")
        .await
        .unwrap();
    let (provider, body, status): (String, Vec<u8>, String) =
        sqlx::query_as("select provider, body, status from inbox_messages where id = $1")
            .bind(id)
            .fetch_one(&one)
            .await
            .unwrap();
    assert_eq!(
        (provider.as_str(), body.as_slice(), status.as_str()),
        ("sandbox", &b"raw body"[..], "received")
    );
    let after: String = sqlx::query_scalar("show synchronous_commit")
        .fetch_one(&one)
        .await
        .unwrap();
    assert_eq!(after, "on");
    let in_transaction: String = sqlx::query_scalar(
        "select setting from (select set_config('synchronous_commit', 'off', true)) as s (setting)",
    )
    .fetch_one(&one)
    .await
    .unwrap();
    // The same expression does switch it off for its own statement: the check above is not
    // vacuous.
    assert_eq!(in_transaction, "off");
}
