//! Chain verification runs (`ledger_verifications`): started from the auditor's page, run by
//! one instance, read by all.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// One run as the pages show it.
#[derive(Debug, Clone, sqlx::FromRow)]
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

/// Columns of [`VerificationRow`], for the runtime queries below.
const COLUMNS: &str =
    "id, started_by, started_at, status, entries_checked, entries_total, lease_until,
     finished_at, ok, report, error";

/// How long a run's lease lasts; the running instance renews it every few seconds.
pub const LEASE_SECONDS: i64 = 30;

/// Takes the transaction-scoped lock that orders run starts across instances (so two starts
/// at once make one run).
pub async fn lock_starts(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query("select pg_advisory_xact_lock(1281586245, 16)")
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks failed every running run whose lease lapsed: its instance died or lost the database.
pub async fn fail_lapsed(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    // language=PostgreSQL
    let done = sqlx::query(
        "update ledger_verifications
         set status = 'failed', finished_at = now(),
             error = 'the instance running this verification stopped renewing it (it stopped or lost the database); start it again'
         where status = 'running' and lease_until < now()",
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The run in progress, if any.
pub async fn running(conn: &mut PgConnection) -> Result<Option<VerificationRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as::<_, VerificationRow>(&format!(
        "select {COLUMNS} from ledger_verifications where status = 'running'
         order by started_at desc limit 1"
    ))
    .fetch_optional(conn)
    .await
}

/// Records a new running run of `entries_total` entries.
pub async fn insert_running(
    conn: &mut PgConnection,
    id: Uuid,
    started_by: &str,
    entries_total: i64,
) -> Result<VerificationRow, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as::<_, VerificationRow>(&format!(
        "insert into ledger_verifications (id, started_by, status, entries_total, lease_until)
         values ($1, $2, 'running', $3, now() + make_interval(secs => $4::bigint::double precision))
         returning {COLUMNS}"
    ))
    .bind(id)
    .bind(started_by)
    .bind(entries_total)
    .bind(LEASE_SECONDS)
    .fetch_one(conn)
    .await
}

/// One run.
pub async fn find(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<VerificationRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as::<_, VerificationRow>(&format!(
        "select {COLUMNS} from ledger_verifications where id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The latest `limit` runs, newest first.
pub async fn recent(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<VerificationRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as::<_, VerificationRow>(&format!(
        "select {COLUMNS} from ledger_verifications order by started_at desc limit $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Writes a running run's progress and renews its lease; `false` when the run is no longer
/// running (someone failed it after its lease lapsed).
pub async fn renew(
    conn: &mut PgConnection,
    id: Uuid,
    entries_checked: i64,
) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let done = sqlx::query(
        "update ledger_verifications
         set entries_checked = greatest(entries_checked, least($2, entries_total)),
             lease_until = now() + make_interval(secs => $3::bigint::double precision)
         where id = $1 and status = 'running'",
    )
    .bind(id)
    .bind(entries_checked)
    .bind(LEASE_SECONDS)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a run's result.
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    ok: bool,
    entries_checked: i64,
    report: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query(
        "update ledger_verifications
         set status = 'finished', ok = $2, finished_at = now(), report = $4,
             entries_checked = least($3, entries_total)
         where id = $1 and status = 'running'",
    )
    .bind(id)
    .bind(ok)
    .bind(entries_checked)
    .bind(report)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that a run broke (not a verdict on the ledger).
pub async fn fail(conn: &mut PgConnection, id: Uuid, error: &str) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query(
        "update ledger_verifications set status = 'failed', finished_at = now(), error = $2
         where id = $1 and status = 'running'",
    )
    .bind(id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}
