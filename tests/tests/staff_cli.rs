//! `payments users ...`: people's accounts from the operator's shell (issue 14).

use serde_json::Value;

use crate::support::{run_to_completion, TestDb};

#[tokio::test]
async fn users_are_created_with_a_one_time_password_listed_without_hashes_disabled_and_reset() {
    let db = TestDb::create().await;
    let env = [("DATABASE_URL", db.url.as_str())];
    let (code, _, stderr) = run_to_completion("payments", &["migrate"], &env).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run_to_completion("payments", &["seed", "--demo"], &env).await;
    assert_eq!(code, 0, "{stderr}");
    let pool = db.pool().await;

    let (code, out, stderr) = run_to_completion(
        "payments",
        &[
            "users",
            "create",
            "--role",
            "cashier",
            "--office",
            "0320",
            "--office",
            "1201",
            "--name",
            "Sok Dara",
            "--username",
            "sok.dara",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(created["username"], "sok.dara");
    assert_eq!(created["role"], "cashier");
    assert_eq!(created["office_codes"], serde_json::json!(["0320", "1201"]));
    let password = created["one_time_password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 16);
    let (hash, must_change): (String, bool) = sqlx::query_as(
        "select password_hash, must_change_password from staff_users where username = 'sok.dara'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(&password));
    assert!(
        must_change,
        "a one-time password must be changed at first login"
    );

    // Usage errors exit 2; refused values exit 1 with nothing on stdout.
    let (code, _, _) = run_to_completion(
        "payments",
        &[
            "users",
            "create",
            "--role",
            "workflow",
            "--name",
            "x",
            "--username",
            "xyz",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 2, "the workflow system is never a person");
    let (code, _, _) =
        run_to_completion("payments", &["users", "create", "--role", "cashier"], &env).await;
    assert_eq!(code, 2, "missing --name and --username");
    let (code, out, stderr) = run_to_completion(
        "payments",
        &[
            "users",
            "create",
            "--role",
            "cashier",
            "--office",
            "0320",
            "--name",
            "Again",
            "--username",
            "sok.dara",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 1, "{stderr}");
    assert!(out.trim().is_empty());
    assert!(stderr.contains("username_taken"), "{stderr}");

    let (code, out, _) = run_to_completion("payments", &["users", "list"], &env).await;
    assert_eq!(code, 0);
    assert!(!out.contains("argon2"), "list never prints a hash: {out}");
    let listed: Vec<Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let sok = listed
        .iter()
        .find(|user| user["username"] == "sok.dara")
        .unwrap();
    assert_eq!(sok["must_change_password"], true);
    assert!(sok.get("password_hash").is_none());
    assert!(
        listed.iter().any(|user| user["username"] == "cashier.0320"),
        "the demo people"
    );

    // A session to end: disable ends it, and the person cannot log in.
    let user_id: uuid::Uuid =
        sqlx::query_scalar("select id from staff_users where username = 'sok.dara'")
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query(
        "insert into staff_sessions (id, token_hash, user_id, csrf_token, expires_at)
         values (gen_random_uuid(), sha256('t'::bytea), $1, 'c', now() + interval '1 hour')",
    )
    .bind(user_id)
    .execute(&pool)
    .await
    .unwrap();
    let (code, out, stderr) =
        run_to_completion("payments", &["users", "disable", "sok.dara"], &env).await;
    assert_eq!(code, 0, "{stderr}");
    let disabled: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(disabled["sessions_ended"], 1);
    let open: i64 = sqlx::query_scalar(
        "select count(*) from staff_sessions where user_id = $1 and ended_at is null",
    )
    .bind(user_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(open, 0);
    let (code, _, _) =
        run_to_completion("payments", &["users", "disable", "nobody.here"], &env).await;
    assert_eq!(code, 1);

    // Reset: a new one-time password, unlocked, must change again.
    sqlx::query("update staff_users set failed_logins = 5, locked_until = now() + interval '1 hour', must_change_password = false where id = $1")
        .bind(user_id)
        .execute(&pool)
        .await
        .unwrap();
    let (code, out, stderr) =
        run_to_completion("payments", &["users", "reset-password", "sok.dara"], &env).await;
    assert_eq!(code, 0, "{stderr}");
    let reset: Value = serde_json::from_str(out.trim()).unwrap();
    let new_password = reset["one_time_password"].as_str().unwrap();
    assert_ne!(new_password, password);
    let (failed, locked, must_change): (i32, Option<chrono::DateTime<chrono::Utc>>, bool) = sqlx::query_as(
        "select failed_logins, locked_until, must_change_password from staff_users where id = $1",
    )
    .bind(user_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((failed, locked, must_change), (0, None, true));
    let actions: Vec<String> =
        sqlx::query_scalar("select action from staff_actions where user_id = $1 order by id")
            .bind(user_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(actions, ["user_disabled", "password_reset"]);
}
