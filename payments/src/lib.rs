//! OWSO Pay: the cashier step of Cambodia's One Window Service Offices.
//!
//! `http` is the only module that knows HTTP; `app` holds the use cases (each owns its
//! transaction); `workers` run in the background in every instance; `db` connects and migrates.

pub mod app;
pub mod config;
pub mod db;
pub mod http;
pub mod state;
pub mod telemetry;
pub mod workers;

pub use http::router;
pub use state::AppState;

use tokio::net::TcpListener;
use tokio::sync::watch;

/// Runs the service until SIGTERM or Ctrl-C: HTTP plus the background workers. On the signal
/// it stops accepting, lets in-flight requests finish within `SHUTDOWN_DRAIN_S`, then stops
/// the workers.
pub async fn serve(config: config::Config) -> anyhow::Result<()> {
    let pool = prepare_database(&config).await?;
    let worker_pool = db::connect_workers(&config).await?;
    let listen_addr = config.listen_addr;
    let metrics_addr = config.metrics_listen_addr;
    let workers_enabled = config.workers_enabled;
    let limits = http::serve::ServeLimits {
        header_read_timeout: config.header_read_timeout,
        max_connections: config.max_connections,
        drain_timeout: config.shutdown_drain,
    };
    let state = AppState::with_worker_pool(pool, worker_pool, config)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let workers = if workers_enabled {
        workers::spawn_all(&state.for_workers(), &shutdown_rx)?
    } else {
        Vec::new()
    };

    let (stop_http_tx, stop_http_rx) = watch::channel(false);
    let metrics_server = match metrics_addr {
        Some(addr) => Some(spawn_metrics(addr, &state, limits, stop_http_rx.clone()).await?),
        None => None,
    };
    let listener = TcpListener::bind(listen_addr).await?;
    let bound = listener.local_addr()?;
    // Tests and scripts wait for this exact line.
    println!("payments listening on http://{bound}");
    tracing::info!(listen.addr = %bound, "payments service started");
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received");
        let _ = stop_http_tx.send(true);
    });
    http::serve::serve(listener, router(state), limits, stopped(stop_http_rx)).await?;
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    let _ = shutdown_tx.send(true);
    stop_workers(workers, limits.drain_timeout).await;
    tracing::info!("payments service stopped");
    Ok(())
}

/// The start-up checks and the database's preparation, before anything listens: refuses
/// a production configuration (or database) with development settings, applies pending
/// migrations and reseals webhook secrets. Returns the HTTP routes' pool.
async fn prepare_database(config: &config::Config) -> anyhow::Result<sqlx::PgPool> {
    if let Some(refusal) = config.production_refusal() {
        anyhow::bail!(refusal);
    }
    if let Some(warning) = config.development_warning() {
        tracing::warn!("{warning}");
    }
    let keyring = app::secrets::Keyring::from_config(config)?;
    let pool = db::connect(config).await?;
    // The service's role may not migrate: only when something is pending is the owner role
    // (MIGRATION_DATABASE_URL, else DATABASE_URL) used.
    if db::migrations_pending(&pool).await? {
        let owner = db::connect_migrator(config).await?;
        db::migrate(&owner, &keyring).await?;
        owner.close().await;
    }
    if let Some(refusal) = app::seed::production_refusal_in_database(config, &pool).await? {
        anyhow::bail!(refusal);
    }
    // Plaintext webhook secrets from before sealing, and ones sealed with a retired key.
    let resealed = app::secrets::reseal_webhook_secrets(&pool, &keyring).await?;
    if resealed.webhook_secrets > 0 || resealed.unreadable > 0 {
        tracing::info!(
            resealed = resealed.webhook_secrets,
            unreadable = resealed.unreadable,
            "webhook secrets sealed with SECRETS_KEY"
        );
    }
    db::warn_if_autovacuum_off(&pool).await;
    Ok(pool)
}

/// Resolves once `receiver` says stop (or its sender is gone).
async fn stopped(mut receiver: watch::Receiver<bool>) {
    let _ = receiver.wait_for(|stop| *stop).await;
}

/// Binds the metrics listener and serves `/metrics` on it until `stop` says so.
async fn spawn_metrics(
    addr: std::net::SocketAddr,
    state: &AppState,
    limits: http::serve::ServeLimits,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    // Not "listening on": tests and scripts wait for the public listener's line.
    println!("payments metrics at http://{bound}/metrics");
    Ok(tokio::spawn(http::serve::serve(
        listener,
        http::metrics_router(state.clone()),
        limits,
        stopped(stop),
    )))
}

/// Waits for the workers to finish their round. One that does not within the drain time is
/// left behind (the process exits and its lease expires), so shutdown stays bounded.
async fn stop_workers(
    workers: Vec<tokio::task::JoinHandle<()>>,
    drain_timeout: std::time::Duration,
) {
    let deadline = tokio::time::Instant::now() + drain_timeout;
    for worker in workers {
        if tokio::time::timeout_at(deadline, worker).await.is_err() {
            tracing::warn!("a worker did not stop within the drain time; exiting anyway");
            break;
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
