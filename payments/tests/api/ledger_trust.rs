//! The ledger verifies against keys it was told (LEDGER_PUBLIC_KEYS and the signing key), not
//! keys stored beside the digests, and compares every signed payload with the recomputed chain.
//! The service's database role cannot alter tables or disable their triggers.

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use ledger::store;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::ledger_audit::{paid, seal};
use crate::support::TestApp;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The signing key of these tests, and a retired one.
fn current_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}
fn retired_key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

/// An app that signs with [`current_key`] and trusts `listed` besides.
async fn app_trusting(pool: PgPool, listed: &[&SigningKey]) -> TestApp {
    let listed: Vec<[u8; 32]> = listed
        .iter()
        .map(|key| key.verifying_key().to_bytes())
        .collect();
    TestApp::start_with(pool, move |config| {
        config.ledger_signing_key = Some(SecretString::from(B64.encode([42u8; 32])));
        config.ledger_public_keys = listed;
    })
    .await
}

async fn verify(app: &TestApp) -> Value {
    let reply = app.get("/v1/ledger/verify", Some(app.key("auditor"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").unwrap();
    let database = pool.connect_options().get_database().unwrap().to_owned();
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{database}")
}

fn cli_verify(pool: &PgPool, envs: &[(&str, String)]) -> (i32, Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_payments"))
        .args(["ledger", "verify"])
        .env("DATABASE_URL", database_url(pool))
        .env("RUST_LOG", "error")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (
        output.status.code().unwrap(),
        serde_json::from_str(stdout.trim()).unwrap_or(json!(null)),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn a_digest_signed_by_an_untrusted_key_fails_and_a_listed_retired_key_passes(pool: PgPool) {
    let app = app_trusting(pool.clone(), &[]).await;
    paid(&app, "0320080001", "sbx_t1").await;
    seal(&app, Some(&current_key())).await;
    assert_eq!(verify(&app).await["ok"], true);

    // A digest (a true one, even) signed by a key nobody listed, stored with its own public
    // key beside it, as a forger would.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    assert!(
        payments::app::books::digests::make_digest(&app.pool, &retired_key(), day)
            .await
            .unwrap()
    );
    let report = verify(&app).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["bad_digest"], "2026-01-01", "{report}");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .contains("not signed by a trusted key"),
        "{report}"
    );

    // The same key listed as retired: verify passes, over HTTP and the CLI.
    let listed = app_trusting(pool.clone(), &[&retired_key()]).await;
    let report = verify(&listed).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["digests_checked"], 2, "{report}");
    let signing = ("LEDGER_SIGNING_KEY", B64.encode([42u8; 32]));
    let retired = (
        "LEDGER_PUBLIC_KEYS",
        B64.encode(retired_key().verifying_key().to_bytes()),
    );
    let (code, report) = cli_verify(&pool, &[signing.clone(), retired]);
    assert_eq!(code, 0, "{report}");
    let (code, report) = cli_verify(&pool, &[signing]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["bad_digest"], "2026-01-01", "{report}");
}

async fn insert_signed(app: &TestApp, payload: &store::DigestPayload) {
    let key = current_key();
    let signature = key.sign(payload.to_text().as_bytes()).to_bytes();
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(store::insert_digest(
        &mut conn,
        payload,
        &signature,
        &key.verifying_key().to_bytes()
    )
    .await
    .unwrap());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_signed_digest_that_disagrees_with_the_chain_fails_naming_it(pool: PgPool) {
    let app = app_trusting(pool, &[]).await;
    paid(&app, "0320080002", "sbx_t2").await;
    paid(&app, "0320080003", "sbx_t3").await;
    seal(&app, None).await;
    let mut conn = app.pool.acquire().await.unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
    let truth = store::digest_payload(&mut conn, day).await.unwrap();
    drop(conn);

    // A true digest signed by the trusted key verifies.
    insert_signed(&app, &truth).await;
    assert_eq!(verify(&app).await["ok"], true);

    // Signed by the trusted key, but stating other balances than the chain.
    let mut lying = truth.clone();
    lying.day = chrono::NaiveDate::from_ymd_opt(2026, 1, 3).unwrap();
    lying.accounts[0].1 += 100;
    insert_signed(&app, &lying).await;
    let report = verify(&app).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["bad_digest"], "2026-01-03", "{report}");
    assert!(
        report["reason"].as_str().unwrap().contains("balances"),
        "{report}"
    );

    // Remove it (as the table's owner may), then one stating another head hash.
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("delete from ledger_digests where day = '2026-01-03'")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let mut forked = truth.clone();
    forked.day = chrono::NaiveDate::from_ymd_opt(2026, 1, 4).unwrap();
    forked.head_hash = "ab".repeat(32);
    insert_signed(&app, &forked).await;
    let report = verify(&app).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["bad_digest"], "2026-01-04", "{report}");
    assert!(
        report["reason"].as_str().unwrap().contains("head hash"),
        "{report}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_altered_digest_payload_fails_naming_the_digest(pool: PgPool) {
    let app = app_trusting(pool, &[]).await;
    paid(&app, "0320080004", "sbx_t4").await;
    seal(&app, Some(&current_key())).await;
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    // Rewriting the signed text breaks its signature: named.
    sqlx::query(
        "update ledger_digests set payload = payload || E'account 0320:revenue:labour:KHR -1\\n'",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let report = verify(&app).await;
    assert_eq!(report["ok"], false, "{report}");
    assert!(report["bad_digest"].is_string(), "{report}");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{report}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_service_role_cannot_alter_tables_or_disable_triggers(pool: PgPool) {
    // Roles are cluster-wide: a name of this test's own, dropped at the end.
    let role = format!("owso_svc_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("create role {role} login"))
        .execute(&pool)
        .await
        .unwrap();
    payments::db::grant_service_role(&pool, &role)
        .await
        .unwrap();
    let options = pool.connect_options().as_ref().clone().username(&role);
    let service = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    let outcome = tokio::spawn({
        let service = service.clone();
        async move {
            let who: String = sqlx::query_scalar("select current_user::text")
                .fetch_one(&service)
                .await
                .unwrap();
            assert!(who.starts_with("owso_svc_"));
            // Normal service work: a payment settles, its ledger entry is written and sealed.
            let app = TestApp::start(service.clone()).await;
            paid(&app, "0320080005", "sbx_t5").await;
            let entries = app.scalar_i64("select count(*) from ledger_entries").await;
            assert_eq!(entries, 1);
            seal(&app, None).await;
            assert_eq!(verify(&app).await["ok"], true);

            for statement in [
                "alter table ledger_postings disable trigger all",
                "alter table ledger_entries disable trigger ledger_entries_append_only",
                "update ledger_postings set amount_minor = amount_minor",
                "delete from ledger_seals",
                // The roll-ups that the trial balance and the dashboard read instead of postings.
                "update ledger_monthly_balances set balance_minor = 0",
                "delete from report_daily_revenue",
                "truncate report_monthly_payments",
                "truncate ledger_entries cascade",
                "alter table payment_intents add column sneaky int",
                "set session_replication_role = replica",
                "drop table ledger_digests",
            ] {
                let refused = sqlx::raw_sql(statement).execute(&service).await;
                let error = refused.expect_err(statement).to_string();
                assert!(
                    error.contains("must be owner")
                        || error.contains("permission denied")
                        || error.contains("may not be changed"),
                    "{statement}: {error}"
                );
            }
        }
    })
    .await;
    service.close().await;
    sqlx::raw_sql(&format!("drop owned by {role}; drop role {role}"))
        .execute(&pool)
        .await
        .unwrap();
    outcome.unwrap();
}
