//! The rows `payments seed` writes: the bundled sectors and the demo offices. Each statement
//! converges an existing row and changes nothing on a second run.

use sqlx::PgConnection;

/// One sector of `payments/data/sectors.csv`.
pub struct Sector<'a> {
    pub code: &'a str,
    pub number: i32,
    pub name_km: &'a str,
    pub name_en: &'a str,
}

/// Inserts the sector, or brings an existing one (by code) to these values.
pub async fn upsert_sector(conn: &mut PgConnection, sector: Sector<'_>) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into sectors (code, number, name_km, name_en) values ($1, $2, $3, $4)
         on conflict (code) do update set number = excluded.number, name_km = excluded.name_km, name_en = excluded.name_en",
        sector.code,
        sector.number,
        sector.name_km,
        sector.name_en,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A demo office with its sandbox Bakong account.
pub struct DemoOffice {
    pub code: &'static str,
    pub name_km: &'static str,
    pub name_en: &'static str,
    pub province_group: &'static str,
    pub bakong_account_id: &'static str,
    pub merchant_name: &'static str,
    pub merchant_name_km: &'static str,
    pub merchant_city: &'static str,
}

/// Inserts the office, or brings an existing one (by code) to these values.
pub async fn upsert_demo_office(
    conn: &mut PgConnection,
    office: &DemoOffice,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into offices (code, name_km, name_en, province_group, bakong_account_id, bakong_merchant_id,
             bakong_acquiring_bank, merchant_name, merchant_name_km, merchant_city)
         values ($1, $2, $3, $4, $5, 'OWSO' || $1, 'Bakong sandbox', $6, $7, $8)
         -- A database seeded by an older release converges to today's demo set-up;
         -- a second run changes nothing (the where clause skips identical rows).
         on conflict (code) do update set name_km = excluded.name_km, name_en = excluded.name_en,
             province_group = excluded.province_group, bakong_account_id = excluded.bakong_account_id,
             bakong_merchant_id = excluded.bakong_merchant_id,
             bakong_acquiring_bank = excluded.bakong_acquiring_bank, merchant_name = excluded.merchant_name,
             merchant_name_km = excluded.merchant_name_km, merchant_city = excluded.merchant_city
         where (offices.name_km, offices.name_en, offices.province_group, offices.bakong_account_id,
                offices.bakong_merchant_id, offices.bakong_acquiring_bank, offices.merchant_name,
                offices.merchant_name_km, offices.merchant_city)
             is distinct from (excluded.name_km, excluded.name_en, excluded.province_group,
                excluded.bakong_account_id, excluded.bakong_merchant_id, excluded.bakong_acquiring_bank,
                excluded.merchant_name, excluded.merchant_name_km, excluded.merchant_city)",
        office.code,
        office.name_km,
        office.name_en,
        office.province_group,
        office.bakong_account_id,
        office.merchant_name,
        office.merchant_name_km,
        office.merchant_city,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives a demo office its accounts (once): the Bakong account for KHQR in both currencies,
/// and a bank account per currency where sandbox payments settle and cash is deposited.
pub async fn upsert_demo_office_accounts(
    conn: &mut PgConnection,
    office: &DemoOffice,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "with accounts (account_id, currency, kind, ledger_segment, channels) as (
             values ($2::text, 'KHR', 'bakong', 'bakong', array['khqr']),
                    ($2::text, 'USD', 'bakong', 'bakong', array['khqr']),
                    ('acleda-' || $1 || '-khr', 'KHR', 'bank', 'acleda-' || $1 || '-khr', array['sandbox', 'cash']),
                    ('acleda-' || $1 || '-usd', 'USD', 'bank', 'acleda-' || $1 || '-usd', array['sandbox', 'cash'])
         ), inserted as (
             insert into office_accounts (account_id, currency, office_code, kind, ledger_segment, channels)
             select account_id, currency, $1, kind, ledger_segment, channels from accounts
             on conflict (account_id, currency) do nothing
         )
         insert into office_account_channels (office_code, currency, channel, account_id)
         select $1, currency, unnest(channels), account_id from accounts
         on conflict (office_code, currency, channel) do nothing",
        office.code,
        office.bakong_account_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}
