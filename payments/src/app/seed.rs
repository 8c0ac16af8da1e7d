//! `payments seed [--demo]`: the bundled catalog, and the demo offices and keys. Running it
//! twice changes nothing.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::auth::{self, Role};
use super::fees::{self, audit::CLI_ACTOR, model::CatalogCounts};
use crate::config::{Config, Profile};
use crate::db;
use crate::db::seed::DemoOffice;

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
#[tracing::instrument(skip_all)]
pub async fn catalog(conn: &mut PgConnection) -> anyhow::Result<SeedReport> {
    let mut sectors = 0;
    for record in csv::Reader::from_reader(SECTORS_CSV.as_bytes()).deserialize::<SectorRecord>() {
        let record = record?;
        let sector = db::seed::Sector {
            code: &record.code,
            number: record.number,
            name_km: &record.name_km,
            name_en: &record.name_en,
        };
        db::seed::upsert_sector(conn, sector).await?;
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

/// The demo people's password (development only; public in this repository).
pub const DEMO_PASSWORD: &str = "owso-demo-pass";

/// Demo people who log in to the console with [`DEMO_PASSWORD`], no password change asked.
const DEMO_PEOPLE: [(&str, &str, Role, &[&str]); 7] = [
    (
        "cashier.0320",
        "Sok Dara (cashier 0320)",
        Role::Cashier,
        &["0320"],
    ),
    (
        "cashier2.0320",
        "Chan Sophea (cashier 0320)",
        Role::Cashier,
        &["0320"],
    ),
    (
        "supervisor.0320",
        "Keo Vanna (supervisor 0320)",
        Role::Supervisor,
        &["0320"],
    ),
    (
        "cashier.1201",
        "Lim Bopha (cashier 1201)",
        Role::Cashier,
        &["1201"],
    ),
    ("auditor", "Meas Rithy (auditor)", Role::Auditor, &[]),
    (
        "auditor.1201",
        "Chea Sophal (auditor 1201)",
        Role::Auditor,
        &["1201"],
    ),
    ("admin", "Ouk Dara (administrator)", Role::Admin, &[]),
];

/// Adds the demo offices (with sandbox Bakong accounts) and the demo keys; returns what to print.
#[tracing::instrument(skip_all)]
pub async fn demo(conn: &mut PgConnection) -> anyhow::Result<serde_json::Value> {
    for office in &DEMO_OFFICES {
        db::seed::upsert_demo_office(conn, office).await?;
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

/// Gives the demo offices their Bakong and bank accounts (after [`demo`]). Apart from `demo`
/// for the reason `demo_people` is: older schemas, which some tests seed the demo keys into,
/// have no `office_accounts`.
#[tracing::instrument(skip_all)]
pub async fn demo_accounts(conn: &mut PgConnection) -> anyhow::Result<()> {
    for office in &DEMO_OFFICES {
        db::seed::upsert_demo_office_accounts(conn, office).await?;
    }
    Ok(())
}

/// Adds the demo people (after [`demo`], whose offices they work at); returns what to print.
/// Apart from `demo` because it needs the staff tables, which older schemas (that some tests
/// seed the demo keys into) do not have.
#[tracing::instrument(skip_all)]
pub async fn demo_people(conn: &mut PgConnection) -> anyhow::Result<serde_json::Value> {
    let mut people = Vec::new();
    for (username, name, role, offices) in DEMO_PEOPLE {
        let offices: Vec<String> = offices.iter().map(|code| (*code).to_owned()).collect();
        if !db::staff::user_exists(&mut *conn, username).await? {
            super::staff::create_user(conn, username, name, role, &offices, Some(DEMO_PASSWORD))
                .await
                .map_err(|error| anyhow::anyhow!("demo person {username}: {error}"))?;
            db::staff::mark_password_chosen(&mut *conn, username).await?;
        }
        people.push(json!({ "username": username, "password": DEMO_PASSWORD, "role": role, "office_codes": offices }));
    }
    Ok(serde_json::Value::Array(people))
}

/// The database half of the production profile: a demo key (`opk_demo_*`, public in this
/// repository) that is still active means anyone can act with its role. Checked after
/// connecting; one line naming the problem, or `None` (always in development).
#[tracing::instrument(skip_all)]
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
    let demo = db::keys::first_active_name(pool, &hashes).await?;
    if let Some(name) = demo {
        return Ok(Some(format!(
            "refusing to start with OWSO_ENV=production: the database holds an active demo API key (opk_demo_*, {name:?}); revoke it with `payments keys revoke ID` (see `payments keys list`)"
        )));
    }
    // A demo person whose password is still the public demo one can log in to the console.
    let usernames: Vec<String> = DEMO_PEOPLE
        .iter()
        .map(|(username, ..)| (*username).to_owned())
        .collect();
    for (username, hash) in db::staff::enabled_hashes(pool, &usernames).await? {
        if super::staff::verify_password(DEMO_PASSWORD, &hash) {
            return Ok(Some(format!(
                "refusing to start with OWSO_ENV=production: the demo person {username:?} still has the public demo password; run `payments users disable {username}`"
            )));
        }
    }
    Ok(None)
}

/// `payments seed --demo` in production: demo keys are public, so the seed refuses.
pub fn demo_refusal(config: &Config) -> Option<String> {
    (config.profile == Profile::Production).then(|| {
        "refusing `payments seed --demo` with OWSO_ENV=production: demo keys are public; set OWSO_ENV=development on a development database".to_owned()
    })
}
