//! Issue 16, the audit trail: `GET /v1/audit` lists catalog changes, staff actions, key and
//! user management (the CLI's too, as `cli`), period closes, resolutions and verification
//! runs, newest first, with filters, a cursor and office scope.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::ledger_audit::paid;
use crate::support::TestApp;

fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").unwrap();
    let database = pool.connect_options().get_database().unwrap().to_owned();
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{database}")
}

fn cli(pool: &PgPool, args: &[&str]) -> Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_payments"))
        .args(args)
        .env("DATABASE_URL", database_url(pool))
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn trail(app: &TestApp, key: &str, query: &str) -> (StatusCode, Value) {
    let reply = app
        .get(&format!("/v1/audit?{query}"), Some(app.key(key)))
        .await;
    (reply.status, reply.body)
}

fn rows(body: &Value) -> &Vec<Value> {
    body["data"].as_array().unwrap()
}

/// Records one row of every kind but catalog (the seed's catalog import has those).
async fn activity(app: &TestApp) -> (String, String) {
    paid(app, "0320016201", "sbx_a1").await;
    let drawer = app
        .post(
            "/v1/cashier/sessions",
            Some(app.key("cashier_0320")),
            None,
            &json!({"office_code": "0320", "opening_float": []}),
        )
        .await;
    assert_eq!(drawer.status, StatusCode::CREATED, "{}", drawer.body);
    let closed = app
        .post(
            "/v1/ledger/periods/close",
            Some(app.key("admin")),
            None,
            &json!({"office_code": "0320", "month": "2026-01"}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::CREATED, "{}", closed.body);
    // Office 1201 has no ledger accounts in the test database: its close is made as the DB
    // owner, as `payments ledger close-period` would record it.
    sqlx::query(
        "insert into ledger_closed_periods (office_code, month, closed_by) values ('1201', '2026-02-01', 'cli')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let run = app
        .post(
            "/v1/ledger/verifications",
            Some(app.key("auditor")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(run.status, StatusCode::ACCEPTED, "{}", run.body);
    // Let the background run finish inside the test.
    for _ in 0..200 {
        let now = app
            .get(
                &format!(
                    "/v1/ledger/verifications/{}",
                    run.body["id"].as_str().unwrap()
                ),
                Some(app.key("auditor")),
            )
            .await;
        if now.body["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let key = cli(
        &app.pool,
        &[
            "keys",
            "create",
            "--role",
            "auditor",
            "--name",
            "Outside auditor 16",
        ],
    );
    let key_id = key["id"].as_str().unwrap().to_owned();
    cli(&app.pool, &["keys", "revoke", &key_id]);
    cli(
        &app.pool,
        &[
            "users",
            "create",
            "--role",
            "auditor",
            "--name",
            "Chan Sopheap",
            "--username",
            "sopheap16",
        ],
    );
    cli(&app.pool, &["users", "disable", "sopheap16"]);
    (key_id, run.body["id"].as_str().unwrap().to_owned())
}

#[sqlx::test(migrations = "../migrations")]
async fn the_trail_lists_every_kind_with_its_actor_newest_first(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (key_id, run_id) = activity(&app).await;

    let (status, all) = trail(&app, "auditor", "limit=200").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let kinds: HashSet<&str> = rows(&all)
        .iter()
        .map(|row| row["kind"].as_str().unwrap())
        .collect();
    for kind in ["catalog", "staff", "access", "period_close", "verification"] {
        assert!(kinds.contains(kind), "{kind} missing: {kinds:?}");
    }
    let times: Vec<&str> = rows(&all)
        .iter()
        .map(|row| row["at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    // Key and user management from the CLI, with the actor cli and never a secret.
    let (_, access) = trail(&app, "admin", "kind=access").await;
    let actions: Vec<(&str, &str)> = rows(&access)
        .iter()
        .map(|row| {
            (
                row["action"].as_str().unwrap(),
                row["actor"].as_str().unwrap(),
            )
        })
        .collect();
    for action in [
        "key_created",
        "key_revoked",
        "user_created",
        "user_disabled",
    ] {
        assert!(actions.contains(&(action, "cli")), "{action}: {actions:?}");
    }
    assert!(rows(&access)
        .iter()
        .any(|row| row["subject"] == key_id.as_str()));
    assert!(
        !access.to_string().contains("opk_"),
        "a key's secret in the trail: {access}"
    );
    assert!(!access.to_string().contains("one_time_password"));

    let (_, closes) = trail(&app, "auditor", "kind=period_close&office_code=0320").await;
    assert_eq!(rows(&closes).len(), 1, "{closes}");
    assert_eq!(rows(&closes)[0]["subject"], "2026-01");
    assert!(
        rows(&closes)[0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("key:"),
        "{closes}"
    );
    let (_, runs) = trail(&app, "auditor", "kind=verification").await;
    assert_eq!(rows(&runs)[0]["id"], run_id.as_str());

    // Filters: office, actor, dates.
    let (_, office) = trail(&app, "auditor", "office_code=0320&limit=200").await;
    assert!(!rows(&office).is_empty());
    assert!(
        rows(&office).iter().all(|row| row["office_code"] == "0320"),
        "{office}"
    );
    assert!(
        rows(&office)
            .iter()
            .any(|row| row["action"] == "drawer_open"),
        "{office}"
    );
    let (_, by_cli) = trail(&app, "auditor", "actor=CL&limit=200").await;
    assert!(!rows(&by_cli).is_empty());
    assert!(
        rows(&by_cli).iter().all(|row| row["actor"] == "cli"),
        "{by_cli}"
    );
    let (_, literal) = trail(&app, "auditor", "actor=%25").await;
    assert!(
        rows(&literal).is_empty(),
        "% is matched literally: {literal}"
    );
    let (_, future) = trail(&app, "auditor", "from=2999-01-01").await;
    assert!(rows(&future).is_empty());
    let (_, past) = trail(&app, "auditor", "to=2000-01-01").await;
    assert!(rows(&past).is_empty());
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    let (_, today_only) = trail(
        &app,
        "auditor",
        &format!("from={today}&to={today}&kind=access"),
    )
    .await;
    assert_eq!(rows(&today_only).len(), rows(&access).len());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_cursor_walks_every_row_once(pool: PgPool) {
    let app = TestApp::start(pool).await;
    activity(&app).await;
    let (_, all) = trail(&app, "auditor", "limit=200").await;
    let expected: Vec<String> = rows(&all)
        .iter()
        .map(|row| format!("{}|{}", row["kind"], row["id"]))
        .collect();
    assert!(expected.len() > 3);
    let mut walked = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let (status, page) = trail(&app, "auditor", &query).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        walked.extend(
            rows(&page)
                .iter()
                .map(|row| format!("{}|{}", row["kind"], row["id"])),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(walked, expected);
    let (status, bad) = trail(&app, "auditor", "cursor=garbage").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    // An empty cursor is refused as on every other list, not read as the first page.
    let (status, bad) = trail(&app, "auditor", "cursor=").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["parameter"], "cursor", "{bad}");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_office_auditor_sees_their_offices_and_the_catalog_only(pool: PgPool) {
    let app = TestApp::start(pool).await;
    activity(&app).await;
    let (status, scoped) = trail(&app, "auditor_1201", "limit=200").await;
    assert_eq!(status, StatusCode::OK, "{scoped}");
    assert!(!rows(&scoped).is_empty());
    for row in rows(&scoped) {
        assert!(
            row["office_code"] == "1201" || row["kind"] == "catalog",
            "an office auditor sees {row}"
        );
    }
    assert!(rows(&scoped)
        .iter()
        .any(|row| row["kind"] == "period_close"));
    let (status, _) = trail(&app, "auditor_1201", "office_code=0320").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for key in ["cashier_0320", "supervisor_0320", "workflow"] {
        let (status, _) = trail(&app, key, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{key}");
    }
    for bad in [
        "kind=everything",
        "from=2026-02-01&to=2026-01-01",
        "limit=0",
        "from=yesterday",
    ] {
        let (status, body) = trail(&app, "auditor", bad).await;
        assert!(status.is_client_error(), "{bad}: {status} {body}");
    }
}
