//! Signed daily digests: each day's chain head and balances, signed with the ledger's
//! Ed25519 key, so that a rewritten history no longer matches what was published.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use ledger::store::{self, DigestRow};
use secrecy::ExposeSecret as _;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;

use super::CHAIN_ROLES;
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::config::Config;
use crate::state::AppState;

/// The seed of the sandbox signing key, public on purpose: digests signed with it prove
/// nothing, and its public key is recognisable.
const SANDBOX_SIGNING_SEED_LABEL: &[u8] = b"owso-pay sandbox ledger signing key (not secret)";

/// Base64 of the public development signing seed (what `LEDGER_SIGNING_KEY` would hold to use
/// it); production refuses it.
pub fn development_signing_key_base64() -> String {
    STANDARD.encode(Sha256::digest(SANDBOX_SIGNING_SEED_LABEL))
}

/// The key that signs digests: `LEDGER_SIGNING_KEY` (base64 of a 32-byte seed), or in sandbox
/// mode a fixed, public development key; `None` (no digests) otherwise.
pub fn signing_key(config: &Config) -> anyhow::Result<Option<SigningKey>> {
    if let Some(encoded) = &config.ledger_signing_key {
        let seed = STANDARD
            .decode(encoded.expose_secret().trim())
            .map_err(|_| anyhow::anyhow!("LEDGER_SIGNING_KEY is not base64"))?;
        let seed = <[u8; 32]>::try_from(seed.as_slice())
            .map_err(|_| anyhow::anyhow!("LEDGER_SIGNING_KEY must decode to 32 bytes"))?;
        return Ok(Some(SigningKey::from_bytes(&seed)));
    }
    if config.sandbox_enabled {
        let seed: [u8; 32] = Sha256::digest(SANDBOX_SIGNING_SEED_LABEL).into();
        return Ok(Some(SigningKey::from_bytes(&seed)));
    }
    Ok(None)
}

/// Signs and stores the digest of `day` at the current chain head; `false` when the day has
/// one already.
#[tracing::instrument(skip_all, fields(digest.day = %day))]
pub async fn make_digest(
    pool: &PgPool,
    key: &SigningKey,
    day: NaiveDate,
) -> Result<bool, AppError> {
    let mut tx = pool.begin().await?;
    if store::has_digest(&mut tx, day).await? {
        return Ok(false);
    }
    // The day ends at midnight in Cambodia (UTC+7); wait until its committed entries are in
    // the chain. One still in flight at midnight is counted in the next day's digest.
    let day_end = day
        .succ_opt()
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .map(|local| local.and_utc() - Duration::hours(7))
        .ok_or_else(|| AppError::internal("digest day out of range"))?;
    if !store::sealed_before(&mut tx, day_end).await? {
        return Ok(false);
    }
    let payload = store::digest_payload(&mut tx, day).await?;
    let signature = key.sign(payload.to_text().as_bytes()).to_bytes();
    let public_key = key.verifying_key().to_bytes();
    let inserted = store::insert_digest(&mut tx, &payload, &signature, &public_key).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Yesterday in Cambodia (UTC+7 all year): the day a digest made now closes.
pub fn digest_day(now: DateTime<Utc>) -> Option<NaiveDate> {
    (now + Duration::hours(7)).date_naive().pred_opt()
}

/// The latest digests and the key that signs new ones.
#[derive(Debug)]
pub struct Digests {
    /// The key digests are signed with now; `None` when signing is off.
    pub public_key: Option<VerifyingKey>,
    /// Newest first.
    pub digests: Vec<DigestRow>,
}

/// The latest `limit` digests (1 to 366, default 31), for a key that sees every office.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn digests(
    state: &AppState,
    principal: &Principal,
    limit: Option<i64>,
) -> Result<Digests, AppError> {
    principal.require(&CHAIN_ROLES)?;
    if principal.office_filter().is_some() {
        return Err(AppError::forbidden(
            "digests state every office's balances; an office-scoped key may not read them",
        ));
    }
    let limit = limit.unwrap_or(31);
    if !(1..=366).contains(&limit) {
        return Err(AppError::validation("limit", "limit must be 1 to 366"));
    }
    let public_key = signing_key(&state.config)
        .map_err(AppError::internal)?
        .map(|key| key.verifying_key());
    let mut conn = state.pool.acquire().await?;
    let digests = store::list_digests(&mut conn, limit).await?;
    Ok(Digests {
        public_key,
        digests,
    })
}
