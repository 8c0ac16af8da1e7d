//! What the database says about its own schema and settings: applied migrations, a column
//! from before a migration, the server's autovacuum setting.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Lifts the service's statement and idle-in-transaction timeouts on this connection, for
/// statements (an index build) that may take longer.
pub async fn lift_timeouts(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    // Runtime query: two settings in one round trip; the macros take one statement.
    // language=PostgreSQL
    sqlx::raw_sql("set statement_timeout = 0; set idle_in_transaction_session_timeout = 0")
        .execute(conn)
        .await?;
    Ok(())
}

/// True while `payment_intents` still has its plaintext `pay_token` column.
pub async fn has_legacy_pay_token_column(
    executor: impl PgExecutor<'_>,
) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        r#"select exists (select 1 from information_schema.columns
                          where table_schema = current_schema() and table_name = 'payment_intents'
                            and column_name = 'pay_token') as "exists!""#
    )
    .fetch_one(executor)
    .await
}

/// Adds the sealed column ahead of the migration that adds it (with `if not exists`).
pub async fn add_pay_token_sealed_column(executor: impl PgExecutor<'_>) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!("alter table payment_intents add column if not exists pay_token_sealed text")
        .execute(executor)
        .await?;
    Ok(())
}

/// Intents whose plaintext pay token is not sealed yet: `(id, pay_token)`.
pub async fn unsealed_legacy_pay_tokens(
    executor: impl PgExecutor<'_>,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    // Runtime query: `pay_token` exists only on databases not yet migrated past its drop,
    // never on the schema the macros check against.
    // language=PostgreSQL
    sqlx::query_as("select id, pay_token from payment_intents where pay_token_sealed is null")
        .fetch_all(executor)
        .await
}

/// Stores the sealed form of an intent's legacy pay token, unless one is stored already.
pub async fn store_sealed_pay_token(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    sealed: &str,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update payment_intents set pay_token_sealed = $2 where id = $1 and pay_token_sealed is null",
        id,
        sealed
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// True when sqlx's migration table exists (a database never migrated has none).
pub async fn has_migrations_table(executor: impl PgExecutor<'_>) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let table = sqlx::query_scalar!("select to_regclass('_sqlx_migrations')::text")
        .fetch_one(executor)
        .await?;
    Ok(table.is_some())
}

/// The versions of the migrations applied successfully.
pub async fn applied_migrations(executor: impl PgExecutor<'_>) -> Result<Vec<i64>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!("select version from _sqlx_migrations where success")
        .fetch_all(executor)
        .await
}

/// How many migrations are applied successfully.
pub async fn applied_migration_count(executor: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(r#"select count(*) as "count!" from _sqlx_migrations where success"#)
        .fetch_one(executor)
        .await
}

/// The server's `autovacuum` setting (`on` or `off`).
pub async fn autovacuum(executor: impl PgExecutor<'_>) -> Result<String, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(r#"select current_setting('autovacuum') as "setting!""#)
        .fetch_one(executor)
        .await
}
