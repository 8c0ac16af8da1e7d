//! `payments seed [--demo]`: the bundled catalog, and the demo offices and keys. Running it
//! twice changes nothing.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::auth::{self, Role};
use super::fees::{self, audit::CLI_ACTOR, model::CatalogCounts};
use crate::config::{Config, Profile};

const SECTORS_CSV: &str = include_str!("../../data/sectors.csv");

#[derive(Deserialize)]
struct SectorRecord {
    number: i32,
    code: String,
    name_km: String,
    name_en: String,
}

#[derive(Debug, Serialize)]
pub struct SeedReport {
    pub sectors: usize,
    pub services: usize,
    pub schedule_version: String,
    /// `created` on a fresh database, `unchanged` when the bundled version is already there.
    pub outcome: String,
    pub counts: CatalogCounts,
}

/// Loads the bundled sectors (upsert by code) and publishes the bundled fee schedule
/// (`payments/data/catalog.csv`) through the same path as `payments catalog import`.
pub async fn catalog(conn: &mut PgConnection) -> anyhow::Result<SeedReport> {
    let mut sectors = 0;
    for record in csv::Reader::from_reader(SECTORS_CSV.as_bytes()).deserialize::<SectorRecord>() {
        let record = record?;
        sqlx::query(
            "insert into sectors (code, number, name_km, name_en) values ($1, $2, $3, $4)
             on conflict (code) do update set number = excluded.number, name_km = excluded.name_km, name_en = excluded.name_en",
        )
        .bind(&record.code)
        .bind(record.number)
        .bind(&record.name_km)
        .bind(&record.name_en)
        .execute(&mut *conn)
        .await?;
        sectors += 1;
    }
    let (_, report) = fees::admin::import(conn, fees::BUNDLED_CATALOG_CSV.as_bytes(), CLI_ACTOR)
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "bundled catalog: {error} {:?}",
                error.refusal().map(|refusal| &refusal.details)
            )
        })?;
    Ok(SeedReport {
        sectors,
        services: report.counts.services,
        schedule_version: report.schedule_version,
        outcome: report.outcome,
        counts: report.counts,
    })
}

struct DemoOffice {
    code: &'static str,
    name_km: &'static str,
    name_en: &'static str,
    province_group: &'static str,
    bakong_account_id: &'static str,
    merchant_name: &'static str,
    merchant_name_km: &'static str,
    merchant_city: &'static str,
}

const DEMO_OFFICES: [DemoOffice; 2] = [
    DemoOffice {
        code: "0320",
        name_km: "ការិយាល័យច្រកចេញចូលតែមួយ ស្រុក (ខេត្តកំពង់ចាម) ០៣២០",
        name_en: "OWSO district 0320 (Kampong Cham)",
        province_group: "other",
        bakong_account_id: "owso_0320@demo",
        merchant_name: "OWSO 0320",
        merchant_name_km: "ច្រកចេញចូលតែមួយ ០៣២០",
        merchant_city: "Kampong Cham",
    },
    DemoOffice {
        code: "1201",
        name_km: "ការិយាល័យច្រកចេញចូលតែមួយ ខណ្ឌ (រាជធានីភ្នំពេញ) ១២០១",
        name_en: "OWSO khan 1201 (Phnom Penh)",
        province_group: "major",
        bakong_account_id: "owso_1201@demo",
        merchant_name: "OWSO 1201",
        merchant_name_km: "ច្រកចេញចូលតែមួយ ១២០១",
        merchant_city: "Phnom Penh",
    },
];

/// Demo keys are fixed strings so that a second seed changes nothing and prints the same keys.
/// They exist only where `--demo` was run; never run it on a production database.
const DEMO_KEYS: [(Role, &[&str], &str); 7] = [
    (Role::Admin, &[], "opk_demo_admin"),
    (Role::Workflow, &[], "opk_demo_workflow"),
    (Role::Cashier, &["0320"], "opk_demo_cashier_0320"),
    (Role::Cashier, &["1201"], "opk_demo_cashier_1201"),
    (Role::Supervisor, &["0320"], "opk_demo_supervisor_0320"),
    (Role::Auditor, &[], "opk_demo_auditor"),
    (Role::Auditor, &["1201"], "opk_demo_auditor_1201"),
];

/// Adds the demo offices (with sandbox Bakong accounts) and the demo keys; returns what to print.
pub async fn demo(conn: &mut PgConnection) -> anyhow::Result<serde_json::Value> {
    for office in &DEMO_OFFICES {
        // language=PostgreSQL
        sqlx::query(
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
        )
        .bind(office.code)
        .bind(office.name_km)
        .bind(office.name_en)
        .bind(office.province_group)
        .bind(office.bakong_account_id)
        .bind(office.merchant_name)
        .bind(office.merchant_name_km)
        .bind(office.merchant_city)
        .execute(&mut *conn)
        .await?;
    }
    let mut keys = Vec::new();
    for (role, offices, secret) in DEMO_KEYS {
        let offices: Vec<String> = offices.iter().map(|code| (*code).to_owned()).collect();
        let name = format!(
            "demo {}{}",
            role.as_str(),
            offices
                .first()
                .map(|code| format!(" {code}"))
                .unwrap_or_default()
        );
        let created = auth::create_key(conn, role, &offices, &name, Some(secret)).await?;
        keys.push(json!({ "role": created.role, "key": created.key, "office_codes": created.office_codes, "id": created.id }));
    }
    let offices: Vec<_> = DEMO_OFFICES
        .iter()
        .map(|office| json!({ "code": office.code, "name_en": office.name_en, "name_km": office.name_km }))
        .collect();
    Ok(json!({ "offices": offices, "keys": keys }))
}

/// The database half of the production profile: a demo key (`opk_demo_*`, public in this
/// repository) that is still active means anyone can act with its role. Checked after
/// connecting; one line naming the problem, or `None` (always in development).
pub async fn production_refusal_in_database(
    config: &Config,
    pool: &PgPool,
) -> anyhow::Result<Option<String>> {
    if config.profile != Profile::Production {
        return Ok(None);
    }
    let hashes: Vec<Vec<u8>> = DEMO_KEYS
        .iter()
        .map(|(_, _, secret)| auth::hash_key(secret))
        .collect();
    let demo: Option<String> = sqlx::query_scalar(
        "select name from api_keys where key_hash = any($1) and revoked_at is null order by name limit 1",
    )
    .bind(&hashes)
    .fetch_optional(pool)
    .await?;
    Ok(demo.map(|name| {
        format!(
            "refusing to start with OWSO_ENV=production: the database holds an active demo API key (opk_demo_*, {name:?}); revoke it with `payments keys revoke ID` (see `payments keys list`)"
        )
    }))
}

/// `payments seed --demo` in production: demo keys are public, so the seed refuses.
pub fn demo_refusal(config: &Config) -> Option<String> {
    (config.profile == Profile::Production).then(|| {
        "refusing `payments seed --demo` with OWSO_ENV=production: demo keys are public; set OWSO_ENV=development on a development database".to_owned()
    })
}
