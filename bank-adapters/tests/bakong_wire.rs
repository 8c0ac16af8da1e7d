//! Bakong's documented and captured answers, read without losing a digit of any amount.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::str::FromStr as _;

use bank_adapters::bakong::{
    parse_md5_list_response, parse_transaction_response, BakongTransaction, Md5Status,
};
use bank_adapters::error::AdapterError;
use rust_decimal::Decimal;

/// A found payment in the shape captured from the real API (BANKS.md; public integrations),
/// with the amount spliced in as raw JSON number text.
fn found(amount: &str) -> String {
    format!(
        r#"{{
  "responseCode": 0,
  "responseMessage": "Success",
  "errorCode": null,
  "data": {{
    "hash": "8608b339522a4c5e9e0f6a014030a39f6026d69770924dab5c1e3f2a7b8c9d0e",
    "fromAccountId": "abaakhppxxx@abaa",
    "toAccountId": "owso_0320@aclb",
    "currency": "USD",
    "amount": {amount},
    "description": null,
    "createdDateMs": 1761154142000,
    "acknowledgedDateMs": 1761154143000,
    "trackingStatus": null,
    "receiverBank": null,
    "receiverBankAccount": null,
    "instructionRef": null,
    "externalRef": "100FT35781491692"
  }}
}}"#
    )
}

fn transaction(body: &str) -> BakongTransaction {
    parse_transaction_response(body.as_bytes())
        .unwrap()
        .unwrap()
}

#[test]
fn a_found_payment_reads_every_field() {
    let paid = transaction(&found("1.50"));
    assert_eq!(
        paid,
        BakongTransaction {
            hash: "8608b339522a4c5e9e0f6a014030a39f6026d69770924dab5c1e3f2a7b8c9d0e".to_owned(),
            from_account_id: Some("abaakhppxxx@abaa".to_owned()),
            to_account_id: "owso_0320@aclb".to_owned(),
            currency: "USD".to_owned(),
            amount: Decimal::from_str("1.50").unwrap(),
            description: None,
            created_date_ms: 1_761_154_142_000,
            acknowledged_date_ms: Some(1_761_154_143_000),
            external_ref: Some("100FT35781491692".to_owned()),
        }
    );
}

#[test]
fn amounts_keep_every_digit() {
    for (raw, expected) in [
        ("1.50", "1.50"),
        ("100", "100"),
        ("1", "1"),
        ("0.1", "0.1"),
        ("0.01", "0.01"),
        ("4400", "4400"),
        ("1234567.89", "1234567.89"),
        // 0.1 + 0.2 as a double prints like this; read as text it stays what was written.
        ("0.30000000000000004", "0.30000000000000004"),
        ("99999999.99", "99999999.99"),
        ("9007199254740993", "9007199254740993"),
        ("1.0E7", "10000000"),
    ] {
        let amount = transaction(&found(raw)).amount;
        assert_eq!(amount.to_string(), expected, "{raw}");
        assert_eq!(amount, Decimal::from_str(expected).unwrap(), "{raw}");
    }
    // Through f64 these would not survive: 1234567.89 and 9007199254740993 are not doubles.
    assert_ne!(
        format!("{}", "9007199254740993".parse::<f64>().unwrap()),
        "9007199254740993"
    );
}

#[test]
fn not_found_is_none_and_not_an_error() {
    let body = r#"{"responseCode":1,"responseMessage":"Transaction could not be found. Please check and try again.","errorCode":1,"data":null}"#;
    assert_eq!(parse_transaction_response(body.as_bytes()), Ok(None));
    // A failed transaction, and an undocumented "pending" without errorCode, are not paid.
    for code in ["3", "null"] {
        let body =
            format!(r#"{{"responseCode":1,"responseMessage":"x","errorCode":{code},"data":null}}"#);
        assert_eq!(
            parse_transaction_response(body.as_bytes()),
            Ok(None),
            "{code}"
        );
    }
}

#[test]
fn error_codes_map_to_typed_errors() {
    let answer = |code: u8| {
        let body =
            format!(r#"{{"responseCode":1,"responseMessage":"m","errorCode":{code},"data":null}}"#);
        parse_transaction_response(body.as_bytes())
    };
    assert_eq!(answer(6), Err(AdapterError::Unauthorized));
    for code in [2, 5, 11, 12] {
        assert!(
            matches!(answer(code), Err(AdapterError::InvalidInput(_))),
            "{code}"
        );
    }
    let unreachable = answer(9).unwrap_err();
    assert!(unreachable.is_retryable(), "{unreachable:?}");
    for code in [4, 7, 8, 10, 13] {
        let error = answer(code).unwrap_err();
        assert!(matches!(error, AdapterError::Decode(_)), "{code}");
        assert!(!error.is_retryable());
    }
}

#[test]
fn alternative_field_spellings_and_extra_fields_are_accepted() {
    let body = found("2500")
        .replace("createdDateMs", "createDateMs")
        .replace("acknowledgedDateMs", "acknowledgeDateMs")
        .replace(
            r#""description": null"#,
            r#""description": "Cashier-01", "newField": {"a": [1]}"#,
        );
    let paid = transaction(&body);
    assert_eq!(paid.created_date_ms, 1_761_154_142_000);
    assert_eq!(paid.acknowledged_date_ms, Some(1_761_154_143_000));
    assert_eq!(paid.description.as_deref(), Some("Cashier-01"));
}

#[test]
fn unreadable_transactions_are_refused_not_guessed() {
    let bad = [
        found(r#""1.50""#),
        found("-1.50"),
        found("true"),
        found("0.12345678901234567890123456789"),
        found("1.50").replace(r#""toAccountId": "owso_0320@aclb","#, ""),
        found("1.50").replace(r#""currency": "USD""#, r#""currency": "usd""#),
        found("1.50").replace(r#""hash": "8608"#, r#""hash": "", "x": "8608"#),
        found("1.50").replace(
            r#""createdDateMs": 1761154142000"#,
            r#""createdDateMs": 1.7e12"#,
        ),
        r#"{"responseCode":0,"responseMessage":"Success","errorCode":null,"data":null}"#.to_owned(),
        "not json".to_owned(),
    ];
    for body in bad {
        let outcome = parse_transaction_response(body.as_bytes());
        assert!(
            matches!(outcome, Err(AdapterError::Decode(_))),
            "{body}: {outcome:?}"
        );
    }
}

#[test]
fn a_list_answer_reads_each_status() {
    let paid = r#"{"hash":"ab12","fromAccountId":"payer@abaa","toAccountId":"owso_0320@aclb","currency":"KHR","amount":600000,"description":null,"createdDateMs":1761154142000,"acknowledgedDateMs":1761154143000}"#;
    let body = format!(
        r#"{{"responseCode":0,"responseMessage":"Success","errorCode":null,"data":[
        {{"md5":"a","status":"SUCCESS","message":"Success","data":{paid}}},
        {{"md5":"b","status":"NOT_FOUND","message":"Transaction could not be found.","data":null}},
        {{"md5":"c","status":"STATIC_QR","message":"static","data":null}},
        {{"md5":"d","status":"FAILED","message":"failed","data":null}},
        {{"md5":"e","status":"PENDING","message":"new","data":{paid}}}]}}"#
    );
    let entries = parse_md5_list_response(body.as_bytes()).unwrap();
    let statuses: Vec<(&str, &Md5Status, bool)> = entries
        .iter()
        .map(|entry| {
            (
                entry.md5.as_str(),
                &entry.status,
                entry.transaction.is_some(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("a", &Md5Status::Success, true),
            ("b", &Md5Status::NotFound, false),
            ("c", &Md5Status::StaticQr, false),
            ("d", &Md5Status::Failed, false),
            // Only SUCCESS confirms a payment, whatever data comes with another status.
            ("e", &Md5Status::Other("PENDING".to_owned()), false),
        ]
    );
    assert_eq!(
        entries[0].transaction.as_ref().unwrap().amount,
        Decimal::from(600_000)
    );
}

#[test]
fn a_list_answer_that_cannot_confirm_is_an_error() {
    // A SUCCESS item without a transaction confirms nothing: it is that md5's answer, read
    // as undecodable (never as paid), and the call's other items stay usable.
    let success_without_data = r#"{"responseCode":0,"responseMessage":"Success","errorCode":null,"data":[{"md5":"a","status":"SUCCESS","message":"Success","data":null}]}"#;
    let entries = parse_md5_list_response(success_without_data.as_bytes()).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].md5, "a");
    assert!(entries[0].transaction.is_none());
    assert!(entries[0].undecodable.is_some());
    let unauthorized =
        r#"{"responseCode":1,"responseMessage":"Unauthorized","errorCode":6,"data":null}"#;
    assert_eq!(
        parse_md5_list_response(unauthorized.as_bytes()),
        Err(AdapterError::Unauthorized)
    );
    let no_data = r#"{"responseCode":0,"responseMessage":"Success","errorCode":null,"data":null}"#;
    assert!(matches!(
        parse_md5_list_response(no_data.as_bytes()),
        Err(AdapterError::Decode(_))
    ));
}

#[test]
fn one_unreadable_list_item_spoils_only_itself() {
    let paid = r#"{"hash":"ab12","fromAccountId":"payer@abaa","toAccountId":"owso_0320@aclb","currency":"KHR","amount":600000,"description":null,"createdDateMs":1761154142000,"acknowledgedDateMs":1761154143000}"#;
    let body = format!(
        r#"{{"responseCode":0,"responseMessage":"Success","errorCode":null,"data":[
        {{"md5":"a","status":"SUCCESS","message":"Success","data":{paid}}},
        {{"md5":"b","status":"SUCCESS","message":"Success","data":{{"hash":42,"amount":"lots"}}}},
        {{"md5":"c","status":"SUCCESS","message":"Success","data":{}}},
        {{"md5":"d","status":7}},
        {{"no md5":true}},
        {{"md5":"e","status":"NOT_FOUND","message":"not found","data":null}}]}}"#,
        paid.replace(r#""toAccountId":"owso_0320@aclb","#, "")
    );
    let entries = parse_md5_list_response(body.as_bytes()).unwrap();
    let read: Vec<(&str, bool, bool)> = entries
        .iter()
        .map(|entry| {
            (
                entry.md5.as_str(),
                entry.transaction.is_some(),
                entry.undecodable.is_some(),
            )
        })
        .collect();
    assert_eq!(
        read,
        vec![
            ("a", true, false),
            // Not Bakong's shape at all.
            ("b", false, true),
            // Bakong's shape, but no payee: nothing to check the office's account against.
            ("c", false, true),
            ("d", false, true),
            // Not even an md5 to pin it on.
            ("", false, true),
            ("e", false, false),
        ]
    );
    assert_eq!(
        entries[0].transaction.as_ref().unwrap().amount,
        Decimal::from(600_000)
    );
    // The envelope itself must still be Bakong's.
    assert!(matches!(
        parse_md5_list_response(br#"{"responseCode":0,"data":"nope"}"#),
        Err(AdapterError::Decode(_))
    ));
}
