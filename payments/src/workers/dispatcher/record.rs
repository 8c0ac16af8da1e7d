//! The record of an attempt: the attempt row, the delivery done, rescheduled or dead, and the
//! endpoint's health, in one transaction.

use std::time::Duration;

use rand::Rng;
use sqlx::PgConnection;

use super::Dispatcher;
use crate::db::webhooks::dispatch::{self as store, AttemptRecord, ClaimedDelivery, Reschedule};

/// Response bodies are not read beyond this; the status code is what counts.
const MAX_ERROR_CHARS: usize = 200;

impl Dispatcher {
    pub(super) async fn record(
        &self,
        delivery: &ClaimedDelivery,
        succeeded: bool,
        status_code: Option<i32>,
        error: Option<&str>,
        latency_ms: i32,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.state.pool.begin().await?;
        let error: Option<String> = error.map(|text| text.chars().take(MAX_ERROR_CHARS).collect());
        let attempt = AttemptRecord {
            delivery_id: delivery.id,
            status_code,
            latency_ms,
            error: error.as_deref(),
        };
        store::insert_attempt(&mut *tx, &attempt).await?;
        if succeeded {
            store::mark_succeeded(&mut *tx, delivery.id, status_code, delivery.leased_until)
                .await?;
            store::mark_endpoint_healthy(&mut *tx, delivery.endpoint_id).await?;
        } else {
            self.record_failure(&mut tx, delivery, status_code, error)
                .await?;
        }
        tx.commit().await
    }

    /// A failed attempt: the next try after the schedule's delay, or a dead letter once the
    /// event is older than deliveries are retried; the endpoint's failing clock runs.
    async fn record_failure(
        &self,
        conn: &mut PgConnection,
        delivery: &ClaimedDelivery,
        status_code: Option<i32>,
        error: Option<String>,
    ) -> Result<(), sqlx::Error> {
        let delay = retry_delay(
            &self.state.config.webhook_retry_schedule,
            delivery.attempt_count,
        );
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        let give_up_ms =
            i64::try_from(self.state.config.webhook_give_up_after.as_millis()).unwrap_or(i64::MAX);
        let dead = delivery.age_ms.saturating_add(delay_ms) > give_up_ms;
        let last_error = error.unwrap_or_else(|| format!("HTTP {}", status_code.unwrap_or(0)));
        let reschedule = Reschedule {
            delivery_id: delivery.id,
            dead,
            delay_ms,
            status_code,
            last_error: &last_error,
            lease: delivery.leased_until,
        };
        store::reschedule(&mut *conn, &reschedule).await?;
        store::mark_endpoint_failing(&mut *conn, delivery.endpoint_id, give_up_ms).await?;
        if dead {
            metrics::counter!("owso_webhook_dead_letters_total").increment(1);
            tracing::warn!(delivery.id = %delivery.id, event.id = %delivery.event_id, "webhook delivery dead-lettered");
        }
        Ok(())
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
