//! Staff accounts (people who log in) and the record of what they did.

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
