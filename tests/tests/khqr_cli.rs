//! `payments khqr encode|decode` driven as outside conformance tests drive it: the real binary,
//! JSON on stdin, every record of the vector file made with the official SDK.

use crate::support::run_with_stdin;
use serde_json::{json, Value};

fn vectors() -> Vec<Value> {
    let path = crate::support::workspace_dir().join("bank-adapters/tests/data/khqr-vectors.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn cli_input(record: &Value) -> Value {
    let mut input = record["input"].clone();
    input["type"] = record["type"].clone();
    input
}

/// Spawning a process per case is the point here; run them a few at a time.
async fn run_all<F, Fut>(records: Vec<Value>, check: F) -> Vec<String>
where
    F: Fn(Value) -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let mut failures = Vec::new();
    for chunk in records.chunks(8) {
        let results = futures_join(chunk.iter().cloned().map(&check).collect()).await;
        failures.extend(results.into_iter().flatten());
    }
    failures
}

async fn futures_join<Fut: std::future::Future>(futures: Vec<Fut>) -> Vec<Fut::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await);
    }
    outputs
}

#[tokio::test]
async fn encode_matches_every_generate_vector_byte_for_byte() {
    let records: Vec<Value> = vectors()
        .into_iter()
        .filter(|record| record["kind"] == "generate")
        .collect();
    assert!(records.len() >= 150);
    let failures = run_all(records, |record| async move {
        let now = record["clock_ms"].as_i64().unwrap().to_string();
        let stdin = serde_json::to_vec(&cli_input(&record)).unwrap();
        let (code, stdout, stderr) = run_with_stdin(
            "payments",
            &["khqr", "encode", "--now", &now],
            &[],
            Some(&stdin),
        )
        .await;
        let out: Value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        (code != 0
            || out["qr"] != record["expected"]["qr"]
            || out["md5"] != record["expected"]["md5"])
            .then(|| format!("{}: exit {code}, {stdout} {stderr}", record["id"]))
    })
    .await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn encode_refuses_every_generate_error_vector_with_the_sdk_code() {
    let records: Vec<Value> = vectors()
        .into_iter()
        .filter(|record| {
            record["kind"] == "generate_error"
                && record["expected_error"]["code"].is_number()
                && record.get("mutation").is_none()
        })
        .collect();
    assert!(records.len() >= 35);
    let failures = run_all(records, |record| async move {
        let stdin = serde_json::to_vec(&cli_input(&record)).unwrap();
        let (code, stdout, _) = run_with_stdin(
            "payments",
            &["khqr", "encode", "--now", "1767225600000"],
            &[],
            Some(&stdin),
        )
        .await;
        let out: Value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        (code != 1 || out["error_code"] != record["expected_error"]["code"]).then(|| {
            format!(
                "{}: exit {code}, {stdout}, expected {}",
                record["id"], record["expected_error"]["code"]
            )
        })
    })
    .await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn decode_gives_the_sdk_verdict_and_fields_for_every_decode_vector() {
    let records: Vec<Value> = vectors()
        .into_iter()
        .filter(|record| record["kind"] == "decode_verify")
        .collect();
    let failures = run_all(records, |record| async move {
        let now = record["clock_ms"].as_i64().unwrap().to_string();
        let qr = record["input"]["qr"].as_str().unwrap().to_owned();
        let (code, stdout, _) = run_with_stdin(
            "payments",
            &["khqr", "decode", &qr, "--now", &now],
            &[],
            None,
        )
        .await;
        let out: Value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        let expected = &record["expected"]["verify_isValid"];
        // Where the SDK hangs ("TIMEOUT") we must answer, and refuse.
        let expected_valid = expected.as_bool().unwrap_or(false);
        if out["valid"] != json!(expected_valid) || code != if expected_valid { 0 } else { 1 } {
            return Some(format!(
                "{}: exit {code}, valid {}, expected {expected}",
                record["id"], out["valid"]
            ));
        }
        if expected_valid {
            let fields = &record["expected"]["decode"]["data"];
            for (name, value) in fields.as_object().unwrap() {
                if &out[name] != value {
                    return Some(format!(
                        "{}: field {name} is {}, SDK says {value}",
                        record["id"], out[name]
                    ));
                }
            }
        }
        None
    })
    .await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let (code, _, _) =
        run_with_stdin("payments", &["khqr", "encode"], &[], Some(b"not json")).await;
    assert_eq!(code, 2);
    let (code, _, _) = run_with_stdin("payments", &["khqr", "decode"], &[], None).await;
    assert_eq!(code, 2);
    let (code, stdout, _) = run_with_stdin(
        "payments",
        &["khqr", "decode", &"3".repeat(100_000)],
        &[],
        None,
    )
    .await;
    assert_eq!(
        code,
        1,
        "a huge input is answered, not hung on: {}",
        &stdout[..stdout.len().min(200)]
    );
}
