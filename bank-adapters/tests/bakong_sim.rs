//! The Bakong simulator: the payer's pay action refuses what a bank app would, the Open API
//! answers in Bakong's envelope, and `bank-sim` reads `BAKONG_API_TOKEN`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::str::FromStr as _;
use std::time::Duration;

use bank_adapters::bakong::{BakongClient, DEFAULT_SIM_TOKEN};
use bank_adapters::error::AdapterError;
use bank_adapters::khqr::{encode, AccountKind, Currency, Khqr, KhqrRequest};
use common::{closed_port_url, http, start_sim, BAKONG_TOKEN};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{json, Value};
use url::Url;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn office_request() -> KhqrRequest {
    KhqrRequest::new(
        AccountKind::Individual {
            account_information: None,
            acquiring_bank: None,
        },
        "owso_1201@aclb",
        "OWSO Phnom Penh",
    )
}

/// A dynamic USD 1.50 KHQR created at `created_ms`, expiring at `expires_ms`.
fn dynamic_qr(created_ms: i64, expires_ms: i64) -> Khqr {
    let mut request = office_request();
    request.currency = Currency::Usd;
    request.amount = Some(Decimal::from_str("1.50").unwrap());
    request.expiration_ms = Some(expires_ms);
    encode(&request, created_ms).unwrap()
}

async fn sim() -> Url {
    start_sim(closed_port_url().await).await
}

async fn post(sim: &Url, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = http().post(sim.join(path).unwrap()).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn pay(sim: &Url, qr: &str) -> (u16, Value) {
    post(sim, "/bakong/sim/pay", None, json!({ "qr": qr })).await
}

async fn payments(sim: &Url) -> Vec<Value> {
    let list: Value = http()
        .get(sim.join("/bakong/sim/payments").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["payments"].as_array().unwrap().clone()
}

async fn assert_nothing_paid(sim: &Url, md5: &str) {
    assert!(payments(sim).await.is_empty());
    let (status, answer) = post(
        sim,
        "/v1/check_transaction_by_md5",
        Some(BAKONG_TOKEN),
        json!({ "md5": md5 }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["errorCode"], 1);
}

#[tokio::test]
async fn paying_records_a_plausible_transaction_once() {
    let sim = sim().await;
    let qr = dynamic_qr(now_ms(), now_ms() + 600_000);
    let (status, paid) = post(
        &sim,
        "/bakong/sim/pay",
        None,
        json!({"qr": qr.qr, "from_account_id": "dara_k@abaa"}),
    )
    .await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["md5"], qr.md5.as_str());
    assert_eq!(paid["amount"], "1.50");
    assert_eq!(paid["currency"], "USD");
    assert_eq!(paid["from_account_id"], "dara_k@abaa");
    assert_eq!(paid["to_account_id"], "owso_1201@aclb");

    let listed = payments(&sim).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["md5"], qr.md5.as_str());
    assert_eq!(listed[0]["hash"], paid["hash"]);

    let (status, again) = pay(&sim, &qr.qr).await;
    assert_eq!(status, 409);
    assert_eq!(again["code"], "already_paid");
    assert_eq!(payments(&sim).await.len(), 1);
}

#[tokio::test]
async fn an_expired_qr_is_refused_and_nothing_is_paid() {
    let sim = sim().await;
    let created = now_ms() - 120_000;
    let qr = dynamic_qr(created, created + 60_000);
    let (status, problem) = pay(&sim, &qr.qr).await;
    assert_eq!(status, 422);
    assert_eq!(problem["code"], "qr_expired");
    assert_nothing_paid(&sim, &qr.md5).await;
}

#[tokio::test]
async fn a_tampered_qr_is_refused_and_nothing_is_paid() {
    let sim = sim().await;
    let qr = dynamic_qr(now_ms(), now_ms() + 600_000);
    // One character of the merchant name changed, as a forger editing the payee would.
    let tampered = qr.qr.replacen("OWSO", "0WSO", 1);
    assert_ne!(tampered, qr.qr);
    assert_eq!(tampered.len(), qr.qr.len());
    let (status, problem) = pay(&sim, &tampered).await;
    assert_eq!(status, 422);
    assert_eq!(problem["code"], "qr_invalid");
    assert!(
        problem["detail"].as_str().unwrap().contains("crc_mismatch"),
        "{problem}"
    );
    assert_nothing_paid(&sim, &qr.md5).await;

    let (status, problem) = pay(&sim, "not a KHQR at all").await;
    assert_eq!(status, 422);
    assert_eq!(problem["code"], "qr_invalid");
}

#[tokio::test]
async fn a_static_qr_is_refused() {
    let sim = sim().await;
    let qr = encode(&office_request(), now_ms()).unwrap();
    let (status, problem) = pay(&sim, &qr.qr).await;
    assert_eq!(status, 422);
    assert_eq!(problem["code"], "qr_static");
    assert!(payments(&sim).await.is_empty());
}

#[tokio::test]
async fn pay_refuses_malformed_requests() {
    let sim = sim().await;
    let qr = dynamic_qr(now_ms(), now_ms() + 600_000);
    let (status, problem) = post(
        &sim,
        "/bakong/sim/pay",
        None,
        json!({"qr": qr.qr, "tip": 1}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "malformed_request");
    let (status, _) = post(
        &sim,
        "/bakong/sim/pay",
        None,
        json!({"qr": qr.qr, "from_account_id": "no-at-sign"}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(payments(&sim).await.is_empty());
}

#[tokio::test]
async fn the_open_api_answers_in_bakongs_envelope() {
    let sim = sim().await;
    let qr = dynamic_qr(now_ms(), now_ms() + 600_000);
    let md5 = json!({ "md5": qr.md5 });

    for token in [None, Some("wrong")] {
        let (status, answer) = post(&sim, "/v1/check_transaction_by_md5", token, md5.clone()).await;
        assert_eq!(status, 401);
        assert_eq!(
            answer,
            json!({"responseCode": 1, "responseMessage": "Unauthorized", "errorCode": 6,
                   "data": null})
        );
    }

    let (status, answer) = post(
        &sim,
        "/v1/check_transaction_by_md5",
        Some(BAKONG_TOKEN),
        md5.clone(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"responseCode": 1,
               "responseMessage": "Transaction could not be found. Please check and try again.",
               "errorCode": 1, "data": null})
    );

    pay(&sim, &qr.qr).await;
    let response = http()
        .post(sim.join("/v1/check_transaction_by_md5").unwrap())
        .bearer_auth(BAKONG_TOKEN)
        .json(&md5)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    // A bare JSON number, as Bakong writes it, with the QR's scale.
    assert!(text.contains(r#""amount":1.50"#), "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["responseCode"], 0);
    assert_eq!(answer["errorCode"], Value::Null);
    for field in [
        "hash",
        "fromAccountId",
        "toAccountId",
        "currency",
        "createdDateMs",
        "acknowledgedDateMs",
        "externalRef",
    ] {
        assert!(!answer["data"][field].is_null(), "{field}: {answer}");
    }

    let (status, answer) = post(
        &sim,
        "/v1/check_transaction_by_md5_list",
        Some(BAKONG_TOKEN),
        json!([qr.md5, "0".repeat(32)]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"][0]["status"], "SUCCESS");
    assert_eq!(answer["data"][0]["data"]["amount"], json!(1.5));
    assert_eq!(answer["data"][1]["status"], "NOT_FOUND");
    assert_eq!(answer["data"][1]["data"], Value::Null);
}

#[tokio::test]
async fn malformed_or_oversized_open_api_requests_get_error_code_5() {
    let sim = sim().await;
    let too_many: Vec<String> = (0..51).map(|i| format!("{i:032x}")).collect();
    for (path, body) in [
        ("/v1/check_transaction_by_md5_list", json!(too_many)),
        ("/v1/check_transaction_by_md5_list", json!({"md5": "x"})),
        ("/v1/check_transaction_by_md5", json!({})),
        ("/v1/check_transaction_by_md5", json!({"md5": ""})),
        ("/v1/check_transaction_by_hash", json!({"hash": 5})),
    ] {
        let (status, answer) = post(&sim, path, Some(BAKONG_TOKEN), body).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(answer["responseCode"], 1, "{path}");
        assert_eq!(answer["errorCode"], 5, "{path}");
    }
    // The client's view of a refused list: a plain, non-retryable status error.
    let client = BakongClient::new(
        sim.clone(),
        SecretString::from(BAKONG_TOKEN),
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(
        client.check_by_md5_list(&too_many).await.is_ok(),
        "the client chunks"
    );
}

#[tokio::test]
async fn control_refuses_unknown_or_out_of_bounds_knobs() {
    let sim = sim().await;
    let (status, _) = post(&sim, "/bakong/sim/control", None, json!({"fail_nxt": 1})).await;
    assert_eq!(status, 400);
    for knobs in [
        json!({"fail_next": 1_001}),
        json!({"rate_limit_next": 5_000}),
        json!({"delay_ms": 600_000}),
        json!({"retry_after_s": 86_400}),
    ] {
        let (status, problem) = post(&sim, "/bakong/sim/control", None, knobs.clone()).await;
        assert_eq!(status, 422, "{knobs}");
        assert_eq!(problem["code"], "validation_failed");
    }
    let (status, state) = post(&sim, "/bakong/sim/control", None, json!({"fail_next": 2})).await;
    assert_eq!(status, 200);
    assert_eq!(state["fail_next"], 2);
    assert_eq!(state["unauthorized"], false);
    assert_eq!(state["retry_after_s"], 1);
}

/// Starts the real binary with `BAKONG_API_TOKEN` set (or not) and returns its base URL.
fn start_binary(token: Option<&str>) -> (std::process::Child, Url) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bank-sim"));
    command
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("CALLBACK_BASE_URL", "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    match token {
        Some(token) => command.env("BAKONG_API_TOKEN", token),
        None => command.env_remove("BAKONG_API_TOKEN"),
    };
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("bank-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    (child, Url::parse(address).unwrap())
}

#[tokio::test]
async fn bank_sim_reads_bakong_api_token_with_a_documented_default() {
    for (configured, accepted) in [
        (None, DEFAULT_SIM_TOKEN),
        (Some("ops-token-1"), "ops-token-1"),
    ] {
        let (mut child, sim) = start_binary(configured);
        let md5 = "0".repeat(32);
        let good = BakongClient::new(
            sim.clone(),
            SecretString::from(accepted),
            Duration::from_secs(5),
        )
        .unwrap();
        let outcome = good.check_by_md5(&md5).await;
        let bad = BakongClient::new(sim, SecretString::from("nope"), Duration::from_secs(5))
            .unwrap()
            .check_by_md5(&md5)
            .await;
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(outcome, Ok(None), "{configured:?}");
        assert_eq!(bad, Err(AdapterError::Unauthorized), "{configured:?}");
    }
}
