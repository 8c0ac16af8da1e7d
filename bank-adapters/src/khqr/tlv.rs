//! EMV `tag length value` lists, with lengths counted in UTF-16 code units as the SDK does.
//!
//! Parsing works on the UTF-16 code units of the string so that a length is exactly JS
//! `.length`. Every step consumes at least 4 units, so parsing is linear and always ends.

use super::error::KhqrError;

/// The most UTF-16 code units an EMV merchant-presented QR payload may hold.
pub(crate) const MAX_QR_UTF16: usize = 512;

/// Largest value a 2-digit length can describe.
pub(crate) const MAX_VALUE_UTF16: usize = 99;

/// One data object of a TLV list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataObject {
    /// The tag, 0..=99.
    pub(crate) tag: u8,
    /// The value, decoded from UTF-16.
    pub(crate) value: String,
    /// Length of the value in UTF-16 code units.
    pub(crate) len_utf16: usize,
    /// The sub-objects, when the value of a template was parsed as a TLV list.
    pub(crate) sub: Option<Vec<DataObject>>,
}

impl DataObject {
    /// The sub-object with `tag`, when this is a parsed template holding it.
    pub(crate) fn sub_value(&self, tag: u8) -> Option<&str> {
        self.sub
            .as_deref()
            .and_then(|subs| subs.iter().find(|object| object.tag == tag))
            .map(|object| object.value.as_str())
    }
}

/// Length of `text` in UTF-16 code units (JS `.length`).
pub(crate) fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Formats a tag as the two digits written in the QR.
pub(crate) fn tag_text(tag: u8) -> String {
    format!("{tag:02}")
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
    out.push_str(&format!("{length:02}"));
    out.push_str(value);
    Ok(())
}

/// Parses `units` as a TLV list. `base` is the offset of `units` in the whole string, for errors;
/// `is_template` says which tags hold a TLV list of their own (parsed one level down).
///
/// # Errors
///
/// [`KhqrError::MalformedTlv`] when a tag or length is not 2 ASCII digits, a value runs past the
/// end, or a value boundary splits a surrogate pair.
pub(crate) fn parse(
    units: &[u16],
    base: usize,
    is_template: &dyn Fn(u8) -> bool,
) -> Result<Vec<DataObject>, KhqrError> {
    let mut objects = Vec::new();
    let mut position = 0;
    while position < units.len() {
        let offset = base.saturating_add(position);
        let malformed = |problem| KhqrError::MalformedTlv { offset, problem };
        let header_end = position.saturating_add(4);
        let Some(&[tag_1, tag_2, length_1, length_2]) = units.get(position..header_end) else {
            return Err(malformed("truncated tag or length"));
        };
        let tag = two_digits(tag_1, tag_2).ok_or_else(|| malformed("tag is not 2 digits"))?;
        let length =
            two_digits(length_1, length_2).ok_or_else(|| malformed("length is not 2 digits"))?;
        let value_end = header_end.saturating_add(usize::from(length));
        let value_units = units
            .get(header_end..value_end)
            .ok_or_else(|| malformed("value runs past the end"))?;
        let value = String::from_utf16(value_units)
            .map_err(|_| malformed("value boundary splits a UTF-16 surrogate pair"))?;
        let sub = if is_template(tag) {
            Some(parse(
                value_units,
                base.saturating_add(header_end),
                &|_| false,
            )?)
        } else {
            None
        };
        objects.push(DataObject {
            tag,
            value,
            len_utf16: value_units.len(),
            sub,
        });
        position = value_end;
    }
    Ok(objects)
}

/// The number written by two ASCII digits.
fn two_digits(high: u16, low: u16) -> Option<u8> {
    let digit = |unit: u16| -> Option<u8> {
        let byte = u8::try_from(unit).ok()?;
        byte.is_ascii_digit().then(|| byte - b'0')
    };
    Some(digit(high)? * 10 + digit(low)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(text: &str) -> Vec<u16> {
        text.encode_utf16().collect()
    }

    #[test]
    fn parses_nested_templates() {
        let objects = parse(&units("000201290700031@b"), 0, &|tag| tag == 29);
        let objects = objects.unwrap_or_default();
        assert_eq!(objects.len(), 2);
        let template = objects.get(1).and_then(|object| object.sub_value(0));
        assert_eq!(template, Some("1@b"));
    }

    #[test]
    fn refuses_three_digit_lengths_and_truncation() {
        assert!(parse(&units("30108abc"), 0, &|_| false).is_err());
        assert!(parse(&units("0002"), 0, &|_| false).is_err());
        assert!(parse(&units("00020"), 0, &|_| false).is_err());
        assert!(parse(&units("0a0201"), 0, &|_| false).is_err());
    }

    #[test]
    fn counts_utf16_units_and_refuses_split_pairs() {
        let text = "5903N😀";
        let objects = parse(&units(text), 0, &|_| false).unwrap_or_default();
        assert_eq!(objects.first().map(|object| object.len_utf16), Some(3));
        assert!(parse(&units("5902N😀"), 0, &|_| false).is_err());
    }
}
