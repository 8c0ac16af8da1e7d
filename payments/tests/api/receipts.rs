//! Receipt numbers handed out after the payment's commit (migration 0007): gapless per office
//! under concurrency, one `payment.paid` event per payment carrying its number, and nothing
//! left unnumbered when the process stops between the two transactions.

use std::collections::BTreeSet;

use futures_util::StreamExt as _;
use payments::app::receipts;
use payments::app::settlement::{self, Settlement};
use serde_json::Value;
use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_payments_of_one_office_get_gapless_numbers_and_their_events(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let mut pending = Vec::new();
    for n in 0..40 {
        let intent = app.intent(&format!("0320R{n:04}")).await;
        let id = intent["id"].as_str().unwrap().to_owned();
        let attempt = app.sandbox_attempt(&id).await;
        pending.push((
            id,
            attempt["provider_reference"].as_str().unwrap().to_owned(),
        ));
    }
    let app_ref = &app;
    let statuses: Vec<bool> = futures_util::stream::iter(pending.iter().enumerate())
        .map(|(n, (_, reference))| async move {
            app_ref
                .callback(
                    &callback_body(&format!("sbx_rcpt_{n}"), reference, "600000"),
                    SECRET,
                )
                .await
                .status
                .is_success()
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|ok| *ok));

    // Callbacks that arrive together are settled together: fewer transactions than payments.
    let transactions = app
        .scalar_i64("select count(distinct txid) from ledger_entries")
        .await;
    assert!(
        transactions < 40,
        "{transactions} transactions for 40 payments"
    );
    // Every callback answered after its payment was numbered: nothing is left staged.
    assert_eq!(
        app.scalar_i64("select count(*) from receipt_queue").await,
        0
    );
    let numbers: Vec<(String, String)> = sqlx::query_as(
        "select id::text, receipt_number from payment_intents where receipt_number is not null order by receipt_number",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(numbers.len(), 40);
    for (index, (_, number)) in numbers.iter().enumerate() {
        assert!(number.starts_with("0320-20"), "{number}");
        assert!(
            number.ends_with(&format!("-{:06}", index + 1)),
            "{numbers:?}"
        );
    }
    // One payment.paid event per payment, carrying that payment's number.
    let events: Vec<Value> =
        sqlx::query_scalar("select payload from outbox_events where event_type = 'payment.paid'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(events.len(), 40);
    let from_events: BTreeSet<(String, String)> = events
        .iter()
        .map(|event| {
            (
                event["data"]["payment_intent_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                event["data"]["receipt_number"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(from_events, numbers.into_iter().collect());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_payment_left_unnumbered_is_numbered_by_the_worker_round(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let intent = app.intent("0320R0001").await;
    let id = intent["id"].as_str().unwrap().to_owned();
    let attempt = app.sandbox_attempt(&id).await;
    // The settlement commits, then the process "stops" before numbering.
    let report = payments::app::settlement::Report::new(
        "sandbox",
        payments::app::states::Channel::Sandbox,
        bank_adapters::report::PaymentReport {
            transaction_id: "sbx_crash_1".to_owned(),
            provider_reference: attempt["provider_reference"].as_str().unwrap().to_owned(),
            amount: bank_adapters::report::ReportedAmount::from_text("600000", "KHR"),
            paid_at: None,
        },
        None,
    );
    let mut tx = app.pool.begin().await.unwrap();
    let outcome = settlement::record(&mut tx, &report).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(outcome, Settlement::Paid { .. }), "{outcome:?}");
    let stored: (String, Option<String>) =
        sqlx::query_as("select status, receipt_number from payment_intents where id::text = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, ("paid".to_owned(), None));
    assert_eq!(
        app.scalar_i64("select count(*) from outbox_events where event_type = 'payment.paid'")
            .await,
        0
    );

    // Too young for the safety net: the request that confirmed it would be numbering it.
    let young = receipts::number_stragglers(&app.pool, chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(young, 0);
    let numbered = receipts::number_stragglers(&app.pool, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(numbered, 1);
    let number: String =
        sqlx::query_scalar("select receipt_number from payment_intents where id::text = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(number.ends_with("-000001"), "{number}");
    let event: Value =
        sqlx::query_scalar("select payload from outbox_events where event_type = 'payment.paid'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(event["data"]["receipt_number"], number.as_str());
    assert_eq!(
        app.scalar_i64("select count(*) from receipt_queue").await,
        0
    );
    // A second round finds nothing and numbers nothing twice.
    assert_eq!(
        receipts::number_stragglers(&app.pool, chrono::Duration::zero())
            .await
            .unwrap(),
        0
    );
}
