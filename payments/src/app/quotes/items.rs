//! Turning the items of a quote request into lines to price: a service item is one line, a
//! bundle item one line per service of the bundle.

use serde_json::{Map, Value};

use super::{QuoteItem, MAX_QUOTE_LINES};
use crate::app::error::AppError;
use crate::app::fees::model::{BundleEntry, ServiceEntry};
use crate::app::validation::is_lookup_text;

/// A line to price: where it came from in the request, and what to price.
pub(super) struct Planned {
    pub item: usize,
    pub service_code: String,
    pub quantity: i64,
    pub params: Map<String, Value>,
    pub bundle_code: Option<String>,
}

pub(super) fn unknown_service(index: usize, code: &str) -> AppError {
    AppError::unprocessable(
        "unknown_service",
        "Unknown service",
        format!("no service has the code {code:?}"),
    )
    .with("parameter", format!("items[{index}].service_code"))
}

/// Codes that cannot name anything (too long, or a NUL PostgreSQL cannot hold) are unknown.
pub(super) fn check_codes(items: &[QuoteItem]) -> Result<(), AppError> {
    for (index, item) in items.iter().enumerate() {
        if let Some(code) = item.service_code.as_deref() {
            if !is_lookup_text(code, 64) {
                return Err(unknown_service(index, code));
            }
        }
        if let Some(code) = item.bundle_code.as_deref() {
            if !is_lookup_text(code, 64) {
                return Err(unknown_bundle(index, code));
            }
        }
    }
    Ok(())
}

fn unknown_bundle(index: usize, code: &str) -> AppError {
    AppError::unprocessable(
        "unknown_bundle",
        "Unknown bundle",
        format!("no bundle has the code {code:?}"),
    )
    .with("parameter", format!("items[{index}].bundle_code"))
}

/// Turns request items into lines to price, expanding bundles.
pub(super) fn plan(
    items: &[QuoteItem],
    bundles: &[BundleEntry],
    services: &[ServiceEntry],
) -> Result<Vec<Planned>, AppError> {
    let mut planned = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let params = item.params.clone().unwrap_or_default();
        match (&item.service_code, &item.bundle_code) {
            (Some(code), None) => {
                if item.quantities.is_some() {
                    return Err(AppError::validation(
                        &format!("items[{index}].quantities"),
                        "quantities is for bundle items; a service item has quantity",
                    ));
                }
                planned.push(Planned {
                    item: index,
                    service_code: code.clone(),
                    quantity: item.quantity.unwrap_or(1),
                    params,
                    bundle_code: None,
                });
            }
            (None, Some(code)) => {
                let bundle = bundles
                    .iter()
                    .find(|bundle| &bundle.code == code)
                    .ok_or_else(|| unknown_bundle(index, code))?;
                planned.extend(plan_bundle(index, item, bundle, &params, services)?);
            }
            _ => {
                return Err(AppError::validation(
                    &format!("items[{index}]"),
                    "each item has exactly one of service_code and bundle_code",
                ))
            }
        }
        if planned.len() > MAX_QUOTE_LINES {
            return Err(AppError::validation(
                "items",
                format!("a quote has at most {MAX_QUOTE_LINES} lines"),
            ));
        }
    }
    Ok(planned)
}

/// Checks what a bundle item asks for: quantities of its own services, parameters that one of
/// its services reads.
fn check_bundle_item(
    index: usize,
    item: &QuoteItem,
    bundle: &BundleEntry,
    params: &Map<String, Value>,
    services: &[ServiceEntry],
) -> Result<(), AppError> {
    if item.quantity.is_some() {
        return Err(AppError::validation(
            &format!("items[{index}].quantity"),
            "a bundle takes quantities per service code, not quantity",
        ));
    }
    let quantities = item.quantities.iter().flat_map(|map| map.keys());
    for code in quantities {
        if !bundle.items.iter().any(|part| &part.service_code == code) {
            return Err(AppError::validation(
                &format!("items[{index}].quantities.{code}"),
                format!("{code} is not a service of bundle {}", bundle.code),
            ));
        }
    }
    let read_by_some = |name: &String| {
        services.iter().any(|service| {
            bundle
                .items
                .iter()
                .any(|part| part.service_code == service.code)
                && service.rule.parameters().contains(name)
        })
    };
    match params.keys().find(|name| !read_by_some(name)) {
        Some(name) => Err(AppError::validation(
            &format!("items[{index}].params.{name}"),
            format!(
                "no service of bundle {} takes the parameter {name:?}",
                bundle.code
            ),
        )),
        None => Ok(()),
    }
}

/// One line per service of the bundle: the bundle's parameters plus the request's (a request
/// may not override what the bundle fixes), the bundle's quantity unless `quantities` says.
fn plan_bundle(
    index: usize,
    item: &QuoteItem,
    bundle: &BundleEntry,
    params: &Map<String, Value>,
    services: &[ServiceEntry],
) -> Result<Vec<Planned>, AppError> {
    check_bundle_item(index, item, bundle, params, services)?;
    let mut lines = Vec::new();
    for part in &bundle.items {
        let service = services
            .iter()
            .find(|service| service.code == part.service_code)
            .ok_or_else(|| unknown_service(index, &part.service_code))?;
        let reads = service.rule.parameters();
        let mut line_params: Map<String, Value> = part
            .params
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        for (name, value) in params.iter().filter(|(name, _)| reads.contains(*name)) {
            if part.params.contains_key(name) {
                return Err(AppError::validation(
                    &format!("items[{index}].params.{name}"),
                    format!(
                        "{name} is fixed by bundle {} for {}",
                        bundle.code, service.code
                    ),
                ));
            }
            line_params.insert(name.clone(), value.clone());
        }
        let quantity = item
            .quantities
            .as_ref()
            .and_then(|quantities| quantities.get(&service.code))
            .copied()
            .unwrap_or(part.quantity);
        lines.push(Planned {
            item: index,
            service_code: service.code.clone(),
            quantity,
            params: line_params,
            bundle_code: Some(bundle.code.clone()),
        });
    }
    Ok(lines)
}
