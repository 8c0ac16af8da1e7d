//! EMV `tag length value` lists, with lengths counted in UTF-16 code units as the SDK does.
//!
//! Parsing walks the UTF-8 string itself, counting UTF-16 code units (JS `.length`) as it goes,
//! with a fast path for ASCII values; values are borrowed from the input. Every step consumes
//! at least 4 units, so parsing is linear and always ends.

use super::error::KhqrError;

/// The most UTF-16 code units an EMV merchant-presented QR payload may hold.
pub(crate) const MAX_QR_UTF16: usize = 512;

/// Largest value a 2-digit length can describe.
pub(crate) const MAX_VALUE_UTF16: usize = 99;

/// Length of `text` in UTF-16 code units (JS `.length`): one unit per character, two for a
/// character of 4 UTF-8 bytes.
#[inline]
pub(crate) fn utf16_len(text: &str) -> usize {
    if text.is_ascii() {
        return text.len();
    }
    text.bytes()
        .map(|byte| usize::from(byte & 0xC0 != 0x80) + usize::from(byte >= 0xF0))
        .sum()
}

/// How many characters `value.to_string()` has.
pub(crate) fn decimal_len(value: i64) -> usize {
    let mut magnitude = value.unsigned_abs();
    let mut length = usize::from(value < 0) + 1;
    while magnitude >= 10 {
        magnitude /= 10;
        length += 1;
    }
    length
}

/// Whether `text` is longer than `max` UTF-16 code units. A UTF-16 length never exceeds the
/// UTF-8 length, so the units are counted only when the bytes are more than `max`.
#[inline]
pub(crate) fn longer_than(text: &str, max: usize) -> bool {
    text.len() > max && utf16_len(text) > max
}

/// The two ASCII digits of `value` (0..=99), for tags and lengths.
pub(crate) fn two_digit_bytes(value: usize) -> [u8; 2] {
    const DIGITS: &[u8; 10] = b"0123456789";
    let digit = |index: usize| DIGITS.get(index % 10).copied().unwrap_or(b'0');
    [digit(value / 10), digit(value)]
}

/// Formats a tag as the two digits written in the QR.
pub(crate) fn tag_text(tag: u8) -> String {
    let [high, low] = two_digit_bytes(usize::from(tag));
    let mut text = String::with_capacity(2);
    text.push(char::from(high));
    text.push(char::from(low));
    text
}

/// "00" to "99", back to back.
const TWO_DIGITS: &str = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// Appends the 2-digit decimal form of `value` (at most 99) to `out`.
#[inline]
pub(crate) fn push_two_digits(out: &mut String, value: usize) {
    let start = value.min(MAX_VALUE_UTF16).saturating_mul(2);
    out.push_str(
        TWO_DIGITS
            .get(start..start.saturating_add(2))
            .unwrap_or_default(),
    );
}

/// A template's sub-objects in writing order: (sub-tag, value), `None` when absent.
pub(crate) type Subs<'a, const N: usize> = [(&'static str, Option<&'a str>); N];

/// Length in UTF-16 code units of the template value that `subs` make.
pub(crate) fn template_len(subs: &[(&'static str, Option<&str>)]) -> usize {
    subs.iter()
        .filter_map(|(_, value)| *value)
        .map(|value| utf16_len(value).saturating_add(4))
        .fold(0, usize::saturating_add)
}

/// A short text built on the stack (numbers written by the encoder), at most 32 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShortText {
    bytes: [u8; 32],
    len: usize,
}

impl ShortText {
    pub(crate) const fn new() -> Self {
        Self {
            bytes: [0; 32],
            len: 0,
        }
    }

    /// `value` in decimal, as `value.to_string()` writes it.
    pub(crate) fn from_i64(value: i64) -> Self {
        let mut text = Self::new();
        if value < 0 {
            text.push_bytes(b"-");
        }
        // At most 20 bytes: always fits.
        text.push_u64(value.unsigned_abs(), 1);
        text
    }

    /// Appends `bytes`; false (and nothing appended) when they do not fit.
    fn push_bytes(&mut self, bytes: &[u8]) -> bool {
        let Some(end) = self.len.checked_add(bytes.len()) else {
            return false;
        };
        let Some(target) = self.bytes.get_mut(self.len..end) else {
            return false;
        };
        target.copy_from_slice(bytes);
        self.len = end;
        true
    }

    /// Appends the decimal digits of `value`, with leading zeros up to `min_digits` (at most
    /// 20). Written by hand, two digits at a time, because `core::fmt` costs more than the rest
    /// of encoding a number (this runs several times per QR).
    fn push_u64(&mut self, mut value: u64, min_digits: usize) -> bool {
        let pairs = TWO_DIGITS.as_bytes();
        let mut digits = [b'0'; 20];
        let mut start = digits.len();
        while value >= 10 {
            let pair = usize::try_from(value % 100).unwrap_or(0).saturating_mul(2);
            value /= 100;
            start = start.saturating_sub(2);
            if let (Some(target), Some(source)) = (
                digits.get_mut(start..start.saturating_add(2)),
                pairs.get(pair..pair.saturating_add(2)),
            ) {
                target.copy_from_slice(source);
            }
        }
        // `value` is now the leading digit (below 10), or 0 when the pairs covered every digit.
        if value > 0 || start == digits.len() {
            start = start.saturating_sub(1);
            if let Some(slot) = digits.get_mut(start) {
                *slot = b'0'.wrapping_add(u8::try_from(value).unwrap_or(0));
            }
        }
        start = start.min(digits.len().saturating_sub(min_digits));
        self.push_bytes(digits.get(start..).unwrap_or_default())
    }

    /// Appends `mantissa / 10^scale` written as `rust_decimal`'s `Display` writes a
    /// non-negative `Decimal` with that mantissa and scale: every digit of the scale kept, a
    /// `0` before a leading point. False when it does not fit in 32 bytes.
    pub(crate) fn push_decimal(&mut self, mantissa: u128, scale: u32) -> bool {
        const TEN_19: u128 = 10_000_000_000_000_000_000;
        let mut digits = Self::new();
        // A `Decimal` mantissa is below 2^96, so `high` fits a u64; u64 digits are much
        // cheaper than digit-by-digit u128 division.
        let written = match u64::try_from(mantissa) {
            Ok(small) => digits.push_u64(small, 1),
            Err(_) => match (
                u64::try_from(mantissa / TEN_19),
                u64::try_from(mantissa % TEN_19),
            ) {
                (Ok(high), Ok(low)) => digits.push_u64(high, 1) && digits.push_u64(low, 19),
                _ => false,
            },
        };
        if !written {
            return false;
        }
        let Ok(scale) = usize::try_from(scale) else {
            return false;
        };
        if scale == 0 {
            return self.push_bytes(digits.as_bytes());
        }
        let digits = digits.as_bytes();
        let whole_len = digits.len().saturating_sub(scale);
        let (whole, fraction) = digits.split_at(whole_len);
        let padding = scale.saturating_sub(fraction.len());
        let whole: &[u8] = if whole.is_empty() { b"0" } else { whole };
        self.push_bytes(whole)
            && self.push_bytes(b".")
            && (0..padding).all(|_| self.push_bytes(b"0"))
            && self.push_bytes(fraction)
    }

    /// The text's bytes: ASCII digits, signs and points as written here.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl std::fmt::Write for ShortText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.push_bytes(text.as_bytes()) {
            Ok(())
        } else {
            Err(std::fmt::Error)
        }
    }
}

/// One data object of a TLV list, borrowing its value from the parsed string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    /// The tag, 0..=99.
    pub(crate) tag: u8,
    /// The value.
    pub(crate) value: &'a str,
    /// Offset of the value in the whole string, in UTF-16 code units (for errors in a
    /// template's value).
    pub(crate) value_offset: usize,
}

/// The data objects of a TLV list, one at a time, without collecting them: the decoder
/// records what it needs as it goes (see `decode::Parsed`).
///
/// The iteration ends at the first malformed data object: [`KhqrError::MalformedTlv`] when a
/// tag or length is not 2 ASCII digits, a value runs past the end, or a value boundary splits a
/// surrogate pair. That error is kept aside for [`TlvReader::finish`], so that each step
/// returns only the small [`Tlv`] (a step is a few instructions; an error-sized result cost
/// more than the step).
pub(crate) struct TlvReader<'a> {
    text: &'a str,
    /// Offset of `text` in the whole string in UTF-16 code units, for errors.
    base: usize,
    /// Byte position in `text` and the same position in UTF-16 code units.
    position: usize,
    position_utf16: usize,
    /// Whether `text` is ASCII (the usual case): then a length in code units is a length in
    /// bytes, and no value needs counting.
    ascii: bool,
    error: Option<KhqrError>,
}

impl<'a> TlvReader<'a> {
    /// A reader of `text`, which starts `base` UTF-16 code units into the whole string.
    pub(crate) fn new(text: &'a str, base: usize) -> Self {
        Self {
            text,
            base,
            position: 0,
            position_utf16: 0,
            ascii: text.is_ascii(),
            error: None,
        }
    }

    /// A reader of `text`, a value found by this reader that starts `base` UTF-16 code units
    /// into the whole string (a template's value).
    pub(crate) fn within(&self, text: &'a str, base: usize) -> Self {
        Self {
            text,
            base,
            position: 0,
            position_utf16: 0,
            // Part of an ASCII string is ASCII.
            ascii: self.ascii || text.is_ascii(),
            error: None,
        }
    }

    /// Why the iteration ended early, if it did.
    pub(crate) fn finish(self) -> Result<(), KhqrError> {
        self.error.map_or(Ok(()), Err)
    }

    /// Ends the iteration with `error`.
    #[cold]
    fn fail(&mut self, error: KhqrError) -> Option<Tlv<'a>> {
        self.error = Some(error);
        self.position = self.text.len();
        None
    }

    #[inline(always)]
    fn read(&mut self) -> Option<Tlv<'a>> {
        // Positions are bounded by the length of a `str`, so `+` cannot overflow here; this
        // runs for every data object, where checked arithmetic showed in profiles.
        let (text, position) = (self.text, self.position);
        let offset = self.base + self.position_utf16;
        let rest = text.as_bytes().get(position..).unwrap_or_default();
        let Some((&[tag_1, tag_2, length_1, length_2], rest)) = rest.split_first_chunk::<4>()
        else {
            return self.fail(header_error(text, position, offset));
        };
        let [tag_1, tag_2, length_1, length_2] = [
            tag_1.wrapping_sub(b'0'),
            tag_2.wrapping_sub(b'0'),
            length_1.wrapping_sub(b'0'),
            length_2.wrapping_sub(b'0'),
        ];
        if !(tag_1 < 10 && tag_2 < 10 && length_1 < 10 && length_2 < 10) {
            return self.fail(header_error(text, position, offset));
        }
        let (tag, length) = (tag_1 * 10 + tag_2, usize::from(length_1 * 10 + length_2));
        let value_len = if self.ascii && length <= rest.len() {
            length
        } else {
            match value_bytes(rest, length) {
                Ok(value_len) => value_len,
                Err(problem) => return self.fail(KhqrError::MalformedTlv { offset, problem }),
            }
        };
        let value_start = position + 4;
        let value_end = value_start + value_len;
        let Some(value) = text.get(value_start..value_end) else {
            return self.fail(KhqrError::MalformedTlv {
                offset,
                problem: "value boundary splits a UTF-16 surrogate pair",
            });
        };
        let value_start_utf16 = self.position_utf16 + 4;
        self.position = value_end;
        self.position_utf16 = value_start_utf16 + length;
        Some(Tlv {
            tag,
            value,
            value_offset: self.base + value_start_utf16,
        })
    }
}

impl<'a> Iterator for TlvReader<'a> {
    type Item = Tlv<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.position >= self.text.len() {
            return None;
        }
        self.read()
    }
}

/// The error for a header (tag and length) at byte `position` that is not 4 ASCII digits, as
/// the UTF-16 reading finds it: fewer than 4 code units left, then the tag, then the length.
fn header_error(text: &str, position: usize, offset: usize) -> KhqrError {
    let malformed = |problem| KhqrError::MalformedTlv { offset, problem };
    let rest = text.get(position..).unwrap_or_default();
    let units: usize = rest.chars().take(4).map(char::len_utf16).sum();
    if units < 4 {
        return malformed("truncated tag or length");
    }
    // A code unit is an ASCII digit only where every unit before it is ASCII, so the first
    // bytes tell.
    let is_digit = |index: usize| rest.as_bytes().get(index).is_some_and(u8::is_ascii_digit);
    if !(is_digit(0) && is_digit(1)) {
        return malformed("tag is not 2 digits");
    }
    malformed("length is not 2 digits")
}

/// How many bytes of `rest` hold the first `length` UTF-16 code units.
fn value_bytes(rest: &[u8], length: usize) -> Result<usize, &'static str> {
    if let Some(prefix) = rest.get(..length) {
        if prefix.is_ascii() {
            return Ok(length);
        }
    }
    let mut units = 0;
    let mut index = 0;
    while units < length {
        let Some(&lead) = rest.get(index) else {
            return Err("value runs past the end");
        };
        let (width, char_units) = match lead {
            0x00..=0x7F => (1, 1),
            0xC0..=0xDF => (2, 1),
            0xE0..=0xEF => (3, 1),
            _ => (4, 2),
        };
        if units.saturating_add(char_units) > length {
            // The value ends between the two code units of a surrogate pair.
            return Err("value boundary splits a UTF-16 surrogate pair");
        }
        units = units.saturating_add(char_units);
        index = index.saturating_add(width);
    }
    Ok(index)
}

/// A parsed data object with its sub-objects (the tests' view of a TLV list).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataObject<'a> {
    /// The tag, 0..=99.
    pub(crate) tag: u8,
    /// The value.
    pub(crate) value: &'a str,
    /// The sub-objects, when the value of a template was parsed as a TLV list.
    pub(crate) sub: Option<Vec<DataObject<'a>>>,
}

#[cfg(test)]
impl<'a> DataObject<'a> {
    /// The sub-object with `tag`, when this is a parsed template holding it.
    pub(crate) fn sub_value(&self, tag: u8) -> Option<&'a str> {
        self.sub
            .as_deref()
            .and_then(|subs| subs.iter().find(|object| object.tag == tag))
            .map(|object| object.value)
    }
}

/// Parses `text` as a TLV list into a tree, templates (`is_template`) one level down, with
/// [`TlvReader`]: the first error in string order.
#[cfg(test)]
pub(crate) fn parse<'a>(
    text: &'a str,
    base: usize,
    is_template: fn(u8) -> bool,
) -> Result<Vec<DataObject<'a>>, KhqrError> {
    let mut objects = Vec::new();
    let mut reader = TlvReader::new(text, base);
    for object in &mut reader {
        let sub = if is_template(object.tag) {
            Some(parse(object.value, object.value_offset, |_| false)?)
        } else {
            None
        };
        objects.push(DataObject {
            tag: object.tag,
            value: object.value,
            sub,
        });
    }
    reader.finish()?;
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_templates() {
        let objects = parse("000201290700031@b", 0, |tag| tag == 29);
        let objects = objects.unwrap_or_default();
        assert_eq!(objects.len(), 2);
        let template = objects.get(1).and_then(|object| object.sub_value(0));
        assert_eq!(template, Some("1@b"));
    }

    #[test]
    fn refuses_three_digit_lengths_and_truncation() {
        assert!(parse("30108abc", 0, |_| false).is_err());
        assert!(parse("0002", 0, |_| false).is_err());
        assert!(parse("00020", 0, |_| false).is_err());
        assert!(parse("0a0201", 0, |_| false).is_err());
    }

    #[test]
    fn counts_utf16_units_and_refuses_split_pairs() {
        let text = "5903N😀";
        let objects = parse(text, 0, |_| false).unwrap_or_default();
        assert_eq!(objects.first().map(|object| object.value), Some("N😀"));
        assert!(parse("5902N😀", 0, |_| false).is_err());
    }

    #[test]
    fn errors_match_a_utf16_reading() {
        let problem = |text: &str| match parse(text, 0, |_| false) {
            Err(KhqrError::MalformedTlv { offset, problem }) => Some((offset, problem)),
            _ => None,
        };
        assert_eq!(problem("😀"), Some((0, "truncated tag or length")));
        assert_eq!(problem("0😀"), Some((0, "truncated tag or length")));
        assert_eq!(problem("0😀0"), Some((0, "tag is not 2 digits")));
        assert_eq!(problem("00😀"), Some((0, "length is not 2 digits")));
        assert_eq!(
            problem("5901😀0100"),
            Some((0, "value boundary splits a UTF-16 surrogate pair"))
        );
        assert_eq!(problem("5902é0100"), Some((6, "truncated tag or length")));
        assert_eq!(problem("5903é"), Some((0, "value runs past the end")));
        assert_eq!(problem("5902😀01"), Some((6, "truncated tag or length")));
    }

    #[test]
    fn utf16_len_counts_code_units() {
        for text in ["", "abc", "é", "ខ្មែរ", "😀", "a😀é"] {
            assert_eq!(utf16_len(text), text.encode_utf16().count());
        }
        assert_eq!(tag_text(7), "07");
        assert_eq!(tag_text(99), "99");
        for value in 0..=99 {
            let mut out = String::new();
            push_two_digits(&mut out, value);
            assert_eq!(out, format!("{value:02}"));
        }
    }

    #[test]
    fn numbers_are_written_as_to_string_writes_them() {
        let mut values = vec![
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            1_767_225_600_000,
            i64::MAX,
            i64::MIN,
        ];
        let mut next: i64 = 7;
        for _ in 0..2000 {
            next = next.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            values.push(next >> (next & 63));
        }
        for value in values {
            for value in [value, value.wrapping_neg()] {
                assert_eq!(ShortText::from_i64(value).as_str(), value.to_string());
                assert_eq!(decimal_len(value), value.to_string().len(), "{value}");
            }
        }
    }

    #[test]
    fn decimals_are_written_as_rust_decimal_displays_them() {
        use rust_decimal::Decimal;
        let mut mantissas: Vec<i128> = vec![0, 1, 5, 10, 99, 100, 150, 123_456, 10_i128.pow(19)];
        mantissas.push(10_i128.pow(19) - 1);
        mantissas.push(10_i128.pow(19) + 7);
        mantissas.push(79_228_162_514_264_337_593_543_950_335);
        for mantissa in mantissas {
            for scale in 0..=28 {
                let decimal = Decimal::from_i128_with_scale(mantissa, scale);
                let mut text = ShortText::new();
                let fits = text.push_decimal(mantissa.unsigned_abs(), scale);
                let expected = decimal.to_string();
                if expected.len() <= 32 {
                    assert!(fits, "{expected}");
                    assert_eq!(text.as_str(), expected);
                } else {
                    assert!(!fits, "{expected}");
                }
            }
        }
    }
}
