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

/// `table[byte]` (a `u8` index into 256 entries: never out of range).
#[inline(always)]
fn entry(table: &[u16; 256], byte: u8) -> u16 {
    table.get(usize::from(byte)).copied().unwrap_or(0)
}

/// CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR).
#[must_use]
pub fn crc16_ccitt_false(bytes: &[u8]) -> u16 {
    let tables: &[[u16; 256]; 16] = &TABLES;
    let [t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15] = tables;
    let mut crc: u16 = 0xFFFF;
    // 16 bytes at a time: byte i of a chunk (the first two mixed with the register) is
    // followed by 15 - i bytes, so it goes through table 15 - i. The 14 lookups that do not
    // need the register are combined first, as a tree, and the two that do come last: the
    // chain from one chunk's register to the next is then two lookups and two XORs (written
    // left to right, it was sixteen XORs long, which halved the speed).
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        let Ok([b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15]) =
            <[u8; 16]>::try_from(chunk)
        else {
            continue;
        };
        let rest = ((entry(t13, b2) ^ entry(t12, b3)) ^ (entry(t11, b4) ^ entry(t10, b5)))
            ^ ((entry(t9, b6) ^ entry(t8, b7)) ^ (entry(t7, b8) ^ entry(t6, b9)))
            ^ (((entry(t5, b10) ^ entry(t4, b11)) ^ (entry(t3, b12) ^ entry(t2, b13)))
                ^ (entry(t1, b14) ^ entry(t0, b15)));
        let [high, low] = crc.to_be_bytes();
        crc = (entry(t15, b0 ^ high) ^ entry(t14, b1 ^ low)) ^ rest;
    }
    // The rest, 8 and 4 bytes at a time as above, so that at most 3 go one by one.
    let mut rest = chunks.remainder();
    if let Some((&[b0, b1, b2, b3, b4, b5, b6, b7], tail)) = rest.split_first_chunk::<8>() {
        let independent = ((entry(t5, b2) ^ entry(t4, b3)) ^ (entry(t3, b4) ^ entry(t2, b5)))
            ^ (entry(t1, b6) ^ entry(t0, b7));
        let [high, low] = crc.to_be_bytes();
        crc = (entry(t7, b0 ^ high) ^ entry(t6, b1 ^ low)) ^ independent;
        rest = tail;
    }
    if let Some((&[b0, b1, b2, b3], tail)) = rest.split_first_chunk::<4>() {
        let independent = entry(t1, b2) ^ entry(t0, b3);
        let [high, low] = crc.to_be_bytes();
        crc = (entry(t3, b0 ^ high) ^ entry(t2, b1 ^ low)) ^ independent;
        rest = tail;
    }
    for &byte in rest {
        let [high, _] = crc.to_be_bytes();
        crc = (crc << 8) ^ entry(t0, high ^ byte);
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
    // Hex digits are ASCII: always valid UTF-8 (and checking 32 bytes is cheaper than
    // pushing 32 chars one by one).
    std::str::from_utf8(&text)
        .map(str::to_owned)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::Md5;

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
