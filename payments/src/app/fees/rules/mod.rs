//! Fee rules: one tagged JSON document per service (`{"kind": ...}`), checked when a schedule
//! is loaded so that the engine only ever meets rules that make sense.
//!
//! Leaves price one unit (the line's quantity multiplies them): `fixed`, `per_unit`,
//! `maximum` (with an optional preferential price that needs a reason code), `free`, and
//! `unpublished` (a service or tier known to exist without a sourced fee). Branches choose a
//! leaf: `bands` on a numeric parameter (explicit open/closed bounds, no gap and no overlap over
//! the parameter's whole domain) and `choice` on a parameter's value (category, location,
//! province group). Branches nest, so location tiers combine with bands.

mod check;

use std::collections::BTreeSet;

use ledger::{Currency, Money, MoneyError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::params;

/// How a service's fee is computed. Amounts are decimal strings in the service's currency
/// (KHR whole riel, USD cents); bounds are exact decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeeRule {
    /// One price per unit of the service (per permit, per application).
    Fixed {
        amount: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        source_rows: Vec<u32>,
    },
    /// A price per counted unit (per room, copy, sheet, plot, day).
    PerUnit {
        amount: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        source_rows: Vec<u32>,
    },
    /// A published maximum price, charged unless a preferential price applies; the
    /// preferential price is charged only with a recorded `preferential_reason` (one of
    /// `reasons` when the schedule lists them).
    Maximum {
        amount: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preferential: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        source_rows: Vec<u32>,
    },
    /// Published as free of charge.
    Free {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        source_rows: Vec<u32>,
    },
    /// Known to exist, but no sourced fee: quoting it is refused, never guessed.
    Unpublished {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Bands on a numeric parameter, in ascending order.
    Bands { parameter: String, bands: Vec<Band> },
    /// A rule per value of a parameter.
    Choice {
        parameter: String,
        options: Vec<ChoiceOption>,
    },
}

/// One band: values between `lower` and `upper` (absent means unbounded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
    pub rule: FeeRule,
}

/// A band edge; `inclusive` says whether the value itself belongs to the band.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    pub value: String,
    pub inclusive: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    pub value: String,
    pub rule: FeeRule,
}

/// A problem found in a rule when a schedule is loaded; `code` is stable (import errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleIssue {
    pub code: &'static str,
    pub message: String,
}

pub(crate) fn issue(code: &'static str, message: String) -> RuleIssue {
    RuleIssue { code, message }
}

/// Reads an amount of a rule, naming what is wrong with it.
pub fn parse_amount(text: &str, currency: Currency) -> Result<Money, RuleIssue> {
    let money = Money::parse(text, currency).map_err(|error| match error {
        MoneyError::TooManyDecimals { .. } if currency == Currency::Khr => issue(
            "decimal_riel",
            format!("amount {text:?}: KHR fees are whole riel"),
        ),
        MoneyError::TooManyDecimals { .. } => issue(
            "too_many_decimals",
            format!("amount {text:?}: USD fees have at most 2 decimals"),
        ),
        _ => issue(
            "invalid_amount",
            format!("amount {text:?} is not a decimal number"),
        ),
    })?;
    if money.is_negative() {
        return Err(issue(
            "negative_fee",
            format!("amount {text:?} is negative"),
        ));
    }
    Ok(money)
}

impl Bound {
    pub fn decimal(&self) -> Option<Decimal> {
        params::parse_decimal(&self.value)
    }
}

impl Band {
    /// Tells whether `value` lies in the band (bounds already checked at load).
    pub fn contains(&self, value: Decimal) -> bool {
        let above = match &self.lower {
            None => true,
            Some(bound) => bound
                .decimal()
                .is_some_and(|lower| value > lower || (bound.inclusive && value == lower)),
        };
        let below = match &self.upper {
            None => true,
            Some(bound) => bound
                .decimal()
                .is_some_and(|upper| value < upper || (bound.inclusive && value == upper)),
        };
        above && below
    }

    /// Interval notation, e.g. `(100, 200]` or `[500, ∞)`.
    pub fn label(&self) -> String {
        let lower = match &self.lower {
            None => "(-∞".to_owned(),
            Some(bound) => format!("{}{}", if bound.inclusive { '[' } else { '(' }, bound.value),
        };
        let upper = match &self.upper {
            None => "∞)".to_owned(),
            Some(bound) => format!("{}{}", bound.value, if bound.inclusive { ']' } else { ')' }),
        };
        format!("{lower}, {upper}")
    }
}

impl FeeRule {
    /// The parameters the rule may read, including `preferential_reason` where a preferential
    /// price is published.
    pub fn parameters(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        self.collect_parameters(&mut names);
        names
    }

    fn collect_parameters(&self, names: &mut BTreeSet<String>) {
        match self {
            FeeRule::Maximum {
                preferential: Some(_),
                ..
            } => {
                names.insert("preferential_reason".to_owned());
            }
            FeeRule::Bands { parameter, bands } => {
                names.insert(parameter.clone());
                for band in bands {
                    band.rule.collect_parameters(names);
                }
            }
            FeeRule::Choice { parameter, options } => {
                names.insert(parameter.clone());
                for option in options {
                    option.rule.collect_parameters(names);
                }
            }
            _ => {}
        }
    }

    /// Every leaf with the conditions that lead to it, in document order.
    pub fn price_points(&self) -> Vec<PricePoint<'_>> {
        let mut points = Vec::new();
        self.collect_points(&mut Vec::new(), &mut points);
        points
    }

    fn collect_points<'a>(
        &'a self,
        conditions: &mut Vec<(String, String)>,
        points: &mut Vec<PricePoint<'a>>,
    ) {
        match self {
            FeeRule::Bands { parameter, bands } => {
                for band in bands {
                    conditions.push((parameter.clone(), band.label()));
                    band.rule.collect_points(conditions, points);
                    conditions.pop();
                }
            }
            FeeRule::Choice { parameter, options } => {
                for option in options {
                    conditions.push((parameter.clone(), option.value.clone()));
                    option.rule.collect_points(conditions, points);
                    conditions.pop();
                }
            }
            leaf => points.push(PricePoint {
                conditions: conditions.clone(),
                leaf,
            }),
        }
    }

    /// The leaf's kind as quote lines and views name it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            FeeRule::Fixed { .. } => "fixed",
            FeeRule::PerUnit { .. } => "per_unit",
            FeeRule::Maximum { .. } => "maximum",
            FeeRule::Free { .. } => "free",
            FeeRule::Unpublished { .. } => "unpublished",
            FeeRule::Bands { .. } => "bands",
            FeeRule::Choice { .. } => "choice",
        }
    }
}

/// A leaf of a rule and the conditions (parameter, band or value) that select it.
#[derive(Debug)]
pub struct PricePoint<'a> {
    pub conditions: Vec<(String, String)>,
    pub leaf: &'a FeeRule,
}

impl PricePoint<'_> {
    /// How many published prices the leaf holds (a maximum with a preferential price holds two).
    pub fn published_prices(&self) -> usize {
        match self.leaf {
            FeeRule::Maximum {
                preferential: Some(_),
                ..
            } => 2,
            FeeRule::Unpublished { .. } => 0,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn band_edges_are_exact() {
        let band = Band {
            lower: Some(Bound {
                value: "100".to_owned(),
                inclusive: false,
            }),
            upper: Some(Bound {
                value: "200".to_owned(),
                inclusive: true,
            }),
            rule: FeeRule::Free {
                source_rows: vec![],
            },
        };
        assert!(!band.contains(Decimal::new(100, 0)));
        assert!(band.contains(Decimal::new(10001, 2)));
        assert!(band.contains(Decimal::new(200, 0)));
        assert_eq!(band.label(), "(100, 200]");
    }
}
