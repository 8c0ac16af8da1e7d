//! The production profile through the real binary: `payments serve` refuses each development
//! setting with one line naming it, development starts and says so, `seed --demo` refuses in
//! production; and the key tools (`payments keys list|revoke`) across instances.

use base64::Engine as _;
use serde_json::Value;
use std::time::Duration;

use crate::support::{free_port, run_to_completion, start_stack, Proc, SpawnError, TestDb};

/// A production-grade SECRETS_KEY (random bytes would do as well; fixed keeps logs readable).
fn secrets_key() -> String {
    base64::engine::general_purpose::STANDARD.encode([5u8; 32])
}

/// The environment of a production `payments serve` that would start, with `overrides`
/// (an empty value unsets a variable).
fn production_env(db: &TestDb, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("OWSO_ENV".into(), "production".into()),
        ("DATABASE_URL".into(), db.url.clone()),
        ("LISTEN_ADDR".into(), format!("127.0.0.1:{}", free_port())),
        ("SECRETS_KEY".into(), secrets_key()),
        ("DB_MAX_CONNECTIONS".into(), "2".into()),
    ];
    for (name, value) in overrides {
        env.retain(|(existing, _)| existing != name);
        env.push(((*name).to_owned(), (*value).to_owned()));
    }
    env
}

fn as_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Starts `payments serve` and expects it to exit non-zero with one error line naming
/// `variable`; returns that line.
async fn refused(db: &TestDb, overrides: &[(&str, &str)], variable: &str) -> String {
    let env = production_env(db, overrides);
    // A refusal is immediate; a service that starts instead would run until killed (the child
    // is killed when the timed-out future is dropped).
    let envs = as_refs(&env);
    let run = run_to_completion("payments", &["serve"], &envs);
    let Ok((code, stdout, stderr)) = tokio::time::timeout(Duration::from_secs(30), run).await
    else {
        panic!("payments serve did not refuse to start in production with {overrides:?}");
    };
    assert_ne!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stdout.contains("listening on"), "{stdout}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("error"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected: {stderr}");
    let line = errors[0];
    assert!(line.starts_with("error: refusing to start"), "{line}");
    assert!(
        line.contains(variable),
        "the line does not name {variable}: {line}"
    );
    line.to_owned()
}

#[tokio::test]
async fn production_refuses_the_sandbox() {
    let db = TestDb::create().await;
    refused(&db, &[("SANDBOX_ENABLED", "true")], "SANDBOX_ENABLED").await;
}

#[tokio::test]
async fn production_refuses_the_development_sandbox_secret() {
    let db = TestDb::create().await;
    refused(
        &db,
        &[("SANDBOX_CALLBACK_SECRET", "sandbox-dev-secret-change-me")],
        "SANDBOX_CALLBACK_SECRET",
    )
    .await;
}

#[tokio::test]
async fn production_refuses_bank_sims_bakong_token() {
    let db = TestDb::create().await;
    refused(
        &db,
        &[
            ("BAKONG_API_URL", "https://api-bakong.nbc.gov.kh"),
            ("BAKONG_API_TOKEN", "bakong-sim-token"),
        ],
        "BAKONG_API_TOKEN",
    )
    .await;
}

#[tokio::test]
async fn production_refuses_a_bakong_url_that_is_bank_sim() {
    let db = TestDb::create().await;
    // bank-sim's default address, and one named by BANK_SIM_URL.
    refused(
        &db,
        &[
            ("BAKONG_API_URL", "http://127.0.0.1:8081"),
            ("BAKONG_API_TOKEN", "a-real-token"),
        ],
        "BAKONG_API_URL",
    )
    .await;
    refused(
        &db,
        &[
            ("BANK_SIM_URL", "http://localhost:18081"),
            ("BAKONG_API_URL", "http://LOCALHOST:18081/v1/"),
            ("BAKONG_API_TOKEN", "a-real-token"),
        ],
        "BAKONG_API_URL",
    )
    .await;
}

#[tokio::test]
async fn production_refuses_the_public_development_signing_key() {
    let db = TestDb::create().await;
    refused(
        &db,
        &[(
            "LEDGER_SIGNING_KEY",
            "Iu9UkVcp3ciX8HuHIhq0WE9emioWQJw6RDoGz4nUoTo=",
        )],
        "LEDGER_SIGNING_KEY",
    )
    .await;
}

#[tokio::test]
async fn production_requires_a_secrets_key() {
    let db = TestDb::create().await;
    refused(&db, &[("SECRETS_KEY", "")], "SECRETS_KEY").await;
}

#[tokio::test]
async fn production_refuses_the_public_development_secrets_key() {
    let db = TestDb::create().await;
    refused(
        &db,
        &[(
            "SECRETS_KEY",
            "nf4AsWR80lQIix7d5BTngeVt/S04W7HQVZkKqynu7Ms=",
        )],
        "SECRETS_KEY",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_profile_is_a_start_up_error() {
    let db = TestDb::create().await;
    let env = production_env(&db, &[("OWSO_ENV", "staging")]);
    match Proc::try_spawn("payments", &["serve"], &as_refs(&env)).await {
        Ok(_) => panic!("payments serve started with OWSO_ENV=staging"),
        Err(SpawnError::Exited(message)) => {
            assert!(
                message.contains("OWSO_ENV must be production or development"),
                "{message}"
            );
        }
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn production_refuses_active_demo_keys_and_people_until_they_are_revoked_and_disabled() {
    let db = TestDb::create().await;
    let dev = [("DATABASE_URL", db.url.as_str())];
    let (code, _, stderr) = run_to_completion("payments", &["seed", "--demo"], &dev).await;
    assert_eq!(code, 0, "{stderr}");
    let line = refused(&db, &[], "opk_demo").await;
    assert!(line.contains("payments keys revoke"), "{line}");

    // The operator's way out: list the keys, revoke the demo ones.
    let env = production_env(&db, &[]);
    let (code, stdout, stderr) =
        run_to_completion("payments", &["keys", "list"], &as_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let keys: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(keys.len(), 7, "{stdout}");
    for key in &keys {
        let id = key["id"].as_str().unwrap();
        let (code, _, stderr) =
            run_to_completion("payments", &["keys", "revoke", id], &as_refs(&env)).await;
        assert_eq!(code, 0, "{stderr}");
    }
    // The demo people's password is public too: refused until they are disabled.
    let line = refused(&db, &[], "payments users disable").await;
    assert!(line.contains("demo person"), "{line}");
    let (code, stdout, stderr) =
        run_to_completion("payments", &["users", "list"], &as_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    for line in stdout.lines() {
        let person: Value = serde_json::from_str(line).unwrap();
        let username = person["username"].as_str().unwrap();
        let (code, _, stderr) =
            run_to_completion("payments", &["users", "disable", username], &as_refs(&env)).await;
        assert_eq!(code, 0, "{stderr}");
    }
    let mut serving = Proc::spawn("payments", &["serve"], &as_refs(&env)).await;
    let log = serving.log_text();
    assert!(!log.contains("DEVELOPMENT PROFILE"), "{log}");
    serving.kill9().await;
}

#[tokio::test]
async fn development_starts_and_warns_once() {
    let db = TestDb::create().await;
    let env = production_env(
        &db,
        &[
            ("OWSO_ENV", "development"),
            ("SANDBOX_ENABLED", "true"),
            ("SECRETS_KEY", ""),
        ],
    );
    let mut serving = Proc::spawn("payments", &["serve"], &as_refs(&env)).await;
    let log = serving.log_text();
    let warnings = log
        .lines()
        .filter(|line| {
            line.contains("OWSO_ENV=development") && line.contains("DEVELOPMENT PROFILE")
        })
        .count();
    assert_eq!(warnings, 1, "{log}");
    assert!(log.contains("WARN"), "the line is a warning: {log}");
    serving.kill9().await;
}

#[tokio::test]
async fn seed_demo_refuses_in_production() {
    let db = TestDb::create().await;
    let env = production_env(&db, &[]);
    let (code, _, stderr) = run_to_completion("payments", &["migrate"], &as_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) =
        run_to_completion("payments", &["seed", "--demo"], &as_refs(&env)).await;
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("OWSO_ENV=production"), "{stderr}");
    assert!(!stdout.contains("opk_demo"), "{stdout}");
    let (code, stdout, stderr) =
        run_to_completion("payments", &["keys", "list"], &as_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "", "no key was made");
    // The catalog alone is fine in production.
    let (code, _, stderr) = run_to_completion("payments", &["seed"], &as_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
}

#[tokio::test]
async fn keys_are_listed_without_secrets_and_a_revoked_key_is_refused_on_every_instance() {
    let db = TestDb::create().await;
    let mut stack = start_stack(&db).await;
    let second = stack.add_payments_instance().await;
    let first = stack.payments_url.clone();
    let env = [("DATABASE_URL", db.url.as_str())];

    let (code, stdout, stderr) = run_to_completion("payments", &["keys", "list"], &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout.contains("opk_"),
        "a secret in the listing: {stdout}"
    );
    let keys: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(keys.len(), 7);
    for key in &keys {
        let mut fields: Vec<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["created", "id", "name", "offices", "revoked", "role"],
            "{key}"
        );
        assert!(key["revoked"].is_null());
    }
    let workflow = keys.iter().find(|key| key["role"] == "workflow").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let status = |base: String| {
        let http = stack.http.clone();
        let key = stack.key("workflow").to_owned();
        async move {
            http.get(format!("{base}/v1/payment-intents"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(first.clone()).await, 200);
    assert_eq!(status(second.clone()).await, 200);

    let (code, stdout, stderr) =
        run_to_completion("payments", &["keys", "revoke", &workflow], &env).await;
    assert_eq!(code, 0, "{stderr}");
    let revoked: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(revoked["revoked"].is_string(), "{revoked}");
    // At once, on both instances: no waiting.
    assert_eq!(status(first).await, 401);
    assert_eq!(status(second).await, 401);

    let (_, stdout, _) = run_to_completion("payments", &["keys", "list"], &env).await;
    let listed: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        listed
            .iter()
            .filter(|key| key["revoked"].is_string())
            .count(),
        1
    );
    let (code, _, stderr) = run_to_completion(
        "payments",
        &["keys", "revoke", "00000000-0000-0000-0000-000000000000"],
        &env,
    )
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("no API key"), "{stderr}");
}

/// `url` with its user and password replaced.
fn as_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
    format!("{scheme}://{user}:{password}@{host_and_path}")
}

#[tokio::test]
async fn migrations_run_as_the_owner_and_the_service_as_a_role_that_owns_nothing() {
    let db = TestDb::create().await;
    let role = format!("owso_e2e_svc_{}", uuid::Uuid::new_v4().simple());
    let admin = db.pool().await;
    sqlx::raw_sql(&format!("create role {role} login password 'svc'"))
        .execute(&admin)
        .await
        .unwrap();
    let service_url = as_user(&db.url, &role, "svc");
    let _drop_role = DropRole {
        url: db.url.clone(),
        role: role.clone(),
    };
    let owner = [
        ("OWSO_ENV", "production"),
        (
            "SECRETS_KEY",
            "BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=",
        ),
        // A role that does not exist yet may not migrate: MIGRATION_DATABASE_URL does.
        ("DATABASE_URL", service_url.as_str()),
        ("MIGRATION_DATABASE_URL", db.url.as_str()),
    ];
    {
        let (code, _, stderr) = run_to_completion("payments", &["migrate"], &owner).await;
        assert_eq!(code, 0, "{stderr}");
        let (code, _, stderr) =
            run_to_completion("payments", &["db", "grant-service-role", &role], &owner).await;
        assert_eq!(code, 0, "{stderr}");
        let (code, stdout, stderr) = run_to_completion(
            "payments",
            &["keys", "create", "--role", "auditor"],
            &[("DATABASE_URL", db.url.as_str())],
        )
        .await;
        assert_eq!(code, 0, "{stderr}");
        let key: Value = serde_json::from_str(stdout.trim()).unwrap();

        let env = production_env(&db, &[("DATABASE_URL", service_url.as_str())]);
        let mut serving = Proc::spawn("payments", &["serve"], &as_refs(&env)).await;
        let reply = reqwest::Client::new()
            .get(format!("{}/v1/payment-intents", serving.url))
            .bearer_auth(key["key"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 200);
        let users: Vec<String> = sqlx::query_scalar(
            "select distinct usename::text from pg_stat_activity where application_name = 'owso-pay' and datname = current_database()",
        )
        .fetch_all(&admin)
        .await
        .unwrap();
        assert_eq!(
            users,
            [role.as_str()],
            "the service connects as its own role"
        );
        serving.kill9().await;
    }
    admin.close().await;
}

/// Roles are cluster-wide: drops the test's role when the test ends, also when it panics
/// (before its database goes, where its grants live).
struct DropRole {
    url: String,
    role: String,
}

impl Drop for DropRole {
    fn drop(&mut self) {
        let (url, role) = (self.url.clone(), self.role.clone());
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(&format!(
                    "select pg_terminate_backend(pid) from pg_stat_activity where usename = '{role}';
                     drop owned by {role}; drop role {role}"
                ))
                .execute(&mut conn)
                .await
                .unwrap();
            });
        });
        if cleanup.join().is_err() {
            eprintln!("warning: could not drop role {}", self.role);
        }
    }
}
