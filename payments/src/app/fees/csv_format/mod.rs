//! The catalog file: CSV, UTF-8 (Khmer names as they are), one schedule version per file.
//!
//! Columns (by name, in any order): see [`COLUMNS`]. The `record` column says what a row is:
//!
//! - `schedule`: one per file; `code` is the version, with `effective_from` (YYYY-MM-DD, a
//!   Cambodian date), `legal_basis` and `notes`;
//! - `service`: one service; `definition` is its fee rule (the tagged JSON of [`FeeRule`]);
//!   `legal_basis` is the source's text with any research note (for auditors),
//!   `legal_basis_public` the citation citizens are shown (empty: none published);
//! - `bundle`: a service package; `definition` is its items
//!   (`[{"service_code","quantity"?,"params"?}]`).
//!
//! [`parse`] is all-or-nothing and reports every bad row with its line; [`export`] writes the
//! canonical form (schedule, then services and bundles sorted by code), so an export imported
//! and exported again is byte-identical.

mod export;
mod row;
mod rows;

use std::collections::{BTreeMap, BTreeSet};

use csv::StringRecord;
use serde::Serialize;

use super::model::{BundleEntry, Catalog, ScheduleHeader, ServiceEntry};
use super::params;
use rows::Record;

pub use export::export;

/// The columns of a catalog file, in the order [`export`] writes them.
pub const COLUMNS: [&str; 21] = [
    "record",
    "code",
    "sector",
    "name_km",
    "name_en",
    "currency",
    "unit",
    "max_quantity",
    "level",
    "time_limit_days",
    "time_limit_text",
    "validity",
    "effective_from",
    "legal_basis",
    "legal_basis_public",
    "legal_basis_number",
    "legal_basis_date",
    "source",
    "source_rows",
    "notes",
    "definition",
];

/// Columns a file may leave out: files exported before a column existed still import, and
/// the missing cells read as empty (for `legal_basis_public`: no legal basis published, so a
/// provenance note is never shown to citizens by accident).
const OPTIONAL_COLUMNS: [&str; 1] = ["legal_basis_public"];

/// Most data rows a file may have.
pub const MAX_ROWS: usize = 5_000;
/// Longest service or bundle name, in characters (API.md limits).
const MAX_NAME_CHARS: usize = 200;
/// Longest free-text cell (sources, notes, legal bases), in characters.
const MAX_TEXT_CHARS: usize = 4_000;
/// Longest public legal basis, in characters (the database holds the same limit).
const MAX_PUBLIC_LEGAL_BASIS_CHARS: usize = 500;
/// API.md: quantity is 1..10,000.
const MAX_QUANTITY: i64 = 10_000;

/// One problem of an imported file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportError {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    pub column: Option<String>,
    /// Stable code, e.g. `unknown_sector`, `overlapping_bands`, `negative_fee`.
    pub code: String,
    pub message: String,
}

fn error(line: u64, column: Option<&str>, code: &str, message: String) -> ImportError {
    ImportError {
        line,
        column: column.map(str::to_owned),
        code: code.to_owned(),
        message,
    }
}

/// Parses a catalog file against the known sector codes.
///
/// # Errors
///
/// Every problem found, each with its line: nothing of a file with errors is kept.
#[tracing::instrument(skip_all, fields(catalog.bytes = bytes.len()))]
pub fn parse(bytes: &[u8], sectors: &BTreeSet<String>) -> Result<Catalog, Vec<ImportError>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    check_text(bytes)?;
    let records = read_records(bytes)?;
    let Some((header, rows)) = records.split_first() else {
        return Err(vec![error(
            1,
            None,
            "missing_header",
            "the file is empty".to_owned(),
        )]);
    };
    let index = read_header(header)?;
    if rows.len() > MAX_ROWS {
        return Err(vec![error(
            1,
            None,
            "too_many_rows",
            format!("a catalog file has at most {MAX_ROWS} rows"),
        )]);
    }
    read_rows(rows, &index, sectors)
}

/// The 1-based line of the byte at `position`.
fn line_of(bytes: &[u8], position: usize) -> u64 {
    let before = bytes.get(..position).unwrap_or_default();
    let line = before.iter().filter(|byte| **byte == b'\n').count();
    u64::try_from(line).unwrap_or(u64::MAX).saturating_add(1)
}

/// The file must be UTF-8 without NUL (which PostgreSQL text cannot hold).
fn check_text(bytes: &[u8]) -> Result<(), Vec<ImportError>> {
    if let Err(bad) = std::str::from_utf8(bytes) {
        return Err(vec![error(
            line_of(bytes, bad.valid_up_to()),
            None,
            "not_utf8",
            "the file is not UTF-8".to_owned(),
        )]);
    }
    if let Some(position) = bytes.iter().position(|byte| *byte == 0) {
        return Err(vec![error(
            line_of(bytes, position),
            None,
            "nul_character",
            "the file contains a NUL character".to_owned(),
        )]);
    }
    Ok(())
}

/// Every record of the file, header included, with formula-like cells restored.
fn read_records(bytes: &[u8]) -> Result<Vec<StringRecord>, Vec<ImportError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = Vec::new();
    for result in reader.records() {
        match result {
            Ok(record) => {
                // Exports quote formula-like cells with `'`; take them back as written.
                let mut restored: StringRecord = record
                    .iter()
                    .map(crate::app::csv_cells::restore)
                    .collect::<Vec<_>>()
                    .iter()
                    .map(|cell| cell.as_ref())
                    .collect();
                restored.set_position(record.position().cloned());
                records.push(restored);
            }
            Err(failure) => {
                let line = failure.position().map_or(0, csv::Position::line);
                return Err(vec![error(
                    line,
                    None,
                    "malformed_csv",
                    format!("the file is not valid CSV: {failure}"),
                )]);
            }
        }
    }
    Ok(records)
}

fn read_header(header: &StringRecord) -> Result<BTreeMap<String, usize>, Vec<ImportError>> {
    let mut index = BTreeMap::new();
    let mut errors = Vec::new();
    for (position, name) in header.iter().enumerate() {
        if !COLUMNS.contains(&name) {
            errors.push(error(
                1,
                Some(name),
                "unknown_column",
                format!("unknown column {name:?}"),
            ));
        } else if index.insert(name.to_owned(), position).is_some() {
            errors.push(error(
                1,
                Some(name),
                "duplicate_column",
                format!("column {name} appears twice"),
            ));
        }
    }
    for column in COLUMNS {
        if !index.contains_key(column) && !OPTIONAL_COLUMNS.contains(&column) {
            errors.push(error(
                1,
                Some(column),
                "missing_column",
                format!("column {column} is missing"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(index)
    } else {
        Err(errors)
    }
}

/// What has been read so far: the schedule row, services and bundles with their lines.
#[derive(Default)]
struct Reading {
    saw_schedule: bool,
    header: Option<ScheduleHeader>,
    services: Vec<(u64, ServiceEntry)>,
    bundles: Vec<(u64, BundleEntry)>,
    codes: BTreeSet<String>,
    errors: Vec<ImportError>,
}

impl Reading {
    fn take(&mut self, line: u64, record: Record) {
        let code = match &record {
            Record::Service(Some(service)) => Some(service.code.clone()),
            Record::Bundle(Some(bundle)) => Some(bundle.code.clone()),
            _ => None,
        };
        if let Some(code) = code {
            if !self.codes.insert(code.clone()) {
                let message = format!("{code} appears twice");
                self.errors
                    .push(error(line, Some("code"), "duplicate_code", message));
            }
        }
        match record {
            Record::Schedule(_) if self.saw_schedule => self.errors.push(error(
                line,
                Some("record"),
                "duplicate_schedule",
                "a file holds one schedule row".to_owned(),
            )),
            Record::Schedule(parsed) => {
                self.saw_schedule = true;
                self.header = parsed;
            }
            Record::Service(service) => self.services.extend(service.map(|found| (line, *found))),
            Record::Bundle(bundle) => self.bundles.extend(bundle.map(|found| (line, found))),
            Record::Invalid => {}
        }
    }

    fn finish(mut self) -> Result<Catalog, Vec<ImportError>> {
        if !self.saw_schedule {
            self.errors.push(error(
                1,
                None,
                "missing_schedule",
                "the file has no schedule row (version, effective_from, legal_basis)".to_owned(),
            ));
        }
        for (line, bundle) in &self.bundles {
            check_bundle(*line, bundle, &self.services, &mut self.errors);
        }
        match self.header {
            Some(header) if self.errors.is_empty() => {
                let mut services: Vec<ServiceEntry> = self
                    .services
                    .into_iter()
                    .map(|(_, service)| service)
                    .collect();
                services.sort_by(|left, right| left.code.cmp(&right.code));
                let mut bundles: Vec<BundleEntry> =
                    self.bundles.into_iter().map(|(_, bundle)| bundle).collect();
                bundles.sort_by(|left, right| left.code.cmp(&right.code));
                Ok(Catalog {
                    header,
                    services,
                    bundles,
                })
            }
            _ => {
                self.errors.sort_by_key(|found| found.line);
                Err(self.errors)
            }
        }
    }
}

fn read_rows(
    rows: &[StringRecord],
    index: &BTreeMap<String, usize>,
    sectors: &BTreeSet<String>,
) -> Result<Catalog, Vec<ImportError>> {
    let mut reading = Reading::default();
    for record in rows {
        let line = record.position().map_or(0, csv::Position::line);
        let (read, mut found) = rows::read_record(record, line, index, sectors);
        reading.errors.append(&mut found);
        reading.take(line, read);
    }
    reading.finish()
}

/// A bundle names services of the same file, in one currency, with parameters they take.
fn check_bundle(
    line: u64,
    bundle: &BundleEntry,
    services: &[(u64, ServiceEntry)],
    errors: &mut Vec<ImportError>,
) {
    let mut fail = |message: String| {
        errors.push(error(line, Some("definition"), "invalid_bundle", message));
    };
    if bundle.items.is_empty() || bundle.items.len() > 20 {
        fail("a bundle lists 1 to 20 services".to_owned());
    }
    let mut currencies = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for item in &bundle.items {
        if !seen.insert(item.service_code.as_str()) {
            fail(format!("{} is listed twice", item.service_code));
        }
        let Some((_, service)) = services
            .iter()
            .find(|(_, service)| service.code == item.service_code)
        else {
            fail(format!(
                "{} is not a service of this file",
                item.service_code
            ));
            continue;
        };
        currencies.insert(service.currency);
        if !(1..=service.max_quantity).contains(&item.quantity) {
            fail(format!(
                "quantity of {} must be 1 to {}",
                service.code, service.max_quantity
            ));
        }
        let used = service.rule.parameters();
        for (name, value) in &item.params {
            let parsed = params::lookup(name)
                .filter(|_| used.contains(name))
                .map(|definition| definition.parse(value));
            match parsed {
                Some(Ok(_)) => {}
                Some(Err(refusal)) => fail(format!("{}: {}", service.code, refusal.reason)),
                None => fail(format!("{} takes no parameter {name:?}", service.code)),
            }
        }
    }
    if currencies.len() > 1 {
        fail("the services of a bundle must share one currency".to_owned());
    }
}
