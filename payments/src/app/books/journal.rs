//! The journal, one posting a line: what an auditor loads into a spreadsheet or an audit tool,
//! as CSV or XLSX. Both are read in pages (a short statement each, no connection held while
//! the client reads) and streamed, so any range exports with flat memory; each names its
//! period, its offices and the chain head it was made from ([`ExportInfo`]).

use std::io::Write;
use std::str::FromStr;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ledger::store;
use ledger::{Currency, Money};
use rust_xlsxwriter::{Workbook, Worksheet, XlsxError};
use sqlx::PgPool;
use tracing::Instrument as _;

use super::export::{self, Chunk, ExportError, ExportInfo};
use super::{range, AUDIT_ROLES};
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::db;
use crate::db::books::JournalRow;
use crate::state::AppState;

/// Column names of the journal (CSV, and the XLSX "Journal" sheet), in order. The last four
/// trace each posting to its source (issue 16); they were added after the first thirteen.
pub const JOURNAL_CSV_HEADER: [&str; 17] = [
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
    "payment_intent_id",
    "receipt_number",
    "channel",
    "bank_transaction_id",
];

/// The rows of one XLSX sheet beyond its header (Excel's 1,048,576 rows less one): a longer
/// journal is refused before anything is written.
pub const XLSX_MAX_ROWS: i64 = 1_048_575;

fn record(journal: &JournalRow) -> Result<[String; 17], AppError> {
    let row = &journal.row;
    let trace = &journal.trace;
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
        trace
            .payment_intent_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        trace.receipt_number.clone().unwrap_or_default(),
        trace.channel.clone().unwrap_or_default(),
        trace.bank_transaction_id.clone().unwrap_or_default(),
    ])
}

/// The facts of a journal export of `(from, to]` for `office` (default: all the caller's).
async fn prepare(
    state: &AppState,
    principal: &Principal,
    (from, to): (DateTime<Utc>, Option<DateTime<Utc>>),
    office: Option<&str>,
) -> Result<ExportInfo, AppError> {
    principal.require(&AUDIT_ROLES)?;
    let (from, to) = range(from, to)?;
    let offices = export::offices(principal.office_filter(), office)?;
    let mut conn = state.pool.acquire().await?;
    let head = store::chain_head(&mut conn).await?;
    Ok(ExportInfo {
        from,
        to,
        offices,
        head,
        made_at: Utc::now(),
    })
}

/// Streams the journal of `(from, to]` (`to` defaults to now) of `office` (default: every
/// office the caller sees) as CSV. A task reads it in pages (each on a pool connection held
/// only for that page's statement) and hands the body bounded chunks: memory stays flat for
/// any range, a slow client only slows the reading down and holds no connection meanwhile,
/// and the whole export is cut off after `EXPORT_MAX_DURATION_S`. Pages are separate
/// statements: a posting committed during the export with a time the export has already
/// passed is not in it (export a range that is over for a fixed result).
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn journal_csv(
    state: &AppState,
    principal: &Principal,
    period: (DateTime<Utc>, Option<DateTime<Utc>>),
    office: Option<&str>,
) -> Result<
    (
        ExportInfo,
        impl futures_util::Stream<Item = Chunk> + Send + 'static,
    ),
    AppError,
> {
    let info = prepare(state, principal, period, office).await?;
    let header = export::csv_chunk(&[JOURNAL_CSV_HEADER.map(str::to_owned)])?;
    let pool = state.pool.clone();
    let offices = info.offices.clone();
    let range = (info.from, info.to);
    let stream = export::spawn_stream(
        header,
        state.config.export_max_duration,
        move |sender, deadline| {
            async move { write_csv(&pool, offices, range, &sender, deadline).await }
                .in_current_span()
        },
    );
    Ok((info, stream))
}

async fn read_page(
    pool: &PgPool,
    offices: Option<&[String]>,
    range: (DateTime<Utc>, DateTime<Utc>),
    after: Option<store::JournalCursor>,
) -> Result<Vec<JournalRow>, AppError> {
    let mut conn = pool.acquire().await?;
    Ok(db::books::journal_page(&mut conn, offices, range, after, export::PAGE_ROWS).await?)
}

fn cursor_of(rows: &[JournalRow]) -> Option<store::JournalCursor> {
    rows.last()
        .map(|last| (last.row.created_at, last.row.entry_id, last.row.posting_id))
}

/// Reads the journal page by page and sends each as CSV chunks.
async fn write_csv(
    pool: &PgPool,
    offices: Option<Vec<String>>,
    range: (DateTime<Utc>, DateTime<Utc>),
    sender: &tokio::sync::mpsc::Sender<Chunk>,
    deadline: tokio::time::Instant,
) -> Result<(), ExportError> {
    let mut after = None;
    loop {
        let rows = read_page(pool, offices.as_deref(), range, after).await?;
        if tokio::time::Instant::now() >= deadline {
            return Err(ExportError::PastDeadline);
        }
        let Some(next) = cursor_of(&rows) else {
            return Ok(());
        };
        after = Some(next);
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= export::PAGE_ROWS;
        for chunk in rows.chunks(export::CSV_ROWS_PER_CHUNK) {
            let records = chunk.iter().map(record).collect::<Result<Vec<_>, _>>()?;
            if sender.send(Ok(export::csv_chunk(&records)?)).await.is_err() {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// Streams the journal of `(from, to]` of `office` as an XLSX workbook: a first sheet "About"
/// naming the period, the offices and the chain head, then the sheet "Journal" (the CSV's
/// columns, plus `amount_minor` as a number for sums). The journal sheet is written in
/// rust_xlsxwriter's constant memory mode (rows go to a temporary file as they come), and the
/// zipped workbook is streamed to the body as it is written, so memory stays flat. A range of
/// more than [`XLSX_MAX_ROWS`] postings is refused (422 `range_too_large`) before anything is
/// sent: one sheet holds no more. The zip is written once every row is in the temporary file,
/// so a large workbook's body starts only after its rows are read (the headers go first).
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn journal_xlsx(
    state: &AppState,
    principal: &Principal,
    period: (DateTime<Utc>, Option<DateTime<Utc>>),
    office: Option<&str>,
) -> Result<
    (
        ExportInfo,
        impl futures_util::Stream<Item = Chunk> + Send + 'static,
    ),
    AppError,
> {
    let info = prepare(state, principal, period, office).await?;
    let count = {
        let mut conn = state.pool.acquire().await?;
        db::books::journal_count(
            &mut conn,
            info.offices.as_deref(),
            (info.from, info.to),
            XLSX_MAX_ROWS.saturating_add(1),
        )
        .await?
    };
    if count > XLSX_MAX_ROWS {
        return Err(AppError::unprocessable(
            "range_too_large",
            "Range too large",
            format!(
                "more than {XLSX_MAX_ROWS} postings in the range, beyond one XLSX sheet; narrow the range or export the journal as CSV"
            ),
        ));
    }
    let pool = state.pool.clone();
    let written = info.clone();
    let max_duration = state.config.export_max_duration;
    let handle = tokio::runtime::Handle::current();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Chunk>(8);
    let span = tracing::Span::current();
    // The workbook writer is blocking code: it runs on the blocking pool and reads each page
    // through the runtime's handle.
    tokio::task::spawn_blocking(move || {
        let _span = span.enter();
        let deadline = std::time::Instant::now() + max_duration;
        let mut body = ChannelWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(XLSX_CHUNK_BYTES),
        };
        let failure = match write_xlsx(&handle, &pool, &written, &mut body, deadline) {
            Ok(()) => {
                // The last bytes; an error here is a client gone away.
                let _ = body.flush();
                return;
            }
            // The client went away: nothing to tell anyone.
            Err(_) if sender.is_closed() => return,
            Err(ExportError::Failed(error)) => {
                tracing::error!(error.cause = %error, "journal XLSX export failed part way");
                "export failed"
            }
            Err(ExportError::PastDeadline) => {
                tracing::warn!(
                    export.max_duration_s = max_duration.as_secs(),
                    "journal XLSX export cut off at its maximum duration"
                );
                "export took longer than its maximum duration"
            }
        };
        let _ = sender.blocking_send(Err(std::io::Error::other(failure)));
    });
    let stream = export::receiver_stream(receiver);
    Ok((info, stream))
}

/// Bytes of the zipped workbook sent per chunk.
const XLSX_CHUNK_BYTES: usize = 64 * 1024;

/// The response body as a `Write`: buffers, and sends full chunks (blocking the writer while
/// the client is slow, which keeps memory flat). A client gone away is a broken pipe.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Chunk>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(XLSX_CHUNK_BYTES),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= XLSX_CHUNK_BYTES {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

fn xlsx_error(error: XlsxError) -> ExportError {
    ExportError::Failed(AppError::internal(error))
}

/// The "About" sheet: what the workbook holds and where it was made from.
fn about_sheet(sheet: &mut Worksheet, info: &ExportInfo) -> Result<(), XlsxError> {
    sheet.set_name("About")?;
    let rows: [(&str, String); 8] = [
        ("export", "OWSO Pay journal, one posting a row".to_owned()),
        (
            "period_from",
            info.from
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ),
        (
            "period_to",
            info.to.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ),
        (
            "period_note",
            "from exclusive, to inclusive (UTC)".to_owned(),
        ),
        ("offices", info.offices_label()),
        ("chain_head_seq", info.head.seq.to_string()),
        ("chain_head_hash", info.head.hash.clone()),
        (
            "made_at",
            info.made_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    ];
    sheet.set_column_width(0, 18)?;
    sheet.set_column_width(1, 70)?;
    for (row, (name, value)) in (0u32..).zip(rows) {
        sheet.write_string(row, 0, name)?;
        sheet.write_string(row, 1, value)?;
    }
    Ok(())
}

fn write_xlsx(
    handle: &tokio::runtime::Handle,
    pool: &PgPool,
    info: &ExportInfo,
    body: &mut ChannelWriter,
    deadline: std::time::Instant,
) -> Result<(), ExportError> {
    let mut workbook = Workbook::new();
    about_sheet(workbook.add_worksheet(), info).map_err(xlsx_error)?;
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(xlsx_error)?;
    sheet.set_name("Journal").map_err(xlsx_error)?;
    let amount_minor_column = u16::try_from(JOURNAL_CSV_HEADER.len()).unwrap_or(u16::MAX);
    for (column, name) in (0u16..).zip(JOURNAL_CSV_HEADER) {
        sheet.write_string(0, column, name).map_err(xlsx_error)?;
    }
    sheet
        .write_string(0, amount_minor_column, "amount_minor")
        .map_err(xlsx_error)?;
    let mut next_row: u32 = 1;
    let mut after = None;
    loop {
        let rows = handle.block_on(read_page(
            pool,
            info.offices.as_deref(),
            (info.from, info.to),
            after,
        ))?;
        if std::time::Instant::now() >= deadline {
            return Err(ExportError::PastDeadline);
        }
        // Nobody is reading any more: stop writing rows for them.
        if body.sender.is_closed() {
            return Ok(());
        }
        let Some(next) = cursor_of(&rows) else {
            break;
        };
        after = Some(next);
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= export::PAGE_ROWS;
        for row in &rows {
            // Text cells are never formulas in XLSX: no neutralising needed, the text is kept.
            for (column, cell) in (0u16..).zip(record(row)?) {
                if !cell.is_empty() {
                    sheet
                        .write_string(next_row, column, cell)
                        .map_err(xlsx_error)?;
                }
            }
            match spreadsheet_number(row.row.amount_minor) {
                Some(minor) => sheet.write_number(next_row, amount_minor_column, minor),
                None => sheet.write_string(
                    next_row,
                    amount_minor_column,
                    row.row.amount_minor.to_string(),
                ),
            }
            .map_err(xlsx_error)?;
            next_row = next_row.saturating_add(1);
        }
        if !full {
            break;
        }
    }
    workbook.save_to_writer(&mut *body).map_err(xlsx_error)?;
    Ok(())
}

/// A spreadsheet number is an f64: minor units up to 2^53 are whole numbers it holds exactly
/// (any real amount); a larger one stays text rather than be rounded.
#[allow(clippy::as_conversions, clippy::cast_precision_loss)]
fn spreadsheet_number(minor: i64) -> Option<f64> {
    const EXACT: i64 = 1 << 53;
    (-EXACT..=EXACT).contains(&minor).then_some(minor as f64)
}
