//! The journal as CSV, one posting a line: what an auditor loads into a spreadsheet or an
//! audit tool. Streamed in pages, so any range exports with flat memory.

use std::str::FromStr;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ledger::store;
use ledger::{Currency, Money};
use sqlx::PgPool;
use tracing::Instrument as _;

use super::{range, AUDIT_ROLES};
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::state::AppState;

/// Rows per chunk of the CSV body: large enough to amortise, small enough to stay flat.
const CSV_ROWS_PER_CHUNK: usize = 256;

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
        Money::from_minor(row.amount_minor, currency).format_amount(),
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

/// Streams the journal of `(from, to]` (`to` defaults to now) as CSV. A task reads it in pages
/// (each on a pool connection held only for that page's statement) and hands the body bounded
/// chunks: memory stays flat for any range, a slow client only slows the reading down and
/// holds no connection meanwhile, and the whole export is cut off after
/// `EXPORT_MAX_DURATION_S`. Pages are separate statements: a posting committed during the
/// export with a time the export has already passed is not in it (export a range that is over
/// for a fixed result).
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn journal_csv(
    state: &AppState,
    principal: &Principal,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
) -> Result<impl futures_util::Stream<Item = Chunk> + Send + 'static, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let (from, to) = range(from, to)?;
    let offices = principal.office_filter().map(<[String]>::to_vec);
    let pool = state.pool.clone();
    let max_duration = state.config.export_max_duration;
    let header = csv_chunk(&[JOURNAL_CSV_HEADER.map(str::to_owned)])?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Chunk>(8);
    // The task keeps this request's span, so its log lines name the export they cut off.
    tokio::spawn(
        async move {
            if sender.send(Ok(header)).await.is_err() {
                return;
            }
            run_export(&pool, offices, (from, to), &sender, max_duration).await;
        }
        .in_current_span(),
    );
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok(stream)
}

/// Writes the pages of the export to `sender` until its end or `max_duration`; a failure or
/// the deadline ends the body with an error chunk, so the client never takes a cut-off body
/// for a whole one.
async fn run_export(
    pool: &PgPool,
    offices: Option<Vec<String>>,
    range: (DateTime<Utc>, DateTime<Utc>),
    sender: &tokio::sync::mpsc::Sender<Chunk>,
    max_duration: std::time::Duration,
) {
    let deadline = tokio::time::Instant::now() + max_duration;
    let export = write_journal(pool, offices, range, sender, deadline);
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

/// Reads the journal page by page and sends each as CSV chunks.
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
