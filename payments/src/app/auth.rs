//! API keys, roles and office scope.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::error::AppError;
use crate::db;

/// The roles of API.md. A citizen never holds a key: they use the payment link token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Workflow,
    Cashier,
    Supervisor,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Workflow,
        Role::Cashier,
        Role::Supervisor,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Workflow => "workflow",
            Role::Cashier => "cashier",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == raw)
    }

    /// Only people at an office are scoped to it; admin and the workflow system see all offices.
    pub fn may_be_scoped(self) -> bool {
        matches!(self, Role::Cashier | Role::Supervisor | Role::Auditor)
    }
}

/// Who is calling: an API key (`Authorization: Bearer`) or a person logged in to the console
/// (their session cookie). Both reach the same `app::` functions with the same role and office
/// scope; `staff` tells them apart where it matters (whose drawer, who approved).
#[derive(Clone, Debug)]
pub struct Principal {
    /// The API key's id; for a person, their user id (the credential that acts).
    pub key_id: Uuid,
    pub role: Role,
    /// Empty means every office.
    pub office_codes: Vec<String>,
    /// The person and session, when a person is calling; `None` for an API key.
    pub staff: Option<Staff>,
}

/// A person acting through their console session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staff {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// As shown on receipts and in the audit trail.
    pub name: String,
}

impl Principal {
    /// Refuses a caller whose role is not in `roles` (403).
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }

    pub fn sees_office(&self, office_code: &str) -> bool {
        self.office_codes.is_empty() || self.office_codes.iter().any(|code| code == office_code)
    }

    /// The office filter to apply to lists: `None` for all offices.
    pub fn office_filter(&self) -> Option<&[String]> {
        if self.office_codes.is_empty() {
            None
        } else {
            Some(&self.office_codes)
        }
    }

    /// The idempotency scope of this caller: the key, or the person (a double click in two
    /// tabs of one person is still one request).
    pub fn idempotency_scope(&self) -> String {
        match &self.staff {
            Some(staff) => format!("staff:{}", staff.user_id),
            None => format!("key:{}", self.key_id),
        }
    }

    /// Refuses a person (a console session) where only a system's key may act: quotes and
    /// intents record the API key that created them (`created_by` references `api_keys`), and
    /// the workflow system, not the counter, opens cases.
    pub fn require_key(&self) -> Result<(), AppError> {
        if self.staff.is_some() {
            return Err(AppError::Forbidden(crate::app::error::Refusal::new(
                "key_required",
                "API key required",
                "quotes and payment intents are created by the workflow system with its API key, not from a console session",
            )));
        }
        Ok(())
    }

    /// The API key acting, `None` for a person (whose key_id is their user id).
    pub fn api_key_id(&self) -> Option<Uuid> {
        self.staff.is_none().then_some(self.key_id)
    }
}

/// Secret API keys start with this prefix so they are recognisable in a leaked file.
pub const KEY_PREFIX: &str = "opk_";

pub fn hash_key(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// 256 random bits, base64url, behind a prefix.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What `payments keys create` prints (API.md, "Authentication").
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub key: String,
    pub id: Uuid,
    pub role: Role,
    pub office_codes: Vec<String>,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("office {0} does not exist")]
    UnknownOffice(String),
    #[error("the {0} role cannot be scoped to offices")]
    NotScopable(&'static str),
    #[error("name must be 1 to 200 characters")]
    InvalidName,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates a key. `secret` is given for the deterministic demo keys; otherwise a random one is
/// made. Inserting an existing secret again changes nothing (the demo seed relies on it).
#[tracing::instrument(skip_all, fields(api_key.role = role.as_str(), api_key.name = %name))]
pub async fn create_key(
    conn: &mut PgConnection,
    role: Role,
    office_codes: &[String],
    name: &str,
    secret: Option<&str>,
) -> Result<CreatedKey, KeyError> {
    if name.is_empty() || name.chars().count() > 200 {
        return Err(KeyError::InvalidName);
    }
    if !office_codes.is_empty() && !role.may_be_scoped() {
        return Err(KeyError::NotScopable(role.as_str()));
    }
    for code in office_codes {
        if !db::offices::exists(&mut *conn, code).await? {
            return Err(KeyError::UnknownOffice(code.clone()));
        }
    }
    let key = secret.map_or_else(|| random_token(KEY_PREFIX), str::to_owned);
    let hash = hash_key(&key);
    let new_key = db::keys::NewKey {
        id: Uuid::now_v7(),
        name,
        role: role.as_str(),
        office_codes,
        key_hash: &hash,
    };
    let id = db::keys::insert_or_find(conn, new_key).await?;
    Ok(CreatedKey {
        key,
        id,
        role,
        office_codes: office_codes.to_vec(),
        name: name.to_owned(),
    })
}

/// Resolves a bearer secret to its principal; `None` for an unknown or revoked key.
#[tracing::instrument(skip_all)]
pub async fn lookup(conn: &mut PgConnection, secret: &str) -> Result<Option<Principal>, AppError> {
    // The lookup is by hash, so the secret's bytes never reach a comparison in the database.
    let row = db::keys::find_active(conn, &hash_key(secret)).await?;
    Ok(row.and_then(|row| {
        Role::parse(&row.role).map(|role| Principal {
            key_id: row.id,
            role,
            office_codes: row.office_codes,
            staff: None,
        })
    }))
}

/// One key as `payments keys list` prints it: never the secret or its hash.
#[derive(Debug, Serialize)]
pub struct KeyListing {
    pub id: Uuid,
    pub role: String,
    pub offices: Vec<String>,
    pub name: String,
    pub created: chrono::DateTime<chrono::Utc>,
    /// When it was revoked; `null` for an active key.
    pub revoked: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every key, oldest first.
#[tracing::instrument(skip_all)]
pub async fn list_keys(conn: &mut PgConnection) -> Result<Vec<KeyListing>, sqlx::Error> {
    db::keys::list(conn).await
}

/// Revokes a key; `None` when no key has this id. Revoking a revoked key keeps its first
/// revocation time. Takes effect on the next request to any instance: keys are looked up in
/// the database on every request, never cached.
#[tracing::instrument(skip_all, fields(api_key.id = %id))]
pub async fn revoke_key(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<KeyListing>, sqlx::Error> {
    db::keys::revoke(conn, id).await
}
