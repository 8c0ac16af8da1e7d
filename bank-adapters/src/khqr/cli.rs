//! `payments khqr encode|decode` (API.md, "KHQR tools") as pure functions: the binary only
//! reads stdin or its argument, prints [`CliOutput::stdout`] and exits with
//! [`CliOutput::exit_code`].

use serde_json::{json, Map, Value};

use super::decode::{reason_of, verify};
use super::error::KhqrError;
use super::sdk_json::{SdkInputError, SdkRequest};

/// Exit code of a success.
pub const EXIT_OK: i32 = 0;
/// Exit code of an input the SDK's rules refuse (`encode`) or a QR that does not verify
/// (`decode`).
pub const EXIT_INVALID: i32 = 1;
/// Exit code of a usage error: input that is not JSON of the expected shape.
pub const EXIT_USAGE: i32 = 2;

/// What a command prints on stdout (one JSON value) and exits with.
#[derive(Debug, Clone, PartialEq)]
pub struct CliOutput {
    /// Process exit code: [`EXIT_OK`], [`EXIT_INVALID`] or [`EXIT_USAGE`].
    pub exit_code: i32,
    /// The JSON to print.
    pub stdout: Value,
}

/// `payments khqr encode [--now MS]`: `stdin_json` is one SDK-shaped object
/// (`{"type","bakongAccountID","merchantName","merchantCity","merchantID"?,"acquiringBank"?,
/// "optional":{...}}`).
///
/// Exit 0 with `{"qr","md5"}`; exit 1 with `{"error_code","message"}`; exit 2 with
/// `{"error":"usage","message"}` when stdin is not such an object.
#[must_use]
pub fn encode_command(stdin_json: &str, now_ms: i64) -> CliOutput {
    let input: Value = match serde_json::from_str(stdin_json) {
        Ok(input) => input,
        Err(error) => return usage(format!("stdin is not one JSON object: {error}")),
    };
    let encoded = SdkRequest::from_json(&input)
        .and_then(|request| request.encode(now_ms).map_err(SdkInputError::from));
    match encoded {
        Ok(khqr) => CliOutput {
            exit_code: EXIT_OK,
            stdout: json!({ "qr": khqr.qr, "md5": khqr.md5 }),
        },
        Err(SdkInputError::Usage(message)) => usage(message),
        Err(SdkInputError::Khqr(error)) => CliOutput {
            exit_code: EXIT_INVALID,
            stdout: json!({ "error_code": error.code(), "message": error.message() }),
        },
    }
}

/// `payments khqr decode STRING [--now MS]`.
///
/// Exit 0 with `{"valid":true,"md5",...decoded fields}` (the fields under the SDK's names,
/// `crc` among them); exit 1 with `{"valid":false,"reason","message","error_code"?,"md5",...}`,
/// carrying the decoded fields whenever the string is a clean TLV list. `reason` is
/// `crc_tag_format`, `crc_mismatch`, `too_short` (no `error_code`, as the SDK has none),
/// `malformed_tlv` or `validation_error`.
#[must_use]
pub fn decode_command(qr: &str, now_ms: i64) -> CliOutput {
    let verification = verify(qr, now_ms);
    let mut out = match verification
        .decoded
        .as_ref()
        .and_then(|decoded| serde_json::to_value(decoded).ok())
    {
        Some(Value::Object(fields)) => fields,
        _ => {
            let mut fields = Map::new();
            fields.insert("crc".to_owned(), trailing_crc(qr));
            fields
        }
    };
    out.insert("valid".to_owned(), Value::Bool(verification.is_valid()));
    out.insert("md5".to_owned(), Value::String(verification.md5.clone()));
    let exit_code = match &verification.error {
        None => EXIT_OK,
        Some(error) => {
            insert_error(&mut out, error);
            EXIT_INVALID
        }
    };
    CliOutput {
        exit_code,
        stdout: Value::Object(out),
    }
}

fn insert_error(out: &mut Map<String, Value>, error: &KhqrError) {
    let reason = reason_of(error);
    out.insert("reason".to_owned(), Value::String(reason.to_owned()));
    out.insert("message".to_owned(), Value::String(error.message()));
    if !matches!(reason, "crc_tag_format" | "crc_mismatch" | "too_short") {
        out.insert("error_code".to_owned(), Value::from(error.code()));
    }
}

/// The last 4 characters when the string ends with `6304` and 4 more ASCII characters.
fn trailing_crc(qr: &str) -> Value {
    let tail = qr
        .len()
        .checked_sub(8)
        .and_then(|start| qr.get(start..))
        .filter(|tail| tail.starts_with("6304"))
        .and_then(|tail| tail.get(4..));
    tail.map_or(Value::Null, |crc| Value::String(crc.to_owned()))
}

fn usage(message: String) -> CliOutput {
    CliOutput {
        exit_code: EXIT_USAGE,
        stdout: json!({ "error": "usage", "message": message }),
    }
}
