//! Connecting, migrating, readiness.

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::config::Config;

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens the pool with explicit limits.
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = config.database_url.expose_secret().parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(config.db_acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_with(options.application_name("owso-pay"))
        .await?;
    Ok(pool)
}

/// Applies pending migrations. Safe with several instances: sqlx takes an advisory lock.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Warns once at start when the server runs without autovacuum. The ledger's tables only
/// grow; without analyze the planner keeps the row estimates of the day they were created,
/// and plans made for an empty table scan the whole table (issue 5's callback benchmark ran
/// at 691–802/s that way, 1,005–1,277/s once analyzed). A warning, not a refusal: a DBA may
/// analyze on a schedule of their own.
pub async fn warn_if_autovacuum_off(pool: &PgPool) {
    let setting: Result<String, _> = sqlx::query_scalar("select current_setting('autovacuum')")
        .fetch_one(pool)
        .await;
    if matches!(setting.as_deref(), Ok("off")) {
        tracing::warn!(
            "PostgreSQL runs with autovacuum off: run ANALYZE regularly (or turn autovacuum on), or plans stay those of empty tables"
        );
    }
}

/// Ready means: the database answers and every embedded migration is applied.
pub async fn ready(pool: &PgPool) -> Result<(), String> {
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(pool)
        .await
        .map_err(|_| "the database does not answer or is not migrated".to_owned())?;
    let expected = i64::try_from(MIGRATOR.iter().count()).unwrap_or(i64::MAX);
    if applied < expected {
        return Err(format!("{applied} of {expected} migrations applied"));
    }
    Ok(())
}
