//! The `bank-sim` binary: readiness line, routes, and a graceful stop on SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn starts_announces_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bank-sim"))
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("CALLBACK_BASE_URL", "http://127.0.0.1:9")
        .env("SANDBOX_CALLBACK_SECRET", "binary-test-secret")
        .env("LOG_FORMAT", "json")
        .env_remove("PUBLIC_BASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("bank-sim listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let health = http
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(health.text().await.unwrap(), "ok");

        let created: serde_json::Value = http
            .post(format!("http://{address}/sandbox/payments"))
            .json(
                &serde_json::json!({"provider_reference": "att_bin", "amount": "4000",
                "currency": "KHR", "description": "Copy of a permit",
                "expires_at": "2030-01-01T00:00:00Z"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // PUBLIC_BASE_URL defaults to the bound address.
        assert_eq!(
            created["checkout_url"],
            format!("http://{address}/sandbox/checkout/att_bin")
        );
    });

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut waited = None;
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            waited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = waited else {
        child.kill().unwrap();
        panic!("bank-sim did not stop within 5 s of SIGTERM");
    };
    assert!(status.success(), "bank-sim exited with {status}");

    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "stdout carries only the readiness line");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(
        logs.lines().any(|line| line.starts_with('{')),
        "JSON logs: {logs}"
    );
    assert!(
        !logs.contains("binary-test-secret"),
        "the secret never reaches the log"
    );
}
