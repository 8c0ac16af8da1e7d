//! Webhook endpoints: registered by an admin, each with its sealed signing secret.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// An endpoint as the admin sees it (never its secret).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub status: String,
    pub health: String,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Null once it has passed: the previous secret is no longer signed with.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What a new endpoint is registered with.
pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub url: &'a str,
    pub events: &'a [String],
    pub sealed_secret: &'a str,
    pub description: Option<&'a str>,
}

pub async fn insert(
    conn: impl PgExecutor<'_>,
    endpoint: NewEndpoint<'_>,
) -> Result<Endpoint, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        Endpoint,
        "insert into webhook_endpoints (id, url, events, secret, description) values ($1, $2, $3, $4, $5)
         returning id, url, events, status, health, failing_since, last_success_at, previous_secret_expires_at, description, created_at",
        endpoint.id,
        endpoint.url,
        endpoint.events,
        endpoint.sealed_secret,
        endpoint.description,
    )
    .fetch_one(conn)
    .await
}

/// Every endpoint, oldest first (a short list, read whole).
pub async fn list(conn: impl PgExecutor<'_>) -> Result<Vec<Endpoint>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        Endpoint,
        r#"select id, url, events, status, health, failing_since, last_success_at,
               case when previous_secret_expires_at > now() then previous_secret_expires_at end
                   as "previous_secret_expires_at?",
               description, created_at
           from webhook_endpoints order by created_at, id"#
    )
    .fetch_all(conn)
    .await
}

pub async fn get(conn: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Endpoint>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        Endpoint,
        r#"select id, url, events, status, health, failing_since, last_success_at,
               case when previous_secret_expires_at > now() then previous_secret_expires_at end
                   as "previous_secret_expires_at?",
               description, created_at
           from webhook_endpoints where id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The fields an update may change; `None` leaves one as it is.
pub struct EndpointChanges<'a> {
    pub url: Option<&'a str>,
    pub events: Option<&'a [String]>,
    pub status: Option<&'a str>,
    pub description: Option<&'a str>,
}

/// Applies `changes`; false when there is no such endpoint.
pub async fn update(
    conn: impl PgExecutor<'_>,
    id: Uuid,
    changes: EndpointChanges<'_>,
) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let updated = sqlx::query!(
        "update webhook_endpoints set url = coalesce($2, url), events = coalesce($3, events),
             status = coalesce($4, status), description = coalesce($5, description), updated_at = now()
         where id = $1",
        id,
        changes.url,
        changes.events,
        changes.status,
        changes.description,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// Replaces the secret, keeping the old one signed with for `keep_s` seconds (not at all for
/// 0); false when there is no such endpoint.
pub async fn rotate_secret(
    conn: impl PgExecutor<'_>,
    id: Uuid,
    sealed_secret: &str,
    keep_s: i64,
) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let updated = sqlx::query!(
        "update webhook_endpoints
         set previous_secret = case when $3::bigint > 0 then secret end,
             previous_secret_expires_at = case when $3 > 0 then now() + $3::bigint * interval '1 second' end,
             secret = $2, updated_at = now()
         where id = $1",
        id,
        sealed_secret,
        keep_s,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated > 0)
}
