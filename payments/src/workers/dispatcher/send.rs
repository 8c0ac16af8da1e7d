//! Sending one claimed delivery: signed (Standard Webhooks), its lease renewed while the
//! request is in flight, its answer recorded.

use std::time::{Duration, Instant};

use bank_adapters::signing::{standard_webhooks_signature, WebhookSecret};
use chrono::Utc;

use super::Dispatcher;
use crate::app::secrets::open_webhook_secret;
use crate::app::webhooks::validate_url;
use crate::db::webhooks::dispatch::ClaimedDelivery;
use crate::workers::webhook_dns::refusal;

/// A lease in flight is renewed this many times per lease period, so a slow database round
/// trip does not let it lapse.
const RENEWALS_PER_LEASE: u32 = 3;

impl Dispatcher {
    #[tracing::instrument(skip_all, fields(delivery.id = %delivery.id, endpoint.id = %delivery.endpoint_id))]
    pub(super) async fn deliver(&self, mut delivery: ClaimedDelivery) {
        let started = Instant::now();
        let outcome = self.send_renewing(&mut delivery).await;
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

    /// Sends while the lease is renewed beside the request: however long the endpoint takes,
    /// no other instance claims this delivery meanwhile. Leaves the latest lease in `delivery`.
    async fn send_renewing(&self, delivery: &mut ClaimedDelivery) -> Result<u16, String> {
        let every = (self.lease() / RENEWALS_PER_LEASE).max(Duration::from_millis(100));
        let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut lease = delivery.leased_until;
        let outcome = {
            let send = self.send(delivery);
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
        outcome
    }

    async fn send(&self, delivery: &ClaimedDelivery) -> Result<u16, String> {
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
        let body = serde_json::to_vec(&delivery.payload).map_err(|error| error.to_string())?;
        let message_id = delivery.event_id.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = self.signature(delivery, &message_id, timestamp, &body)?;
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

    /// The `webhook-signature` header: with the current secret, and during a rotation also
    /// with the previous one, so receivers can switch secrets at leisure.
    fn signature(
        &self,
        delivery: &ClaimedDelivery,
        message_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<String, String> {
        // Stored sealed with SECRETS_KEY (plaintext only in rows from before sealing).
        let keyring = &self.state.keyring;
        let open = |stored: &str| {
            open_webhook_secret(keyring, delivery.endpoint_id, stored)
                .ok()
                .and_then(|raw| WebhookSecret::parse(&raw).ok())
        };
        let secret =
            open(&delivery.secret).ok_or_else(|| "endpoint secret unreadable".to_owned())?;
        let mut signature = standard_webhooks_signature(&secret, message_id, timestamp, body);
        if let Some(previous) = delivery.previous_secret.as_deref().and_then(open) {
            signature.push(' ');
            signature.push_str(&standard_webhooks_signature(
                &previous, message_id, timestamp, body,
            ));
        }
        Ok(signature)
    }
}
