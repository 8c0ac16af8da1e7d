//! Issue 16, period close: one checklist (month over, drawers closed, reconciliation
//! exceptions of the month resolved) read by `GET /v1/ledger/periods/checklist` and enforced
//! by `POST /v1/ledger/periods/close`.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::ledger_audit::paid;
use crate::support::TestApp;

async fn checklist(app: &TestApp, key: &str, office: &str, month: &str) -> (StatusCode, Value) {
    let reply = app
        .get(
            &format!("/v1/ledger/periods/checklist?office_code={office}&month={month}"),
            Some(app.key(key)),
        )
        .await;
    (reply.status, reply.body)
}

async fn close(app: &TestApp, office: &str, month: &str) -> (StatusCode, Value) {
    let reply = app
        .post(
            "/v1/ledger/periods/close",
            Some(app.key("admin")),
            None,
            &json!({"office_code": office, "month": month}),
        )
        .await;
    (reply.status, reply.body)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_month_closes_only_when_its_drawers_are_closed_and_its_exceptions_resolved(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320016101", "sbx_q1").await;
    // A drawer opened in January 2026 and left open (backdated as the DB owner).
    let opened = app
        .post(
            "/v1/cashier/sessions",
            Some(app.key("cashier_0320")),
            None,
            &json!({"office_code": "0320", "opening_float": []}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let drawer = opened.body["id"].as_str().unwrap().to_owned();
    sqlx::query(
        "update cashier_sessions set opened_at = '2026-01-15T03:00:00Z' where id = $1::uuid",
    )
    .bind(&drawer)
    .execute(&app.pool)
    .await
    .unwrap();
    // An open reconciliation exception of the month, and a resolved one.
    let open_exception = uuid::Uuid::new_v4();
    let resolved_exception = uuid::Uuid::new_v4();
    for (id, status) in [(open_exception, "open"), (resolved_exception, "resolved")] {
        sqlx::query(
            "insert into reconciliation_exceptions (id, office_code, kind, status, provider,
                 provider_transaction_id, amount, currency, business_date)
             values ($1, '0320', 'unknown_reference', $2, 'sandbox', $3, '5000', 'KHR', '2026-01-20')",
        )
        .bind(id)
        .bind(status)
        .bind(id.to_string())
        .execute(&app.pool)
        .await
        .unwrap();
    }

    let (status, list) = checklist(&app, "auditor", "0320", "2026-01").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["over"], true);
    assert_eq!(list["passes"], false);
    assert_eq!(list["open_drawers"][0]["id"], drawer.as_str());
    assert_eq!(list["open_exceptions"][0]["id"], open_exception.to_string());
    assert_eq!(
        list["resolved_exceptions"][0]["id"],
        resolved_exception.to_string()
    );
    // Another month's checklist is not blocked by this month's exception; the drawer opened
    // before it still counts for a later month.
    let (_, december) = checklist(&app, "auditor", "0320", "2025-12").await;
    assert_eq!(december["passes"], true, "{december}");
    let (_, february) = checklist(&app, "auditor", "0320", "2026-02").await;
    assert_eq!(
        february["open_drawers"].as_array().unwrap().len(),
        1,
        "{february}"
    );
    assert!(february["open_exceptions"].as_array().unwrap().is_empty());

    let (status, refused) = close(&app, "0320", "2026-01").await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "period_checklist_failed");
    let blocking = refused["blocking"].as_array().unwrap();
    assert!(
        blocking
            .iter()
            .any(|item| item["kind"] == "open_drawer" && item["id"] == drawer.as_str()),
        "{refused}"
    );
    assert!(
        blocking.iter().any(
            |item| item["kind"] == "open_exception" && item["id"] == open_exception.to_string()
        ),
        "{refused}"
    );
    assert_eq!(
        app.scalar_i64("select count(*) from ledger_closed_periods")
            .await,
        0
    );

    // The drawer closes; the exception alone still blocks.
    let closed = app
        .post(
            &format!("/v1/cashier/sessions/{drawer}/close"),
            Some(app.key("cashier_0320")),
            None,
            &json!({"counted": []}),
        )
        .await;
    assert!(closed.status.is_success(), "{}", closed.body);
    let (status, refused) = close(&app, "0320", "2026-01").await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(
        refused["blocking"].as_array().unwrap().len(),
        1,
        "{refused}"
    );
    // Resolved: the month closes, and its checklist says it is closed.
    sqlx::query("update reconciliation_exceptions set status = 'resolved', resolved_at = now() where id = $1")
        .bind(open_exception)
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, done) = close(&app, "0320", "2026-01").await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let (_, list) = checklist(&app, "admin", "0320", "2026-01").await;
    assert_eq!(list["is_closed"], true, "{list}");
    assert_eq!(list["closed"]["month"], "2026-01");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_checklist_is_office_scoped_and_refuses_bad_input(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let (status, _) = checklist(&app, "auditor_1201", "0320", "2026-01").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = checklist(&app, "auditor_1201", "1201", "2026-01").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = checklist(&app, "cashier_0320", "0320", "2026-01").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = checklist(&app, "auditor", "0320", "2026-13").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = checklist(&app, "auditor", "9999", "2026-01").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = checklist(&app, "auditor", "0320", "2999-01").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["over"], false);
    assert_eq!(body["passes"], false);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_entry_into_a_closed_month_is_a_conflict_not_a_fault(pool: PgPool) {
    let app = TestApp::start(pool).await;
    paid(&app, "0320016102", "sbx_q2").await;
    // The current month closed as the DB owner (the service never closes a month before its
    // end): a payment taken now would be dated in it.
    sqlx::query(
        "insert into ledger_closed_periods (office_code, month, closed_by)
         values ('0320', date_trunc('month', now() at time zone 'Asia/Phnom_Penh')::date, 'test')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let opened = app
        .post(
            "/v1/cashier/sessions",
            Some(app.key("cashier_0320")),
            None,
            &json!({"office_code": "0320", "opening_float": []}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let drawer = opened.body["id"].as_str().unwrap();
    let intent = app.intent("0320016103").await;
    let reply = app
        .post(
            &format!("/v1/cashier/sessions/{drawer}/receipts"),
            Some(app.key("cashier_0320")),
            Some("cash-closed-month"),
            &json!({"payment_intent_id": intent["id"], "tendered": {"amount": "600000", "currency": "KHR"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(reply.body["code"], "period_closed", "{}", reply.body);
}
