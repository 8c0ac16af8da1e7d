//! Properties of the fee engine over the bundled schedule: a line is its unit price times its
//! quantity, a quote's total is the sum of its lines, KHR amounts are whole riel, and no input
//! makes the engine fail for a reason other than the client's.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use ledger::Currency;
use payments::app::fees::engine::{self, LineError};
use payments::app::fees::model::{Catalog, ServiceEntry};
use payments::app::fees::{csv_format, BUNDLED_CATALOG_CSV};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use sqlx::PgPool;

use crate::support::TestApp;

pub fn sector_codes() -> BTreeSet<String> {
    include_str!("../../data/sectors.csv")
        .lines()
        .skip(1)
        .filter_map(|line| line.split(',').nth(1).map(str::to_owned))
        .collect()
}

fn bundled() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG
        .get_or_init(|| csv_format::parse(BUNDLED_CATALOG_CSV.as_bytes(), &sector_codes()).unwrap())
}

/// A JSON number with exactly this decimal text.
fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// Parameters for a service: every parameter its rule reads, sometimes omitted or odd.
fn params_for(service: &ServiceEntry) -> BoxedStrategy<Map<String, Value>> {
    let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = service
        .rule
        .parameters()
        .into_iter()
        .map(|name| {
            let value: BoxedStrategy<Value> = match name.as_str() {
                "floor_area_m2" | "land_area_m2" => (1u32..=60_000u32)
                    .prop_map(|hundredths| {
                        number(&rust_decimal::Decimal::new(i64::from(hundredths), 2).to_string())
                    })
                    .boxed(),
                "seats" | "workers" => (1i64..=8).prop_map(|count| json!(count)).boxed(),
                "category" => prop_oneof![Just("A"), Just("B"), Just("C")]
                    .prop_map(|value| json!(value))
                    .boxed(),
                "location" => prop_oneof![Just("urban"), Just("outside_town")]
                    .prop_map(|value| json!(value))
                    .boxed(),
                "province_group" => prop_oneof![Just("major"), Just("other")]
                    .prop_map(|value| json!(value))
                    .boxed(),
                _ => Just(json!("hardship")).boxed(),
            };
            let optional = matches!(name.as_str(), "province_group" | "preferential_reason");
            let present = if optional { 0.5 } else { 0.95 };
            proptest::option::weighted(
                proptest::option::Probability::new(present),
                value.prop_map(move |value| (name.clone(), value)),
            )
            .boxed()
        })
        .collect();
    parts
        .prop_map(|pairs| pairs.into_iter().flatten().collect())
        .boxed()
}

/// One line request: a service of the schedule, its parameters, a quantity (sometimes out of
/// range).
fn line() -> impl Strategy<Value = (usize, Map<String, Value>, i64)> {
    let services = &bundled().services;
    (0..services.len()).prop_flat_map(move |index| {
        let service = &services[index];
        (
            Just(index),
            params_for(service),
            prop_oneof![9 => 1..=service.max_quantity.min(50), 1 => -2i64..=0],
        )
    })
}

proptest! {
    #[test]
    fn a_line_is_its_unit_price_times_its_quantity((index, params, quantity) in line(), group in prop_oneof![Just("major"), Just("other")]) {
        let service = &bundled().services[index];
        match engine::price(service, quantity, &params, group) {
            Ok(priced) => {
                prop_assert_eq!(priced.amount.currency(), service.currency);
                prop_assert_eq!(
                    i128::from(priced.amount.amount_minor()),
                    i128::from(priced.evaluation.unit_price.amount_minor()) * i128::from(quantity)
                );
                prop_assert!(!priced.amount.is_negative());
                if service.currency == Currency::Khr {
                    prop_assert!(!priced.amount.format_amount().contains('.'));
                }
            }
            Err(LineError::Broken(cause)) => prop_assert!(false, "a bundled rule failed: {cause}"),
            Err(_) => {}
        }
    }

    #[test]
    fn a_quote_total_is_the_sum_of_its_lines_in_whole_riel(lines in proptest::collection::vec(line(), 1..8)) {
        let services = &bundled().services;
        let mut amounts = Vec::new();
        let mut expected: i128 = 0;
        for (index, params, quantity) in &lines {
            let service = &services[*index];
            if service.currency != Currency::Khr {
                continue;
            }
            if let Ok(priced) = engine::price(service, *quantity, params, "other") {
                expected += i128::from(priced.amount.amount_minor());
                amounts.push(priced.amount);
            }
        }
        match engine::total(&amounts).unwrap() {
            None => prop_assert!(amounts.is_empty()),
            Some(total) => {
                prop_assert_eq!(i128::from(total.amount_minor()), expected);
                prop_assert_eq!(total.currency(), Currency::Khr);
                prop_assert!(!total.format_amount().contains('.'));
            }
        }
    }
}

fn riel(value: &Value) -> i128 {
    assert_eq!(value["currency"], "KHR", "{value}");
    let text = value["amount"].as_str().unwrap();
    assert!(!text.contains('.'), "whole riel: {text}");
    text.parse().unwrap()
}

/// The same property through the API and PostgreSQL: sampled quotes (deterministic seed) are
/// either refused as a client error or total exactly the sum of their lines.
#[sqlx::test(migrations = "../migrations")]
async fn quotes_through_the_api_total_their_lines(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let services = &bundled().services;
    let mut runner = TestRunner::deterministic();
    let strategy = proptest::collection::vec(line(), 1..5);
    let mut created = 0;
    for _ in 0..24 {
        let lines = strategy.new_tree(&mut runner).unwrap().current();
        let items: Vec<Value> = lines
            .iter()
            .filter(|(index, _, _)| services[*index].currency == Currency::Khr)
            .map(|(index, params, quantity)| {
                json!({"service_code": services[*index].code, "quantity": quantity, "params": params})
            })
            .collect();
        if items.is_empty() {
            continue;
        }
        let reply = app
            .post(
                "/v1/quotes",
                Some(app.key("workflow")),
                None,
                &json!({"office_code": "0320", "items": items}),
            )
            .await;
        match reply.status {
            StatusCode::CREATED => {
                created += 1;
                let sum: i128 = reply.body["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|line| riel(&line["amount"]))
                    .sum();
                assert_eq!(riel(&reply.body["total"]), sum, "{}", reply.body);
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                let code = reply.body["code"].as_str().unwrap();
                assert!(
                    ["validation_failed", "fee_not_published", "no_fee_due"].contains(&code),
                    "{}",
                    reply.body
                );
            }
            other => panic!("{other}: {}", reply.body),
        }
    }
    assert!(created > 0, "some sampled quotes are valid");
}
