//! A payment a bank reports, read once where the bank's message is parsed.
//!
//! Every channel's adapter turns its own wire format into a [`PaymentReport`]: the amount is
//! a decimal (or, when the bank sent something that is no plain amount, the raw text, kept for
//! a person to look at), and the bank's time is already UTC. The payments service places the
//! report in its books from there and never reads the bank's text again.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// A payment a bank says it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentReport {
    /// The bank's id of this money movement; one effect per id.
    pub transaction_id: String,
    /// Our reference of the attempt the payment is for.
    pub provider_reference: String,
    /// What was paid.
    pub amount: ReportedAmount,
    /// When the bank says the payer paid, when it says so.
    pub paid_at: Option<DateTime<Utc>>,
}

/// The amount of a [`PaymentReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportedAmount {
    /// A plain non-negative decimal in major units, with the scale the bank wrote, and the
    /// bank's currency code (not checked against any list: the books decide what they hold).
    Decimal {
        /// The amount, such as `600000` or `12.50`.
        value: Decimal,
        /// The code as the bank wrote it, such as `KHR`.
        currency: String,
    },
    /// Text that is no plain amount (a sign, an exponent, garbage), as the bank sent it.
    Unreadable {
        /// The amount text, as sent.
        amount: String,
        /// The currency text, as sent.
        currency: String,
    },
}

impl ReportedAmount {
    /// Reads an amount a bank wrote as text: a plain non-negative decimal (digits, optionally
    /// a point and more digits) or else [`ReportedAmount::Unreadable`].
    pub fn from_text(amount: &str, currency: &str) -> ReportedAmount {
        match crate::sandbox::wire::parse_amount(amount) {
            Ok(value) => ReportedAmount::Decimal {
                value,
                currency: currency.to_owned(),
            },
            Err(_) => ReportedAmount::Unreadable {
                amount: amount.to_owned(),
                currency: currency.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_are_read_and_anything_else_is_kept_as_sent() {
        assert_eq!(
            ReportedAmount::from_text("12.50", "USD"),
            ReportedAmount::Decimal {
                value: Decimal::new(1250, 2),
                currency: "USD".to_owned()
            }
        );
        for odd in ["-5", "1e3", "", " 1", "1,000"] {
            assert_eq!(
                ReportedAmount::from_text(odd, "KHR"),
                ReportedAmount::Unreadable {
                    amount: odd.to_owned(),
                    currency: "KHR".to_owned()
                }
            );
        }
    }
}
