//! Claims under a lease, sized to the permits that are free, and the lease's renewals.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::{Dispatcher, BATCH};
use crate::db::webhooks::dispatch::{self as store, ClaimRoom, ClaimedDelivery};

impl Dispatcher {
    fn endpoint_semaphore(&self, endpoint_id: Uuid) -> Option<Arc<Semaphore>> {
        let mut map = self.per_endpoint.lock().ok()?;
        Some(Arc::clone(map.entry(endpoint_id).or_insert_with(|| {
            Arc::new(Semaphore::new(
                self.state.config.webhook_max_in_flight_per_endpoint,
            ))
        })))
    }

    /// A permit for one more delivery to `endpoint_id`, if one is free now (never waits).
    pub(super) fn endpoint_permit(&self, endpoint_id: Uuid) -> Option<OwnedSemaphorePermit> {
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

    pub(super) fn lease(&self) -> Duration {
        self.state.config.webhook_lease
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease().as_millis()).unwrap_or(i64::MAX)
    }

    /// Moves the lease of a delivery in flight on by a lease period, if it is still `held`;
    /// returns the new lease, or `None` when it was lost (or the database did not answer,
    /// in which case the next renewal tries again with the same one).
    pub(super) async fn renew(
        &self,
        delivery_id: Uuid,
        held: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match store::renew(&self.state.pool, delivery_id, held, self.lease_ms()).await {
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
    pub(super) async fn claim(&self) -> Result<Vec<ClaimedDelivery>, sqlx::Error> {
        let room = i64::try_from(self.in_flight.available_permits())
            .unwrap_or(0)
            .min(BATCH);
        if room == 0 {
            return Ok(Vec::new());
        }
        let (endpoints, free) = self.free_permits();
        let busy: Vec<Uuid> = endpoints
            .iter()
            .zip(&free)
            .filter(|(_, free)| **free <= 0)
            .map(|(id, _)| *id)
            .collect();
        let per_endpoint =
            i32::try_from(self.state.config.webhook_max_in_flight_per_endpoint).unwrap_or(1);
        let room = ClaimRoom {
            room,
            lease_ms: self.lease_ms(),
            busy: &busy,
            endpoints: &endpoints,
            free: &free,
            per_endpoint,
        };
        store::claim(&self.state.pool, room).await
    }

    /// Hands back claims that will not be sent now, as if they had not been claimed.
    pub(super) async fn unclaim(&self, ids: &[Uuid]) {
        if let Err(error) = store::unclaim(&self.state.pool, ids).await {
            // Their leases run out and they are claimed again.
            tracing::warn!(error = %error, "could not hand back webhook deliveries");
        }
    }

    pub(super) async fn refresh_health_gauge(&self) {
        match store::count_failing_endpoints(&self.state.pool).await {
            Ok(count) => metrics::gauge!("owso_webhook_endpoints_failing")
                .set(u32::try_from(count).unwrap_or(u32::MAX)),
            Err(error) => {
                tracing::warn!(error = %error, "could not count failing webhook endpoints")
            }
        }
    }
}
