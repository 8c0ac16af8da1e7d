//! Issue 16, the books over HTTP: statements paged by cursor (no cap) with opening and
//! closing balances, the statement and journal exports (CSV, XLSX) naming their period,
//! offices and chain head, every line traced to its source, and office scope in each.

use std::io::Cursor;

use calamine::{open_workbook_from_rs, Data, Reader as _, Xlsx};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::ledger_audit::{paid, seal};
use crate::support::TestApp;

const REVENUE: &str = "0320:revenue:labour:KHR";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Posts `count` entries of 1 riel to 0320's labour revenue through the ledger crate's batch
/// post (the API would take minutes for ten thousand).
async fn post_many(app: &TestApp, count: usize) {
    let clearing = ledger::AccountCode::parse("0320:clearing:sandbox:KHR").unwrap();
    let revenue = ledger::AccountCode::parse(REVENUE).unwrap();
    let amount = ledger::Money::from_minor(1, ledger::Currency::Khr);
    let entries: Vec<ledger::BalancedEntry> = (0..count)
        .map(|index| {
            ledger::EntryBuilder::new("0320", "adjustment", &format!("bulk {index}"))
                .debit(clearing.clone(), amount)
                .credit(revenue.clone(), amount)
                .build()
                .unwrap()
        })
        .collect();
    let mut tx = app.pool.begin().await.unwrap();
    ledger::store::ensure_account(&mut tx, &clearing)
        .await
        .unwrap();
    ledger::store::ensure_account(&mut tx, &revenue)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for batch in entries.chunks(1_000) {
        let mut tx = app.pool.begin().await.unwrap();
        let refs: Vec<&ledger::BalancedEntry> = batch.iter().collect();
        ledger::store::post_batch(&mut tx, &refs).await.unwrap();
        tx.commit().await.unwrap();
    }
}

async fn get_raw(app: &TestApp, path: &str, key: &str, accept: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.base))
        .bearer_auth(key)
        .header("accept", accept)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn statement_pages_walk_every_line_past_the_old_cap(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001005", "sbx_cap").await;
    post_many(&app, 10_001).await;
    let expected: Vec<i64> = sqlx::query_scalar(
        "select p.id from ledger_postings p join ledger_accounts a on a.id = p.account_id
         where a.code = $1 order by p.created_at, p.id",
    )
    .bind(REVENUE)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(expected.len(), 10_002);
    let closing_expected = app.balance(REVENUE).await;

    let auditor = app.key("auditor").to_owned();
    let base =
        format!("/v1/ledger/accounts/{REVENUE}/statement?from=2020-01-01T00:00:00Z&limit=500");
    let mut seen: Vec<i64> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut carried = "0".to_owned();
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("{base}&cursor={cursor}"),
            None => base.clone(),
        };
        let page = app.get(&path, Some(&auditor)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        pages += 1;
        // Each page opens where the one before closed.
        assert_eq!(
            page.body["opening_balance"],
            carried.as_str(),
            "page {pages}"
        );
        assert_eq!(page.body["closing_balance"], closing_expected.as_str());
        let mut balance: i64 = carried.parse().unwrap();
        for line in page.body["lines"].as_array().unwrap() {
            balance += line["amount"].as_str().unwrap().parse::<i64>().unwrap();
            assert_eq!(line["balance"], balance.to_string().as_str());
            seen.push(line["posting_id"].as_i64().unwrap());
        }
        carried = balance.to_string();
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 21);
    assert_eq!(seen, expected, "every posting once, in the ledger's order");
    // Opening plus the sum of the lines is the closing balance.
    assert_eq!(carried, closing_expected);

    // The whole range streams as CSV, with the balances and the chain head in its headers.
    let response = get_raw(
        &app,
        &format!("/v1/ledger/accounts/{REVENUE}/statement?from=2020-01-01T00:00:00Z"),
        &auditor,
        "text/csv",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-statement-opening-balance"), "0");
    assert_eq!(
        header(&response, "x-statement-closing-balance"),
        closing_expected
    );
    assert_eq!(header(&response, "x-export-offices"), "0320");
    assert!(header(&response, "content-disposition").contains("statement_0320-revenue-labour-KHR_"));
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        payments::app::books::statements::STATEMENT_CSV_HEADER.to_vec()
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 10_002);
    let ids: Vec<i64> = rows.iter().map(|row| row[0].parse().unwrap()).collect();
    assert_eq!(ids, expected);
    assert_eq!(&rows[rows.len() - 1][10], closing_expected.as_str());
}

#[sqlx::test(migrations = "../migrations")]
async fn statement_lines_and_journal_rows_trace_their_source(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001005", "sbx_trace_1").await;
    let (intent_id, receipt, channel): (String, String, String) = sqlx::query_as(
        "select id::text, receipt_number, paid_channel from payment_intents
         where case_reference = '0320001005'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();

    let statement = app
        .get(
            &format!("/v1/ledger/accounts/{REVENUE}/statement?from=2020-01-01T00:00:00Z"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(statement.status, StatusCode::OK, "{}", statement.body);
    let line = &statement.body["lines"][0];
    assert_eq!(line["payment_intent_id"], intent_id.as_str());
    assert_eq!(line["receipt_number"], receipt.as_str());
    assert_eq!(line["channel"], channel.as_str());
    assert_eq!(line["bank_transaction_id"], "sbx_trace_1");
    assert_eq!(statement.body["next_cursor"], Value::Null);

    let response = get_raw(
        &app,
        "/v1/ledger/entries?from=2020-01-01T00:00:00Z",
        app.key("auditor"),
        "text/csv",
    )
    .await;
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    for column in [
        "payment_intent_id",
        "receipt_number",
        "channel",
        "bank_transaction_id",
    ] {
        assert!(headers.iter().any(|name| name == column), "{headers:?}");
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{text}");
    for row in &rows {
        assert_eq!(&row[13], intent_id.as_str());
        assert_eq!(&row[14], receipt.as_str());
        assert_eq!(&row[15], channel.as_str());
        assert_eq!(&row[16], "sbx_trace_1");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_voided_cash_receipt_and_its_reversal_trace_to_the_same_intent_and_number(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let key = app.key("cashier_0320").to_owned();
    let drawer = app
        .post(
            "/v1/cashier/sessions",
            Some(&key),
            None,
            &serde_json::json!({"office_code": "0320", "opening_float": []}),
        )
        .await;
    assert_eq!(drawer.status, StatusCode::CREATED, "{}", drawer.body);
    let drawer = drawer.body["id"].as_str().unwrap().to_owned();
    let intent = app.intent("0320001077").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let taken = app
        .post(
            &format!("/v1/cashier/sessions/{drawer}/receipts"),
            Some(&key),
            Some("take-trace-void"),
            &serde_json::json!({"payment_intent_id": intent, "tendered": {"amount": "600000", "currency": "KHR"}}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.body);
    let number = taken.body["number"].as_str().unwrap().to_owned();
    let voided = app
        .post(
            &format!("/v1/receipts/{number}/void"),
            Some(&key),
            None,
            &serde_json::json!({"reason": "wrong case", "approval": {"username": "supervisor.0320", "password": "owso-demo-pass"}}),
        )
        .await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.body);

    // The payment and its reversal: both name the intent and the (now void) receipt number,
    // though the reopened intent has no number any more.
    let statement = app
        .get(
            &format!("/v1/ledger/accounts/{REVENUE}/statement?from=2020-01-01T00:00:00Z"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(statement.status, StatusCode::OK, "{}", statement.body);
    let lines = statement.body["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{}", statement.body);
    for line in lines {
        assert_eq!(line["payment_intent_id"], intent.as_str(), "{line}");
        assert_eq!(line["receipt_number"], number.as_str(), "{line}");
        assert_eq!(line["channel"], "cash", "{line}");
    }
}

fn cells(range: &calamine::Range<Data>) -> Vec<Vec<String>> {
    range
        .rows()
        .map(|row| row.iter().map(ToString::to_string).collect())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn journal_xlsx_names_its_period_offices_and_chain_head(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001005", "sbx_x1").await;
    paid(&app, "0320001006", "sbx_x2").await;
    seal(&app, None).await;
    let (seq, hash): (i64, String) = sqlx::query_as(
        "select seq, encode(hash, 'hex') from ledger_seals order by seq desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();

    for (path, accept) in [
        (
            "/v1/ledger/entries?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&office_code=0320&format=xlsx",
            "*/*",
        ),
        (
            "/v1/ledger/entries?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&office_code=0320",
            XLSX,
        ),
    ] {
        let response = get_raw(&app, path, app.key("auditor"), accept).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), XLSX);
        assert_eq!(header(&response, "x-export-chain-head-seq"), seq.to_string());
        assert_eq!(header(&response, "x-export-chain-head-hash"), hash);
        assert_eq!(header(&response, "x-export-offices"), "0320");
        assert_eq!(
            header(&response, "x-export-period"),
            "2020-01-01T00:00:00.000000Z/2100-01-01T00:00:00.000000Z"
        );
        let disposition = header(&response, "content-disposition");
        assert!(
            disposition.contains(&format!(
                "journal_20200101T000000Z_21000101T000000Z_0320_head-{seq}-{}.xlsx",
                &hash[..12]
            )),
            "{disposition}"
        );
        let bytes = response.bytes().await.unwrap();
        let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
        assert_eq!(workbook.sheet_names(), vec!["About", "Journal"]);
        let about = cells(&workbook.worksheet_range("About").unwrap());
        let value = |name: &str| {
            about
                .iter()
                .find(|row| row[0] == name)
                .map(|row| row[1].clone())
                .unwrap_or_else(|| panic!("no {name} in {about:?}"))
        };
        assert_eq!(value("period_from"), "2020-01-01T00:00:00.000000Z");
        assert_eq!(value("period_to"), "2100-01-01T00:00:00.000000Z");
        assert_eq!(value("offices"), "0320");
        assert_eq!(value("chain_head_seq"), seq.to_string());
        assert_eq!(value("chain_head_hash"), hash);
        let journal = cells(&workbook.worksheet_range("Journal").unwrap());
        assert_eq!(journal[0][..17], payments::app::books::journal::JOURNAL_CSV_HEADER.map(str::to_owned));
        assert_eq!(journal[0][17], "amount_minor");
        assert_eq!(journal.len(), 5, "{journal:?}");
        let transactions: Vec<&str> = journal[1..].iter().map(|row| row[16].as_str()).collect();
        assert_eq!(transactions, ["sbx_x1", "sbx_x1", "sbx_x2", "sbx_x2"]);
        let sum: i64 = journal[1..]
            .iter()
            .map(|row| row[17].parse::<i64>().unwrap())
            .sum();
        assert_eq!(sum, 0, "a balanced journal sums to zero");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn office_scoped_keys_see_only_their_office_in_every_export(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001005", "sbx_o1").await;
    let office_auditor = app.key("auditor_1201").to_owned();

    // The journal: CSV and XLSX name 1201 and hold none of 0320's postings.
    let csv = get_raw(
        &app,
        "/v1/ledger/entries?from=2020-01-01T00:00:00Z",
        &office_auditor,
        "text/csv",
    )
    .await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(header(&csv, "x-export-offices"), "1201");
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let xlsx = get_raw(
        &app,
        "/v1/ledger/entries?from=2020-01-01T00:00:00Z&format=xlsx",
        &office_auditor,
        "*/*",
    )
    .await;
    assert_eq!(xlsx.status(), StatusCode::OK);
    let bytes = xlsx.bytes().await.unwrap();
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(
        cells(&workbook.worksheet_range("Journal").unwrap()).len(),
        1
    );
    // The national auditor's whole journal has them, named "all".
    let national = get_raw(
        &app,
        "/v1/ledger/entries?from=2020-01-01T00:00:00Z",
        app.key("auditor"),
        "text/csv",
    )
    .await;
    assert_eq!(header(&national, "x-export-offices"), "all");
    assert_eq!(national.text().await.unwrap().lines().count(), 3);

    // Another office, asked by name, is not found in every read.
    for path in [
        "/v1/ledger/entries?from=2020-01-01T00:00:00Z&office_code=0320".to_owned(),
        "/v1/ledger/entries?from=2020-01-01T00:00:00Z&office_code=0320&format=xlsx".to_owned(),
        format!("/v1/ledger/accounts/{REVENUE}/statement?from=2020-01-01T00:00:00Z&format=csv"),
        format!("/v1/ledger/accounts/{REVENUE}/statement?from=2020-01-01T00:00:00Z"),
        "/v1/ledger/trial-balance?office_code=0320".to_owned(),
    ] {
        let reply = app.get(&path, Some(&office_auditor)).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.body
        );
    }
    let own = app
        .get(
            "/v1/ledger/trial-balance?office_code=1201",
            Some(&office_auditor),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(own.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|line| line["office_code"] == "1201"));
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_statement_and_export_input_is_a_4xx(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001005", "sbx_b1").await;
    let statement = format!("/v1/ledger/accounts/{REVENUE}/statement");
    for path in [
        format!("{statement}?from=2020-01-01T00:00:00Z&cursor=not-a-cursor"),
        format!("{statement}?from=2020-01-01T00:00:00Z&limit=0"),
        format!("{statement}?from=2020-01-01T00:00:00Z&limit=501"),
        format!("{statement}?from=2020-01-01T00:00:00Z&format=pdf"),
        format!("{statement}?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z"),
        format!("{statement}?from=yesterday"),
        format!("{statement}?from=2020-01-01T00:00:00Z&page=2"),
        "/v1/ledger/entries?from=2020-01-01T00:00:00Z&format=pdf".to_owned(),
        "/v1/ledger/entries?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z&format=xlsx"
            .to_owned(),
    ] {
        let reply = app.get(&path, Some(app.key("auditor"))).await;
        assert!(
            reply.status.is_client_error(),
            "{path}: {} {}",
            reply.status,
            reply.body
        );
    }
    // A cursor from another list (a key cursor of another shape) is refused too.
    let other = payments::app::pagination::cursor::encode_key("0320:revenue");
    let reply = app
        .get(
            &format!("{statement}?from=2020-01-01T00:00:00Z&cursor={other}"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(reply.status.as_u16() / 100, 4, "{}", reply.body);
    // A role outside the books is refused the exports.
    let reply = app
        .get(
            "/v1/ledger/entries?from=2020-01-01T00:00:00Z&format=xlsx",
            Some(app.key("workflow")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
}

/// A console page or download as the person behind `cookie` gets it.
async fn console_get(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    crate::pages::browser()
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn console_downloads_follow_the_person_and_their_offices(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001005", "sbx_c1").await;
    let office = crate::pages::log_in(&app, "auditor.1201").await;
    let national = crate::pages::log_in(&app, "auditor").await;

    // The office auditor's journal names 1201 and holds nothing of 0320.
    let csv = console_get(
        &app,
        &office.cookie,
        "/console/books/journal.csv?from=2020-01-01",
    )
    .await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(header(&csv, "x-export-offices"), "1201");
    assert_eq!(header(&csv, "cache-control"), "private, no-store");
    assert!(header(&csv, "content-disposition").contains("journal_"));
    assert_eq!(csv.text().await.unwrap().lines().count(), 1);
    let xlsx = console_get(
        &app,
        &office.cookie,
        "/console/books/journal.xlsx?from=2020-01-01",
    )
    .await;
    assert_eq!(xlsx.status(), StatusCode::OK);
    assert_eq!(header(&xlsx, "content-type"), XLSX);
    let bytes = xlsx.bytes().await.unwrap();
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(
        cells(&workbook.worksheet_range("Journal").unwrap()).len(),
        1
    );
    for path in [
        "/console/books/journal.csv?from=2020-01-01&office=0320".to_owned(),
        "/console/books/journal.xlsx?from=2020-01-01&office=0320".to_owned(),
        format!("/console/books/accounts/{REVENUE}/statement.csv?from=2020-01-01"),
        format!("/console/books/accounts/{REVENUE}?from=2020-01-01"),
        "/console/books?office=0320".to_owned(),
    ] {
        let page = console_get(&app, &office.cookie, &path).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let page = console_get(&app, &office.cookie, "/console/books").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("0320:"),
        "no 0320 account on the office auditor's page"
    );

    // The national auditor: the statement page traces the line and formats it for people;
    // the statement download keeps plain numbers.
    let page = console_get(
        &app,
        &national.cookie,
        &format!("/console/books/accounts/{REVENUE}?from=2020-01-01"),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("-600,000 ៛"), "{html}");
    assert!(html.contains("sbx_c1"), "the bank's transaction id");
    let csv = console_get(
        &app,
        &national.cookie,
        &format!("/console/books/accounts/{REVENUE}/statement.csv?from=2020-01-01"),
    )
    .await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(header(&csv, "x-statement-closing-balance"), "-600000");
    let text = csv.text().await.unwrap();
    assert!(
        text.lines().nth(1).unwrap().ends_with(",-600000,-600000"),
        "{text}"
    );
    // A bad instant on the picker is a 4xx page, not a 500.
    let page = console_get(&app, &national.cookie, "/console/books?at=yesterday").await;
    assert!(page.status().is_client_error(), "{}", page.status());
    // Without a session the download is the login redirect.
    let anonymous = crate::pages::browser()
        .get(format!("{}/console/books/journal.csv", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_closed_month_is_marked_on_the_statement_and_the_trial_balance(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320001005", "sbx_m1").await;
    let closed = app
        .post(
            "/v1/ledger/periods/close",
            Some(app.key("admin")),
            None,
            &serde_json::json!({"office_code": "0320", "month": "2026-01"}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::CREATED, "{}", closed.body);

    let statement = app
        .get(
            &format!("/v1/ledger/accounts/{REVENUE}/statement?from=2025-12-15&to=2026-02-15"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(
        statement.body["closed_months"],
        serde_json::json!(["2026-01"])
    );
    let later = app
        .get(
            &format!("/v1/ledger/accounts/{REVENUE}/statement?from=2026-02-01"),
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(later.body["closed_months"], serde_json::json!([]));

    let in_january = app
        .get(
            "/v1/ledger/trial-balance?as_of=2026-01-20T00:00:00Z",
            Some(app.key("auditor")),
        )
        .await;
    assert_eq!(
        in_january.body["closed_offices"],
        serde_json::json!(["0320"])
    );
    let now = app
        .get("/v1/ledger/trial-balance", Some(app.key("auditor")))
        .await;
    assert_eq!(now.body["closed_offices"], serde_json::json!([]));

    // The page marks it too.
    let person = crate::pages::log_in(&app, "auditor").await;
    let page = console_get(&app, &person.cookie, "/console/books?at=2026-01-20T12:00").await;
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"books-closed\""), "{html}");
}

/// A browser asks for gzip. The streamed exports used to end their body by polling a finished
/// stream once more, which panicked inside the compression layer: every download through a
/// browser was cut off at its end (`curl --compressed` said "transfer closed"), while the tests'
/// client, which does not ask for gzip, read it whole.
#[sqlx::test(migrations = "../migrations")]
async fn every_export_arrives_whole_to_a_client_that_asks_for_gzip(pool: PgPool) {
    use std::io::Read as _;
    let app = TestApp::start(pool).await;
    paid(&app, "0320001031", "sbx_gzip_1").await;
    post_many(&app, 3_000).await;
    let journal = "/v1/ledger/entries?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
    for (path, accept) in [
        (journal.to_owned(), "text/csv"),
        (format!("{journal}&format=xlsx"), XLSX),
        (
            format!("/v1/ledger/accounts/{REVENUE}/statement?from=2020-01-01T00:00:00Z"),
            "text/csv",
        ),
    ] {
        let plain = get_raw(&app, &path, app.key("auditor"), accept).await;
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        let plain = plain.bytes().await.unwrap();
        let zipped = app
            .http
            .get(format!("{}{path}", app.base))
            .bearer_auth(app.key("auditor"))
            .header("accept", accept)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(zipped.status(), StatusCode::OK, "{path}");
        let body = zipped
            .bytes()
            .await
            .unwrap_or_else(|error| panic!("{path}: the body was cut off: {error}"));
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut unzipped)
            .unwrap_or_else(|error| panic!("{path}: not a whole gzip stream: {error}"));
        if accept == XLSX {
            // A workbook's zip holds its own timestamps: compare what it says, not its bytes.
            let sheet = |bytes: Vec<u8>| {
                let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
                let name = book.sheet_names().last().unwrap().clone();
                cells(&book.worksheet_range(&name).unwrap())
            };
            let rows = sheet(unzipped);
            assert_eq!(rows, sheet(plain.to_vec()), "{path}");
            assert!(rows.len() > 6_000, "{path}: {} rows", rows.len());
        } else {
            assert_eq!(unzipped, plain.to_vec(), "{path}");
            assert!(plain.len() > 100_000, "{path}: {} bytes", plain.len());
        }
    }
}
