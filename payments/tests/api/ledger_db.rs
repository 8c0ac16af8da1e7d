//! The database itself protects the books: these go around the service with raw SQL.

use sqlx::PgPool;

use crate::support::{callback_body, TestApp, SECRET};

async fn one_paid_payment(app: &TestApp) {
    let intent = app.intent("0320009999").await;
    let attempt = app.sandbox_attempt(intent["id"].as_str().unwrap()).await;
    let reply = app
        .callback(
            &callback_body(
                "sbx_books",
                attempt["provider_reference"].as_str().unwrap(),
                "600000",
            ),
            SECRET,
        )
        .await;
    assert!(reply.status.is_success());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_database_refuses_an_unbalanced_entry(pool: PgPool) {
    let app = TestApp::start(pool).await;
    one_paid_payment(&app).await;
    let mut tx = app.pool.begin().await.unwrap();
    let entry: i64 = sqlx::query_scalar("insert into ledger_entries (office_code, kind, description) values ('0320', 'manual', 'unbalanced') returning id")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor)
         select $1, id, currency, office_code, 100 from ledger_accounts where code = '0320:clearing:sandbox:KHR'",
    )
    .bind(entry)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor)
         select $1, id, currency, office_code, -99 from ledger_accounts where code = '0320:revenue:labour:KHR'",
    )
    .bind(entry)
    .execute(&mut *tx)
    .await
    .unwrap();
    let committed = tx.commit().await;
    assert!(committed.is_err(), "an unbalanced entry committed");
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_entries").await,
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_database_refuses_to_edit_or_delete_postings(pool: PgPool) {
    let app = TestApp::start(pool).await;
    one_paid_payment(&app).await;
    let update = sqlx::query("update ledger_postings set amount_minor = amount_minor * 2")
        .execute(&app.pool)
        .await;
    assert!(update.is_err());
    let delete = sqlx::query("delete from ledger_postings")
        .execute(&app.pool)
        .await;
    assert!(delete.is_err());
    let entry_update = sqlx::query("update ledger_entries set description = 'edited'")
        .execute(&app.pool)
        .await;
    assert!(entry_update.is_err());
    assert_eq!(
        app.scalar_i64("select sum(abs(amount_minor))::bigint from ledger_postings")
            .await,
        1_200_000
    );
}
