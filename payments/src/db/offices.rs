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

/// An office with its province, for the citizens' list of offices.
pub struct OfficeInProvince {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
    pub province_code: String,
    pub province_km: String,
    pub province_en: String,
}

/// The offices that serve a province, by province then office code (offices without one, the
/// national suspense office, are nobody's office to visit).
pub async fn by_province(conn: &mut PgConnection) -> Result<Vec<OfficeInProvince>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        OfficeInProvince,
        r#"select o.code, o.name_km, o.name_en, p.code as province_code, p.name_km as province_km,
               p.name_en as province_en
           from offices o join provinces p on p.code = o.province_code
           order by p.code, o.code"#
    )
    .fetch_all(conn)
    .await
}

/// The account where an office's money of `channel` in `currency` lands (`sandbox`, `khqr`,
/// `cash`, ...), when the office has one; a bank told it books the payment to that account,
/// so its statement of the account lists it.
pub async fn channel_account(
    conn: &mut PgConnection,
    office_code: &str,
    currency: &str,
    channel: &str,
) -> Result<Option<String>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "select account_id from office_account_channels
         where office_code = $1 and currency = $2 and channel = $3",
        office_code,
        currency,
        channel,
    )
    .fetch_optional(conn)
    .await
}
