//! Nothing received is forgotten and no payment the bank took stays unknown: inbox messages a
//! crash left unprocessed, idempotency claims of requests that died, expired keys, and
//! sandbox attempts whose callbacks never came.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

async fn intent_status(app: &TestApp, id: &str) -> Value {
    app.get(
        &format!("/v1/payment-intents/{id}"),
        Some(app.key("workflow")),
    )
    .await
    .body["status"]
        .clone()
}

/// Stores a signed sandbox callback in the inbox exactly as `inbox::receive` does, as if the
/// instance died right after; `age_s` backdates it.
async fn stored_callback(app: &TestApp, body: &Value, age_s: i64) -> i64 {
    let raw = serde_json::to_vec(body).unwrap();
    let signature = bank_adapters::signing::hmac_sha256_hex(SECRET.as_bytes(), &raw);
    sqlx::query_scalar(
        "insert into inbox_messages (provider, headers, body, received_at)
         values ('sandbox', $1, $2, now() - $3::bigint * interval '1 second') returning id",
    )
    .bind(json!({"content-type": "application/json", "x-sandbox-signature": signature}))
    .bind(raw)
    .bind(age_s)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_callback_a_crash_left_in_the_inbox_is_settled_once_by_the_worker(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320070001").await;
    let body = callback_body("sbx_crash_1", &reference, "600000");
    let old = stored_callback(&app, &body, 120).await;
    // The bank sent it again before the crash was noticed: the same transaction, twice.
    let old_copy = stored_callback(&app, &body, 90).await;
    // Younger than a minute: its request may still be running, so it is left alone.
    let young = stored_callback(&app, &body, 5).await;

    // Two instances at once: the lease gives each message to one of them.
    let other = payments::AppState::new(app.pool.clone(), (*app.state.config).clone()).unwrap();
    let (mine, theirs) = tokio::join!(
        payments::workers::recovery::retry_inbox_once(&app.state),
        payments::workers::recovery::retry_inbox_once(&other),
    );
    assert_eq!(mine.unwrap() + theirs.unwrap(), 2);
    assert_eq!(intent_status(&app, &intent_id).await, "paid");
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        1
    );
    let statuses: Vec<(i64, String)> =
        sqlx::query_as("select id, status from inbox_messages order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        statuses,
        vec![
            (old, "processed".to_owned()),
            (old_copy, "duplicate".to_owned()),
            (young, "received".to_owned()),
        ]
    );
    // Nothing is left for a second round, on this or another instance.
    assert_eq!(
        payments::workers::recovery::retry_inbox_once(&app.state)
            .await
            .unwrap(),
        0
    );
    let receipt = app
        .get(
            &format!("/v1/payment-intents/{intent_id}"),
            Some(app.key("workflow")),
        )
        .await
        .body["receipt_number"]
        .clone();
    assert!(receipt.is_string(), "{receipt}");
}

/// The crash drill (`make drill`) found these: PostgreSQL restarted while a callback settled,
/// so its message was marked `failed`, and only `received` ones were ever retried. The bank's
/// own retry saved those payments there; a bank that does not retry would not.
#[sqlx::test(migrations = "../migrations")]
async fn a_callback_whose_settlement_failed_is_replayed_once_with_backoff(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320070009").await;
    let failed = stored_callback(
        &app,
        &callback_body("sbx_failed_1", &reference, "600000"),
        120,
    )
    .await;
    sqlx::query(
        "update inbox_messages set status = 'failed', verdict = 'processing_failed' where id = $1",
    )
    .bind(failed)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        payments::workers::recovery::retry_inbox_once(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(intent_status(&app, &intent_id).await, "paid");
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        1
    );
    let status: String = sqlx::query_scalar("select status from inbox_messages where id = $1")
        .bind(failed)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "processed");

    // One that keeps failing (its intent's row held by another transaction past the statement
    // timeout would do; here it is simply marked failed again) waits twice as long each time.
    let (_, other) = app.pending_attempt("0320070010").await;
    let stuck = stored_callback(&app, &callback_body("sbx_failed_2", &other, "600000"), 120).await;
    let mut leases = Vec::new();
    for _ in 0..3 {
        sqlx::query(
            "update inbox_messages set status = 'failed', retry_leased_until = null where id = $1",
        )
        .bind(stuck)
        .execute(&app.pool)
        .await
        .unwrap();
        // Marked failed again as if settling failed once more: only the lease, not the row's
        // status, decides when it is tried next.
        let leased = payments::app::inbox::lease_unprocessed(&app.pool, 60_000, 50, 120)
            .await
            .unwrap();
        assert_eq!(leased.len(), 1);
        let seconds: f64 = sqlx::query_scalar(
            "select extract(epoch from retry_leased_until - now())::float8 from inbox_messages where id = $1",
        )
        .bind(stuck)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        leases.push(seconds.round() as i64);
        // Leased: not handed out again until the lease ends.
        assert!(
            payments::app::inbox::lease_unprocessed(&app.pool, 60_000, 50, 120)
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(leases, vec![120, 240, 480]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_forged_message_left_in_the_inbox_is_rejected_not_settled(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320070002").await;
    let raw = serde_json::to_vec(&callback_body("sbx_forged", &reference, "600000")).unwrap();
    sqlx::query(
        "insert into inbox_messages (provider, headers, body, received_at)
         values ('sandbox', '{\"x-sandbox-signature\": \"00\"}', $1, now() - interval '2 minutes')",
    )
    .bind(raw)
    .execute(&app.pool)
    .await
    .unwrap();
    payments::workers::recovery::retry_inbox_once(&app.state)
        .await
        .unwrap();
    assert_eq!(intent_status(&app, &intent_id).await, "awaiting_payment");
    assert_eq!(
        app.scalar_i64("select count(*) from inbox_messages where status = 'rejected'")
            .await,
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_claim_left_by_a_request_that_died_is_taken_over_after_the_request_timeout(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320070003").await;
    let path = format!(
        "/v1/payment-intents/{}/attempts",
        intent["id"].as_str().unwrap()
    );
    let first = app
        .post(
            &path,
            Some(app.key("workflow")),
            Some("attempt-died"),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    // What a request that died during its bank call leaves: the claim committed, no answer.
    let dead_claim = "update idempotency_keys set response_status = null, response_body = null,
                          created_at = now() - $1::bigint * interval '1 second'
                      where key = 'attempt-died'";
    sqlx::query(dead_claim)
        .bind(0_i64)
        .execute(&app.pool)
        .await
        .unwrap();
    // While the claim is younger than the request timeout, its request may still be running.
    let early = app
        .post(
            &path,
            Some(app.key("workflow")),
            Some("attempt-died"),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    assert_eq!(early.body["code"], "idempotency_request_in_progress");
    sqlx::query(dead_claim)
        .bind(31_i64)
        .execute(&app.pool)
        .await
        .unwrap();
    // A different body under the dead claim's key is still a reused key.
    let other = app
        .post(
            &path,
            Some(app.key("workflow")),
            Some("attempt-died"),
            &json!({"channel": "khqr"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.body);
    assert_eq!(other.body["code"], "idempotency_key_reused");
    let retry = app
        .post(
            &path,
            Some(app.key("workflow")),
            Some("attempt-died"),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    assert_ne!(retry.body["id"], first.body["id"]);
    // And from now on the key replays the retry's answer.
    let replay = app
        .post(
            &path,
            Some(app.key("workflow")),
            Some("attempt-died"),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.body["id"], retry.body["id"]);
    assert_eq!(replay.headers["idempotency-replayed"], "true");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_older_than_a_day_is_a_fresh_key_and_is_swept(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    let create = |case: &'static str| {
        let app = &app;
        let quote_id = quote["id"].clone();
        async move {
            app.post(
                "/v1/payment-intents",
                Some(app.key("workflow")),
                Some("daily-key"),
                &json!({"quote_id": quote_id, "case_reference": case}),
            )
            .await
        }
    };
    let first = create("0320070004").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let reused = create("0320070005").await;
    assert_eq!(reused.body["code"], "idempotency_key_reused");
    sqlx::query("update idempotency_keys set created_at = now() - interval '24 hours 1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let fresh = create("0320070005").await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
    assert_ne!(fresh.body["id"], first.body["id"]);
    assert!(fresh.headers.get("idempotency-replayed").is_none());

    // The sweep deletes expired rows and keeps the rest.
    sqlx::query(
        "insert into idempotency_keys (principal, key, request_hash, created_at)
         values ('old', 'k', '\\x00', now() - interval '25 hours')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let deleted = payments::app::idempotency::sweep(&app.pool).await.unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(
        app.scalar_i64("select count(*) from idempotency_keys")
            .await,
        1
    );
}

/// Pays `reference` at the simulator with every callback dropped; returns the transaction id.
async fn pay_without_callbacks(app: &TestApp, reference: &str) -> String {
    let paid: Value = app
        .http
        .post(format!("{}/sandbox/payments/{reference}/pay", app.sim_base))
        .json(&json!({"drop_callbacks": 1000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paid["callbacks"][0]["status"], Value::Null, "{paid}");
    paid["transaction_id"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_status_worker_finds_a_payment_whose_callbacks_were_lost(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320070006").await;
    let (other_intent, _) = app.pending_attempt("0320070007").await;
    let transaction_id = pay_without_callbacks(&app, &reference).await;
    assert_eq!(intent_status(&app, &intent_id).await, "awaiting_payment");
    // Not due yet: the first check waits for the callback that usually comes.
    assert_eq!(
        payments::workers::sandbox_status::check_once(&app.state)
            .await
            .unwrap(),
        0
    );
    sqlx::query("update payment_attempts set status_check_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        payments::workers::sandbox_status::check_once(&app.state)
            .await
            .unwrap(),
        2
    );
    assert_eq!(intent_status(&app, &intent_id).await, "paid");
    assert_eq!(intent_status(&app, &other_intent).await, "awaiting_payment");
    // The paid one is checked no more; the unpaid one is asked again later, not at once.
    let scheduled: Vec<(String, bool)> = sqlx::query_as(
        "select provider_reference, status_check_at > now() from payment_attempts
         where status_check_at is not null",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(scheduled.len(), 1);
    assert_ne!(scheduled[0].0, reference);
    assert!(scheduled[0].1);

    // The bank's late callback of the same payment changes nothing.
    let late = app
        .callback(
            &callback_body(&transaction_id, &reference, "600000"),
            SECRET,
        )
        .await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.body);
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        1
    );
    assert_eq!(
        app.scalar_i64("select count(*) from inbox_messages where status = 'duplicate'")
            .await,
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unpaid_attempt_is_checked_until_its_expiry_and_grace_then_expired(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, reference) = app.pending_attempt("0320070008").await;
    // Expired longer ago than the grace period: this check is the final one.
    sqlx::query(
        "update payment_attempts set status_check_at = now(),
             expires_at = now() - interval '301 seconds' where provider_reference = $1",
    )
    .bind(&reference)
    .execute(&app.pool)
    .await
    .unwrap();
    payments::workers::sandbox_status::check_once(&app.state)
        .await
        .unwrap();
    let (status, check_at): (String, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
        "select status, status_check_at from payment_attempts where provider_reference = $1",
    )
    .bind(&reference)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(status, "expired");
    assert!(check_at.is_none());
    assert_eq!(intent_status(&app, &intent_id).await, "awaiting_payment");
}
