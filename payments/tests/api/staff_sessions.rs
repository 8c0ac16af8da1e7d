//! People's console sessions (issue 14): login with lockout, the session cookie on pages and
//! on the JSON routes (with CSRF on writes), timeouts, logout, the first-login password
//! change, the audit trail, and the office dashboard's scope.

use reqwest::header::{CACHE_CONTROL, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::pages::{browser, cookie_pair, form, read, Page};
use crate::support::{callback_body, TestApp, SECRET};

const DEMO_PASSWORD: &str = payments::app::seed::DEMO_PASSWORD;

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    pairs: &[(&str, &str)],
) -> Page {
    let mut request = browser()
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    read(request.send().await.unwrap()).await
}

async fn get_page(app: &TestApp, path: &str, cookie: Option<&str>) -> Page {
    let mut request = browser().get(format!("{}{path}", app.base));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    read(request.send().await.unwrap()).await
}

async fn login(app: &TestApp, username: &str, password: &str) -> Page {
    post_form(
        app,
        "/console/login",
        None,
        &[
            ("username", username),
            ("password", password),
            ("next", "/console"),
        ],
    )
    .await
}

/// Logs in and returns the `owso_session=...` pair to send back.
async fn session(app: &TestApp, username: &str, password: &str) -> String {
    let page = login(app, username, password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    cookie_pair(&page.headers)
}

fn token_of(cookie: &str) -> &str {
    cookie.strip_prefix("owso_session=").unwrap()
}

async fn session_row(pool: &PgPool, cookie: &str) -> (Uuid, String, Option<String>) {
    sqlx::query_as(
        "select id, csrf_token, ended_reason from staff_sessions where token_hash = sha256($1::bytea)",
    )
    .bind(token_of(cookie).as_bytes())
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn json_with_cookie(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = browser()
        .request(method, format!("{}{path}", app.base))
        .header("cookie", cookie);
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .header("idempotency-key", Uuid::now_v7().to_string())
            .body(serde_json::to_vec(body).unwrap());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn intent_at(app: &TestApp, office: &str, case_reference: &str) -> Value {
    let quote = app.quote(office, "labour.internal_regulations_8_100").await;
    let reply = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some(&format!("intent-{case_reference}")),
            &json!({"quote_id": quote["id"], "case_reference": case_reference, "payer": {"name": "Sok Dara"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

#[sqlx::test(migrations = "../migrations")]
async fn login_sets_a_strict_http_only_cookie_and_opens_the_dashboard(pool: PgPool) {
    let app = TestApp::start(pool.clone()).await;
    let page = login(&app, "cashier.0320", DEMO_PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), "/console");
    let set = page.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set.starts_with("owso_session="), "{set}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(
        !set.contains("Secure"),
        "development serves plain HTTP on localhost: {set}"
    );
    let cookie = cookie_pair(&page.headers);
    let token = token_of(&cookie);
    assert!(token.len() >= 43, "256 random bits");

    // Only the token's hash is stored, with the CSRF token and the login in the audit trail.
    let (session_id, csrf, ended) = session_row(&pool, &cookie).await;
    assert!(ended.is_none());
    let plain: i64 = sqlx::query_scalar(
        "select count(*) from staff_sessions where position($1::bytea in token_hash) > 0",
    )
    .bind(token.as_bytes())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(plain, 0);
    let logged: i64 = sqlx::query_scalar(
        "select count(*) from staff_actions where action = 'login' and session_id = $1",
    )
    .bind(session_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(logged, 1);

    let dashboard = get_page(&app, "/console", Some(&cookie)).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.html);
    assert_eq!(dashboard.headers[CACHE_CONTROL], "private, no-store");
    assert!(dashboard.headers.contains_key("content-security-policy"));
    assert!(
        dashboard.html.contains("Sok Dara"),
        "the person's name in the header"
    );
    assert!(
        dashboard.html.contains(&format!("value=\"{csrf}\"")),
        "the logout form carries the CSRF token"
    );
    assert!(
        !dashboard.html.contains("data-testid=\"my-drawer\""),
        "no drawer slot until the drawer step fills it"
    );

    // Without a session, a console page sends the person to log in and back.
    let anonymous = get_page(&app, "/console?office=0320", None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.location(),
        "/console/login?next=%2Fconsole%3Foffice%3D0320"
    );
    let forged = get_page(&app, "/console", Some("owso_session=not-a-session")).await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
    // The recorder is the process's, shared by every test: the series is there.
    assert!(app
        .metrics()
        .await
        .contains("owso_staff_logins_total{outcome=\"ok\"}"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_session_cookie_acts_on_json_routes_with_the_persons_scope_and_writes_need_csrf(
    pool: PgPool,
) {
    let app = TestApp::start(pool.clone()).await;
    let ours = intent_at(&app, "0320", "CASE-0320-1").await;
    let theirs = intent_at(&app, "1201", "CASE-1201-1").await;
    let cookie = session(&app, "cashier.0320", DEMO_PASSWORD).await;
    let (_, csrf, _) = session_row(&pool, &cookie).await;

    let (status, list) = json_with_cookie(
        &app,
        reqwest::Method::GET,
        "/v1/payment-intents",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|intent| intent["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [ours["id"].as_str().unwrap()],
        "only the person's office"
    );
    let (status, _) = json_with_cookie(
        &app,
        reqwest::Method::GET,
        &format!("/v1/payment-intents/{}", theirs["id"].as_str().unwrap()),
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A write through the cookie without the session's CSRF token changes nothing.
    let cancel = format!(
        "/v1/payment-intents/{}/cancel",
        ours["id"].as_str().unwrap()
    );
    for wrong in [None, Some("not-the-token")] {
        let (status, problem) =
            json_with_cookie(&app, reqwest::Method::POST, &cancel, &cookie, wrong, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        assert_eq!(problem["code"], "csrf_failed");
    }
    let state: String = sqlx::query_scalar("select status from payment_intents where id = $1")
        .bind(Uuid::parse_str(ours["id"].as_str().unwrap()).unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "awaiting_payment");
    let (status, cancelled) = json_with_cookie(
        &app,
        reqwest::Method::POST,
        &cancel,
        &cookie,
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");

    // Quotes and intents are the workflow system's (created_by is an API key): refused.
    let (status, problem) = json_with_cookie(
        &app,
        reqwest::Method::POST,
        "/v1/quotes",
        &cookie,
        Some(&csrf),
        Some(&json!({"office_code": "0320", "items": [{"service_code": "labour.internal_regulations_8_100", "quantity": 1}]})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["code"], "key_required");

    // A key still wins over a cookie: the Authorization header decides.
    let reply = browser()
        .get(format!("{}/v1/payment-intents", app.base))
        .header("cookie", &cookie)
        .bearer_auth(app.key("cashier_1201"))
        .send()
        .await
        .unwrap();
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["data"][0]["id"], theirs["id"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one_until_the_lock_ends(
    pool: PgPool,
) {
    let app = TestApp::start(pool.clone()).await;
    for attempt in 1..=4 {
        let page = login(&app, "cashier.0320", "wrong password").await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "attempt {attempt}");
        assert!(
            page.html.contains("data-testid=\"login-wrong\""),
            "{}",
            page.html
        );
        assert!(page.headers.get(SET_COOKIE).is_none());
    }
    let fifth = login(&app, "cashier.0320", "wrong password").await;
    assert!(
        fifth.html.contains("data-testid=\"login-locked\""),
        "the fifth failure locks: {}",
        fifth.html
    );
    let sixth = login(&app, "cashier.0320", DEMO_PASSWORD).await;
    assert_eq!(sixth.status, StatusCode::BAD_REQUEST);
    assert!(
        sixth.html.contains("data-testid=\"login-locked\""),
        "{}",
        sixth.html
    );
    assert!(sixth.html.contains("locked until") || sixth.html.contains("ចាក់សោ"));
    assert!(sixth.headers.get(SET_COOKIE).is_none());
    let sessions: i64 = app.scalar_i64("select count(*) from staff_sessions").await;
    assert_eq!(sessions, 0);

    // Unknown usernames get the same answer as wrong passwords.
    let unknown = login(&app, "nobody.here", "whatever").await;
    assert!(unknown.html.contains("data-testid=\"login-wrong\""));

    let actions: Vec<(String, Option<Uuid>)> =
        sqlx::query_as("select action, user_id from staff_actions order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let names: Vec<&str> = actions.iter().map(|(action, _)| action.as_str()).collect();
    assert_eq!(
        names,
        [
            "login_failed",
            "login_failed",
            "login_failed",
            "login_failed",
            "login_failed",
            "account_locked",
            "login_refused_locked",
            "login_failed"
        ]
    );
    assert!(
        actions.last().unwrap().1.is_none(),
        "an unknown username names no person"
    );
    // The recorder is the process's, shared by every test: each outcome's series is there.
    let metrics = app.metrics().await;
    for outcome in ["bad_password", "locked", "unknown_user"] {
        assert!(
            metrics.contains(&format!("owso_staff_logins_total{{outcome=\"{outcome}\"}}")),
            "{metrics}"
        );
    }

    // The lock runs out: the right password works and the count starts again.
    sqlx::query("update staff_users set locked_until = now() - interval '1 second' where username = 'cashier.0320'")
        .execute(&pool)
        .await
        .unwrap();
    let after = login(&app, "cashier.0320", DEMO_PASSWORD).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "{}", after.html);
    let (failed, locked): (i32, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
        "select failed_logins, locked_until from staff_users where username = 'cashier.0320'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((failed, locked), (0, None));
}

#[sqlx::test(migrations = "../migrations")]
async fn idle_and_absolute_timeouts_end_sessions(pool: PgPool) {
    let app = TestApp::start(pool.clone()).await;
    let idle = session(&app, "cashier.0320", DEMO_PASSWORD).await;
    let (idle_id, _, _) = session_row(&pool, &idle).await;
    // Used five minutes ago: still live, and the use is written.
    sqlx::query(
        "update staff_sessions set last_seen_at = now() - interval '5 minutes' where id = $1",
    )
    .bind(idle_id)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(
        get_page(&app, "/console", Some(&idle)).await.status,
        StatusCode::OK
    );
    let recent: bool = sqlx::query_scalar(
        "select last_seen_at > now() - interval '1 minute' from staff_sessions where id = $1",
    )
    .bind(idle_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(recent, "a use touches last_seen_at");
    sqlx::query(
        "update staff_sessions set last_seen_at = now() - interval '31 minutes' where id = $1",
    )
    .bind(idle_id)
    .execute(&pool)
    .await
    .unwrap();
    let page = get_page(&app, "/console", Some(&idle)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with("/console/login"));
    assert_eq!(session_row(&pool, &idle).await.2.as_deref(), Some("idle"));
    let (status, _) = json_with_cookie(
        &app,
        reqwest::Method::GET,
        "/v1/payment-intents",
        &idle,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let long = session(&app, "cashier.0320", DEMO_PASSWORD).await;
    sqlx::query("update staff_sessions set expires_at = now() - interval '1 second' where token_hash = sha256($1::bytea)")
        .bind(token_of(&long).as_bytes())
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        get_page(&app, "/console", Some(&long)).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        session_row(&pool, &long).await.2.as_deref(),
        Some("expired")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn logout_needs_the_csrf_token_and_ends_the_session(pool: PgPool) {
    let app = TestApp::start(pool.clone()).await;
    let cookie = session(&app, "supervisor.0320", DEMO_PASSWORD).await;
    let (session_id, csrf, _) = session_row(&pool, &cookie).await;
    let forged = post_form(&app, "/console/logout", Some(&cookie), &[("csrf", "guess")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        session_row(&pool, &cookie).await.2.is_none(),
        "still logged in"
    );

    let out = post_form(&app, "/console/logout", Some(&cookie), &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/console/login");
    let cleared = out.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(
        session_row(&pool, &cookie).await.2.as_deref(),
        Some("logout")
    );
    assert_eq!(
        get_page(&app, "/console", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from staff_actions where action = 'logout' and session_id = $1",
    )
    .bind(session_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(recorded, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_one_time_password_must_be_changed_before_anything_else(pool: PgPool) {
    let app = TestApp::start(pool.clone()).await;
    let mut conn = pool.acquire().await.unwrap();
    let created = payments::app::staff::create_user(
        &mut conn,
        "sok.dara",
        "Sok Dara",
        payments::app::auth::Role::Cashier,
        &["0320".to_owned()],
        None,
    )
    .await
    .unwrap();
    drop(conn);
    let first = login(&app, "sok.dara", &created.one_time_password).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(first.location(), "/console/password");
    let cookie = cookie_pair(&first.headers);
    let other = session(&app, "sok.dara", &created.one_time_password).await;
    let (session_id, csrf, _) = session_row(&pool, &cookie).await;

    let blocked = get_page(&app, "/console", Some(&cookie)).await;
    assert_eq!(blocked.status, StatusCode::SEE_OTHER);
    assert_eq!(blocked.location(), "/console/password");
    let (status, problem) = json_with_cookie(
        &app,
        reqwest::Method::GET,
        "/v1/payment-intents",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["code"], "password_change_required");
    let form_page = get_page(&app, "/console/password", Some(&cookie)).await;
    assert_eq!(form_page.status, StatusCode::OK);
    assert!(
        !form_page.html.contains("data-testid=\"nav-dashboard\""),
        "no navigation before the change"
    );

    for (new, confirm, field) in [
        ("short", "short", "new"),
        ("sok.dara", "sok.dara", "new"),
        (
            created.one_time_password.as_str(),
            created.one_time_password.as_str(),
            "new",
        ),
        ("a long new password", "another long one", "confirm"),
    ] {
        let refused = post_form(
            &app,
            "/console/password",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("current", &created.one_time_password),
                ("new", new),
                ("confirm", confirm),
            ],
        )
        .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{new}");
        assert!(
            refused
                .html
                .contains(&format!("href=\"#password-{field}\"")),
            "{new}: {}",
            refused.html
        );
    }
    let wrong = post_form(
        &app,
        "/console/password",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("current", "not it at all"),
            ("new", "a long new password"),
            ("confirm", "a long new password"),
        ],
    )
    .await;
    assert!(wrong.html.contains("href=\"#password-current\""));
    let no_csrf = post_form(
        &app,
        "/console/password",
        Some(&cookie),
        &[
            ("current", &created.one_time_password),
            ("new", "a long new password"),
            ("confirm", "a long new password"),
        ],
    )
    .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);

    let done = post_form(
        &app,
        "/console/password",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("current", &created.one_time_password),
            ("new", "a long new password"),
            ("confirm", "a long new password"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location(), "/console");
    assert_eq!(
        get_page(&app, "/console", Some(&cookie)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        session_row(&pool, &other).await.2.as_deref(),
        Some("password_changed"),
        "the other session ended"
    );
    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from staff_actions where action = 'password_changed' and session_id = $1",
    )
    .bind(session_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(recorded, 1);
    assert_eq!(
        login(&app, "sok.dara", &created.one_time_password)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login(&app, "sok.dara", "a long new password").await.status,
        StatusCode::SEE_OTHER
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_dashboard_shows_the_offices_open_intents_and_todays_payments_and_no_other_office(
    pool: PgPool,
) {
    let app = TestApp::start(pool.clone()).await;
    let open = app.intent("CASE-OPEN-1").await;
    let (_, reference) = app.pending_attempt("CASE-PAID-1").await;
    let reply = app
        .callback(&callback_body("tx-dash-1", &reference, "600000"), SECRET)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    intent_at(&app, "1201", "CASE-1201-OPEN").await;

    let cookie = session(&app, "cashier.0320", DEMO_PASSWORD).await;
    let page = get_page(&app, "/console?lang=en", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html
            .contains(&format!("data-intent=\"{}\"", open["id"].as_str().unwrap())),
        "{}",
        page.html
    );
    assert!(page.html.contains("CASE-OPEN-1"));
    assert!(page.html.contains("labour.internal_regulations_8_100"));
    assert!(
        !page.html.contains("CASE-1201-OPEN"),
        "another office's intent"
    );
    assert!(!page.html.contains("CASE-PAID-1"), "paid is not open");
    assert!(
        page.html
            .contains("<span data-testid=\"open-count\">1</span>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("data-channel=\"sandbox\""),
        "{}",
        page.html
    );
    assert!(page
        .html
        .contains("<td class=\"num\" data-testid=\"paid-count\">1</td>"));
    assert!(page.html.contains("600,000 ៛"));

    // Paid yesterday (Phnom Penh) is not today, whenever it was created.
    sqlx::query(
        "update payment_intents set paid_at = now() - interval '2 days' where status = 'paid'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let later = get_page(&app, "/console?lang=en", Some(&cookie)).await;
    assert!(later.html.contains("data-testid=\"paid-today-none\""));

    assert_eq!(
        get_page(&app, "/console?office=1201", Some(&cookie))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_page(&app, "/console?office=9999", Some(&cookie))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A national auditor picks any office.
    let auditor = session(&app, "auditor", DEMO_PASSWORD).await;
    let theirs = get_page(&app, "/console?office=1201&lang=en", Some(&auditor)).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(theirs.html.contains("CASE-1201-OPEN"));
    assert!(theirs.html.contains("data-testid=\"office-picker\""));
}

#[sqlx::test(migrations = "../migrations")]
async fn another_sites_login_form_is_refused_and_a_cookie_starts_an_attempt(pool: PgPool) {
    let app = TestApp::start(pool.clone()).await;
    let forged = browser()
        .post(format!("{}/console/login", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(form(&[
            ("username", "cashier.0320"),
            ("password", DEMO_PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get(SET_COOKIE).is_none());
    let cross_site = browser()
        .post(format!("{}/console/login", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .header("origin", "null")
        .body(form(&[
            ("username", "cashier.0320"),
            ("password", DEMO_PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let ours = browser()
        .post(format!("{}/console/login", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &app.base)
        .body(form(&[
            ("username", "cashier.0320"),
            ("password", DEMO_PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(ours.status(), StatusCode::SEE_OTHER);

    // The attempts route takes a key or a pay token; a person's cookie acts as their key.
    let intent = app.intent("CASE-ATTEMPT-1").await;
    let cookie = session(&app, "cashier.0320", DEMO_PASSWORD).await;
    let (_, csrf, _) = session_row(&pool, &cookie).await;
    let path = format!(
        "/v1/payment-intents/{}/attempts",
        intent["id"].as_str().unwrap()
    );
    let (status, problem) = json_with_cookie(
        &app,
        reqwest::Method::POST,
        &path,
        &cookie,
        None,
        Some(&json!({"channel": "sandbox"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["code"], "csrf_failed");
    let (status, attempt) = json_with_cookie(
        &app,
        reqwest::Method::POST,
        &path,
        &cookie,
        Some(&csrf),
        Some(&json!({"channel": "sandbox"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{attempt}");
}
