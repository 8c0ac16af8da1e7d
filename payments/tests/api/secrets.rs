//! Secrets at rest and who sees the pay link: webhook secrets and pay tokens are sealed with
//! SECRETS_KEY (and survive a rotation), tokens are looked up by hash, the pay link goes to the
//! roles that create intents only, and a revoked key is refused at once.

use std::time::Duration;

use base64::Engine as _;
use e2e::WebhookReceiver;
use payments::app::secrets::{self, Keyring};
use payments::config::Config;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::TestApp;

fn key_b64(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn with_keys(config: &mut Config, current: u8, old: &[u8]) {
    config.secrets_key = Some(SecretString::from(key_b64(current)));
    config.secrets_keys_old = old
        .iter()
        .map(|byte| SecretString::from(key_b64(*byte)))
        .collect();
}

fn token_of(intent: &Value) -> String {
    intent["pay_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// Every row of every table of the schema whose text contains `needle`, as `table` names.
async fn tables_containing(pool: &PgPool, needle: &str) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = 'public' and table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut found = Vec::new();
    for table in tables {
        let count: i64 = sqlx::query_scalar(&format!(
            "select count(*) from {table} x where strpos(x::text, $1) > 0"
        ))
        .bind(needle)
        .fetch_one(pool)
        .await
        .unwrap();
        if count > 0 {
            found.push(table);
        }
    }
    found
}

async fn register_endpoint(app: &TestApp, url: &str) -> Value {
    let reply = app
        .post(
            "/v1/webhook-endpoints",
            Some(app.key("admin")),
            None,
            &json!({"url": url, "events": ["*"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

#[sqlx::test(migrations = "../migrations")]
async fn the_database_holds_no_pay_token_or_webhook_secret(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let endpoint = register_endpoint(&app, "http://127.0.0.1:9/hook").await;
    let first_secret = endpoint["secret"].as_str().unwrap().to_owned();
    let rotated = app
        .post(
            &format!(
                "/v1/webhook-endpoints/{}/rotate-secret",
                endpoint["id"].as_str().unwrap()
            ),
            Some(app.key("admin")),
            None,
            &json!({"keep_previous_for_s": 3600}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let second_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    let intent = app.intent("0320070001").await;
    let token = token_of(&intent);
    assert!(token.starts_with("pt_"));

    for needle in [
        token.as_str(),
        token.trim_start_matches("pt_"),
        first_secret.trim_start_matches("whsec_"),
        second_secret.trim_start_matches("whsec_"),
    ] {
        assert_eq!(
            tables_containing(&app.pool, needle).await,
            Vec::<String>::new(),
            "a stored secret in plaintext: {needle}"
        );
    }
    let hashed: i64 = app
        .scalar_i64(&format!(
            "select count(*) from payment_intents where pay_token_hash = sha256('{token}'::bytea)"
        ))
        .await;
    assert_eq!(hashed, 1);

    // The link still works, for reading and for paying.
    let public = app.get(&format!("/v1/public/payments/{token}"), None).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.body);
    assert_eq!(public.body["case_reference"], "0320070001");
    let page = app
        .http
        .get(intent["pay_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let attempt = app
        .post(
            &format!(
                "/v1/payment-intents/{}/attempts",
                intent["id"].as_str().unwrap()
            ),
            Some(&token),
            Some("citizen-attempt-1"),
            &json!({"channel": "sandbox"}),
        )
        .await;
    assert_eq!(attempt.status, StatusCode::CREATED, "{}", attempt.body);
    // Paying with the token stores it nowhere either.
    assert_eq!(
        tables_containing(&app.pool, token.trim_start_matches("pt_")).await,
        Vec::<String>::new()
    );
    let wrong = app
        .get(&format!("/v1/public/payments/{token}x"), None)
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_pay_link_goes_to_the_roles_that_create_intents_only(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    let request = json!({"quote_id": quote["id"], "case_reference": "0320070002"});
    let created = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("pay-link-roles"),
            &request,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let pay_url = created.body["pay_url"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    // A replay answers with the same link, although the stored response has none.
    let replay = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some("pay-link-roles"),
            &request,
        )
        .await;
    assert_eq!(replay.body["id"], created.body["id"]);
    assert_eq!(replay.body["pay_url"], pay_url.as_str());

    let path = format!("/v1/payment-intents/{id}");
    for creator in ["workflow", "cashier_0320", "admin"] {
        let reply = app.get(&path, Some(app.key(creator))).await;
        assert_eq!(reply.status, StatusCode::OK, "{creator}: {}", reply.body);
        assert_eq!(reply.body["pay_url"], pay_url.as_str(), "{creator}");
        let list = app.get("/v1/payment-intents", Some(app.key(creator))).await;
        assert_eq!(
            list.body["data"][0]["pay_url"],
            pay_url.as_str(),
            "{creator}"
        );
    }
    for reader in ["supervisor_0320", "auditor"] {
        let reply = app.get(&path, Some(app.key(reader))).await;
        assert_eq!(reply.status, StatusCode::OK, "{reader}: {}", reply.body);
        assert!(
            reply.body.get("pay_url").is_none(),
            "{reader}: {}",
            reply.body
        );
        assert_eq!(reply.body["id"], id.as_str());
        let list = app.get("/v1/payment-intents", Some(app.key(reader))).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let data = list.body["data"].as_array().unwrap();
        assert!(!data.is_empty());
        assert!(
            data.iter().all(|intent| intent.get("pay_url").is_none()),
            "{reader}: {}",
            list.body
        );
    }
    let cancelled = app
        .post(
            &format!("{path}/cancel"),
            Some(app.key("supervisor_0320")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert!(
        cancelled.body.get("pay_url").is_none(),
        "{}",
        cancelled.body
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_revoked_key_is_refused_at_once(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let listed = app
        .get("/v1/payment-intents", Some(app.key("workflow")))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let id: uuid::Uuid = sqlx::query_scalar(
        "select id from api_keys where key_hash = sha256('opk_demo_workflow'::bytea)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let revoked = payments::app::auth::revoke_key(&mut conn, id)
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.revoked.is_some());
    let refused = app
        .get("/v1/payment-intents", Some(app.key("workflow")))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    // Other keys are untouched.
    let other = app.get("/v1/payment-intents", Some(app.key("admin"))).await;
    assert_eq!(other.status, StatusCode::OK);
}

/// Runs the dispatcher of `config` until the receiver has `count` requests.
async fn deliveries(app: &TestApp, config: Config, hook: &WebhookReceiver, count: usize) {
    let mut config = config;
    config.webhook_poll_interval = Duration::from_millis(50);
    config.webhook_retry_schedule = vec![Duration::from_millis(50)];
    let state = payments::AppState::new(app.pool.clone(), config).unwrap();
    let (stop, watch) = tokio::sync::watch::channel(false);
    let worker = payments::workers::dispatcher::Dispatcher::new(state).unwrap();
    let handle = tokio::spawn(worker.run(watch));
    for _ in 0..300 {
        if hook.count() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let _ = handle.await;
    assert!(hook.count() >= count, "no delivery within 15 s");
}

#[sqlx::test(migrations = "../migrations")]
async fn secrets_survive_a_key_rotation_and_reseal(pool: PgPool) {
    let app = TestApp::start_with(pool.clone(), |config| with_keys(config, 7, &[])).await;
    let hook = WebhookReceiver::start().await;
    let endpoint = register_endpoint(&app, &hook.url).await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    let endpoint_id: uuid::Uuid = endpoint["id"].as_str().unwrap().parse().unwrap();
    let intent = app.intent("0320070003").await;
    let pay_url = intent["pay_url"].as_str().unwrap().to_owned();
    let intent_path = format!("/v1/payment-intents/{}", intent["id"].as_str().unwrap());

    let mut rotated_config = (*app.state.config).clone();
    with_keys(&mut rotated_config, 8, &[7]);
    let old = Keyring::from_config(&app.state.config).unwrap();
    let new = Keyring::from_config(&rotated_config).unwrap();
    assert_ne!(old.current_id(), new.current_id());

    // Rotated: the new key seals, the old one still opens (SECRETS_KEY_OLD).
    let rotated = TestApp::start_with(pool.clone(), |config| with_keys(config, 8, &[7])).await;
    let reply = rotated
        .get(&intent_path, Some(rotated.key("workflow")))
        .await;
    assert_eq!(
        reply.body["pay_url"]
            .as_str()
            .map(|url| url.rsplit('/').next()),
        Some(pay_url.rsplit('/').next())
    );
    let cancelled = rotated
        .post(
            &format!("{intent_path}/cancel"),
            Some(rotated.key("workflow")),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    deliveries(&rotated, rotated_config.clone(), &hook, 1).await;
    assert!(
        hook.requests()[0].verify_standard_webhook(&secret),
        "signed with the secret sealed under the old key"
    );

    // Reseal: everything under the new key; the old key can go.
    let report = secrets::reseal_all(&pool, &new).await.unwrap();
    assert_eq!(report.webhook_secrets, 1);
    assert!(report.pay_tokens >= 1);
    assert_eq!(report.unreadable, 0);
    let pattern = format!("enc1:{}:%", new.current_id());
    let stale = app
        .scalar_i64(&format!(
            "select (select count(*) from webhook_endpoints where secret not like '{pattern}')
                  + (select count(*) from payment_intents where pay_token_sealed not like '{pattern}')"
        ))
        .await;
    assert_eq!(stale, 0);
    let only_new = TestApp::start_with(pool.clone(), |config| with_keys(config, 8, &[])).await;
    let reply = only_new
        .get(&intent_path, Some(only_new.key("workflow")))
        .await;
    assert_eq!(
        reply.body["pay_url"]
            .as_str()
            .map(|url| url.rsplit('/').next()),
        Some(pay_url.rsplit('/').next())
    );
    let stored: String = sqlx::query_scalar("select secret from webhook_endpoints where id = $1")
        .bind(endpoint_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        secrets::open_webhook_secret(&new, endpoint_id, &stored).unwrap(),
        secret
    );
    // Without the key that sealed them, values do not open: the old key alone is useless now.
    assert!(secrets::open_webhook_secret(&old, endpoint_id, &stored).is_err());
}

#[sqlx::test(migrations = "../migrations")]
async fn plaintext_webhook_secrets_from_before_sealing_keep_working(pool: PgPool) {
    let app = TestApp::start(pool.clone()).await;
    let hook = WebhookReceiver::start().await;
    let endpoint = register_endpoint(&app, &hook.url).await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    let id: uuid::Uuid = endpoint["id"].as_str().unwrap().parse().unwrap();
    // As a row written by the release before sealing.
    sqlx::query("update webhook_endpoints set secret = $2 where id = $1")
        .bind(id)
        .bind(&secret)
        .execute(&pool)
        .await
        .unwrap();
    let intent = app.intent("0320070004").await;
    app.post(
        &format!(
            "/v1/payment-intents/{}/cancel",
            intent["id"].as_str().unwrap()
        ),
        Some(app.key("workflow")),
        None,
        &json!({}),
    )
    .await;
    deliveries(&app, (*app.state.config).clone(), &hook, 1).await;
    assert!(hook.requests()[0].verify_standard_webhook(&secret));

    // What `payments serve` runs at start seals it, to the same secret.
    let keyring = Keyring::from_config(&app.state.config).unwrap();
    let report = secrets::reseal_webhook_secrets(&pool, &keyring)
        .await
        .unwrap();
    assert_eq!(report.webhook_secrets, 1);
    assert_eq!(
        tables_containing(&pool, secret.trim_start_matches("whsec_")).await,
        Vec::<String>::new()
    );
    let stored: String = sqlx::query_scalar("select secret from webhook_endpoints where id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        secrets::open_webhook_secret(&keyring, id, &stored).unwrap(),
        secret
    );
}

#[sqlx::test(migrations = false)]
async fn pay_tokens_of_existing_intents_are_sealed_and_hashed_by_the_migration(pool: PgPool) {
    // The schema as the release before this one left it, with an intent holding a plaintext
    // token.
    let before = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            payments::db::MIGRATOR
                .iter()
                .filter(|migration| migration.version < 10)
                .cloned()
                .collect(),
        ),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    before.run(&pool).await.unwrap();
    // The demo offices and keys only: today's catalog seed writes columns of later migrations
    // (TestApp::start loads it once the schema is current).
    let mut tx = pool.begin().await.unwrap();
    payments::app::seed::demo(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let token = "pt_legacyTokenFromBeforeSealing0000000000000";
    sqlx::query(
        "with key as (select id from api_keys where key_hash = sha256('opk_demo_workflow'::bytea)),
              quote as (insert into quotes (id, office_code, currency, total_minor, lines, schedule_version, created_by, expires_at)
                        select gen_random_uuid(), '0320', 'KHR', 600000, '[]', 'legacy', key.id, now() + interval '1 day' from key
                        returning id, created_by)
         insert into payment_intents (id, office_code, quote_id, case_reference, status, currency, total_minor, pay_token, created_by, expires_at)
         select gen_random_uuid(), '0320', quote.id, '0320070005', 'awaiting_payment', 'KHR', 600000, $1, quote.created_by, now() + interval '1 day'
         from quote",
    )
    .bind(token)
    .execute(&pool)
    .await
    .unwrap();
    // Its creation response, kept for replays, held the link too.
    sqlx::query(
        "insert into idempotency_keys (principal, key, request_hash, response_status, response_body)
         select 'key:' || created_by, 'legacy-intent', '\\x00', 201,
                jsonb_build_object('id', id, 'quote_id', quote_id, 'pay_url', 'http://127.0.0.1:9/pay/' || $1)
         from payment_intents",
    )
    .bind(token)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(tables_containing(&pool, token).await.len(), 2);

    let config = Config::for_tests("postgres://unused");
    let keyring = Keyring::from_config(&config).unwrap();
    payments::db::migrate(&pool, &keyring).await.unwrap();
    assert!(!payments::db::migrations_pending(&pool).await.unwrap());
    assert_eq!(tables_containing(&pool, token).await, Vec::<String>::new());

    let app = TestApp::start(pool).await;
    let public = app.get(&format!("/v1/public/payments/{token}"), None).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.body);
    let id: uuid::Uuid = sqlx::query_scalar("select id from payment_intents")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let reply = app
        .get(
            &format!("/v1/payment-intents/{id}"),
            Some(app.key("workflow")),
        )
        .await;
    assert!(
        reply.body["pay_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/pay/{token}")),
        "{}",
        reply.body
    );
}
