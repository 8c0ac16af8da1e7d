//! The public catalog as citizens read it: `/services` (sectors, fees in words, search in
//! Khmer and English, headers, bad input), and the public JSON views, which carry the public
//! legal basis and none of the internal fields or research notes.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fees::{export, quote};
use crate::support::TestApp;

/// Research notes of the sourced fee table: never on a public page or in public JSON.
const NOTES: [&str; 6] = [
    "cut off",
    "presumably",
    "not printed",
    "not stated",
    "not shown",
    "no amount is sourced",
];

struct Page {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    html: String,
}

async fn page(app: &TestApp, path: &str) -> Page {
    let response = app
        .http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    Page {
        status: response.status(),
        headers: response.headers().clone(),
        html: response.text().await.unwrap(),
    }
}

/// The HTML of one service's row.
fn row<'a>(html: &'a str, code: &str) -> &'a str {
    let start = html
        .find(&format!("data-testid=\"service-row\" data-code=\"{code}\""))
        .unwrap_or_else(|| panic!("no row for {code}"));
    let rest = &html[start..];
    let end = rest[1..]
        .find("data-testid=\"service-row\"")
        .map_or(rest.len(), |end| end + 1);
    &rest[..end]
}

fn rows(html: &str) -> usize {
    html.matches("data-testid=\"service-row\"").count()
}

fn sectors(html: &str) -> usize {
    html.matches("data-testid=\"sector\"").count()
}

fn assert_no_notes(text: &str) {
    for note in NOTES {
        assert!(!text.contains(note), "{note:?} is a research note");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_services_page_lists_the_17_sectors_with_fees_in_khmer_words(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let page = page(&app, "/services").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers["cache-control"], "public, max-age=300");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let html = &page.html;
    assert!(html.contains("<html lang=\"km\">"));
    assert_eq!(sectors(html), 17, "every sector, the empty ones too");
    assert!(html.contains("វិស័យវប្បធម៌ និងវិចិត្រសិល្បៈ"), "Khmer sector names");
    assert!(
        html.contains("data-testid=\"sector-empty\""),
        "culture has no service yet"
    );
    assert_eq!(rows(html), 35);

    // Bands and location tiers written out, with money as people write it.
    let villa = row(html, "construction.villa_permit");
    assert!(villa.contains("រហូតដល់ 100 m²"), "{villa}");
    assert!(villa.contains("លើស 100 ដល់ 200 m²"), "{villa}");
    assert!(villa.contains("ក្នុងទីប្រជុំជន"), "{villa}");
    assert!(villa.contains("600,000 ៛"), "{villa}");
    assert!(
        villa.contains("មិនទាន់បានផ្សព្វផ្សាយកម្រៃ"),
        "the tier over 400 m²: {villa}"
    );
    assert!(villa.contains("25 ថ្ងៃធ្វើការ"), "time limit: {villa}");
    // Its source prints no legal basis: the page says so, never the note.
    assert!(
        villa.contains("data-testid=\"legal-basis-unpublished\""),
        "{villa}"
    );

    // A maximum with its preferential price, per unit.
    let notarization = row(html, "legalization.business_certificate_notarization");
    assert!(notarization.contains("អតិបរមា"), "{notarization}");
    assert!(notarization.contains("តម្លៃអនុគ្រោះ"), "{notarization}");

    // A cited legal basis is shown as printed.
    let slaughterhouse = row(html, "agriculture.slaughterhouse_establishment");
    assert!(
        slaughterhouse.contains("Joint Prakas No.1013 MEF.Prk, 28-12-2012"),
        "{slaughterhouse}"
    );
    assert!(slaughterhouse.contains("ប្រភេទ A"), "{slaughterhouse}");

    // A service without a published fee says so.
    let over_400 = row(html, "construction.villa_permit_over_400m2");
    assert!(
        over_400.contains("data-testid=\"fee-unpublished\""),
        "{over_400}"
    );

    assert_no_notes(html);
    assert!(!html.contains("revenue"), "no account names");
    // Stable hooks for the browser tests.
    for hook in [
        "id=\"services-q\"",
        "data-testid=\"services-search-input\"",
        "data-testid=\"services-results\"",
        "data-testid=\"fee-text\"",
        "data-testid=\"legal-basis\"",
    ] {
        assert!(html.contains(hook), "{hook}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_services_page_in_english_writes_bands_and_unpublished_text(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let page = page(&app, "/services?lang=en").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.html;
    assert!(html.contains("<html lang=\"en\">"));
    assert_eq!(sectors(html), 17);
    let villa = row(html, "construction.villa_permit");
    assert!(villa.contains("up to 100 m²"), "{villa}");
    assert!(villa.contains("over 100 up to 200 m²"), "{villa}");
    assert!(
        villa.contains(
            "up to 100 m², in town: <span class=\"fee-price\">600,000 ៛ per permit</span>"
        ),
        "{villa}"
    );
    assert!(villa.contains("Legal basis not published"), "{villa}");
    let land = row(
        html,
        "unregistered_property_transfer.unregistered_land_transfer",
    );
    assert!(land.contains("less than 100 m²"), "{land}");
    assert!(land.contains("from 100 to less than 500 m²"), "{land}");
    let passport = row(html, "administration.passport_ordinary_1_day");
    assert!(passport.contains("$200.00 per passport"), "{passport}");
    let over_400 = row(html, "construction.villa_permit_over_400m2");
    assert!(over_400.contains("Fee not published"), "{over_400}");
    assert_no_notes(html);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_search_finds_services_by_khmer_and_english_names(pool: PgPool) {
    let app = TestApp::start(pool).await;
    // Khmer: a part of the room rental house's Khmer name.
    let khmer = page(
        &app,
        "/services?q=%E1%9E%95%E1%9F%92%E1%9E%91%E1%9F%87%E1%9E%87%E1%9E%BD%E1%9E%9B",
    )
    .await;
    assert_eq!(khmer.status, StatusCode::OK);
    assert!(khmer
        .html
        .contains("data-code=\"tourism.room_rental_house_licence\""));
    assert_eq!(rows(&khmer.html), 1, "only the room rental house");
    assert_eq!(sectors(&khmer.html), 1, "only the sector it is in");
    assert!(
        khmer.html.contains("value=\"ផ្ទះជួល\""),
        "the search box keeps the text"
    );
    assert_eq!(khmer.headers["cache-control"], "public, max-age=300");

    // English, in any case.
    let english = page(&app, "/services?q=PASSPORT&lang=en").await;
    assert_eq!(rows(&english.html), 3, "the three passport services");
    // Choosing the language sets a cookie: that answer is the person's, no shared cache keeps it.
    assert!(english.headers.contains_key("set-cookie"));
    assert_eq!(english.headers["cache-control"], "private, no-cache");
    assert!(english
        .html
        .contains("data-code=\"administration.passport_ordinary_10_day\""));
    assert!(english.html.contains("data-count=\"3\""));

    // Nothing found says so.
    let nothing = page(&app, "/services?q=zzzz-no-such-service&lang=en").await;
    assert_eq!(nothing.status, StatusCode::OK);
    assert_eq!(rows(&nothing.html), 0);
    assert!(nothing.html.contains("No service matches this search."));

    // A sector, alone or with a search.
    let agriculture = page(&app, "/services?sector=agriculture").await;
    assert_eq!(sectors(&agriculture.html), 1);
    assert_eq!(rows(&agriculture.html), 4);
    assert!(agriculture
        .html
        .contains("<option value=\"agriculture\" selected>"));
    let empty_sector = page(&app, "/services?sector=").await;
    assert_eq!(
        sectors(&empty_sector.html),
        17,
        "an empty sector is all sectors"
    );
    let slaughter = page(&app, "/services?sector=agriculture&q=slaughter").await;
    assert_eq!(rows(&slaughter.html), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_sector_is_the_not_found_page_and_odd_queries_never_fail(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let unknown = page(&app, "/services?sector=nope&lang=en").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.headers["content-type"], "text/html; charset=utf-8");
    assert!(unknown.html.contains("There is no such sector."));

    let long = "ក".repeat(5_000);
    let odd = [
        "/services?q=%00".to_owned(),
        "/services?q=a%00b&sector=tourism".to_owned(),
        format!("/services?q={long}"),
        "/services?q=%25".to_owned(),
        "/services?q=_".to_owned(),
        "/services?q=%zz%ff".to_owned(),
        "/services?q=%E1%9E".to_owned(),
        "/services?q=\\".to_owned(),
        "/services?q=a&q=b&q=".to_owned(),
        "/services?sector=%00".to_owned(),
        "/services?sector=tourism%27%20or%201%3D1".to_owned(),
        "/services?lang=xx&unknown=1".to_owned(),
        "/services?&&=&".to_owned(),
    ];
    for path in &odd {
        let reply = page(&app, path).await;
        assert!(
            reply.status == StatusCode::OK || reply.status == StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.status
        );
        assert_eq!(
            reply.headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
    }
    let nul = page(&app, "/services?q=%00&lang=en").await;
    assert_eq!(nul.status, StatusCode::OK);
    assert!(nul.html.contains("data-testid=\"services-query-refused\""));
    assert_eq!(rows(&nul.html), 0);
    // "%" and "_" are searched as text, not as wildcards.
    let percent = page(&app, "/services?q=%25").await;
    assert_eq!(rows(&percent.html), 0);
}

/// Keys a public service view must not carry.
const INTERNAL: [&str; 6] = [
    "legal_basis_note",
    "fee_rule",
    "source",
    "source_rows",
    "notes",
    "revenue_account",
];

fn assert_public(value: &Value) {
    let text = value.to_string();
    assert_no_notes(&text);
    for key in INTERNAL {
        assert!(!text.contains(&format!("\"{key}\"")), "{key} in {text}");
    }
    assert!(!text.contains("rule_path"));
}

#[sqlx::test(migrations = "../migrations")]
async fn public_catalog_json_carries_the_public_legal_basis_and_no_internal_fields(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let services = app.get("/v1/services?limit=500", None).await;
    assert_eq!(services.status, StatusCode::OK);
    assert_public(&services.body);
    let by_code = |code: &str| {
        services.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|service| service["code"] == code)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_code("agriculture.slaughterhouse_establishment")["legal_basis"],
        "Joint Prakas No.1013 MEF.Prk, 28-12-2012"
    );
    assert_eq!(
        by_code("construction.cadastral_information_certificate")["legal_basis"],
        "Prakas No.995"
    );
    assert_eq!(
        by_code("construction.villa_permit")["legal_basis"],
        Value::Null
    );
    assert_eq!(
        by_code("civil_registration.civil_status_certificate")["legal_basis"],
        Value::Null
    );
    for path in [
        "/v1/services/construction.villa_permit",
        "/v1/sectors",
        "/v1/bundles",
        "/v1/bundles/bundle.slaughterhouse_opening",
        "/v1/fee-schedules",
    ] {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_public(&reply.body);
    }
    // A key of another role reads the public view too; a pay token is not a key.
    let workflow = app
        .get(
            "/v1/services/construction.villa_permit",
            Some(app.key("workflow")),
        )
        .await;
    assert_public(&workflow.body);
    let citizen = app
        .get("/v1/services/construction.villa_permit", Some("pt_abc"))
        .await;
    assert_eq!(citizen.status, StatusCode::OK);
    assert_public(&citizen.body);
    // A mistyped key is refused rather than served quietly.
    let bad = app
        .get("/v1/services/construction.villa_permit", Some("opk_nope"))
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);

    // Auditors and admins keep the provenance.
    for key in ["auditor", "admin"] {
        let villa = app
            .get("/v1/services/construction.villa_permit", Some(app.key(key)))
            .await
            .body;
        assert!(
            villa["legal_basis_note"]
                .as_str()
                .unwrap()
                .starts_with("not printed in the page excerpt (presumably"),
            "{villa}"
        );
        assert_eq!(villa["legal_basis"], Value::Null);
        assert_eq!(villa["fee_rule"]["kind"], "bands");
        assert!(villa["source"].as_str().unwrap().starts_with("https://"));
        assert!(villa["notes"].is_string());
    }
    let bundles = app.get("/v1/bundles", Some(app.key("auditor"))).await.body;
    assert!(bundles["data"][0]["notes"].is_string(), "{bundles}");
    let schedules = app
        .get("/v1/fee-schedules", Some(app.key("auditor")))
        .await
        .body;
    assert!(schedules["data"][0]["notes"].is_string(), "{schedules}");

    // The admin export keeps the notes and the public text side by side.
    let (status, csv) = export(&app, app.key("admin"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.starts_with("record,code,sector,name_km,name_en,currency,unit,max_quantity,level,time_limit_days,time_limit_text,validity,effective_from,legal_basis,legal_basis_public,"));
    assert!(csv.contains(
        r#""Joint Prakas No.1013 MEF.Prk, 28-12-2012 (MAFF public services)","Joint Prakas No.1013 MEF.Prk, 28-12-2012","#
    ));
    assert!(csv.contains("not printed in the page excerpt (presumably"));
}

/// The pay token of an intent made from `quote`.
async fn intent_token(app: &TestApp, quote: &Value, case_reference: &str) -> String {
    let reply = app
        .post(
            "/v1/payment-intents",
            Some(app.key("workflow")),
            Some(&format!("intent-{case_reference}")),
            &json!({"quote_id": quote["id"], "case_reference": case_reference,
                    "payer": {"name": "Sok Dara", "phone": "+85512345678"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["pay_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn quote_lines_carry_the_public_legal_basis_and_citizens_see_only_it(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let quoted = quote(
        &app,
        "0320",
        json!([
            {"service_code": "agriculture.slaughterhouse_establishment", "params": {"category": "A"}},
            {"service_code": "construction.villa_permit", "params": {"floor_area_m2": 150, "location": "urban"}}
        ]),
    )
    .await;
    assert_eq!(quoted.status, StatusCode::CREATED, "{}", quoted.body);
    // The keyed quote keeps everything: the note, the account, the rule path, and the public text.
    let lines = &quoted.body["lines"];
    assert_eq!(
        lines[0]["legal_basis_public"],
        "Joint Prakas No.1013 MEF.Prk, 28-12-2012"
    );
    assert_eq!(lines[1]["legal_basis_public"], Value::Null);
    assert!(lines[1]["legal_basis"]
        .as_str()
        .unwrap()
        .contains("presumably"));
    assert!(lines[1]["revenue_account"].is_string());

    let token = intent_token(&app, &quoted.body, "0320000777").await;
    let public = app.get(&format!("/v1/public/payments/{token}"), None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_public(&public.body);
    let lines = &public.body["lines"];
    assert_eq!(
        lines[0]["legal_basis"],
        "Joint Prakas No.1013 MEF.Prk, 28-12-2012"
    );
    assert_eq!(lines[1]["legal_basis"], Value::Null);
    assert_eq!(lines[1]["amount"]["amount"], "800000");

    // A line stored before the public text existed: its note is never shown as the legal basis.
    sqlx::query(
        "update quotes set lines = (select jsonb_agg(line - 'legal_basis_public') from jsonb_array_elements(lines) line)
         where id = $1::text::uuid",
    )
    .bind(quoted.body["id"].as_str().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let old = app.get(&format!("/v1/public/payments/{token}"), None).await;
    assert_public(&old.body);
    assert_eq!(old.body["lines"][0]["legal_basis"], Value::Null);
}
