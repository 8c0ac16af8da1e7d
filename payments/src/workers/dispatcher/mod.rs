//! Webhook delivery to the workflow system: Standard Webhooks signatures, at least once, in
//! case order, with retries, dead letters and endpoint health.
//!
//! Every instance runs a dispatcher. A delivery is claimed with `FOR UPDATE SKIP LOCKED` and a
//! lease, so one instance at a time sends it; a crashed instance's lease runs out and another
//! takes over, which is why a receiver may see a message twice (same `webhook-id`) but never
//! not at all. Nothing is sent from inside a database transaction.
//!
//! A slow endpoint holds only its own permits: the claim loop never waits for one. It claims
//! no more deliveries than it has free permits for, per endpoint and in all, so every claimed
//! delivery is sent at once. A lease is renewed while its request is in flight, so no other
//! instance claims a delivery that is being sent, and a dead instance's deliveries are taken
//! over one lease period after it stopped renewing.

mod claims;
mod record;
mod send;

pub use record::retry_delay;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use tokio::sync::{watch, Notify, Semaphore};
use uuid::Uuid;

use super::webhook_dns::FilteringResolver;
use crate::db::webhooks::dispatch::ClaimedDelivery;
use crate::state::AppState;

const BATCH: i64 = 32;
/// All deliveries in flight from one instance.
const MAX_IN_FLIGHT: usize = 32;
/// How often the failing-endpoint gauge is refreshed.
const HEALTH_GAUGE_EVERY: Duration = Duration::from_secs(15);

/// How long shutdown waits for deliveries in flight: their request timeout and the time to
/// record the answer.
fn shutdown_drain(state: &AppState) -> Duration {
    state.config.webhook_timeout + Duration::from_secs(5)
}

pub struct Dispatcher {
    state: AppState,
    client: reqwest::Client,
    in_flight: Arc<Semaphore>,
    per_endpoint: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
    /// Woken whenever a delivery ends, so the loop can claim for the permit it freed.
    freed: Notify,
}

impl Dispatcher {
    pub fn new(state: AppState) -> anyhow::Result<Dispatcher> {
        let resolver = FilteringResolver::new(state.config.webhook_allow_link_local);
        Dispatcher::with_resolver(state, resolver)
    }

    /// A dispatcher whose client looks host names up through `resolver`.
    pub fn with_resolver(
        state: AppState,
        resolver: FilteringResolver,
    ) -> anyhow::Result<Dispatcher> {
        let client = reqwest::Client::builder()
            // Link-local and metadata addresses are refused where it matters: among the
            // addresses a host name resolves to when the request connects.
            .dns_resolver(Arc::new(resolver))
            .timeout(state.config.webhook_timeout)
            .connect_timeout(Duration::from_secs(5))
            // A redirect could carry a signed event somewhere nobody registered.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("OWSO-Pay-Webhooks/1")
            .pool_max_idle_per_host(state.config.webhook_max_in_flight_per_endpoint)
            .build()?;
        Ok(Dispatcher {
            state,
            client,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            per_endpoint: Mutex::new(HashMap::new()),
            freed: Notify::new(),
        })
    }

    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut listener = listen(&self.state).await;
        let dispatcher = Arc::new(self);
        let mut gauge_refreshed = Instant::now()
            .checked_sub(HEALTH_GAUGE_EVERY)
            .unwrap_or_else(Instant::now);
        loop {
            if *shutdown.borrow() {
                break;
            }
            if gauge_refreshed.elapsed() >= HEALTH_GAUGE_EVERY {
                dispatcher.refresh_health_gauge().await;
                gauge_refreshed = Instant::now();
            }
            let more_due = Arc::clone(&dispatcher).round().await;
            if more_due && dispatcher.in_flight.available_permits() > 0 {
                continue;
            }
            dispatcher.wait(listener.as_mut(), &mut shutdown).await;
        }
        dispatcher.drain().await;
    }

    /// Claims what is due and starts sending it; tells whether more may be due already.
    async fn round(self: Arc<Self>) -> bool {
        let claimed = match self.claim().await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(error = %error, "webhook dispatcher could not claim deliveries");
                Vec::new()
            }
        };
        let more_due = claimed
            .first()
            .is_some_and(|delivery| delivery.candidates >= BATCH);
        let mut unsent = Vec::new();
        for delivery in claimed {
            if let Err(delivery) = Arc::clone(&self).start(delivery) {
                unsent.push(delivery);
            }
        }
        if !unsent.is_empty() {
            self.unclaim(&unsent).await;
        }
        more_due
    }

    /// Sends a claimed delivery beside the loop, with its permits; hands its id back when a
    /// permit is missing.
    fn start(self: Arc<Self>, delivery: ClaimedDelivery) -> Result<(), Uuid> {
        // Claimed only as far as permits were free, and only this loop takes them: these do
        // not wait. Should one be missing all the same, the lease is handed back rather than
        // waited out.
        let permits = Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .ok()
            .zip(self.endpoint_permit(delivery.endpoint_id));
        let Some((permit, endpoint_permit)) = permits else {
            return Err(delivery.id);
        };
        tokio::spawn(async move {
            self.deliver(delivery).await;
            drop(endpoint_permit);
            drop(permit);
            self.freed.notify_one();
        });
        Ok(())
    }

    /// Waits for a NOTIFY, the poll interval, a freed permit or shutdown.
    async fn wait(&self, listener: Option<&mut PgListener>, shutdown: &mut watch::Receiver<bool>) {
        let poll = self.state.config.webhook_poll_interval;
        let wait = async {
            match listener {
                Some(listener) => {
                    // NOTIFY wakes us at once; the timeout also covers retries coming due.
                    let _ =
                        tokio::time::timeout(poll.max(Duration::from_millis(50)), listener.recv())
                            .await;
                }
                None => tokio::time::sleep(poll).await,
            }
        };
        tokio::select! {
            () = wait => {}
            // A freed permit may let a waiting delivery of a busy endpoint go.
            () = self.freed.notified() => {}
            _ = shutdown.changed() => {}
        }
    }

    /// Lets the deliveries in flight record their answers before stopping: cut off, each
    /// would be sent again after its lease (at least once, but a needless duplicate). Bounded
    /// by the request timeout, so shutdown stays bounded too.
    async fn drain(&self) {
        let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
        let drain = shutdown_drain(&self.state);
        if tokio::time::timeout(drain, self.in_flight.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                "webhook deliveries still in flight at shutdown; their leases will expire"
            );
        }
    }
}

async fn listen(state: &AppState) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(&state.pool).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(error = %error, "webhook dispatcher cannot LISTEN; falling back to polling");
            return None;
        }
    };
    match listener.listen("webhook_deliveries").await {
        Ok(()) => Some(listener),
        Err(error) => {
            tracing::warn!(error = %error, "webhook dispatcher cannot LISTEN; falling back to polling");
            None
        }
    }
}
