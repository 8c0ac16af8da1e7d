//! The store of webhook endpoints, their deliveries and the dispatcher's claims on them.

pub mod deliveries;
pub mod dispatch;
pub mod endpoints;

use sqlx::PgExecutor;

/// Wakes the dispatchers (those listening on `webhook_deliveries`); inside a transaction, at
/// its commit (NOTIFY is transactional).
pub async fn notify_dispatchers(conn: impl PgExecutor<'_>) -> Result<(), sqlx::Error> {
    // A select without columns: pg_notify returns void, which the query macros cannot read.
    // language=PostgreSQL
    sqlx::query!("select from pg_notify('webhook_deliveries', '')")
        .execute(conn)
        .await?;
    Ok(())
}
