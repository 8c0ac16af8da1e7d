//! Tiny HTML pages for the people who click through a simulator in `make run`.

use std::fmt::Write as _;

/// Escapes text for HTML element content and double-quoted attributes.
pub(super) fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Wraps page content in a minimal, phone-friendly HTML document.
pub(super) fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body><h1>{title}</h1>\n{content}\n\
         <p><small>Bank simulator: no real money moves.</small></p></body></html>\n"
    )
}

/// Percent-encodes one path segment (a reference may hold `/`, `?` or spaces), keeping only
/// RFC 3986 unreserved characters as they are.
pub(super) fn path_segment(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("att_1-a.b~c"), "att_1-a.b~c");
        assert_eq!(path_segment("a/b c?\"ល"), "a%2Fb%20c%3F%22%E1%9E%9B");
    }
}
