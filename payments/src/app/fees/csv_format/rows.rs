//! Reading one row of a catalog file: a schedule, a service or a bundle.

use std::collections::{BTreeMap, BTreeSet};

use csv::StringRecord;
use ledger::Currency;

use super::row::Row;
use super::{
    ImportError, MAX_NAME_CHARS, MAX_PUBLIC_LEGAL_BASIS_CHARS, MAX_QUANTITY, MAX_TEXT_CHARS,
};
use crate::app::fees::model::{BundleEntry, BundleItem, ScheduleHeader, ServiceEntry, LEVELS};
use crate::app::fees::rules::FeeRule;

/// What a row is, once read (`None`: the row has errors).
pub(super) enum Record {
    Schedule(Option<ScheduleHeader>),
    Service(Option<Box<ServiceEntry>>),
    Bundle(Option<BundleEntry>),
    Invalid,
}

/// Reads one data row; the errors found are returned with it.
pub(super) fn read_record(
    record: &StringRecord,
    line: u64,
    index: &BTreeMap<String, usize>,
    sectors: &BTreeSet<String>,
) -> (Record, Vec<ImportError>) {
    let mut row = Row {
        record,
        index,
        line,
        errors: Vec::new(),
    };
    let read = if record.len() == index.len() {
        let kind = row.get("record").to_owned();
        match kind.as_str() {
            "schedule" => Record::Schedule(read_schedule(&mut row)),
            "service" => Record::Service(read_service(&mut row, sectors).map(Box::new)),
            "bundle" => Record::Bundle(read_bundle(&mut row)),
            other => {
                row.fail(
                    "record",
                    "unknown_record",
                    format!("record must be schedule, service or bundle, not {other:?}"),
                );
                Record::Invalid
            }
        }
    } else {
        let message = format!(
            "{} fields where the header has {}",
            record.len(),
            index.len()
        );
        row.fail("record", "wrong_field_count", message);
        Record::Invalid
    };
    (read, row.errors)
}

fn is_version(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text.bytes().enumerate().all(|(position, byte)| {
            byte.is_ascii_alphanumeric() || (position > 0 && matches!(byte, b'.' | b'_' | b'-'))
        })
}

fn is_code_part(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

fn read_schedule(row: &mut Row<'_>) -> Option<ScheduleHeader> {
    let version = row.get("code").to_owned();
    if !is_version(&version) {
        row.fail(
            "code",
            "invalid_version",
            "the schedule version (code) is 1 to 64 letters, digits, '.', '_' or '-'".to_owned(),
        );
    }
    if row.get("effective_from").is_empty() {
        row.fail(
            "effective_from",
            "invalid_date",
            "effective_from is required".to_owned(),
        );
    }
    let effective_from = row.date("effective_from");
    let legal_basis = row.text("legal_basis", Some("missing_legal_basis"), MAX_TEXT_CHARS);
    let notes = row.text("notes", None, MAX_TEXT_CHARS);
    row.empty(
        &[
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
            "legal_basis_public",
            "legal_basis_number",
            "legal_basis_date",
            "source",
            "source_rows",
            "definition",
        ],
        "schedule",
    );
    Some(ScheduleHeader {
        version,
        effective_from: effective_from?,
        legal_basis,
        notes,
    })
}

/// The code and sector of a service row: `sector.name`, with a known sector.
fn read_identity(row: &mut Row<'_>, sectors: &BTreeSet<String>) -> (String, String) {
    let code = row.get("code").to_owned();
    let sector = row.get("sector").to_owned();
    let code_ok = code.len() <= 64
        && code
            .split_once('.')
            .is_some_and(|(prefix, rest)| is_code_part(prefix) && is_code_part(rest));
    if !code_ok {
        row.fail(
            "code",
            "invalid_code",
            format!("service code {code:?} must look like sector.name (a-z, 0-9, _; at most 64)"),
        );
    }
    if !sectors.contains(&sector) {
        row.fail(
            "sector",
            "unknown_sector",
            format!("{sector:?} is not one of the 17 sector codes"),
        );
    } else if code_ok && !code.starts_with(&format!("{sector}.")) {
        row.fail(
            "code",
            "code_sector_mismatch",
            format!("service code {code} must start with its sector, {sector}."),
        );
    }
    (code, sector)
}

fn read_service(row: &mut Row<'_>, sectors: &BTreeSet<String>) -> Option<ServiceEntry> {
    let (code, sector) = read_identity(row, sectors);
    let name_km = row.text("name_km", Some("missing_name"), MAX_NAME_CHARS);
    let name_en = row.text("name_en", Some("missing_name"), MAX_NAME_CHARS);
    let currency = read_currency(row);
    let unit = read_unit(row);
    let max_quantity = read_integer(row, "max_quantity", 1, MAX_QUANTITY, true);
    let level = read_level(row, currency);
    let time_limit_days = read_integer(row, "time_limit_days", 1, 3650, false)
        .and_then(|days| i32::try_from(days).ok());
    let time_limit_text = row.text("time_limit_text", None, 100);
    let validity = row.text("validity", None, 100);
    row.empty(&["effective_from"], "service");
    let legal_basis = row.text("legal_basis", Some("missing_legal_basis"), MAX_TEXT_CHARS);
    let legal_basis_public = read_public_legal_basis(row);
    let legal_basis_number = row.text("legal_basis_number", None, 100);
    let legal_basis_date = row.date("legal_basis_date");
    let source = row.text("source", Some("missing_source"), MAX_TEXT_CHARS);
    let source_rows = read_source_rows(row);
    let notes = row.text("notes", None, MAX_TEXT_CHARS);
    let rule = read_rule(row, currency);
    Some(ServiceEntry {
        code,
        sector,
        name_km,
        name_en,
        currency: currency?,
        unit,
        max_quantity: max_quantity?,
        level,
        time_limit_days,
        time_limit_text,
        validity,
        legal_basis,
        legal_basis_public,
        legal_basis_number,
        legal_basis_date,
        source,
        source_rows,
        notes,
        rule: rule?,
    })
}

/// The citation citizens are shown: empty (none published) or trimmed text of at most
/// [`MAX_PUBLIC_LEGAL_BASIS_CHARS`] characters, one line (it is printed on pages and receipts).
fn read_public_legal_basis(row: &mut Row<'_>) -> String {
    let column = "legal_basis_public";
    let value = row.text(column, None, MAX_PUBLIC_LEGAL_BASIS_CHARS);
    if value.trim() != value || value.contains(['\n', '\r']) {
        row.fail(
            column,
            "invalid_legal_basis_public",
            "legal_basis_public is one line without leading or trailing spaces".to_owned(),
        );
    }
    value
}

fn read_unit(row: &mut Row<'_>) -> String {
    let unit = row.get("unit").to_owned();
    let unit_ok = (1..=32).contains(&unit.len())
        && unit
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || matches!(byte, b' ' | b'_' | b'-'));
    if !unit_ok {
        row.fail(
            "unit",
            "invalid_unit",
            "unit is 1 to 32 characters a-z, space, '_' or '-'".to_owned(),
        );
    }
    unit
}

/// The level of a service; USD is allowed only for national services.
fn read_level(row: &mut Row<'_>, currency: Option<Currency>) -> String {
    let level = row.get("level").to_owned();
    if !LEVELS.contains(&level.as_str()) {
        row.fail(
            "level",
            "invalid_level",
            format!("level must be one of {}", LEVELS.join(", ")),
        );
    } else if currency == Some(Currency::Usd) && level != "national" {
        row.fail(
            "currency",
            "usd_not_national",
            "only national services may be priced in USD; OWSO fees are in riel".to_owned(),
        );
    }
    level
}

fn read_currency(row: &mut Row<'_>) -> Option<Currency> {
    let currency = match row.get("currency") {
        "KHR" => Some(Currency::Khr),
        "USD" => Some(Currency::Usd),
        _ => None,
    };
    if currency.is_none() {
        row.fail(
            "currency",
            "invalid_currency",
            "currency must be KHR or USD".to_owned(),
        );
    }
    currency
}

fn read_integer(
    row: &mut Row<'_>,
    column: &str,
    min: i64,
    max: i64,
    required: bool,
) -> Option<i64> {
    let value = row.get(column).to_owned();
    if value.is_empty() && !required {
        return None;
    }
    let parsed = value
        .parse::<i64>()
        .ok()
        .filter(|number| (min..=max).contains(number) && number.to_string() == value);
    if parsed.is_none() {
        row.fail(
            column,
            &format!("invalid_{column}"),
            format!("{column} must be a whole number from {min} to {max}"),
        );
    }
    parsed
}

fn read_source_rows(row: &mut Row<'_>) -> Vec<u32> {
    let value = row.get("source_rows").to_owned();
    if value.is_empty() {
        return Vec::new();
    }
    let parsed: Option<Vec<u32>> = value
        .split(';')
        .map(|part| part.parse::<u32>().ok().filter(|number| *number > 0))
        .collect();
    parsed.unwrap_or_else(|| {
        row.fail(
            "source_rows",
            "invalid_source_rows",
            "source_rows are row numbers separated by ';'".to_owned(),
        );
        Vec::new()
    })
}

fn read_rule(row: &mut Row<'_>, currency: Option<Currency>) -> Option<FeeRule> {
    let text = row.get("definition").to_owned();
    let rule: FeeRule = match serde_json::from_str(&text) {
        Ok(rule) => rule,
        Err(failure) => {
            row.fail(
                "definition",
                "invalid_rule",
                format!("the fee rule is not a valid rule document: {failure}"),
            );
            return None;
        }
    };
    let issues = rule.check(currency?);
    let sound = issues.is_empty();
    for found in issues {
        row.fail("definition", found.code, found.message);
    }
    sound.then_some(rule)
}

fn read_bundle(row: &mut Row<'_>) -> Option<BundleEntry> {
    let code = row.get("code").to_owned();
    let code_ok = code.len() <= 64 && code.strip_prefix("bundle.").is_some_and(is_code_part);
    if !code_ok {
        row.fail(
            "code",
            "invalid_code",
            format!("bundle code {code:?} must look like bundle.name (a-z, 0-9, _)"),
        );
    }
    let name_km = row.text("name_km", Some("missing_name"), MAX_NAME_CHARS);
    let name_en = row.text("name_en", Some("missing_name"), MAX_NAME_CHARS);
    let notes = row.text("notes", None, MAX_TEXT_CHARS);
    row.empty(
        &[
            "sector",
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
        ],
        "bundle",
    );
    let items: Vec<BundleItem> = match serde_json::from_str(row.get("definition")) {
        Ok(items) => items,
        Err(failure) => {
            row.fail(
                "definition",
                "invalid_bundle",
                format!("bundle items must be [{{\"service_code\",\"quantity\",\"params\"}}]: {failure}"),
            );
            return None;
        }
    };
    Some(BundleEntry {
        code,
        name_km,
        name_en,
        notes,
        items,
    })
}
