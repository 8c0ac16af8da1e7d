//! A sandbox payment names the office's account for its channel and currency, so the bank's
//! statement of that account lists it (reconciliation, issue 15).

use bank_adapters::statement::{cambodian_date, parse_csv};
use serde_json::json;
use sqlx::PgPool;

use crate::support::TestApp;

/// Pays an attempt at bank-sim with a chosen transaction id.
async fn pay_at_sim(app: &TestApp, provider_reference: &str, transaction_id: &str) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/sandbox/payments/{provider_reference}/pay",
            app.sim_base
        ))
        .json(&json!({ "transaction_id": transaction_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn statement_csv(app: &TestApp, account_id: &str) -> Vec<u8> {
    let today = cambodian_date(chrono::Utc::now());
    let response = reqwest::Client::new()
        .get(format!(
            "{}/sim/statements/{account_id}?date={today}&format=csv",
            app.sim_base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sandbox_payment_lands_on_the_statement_of_the_offices_sandbox_account(pool: PgPool) {
    let app = TestApp::start(pool.clone()).await;
    // The demo seed gives office 0320 its riel sandbox account.
    let (_, provider_reference) = app.pending_attempt("0320091001").await;
    pay_at_sim(&app, &provider_reference, "TX-STMT-1").await;
    let statement = parse_csv(&statement_csv(&app, "acleda-0320-khr").await).unwrap();
    let [line] = statement.lines.as_slice() else {
        panic!("one line expected: {statement:?}");
    };
    assert_eq!(line.transaction_id.as_deref(), Some("TX-STMT-1"));
    assert_eq!(line.reference.as_deref(), Some(provider_reference.as_str()));
    assert_eq!(line.amount.to_string(), "600000");
    assert_eq!(line.currency, "KHR");

    // An office without a sandbox account still takes the payment; no statement lists it.
    sqlx::query(
        "delete from office_account_channels where office_code = '0320' and channel = 'sandbox'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (_, second) = app.pending_attempt("0320091002").await;
    pay_at_sim(&app, &second, "TX-STMT-2").await;
    let statement = parse_csv(&statement_csv(&app, "acleda-0320-khr").await).unwrap();
    assert_eq!(statement.lines.len(), 1, "{statement:?}");
}
