//! What every export of the books shares: the facts it names (period, offices, the chain head
//! it was made from), its file name, CSV chunks, and the task that streams pages to the body
//! with a deadline.

use std::future::Future;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ledger::store::ChainHead;

use crate::app::error::AppError;

/// Rows per chunk of a CSV body: large enough to amortise, small enough to stay flat.
pub const CSV_ROWS_PER_CHUNK: usize = 256;

/// Rows read per page of an export: one short statement each, the connection given back
/// between pages.
pub const PAGE_ROWS: i64 = 2_048;

/// A piece of a streamed export, or the error that cut it off.
pub type Chunk = Result<Bytes, std::io::Error>;

/// What an export says it holds, in its file name, its response headers and (XLSX) its
/// "About" sheet.
#[derive(Debug, Clone)]
pub struct ExportInfo {
    /// Start of the period, exclusive.
    pub from: DateTime<Utc>,
    /// End of the period, inclusive.
    pub to: DateTime<Utc>,
    /// The offices it covers; `None` is every office (a national reader's whole ledger).
    pub offices: Option<Vec<String>>,
    /// The chain's head when the export started: entries sealed up to it are in their final
    /// form; later ones (sealed or not yet) carry their own seal columns.
    pub head: ChainHead,
    pub made_at: DateTime<Utc>,
}

impl ExportInfo {
    /// `all`, or the office codes joined by `+`.
    pub fn offices_label(&self) -> String {
        match &self.offices {
            None => "all".to_owned(),
            Some(codes) => codes.join("+"),
        }
    }

    /// `<stem>_<from>_<to>_<offices>_head-<seq>-<hash prefix>.<ext>`, UTC times: what an
    /// auditor's folder of exports sorts and tells apart. Only `[0-9A-Za-z_+.-]` characters,
    /// so it needs no quoting in a header.
    pub fn file_name(&self, stem: &str, extension: &str) -> String {
        let time = |at: DateTime<Utc>| at.format("%Y%m%dT%H%M%SZ").to_string();
        let hash: String = self.head.hash.chars().take(12).collect();
        let name = format!(
            "{stem}_{}_{}_{}_head-{}-{hash}.{extension}",
            time(self.from),
            time(self.to),
            self.offices_label(),
            self.head.seq
        );
        name.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '.' | '-'))
            .collect()
    }

    /// `<from>/<to>` in RFC 3339 (ISO 8601 interval).
    pub fn period(&self) -> String {
        let time = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        format!("{}/{}", time(self.from), time(self.to))
    }
}

/// The offices an export covers: the caller's scope, narrowed to `office` when given. An
/// office outside the caller's scope is "not found", as its accounts are.
pub fn offices(
    scope: Option<&[String]>,
    office: Option<&str>,
) -> Result<Option<Vec<String>>, AppError> {
    let office = office.map(str::trim).filter(|code| !code.is_empty());
    match (scope, office) {
        (None, None) => Ok(None),
        (None, Some(code)) => Ok(Some(vec![code.to_owned()])),
        (Some(scope), None) => Ok(Some(scope.to_vec())),
        (Some(scope), Some(code)) if scope.iter().any(|own| own == code) => {
            Ok(Some(vec![code.to_owned()]))
        }
        (Some(_), Some(_)) => Err(AppError::not_found("office")),
    }
}

/// CSV records as one chunk; no cell may run as a spreadsheet formula.
pub fn csv_chunk<const N: usize>(records: &[[String; N]]) -> Result<Bytes, AppError> {
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

/// Why an export stopped before its end.
pub enum ExportError {
    Failed(AppError),
    /// The timer's tick is a millisecond, so a page that answers quickly can beat it; the
    /// deadline is also checked after every page, so an export past it never ends as if whole.
    PastDeadline,
}

impl<E: Into<AppError>> From<E> for ExportError {
    fn from(error: E) -> Self {
        ExportError::Failed(error.into())
    }
}

/// Sends `header`, then runs `write` in a task until its end or `max_duration`; a failure or
/// the deadline ends the body with an error chunk, so the client never takes a cut-off body
/// for a whole one. The task keeps the caller's span (pass a future instrumented with it).
pub fn spawn_stream<F, Fut>(
    header: Bytes,
    max_duration: std::time::Duration,
    write: F,
) -> impl futures_util::Stream<Item = Chunk> + Send + 'static
where
    F: FnOnce(tokio::sync::mpsc::Sender<Chunk>, tokio::time::Instant) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), ExportError>> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel::<Chunk>(8);
    let span = tracing::Span::current();
    tokio::spawn(async move {
        if sender.send(Ok(header)).await.is_err() {
            return;
        }
        let deadline = tokio::time::Instant::now() + max_duration;
        let outcome = tokio::time::timeout_at(deadline, write(sender.clone(), deadline)).await;
        let failure = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(ExportError::Failed(error))) => {
                // Logged here, where it is handled; the client sees a cut-off body.
                tracing::error!(parent: &span, error.cause = %error, "export failed part way");
                "export failed"
            }
            Ok(Err(ExportError::PastDeadline)) | Err(_) => {
                tracing::warn!(parent: &span,
                    export.max_duration_s = max_duration.as_secs(),
                    "export cut off at its maximum duration"
                );
                "export took longer than its maximum duration"
            }
        };
        let _ = sender.send(Err(std::io::Error::other(failure))).await;
    });
    receiver_stream(receiver)
}

/// The chunks a writer task sends, as a response body. Fused: the compression layer polls a
/// body once more after its end, and a bare `unfold` panics on that poll, which cut off every
/// gzipped download at its last chunk.
pub fn receiver_stream(
    receiver: tokio::sync::mpsc::Receiver<Chunk>,
) -> impl futures_util::Stream<Item = Chunk> + Send + 'static {
    futures_util::StreamExt::fuse(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|chunk| (chunk, receiver)) },
    ))
}
