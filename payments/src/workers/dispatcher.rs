//! Webhook delivery to the workflow system: Standard Webhooks signatures, at least once, in
//! case order, with retries, dead letters and endpoint health.
//!
//! Every instance runs a dispatcher. A delivery is claimed with `FOR UPDATE SKIP LOCKED` and a
//! lease, so one instance at a time sends it; a crashed instance's lease runs out and another
//! takes over, which is why a receiver may see a message twice (same `webhook-id`) but never
//! not at all. Nothing is sent from inside a database transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bank_adapters::signing::{standard_webhooks_signature, WebhookSecret};
use chrono::Utc;
use rand::Rng;
use sqlx::postgres::PgListener;
use sqlx::FromRow;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::app::secrets::{open_webhook_secret, Keyring};
use crate::state::AppState;

const BATCH: i64 = 32;
/// All deliveries in flight from one instance.
const MAX_IN_FLIGHT: usize = 32;
/// How often the failing-endpoint gauge is refreshed.
const HEALTH_GAUGE_EVERY: Duration = Duration::from_secs(15);
/// Response bodies are not read beyond this; the status code is what counts.
const MAX_ERROR_CHARS: usize = 200;

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
}

pub struct Dispatcher {
    state: AppState,
    client: reqwest::Client,
    in_flight: Arc<Semaphore>,
    per_endpoint: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
}

impl Dispatcher {
    pub fn new(state: AppState) -> anyhow::Result<Dispatcher> {
        let client = reqwest::Client::builder()
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
            let full_batch = i64::try_from(claimed.len()).unwrap_or(0) >= BATCH;
            for delivery in claimed {
                let Ok(permit) = dispatcher.in_flight.clone().acquire_owned().await else {
                    break;
                };
                let endpoint_permit = dispatcher.endpoint_permit(delivery.endpoint_id).await;
                let worker = Arc::clone(&dispatcher);
                tokio::spawn(async move {
                    worker.deliver(delivery).await;
                    drop(endpoint_permit);
                    drop(permit);
                });
            }
            if full_batch {
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
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn endpoint_permit(&self, endpoint_id: Uuid) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut map = self.per_endpoint.lock().ok()?;
            Arc::clone(map.entry(endpoint_id).or_insert_with(|| {
                Arc::new(Semaphore::new(
                    self.state.config.webhook_max_in_flight_per_endpoint,
                ))
            }))
        };
        semaphore.acquire_owned().await.ok()
    }

    async fn claim(&self) -> Result<Vec<Claimed>, sqlx::Error> {
        let lease_s = i64::try_from(self.state.config.webhook_lease.as_secs()).unwrap_or(60);
        // language=PostgreSQL
        sqlx::query_as(
            "with due as (
                 select d.id from webhook_deliveries d
                 where d.status = 'pending' and d.next_attempt_at <= now()
                   and (d.leased_until is null or d.leased_until < now())
                   -- Case order: wait while an earlier event of the same case is undelivered
                   -- to this endpoint (a dead-lettered one holds the later ones until retried).
                   and not exists (
                       select 1 from webhook_deliveries earlier
                       where earlier.endpoint_id = d.endpoint_id and earlier.case_key = d.case_key
                         and earlier.seq < d.seq and earlier.status <> 'succeeded')
                 order by d.next_attempt_at
                 limit $1
                 for update skip locked
             )
             update webhook_deliveries d
             set leased_until = now() + $2::bigint * interval '1 second', attempt_count = d.attempt_count + 1
             from due, outbox_events e, webhook_endpoints w
             where d.id = due.id and e.id = d.event_id and w.id = d.endpoint_id
             returning d.id, d.event_id, d.endpoint_id, d.attempt_count, e.payload, w.url, w.secret,
                       case when w.previous_secret_expires_at > now() then w.previous_secret end as previous_secret,
                       w.status as endpoint_status,
                       (extract(epoch from now() - e.created_at) * 1000)::bigint as age_ms",
        )
        .bind(BATCH)
        .bind(lease_s)
        .fetch_all(&self.state.pool)
        .await
    }

    async fn deliver(&self, delivery: Claimed) {
        let started = Instant::now();
        let outcome = self.send(&delivery).await;
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
                if error.is_timeout() {
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
                     last_status_code = $2, last_error = null where id = $1",
            )
            .bind(delivery.id)
            .bind(status_code)
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
                     leased_until = null, last_status_code = $4, last_error = $5 where id = $1",
            )
            .bind(delivery.id)
            .bind(if dead { "dead" } else { "pending" })
            .bind(delay_ms)
            .bind(status_code)
            .bind(&last_error)
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
