//! The load-time checks of fee rules: amounts in the currency's scale and not negative, bands
//! that cover their parameter's domain with no gap and no overlap, choices on known values.

use std::collections::BTreeSet;

use ledger::Currency;

use super::{issue, parse_amount, Band, ChoiceOption, FeeRule, RuleIssue};
use crate::app::fees::params::{self, ParameterKind};

/// Deepest nesting of branches a rule may have.
const MAX_DEPTH: usize = 6;

impl FeeRule {
    /// Every problem of the rule for a service priced in `currency` (empty when it is sound).
    pub fn check(&self, currency: Currency) -> Vec<RuleIssue> {
        let mut issues = Vec::new();
        self.check_at(currency, 0, &mut Vec::new(), &mut issues);
        issues
    }

    fn check_at(
        &self,
        currency: Currency,
        depth: usize,
        path: &mut Vec<String>,
        issues: &mut Vec<RuleIssue>,
    ) {
        if depth > MAX_DEPTH {
            issues.push(issue(
                "rule_too_deep",
                format!("rules nest at most {MAX_DEPTH} levels"),
            ));
            return;
        }
        match self {
            FeeRule::Fixed {
                amount,
                source_rows,
            }
            | FeeRule::PerUnit {
                amount,
                source_rows,
            } => {
                check_positive(amount, currency, issues);
                check_rows(source_rows, issues);
            }
            FeeRule::Maximum {
                amount,
                preferential,
                reasons,
                source_rows,
            } => check_maximum(
                currency,
                amount,
                preferential.as_deref(),
                reasons,
                source_rows,
                issues,
            ),
            FeeRule::Free { source_rows } => check_rows(source_rows, issues),
            FeeRule::Unpublished { .. } => {}
            FeeRule::Bands { parameter, bands } => {
                if enter(parameter, path, true, issues) {
                    check_bands(parameter, bands, issues);
                    for band in bands {
                        band.rule.check_at(currency, depth + 1, path, issues);
                    }
                    path.pop();
                }
            }
            FeeRule::Choice { parameter, options } => {
                if enter(parameter, path, false, issues) {
                    check_options(parameter, options, issues);
                    for option in options {
                        option.rule.check_at(currency, depth + 1, path, issues);
                    }
                    path.pop();
                }
            }
        }
    }
}

fn check_positive(amount: &str, currency: Currency, issues: &mut Vec<RuleIssue>) {
    match parse_amount(amount, currency) {
        Ok(money) if money.is_zero() => issues.push(issue(
            "zero_fee",
            format!("amount {amount:?} is zero; a service published as free uses kind \"free\""),
        )),
        Ok(_) => {}
        Err(found) => issues.push(found),
    }
}

fn check_rows(rows: &[u32], issues: &mut Vec<RuleIssue>) {
    if rows.contains(&0) {
        issues.push(issue(
            "invalid_source_rows",
            "source rows are numbered from 1".to_owned(),
        ));
    }
}

fn check_maximum(
    currency: Currency,
    amount: &str,
    preferential: Option<&str>,
    reasons: &[String],
    source_rows: &[u32],
    issues: &mut Vec<RuleIssue>,
) {
    check_positive(amount, currency, issues);
    check_rows(source_rows, issues);
    if let Some(preferential) = preferential {
        check_positive(preferential, currency, issues);
        if let (Ok(maximum), Ok(lower)) = (
            parse_amount(amount, currency),
            parse_amount(preferential, currency),
        ) {
            if lower.amount_minor() > maximum.amount_minor() {
                issues.push(issue(
                    "preferential_above_maximum",
                    format!("preferential price {preferential} is above the maximum {amount}"),
                ));
            }
        }
    } else if !reasons.is_empty() {
        issues.push(issue(
            "invalid_rule",
            "reasons are given but no preferential price".to_owned(),
        ));
    }
    let mut seen = BTreeSet::new();
    for reason in reasons {
        if !params::is_reason_code(reason) || !seen.insert(reason) {
            issues.push(issue(
                "invalid_reason",
                format!("reason {reason:?} is not a distinct code of a-z, 0-9 and _"),
            ));
        }
    }
}

/// Enters a branch on `parameter`; false (with an issue) when the branch cannot be checked.
fn enter(
    parameter: &str,
    path: &mut Vec<String>,
    numeric: bool,
    issues: &mut Vec<RuleIssue>,
) -> bool {
    let Some(definition) = params::lookup(parameter) else {
        issues.push(issue(
            "unknown_parameter",
            format!("{parameter:?} is not a public parameter"),
        ));
        return false;
    };
    let fits = if numeric {
        definition.is_numeric()
    } else {
        matches!(
            definition.kind,
            ParameterKind::Choice { .. } | ParameterKind::Category
        )
    };
    if !fits {
        issues.push(issue(
            "parameter_kind_mismatch",
            format!(
                "{parameter} cannot be used in {}",
                if numeric { "bands" } else { "a choice" }
            ),
        ));
        return false;
    }
    if path.iter().any(|name| name == parameter) {
        issues.push(issue(
            "repeated_parameter",
            format!("{parameter} is already decided further up the rule"),
        ));
        return false;
    }
    path.push(parameter.to_owned());
    true
}

fn check_bands(parameter: &str, bands: &[Band], issues: &mut Vec<RuleIssue>) {
    let Some(definition) = params::lookup(parameter) else {
        return;
    };
    let (Some((minimum, minimum_inclusive)), Some(maximum)) =
        (definition.domain_minimum(), definition.domain_maximum())
    else {
        return;
    };
    let (Some(first), Some(last)) = (bands.first(), bands.last()) else {
        issues.push(issue(
            "empty_bands",
            format!("bands on {parameter} list no band"),
        ));
        return;
    };
    let whole = matches!(definition.kind, ParameterKind::Count { .. });
    for band in bands {
        for bound in band.lower.iter().chain(band.upper.iter()) {
            match bound.decimal() {
                Some(value) if !whole || value.fract().is_zero() => {}
                _ => issues.push(issue(
                    "invalid_bound",
                    format!("{parameter} bound {:?} is not a valid number", bound.value),
                )),
            }
        }
        if let (Some(lower), Some(upper)) = (&band.lower, &band.upper) {
            if let (Some(low), Some(high)) = (lower.decimal(), upper.decimal()) {
                if low > high || (low == high && !(lower.inclusive && upper.inclusive)) {
                    issues.push(issue(
                        "empty_band",
                        format!("band {} on {parameter} holds no value", band.label()),
                    ));
                }
            }
        }
    }
    for pair in bands.windows(2) {
        if let [before, after] = pair {
            check_adjacent(parameter, before, after, issues);
        }
    }
    let covers_minimum = match &first.lower {
        None => true,
        Some(bound) => bound.decimal().is_some_and(|value| {
            value < minimum || (value == minimum && (bound.inclusive || !minimum_inclusive))
        }),
    };
    let covers_maximum = match &last.upper {
        None => true,
        Some(bound) => bound
            .decimal()
            .is_some_and(|value| value > maximum || (value == maximum && bound.inclusive)),
    };
    if !covers_minimum || !covers_maximum {
        issues.push(issue(
            "band_gap",
            format!(
                "bands on {parameter} must cover every value from {minimum} to {maximum}; \
                 add an \"unpublished\" band where no fee is sourced"
            ),
        ));
    }
}

fn check_adjacent(parameter: &str, before: &Band, after: &Band, issues: &mut Vec<RuleIssue>) {
    let labels = format!("{} and {}", before.label(), after.label());
    let (Some(upper), Some(lower)) = (&before.upper, &after.lower) else {
        issues.push(issue(
            "overlapping_bands",
            format!("bands {labels} on {parameter} overlap (an unbounded edge between them)"),
        ));
        return;
    };
    let (Some(high), Some(low)) = (upper.decimal(), lower.decimal()) else {
        return;
    };
    let overlap = high > low || (high == low && upper.inclusive && lower.inclusive);
    let gap = high < low || (high == low && !upper.inclusive && !lower.inclusive);
    if overlap {
        issues.push(issue(
            "overlapping_bands",
            format!("bands {labels} on {parameter} overlap"),
        ));
    } else if gap {
        issues.push(issue(
            "band_gap",
            format!("bands {labels} on {parameter} leave a gap"),
        ));
    }
}

fn check_options(parameter: &str, options: &[ChoiceOption], issues: &mut Vec<RuleIssue>) {
    let Some(definition) = params::lookup(parameter) else {
        return;
    };
    if options.is_empty() {
        issues.push(issue(
            "empty_choice",
            format!("the choice on {parameter} lists no option"),
        ));
    }
    let mut seen = BTreeSet::new();
    for option in options {
        if !definition.accepts_option(&option.value) {
            issues.push(issue(
                "invalid_option",
                format!("{:?} is not a value of {parameter}", option.value),
            ));
        } else if !seen.insert(option.value.as_str()) {
            issues.push(issue(
                "duplicate_option",
                format!("{parameter} = {:?} is listed twice", option.value),
            ));
        }
    }
    if let ParameterKind::Choice { values } = definition.kind {
        let missing: Vec<&str> = values
            .iter()
            .copied()
            .filter(|value| !seen.contains(value))
            .collect();
        if !missing.is_empty() {
            issues.push(issue(
                "missing_option",
                format!(
                    "the choice on {parameter} must list {} (use \"unpublished\" where no fee is sourced)",
                    missing.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn rule(json: &str) -> FeeRule {
        serde_json::from_str(json).unwrap()
    }

    fn codes(rule: &FeeRule) -> Vec<&'static str> {
        rule.check(Currency::Khr)
            .into_iter()
            .map(|found| found.code)
            .collect()
    }

    #[test]
    fn a_sound_banded_rule_with_location_tiers_passes() {
        let sound = rule(
            r#"{"kind":"bands","parameter":"floor_area_m2","bands":[
                {"lower":null,"upper":{"value":"100","inclusive":true},"rule":{"kind":"choice","parameter":"location","options":[
                    {"value":"outside_town","rule":{"kind":"fixed","amount":"420000"}},
                    {"value":"urban","rule":{"kind":"fixed","amount":"600000"}}]}},
                {"lower":{"value":"100","inclusive":false},"upper":null,"rule":{"kind":"unpublished"}}]}"#,
        );
        assert_eq!(codes(&sound), Vec::<&str>::new());
        assert_eq!(sound.price_points().len(), 3);
    }

    #[test]
    fn overlaps_gaps_and_bad_amounts_are_named() {
        let overlap = rule(
            r#"{"kind":"bands","parameter":"land_area_m2","bands":[
                {"lower":null,"upper":{"value":"100","inclusive":true},"rule":{"kind":"fixed","amount":"1"}},
                {"lower":{"value":"100","inclusive":true},"upper":null,"rule":{"kind":"fixed","amount":"2"}}]}"#,
        );
        assert_eq!(codes(&overlap), vec!["overlapping_bands"]);
        let gap = rule(
            r#"{"kind":"bands","parameter":"land_area_m2","bands":[
                {"lower":null,"upper":{"value":"100","inclusive":false},"rule":{"kind":"fixed","amount":"1"}},
                {"lower":{"value":"100","inclusive":false},"upper":null,"rule":{"kind":"fixed","amount":"2"}}]}"#,
        );
        assert_eq!(codes(&gap), vec!["band_gap"]);
        assert_eq!(
            codes(&rule(r#"{"kind":"fixed","amount":"-5"}"#)),
            vec!["negative_fee"]
        );
        assert_eq!(
            codes(&rule(r#"{"kind":"fixed","amount":"5.5"}"#)),
            vec!["decimal_riel"]
        );
        assert_eq!(
            codes(&rule(
                r#"{"kind":"maximum","amount":"100","preferential":"150"}"#
            )),
            vec!["preferential_above_maximum"]
        );
        assert_eq!(
            codes(&rule(
                r#"{"kind":"choice","parameter":"location","options":[{"value":"urban","rule":{"kind":"free"}}]}"#
            )),
            vec!["missing_option"]
        );
        assert!(
            serde_json::from_str::<FeeRule>(r#"{"kind":"fixed","amount":"1","extra":1}"#).is_err()
        );
    }
}
