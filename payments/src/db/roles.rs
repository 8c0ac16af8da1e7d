//! The service's database role: what `payments db grant-service-role ROLE` grants it.

use sqlx::PgPool;

/// Tables the service appends to and never changes: the service role gets no UPDATE,
/// DELETE or TRUNCATE on them (their triggers refuse those too; a second wall).
pub const APPEND_ONLY_TABLES: [&str; 11] = [
    "ledger_entries",
    "ledger_postings",
    "ledger_seals",
    "ledger_digests",
    "ledger_closed_periods",
    "ledger_daily_balances",
    "ledger_monthly_balances",
    // The dashboard's revenue roll-ups (migration 0022), written once per finished day.
    "report_daily_revenue",
    "report_daily_payments",
    // Their monthly sums (migration 0026), written once per finished month.
    "report_monthly_revenue",
    "report_monthly_payments",
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
        // Runtime query: a role is an identifier, which PostgreSQL does not take as a bind
        // parameter; `service_role_grants` lets only a plain lower-case identifier through.
        sqlx::raw_sql(&statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
