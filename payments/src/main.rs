//! The `payments` command: the service and its operator tools.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use payments::app::auth::{self, Role};
use payments::app::books::verify;
use payments::app::secrets::Keyring;
use payments::http::ledger::views::VerifyView;
use payments::{config::Config, db, telemetry};
use secrecy::SecretString;

#[derive(Parser)]
#[command(
    name = "payments",
    version,
    about = "OWSO Pay: fee collection for One Window Service Offices"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service and its background workers.
    Serve,
    /// Apply database migrations.
    Migrate,
    /// Load the bundled fee catalog; --demo adds demo offices and prints demo keys.
    Seed {
        #[arg(long)]
        demo: bool,
    },
    /// Ledger tools: verify the hash chain.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The fee catalog: import a schedule version from CSV, or export one to CSV.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// KHQR tools: encode a request read as JSON on stdin, or decode and verify a string.
    Khqr {
        #[command(subcommand)]
        command: KhqrCommand,
    },
    /// Stored secrets (webhook secrets, pay tokens): seal again after a SECRETS_KEY rotation.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Database roles.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Seal every stored secret not sealed with the current SECRETS_KEY (plaintext webhook
    /// secrets, values sealed with a key in SECRETS_KEY_OLD); print counts as JSON.
    Reseal,
}

#[derive(Subcommand)]
enum DbCommand {
    /// As the owner role (MIGRATION_DATABASE_URL, else DATABASE_URL), grant ROLE what the
    /// service needs and nothing more, now and for tables later migrations create.
    GrantServiceRole { role: String },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Publish the schedule version of a catalog file (all or nothing; every bad row is listed).
    Import {
        /// The CSV file (UTF-8).
        file: std::path::PathBuf,
    },
    /// Write a schedule version (default: the one in force) as a catalog file; `-` is stdout.
    Export {
        file: std::path::PathBuf,
        #[arg(long)]
        version: Option<String>,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Recompute the hash chain and check the signed digests; print the report as JSON;
    /// exit 0 when the ledger verifies, 1 when it does not.
    Verify,
}

#[derive(Subcommand)]
enum KhqrCommand {
    /// Read one JSON object (the SDK's input shape) on stdin; print {"qr","md5"}.
    Encode {
        /// Creation time in Unix milliseconds (default: now).
        #[arg(long)]
        now: Option<i64>,
    },
    /// Decode and verify a KHQR string; exit 0 valid, 1 invalid.
    Decode {
        qr: String,
        /// The time to verify expiry against, in Unix milliseconds (default: now).
        #[arg(long)]
        now: Option<i64>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it once, as JSON.
    Create {
        #[arg(long)]
        role: String,
        /// Office code to scope the key to (repeatable).
        #[arg(long = "office")]
        offices: Vec<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Print every key as JSON lines: id, role, offices, name, created, revoked (never the
    /// secret or its hash).
    List,
    /// Revoke a key by id; every instance refuses it from the next request on.
    Revoke { id: uuid::Uuid },
}

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

/// Exit code 2 for usage errors, as the KHQR tools' contract says (clap's own default is 2 too).
const EXIT_USAGE: u8 = 2;

fn khqr(command: KhqrCommand) -> ExitCode {
    use bank_adapters::khqr::cli;
    let output = match command {
        KhqrCommand::Encode { now } => match read_stdin() {
            Ok(input) => cli::encode_command(&input, now.unwrap_or_else(now_ms)),
            Err(error) => {
                eprintln!("error: cannot read stdin: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        KhqrCommand::Decode { qr, now } => cli::decode_command(&qr, now.unwrap_or_else(now_ms)),
    };
    println!("{}", output.stdout);
    ExitCode::from(u8::try_from(output.exit_code).unwrap_or(EXIT_USAGE))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The KHQR tools are pure: no database, no logs on their stdout.
    if let Command::Khqr { command } = cli.command {
        return khqr(command);
    }
    telemetry::init_tracing();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve => {
            payments::serve(Config::from_env()?).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => migrate().await,
        Command::Secrets { command } => secrets(command).await,
        Command::Db { command } => database(command).await,
        Command::Seed { demo } => seed(demo).await,
        Command::Catalog { command } => catalog(command).await,
        Command::Ledger { command } => ledger(command).await,
        Command::Khqr { command } => Ok(khqr(command)),
        Command::Keys { command } => keys(command).await,
    }
}

/// `payments migrate`: applies pending migrations as the owner role.
async fn migrate() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let keyring = Keyring::from_config(&config)?;
    let pool = db::connect_migrator(&config).await?;
    db::migrate(&pool, &keyring).await?;
    eprintln!("migrations applied");
    Ok(ExitCode::SUCCESS)
}

/// `payments secrets reseal`: exits 1 when some stored secret could not be read.
async fn secrets(command: SecretsCommand) -> anyhow::Result<ExitCode> {
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
async fn database(command: DbCommand) -> anyhow::Result<ExitCode> {
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
async fn seed(demo: bool) -> anyhow::Result<ExitCode> {
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
        Some(payments::app::seed::demo(&mut tx).await?)
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
async fn ledger(command: LedgerCommand) -> anyhow::Result<ExitCode> {
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
    }
    Ok(ExitCode::SUCCESS)
}

/// `payments keys list|revoke|create`: each key printed as one JSON line.
async fn keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
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
            let mut conn = pool.acquire().await?;
            match auth::revoke_key(&mut conn, id).await? {
                Some(key) => println!("{}", serde_json::to_string(&key)?),
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
    let mut conn = pool.acquire().await?;
    let name = name.unwrap_or_else(|| format!("{} key", role.as_str()));
    match auth::create_key(&mut conn, role, offices, &name, None).await {
        Ok(created) => println!("{}", serde_json::to_string(&created)?),
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

/// `payments catalog import|export`: changes are recorded in the audit log as `cli`.
async fn catalog(command: CatalogCommand) -> anyhow::Result<ExitCode> {
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

fn read_stdin() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    Ok(input)
}
