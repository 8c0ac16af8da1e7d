//! CSV cells a spreadsheet would run as a formula. Every CSV the service writes (the journal
//! export, the catalog export) passes each cell through [`neutralise`]; the catalog import
//! undoes it with [`restore`] so that an exported file imports unchanged.

use std::borrow::Cow;

/// First characters that make Excel, LibreOffice or Google Sheets treat a cell as a formula
/// (or, for tab and CR, shift it into one).
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A plain number (`-1500`, `+12.50`): left as it is, so amounts stay numeric in a spreadsheet
/// (a number cannot run anything).
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    let all_digits = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
    match digits.split_once('.') {
        Some((whole, fraction)) => all_digits(whole) && all_digits(fraction),
        None => all_digits(digits),
    }
}

/// The cell with a `'` in front when it starts with `=`, `+`, `-`, `@`, tab or CR and is not a
/// plain number; any other cell unchanged.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(TRIGGERS) && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Undoes [`neutralise`]: a cell of `'` followed by a trigger character loses the `'`.
pub fn restore(cell: &str) -> Cow<'_, str> {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(TRIGGERS) && !is_plain_number(rest) => Cow::Borrowed(rest),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::{neutralise, restore};

    #[test]
    fn formulas_are_quoted_and_numbers_kept() {
        for (cell, out) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1+2", "'+1+2"),
            ("-cmd", "'-cmd"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-1500", "-1500"),
            ("-12.50", "-12.50"),
            ("+3", "+3"),
            ("-", "'-"),
            ("-1.", "'-1."),
            ("Sok Dara", "Sok Dara"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), out, "{cell:?}");
            assert_eq!(restore(&neutralise(cell)), cell, "{cell:?}");
        }
    }
}
