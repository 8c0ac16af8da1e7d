//! Background workers. Every one is safe to run in several service instances at once: work is
//! claimed with `FOR UPDATE SKIP LOCKED` and leases, never by in-process state.

pub mod dispatcher;
pub mod expiry;
pub mod khqr_poller;
pub mod receipts;
pub mod recovery;
pub mod rollup;
pub mod sandbox_status;
pub mod sealer;
pub mod webhook_dns;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;

/// Starts every worker; each stops when `shutdown` turns true.
pub fn spawn_all(
    state: &AppState,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let dispatcher = dispatcher::Dispatcher::new(state.clone())?;
    let mut handles = vec![
        tokio::spawn(dispatcher.run(shutdown.clone())),
        tokio::spawn(expiry::run(state.clone(), shutdown.clone())),
        tokio::spawn(receipts::run(state.clone(), shutdown.clone())),
    ];
    // Checked before anything starts: a bad LEDGER_SIGNING_KEY fails start-up, not a round.
    let ledger_key = crate::app::books::digests::signing_key(&state.config)?;
    handles.push(tokio::spawn(sealer::run(
        state.clone(),
        ledger_key,
        shutdown.clone(),
    )));
    handles.push(tokio::spawn(rollup::run(state.clone(), shutdown.clone())));
    handles.push(tokio::spawn(recovery::run(state.clone(), shutdown.clone())));
    if state.config.sandbox_enabled {
        handles.push(tokio::spawn(sandbox_status::run(
            state.clone(),
            shutdown.clone(),
        )));
    }
    if let Some(bakong) = state.bakong.clone() {
        handles.push(tokio::spawn(khqr_poller::run(
            state.clone(),
            bakong,
            shutdown.clone(),
        )));
    }
    Ok(handles)
}
