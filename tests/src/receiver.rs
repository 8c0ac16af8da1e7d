//! A tiny HTTP server on 127.0.0.1 that records every request it gets, for tests of webhook
//! delivery: what arrived, in which order, when, and whether it is signed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::task::JoinHandle;

/// How a [`WebhookReceiver`] answers.
#[derive(Clone, Debug)]
pub struct Replies {
    /// The first this many requests are answered with `failure`.
    pub fail_first: usize,
    /// The status of a failed request.
    pub failure: StatusCode,
    /// The status of every other request.
    pub success: StatusCode,
    /// Every request waits this long before it is answered (it is recorded on arrival).
    pub delay: Duration,
    /// The first request waits this long, in addition to `delay`: a receiver stuck mid-request.
    pub hang_first: Duration,
}

impl Default for Replies {
    /// 200 to every request, at once.
    fn default() -> Replies {
        Replies {
            fail_first: 0,
            failure: StatusCode::INTERNAL_SERVER_ERROR,
            success: StatusCode::OK,
            delay: Duration::ZERO,
            hang_first: Duration::ZERO,
        }
    }
}

/// One request the [`WebhookReceiver`] got.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    /// The request's method.
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Vec<u8>,
    /// The status the receiver answered with.
    pub answered: u16,
    /// When it arrived (monotonic clock).
    pub received_at: Instant,
    /// When it arrived (wall clock, to compare with times the service stored).
    pub arrived_at: DateTime<Utc>,
}

impl ReceivedRequest {
    /// The header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `webhook-id` header; panics when it is missing.
    pub fn webhook_id(&self) -> &str {
        self.header("webhook-id")
            .unwrap_or_else(|| panic!("request without webhook-id: {}", self.text()))
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {}", self.text()))
    }

    /// How many of the signatures in `webhook-signature` are valid Standard Webhooks v1
    /// signatures for `whsec` (the `whsec_...` secret that `POST /v1/webhook-endpoints`
    /// returned): 1 for a signed request, 0 for one signed with another secret.
    pub fn signatures_by(&self, whsec: &str) -> usize {
        let (Some(id), Some(timestamp), Some(signatures)) = (
            self.header("webhook-id"),
            self.header("webhook-timestamp"),
            self.header("webhook-signature"),
        ) else {
            return 0;
        };
        let expected = standard_webhook_signature(whsec, id, timestamp, &self.body);
        signatures
            .split_whitespace()
            .filter(|candidate| *candidate == expected)
            .count()
    }

    /// True when `webhook-signature` carries a valid Standard Webhooks v1 signature for
    /// `whsec`.
    pub fn verify_standard_webhook(&self, whsec: &str) -> bool {
        self.signatures_by(whsec) > 0
    }
}

/// `v1,<base64(HMAC-SHA256(base64decode(secret after "whsec_"), "{id}.{timestamp}.{body}"))>`,
/// written from the Standard Webhooks specification, independent of the service's code.
pub fn standard_webhook_signature(whsec: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = BASE64
        .decode(whsec.strip_prefix("whsec_").unwrap_or(whsec))
        .unwrap_or_else(|e| panic!("webhook secret is not whsec_<base64>: {e}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

#[derive(Clone)]
struct ReceiverState {
    requests: Arc<Mutex<Vec<ReceivedRequest>>>,
    /// Requests arrived so far (the first one may hang).
    arrived: Arc<AtomicUsize>,
    failures_left: Arc<AtomicUsize>,
    replies: Arc<Replies>,
}

async fn record(
    State(state): State<ReceiverState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let arrived_at = Utc::now();
    let received_at = Instant::now();
    let first = state.arrived.fetch_add(1, Ordering::SeqCst) == 0;
    let fail = state
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    let replies = &state.replies;
    let status = if fail {
        replies.failure
    } else {
        replies.success
    };
    let request = ReceivedRequest {
        method,
        uri: uri
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_else(|| uri.to_string()),
        headers,
        body: body.to_vec(),
        answered: status.as_u16(),
        received_at,
        arrived_at,
    };
    state
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request);
    let wait = if first {
        replies.delay.saturating_add(replies.hang_first)
    } else {
        replies.delay
    };
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    status
}

/// A tiny HTTP server on 127.0.0.1 that records every request (any method, any path) and
/// answers as its [`Replies`] say (by default 200 at once). Stops when dropped.
pub struct WebhookReceiver {
    /// `http://127.0.0.1:PORT/webhook`, ready to register as an endpoint.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    state: ReceiverState,
    server: JoinHandle<()>,
}

impl WebhookReceiver {
    /// Answers 200 to every request.
    pub async fn start() -> WebhookReceiver {
        WebhookReceiver::start_with(Replies::default()).await
    }

    /// Answers 500 to the first `failures` requests, then 200.
    pub async fn start_failing_first(failures: usize) -> WebhookReceiver {
        WebhookReceiver::start_with(Replies {
            fail_first: failures,
            ..Replies::default()
        })
        .await
    }

    /// Answers as `replies` say.
    pub async fn start_with(replies: Replies) -> WebhookReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the webhook receiver");
        let addr = listener.local_addr().expect("the receiver's address");
        let state = ReceiverState {
            requests: Arc::new(Mutex::new(Vec::new())),
            arrived: Arc::new(AtomicUsize::new(0)),
            failures_left: Arc::new(AtomicUsize::new(replies.fail_first)),
            replies: Arc::new(replies),
        };
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let base_url = format!("http://{addr}");
        WebhookReceiver {
            url: format!("{base_url}/webhook"),
            base_url,
            addr,
            state,
            server,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Answer `failure` to the next `failures` requests (e.g. to force a retry mid-test).
    pub fn fail_next(&self, failures: usize) {
        self.state.failures_left.store(failures, Ordering::SeqCst);
    }

    /// A snapshot of every request so far, in arrival order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Polls every 50 ms until `condition` holds for the requests so far and returns them;
    /// panics after `timeout` with what did arrive.
    pub async fn wait_for(
        &self,
        condition: impl Fn(&[ReceivedRequest]) -> bool,
        timeout: Duration,
    ) -> Vec<ReceivedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if condition(&requests) {
                return requests;
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = requests
                    .iter()
                    .map(|r| format!("{} {} -> {}: {}", r.method, r.uri, r.answered, r.text()))
                    .collect();
                panic!(
                    "webhook condition not met within {:?}; {} request(s) received:\n{}",
                    timeout,
                    requests.len(),
                    seen.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
