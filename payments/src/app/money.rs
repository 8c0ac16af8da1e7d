//! Money read from the database (`(amount_minor, currency)` pairs), and the one JSON shape of an
//! amount. That shape is not only a view: quote lines and outbox payloads (the webhooks the
//! workflow system receives) store it, so it lives here and http re-exports it.

use ledger::{Currency, Money};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::error::AppError;

/// Reads a stored `(amount_minor, currency)` pair.
pub fn from_row(amount_minor: i64, currency: &str) -> Result<Money, AppError> {
    let currency: Currency = currency
        .trim()
        .parse()
        .map_err(|_| AppError::internal(format!("stored currency {currency:?} is unknown")))?;
    Ok(Money::from_minor(amount_minor, currency))
}

/// An amount as a decimal string with exactly the currency's scale (KHR 0, USD 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MoneyView {
    #[schema(example = "600000", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
    #[schema(example = "KHR")]
    pub currency: String,
}

impl From<Money> for MoneyView {
    fn from(money: Money) -> MoneyView {
        MoneyView {
            amount: money.format_amount(),
            currency: money.currency().code().to_owned(),
        }
    }
}

impl MoneyView {
    /// Parses a client-supplied amount strictly (422 naming `field` on failure).
    pub fn parse(&self, field: &str) -> Result<Money, AppError> {
        let currency: Currency = self.currency.parse().map_err(|_| {
            AppError::validation(field, format!("{field}.currency must be KHR or USD"))
        })?;
        Money::parse(&self.amount, currency)
            .map_err(|error| AppError::validation(field, format!("{field}.amount: {error}")))
    }

    /// The view of a stored `(amount_minor, currency)` pair.
    pub fn from_row(amount_minor: i64, currency: &str) -> Result<MoneyView, AppError> {
        Ok(from_row(amount_minor, currency)?.into())
    }
}
