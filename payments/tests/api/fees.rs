//! The fee schedule: catalog reads, bands and parameters, bundles paid end to end (the
//! helpers here serve `fee_schedules` too).

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::TestApp;

pub(crate) const BUNDLED: &str = payments::app::fees::BUNDLED_CATALOG_CSV;
pub(crate) const VERSION: &str = "2025-sourced-1";

pub(crate) async fn quote(app: &TestApp, office: &str, items: Value) -> crate::support::Reply {
    app.post(
        "/v1/quotes",
        Some(app.key("workflow")),
        None,
        &json!({"office_code": office, "items": items}),
    )
    .await
}

pub(crate) async fn amount_of(app: &TestApp, item: Value) -> Value {
    let reply = quote(app, "0320", json!([item])).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["total"]["amount"].clone()
}

pub(crate) fn day_after_today(days: i64) -> String {
    (payments::app::fees::schedule::today() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// The catalog file with its schedule row renamed and moved to `effective_from`.
pub(crate) fn as_version(csv: &str, version: &str, effective_from: &str) -> String {
    let mut out = String::new();
    for line in csv.split_inclusive('\n') {
        if line.starts_with("schedule,") {
            out.push_str(
                &line
                    .replacen(
                        &format!("schedule,{VERSION},"),
                        &format!("schedule,{version},"),
                        1,
                    )
                    .replacen(",2025-01-01,", &format!(",{effective_from},"), 1),
            );
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Replaces `from` by `to` on the row of service `code` only.
pub(crate) fn edit_row(csv: &str, code: &str, from: &str, to: &str) -> String {
    let prefix = format!("service,{code},");
    csv.split_inclusive('\n')
        .map(|line| {
            if line.starts_with(&prefix) {
                assert!(line.contains(from), "{code} row has {from}");
                line.replacen(from, to, 1)
            } else {
                line.to_owned()
            }
        })
        .collect()
}

/// Replaces a fragment of the fee rule (JSON, written with CSV's doubled quotes in the file).
pub(crate) fn edit_rule(csv: &str, code: &str, from: &str, to: &str) -> String {
    edit_row(
        csv,
        code,
        &from.replace('"', "\"\""),
        &to.replace('"', "\"\""),
    )
}

pub(crate) fn line_of(csv: &str, code: &str) -> u64 {
    let prefix = format!("service,{code},");
    let index = csv
        .lines()
        .position(|line| line.starts_with(&prefix))
        .unwrap();
    u64::try_from(index).unwrap() + 1
}

pub(crate) async fn import(
    app: &TestApp,
    key: Option<&str>,
    content_type: &str,
    csv: &str,
) -> (StatusCode, Value) {
    let mut request = app
        .http
        .post(format!("{}/v1/admin/catalog/import", app.base))
        .header("content-type", content_type)
        .body(csv.to_owned());
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

pub(crate) async fn export(app: &TestApp, key: &str, query: &str) -> (StatusCode, String) {
    let response = app
        .http
        .get(format!("{}/v1/admin/catalog/export{query}", app.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    if status == StatusCode::OK {
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
    }
    (status, response.text().await.unwrap())
}

pub(crate) async fn count(app: &TestApp, table: &str) -> i64 {
    app.scalar_i64(&format!("select count(*) from {table}"))
        .await
}

/// Intent for a quote, a sandbox attempt, and the payer paying it at the simulated bank.
pub(crate) async fn pay(app: &TestApp, quote_id: &Value, case_reference: &str) -> Value {
    let intent = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some(&format!("intent-{case_reference}")),
            &json!({"quote_id": quote_id, "case_reference": case_reference}),
        )
        .await;
    assert_eq!(intent.status, StatusCode::CREATED, "{}", intent.body);
    let id = intent.body["id"].as_str().unwrap().to_owned();
    let attempt = app.sandbox_attempt(&id).await;
    let reference = attempt["provider_reference"].as_str().unwrap();
    let paid = app
        .http
        .post(format!("{}/sandbox/payments/{reference}/pay", app.sim_base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success(), "{}", paid.text().await.unwrap());
    let intent = app
        .get(
            &format!("/v1/payment-intents/{id}"),
            Some(app.key("workflow")),
        )
        .await
        .body;
    assert_eq!(intent["status"], "paid", "{intent}");
    intent
}

pub(crate) async fn postings(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as(
        "select a.code, p.amount_minor from ledger_postings p join ledger_accounts a on a.id = p.account_id
         order by p.amount_minor desc, a.code",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_catalog_serves_17_sectors_and_every_service_in_khmer_and_english(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let sectors = app.get("/v1/sectors", None).await.body;
    assert_eq!(sectors["data"].as_array().unwrap().len(), 17);
    let services = app.get("/v1/services?limit=500", None).await.body;
    let services = services["data"].as_array().unwrap();
    assert_eq!(services.len(), 35);
    for service in services {
        assert!(
            !service["name_km"].as_str().unwrap().is_empty(),
            "{service}"
        );
        assert!(
            !service["name_en"].as_str().unwrap().is_empty(),
            "{service}"
        );
        // The public legal basis is a citation or null ("not published"); the source and the
        // notes are for admin and auditor keys.
        assert!(
            service["legal_basis"].is_null()
                || !service["legal_basis"].as_str().unwrap().is_empty(),
            "{service}"
        );
        assert!(service.get("source").is_none(), "{service}");
        assert_eq!(service["schedule_version"], VERSION);
    }
    let unpublished: Vec<&str> = services
        .iter()
        .filter(|service| service["fee_published"] == false)
        .map(|service| service["code"].as_str().unwrap())
        .collect();
    assert_eq!(unpublished, vec!["construction.villa_permit_over_400m2"]);
    // Services come in sector order, as /v1/sectors lists them.
    assert_eq!(services[0]["sector"], "tourism");

    let villa = app
        .get("/v1/services/construction.villa_permit", None)
        .await
        .body;
    let names: Vec<&str> = villa["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["quantity", "floor_area_m2", "location"]);
    assert_eq!(villa["parameters"][1]["minimum"], "0");
    assert_eq!(villa["parameters"][1]["exclusive_minimum"], true);
    assert_eq!(
        villa["parameters"][2]["values"],
        json!(["outside_town", "urban"])
    );
    assert_eq!(villa["price_points"].as_array().unwrap().len(), 9);
    assert_eq!(
        villa["price_points"][1],
        json!({"conditions": {"floor_area_m2": "(0, 100]", "location": "urban"}, "rule": "fixed",
               "amount": {"amount": "600000", "currency": "KHR"}, "preferential": null})
    );
    let audited = app
        .get(
            "/v1/services/construction.villa_permit",
            Some(app.key("auditor")),
        )
        .await
        .body;
    assert_eq!(audited["price_points"][1]["source_rows"], json!([2]));
    assert_eq!(villa["legal_basis_number"], "");
    let copy = app
        .get(
            "/v1/services/legalization.certified_copy_business_permit",
            None,
        )
        .await
        .body;
    assert_eq!(copy["legal_basis_number"], "14342 Pr.K");
    assert_eq!(copy["legal_basis_date"], "2016-12-29");
    assert_eq!(copy["time_limit_days"], 5);

    let schedules = app.get("/v1/fee-schedules", None).await.body;
    assert_eq!(schedules["data"][0]["version"], VERSION);
    assert_eq!(schedules["data"][0]["status"], "in_force");
    assert_eq!(schedules["data"][0]["effective_to"], Value::Null);

    let bundles = app.get("/v1/bundles", None).await.body;
    assert_eq!(bundles["data"].as_array().unwrap().len(), 2);
    let bundle = app
        .get("/v1/bundles/bundle.slaughterhouse_opening", None)
        .await
        .body;
    assert_eq!(bundle["parameters"], json!(["category"]));
    assert_eq!(
        app.get("/v1/bundles/bundle.nope", None).await.status,
        StatusCode::NOT_FOUND
    );
    let openapi = app.get("/openapi.json", None).await.body;
    for path in [
        "/v1/fee-schedules",
        "/v1/bundles",
        "/v1/bundles/{code}",
        "/v1/admin/catalog/import",
        "/v1/admin/catalog/export",
        "/v1/admin/catalog/audit",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "{path} in /openapi.json"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn band_edges_are_exact_decimals(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let villa = |area: Value, location: &str| json!({"service_code": "construction.villa_permit", "params": {"floor_area_m2": area, "location": location}});
    assert_eq!(
        amount_of(&app, villa(json!(100), "outside_town")).await,
        "420000"
    );
    assert_eq!(amount_of(&app, villa(json!(100), "urban")).await, "600000");
    assert_eq!(
        amount_of(&app, villa(json!(100.0), "urban")).await,
        "600000"
    );
    assert_eq!(
        amount_of(&app, villa(json!(100.01), "outside_town")).await,
        "560000"
    );
    assert_eq!(
        amount_of(&app, villa(json!(100.01), "urban")).await,
        "800000"
    );
    assert_eq!(amount_of(&app, villa(json!(0.01), "urban")).await, "600000");
    assert_eq!(amount_of(&app, villa(json!(400), "urban")).await, "1400000");

    let above = quote(&app, "0320", json!([villa(json!(400.01), "urban")])).await;
    assert_eq!(above.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(above.body["code"], "fee_not_published");
    assert_eq!(above.body["tier"], json!(["floor_area_m2 (400, ∞)"]));

    for bad in [
        json!(0),
        json!(-5),
        json!("150"),
        json!(1_000_001),
        json!(100.00001),
    ] {
        let reply = quote(&app, "0320", json!([villa(bad.clone(), "urban")])).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(reply.body["code"], "validation_failed");
        assert_eq!(reply.body["parameter"], "items[0].params.floor_area_m2");
        assert_eq!(reply.body["allowed"]["minimum"], "0", "{}", reply.body);
        assert_eq!(reply.body["allowed"]["exclusive_minimum"], true);
    }
    let no_location = quote(
        &app,
        "0320",
        json!([{"service_code": "construction.villa_permit", "params": {"floor_area_m2": 150}}]),
    )
    .await;
    assert_eq!(no_location.body["parameter"], "items[0].params.location");
    assert_eq!(
        no_location.body["allowed"]["values"],
        json!(["outside_town", "urban"])
    );

    let land = |area: Value| {
        json!({"service_code": "unregistered_property_transfer.unregistered_land_transfer",
               "params": {"land_area_m2": area, "location": "urban"}})
    };
    assert_eq!(amount_of(&app, land(json!(99.99))).await, "50000");
    assert_eq!(amount_of(&app, land(json!(100))).await, "100000");
    let large = quote(&app, "0320", json!([land(json!(500))])).await;
    assert_eq!(large.body["code"], "fee_not_published");

    let chairs = |seats: Value| json!({"service_code": "commerce.barber_shop_licence", "params": {"seats": seats}});
    assert_eq!(amount_of(&app, chairs(json!(2))).await, "20000");
    for unpublished in [1, 5] {
        let reply = quote(&app, "0320", json!([chairs(json!(unpublished))])).await;
        assert_eq!(
            reply.body["code"], "fee_not_published",
            "{unpublished} chairs"
        );
    }
    let half = quote(&app, "0320", json!([chairs(json!(2.5))])).await;
    assert_eq!(half.body["parameter"], "items[0].params.seats");
    assert_eq!(
        app.scalar_i64("select count(*) from quotes where total_minor <= 0")
            .await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn quote_lines_name_the_rule_band_and_parameters_that_priced_them(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let reply = quote(
        &app,
        "1201",
        json!([
            {"service_code": "construction.villa_permit", "params": {"floor_area_m2": 150.5, "location": "urban"}},
            {"service_code": "unregistered_property_transfer.unregistered_land_transfer",
             "params": {"land_area_m2": 60, "location": "urban", "preferential_reason": "first_transfer"}},
            {"service_code": "construction.cadastral_item_5_2_residential_land", "quantity": 2, "params": {"location": "urban"}},
        ]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let lines = reply.body["lines"].as_array().unwrap();
    assert_eq!(lines[0]["rule"], "fixed");
    assert_eq!(lines[0]["band"], "floor_area_m2 (100, 200]");
    assert_eq!(
        lines[0]["rule_path"],
        json!([
            "floor_area_m2 (100, 200]",
            "location = urban",
            "fixed 800000"
        ])
    );
    assert_eq!(
        lines[0]["params"],
        json!({"floor_area_m2": "150.5", "location": "urban"})
    );
    assert_eq!(lines[0]["revenue_account"], "1201:revenue:construction:KHR");
    assert_eq!(lines[1]["rule"], "preferential");
    assert_eq!(lines[1]["preferential_reason"], "first_transfer");
    assert_eq!(lines[1]["amount"]["amount"], "37500");
    assert_eq!(
        lines[1]["revenue_account"],
        "1201:revenue:unregistered_property_transfer:KHR"
    );
    // Office 1201 is in Phnom Penh: province_group defaults to major.
    assert_eq!(lines[2]["params"]["province_group"], "major");
    assert_eq!(lines[2]["unit_price"]["amount"], "60000");
    assert_eq!(lines[2]["amount"]["amount"], "120000");
    assert_eq!(reply.body["total"]["amount"], "957500");
    assert_eq!(reply.body["schedule_version"], VERSION);
    let other = amount_of(
        &app,
        json!({"service_code": "construction.cadastral_item_5_2_residential_land", "params": {"location": "urban"}}),
    )
    .await;
    assert_eq!(
        other, "40000",
        "office 0320 (Kampong Cham) is in the other group"
    );

    let stored = app
        .get(
            &format!("/v1/quotes/{}", reply.body["id"].as_str().unwrap()),
            Some(app.key("workflow")),
        )
        .await;
    assert_eq!(stored.body["lines"], reply.body["lines"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn parameter_and_quantity_errors_name_the_parameter_and_change_nothing(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let ask = |item: Value| {
        let app = &app;
        async move { quote(app, "0320", json!([item])).await }
    };
    let category = ask(
        json!({"service_code": "agriculture.slaughtering_business", "params": {"category": "C"}}),
    )
    .await;
    assert_eq!(category.body["code"], "validation_failed");
    assert_eq!(category.body["parameter"], "items[0].params.category");
    assert_eq!(category.body["allowed"]["values"], json!(["A", "B"]));
    let lower = ask(
        json!({"service_code": "agriculture.slaughtering_business", "params": {"category": "a"}}),
    )
    .await;
    assert_eq!(lower.body["parameter"], "items[0].params.category");
    let b_collection = ask(
        json!({"service_code": "agriculture.animal_collection_point", "params": {"category": "B"}}),
    )
    .await;
    assert_eq!(b_collection.body["code"], "fee_not_published");

    let no_preferential = ask(
        json!({"service_code": "legalization.certified_copy_business_permit",
                                     "params": {"preferential_reason": "poor_household"}}),
    )
    .await;
    assert_eq!(
        no_preferential.body["parameter"],
        "items[0].params.preferential_reason"
    );
    let bad_reason = ask(
        json!({"service_code": "legalization.business_certificate_notarization",
                                "params": {"preferential_reason": "Poor Household!"}}),
    )
    .await;
    assert_eq!(
        bad_reason.body["parameter"],
        "items[0].params.preferential_reason"
    );
    let unknown = ask(
        json!({"service_code": "public_works.driving_licence_a_exam", "params": {"colour": "red"}}),
    )
    .await;
    assert_eq!(unknown.body["parameter"], "items[0].params.colour");
    let wrong_service =
        ask(json!({"service_code": "public_works.driving_licence_a_exam", "params": {"seats": 3}}))
            .await;
    assert_eq!(wrong_service.body["parameter"], "items[0].params.seats");

    let days = ask(json!({"service_code": "public_works.driving_licence_late_renewal_penalty", "quantity": 45})).await;
    assert_eq!(days.status, StatusCode::CREATED);
    assert_eq!(days.body["total"]["amount"], "22500");
    for (service, quantity, maximum) in [
        (
            "public_works.driving_licence_late_renewal_penalty",
            3651,
            "3650",
        ),
        ("tourism.room_rental_house_licence", 1001, "1000"),
        ("construction.villa_permit_over_400m2", 11, "10"),
    ] {
        let reply = ask(json!({"service_code": service, "quantity": quantity})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{service}");
        assert_eq!(reply.body["parameter"], "items[0].quantity");
        assert_eq!(reply.body["allowed"]["maximum"], maximum);
    }
    let huge =
        ask(json!({"service_code": "tourism.room_rental_house_licence", "quantity": i64::MAX}))
            .await;
    assert_eq!(huge.status, StatusCode::UNPROCESSABLE_ENTITY);
    let both = ask(json!({"service_code": "tourism.room_rental_house_licence", "bundle_code": "bundle.slaughterhouse_opening"})).await;
    assert_eq!(both.body["parameter"], "items[0]");
    let neither = ask(json!({"quantity": 1})).await;
    assert_eq!(neither.body["parameter"], "items[0]");

    let usd_and_khr = quote(
        &app,
        "0320",
        json!([{"service_code": "administration.passport_ordinary_1_day"}, {"service_code": "public_works.driving_licence_a_exam"}]),
    )
    .await;
    assert_eq!(usd_and_khr.body["parameter"], "items[1]");

    let free = ask(json!({"service_code": "agriculture.aquaculture_permit"})).await;
    assert_eq!(free.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(free.body["code"], "no_fee_due");
    assert_eq!(
        count(&app, "quotes").await,
        1,
        "only the penalty quote was stored"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bundle_is_one_quote_and_one_payment_credited_per_sector(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let reply = quote(
        &app,
        "0320",
        json!([{"bundle_code": "bundle.room_rental_house_opening",
                "quantities": {"tourism.room_rental_house_licence": 10, "legalization.business_certificate_notarization": 2}}]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let lines = reply.body["lines"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|line| {
            assert_eq!(line["bundle_code"], "bundle.room_rental_house_opening");
            (
                line["service_code"].as_str().unwrap(),
                line["amount"]["amount"].as_str().unwrap(),
                line["revenue_account"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "tourism.room_rental_house_licence",
                "50000",
                "0320:revenue:tourism:KHR"
            ),
            (
                "legalization.business_certificate_notarization",
                "2000",
                "0320:revenue:legalization:KHR"
            ),
            (
                "commerce.foreign_currency_price_display",
                "200000",
                "0320:revenue:commerce:KHR"
            ),
        ]
    );
    assert_eq!(reply.body["total"]["amount"], "252000");

    let intent = pay(&app, &reply.body["id"], "0320018101").await;
    assert_eq!(intent["amount_paid"]["amount"], "252000");
    assert_eq!(
        postings(&app).await,
        vec![
            ("0320:clearing:sandbox:KHR".to_owned(), 252_000),
            ("0320:revenue:legalization:KHR".to_owned(), -2_000),
            ("0320:revenue:tourism:KHR".to_owned(), -50_000),
            ("0320:revenue:commerce:KHR".to_owned(), -200_000),
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bundles_share_parameters_and_mix_with_services_and_free_lines(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let reply = quote(
        &app,
        "0320",
        json!([
            {"bundle_code": "bundle.slaughterhouse_opening", "params": {"category": "B"}},
            {"service_code": "agriculture.aquaculture_permit"},
        ]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let amounts: Vec<&str> = reply.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["amount"]["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, vec!["800000", "800000", "20000", "0"]);
    assert_eq!(reply.body["total"]["amount"], "1620000");
    // The free line is shown but posts nothing: postings are never zero.
    pay(&app, &reply.body["id"], "0320018102").await;
    assert_eq!(
        postings(&app).await,
        vec![
            ("0320:clearing:sandbox:KHR".to_owned(), 1_620_000),
            ("0320:revenue:legalization:KHR".to_owned(), -20_000),
            ("0320:revenue:agriculture:KHR".to_owned(), -800_000),
            ("0320:revenue:agriculture:KHR".to_owned(), -800_000),
        ]
    );

    let missing = quote(
        &app,
        "0320",
        json!([{"bundle_code": "bundle.slaughterhouse_opening"}]),
    )
    .await;
    assert_eq!(missing.body["parameter"], "items[0].params.category");
    assert_eq!(
        missing.body["service_code"],
        "agriculture.slaughterhouse_establishment"
    );
    let unused = quote(&app, "0320", json!([{"bundle_code": "bundle.slaughterhouse_opening", "params": {"category": "A", "seats": 2}}])).await;
    assert_eq!(unused.body["parameter"], "items[0].params.seats");
    let stranger = quote(&app, "0320", json!([{"bundle_code": "bundle.room_rental_house_opening", "quantities": {"public_works.driving_licence_a_exam": 1}}])).await;
    assert_eq!(
        stranger.body["parameter"],
        "items[0].quantities.public_works.driving_licence_a_exam"
    );
    let too_many = quote(&app, "0320", json!([{"bundle_code": "bundle.room_rental_house_opening", "quantities": {"tourism.room_rental_house_licence": 5000}}])).await;
    assert_eq!(
        too_many.body["parameter"],
        "items[0].quantities.tourism.room_rental_house_licence"
    );
    let unknown = quote(&app, "0320", json!([{"bundle_code": "bundle.nope"}])).await;
    assert_eq!(unknown.body["code"], "unknown_bundle");
    assert_eq!(count(&app, "quotes").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn text_the_database_cannot_hold_is_a_client_error(pool: PgPool) {
    let app = TestApp::start(pool).await;
    // Refused at the edge with 400 naming the parameter, before any lookup.
    for (path, parameter) in [
        ("/v1/services/%00", "code"),
        ("/v1/services?q=%00", "q"),
        ("/v1/services?sector=%00", "sector"),
        ("/v1/services?schedule_version=%00", "schedule_version"),
        ("/v1/bundles/%00", "code"),
        (
            "/v1/admin/catalog/export?schedule_version=%00",
            "schedule_version",
        ),
        (
            "/v1/admin/catalog/audit?schedule_version=%00",
            "schedule_version",
        ),
    ] {
        let reply = app.get(path, Some(app.key("admin"))).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.body
        );
        assert_eq!(reply.body["parameter"], parameter, "{path}: {}", reply.body);
    }
    // A JSON string holding NUL is refused before the use case runs.
    for nul_quote in [
        quote(&app, "0320", json!([{"service_code": "a\u{0}b"}])).await,
        quote(&app, "0320", json!([{"bundle_code": "\u{0}"}])).await,
        quote(
            &app,
            "\u{0}",
            json!([{"service_code": "labour.internal_regulations_8_100"}]),
        )
        .await,
    ] {
        assert_eq!(nul_quote.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(nul_quote.body["code"], "validation_failed");
    }
    let (status, problem) = import(
        &app,
        Some(app.key("admin")),
        "text/csv",
        &BUNDLED.replacen("Sub-decree", "Sub\u{0}decree", 1),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["code"], "nul_character");
    assert_eq!(problem["errors"][0]["line"], 2);
}
