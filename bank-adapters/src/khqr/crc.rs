//! Checksums of a KHQR string: the CRC in tag 63 and the md5 Bakong looks payments up by.

use md5::{Digest as _, Md5};

/// CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR).
#[must_use]
pub fn crc16_ccitt_false(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
        }
    }
    crc
}

/// The tag-63 value for `payload`: 4 uppercase hexadecimal digits of the CRC of its UTF-8 bytes.
///
/// `payload` is everything up to and including `6304`.
#[must_use]
pub fn crc_hex(payload: &str) -> String {
    format!("{:04X}", crc16_ccitt_false(payload.as_bytes()))
}

/// Lowercase hexadecimal MD5 of the UTF-8 bytes of `qr`: the key of Bakong's
/// `/v1/check_transaction_by_md5`.
#[must_use]
pub fn md5_hex(qr: &str) -> String {
    hex::encode(Md5::digest(qr.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
    }

    #[test]
    fn md5_is_lowercase_hex() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
