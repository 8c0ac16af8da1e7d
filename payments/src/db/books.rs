//! The auditor's reads that the ledger crate does not make: the reconciliation exceptions,
//! and the snapshot a verification reads in.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::books::exceptions::Exception;
use crate::app::states::{ExceptionKind, ExceptionStatus};

/// Makes the caller's transaction one read-only snapshot: seals, entries and the sealer's
/// horizon are then read as of one instant, and the reads block no writer.
pub async fn read_only_snapshot(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!("set transaction isolation level repeatable read, read only")
        .execute(conn)
        .await?;
    Ok(())
}

/// Which exceptions to read: `offices` is the caller's scope (`None` for every office),
/// `after` the `(created_at, id)` of the last row of the previous page.
pub struct ExceptionQuery<'a> {
    pub offices: Option<&'a [String]>,
    pub office_code: Option<&'a str>,
    pub status: Option<ExceptionStatus>,
    pub kind: Option<ExceptionKind>,
    /// Oldest first (the console's work queue) instead of newest first.
    pub oldest_first: bool,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

/// Exceptions newest first (or oldest first), at most `query.limit`.
pub async fn list_exceptions(
    conn: &mut PgConnection,
    query: ExceptionQuery<'_>,
) -> Result<Vec<Exception>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        Exception,
        r#"select id, office_code, kind as "kind: ExceptionKind", status as "status: ExceptionStatus",
                  provider, provider_transaction_id, payment_intent_id, payment_attempt_id,
                  amount, currency, ledger_entry_id, created_at, account_id, statement_line_id,
                  item_posting_id, business_date, resolved_at
           from reconciliation_exceptions
           where ($1::text[] is null or office_code = any($1))
             and ($2::text is null or office_code = $2)
             and ($3::text is null or status = $3)
             and ($7::text is null or kind = $7)
             and ($4::timestamptz is null
                  or (not $8 and (created_at, id) < ($4, $5::uuid))
                  or ($8 and (created_at, id) > ($4, $5::uuid)))
           order by case when $8 then created_at end asc, case when $8 then id end asc,
                    created_at desc, id desc
           limit $6"#,
        query.offices,
        query.office_code,
        query.status.map(ExceptionStatus::as_str),
        query.after.map(|(at, _)| at),
        query.after.map(|(_, id)| id),
        query.limit,
        query.kind.map(ExceptionKind::as_str),
        query.oldest_first,
    )
    .fetch_all(conn)
    .await
}
