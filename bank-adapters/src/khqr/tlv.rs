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

/// One data object of a TLV list, borrowing its value from the parsed string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataObject<'a> {
    /// The tag, 0..=99.
    pub(crate) tag: u8,
    /// The value.
    pub(crate) value: &'a str,
    /// The sub-objects, when the value of a template was parsed as a TLV list.
    pub(crate) sub: Option<Vec<DataObject<'a>>>,
}

impl<'a> DataObject<'a> {
    /// The sub-object with `tag`, when this is a parsed template holding it.
    pub(crate) fn sub_value(&self, tag: u8) -> Option<&'a str> {
        self.sub
            .as_deref()
            .and_then(|subs| subs.iter().find(|object| object.tag == tag))
            .map(|object| object.value)
    }
}

/// The first object of each tag in a list (what `objects.iter().find()` gives), by table.
pub(crate) struct ByTag<'o, 'a> {
    objects: &'o [DataObject<'a>],
    /// 1 + the position of the first object of each tag; 0 when absent.
    index: [u16; 100],
}

impl<'o, 'a> ByTag<'o, 'a> {
    pub(crate) fn new(objects: &'o [DataObject<'a>]) -> Self {
        let mut index = [0_u16; 100];
        for (position, object) in (1_u16..).zip(objects) {
            if let Some(slot) = index.get_mut(usize::from(object.tag)) {
                if *slot == 0 {
                    *slot = position;
                }
            }
        }
        Self { objects, index }
    }

    pub(crate) fn get(&self, tag: u8) -> Option<&'o DataObject<'a>> {
        let position = self.index.get(usize::from(tag)).copied()?;
        self.objects.get(usize::from(position).checked_sub(1)?)
    }
}

/// Length of `text` in UTF-16 code units (JS `.length`): one unit per character, two for a
/// character of 4 UTF-8 bytes.
pub(crate) fn utf16_len(text: &str) -> usize {
    if text.is_ascii() {
        return text.len();
    }
    text.bytes()
        .map(|byte| usize::from(byte & 0xC0 != 0x80) + usize::from(byte >= 0xF0))
        .sum()
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
pub(crate) fn push_two_digits(out: &mut String, value: usize) {
    let start = value.min(MAX_VALUE_UTF16).saturating_mul(2);
    out.push_str(
        TWO_DIGITS
            .get(start..start.saturating_add(2))
            .unwrap_or_default(),
    );
}

/// Appends `tag`, the 2-digit UTF-16 length of `value`, and `value` to `out`.
///
/// # Errors
///
/// [`KhqrError::TemplateTooLong`] when `value` is longer than 99 code units; callers check
/// their fields' limits first, so only templates can get here.
pub(crate) fn push(out: &mut String, tag: &'static str, value: &str) -> Result<(), KhqrError> {
    let length = utf16_len(value);
    if length > MAX_VALUE_UTF16 {
        return Err(KhqrError::TemplateTooLong {
            tag,
            length_utf16: length,
        });
    }
    out.push_str(tag);
    push_two_digits(out, length);
    out.push_str(value);
    Ok(())
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

/// Appends template `tag` made of `subs` to `out`, as [`push`] would append its value built
/// apart, without building it apart.
///
/// # Errors
///
/// As [`push`].
pub(crate) fn push_template(
    out: &mut String,
    tag: &'static str,
    subs: &[(&'static str, Option<&str>)],
) -> Result<(), KhqrError> {
    let length = template_len(subs);
    if length > MAX_VALUE_UTF16 {
        return Err(KhqrError::TemplateTooLong {
            tag,
            length_utf16: length,
        });
    }
    out.push_str(tag);
    push_two_digits(out, length);
    for (sub_tag, value) in subs {
        if let Some(value) = value {
            push(out, sub_tag, value)?;
        }
    }
    Ok(())
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
        // 20 bytes at most: always fits.
        let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{value}"));
        text
    }

    pub(crate) fn as_str(&self) -> &str {
        self.bytes
            .get(..self.len)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or_default()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl std::fmt::Write for ShortText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len.checked_add(text.len()).ok_or(std::fmt::Error)?;
        let target = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        target.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Parses `text` as a TLV list. `base` is the offset of `text` in the whole string in UTF-16
/// code units, for errors; `is_template` says which tags hold a TLV list of their own (parsed
/// one level down).
///
/// # Errors
///
/// [`KhqrError::MalformedTlv`] when a tag or length is not 2 ASCII digits, a value runs past the
/// end, or a value boundary splits a surrogate pair.
pub(crate) fn parse<'a>(
    text: &'a str,
    base: usize,
    is_template: fn(u8) -> bool,
) -> Result<Vec<DataObject<'a>>, KhqrError> {
    // A KHQR holds about 12 top-level objects; a template 1 to 5.
    let mut objects = Vec::with_capacity(if base == 0 { 16 } else { 4 });
    // Byte position in `text` and the same position in UTF-16 code units.
    let mut position = 0;
    let mut position_utf16 = 0;
    let bytes = text.as_bytes();
    while position < bytes.len() {
        let offset = base.saturating_add(position_utf16);
        let header_end = position.saturating_add(4);
        let header = bytes.get(position..header_end);
        let (tag, length) = match header {
            Some(&[tag_1, tag_2, length_1, length_2])
                if [tag_1, tag_2, length_1, length_2]
                    .iter()
                    .all(u8::is_ascii_digit) =>
            {
                (
                    digits(tag_1, tag_2),
                    usize::from(digits(length_1, length_2)),
                )
            }
            _ => return Err(header_error(text, position, offset)),
        };
        let value_start_utf16 = position_utf16.saturating_add(4);
        let rest = bytes.get(header_end..).unwrap_or_default();
        let value_len = value_bytes(rest, length)
            .map_err(|problem| KhqrError::MalformedTlv { offset, problem })?;
        let value_end = header_end.saturating_add(value_len);
        let value = text
            .get(header_end..value_end)
            .ok_or(KhqrError::MalformedTlv {
                offset,
                problem: "value boundary splits a UTF-16 surrogate pair",
            })?;
        let sub = if is_template(tag) {
            Some(parse(
                value,
                base.saturating_add(value_start_utf16),
                |_| false,
            )?)
        } else {
            None
        };
        objects.push(DataObject { tag, value, sub });
        position = value_end;
        position_utf16 = value_start_utf16.saturating_add(length);
    }
    Ok(objects)
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

/// The number written by two ASCII digits.
fn digits(high: u8, low: u8) -> u8 {
    high.wrapping_sub(b'0')
        .wrapping_mul(10)
        .wrapping_add(low.wrapping_sub(b'0'))
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
}
