//! The proofs page's use cases (issue 16): chain verification runs started by an auditor and
//! run in the background of the instance that took the request, with their progress in
//! `ledger_verifications`; the digests with the configured key that verifies each; and the
//! bundle an outside auditor checks without the service.

use std::io::Write as _;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use ledger::store::{self, DigestRow};
use uuid::Uuid;

use super::verify::{trusted_keys, verify_ledger_with_progress, Verification};
use super::CHAIN_ROLES;
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::db;
use crate::db::verifications::VerificationRow;
use crate::state::AppState;

/// How often a running verification writes its progress and renews its lease (well inside
/// [`db::verifications::LEASE_SECONDS`]).
const RENEW_EVERY: Duration = Duration::from_secs(2);

/// A verification run as the page and the JSON show it.
#[derive(Debug, Clone)]
pub struct Run {
    pub row: VerificationRow,
    /// The verify report once finished.
    pub report: Option<Verification>,
}

impl Run {
    fn from_row(row: VerificationRow) -> Run {
        let report = row
            .report
            .clone()
            .and_then(|value| serde_json::from_value::<Verification>(value).ok());
        Run { row, report }
    }

    /// Whether the run is still going.
    pub fn is_running(&self) -> bool {
        self.row.status == "running"
    }

    /// Per cent of entries checked (0 to 100).
    pub fn percent(&self) -> i64 {
        if self.row.entries_total <= 0 {
            return if self.is_running() { 0 } else { 100 };
        }
        (self.row.entries_checked.saturating_mul(100) / self.row.entries_total).clamp(0, 100)
    }
}

/// What [`start`] did: started a run, or found one running (one at a time across instances).
#[derive(Debug)]
pub struct Started {
    pub run: Run,
    pub started_now: bool,
}

fn actor(principal: &Principal) -> String {
    principal
        .staff
        .as_ref()
        .map(|staff| staff.name.clone())
        .unwrap_or_else(|| format!("key:{}", principal.key_id))
}

/// Starts a verification of the whole ledger against the configured public keys, run in the
/// background of this instance; when one is running already (on any instance) returns that
/// one instead.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn start(state: &AppState, principal: &Principal) -> Result<Started, AppError> {
    principal.require(&CHAIN_ROLES)?;
    // Refuse a misconfigured key list before recording a run that could only fail.
    let trusted = trusted_keys(&state.config).map_err(AppError::internal)?;
    let mut tx = state.pool.begin().await?;
    db::verifications::lock_starts(&mut tx).await?;
    db::verifications::fail_lapsed(&mut tx).await?;
    if let Some(row) = db::verifications::running(&mut tx).await? {
        tx.commit().await?;
        return Ok(Started {
            run: Run::from_row(row),
            started_now: false,
        });
    }
    let total = store::chain_length(&mut tx).await?;
    let row = db::verifications::insert_running(&mut tx, Uuid::new_v4(), &actor(principal), total)
        .await?;
    tx.commit().await?;
    let id = row.id;
    let background = state.clone();
    tokio::spawn(async move { run(background, id, trusted).await });
    Ok(Started {
        run: Run::from_row(row),
        started_now: true,
    })
}

/// Runs verification `id`: the verify in one task, the progress writer (which renews the lease)
/// beside it; the result, or why the run broke, goes to the row.
async fn run(state: AppState, id: Uuid, trusted: Vec<VerifyingKey>) {
    let (progress_tx, progress_rx) = tokio::sync::watch::channel(0_i64);
    let pool = state.pool.clone();
    let writer = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(RENEW_EVERY);
        loop {
            ticker.tick().await;
            let checked = *progress_rx.borrow();
            let renewed = match pool.acquire().await {
                Ok(mut conn) => db::verifications::renew(&mut conn, id, checked).await,
                Err(error) => Err(error),
            };
            match renewed {
                Ok(true) => {}
                Ok(false) => break,
                // A missed renewal is retried on the next tick; the lease outlasts several.
                Err(error) => tracing::warn!(%error, "could not renew a verification's lease"),
            }
        }
    });
    let mut on_progress = move |checked: i64| {
        let _ = progress_tx.send(checked);
    };
    let outcome = verify_ledger_with_progress(&state.pool, &trusted, &mut on_progress).await;
    writer.abort();
    let recorded = match state.pool.acquire().await {
        Ok(mut conn) => match outcome {
            Ok(found) => match serde_json::to_value(&found) {
                Ok(report) => {
                    db::verifications::finish(
                        &mut conn,
                        id,
                        found.ok,
                        found.entries_checked,
                        &report,
                    )
                    .await
                }
                Err(error) => db::verifications::fail(&mut conn, id, &error.to_string()).await,
            },
            Err(error) => {
                tracing::error!(%error, "a chain verification run broke");
                db::verifications::fail(
                    &mut conn,
                    id,
                    "the verification broke (see the service log); start it again",
                )
                .await
            }
        },
        Err(error) => Err(error),
    };
    if let Err(error) = recorded {
        // The lease lapses and the next reader marks the run failed.
        tracing::error!(%error, "could not record a verification's result");
    }
}

/// One run (a lapsed one is marked failed first).
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn get(state: &AppState, principal: &Principal, id: Uuid) -> Result<Run, AppError> {
    principal.require(&CHAIN_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    db::verifications::fail_lapsed(&mut conn).await?;
    db::verifications::find(&mut conn, id)
        .await?
        .map(Run::from_row)
        .ok_or_else(|| AppError::not_found("verification"))
}

/// The latest runs, newest first (a lapsed one is marked failed first).
pub async fn recent(state: &AppState, principal: &Principal) -> Result<Vec<Run>, AppError> {
    principal.require(&CHAIN_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    db::verifications::fail_lapsed(&mut conn).await?;
    Ok(db::verifications::recent(&mut conn, 10)
        .await?
        .into_iter()
        .map(Run::from_row)
        .collect())
}

/// A digest with the configured key that verifies its signature.
#[derive(Debug, Clone)]
pub struct CheckedDigest {
    pub digest: DigestRow,
    /// Base64 of the configured public key that verifies the signature; `None`: unknown key.
    pub verified_by: Option<String>,
}

impl CheckedDigest {
    pub fn day(&self) -> NaiveDate {
        self.digest.day
    }
    pub fn signature_base64(&self) -> String {
        STANDARD.encode(&self.digest.signature)
    }
    pub fn named_key_base64(&self) -> String {
        STANDARD.encode(&self.digest.public_key)
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.digest.created_at
    }
}

/// The digests (newest first) and the configured public keys (base64).
#[derive(Debug)]
pub struct DigestProofs {
    pub keys: Vec<String>,
    pub digests: Vec<CheckedDigest>,
}

fn verified_by(digest: &DigestRow, trusted: &[VerifyingKey]) -> Option<String> {
    let signature = Signature::from_slice(&digest.signature).ok()?;
    trusted
        .iter()
        .find(|key| {
            key.verify_strict(digest.payload.as_bytes(), &signature)
                .is_ok()
        })
        .map(|key| STANDARD.encode(key.as_bytes()))
}

/// The latest `limit` digests (all with `None`) checked against the configured keys; every
/// office's balances, so national auditors and admins only.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn digest_proofs(
    state: &AppState,
    principal: &Principal,
    limit: Option<i64>,
) -> Result<DigestProofs, AppError> {
    principal.require(&CHAIN_ROLES)?;
    if principal.office_filter().is_some() {
        return Err(AppError::forbidden(
            "digests state every office's balances; an office-scoped person or key may not read them",
        ));
    }
    let trusted = trusted_keys(&state.config).map_err(AppError::internal)?;
    let mut conn = state.pool.acquire().await?;
    let digests = store::list_digests(&mut conn, limit.unwrap_or(i64::MAX)).await?;
    let mut keys: Vec<String> = Vec::new();
    for key in &trusted {
        let encoded = STANDARD.encode(key.as_bytes());
        if !keys.contains(&encoded) {
            keys.push(encoded);
        }
    }
    Ok(DigestProofs {
        keys,
        digests: digests
            .into_iter()
            .map(|digest| CheckedDigest {
                verified_by: verified_by(&digest, &trusted),
                digest,
            })
            .collect(),
    })
}

/// The verification script shipped in the bundle.
const VERIFY_SCRIPT: &[u8] = include_bytes!("../../../assets/bundle/verify.py");

const README: &str = "OWSO Pay ledger digest bundle\n\
\n\
keys.txt                 the ledger's configured public keys (Ed25519, base64), one a line\n\
digests/DAY.payload      the exact text signed for DAY (chain head and balances)\n\
digests/DAY.sig          its Ed25519 signature, base64\n\
digests/DAY.key          the key the service recorded as signer, base64 (reported, not trusted)\n\
verify.py                checks every signature against keys.txt and that head_seq and\n\
                         entry_count never go backwards (Python 3, standard library only)\n\
\n\
Run: python3 verify.py      (exit 0: every digest verifies; 1: a line names each that fails)\n\
Compare keys.txt with the keys the ministry published, not with this bundle alone.\n";

/// The bundle an outside auditor checks without the service: a `.tar.gz` of every digest,
/// the configured public keys and `verify.py`, under one folder named after `made_at`.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn digest_bundle(
    state: &AppState,
    principal: &Principal,
) -> Result<(String, Vec<u8>), AppError> {
    let proofs = digest_proofs(state, principal, None).await?;
    let folder = format!(
        "owso-ledger-digests-{}",
        Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let bytes = pack(&folder, &proofs).map_err(AppError::internal)?;
    Ok((format!("{folder}.tar.gz"), bytes))
}

fn pack(folder: &str, proofs: &DigestProofs) -> std::io::Result<Vec<u8>> {
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut archive = tar::Builder::new(gzip);
    let mut add = |path: String, mode: u32, bytes: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_size(u64::try_from(bytes.len()).map_err(std::io::Error::other)?);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_cksum();
        archive.append_data(&mut header, format!("{folder}/{path}"), bytes)
    };
    add("README.txt".to_owned(), 0o644, README.as_bytes())?;
    add("verify.py".to_owned(), 0o755, VERIFY_SCRIPT)?;
    let mut keys = proofs.keys.join("\n");
    keys.push('\n');
    add("keys.txt".to_owned(), 0o644, keys.as_bytes())?;
    for checked in &proofs.digests {
        let day = checked.day();
        add(
            format!("digests/{day}.payload"),
            0o644,
            checked.digest.payload.as_bytes(),
        )?;
        add(
            format!("digests/{day}.sig"),
            0o644,
            format!("{}\n", checked.signature_base64()).as_bytes(),
        )?;
        add(
            format!("digests/{day}.key"),
            0o644,
            format!("{}\n", checked.named_key_base64()).as_bytes(),
        )?;
    }
    let mut gzip = archive.into_inner()?;
    gzip.flush()?;
    gzip.finish()
}
