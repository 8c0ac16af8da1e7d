//! Webhook endpoints of the workflow system, and their deliveries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{Principal, Role};
use super::outbox::EventType;
use super::pagination::{cursor, Page};
use super::secrets::{webhook_context, Keyring};
use crate::app::error::AppError;
use crate::state::AppState;
use bank_adapters::signing::WebhookSecret;

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

/// The OpenAPI schema of `events`: at least one event type (or `*`), no more than there are.
fn events_schema() -> utoipa::openapi::Array {
    let names: Vec<&str> = std::iter::once("*")
        .chain(EventType::ALL.iter().map(|event| event.name()))
        .collect();
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(super::validation::text_enum(&names))
        .min_items(Some(1))
        .max_items(Some(names.len()))
        .build()
}

#[derive(Debug, Serialize, ToSchema, FromRow)]
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

const ENDPOINT_COLUMNS: &str = "id, url, events, status, health, failing_since, last_success_at, \
    case when previous_secret_expires_at > now() then previous_secret_expires_at end as previous_secret_expires_at, \
    description, created_at";

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

/// Whether `name` (a host name, any case, with or without its final dot) is a cloud metadata
/// service's name.
pub fn refused_name(name: &str) -> bool {
    METADATA_HOSTS.contains(&name.trim_end_matches('.').to_ascii_lowercase().as_str())
}

/// Whether a webhook may not connect to `ip`: link-local (where cloud metadata services
/// answer), the known metadata addresses, "this host" (0.0.0.0/8, `::`) and broadcast, in
/// every spelling that reaches an IPv4 address through IPv6: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4
/// (`2002::/16`) and Teredo (`2001::/32`, the client address).
pub fn refused_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let first = segments.first().copied().unwrap_or(0);
            // fe80::/10 link-local, and AWS's IPv6 metadata address fd00:ec2::254.
            (first & 0xffc0) == 0xfe80
                || segments == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]
                || v6.is_unspecified()
                || embedded_v4(v6).is_some_and(refused_v4)
        }
    }
}

fn refused_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local()
        || v4.octets() == [100, 100, 100, 200]
        || v4.octets().first() == Some(&0)
        || v4.is_broadcast()
}

/// The IPv4 address an IPv6 address stands for, where the network delivers it to one.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let octets = v6.octets();
    let segments = v6.segments();
    let last32 = |octets: &[u8; 16]| {
        Ipv4Addr::new(
            octets.get(12).copied().unwrap_or(0),
            octets.get(13).copied().unwrap_or(0),
            octets.get(14).copied().unwrap_or(0),
            octets.get(15).copied().unwrap_or(0),
        )
    };
    match segments {
        // IPv4-mapped ::ffff:0:0/96.
        [0, 0, 0, 0, 0, 0xffff, _, _] => v6.to_ipv4_mapped(),
        // IPv4-compatible ::/96, except :: and ::1 (their "IPv4" would be 0.0.0.x).
        [0, 0, 0, 0, 0, 0, high, _] if high >> 8 != 0 => v6.to_ipv4(),
        // NAT64, well-known and local-use prefixes.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Some(last32(&octets)),
        // 6to4: the IPv4 address follows the prefix.
        [0x2002, high, low, ..] => Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))),
        // Teredo: the client's address, inverted, in the last 32 bits.
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(last32(&octets)))),
        _ => None,
    }
}

/// Checks a webhook URL: http(s), a host, and no link-local or metadata target unless the
/// configuration allows it. Loopback and private addresses are accepted (API.md).
pub fn validate_url(raw: &str, allow_link_local: bool) -> Result<url::Url, AppError> {
    let invalid = |detail: &str| AppError::validation("url", detail.to_owned());
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
        url::Host::Domain(name) => refused_name(name),
    };
    if refused {
        return Err(AppError::unprocessable(
            "webhook_url_refused",
            "Webhook URL refused",
            "link-local and cloud-metadata addresses are refused (set WEBHOOK_ALLOW_LINK_LOCAL=true to allow)",
        )
        .with("parameter", "url"));
    }
    Ok(url)
}

fn validate_events(events: &[String]) -> Result<(), AppError> {
    if events.is_empty() || events.len() > EventType::ALL.len() + 1 {
        return Err(AppError::validation(
            "events",
            "events must list 1 or more event types",
        ));
    }
    for event in events {
        if event != "*" && EventType::from_name(event).is_none() {
            return Err(AppError::validation(
                "events",
                format!(
                    "unknown event type {event:?}; known: {}",
                    EventType::names()
                ),
            ));
        }
    }
    Ok(())
}

fn validate_description(description: Option<&str>) -> Result<(), AppError> {
    if description.is_some_and(|text| text.chars().count() > 200) {
        return Err(AppError::validation(
            "description",
            "description must be at most 200 characters",
        ));
    }
    Ok(())
}

/// The secret as stored: sealed with `SECRETS_KEY` for this endpoint (app::secrets).
fn seal_secret(state: &AppState, id: Uuid, secret: &WebhookSecret) -> Result<String, AppError> {
    Keyring::from_config(&state.config)
        .and_then(|keyring| keyring.seal(&webhook_context(id), secret.as_whsec().as_bytes()))
        .map_err(AppError::internal)
}

pub async fn create_endpoint(
    state: &AppState,
    principal: &Principal,
    request: CreateEndpointRequest,
) -> Result<CreatedEndpointView, AppError> {
    principal.require(&[Role::Admin])?;
    let url = validate_url(&request.url, state.config.webhook_allow_link_local)?;
    if request.events.is_empty() || request.events.len() > EventType::ALL.len() + 1 {
        return Err(AppError::validation(
            "events",
            "events must list 1 or more event types",
        ));
    }
    for event in &request.events {
        if event != "*" && EventType::from_name(event).is_none() {
            return Err(AppError::validation(
                "events",
                format!(
                    "unknown event type {event:?}; known: {}",
                    EventType::names()
                ),
            ));
        }
    }
    if request
        .description
        .as_ref()
        .is_some_and(|text| text.chars().count() > 200)
    {
        return Err(AppError::validation(
            "description",
            "description must be at most 200 characters",
        ));
    }
    let secret = WebhookSecret::generate();
    let id = Uuid::now_v7();
    let sealed = seal_secret(state, id, &secret)?;
    // language=PostgreSQL
    let endpoint: EndpointView = sqlx::query_as(
        "insert into webhook_endpoints (id, url, events, secret, description) values ($1, $2, $3, $4, $5)
         returning id, url, events, status, health, failing_since, last_success_at, previous_secret_expires_at, description, created_at",
    )
    .bind(id)
    .bind(url.as_str())
    .bind(&request.events)
    .bind(&sealed)
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
) -> Result<Vec<EndpointView>, AppError> {
    principal.require(&[Role::Admin])?;
    let rows: Vec<EndpointView> = sqlx::query_as(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints order by created_at, id"
    ))
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
    super::validation::text_enum(&["pending", "succeeded", "dead"])
}

const DELIVERY_COLUMNS: &str =
    "d.id, d.event_id, e.event_type, d.endpoint_id, d.status, d.attempt_count, d.next_attempt_at, \
    d.last_status_code, d.last_error, d.created_at, d.delivered_at";

pub async fn list_deliveries(
    state: &AppState,
    principal: &Principal,
    query: DeliveriesQuery,
) -> Result<Page<DeliveryView>, AppError> {
    principal.require(&[Role::Admin])?;
    let limit = cursor::limit(query.limit)?;
    if query
        .status
        .as_deref()
        .is_some_and(|status| !matches!(status, "pending" | "succeeded" | "dead"))
    {
        return Err(AppError::validation(
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
) -> Result<DeliveryView, AppError> {
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
    let row = row.ok_or_else(|| AppError::not_found("webhook delivery"))?;
    if updated == 0 {
        return Err(AppError::invalid_state(
            "this delivery has already succeeded",
        ));
    }
    sqlx::query("select pg_notify('webhook_deliveries', '')")
        .execute(&state.pool)
        .await?;
    Ok(row)
}

pub async fn get_endpoint(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<EndpointView, AppError> {
    principal.require(&[Role::Admin])?;
    let row: Option<EndpointView> = sqlx::query_as(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints where id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    row.ok_or_else(|| AppError::not_found("webhook endpoint"))
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

pub async fn update_endpoint(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    request: UpdateEndpointRequest,
) -> Result<EndpointView, AppError> {
    principal.require(&[Role::Admin])?;
    let url = request
        .url
        .as_deref()
        .map(|raw| validate_url(raw, state.config.webhook_allow_link_local))
        .transpose()?;
    if let Some(events) = &request.events {
        validate_events(events)?;
    }
    if request
        .status
        .as_deref()
        .is_some_and(|status| !matches!(status, "active" | "disabled"))
    {
        return Err(AppError::validation(
            "status",
            "status must be active or disabled",
        ));
    }
    validate_description(request.description.as_deref())?;
    // language=PostgreSQL
    let updated = sqlx::query(
        "update webhook_endpoints set url = coalesce($2, url), events = coalesce($3, events),
             status = coalesce($4, status), description = coalesce($5, description), updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(url.as_ref().map(url::Url::as_str))
    .bind(request.events.as_deref())
    .bind(request.status.as_deref())
    .bind(request.description.as_deref())
    .execute(&state.pool)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(AppError::not_found("webhook endpoint"));
    }
    if request.status.as_deref() == Some("active") {
        // Pending deliveries held while it was disabled may go now.
        sqlx::query("select pg_notify('webhook_deliveries', '')")
            .execute(&state.pool)
            .await?;
    }
    get_endpoint(state, principal, id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {
    /// How long the old secret keeps being signed with, in seconds (default 86400, at most 7 days).
    #[schema(minimum = 0, maximum = 604800)]
    #[serde(default, deserialize_with = "super::validation::whole_number")]
    pub keep_previous_for_s: Option<i64>,
}

/// Makes a new secret; the old one is still used to sign, beside the new, for a while, so the
/// workflow system can switch without missing a message.
pub async fn rotate_secret(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    request: RotateSecretRequest,
) -> Result<CreatedEndpointView, AppError> {
    principal.require(&[Role::Admin])?;
    let keep_s = request.keep_previous_for_s.unwrap_or(86_400);
    if !(0..=7 * 86_400).contains(&keep_s) {
        return Err(AppError::validation(
            "keep_previous_for_s",
            "keep_previous_for_s must be between 0 and 604800",
        ));
    }
    let secret = WebhookSecret::generate();
    let sealed = seal_secret(state, id, &secret)?;
    // language=PostgreSQL
    let updated = sqlx::query(
        "update webhook_endpoints
         set previous_secret = case when $3 > 0 then secret end,
             previous_secret_expires_at = case when $3 > 0 then now() + $3::bigint * interval '1 second' end,
             secret = $2, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(&sealed)
    .bind(keep_s)
    .execute(&state.pool)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(AppError::not_found("webhook endpoint"));
    }
    tracing::info!(endpoint.id = %id, "webhook secret rotated");
    let endpoint = get_endpoint(state, principal, id).await?;
    Ok(CreatedEndpointView {
        endpoint,
        secret: secret.as_whsec(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetriedView {
    pub retried: u64,
}

/// Puts every dead-lettered delivery of an endpoint back in the queue, in case order.
pub async fn retry_dead(
    state: &AppState,
    principal: &Principal,
    endpoint_id: Uuid,
) -> Result<RetriedView, AppError> {
    principal.require(&[Role::Admin])?;
    get_endpoint(state, principal, endpoint_id).await?;
    let retried = sqlx::query(
        "update webhook_deliveries set status = 'pending', next_attempt_at = now(), leased_until = null
         where endpoint_id = $1 and status = 'dead'",
    )
    .bind(endpoint_id)
    .execute(&state.pool)
    .await?
    .rows_affected();
    sqlx::query("select pg_notify('webhook_deliveries', '')")
        .execute(&state.pool)
        .await?;
    Ok(RetriedView { retried })
}

#[derive(Debug, Serialize, ToSchema, FromRow)]
pub struct DeliveryAttemptView {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

pub async fn delivery_attempts(
    state: &AppState,
    principal: &Principal,
    delivery_id: Uuid,
) -> Result<Vec<DeliveryAttemptView>, AppError> {
    principal.require(&[Role::Admin])?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from webhook_deliveries where id = $1)")
            .bind(delivery_id)
            .fetch_one(&state.pool)
            .await?;
    if !exists {
        return Err(AppError::not_found("webhook delivery"));
    }
    let rows: Vec<DeliveryAttemptView> = sqlx::query_as(
        "select attempted_at, status_code, latency_ms, error from webhook_attempts where delivery_id = $1 order by attempted_at, id limit 500",
    )
    .bind(delivery_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows)
}
