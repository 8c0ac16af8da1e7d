//! The settings that take more than one parse: URLs and tokens that default from each other,
//! keys checked at start-up, and bounded numbers.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::SecretString;
use url::Url;

use super::env::{base64_key, parse_bool, parse_schedule_ms, parse_u32, parse_u64, parse_url, var};
use super::{
    DEFAULT_MAX_ATTEMPTS_PER_INTENT, DEFAULT_RETRY_SCHEDULE_MS, DEFAULT_SANDBOX_BAKONG_TOKEN,
    DEFAULT_SANDBOX_CALLBACK_SECRET,
};

// HTTP

/// Where the service listens and the base of the links it hands out.
pub(super) struct Http {
    pub listen_addr: SocketAddr,
    pub public_base_url: Url,
}

impl Http {
    /// `LISTEN_ADDR` and `PUBLIC_BASE_URL` (default: http:// and the listen address).
    pub(super) fn read() -> anyhow::Result<Http> {
        let listen_addr: SocketAddr = var("LISTEN_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
            .parse()
            .context("LISTEN_ADDR must be host:port")?;
        let public_base_url = parse_url(
            "PUBLIC_BASE_URL",
            &var("PUBLIC_BASE_URL").unwrap_or_else(|| format!("http://{listen_addr}")),
        )?;
        Ok(Http {
            listen_addr,
            public_base_url,
        })
    }
}

/// `METRICS_LISTEN_ADDR`: default loopback 127.0.0.1:9090, `off` to serve no metrics.
pub(super) fn metrics_listen_addr() -> anyhow::Result<Option<SocketAddr>> {
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
pub(super) fn header_read_timeout() -> anyhow::Result<Duration> {
    let ms = parse_u64("HEADER_READ_TIMEOUT_MS", 10_000)?;
    if !(1..=30_000).contains(&ms) {
        bail!("HEADER_READ_TIMEOUT_MS must be 1 to 30000");
    }
    Ok(Duration::from_millis(ms))
}

/// `MAX_CONNECTIONS`: at least 1.
pub(super) fn max_connections() -> anyhow::Result<usize> {
    usize::try_from(parse_u64("MAX_CONNECTIONS", 1_024)?.max(1))
        .context("MAX_CONNECTIONS is too large")
}

// Banks

/// The banks' endpoints and credentials, and the sandbox that can stand in for them.
pub(super) struct Banks {
    pub bank_sim_url: Url,
    pub sandbox_api_url: Url,
    pub sandbox_enabled: bool,
    pub bakong_api_url: Option<Url>,
    pub bakong_api_token: SecretString,
    pub sandbox_callback_secret: SecretString,
}

impl Banks {
    pub(super) fn read() -> anyhow::Result<Banks> {
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
        Ok(Banks {
            bank_sim_url,
            sandbox_api_url,
            sandbox_enabled,
            bakong_api_url,
            bakong_api_token: SecretString::from(bakong_api_token),
            sandbox_callback_secret: SecretString::from(sandbox_callback_secret),
        })
    }
}

pub(super) fn max_attempts_per_intent() -> anyhow::Result<i64> {
    let raw = parse_u64(
        "MAX_ATTEMPTS_PER_INTENT",
        DEFAULT_MAX_ATTEMPTS_PER_INTENT.unsigned_abs(),
    )?;
    if !(1..=1000).contains(&raw) {
        bail!("MAX_ATTEMPTS_PER_INTENT must be between 1 and 1000, got {raw}");
    }
    i64::try_from(raw).context("MAX_ATTEMPTS_PER_INTENT is too large")
}

// Database

/// `DB_MAX_CONNECTIONS`: at least 1.
pub(super) fn db_max_connections() -> anyhow::Result<u32> {
    let total = u32::try_from(parse_u64("DB_MAX_CONNECTIONS", 20)?)
        .context("DB_MAX_CONNECTIONS is too large")?;
    if total == 0 {
        bail!("DB_MAX_CONNECTIONS must be at least 1");
    }
    Ok(total)
}

/// `DB_WORKER_CONNECTIONS`: default half the total (bank callbacks are the money path and
/// arrive in bursts), at least 2; always leaves the HTTP routes at least one (with a total of 1
/// both pools get one connection).
pub(super) fn db_worker_connections(total: u32) -> anyhow::Result<u32> {
    let default = (total / 2).max(2);
    let workers = parse_u32("DB_WORKER_CONNECTIONS", default)?;
    if workers == 0 {
        bail!("DB_WORKER_CONNECTIONS must be at least 1");
    }
    Ok(workers.min(total.saturating_sub(1)).max(1))
}

// Webhooks

/// `WEBHOOK_RETRY_SCHEDULE_MS`.
pub(super) fn webhook_retry_schedule() -> anyhow::Result<Vec<Duration>> {
    parse_schedule_ms("WEBHOOK_RETRY_SCHEDULE_MS", DEFAULT_RETRY_SCHEDULE_MS)
}

/// `WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT`: 1 to 64.
pub(super) fn webhook_max_in_flight_per_endpoint() -> anyhow::Result<usize> {
    Ok(
        usize::try_from(parse_u64("WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", 4)?.clamp(1, 64))
            .unwrap_or(4),
    )
}

// Keys

/// `LEDGER_SIGNING_KEY`, checked here so that a bad key fails start-up, not the first digest.
pub(super) fn ledger_signing_key() -> anyhow::Result<Option<SecretString>> {
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

/// `LEDGER_PUBLIC_KEYS`: comma-separated base64 Ed25519 public keys.
pub(super) fn ledger_public_keys() -> anyhow::Result<Vec<[u8; 32]>> {
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
pub(super) fn secrets_keys() -> anyhow::Result<(Option<SecretString>, Vec<SecretString>)> {
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
