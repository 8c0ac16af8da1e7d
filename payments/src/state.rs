//! Shared application state handed to handlers and workers.

use std::sync::Arc;

use bank_adapters::bakong::BakongClient;
use bank_adapters::sandbox::SandboxClient;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::app::receipts::Numbering;
use crate::app::secrets::Keyring;
use crate::app::settlement_batch::SettlementBatcher;
use crate::config::Config;

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub sandbox: Arc<SandboxClient>,
    /// Present when Bakong is configured (or played by bank-sim): the KHQR channel is offered.
    pub bakong: Option<Arc<BakongClient>>,
    pub prometheus: Option<PrometheusHandle>,
    /// One receipt-numbering round at a time per office in this process (app::receipts).
    pub receipts: Arc<Numbering>,
    /// Settles bank callbacks in groups (app::settlement_batch).
    pub settlements: Arc<SettlementBatcher>,
    /// Connections for settlement, bank callbacks and the background workers only (the same
    /// pool as `pool` unless [`AppState::with_worker_pool`] was given another).
    pub worker_pool: PgPool,
    /// `SECRETS_KEY` and its retired keys, read once: pay links, webhook secrets and receipt
    /// tags are sealed, opened and checked with it on request and delivery paths.
    pub keyring: Arc<Keyring>,
}

impl AppState {
    /// Builds the state from a pool and a configuration.
    pub fn new(pool: PgPool, config: Config) -> anyhow::Result<AppState> {
        AppState::with_worker_pool(pool.clone(), pool, config)
    }

    /// Like [`AppState::new`], with a separate pool for settlement, callbacks and workers.
    pub fn with_worker_pool(
        pool: PgPool,
        worker_pool: PgPool,
        config: Config,
    ) -> anyhow::Result<AppState> {
        let sandbox = SandboxClient::new(config.sandbox_api_url.clone(), config.bank_timeout)?;
        let bakong = match &config.bakong_api_url {
            Some(url) => Some(Arc::new(BakongClient::new(
                url.clone(),
                config.bakong_api_token.clone(),
                config.bank_timeout,
            )?)),
            None => None,
        };
        let keyring = Arc::new(Keyring::from_config(&config)?);
        let receipts = Arc::new(Numbering::default());
        let settlements = Arc::new(SettlementBatcher::new(
            worker_pool.clone(),
            Arc::clone(&receipts),
        ));
        Ok(AppState {
            keyring,
            bakong,
            pool,
            config: Arc::new(config),
            sandbox: Arc::new(sandbox),
            prometheus: crate::telemetry::prometheus(),
            receipts,
            settlements,
            worker_pool,
        })
    }

    /// This state with the worker pool as its `pool`: what callbacks and workers run on.
    pub fn for_workers(&self) -> AppState {
        AppState {
            pool: self.worker_pool.clone(),
            ..self.clone()
        }
    }
}
