//! Verification: every stored digest checked against the trusted keys, then the hash chain
//! recomputed from genesis and compared with each signed payload.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::NaiveDate;
use ed25519_dalek::{Signature, VerifyingKey};
use ledger::store::{self, DigestPayload, DigestRow};
use sqlx::PgPool;

use super::digests::signing_key;
use super::CHAIN_ROLES;
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::config::Config;
use crate::db;
use crate::state::AppState;

/// What a verification found (stored as a run's report in this shape).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    pub ok: bool,
    pub entries_checked: i64,
    /// The first entry that does not verify.
    pub first_bad_entry: Option<i64>,
    /// The day of the first digest that is not signed by a trusted key or disagrees with the
    /// chain.
    pub bad_digest: Option<NaiveDate>,
    pub reason: Option<String>,
    pub head_seq: i64,
    /// Hex SHA-256 of the chain head.
    pub head_hash: String,
    /// Stored daily digests whose signature was checked against the trusted keys.
    pub digests_checked: usize,
    /// Daily balance rows recomputed from their postings.
    pub rollup_rows_checked: i64,
    /// Monthly balance rows recomputed from their days.
    #[serde(default)]
    pub monthly_rows_checked: i64,
    /// The first daily balance that differs from its postings.
    pub first_bad_rollup: Option<BadRollup>,
    /// Rows of the dashboard's roll-ups (db::reports) recomputed from intents and postings.
    pub report_rows_checked: i64,
    /// The first dashboard roll-up row that differs from its source, named by table and key.
    pub first_bad_report_row: Option<String>,
}

/// A daily balance row that differs from its postings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BadRollup {
    pub account: String,
    pub day: NaiveDate,
}

/// Checks every stored digest's signature against `trusted` keys only (the public key stored
/// with a digest is not believed), then recomputes the chain from genesis and compares it
/// with each signed payload; used by the API and by `payments ledger verify`.
#[tracing::instrument(skip_all, fields(ledger.trusted_keys = trusted.len()))]
pub async fn verify_ledger(
    pool: &PgPool,
    trusted: &[VerifyingKey],
) -> Result<Verification, AppError> {
    verify_ledger_with_progress(pool, trusted, &mut |_| {}).await
}

/// [`verify_ledger`], calling `on_progress(entries_checked)` every
/// [`store::VERIFY_PROGRESS_EVERY`] entries (a run started from the proofs page).
pub async fn verify_ledger_with_progress(
    pool: &PgPool,
    trusted: &[VerifyingKey],
    on_progress: &mut (dyn FnMut(i64) + Send),
) -> Result<Verification, AppError> {
    let mut tx = pool.begin().await?;
    // One snapshot for seals, entries and the sealer's horizon; read only, so it blocks no one.
    db::books::read_only_snapshot(&mut tx).await?;
    let digests = store::list_digests(&mut tx, i64::MAX).await?;
    let checkpoints = match trusted_checkpoints(&digests, trusted) {
        Ok(checkpoints) => checkpoints,
        Err(refused) => {
            let head = store::chain_head(&mut tx).await?;
            tx.commit().await?;
            return Ok(refused.into_verification(head));
        }
    };
    let report = store::verify_chain_against_with_progress(
        &mut tx,
        &checkpoints,
        store::VERIFY_PROGRESS_EVERY,
        on_progress,
    )
    .await?;
    // The dashboard's figures come from roll-ups: recomputed in the same snapshot.
    let reports = db::reports::verify_rollups(&mut tx).await?;
    tx.commit().await?;
    let reason = match (&report.reason, &reports.first_bad) {
        (Some(reason), _) => Some(reason.clone()),
        (None, Some(row)) => Some(format!(
            "a dashboard roll-up row differs from its source: {row}"
        )),
        (None, None) => None,
    };
    Ok(Verification {
        ok: report.ok && reports.first_bad.is_none(),
        entries_checked: report.entries_checked,
        first_bad_entry: report.first_bad_entry,
        bad_digest: report.bad_digest,
        reason,
        head_seq: report.head_seq,
        head_hash: report.head_hash,
        digests_checked: digests.len(),
        rollup_rows_checked: report.rollup_rows_checked,
        monthly_rows_checked: report.monthly_rows_checked,
        first_bad_rollup: report
            .first_bad_rollup
            .map(|(account, day)| BadRollup { account, day }),
        report_rows_checked: reports.rows_checked,
        first_bad_report_row: reports.first_bad,
    })
}

/// The first digest that a trusted key did not sign, and how many were checked before it.
struct RefusedDigest {
    day: NaiveDate,
    reason: String,
    checked: usize,
}

impl RefusedDigest {
    /// A failed verification that stops at this digest, before any entry is recomputed.
    fn into_verification(self, head: store::ChainHead) -> Verification {
        Verification {
            ok: false,
            entries_checked: 0,
            first_bad_entry: None,
            bad_digest: Some(self.day),
            reason: Some(self.reason),
            head_seq: head.seq,
            head_hash: head.hash,
            digests_checked: self.checked,
            rollup_rows_checked: 0,
            monthly_rows_checked: 0,
            first_bad_rollup: None,
            report_rows_checked: 0,
            first_bad_report_row: None,
        }
    }
}

/// The signed payloads of `digests`, each verified with a trusted key, or the first that is not.
fn trusted_checkpoints(
    digests: &[DigestRow],
    trusted: &[VerifyingKey],
) -> Result<Vec<DigestPayload>, RefusedDigest> {
    let mut checkpoints = Vec::with_capacity(digests.len());
    for digest in digests {
        match trusted_payload(digest, trusted) {
            Ok(payload) => checkpoints.push(payload),
            Err(reason) => {
                return Err(RefusedDigest {
                    day: digest.day,
                    reason,
                    checked: checkpoints.len(),
                })
            }
        }
    }
    Ok(checkpoints)
}

/// The payload of a digest whose signature verifies with one of the `trusted` keys, or why not.
fn trusted_payload(digest: &DigestRow, trusted: &[VerifyingKey]) -> Result<DigestPayload, String> {
    let day = digest.day;
    let signature = Signature::from_slice(&digest.signature)
        .map_err(|_| format!("the digest of {day} has no valid signature"))?;
    let signed_by_trusted = trusted.iter().any(|key| {
        key.verify_strict(digest.payload.as_bytes(), &signature)
            .is_ok()
    });
    if !signed_by_trusted {
        let named = STANDARD.encode(&digest.public_key);
        let listed = trusted
            .iter()
            .any(|key| key.as_bytes().as_slice() == digest.public_key.as_slice());
        return Err(if listed {
            format!("the signature of the digest of {day} does not verify (payload altered?)")
        } else {
            format!(
                "the digest of {day} is not signed by a trusted key (it names {named}, which is not the signing key or in LEDGER_PUBLIC_KEYS)"
            )
        });
    }
    let payload = DigestPayload::parse(&digest.payload)
        .map_err(|error| format!("the digest of {day}: {error}"))?;
    if payload.day != day {
        return Err(format!(
            "the digest of {day} carries a signed payload for {}",
            payload.day
        ));
    }
    Ok(payload)
}

/// The keys `verify` trusts: `LEDGER_PUBLIC_KEYS` and the current signing key's public key.
pub fn trusted_keys(config: &Config) -> anyhow::Result<Vec<VerifyingKey>> {
    let mut keys = config
        .ledger_public_keys
        .iter()
        .map(|bytes| {
            VerifyingKey::from_bytes(bytes)
                .map_err(|_| anyhow::anyhow!("LEDGER_PUBLIC_KEYS lists an invalid key"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(key) = signing_key(config)? {
        keys.push(key.verifying_key());
    }
    Ok(keys)
}

/// Verifies the whole ledger for an auditor or an admin.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn verify(state: &AppState, principal: &Principal) -> Result<Verification, AppError> {
    principal.require(&CHAIN_ROLES)?;
    let trusted = trusted_keys(&state.config).map_err(AppError::internal)?;
    verify_ledger(&state.pool, &trusted).await
}
