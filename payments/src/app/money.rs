//! Money read from the database: `(amount_minor, currency)` pairs.

use ledger::{Currency, Money};

use crate::app::error::AppError;

/// The JSON shape of an amount lives with the views (http::money). Re-exported here only
/// because app modules still embed it in what they store (quote lines, outbox payloads,
/// catalog and books rows) until those move their views out too.
pub use crate::http::money::MoneyView;

/// Reads a stored `(amount_minor, currency)` pair.
pub fn from_row(amount_minor: i64, currency: &str) -> Result<Money, AppError> {
    let currency: Currency = currency
        .trim()
        .parse()
        .map_err(|_| AppError::internal(format!("stored currency {currency:?} is unknown")))?;
    Ok(Money::from_minor(amount_minor, currency))
}
