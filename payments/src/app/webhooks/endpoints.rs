//! Webhook endpoints: registered, read, changed and given new secrets by an admin.

use uuid::Uuid;

use super::targets::validate_url;
use crate::app::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::app::outbox::EventType;
use crate::app::pagination::{ListQuery, Page};
use crate::app::secrets::webhook_context;
use crate::db::webhooks::endpoints::{self as store, Endpoint, EndpointChanges, NewEndpoint};
use crate::db::webhooks::notify_dispatchers;
use crate::state::AppState;
use bank_adapters::signing::WebhookSecret;

/// A new endpoint: where to, which event types (or `*`), and a note.
pub struct CreateEndpoint {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// An endpoint with its new secret, shown once.
pub struct CreatedEndpoint {
    pub endpoint: Endpoint,
    pub secret: String,
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
    state
        .keyring
        .seal(&webhook_context(id), secret.as_whsec().as_bytes())
        .map_err(AppError::internal)
}

#[tracing::instrument(skip_all)]
pub async fn create_endpoint(
    state: &AppState,
    principal: &Principal,
    request: CreateEndpoint,
) -> Result<CreatedEndpoint, AppError> {
    principal.require(&[Role::Admin])?;
    let url = validate_url(&request.url, state.config.webhook_allow_link_local)?;
    validate_events(&request.events)?;
    validate_description(request.description.as_deref())?;
    let secret = WebhookSecret::generate();
    let id = Uuid::now_v7();
    let sealed = seal_secret(state, id, &secret)?;
    let endpoint = store::insert(
        &state.pool,
        NewEndpoint {
            id,
            url: url.as_str(),
            events: &request.events,
            sealed_secret: &sealed,
            description: request.description.as_deref(),
        },
    )
    .await?;
    tracing::info!(endpoint.id = %id, "webhook endpoint registered");
    Ok(CreatedEndpoint {
        endpoint,
        secret: secret.as_whsec(),
    })
}

/// One page of the endpoints, oldest first (a short list, read whole and cut).
#[tracing::instrument(skip_all)]
pub async fn list_endpoints(
    state: &AppState,
    principal: &Principal,
    query: ListQuery,
) -> Result<Page<Endpoint>, AppError> {
    principal.require(&[Role::Admin])?;
    let endpoints = store::list(&state.pool).await?;
    Page::cut(
        endpoints,
        query.limit,
        query.cursor.as_deref(),
        |endpoint| endpoint.id.to_string(),
    )
}

#[tracing::instrument(skip_all, fields(endpoint.id = %id))]
pub async fn get_endpoint(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<Endpoint, AppError> {
    principal.require(&[Role::Admin])?;
    store::get(&state.pool, id)
        .await?
        .ok_or_else(|| AppError::not_found("webhook endpoint"))
}

/// What an update changes; `None` leaves a field as it is.
pub struct UpdateEndpoint {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `active` or `disabled`. A disabled endpoint gets no new deliveries; pending ones wait.
    pub status: Option<String>,
    pub description: Option<String>,
}

#[tracing::instrument(skip_all, fields(endpoint.id = %id))]
pub async fn update_endpoint(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    request: UpdateEndpoint,
) -> Result<Endpoint, AppError> {
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
    let changes = EndpointChanges {
        url: url.as_ref().map(url::Url::as_str),
        events: request.events.as_deref(),
        status: request.status.as_deref(),
        description: request.description.as_deref(),
    };
    if !store::update(&state.pool, id, changes).await? {
        return Err(AppError::not_found("webhook endpoint"));
    }
    if request.status.as_deref() == Some("active") {
        // Pending deliveries held while it was disabled may go now.
        notify_dispatchers(&state.pool).await?;
    }
    get_endpoint(state, principal, id).await
}

/// Makes a new secret; the old one is still used to sign, beside the new, for a while, so the
/// workflow system can switch without missing a message.
#[tracing::instrument(skip_all, fields(endpoint.id = %id))]
pub async fn rotate_secret(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    keep_previous_for_s: Option<i64>,
) -> Result<CreatedEndpoint, AppError> {
    principal.require(&[Role::Admin])?;
    let keep_s = keep_previous_for_s.unwrap_or(86_400);
    if !(0..=7 * 86_400).contains(&keep_s) {
        return Err(AppError::validation(
            "keep_previous_for_s",
            "keep_previous_for_s must be between 0 and 604800",
        ));
    }
    let secret = WebhookSecret::generate();
    let sealed = seal_secret(state, id, &secret)?;
    if !store::rotate_secret(&state.pool, id, &sealed, keep_s).await? {
        return Err(AppError::not_found("webhook endpoint"));
    }
    tracing::info!(endpoint.id = %id, "webhook secret rotated");
    let endpoint = get_endpoint(state, principal, id).await?;
    Ok(CreatedEndpoint {
        endpoint,
        secret: secret.as_whsec(),
    })
}
