//! Checks on text that arrives from a bank before it goes anywhere near our books or logs.

/// Refuses text that is empty, longer than `max_chars` characters, or holds control
/// characters; the message names `field`.
pub(crate) fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), String> {
    let length = value.chars().count();
    if length == 0 || length > max_chars {
        return Err(format!("{field} must have 1 to {max_chars} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(())
}
