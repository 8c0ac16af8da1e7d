//! Chain verification runs (`ledger_verifications`): started from the auditor's page, run by
//! one instance, read by all.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// One run as the pages show it.
#[derive(Debug, Clone)]
pub struct VerificationRow {
    pub id: Uuid,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub status: String,
    pub entries_checked: i64,
    pub entries_total: i64,
    pub lease_until: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub ok: Option<bool>,
    pub report: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// The latest finished run (ok or not): what the dashboard shows as "last verification".
pub async fn latest_finished(
    conn: &mut PgConnection,
) -> Result<Option<VerificationRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        VerificationRow,
        "select id, started_by, started_at, status, entries_checked, entries_total, lease_until,
                finished_at, ok, report, error
         from ledger_verifications
         where status = 'finished'
         order by finished_at desc
         limit 1"
    )
    .fetch_optional(conn)
    .await
}
