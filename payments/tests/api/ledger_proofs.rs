//! Issue 16, the proofs over HTTP: verification runs (started, one at a time, progress, result,
//! a lapsed lease failed by the reader) and the digest bundle an outside auditor checks with
//! its own script, without the service.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::ledger_audit::{paid, seal};
use crate::support::TestApp;

/// Polls a run until it is no longer running.
async fn finished(app: &TestApp, id: &str) -> Value {
    for _ in 0..200 {
        let reply = app
            .get(
                &format!("/v1/ledger/verifications/{id}"),
                Some(app.key("auditor")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if reply.body["status"] != "running" {
            return reply.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the verification did not finish");
}

async fn start(app: &TestApp, key: &str) -> Value {
    let reply = app
        .post(
            "/v1/ledger/verifications",
            Some(app.key(key)),
            None,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap();
    assert_eq!(
        reply.headers["location"].to_str().unwrap(),
        format!("/v1/ledger/verifications/{id}")
    );
    reply.body
}

#[sqlx::test(migrations = "../migrations")]
async fn a_verification_run_finishes_ok_then_names_a_tampered_entry(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320016001", "sbx_p1").await;
    paid(&app, "0320016002", "sbx_p2").await;
    seal(&app, None).await;

    let run = start(&app, "auditor").await;
    assert_eq!(run["entries_total"], 2, "{run}");
    assert!(run["started_by"].as_str().unwrap().starts_with("key:"));
    let done = finished(&app, run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(done["entries_checked"], 2, "{done}");
    assert_eq!(done["result"]["ok"], true, "{done}");
    assert!(done["finished_at"].is_string());

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
    drop(conn);
    let run = start(&app, "admin").await;
    let done = finished(&app, run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(done["ok"], false, "{done}");
    assert_eq!(done["result"]["first_bad_entry"], last, "{done}");
    assert!(done["result"]["reason"].is_string(), "{done}");
    // The dashboard's reader sees the latest finished run.
    let mut conn = app.pool.acquire().await.unwrap();
    let latest = payments::db::verifications::latest_finished(&mut conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.id.to_string(), done["id"].as_str().unwrap());
    assert_eq!(latest.ok, Some(false));
}

#[sqlx::test(migrations = "../migrations")]
async fn one_run_at_a_time_and_a_lapsed_lease_is_failed_by_the_reader(pool: PgPool) {
    let app = TestApp::start(pool).await;
    // A run of another instance, still holding its lease.
    let other = uuid::Uuid::new_v4();
    sqlx::query(
        "insert into ledger_verifications (id, started_by, status, entries_total, lease_until)
         values ($1, 'elsewhere', 'running', 10, now() + interval '1 minute')",
    )
    .bind(other)
    .execute(&app.pool)
    .await
    .unwrap();
    let reply = start(&app, "auditor").await;
    assert_eq!(
        reply["id"],
        other.to_string(),
        "a second start shows the running run"
    );
    assert_eq!(reply["status"], "running");
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_verifications")
            .await,
        1
    );
    // Its instance died: the lease lapses, and whoever reads the run marks it failed.
    sqlx::query("update ledger_verifications set lease_until = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let reply = app
        .get(
            &format!("/v1/ledger/verifications/{other}"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(reply.body["status"], "failed", "{}", reply.body);
    assert!(reply.body["error"].as_str().unwrap().contains("stopped"));
    assert!(reply.body.get("ok").is_none());
    // And a new run can start.
    let run = start(&app, "auditor").await;
    assert_ne!(run["id"], other.to_string());
    let done = finished(&app, run["id"].as_str().unwrap()).await;
    assert_eq!(done["ok"], true, "{done}");
}

#[sqlx::test(migrations = "../migrations")]
async fn verification_runs_are_for_auditors_and_admins(pool: PgPool) {
    let app = TestApp::start(pool).await;
    for key in ["cashier_0320", "supervisor_0320", "workflow"] {
        let reply = app
            .post(
                "/v1/ledger/verifications",
                Some(app.key(key)),
                None,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{key}: {}", reply.body);
    }
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_verifications")
            .await,
        0
    );
    let missing = app
        .get(
            &format!("/v1/ledger/verifications/{}", uuid::Uuid::new_v4()),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = app
        .get(
            "/v1/ledger/verifications/not-a-uuid",
            Some(app.key("auditor")),
        )
        .await;
    assert!(bad.status.is_client_error(), "{}", bad.status);
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("owso-bundle-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Unpacks a .tar.gz into `dir` and returns the bundle's folder.
fn unpack(bytes: &[u8], dir: &Path) -> PathBuf {
    let gzip = flate2::read::GzDecoder::new(bytes);
    tar::Archive::new(gzip).unpack(dir).unwrap();
    let mut entries = std::fs::read_dir(dir).unwrap();
    let folder = entries.next().unwrap().unwrap().path();
    assert!(entries.next().is_none());
    folder
}

fn run_script(folder: &Path) -> (i32, String) {
    let output = std::process::Command::new("python3")
        .arg(folder.join("verify.py"))
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn the_digest_bundle_verifies_outside_the_service_and_catches_one_changed_byte(pool: PgPool) {
    let key = SigningKey::from_bytes(&[16; 32]);
    let app = TestApp::start_with(pool, |config| {
        config.ledger_public_keys = vec![key.verifying_key().to_bytes()];
    })
    .await;
    paid(&app, "0320016003", "sbx_b1").await;
    seal(&app, Some(&key)).await;
    // Today and tomorrow (Cambodian): after the day the sealer signed (yesterday, before the
    // payment's entry), so the chain only grows from digest to digest.
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    let tomorrow = today.succ_opt().unwrap();
    for day in [today, tomorrow] {
        assert!(
            payments::app::books::digests::make_digest(&app.pool, &key, day)
                .await
                .unwrap()
        );
    }
    let digests = app.scalar_i64("select count(*) from ledger_digests").await;
    assert!(digests >= 3);

    let scoped = app
        .get("/v1/ledger/digests/bundle", Some(app.key("auditor_1201")))
        .await;
    assert_eq!(scoped.status, StatusCode::FORBIDDEN);
    let response = app
        .http
        .get(format!("{}/v1/ledger/digests/bundle", app.base))
        .bearer_auth(app.key("auditor"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".tar.gz"));
    let bytes = response.bytes().await.unwrap();

    let dir = scratch();
    let folder = unpack(&bytes, &dir);
    let keys = std::fs::read_to_string(folder.join("keys.txt")).unwrap();
    use base64::Engine as _;
    assert!(keys.contains(
        &base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes())
    ));
    let (code, out) = run_script(&folder);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("OK   {today}")), "{out}");
    assert!(out.contains(&format!("OK   {tomorrow}")), "{out}");
    assert_eq!(
        out.lines().filter(|line| line.starts_with("OK")).count() as i64,
        digests
    );

    // One byte of one payload changed: the script fails naming that digest only.
    let payload = folder.join(format!("digests/{tomorrow}.payload"));
    let mut bytes = std::fs::read(&payload).unwrap();
    let position = bytes.len() - 3;
    bytes[position] ^= 1;
    std::fs::write(&payload, bytes).unwrap();
    let (code, out) = run_script(&folder);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("FAIL {tomorrow}")), "{out}");
    assert!(out.contains(&format!("OK   {today}")), "{out}");
    assert_eq!(
        out.lines().filter(|line| line.starts_with("FAIL ")).count(),
        1,
        "{out}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn the_bundle_script_refuses_history_that_goes_backwards(pool: PgPool) {
    let key = SigningKey::from_bytes(&[17; 32]);
    let app = TestApp::start_with(pool, |config| {
        config.ledger_public_keys = vec![key.verifying_key().to_bytes()];
    })
    .await;
    paid(&app, "0320016004", "sbx_b2").await;
    seal(&app, Some(&key)).await;
    // A properly signed digest of a later day that states a shorter chain than an earlier one.
    use ed25519_dalek::Signer as _;
    let mut conn = app.pool.acquire().await.unwrap();
    let mut early = ledger::store::digest_payload(&mut conn, "2026-01-01".parse().unwrap())
        .await
        .unwrap();
    assert!(early.head_seq >= 1);
    let sign =
        |payload: &ledger::store::DigestPayload| key.sign(payload.to_text().as_bytes()).to_bytes();
    ledger::store::insert_digest(
        &mut conn,
        &early,
        &sign(&early),
        &key.verifying_key().to_bytes(),
    )
    .await
    .unwrap();
    early.day = "2026-01-02".parse().unwrap();
    early.head_seq = 0;
    early.entry_count = 0;
    early.accounts.clear();
    ledger::store::insert_digest(
        &mut conn,
        &early,
        &sign(&early),
        &key.verifying_key().to_bytes(),
    )
    .await
    .unwrap();
    drop(conn);
    let bytes = app
        .http
        .get(format!("{}/v1/ledger/digests/bundle", app.base))
        .bearer_auth(app.key("admin"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let dir = scratch();
    let (code, out) = run_script(&unpack(&bytes, &dir));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL 2026-01-02: head_seq/entry_count go backwards"),
        "{out}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
