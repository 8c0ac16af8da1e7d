//! The sealed columns `payments secrets reseal` rewrites: webhook endpoints' signing secrets
//! and intents' pay tokens.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Webhook endpoints with a secret (current or previous) not matching `sealed_pattern`
/// (a `like` pattern naming the current key): plaintext ones, or sealed with a retired key.
pub async fn endpoints_to_reseal(
    executor: impl PgExecutor<'_>,
    sealed_pattern: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "select id from webhook_endpoints
         where secret not like $1 or (previous_secret is not null and previous_secret not like $1)",
        sealed_pattern
    )
    .fetch_all(executor)
    .await
}

/// An endpoint's secrets as stored.
pub struct EndpointSecrets {
    pub secret: String,
    pub previous_secret: Option<String>,
}

/// Locks an endpoint's row for the caller's transaction and reads its secrets; `None` when it
/// is gone.
pub async fn lock_endpoint_secrets(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<EndpointSecrets>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        EndpointSecrets,
        "select secret, previous_secret from webhook_endpoints where id = $1 for update",
        id
    )
    .fetch_optional(conn)
    .await
}

/// Writes an endpoint's secrets (the row locked by [`lock_endpoint_secrets`]).
pub async fn update_endpoint_secrets(
    conn: &mut PgConnection,
    id: Uuid,
    secrets: EndpointSecrets,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update webhook_endpoints set secret = $2, previous_secret = $3 where id = $1",
        id,
        secrets.secret,
        secrets.previous_secret,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An intent's sealed pay token.
pub struct SealedPayToken {
    pub id: Uuid,
    pub pay_token_sealed: String,
}

/// Intents whose pay token is sealed but not under the key `sealed_pattern` names.
pub async fn pay_tokens_to_reseal(
    executor: impl PgExecutor<'_>,
    sealed_pattern: &str,
) -> Result<Vec<SealedPayToken>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        SealedPayToken,
        r#"select id, pay_token_sealed as "pay_token_sealed!" from payment_intents
           where pay_token_sealed is not null and pay_token_sealed not like $1"#,
        sealed_pattern
    )
    .fetch_all(executor)
    .await
}

/// Replaces a pay token if it is still `old` (compare-and-set); the number of rows changed.
pub async fn replace_pay_token(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    old: &str,
    new: &str,
) -> Result<u64, sqlx::Error> {
    // language=PostgreSQL
    let done = sqlx::query!(
        "update payment_intents set pay_token_sealed = $3 where id = $1 and pay_token_sealed = $2",
        id,
        old,
        new
    )
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}
