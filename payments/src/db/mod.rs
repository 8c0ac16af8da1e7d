//! Connecting, migrating, readiness; the store modules, one per noun.

pub mod outbox;
pub mod receipts;
pub mod settlement;
pub mod webhooks;

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
    // language=PostgreSQL
    sqlx::raw_sql("set statement_timeout = 0; set idle_in_transaction_session_timeout = 0")
        .execute(&mut conn)
        .await?;
    MIGRATOR.run(&mut conn).await?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(())
}

/// Before the migration that drops the plaintext `pay_token` column, seal each token into
/// `pay_token_sealed` (that migration adds the column with `if not exists`), so that links
/// made before it can still be shown to the roles that create intents. Does nothing once the
/// column is gone.
async fn seal_legacy_pay_tokens(pool: &PgPool, keyring: &Keyring) -> anyhow::Result<()> {
    let legacy: bool = sqlx::query_scalar(
        "select exists (select 1 from information_schema.columns
                        where table_schema = current_schema() and table_name = 'payment_intents'
                          and column_name = 'pay_token')",
    )
    .fetch_one(pool)
    .await?;
    if !legacy {
        return Ok(());
    }
    sqlx::query("alter table payment_intents add column if not exists pay_token_sealed text")
        .execute(pool)
        .await?;
    let rows: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("select id, pay_token from payment_intents where pay_token_sealed is null")
            .fetch_all(pool)
            .await?;
    for (id, token) in rows {
        let sealed = keyring.seal(&pay_token_context(id), token.as_bytes())?;
        sqlx::query(
            "update payment_intents set pay_token_sealed = $2 where id = $1 and pay_token_sealed is null",
        )
        .bind(id)
        .bind(sealed)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// True when every embedded migration is applied (read with the service's own role).
pub async fn migrations_pending(pool: &PgPool) -> anyhow::Result<bool> {
    let table: Option<String> = sqlx::query_scalar("select to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    if table.is_none() {
        return Ok(true);
    }
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success")
            .fetch_all(pool)
            .await?;
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

/// Tables the service appends to and never changes: the service role gets no UPDATE,
/// DELETE or TRUNCATE on them (their triggers refuse those too; a second wall).
pub const APPEND_ONLY_TABLES: [&str; 6] = [
    "ledger_entries",
    "ledger_postings",
    "ledger_seals",
    "ledger_digests",
    "ledger_closed_periods",
    "ledger_daily_balances",
];

/// The statements of `payments db grant-service-role ROLE` (docs/RUNNING.md, "Database
/// roles"). Run by the owner role, which then also grants these rights on tables and sequences
/// it creates in later migrations. Owning nothing, the service role cannot alter tables or
/// disable their triggers.
pub fn service_role_grants(role: &str) -> anyhow::Result<Vec<String>> {
    let valid = !role.is_empty()
        && role.len() <= 63
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !role.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        anyhow::bail!(
            "ROLE must be a lower-case PostgreSQL identifier (a-z, 0-9, _), got {role:?}"
        );
    }
    let append_only = APPEND_ONLY_TABLES.join(", ");
    Ok(vec![
        format!("grant usage on schema public to {role}"),
        format!("grant select, insert, update, delete on all tables in schema public to {role}"),
        format!("revoke update, delete, truncate on {append_only} from {role}"),
        // Migration history is the owner's to write.
        format!("revoke insert, update, delete, truncate on _sqlx_migrations from {role}"),
        format!("grant usage, select, update on all sequences in schema public to {role}"),
        format!("grant execute on all functions in schema public to {role}"),
        format!(
            "alter default privileges in schema public grant select, insert, update, delete on tables to {role}"
        ),
        format!(
            "alter default privileges in schema public grant usage, select, update on sequences to {role}"
        ),
        format!("alter default privileges in schema public grant execute on functions to {role}"),
    ])
}

/// Runs [`service_role_grants`] in one transaction on `pool` (connected as the owner role).
pub async fn grant_service_role(pool: &PgPool, role: &str) -> anyhow::Result<()> {
    let statements = service_role_grants(role)?;
    let mut tx = pool.begin().await?;
    for statement in statements {
        sqlx::raw_sql(&statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
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
