//! The JSON of the webhook routes: requests, each turned into the app's command, and views,
//! each rendered from the app's record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::outbox::EventType;
use crate::app::webhooks::{self, CreateEndpoint, CreatedEndpoint, UpdateEndpoint};
use crate::db::webhooks::deliveries::{Delivery, DeliveryAttempt};
use crate::db::webhooks::endpoints::Endpoint;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    #[schema(
        example = "https://workflow.example.gov.kh/owso-pay/events",
        format = "uri"
    )]
    pub url: String,
    /// Event types to receive; `["*"]` for all.
    #[schema(schema_with = events_schema)]
    pub events: Vec<String>,
    pub description: Option<String>,
}

impl From<CreateEndpointRequest> for CreateEndpoint {
    fn from(request: CreateEndpointRequest) -> CreateEndpoint {
        CreateEndpoint {
            url: request.url,
            events: request.events,
            description: request.description,
        }
    }
}

/// The OpenAPI schema of `events`: at least one event type (or `*`), no more than there are.
fn events_schema() -> utoipa::openapi::Array {
    let names: Vec<&str> = std::iter::once("*")
        .chain(EventType::ALL.iter().map(|event| event.name()))
        .collect();
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(crate::app::validation::text_enum(&names))
        .min_items(Some(1))
        .max_items(Some(names.len()))
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpointRequest {
    #[schema(format = "uri")]
    pub url: Option<String>,
    #[schema(schema_with = optional_events_schema)]
    pub events: Option<Vec<String>>,
    /// `active` or `disabled`. A disabled endpoint gets no new deliveries; pending ones wait.
    #[schema(schema_with = endpoint_status_schema)]
    pub status: Option<String>,
    pub description: Option<String>,
}

impl From<UpdateEndpointRequest> for UpdateEndpoint {
    fn from(request: UpdateEndpointRequest) -> UpdateEndpoint {
        UpdateEndpoint {
            url: request.url,
            events: request.events,
            status: request.status,
            description: request.description,
        }
    }
}

/// `events` of an update: as on create, or null (unchanged).
fn optional_events_schema() -> utoipa::openapi::Schema {
    utoipa::openapi::Schema::OneOf(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(events_schema())
            .item(utoipa::openapi::schema::Object::with_type(
                utoipa::openapi::schema::Type::Null,
            ))
            .build(),
    )
}

/// `status` of an update: `active`, `disabled`, or null (unchanged).
fn endpoint_status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Null,
        ]))
        .enum_values(Some([Some("active"), Some("disabled"), None]))
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {
    /// How long the old secret keeps being signed with, in seconds (default 86400, at most 7 days).
    #[schema(minimum = 0, maximum = 604800)]
    #[serde(default, deserialize_with = "crate::app::validation::whole_number")]
    pub keep_previous_for_s: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    pub endpoint_id: Option<Uuid>,
    #[param(schema_with = delivery_status_schema)]
    pub status: Option<String>,
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn delivery_status_schema() -> utoipa::openapi::Object {
    crate::app::validation::text_enum(&["pending", "succeeded", "dead"])
}

impl From<DeliveriesQuery> for webhooks::DeliveriesQuery {
    fn from(query: DeliveriesQuery) -> webhooks::DeliveriesQuery {
        webhooks::DeliveriesQuery {
            endpoint_id: query.endpoint_id,
            status: query.status,
            limit: query.limit,
            cursor: query.cursor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    /// `active` or `disabled` (set by an admin).
    pub status: String,
    /// `healthy`, or `failing` once deliveries have failed for as long as they are retried.
    pub health: String,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Until when the previous secret is still signed with, after a rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Endpoint> for EndpointView {
    fn from(endpoint: Endpoint) -> EndpointView {
        EndpointView {
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint.events,
            status: endpoint.status,
            health: endpoint.health,
            failing_since: endpoint.failing_since,
            last_success_at: endpoint.last_success_at,
            previous_secret_expires_at: endpoint.previous_secret_expires_at,
            description: endpoint.description,
            created_at: endpoint.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpointView {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// Shown once: keep it to verify signatures.
    pub secret: String,
}

impl From<CreatedEndpoint> for CreatedEndpointView {
    fn from(created: CreatedEndpoint) -> CreatedEndpointView {
        CreatedEndpointView {
            endpoint: created.endpoint.into(),
            secret: created.secret,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub endpoint_id: Uuid,
    pub status: String,
    pub attempt_count: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for DeliveryView {
    fn from(delivery: Delivery) -> DeliveryView {
        DeliveryView {
            id: delivery.id,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            endpoint_id: delivery.endpoint_id,
            status: delivery.status,
            attempt_count: delivery.attempt_count,
            next_attempt_at: delivery.next_attempt_at,
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error,
            created_at: delivery.created_at,
            delivered_at: delivery.delivered_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttemptView {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

impl From<DeliveryAttempt> for DeliveryAttemptView {
    fn from(attempt: DeliveryAttempt) -> DeliveryAttemptView {
        DeliveryAttemptView {
            attempted_at: attempt.attempted_at,
            status_code: attempt.status_code,
            latency_ms: attempt.latency_ms,
            error: attempt.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetriedView {
    pub retried: u64,
}
