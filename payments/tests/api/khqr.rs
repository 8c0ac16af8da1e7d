use std::time::Duration;

use bank_adapters::khqr;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::TestApp;

async fn khqr_attempt(app: &TestApp, case_reference: &str) -> (String, Value) {
    let intent = app.intent(case_reference).await;
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    let reply = app
        .post(
            &format!("/v1/payment-intents/{intent_id}/attempts"),
            Some(app.key("workflow")),
            Some(&format!("khqr-{case_reference}")),
            &json!({"channel": "khqr"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (intent_id, reply.body)
}

async fn scan_and_pay(app: &TestApp, qr: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/bakong/sim/pay", app.sim_base))
        .json(&json!({"qr": qr}))
        .send()
        .await
        .unwrap()
}

async fn poll(app: &TestApp) -> usize {
    let client = app.state.bakong.clone().unwrap();
    payments::workers::khqr_poller::poll_once(&app.state, &client)
        .await
        .unwrap()
}

/// Makes every active attempt due now, as if its next check time had come.
async fn make_due(app: &TestApp) {
    sqlx::query("update payment_attempts set next_check_at = now() where poll_state = 'active'")
        .execute(&app.pool)
        .await
        .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_khqr_attempt_is_a_dynamic_merchant_qr_for_the_office(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (_, attempt) = khqr_attempt(&app, "0320018100").await;
    let qr = attempt["khqr"].as_str().unwrap();
    assert_eq!(attempt["khqr_md5"], khqr::md5_hex(qr));
    assert_eq!(attempt["bill_number"], "0320018100");
    assert_eq!(attempt["channel"], "khqr");
    let decoded = khqr::decode(qr).unwrap();
    let fields = serde_json::to_value(&decoded).unwrap();
    assert_eq!(fields["merchantType"], "30", "merchant template: {fields}");
    assert_eq!(fields["bakongAccountID"], "owso_0320@demo");
    assert_eq!(fields["merchantID"], "OWSO0320");
    assert_eq!(fields["billNumber"], "0320018100");
    assert_eq!(fields["transactionCurrency"], "116");
    assert_eq!(fields["merchantCity"], "Kampong Cham");
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(attempt["expires_at"].as_str().unwrap()).unwrap();
    let verification = khqr::verify(qr, chrono::Utc::now().timestamp_millis());
    assert!(verification.is_valid(), "{verification:?}");
    let after_expiry = khqr::verify(qr, expires_at.timestamp_millis() + 1);
    assert!(
        !after_expiry.is_valid(),
        "the QR carries the attempt's expiry"
    );
    assert!(qr.contains("5406600000"), "tag 54 carries the amount: {qr}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_qr_images_scan_back_to_the_exact_khqr(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (_, attempt) = khqr_attempt(&app, "0320018101").await;
    let qr = attempt["khqr"].as_str().unwrap();
    let png = app
        .http
        .get(attempt["qr_png_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    // The quiet zone: the outer 4 modules (32 px) are white all round.
    for x in 0..width {
        for y in (0..32).chain(height - 32..height) {
            assert_eq!(buffer[y * width + x], 255, "quiet zone at ({x},{y})");
        }
    }
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| buffer[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, qr);

    let svg = app
        .http
        .get(attempt["qr_svg_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"));
    // The SVG is drawn from the same module matrix, quiet zone included.
    let matrix = payments::app::qr_image::matrix(qr).unwrap();
    let side = matrix.len();
    assert!(
        svg.contains(&format!("viewBox=\"0 0 {side} {side}\"")) || svg.contains("width="),
        "{}",
        &svg[..200]
    );
    assert_eq!(
        app.get(
            &format!("/v1/public/attempts/{}/qr.svg", uuid::Uuid::nil()),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_paid_khqr_is_found_by_the_poller_and_posted_once(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, attempt) = khqr_attempt(&app, "0320018102").await;
    // Not paid yet: a check finds nothing and changes nothing.
    make_due(&app).await;
    assert_eq!(poll(&app).await, 1);
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        0
    );
    let paid = scan_and_pay(&app, attempt["khqr"].as_str().unwrap()).await;
    assert_eq!(paid.status(), 200);
    make_due(&app).await;
    assert_eq!(poll(&app).await, 1);
    let intent = app
        .get(
            &format!("/v1/payment-intents/{intent_id}"),
            Some(app.key("workflow")),
        )
        .await
        .body;
    assert_eq!(intent["status"], "paid");
    assert_eq!(intent["paid_channel"], "khqr");
    let postings: Vec<(String, i64)> = sqlx::query_as(
        "select a.code, p.amount_minor from ledger_postings p join ledger_accounts a on a.id = p.account_id order by p.amount_minor desc",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        postings,
        vec![
            ("0320:clearing:khqr:KHR".to_owned(), 600_000),
            ("0320:revenue:labour:KHR".to_owned(), -600_000)
        ]
    );
    assert_eq!(
        app.scalar_i64("select count(*) from outbox_events where event_type = 'payment.paid'")
            .await,
        1
    );
    // Done: no longer polled, and asking again (if it were) would post nothing new.
    make_due(&app).await;
    assert_eq!(poll(&app).await, 0);
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        1
    );
    // The Bakong answer is kept raw in the inbox.
    assert_eq!(app.scalar_i64("select count(*) from inbox_messages where provider = 'bakong' and status = 'processed'").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_payment_after_cancellation_goes_to_suspense(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, attempt) = khqr_attempt(&app, "0320018103").await;
    let cancelled = app
        .post(
            &format!("/v1/payment-intents/{intent_id}/cancel"),
            Some(app.key("workflow")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    // The citizen still had the QR on screen and paid it.
    assert_eq!(
        scan_and_pay(&app, attempt["khqr"].as_str().unwrap())
            .await
            .status(),
        200
    );
    make_due(&app).await;
    poll(&app).await;
    let kinds: Vec<String> = sqlx::query_scalar("select kind from reconciliation_exceptions")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(kinds, vec!["after_cancel".to_owned()]);
    let intent = app
        .get(
            &format!("/v1/payment-intents/{intent_id}"),
            Some(app.key("workflow")),
        )
        .await
        .body;
    assert_eq!(intent["status"], "cancelled");
    let suspense: i64 = sqlx::query_scalar(
        "select coalesce(sum(p.amount_minor), 0)::bigint from ledger_postings p join ledger_accounts a on a.id = p.account_id where a.code = '0320:suspense:KHR'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(suspense, -600_000);
}

#[sqlx::test(migrations = "../migrations")]
async fn money_to_another_account_is_not_taken_as_payment(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (intent_id, attempt) = khqr_attempt(&app, "0320018104").await;
    // The office's Bakong account changed after the QR was issued: the money went elsewhere.
    sqlx::query("update offices set bakong_account_id = 'someone_else@bank' where code = '0320'")
        .execute(&app.pool)
        .await
        .unwrap();
    scan_and_pay(&app, attempt["khqr"].as_str().unwrap()).await;
    make_due(&app).await;
    poll(&app).await;
    let intent = app
        .get(
            &format!("/v1/payment-intents/{intent_id}"),
            Some(app.key("workflow")),
        )
        .await
        .body;
    assert_eq!(intent["status"], "awaiting_payment");
    let kinds: Vec<String> = sqlx::query_scalar("select kind from reconciliation_exceptions")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(kinds, vec!["account_mismatch".to_owned()]);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_expired_qr_is_refused_by_the_bank_app_and_expired_after_a_last_check(pool: PgPool) {
    let mut app = TestApp::start(pool).await;
    let mut config = (*app.state.config).clone();
    config.khqr_grace = Duration::ZERO;
    app.state = payments::AppState::new(app.pool.clone(), config).unwrap();
    // An attempt whose QR expires half a second from now.
    let intent = app.intent("0320018105").await;
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    let mut tx = app.pool.begin().await.unwrap();
    let row = payments::app::intents::load(&mut tx, None, intent_id.parse().unwrap(), true)
        .await
        .unwrap();
    let attempt_id = uuid::Uuid::now_v7();
    let reference = format!("op{}", attempt_id.simple());
    let new = payments::app::khqr::NewKhqrAttempt {
        attempt_id,
        provider_reference: &reference,
        expires_at: chrono::Utc::now() + chrono::Duration::milliseconds(500),
    };
    payments::app::khqr::insert_attempt(&mut tx, &row, &new)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let qr: String = sqlx::query_scalar("select khqr from payment_attempts where id = $1")
        .bind(attempt_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let refused = scan_and_pay(&app, &qr).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "qr_expired");
    // The final check after expiry finds nothing; only then is the attempt expired.
    make_due(&app).await;
    poll(&app).await;
    let (status, state): (String, String) =
        sqlx::query_as("select status, poll_state from payment_attempts where id = $1")
            .bind(attempt_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), state.as_str()), ("expired", "done"));
}

#[sqlx::test(migrations = "../migrations")]
async fn two_pollers_post_each_payment_once(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let mut qrs = Vec::new();
    for case in 0..12 {
        let (_, attempt) = khqr_attempt(&app, &format!("03200200{case:02}")).await;
        qrs.push(attempt["khqr"].as_str().unwrap().to_owned());
    }
    for qr in &qrs {
        assert_eq!(scan_and_pay(&app, qr).await.status(), 200);
    }
    // A second instance: its own state and Bakong client on the same database.
    let other = payments::AppState::new(app.pool.clone(), (*app.state.config).clone()).unwrap();
    for _ in 0..3 {
        make_due(&app).await;
        let first = payments::workers::khqr_poller::poll_once(
            &app.state,
            app.state.bakong.as_ref().unwrap(),
        );
        let second =
            payments::workers::khqr_poller::poll_once(&other, other.bakong.as_ref().unwrap());
        let (first, second) = tokio::join!(first, second);
        first.unwrap();
        second.unwrap();
    }
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        12
    );
    assert_eq!(
        app.scalar_i64("select count(*) from payment_intents where status = 'paid'")
            .await,
        12
    );
    assert_eq!(
        app.scalar_i64("select count(*) from reconciliation_exceptions")
            .await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_token_is_an_operator_error_not_a_silent_loop(pool: PgPool) {
    let app = TestApp::start(pool).await;
    khqr_attempt(&app, "0320018106").await;
    app.http
        .post(format!("{}/bakong/sim/control", app.sim_base))
        .json(&json!({"unauthorized": true}))
        .send()
        .await
        .unwrap();
    make_due(&app).await;
    let client = app.state.bakong.clone().unwrap();
    let error = payments::workers::khqr_poller::poll_once(&app.state, &client)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            payments::workers::khqr_poller::PollError::Bank(
                bank_adapters::error::AdapterError::Unauthorized
            )
        ),
        "{error}"
    );
    // The lease is handed back, so the attempt is checked again once the token is renewed.
    assert_eq!(
        app.scalar_i64("select count(*) from payment_attempts where poll_leased_until is not null")
            .await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn khqr_is_refused_for_an_office_without_a_bakong_account(pool: PgPool) {
    let app = TestApp::start(pool).await;
    sqlx::query(
        "update offices set bakong_account_id = null, merchant_name = null where code = '0320'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let intent = app.intent("0320018107").await;
    let reply = app
        .post(
            &format!(
                "/v1/payment-intents/{}/attempts",
                intent["id"].as_str().unwrap()
            ),
            Some(app.key("workflow")),
            Some("k"),
            &json!({"channel": "khqr"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["code"], "channel_unavailable");
    assert_eq!(
        app.scalar_i64("select count(*) from payment_attempts")
            .await,
        0
    );
}
