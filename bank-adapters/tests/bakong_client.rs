//! `BakongClient` against the Bakong simulator on a real socket, and its failure modes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::str::FromStr as _;
use std::time::Duration;

use bank_adapters::bakong::{BakongClient, Md5Status};
use bank_adapters::error::AdapterError;
use bank_adapters::khqr::{encode, md5_hex, AccountKind, Currency, Khqr, KhqrRequest};
use common::{closed_port_url, http, start_sim, BAKONG_TOKEN};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{json, Value};
use url::Url;

const OFFICE_ACCOUNT: &str = "owso_0320@aclb";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A dynamic KHQR for the office, valid for ten minutes.
fn office_qr(currency: Currency, amount: &str, bill_number: &str) -> Khqr {
    let mut request = KhqrRequest::new(
        AccountKind::Individual {
            account_information: None,
            acquiring_bank: None,
        },
        OFFICE_ACCOUNT,
        "OWSO Kampong Cham",
    );
    request.currency = currency;
    request.amount = Some(Decimal::from_str(amount).unwrap());
    request.expiration_ms = Some(now_ms() + 600_000);
    request.bill_number = Some(bill_number.to_owned());
    encode(&request, now_ms()).unwrap()
}

async fn sim() -> Url {
    start_sim(closed_port_url().await).await
}

fn client(sim: &Url) -> BakongClient {
    client_with(sim, BAKONG_TOKEN, Duration::from_secs(5))
}

fn client_with(sim: &Url, token: &str, timeout: Duration) -> BakongClient {
    BakongClient::new(sim.clone(), SecretString::from(token), timeout).unwrap()
}

/// The payer scans and pays; returns the simulator's answer.
async fn pay(sim: &Url, qr: &str) -> Value {
    let response = http()
        .post(sim.join("/bakong/sim/pay").unwrap())
        .json(&json!({ "qr": qr }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn control(sim: &Url, knobs: Value) -> Value {
    let response = http()
        .post(sim.join("/bakong/sim/control").unwrap())
        .json(&knobs)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn calls(sim: &Url) -> Value {
    let state: Value = http()
        .get(sim.join("/bakong/sim/control").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["calls"].clone()
}

fn unpaid_md5(index: usize) -> String {
    md5_hex(&format!("never paid {index}"))
}

#[tokio::test]
async fn an_unpaid_md5_or_hash_is_none() {
    let sim = sim().await;
    let client = client(&sim);
    assert_eq!(client.check_by_md5(&unpaid_md5(1)).await.unwrap(), None);
    assert_eq!(client.check_by_hash(&"ab".repeat(32)).await.unwrap(), None);
}

#[tokio::test]
async fn paid_qrs_are_found_with_their_exact_amounts() {
    let sim = sim().await;
    let client = client(&sim);
    for (currency, amount, code) in [
        (Currency::Khr, "600000", "KHR"),
        (Currency::Usd, "1.50", "USD"),
        (Currency::Usd, "1234567.89", "USD"),
    ] {
        let qr = office_qr(currency, amount, &format!("bill-{code}-{amount}"));
        assert_eq!(client.check_by_md5(&qr.md5).await.unwrap(), None);

        let before = now_ms();
        let paid = pay(&sim, &qr.qr).await;
        let after = now_ms();
        assert_eq!(paid["md5"], qr.md5.as_str());
        assert_eq!(paid["amount"], amount);
        assert_eq!(paid["currency"], code);

        let transaction = client.check_by_md5(&qr.md5).await.unwrap().unwrap();
        assert_eq!(transaction.amount, Decimal::from_str(amount).unwrap());
        // The scale survives too: 1.50 is not read back as 1.5 (or 1.4999999).
        assert_eq!(transaction.amount.to_string(), amount);
        assert_eq!(transaction.currency, code);
        assert_eq!(transaction.to_account_id, OFFICE_ACCOUNT);
        let payer = transaction.from_account_id.clone().unwrap();
        assert!(
            payer.starts_with("payer_") && payer.ends_with("@aclb"),
            "{payer}"
        );
        assert_eq!(transaction.hash, paid["hash"].as_str().unwrap());
        assert_eq!(transaction.hash.len(), 64);
        assert!((before..=after).contains(&transaction.created_date_ms));
        assert_eq!(
            transaction.acknowledged_date_ms,
            Some(transaction.created_date_ms)
        );
        assert!(transaction.external_ref.unwrap().starts_with("100FT"));

        let by_hash = client.check_by_hash(&transaction.hash).await.unwrap();
        assert_eq!(by_hash.map(|found| found.amount), Some(transaction.amount));
    }
}

#[tokio::test]
async fn a_list_of_120_md5s_goes_out_in_three_calls_and_answers_in_order() {
    let sim = sim().await;
    let client = client(&sim);
    let mut md5s: Vec<String> = (0..120).map(unpaid_md5).collect();
    let mut paid = Vec::new();
    for (position, amount) in [
        (0, "1000"),
        (49, "2500"),
        (50, "100"),
        (77, "4000"),
        (119, "900"),
    ] {
        let qr = office_qr(Currency::Khr, amount, &format!("bill-{position}"));
        pay(&sim, &qr.qr).await;
        md5s[position] = qr.md5;
        paid.push((position, amount));
    }

    let answers = client.check_by_md5_list(&md5s).await.unwrap();
    assert_eq!(calls(&sim).await["check_transaction_by_md5_list"], 3);
    assert_eq!(answers.len(), 120);
    for (index, (md5, transaction)) in answers.iter().enumerate() {
        assert_eq!(md5, &md5s[index], "answers keep the order asked");
        match paid.iter().find(|(position, _)| *position == index) {
            Some((_, amount)) => {
                let transaction = transaction.as_ref().expect("paid md5 answers Some");
                assert_eq!(transaction.amount, Decimal::from_str(amount).unwrap());
                assert_eq!(transaction.currency, "KHR");
            }
            None => assert!(transaction.is_none(), "md5 {index} was never paid"),
        }
    }

    let detailed = client
        .check_by_md5_list_detailed(&md5s[..60])
        .await
        .unwrap();
    assert_eq!(calls(&sim).await["check_transaction_by_md5_list"], 5);
    assert_eq!(detailed[49].status, Md5Status::Success);
    assert_eq!(detailed[48].status, Md5Status::NotFound);
    assert!(detailed[48].transaction.is_none());
}

#[tokio::test]
async fn duplicate_md5s_are_asked_once_and_answered_for_each() {
    let sim = sim().await;
    let client = client(&sim);
    let qr = office_qr(Currency::Usd, "12.05", "dup");
    pay(&sim, &qr.qr).await;
    let mut md5s: Vec<String> = (0..50).map(unpaid_md5).collect();
    md5s.push(qr.md5.clone());
    md5s.push(unpaid_md5(3));
    md5s.push(qr.md5.clone());
    let answers = client.check_by_md5_list(&md5s).await.unwrap();
    // 51 distinct md5s: two calls, not three.
    assert_eq!(calls(&sim).await["check_transaction_by_md5_list"], 2);
    assert_eq!(answers.len(), 53);
    assert!(answers[50].1.is_some());
    assert!(answers[51].1.is_none());
    assert_eq!(answers[52], answers[50]);
}

#[tokio::test]
async fn bad_input_is_refused_before_any_call() {
    let sim = sim().await;
    let client = client(&sim);
    assert_eq!(client.check_by_md5_list(&[]).await.unwrap(), Vec::new());
    for bad in ["", "ABCDEF0123456789ABCDEF0123456789", "0123"] {
        assert!(matches!(
            client.check_by_md5(bad).await,
            Err(AdapterError::InvalidInput(_))
        ));
        assert!(matches!(
            client
                .check_by_md5_list(&[unpaid_md5(1), bad.to_owned()])
                .await,
            Err(AdapterError::InvalidInput(_))
        ));
    }
    assert!(matches!(
        client.check_by_hash("not-a-hash").await,
        Err(AdapterError::InvalidInput(_))
    ));
    assert_eq!(
        calls(&sim).await,
        json!({"check_transaction_by_md5": 0, "check_transaction_by_md5_list": 0,
               "check_transaction_by_hash": 0, "generate_deeplink_by_qr": 0})
    );
}

#[tokio::test]
async fn a_wrong_or_expired_token_is_unauthorized_and_not_retryable() {
    let sim = sim().await;
    let wrong = client_with(&sim, "someone-elses-token", Duration::from_secs(5));
    let error = wrong.check_by_md5(&unpaid_md5(1)).await.unwrap_err();
    assert_eq!(error, AdapterError::Unauthorized);
    assert!(!error.is_retryable());
    assert_eq!(
        wrong.check_by_md5_list(&[unpaid_md5(1)]).await.unwrap_err(),
        AdapterError::Unauthorized
    );
    assert_eq!(
        wrong.check_by_hash(&"0".repeat(64)).await.unwrap_err(),
        AdapterError::Unauthorized
    );

    // The right token, expired at Bakong.
    control(&sim, json!({"unauthorized": true})).await;
    let right = client(&sim);
    assert_eq!(
        right.check_by_md5(&unpaid_md5(1)).await.unwrap_err(),
        AdapterError::Unauthorized
    );
    control(&sim, json!({"unauthorized": false})).await;
    assert_eq!(right.check_by_md5(&unpaid_md5(1)).await.unwrap(), None);
}

#[tokio::test]
async fn a_rate_limit_carries_retry_after_and_passes() {
    let sim = sim().await;
    let client = client(&sim);
    control(&sim, json!({"rate_limit_next": 2, "retry_after_s": 7})).await;
    for _ in 0..2 {
        let error = client.check_by_md5(&unpaid_md5(1)).await.unwrap_err();
        assert_eq!(
            error,
            AdapterError::RateLimited {
                retry_after_s: Some(7)
            }
        );
        assert!(error.is_retryable());
    }
    assert_eq!(client.check_by_md5(&unpaid_md5(1)).await.unwrap(), None);
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retryable() {
    let sim = sim().await;
    let client = client(&sim);
    control(&sim, json!({"fail_next": 1})).await;
    let error = client
        .check_by_md5_list(&[unpaid_md5(1)])
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::Status { status: 500, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(client.check_by_md5_list(&[unpaid_md5(1)]).await.is_ok());

    control(&sim, json!({"delay_ms": 1_500})).await;
    let impatient = client_with(&sim, BAKONG_TOKEN, Duration::from_millis(200));
    let error = impatient.check_by_md5(&unpaid_md5(1)).await.unwrap_err();
    assert_eq!(error, AdapterError::Timeout);
    assert!(error.is_retryable());
}

#[tokio::test]
async fn an_unreachable_bakong_is_a_retryable_transport_error() {
    let client = client(&closed_port_url().await);
    let error = client.check_by_md5(&unpaid_md5(1)).await.unwrap_err();
    assert!(matches!(error, AdapterError::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_malformed_list_item_spoils_only_its_own_md5() {
    let sim = sim().await;
    let client = client(&sim);
    let broken = office_qr(Currency::Khr, "600000", "broken");
    let fine = office_qr(Currency::Khr, "700000", "fine");
    pay(&sim, &broken.qr).await;
    pay(&sim, &fine.qr).await;
    let state = control(&sim, json!({"malformed_md5s": [broken.md5]})).await;
    assert_eq!(state["malformed_md5s"], json!([broken.md5]));
    let md5s = vec![broken.md5.clone(), fine.md5.clone(), unpaid_md5(1)];
    let entries = client.check_by_md5_list_detailed(&md5s).await.unwrap();
    assert!(entries[0].transaction.is_none());
    assert!(entries[0].undecodable.is_some(), "{:?}", entries[0]);
    assert_eq!(
        entries[1].transaction.as_ref().unwrap().amount,
        Decimal::from(700_000)
    );
    assert!(entries[1].undecodable.is_none());
    assert_eq!(entries[2].status, Md5Status::NotFound);
    // The simple form reads it as not paid.
    let answers = client.check_by_md5_list(&md5s).await.unwrap();
    assert!(answers[0].1.is_none() && answers[1].1.is_some());
    control(&sim, json!({"malformed_md5s": []})).await;
    let answers = client.check_by_md5_list(&md5s).await.unwrap();
    assert!(answers[0].1.is_some());
}

fn source() -> bank_adapters::bakong::SourceInfo {
    bank_adapters::bakong::SourceInfo {
        app_icon_url: "https://pay.example/assets/owso-icon.svg".to_owned(),
        app_name: "OWSO Pay".to_owned(),
        app_deep_link_callback: "https://pay.example/".to_owned(),
    }
}

#[tokio::test]
async fn a_deep_link_opens_the_qr_in_the_bank_app_and_pays_it() {
    let sim = sim().await;
    let qr = office_qr(Currency::Khr, "600000", "0320018100");
    let link = client(&sim)
        .generate_deeplink_by_qr(&qr.qr, &source())
        .await
        .unwrap();
    // On the simulator's public origin (its configured base URL, as payers reach it).
    let path = link
        .strip_prefix("http://sim.test:8081")
        .unwrap_or_else(|| panic!("on the simulator's public origin: {link}"));
    assert!(path.starts_with("/bakong/sim/deeplink/"), "{link}");
    let link = sim.join(path).unwrap();
    let page = http().get(link.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("OWSO Kampong Cham"));
    let paid = http().post(link).send().await.unwrap();
    assert_eq!(paid.status(), 200);
    assert!(client(&sim).check_by_md5(&qr.md5).await.unwrap().is_some());
}

#[tokio::test]
async fn a_deep_link_provider_failure_is_error_code_4_and_retryable() {
    let sim = sim().await;
    control(&sim, json!({"deeplink_error": true})).await;
    let qr = office_qr(Currency::Khr, "600000", "0320018101");
    let error = client(&sim)
        .generate_deeplink_by_qr(&qr.qr, &source())
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::Transport(ref message) if message.contains("errorCode 4")),
        "{error:?}"
    );
    // A QR that is not a KHQR is refused, not linked.
    control(&sim, json!({"deeplink_error": false})).await;
    let error = client(&sim)
        .generate_deeplink_by_qr("not a qr", &source())
        .await
        .unwrap_err();
    assert!(!matches!(error, AdapterError::Transport(_)), "{error:?}");
}

#[test]
fn only_http_links_are_accepted_from_bakong() {
    use bank_adapters::bakong::{deeplink_outcome, BakongEnvelope, DeeplinkData};
    let answer = |link: &str| {
        deeplink_outcome(BakongEnvelope {
            response_code: 0,
            response_message: "Success".to_owned(),
            error_code: None,
            data: Some(DeeplinkData {
                short_link: link.to_owned(),
            }),
        })
    };
    assert!(answer("https://bakong.page.link/abc").is_ok());
    for bad in [
        "javascript:alert(1)",
        "data:text/html,x",
        "https://",
        "",
        "ftp://x/y",
    ] {
        assert!(answer(bad).is_err(), "{bad}");
    }
}
