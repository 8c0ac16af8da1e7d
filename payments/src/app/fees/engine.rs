//! The fee engine: prices one line (a service, a quantity, parameters) from a checked rule.
//! Pure: no database, no clock.
//!
//! No division happens anywhere: schedules publish every price they charge (an urban price is
//! stored as published, not computed from the outside-town price), and a line is its unit price
//! times a whole quantity, which is exact in minor units. Nothing here rounds.

use std::collections::BTreeMap;

use ledger::{Currency, Money};
use serde_json::{json, Map, Value};

use super::model::ServiceEntry;
use super::params::{self, ParameterValue};
use super::rules::{parse_amount, FeeRule};

/// The leaf that priced a line and the way to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub unit_price: Money,
    /// `fixed`, `per_unit`, `maximum`, `preferential` or `free`.
    pub rule: &'static str,
    /// The band(s) crossed, e.g. `floor_area_m2 (100, 200]`.
    pub band: Option<String>,
    /// Every decision from the root to the leaf.
    pub path: Vec<String>,
    pub preferential_reason: Option<String>,
    pub source_rows: Vec<u32>,
}

/// Why a line cannot be priced.
#[derive(Clone, Debug, PartialEq)]
pub enum LineError {
    /// A parameter (or `quantity`) is missing, of the wrong type or out of range.
    Parameter {
        name: String,
        reason: String,
        allowed: Value,
    },
    /// The rule reaches a tier with no published fee.
    Unpublished {
        path: Vec<String>,
        note: Option<String>,
    },
    /// A stored rule that does not evaluate: a bug, never the client's fault.
    Broken(String),
}

/// A priced line before it is bound to an office's revenue account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedLine {
    pub evaluation: Evaluation,
    pub quantity: i64,
    pub amount: Money,
    /// The parameters that were applied, as exact text.
    pub params: BTreeMap<String, String>,
}

fn refused(name: &str, reason: String, allowed: Value) -> LineError {
    LineError::Parameter {
        name: name.to_owned(),
        reason,
        allowed,
    }
}

/// Prices `quantity` units of `service`. `province_group` of the office fills the parameter of
/// the same name when the rule reads it and the request does not say.
#[tracing::instrument(level = "debug", skip_all, fields(service.code = %service.code, quantity))]
pub fn price(
    service: &ServiceEntry,
    quantity: i64,
    raw: &Map<String, Value>,
    office_province_group: &str,
) -> Result<PricedLine, LineError> {
    if !(1..=service.max_quantity).contains(&quantity) {
        return Err(refused(
            "quantity",
            format!(
                "quantity ({} per line) must be between 1 and {}, got {quantity}",
                service.unit, service.max_quantity
            ),
            json!({"type": "integer", "minimum": "1", "maximum": service.max_quantity.to_string(), "unit": service.unit}),
        ));
    }
    let used = service.rule.parameters();
    let mut values = BTreeMap::new();
    for (name, value) in raw {
        let Some(definition) = params::lookup(name) else {
            return Err(refused(
                name,
                format!("{name:?} is not a fee parameter"),
                json!({"parameters": used}),
            ));
        };
        if !used.contains(name) {
            return Err(refused(
                name,
                format!("service {} takes no parameter {name:?}", service.code),
                json!({"parameters": used}),
            ));
        }
        let parsed = definition
            .parse(value)
            .map_err(|refusal| LineError::Parameter {
                name: name.clone(),
                reason: refusal.reason,
                allowed: refusal.allowed,
            })?;
        values.insert(name.clone(), parsed);
    }
    if used.contains("province_group") && !values.contains_key("province_group") {
        values.insert(
            "province_group".to_owned(),
            ParameterValue::Text(office_province_group.to_owned()),
        );
    }
    let evaluation = evaluate(&service.rule, service.currency, &values)?;
    // A whole quantity times an amount in minor units: exact, no rounding.
    let amount = evaluation
        .unit_price
        .checked_mul(quantity)
        .map_err(|_| refused("quantity", "the amount overflows".to_owned(), Value::Null))?;
    Ok(PricedLine {
        evaluation,
        quantity,
        amount,
        params: values
            .iter()
            .map(|(name, value)| (name.clone(), value.to_text()))
            .collect(),
    })
}

/// Walks a checked rule to the leaf the parameters select.
pub fn evaluate(
    rule: &FeeRule,
    currency: Currency,
    values: &BTreeMap<String, ParameterValue>,
) -> Result<Evaluation, LineError> {
    let mut node = rule;
    let mut path = Vec::new();
    let mut bands: Vec<String> = Vec::new();
    loop {
        match node {
            FeeRule::Bands {
                parameter,
                bands: list,
            } => {
                let number = match values.get(parameter) {
                    Some(ParameterValue::Number(number)) => *number,
                    _ => return Err(missing(parameter)),
                };
                let band = list
                    .iter()
                    .find(|band| band.contains(number))
                    .ok_or_else(|| {
                        refused(
                            parameter,
                            format!("{parameter} {number} is outside every band of this fee"),
                            allowed_of(parameter),
                        )
                    })?;
                let step = format!("{parameter} {}", band.label());
                bands.push(step.clone());
                path.push(step);
                node = &band.rule;
            }
            FeeRule::Choice { parameter, options } => {
                let listed: Vec<&str> =
                    options.iter().map(|option| option.value.as_str()).collect();
                let text = match values.get(parameter) {
                    Some(ParameterValue::Text(text)) => text,
                    _ => {
                        return Err(refused(
                            parameter,
                            format!("{parameter} is required for this fee"),
                            json!({"type": "string", "values": listed}),
                        ))
                    }
                };
                let option = options
                    .iter()
                    .find(|option| &option.value == text)
                    .ok_or_else(|| {
                        refused(
                            parameter,
                            format!("{parameter} must be one of {}", listed.join(", ")),
                            json!({"type": "string", "values": listed}),
                        )
                    })?;
                path.push(format!("{parameter} = {text}"));
                node = &option.rule;
            }
            leaf => return price_leaf(leaf, currency, values, path, bands),
        }
    }
}

fn price_leaf(
    leaf: &FeeRule,
    currency: Currency,
    values: &BTreeMap<String, ParameterValue>,
    mut path: Vec<String>,
    bands: Vec<String>,
) -> Result<Evaluation, LineError> {
    let reason = match values.get("preferential_reason") {
        Some(ParameterValue::Text(reason)) => Some(reason.clone()),
        _ => None,
    };
    let broken = |found: super::rules::RuleIssue| LineError::Broken(found.message);
    let (unit_price, rule, source_rows) = match leaf {
        FeeRule::Fixed {
            amount,
            source_rows,
        } => (
            parse_amount(amount, currency).map_err(broken)?,
            "fixed",
            source_rows,
        ),
        FeeRule::PerUnit {
            amount,
            source_rows,
        } => (
            parse_amount(amount, currency).map_err(broken)?,
            "per_unit",
            source_rows,
        ),
        FeeRule::Free { source_rows } => (Money::zero(currency), "free", source_rows),
        FeeRule::Maximum {
            amount,
            preferential,
            reasons,
            source_rows,
        } => {
            let (price, rule) = price_maximum(
                amount,
                preferential.as_deref(),
                reasons,
                reason.as_deref(),
                currency,
            )?;
            (price, rule, source_rows)
        }
        FeeRule::Unpublished { note } => {
            return Err(LineError::Unpublished {
                path,
                note: note.clone(),
            })
        }
        FeeRule::Bands { .. } | FeeRule::Choice { .. } => {
            return Err(LineError::Broken("a branch is not a leaf".to_owned()))
        }
    };
    if reason.is_some() && rule != "preferential" {
        return Err(no_preferential());
    }
    path.push(format!("{rule} {}", unit_price.format_amount()));
    Ok(Evaluation {
        unit_price,
        rule,
        band: (!bands.is_empty()).then(|| bands.join("; ")),
        path,
        preferential_reason: reason,
        source_rows: source_rows.clone(),
    })
}

/// A maximum price, or its preferential price when a reason is recorded (and allowed).
fn price_maximum(
    amount: &str,
    preferential: Option<&str>,
    reasons: &[String],
    reason: Option<&str>,
    currency: Currency,
) -> Result<(Money, &'static str), LineError> {
    let broken = |found: super::rules::RuleIssue| LineError::Broken(found.message);
    match (reason, preferential) {
        (None, _) => Ok((parse_amount(amount, currency).map_err(broken)?, "maximum")),
        (Some(code), Some(preferential)) => {
            if !reasons.is_empty() && !reasons.iter().any(|allowed| allowed == code) {
                return Err(refused(
                    "preferential_reason",
                    format!("preferential_reason must be one of {}", reasons.join(", ")),
                    json!({"type": "string", "values": reasons}),
                ));
            }
            let price = parse_amount(preferential, currency).map_err(broken)?;
            Ok((price, "preferential"))
        }
        (Some(_), None) => Err(no_preferential()),
    }
}

fn no_preferential() -> LineError {
    refused(
        "preferential_reason",
        "no preferential price is published for this fee".to_owned(),
        Value::Null,
    )
}

fn allowed_of(parameter: &str) -> Value {
    params::lookup(parameter).map_or(Value::Null, params::Parameter::allowed)
}

fn missing(parameter: &str) -> LineError {
    refused(
        parameter,
        format!("{parameter} is required for this fee"),
        allowed_of(parameter),
    )
}

/// The total of priced lines: their exact sum, in their one currency.
///
/// # Errors
///
/// When the lines are in different currencies (the index of the first odd line) or the sum
/// overflows.
pub fn total<'a>(amounts: impl IntoIterator<Item = &'a Money>) -> Result<Option<Money>, usize> {
    let mut sum: Option<Money> = None;
    for (index, amount) in amounts.into_iter().enumerate() {
        sum = Some(match sum {
            None => *amount,
            Some(sum) => sum.checked_add(*amount).map_err(|_| index)?,
        });
    }
    Ok(sum)
}
