//! Checksums of a KHQR string: the CRC in tag 63 and the md5 Bakong looks payments up by.

use std::sync::LazyLock;

use md5::{Digest as _, Md5};

/// CRC-16/CCITT-FALSE polynomial.
const POLYNOMIAL: u16 = 0x1021;

/// Slicing-by-16 tables: `TABLES[k][x]` is the CRC contribution of byte `x` followed by `k`
/// zero bytes (from a zero register).
static TABLES: LazyLock<[[u16; 256]; 16]> = LazyLock::new(tables);

/// The register after shifting 8 zero bits through `crc`.
fn shift_byte(mut crc: u16) -> u16 {
    for _ in 0..8 {
        crc = if crc & 0x8000 == 0 {
            crc << 1
        } else {
            (crc << 1) ^ POLYNOMIAL
        };
    }
    crc
}

fn tables() -> [[u16; 256]; 16] {
    let mut tables = [[0_u16; 256]; 16];
    let mut previous: Option<[u16; 256]> = None;
    for table in &mut tables {
        for (byte, slot) in (0_u16..).zip(table.iter_mut()) {
            *slot = match &previous {
                None => shift_byte(byte << 8),
                Some(previous) => {
                    let before = previous.get(usize::from(byte)).copied().unwrap_or(0);
                    (before << 8) ^ shift_byte(before & 0xFF00)
                }
            };
        }
        previous = Some(*table);
    }
    tables
}

/// `tables[slice][byte]`.
fn table_entry(tables: &[[u16; 256]; 16], slice: usize, byte: u8) -> u16 {
    tables
        .get(slice)
        .and_then(|table| table.get(usize::from(byte)))
        .copied()
        .unwrap_or(0)
}

/// CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR).
#[must_use]
pub fn crc16_ccitt_false(bytes: &[u8]) -> u16 {
    let tables: &[[u16; 256]; 16] = &TABLES;
    let entry = |slice: usize, byte: u8| table_entry(tables, slice, byte);
    let mut crc: u16 = 0xFFFF;
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        let [high, low] = crc.to_be_bytes();
        let mut next = 0;
        // Byte i of the chunk (the first two mixed with the register) is followed by
        // 15 - i bytes.
        for (index, &byte) in chunk.iter().enumerate() {
            let byte = match index {
                0 => byte ^ high,
                1 => byte ^ low,
                _ => byte,
            };
            next ^= entry(15_usize.saturating_sub(index), byte);
        }
        crc = next;
    }
    for &byte in chunks.remainder() {
        let [high, _] = crc.to_be_bytes();
        crc = (crc << 8) ^ entry(0, high ^ byte);
    }
    crc
}

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_digit(digits: &[u8; 16], nibble: u8) -> u8 {
    digits
        .get(usize::from(nibble & 0xF))
        .copied()
        .unwrap_or(b'0')
}

/// The 4 uppercase hexadecimal digits of `crc`.
pub(crate) fn crc_hex_bytes(crc: u16) -> [u8; 4] {
    let [high, low] = crc.to_be_bytes();
    [
        hex_digit(UPPER_HEX, high >> 4),
        hex_digit(UPPER_HEX, high),
        hex_digit(UPPER_HEX, low >> 4),
        hex_digit(UPPER_HEX, low),
    ]
}

/// Appends the tag-63 value for the payload `out` holds (everything up to and including
/// `6304`) to `out`.
pub(crate) fn push_crc(out: &mut String) {
    let digits = crc_hex_bytes(crc16_ccitt_false(out.as_bytes()));
    for digit in digits {
        out.push(char::from(digit));
    }
}

/// The tag-63 value for `payload`: 4 uppercase hexadecimal digits of the CRC of its UTF-8 bytes.
///
/// `payload` is everything up to and including `6304`.
#[must_use]
pub fn crc_hex(payload: &str) -> String {
    crc_hex_bytes(crc16_ccitt_false(payload.as_bytes()))
        .into_iter()
        .map(char::from)
        .collect()
}

/// Lowercase hexadecimal MD5 of the UTF-8 bytes of `qr`: the key of Bakong's
/// `/v1/check_transaction_by_md5`.
#[must_use]
pub fn md5_hex(qr: &str) -> String {
    let digest = Md5::digest(qr.as_bytes());
    let mut text = [0_u8; 32];
    for (pair, byte) in text.chunks_exact_mut(2).zip(digest) {
        if let [high, low] = pair {
            *high = hex_digit(LOWER_HEX, byte >> 4);
            *low = hex_digit(LOWER_HEX, byte);
        }
    }
    // Hex digits are ASCII: always valid UTF-8.
    std::str::from_utf8(&text)
        .map(str::to_owned)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitwise(bytes: &[u8]) -> u16 {
        let mut crc: u16 = 0xFFFF;
        for &byte in bytes {
            crc ^= u16::from(byte) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 == 0 {
                    crc << 1
                } else {
                    (crc << 1) ^ POLYNOMIAL
                };
            }
        }
        crc
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
        assert_eq!(crc_hex("123456789"), "29B1");
    }

    #[test]
    fn sliced_crc_matches_the_bitwise_one() {
        let data: Vec<u8> = (0..300_u32)
            .map(|i| u8::try_from(i.wrapping_mul(37) % 251).unwrap_or(0))
            .collect();
        for end in 0..data.len() {
            let prefix = data.get(..end).unwrap_or_default();
            assert_eq!(crc16_ccitt_false(prefix), bitwise(prefix));
        }
    }

    #[test]
    fn md5_is_lowercase_hex() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex("abc"), hex::encode(Md5::digest(b"abc")));
    }
}
