//! Webhook endpoints of the workflow system, and their deliveries.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{Principal, Role};
use super::intents::{cursor, Page};
use super::outbox::EVENT_TYPES;
use crate::http::error::ApiError;
use crate::state::AppState;
use bank_adapters::signing::WebhookSecret;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    #[schema(example = "https://workflow.example.gov.kh/owso-pay/events")]
    pub url: String,
    /// Event types to receive; `["*"]` for all.
    pub events: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema, FromRow)]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub status: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpointView {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// Shown once: keep it to verify signatures.
    pub secret: String,
}

/// Cloud metadata services answer on these names and addresses; a webhook pointed at them
/// would let an admin key read instance credentials.
const METADATA_HOSTS: [&str; 3] = ["metadata.google.internal", "metadata", "instance-data"];

fn refused_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.octets() == [100, 100, 100, 200]
                || v4.is_unspecified()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            let first = v6.segments().first().copied().unwrap_or(0);
            // fe80::/10 link-local, and AWS's IPv6 metadata address fd00:ec2::254.
            (first & 0xffc0) == 0xfe80
                || v6.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]
                || v6.is_unspecified()
        }
    }
}

/// Checks a webhook URL: http(s), a host, and no link-local or metadata target unless the
/// configuration allows it. Loopback and private addresses are accepted (API.md).
pub fn validate_url(raw: &str, allow_link_local: bool) -> Result<url::Url, ApiError> {
    let invalid = |detail: &str| ApiError::validation("url", detail.to_owned());
    if raw.len() > 2048 {
        return Err(invalid("url must be at most 2048 characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| invalid("url is not a valid absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("url must use http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url must not carry credentials"));
    }
    let host = url.host().ok_or_else(|| invalid("url must have a host"))?;
    if allow_link_local {
        return Ok(url);
    }
    let refused = match host {
        url::Host::Ipv4(ip) => refused_address(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => refused_address(IpAddr::V6(ip)),
        url::Host::Domain(name) => {
            METADATA_HOSTS.contains(&name.trim_end_matches('.').to_ascii_lowercase().as_str())
        }
    };
    if refused {
        return Err(ApiError::unprocessable(
            "webhook_url_refused",
            "Webhook URL refused",
            "link-local and cloud-metadata addresses are refused (set WEBHOOK_ALLOW_LINK_LOCAL=true to allow)",
        )
        .with("parameter", "url"));
    }
    Ok(url)
}

pub async fn create_endpoint(
    state: &AppState,
    principal: &Principal,
    request: CreateEndpointRequest,
) -> Result<CreatedEndpointView, ApiError> {
    principal.require(&[Role::Admin])?;
    let url = validate_url(&request.url, state.config.webhook_allow_link_local)?;
    if request.events.is_empty() || request.events.len() > EVENT_TYPES.len() + 1 {
        return Err(ApiError::validation(
            "events",
            "events must list 1 or more event types",
        ));
    }
    for event in &request.events {
        if event != "*" && !EVENT_TYPES.contains(&event.as_str()) {
            return Err(ApiError::validation(
                "events",
                format!(
                    "unknown event type {event:?}; known: {}",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
    }
    if request
        .description
        .as_ref()
        .is_some_and(|text| text.chars().count() > 200)
    {
        return Err(ApiError::validation(
            "description",
            "description must be at most 200 characters",
        ));
    }
    let secret = WebhookSecret::generate();
    let id = Uuid::now_v7();
    // language=PostgreSQL
    let endpoint: EndpointView = sqlx::query_as(
        "insert into webhook_endpoints (id, url, events, secret, description) values ($1, $2, $3, $4, $5)
         returning id, url, events, status, description, created_at",
    )
    .bind(id)
    .bind(url.as_str())
    .bind(&request.events)
    .bind(secret.as_whsec())
    .bind(request.description.as_deref())
    .fetch_one(&state.pool)
    .await?;
    tracing::info!(endpoint.id = %id, "webhook endpoint registered");
    Ok(CreatedEndpointView {
        endpoint,
        secret: secret.as_whsec(),
    })
}

pub async fn list_endpoints(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<EndpointView>, ApiError> {
    principal.require(&[Role::Admin])?;
    let rows: Vec<EndpointView> = sqlx::query_as(
        "select id, url, events, status, description, created_at from webhook_endpoints order by created_at, id",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(rows)
}

#[derive(Debug, Serialize, ToSchema, FromRow)]
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    pub endpoint_id: Option<Uuid>,
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

const DELIVERY_COLUMNS: &str =
    "d.id, d.event_id, e.event_type, d.endpoint_id, d.status, d.attempt_count, d.next_attempt_at, \
    d.last_status_code, d.last_error, d.created_at, d.delivered_at";

pub async fn list_deliveries(
    state: &AppState,
    principal: &Principal,
    query: DeliveriesQuery,
) -> Result<Page<DeliveryView>, ApiError> {
    principal.require(&[Role::Admin])?;
    let limit = cursor::limit(query.limit)?;
    if query
        .status
        .as_deref()
        .is_some_and(|status| !matches!(status, "pending" | "succeeded" | "dead"))
    {
        return Err(ApiError::validation(
            "status",
            "status must be pending, succeeded or dead",
        ));
    }
    let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let rows: Vec<DeliveryView> = sqlx::query_as(&format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries d join outbox_events e on e.id = d.event_id
         where ($1::uuid is null or d.endpoint_id = $1) and ($2::text is null or d.status = $2)
           and ($3::timestamptz is null or (d.created_at, d.id) < ($3, $4))
         order by d.created_at desc, d.id desc limit $5"
    ))
    .bind(query.endpoint_id)
    .bind(query.status.as_deref())
    .bind(after.map(|(at, _)| at))
    .bind(after.map(|(_, id)| id))
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(cursor::paginate(rows, limit, |row| {
        (row.created_at, row.id)
    }))
}

/// Puts a delivery back in the queue now. Its `webhook-id` (the event id) does not change.
pub async fn retry_delivery(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<DeliveryView, ApiError> {
    principal.require(&[Role::Admin])?;
    let updated = sqlx::query(
        "update webhook_deliveries set status = 'pending', next_attempt_at = now(), leased_until = null
         where id = $1 and status in ('dead', 'pending')",
    )
    .bind(id)
    .execute(&state.pool)
    .await?
    .rows_affected();
    let row: Option<DeliveryView> = sqlx::query_as(&format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries d join outbox_events e on e.id = d.event_id where d.id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let row = row.ok_or_else(|| ApiError::not_found("webhook delivery"))?;
    if updated == 0 {
        return Err(ApiError::invalid_state(
            "this delivery has already succeeded",
        ));
    }
    sqlx::query("select pg_notify('webhook_deliveries', '')")
        .execute(&state.pool)
        .await?;
    Ok(row)
}
