//! One typed configuration, read from the environment at start-up (see `.env.example`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::SecretString;
use url::Url;

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
}

/// `OWSO_ENV`: which safety checks apply at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Refuses the sandbox, development secrets and demo keys (the default).
    Production,
    /// Allows them, and says so loudly at start.
    Development,
}

impl Profile {
    /// The value of `OWSO_ENV` that selects this profile.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Production => "production",
            Profile::Development => "development",
        }
    }
}

fn profile() -> anyhow::Result<Profile> {
    match var("OWSO_ENV").as_deref().map(str::trim) {
        None | Some("production") => Ok(Profile::Production),
        Some("development") => Ok(Profile::Development),
        Some(other) => bail!("OWSO_ENV must be production or development, got {other:?}"),
    }
}

fn base64_key(name: &str, raw: &str) -> anyhow::Result<[u8; 32]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .with_context(|| format!("{name} must be base64 of 32 bytes"))
}

/// `LEDGER_PUBLIC_KEYS`: comma-separated base64 Ed25519 public keys.
fn ledger_public_keys() -> anyhow::Result<Vec<[u8; 32]>> {
    let Some(raw) = var("LEDGER_PUBLIC_KEYS") else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let key = base64_key("LEDGER_PUBLIC_KEYS", part)?;
            ed25519_dalek::VerifyingKey::from_bytes(&key)
                .context("LEDGER_PUBLIC_KEYS lists a value that is not an Ed25519 public key")?;
            Ok(key)
        })
        .collect()
}

/// `SECRETS_KEY` and `SECRETS_KEY_OLD`, checked here so that a bad key fails start-up.
fn secrets_keys() -> anyhow::Result<(Option<SecretString>, Vec<SecretString>)> {
    let current = match var("SECRETS_KEY") {
        Some(raw) => {
            base64_key("SECRETS_KEY", &raw)?;
            Some(SecretString::from(raw.trim().to_owned()))
        }
        None => None,
    };
    let old = match var("SECRETS_KEY_OLD") {
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                base64_key("SECRETS_KEY_OLD", part)?;
                Ok(SecretString::from(part.to_owned()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok((current, old))
}

/// The same origin (scheme, host, port): two URLs reach the same server.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn parse_bool(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "TRUE" | "yes") => Ok(true),
        Some("0" | "false" | "FALSE" | "no") => Ok(false),
        Some(other) => bail!("{name} must be true or false, got {other:?}"),
    }
}

fn parse_u64(name: &str, default: u64) -> anyhow::Result<u64> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .with_context(|| format!("{name} must be a whole number, got {raw:?}")),
    }
}

fn parse_u32(name: &str, default: u32) -> anyhow::Result<u32> {
    u32::try_from(parse_u64(name, u64::from(default))?)
        .with_context(|| format!("{name} is too large"))
}

/// `METRICS_LISTEN_ADDR`: default loopback 127.0.0.1:9090, `off` to serve no metrics.
fn metrics_listen_addr() -> anyhow::Result<Option<SocketAddr>> {
    match var("METRICS_LISTEN_ADDR").as_deref() {
        Some("off" | "OFF") => Ok(None),
        raw => raw
            .unwrap_or("127.0.0.1:9090")
            .parse()
            .map(Some)
            .context("METRICS_LISTEN_ADDR must be host:port or off"),
    }
}

/// `HEADER_READ_TIMEOUT_MS`: 1 ms to 30 s, default 10 s.
fn header_read_timeout() -> anyhow::Result<Duration> {
    let ms = parse_u64("HEADER_READ_TIMEOUT_MS", 10_000)?;
    if !(1..=30_000).contains(&ms) {
        bail!("HEADER_READ_TIMEOUT_MS must be 1 to 30000");
    }
    Ok(Duration::from_millis(ms))
}

/// `DB_WORKER_CONNECTIONS`: default half the total (bank callbacks are the money path and
/// arrive in bursts), at least 2; always leaves the HTTP routes at least one (with a total of 1
/// both pools get one connection).
fn db_worker_connections(total: u32) -> anyhow::Result<u32> {
    let default = (total / 2).max(2);
    let workers = parse_u32("DB_WORKER_CONNECTIONS", default)?;
    if workers == 0 {
        bail!("DB_WORKER_CONNECTIONS must be at least 1");
    }
    Ok(workers.min(total.saturating_sub(1)).max(1))
}

/// About 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then every 12 h.
pub const DEFAULT_RETRY_SCHEDULE_MS: &[u64] = &[
    5_000, 30_000, 120_000, 600_000, 3_600_000, 21_600_000, 43_200_000,
];

fn parse_schedule_ms(name: &str, default: &[u64]) -> anyhow::Result<Vec<Duration>> {
    let Some(raw) = var(name) else {
        return Ok(default.iter().copied().map(Duration::from_millis).collect());
    };
    let schedule = raw
        .split(',')
        .map(|part| part.trim().parse::<u64>().map(Duration::from_millis))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{name} must be comma-separated milliseconds, got {raw:?}"))?;
    if schedule.is_empty() || schedule.len() > 32 {
        bail!("{name} must list 1 to 32 delays");
    }
    Ok(schedule)
}

fn parse_url(name: &str, raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("{name} is not a URL: {raw:?}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("{name} must be an http or https URL");
    }
    Ok(url)
}

/// `LEDGER_SIGNING_KEY`, checked here so that a bad key fails start-up, not the first digest.
fn ledger_signing_key() -> anyhow::Result<Option<SecretString>> {
    use base64::Engine as _;
    let Some(raw) = var("LEDGER_SIGNING_KEY") else {
        return Ok(None);
    };
    let seed = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .ok()
        .filter(|seed| seed.len() == 32);
    if seed.is_none() {
        bail!("LEDGER_SIGNING_KEY must be the base64 of a 32-byte Ed25519 seed");
    }
    Ok(Some(SecretString::from(raw)))
}

/// Attempts one intent takes by default: enough for a payer who switches channels or lets a
/// few QRs expire, few enough that one link cannot be used to flood the banks.
pub const DEFAULT_MAX_ATTEMPTS_PER_INTENT: i64 = 10;

fn max_attempts_per_intent() -> anyhow::Result<i64> {
    let raw = parse_u64(
        "MAX_ATTEMPTS_PER_INTENT",
        DEFAULT_MAX_ATTEMPTS_PER_INTENT.unsigned_abs(),
    )?;
    if !(1..=1000).contains(&raw) {
        bail!("MAX_ATTEMPTS_PER_INTENT must be between 1 and 1000, got {raw}");
    }
    i64::try_from(raw).context("MAX_ATTEMPTS_PER_INTENT is too large")
}

/// bank-sim's Bakong token when none is configured (sandbox only).
pub const DEFAULT_SANDBOX_BAKONG_TOKEN: &str = bank_adapters::bakong::DEFAULT_SIM_TOKEN;

/// The sandbox bank's shared secret when none is configured; `bank-sim` has the same default so
/// that a bare start works. Production configuration never enables the sandbox.
pub const DEFAULT_SANDBOX_CALLBACK_SECRET: &str = bank_adapters::sandbox::DEFAULT_CALLBACK_SECRET;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Config> {
        let database_url = var("DATABASE_URL").context("DATABASE_URL is required")?;
        let listen_addr: SocketAddr = var("LISTEN_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
            .parse()
            .context("LISTEN_ADDR must be host:port")?;
        let public_base_url = parse_url(
            "PUBLIC_BASE_URL",
            &var("PUBLIC_BASE_URL").unwrap_or_else(|| format!("http://{listen_addr}")),
        )?;
        let bank_sim_url = parse_url(
            "BANK_SIM_URL",
            &var("BANK_SIM_URL").unwrap_or_else(|| "http://127.0.0.1:8081".to_owned()),
        )?;
        // In sandbox mode every adapter's base URL derives from BANK_SIM_URL unless its own
        // variable is set (API.md, "Configuration and the sandbox").
        let sandbox_api_url = match var("SANDBOX_API_URL") {
            Some(raw) => parse_url("SANDBOX_API_URL", &raw)?,
            None => bank_sim_url.clone(),
        };
        let sandbox_enabled = parse_bool("SANDBOX_ENABLED", false)?;
        // In sandbox mode Bakong is played by bank-sim at BANK_SIM_URL with its default token.
        let bakong_api_url = match var("BAKONG_API_URL") {
            Some(raw) => Some(parse_url("BAKONG_API_URL", &raw)?),
            None if sandbox_enabled => Some(sandbox_api_url.clone()),
            None => None,
        };
        let bakong_api_token = match var("BAKONG_API_TOKEN") {
            Some(token) => token,
            None if sandbox_enabled => DEFAULT_SANDBOX_BAKONG_TOKEN.to_owned(),
            None if bakong_api_url.is_some() => {
                bail!("BAKONG_API_TOKEN is required with BAKONG_API_URL")
            }
            None => String::new(),
        };
        let sandbox_callback_secret = var("SANDBOX_CALLBACK_SECRET")
            .unwrap_or_else(|| DEFAULT_SANDBOX_CALLBACK_SECRET.to_owned());
        let db_max_connections = u32::try_from(parse_u64("DB_MAX_CONNECTIONS", 20)?)
            .context("DB_MAX_CONNECTIONS is too large")?;
        if db_max_connections == 0 {
            bail!("DB_MAX_CONNECTIONS must be at least 1");
        }
        let (secrets_key, secrets_keys_old) = secrets_keys()?;
        Ok(Config {
            database_url: SecretString::from(database_url),
            listen_addr,
            public_base_url,
            sandbox_enabled,
            sandbox_api_url,
            sandbox_callback_secret: SecretString::from(sandbox_callback_secret),
            bakong_api_url,
            bakong_api_token: SecretString::from(bakong_api_token),
            khqr_poll_interval: Duration::from_millis(parse_u64("KHQR_POLL_MS", 1_000)?),
            khqr_grace: Duration::from_secs(parse_u64("KHQR_GRACE_S", 300)?),
            bank_timeout: Duration::from_millis(parse_u64("BANK_TIMEOUT_MS", 10_000)?),
            quote_ttl: Duration::from_secs(parse_u64("QUOTE_TTL_S", 7 * 24 * 3600)?),
            intent_ttl: Duration::from_secs(parse_u64("INTENT_TTL_S", 7 * 24 * 3600)?),
            attempt_ttl: Duration::from_secs(parse_u64("ATTEMPT_TTL_S", 15 * 60)?),
            db_max_connections,
            db_acquire_timeout: Duration::from_millis(parse_u64("DB_ACQUIRE_TIMEOUT_MS", 5_000)?),
            workers_enabled: parse_bool("WORKERS_ENABLED", true)?,
            webhook_timeout: Duration::from_millis(parse_u64("WEBHOOK_TIMEOUT_MS", 10_000)?),
            webhook_poll_interval: Duration::from_millis(parse_u64("WEBHOOK_POLL_MS", 250)?),
            webhook_allow_link_local: parse_bool("WEBHOOK_ALLOW_LINK_LOCAL", false)?,
            webhook_retry_schedule: parse_schedule_ms(
                "WEBHOOK_RETRY_SCHEDULE_MS",
                DEFAULT_RETRY_SCHEDULE_MS,
            )?,
            webhook_give_up_after: Duration::from_secs(parse_u64(
                "WEBHOOK_GIVE_UP_AFTER_S",
                3 * 24 * 3600,
            )?),
            webhook_lease: Duration::from_secs(parse_u64("WEBHOOK_LEASE_S", 60)?.max(1)),
            webhook_max_in_flight_per_endpoint: usize::try_from(
                parse_u64("WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", 4)?.clamp(1, 64),
            )
            .unwrap_or(4),
            expiry_sweep_interval: Duration::from_millis(parse_u64("EXPIRY_SWEEP_MS", 5_000)?),
            ledger_signing_key: ledger_signing_key()?,
            ledger_seal_interval: Duration::from_millis(
                parse_u64("LEDGER_SEAL_MS", 1_000)?.max(10),
            ),
            ledger_rollup_interval: Duration::from_millis(
                parse_u64("LEDGER_ROLLUP_MS", 60_000)?.max(100),
            ),
            max_attempts_per_intent: max_attempts_per_intent()?,
            inbox_retry_after: Duration::from_millis(parse_u64("INBOX_RETRY_AFTER_MS", 60_000)?),
            recovery_interval: Duration::from_millis(
                parse_u64("RECOVERY_SWEEP_MS", 10_000)?.max(10),
            ),
            sandbox_status_after: Duration::from_millis(
                parse_u64("SANDBOX_STATUS_AFTER_MS", 60_000)?.max(10),
            ),
            sandbox_status_poll_interval: Duration::from_millis(
                parse_u64("SANDBOX_STATUS_POLL_MS", 1_000)?.max(10),
            ),
            sandbox_status_grace: Duration::from_secs(parse_u64("SANDBOX_STATUS_GRACE_S", 300)?),
            profile: profile()?,
            bank_sim_url,
            sandbox_callback_secret_set: var("SANDBOX_CALLBACK_SECRET").is_some(),
            ledger_public_keys: ledger_public_keys()?,
            migration_database_url: var("MIGRATION_DATABASE_URL").map(SecretString::from),
            secrets_key,
            secrets_keys_old,
            metrics_listen_addr: metrics_listen_addr()?,
            rate_limit_address_per_minute: parse_u32("RATE_LIMIT_ADDRESS_PER_MIN", 3_000)?,
            rate_limit_token_per_minute: parse_u32("RATE_LIMIT_TOKEN_PER_MIN", 300)?,
            trust_x_forwarded_for: parse_bool("TRUST_X_FORWARDED_FOR", false)?,
            header_read_timeout: header_read_timeout()?,
            max_connections: usize::try_from(parse_u64("MAX_CONNECTIONS", 1_024)?.max(1))
                .context("MAX_CONNECTIONS is too large")?,
            shutdown_drain: Duration::from_secs(parse_u64("SHUTDOWN_DRAIN_S", 20)?),
            db_worker_connections: db_worker_connections(db_max_connections)?,
            db_statement_timeout: Duration::from_millis(parse_u64(
                "DB_STATEMENT_TIMEOUT_MS",
                30_000,
            )?),
            db_idle_in_transaction_timeout: Duration::from_millis(parse_u64(
                "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
                60_000,
            )?),
            export_max_duration: Duration::from_secs(parse_u64("EXPORT_MAX_DURATION_S", 600)?),
            rate_limit_callback_address_per_minute: parse_u32(
                "RATE_LIMIT_CALLBACK_ADDRESS_PER_MIN",
                60_000,
            )?,
        })
    }

    /// Why production must not start with this configuration: one line naming the variable,
    /// or `None`. Development allows everything (and [`Config::development_warning`] says so).
    /// The database half of the check (demo keys) is `app::seed::production_refusal_in_database`.
    pub fn production_refusal(&self) -> Option<String> {
        use secrecy::ExposeSecret as _;
        if self.profile != Profile::Production {
            return None;
        }
        let refuse = |detail: String| {
            Some(format!("refusing to start with OWSO_ENV=production: {detail} (set OWSO_ENV=development for a development stack)"))
        };
        if self.sandbox_enabled {
            return refuse("SANDBOX_ENABLED=true enables the sandbox bank".to_owned());
        }
        if self.sandbox_callback_secret_set
            && self.sandbox_callback_secret.expose_secret() == DEFAULT_SANDBOX_CALLBACK_SECRET
        {
            return refuse("SANDBOX_CALLBACK_SECRET is the public development default".to_owned());
        }
        if self.bakong_api_token.expose_secret() == DEFAULT_SANDBOX_BAKONG_TOKEN {
            return refuse("BAKONG_API_TOKEN is bank-sim's development token".to_owned());
        }
        if let Some(url) = &self.bakong_api_url {
            if same_origin(url, &self.bank_sim_url) || same_origin(url, &self.sandbox_api_url) {
                return refuse(format!(
                    "BAKONG_API_URL {url} is bank-sim (the origin of BANK_SIM_URL / SANDBOX_API_URL)"
                ));
            }
        }
        if self.ledger_signing_key.as_ref().is_some_and(|key| {
            key.expose_secret().trim()
                == crate::app::books::digests::development_signing_key_base64()
        }) {
            return refuse("LEDGER_SIGNING_KEY is the public development signing key".to_owned());
        }
        match &self.secrets_key {
            None => {
                return refuse("SECRETS_KEY is required (base64 of 32 random bytes)".to_owned())
            }
            Some(key) if key.expose_secret() == crate::app::secrets::DEVELOPMENT_KEY_BASE64 => {
                return refuse("SECRETS_KEY is the public development key".to_owned())
            }
            Some(_) => {}
        }
        None
    }

    /// The one loud line development logs at start; `None` in production.
    pub fn development_warning(&self) -> Option<&'static str> {
        (self.profile == Profile::Development).then_some(
            "OWSO_ENV=development: DEVELOPMENT PROFILE, NOT FOR REAL MONEY: the sandbox, development secrets, the public signing key and demo keys are all allowed",
        )
    }

    /// Connections of the pool the HTTP routes use: the total less the workers' share.
    pub fn db_http_connections(&self) -> u32 {
        self.db_max_connections
            .saturating_sub(self.db_worker_connections)
            .max(1)
    }

    /// A configuration for in-process tests: sandbox on, workers off, nothing read from the
    /// environment except what the caller passes.
    pub fn for_tests(database_url: &str) -> Config {
        let listen_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            database_url: SecretString::from(database_url.to_owned()),
            listen_addr,
            public_base_url: url_localhost(),
            sandbox_enabled: true,
            sandbox_api_url: url_localhost(),
            sandbox_callback_secret: SecretString::from(DEFAULT_SANDBOX_CALLBACK_SECRET.to_owned()),
            bakong_api_url: Some(url_localhost()),
            bakong_api_token: SecretString::from(DEFAULT_SANDBOX_BAKONG_TOKEN.to_owned()),
            khqr_poll_interval: Duration::from_millis(100),
            khqr_grace: Duration::from_secs(300),
            bank_timeout: Duration::from_secs(5),
            quote_ttl: Duration::from_secs(7 * 24 * 3600),
            intent_ttl: Duration::from_secs(7 * 24 * 3600),
            attempt_ttl: Duration::from_secs(15 * 60),
            db_max_connections: 5,
            db_acquire_timeout: Duration::from_secs(5),
            workers_enabled: false,
            webhook_timeout: Duration::from_secs(10),
            webhook_poll_interval: Duration::from_millis(100),
            webhook_allow_link_local: false,
            webhook_retry_schedule: DEFAULT_RETRY_SCHEDULE_MS
                .iter()
                .copied()
                .map(Duration::from_millis)
                .collect(),
            webhook_give_up_after: Duration::from_secs(3 * 24 * 3600),
            webhook_lease: Duration::from_secs(60),
            webhook_max_in_flight_per_endpoint: 4,
            expiry_sweep_interval: Duration::from_secs(5),
            ledger_signing_key: None,
            ledger_seal_interval: Duration::from_millis(100),
            ledger_rollup_interval: Duration::from_secs(1),
            max_attempts_per_intent: DEFAULT_MAX_ATTEMPTS_PER_INTENT,
            inbox_retry_after: Duration::from_secs(60),
            recovery_interval: Duration::from_millis(100),
            sandbox_status_after: Duration::from_secs(60),
            sandbox_status_poll_interval: Duration::from_millis(100),
            sandbox_status_grace: Duration::from_secs(300),
            profile: Profile::Development,
            bank_sim_url: url_localhost(),
            sandbox_callback_secret_set: false,
            ledger_public_keys: Vec::new(),
            migration_database_url: None,
            secrets_key: None,
            secrets_keys_old: Vec::new(),
            metrics_listen_addr: Some(listen_addr),
            // High enough that no test trips them by accident; the rate-limit test sets its own.
            rate_limit_address_per_minute: 1_000_000,
            rate_limit_token_per_minute: 1_000_000,
            trust_x_forwarded_for: false,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1_024,
            shutdown_drain: Duration::from_secs(5),
            db_worker_connections: 2,
            db_statement_timeout: Duration::ZERO,
            db_idle_in_transaction_timeout: Duration::ZERO,
            export_max_duration: Duration::from_secs(600),
            rate_limit_callback_address_per_minute: 1_000_000,
        }
    }
}

#[expect(clippy::expect_used, reason = "a URL literal that is known to parse")]
fn url_localhost() -> Url {
    Url::parse("http://127.0.0.1:9").expect("the literal URL parses")
}
