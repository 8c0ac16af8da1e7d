//! The catalog's audit log: one row per change of a schedule, service or bundle.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// One change as stored.
#[derive(Debug)]
pub struct AuditRecord {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub schedule_version: String,
    pub subject: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A change to record; `before` and `after` are the JSON of the subject.
pub struct NewAuditRecord<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub schedule_version: &'a str,
    pub subject: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub async fn insert(
    conn: &mut PgConnection,
    record: NewAuditRecord<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        // language=PostgreSQL
        "insert into catalog_audit (actor, action, schedule_version, subject, before, after)
         values ($1, $2, $3, $4, $5, $6)",
        record.actor,
        record.action,
        record.schedule_version,
        record.subject,
        record.before,
        record.after,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` records, newest first: of `version` when given, before the id `before_id`
/// when given.
pub async fn list(
    conn: &mut PgConnection,
    version: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    sqlx::query_as!(
        AuditRecord,
        // language=PostgreSQL
        "select id, occurred_at, actor, action, schedule_version, subject, before, after
         from catalog_audit
         where ($1::text is null or schedule_version = $1) and ($2::bigint is null or id < $2)
         order by id desc limit $3",
        version,
        before_id,
        limit,
    )
    .fetch_all(&mut *conn)
    .await
}
