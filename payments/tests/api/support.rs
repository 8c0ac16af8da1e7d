use std::collections::HashMap;

use bank_adapters::sim::{self, SimConfig, SimState};
use payments::config::Config;
use payments::AppState;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::net::TcpListener;
use url::Url;

pub const SECRET: &str = bank_adapters::sandbox::DEFAULT_CALLBACK_SECRET;

pub struct TestApp {
    pub base: String,
    pub sim_base: String,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub state: AppState,
    pub keys: HashMap<&'static str, String>,
    /// `/metrics` is served on a listener of its own, as in production.
    pub metrics_base: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn start(pool: PgPool) -> TestApp {
        TestApp::start_with(pool, |_| {}).await
    }

    /// Like [`TestApp::start`], with the test configuration changed by `configure` first.
    pub async fn start_with(pool: PgPool, configure: impl FnOnce(&mut Config)) -> TestApp {
        let mut tx = pool.begin().await.unwrap();
        payments::app::seed::catalog(&mut tx).await.unwrap();
        payments::app::seed::demo(&mut tx).await.unwrap();
        payments::app::seed::demo_accounts(&mut tx).await.unwrap();
        payments::app::seed::demo_people(&mut tx).await.unwrap();
        tx.commit().await.unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sim_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim_base = format!("http://{}", sim_listener.local_addr().unwrap());
        let sim_state = SimState::new(SimConfig {
            callback_base_url: Url::parse(&base).unwrap(),
            sandbox_callback_secret: SECRET.to_owned(),
            bakong_token: bank_adapters::bakong::DEFAULT_SIM_TOKEN.to_owned(),
            public_base_url: Url::parse(&sim_base).unwrap(),
        })
        .unwrap();
        tokio::spawn(async move {
            axum::serve(sim_listener, sim::router(sim_state))
                .await
                .unwrap()
        });

        let mut config = Config::for_tests("postgres://unused");
        config.sandbox_api_url = Url::parse(&sim_base).unwrap();
        config.bakong_api_url = Some(Url::parse(&sim_base).unwrap());
        config.public_base_url = Url::parse(&base).unwrap();
        configure(&mut config);
        let state = AppState::new(pool.clone(), config).unwrap();
        let router = payments::router(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let metrics_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_base = format!("http://{}", metrics_listener.local_addr().unwrap());
        let metrics_router = payments::http::metrics_router(state.clone());
        tokio::spawn(async move { axum::serve(metrics_listener, metrics_router).await.unwrap() });

        let keys = HashMap::from([
            ("admin", "opk_demo_admin".to_owned()),
            ("workflow", "opk_demo_workflow".to_owned()),
            ("cashier_0320", "opk_demo_cashier_0320".to_owned()),
            ("cashier_1201", "opk_demo_cashier_1201".to_owned()),
            ("supervisor_0320", "opk_demo_supervisor_0320".to_owned()),
            ("auditor", "opk_demo_auditor".to_owned()),
            ("auditor_1201", "opk_demo_auditor_1201".to_owned()),
        ]);
        TestApp {
            base,
            sim_base,
            http: reqwest::Client::new(),
            pool,
            state,
            keys,
            metrics_base,
        }
    }

    /// The text of `/metrics` from the metrics listener.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.metrics_base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    pub fn key(&self, name: &str) -> &str {
        self.keys.get(name).unwrap()
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        Self::reply(request.send().await.unwrap()).await
    }

    pub async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        idempotency_key: Option<&str>,
        body: &Value,
    ) -> Reply {
        self.post_raw(
            path,
            key,
            idempotency_key,
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        key: Option<&str>,
        idempotency_key: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("idempotency-key", idempotency_key);
        }
        Self::reply(request.send().await.unwrap()).await
    }

    /// A quote for one fixed-price service of office 0320 (600,000 KHR).
    pub async fn quote(&self, office: &str, service: &str) -> Value {
        let reply = self
            .post(
                "/v1/quotes",
                Some(self.key("workflow")),
                None,
                &json!({"office_code": office, "items": [{"service_code": service, "quantity": 1}]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    pub async fn intent(&self, case_reference: &str) -> Value {
        let quote = self
            .quote("0320", "labour.internal_regulations_8_100")
            .await;
        let reply = self
            .post(
                "/v1/payment-intents",
                Some(self.key("workflow")),
                Some(&format!("intent-{case_reference}")),
                &json!({"quote_id": quote["id"], "case_reference": case_reference, "payer": {"name": "Sok Dara", "phone": "+85512345678"}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// How many ledger entries there are.
    pub async fn ledger_entries(&self) -> i64 {
        self.scalar_i64("select count(*) from ledger_entries").await
    }

    /// The trial balance's balance of `account` (an auditor's view), "0" when it has none.
    pub async fn balance(&self, account: &str) -> String {
        let reply = self
            .get("/v1/ledger/trial-balance", Some(self.key("auditor")))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["account"] == account)
            .map_or_else(
                || "0".to_owned(),
                |row| row["balance"].as_str().unwrap().to_owned(),
            )
    }

    /// An intent of office 0320 for a service priced in dollars (an ordinary passport).
    pub async fn usd_intent(&self, case_reference: &str) -> Value {
        let quote = self
            .quote("0320", "administration.passport_ordinary_20_day")
            .await;
        let reply = self
            .post(
                "/v1/payment-intents",
                Some(self.key("workflow")),
                Some(&format!("intent-{case_reference}")),
                &json!({"quote_id": quote["id"], "case_reference": case_reference}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    pub async fn sandbox_attempt(&self, intent_id: &str) -> Value {
        let reply = self
            .post(
                &format!("/v1/payment-intents/{intent_id}/attempts"),
                Some(self.key("workflow")),
                Some(&format!("attempt-{intent_id}")),
                &json!({"channel": "sandbox"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// A pending sandbox attempt (600,000 KHR) of a fresh intent: (intent id, provider
    /// reference).
    pub async fn pending_attempt(&self, case_reference: &str) -> (String, String) {
        let intent = self.intent(case_reference).await;
        let intent_id = intent["id"].as_str().unwrap().to_owned();
        let attempt = self.sandbox_attempt(&intent_id).await;
        assert_eq!(attempt["status"], "pending");
        assert_eq!(
            attempt["amount"],
            json!({"amount": "600000", "currency": "KHR"})
        );
        (
            intent_id,
            attempt["provider_reference"].as_str().unwrap().to_owned(),
        )
    }

    /// Sends a sandbox callback signed with `secret`, exactly as the bank would.
    pub async fn callback(&self, body: &Value, secret: &str) -> Reply {
        let raw = serde_json::to_vec(body).unwrap();
        let signature = bank_adapters::signing::hmac_sha256_hex(secret.as_bytes(), &raw);
        let response = self
            .http
            .post(format!("{}/v1/callbacks/sandbox", self.base))
            .header("content-type", "application/json")
            .header("x-sandbox-signature", signature)
            .body(raw)
            .send()
            .await
            .unwrap();
        Self::reply(response).await
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }
}

pub fn callback_body(transaction_id: &str, provider_reference: &str, amount: &str) -> Value {
    json!({
        "transaction_id": transaction_id,
        "provider_reference": provider_reference,
        "amount": amount,
        "currency": "KHR",
        "paid_at": "2026-11-25T10:00:00Z",
    })
}
