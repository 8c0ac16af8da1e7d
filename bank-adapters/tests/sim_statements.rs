//! bank-sim's statements: what the simulated banks paid into an account, in both formats, with
//! each kind of noise, read back with our own parsers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bank_adapters::khqr::{encode, AccountKind, KhqrRequest};
use bank_adapters::sim::{router, SimState};
use bank_adapters::statement::{
    cambodian_date, parse_camt053, parse_csv, Direction, Statement, StatementLine,
};
use chrono::{Days, NaiveDate, Utc};
use common::{closed_port_url, sim_state};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tower::ServiceExt as _;

const ACCOUNT: &str = "owso_0320@demo";

struct Sim {
    state: SimState,
}

impl Sim {
    async fn new() -> Sim {
        Sim {
            state: sim_state(closed_port_url().await),
        }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, content_type, body.to_vec())
    }

    async fn post(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        let (status, _, body) = self.send(request).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// A sandbox payment into `account` (or none), paid with transaction id `transaction_id`.
    async fn sandbox_paid(
        &self,
        reference: &str,
        amount: &str,
        account: Option<&str>,
        transaction_id: &str,
    ) {
        let mut body = json!({
            "provider_reference": reference,
            "amount": amount,
            "currency": "KHR",
            "description": "Construction permit",
            "expires_at": "2030-01-01T00:00:00Z",
        });
        if let Some(account) = account {
            body["account_id"] = json!(account);
        }
        let (status, answer) = self.post("/sandbox/payments", body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let (status, answer) = self
            .post(
                &format!("/sandbox/payments/{reference}/pay"),
                json!({ "transaction_id": transaction_id }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    /// Pays a dynamic KHR KHQR of `amount` into [`ACCOUNT`] with `bill_number`; its hash.
    async fn bakong_paid(&self, amount: i64, bill_number: &str) -> String {
        let mut request = KhqrRequest::new(
            AccountKind::Individual {
                account_information: None,
                acquiring_bank: None,
            },
            ACCOUNT,
            "OWSO Demo",
        );
        request.amount = Some(Decimal::from(amount));
        request.bill_number = Some(bill_number.to_owned());
        let now = Utc::now().timestamp_millis();
        request.expiration_ms = Some(now + 600_000);
        let khqr = encode(&request, now).unwrap();
        let (status, answer) = self.post("/bakong/sim/pay", json!({ "qr": khqr.qr })).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["hash"].as_str().unwrap().to_owned()
    }

    async fn deposit(&self, slip: &str, amount: &str, date: NaiveDate) -> Value {
        let (status, answer) = self
            .post(
                "/sim/deposits",
                json!({"account_id": ACCOUNT, "slip_reference": slip, "amount": amount,
                       "currency": "KHR", "date": date.to_string()}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer
    }

    async fn raw_statement(&self, query: &str) -> (StatusCode, Option<String>, Vec<u8>) {
        let uri = format!("/sim/statements/{ACCOUNT}?{query}");
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// The statement of `date` with `noise`, in both formats, each parsed back; the camt one
    /// first. Checks the content types and that the two agree on the lines CSV can carry.
    async fn statements(&self, date: NaiveDate, noise: &str) -> (Statement, Statement) {
        let (status, content_type, camt) = self
            .raw_statement(&format!("date={date}&format=camt053&noise={noise}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&camt));
        assert_eq!(content_type.as_deref(), Some("application/xml"));
        let camt = parse_camt053(&camt)
            .unwrap_or_else(|problems| panic!("{problems:?}\n{}", String::from_utf8_lossy(&camt)));
        let (status, content_type, csv) = self
            .raw_statement(&format!("date={date}&format=csv&noise={noise}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("text/csv; charset=utf-8"));
        let csv = parse_csv(&csv).unwrap();
        let without_parts: Vec<StatementLine> = camt
            .lines
            .iter()
            .cloned()
            .map(|line| StatementLine {
                parts: Vec::new(),
                ..line
            })
            .collect();
        assert_eq!(csv.lines, without_parts);
        (camt, csv)
    }
}

fn references(statement: &Statement) -> Vec<Option<&str>> {
    statement
        .lines
        .iter()
        .map(|line| line.reference.as_deref())
        .collect()
}

/// A day's traffic into [`ACCOUNT`]: a deposit (booked first), two sandbox payments, a
/// Bakong payment; plus payments into another account and into none, which never show.
async fn busy_day() -> (Sim, NaiveDate, String) {
    let sim = Sim::new().await;
    let today = cambodian_date(Utc::now());
    sim.deposit("SLIP-1", "100000", today).await;
    sim.sandbox_paid("att_a", "600000", Some(ACCOUNT), "TX-A")
        .await;
    sim.sandbox_paid("att_b", "250000", Some(ACCOUNT), "TX-B")
        .await;
    sim.sandbox_paid("att_c", "1000", Some("other@demo"), "TX-C")
        .await;
    sim.sandbox_paid("att_d", "2000", None, "TX-D").await;
    let hash = sim.bakong_paid(40_000, "0320018100").await;
    (sim, today, hash)
}

#[tokio::test]
async fn a_statement_lists_the_days_payments_and_deposits_in_both_formats() {
    let (sim, today, hash) = busy_day().await;
    let (camt, csv) = sim.statements(today, "").await;
    assert_eq!(camt.account_id.as_deref(), Some(ACCOUNT));
    assert_eq!(camt.currency.as_deref(), Some("KHR"));
    assert_eq!((camt.from, camt.to), (today, today));
    assert_eq!(csv.lines.len(), 4);
    assert_eq!(
        references(&camt),
        [
            Some("SLIP-1"),
            Some("att_a"),
            Some("att_b"),
            Some("0320018100")
        ]
    );
    let ids: Vec<&str> = camt
        .lines
        .iter()
        .map(|line| line.transaction_id.as_deref().unwrap())
        .collect();
    assert!(ids[0].starts_with("DEP-"), "{ids:?}");
    assert_eq!(&ids[1..], ["TX-A", "TX-B", hash.as_str()]);
    let amounts: Vec<Decimal> = camt.lines.iter().map(|line| line.amount).collect();
    assert_eq!(
        amounts,
        [100_000, 600_000, 250_000, 40_000].map(Decimal::from)
    );
    assert!(camt
        .lines
        .iter()
        .all(|line| line.direction == Direction::Credit && line.booking_date == today));

    // Another day is empty (camt carries its period; an empty CSV is only its header).
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap();
    let (_, _, body) = sim
        .raw_statement(&format!("date={tomorrow}&format=camt053"))
        .await;
    let empty = parse_camt053(&body).unwrap();
    assert!(empty.lines.is_empty());
    assert_eq!(empty.from, tomorrow);

    // The same state gives the same bytes.
    let first = sim
        .raw_statement(&format!("date={today}&noise=batch,extra_line"))
        .await;
    let second = sim
        .raw_statement(&format!("date={today}&noise=extra_line,batch"))
        .await;
    assert_eq!(first.2, second.2);
}

#[tokio::test]
async fn missing_line_drops_the_days_last_payment() {
    let (sim, today, _) = busy_day().await;
    let (camt, _) = sim.statements(today, "missing_line").await;
    assert_eq!(
        references(&camt),
        [Some("SLIP-1"), Some("att_a"), Some("att_b")]
    );
}

#[tokio::test]
async fn extra_line_adds_a_credit_nobody_expects() {
    let (sim, today, _) = busy_day().await;
    let (camt, _) = sim.statements(today, "extra_line").await;
    assert_eq!(camt.lines.len(), 5);
    let extra = &camt.lines[4];
    let stamp = today.format("%Y%m%d").to_string();
    assert_eq!(extra.reference, Some(format!("UNKNOWN-{stamp}")));
    assert_eq!(extra.direction, Direction::Credit);
    assert_eq!(extra.amount, Decimal::from(12_300));
}

#[tokio::test]
async fn fee_deducted_takes_one_percent_from_the_first_payment() {
    let (sim, today, _) = busy_day().await;
    let (camt, _) = sim.statements(today, "fee_deducted").await;
    // The deposit stays whole; att_a's 600000 riel is credited less 6000.
    assert_eq!(camt.lines[0].amount, Decimal::from(100_000));
    assert_eq!(camt.lines[1].reference.as_deref(), Some("att_a"));
    assert_eq!(camt.lines[1].amount, Decimal::from(594_000));
    assert_eq!(camt.lines[2].amount, Decimal::from(250_000));
}

#[tokio::test]
async fn batch_folds_the_days_payments_into_one_line() {
    let (sim, today, hash) = busy_day().await;
    let (camt, csv) = sim.statements(today, "batch").await;
    assert_eq!(camt.lines.len(), 2);
    assert_eq!(camt.lines[0].reference.as_deref(), Some("SLIP-1"));
    let batch = &camt.lines[1];
    assert_eq!(batch.transaction_id, Some(format!("BATCH-{today}")));
    assert_eq!(batch.reference, None);
    assert_eq!(batch.amount, Decimal::from(890_000));
    let parts: Vec<(Option<&str>, Option<&str>, Option<Decimal>)> = batch
        .parts
        .iter()
        .map(|part| {
            (
                part.transaction_id.as_deref(),
                part.reference.as_deref(),
                part.amount,
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            (Some("TX-A"), Some("att_a"), Some(Decimal::from(600_000))),
            (Some("TX-B"), Some("att_b"), Some(Decimal::from(250_000))),
            (
                Some(hash.as_str()),
                Some("0320018100"),
                Some(Decimal::from(40_000))
            ),
        ]
    );
    // CSV carries the sum alone.
    assert_eq!(csv.lines[1].amount, Decimal::from(890_000));
    assert!(csv.lines[1].parts.is_empty());
}

#[tokio::test]
async fn late_line_books_the_first_payment_the_next_day() {
    let (sim, today, _) = busy_day().await;
    let (camt, _) = sim.statements(today, "late_line").await;
    assert_eq!(
        references(&camt),
        [Some("SLIP-1"), Some("att_b"), Some("0320018100")]
    );
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap();
    let (next, _) = sim.statements(tomorrow, "late_line").await;
    assert_eq!(references(&next), [Some("att_a")]);
    assert_eq!(next.lines[0].booking_date, tomorrow);
    assert_eq!(next.lines[0].transaction_id.as_deref(), Some("TX-A"));
    // Without the noise the next day is empty.
    let (plain, _, body) = sim.raw_statement(&format!("date={tomorrow}")).await;
    assert_eq!(plain, StatusCode::OK);
    assert!(parse_camt053(&body).unwrap().lines.is_empty());
}

#[tokio::test]
async fn bad_queries_and_deposits_are_problems() {
    let sim = Sim::new().await;
    for query in [
        "date=2026-12-05&noise=typo",
        "date=2026-12-05&noise=batch,late",
        "date=2026-13-05",
        "date=2026-12-05&format=pdf",
        "format=csv",
        "date=2026-12-05&colour=red",
    ] {
        let (status, content_type, _) = sim.raw_statement(query).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{query}"
        );
    }
    let good = json!({"account_id": ACCOUNT, "slip_reference": "S1", "amount": "1000",
                      "currency": "KHR"});
    let (status, answer) = sim.post("/sim/deposits", good.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["date"], cambodian_date(Utc::now()).to_string());
    for (field, value) in [
        ("amount", json!("12.5")),
        ("amount", json!("-1")),
        ("currency", json!("EUR")),
        ("date", json!("yesterday")),
        ("slip_reference", json!("")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (status, _) = sim.post("/sim/deposits", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
    }
    let mut body = good;
    body["colour"] = json!("red");
    let (status, _) = sim.post("/sim/deposits", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_payout_is_a_debit_line_of_its_day_with_the_banks_reference() {
    let sim = Sim::new().await;
    let day = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
    sim.deposit("SLIP-1", "50000", day).await;
    let (status, answer) = sim
        .post(
            "/sim/payouts",
            json!({"account_id": ACCOUNT, "reference": "RF-77", "amount": "12300",
                   "currency": "KHR", "date": "2026-12-05"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["reference"], "RF-77");
    assert_eq!(answer["date"], "2026-12-05");
    assert!(answer["transaction_id"]
        .as_str()
        .unwrap()
        .starts_with("OUT-20261205-"));
    // Noise never touches a payout: batch and fees are for payments.
    for noise in ["", "batch,fee_deducted,missing_line,late_line"] {
        let (camt, csv) = sim.statements(day, noise).await;
        for statement in [&camt, &csv] {
            let out: Vec<&StatementLine> = statement
                .lines
                .iter()
                .filter(|line| line.direction == Direction::Debit)
                .collect();
            assert_eq!(out.len(), 1, "{noise}: {:?}", statement.lines);
            assert_eq!(out[0].reference.as_deref(), Some("RF-77"));
            assert_eq!(out[0].amount, Decimal::from(12_300));
            assert_eq!(out[0].booking_date, day);
            assert_eq!(
                out[0].transaction_id.as_deref(),
                answer["transaction_id"].as_str()
            );
        }
    }
    // Another day's statement does not list it.
    let (status, _, camt) = sim.raw_statement("date=2026-12-06&format=camt053").await;
    assert_eq!(status, StatusCode::OK);
    assert!(parse_camt053(&camt).unwrap().lines.is_empty());

    let good = json!({"account_id": ACCOUNT, "reference": "RF-78", "amount": "100",
                      "currency": "KHR"});
    let (status, answer) = sim.post("/sim/payouts", good.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["date"], cambodian_date(Utc::now()).to_string());
    for (field, value) in [
        ("amount", json!("0.5")),
        ("currency", json!("EUR")),
        ("date", json!("tomorrow")),
        ("reference", json!("")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (status, _) = sim.post("/sim/payouts", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
    }
    let mut body = good;
    body["slip_reference"] = json!("S");
    let (status, _) = sim.post("/sim/payouts", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
