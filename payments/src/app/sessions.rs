//! Console sessions: a person's login (with lockout), the session every console request and
//! every cookie-carrying API call resolves, logout, and the password change. The cookie holds
//! a random token; only its SHA-256 is stored, so the sessions table logs nobody in.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::json;
use sqlx::PgConnection;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::app::auth::{hash_key, random_token, Principal, Role, Staff};
use crate::app::error::AppError;
use crate::app::staff::{self, hash_password, valid_username, verify_password};
use crate::db;
use crate::state::AppState;

/// Failed logins in a row that lock an account.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// How long a lock lasts: long enough to stop guessing, short enough that a cashier who
/// mistyped is back at work after a break (a supervisor's reset unlocks at once).
pub const LOCK_MINUTES: i64 = 15;
/// A session's last use is written at most this often, so a busy page does not write on every
/// request; the idle timeout is therefore exact to within a minute.
const TOUCH_EVERY_S: i64 = 60;

/// Shortest and longest new password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// Who is logging in and from where (for the session row and the audit trail).
pub struct LoginRequest<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A session just made: the cookie's token (shown to this response only) and what the first
/// page needs.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub must_change_password: bool,
    pub expires_at: DateTime<Utc>,
}

/// Why a login was refused, as the login page words it. Unknown usernames and wrong passwords
/// are the same answer, so the form does not tell which usernames exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginRefusal {
    BadCredentials,
    /// Too many failures: refused until then, even with the right password.
    Locked {
        until: DateTime<Utc>,
    },
    /// The right password for a disabled account.
    Disabled,
}

/// The outcome label of `owso_staff_logins_total` and of the audit row.
fn count(outcome: &'static str) {
    metrics::counter!("owso_staff_logins_total", "outcome" => outcome).increment(1);
}

/// Checks a username and password and, when they are right and the account is usable, opens
/// a session. Every attempt is counted, and every failure logged (never the password) and
/// recorded in `staff_actions`, in one transaction with the failure count.
#[tracing::instrument(skip_all, fields(staff.username = %request.username))]
pub async fn login(
    state: &AppState,
    request: LoginRequest<'_>,
) -> Result<Result<NewSession, LoginRefusal>, AppError> {
    let username = request.username.trim().to_ascii_lowercase();
    let mut tx = state.pool.begin().await?;
    let user = if valid_username(&username) {
        db::staff::user_by_username(&mut tx, &username, true).await?
    } else {
        None
    };
    let Some(mut user) = user else {
        // The time a real check takes, so timing does not tell which usernames exist.
        let _ = verify_password(request.password, staff::DUMMY_HASH);
        tracing::warn!("a login named an unknown username");
        count("unknown_user");
        record_login(
            &mut tx,
            None,
            "login_failed",
            &username,
            json!({"reason": "unknown_user", "client_ip": request.client_ip}),
        )
        .await?;
        tx.commit().await?;
        return Ok(Err(LoginRefusal::BadCredentials));
    };
    let now = Utc::now();
    if let Some(until) = user.locked_until {
        if until > now {
            let _ = verify_password(request.password, &user.password_hash);
            tracing::warn!(staff.user_id = %user.id, locked_until = %until, "a login to a locked account was refused");
            count("locked");
            record_login(
                &mut tx,
                Some(user.id),
                "login_refused_locked",
                &username,
                json!({"locked_until": until, "client_ip": request.client_ip}),
            )
            .await?;
            tx.commit().await?;
            return Ok(Err(LoginRefusal::Locked { until }));
        }
        // The lock ran out: the count of failures starts again.
        db::staff::reset_failed_logins(&mut tx, user.id).await?;
        user.failed_logins = 0;
    }
    if !verify_password(request.password, &user.password_hash) {
        let lock_until = now + ChronoDuration::minutes(LOCK_MINUTES);
        let (failures, locked) =
            db::staff::count_failed_login(&mut tx, user.id, MAX_FAILED_LOGINS, lock_until).await?;
        tracing::warn!(staff.user_id = %user.id, failed_logins = failures, "a login gave a wrong password");
        count("bad_password");
        record_login(&mut tx, Some(user.id), "login_failed", &username, json!({"reason": "bad_password", "failed_logins": failures, "client_ip": request.client_ip})).await?;
        let refusal = match locked {
            Some(until) if until > now => {
                tracing::warn!(staff.user_id = %user.id, locked_until = %until, "an account was locked after repeated wrong passwords");
                record_login(
                    &mut tx,
                    Some(user.id),
                    "account_locked",
                    &username,
                    json!({"locked_until": until, "failed_logins": failures}),
                )
                .await?;
                LoginRefusal::Locked { until }
            }
            _ => LoginRefusal::BadCredentials,
        };
        tx.commit().await?;
        return Ok(Err(refusal));
    }
    if user.disabled_at.is_some() {
        tracing::warn!(staff.user_id = %user.id, "a login to a disabled account was refused");
        count("disabled");
        record_login(
            &mut tx,
            Some(user.id),
            "login_refused_disabled",
            &username,
            json!({"client_ip": request.client_ip}),
        )
        .await?;
        tx.commit().await?;
        return Ok(Err(LoginRefusal::Disabled));
    }
    if Role::parse(&user.role).is_none() {
        return Err(AppError::internal(format!(
            "staff user {} has role {:?}",
            user.id, user.role
        )));
    }
    db::staff::reset_failed_logins(&mut tx, user.id).await?;
    let token = random_token("");
    let csrf_token = random_token("");
    let session_id = Uuid::now_v7();
    let max =
        ChronoDuration::from_std(state.config.staff_session_max).map_err(AppError::internal)?;
    let expires_at = now + max;
    db::staff::insert_session(
        &mut tx,
        db::staff::NewSession {
            id: session_id,
            token_hash: &hash_key(&token),
            user_id: user.id,
            csrf_token: &csrf_token,
            expires_at,
            client_ip: request.client_ip,
            user_agent: request.user_agent.map(|agent| truncate(agent, 400)),
        },
    )
    .await?;
    db::staff::insert_action(
        &mut *tx,
        db::staff::NewAction {
            user_id: Some(user.id),
            session_id: Some(session_id),
            api_key_id: None,
            action: "login",
            office_code: None,
            subject: Some(&username),
            detail: json!({"client_ip": request.client_ip}),
        },
    )
    .await?;
    tx.commit().await?;
    count("ok");
    tracing::info!(staff.user_id = %user.id, staff.session_id = %session_id, "a person logged in");
    Ok(Ok(NewSession {
        token,
        csrf_token,
        must_change_password: user.must_change_password,
        expires_at,
    }))
}

fn truncate(text: &str, max_chars: usize) -> &str {
    text.char_indices()
        .nth(max_chars)
        .map_or(text, |(end, _)| text.get(..end).unwrap_or(text))
}

async fn record_login(
    conn: &mut PgConnection,
    user_id: Option<Uuid>,
    action: &str,
    username: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    // An unknown username is recorded cut short: the field is free text from anyone.
    let subject = truncate(username, 64);
    db::staff::insert_action(
        conn,
        db::staff::NewAction {
            user_id,
            session_id: None,
            api_key_id: None,
            action,
            office_code: None,
            subject: Some(subject),
            detail,
        },
    )
    .await?;
    Ok(())
}

/// A live session: the person as a [`Principal`] (the same role and office scope a key
/// would have), the session's CSRF token, and whether the person must still choose a password.
#[derive(Clone, Debug)]
pub struct Session {
    pub principal: Principal,
    pub username: String,
    pub csrf_token: String,
    pub must_change_password: bool,
}

impl Session {
    /// Whether `presented` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        bool::from(self.csrf_token.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// The session's id (every session has a person).
    pub fn session_id(&self) -> Option<Uuid> {
        self.principal.staff.as_ref().map(|staff| staff.session_id)
    }
}

/// The session a cookie's token names, if it is still live: not logged out, not past its
/// absolute or idle timeout, its person not disabled. A session found past a timeout is ended
/// with that reason. Its last use is written at most once a minute.
#[tracing::instrument(skip_all)]
pub async fn resolve(state: &AppState, token: &str) -> Result<Option<Session>, AppError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let mut conn = state.pool.acquire().await?;
    let Some(row) = db::staff::session_by_token_hash(&mut conn, &hash_key(token)).await? else {
        return Ok(None);
    };
    if row.ended_at.is_some() {
        return Ok(None);
    }
    let now = Utc::now();
    let idle =
        ChronoDuration::from_std(state.config.staff_session_idle).map_err(AppError::internal)?;
    let ended = if row.disabled_at.is_some() {
        Some("disabled")
    } else if row.expires_at <= now {
        Some("expired")
    } else if row.last_seen_at + idle <= now {
        Some("idle")
    } else {
        None
    };
    if let Some(reason) = ended {
        db::staff::end_session(&mut *conn, row.id, reason).await?;
        tracing::info!(staff.session_id = %row.id, reason, "a console session ended");
        return Ok(None);
    }
    let Some(role) = Role::parse(&row.role) else {
        return Err(AppError::internal(format!(
            "staff user {} has role {:?}",
            row.user_id, row.role
        )));
    };
    if now - row.last_seen_at >= ChronoDuration::seconds(TOUCH_EVERY_S) {
        db::staff::touch_session(&mut *conn, row.id, now).await?;
    }
    Ok(Some(Session {
        principal: Principal {
            key_id: row.user_id,
            role,
            office_codes: row.office_codes,
            staff: Some(Staff {
                user_id: row.user_id,
                session_id: row.id,
                name: row.name,
            }),
        },
        username: row.username,
        csrf_token: row.csrf_token,
        must_change_password: row.must_change_password,
    }))
}

/// Ends the session (logout), recorded in the audit trail.
#[tracing::instrument(skip_all)]
pub async fn logout(state: &AppState, session: &Session) -> Result<(), AppError> {
    let Some(id) = session.session_id() else {
        return Ok(());
    };
    let mut tx = state.pool.begin().await?;
    if db::staff::end_session(&mut *tx, id, "logout").await? {
        staff::record(
            &mut tx,
            &session.principal,
            "logout",
            None,
            Some(&session.username),
            json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What a password change was refused for, naming the form's field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordProblem {
    /// `current`: not the person's password.
    WrongCurrent,
    /// `new`: shorter than 12 or longer than 128 characters.
    Length,
    /// `new`: the username.
    IsUsername,
    /// `new`: the same as the current one.
    Unchanged,
    /// `confirm`: not the same as `new`.
    Mismatch,
}

impl PasswordProblem {
    /// The form field the problem is about.
    pub fn field(self) -> &'static str {
        match self {
            PasswordProblem::WrongCurrent => "current",
            PasswordProblem::Length | PasswordProblem::IsUsername | PasswordProblem::Unchanged => {
                "new"
            }
            PasswordProblem::Mismatch => "confirm",
        }
    }
}

/// The person changes their own password (required at first login): the new one is 12 to 128
/// characters, not the username and not the current one. Their other sessions end (whoever
/// may have known the old password is logged out); this one stays.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    state: &AppState,
    session: &Session,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<Result<(), PasswordProblem>, AppError> {
    let Some(staff) = session.principal.staff.as_ref() else {
        return Err(AppError::forbidden("only a person has a password"));
    };
    let mut tx = state.pool.begin().await?;
    let Some(hash) = db::staff::password_hash(&mut tx, staff.user_id).await? else {
        return Err(AppError::not_found("staff user"));
    };
    let problem = if !verify_password(current, &hash) {
        Some(PasswordProblem::WrongCurrent)
    } else if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&new.chars().count()) {
        Some(PasswordProblem::Length)
    } else if new.trim().eq_ignore_ascii_case(&session.username) {
        Some(PasswordProblem::IsUsername)
    } else if new == current {
        Some(PasswordProblem::Unchanged)
    } else if new != confirm {
        Some(PasswordProblem::Mismatch)
    } else {
        None
    };
    if let Some(problem) = problem {
        tracing::warn!(staff.user_id = %staff.user_id, field = problem.field(), "a password change was refused");
        return Ok(Err(problem));
    }
    db::staff::set_password(&mut tx, staff.user_id, &hash_password(new)?, false).await?;
    let ended = db::staff::end_user_sessions(
        &mut *tx,
        staff.user_id,
        Some(staff.session_id),
        "password_changed",
    )
    .await?;
    staff::record(
        &mut tx,
        &session.principal,
        "password_changed",
        None,
        Some(&session.username),
        json!({"other_sessions_ended": ended}),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// `payments users disable`: the person can no longer log in and their sessions end now.
#[tracing::instrument(skip_all, fields(staff.username = %username))]
pub async fn disable_user(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<u64>, AppError> {
    let Some(id) = db::staff::disable_user(&mut *conn, username).await? else {
        return Ok(None);
    };
    let ended = db::staff::end_user_sessions(&mut *conn, id, None, "disabled").await?;
    cli_record(
        conn,
        id,
        "user_disabled",
        username,
        json!({"sessions_ended": ended}),
    )
    .await?;
    Ok(Some(ended))
}

/// `payments users reset-password`: a new one-time password (to change at the next login),
/// the account unlocked, and every session ended. `None` when no such person.
#[tracing::instrument(skip_all, fields(staff.username = %username))]
pub async fn reset_password(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<String>, AppError> {
    let Some(user) = db::staff::user_by_username(&mut *conn, username, true).await? else {
        return Ok(None);
    };
    let password = staff::one_time_password();
    db::staff::set_password(&mut *conn, user.id, &hash_password(&password)?, true).await?;
    let ended = db::staff::end_user_sessions(&mut *conn, user.id, None, "password_changed").await?;
    cli_record(
        conn,
        user.id,
        "password_reset",
        username,
        json!({"sessions_ended": ended}),
    )
    .await?;
    Ok(Some(password))
}

/// An operator's command about a person, recorded with the person as the subject (the
/// operator is whoever ran the command on the server).
async fn cli_record(
    conn: &mut PgConnection,
    user_id: Uuid,
    action: &str,
    username: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let mut detail = detail;
    if let Some(map) = detail.as_object_mut() {
        map.insert("by".to_owned(), json!("cli"));
    }
    record_login(conn, Some(user_id), action, username, detail).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn problems_name_their_field() {
        assert_eq!(PasswordProblem::WrongCurrent.field(), "current");
        assert_eq!(PasswordProblem::Length.field(), "new");
        assert_eq!(PasswordProblem::Mismatch.field(), "confirm");
    }

    #[test]
    fn user_agents_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("ខ្មែរ", 2), "ខ្");
        assert_eq!(truncate("ab", 5), "ab");
    }
}
