//! `SandboxClient` against the simulator on a real socket, and its failure modes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use bank_adapters::error::AdapterError;
use bank_adapters::sandbox::{CreatePaymentRequest, SandboxClient, SandboxPaymentStatus};
use common::{closed_port_url, pay, start_sim, Receiver};
use tokio::net::TcpListener;
use url::Url;

fn request(reference: &str, amount: &str) -> CreatePaymentRequest {
    CreatePaymentRequest {
        provider_reference: reference.to_owned(),
        amount: amount.to_owned(),
        currency: "KHR".to_owned(),
        description: "Business licence, case 1201004200".to_owned(),
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(15),
        account_id: None,
    }
}

#[tokio::test]
async fn creates_then_reads_a_payment_through_its_life() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let sim = start_sim(receiver.base_url.clone()).await;
    let client = SandboxClient::new(sim.clone(), Duration::from_secs(5)).unwrap();

    let created = client
        .create_payment(&request("att_c1", "600000"))
        .await
        .unwrap();
    assert_eq!(created.provider_reference, "att_c1");
    assert_eq!(created.status, SandboxPaymentStatus::Pending);
    assert_eq!(
        created.checkout_url,
        "http://sim.test:8081/sandbox/checkout/att_c1"
    );
    // A retry after a lost answer is safe.
    assert_eq!(
        client
            .create_payment(&request("att_c1", "600000"))
            .await
            .unwrap(),
        created
    );

    let status = client.payment_status("att_c1").await.unwrap();
    assert_eq!(status.status, SandboxPaymentStatus::Pending);
    assert_eq!(status.amount, "600000");
    assert_eq!(status.currency, "KHR");
    assert_eq!(status.transaction_id, None);

    let (code, paid) = pay(&sim, "att_c1", None).await;
    assert_eq!(code, 200);
    let status = client.payment_status("att_c1").await.unwrap();
    assert_eq!(status.status, SandboxPaymentStatus::Paid);
    assert_eq!(
        status.transaction_id.as_deref(),
        paid["transaction_id"].as_str()
    );
}

#[tokio::test]
async fn bank_refusals_become_status_errors() {
    let sim = start_sim(closed_port_url().await).await;
    let client = SandboxClient::new(sim, Duration::from_secs(5)).unwrap();
    client
        .create_payment(&request("att_c2", "600000"))
        .await
        .unwrap();

    let conflict = client
        .create_payment(&request("att_c2", "700000"))
        .await
        .unwrap_err();
    assert!(
        matches!(&conflict, AdapterError::Status { status: 409, body_excerpt } if body_excerpt.contains("reference_conflict")),
        "{conflict:?}"
    );
    assert!(!conflict.is_retryable());

    let unknown = client.payment_status("att_nowhere").await.unwrap_err();
    assert!(
        matches!(unknown, AdapterError::Status { status: 404, .. }),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn invalid_input_is_refused_before_sending() {
    // Nothing listens here: an InvalidInput proves no request was attempted.
    let client = SandboxClient::new(closed_port_url().await, Duration::from_secs(5)).unwrap();
    let error = client
        .create_payment(&request("", "600000"))
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::InvalidInput(_)), "{error:?}");
    let error = client
        .create_payment(&request("att_1", "6e5"))
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::InvalidInput(_)), "{error:?}");
    let error = client.payment_status(&"r".repeat(65)).await.unwrap_err();
    assert!(matches!(error, AdapterError::InvalidInput(_)), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_bank_is_a_retryable_transport_error() {
    let client = SandboxClient::new(closed_port_url().await, Duration::from_secs(5)).unwrap();
    let error = client.payment_status("att_1").await.unwrap_err();
    assert!(matches!(error, AdapterError::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_silent_bank_times_out() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let base = Url::parse(&format!("http://{address}")).unwrap();
    let client = SandboxClient::new(base, Duration::from_millis(300)).unwrap();
    let started = std::time::Instant::now();
    let error = client.payment_status("att_1").await.unwrap_err();
    assert_eq!(error, AdapterError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn answers_about_another_reference_are_refused() {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/sandbox/payments/{reference}",
        get(|| async {
            axum::Json(serde_json::json!({"provider_reference": "someone_else",
                "status": "paid", "amount": "600000", "currency": "KHR"}))
        }),
    );
    let base = common::serve(app).await;
    let client = SandboxClient::new(base, Duration::from_secs(5)).unwrap();
    let error = client.payment_status("att_1").await.unwrap_err();
    assert!(matches!(error, AdapterError::Decode(_)), "{error:?}");
}

#[tokio::test]
async fn rate_limits_and_refused_credentials_are_typed() {
    use axum::http::HeaderMap;
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/sandbox/payments/limited",
            get(|| async {
                let mut headers = HeaderMap::new();
                headers.insert("retry-after", "7".parse().unwrap());
                (StatusCode::TOO_MANY_REQUESTS, headers, "slow down")
            }),
        )
        .route(
            "/sandbox/payments/forbidden",
            get(|| async { StatusCode::FORBIDDEN }),
        )
        .route(
            "/sandbox/payments/broken",
            get(|| async { (StatusCode::OK, "not json") }),
        );
    let base = common::serve(app).await;
    let client = SandboxClient::new(base, Duration::from_secs(5)).unwrap();
    assert_eq!(
        client.payment_status("limited").await.unwrap_err(),
        AdapterError::RateLimited {
            retry_after_s: Some(7)
        }
    );
    assert_eq!(
        client.payment_status("forbidden").await.unwrap_err(),
        AdapterError::Unauthorized
    );
    assert!(matches!(
        client.payment_status("broken").await.unwrap_err(),
        AdapterError::Decode(_)
    ));
}
