//! Schedule versions: a change between quote and payment, publishing rules, CSV import and
//! export (all-or-nothing, byte-identical round trip), the audit log and the command line.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fees::{
    as_version, count, day_after_today, edit_row, edit_rule, export, import, line_of, pay,
    postings, quote, BUNDLED, VERSION,
};
use crate::support::TestApp;

#[sqlx::test(migrations = "../migrations")]
async fn a_schedule_change_between_quote_and_payment_keeps_the_quoted_amount(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let exam = json!([{"service_code": "public_works.driving_licence_b_exam"}]);
    let before = quote(&app, "0320", exam.clone()).await;
    assert_eq!(before.body["total"]["amount"], "90000");

    // An admin publishes version 2 from tomorrow, with a new price for the exam.
    let (_, current) = export(&app, app.key("admin"), "").await;
    let next = edit_rule(
        &as_version(&current, "2026-test-2", &day_after_today(1)),
        "public_works.driving_licence_b_exam",
        r#"{"kind":"fixed","amount":"90000","source_rows":[22]}"#,
        r#"{"kind":"fixed","amount":"95000","source_rows":[22]}"#,
    );
    let (status, report) = import(&app, Some(app.key("admin")), "text/csv", &next).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["outcome"], "created");
    assert_eq!(
        report["audit_records"], 2,
        "the schedule and the one changed service"
    );

    let schedules = app.get("/v1/fee-schedules", None).await.body;
    assert_eq!(schedules["data"][0]["status"], "in_force");
    assert_eq!(schedules["data"][0]["effective_to"], day_after_today(1));
    assert_eq!(schedules["data"][1]["status"], "scheduled");
    let still = quote(&app, "0320", exam.clone()).await;
    assert_eq!(
        still.body["total"]["amount"], "90000",
        "version 2 is not in force yet"
    );
    let preview = app
        .get(
            "/v1/services?schedule_version=2026-test-2&q=driving_licence_b_exam",
            None,
        )
        .await
        .body;
    assert_eq!(preview["data"][0]["unit_price"]["amount"], "95000");

    // The day comes.
    sqlx::query("update fee_schedules set effective_from = $1::date where version = '2026-test-2'")
        .bind(day_after_today(0))
        .execute(&app.pool)
        .await
        .unwrap();
    let after = quote(&app, "0320", exam).await;
    assert_eq!(after.body["total"]["amount"], "95000");
    assert_eq!(after.body["schedule_version"], "2026-test-2");

    // The quote made under version 1 is paid at version 1's amount.
    let intent = pay(&app, &before.body["id"], "0320018103").await;
    assert_eq!(intent["total"]["amount"], "90000");
    assert_eq!(intent["lines"][0]["schedule_version"], VERSION);
    assert_eq!(
        postings(&app).await,
        vec![
            ("0320:clearing:sandbox:KHR".to_owned(), 90_000),
            ("0320:revenue:public_works:KHR".to_owned(), -90_000),
        ]
    );

    let audit = app
        .get(
            "/v1/admin/catalog/audit?schedule_version=2026-test-2",
            Some(app.key("admin")),
        )
        .await
        .body;
    let records = audit["data"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    let admin_id: String =
        sqlx::query_scalar("select id::text from api_keys where name = 'demo admin'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(records[0]["actor"], admin_id);
    assert_eq!(records[0]["action"], "service.changed");
    assert_eq!(records[0]["subject"], "public_works.driving_licence_b_exam");
    assert_eq!(records[0]["before"]["rule"]["amount"], "90000");
    assert_eq!(records[0]["after"]["rule"]["amount"], "95000");
    assert_eq!(records[1]["action"], "schedule.created");
    assert_eq!(records[1]["before"]["version"], VERSION);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_import_with_five_errors_reports_all_five_and_changes_nothing(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let mut csv = as_version(BUNDLED, "2026-bad", &day_after_today(3));
    csv = edit_row(
        &csv,
        "civil_registration.civil_status_certificate",
        ",civil_registration,",
        ",civil_status,",
    );
    csv = edit_rule(
        &csv,
        "construction.villa_permit",
        r#"{"lower":{"value":"100","inclusive":false}"#,
        r#"{"lower":{"value":"100","inclusive":true}"#,
    );
    csv = edit_rule(
        &csv,
        "public_works.driving_licence_a_exam",
        r#""amount":"30000""#,
        r#""amount":"-30000""#,
    );
    csv = edit_rule(
        &csv,
        "public_works.driving_licence_b_exam",
        r#""amount":"90000""#,
        r#""amount":"90000.50""#,
    );
    csv = edit_row(
        &csv,
        "commerce.foreign_currency_price_display",
        r#","Joint Prakas No.1217 MEF.Prk, 27-11-2017 (MoC public services)","#,
        ",,",
    );
    let before = (
        count(&app, "fee_schedules").await,
        count(&app, "fee_schedule_services").await,
        count(&app, "catalog_audit").await,
    );
    let (status, problem) = import(
        &app,
        Some(app.key("admin")),
        "text/csv; charset=utf-8",
        &csv,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "catalog_invalid");
    let errors: Vec<(u64, &str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|found| {
            (
                found["line"].as_u64().unwrap(),
                found["column"].as_str().unwrap(),
                found["code"].as_str().unwrap(),
            )
        })
        .collect();
    let mut expected = vec![
        (
            line_of(&csv, "civil_registration.civil_status_certificate"),
            "sector",
            "unknown_sector",
        ),
        (
            line_of(&csv, "construction.villa_permit"),
            "definition",
            "overlapping_bands",
        ),
        (
            line_of(&csv, "public_works.driving_licence_a_exam"),
            "definition",
            "negative_fee",
        ),
        (
            line_of(&csv, "public_works.driving_licence_b_exam"),
            "definition",
            "decimal_riel",
        ),
        (
            line_of(&csv, "commerce.foreign_currency_price_display"),
            "legal_basis",
            "missing_legal_basis",
        ),
    ];
    expected.sort_unstable();
    assert_eq!(errors, expected, "{problem}");
    let after = (
        count(&app, "fee_schedules").await,
        count(&app, "fee_schedule_services").await,
        count(&app, "catalog_audit").await,
    );
    assert_eq!(before, after);

    for (body, code) in [
        ("", "missing_header"),
        ("record,code\nschedule,v1\n", "missing_column"),
        ("\u{FEFF}not,a,catalog\n", "unknown_column"),
    ] {
        let (status, problem) = import(&app, Some(app.key("admin")), "text/csv", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body:?}");
        assert_eq!(problem["errors"][0]["code"], code, "{problem}");
    }
    let response = app
        .http
        .post(format!("{}/v1/admin/catalog/import", app.base))
        .bearer_auth(app.key("admin"))
        .header("content-type", "text/csv")
        .body(vec![0xff, 0xfe, b'\n'])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count(&app, "catalog_audit").await, before.2);
}

#[sqlx::test(migrations = "../migrations")]
async fn export_and_import_round_trip_byte_for_byte(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (status, exported) = export(&app, app.key("auditor"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        exported, BUNDLED,
        "the bundled file is the canonical export of its version"
    );
    assert!(exported.contains("លិខិតអនុញ្ញាតសាងសង់"), "Khmer text as UTF-8");

    // Importing the same file changes nothing and records nothing.
    let audit = count(&app, "catalog_audit").await;
    let (status, report) = import(&app, Some(app.key("admin")), "text/csv", &exported).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["outcome"], "unchanged");
    assert_eq!(count(&app, "catalog_audit").await, audit);

    // Into an empty catalog: the import recreates the version, whose export is the same bytes.
    for table in [
        "fee_schedule_services",
        "fee_schedule_bundles",
        "fee_schedules",
    ] {
        sqlx::query(&format!("delete from {table}"))
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let (status, report) = import(&app, Some(app.key("admin")), "text/csv", &exported).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["services"], 35);
    assert_eq!(report["price_points"], 49);
    assert_eq!(report["unpublished_services"], 1);
    assert_eq!(report["unpublished_price_points"], 7);
    let (_, again) = export(
        &app,
        app.key("admin"),
        &format!("?schedule_version={VERSION}"),
    )
    .await;
    assert_eq!(again, exported);

    // A hand-edited file in another column and row order exports canonically.
    let renamed = as_version(&exported, "2026-shuffled", &day_after_today(5));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(renamed.as_bytes());
    let mut rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let header = rows.remove(0);
    rows.reverse();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let order: Vec<usize> = (0..header.len()).rev().collect();
    writer
        .write_record(order.iter().map(|index| &header[*index]))
        .unwrap();
    for row in &rows {
        writer
            .write_record(order.iter().map(|index| &row[*index]))
            .unwrap();
    }
    let shuffled = String::from_utf8(writer.into_inner().unwrap()).unwrap();
    let (status, report) = import(&app, Some(app.key("admin")), "text/csv", &shuffled).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(
        report["audit_records"], 1,
        "same services as the version before: only the schedule row"
    );
    let (_, canonical) = export(&app, app.key("admin"), "?schedule_version=2026-shuffled").await;
    assert_eq!(canonical, renamed);
}

#[sqlx::test(migrations = "../migrations")]
async fn versions_in_force_never_change_and_new_ones_start_in_the_future(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let admin = app.key("admin").to_owned();
    let edited = edit_rule(
        BUNDLED,
        "public_works.keep_plate_number",
        r#""amount":"1000000""#,
        r#""amount":"900000""#,
    );
    let (status, problem) = import(&app, Some(&admin), "text/csv", &edited).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["code"], "schedule_version_in_force");

    let today = as_version(&edited, "2026-today", &day_after_today(0));
    let (status, problem) = import(&app, Some(&admin), "text/csv", &today).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "effective_from_not_in_future");

    let scheduled = as_version(&edited, "2026-next", &day_after_today(10));
    let (status, _) = import(&app, Some(&admin), "text/csv", &scheduled).await;
    assert_eq!(status, StatusCode::CREATED);
    let same_day = as_version(&edited, "2026-other", &day_after_today(10));
    let (status, problem) = import(&app, Some(&admin), "text/csv", &same_day).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["code"], "effective_from_taken");

    // A version not yet in force may be corrected; the audit keeps before and after.
    let corrected = edit_rule(
        &scheduled,
        "public_works.keep_plate_number",
        r#""amount":"900000""#,
        r#""amount":"950000""#,
    );
    let (status, report) = import(&app, Some(&admin), "text/csv", &corrected).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["outcome"], "replaced");
    let audit = app
        .get(
            "/v1/admin/catalog/audit?schedule_version=2026-next&limit=1",
            Some(&admin),
        )
        .await
        .body;
    assert_eq!(audit["data"][0]["action"], "service.changed");
    assert_eq!(audit["data"][0]["before"]["rule"]["amount"], "900000");
    assert_eq!(audit["data"][0]["after"]["rule"]["amount"], "950000");
    let next_page = app
        .get(
            &format!(
                "/v1/admin/catalog/audit?schedule_version=2026-next&limit=1&cursor={}",
                audit["next_cursor"].as_str().unwrap()
            ),
            Some(&admin),
        )
        .await
        .body;
    assert_eq!(next_page["data"][0]["action"], "schedule.replaced");
}

#[sqlx::test(migrations = "../migrations")]
async fn catalog_administration_needs_the_right_role_and_content_type(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (status, problem) = import(&app, Some(app.key("workflow")), "text/csv", BUNDLED).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, _) = import(&app, None, "text/csv", BUNDLED).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, problem) = import(&app, Some(app.key("admin")), "application/json", BUNDLED).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(problem["code"], "unsupported_media_type");
    let (status, _) = export(&app, app.key("cashier_0320"), "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = export(&app, app.key("admin"), "?schedule_version=nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audit = app
        .get("/v1/admin/catalog/audit", Some(app.key("workflow")))
        .await;
    assert_eq!(audit.status, StatusCode::FORBIDDEN);
    let audit = app
        .get("/v1/admin/catalog/audit", Some(app.key("auditor")))
        .await;
    assert_eq!(audit.status, StatusCode::OK);
    assert_eq!(
        audit.body["data"][0]["actor"], "cli",
        "the seed is the command line"
    );
    let big = "x".repeat(2 * 1024 * 1024);
    let (status, problem) = import(&app, Some(app.key("admin")), "text/csv", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
}

/// The database URL of this test's database, for the command line.
fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").unwrap();
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(pool.connect_options().get_database().unwrap());
    url.to_string()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_command_line_imports_and_exports(pool: PgPool) {
    let app = TestApp::start(pool.clone()).await;
    let run = |args: Vec<String>| {
        let url = database_url(&pool);
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_payments"))
                .args(args)
                .env("DATABASE_URL", url)
                .env("LOG_FORMAT", "text")
                .output()
                .await
                .unwrap()
        }
    };
    let dir = std::env::temp_dir().join(format!("owso-catalog-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let exported = dir.join("export.csv");
    let output = run(vec![
        "catalog".into(),
        "export".into(),
        exported.display().to_string(),
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&exported).unwrap(), BUNDLED);

    let bad = dir.join("bad.csv");
    let broken = edit_rule(
        BUNDLED,
        "public_works.driving_licence_a_exam",
        r#""amount":"30000""#,
        r#""amount":"-1""#,
    );
    std::fs::write(&bad, as_version(&broken, "2026-cli", &day_after_today(2))).unwrap();
    let output = run(vec![
        "catalog".into(),
        "import".into(),
        bad.display().to_string(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("negative_fee"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "line {}",
            line_of(BUNDLED, "public_works.driving_licence_a_exam")
        )),
        "{stderr}"
    );

    let good = dir.join("good.csv");
    std::fs::write(&good, as_version(BUNDLED, "2026-cli", &day_after_today(2))).unwrap();
    let output = run(vec![
        "catalog".into(),
        "import".into(),
        good.display().to_string(),
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "created");
    let actor: String = sqlx::query_scalar(
        "select actor from catalog_audit where schedule_version = '2026-cli' and action = 'schedule.created'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(actor, "cli");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The file without one of its columns.
fn without_column(csv: &str, column: &str) -> String {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let drop = rows[0].iter().position(|name| name == column).unwrap();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for row in &rows {
        let kept: Vec<&str> = row
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != drop)
            .map(|(_, cell)| cell)
            .collect();
        writer.write_record(kept).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_public_legal_basis_is_its_own_column_and_old_files_publish_none(pool: PgPool) {
    let app = TestApp::start(pool).await;
    // A file exported before the column existed still imports; nothing of its legal_basis
    // text (the notes) becomes public.
    let version = "2026-legacy";
    let legacy = without_column(
        &as_version(BUNDLED, version, &day_after_today(4)),
        "legal_basis_public",
    );
    let (status, report) = import(&app, Some(app.key("admin")), "text/csv", &legacy).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let services = app
        .get(
            &format!("/v1/services?schedule_version={version}&limit=500"),
            None,
        )
        .await
        .body;
    let services = services["data"].as_array().unwrap();
    assert_eq!(services.len(), 35);
    assert!(services
        .iter()
        .all(|service| service["legal_basis"].is_null()));
    let audited = app
        .get(
            &format!("/v1/services?schedule_version={version}&sector=agriculture"),
            Some(app.key("auditor")),
        )
        .await
        .body;
    assert_eq!(
        audited["data"][0]["legal_basis_note"],
        "Joint Prakas No.1013 MEF.Prk, 28-12-2012 (MAFF public services)"
    );
    // Its export is canonical: the column is back, empty.
    let (_, exported) = export(
        &app,
        app.key("admin"),
        &format!("?schedule_version={version}"),
    )
    .await;
    assert!(exported.contains(",legal_basis,legal_basis_public,"));

    // The public text is one trimmed line; schedule and bundle rows leave it empty.
    let mut bad = as_version(BUNDLED, "2026-bad-public", &day_after_today(6));
    bad = edit_row(
        &bad,
        "agriculture.aquaculture_permit",
        r#","Joint Prakas No.1013 MEF.Prk, 28-12-2012","#,
        r#"," Joint Prakas No.1013 MEF.Prk, 28-12-2012","#,
    );
    bad = edit_row(
        &bad,
        "agriculture.slaughtering_business",
        r#","Joint Prakas No.1013 MEF.Prk, 28-12-2012","#,
        ",\"Joint Prakas No.1013\nMEF.Prk\",",
    );
    let (status, problem) = import(&app, Some(app.key("admin")), "text/csv", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let codes: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|found| {
            (
                found["column"].as_str().unwrap(),
                found["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            ("legal_basis_public", "invalid_legal_basis_public"),
            ("legal_basis_public", "invalid_legal_basis_public"),
        ],
        "{problem}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_migration_gives_the_bundled_version_its_public_text(pool: PgPool) {
    let app = TestApp::start(pool).await;
    // The bundled version as a database upgraded from before the column held it: empty public
    // text. The migration's update then fills it so that the seed finds the version unchanged
    // (a version in force cannot be replaced).
    sqlx::query("update fee_schedule_services set legal_basis_public = ''")
        .execute(&app.pool)
        .await
        .unwrap();
    let migration = include_str!("../../../migrations/0012_public_legal_basis.sql");
    let update = &migration[migration.find("update fee_schedule_services").unwrap()..];
    sqlx::raw_sql(update).execute(&app.pool).await.unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let report = payments::app::seed::catalog(&mut conn).await.unwrap();
    assert_eq!(report.outcome, "unchanged");
    let (_, exported) = export(&app, app.key("admin"), "").await;
    assert_eq!(exported, BUNDLED);
}
