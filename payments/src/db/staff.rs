//! Staff accounts (people who log in) and the record of what they did.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// A new person's row.
pub struct NewUser<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub office_codes: &'a [String],
    pub password_hash: &'a str,
}

/// Inserts the person; `false` when the username is taken.
pub async fn insert_user(conn: &mut PgConnection, user: NewUser<'_>) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let inserted = sqlx::query!(
        "insert into staff_users (id, username, name, role, office_codes, password_hash)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (username) do nothing",
        user.id,
        user.username,
        user.name,
        user.role,
        user.office_codes,
        user.password_hash,
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A person's row as login and approval read it.
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub role: String,
    pub office_codes: Vec<String>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub failed_logins: i32,
    pub locked_until: Option<chrono::DateTime<chrono::Utc>>,
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The person with this username, locked for update with `lock` (a login counts its failures
/// on the row).
pub async fn user_by_username(
    conn: &mut PgConnection,
    username: &str,
    lock: bool,
) -> Result<Option<UserRow>, sqlx::Error> {
    if lock {
        // language=PostgreSQL
        sqlx::query_as!(
            UserRow,
            "select id, username, name, role, office_codes, password_hash, must_change_password,
                    failed_logins, locked_until, disabled_at
             from staff_users where username = $1 for update",
            username
        )
        .fetch_optional(conn)
        .await
    } else {
        // language=PostgreSQL
        sqlx::query_as!(
            UserRow,
            "select id, username, name, role, office_codes, password_hash, must_change_password,
                    failed_logins, locked_until, disabled_at
             from staff_users where username = $1",
            username
        )
        .fetch_optional(conn)
        .await
    }
}

/// One staff action (API key or person) for the audit trail.
pub struct NewAction<'a> {
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub action: &'a str,
    pub office_code: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub detail: Value,
}

/// Appends the action.
pub async fn insert_action(
    executor: impl PgExecutor<'_>,
    action: NewAction<'_>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into staff_actions (user_id, session_id, api_key_id, action, office_code, subject, detail)
         values ($1, $2, $3, $4, $5, $6, $7)",
        action.user_id,
        action.session_id,
        action.api_key_id,
        action.action,
        action.office_code,
        action.subject,
        action.detail,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Counts a failed login; locks the account until `lock_until` when this failure reaches
/// `limit`. Returns the count and the lock now in force.
pub async fn count_failed_login(
    conn: &mut PgConnection,
    id: Uuid,
    limit: i32,
    lock_until: DateTime<Utc>,
) -> Result<(i32, Option<DateTime<Utc>>), sqlx::Error> {
    // language=PostgreSQL
    let row = sqlx::query!(
        "update staff_users
         set failed_logins = failed_logins + 1,
             locked_until = case when failed_logins + 1 >= $2 then $3 else locked_until end
         where id = $1
         returning failed_logins, locked_until",
        id,
        limit,
        lock_until,
    )
    .fetch_one(conn)
    .await?;
    Ok((row.failed_logins, row.locked_until))
}

/// A successful login: the count of failures starts again and an expired lock is cleared.
pub async fn reset_failed_logins(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update staff_users set failed_logins = 0, locked_until = null where id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A new session's row.
pub struct NewSession<'a> {
    pub id: Uuid,
    pub token_hash: &'a [u8],
    pub user_id: Uuid,
    pub csrf_token: &'a str,
    pub expires_at: DateTime<Utc>,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

pub async fn insert_session(
    conn: &mut PgConnection,
    session: NewSession<'_>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "insert into staff_sessions (id, token_hash, user_id, csrf_token, expires_at, client_ip, user_agent)
         values ($1, $2, $3, $4, $5, $6, $7)",
        session.id,
        session.token_hash,
        session.user_id,
        session.csrf_token,
        session.expires_at,
        session.client_ip,
        session.user_agent,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A live-or-not session with its person, as every console request resolves it.
pub struct SessionRow {
    pub id: Uuid,
    pub csrf_token: String,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub user_id: Uuid,
    pub username: String,
    pub name: String,
    pub role: String,
    pub office_codes: Vec<String>,
    pub must_change_password: bool,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The session whose token hashes to `token_hash` (by the unique index), with its person.
pub async fn session_by_token_hash(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<SessionRow>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        SessionRow,
        "select s.id, s.csrf_token, s.last_seen_at, s.expires_at, s.ended_at,
                u.id as user_id, u.username, u.name, u.role, u.office_codes,
                u.must_change_password, u.disabled_at
         from staff_sessions s join staff_users u on u.id = s.user_id
         where s.token_hash = $1",
        token_hash
    )
    .fetch_optional(conn)
    .await
}

/// Marks the session used now.
pub async fn touch_session(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update staff_sessions set last_seen_at = $2 where id = $1 and ended_at is null",
        id,
        now
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Ends one session (if still open) with `reason`; whether it was open.
pub async fn end_session(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    let ended = sqlx::query!(
        "update staff_sessions set ended_at = now(), ended_reason = $2
         where id = $1 and ended_at is null",
        id,
        reason
    )
    .execute(executor)
    .await?;
    Ok(ended.rows_affected() == 1)
}

/// Ends every open session of a person but `keep`, with `reason`; how many.
pub async fn end_user_sessions(
    executor: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    // language=PostgreSQL
    let ended = sqlx::query!(
        "update staff_sessions set ended_at = now(), ended_reason = $3
         where user_id = $1 and ended_at is null and id is distinct from $2",
        user_id,
        keep,
        reason
    )
    .execute(executor)
    .await?;
    Ok(ended.rows_affected())
}

/// A person's password hash, for the password change's check of the current one.
pub async fn password_hash(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "select password_hash from staff_users where id = $1 for update",
        user_id
    )
    .fetch_optional(conn)
    .await
}

/// Sets a new password; `must_change` for an operator's reset (which also unlocks).
pub async fn set_password(
    conn: &mut PgConnection,
    user_id: Uuid,
    password_hash: &str,
    must_change: bool,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update staff_users
         set password_hash = $2, must_change_password = $3, password_changed_at = now(),
             failed_logins = 0, locked_until = null
         where id = $1",
        user_id,
        password_hash,
        must_change
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Disables a person by username; their id, or `None` when no such person. Disabling twice
/// keeps the first time.
pub async fn disable_user(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        "update staff_users set disabled_at = coalesce(disabled_at, now())
         where username = $1 returning id",
        username
    )
    .fetch_optional(conn)
    .await
}

/// One person as `payments users list` prints it: never the hash.
#[derive(Debug, serde::Serialize)]
pub struct UserListing {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub role: String,
    pub offices: Vec<String>,
    pub must_change_password: bool,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub disabled: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
}

/// Every person, oldest first.
pub async fn list_users(conn: &mut PgConnection) -> Result<Vec<UserListing>, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_as!(
        UserListing,
        "select id, username, name, role, office_codes as offices, must_change_password,
                failed_logins, locked_until, disabled_at as disabled, created_at as created
         from staff_users order by created_at, id"
    )
    .fetch_all(conn)
    .await
}

/// Whether a person has this username.
pub async fn user_exists(conn: &mut PgConnection, username: &str) -> Result<bool, sqlx::Error> {
    // language=PostgreSQL
    sqlx::query_scalar!(
        r#"select exists(select 1 from staff_users where username = $1) as "exists!""#,
        username
    )
    .fetch_one(conn)
    .await
}

/// The demo seed's people have a known password and are not asked to change it.
pub async fn mark_password_chosen(
    conn: &mut PgConnection,
    username: &str,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "update staff_users set must_change_password = false where username = $1",
        username
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The password hashes of the enabled people among `usernames` (the production check of the
/// demo people).
pub async fn enabled_hashes(
    executor: impl PgExecutor<'_>,
    usernames: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    // language=PostgreSQL
    let rows = sqlx::query!(
        "select username, password_hash from staff_users
         where username = any($1) and disabled_at is null",
        usernames
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.username, row.password_hash))
        .collect())
}
