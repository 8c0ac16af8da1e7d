//! Issue 5 over HTTP and the CLI: period close, chain verification, signed digests,
//! statements, balances and the CSV journal, with office scope.

use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::{Signature, SigningKey, Verifier as _, VerifyingKey};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

pub(crate) async fn paid(app: &TestApp, case_reference: &str, transaction_id: &str) {
    let intent = app.intent(case_reference).await;
    let attempt = app.sandbox_attempt(intent["id"].as_str().unwrap()).await;
    let reply = app
        .callback(
            &callback_body(
                transaction_id,
                attempt["provider_reference"].as_str().unwrap(),
                "600000",
            ),
            SECRET,
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
}

/// Runs sealer rounds until every entry is sealed (the horizon is cluster-wide, so a
/// transaction of a parallel test can hold it back for a moment).
pub(crate) async fn seal(app: &TestApp, key: Option<&SigningKey>) {
    for _ in 0..400 {
        payments::workers::sealer::round(&app.pool, key)
            .await
            .unwrap();
        let unsealed = app
            .scalar_i64(
                "select count(*) from ledger_entries e
                 where not exists (select 1 from ledger_seals s where s.entry_id = e.id)",
            )
            .await;
        if unsealed == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("entries left unsealed");
}

/// The test database's URL, for the CLI.
fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").unwrap();
    let database = pool.connect_options().get_database().unwrap().to_owned();
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{database}")
}

fn cli_verify(pool: &PgPool) -> (i32, serde_json::Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_payments"))
        .args(["ledger", "verify"])
        .env("DATABASE_URL", database_url(pool))
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (
        output.status.code().unwrap(),
        serde_json::from_str(stdout.trim()).unwrap_or(json!(null)),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn verify_over_http_and_cli_names_the_tampered_entry(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001001", "sbx_v1").await;
    paid(&app, "0320001002", "sbx_v2").await;
    seal(&app, None).await;

    let reply = app.get("/v1/ledger/verify", Some(app.key("auditor"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["ok"], true);
    assert_eq!(reply.body["entries_checked"], 2);
    assert!(reply.body.get("first_bad_entry").is_none());
    assert_eq!(reply.body["head_hash"].as_str().unwrap().len(), 64);
    let (code, report) = cli_verify(&app.pool);
    assert_eq!((code, &report["ok"]), (0, &json!(true)), "{report}");
    let cashier = app
        .get("/v1/ledger/verify", Some(app.key("cashier_0320")))
        .await;
    assert_eq!(cashier.status, StatusCode::FORBIDDEN);

    let last = app.scalar_i64("select max(id) from ledger_entries").await;
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("update ledger_postings set amount_minor = amount_minor + sign(amount_minor) where entry_id = $1")
        .bind(last)
        .execute(&mut *conn)
        .await
        .unwrap();
    let reply = app.get("/v1/ledger/verify", Some(app.key("admin"))).await;
    assert_eq!(reply.body["ok"], false, "{}", reply.body);
    assert_eq!(reply.body["first_bad_entry"], last);
    assert_eq!(reply.body["entries_checked"], 1);
    let (code, report) = cli_verify(&app.pool);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["first_bad_entry"], last);
}

#[sqlx::test(migrations = "../migrations")]
async fn digests_are_signed_and_checkable_outside(pool: PgPool) {
    let key = SigningKey::from_bytes(&[42; 32]);
    // Verify trusts the keys it is told: this one, as LEDGER_PUBLIC_KEYS would list it.
    let app = TestApp::start_with(pool, |config| {
        config.ledger_public_keys = vec![key.verifying_key().to_bytes()];
    })
    .await;
    paid(&app, "0320001003", "sbx_d1").await;
    seal(&app, Some(&key)).await;
    // The sealer signed yesterday's digest; sign one more now that the entry is sealed.
    let yesterday = payments::app::books::digests::digest_day(chrono::Utc::now()).unwrap();
    assert!(app
        .scalar_i64("select count(*) from ledger_digests")
        .await
        .eq(&1));
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    assert!(yesterday > day);
    assert!(
        payments::app::books::digests::make_digest(&app.pool, &key, day)
            .await
            .unwrap()
    );

    let reply = app
        .get("/v1/ledger/digests", Some(app.key("auditor")))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["algorithm"], "Ed25519");
    let digest = &reply.body["digests"][1];
    assert_eq!(digest["day"], "2026-01-01");
    let b64 = base64::engine::general_purpose::STANDARD;
    let public_key: [u8; 32] = b64
        .decode(digest["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(public_key, key.verifying_key().to_bytes());
    let signature =
        Signature::from_slice(&b64.decode(digest["signature"].as_str().unwrap()).unwrap()).unwrap();
    let payload = digest["payload"].as_str().unwrap();
    VerifyingKey::from_bytes(&public_key)
        .unwrap()
        .verify(payload.as_bytes(), &signature)
        .unwrap();
    assert!(payload.contains("head_seq 1\n"), "{payload}");
    assert!(
        payload.contains("account 0320:revenue:labour:KHR -600000\n"),
        "{payload}"
    );
    assert_eq!(digest["head_hash"], reply_head(&app).await);

    let scoped = app
        .get("/v1/ledger/digests", Some(app.key("auditor_1201")))
        .await;
    assert_eq!(scoped.status, StatusCode::FORBIDDEN);
    let reply = app.get("/v1/ledger/verify", Some(app.key("auditor"))).await;
    assert_eq!(reply.body["ok"], true, "{}", reply.body);
    assert_eq!(reply.body["digests_checked"], 2, "{}", reply.body);
    // An altered payload no longer matches its signature, and verify says so.
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("update ledger_digests set payload = replace(payload, '-600000', '-500000')")
        .execute(&mut *conn)
        .await
        .unwrap();
    let reply = app.get("/v1/ledger/verify", Some(app.key("auditor"))).await;
    assert_eq!(reply.body["ok"], false, "{}", reply.body);
}

async fn reply_head(app: &TestApp) -> serde_json::Value {
    app.get("/v1/ledger/verify", Some(app.key("admin")))
        .await
        .body["head_hash"]
        .clone()
}

#[sqlx::test(migrations = "../migrations")]
async fn closing_a_month_over_http(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001004", "sbx_c1").await;
    let body = json!({"office_code": "0320", "month": "2026-01"});
    let closed = app
        .post(
            "/v1/ledger/periods/close",
            Some(app.key("admin")),
            None,
            &body,
        )
        .await;
    assert_eq!(closed.status, StatusCode::CREATED, "{}", closed.body);
    assert_eq!(closed.body["month"], "2026-01");
    let again = app
        .post(
            "/v1/ledger/periods/close",
            Some(app.key("admin")),
            None,
            &body,
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    let auditor = app
        .post(
            "/v1/ledger/periods/close",
            Some(app.key("auditor")),
            None,
            &body,
        )
        .await;
    assert_eq!(auditor.status, StatusCode::FORBIDDEN);
    let future = app
        .post(
            "/v1/ledger/periods/close",
            Some(app.key("admin")),
            None,
            &json!({"office_code": "0320", "month": "2999-01"}),
        )
        .await;
    assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(future.body["code"], "period_not_closable");
    let malformed = app
        .post(
            "/v1/ledger/periods/close",
            Some(app.key("admin")),
            None,
            &json!({"office_code": "0320", "month": "2026-1"}),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = app
        .post(
            "/v1/ledger/periods/close",
            Some(app.key("admin")),
            None,
            &json!({"office_code": "9999", "month": "2026-01"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let listed = app
        .get("/v1/ledger/periods", Some(app.key("auditor_1201")))
        .await;
    assert_eq!(listed.body, json!({"data": [], "next_cursor": null}));
    let listed = app
        .get("/v1/ledger/periods", Some(app.key("auditor")))
        .await;
    assert_eq!(listed.body["data"][0]["office_code"], "0320");
}

#[sqlx::test(migrations = "../migrations")]
async fn statements_balances_and_csv_are_office_scoped(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001005", "sbx_s1").await;
    paid(&app, "0320001006", "sbx_s2").await;
    let account = "0320:revenue:labour:KHR";

    let balance = app
        .get(
            &format!("/v1/ledger/accounts/{account}/balance"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(balance.status, StatusCode::OK, "{}", balance.body);
    assert_eq!(balance.body["balance"], "-1200000");
    let before = app
        .get(
            &format!("/v1/ledger/accounts/{account}/balance?as_of=2020-01-01T00:00:00Z"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(before.body["balance"], "0");

    let statement = app
        .get(
            &format!("/v1/ledger/accounts/{account}/statement?from=2020-01-01T00:00:00Z"),
            Some(app.key("supervisor_0320")),
        )
        .await;
    assert_eq!(statement.status, StatusCode::OK, "{}", statement.body);
    assert_eq!(statement.body["opening_balance"], "0");
    assert_eq!(statement.body["lines"][0]["balance"], "-600000");
    assert_eq!(statement.body["lines"][1]["balance"], "-1200000");
    assert_eq!(statement.body["closing_balance"], "-1200000");

    let hidden = app
        .get(
            &format!("/v1/ledger/accounts/{account}/statement?from=2020-01-01T00:00:00Z"),
            Some(app.key("auditor_1201")),
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);

    let csv = |key: &'static str, accept: &'static str| {
        let request = app
            .http
            .get(format!(
                "{}/v1/ledger/entries?from=2020-01-01T00:00:00Z",
                app.base
            ))
            .bearer_auth(app.key(key).to_owned())
            .header("accept", accept);
        async move { request.send().await.unwrap() }
    };
    let response = csv("auditor", "text/csv").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("entry_id,created_at,office_code,"),
        "{text}"
    );
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[1..].iter().all(|line| line.contains(",0320,")));
    let scoped = csv("auditor_1201", "text/csv").await.text().await.unwrap();
    assert_eq!(scoped.lines().count(), 1, "{scoped}");
    assert_eq!(
        csv("auditor", "application/json").await.status(),
        StatusCode::NOT_ACCEPTABLE
    );
}

/// The exceptions list filters on the exception's status, a state: `open` and `resolved` are
/// the only values, and another is a problem naming `status` (after the role is checked).
#[sqlx::test(migrations = "../migrations")]
async fn exceptions_filter_by_status(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320001101").await;
    let attempt = app.sandbox_attempt(intent["id"].as_str().unwrap()).await;
    let reference = attempt["provider_reference"].as_str().unwrap();
    // Short by 100,000 riel: the money goes to suspense as an exception.
    app.callback(&callback_body("sbx_x1", reference, "500000"), SECRET)
        .await;
    let auditor = Some(app.key("auditor"));
    let open = app
        .get("/v1/reconciliation/exceptions?status=open", auditor)
        .await;
    assert_eq!(open.status, StatusCode::OK, "{}", open.body);
    assert_eq!(open.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(open.body["data"][0]["status"], "open");
    let resolved = app
        .get("/v1/reconciliation/exceptions?status=resolved", auditor)
        .await;
    assert_eq!(resolved.body, json!({"data": [], "next_cursor": null}));
    let bad = app
        .get("/v1/reconciliation/exceptions?status=closed", auditor)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(bad.body["parameter"], "status");
    let cashier = app
        .get(
            "/v1/reconciliation/exceptions?status=closed",
            Some(app.key("cashier_0320")),
        )
        .await;
    assert_eq!(cashier.status, StatusCode::FORBIDDEN);
}

/// `payments ledger catch-up` (what `make demo-data` runs after writing history outside the
/// service): the sealer's and the roll-up's rounds until idle, so that back-dated days are
/// sealed, rolled up and verify.
#[sqlx::test(migrations = "../migrations")]
async fn catch_up_seals_and_rolls_up_history_written_outside_the_service(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001101", "sbx_c1").await;
    paid(&app, "0320001102", "sbx_c2").await;
    // One entry three days old, written as the generator writes history: the owner's session
    // with the triggers off (they would stamp it with today's clock).
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    let entry: i64 = sqlx::query_scalar(
        "insert into ledger_entries (office_code, kind, description, metadata, created_at)
         values ('0320', 'payment_confirmed', 'case H1 paid by sandbox', '{}',
                 (date_trunc('day', now() at time zone 'UTC') - interval '3 days' + interval '9 hours')
                     at time zone 'UTC')
         returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor, created_at)
         select e.id, a.id, a.currency, a.office_code,
                case when a.code like '%:clearing:%' then 600000 else -600000 end, e.created_at
         from ledger_entries e
         join ledger_accounts a on a.code in ('0320:clearing:sandbox:KHR', '0320:revenue:labour:KHR')
         where e.id = $1
         order by a.code",
    )
    .bind(entry)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_payments"))
        .args(["ledger", "catch-up"])
        .env("DATABASE_URL", database_url(&app.pool))
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counts: serde_json::Value =
        serde_json::from_str(String::from_utf8(output.stdout).unwrap().trim()).unwrap();
    assert_eq!(counts["sealed"], 3, "{counts}");
    // The three days before today: the history's day and the two after it (today is not over).
    assert_eq!(counts["days_rolled_up"], 3, "{counts}");
    // The reports' Cambodian days (UTC+7): the history's day (09:00 UTC is 16:00 there) up to
    // yesterday in Cambodia, which is one more once it is past 17:00 UTC.
    let cambodia_today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    let history_day = chrono::Utc::now().date_naive() - chrono::Duration::days(3);
    assert_eq!(
        counts["report_days_rolled_up"],
        (cambodia_today - history_day).num_days(),
        "{counts}"
    );
    assert_eq!(app.scalar_i64("select count(*) from ledger_seals").await, 3);
    assert_eq!(
        app.scalar_i64(
            "select count(*) from ledger_daily_balances
             where day = (now() at time zone 'UTC')::date - 3"
        )
        .await,
        2
    );
    let (code, report) = cli_verify(&app.pool);
    assert_eq!((code, &report["ok"]), (0, &json!(true)), "{report}");
    assert_eq!(report["rollup_rows_checked"], 2, "{report}");
}
