//! API keys, found by the SHA-256 of their secret (the secret itself is never stored).

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::app::auth::KeyListing;

/// A new key's row.
pub struct NewKey<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub role: &'a str,
    pub office_codes: &'a [String],
    pub key_hash: &'a [u8],
}

/// Inserts the key, or when a key with this hash exists (the demo seed run again), reads it
/// instead of rewriting it; the id of the stored key either way.
pub async fn insert_or_find(conn: &mut PgConnection, key: NewKey<'_>) -> Result<Uuid, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        r#"with inserted as (
               insert into api_keys (id, name, role, office_codes, key_hash) values ($1, $2, $3, $4, $5)
               on conflict (key_hash) do nothing
               returning id)
           select id as "id!" from inserted
           union all
           select id from api_keys where key_hash = $5
           limit 1"#,
        key.id,
        key.name,
        key.role,
        key.office_codes,
        key.key_hash,
    )
    .fetch_one(conn)
    .await
}

/// An active key as a request resolves it.
pub struct ActiveKey {
    pub id: Uuid,
    pub role: String,
    pub office_codes: Vec<String>,
}

/// The key with this hash, unless it is revoked.
pub async fn find_active(
    conn: &mut PgConnection,
    key_hash: &[u8],
) -> Result<Option<ActiveKey>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        ActiveKey,
        "select id, role, office_codes from api_keys where key_hash = $1 and revoked_at is null",
        key_hash
    )
    .fetch_optional(conn)
    .await
}

/// The name of the first active key (by name) whose hash is one of `key_hashes`.
pub async fn first_active_name(
    executor: impl PgExecutor<'_>,
    key_hashes: &[Vec<u8>],
) -> Result<Option<String>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "select name from api_keys where key_hash = any($1) and revoked_at is null order by name limit 1",
        key_hashes
    )
    .fetch_optional(executor)
    .await
}

/// Every key, oldest first.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<KeyListing>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        KeyListing,
        r#"select id, role, office_codes as offices, name, created_at as created, revoked_at as revoked
           from api_keys order by created_at, id"#
    )
    .fetch_all(conn)
    .await
}

/// Revokes a key, keeping the time of a first revocation; `None` when no key has this id.
pub async fn revoke(conn: &mut PgConnection, id: Uuid) -> Result<Option<KeyListing>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        KeyListing,
        r#"update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1
           returning id, role, office_codes as offices, name, created_at as created, revoked_at as revoked"#,
        id
    )
    .fetch_optional(conn)
    .await
}
