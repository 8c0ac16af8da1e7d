//! Webhook delivery to the workflow system (Standard Webhooks signatures, at least once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bank_adapters::signing::{standard_webhooks_signature, WebhookSecret};
use chrono::Utc;
use rand::Rng;
use sqlx::postgres::PgListener;
use sqlx::FromRow;
use tokio::sync::{watch, Semaphore};
use uuid::Uuid;

use crate::state::AppState;

/// How long one instance holds a claimed delivery; longer than the request timeout, so a
/// delivery in flight is never sent twice at once, and short enough that a crashed instance's
/// claims come back quickly.
const LEASE_SECONDS: i64 = 60;
const BATCH: i64 = 32;
const MAX_IN_FLIGHT: usize = 16;
/// Retry schedule (API issue 6): about 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then every 12 h.
const BACKOFF_S: [i64; 6] = [5, 30, 120, 600, 3600, 21_600];
const LATER_BACKOFF_S: i64 = 43_200;
/// After this long without success a delivery is dead-lettered (and can be retried by API).
const GIVE_UP_AFTER_S: i64 = 3 * 24 * 3600;

#[derive(FromRow)]
struct Claimed {
    id: Uuid,
    event_id: Uuid,
    attempt_count: i32,
    payload: serde_json::Value,
    url: String,
    secret: String,
    endpoint_status: String,
    age_s: i64,
}

pub struct Dispatcher {
    state: AppState,
    client: reqwest::Client,
    in_flight: Arc<Semaphore>,
}

impl Dispatcher {
    pub fn new(state: AppState) -> anyhow::Result<Dispatcher> {
        let client = reqwest::Client::builder()
            .timeout(state.config.webhook_timeout)
            .connect_timeout(Duration::from_secs(5))
            // A redirect could carry a signed event somewhere nobody registered.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("OWSO-Pay-Webhooks/1")
            .build()?;
        Ok(Dispatcher {
            state,
            client,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let poll = self.state.config.webhook_poll_interval;
        let mut listener = match PgListener::connect_with(&self.state.pool).await {
            Ok(mut listener) => match listener.listen("webhook_deliveries").await {
                Ok(()) => Some(listener),
                Err(error) => {
                    tracing::warn!(error = %error, "webhook dispatcher cannot LISTEN; falling back to polling");
                    None
                }
            },
            Err(error) => {
                tracing::warn!(error = %error, "webhook dispatcher cannot LISTEN; falling back to polling");
                None
            }
        };
        let dispatcher = Arc::new(self);
        loop {
            if *shutdown.borrow() {
                break;
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
                let worker = Arc::clone(&dispatcher);
                tokio::spawn(async move {
                    worker.deliver(delivery).await;
                    drop(permit);
                });
            }
            if full_batch {
                continue;
            }
            let wait = async {
                match listener.as_mut() {
                    Some(listener) => {
                        let _ = tokio::time::timeout(
                            poll.max(Duration::from_millis(50)) * 4,
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

    async fn claim(&self) -> Result<Vec<Claimed>, sqlx::Error> {
        // language=PostgreSQL
        sqlx::query_as(
            "with due as (
                 select id from webhook_deliveries
                 where status = 'pending' and next_attempt_at <= now()
                   and (leased_until is null or leased_until < now())
                 order by next_attempt_at
                 limit $1
                 for update skip locked
             )
             update webhook_deliveries d
             set leased_until = now() + $2::int * interval '1 second', attempt_count = d.attempt_count + 1
             from due, outbox_events e, webhook_endpoints w
             where d.id = due.id and e.id = d.event_id and w.id = d.endpoint_id
             returning d.id, d.event_id, d.attempt_count, e.payload, w.url, w.secret, w.status as endpoint_status,
                       extract(epoch from now() - d.created_at)::bigint as age_s",
        )
        .bind(BATCH)
        .bind(i32::try_from(LEASE_SECONDS).unwrap_or(60))
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
            // The lease expires and the delivery is tried again: at least once, never lost.
            tracing::warn!(delivery.id = %delivery.id, error = %error, "could not record a webhook attempt");
        }
        let result = if succeeded { "succeeded" } else { "failed" };
        metrics::counter!("owso_webhook_attempts_total", "result" => result).increment(1);
        metrics::histogram!("owso_webhook_delivery_seconds").record(started.elapsed());
    }

    async fn send(&self, delivery: &Claimed) -> Result<u16, String> {
        if delivery.endpoint_status != "active" {
            return Err("endpoint disabled".to_owned());
        }
        let secret = WebhookSecret::parse(&delivery.secret)
            .map_err(|_| "endpoint secret unreadable".to_owned())?;
        let body = serde_json::to_vec(&delivery.payload).map_err(|error| error.to_string())?;
        let message_id = delivery.event_id.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = standard_webhooks_signature(&secret, &message_id, timestamp, &body);
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
        sqlx::query("insert into webhook_attempts (delivery_id, status_code, latency_ms, error) values ($1, $2, $3, $4)")
            .bind(delivery.id)
            .bind(status_code)
            .bind(latency_ms)
            .bind(error)
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
        } else {
            let delay_s = backoff_s(delivery.attempt_count);
            let dead = delivery.age_s.saturating_add(delay_s) > GIVE_UP_AFTER_S;
            let last_error = error.map_or_else(
                || format!("HTTP {}", status_code.unwrap_or(0)),
                str::to_owned,
            );
            sqlx::query(
                "update webhook_deliveries set status = $2, next_attempt_at = now() + $3::int * interval '1 second',
                     leased_until = null, last_status_code = $4, last_error = $5 where id = $1",
            )
            .bind(delivery.id)
            .bind(if dead { "dead" } else { "pending" })
            .bind(i32::try_from(delay_s).unwrap_or(i32::MAX))
            .bind(status_code)
            .bind(&last_error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

/// Delay before the next try after `attempts` tries, with up to 10% jitter so that a recovering
/// endpoint is not hit by every delivery in the same second.
fn backoff_s(attempts: i32) -> i64 {
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(0);
    let base = BACKOFF_S.get(index).copied().unwrap_or(LATER_BACKOFF_S);
    let jitter = rand::thread_rng().gen_range(0..=base / 10);
    base.saturating_add(jitter)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backoff_follows_the_schedule_with_bounded_jitter() {
        for (attempt, base) in [
            (1, 5),
            (2, 30),
            (3, 120),
            (4, 600),
            (5, 3600),
            (6, 21_600),
            (7, 43_200),
            (40, 43_200),
        ] {
            let delay = backoff_s(attempt);
            assert!(
                delay >= base && delay <= base + base / 10,
                "attempt {attempt}: {delay}"
            );
        }
    }
}
