//! KHQR conformance against the vectors made with the official SDK (`bakong-khqr@1.0.20`).
//!
//! The fixture is a copy of `/work/shared/data/khqr-vectors.json` so that CI is self-contained.
//! Each test walks every record of one kind, prints its counts and lists every failing id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Reading a `serde_json::Value` by key yields `Null` for a missing key; it does not panic.
#![allow(clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use bank_adapters::khqr::cli::{decode_command, encode_command};
use bank_adapters::khqr::{self, KhqrError, SdkRequest};
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/khqr-vectors.json");

fn records(kind: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(FIXTURE).expect("read the KHQR vector fixture");
    let all: Vec<Value> = serde_json::from_str(&text).expect("the fixture is a JSON array");
    all.into_iter()
        .filter(|record| record["kind"] == kind)
        .collect()
}

fn id(record: &Value) -> String {
    record["id"].as_str().unwrap_or("?").to_owned()
}

fn clock_ms(record: &Value) -> i64 {
    record["clock_ms"].as_i64().expect("clock_ms")
}

/// The CLI's input for a generate-kind record: its `input` plus `type`.
fn cli_input(record: &Value) -> String {
    let mut input = record["input"].clone();
    input["type"] = record["type"].clone();
    input.to_string()
}

fn report(kind: &str, total: usize, counts: &[(&str, usize)], failures: &[String]) {
    let counts: Vec<String> = counts
        .iter()
        .map(|(name, n)| format!("{name}={n}"))
        .collect();
    println!(
        "{kind}: {}/{total} pass ({})",
        total - failures.len(),
        counts.join(", ")
    );
    for failure in failures {
        println!("  FAIL {failure}");
    }
    assert!(
        failures.is_empty(),
        "{} {kind} vectors fail",
        failures.len()
    );
}

#[test]
fn generate_vectors_are_byte_identical() {
    let records = records("generate");
    assert!(!records.is_empty());
    let mut failures = Vec::new();
    for record in &records {
        if let Err(problem) = check_generate(record) {
            failures.push(format!("{}: {problem}", id(record)));
        }
    }
    report("generate", records.len(), &[], &failures);
}

fn check_generate(record: &Value) -> Result<(), String> {
    let expected = &record["expected"];
    let output = encode_command(&cli_input(record), clock_ms(record));
    if output.exit_code != 0 {
        return Err(format!("exit {} {}", output.exit_code, output.stdout));
    }
    if output.stdout["qr"] != expected["qr"] {
        return Err(format!("qr {} != {}", output.stdout["qr"], expected["qr"]));
    }
    if output.stdout["md5"] != expected["md5"] {
        return Err(format!(
            "md5 {} != {}",
            output.stdout["md5"], expected["md5"]
        ));
    }
    let qr = expected["qr"].as_str().unwrap_or_default();
    let decoded = khqr::decode(qr).map_err(|error| format!("decode: {error}"))?;
    let decoded = serde_json::to_value(&decoded).unwrap();
    if decoded != record["sdk_decode"] {
        return Err(format!("decoded {decoded} != {}", record["sdk_decode"]));
    }
    let verification = khqr::verify(qr, clock_ms(record));
    if Value::Bool(verification.is_valid()) != record["sdk_verify_at_clock"] {
        return Err(format!("verify at clock: {:?}", verification.error));
    }
    Ok(())
}

#[test]
fn generate_error_vectors_give_the_sdk_code() {
    let records = records("generate_error");
    assert!(!records.is_empty());
    let (mut plain, mut constructor, mut mutation, mut unrepresentable) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for record in &records {
        let tags = record["tags"].as_array().cloned().unwrap_or_default();
        let result = if record["expected_error"]["thrown_by_constructor"].is_string() {
            constructor += 1;
            check_constructor_throw(record)
        } else if tags.iter().any(|tag| tag == "post_construction_mutation") {
            mutation += 1;
            match check_mutation(record) {
                Ok(Some(())) => Ok(()),
                Ok(None) => {
                    unrepresentable += 1;
                    Ok(())
                }
                Err(problem) => Err(problem),
            }
        } else {
            plain += 1;
            check_generate_error(record)
        };
        if let Err(problem) = result {
            failures.push(format!("{}: {problem}", id(record)));
        }
    }
    report(
        "generate_error",
        records.len(),
        &[
            ("plain", plain),
            ("thrown_by_constructor", constructor),
            ("post_construction_mutation", mutation),
            ("mutation_unrepresentable_in_typed_api", unrepresentable),
        ],
        &failures,
    );
}

fn check_generate_error(record: &Value) -> Result<(), String> {
    let expected = &record["expected_error"];
    let output = encode_command(&cli_input(record), clock_ms(record));
    if output.exit_code != 1 {
        return Err(format!("exit {} {}", output.exit_code, output.stdout));
    }
    if output.stdout["error_code"] != expected["code"] {
        return Err(format!("got {} want {}", output.stdout, expected));
    }
    if output.stdout["message"] != expected["message"] {
        return Err(format!(
            "message {} want {}",
            output.stdout["message"], expected["message"]
        ));
    }
    Ok(())
}

/// The SDK's constructor throws a bare string (no error code): we answer exit 1 with our
/// code 109 ("... must be a string").
fn check_constructor_throw(record: &Value) -> Result<(), String> {
    let output = encode_command(&cli_input(record), clock_ms(record));
    let want = KhqrError::InvalidFieldType { field: "" }.code();
    if output.exit_code != 1 || output.stdout["error_code"] != want {
        return Err(format!("exit {} {}", output.exit_code, output.stdout));
    }
    Ok(())
}

/// Applies `info.FIELD = VALUE` to the typed request. `Ok(None)`: the typed API cannot hold
/// the mutated value (for example an empty currency), which is the point of typing it.
fn check_mutation(record: &Value) -> Result<Option<()>, String> {
    let mutation = record["mutation"].as_str().unwrap_or_default();
    let (field, literal) = parse_mutation(mutation).ok_or(format!("mutation {mutation}"))?;
    let input: Value = serde_json::from_str(&cli_input(record)).unwrap();
    let sdk = SdkRequest::from_json(&input).map_err(|error| error.to_string())?;
    let text = match literal.as_str() {
        "null" | "undefined" => None,
        quoted => Some(quoted.trim_matches(|c| c == '\'' || c == '"').to_owned()),
    };
    let mut request = sdk.to_request();
    let slot = match field.as_str() {
        "merchantCategoryCode" => &mut request.mcc,
        "billNumber" => &mut request.bill_number,
        "mobileNumber" => &mut request.mobile_number,
        "storeLabel" => &mut request.store_label,
        "terminalLabel" => &mut request.terminal_label,
        "purposeOfTransaction" => &mut request.purpose_of_transaction,
        "languagePreference" => &mut request.language_preference,
        "merchantNameAlternateLanguage" => &mut request.merchant_name_alternate_language,
        "merchantCityAlternateLanguage" => &mut request.merchant_city_alternate_language,
        "upiMerchantAccount" => &mut request.upi_merchant_account,
        _ => return Ok(None),
    };
    *slot = text;
    let want = record["expected_error"]["code"].as_u64();
    match sdk.encode_request(&request, clock_ms(record)) {
        Err(error) if Some(u64::from(error.code())) == want => Ok(Some(())),
        other => Err(format!("got {other:?}, want code {want:?}")),
    }
}

fn parse_mutation(mutation: &str) -> Option<(String, String)> {
    let start = mutation.find("info.")? + "info.".len();
    let rest = mutation.get(start..)?;
    let (field, rest) = rest.split_once('=')?;
    let literal = rest.split(';').next()?.trim();
    Some((field.trim().to_owned(), literal.to_owned()))
}

#[test]
fn sdk_quirks_are_refused_or_identical() {
    let records = records("sdk_quirk");
    assert!(!records.is_empty());
    let (mut refused, mut identical, mut qr_refused) = (0, 0, 0);
    let mut failures = Vec::new();
    for record in &records {
        let expected_qr = record["expected"]["qr"].as_str();
        let output = encode_command(&cli_input(record), clock_ms(record));
        let outcome = match (output.exit_code, expected_qr) {
            (1, _) => {
                refused += 1;
                Ok(())
            }
            (0, Some(qr)) if output.stdout["qr"] == qr => {
                identical += 1;
                let verified = khqr::verify(qr, clock_ms(record));
                if verified.is_valid() {
                    Ok(())
                } else {
                    Err(format!(
                        "our own output does not verify: {:?}",
                        verified.error
                    ))
                }
            }
            _ => Err(format!("exit {} {}", output.exit_code, output.stdout)),
        };
        // The SDK's output for a quirk must never hang or panic our verifier.
        if let Some(qr) = expected_qr {
            let start = Instant::now();
            if !khqr::verify(qr, clock_ms(record)).is_valid() {
                qr_refused += 1;
            }
            assert!(start.elapsed() < Duration::from_secs(1));
        }
        if let Err(problem) = outcome {
            failures.push(format!("{}: {problem}", id(record)));
        }
    }
    report(
        "sdk_quirk",
        records.len(),
        &[
            ("refused", refused),
            ("identical_and_valid", identical),
            ("sdk_qr_refused_by_verify", qr_refused),
        ],
        &failures,
    );
}

#[test]
fn decode_verify_vectors_match_the_sdk() {
    let records = records("decode_verify");
    assert!(!records.is_empty());
    let (mut same, mut timeout_refused) = (0, 0);
    let mut failures = Vec::new();
    for record in &records {
        match check_decode_verify(record) {
            Ok(true) => timeout_refused += 1,
            Ok(false) => same += 1,
            Err(problem) => failures.push(format!("{}: {problem}", id(record))),
        }
    }
    report(
        "decode_verify",
        records.len(),
        &[
            ("same_as_sdk", same),
            ("sdk_timeout_refused", timeout_refused),
        ],
        &failures,
    );
}

/// `Ok(true)` when the SDK hung and we refused quickly.
fn check_decode_verify(record: &Value) -> Result<bool, String> {
    let qr = record["input"]["qr"].as_str().unwrap_or_default();
    let expected = &record["expected"];
    let start = Instant::now();
    let verification = khqr::verify(qr, clock_ms(record));
    let output = decode_command(qr, clock_ms(record));
    if start.elapsed() > Duration::from_secs(1) {
        return Err("took more than a second".to_owned());
    }
    if output.stdout["valid"] != Value::Bool(verification.is_valid()) {
        return Err("CLI and verify disagree".to_owned());
    }
    if expected["verify_isValid"] == "TIMEOUT" || expected["decode"] == "TIMEOUT" {
        return match verification.error {
            Some(_) if output.exit_code == 1 => Ok(true),
            _ => Err("the SDK hangs on this input; we must refuse it".to_owned()),
        };
    }
    if Value::Bool(verification.is_valid()) != expected["verify_isValid"] {
        return Err(format!(
            "verdict: ours {:?}, SDK {}",
            verification.error, expected["verify_reason"]
        ));
    }
    let reason = &expected["verify_reason"];
    if reason["reason"] == "validation_error" {
        let code = verification.error.as_ref().map(KhqrError::code);
        if reason["errorCode"].as_u64() != code.map(u64::from) {
            return Err(format!("error code: ours {code:?}, SDK {reason}"));
        }
    } else if !reason.is_null()
        && Some(reason["reason"].as_str().unwrap_or_default()) != verification.reason()
    {
        return Err(format!(
            "reason: ours {:?}, SDK {reason}",
            verification.reason()
        ));
    }
    let decoded = verification.decoded.as_ref().ok_or("no decoded fields")?;
    let decoded = serde_json::to_value(decoded).unwrap();
    if decoded != expected["decode"]["data"] {
        return Err(format!(
            "decoded {decoded} != {}",
            expected["decode"]["data"]
        ));
    }
    Ok(false)
}
