//! Writing a catalog file in its canonical form.

use std::collections::BTreeMap;

use super::COLUMNS;
use crate::app::fees::model::{Catalog, ServiceEntry};

/// Writes a catalog in the canonical form.
///
/// # Errors
///
/// Only if serialization fails, which checked values never do.
#[tracing::instrument(skip_all, fields(schedule.version = %catalog.header.version))]
pub fn export(catalog: &Catalog) -> Result<String, String> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    let write_error = |failure: csv::Error| failure.to_string();
    writer.write_record(COLUMNS).map_err(write_error)?;
    let header = &catalog.header;
    let effective_from = header.effective_from.format("%Y-%m-%d").to_string();
    let mut schedule = Cells::default();
    schedule.set("record", "schedule");
    schedule.set("code", &header.version);
    schedule.set("effective_from", &effective_from);
    schedule.set("legal_basis", &header.legal_basis);
    schedule.set("notes", &header.notes);
    writer.write_record(schedule.cells()).map_err(write_error)?;
    for service in &catalog.services {
        writer
            .write_record(service_cells(service)?.cells())
            .map_err(write_error)?;
    }
    for bundle in &catalog.bundles {
        let mut cells = Cells::default();
        cells.set("record", "bundle");
        cells.set("code", &bundle.code);
        cells.set("name_km", &bundle.name_km);
        cells.set("name_en", &bundle.name_en);
        cells.set("notes", &bundle.notes);
        let items = serde_json::to_string(&bundle.items).map_err(|failure| failure.to_string())?;
        cells.set("definition", &items);
        writer.write_record(cells.cells()).map_err(write_error)?;
    }
    let bytes = writer.into_inner().map_err(|failure| failure.to_string())?;
    String::from_utf8(bytes).map_err(|failure| failure.to_string())
}

fn service_cells(service: &ServiceEntry) -> Result<Cells, String> {
    let mut cells = Cells::default();
    cells.set("record", "service");
    cells.set("code", &service.code);
    cells.set("sector", &service.sector);
    cells.set("name_km", &service.name_km);
    cells.set("name_en", &service.name_en);
    cells.set("currency", service.currency.code());
    cells.set("unit", &service.unit);
    cells.set("max_quantity", &service.max_quantity.to_string());
    cells.set("level", &service.level);
    if let Some(days) = service.time_limit_days {
        cells.set("time_limit_days", &days.to_string());
    }
    cells.set("time_limit_text", &service.time_limit_text);
    cells.set("validity", &service.validity);
    cells.set("legal_basis", &service.legal_basis);
    cells.set("legal_basis_public", &service.legal_basis_public);
    cells.set("legal_basis_number", &service.legal_basis_number);
    if let Some(date) = service.legal_basis_date {
        cells.set("legal_basis_date", &date.format("%Y-%m-%d").to_string());
    }
    cells.set("source", &service.source);
    let rows: Vec<String> = service.source_rows.iter().map(u32::to_string).collect();
    cells.set("source_rows", &rows.join(";"));
    cells.set("notes", &service.notes);
    let rule = serde_json::to_string(&service.rule).map_err(|failure| failure.to_string())?;
    cells.set("definition", &rule);
    Ok(cells)
}

/// One output row, addressed by column name.
#[derive(Default)]
struct Cells(BTreeMap<&'static str, String>);

impl Cells {
    /// Sets a cell, neutralised against spreadsheet formulas (the import restores it).
    fn set(&mut self, column: &'static str, value: &str) {
        self.0.insert(
            column,
            crate::app::csv_cells::neutralise(value).into_owned(),
        );
    }

    fn cells(&self) -> Vec<&str> {
        COLUMNS
            .iter()
            .map(|column| self.0.get(column).map_or("", String::as_str))
            .collect()
    }
}
