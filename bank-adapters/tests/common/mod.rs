//! Test helpers: a simulator on a real socket and a tiny receiver that plays our service.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    missing_docs
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use bank_adapters::sim::{router, SimConfig, SimState};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::net::TcpListener;
use url::Url;

pub const SECRET: &str = "test-callback-secret";

/// The Bakong simulator's bearer token in tests.
pub const BAKONG_TOKEN: &str = "test-bakong-token";

/// One callback as our service would see it.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Vec<u8>,
    pub signature: Option<String>,
    pub content_type: Option<String>,
    /// Checked here with the `hmac` crate directly, independent of `bank_adapters::signing`.
    pub signature_valid: bool,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct ReceiverState {
    calls: Arc<Mutex<Vec<Received>>>,
    answer: StatusCode,
}

/// A stand-in for `POST /v1/callbacks/sandbox` that records what arrives.
pub struct Receiver {
    pub base_url: Url,
    calls: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(answer: StatusCode) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1/callbacks/sandbox", post(receive))
            .with_state(ReceiverState {
                calls: calls.clone(),
                answer,
            });
        let base_url = serve(app).await;
        Self { base_url, calls }
    }

    pub fn calls(&self) -> Vec<Received> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until at least `count` callbacks arrived (for delayed callbacks).
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {count} callbacks, got {}", self.calls().len());
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let signature = header("x-sandbox-signature");
    let signature_valid = signature.as_deref().is_some_and(|signature| {
        let Ok(tag) = hex::decode(signature) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(&body);
        mac.verify_slice(&tag).is_ok()
    });
    state.calls.lock().unwrap().push(Received {
        body: body.to_vec(),
        signature,
        content_type: header("content-type"),
        signature_valid,
    });
    state.answer
}

/// Serves a router on 127.0.0.1 with an ephemeral port and returns its base URL.
pub async fn serve(app: Router) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Url::parse(&format!("http://{address}")).unwrap()
}

pub fn sim_state(callback_base_url: Url) -> SimState {
    SimState::new(SimConfig {
        callback_base_url,
        sandbox_callback_secret: SECRET.to_owned(),
        public_base_url: Url::parse("http://sim.test:8081").unwrap(),
        bakong_token: BAKONG_TOKEN.to_owned(),
    })
    .unwrap()
}

/// A simulator on a real socket, sending callbacks to `callback_base_url`.
pub async fn start_sim(callback_base_url: Url) -> Url {
    serve(router(sim_state(callback_base_url))).await
}

/// A base URL where nothing listens (the port was just released).
pub async fn closed_port_url() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    Url::parse(&format!("http://{address}")).unwrap()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn create_body(reference: &str, amount: &str, currency: &str) -> serde_json::Value {
    serde_json::json!({
        "provider_reference": reference,
        "amount": amount,
        "currency": currency,
        "description": "Construction permit, case 0320018100",
        "expires_at": "2030-01-01T00:00:00Z",
    })
}

/// Creates a payment on a simulator over HTTP and checks the 201.
pub async fn create(sim: &Url, reference: &str, amount: &str, currency: &str) -> serde_json::Value {
    let response = http()
        .post(sim.join("/sandbox/payments").unwrap())
        .json(&create_body(reference, amount, currency))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Calls the pay action with a JSON body (or none) and returns status and JSON answer.
pub async fn pay(
    sim: &Url,
    reference: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = sim
        .join(&format!("/sandbox/payments/{reference}/pay"))
        .unwrap();
    let mut request = http().post(url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}
