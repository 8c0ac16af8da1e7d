//! The `payments` command: the service and its operator tools.

use std::io::Read as _;
use std::process::ExitCode;

mod commands;

use clap::{Parser, Subcommand};
use payments::{config::Config, telemetry};

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
    /// People who log in to the console (cashiers, supervisors, auditors, admins).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
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
    /// An office's accounts at Bakong and banks, where statements come from (issue 15).
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
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
    /// Seal every finished entry into the hash chain and roll up every finished day (the
    /// workers' own rounds, in a loop until both are idle); print one JSON line of counts.
    /// For a database filled with history outside the service (`make demo-data`).
    CatchUp,
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
enum UsersCommand {
    /// Create a person's account; print it with a one-time password (shown once) as JSON.
    Create {
        #[arg(long)]
        role: String,
        /// Office code the person works at (repeatable).
        #[arg(long = "office")]
        offices: Vec<String>,
        #[arg(long)]
        name: String,
        #[arg(long)]
        username: String,
    },
    /// Print every person as JSON lines (never a password hash).
    List,
    /// Disable a person: no more logins, and their sessions end now.
    Disable { username: String },
    /// A new one-time password (to change at the next login); unlocks the account and ends
    /// the person's sessions.
    ResetPassword { username: String },
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

#[derive(Subcommand)]
enum AccountsCommand {
    /// Register one currency of an office's account and the channels whose money lands there;
    /// prints it as JSON. Exits 1 when refused (unknown office, a bad value, a channel already
    /// mapped to another account of the office and currency).
    Add {
        #[arg(long)]
        office: String,
        /// How statements name it: a Bakong account id or a bank account number.
        #[arg(long = "account-id")]
        account_id: String,
        /// KHR or USD.
        #[arg(long)]
        currency: String,
        /// `bakong` or `bank`.
        #[arg(long)]
        kind: String,
        /// Names the ledger account `{office}:bank:{segment}:{currency}` (a-z, 0-9, _ and -).
        #[arg(long = "ledger-segment")]
        ledger_segment: String,
        /// A channel whose money lands here: khqr, sandbox, a gateway, cash (repeatable).
        #[arg(long = "channel", required = true)]
        channels: Vec<String>,
    },
    /// Print every account (or one office's) as JSON lines.
    List {
        #[arg(long)]
        office: Option<String>,
    },
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
        Command::Migrate => commands::migrate().await,
        Command::Secrets { command } => commands::secrets(command).await,
        Command::Db { command } => commands::database(command).await,
        Command::Seed { demo } => commands::seed(demo).await,
        Command::Catalog { command } => commands::catalog(command).await,
        Command::Ledger { command } => commands::ledger(command).await,
        Command::Khqr { command } => Ok(khqr(command)),
        Command::Keys { command } => commands::keys(command).await,
        Command::Accounts { command } => commands::accounts(command).await,
        Command::Users { command } => commands::users(command).await,
    }
}

/// Standard input, whole.
fn read_stdin() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    Ok(input)
}
