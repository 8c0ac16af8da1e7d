//! Cell access to one data row of a catalog file by column name, with its errors collected.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use csv::StringRecord;

use super::{error, ImportError};

/// A data row being read: cell access by column name, errors collected.
pub(super) struct Row<'a> {
    pub(super) record: &'a StringRecord,
    pub(super) index: &'a BTreeMap<String, usize>,
    pub(super) line: u64,
    pub(super) errors: Vec<ImportError>,
}

impl Row<'_> {
    pub(super) fn get(&self, column: &str) -> &str {
        self.index
            .get(column)
            .and_then(|position| self.record.get(*position))
            .unwrap_or("")
    }

    pub(super) fn fail(&mut self, column: &str, code: &str, message: String) {
        self.errors
            .push(error(self.line, Some(column), code, message));
    }

    /// A text cell: required or not, at most `max` characters.
    pub(super) fn text(&mut self, column: &str, required: Option<&str>, max: usize) -> String {
        let value = self.get(column).to_owned();
        if value.trim().is_empty() {
            if let Some(code) = required {
                self.fail(column, code, format!("{column} is required"));
            }
        } else if value.chars().count() > max {
            self.fail(
                column,
                "too_long",
                format!("{column} is longer than {max} characters"),
            );
        }
        value
    }

    /// Columns that must stay empty on this kind of row.
    pub(super) fn empty(&mut self, columns: &[&str], record: &str) {
        for column in columns {
            if !self.get(column).is_empty() {
                self.fail(
                    column,
                    "unexpected_value",
                    format!("{column} must be empty on a {record} row"),
                );
            }
        }
    }

    pub(super) fn date(&mut self, column: &str) -> Option<NaiveDate> {
        let value = self.get(column).to_owned();
        if value.is_empty() {
            return None;
        }
        let parsed = NaiveDate::parse_from_str(&value, "%Y-%m-%d")
            .ok()
            .filter(|date| date.format("%Y-%m-%d").to_string() == value);
        if parsed.is_none() {
            self.fail(
                column,
                "invalid_date",
                format!("{column} {value:?} is not a date YYYY-MM-DD"),
            );
        }
        parsed
    }
}
