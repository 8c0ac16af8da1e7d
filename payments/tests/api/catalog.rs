use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::TestApp;

#[sqlx::test(migrations = "../migrations")]
async fn sectors_and_services_are_served_in_khmer_and_english(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let sectors = app.get("/v1/sectors", None).await;
    let sectors = sectors.body["data"].as_array().unwrap();
    assert_eq!(sectors.len(), 17);
    assert_eq!(sectors[0]["code"], "tourism");
    assert_eq!(sectors[0]["name_km"], "វិស័យទេសចរណ៍");
    assert!(sectors
        .iter()
        .all(|sector| !sector["name_en"].as_str().unwrap().is_empty()));

    let services = app.get("/v1/services?sector=public_works", None).await;
    let services = services.body["data"].as_array().unwrap();
    assert!(services.len() >= 8);
    assert!(services
        .iter()
        .all(|service| service["sector"] == "public_works"));

    let khmer = app.get("/v1/services?q=ប័ណ្ណបើកបរ", None).await;
    assert!(
        !khmer.body["data"].as_array().unwrap().is_empty(),
        "Khmer search finds driving licences"
    );
    let english = app.get("/v1/services?q=DRIVING", None).await;
    assert!(
        !english.body["data"].as_array().unwrap().is_empty(),
        "English search is case-insensitive"
    );

    let one = app
        .get("/v1/services/labour.internal_regulations_8_100", None)
        .await;
    assert_eq!(
        one.body["unit_price"],
        json!({"amount": "600000", "currency": "KHR"})
    );
    assert_eq!(
        app.get("/v1/services/nope", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn quotes_price_fixed_and_per_unit_services(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quote = app
        .post(
            "/v1/quotes",
            Some(app.key("workflow")),
            None,
            &json!({"office_code": "0320", "items": [
                {"service_code": "labour.internal_regulations_8_100", "quantity": 1},
                {"service_code": "tourism.room_rental_house_licence", "quantity": 12},
            ]}),
        )
        .await;
    assert_eq!(quote.status, StatusCode::CREATED, "{}", quote.body);
    let lines = quote.body["lines"].as_array().unwrap();
    assert_eq!(
        lines[0]["amount"],
        json!({"amount": "600000", "currency": "KHR"})
    );
    assert_eq!(lines[0]["revenue_account"], "0320:revenue:labour:KHR");
    assert_eq!(lines[1]["unit_price"]["amount"], "5000");
    assert_eq!(lines[1]["amount"]["amount"], "60000");
    assert_eq!(lines[1]["revenue_account"], "0320:revenue:tourism:KHR");
    assert_eq!(
        quote.body["total"],
        json!({"amount": "660000", "currency": "KHR"})
    );
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(quote.body["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires_at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!(
        (167..=168).contains(&days),
        "quotes last 7 days by default, got {days} h"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn quote_errors_are_precise_and_change_nothing(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let workflow = app.key("workflow").to_owned();
    let ask = |items: serde_json::Value| {
        let app = &app;
        let workflow = workflow.clone();
        async move {
            app.post(
                "/v1/quotes",
                Some(&workflow),
                None,
                &json!({"office_code": "0320", "items": items}),
            )
            .await
        }
    };
    let unknown = ask(json!([{"service_code": "no.such.service"}])).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.body["code"], "unknown_service");

    let unpublished = ask(json!([{"service_code": "construction.villa_permit_over_400m2"}])).await;
    assert_eq!(unpublished.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unpublished.body["code"], "fee_not_published");

    for quantity in [0, -1, 10_001] {
        let bad = ask(
            json!([{"service_code": "tourism.room_rental_house_licence", "quantity": quantity}]),
        )
        .await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity {quantity}"
        );
        assert_eq!(bad.body["code"], "validation_failed");
        assert_eq!(bad.body["parameter"], "items[0].quantity");
    }
    let fractional =
        ask(json!([{"service_code": "tourism.room_rental_house_licence", "quantity": 1.5}])).await;
    assert_eq!(fractional.status, StatusCode::UNPROCESSABLE_ENTITY);

    let unknown_param = ask(json!([{"service_code": "labour.internal_regulations_8_100", "params": {"floor_area_m2": 10}}])).await;
    assert_eq!(unknown_param.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        unknown_param.body["parameter"],
        "items[0].params.floor_area_m2"
    );

    let empty = ask(json!([])).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    let no_office = app
        .post("/v1/quotes", Some(&workflow), None, &json!({"office_code": "9999", "items": [{"service_code": "labour.internal_regulations_8_100"}]}))
        .await;
    assert_eq!(no_office.status, StatusCode::NOT_FOUND);
    assert_eq!(app.scalar_i64("select count(*) from quotes").await, 0);
}
