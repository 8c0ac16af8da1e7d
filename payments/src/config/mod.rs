//! One typed configuration, read from the environment at start-up (see `.env.example`).
//!
//! `env` reads one variable, `settings` the ones that take more than one parse, `profile`
//! holds the production checks and `testing` the configuration in-process tests use.

mod env;
mod profile;
mod settings;
mod testing;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use url::Url;

use env::{millis, millis_at_least, parse_bool, parse_u32, parse_u64, secs, var};
pub use profile::Profile;

/// Every HTTP request is cut off after this (an unanswered idempotency claim older than it is
/// abandoned, see app::idempotency).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the service reads from its environment. Loaded once; start-up fails on bad values.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: SecretString,
    pub listen_addr: SocketAddr,
    pub public_base_url: Url,
    pub sandbox_enabled: bool,
    pub sandbox_api_url: Url,
    pub sandbox_callback_secret: SecretString,
    /// Bakong Open API; KHQR attempts are offered only when it is configured (or in sandbox).
    pub bakong_api_url: Option<Url>,
    pub bakong_api_token: SecretString,
    /// How often the KHQR poller looks for attempts due a check.
    pub khqr_poll_interval: Duration,
    /// How long after a QR's expiry Bakong is still asked about it (bank clocks and late
    /// acknowledgements).
    pub khqr_grace: Duration,
    pub bank_timeout: Duration,
    pub quote_ttl: Duration,
    pub intent_ttl: Duration,
    pub attempt_ttl: Duration,
    pub db_max_connections: u32,
    pub db_acquire_timeout: Duration,
    pub workers_enabled: bool,
    pub webhook_timeout: Duration,
    pub webhook_poll_interval: Duration,
    pub webhook_allow_link_local: bool,
    /// Delays before each retry of a failed delivery; the last repeats.
    pub webhook_retry_schedule: Vec<Duration>,
    /// A delivery still failing this long after its event is dead-lettered.
    pub webhook_give_up_after: Duration,
    /// How long one instance holds a claimed delivery (longer than the request timeout).
    pub webhook_lease: Duration,
    /// Deliveries in flight to one endpoint from one instance.
    pub webhook_max_in_flight_per_endpoint: usize,
    pub expiry_sweep_interval: Duration,
    /// Base64 of the 32-byte Ed25519 seed that signs the ledger's daily digests.
    pub ledger_signing_key: Option<SecretString>,
    /// How often the sealer looks for finished entries to chain.
    pub ledger_seal_interval: Duration,
    /// How often finished days are rolled up into daily balances.
    pub ledger_rollup_interval: Duration,
    /// Most payment attempts one intent takes (`MAX_ATTEMPTS_PER_INTENT`).
    pub max_attempts_per_intent: i64,
    /// An inbox message still `received` this long after it arrived was left by a crash and
    /// is processed again by a worker.
    pub inbox_retry_after: Duration,
    /// How often the recovery worker looks for such messages and expired idempotency keys.
    pub recovery_interval: Duration,
    /// How long after a sandbox attempt is made the bank is first asked about it (the callback
    /// usually comes first); later checks back off from this.
    pub sandbox_status_after: Duration,
    /// How often the sandbox status worker looks for attempts due a check.
    pub sandbox_status_poll_interval: Duration,
    /// How long after a sandbox attempt's expiry the bank is still asked about it.
    pub sandbox_status_grace: Duration,
    /// `OWSO_ENV`: production (the default) refuses development settings at start.
    pub profile: Profile,
    /// `BANK_SIM_URL` as configured (or its default): a Bakong URL on the same origin is
    /// bank-sim, which production refuses.
    pub bank_sim_url: Url,
    /// Whether `SANDBOX_CALLBACK_SECRET` was set explicitly (production refuses the
    /// development default only when someone configured it).
    pub sandbox_callback_secret_set: bool,
    /// `LEDGER_PUBLIC_KEYS`: Ed25519 public keys whose digests verify trusts, beside the
    /// current signing key's own.
    pub ledger_public_keys: Vec<[u8; 32]>,
    /// `MIGRATION_DATABASE_URL`: the owner role that applies migrations (default: DATABASE_URL).
    pub migration_database_url: Option<SecretString>,
    /// `SECRETS_KEY`: base64 of the 32-byte key that encrypts stored secrets (webhook secrets,
    /// pay tokens). Unset in development: a fixed, public development key.
    pub secrets_key: Option<SecretString>,
    /// `SECRETS_KEY_OLD`: comma-separated retired keys, still accepted for decryption.
    pub secrets_keys_old: Vec<SecretString>,
    /// Where `/metrics` is served (never on the public listener); `None` when off.
    pub metrics_listen_addr: Option<SocketAddr>,
    /// Requests a minute one client address may make to the citizens' public routes (`/pay`,
    /// `/v1/public`); 0 turns the limit off.
    pub rate_limit_address_per_minute: u32,
    /// Requests a minute to the public routes naming one pay token (or attempt id).
    pub rate_limit_token_per_minute: u32,
    /// Take the client address from the last `X-Forwarded-For` entry (set only behind a proxy
    /// that appends it); otherwise the peer address.
    pub trust_x_forwarded_for: bool,
    /// A client must send a request head within this time (at most 30 s).
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// After SIGTERM/SIGINT: how long in-flight requests may take before the process exits.
    pub shutdown_drain: Duration,
    /// Of `db_max_connections`, the connections reserved for settlement, bank callbacks and
    /// the background workers; the HTTP routes get the rest.
    pub db_worker_connections: u32,
    /// `statement_timeout` of every service connection (zero: none).
    pub db_statement_timeout: Duration,
    /// `idle_in_transaction_session_timeout` of every service connection (zero: none).
    pub db_idle_in_transaction_timeout: Duration,
    /// The longest a CSV journal export may stream before it is cut off.
    pub export_max_duration: Duration,
    /// Requests a minute one client address may make to `/v1/callbacks/...` (banks send many
    /// from few addresses); 0 turns the limit off.
    pub rate_limit_callback_address_per_minute: u32,
    /// `STAFF_SESSION_IDLE_S`: a console session nobody used this long is over (a cashier who
    /// walked away from an unlocked screen).
    pub staff_session_idle: Duration,
    /// `STAFF_SESSION_MAX_S`: a console session is over this long after login however busy
    /// (one working day), so a stolen cookie does not live for ever.
    pub staff_session_max: Duration,
}

/// About 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then every 12 h.
pub const DEFAULT_RETRY_SCHEDULE_MS: &[u64] = &[
    5_000, 30_000, 120_000, 600_000, 3_600_000, 21_600_000, 43_200_000,
];

/// Attempts one intent takes by default: enough for a payer who switches channels or lets a
/// few QRs expire, few enough that one link cannot be used to flood the banks.
pub const DEFAULT_MAX_ATTEMPTS_PER_INTENT: i64 = 10;

/// bank-sim's Bakong token when none is configured (sandbox only).
pub const DEFAULT_SANDBOX_BAKONG_TOKEN: &str = bank_adapters::bakong::DEFAULT_SIM_TOKEN;

/// The sandbox bank's shared secret when none is configured; `bank-sim` has the same default so
/// that a bare start works. Production configuration never enables the sandbox.
pub const DEFAULT_SANDBOX_CALLBACK_SECRET: &str = bank_adapters::sandbox::DEFAULT_CALLBACK_SECRET;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Config> {
        let database_url = var("DATABASE_URL").context("DATABASE_URL is required")?;
        let http = settings::Http::read()?;
        let banks = settings::Banks::read()?;
        let db_max_connections = settings::db_max_connections()?;
        let (secrets_key, secrets_keys_old) = settings::secrets_keys()?;
        Ok(Config {
            database_url: SecretString::from(database_url),
            listen_addr: http.listen_addr,
            public_base_url: http.public_base_url,
            sandbox_enabled: banks.sandbox_enabled,
            sandbox_api_url: banks.sandbox_api_url,
            sandbox_callback_secret: banks.sandbox_callback_secret,
            bakong_api_url: banks.bakong_api_url,
            bakong_api_token: banks.bakong_api_token,
            khqr_poll_interval: millis("KHQR_POLL_MS", 1_000)?,
            khqr_grace: secs("KHQR_GRACE_S", 300)?,
            bank_timeout: millis("BANK_TIMEOUT_MS", 10_000)?,
            quote_ttl: secs("QUOTE_TTL_S", 7 * 24 * 3600)?,
            intent_ttl: secs("INTENT_TTL_S", 7 * 24 * 3600)?,
            attempt_ttl: secs("ATTEMPT_TTL_S", 15 * 60)?,
            db_max_connections,
            db_acquire_timeout: millis("DB_ACQUIRE_TIMEOUT_MS", 5_000)?,
            workers_enabled: parse_bool("WORKERS_ENABLED", true)?,
            webhook_timeout: millis("WEBHOOK_TIMEOUT_MS", 10_000)?,
            webhook_poll_interval: millis("WEBHOOK_POLL_MS", 250)?,
            webhook_allow_link_local: parse_bool("WEBHOOK_ALLOW_LINK_LOCAL", false)?,
            webhook_retry_schedule: settings::webhook_retry_schedule()?,
            webhook_give_up_after: secs("WEBHOOK_GIVE_UP_AFTER_S", 3 * 24 * 3600)?,
            webhook_lease: Duration::from_secs(parse_u64("WEBHOOK_LEASE_S", 60)?.max(1)),
            webhook_max_in_flight_per_endpoint: settings::webhook_max_in_flight_per_endpoint()?,
            expiry_sweep_interval: millis("EXPIRY_SWEEP_MS", 5_000)?,
            ledger_signing_key: settings::ledger_signing_key()?,
            ledger_seal_interval: millis_at_least("LEDGER_SEAL_MS", 1_000, 10)?,
            ledger_rollup_interval: millis_at_least("LEDGER_ROLLUP_MS", 60_000, 100)?,
            max_attempts_per_intent: settings::max_attempts_per_intent()?,
            inbox_retry_after: millis("INBOX_RETRY_AFTER_MS", 60_000)?,
            recovery_interval: millis_at_least("RECOVERY_SWEEP_MS", 10_000, 10)?,
            sandbox_status_after: millis_at_least("SANDBOX_STATUS_AFTER_MS", 60_000, 10)?,
            sandbox_status_poll_interval: millis_at_least("SANDBOX_STATUS_POLL_MS", 1_000, 10)?,
            sandbox_status_grace: secs("SANDBOX_STATUS_GRACE_S", 300)?,
            profile: profile::profile()?,
            bank_sim_url: banks.bank_sim_url,
            sandbox_callback_secret_set: var("SANDBOX_CALLBACK_SECRET").is_some(),
            ledger_public_keys: settings::ledger_public_keys()?,
            migration_database_url: var("MIGRATION_DATABASE_URL").map(SecretString::from),
            secrets_key,
            secrets_keys_old,
            metrics_listen_addr: settings::metrics_listen_addr()?,
            rate_limit_address_per_minute: parse_u32("RATE_LIMIT_ADDRESS_PER_MIN", 3_000)?,
            rate_limit_token_per_minute: parse_u32("RATE_LIMIT_TOKEN_PER_MIN", 300)?,
            trust_x_forwarded_for: parse_bool("TRUST_X_FORWARDED_FOR", false)?,
            header_read_timeout: settings::header_read_timeout()?,
            max_connections: settings::max_connections()?,
            shutdown_drain: secs("SHUTDOWN_DRAIN_S", 20)?,
            db_worker_connections: settings::db_worker_connections(db_max_connections)?,
            db_statement_timeout: millis("DB_STATEMENT_TIMEOUT_MS", 30_000)?,
            db_idle_in_transaction_timeout: millis("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60_000)?,
            export_max_duration: secs("EXPORT_MAX_DURATION_S", 600)?,
            rate_limit_callback_address_per_minute: parse_u32(
                "RATE_LIMIT_CALLBACK_ADDRESS_PER_MIN",
                60_000,
            )?,
            staff_session_idle: Duration::from_secs(
                parse_u64("STAFF_SESSION_IDLE_S", 30 * 60)?.max(60),
            ),
            staff_session_max: Duration::from_secs(
                parse_u64("STAFF_SESSION_MAX_S", 12 * 3600)?.max(60),
            ),
        })
    }

    /// Connections of the pool the HTTP routes use: the total less the workers' share.
    pub fn db_http_connections(&self) -> u32 {
        self.db_max_connections
            .saturating_sub(self.db_worker_connections)
            .max(1)
    }
}
