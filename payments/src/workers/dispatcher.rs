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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bank_adapters::signing::{standard_webhooks_signature, WebhookSecret};
use chrono::Utc;
use rand::Rng;
use sqlx::postgres::PgListener;
use sqlx::FromRow;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::webhook_dns::{refusal, FilteringResolver};
use crate::app::secrets::{open_webhook_secret, Keyring};
use crate::app::webhooks::validate_url;
use crate::state::AppState;

const BATCH: i64 = 32;
/// All deliveries in flight from one instance.
const MAX_IN_FLIGHT: usize = 32;
/// How often the failing-endpoint gauge is refreshed.
const HEALTH_GAUGE_EVERY: Duration = Duration::from_secs(15);
/// Response bodies are not read beyond this; the status code is what counts.
const MAX_ERROR_CHARS: usize = 200;
/// A lease in flight is renewed this many times per lease period, so a slow database round
/// trip does not let it lapse.
const RENEWALS_PER_LEASE: u32 = 3;

#[derive(FromRow)]
struct Claimed {
    id: Uuid,
    event_id: Uuid,
    endpoint_id: Uuid,
    attempt_count: i32,
    payload: serde_json::Value,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    endpoint_status: String,
    age_ms: i64,
    /// This claim's lease as claimed; renewals move it on, and the result is recorded only
    /// while the latest one is still the delivery's.
    leased_until: chrono::DateTime<Utc>,
    /// How many deliveries the claim looked at (a full look means more may be due).
    candidates: i64,
}

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
        let poll = self.state.config.webhook_poll_interval;
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
            let claimed = match dispatcher.claim().await {
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
                // Claimed only as far as permits were free, and only this loop takes them:
                // these do not wait. Should one be missing all the same, the lease is handed
                // back rather than waited out.
                let permits = dispatcher
                    .in_flight
                    .clone()
                    .try_acquire_owned()
                    .ok()
                    .zip(dispatcher.endpoint_permit(delivery.endpoint_id));
                let Some((permit, endpoint_permit)) = permits else {
                    unsent.push(delivery.id);
                    continue;
                };
                let worker = Arc::clone(&dispatcher);
                tokio::spawn(async move {
                    worker.deliver(delivery).await;
                    drop(endpoint_permit);
                    drop(permit);
                    worker.freed.notify_one();
                });
            }
            if !unsent.is_empty() {
                dispatcher.unclaim(&unsent).await;
            }
            if more_due && dispatcher.in_flight.available_permits() > 0 {
                continue;
            }
            let wait = async {
                match listener.as_mut() {
                    Some(listener) => {
                        // NOTIFY wakes us at once; the timeout also covers retries coming due.
                        let _ = tokio::time::timeout(
                            poll.max(Duration::from_millis(50)),
                            listener.recv(),
                        )
                        .await;
                    }
                    None => tokio::time::sleep(poll).await,
                }
            };
            tokio::select! {
                () = wait => {}
                // A freed permit may let a waiting delivery of a busy endpoint go.
                () = dispatcher.freed.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        // Let the deliveries in flight record their answers before stopping: cut off, each
        // would be sent again after its lease (at least once, but a needless duplicate). Bounded
        // by the request timeout, so shutdown stays bounded too.
        let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
        let drain = shutdown_drain(&dispatcher.state);
        if tokio::time::timeout(drain, dispatcher.in_flight.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                "webhook deliveries still in flight at shutdown; their leases will expire"
            );
        }
    }

    fn endpoint_semaphore(&self, endpoint_id: Uuid) -> Option<Arc<Semaphore>> {
        let mut map = self.per_endpoint.lock().ok()?;
        Some(Arc::clone(map.entry(endpoint_id).or_insert_with(|| {
            Arc::new(Semaphore::new(
                self.state.config.webhook_max_in_flight_per_endpoint,
            ))
        })))
    }

    /// A permit for one more delivery to `endpoint_id`, if one is free now (never waits).
    fn endpoint_permit(&self, endpoint_id: Uuid) -> Option<OwnedSemaphorePermit> {
        self.endpoint_semaphore(endpoint_id)?
            .try_acquire_owned()
            .ok()
    }

    /// Free permits of every endpoint this instance has sent to (others have them all).
    fn free_permits(&self) -> (Vec<Uuid>, Vec<i32>) {
        let Ok(map) = self.per_endpoint.lock() else {
            return (Vec::new(), Vec::new());
        };
        map.iter()
            .map(|(id, semaphore)| {
                (
                    *id,
                    i32::try_from(semaphore.available_permits()).unwrap_or(i32::MAX),
                )
            })
            .unzip()
    }

    fn lease(&self) -> Duration {
        self.state.config.webhook_lease
    }

    /// Moves the lease of a delivery in flight on by a lease period, if it is still `held`;
    /// returns the new lease, or `None` when it was lost (or the database did not answer,
    /// in which case the next renewal tries again with the same one).
    async fn renew(
        &self,
        delivery_id: Uuid,
        held: chrono::DateTime<Utc>,
    ) -> Option<chrono::DateTime<Utc>> {
        let lease_ms = i64::try_from(self.lease().as_millis()).unwrap_or(i64::MAX);
        match sqlx::query_scalar(
            "update webhook_deliveries set leased_until = now() + $3::bigint * interval '1 millisecond'
             where id = $1 and leased_until = $2 returning leased_until",
        )
        .bind(delivery_id)
        .bind(held)
        .bind(lease_ms)
        .fetch_optional(&self.state.pool)
        .await
        {
            Ok(Some(renewed)) => Some(renewed),
            Ok(None) => {
                tracing::warn!(delivery.id = %delivery_id, "a webhook delivery's lease was lost while it was in flight");
                None
            }
            Err(error) => {
                tracing::warn!(delivery.id = %delivery_id, error = %error, "could not renew a webhook delivery's lease");
                None
            }
        }
    }

    /// Claims due deliveries, at most as many as there are free permits: in all, and per
    /// endpoint. An endpoint whose permits are all taken (a slow one) is not even looked at,
    /// so its backlog cannot crowd the others out of a claim.
    async fn claim(&self) -> Result<Vec<Claimed>, sqlx::Error> {
        let room = i64::try_from(self.in_flight.available_permits())
            .unwrap_or(0)
            .min(BATCH);
        if room == 0 {
            return Ok(Vec::new());
        }
        let lease_ms = i64::try_from(self.lease().as_millis()).unwrap_or(i64::MAX);
        let (endpoints, free) = self.free_permits();
        let busy: Vec<Uuid> = endpoints
            .iter()
            .zip(&free)
            .filter(|(_, free)| **free <= 0)
            .map(|(id, _)| *id)
            .collect();
        let per_endpoint =
            i32::try_from(self.state.config.webhook_max_in_flight_per_endpoint).unwrap_or(1);
        // language=PostgreSQL
        sqlx::query_as(
            "with candidates as (
                 select d.id, d.endpoint_id, d.next_attempt_at from webhook_deliveries d
                 where d.status = 'pending' and d.next_attempt_at <= now()
                   and (d.leased_until is null or d.leased_until < now())
                   and d.endpoint_id <> all($3::uuid[])
                   -- Case order: wait while an earlier event of the same case is undelivered
                   -- to this endpoint (a dead-lettered one holds the later ones until retried).
                   and not exists (
                       select 1 from webhook_deliveries earlier
                       where earlier.endpoint_id = d.endpoint_id and earlier.case_key = d.case_key
                         and earlier.seq < d.seq and earlier.status <> 'succeeded')
                 order by d.next_attempt_at
                 limit $1
                 for update skip locked
             ),
             ranked as (
                 select c.id,
                        row_number() over (partition by c.endpoint_id order by c.next_attempt_at, c.id) as rank,
                        coalesce((select f.free from unnest($4::uuid[], $5::int[]) as f (endpoint_id, free)
                                  where f.endpoint_id = c.endpoint_id), $6) as free
                 from candidates c
             ),
             due as (select id from ranked where rank <= free)
             update webhook_deliveries d
             set leased_until = now() + $2::bigint * interval '1 millisecond', attempt_count = d.attempt_count + 1
             from due, outbox_events e, webhook_endpoints w
             where d.id = due.id and e.id = d.event_id and w.id = d.endpoint_id
             returning d.id, d.event_id, d.endpoint_id, d.attempt_count, e.payload, w.url, w.secret,
                       case when w.previous_secret_expires_at > now() then w.previous_secret end as previous_secret,
                       w.status as endpoint_status,
                       (extract(epoch from now() - e.created_at) * 1000)::bigint as age_ms,
                       d.leased_until,
                       (select count(*) from candidates) as candidates",
        )
        .bind(room)
        .bind(lease_ms)
        .bind(&busy)
        .bind(&endpoints)
        .bind(&free)
        .bind(per_endpoint)
        .fetch_all(&self.state.pool)
        .await
    }

    /// Hands back claims that will not be sent now, as if they had not been claimed.
    async fn unclaim(&self, ids: &[Uuid]) {
        if let Err(error) = sqlx::query(
            "update webhook_deliveries set leased_until = null, attempt_count = attempt_count - 1
             where id = any($1) and status = 'pending'",
        )
        .bind(ids)
        .execute(&self.state.pool)
        .await
        {
            // Their leases run out and they are claimed again.
            tracing::warn!(error = %error, "could not hand back webhook deliveries");
        }
    }

    async fn deliver(&self, mut delivery: Claimed) {
        let started = Instant::now();
        // The request runs while the lease is renewed beside it: however long the endpoint
        // takes, no other instance claims this delivery meanwhile.
        let every = (self.lease() / RENEWALS_PER_LEASE).max(Duration::from_millis(100));
        let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut lease = delivery.leased_until;
        let outcome = {
            let send = self.send(&delivery);
            tokio::pin!(send);
            loop {
                tokio::select! {
                    outcome = &mut send => break outcome,
                    _ = renewals.tick() => {
                        if let Some(renewed) = self.renew(delivery.id, lease).await {
                            lease = renewed;
                        }
                    }
                }
            }
        };
        delivery.leased_until = lease;
        let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (status_code, error) = match &outcome {
            Ok(status) => (Some(i32::from(*status)), None),
            Err(error) => (None, Some(error.clone())),
        };
        let succeeded = matches!(outcome, Ok(status) if (200..300).contains(&status));
        if let Err(error) = self
            .record(
                &delivery,
                succeeded,
                status_code,
                error.as_deref(),
                latency_ms,
            )
            .await
        {
            // The lease runs out and the delivery is tried again: at least once, never lost.
            tracing::warn!(delivery.id = %delivery.id, error = %error, "could not record a webhook attempt");
        }
        let result = if succeeded { "succeeded" } else { "failed" };
        metrics::counter!("owso_webhook_attempts_total", "result" => result).increment(1);
        metrics::histogram!("owso_webhook_request_seconds").record(started.elapsed());
        if succeeded {
            // From the event's commit to the receiver's 2xx.
            let age = Duration::from_millis(u64::try_from(delivery.age_ms).unwrap_or(0))
                + started.elapsed();
            metrics::histogram!("owso_webhook_commit_to_delivery_seconds").record(age);
        }
    }

    async fn send(&self, delivery: &Claimed) -> Result<u16, String> {
        if delivery.endpoint_status != "active" {
            return Err("endpoint disabled".to_owned());
        }
        // Checked again now: an IP address in the URL never reaches the resolver, and the URL
        // may have been registered before a spelling was refused.
        if validate_url(&delivery.url, self.state.config.webhook_allow_link_local).is_err() {
            return Err(
                "refused: the URL is not allowed (link-local or cloud-metadata address)".to_owned(),
            );
        }
        // Stored sealed with SECRETS_KEY (plaintext only in rows from before sealing).
        let keyring = Keyring::from_config(&self.state.config)
            .map_err(|_| "SECRETS_KEY unusable".to_owned())?;
        let open = |stored: &str| {
            open_webhook_secret(&keyring, delivery.endpoint_id, stored)
                .ok()
                .and_then(|raw| WebhookSecret::parse(&raw).ok())
        };
        let secret =
            open(&delivery.secret).ok_or_else(|| "endpoint secret unreadable".to_owned())?;
        let body = serde_json::to_vec(&delivery.payload).map_err(|error| error.to_string())?;
        let message_id = delivery.event_id.to_string();
        let timestamp = Utc::now().timestamp();
        let mut signature = standard_webhooks_signature(&secret, &message_id, timestamp, &body);
        // During a rotation both signatures go out, so receivers can switch secrets at leisure.
        if let Some(previous) = delivery.previous_secret.as_deref().and_then(open) {
            signature.push(' ');
            signature.push_str(&standard_webhooks_signature(
                &previous,
                &message_id,
                timestamp,
                &body,
            ));
        }
        let response = self
            .client
            .post(&delivery.url)
            .header("content-type", "application/json")
            .header("webhook-id", &message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|error| {
                if let Some(refused) = refusal(&error) {
                    refused.to_string()
                } else if error.is_timeout() {
                    "timeout".to_owned()
                } else if error.is_connect() {
                    "connection failed".to_owned()
                } else {
                    "request failed".to_owned()
                }
            })?;
        Ok(response.status().as_u16())
    }

    async fn record(
        &self,
        delivery: &Claimed,
        succeeded: bool,
        status_code: Option<i32>,
        error: Option<&str>,
        latency_ms: i32,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.state.pool.begin().await?;
        let error: Option<String> = error.map(|text| text.chars().take(MAX_ERROR_CHARS).collect());
        sqlx::query("insert into webhook_attempts (delivery_id, status_code, latency_ms, error) values ($1, $2, $3, $4)")
            .bind(delivery.id)
            .bind(status_code)
            .bind(latency_ms)
            .bind(error.as_deref())
            .execute(&mut *tx)
            .await?;
        if succeeded {
            sqlx::query(
                "update webhook_deliveries set status = 'succeeded', delivered_at = now(), leased_until = null,
                     last_status_code = $2, last_error = null where id = $1 and leased_until = $3",
            )
            .bind(delivery.id)
            .bind(status_code)
            .bind(delivery.leased_until)
            .execute(&mut *tx)
            .await?;
            sqlx::query("update webhook_endpoints set health = 'healthy', failing_since = null, last_success_at = now() where id = $1")
                .bind(delivery.endpoint_id)
                .execute(&mut *tx)
                .await?;
        } else {
            let delay = retry_delay(
                &self.state.config.webhook_retry_schedule,
                delivery.attempt_count,
            );
            let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            let give_up_ms = i64::try_from(self.state.config.webhook_give_up_after.as_millis())
                .unwrap_or(i64::MAX);
            let dead = delivery.age_ms.saturating_add(delay_ms) > give_up_ms;
            let last_error = error.unwrap_or_else(|| format!("HTTP {}", status_code.unwrap_or(0)));
            sqlx::query(
                "update webhook_deliveries set status = $2, next_attempt_at = now() + $3::bigint * interval '1 millisecond',
                     leased_until = null, last_status_code = $4, last_error = $5
                 where id = $1 and leased_until = $6 and status = 'pending'",
            )
            .bind(delivery.id)
            .bind(if dead { "dead" } else { "pending" })
            .bind(delay_ms)
            .bind(status_code)
            .bind(&last_error)
            .bind(delivery.leased_until)
            .execute(&mut *tx)
            .await?;
            // Failing since the first failure after the last success; 'failing' once that is
            // as long ago as a delivery is retried.
            sqlx::query(
                "update webhook_endpoints
                 set failing_since = coalesce(failing_since, now()),
                     health = case when now() - coalesce(failing_since, now()) >= $2::bigint * interval '1 millisecond'
                                   then 'failing' else health end
                 where id = $1",
            )
            .bind(delivery.endpoint_id)
            .bind(give_up_ms)
            .execute(&mut *tx)
            .await?;
            if dead {
                metrics::counter!("owso_webhook_dead_letters_total").increment(1);
                tracing::warn!(delivery.id = %delivery.id, event.id = %delivery.event_id, "webhook delivery dead-lettered");
            }
        }
        tx.commit().await
    }

    async fn refresh_health_gauge(&self) {
        match sqlx::query_scalar::<_, i64>(
            "select count(*) from webhook_endpoints where status = 'active' and health = 'failing'",
        )
        .fetch_one(&self.state.pool)
        .await
        {
            Ok(count) => metrics::gauge!("owso_webhook_endpoints_failing")
                .set(u32::try_from(count).unwrap_or(u32::MAX)),
            Err(error) => {
                tracing::warn!(error = %error, "could not count failing webhook endpoints")
            }
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

/// Delay before the next try after `attempts` tries: the schedule's step (the last repeats),
/// plus up to 10% jitter so that a recovering endpoint is not hit by every delivery at once.
pub fn retry_delay(schedule: &[Duration], attempts: i32) -> Duration {
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(0);
    let base = schedule
        .get(index)
        .or_else(|| schedule.last())
        .copied()
        .unwrap_or(Duration::from_secs(60));
    let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
    let jitter_ms = rand::thread_rng().gen_range(0..=base_ms / 10);
    Duration::from_millis(base_ms.saturating_add(jitter_ms))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::DEFAULT_RETRY_SCHEDULE_MS;

    #[test]
    fn retries_follow_the_schedule_with_bounded_jitter() {
        let schedule: Vec<Duration> = DEFAULT_RETRY_SCHEDULE_MS
            .iter()
            .copied()
            .map(Duration::from_millis)
            .collect();
        for (attempt, base_s) in [
            (1, 5u64),
            (2, 30),
            (3, 120),
            (4, 600),
            (5, 3600),
            (6, 21_600),
            (7, 43_200),
            (40, 43_200),
        ] {
            let delay = retry_delay(&schedule, attempt).as_millis();
            let base = u128::from(base_s) * 1000;
            assert!(
                delay >= base && delay <= base + base / 10,
                "attempt {attempt}: {delay}"
            );
        }
    }
}
