//! The strict KHQR decoder on arbitrary input: it must answer every string, quickly, without
//! panicking, and a string it accepts must re-verify and decode to the same fields.
#![no_main]

use bank_adapters::khqr;
use libfuzzer_sys::fuzz_target;

const NOW_MS: i64 = 1_767_225_600_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let verification = khqr::verify(&text, NOW_MS);
    let decoded = khqr::decode(&text);
    let _ = khqr::inspect(&text);
    let _ = khqr::cli::decode_command(&text, NOW_MS);
    if verification.is_valid() {
        let decoded = decoded.expect("a QR that verifies also decodes");
        assert_eq!(Some(decoded), verification.decoded);
    }
});
