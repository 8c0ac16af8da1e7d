//! Checks of client text shared by the use cases.

/// Tells whether client text can name something in the database: at most `max_chars`
/// characters and no NUL (PostgreSQL text cannot hold one; binding it would be a 500).
pub fn is_lookup_text(value: &str, max_chars: usize) -> bool {
    !value.contains('\0') && value.chars().count() <= max_chars
}
