//! One test per row of the sourced fee table: the quote of the row's case gives exactly the
//! published amount. Expected amounts are read from the verbatim copy of the table
//! (`payments/data/sources/owso-fees-sourced.csv`), not restated here.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::TestApp;

const SOURCED: &str = include_str!("../../data/sources/owso-fees-sourced.csv");

/// The published amount and currency of a row: `fee_khr`, or the USD amount the passport rows
/// carry in `fee_type` ("USD 100").
fn published(row: u32) -> (String, &'static str) {
    let mut reader = csv::Reader::from_reader(SOURCED.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|header| header == name).unwrap();
    let record = reader
        .records()
        .map(Result::unwrap)
        .find(|record| record[column("id")] == row.to_string())
        .unwrap();
    let khr = &record[column("fee_khr")];
    if khr.is_empty() {
        let usd = record[column("fee_type")].strip_prefix("USD ").unwrap();
        (format!("{usd}.00"), "USD")
    } else {
        (khr.to_owned(), "KHR")
    }
}

async fn check_row(pool: PgPool, row: u32, item: Value) {
    let app = TestApp::start(pool).await;
    let mut items = vec![item];
    if row == 30 {
        // A free service alone has nothing to pay (no_fee_due); beside a paid one it is a 0 line.
        items.push(json!({"service_code": "labour.internal_regulations_8_100"}));
    }
    let reply = app
        .post(
            "/v1/quotes",
            Some(app.key("workflow")),
            None,
            &json!({"office_code": "0320", "items": items}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "row {row}: {}",
        reply.body
    );
    let line = &reply.body["lines"][0];
    let (amount, currency) = published(row);
    assert_eq!(
        line["amount"],
        json!({"amount": amount, "currency": currency}),
        "row {row}: {line}"
    );
    assert_eq!(line["unit_price"], line["amount"], "row {row}: quantity 1");
    assert!(
        line["source_rows"]
            .as_array()
            .unwrap()
            .contains(&json!(row)),
        "row {row} priced by the leaf sourced from it: {line}"
    );
    assert_eq!(line["schedule_version"], "2025-sourced-1");
}

macro_rules! sourced_row {
    ($name:ident, $row:literal, $item:tt) => {
        #[sqlx::test(migrations = "../migrations")]
        async fn $name(pool: PgPool) {
            check_row(pool, $row, json!($item)).await;
        }
    };
}

const VILLA: &str = "construction.villa_permit";

sourced_row!(row_01_villa_up_to_100_outside_town, 1, {"service_code": VILLA, "params": {"floor_area_m2": 80, "location": "outside_town"}});
sourced_row!(row_02_villa_up_to_100_urban, 2, {"service_code": VILLA, "params": {"floor_area_m2": 80, "location": "urban"}});
sourced_row!(row_03_villa_100_200_outside_town, 3, {"service_code": VILLA, "params": {"floor_area_m2": 150, "location": "outside_town"}});
sourced_row!(row_04_villa_100_200_urban, 4, {"service_code": VILLA, "params": {"floor_area_m2": 150, "location": "urban"}});
sourced_row!(row_05_villa_200_300_outside_town, 5, {"service_code": VILLA, "params": {"floor_area_m2": 250.5, "location": "outside_town"}});
sourced_row!(row_06_villa_200_300_urban, 6, {"service_code": VILLA, "params": {"floor_area_m2": 300, "location": "urban"}});
sourced_row!(row_07_villa_300_400_outside_town, 7, {"service_code": VILLA, "params": {"floor_area_m2": 400, "location": "outside_town"}});
sourced_row!(row_08_villa_300_400_urban, 8, {"service_code": VILLA, "params": {"floor_area_m2": 300.01, "location": "urban"}});
sourced_row!(row_09_room_rental_house_per_room, 9, {"service_code": "tourism.room_rental_house_licence", "quantity": 1});
sourced_row!(row_10_notarization_maximum, 10, {"service_code": "legalization.business_certificate_notarization", "quantity": 1});
sourced_row!(row_11_notarization_preferential, 11, {"service_code": "legalization.business_certificate_notarization", "params": {"preferential_reason": "poor_household"}});
sourced_row!(row_12_land_transfer_under_100_maximum, 12, {"service_code": "unregistered_property_transfer.unregistered_land_transfer", "params": {"land_area_m2": 99.99, "location": "urban"}});
sourced_row!(row_13_land_transfer_under_100_preferential, 13, {"service_code": "unregistered_property_transfer.unregistered_land_transfer", "params": {"land_area_m2": 60, "location": "urban", "preferential_reason": "first_transfer"}});
sourced_row!(row_14_land_transfer_100_500_maximum, 14, {"service_code": "unregistered_property_transfer.unregistered_land_transfer", "params": {"land_area_m2": 100, "location": "urban"}});
sourced_row!(row_15_land_transfer_100_500_preferential, 15, {"service_code": "unregistered_property_transfer.unregistered_land_transfer", "params": {"land_area_m2": 499.99, "location": "urban", "preferential_reason": "first_transfer"}});
sourced_row!(row_16_barber_2_to_4_chairs, 16, {"service_code": "commerce.barber_shop_licence", "params": {"seats": 4}});
sourced_row!(row_17_certified_copy_maximum, 17, {"service_code": "legalization.certified_copy_business_permit"});
sourced_row!(row_18_driving_a_exam, 18, {"service_code": "public_works.driving_licence_a_exam"});
sourced_row!(row_19_driving_a_reexam_theory, 19, {"service_code": "public_works.driving_licence_a_reexam_theory"});
sourced_row!(row_20_driving_a_reexam_practical, 20, {"service_code": "public_works.driving_licence_a_reexam_practical"});
sourced_row!(row_21_driving_a_renewal, 21, {"service_code": "public_works.driving_licence_a_renewal"});
sourced_row!(row_22_driving_b_exam, 22, {"service_code": "public_works.driving_licence_b_exam"});
sourced_row!(row_23_driving_b_reexam_theory, 23, {"service_code": "public_works.driving_licence_b_reexam_theory"});
sourced_row!(row_24_driving_b_reexam_practical, 24, {"service_code": "public_works.driving_licence_b_reexam_practical"});
sourced_row!(row_25_driving_b_renewal, 25, {"service_code": "public_works.driving_licence_b_renewal"});
sourced_row!(row_26_late_renewal_penalty_per_day, 26, {"service_code": "public_works.driving_licence_late_renewal_penalty", "quantity": 1});
sourced_row!(row_27_kampuchea_plate, 27, {"service_code": "public_works.kampuchea_plate_registration"});
sourced_row!(row_28_keep_plate_number, 28, {"service_code": "public_works.keep_plate_number"});
sourced_row!(row_29_small_scale_mining, 29, {"service_code": "mines_energy.small_scale_mining_application"});
sourced_row!(row_30_aquaculture_free, 30, {"service_code": "agriculture.aquaculture_permit"});
sourced_row!(row_31_slaughterhouse_a, 31, {"service_code": "agriculture.slaughterhouse_establishment", "params": {"category": "A"}});
sourced_row!(row_32_slaughterhouse_b, 32, {"service_code": "agriculture.slaughterhouse_establishment", "params": {"category": "B"}});
sourced_row!(row_33_slaughtering_a, 33, {"service_code": "agriculture.slaughtering_business", "params": {"category": "A"}});
sourced_row!(row_34_slaughtering_b, 34, {"service_code": "agriculture.slaughtering_business", "params": {"category": "B"}});
sourced_row!(row_35_collection_point_a, 35, {"service_code": "agriculture.animal_collection_point", "params": {"category": "A"}});
sourced_row!(row_36_foreign_currency_prices, 36, {"service_code": "commerce.foreign_currency_price_display"});
sourced_row!(row_37_consulting_ministry, 37, {"service_code": "construction.land_construction_consulting_ministry"});
sourced_row!(row_38_consulting_provincial, 38, {"service_code": "construction.land_construction_consulting_provincial"});
sourced_row!(row_39_cadastral_certificate, 39, {"service_code": "construction.cadastral_information_certificate"});
sourced_row!(row_40_encumbrance_registration, 40, {"service_code": "construction.encumbrance_registration"});
sourced_row!(row_41_encumbrance_discharge, 41, {"service_code": "construction.encumbrance_discharge"});
sourced_row!(row_42_item_5_2_urban_major, 42, {"service_code": "construction.cadastral_item_5_2_residential_land", "params": {"location": "urban", "province_group": "major"}});
sourced_row!(row_43_item_5_2_urban_other, 43, {"service_code": "construction.cadastral_item_5_2_residential_land", "params": {"location": "urban", "province_group": "other"}});
sourced_row!(row_44_item_5_2_outside_town, 44, {"service_code": "construction.cadastral_item_5_2_residential_land", "params": {"location": "outside_town"}});
sourced_row!(row_45_civil_status_certificate, 45, {"service_code": "civil_registration.civil_status_certificate"});
sourced_row!(row_46_passport_20_day_usd, 46, {"service_code": "administration.passport_ordinary_20_day"});
sourced_row!(row_47_passport_10_day_usd, 47, {"service_code": "administration.passport_ordinary_10_day"});
sourced_row!(row_48_passport_1_day_usd, 48, {"service_code": "administration.passport_ordinary_1_day"});

#[sqlx::test(migrations = "../migrations")]
async fn the_case_record_fee_quotes_600000_riel(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app.quote("0320", "labour.internal_regulations_8_100").await;
    assert_eq!(
        quote["total"],
        json!({"amount": "600000", "currency": "KHR"})
    );
}

#[test]
fn every_sourced_row_has_a_test_and_a_service() {
    let rows = csv::Reader::from_reader(SOURCED.as_bytes())
        .records()
        .count();
    assert_eq!(rows, 48);
    let catalog = payments::app::fees::csv_format::parse(
        payments::app::fees::BUNDLED_CATALOG_CSV.as_bytes(),
        &crate::fee_props::sector_codes(),
    )
    .unwrap();
    let mut covered: Vec<u32> = catalog
        .services
        .iter()
        .flat_map(|service| service.source_rows.clone())
        .collect();
    covered.sort_unstable();
    covered.dedup();
    assert_eq!(covered, (1..=48).collect::<Vec<u32>>());
}
