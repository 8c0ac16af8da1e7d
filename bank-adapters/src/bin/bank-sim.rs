//! `bank-sim`: serves every bank simulator for local runs (`make run`) and tests.
//!
//! Environment: `LISTEN_ADDR` (default `127.0.0.1:8081`), `CALLBACK_BASE_URL` (default
//! `http://127.0.0.1:8080`), `SANDBOX_CALLBACK_SECRET` (default: the shared development
//! secret), `PUBLIC_BASE_URL` (default `http://{bound address}`), `BAKONG_API_TOKEN` (the
//! bearer token the Bakong simulator accepts; default `bakong-sim-token`, the same default
//! `bank_adapters::bakong::DEFAULT_SIM_TOKEN` names), `LOG_FORMAT` (`json` for
//! JSON logs), `SIM_CALLBACK_RETRY_MS` (comma-separated delays in milliseconds before each
//! retry of a sandbox callback that got no 2xx; default `1000,2000,4000,8000,15000,30000,60000,120000`,
//! `off` for none), `RUST_LOG` (default `info`). Logs go to stderr; stdout carries only the line
//! "bank-sim listening on http://ADDR", printed once the socket is bound.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bank_adapters::bakong::DEFAULT_SIM_TOKEN;
use bank_adapters::sandbox::DEFAULT_CALLBACK_SECRET;
use bank_adapters::sim::{router, SimConfig, SimState, DEFAULT_RETRY_SCHEDULE_MS};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use url::Url;

const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8081";
const DEFAULT_CALLBACK_BASE_URL: &str = "http://127.0.0.1:8080";

/// After a shutdown signal, in-flight requests get this long to finish; a synchronous pay
/// with many slow callbacks is cut short rather than holding up a test run or a deploy.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing()?;
    let listen_addr = env_or("LISTEN_ADDR", DEFAULT_LISTEN_ADDR)?;
    let callback_base_url = env_or("CALLBACK_BASE_URL", DEFAULT_CALLBACK_BASE_URL)?;
    let callback_base_url =
        Url::parse(&callback_base_url).context("CALLBACK_BASE_URL is not a URL")?;
    let sandbox_callback_secret = env_or("SANDBOX_CALLBACK_SECRET", DEFAULT_CALLBACK_SECRET)?;
    if sandbox_callback_secret == DEFAULT_CALLBACK_SECRET {
        tracing::warn!("SANDBOX_CALLBACK_SECRET is unset: signing with the development default");
    }
    let bakong_token = env_or("BAKONG_API_TOKEN", DEFAULT_SIM_TOKEN)?;
    if bakong_token == DEFAULT_SIM_TOKEN {
        tracing::warn!(
            "BAKONG_API_TOKEN is unset: the Bakong simulator accepts the development default"
        );
    }

    let listener = TcpListener::bind(&listen_addr)
        .await
        .with_context(|| format!("cannot listen on LISTEN_ADDR={listen_addr}"))?;
    let local_addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let public_base_url = env_or("PUBLIC_BASE_URL", &format!("http://{local_addr}"))?;
    let public_base_url = Url::parse(&public_base_url).context("PUBLIC_BASE_URL is not a URL")?;

    let config = SimConfig {
        callback_base_url,
        sandbox_callback_secret,
        public_base_url,
        bakong_token,
    };
    tracing::info!(config = ?config, "bank-sim configured");
    let retry_schedule = retry_schedule()?;
    let state = SimState::with_callback_retry_schedule(config, retry_schedule)
        .context("invalid bank-sim configuration")?;
    // Handlers are installed before we announce readiness: a test that sends SIGTERM as soon
    // as it reads the line must get a graceful stop, not the default kill.
    let mut signals = ShutdownSignals::install()?;

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        // A dropped sender also means stop.
        let _ = stop_rx.await;
    });
    let mut server = tokio::spawn(std::future::IntoFuture::into_future(server));

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "bank-sim listening on http://{local_addr}")
        .and_then(|()| stdout.flush())
        .context("cannot write the readiness line to stdout")?;
    drop(stdout);

    tokio::select! {
        joined = &mut server => {
            joined.context("the server task failed")?.context("the server stopped")?;
            bail!("the server stopped without a shutdown signal");
        }
        signal = signals.recv() => {
            tracing::info!(signal = signal?, "bank-sim shutting down");
        }
    }
    let _ = stop_tx.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(joined) => joined
            .context("the server task failed")?
            .context("the server failed while stopping")?,
        Err(_) => tracing::warn!(
            grace_s = SHUTDOWN_GRACE.as_secs(),
            "requests still running after the shutdown grace period; stopping anyway"
        ),
    }
    tracing::info!("bank-sim stopped");
    Ok(())
}

/// `SIM_CALLBACK_RETRY_MS`: the delays before each retry of a failed callback.
fn retry_schedule() -> anyhow::Result<Vec<Duration>> {
    let default = DEFAULT_RETRY_SCHEDULE_MS.map(|ms| ms.to_string()).join(",");
    let raw = env_or("SIM_CALLBACK_RETRY_MS", &default)?;
    if raw.trim().eq_ignore_ascii_case("off") {
        return Ok(Vec::new());
    }
    let schedule = raw
        .split(',')
        .map(|part| part.trim().parse::<u64>().map(Duration::from_millis))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!(
                "SIM_CALLBACK_RETRY_MS must be comma-separated milliseconds or off, got {raw:?}"
            )
        })?;
    if schedule.len() > 32
        || schedule
            .iter()
            .any(|delay| *delay > Duration::from_secs(3600))
    {
        bail!("SIM_CALLBACK_RETRY_MS takes at most 32 delays of at most an hour each");
    }
    Ok(schedule)
}

/// Reads an environment variable; unset or empty means the default, as in `.env` files
/// that list a variable without a value.
fn env_or(name: &str, default: &str) -> anyhow::Result<String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(default.to_owned()),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{name} is not valid UTF-8"),
    }
}

fn init_tracing() -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr: stdout is the readiness channel that tests read.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    installed.map_err(|error| anyhow::anyhow!("cannot install the log subscriber: {error}"))
}

/// Ctrl-C everywhere, plus SIGTERM on Unix (what `kill`, systemd and test harnesses send).
struct ShutdownSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            terminate: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot install the SIGTERM handler")?,
        })
    }

    async fn recv(&mut self) -> anyhow::Result<&'static str> {
        #[cfg(unix)]
        {
            tokio::select! {
                interrupted = tokio::signal::ctrl_c() => {
                    interrupted.context("cannot listen for ctrl-c")?;
                    Ok("SIGINT")
                }
                _ = self.terminate.recv() => Ok("SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c()
                .await
                .context("cannot listen for ctrl-c")?;
            Ok("ctrl-c")
        }
    }
}
