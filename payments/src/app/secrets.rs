//! Secrets at rest: webhook signing secrets and citizens' pay tokens are stored sealed with
//! XChaCha20-Poly1305 under `SECRETS_KEY` (docs/RUNNING.md, "Secrets at rest").
//!
//! A sealed value is `enc1:<key id>:<base64url(nonce || ciphertext)>`. The key id (8 hex digits
//! of SHA-256 of the key) says which key sealed it, so `SECRETS_KEY_OLD` can still open values
//! sealed before a rotation, and `payments secrets reseal` finds the ones to seal again. The
//! associated data binds a value to its row, so a ciphertext copied to another row does not
//! open there.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::ExposeSecret as _;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

use crate::config::{Config, Profile};
use crate::db;

/// The development key: SHA-256 of "owso-pay development secrets key (not secret)". Public on
/// purpose; production refuses it.
pub const DEVELOPMENT_KEY_BASE64: &str = "nf4AsWR80lQIix7d5BTngeVt/S04W7HQVZkKqynu7Ms=";

const PREFIX: &str = "enc1";
const NONCE_LEN: usize = 24;

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the value is not a sealed secret")]
    Malformed,
    #[error(
        "the value was sealed with key {0}, which is neither SECRETS_KEY nor in SECRETS_KEY_OLD"
    )]
    UnknownKey(String),
    #[error("the sealed value does not authenticate (wrong row or altered)")]
    Corrupt,
    #[error("SECRETS_KEY is required in production")]
    MissingKey,
    #[error("{0} must be base64 of 32 bytes")]
    BadKey(&'static str),
}

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
    /// The key of link tags ([`Keyring::link_tag`]), derived from this one so that the
    /// sealing key itself never keys a MAC.
    tags: [u8; 32],
}

/// What the tag key is derived with (HMAC-SHA256 of this label under the sealing key).
const TAG_KEY_LABEL: &[u8] = b"owso-pay link tags v1";
/// Bytes of a link tag: 128 bits, beyond guessing, short enough for a link.
const TAG_LEN: usize = 16;

impl Key {
    fn new(bytes: &[u8; 32]) -> Key {
        let id = hex::encode(Sha256::digest(bytes).get(..4).unwrap_or_default());
        Key {
            id,
            cipher: XChaCha20Poly1305::new(bytes.into()),
            tags: hmac_sha256(bytes, &[TAG_KEY_LABEL]),
        }
    }

    fn tag(&self, purpose: &str, message: &str) -> [u8; 32] {
        // The purpose and the message are separated by a byte neither holds in practice, and
        // the purpose comes first, so a tag made for one kind of link never fits another.
        hmac_sha256(
            &self.tags,
            &[purpose.as_bytes(), b"\0".as_slice(), message.as_bytes()],
        )
    }

    fn from_base64(name: &'static str, raw: &str) -> Result<Key, SecretsError> {
        let bytes = STANDARD
            .decode(raw.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
            .ok_or(SecretsError::BadKey(name))?;
        Ok(Key::new(&bytes))
    }
}

/// The current key (seals) and the retired ones (open only).
pub struct Keyring {
    current: Key,
    old: Vec<Key>,
}

impl Keyring {
    /// `SECRETS_KEY` (or, in development only, the public development key) and
    /// `SECRETS_KEY_OLD`.
    pub fn from_config(config: &Config) -> Result<Keyring, SecretsError> {
        let current = match (&config.secrets_key, config.profile) {
            (Some(key), _) => Key::from_base64("SECRETS_KEY", key.expose_secret())?,
            (None, Profile::Development) => {
                Key::from_base64("SECRETS_KEY", DEVELOPMENT_KEY_BASE64)?
            }
            (None, Profile::Production) => return Err(SecretsError::MissingKey),
        };
        let old = config
            .secrets_keys_old
            .iter()
            .map(|key| Key::from_base64("SECRETS_KEY_OLD", key.expose_secret()))
            .collect::<Result<_, _>>()?;
        Ok(Keyring { current, old })
    }

    /// Id of the key that seals now.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext` for the row named by `context`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, SecretsError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Corrupt)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ciphertext);
        Ok(format!(
            "{PREFIX}:{}:{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// Opens a value sealed for `context` with the current or a retired key.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SecretsError> {
        let (key_id, bytes) = parse(sealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|key| key.id == key_id)
            .ok_or_else(|| SecretsError::UnknownKey(key_id.to_owned()))?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        key.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Corrupt)
    }

    /// Opens a value that holds UTF-8 text.
    pub fn open_text(&self, context: &str, sealed: &str) -> Result<String, SecretsError> {
        String::from_utf8(self.open(context, sealed)?).map_err(|_| SecretsError::Corrupt)
    }

    /// A tag (base64url of 128 bits) showing that this service made a link for `message`:
    /// the capability in a receipt's address. `purpose` keeps different links' tags apart.
    pub fn link_tag(&self, purpose: &str, message: &str) -> String {
        let tag = self.current.tag(purpose, message);
        URL_SAFE_NO_PAD.encode(tag.get(..TAG_LEN).unwrap_or_default())
    }

    /// True when `tag` is [`Keyring::link_tag`] of `message` under the current key or a
    /// retired one (links made before a rotation keep working while the old key is kept).
    /// Compared in constant time.
    pub fn check_link_tag(&self, purpose: &str, message: &str, tag: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        if given.len() != TAG_LEN {
            return false;
        }
        std::iter::once(&self.current).chain(&self.old).any(|key| {
            let expected = key.tag(purpose, message);
            bool::from(expected.get(..TAG_LEN).unwrap_or_default().ct_eq(&given))
        })
    }

    /// True when `sealed` was sealed with another key than the current one.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        parse(sealed).map_or(true, |(key_id, _)| key_id != self.current.id)
    }
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
#[expect(
    clippy::expect_used,
    reason = "HMAC is defined for keys of any length, so new_from_slice cannot fail"
)]
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn parse(sealed: &str) -> Result<(&str, Vec<u8>), SecretsError> {
    let mut parts = sealed.splitn(3, ':');
    let (Some(PREFIX), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SecretsError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| SecretsError::Malformed)?;
    if bytes.len() <= NONCE_LEN {
        return Err(SecretsError::Malformed);
    }
    Ok((key_id, bytes))
}

/// True for a value stored sealed (as opposed to a plaintext row from before sealing).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with("enc1:")
}

/// The associated data of a webhook endpoint's secrets (current and previous share it, since a
/// rotation moves one column into the other).
pub fn webhook_context(endpoint_id: Uuid) -> String {
    format!("webhook_endpoints:{endpoint_id}")
}

/// The associated data of an intent's pay token.
pub fn pay_token_context(intent_id: Uuid) -> String {
    format!("payment_intents:{intent_id}")
}

/// SHA-256 of a pay token: what the database keeps to find an intent by its link.
pub fn pay_token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A webhook secret as stored (sealed, or plaintext from before sealing) → `whsec_...`.
pub fn open_webhook_secret(
    keyring: &Keyring,
    endpoint_id: Uuid,
    stored: &str,
) -> Result<String, SecretsError> {
    if is_sealed(stored) {
        keyring.open_text(&webhook_context(endpoint_id), stored)
    } else {
        Ok(stored.to_owned())
    }
}

/// What [`reseal_all`] did.
#[derive(Debug, Default, serde::Serialize)]
pub struct ResealReport {
    /// Webhook secrets (current or previous) sealed again under the current key.
    pub webhook_secrets: u64,
    /// Pay tokens sealed again under the current key.
    pub pay_tokens: u64,
    /// Values no known key opens (logged with their row); left as they are.
    pub unreadable: u64,
}

/// Seals every plaintext webhook secret and every stored secret sealed with a retired key:
/// `payments secrets reseal`, after a rotation. Each row is rewritten under its own lock or
/// compare-and-set, so instances may run it together.
#[tracing::instrument(skip_all, fields(secrets.key_id = keyring.current_id()))]
pub async fn reseal_all(pool: &PgPool, keyring: &Keyring) -> anyhow::Result<ResealReport> {
    let mut report = reseal_webhook_secrets(pool, keyring).await?;
    reseal_pay_tokens(pool, keyring, &mut report).await?;
    Ok(report)
}

/// The `like` pattern of values sealed with the current key.
fn current_key_pattern(keyring: &Keyring) -> String {
    format!("{PREFIX}:{}:%", keyring.current_id())
}

/// The webhook half of [`reseal_all`]; small, so every start runs it: rows written before
/// sealing (plaintext `whsec_`) are sealed the first time this release starts.
#[tracing::instrument(skip_all, fields(secrets.key_id = keyring.current_id()))]
pub async fn reseal_webhook_secrets(
    pool: &PgPool,
    keyring: &Keyring,
) -> anyhow::Result<ResealReport> {
    let mut report = ResealReport::default();
    // Plaintext secrets start with whsec_; sealed ones name their key.
    let endpoints = db::secrets::endpoints_to_reseal(pool, &current_key_pattern(keyring)).await?;
    for id in endpoints {
        match reseal_endpoint(pool, keyring, id).await? {
            Resealed::Yes => report.webhook_secrets = report.webhook_secrets.saturating_add(1),
            Resealed::Unreadable => report.unreadable = report.unreadable.saturating_add(1),
            Resealed::Gone => {}
        }
    }
    Ok(report)
}

/// What became of one row in a reseal.
enum Resealed {
    Yes,
    /// No known key opens it (logged); left as it is.
    Unreadable,
    /// Deleted meanwhile.
    Gone,
}

/// Seals one endpoint's secrets again under the current key, in a transaction of its own that
/// holds the row's lock.
async fn reseal_endpoint(pool: &PgPool, keyring: &Keyring, id: Uuid) -> anyhow::Result<Resealed> {
    let mut tx = pool.begin().await?;
    let Some(stored) = db::secrets::lock_endpoint_secrets(&mut tx, id).await? else {
        return Ok(Resealed::Gone);
    };
    let context = webhook_context(id);
    let reseal = |stored: &str| -> anyhow::Result<String> {
        if is_sealed(stored) && !keyring.needs_reseal(stored) {
            return Ok(stored.to_owned());
        }
        let plain = open_webhook_secret(keyring, id, stored)?;
        Ok(keyring.seal(&context, plain.as_bytes())?)
    };
    let resealed = reseal(&stored.secret).and_then(|secret| {
        let previous_secret = stored.previous_secret.as_deref().map(reseal).transpose()?;
        Ok(db::secrets::EndpointSecrets {
            secret,
            previous_secret,
        })
    });
    let secrets = match resealed {
        Ok(secrets) => secrets,
        Err(error) => {
            tracing::warn!(endpoint.id = %id, error.cause = %error, "a webhook secret cannot be resealed");
            return Ok(Resealed::Unreadable);
        }
    };
    db::secrets::update_endpoint_secrets(&mut tx, id, secrets).await?;
    tx.commit().await?;
    Ok(Resealed::Yes)
}

async fn reseal_pay_tokens(
    pool: &PgPool,
    keyring: &Keyring,
    report: &mut ResealReport,
) -> anyhow::Result<()> {
    let intents = db::secrets::pay_tokens_to_reseal(pool, &current_key_pattern(keyring)).await?;
    for intent in intents {
        let (id, sealed) = (intent.id, intent.pay_token_sealed);
        let context = pay_token_context(id);
        let resealed = keyring
            .open(&context, &sealed)
            .and_then(|token| keyring.seal(&context, &token));
        let resealed = match resealed {
            Ok(resealed) => resealed,
            Err(error) => {
                tracing::warn!(payment_intent.id = %id, error.cause = %error, "a pay token cannot be resealed");
                report.unreadable = report.unreadable.saturating_add(1);
                continue;
            }
        };
        // Compare-and-set: a concurrent reseal of the same row wins harmlessly.
        let updated = db::secrets::replace_pay_token(pool, id, &sealed, &resealed).await?;
        report.pay_tokens = report.pay_tokens.saturating_add(updated);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn keyring(current: [u8; 32], old: &[[u8; 32]]) -> Keyring {
        Keyring {
            current: Key::new(&current),
            old: old.iter().map(Key::new).collect(),
        }
    }

    #[test]
    fn seals_open_only_for_their_row_and_under_known_keys() {
        let ring = keyring([1; 32], &[]);
        let sealed = ring.seal("row:1", b"whsec_abc").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(ring.open("row:1", &sealed).unwrap(), b"whsec_abc");
        assert!(matches!(
            ring.open("row:2", &sealed),
            Err(SecretsError::Corrupt)
        ));
        let rotated = keyring([2; 32], &[[1; 32]]);
        assert!(rotated.needs_reseal(&sealed));
        assert_eq!(rotated.open("row:1", &sealed).unwrap(), b"whsec_abc");
        let forgotten = keyring([2; 32], &[]);
        assert!(matches!(
            forgotten.open("row:1", &sealed),
            Err(SecretsError::UnknownKey(_))
        ));
    }

    #[test]
    fn link_tags_fit_only_their_message_and_purpose_and_survive_a_rotation() {
        let ring = keyring([1; 32], &[]);
        let tag = ring.link_tag("receipt", "0320-2026-000001");
        assert_eq!(tag.len(), 22, "{tag}");
        assert!(ring.check_link_tag("receipt", "0320-2026-000001", &tag));
        assert!(!ring.check_link_tag("receipt", "0320-2026-000002", &tag));
        assert!(!ring.check_link_tag("other", "0320-2026-000001", &tag));
        assert!(!ring.check_link_tag("receipt", "0320-2026-000001", "not base64!"));
        assert!(!ring.check_link_tag("receipt", "0320-2026-000001", ""));
        let rotated = keyring([2; 32], &[[1; 32]]);
        assert!(rotated.check_link_tag("receipt", "0320-2026-000001", &tag));
        assert_ne!(rotated.link_tag("receipt", "0320-2026-000001"), tag);
        assert!(!keyring([2; 32], &[]).check_link_tag("receipt", "0320-2026-000001", &tag));
    }

    #[test]
    fn the_development_key_is_what_its_label_hashes_to() {
        let expected = Sha256::digest(b"owso-pay development secrets key (not secret)");
        assert_eq!(STANDARD.encode(expected), DEVELOPMENT_KEY_BASE64);
    }
}
