//! The operator commands that reach the database, one function per command group. A module
//! of the `payments` binary, not of the library.

use std::process::ExitCode;

use anyhow::Context;
use payments::app::auth::{self, Role};
use payments::app::books::verify;
use payments::app::secrets::Keyring;
use payments::http::ledger::views::VerifyView;
use payments::{config::Config, db};
use secrecy::SecretString;

use crate::{
    AccountsCommand, CatalogCommand, DbCommand, KeysCommand, LedgerCommand, SecretsCommand,
    UsersCommand,
};

/// `DATABASE_URL` alone: the commands that only read or write rows need nothing else.
fn database_url() -> anyhow::Result<SecretString> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .map(SecretString::from)
        .context("DATABASE_URL is required")
}

async fn pool() -> anyhow::Result<sqlx::PgPool> {
    let mut config = Config::for_tests("");
    config.database_url = database_url()?;
    config.db_max_connections = 2;
    config.db_worker_connections = 0;
    db::connect(&config).await
}

/// `payments migrate`: applies pending migrations as the owner role.
pub(crate) async fn migrate() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let keyring = Keyring::from_config(&config)?;
    let pool = db::connect_migrator(&config).await?;
    db::migrate(&pool, &keyring).await?;
    eprintln!("migrations applied");
    Ok(ExitCode::SUCCESS)
}

/// `payments secrets reseal`: exits 1 when some stored secret could not be read.
pub(crate) async fn secrets(command: SecretsCommand) -> anyhow::Result<ExitCode> {
    match command {
        SecretsCommand::Reseal => {
            let config = Config::from_env()?;
            let keyring = Keyring::from_config(&config)?;
            let pool = pool().await?;
            let report = payments::app::secrets::reseal_all(&pool, &keyring).await?;
            println!("{}", serde_json::to_string(&report)?);
            if report.unreadable > 0 {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `payments db grant-service-role`: run as the owner role.
pub(crate) async fn database(command: DbCommand) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::GrantServiceRole { role } => {
            let config = Config::from_env()?;
            let pool = db::connect_migrator(&config).await?;
            db::grant_service_role(&pool, &role).await?;
            eprintln!("granted the service's rights to {role}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `payments seed [--demo]`: migrates, then writes the catalog (and the demo data) in one
/// transaction; the demo is refused where the configuration says production.
pub(crate) async fn seed(demo: bool) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    if demo {
        if let Some(refusal) = payments::app::seed::demo_refusal(&config) {
            eprintln!("error: {refusal}");
            return Ok(ExitCode::from(1));
        }
    }
    let keyring = Keyring::from_config(&config)?;
    let pool = db::connect_migrator(&config).await?;
    db::migrate(&pool, &keyring).await?;
    let mut tx = pool.begin().await?;
    let report = payments::app::seed::catalog(&mut tx).await?;
    let demo_output = if demo {
        let mut output = payments::app::seed::demo(&mut tx).await?;
        payments::app::seed::demo_accounts(&mut tx).await?;
        let people = payments::app::seed::demo_people(&mut tx).await?;
        if let Some(object) = output.as_object_mut() {
            object.insert("people".to_owned(), people);
        }
        Some(output)
    } else {
        None
    };
    tx.commit().await?;
    eprintln!(
        "catalog: {} sectors, {} services, {} price points, {} unpublished services (schedule {}, {})",
        report.sectors,
        report.services,
        report.counts.price_points,
        report.counts.unpublished_services,
        report.schedule_version,
        report.outcome
    );
    if let Some(output) = demo_output {
        println!("{}", serde_json::to_string_pretty(&output)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `payments ledger verify`: exits 1 when the ledger does not verify.
pub(crate) async fn ledger(command: LedgerCommand) -> anyhow::Result<ExitCode> {
    match command {
        LedgerCommand::Verify => {
            let config = Config::from_env()?;
            let trusted = verify::trusted_keys(&config)?;
            let pool = pool().await?;
            let report = verify::verify_ledger(&pool, &trusted)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let ok = report.ok;
            // The same JSON as `GET /v1/ledger/verify`.
            println!("{}", serde_json::to_string(&VerifyView::from(report))?);
            if !ok {
                return Ok(ExitCode::from(1));
            }
        }
        LedgerCommand::CatchUp => catch_up().await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// How long `ledger catch-up` waits, all told, for transactions of the cluster that hold a
/// day's roll-up back (a day is rolled up only once every transaction that could still add to
/// it has finished).
const CATCH_UP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(600);

/// `payments ledger catch-up`: the sealer's and the roll-up's own rounds
/// (`workers::sealer::round`, `workers::rollup::round`), called in a loop until both have
/// nothing left, so that a database whose history was written outside the service (the
/// `make demo-data` generator) gets its hash chain, daily balances and report roll-ups
/// exactly as the running service would have made them. Prints one JSON line of counts.
async fn catch_up() -> anyhow::Result<()> {
    use payments::workers::{rollup, sealer};
    let config = Config::from_env()?;
    let key = payments::app::books::digests::signing_key(&config)?;
    let pool = pool().await?;
    let started = std::time::Instant::now();
    let (mut sealed, mut days, mut report_days, mut rounds) = (0_usize, 0_i64, 0_i64, 0_u64);
    let mut idle_since: Option<std::time::Instant> = None;
    loop {
        rounds += 1;
        let sealed_now = sealer::round(&pool, key.as_ref()).await?;
        let days_now = rollup::round_counts(&pool).await?;
        sealed = sealed.saturating_add(sealed_now);
        days = days.saturating_add(days_now.ledger_days);
        report_days = report_days.saturating_add(days_now.report_days);
        if sealed_now > 0 || days_now.ledger_days > 0 || days_now.report_days > 0 {
            idle_since = None;
            continue;
        }
        // Both idle: done, unless a finished day still waits for running transactions.
        let mut conn = pool.acquire().await?;
        let pending = ledger::store::rollup_pending(&mut conn).await?
            || payments::db::reports::rollup_pending(&mut conn).await?;
        drop(conn);
        if !pending {
            break;
        }
        let since = *idle_since.get_or_insert_with(std::time::Instant::now);
        anyhow::ensure!(
            since.elapsed() < CATCH_UP_PATIENCE,
            "a finished day is still not rolled up after {} s: a long transaction of the cluster holds it back",
            CATCH_UP_PATIENCE.as_secs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    println!(
        "{}",
        serde_json::json!({
            "sealed": sealed,
            "days_rolled_up": days,
            "report_days_rolled_up": report_days,
            "rounds": rounds,
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}

/// `payments accounts add|list`: each account printed as one JSON line; a refused account
/// exits 1.
pub(crate) async fn accounts(command: AccountsCommand) -> anyhow::Result<ExitCode> {
    use payments::app::reconciliation::accounts::{self, AccountError};
    let pool = pool().await?;
    let mut conn = pool.acquire().await?;
    match command {
        AccountsCommand::List { office } => {
            for account in accounts::list(&mut conn, office.as_deref()).await? {
                println!("{}", serde_json::to_string(&account)?);
            }
        }
        AccountsCommand::Add {
            office,
            account_id,
            currency,
            kind,
            ledger_segment,
            channels,
        } => {
            let row = payments::db::reconciliation::AccountRow {
                account_id,
                currency,
                office_code: office,
                kind,
                ledger_segment,
                channels,
            };
            match accounts::add(&mut conn, row).await {
                Ok(added) => println!("{}", serde_json::to_string(&added)?),
                Err(AccountError::Database(error)) => return Err(error.into()),
                Err(error) => {
                    eprintln!("error: {error}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `payments keys list|revoke|create`: each key printed as one JSON line.
pub(crate) async fn keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::List => {
            let pool = pool().await?;
            let mut conn = pool.acquire().await?;
            for key in auth::list_keys(&mut conn).await? {
                println!("{}", serde_json::to_string(&key)?);
            }
        }
        KeysCommand::Revoke { id } => {
            let pool = pool().await?;
            let mut tx = pool.begin().await?;
            match auth::revoke_key(&mut tx, id).await? {
                Some(key) => {
                    // The audit trail's key management (issue 16), committed with the revoke.
                    payments::app::staff::record_cli(
                        &mut tx,
                        "key_revoked",
                        &id.to_string(),
                        serde_json::json!({"key_id": id}),
                    )
                    .await?;
                    tx.commit().await?;
                    println!("{}", serde_json::to_string(&key)?)
                }
                None => {
                    eprintln!("error: no API key has id {id}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        KeysCommand::Create {
            role,
            offices,
            name,
        } => return create_key(&role, &offices, name).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// `payments keys create`: a bad role is a usage error (2); an unknown office or a bad name
/// exits 1.
async fn create_key(
    role: &str,
    offices: &[String],
    name: Option<String>,
) -> anyhow::Result<ExitCode> {
    let Some(role) = Role::parse(role) else {
        eprintln!("error: --role must be one of admin, workflow, cashier, supervisor, auditor");
        return Ok(ExitCode::from(2));
    };
    let pool = pool().await?;
    let mut tx = pool.begin().await?;
    let name = name.unwrap_or_else(|| format!("{} key", role.as_str()));
    match auth::create_key(&mut tx, role, offices, &name, None).await {
        Ok(created) => {
            // The audit trail's key management (issue 16); never the secret.
            payments::app::staff::record_cli(
                &mut tx,
                "key_created",
                &created.id.to_string(),
                serde_json::json!({"key_id": created.id, "name": name, "role": role.as_str(), "offices": offices}),
            )
            .await?;
            tx.commit().await?;
            println!("{}", serde_json::to_string(&created)?)
        }
        Err(
            error @ (auth::KeyError::UnknownOffice(_)
            | auth::KeyError::NotScopable(_)
            | auth::KeyError::InvalidName),
        ) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(1));
        }
        Err(error) => return Err(error.into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `payments users create|list|disable|reset-password`: each person printed as one JSON line.
/// A bad role is a usage error (2); a refused value or an unknown username exits 1.
pub(crate) async fn users(command: UsersCommand) -> anyhow::Result<ExitCode> {
    use payments::app::{sessions, staff};
    match command {
        UsersCommand::Create {
            role,
            offices,
            name,
            username,
        } => {
            let Some(role) = Role::parse(&role).filter(|role| staff::PERSON_ROLES.contains(role))
            else {
                eprintln!("error: --role must be one of cashier, supervisor, auditor, admin");
                return Ok(ExitCode::from(2));
            };
            let pool = pool().await?;
            let mut tx = pool.begin().await?;
            match staff::create_user(&mut tx, &username, &name, role, &offices, None).await {
                Ok(created) => {
                    // The audit trail's user management (issue 16); never the password.
                    staff::record_cli(
                        &mut tx,
                        "user_created",
                        &username,
                        serde_json::json!({"name": name, "role": role.as_str(), "offices": offices}),
                    )
                    .await?;
                    tx.commit().await?;
                    println!("{}", serde_json::to_string(&created)?)
                }
                Err(error) => return refused(error),
            }
        }
        UsersCommand::List => {
            let pool = pool().await?;
            let mut conn = pool.acquire().await?;
            for user in db::staff::list_users(&mut conn).await? {
                println!("{}", serde_json::to_string(&user)?);
            }
        }
        UsersCommand::Disable { username } => {
            let pool = pool().await?;
            let mut tx = pool.begin().await?;
            match sessions::disable_user(&mut tx, &username).await {
                Ok(Some(ended)) => {
                    tx.commit().await?;
                    println!(
                        "{}",
                        serde_json::json!({"username": username, "disabled": true, "sessions_ended": ended})
                    );
                }
                Ok(None) => {
                    eprintln!("error: no person has the username {username}");
                    return Ok(ExitCode::from(1));
                }
                Err(error) => return refused(error),
            }
        }
        UsersCommand::ResetPassword { username } => {
            let pool = pool().await?;
            let mut tx = pool.begin().await?;
            match sessions::reset_password(&mut tx, &username).await {
                Ok(Some(password)) => {
                    tx.commit().await?;
                    println!(
                        "{}",
                        serde_json::json!({"username": username, "one_time_password": password, "must_change_password": true})
                    );
                }
                Ok(None) => {
                    eprintln!("error: no person has the username {username}");
                    return Ok(ExitCode::from(1));
                }
                Err(error) => return refused(error),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A refusal of a use case as the commands print it: one line, exit 1. Faults stay errors.
fn refused(error: payments::app::error::AppError) -> anyhow::Result<ExitCode> {
    match error.refusal() {
        Some(refusal) => {
            eprintln!("error: {} ({})", refusal.detail, refusal.code);
            Ok(ExitCode::from(1))
        }
        None => Err(anyhow::anyhow!("{error}")),
    }
}

/// `payments catalog import|export`: changes are recorded in the audit log as `cli`.
pub(crate) async fn catalog(command: CatalogCommand) -> anyhow::Result<ExitCode> {
    use payments::app::fees::{admin, audit::CLI_ACTOR};
    let pool = pool().await?;
    match command {
        CatalogCommand::Import { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut tx = pool.begin().await?;
            match admin::import(&mut tx, &bytes, CLI_ACTOR).await {
                Ok((_, report)) => {
                    tx.commit().await?;
                    println!("{}", serde_json::to_string_pretty(&report)?);
                }
                Err(error) => {
                    let Some(refusal) = error.refusal() else {
                        return Err(error.into());
                    };
                    eprintln!("error: {} ({})", refusal.detail, refusal.code);
                    let errors = refusal
                        .details
                        .get("errors")
                        .and_then(|value| value.as_array());
                    for found in errors.into_iter().flatten() {
                        eprintln!(
                            "line {}: {}: {}: {}",
                            found["line"],
                            found["column"].as_str().unwrap_or("-"),
                            found["code"].as_str().unwrap_or("-"),
                            found["message"].as_str().unwrap_or("-"),
                        );
                    }
                    return Ok(ExitCode::from(1));
                }
            }
        }
        CatalogCommand::Export { file, version } => {
            let mut conn = pool.acquire().await?;
            let (version, text) = admin::export(&mut conn, version.as_deref())
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            if file.as_os_str() == "-" {
                print!("{text}");
            } else {
                std::fs::write(&file, text)
                    .with_context(|| format!("cannot write {}", file.display()))?;
                eprintln!("exported schedule version {version} to {}", file.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
