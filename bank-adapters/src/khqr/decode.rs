//! The strict KHQR decoder and verifier.
//!
//! Three layers, each adding checks to the one before:
//! [`inspect`] (clean TLV structure only), [`decode`] (plus CRC and every field rule that does
//! not need a clock), [`verify`] (plus expiry at a given time).
//!
//! One walk over the string checks its structure and records where each data object is
//! ([`Parsed`], on the stack); the field rules and the decoded fields read that record, and the
//! fields borrow their values from the string. Nothing is allocated unless a QR holds data
//! objects we have no field for.

use serde::Serialize;

use super::crc::{crc16_ccitt_false, crc_hex_bytes, md5_hex};
use super::error::KhqrError;
use super::tlv::{tag_text, utf16_len, Tlv, TlvReader, MAX_QR_UTF16};
use super::validate::validate;

/// The SDK's minimum length for a KHQR (`emv.INVALID_LENGTH.KHQR`).
const MIN_QR_UTF16: usize = 12;

/// A KHQR's fields under the names the SDK's `BakongKHQR.decode()` gives them.
///
/// Every value is the string written in the QR (borrowed from it), or `None` (JSON `null`)
/// when the tag is absent. Serialized, it is the SDK's `decode().data` object, key for key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodedKhqr<'a> {
    /// `"29"` (individual) or `"30"` (merchant).
    pub merchant_type: Option<&'a str>,
    /// Tag 29/30 sub-tag 00.
    #[serde(rename = "bakongAccountID")]
    pub bakong_account_id: Option<&'a str>,
    /// Tag 29 sub-tag 01.
    pub account_information: Option<&'a str>,
    /// Tag 30 sub-tag 01.
    #[serde(rename = "merchantID")]
    pub merchant_id: Option<&'a str>,
    /// Tag 29/30 sub-tag 02.
    pub acquiring_bank: Option<&'a str>,
    /// Tag 62 sub-tag 01.
    pub bill_number: Option<&'a str>,
    /// Tag 62 sub-tag 02.
    pub mobile_number: Option<&'a str>,
    /// Tag 62 sub-tag 03.
    pub store_label: Option<&'a str>,
    /// Tag 62 sub-tag 07.
    pub terminal_label: Option<&'a str>,
    /// Tag 62 sub-tag 08.
    pub purpose_of_transaction: Option<&'a str>,
    /// Tag 64 sub-tag 00.
    pub language_preference: Option<&'a str>,
    /// Tag 64 sub-tag 01.
    pub merchant_name_alternate_language: Option<&'a str>,
    /// Tag 64 sub-tag 02.
    pub merchant_city_alternate_language: Option<&'a str>,
    /// Tag 99 sub-tag 00, milliseconds.
    pub creation_timestamp: Option<&'a str>,
    /// Tag 99 sub-tag 01, milliseconds.
    pub expiration_timestamp: Option<&'a str>,
    /// Tag 00.
    pub payload_format_indicator: Option<&'a str>,
    /// Tag 01: `"11"` static, `"12"` dynamic.
    #[serde(rename = "pointofInitiationMethod")]
    pub point_of_initiation_method: Option<&'a str>,
    /// Tag 15.
    pub union_pay_merchant: Option<&'a str>,
    /// Tag 52.
    pub merchant_category_code: Option<&'a str>,
    /// Tag 53 (`"116"` or `"840"`).
    pub transaction_currency: Option<&'a str>,
    /// Tag 54.
    pub transaction_amount: Option<&'a str>,
    /// Tag 58.
    pub country_code: Option<&'a str>,
    /// Tag 59.
    pub merchant_name: Option<&'a str>,
    /// Tag 60.
    pub merchant_city: Option<&'a str>,
    /// Tag 63.
    pub crc: Option<&'a str>,
    /// Data objects the SDK's decode output has no field for (such as tag 61, or sub-tag 05 of
    /// tag 62), as (`"61"` or `"62.05"`, value). Not serialized, to keep the SDK's shape.
    #[serde(skip)]
    pub unmapped: Vec<(String, &'a str)>,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification<'a> {
    /// Why the QR does not verify; `None` when it does.
    pub error: Option<KhqrError>,
    /// The fields, whenever the string is a clean TLV list (even with a bad CRC or a field that
    /// breaks a rule), so that callers can show what they refused.
    pub decoded: Option<DecodedKhqr<'a>>,
    /// Lowercase hex MD5 of the UTF-8 bytes of the whole input.
    pub md5: String,
}

impl Verification<'_> {
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
pub fn inspect(qr: &str) -> Result<DecodedKhqr<'_>, KhqrError> {
    let mut parsed = Parsed::new();
    parse_structure(qr, &mut parsed)?;
    Ok(fields(&parsed))
}

/// Decodes a KHQR strictly: clean structure, correct CRC, and every field rule that does not
/// depend on the clock (use [`verify`] for expiry).
///
/// # Errors
///
/// The first failing check; see [`verify`] for the order.
pub fn decode(qr: &str) -> Result<DecodedKhqr<'_>, KhqrError> {
    check_bounds(qr)?;
    check_crc(qr)?;
    let mut parsed = Parsed::new();
    parse_structure(qr, &mut parsed)?;
    validate(&parsed, None)?;
    Ok(fields(&parsed))
}

/// Verifies a KHQR as a payer's app would at time `now_ms`.
///
/// Checks, first failure wins: length ≤ 512 → ends with `6304` + 4 uppercase hex digits →
/// CRC → length ≥ 12 → clean TLV structure → field rules in the SDK's order (which includes
/// expiry, code 46).
#[must_use]
pub fn verify(qr: &str, now_ms: i64) -> Verification<'_> {
    // Parsed once: the structure is both a check (after bounds and CRC) and the fields.
    let mut parsed = Parsed::new();
    let structure = parse_structure(qr, &mut parsed);
    let error = check_bounds(qr)
        .and_then(|()| check_crc(qr))
        .and_then(|()| structure.clone())
        .and_then(|()| validate(&parsed, Some(now_ms)))
        .err();
    Verification {
        error,
        decoded: structure.ok().map(|()| fields(&parsed)),
        md5: md5_hex(qr),
    }
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
    let payload = qr
        .as_bytes()
        .get(..payload_end)
        .ok_or(KhqrError::CrcFormat)?;
    let computed = crc_hex_bytes(crc16_ccitt_false(payload));
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

/// How many top-level tags [`named_slot`] gives a slot.
const NAMED_SLOTS: usize = 15;

/// No slot in [`SLOTS`].
const NONE: u8 = u8::MAX;

/// [`named_slot`] by table (a `match` over these tags is a chain of comparisons).
#[rustfmt::skip]
const SLOTS: [u8; 100] = [
    0, 1, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE,
    NONE, NONE, NONE, NONE, NONE, 2, NONE, NONE, NONE, NONE,
    NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, 3,
    4, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE,
    NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE,
    NONE, NONE, 5, 6, 7, NONE, NONE, NONE, 8, 9,
    10, NONE, 11, 12, 13, NONE, NONE, NONE, NONE, NONE,
    NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE,
    NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE,
    NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, 14,
];

/// The slot in [`Parsed`] of top-level tag `tag` when [`DecodedKhqr`] has a field for it (63,
/// the CRC, included); `None` for the others, which are listed in [`DecodedKhqr::unmapped`].
#[inline]
fn named_slot(tag: u8) -> Option<usize> {
    SLOTS
        .get(usize::from(tag))
        .filter(|&&slot| slot != NONE)
        .map(|&slot| usize::from(slot))
}

/// Whether [`DecodedKhqr`] has a field for sub-tag `sub` of template `tag`; the field rules
/// check exactly these sub-tags too. All of them are below 10.
fn is_named_sub(tag: u8, sub: u8) -> bool {
    match tag {
        29 | 30 => sub <= 2,
        62 => matches!(sub, 1 | 2 | 3 | 7 | 8),
        64 => sub <= 2,
        99 => sub <= 1,
        _ => false,
    }
}

/// [`Parsed::flags`]: the tag is present.
const PRESENT: u8 = 1;
/// [`Parsed::flags`]: the tag's value is empty.
const EMPTY: u8 = 2;

/// The bit of `tag` (below 100) in a set of tags.
#[inline]
fn bit(tag: u8) -> u128 {
    // Tags are two digits, so the mask changes nothing; it spares a range check.
    1_u128 << (tag & 0x7F)
}

/// The bits of the tags that count as `tag` when looking for a repeat: 29 and 30 are
/// alternatives for one field, so either repeats the other.
#[inline]
fn repeat_mask(tag: u8) -> u128 {
    if matches!(tag, 29 | 30) {
        bit(29) | bit(30)
    } else {
        bit(tag)
    }
}

/// The sub-objects of a template, as the field rules and the decoded fields need them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Template<'a> {
    /// Values of sub-tags 0 to 9, which hold every sub-tag that has a field.
    subs: [Option<&'a str>; 10],
    /// The first sub-object, in order, that has no field and is empty.
    pub(crate) unnamed_empty: Option<u8>,
    /// Whether some sub-object has no field (then listed in [`DecodedKhqr::unmapped`]).
    has_unnamed: bool,
}

impl<'a> Template<'a> {
    /// The value of sub-tag `tag`, one of those [`is_named_sub`] lists.
    #[inline]
    pub(crate) fn sub(&self, tag: u8) -> Option<&'a str> {
        self.subs.get(usize::from(tag)).copied().flatten()
    }
}

/// What the walk over a structurally clean KHQR found, top-level tags being unique. Values are
/// kept only for the tags that have a field; the field rules need no more of the others than
/// whether they are empty.
pub(crate) struct Parsed<'a> {
    qr: &'a str,
    /// The value of each top-level tag that has a field, by [`named_slot`].
    values: [Option<&'a str>; NAMED_SLOTS],
    /// Per top-level tag: [`PRESENT`], and [`EMPTY`] when its value is empty.
    flags: [u8; 100],
    /// The top-level tags in string order (`count` of them; unique tags are at most 99).
    order: [u8; 100],
    count: usize,
    /// Template 29 or 30.
    account: Template<'a>,
    /// Template 62.
    additional: Template<'a>,
    /// Template 64.
    language: Template<'a>,
    /// Template 99.
    timestamps: Template<'a>,
    /// Whether some data object has no field in [`DecodedKhqr`].
    has_unmapped: bool,
}

/// A template with no sub-object: what [`Parsed::template`] answers for other tags.
const NO_TEMPLATE: Template<'static> = Template {
    subs: [None; 10],
    unnamed_empty: None,
    has_unnamed: false,
};

impl<'a> Parsed<'a> {
    /// Nothing found yet.
    fn new() -> Self {
        Self {
            qr: "",
            values: [None; NAMED_SLOTS],
            flags: [0; 100],
            order: [0; 100],
            count: 0,
            account: NO_TEMPLATE,
            additional: NO_TEMPLATE,
            language: NO_TEMPLATE,
            timestamps: NO_TEMPLATE,
            has_unmapped: false,
        }
    }

    /// Records the first data object of a tag (its sub-objects go to [`Self::template_mut`]).
    fn record(&mut self, tag: u8, value: &'a str) {
        if let Some(flags) = self.flags.get_mut(usize::from(tag)) {
            *flags = if value.is_empty() {
                PRESENT | EMPTY
            } else {
                PRESENT
            };
        }
        match named_slot(tag).and_then(|slot| self.values.get_mut(slot)) {
            Some(slot) => *slot = Some(value),
            None => self.has_unmapped = true,
        }
        if let Some(slot) = self.order.get_mut(self.count) {
            *slot = tag;
            self.count = self.count.saturating_add(1);
        }
    }

    /// Where the sub-objects of template `tag` go.
    fn template_mut(&mut self, tag: u8) -> Option<&mut Template<'a>> {
        match tag {
            29 | 30 => Some(&mut self.account),
            62 => Some(&mut self.additional),
            64 => Some(&mut self.language),
            99 => Some(&mut self.timestamps),
            _ => None,
        }
    }

    /// The value of top-level tag `tag`, when present and one that has a field.
    #[inline]
    pub(crate) fn value(&self, tag: u8) -> Option<&'a str> {
        named_slot(tag)
            .and_then(|slot| self.values.get(slot))
            .copied()
            .flatten()
    }

    /// Whether top-level tag `tag` is present.
    #[inline]
    pub(crate) fn has(&self, tag: u8) -> bool {
        self.flag(tag, PRESENT)
    }

    #[inline]
    fn flag(&self, tag: u8, flag: u8) -> bool {
        self.flags
            .get(usize::from(tag))
            .is_some_and(|flags| flags & flag != 0)
    }

    /// Whether top-level tag `tag` is present with an empty value.
    #[inline]
    pub(crate) fn is_empty(&self, tag: u8) -> bool {
        self.flag(tag, EMPTY)
    }

    /// The top-level tags in string order.
    pub(crate) fn tags(&self) -> impl Iterator<Item = u8> + '_ {
        self.order
            .get(..self.count)
            .unwrap_or_default()
            .iter()
            .copied()
    }

    /// The sub-objects of template `tag` (none for a tag that is not a template).
    #[inline]
    pub(crate) fn template(&self, tag: u8) -> &Template<'a> {
        match tag {
            29 | 30 => &self.account,
            62 => &self.additional,
            64 => &self.language,
            99 => &self.timestamps,
            _ => &NO_TEMPLATE,
        }
    }
}

/// Walks the whole string into `parsed` (a fresh [`Parsed::new`], filled in place) and
/// checks its shape: 00 first, 63 (when present) last, no tag twice (29 and 30 count as one),
/// no sub-tag twice within a template. The first failure in that order wins: any malformed TLV
/// anywhere, then the order, then a repeated tag, then a repeated sub-tag (the first template
/// in string order that holds one).
pub(crate) fn parse_structure<'a>(qr: &'a str, parsed: &mut Parsed<'a>) -> Result<(), KhqrError> {
    check_bounds(qr)?;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes, so 36 bytes always hold 12 units.
    if qr.len() < 3 * MIN_QR_UTF16 && utf16_len(qr) < MIN_QR_UTF16 {
        return Err(KhqrError::TooShort);
    }
    parsed.qr = qr;
    let mut first_tag = None;
    let (mut after_crc, mut crc_not_last) = (false, false);
    let mut repeated: Option<u8> = None;
    let mut repeated_sub: Option<(u8, u8)> = None;
    let mut reader = TlvReader::new(qr, 0);
    while let Some(Tlv {
        tag,
        value,
        value_offset,
    }) = reader.next()
    {
        first_tag.get_or_insert(tag);
        crc_not_last |= after_crc;
        after_crc |= tag == 63;
        // 29 and 30 are alternatives for one field: either repeats the other.
        let again = match tag {
            29 | 30 => parsed.has(29) || parsed.has(30),
            _ => parsed.has(tag),
        };
        if again {
            repeated.get_or_insert(tag);
        } else {
            parsed.record(tag, value);
        }
        if is_template(tag) {
            // A repeated template is still walked (for its errors), but not kept.
            let mut ignored;
            let template = match parsed.template_mut(tag) {
                Some(template) if !again => template,
                _ => {
                    ignored = NO_TEMPLATE;
                    &mut ignored
                }
            };
            let sub_reader = reader.within(value, value_offset);
            if let Some(sub) = parse_template(tag, sub_reader, template)? {
                repeated_sub.get_or_insert((tag, sub));
            }
            parsed.has_unmapped |= !again && parsed.template(tag).has_unnamed;
        }
    }
    reader.finish()?;
    if first_tag != Some(0) || crc_not_last {
        return Err(KhqrError::TagNotInOrder);
    }
    if let Some(tag) = repeated {
        return Err(KhqrError::DuplicateTag { tag: tag_text(tag) });
    }
    if let Some((parent, sub)) = repeated_sub {
        return Err(KhqrError::DuplicateTag {
            tag: format!("{}.{}", tag_text(parent), tag_text(sub)),
        });
    }
    Ok(())
}

/// Reads the sub-objects of template `tag` with `reader` into `template` (fresh); answers the
/// first sub-tag found twice (29 and 30 counting as one, as at the top level).
fn parse_template<'a>(
    tag: u8,
    mut reader: TlvReader<'a>,
    template: &mut Template<'a>,
) -> Result<Option<u8>, KhqrError> {
    let mut seen = 0_u128;
    let mut repeated = None;
    for sub in &mut reader {
        if seen & repeat_mask(sub.tag) != 0 {
            repeated.get_or_insert(sub.tag);
        }
        seen |= bit(sub.tag);
        if is_named_sub(tag, sub.tag) {
            if let Some(slot) = template.subs.get_mut(usize::from(sub.tag)) {
                slot.get_or_insert(sub.value);
            }
        } else {
            template.has_unnamed = true;
            if sub.value.is_empty() {
                template.unnamed_empty.get_or_insert(sub.tag);
            }
        }
    }
    reader.finish()?;
    Ok(repeated)
}

/// The SDK-named fields of a parsed KHQR.
fn fields<'a>(parsed: &Parsed<'a>) -> DecodedKhqr<'a> {
    let value = |tag: u8| parsed.value(tag);
    let account_tag = if parsed.has(29) {
        Some("29")
    } else if parsed.has(30) {
        Some("30")
    } else {
        None
    };
    let is_merchant = account_tag == Some("30");
    let (account, additional, language, timestamps) = (
        &parsed.account,
        &parsed.additional,
        &parsed.language,
        &parsed.timestamps,
    );
    DecodedKhqr {
        merchant_type: account_tag,
        bakong_account_id: account.sub(0),
        account_information: if is_merchant { None } else { account.sub(1) },
        merchant_id: if is_merchant { account.sub(1) } else { None },
        acquiring_bank: account.sub(2),
        bill_number: additional.sub(1),
        mobile_number: additional.sub(2),
        store_label: additional.sub(3),
        terminal_label: additional.sub(7),
        purpose_of_transaction: additional.sub(8),
        language_preference: language.sub(0),
        merchant_name_alternate_language: language.sub(1),
        merchant_city_alternate_language: language.sub(2),
        creation_timestamp: timestamps.sub(0),
        expiration_timestamp: timestamps.sub(1),
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
        unmapped: if parsed.has_unmapped {
            unmapped(parsed)
        } else {
            Vec::new()
        },
    }
}

/// Tags and sub-tags that [`DecodedKhqr`] has no named field for, in string order. Found by
/// walking the string again: rare, and it parsed cleanly the first time.
fn unmapped<'a>(parsed: &Parsed<'a>) -> Vec<(String, &'a str)> {
    let mut out = Vec::new();
    for Tlv { tag, value, .. } in TlvReader::new(parsed.qr, 0) {
        if named_slot(tag).is_none() {
            out.push((tag_text(tag), value));
            continue;
        }
        if !(is_template(tag) && parsed.template(tag).has_unnamed) {
            continue;
        }
        for sub in TlvReader::new(value, 0) {
            if !is_named_sub(tag, sub.tag) {
                let path = format!("{}.{}", tag_text(tag), tag_text(sub.tag));
                out.push((path, sub.value));
            }
        }
    }
    out
}
