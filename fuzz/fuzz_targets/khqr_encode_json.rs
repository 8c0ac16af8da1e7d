//! The CLI encoder on arbitrary JSON: never a panic; every QR it emits verifies.
#![no_main]

use bank_adapters::khqr;
use libfuzzer_sys::fuzz_target;

const NOW_MS: i64 = 1_767_225_600_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let output = khqr::cli::encode_command(&text, NOW_MS);
    if output.exit_code == 0 {
        let qr = output.stdout["qr"]
            .as_str()
            .expect("a success carries the QR");
        let verification = khqr::verify(qr, NOW_MS);
        assert!(verification.is_valid(), "{qr}: {:?}", verification.error);
    }
});
