//! Checks of client text shared by the use cases.

/// Tells whether client text can name something in the database: at most `max_chars`
/// characters and no NUL (PostgreSQL text cannot hold one; binding it would be a 500).
pub fn is_lookup_text(value: &str, max_chars: usize) -> bool {
    !value.contains('\0') && value.chars().count() <= max_chars
}

/// The OpenAPI schema of a text field that takes one of `values` (documentation only: the
/// columns behind these fields are text).
pub fn text_enum(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// An optional whole number from JSON, written `7976` or `7976.0` (JSON Schema's `integer`
/// takes both, so a client's generated code may send either); a fraction is refused. For
/// counts and seconds only, never money (amounts are decimal strings).
pub fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let number: Option<serde_json::Number> = serde::Deserialize::deserialize(deserializer)?;
    number
        .map(|number| {
            number
                .as_i64()
                .or_else(|| {
                    // `{:.0}` of an integral f64 is its exact digits; i64 parsing then bounds it.
                    number
                        .as_f64()
                        .filter(|value| value.fract() == 0.0)
                        .and_then(|value| format!("{value:.0}").parse().ok())
                })
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("expected a whole number, got {number}"))
                })
        })
        .transpose()
}
