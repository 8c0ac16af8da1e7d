//! Connecting, migrating, readiness; the store functions live in one module per noun.

pub mod attempts;
pub mod audit;
pub mod books;
pub mod cashier;
pub mod catalog;
pub mod catalog_audit;
pub mod console;
pub mod counter;
pub mod fee_schedules;
pub mod idempotency;
pub mod inbox;
pub mod intents;
pub mod keys;
pub mod khqr;
pub mod offices;
pub mod outbox;
pub mod period_close;
pub mod quotes;
pub mod receipt_views;
pub mod receipts;
pub mod reconciliation;
pub mod reports;
pub mod resolutions;
pub mod roles;
pub mod schema;
pub mod secrets;
pub mod seed;
pub mod settlement;
pub mod staff;
pub mod verifications;
pub mod webhooks;

pub use roles::{grant_service_role, service_role_grants, APPEND_ONLY_TABLES};

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::app::secrets::{pay_token_context, Keyring};
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
/// Run it as the owner role (`MIGRATION_DATABASE_URL`); the service's own role may not.
/// Runs on a connection of its own without the service's statement timeouts (an index build
/// may take longer), which is closed afterwards rather than returned to the pool.
pub async fn migrate(pool: &PgPool, keyring: &Keyring) -> anyhow::Result<()> {
    seal_legacy_pay_tokens(pool, keyring).await?;
    let mut conn = pool.acquire().await?.detach();
    schema::lift_timeouts(&mut conn).await?;
    MIGRATOR.run(&mut conn).await?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(())
}

/// Before the migration that drops the plaintext `pay_token` column, seal each token into
/// `pay_token_sealed` (that migration adds the column with `if not exists`), so that links
/// made before it can still be shown to the roles that create intents. Does nothing once the
/// column is gone.
async fn seal_legacy_pay_tokens(pool: &PgPool, keyring: &Keyring) -> anyhow::Result<()> {
    if !schema::has_legacy_pay_token_column(pool).await? {
        return Ok(());
    }
    schema::add_pay_token_sealed_column(pool).await?;
    for (id, token) in schema::unsealed_legacy_pay_tokens(pool).await? {
        let sealed = keyring.seal(&pay_token_context(id), token.as_bytes())?;
        schema::store_sealed_pay_token(pool, id, &sealed).await?;
    }
    Ok(())
}

/// True when every embedded migration is applied (read with the service's own role).
pub async fn migrations_pending(pool: &PgPool) -> anyhow::Result<bool> {
    if !schema::has_migrations_table(pool).await? {
        return Ok(true);
    }
    let applied = schema::applied_migrations(pool).await?;
    Ok(MIGRATOR
        .iter()
        .any(|migration| !applied.contains(&migration.version)))
}

/// Opens a small pool as the migration (owner) role: `MIGRATION_DATABASE_URL`, else
/// `DATABASE_URL`.
pub async fn connect_migrator(config: &Config) -> anyhow::Result<PgPool> {
    let mut owner = config.clone();
    if let Some(url) = &config.migration_database_url {
        owner.database_url = url.clone();
    }
    owner.db_max_connections = 2;
    connect(&owner).await
}

/// Warns once at start when the server runs without autovacuum. The ledger's tables only
/// grow; without analyze the planner keeps the row estimates of the day they were created,
/// and plans made for an empty table scan the whole table (the callback benchmark ran
/// at 691–802/s that way, 1,005–1,277/s once analyzed). A warning, not a refusal: a DBA may
/// analyze on a schedule of their own.
pub async fn warn_if_autovacuum_off(pool: &PgPool) {
    let setting = schema::autovacuum(pool).await;
    if matches!(setting.as_deref(), Ok("off")) {
        tracing::warn!(
            "PostgreSQL runs with autovacuum off: run ANALYZE regularly (or turn autovacuum on), or plans stay those of empty tables"
        );
    }
}

/// Ready means: the database answers and every embedded migration is applied.
pub async fn ready(pool: &PgPool) -> Result<(), String> {
    let applied = schema::applied_migration_count(pool)
        .await
        .map_err(|_| "the database does not answer or is not migrated".to_owned())?;
    let expected = i64::try_from(MIGRATOR.iter().count()).unwrap_or(i64::MAX);
    if applied < expected {
        return Err(format!("{applied} of {expected} migrations applied"));
    }
    Ok(())
}
