//! The sectors of the public catalog.

use std::collections::BTreeSet;

use sqlx::PgConnection;

/// A sector as stored; its code names the revenue accounts of its services.
#[derive(Clone, Debug)]
pub struct Sector {
    pub code: String,
    pub number: i32,
    pub name_km: String,
    pub name_en: String,
}

/// Every sector, in the order of their numbers.
pub async fn sectors(conn: &mut PgConnection) -> Result<Vec<Sector>, sqlx::Error> {
    sqlx::query_as!(
        Sector,
        // language=PostgreSQL
        "select code, number, name_km, name_en from sectors order by number"
    )
    .fetch_all(&mut *conn)
    .await
}

pub async fn sector_exists(conn: &mut PgConnection, code: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        // language=PostgreSQL
        r#"select exists(select 1 from sectors where code = $1) as "exists!""#,
        code,
    )
    .fetch_one(&mut *conn)
    .await
}

pub async fn sector_codes(conn: &mut PgConnection) -> Result<BTreeSet<String>, sqlx::Error> {
    let codes = sqlx::query_scalar!(
        // language=PostgreSQL
        "select code from sectors"
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(codes.into_iter().collect())
}
