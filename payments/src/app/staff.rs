//! People who log in (cashiers, supervisors, auditors, admins): their accounts, their
//! passwords (argon2id), a supervisor's approval of someone else's action, and the record of
//! every staff action. Sessions and the console's login build on these.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::Utc;
use rand::Rng;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::app::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::db;

/// The roles a person may hold (the workflow system is never a person).
pub const PERSON_ROLES: [Role; 4] = [Role::Cashier, Role::Supervisor, Role::Auditor, Role::Admin];

/// Hashes a password with argon2id and a fresh salt (the crate's defaults: RFC 9106's second
/// recommended option, 19 MiB, 2 passes), as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| AppError::internal(format!("argon2: {error}")))
}

/// Whether `password` matches the PHC string `hash` (comparison in constant time by the crate).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A password that works only until the first login: 16 characters from an alphabet without
/// look-alikes (no 0/O, 1/l/I), read off a screen or a slip of paper, 91 bits.
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .filter_map(|_| ALPHABET.get(rng.gen_range(0..ALPHABET.len())))
        .map(|&byte| char::from(byte))
        .collect()
}

/// What `payments users create` prints: the one-time password, shown once.
#[derive(Debug, Serialize)]
pub struct CreatedUser {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub role: Role,
    pub office_codes: Vec<String>,
    pub one_time_password: String,
}

/// Creates a person's account with a one-time password to change at first login. `password`
/// is given only by the development seed (demo accounts with known passwords).
#[tracing::instrument(skip_all, fields(staff.username = %username, staff.role = role.as_str()))]
pub async fn create_user(
    conn: &mut PgConnection,
    username: &str,
    name: &str,
    role: Role,
    office_codes: &[String],
    password: Option<&str>,
) -> Result<CreatedUser, AppError> {
    if !PERSON_ROLES.contains(&role) {
        return Err(AppError::validation(
            "role",
            "a person is a cashier, supervisor, auditor or admin",
        ));
    }
    if !valid_username(username) {
        return Err(AppError::validation(
            "username",
            "3 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation(
            "name",
            "name must be 1 to 200 characters",
        ));
    }
    match role {
        Role::Cashier | Role::Supervisor if office_codes.is_empty() => {
            return Err(AppError::validation(
                "office",
                "a cashier or supervisor works at one or more offices (--office CODE)",
            ));
        }
        Role::Admin if !office_codes.is_empty() => {
            return Err(AppError::validation(
                "office",
                "an admin is not scoped to offices",
            ));
        }
        _ => {}
    }
    for code in office_codes {
        if !db::offices::exists(&mut *conn, code).await? {
            return Err(AppError::validation(
                "office",
                format!("office {code} does not exist"),
            ));
        }
    }
    let password = password.map_or_else(one_time_password, str::to_owned);
    let hash = hash_password(&password)?;
    let id = Uuid::now_v7();
    let inserted = db::staff::insert_user(
        &mut *conn,
        db::staff::NewUser {
            id,
            username,
            name,
            role: role.as_str(),
            office_codes,
            password_hash: &hash,
        },
    )
    .await?;
    if !inserted {
        return Err(AppError::conflict(
            "username_taken",
            "Username taken",
            format!("the username {username} is taken"),
        ));
    }
    Ok(CreatedUser {
        id,
        username: username.to_owned(),
        name: name.to_owned(),
        role,
        office_codes: office_codes.to_vec(),
        one_time_password: password,
    })
}

/// Whether `username` is one the accounts table takes.
pub fn valid_username(username: &str) -> bool {
    let bytes = username.as_bytes();
    (3..=64).contains(&bytes.len())
        && bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// A supervisor who approved someone else's action (a void, a drawer's variance): verified by
/// their password on the requester's screen, by their own session, or a supervisor API key
/// acting itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Approver {
    /// The person, when a person approved.
    pub user_id: Option<Uuid>,
    /// The key, when a supervisor system key acted.
    pub api_key_id: Option<Uuid>,
    /// As recorded beside the action.
    pub name: String,
}

impl Approver {
    /// The caller itself as the approver: a supervisor (or admin) key or person. Refused for
    /// any other role.
    pub fn from_caller(caller: &Principal) -> Result<Approver, AppError> {
        caller.require(&[Role::Supervisor, Role::Admin])?;
        Ok(match &caller.staff {
            Some(staff) => Approver {
                user_id: Some(staff.user_id),
                api_key_id: None,
                name: staff.name.clone(),
            },
            None => Approver {
                user_id: None,
                api_key_id: Some(caller.key_id),
                name: format!("key:{}", caller.key_id),
            },
        })
    }
}

/// A supervisor's approval given with their username and password on `requester`'s screen, for
/// an action at `office_code`. Refused (403 `approval_refused`, the same answer whatever was
/// wrong, so the form does not tell which usernames exist) unless the person exists, is
/// enabled and not locked, the password matches, they are a supervisor (or admin) of that
/// office, and they are not the requester: nobody approves their own action.
#[tracing::instrument(skip_all, fields(office.code = office_code))]
pub async fn approve(
    conn: &mut PgConnection,
    pool: &PgPool,
    requester: &Principal,
    username: &str,
    password: &str,
    office_code: &str,
) -> Result<Approver, AppError> {
    let refused = || {
        AppError::Forbidden(crate::app::error::Refusal::new(
            "approval_refused",
            "Approval refused",
            "a supervisor of this office must approve with their own username and password",
        ))
    };
    let user = if valid_username(username) {
        db::staff::user_by_username(&mut *conn, username, false).await?
    } else {
        None
    };
    let Some(user) = user else {
        // Spend the time a real check spends, so timing does not tell which usernames exist.
        let _ = verify_password(password, DUMMY_HASH);
        return Err(refused());
    };
    let now = Utc::now();
    let usable = user.disabled_at.is_none()
        && user.locked_until.is_none_or(|until| until <= now)
        && !user.must_change_password;
    let matches = verify_password(password, &user.password_hash);
    let role = Role::parse(&user.role);
    let of_office =
        user.office_codes.is_empty() || user.office_codes.iter().any(|c| c == office_code);
    let is_requester = requester
        .staff
        .as_ref()
        .is_some_and(|staff| staff.user_id == user.id);
    if !(usable
        && matches
        && matches!(role, Some(Role::Supervisor | Role::Admin))
        && of_office
        && !is_requester)
    {
        tracing::warn!(staff.user_id = %user.id, "a supervisor approval was refused");
        if !matches {
            // A password typed on someone else's screen is guessed as easily as at the login:
            // it counts toward the same lockout. In its own transaction, so the count stays
            // when the refused action rolls back.
            count_failed_approval(pool, requester, user.id, office_code).await?;
        }
        return Err(refused());
    }
    if user.failed_logins > 0 {
        // The right password: the count of failures starts again, as at a login.
        db::staff::reset_failed_logins(&mut *conn, user.id).await?;
    }
    Ok(Approver {
        user_id: Some(user.id),
        api_key_id: None,
        name: user.name,
    })
}

/// A wrong password given for an approval: one more failure toward the person's lockout
/// (the login's [`MAX_FAILED_LOGINS`](crate::app::sessions::MAX_FAILED_LOGINS) and
/// [`LOCK_MINUTES`](crate::app::sessions::LOCK_MINUTES)), recorded beside who asked.
async fn count_failed_approval(
    pool: &PgPool,
    requester: &Principal,
    user_id: Uuid,
    office_code: &str,
) -> Result<(), AppError> {
    let lock_until = Utc::now() + chrono::Duration::minutes(crate::app::sessions::LOCK_MINUTES);
    let mut tx = pool.begin().await?;
    let (failures, locked_until) = db::staff::count_failed_login(
        &mut tx,
        user_id,
        crate::app::sessions::MAX_FAILED_LOGINS,
        lock_until,
    )
    .await?;
    db::staff::insert_action(
        &mut *tx,
        db::staff::NewAction {
            user_id: Some(user_id),
            session_id: None,
            api_key_id: None,
            action: "approval_failed",
            office_code: Some(office_code),
            subject: None,
            detail: serde_json::json!({
                "failed_logins": failures,
                "locked_until": locked_until,
                "requested_by_user_id": requester.staff.as_ref().map(|staff| staff.user_id),
                "requested_by_session_id": requester.staff.as_ref().map(|staff| staff.session_id),
                "requested_by_key_id": requester.api_key_id(),
            }),
        },
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("owso_staff_logins_total", "outcome" => "approval_bad_password").increment(1);
    Ok(())
}

/// A valid argon2id hash of a password nobody has, verified against when the username is
/// unknown.
pub(crate) const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Vn4kt6YJ0lWJ3ZT0Wc6Gv8bH8Ww0cQ2bL0RZ5C3Yb2k";

/// Records a staff action (who: the person and session, or the API key; when: now) in the
/// caller's transaction, so the record commits with what it records.
pub async fn record(
    conn: &mut PgConnection,
    actor: &Principal,
    action: &str,
    office_code: Option<&str>,
    subject: Option<&str>,
    detail: Value,
) -> Result<(), AppError> {
    db::staff::insert_action(
        conn,
        db::staff::NewAction {
            user_id: actor.staff.as_ref().map(|staff| staff.user_id),
            session_id: actor.staff.as_ref().map(|staff| staff.session_id),
            api_key_id: actor.api_key_id(),
            action,
            office_code,
            subject,
            detail,
        },
    )
    .await?;
    Ok(())
}

/// Records an operator's command on the server (`payments keys ...`, `payments users ...`) in
/// the audit trail with the actor `cli`: no person or key acted, whoever ran the command did.
pub async fn record_cli(
    conn: &mut PgConnection,
    action: &str,
    subject: &str,
    detail: Value,
) -> Result<(), AppError> {
    let mut detail = detail;
    if let Some(map) = detail.as_object_mut() {
        map.insert("by".to_owned(), Value::from("cli"));
    }
    db::staff::insert_action(
        conn,
        db::staff::NewAction {
            user_id: None,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse").expect("hashes");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsf", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        // Two hashes of one password differ (their salts), and both verify.
        let again = hash_password("correct horse").expect("hashes");
        assert_ne!(hash, again);
        assert!(verify_password("correct horse", &again));
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_users_cost_a_real_check() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("", DUMMY_HASH));
    }

    #[test]
    fn one_time_passwords_are_16_unambiguous_characters() {
        let password = one_time_password();
        assert_eq!(password.len(), 16);
        assert!(!password.contains(['0', 'O', '1', 'l', 'I']), "{password}");
        assert_ne!(password, one_time_password());
    }

    #[test]
    fn usernames_are_lower_case_ascii() {
        assert!(valid_username("sok.dara"));
        assert!(valid_username("cashier_0320"));
        assert!(!valid_username("Sok"));
        assert!(!valid_username("ab"));
        assert!(!valid_username(".dara"));
        assert!(!valid_username("សុខ"));
    }
}
