//! Ledger integrity and auditor reads (issue 5): period close, chain verification, signed
//! daily digests, account statements and balances, the CSV journal.

use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use ledger::store::{self, CloseOutcome, ClosedPeriod};
use ledger::{Currency, LedgerError, Money};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::config::Config;
use crate::state::AppState;

const AUDIT_ROLES: [Role; 3] = [Role::Auditor, Role::Admin, Role::Supervisor];
/// Verification and digests cover every office's books: auditors and admins only.
const CHAIN_ROLES: [Role; 2] = [Role::Auditor, Role::Admin];
/// A statement longer than this is refused; the CSV journal has no limit.
const MAX_STATEMENT_LINES: i64 = 10_000;
/// Rows per chunk of the CSV body: large enough to amortise, small enough to stay flat.
const CSV_ROWS_PER_CHUNK: usize = 256;
/// The seed of the sandbox signing key, public on purpose: digests signed with it prove
/// nothing, and its public key is recognisable.
const SANDBOX_SIGNING_SEED_LABEL: &[u8] = b"owso-pay sandbox ledger signing key (not secret)";

fn ledger_error(error: LedgerError) -> AppError {
    match error {
        LedgerError::AccountNotFound(_) => AppError::not_found("account"),
        LedgerError::PeriodNotClosable(detail) => {
            AppError::unprocessable("period_not_closable", "Period cannot be closed", detail)
        }
        LedgerError::RangeTooLarge(limit) => AppError::unprocessable(
            "range_too_large",
            "Range too large",
            format!(
                "more than {limit} postings in the range; narrow it or export the journal as CSV"
            ),
        ),
        LedgerError::InvalidEntry(detail) => AppError::validation("month", detail),
        other => AppError::from(other),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosePeriodRequest {
    pub office_code: String,
    /// `YYYY-MM`, a Cambodian calendar month that is over.
    #[schema(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-10")]
    pub month: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosedPeriodView {
    pub office_code: String,
    /// `YYYY-MM`.
    pub month: String,
    pub closed_at: DateTime<Utc>,
    pub closed_by: String,
}

impl From<ClosedPeriod> for ClosedPeriodView {
    fn from(period: ClosedPeriod) -> ClosedPeriodView {
        ClosedPeriodView {
            office_code: period.office_code,
            month: store::format_month(period.month),
            closed_at: period.closed_at,
            closed_by: period.closed_by,
        }
    }
}

/// Closes a month of an office; `true` when it was closed now, `false` when already closed.
#[tracing::instrument(skip_all, fields(office.code = %request.office_code, period.month = %request.month))]
pub async fn close_period(
    state: &AppState,
    principal: &Principal,
    request: ClosePeriodRequest,
) -> Result<(bool, ClosedPeriodView), AppError> {
    principal.require(&[Role::Admin])?;
    let month = store::parse_month(&request.month).map_err(ledger_error)?;
    let mut tx = state.pool.begin().await?;
    // language=PostgreSQL
    let office_exists: bool =
        sqlx::query_scalar("select exists (select 1 from offices where code = $1)")
            .bind(&request.office_code)
            .fetch_one(&mut *tx)
            .await?;
    if !office_exists {
        return Err(AppError::not_found("office"));
    }
    let closed_by = format!("key:{}", principal.key_id);
    let outcome = store::close_period(&mut tx, &request.office_code, month, &closed_by)
        .await
        .map_err(ledger_error)?;
    tx.commit().await?;
    Ok(match outcome {
        CloseOutcome::Closed(period) => (true, period.into()),
        CloseOutcome::AlreadyClosed(period) => (false, period.into()),
    })
}

pub async fn list_periods(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<ClosedPeriodView>, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let periods = store::list_closed_periods(&mut conn, principal.office_filter()).await?;
    Ok(periods.into_iter().map(ClosedPeriodView::from).collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    pub ok: bool,
    pub entries_checked: i64,
    /// The first entry that does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_entry: Option<i64>,
    /// The day of the first digest that is not signed by a trusted key or disagrees with the
    /// chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_digest: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub head_seq: i64,
    /// Hex SHA-256 of the chain head.
    pub head_hash: String,
    /// Stored daily digests whose signature was checked against the trusted keys.
    pub digests_checked: usize,
    /// Daily balance rows recomputed from their postings.
    pub rollup_rows_checked: i64,
    /// The first daily balance that differs from its postings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_rollup: Option<BadRollup>,
}

/// A daily balance row that differs from its postings.
#[derive(Debug, Serialize, ToSchema)]
pub struct BadRollup {
    #[schema(example = "0320:revenue:construction:KHR")]
    pub account: String,
    pub day: chrono::NaiveDate,
}

/// Checks every stored digest's signature against `trusted` keys only (the public key stored
/// with a digest is not believed), then recomputes the chain from genesis and compares it
/// with each signed payload; used by the API and by `payments ledger verify`.
pub async fn verify_ledger(
    pool: &PgPool,
    trusted: &[VerifyingKey],
) -> Result<VerifyView, AppError> {
    let mut tx = pool.begin().await?;
    // One snapshot for seals, entries and the sealer's horizon; read only, so it blocks no one.
    // language=PostgreSQL
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let digests = store::list_digests(&mut tx, i64::MAX).await?;
    let mut checkpoints = Vec::with_capacity(digests.len());
    let mut refused: Option<(NaiveDate, String)> = None;
    for digest in &digests {
        match trusted_payload(digest, trusted) {
            Ok(payload) => checkpoints.push(payload),
            Err(reason) => {
                refused = Some((digest.day, reason));
                break;
            }
        }
    }
    if let Some((day, reason)) = refused {
        let head = store::chain_head(&mut tx).await?;
        tx.commit().await?;
        return Ok(VerifyView {
            ok: false,
            entries_checked: 0,
            first_bad_entry: None,
            bad_digest: Some(day),
            reason: Some(reason),
            head_seq: head.seq,
            head_hash: head.hash,
            digests_checked: checkpoints.len(),
            rollup_rows_checked: 0,
            first_bad_rollup: None,
        });
    }
    let report = store::verify_chain_against(&mut tx, &checkpoints).await?;
    tx.commit().await?;
    Ok(VerifyView {
        ok: report.ok,
        entries_checked: report.entries_checked,
        first_bad_entry: report.first_bad_entry,
        bad_digest: report.bad_digest,
        reason: report.reason,
        head_seq: report.head_seq,
        head_hash: report.head_hash,
        digests_checked: digests.len(),
        rollup_rows_checked: report.rollup_rows_checked,
        first_bad_rollup: report
            .first_bad_rollup
            .map(|(account, day)| BadRollup { account, day }),
    })
}

/// The payload of a digest whose signature verifies with one of the `trusted` keys, or why not.
fn trusted_payload(
    digest: &store::DigestRow,
    trusted: &[VerifyingKey],
) -> Result<store::DigestPayload, String> {
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
    let payload = store::DigestPayload::parse(&digest.payload)
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

pub async fn verify(state: &AppState, principal: &Principal) -> Result<VerifyView, AppError> {
    principal.require(&CHAIN_ROLES)?;
    let trusted = trusted_keys(&state.config).map_err(AppError::internal)?;
    verify_ledger(&state.pool, &trusted).await
}

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

#[derive(Debug, Serialize, ToSchema)]
pub struct DigestView {
    pub day: NaiveDate,
    pub head_seq: i64,
    pub head_hash: String,
    pub entry_count: i64,
    /// The exact signed text (UTF-8).
    pub payload: String,
    /// Base64 Ed25519 signature of `payload`.
    pub signature: String,
    /// Base64 Ed25519 public key that signed it.
    pub public_key: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DigestsView {
    pub algorithm: &'static str,
    /// Base64 public key digests are signed with now (null when signing is off).
    pub public_key: Option<String>,
    pub digests: Vec<DigestView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DigestsQuery {
    /// 1 to 366 (default 31).
    #[param(minimum = 1, maximum = 366)]
    pub limit: Option<i64>,
}

pub async fn digests(
    state: &AppState,
    principal: &Principal,
    limit: Option<i64>,
) -> Result<DigestsView, AppError> {
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
        .map(|key| STANDARD.encode(key.verifying_key().to_bytes()));
    let mut conn = state.pool.acquire().await?;
    let rows = store::list_digests(&mut conn, limit).await?;
    Ok(DigestsView {
        algorithm: "Ed25519",
        public_key,
        digests: rows
            .into_iter()
            .map(|row| DigestView {
                day: row.day,
                head_seq: row.head_seq,
                head_hash: row.head_hash,
                entry_count: row.entry_count,
                payload: row.payload,
                signature: STANDARD.encode(&row.signature),
                public_key: STANDARD.encode(&row.public_key),
                created_at: row.created_at,
            })
            .collect(),
    })
}

/// The account, if the caller may see it (another office's account is "not found").
async fn visible_account(
    state: &AppState,
    principal: &Principal,
    code: &str,
) -> Result<store::AccountRef, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let account = store::find_account(&mut conn, code)
        .await
        .map_err(ledger_error)?;
    if !principal.sees_office(&account.office_code) {
        return Err(AppError::not_found("account"));
    }
    Ok(account)
}

fn amount(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).format_amount()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BalanceQuery {
    /// Default: now.
    pub as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    pub account: String,
    pub office_code: String,
    pub currency: String,
    pub as_of: DateTime<Utc>,
    pub debit: String,
    pub credit: String,
    /// Debits minus credits (negative for a credit balance).
    pub balance: String,
}

pub async fn balance(
    state: &AppState,
    principal: &Principal,
    code: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<BalanceView, AppError> {
    let account = visible_account(state, principal, code).await?;
    let as_of = as_of.unwrap_or_else(Utc::now);
    let mut conn = state.pool.acquire().await?;
    let line = store::account_balance(&mut conn, &account, as_of).await?;
    Ok(BalanceView {
        account: account.code,
        office_code: account.office_code,
        currency: account.currency.code().to_owned(),
        as_of,
        debit: amount(line.debit_minor, account.currency),
        credit: amount(line.credit_minor, account.currency),
        balance: amount(line.balance_minor, account.currency),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// Start, exclusive: the opening balance is the balance at this instant. A date
    /// (`2026-12-06`) is the start of that day in UTC+7.
    #[serde(deserialize_with = "super::dates::required_start")]
    pub from: DateTime<Utc>,
    /// End, inclusive (default: now). A date is the end of that day in UTC+7 (inclusive).
    #[serde(default, deserialize_with = "super::dates::end_inclusive")]
    pub to: Option<DateTime<Utc>>,
}

/// Written by hand: the derive drops `required` from a parameter whose schema is given by a
/// function, and `from` is required.
impl utoipa::IntoParams for RangeQuery {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::Required;
        let parameter = |name: &str, required: Required, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(required)
                .description(Some(description))
                .schema(Some(super::dates::schema()))
                .build()
        };
        vec![
            parameter(
                "from",
                Required::True,
                "Start, exclusive: the opening balance is the balance at this instant. A date is the start of that day in UTC+7.",
            ),
            parameter(
                "to",
                Required::False,
                "End, inclusive (default: now). A date is the end of that day in UTC+7 (inclusive).",
            ),
        ]
    }
}

fn range(query: &RangeQuery) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let to = query.to.unwrap_or_else(Utc::now);
    if query.from >= to {
        return Err(AppError::validation("from", "from must be before to"));
    }
    Ok((query.from, to))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLineView {
    pub entry_id: i64,
    pub created_at: DateTime<Utc>,
    pub kind: String,
    pub description: String,
    /// Signed: debit positive, credit negative.
    pub amount: String,
    /// Balance after this line.
    pub balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementView {
    pub account: String,
    pub office_code: String,
    pub currency: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub opening_balance: String,
    pub lines: Vec<StatementLineView>,
    pub closing_balance: String,
}

pub async fn statement(
    state: &AppState,
    principal: &Principal,
    code: &str,
    query: RangeQuery,
) -> Result<StatementView, AppError> {
    let (from, to) = range(&query)?;
    let account = visible_account(state, principal, code).await?;
    let mut conn = state.pool.acquire().await?;
    let statement = store::statement(&mut conn, &account, from, to, MAX_STATEMENT_LINES)
        .await
        .map_err(ledger_error)?;
    let currency = account.currency;
    Ok(StatementView {
        account: account.code,
        office_code: account.office_code,
        currency: currency.code().to_owned(),
        from,
        to,
        opening_balance: amount(statement.opening_minor, currency),
        lines: statement
            .lines
            .into_iter()
            .map(|line| StatementLineView {
                entry_id: line.entry_id,
                created_at: line.created_at,
                kind: line.kind,
                description: line.description,
                amount: amount(line.amount_minor, currency),
                balance: amount(line.balance_minor, currency),
            })
            .collect(),
        closing_balance: amount(statement.closing_minor, currency),
    })
}

/// Column names of the CSV journal, in order.
pub const JOURNAL_CSV_HEADER: [&str; 13] = [
    "entry_id",
    "created_at",
    "office_code",
    "kind",
    "description",
    "reverses_entry_id",
    "corrects_period",
    "posting_id",
    "account",
    "currency",
    "amount",
    "seal_seq",
    "seal_hash",
];

fn csv_record(row: &store::JournalRow) -> Result<[String; 13], AppError> {
    let currency = Currency::from_str(&row.currency).map_err(AppError::internal)?;
    Ok([
        row.entry_id.to_string(),
        row.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        row.office_code.clone(),
        row.kind.clone(),
        row.description.clone(),
        row.reverses_entry_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        row.corrects_period
            .map(store::format_month)
            .unwrap_or_default(),
        row.posting_id.to_string(),
        row.account.clone(),
        row.currency.clone(),
        amount(row.amount_minor, currency),
        row.seal_seq.map(|seq| seq.to_string()).unwrap_or_default(),
        row.seal_hash.clone().unwrap_or_default(),
    ])
}

fn csv_chunk(records: &[[String; 13]]) -> Result<Bytes, AppError> {
    let mut writer =
        csv::Writer::from_writer(Vec::with_capacity(records.len().saturating_mul(160)));
    for record in records {
        // Descriptions and codes come from requests: no cell may run as a spreadsheet formula.
        writer
            .write_record(record.iter().map(|cell| {
                crate::app::csv_cells::neutralise(cell)
                    .into_owned()
                    .into_bytes()
            }))
            .map_err(AppError::internal)?;
    }
    let bytes = writer.into_inner().map_err(AppError::internal)?;
    Ok(Bytes::from(bytes))
}

/// A piece of a streamed export, or the error that cut it off.
pub type Chunk = Result<Bytes, std::io::Error>;

/// Rows read per page of the journal export: one short statement each, the connection given
/// back between pages.
const JOURNAL_PAGE_ROWS: i64 = 2_048;

/// Streams the journal of `(from, to]` as CSV. A task reads it in pages (each on a pool
/// connection held only for that page's statement) and hands the body bounded chunks: memory
/// stays flat for any range, a slow client only slows the reading down and holds no
/// connection meanwhile, and the whole export is cut off after `EXPORT_MAX_DURATION_S`.
/// Pages are separate statements: a posting committed during the export with a time the
/// export has already passed is not in it (export a range that is over for a fixed result).
pub async fn journal_csv(
    state: &AppState,
    principal: &Principal,
    query: RangeQuery,
) -> Result<impl futures_util::Stream<Item = Chunk> + Send + 'static, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let (from, to) = range(&query)?;
    let offices = principal.office_filter().map(<[String]>::to_vec);
    let pool = state.pool.clone();
    let max_duration = state.config.export_max_duration;
    let header = csv_chunk(&[JOURNAL_CSV_HEADER.map(str::to_owned)])?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Chunk>(8);
    tokio::spawn(async move {
        if sender.send(Ok(header)).await.is_err() {
            return;
        }
        let deadline = tokio::time::Instant::now() + max_duration;
        let export = write_journal(&pool, offices, (from, to), &sender, deadline);
        let failure = match tokio::time::timeout_at(deadline, export).await {
            Ok(Ok(())) => return,
            Ok(Err(JournalError::Failed(error))) => {
                // Logged here, where it is handled; the client sees a cut-off body.
                tracing::error!(error.cause = %error, "journal export failed part way");
                "journal export failed"
            }
            Ok(Err(JournalError::PastDeadline)) | Err(_) => {
                tracing::warn!(
                    export.max_duration_s = max_duration.as_secs(),
                    "journal export cut off at its maximum duration"
                );
                "journal export took longer than its maximum duration"
            }
        };
        let _ = sender.send(Err(std::io::Error::other(failure))).await;
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok(stream)
}

/// Why a journal export stopped before its end.
enum JournalError {
    Failed(AppError),
    /// The timer's tick is a millisecond, so a page that answers quickly can beat it; the
    /// deadline is also checked after every page, so an export past it never ends as if whole.
    PastDeadline,
}

impl<E: Into<AppError>> From<E> for JournalError {
    fn from(error: E) -> Self {
        JournalError::Failed(error.into())
    }
}

async fn write_journal(
    pool: &PgPool,
    offices: Option<Vec<String>>,
    range: (DateTime<Utc>, DateTime<Utc>),
    sender: &tokio::sync::mpsc::Sender<Chunk>,
    deadline: tokio::time::Instant,
) -> Result<(), JournalError> {
    let mut after = None;
    loop {
        let rows = {
            let mut conn = pool.acquire().await?;
            store::journal_page(
                &mut conn,
                offices.as_deref(),
                range,
                after,
                JOURNAL_PAGE_ROWS,
            )
            .await?
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(JournalError::PastDeadline);
        }
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some((last.created_at, last.entry_id, last.posting_id));
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= JOURNAL_PAGE_ROWS;
        for chunk in rows.chunks(CSV_ROWS_PER_CHUNK) {
            let records = chunk
                .iter()
                .map(csv_record)
                .collect::<Result<Vec<_>, _>>()?;
            if sender.send(Ok(csv_chunk(&records)?)).await.is_err() {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}
