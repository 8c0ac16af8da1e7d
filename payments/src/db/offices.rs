//! Offices, as the other nouns look them up.

use sqlx::PgConnection;

/// True when an office has this code.
pub async fn exists(conn: &mut PgConnection, code: &str) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        r#"select exists (select 1 from offices where code = $1) as "exists!""#,
        code
    )
    .fetch_one(conn)
    .await
}
