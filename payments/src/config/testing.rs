//! The configuration in-process tests start from.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::{
    Config, Profile, DEFAULT_MAX_ATTEMPTS_PER_INTENT, DEFAULT_RETRY_SCHEDULE_MS,
    DEFAULT_SANDBOX_BAKONG_TOKEN, DEFAULT_SANDBOX_CALLBACK_SECRET,
};

impl Config {
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
            staff_session_idle: Duration::from_secs(30 * 60),
            staff_session_max: Duration::from_secs(12 * 3600),
        }
    }
}

#[expect(clippy::expect_used, reason = "a URL literal that is known to parse")]
fn url_localhost() -> Url {
    Url::parse("http://127.0.0.1:9").expect("the literal URL parses")
}
