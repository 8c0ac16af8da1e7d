//! The public parameters of fee rules. Their names are part of the API contract (API.md,
//! "Catalog and quotes") and shared by every service; counted units (rooms, copies, sheets,
//! plots, days) are a line's `quantity`, never a parameter.

use rust_decimal::Decimal;
use serde_json::{json, Value};

/// What values a parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParameterKind {
    /// A decimal measure (an area), greater than zero and at most `maximum`, with at most
    /// [`MAX_MEASURE_DECIMALS`] decimals: `100.01` m² is a different band from `100` m².
    Measure { maximum: i64 },
    /// A whole count from 1 to `maximum` (seats, workers).
    Count { maximum: i64 },
    /// One of a fixed set of values.
    Choice { values: &'static [&'static str] },
    /// A category letter, `A` to `Z`; each rule lists the categories it prices.
    Category,
    /// A reason code recorded on the quote line (`[a-z0-9_]`, 1 to 64 characters).
    ReasonCode,
}

/// One public parameter.
#[derive(Debug)]
pub struct Parameter {
    pub name: &'static str,
    pub kind: ParameterKind,
    pub unit: Option<&'static str>,
    pub description: &'static str,
}

/// Most decimals a measure may carry (0.0001 m² is far below any band edge in a schedule).
pub const MAX_MEASURE_DECIMALS: u32 = 4;

pub const LOCATION_VALUES: &[&str] = &["urban", "outside_town"];
pub const PROVINCE_GROUP_VALUES: &[&str] = &["major", "other"];

/// Every parameter a fee rule may use.
pub const PARAMETERS: [Parameter; 8] = [
    Parameter {
        name: "floor_area_m2",
        kind: ParameterKind::Measure { maximum: 1_000_000 },
        unit: Some("m2"),
        description: "Floor area of the building, in square metres",
    },
    Parameter {
        name: "land_area_m2",
        kind: ParameterKind::Measure {
            maximum: 100_000_000,
        },
        unit: Some("m2"),
        description: "Area of the land plot, in square metres",
    },
    Parameter {
        name: "seats",
        kind: ParameterKind::Count { maximum: 10_000 },
        unit: Some("seat"),
        description: "Seats or chairs of the business",
    },
    Parameter {
        name: "workers",
        kind: ParameterKind::Count { maximum: 1_000_000 },
        unit: Some("worker"),
        description: "Workers of the enterprise",
    },
    Parameter {
        name: "category",
        kind: ParameterKind::Category,
        unit: None,
        description: "Category (type) of the licence: A, B, ...",
    },
    Parameter {
        name: "location",
        kind: ParameterKind::Choice {
            values: LOCATION_VALUES,
        },
        unit: None,
        description: "urban (in an urban centre) or outside_town",
    },
    Parameter {
        name: "province_group",
        kind: ParameterKind::Choice {
            values: PROVINCE_GROUP_VALUES,
        },
        unit: None,
        description: "major (Phnom Penh, Kandal, Preah Sihanouk, Siem Reap) or other; defaults to the office's group",
    },
    Parameter {
        name: "preferential_reason",
        kind: ParameterKind::ReasonCode,
        unit: None,
        description: "Reason code for charging a published preferential price instead of the maximum",
    },
];

/// Finds a public parameter by name.
pub fn lookup(name: &str) -> Option<&'static Parameter> {
    PARAMETERS.iter().find(|parameter| parameter.name == name)
}

/// A parsed parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParameterValue {
    Number(Decimal),
    Text(String),
}

impl ParameterValue {
    /// The value as recorded on a quote line (decimals as exact text, never a float).
    pub fn to_text(&self) -> String {
        match self {
            ParameterValue::Number(number) => number.to_string(),
            ParameterValue::Text(text) => text.clone(),
        }
    }
}

/// Why a value was refused, with what is allowed (shown to the client as `allowed`).
#[derive(Debug)]
pub struct Refusal {
    pub reason: String,
    pub allowed: Value,
}

/// Tells whether a reason code is well formed.
pub fn is_reason_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// Tells whether a category is well formed (one Latin capital letter).
pub fn is_category(value: &str) -> bool {
    value.len() == 1 && value.bytes().all(|byte| byte.is_ascii_uppercase())
}

impl Parameter {
    /// The values this parameter takes anywhere, as the `allowed` member of a problem.
    pub fn allowed(&self) -> Value {
        match self.kind {
            ParameterKind::Measure { maximum } => json!({
                "type": "decimal", "minimum": "0", "exclusive_minimum": true,
                "maximum": maximum.to_string(), "max_decimals": MAX_MEASURE_DECIMALS,
            }),
            ParameterKind::Count { maximum } => json!({
                "type": "integer", "minimum": "1", "maximum": maximum.to_string(),
            }),
            ParameterKind::Choice { values } => json!({ "type": "string", "values": values }),
            ParameterKind::Category => json!({ "type": "string", "pattern": "^[A-Z]$" }),
            ParameterKind::ReasonCode => {
                json!({ "type": "string", "pattern": "^[a-z0-9_]{1,64}$" })
            }
        }
    }

    /// The smallest value of a numeric parameter's domain and whether it is included.
    pub fn domain_minimum(&self) -> Option<(Decimal, bool)> {
        match self.kind {
            ParameterKind::Measure { .. } => Some((Decimal::ZERO, false)),
            ParameterKind::Count { .. } => Some((Decimal::ONE, true)),
            _ => None,
        }
    }

    /// The largest value of a numeric parameter's domain (always included).
    pub fn domain_maximum(&self) -> Option<Decimal> {
        match self.kind {
            ParameterKind::Measure { maximum } | ParameterKind::Count { maximum } => {
                Some(Decimal::from(maximum))
            }
            _ => None,
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(
            self.kind,
            ParameterKind::Measure { .. } | ParameterKind::Count { .. }
        )
    }

    /// Tells whether `value` may be an option of a choice on this parameter.
    pub fn accepts_option(&self, value: &str) -> bool {
        match self.kind {
            ParameterKind::Choice { values } => values.contains(&value),
            ParameterKind::Category => is_category(value),
            _ => false,
        }
    }

    /// Parses a JSON value from a request. Numbers are read through their JSON text into a
    /// `Decimal`, so `100.01` is exactly 100.01 (no binary floating point is involved).
    pub fn parse(&self, value: &Value) -> Result<ParameterValue, Refusal> {
        let refuse = |reason: String| Refusal {
            reason,
            allowed: self.allowed(),
        };
        match self.kind {
            ParameterKind::Measure { maximum } => {
                let Value::Number(number) = value else {
                    return Err(refuse(format!("{} must be a JSON number", self.name)));
                };
                let decimal = Decimal::from_str_exact(&number.to_string())
                    .map_err(|_| refuse(format!("{} must be a plain decimal number", self.name)))?;
                if decimal.normalize().scale() > MAX_MEASURE_DECIMALS {
                    return Err(refuse(format!(
                        "{} may have at most {MAX_MEASURE_DECIMALS} decimals",
                        self.name
                    )));
                }
                if decimal <= Decimal::ZERO || decimal > Decimal::from(maximum) {
                    return Err(refuse(format!(
                        "{} must be greater than 0 and at most {maximum}, got {decimal}",
                        self.name
                    )));
                }
                Ok(ParameterValue::Number(decimal.normalize()))
            }
            ParameterKind::Count { maximum } => {
                let count = match value {
                    Value::Number(number) => number.as_i64(),
                    _ => None,
                }
                .ok_or_else(|| refuse(format!("{} must be a whole JSON number", self.name)))?;
                if !(1..=maximum).contains(&count) {
                    return Err(refuse(format!(
                        "{} must be between 1 and {maximum}, got {count}",
                        self.name
                    )));
                }
                Ok(ParameterValue::Number(Decimal::from(count)))
            }
            ParameterKind::Choice { values } => match value {
                Value::String(text) if values.contains(&text.as_str()) => {
                    Ok(ParameterValue::Text(text.clone()))
                }
                _ => Err(refuse(format!(
                    "{} must be one of {}",
                    self.name,
                    values.join(", ")
                ))),
            },
            ParameterKind::Category => match value {
                Value::String(text) if is_category(text) => Ok(ParameterValue::Text(text.clone())),
                _ => Err(refuse(format!(
                    "{} must be one capital letter (A, B, ...)",
                    self.name
                ))),
            },
            ParameterKind::ReasonCode => match value {
                Value::String(text) if is_reason_code(text) => {
                    Ok(ParameterValue::Text(text.clone()))
                }
                _ => Err(refuse(format!(
                    "{} must be a reason code of 1 to 64 characters a-z, 0-9 or _",
                    self.name
                ))),
            },
        }
    }
}

/// Parses a decimal written in a schedule (a band bound), exactly.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.' || byte == b'-');
    if plain {
        Decimal::from_str_exact(text).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn measures_are_exact_decimals() {
        let area = lookup("floor_area_m2").unwrap();
        let parsed: Value = serde_json::from_str("100.01").unwrap();
        assert_eq!(
            area.parse(&parsed).unwrap(),
            ParameterValue::Number(Decimal::new(10001, 2))
        );
        for bad in [
            "0",
            "-1",
            "1000000.5",
            "\"100\"",
            "1e400",
            "100.00001",
            "true",
        ] {
            let value: Value = serde_json::from_str(bad).unwrap_or(Value::Null);
            assert!(area.parse(&value).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_and_choices() {
        let seats = lookup("seats").unwrap();
        assert!(seats.parse(&json!(3)).is_ok());
        assert!(seats.parse(&json!(2.5)).is_err());
        assert!(seats.parse(&json!(0)).is_err());
        let location = lookup("location").unwrap();
        assert!(location.parse(&json!("urban")).is_ok());
        assert!(location.parse(&json!("rural")).is_err());
        let category = lookup("category").unwrap();
        assert!(category.parse(&json!("B")).is_ok());
        assert!(category.parse(&json!("b")).is_err());
    }
}
