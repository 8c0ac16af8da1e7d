//! The strict KHQR decoder and verifier.
//!
//! Three layers, each adding checks to the one before:
//! [`inspect`] (clean TLV structure only), [`decode`] (plus CRC and every field rule that does
//! not need a clock), [`verify`] (plus expiry at a given time).

use serde::{Deserialize, Serialize};

use super::crc::{crc16_ccitt_false, crc_hex_bytes, md5_hex};
use super::error::KhqrError;
use super::tlv::{parse, tag_text, utf16_len, ByTag, DataObject, MAX_QR_UTF16};
use super::validate::validate;

/// The SDK's minimum length for a KHQR (`emv.INVALID_LENGTH.KHQR`).
const MIN_QR_UTF16: usize = 12;

/// A KHQR's fields under the names the SDK's `BakongKHQR.decode()` gives them.
///
/// Every value is the string written in the QR, or `None` (JSON `null`) when the tag is absent.
/// Serialized, it is the SDK's `decode().data` object, key for key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodedKhqr {
    /// `"29"` (individual) or `"30"` (merchant).
    pub merchant_type: Option<String>,
    /// Tag 29/30 sub-tag 00.
    #[serde(rename = "bakongAccountID")]
    pub bakong_account_id: Option<String>,
    /// Tag 29 sub-tag 01.
    pub account_information: Option<String>,
    /// Tag 30 sub-tag 01.
    #[serde(rename = "merchantID")]
    pub merchant_id: Option<String>,
    /// Tag 29/30 sub-tag 02.
    pub acquiring_bank: Option<String>,
    /// Tag 62 sub-tag 01.
    pub bill_number: Option<String>,
    /// Tag 62 sub-tag 02.
    pub mobile_number: Option<String>,
    /// Tag 62 sub-tag 03.
    pub store_label: Option<String>,
    /// Tag 62 sub-tag 07.
    pub terminal_label: Option<String>,
    /// Tag 62 sub-tag 08.
    pub purpose_of_transaction: Option<String>,
    /// Tag 64 sub-tag 00.
    pub language_preference: Option<String>,
    /// Tag 64 sub-tag 01.
    pub merchant_name_alternate_language: Option<String>,
    /// Tag 64 sub-tag 02.
    pub merchant_city_alternate_language: Option<String>,
    /// Tag 99 sub-tag 00, milliseconds.
    pub creation_timestamp: Option<String>,
    /// Tag 99 sub-tag 01, milliseconds.
    pub expiration_timestamp: Option<String>,
    /// Tag 00.
    pub payload_format_indicator: Option<String>,
    /// Tag 01: `"11"` static, `"12"` dynamic.
    #[serde(rename = "pointofInitiationMethod")]
    pub point_of_initiation_method: Option<String>,
    /// Tag 15.
    pub union_pay_merchant: Option<String>,
    /// Tag 52.
    pub merchant_category_code: Option<String>,
    /// Tag 53 (`"116"` or `"840"`).
    pub transaction_currency: Option<String>,
    /// Tag 54.
    pub transaction_amount: Option<String>,
    /// Tag 58.
    pub country_code: Option<String>,
    /// Tag 59.
    pub merchant_name: Option<String>,
    /// Tag 60.
    pub merchant_city: Option<String>,
    /// Tag 63.
    pub crc: Option<String>,
    /// Data objects the SDK's decode output has no field for (such as tag 61, or sub-tag 05 of
    /// tag 62), as (`"61"` or `"62.05"`, value). Not serialized, to keep the SDK's shape.
    #[serde(skip)]
    pub unmapped: Vec<(String, String)>,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Why the QR does not verify; `None` when it does.
    pub error: Option<KhqrError>,
    /// The fields, whenever the string is a clean TLV list (even with a bad CRC or a field that
    /// breaks a rule), so that callers can show what they refused.
    pub decoded: Option<DecodedKhqr>,
    /// Lowercase hex MD5 of the UTF-8 bytes of the whole input.
    pub md5: String,
}

impl Verification {
    /// Whether the QR verified.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.error.is_none()
    }

    /// A short machine-readable class of the failure: `crc_tag_format`, `crc_mismatch`,
    /// `too_short` (the SDK's own reasons), `malformed_tlv` (ours) or `validation_error`.
    #[must_use]
    pub fn reason(&self) -> Option<&'static str> {
        self.error.as_ref().map(reason_of)
    }
}

/// The failure class of `error` (see [`Verification::reason`]).
pub(crate) fn reason_of(error: &KhqrError) -> &'static str {
    match error {
        KhqrError::CrcFormat => "crc_tag_format",
        KhqrError::CrcMismatch { .. } => "crc_mismatch",
        KhqrError::TooShort => "too_short",
        KhqrError::InputTooLong { .. }
        | KhqrError::MalformedTlv { .. }
        | KhqrError::DuplicateTag { .. }
        | KhqrError::TagNotInOrder => "malformed_tlv",
        _ => "validation_error",
    }
}

/// Reads the fields of a structurally clean KHQR without checking its CRC or any field rule.
///
/// # Errors
///
/// [`KhqrError::InputTooLong`], [`KhqrError::TooShort`], [`KhqrError::MalformedTlv`],
/// [`KhqrError::DuplicateTag`] or [`KhqrError::TagNotInOrder`].
pub fn inspect(qr: &str) -> Result<DecodedKhqr, KhqrError> {
    parse_structure(qr).map(|objects| fields(&objects))
}

/// Decodes a KHQR strictly: clean structure, correct CRC, and every field rule that does not
/// depend on the clock (use [`verify`] for expiry).
///
/// # Errors
///
/// The first failing check; see [`verify`] for the order.
pub fn decode(qr: &str) -> Result<DecodedKhqr, KhqrError> {
    let objects = checked_objects(qr, None)?;
    Ok(fields(&objects))
}

/// Verifies a KHQR as a payer's app would at time `now_ms`.
///
/// Checks, first failure wins: length ≤ 512 → ends with `6304` + 4 uppercase hex digits →
/// CRC → length ≥ 12 → clean TLV structure → field rules in the SDK's order (which includes
/// expiry, code 46).
#[must_use]
pub fn verify(qr: &str, now_ms: i64) -> Verification {
    // Parsed once: the structure is both a check (after bounds and CRC) and the fields.
    let structure = parse_structure(qr);
    let error = check_bounds(qr)
        .and_then(|()| check_crc(qr))
        .and_then(|()| structure.as_ref().map_err(Clone::clone))
        .and_then(|objects| validate(objects, Some(now_ms)))
        .err();
    Verification {
        error,
        decoded: structure.ok().map(|objects| fields(&objects)),
        md5: md5_hex(qr),
    }
}

/// All checks; the parsed objects when they pass.
fn checked_objects(qr: &str, now_ms: Option<i64>) -> Result<Vec<DataObject<'_>>, KhqrError> {
    check_bounds(qr)?;
    check_crc(qr)?;
    let objects = parse_structure(qr)?;
    validate(&objects, now_ms)?;
    Ok(objects)
}

fn check_bounds(qr: &str) -> Result<(), KhqrError> {
    // A UTF-16 length never exceeds the UTF-8 length, so short strings skip the count.
    if qr.len() > MAX_QR_UTF16 {
        let length_utf16 = utf16_len(qr);
        if length_utf16 > MAX_QR_UTF16 {
            return Err(KhqrError::InputTooLong { length_utf16 });
        }
    }
    Ok(())
}

/// The SDK's `/6304[A-Fa-f0-9]{4}$/` test (uppercase only, as our encoder and BANKS.md write
/// it), then the CRC of the UTF-8 bytes up to and including `6304`.
fn check_crc(qr: &str) -> Result<(), KhqrError> {
    let payload_end = qr.len().checked_sub(4).ok_or(KhqrError::CrcFormat)?;
    let tail = qr
        .len()
        .checked_sub(8)
        .and_then(|start| qr.as_bytes().get(start..))
        .ok_or(KhqrError::CrcFormat)?;
    let (tag, found) = tail.split_at_checked(4).ok_or(KhqrError::CrcFormat)?;
    let is_upper_hex = |byte: &u8| byte.is_ascii_digit() || (b'A'..=b'F').contains(byte);
    if tag != b"6304" || !found.iter().all(is_upper_hex) {
        return Err(KhqrError::CrcFormat);
    }
    // The last 4 bytes are ASCII, so `payload_end` is a character boundary.
    let payload = qr.get(..payload_end).ok_or(KhqrError::CrcFormat)?;
    let computed = crc_hex_bytes(crc16_ccitt_false(payload.as_bytes()));
    if computed != found {
        return Err(KhqrError::CrcMismatch {
            found: String::from_utf8_lossy(found).into_owned(),
            computed: String::from_utf8_lossy(&computed).into_owned(),
        });
    }
    Ok(())
}

fn is_template(tag: u8) -> bool {
    matches!(tag, 29 | 30 | 62 | 64 | 99)
}

/// Parses the whole string and checks its shape: 00 first, 63 (when present) last, no tag
/// twice (29 and 30 count as one), no sub-tag twice within a template.
fn parse_structure(qr: &str) -> Result<Vec<DataObject<'_>>, KhqrError> {
    check_bounds(qr)?;
    if utf16_len(qr) < MIN_QR_UTF16 {
        return Err(KhqrError::TooShort);
    }
    let objects = parse(qr, 0, is_template)?;
    if objects.first().map(|object| object.tag) != Some(0) {
        return Err(KhqrError::TagNotInOrder);
    }
    let last_index = objects.len().saturating_sub(1);
    if objects
        .iter()
        .enumerate()
        .any(|(index, object)| object.tag == 63 && index != last_index)
    {
        return Err(KhqrError::TagNotInOrder);
    }
    check_unique(&objects, None)?;
    for object in &objects {
        if let Some(sub) = &object.sub {
            check_unique(sub, Some(object.tag))?;
        }
    }
    Ok(objects)
}

/// No tag twice in `objects`, the top-level list or the sub-objects of template `parent`.
fn check_unique(objects: &[DataObject<'_>], parent: Option<u8>) -> Result<(), KhqrError> {
    let mut seen = [false; 100];
    for object in objects {
        // Tags 29 and 30 are alternatives for one field: a KHQR holds one of them.
        let key = if object.tag == 30 { 29 } else { object.tag };
        let slot = seen
            .get_mut(usize::from(key))
            .ok_or(KhqrError::MalformedTlv {
                offset: 0,
                problem: "tag out of range",
            })?;
        if *slot {
            let tag = match parent {
                Some(parent) => format!("{}.{}", tag_text(parent), tag_text(object.tag)),
                None => tag_text(object.tag),
            };
            return Err(KhqrError::DuplicateTag { tag });
        }
        *slot = true;
    }
    Ok(())
}

/// The SDK-named fields of parsed objects (whose tags are unique).
fn fields(objects: &[DataObject<'_>]) -> DecodedKhqr {
    let by_tag = ByTag::new(objects);
    let top = |tag: u8| by_tag.get(tag);
    let value = |tag: u8| top(tag).map(|object| object.value.to_owned());
    let account = top(29).or_else(|| top(30));
    let sub = |object: Option<&DataObject<'_>>, tag: u8| {
        object
            .and_then(|object| object.sub_value(tag))
            .map(str::to_owned)
    };
    let is_merchant = account.is_some_and(|object| object.tag == 30);
    let (additional, language, timestamps) = (top(62), top(64), top(99));
    DecodedKhqr {
        merchant_type: account.map(|object| tag_text(object.tag)),
        bakong_account_id: sub(account, 0),
        account_information: if is_merchant { None } else { sub(account, 1) },
        merchant_id: if is_merchant { sub(account, 1) } else { None },
        acquiring_bank: sub(account, 2),
        bill_number: sub(additional, 1),
        mobile_number: sub(additional, 2),
        store_label: sub(additional, 3),
        terminal_label: sub(additional, 7),
        purpose_of_transaction: sub(additional, 8),
        language_preference: sub(language, 0),
        merchant_name_alternate_language: sub(language, 1),
        merchant_city_alternate_language: sub(language, 2),
        creation_timestamp: sub(timestamps, 0),
        expiration_timestamp: sub(timestamps, 1),
        payload_format_indicator: value(0),
        point_of_initiation_method: value(1),
        union_pay_merchant: value(15),
        merchant_category_code: value(52),
        transaction_currency: value(53),
        transaction_amount: value(54),
        country_code: value(58),
        merchant_name: value(59),
        merchant_city: value(60),
        crc: value(63),
        unmapped: unmapped(objects),
    }
}

/// Tags and sub-tags that [`DecodedKhqr`] has no named field for.
fn unmapped(objects: &[DataObject<'_>]) -> Vec<(String, String)> {
    const NAMED: [u8; 14] = [0, 1, 15, 29, 30, 52, 53, 54, 58, 59, 60, 62, 64, 99];
    let named_sub = |tag: u8, sub: u8| match tag {
        29 | 30 => sub <= 2,
        62 => matches!(sub, 1 | 2 | 3 | 7 | 8),
        64 => sub <= 2,
        99 => sub <= 1,
        _ => false,
    };
    let mut out = Vec::new();
    for object in objects {
        if object.tag == 63 {
            continue;
        }
        if !NAMED.contains(&object.tag) {
            out.push((tag_text(object.tag), object.value.to_owned()));
            continue;
        }
        for sub in object.sub.as_deref().unwrap_or_default() {
            if !named_sub(object.tag, sub.tag) {
                let path = format!("{}.{}", tag_text(object.tag), tag_text(sub.tag));
                out.push((path, sub.value.to_owned()));
            }
        }
    }
    out
}
