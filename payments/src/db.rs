//! Connecting, migrating, readiness.

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::config::Config;

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens the pool of the HTTP routes: the total less the workers' share
/// ([`Config::db_http_connections`]).
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    open(config, config.db_http_connections(), "owso-pay").await
}

/// Opens the pool of settlement, bank callbacks and the background workers, which no flood of
/// HTTP reads or exports can take connections from.
pub async fn connect_workers(config: &Config) -> anyhow::Result<PgPool> {
    open(config, config.db_worker_connections, "owso-pay-workers").await
}

async fn open(config: &Config, size: u32, application: &str) -> anyhow::Result<PgPool> {
    let mut options: PgConnectOptions = config.database_url.expose_secret().parse()?;
    options = options.application_name(application);
    // A runaway statement or a transaction left open by a stuck task holds locks and a
    // connection: bound both on every service connection (0 is PostgreSQL's "no limit").
    let statement_ms = config.db_statement_timeout.as_millis().to_string();
    let idle_ms = config
        .db_idle_in_transaction_timeout
        .as_millis()
        .to_string();
    options = options.options([
        ("statement_timeout", statement_ms.as_str()),
        ("idle_in_transaction_session_timeout", idle_ms.as_str()),
    ]);
    let pool = PgPoolOptions::new()
        .max_connections(size.max(1))
        .acquire_timeout(config.db_acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Applies pending migrations. Safe with several instances: sqlx takes an advisory lock.
/// Runs on a connection of its own without the service's statement timeouts (an index build
/// may take longer), which is closed afterwards rather than returned to the pool.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?.detach();
    // language=PostgreSQL
    sqlx::raw_sql("set statement_timeout = 0; set idle_in_transaction_session_timeout = 0")
        .execute(&mut conn)
        .await?;
    MIGRATOR.run(&mut conn).await?;
    let _ = sqlx::Connection::close(conn).await;
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
