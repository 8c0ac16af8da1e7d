//! A payment a bank reports, typed once where its message was read, and its amount as our
//! books see it.

use chrono::{DateTime, Utc};
use ledger::{Currency, Money};

use crate::app::money::MoneyView;
use crate::app::states::Channel;
use bank_adapters::report::{PaymentReport, ReportedAmount};

/// A payment a bank reports, typed once where its message was read (the adapter's
/// [`PaymentReport`], placed by [`Report::new`]). Every channel settles one of these, through
/// app::settlement_batch.
#[derive(Debug)]
pub struct Report {
    pub provider: &'static str,
    pub channel: Channel,
    pub transaction_id: String,
    pub provider_reference: String,
    pub received: Received,
    /// False when the bank says the money reached another account than the one we asked for.
    pub receiving_account_matches: bool,
    /// The bank's time of the payment, when it tells one.
    pub paid_at: Option<DateTime<Utc>>,
    /// The stored raw message, which settling marks with its verdict (every channel stores
    /// one; `None` only where a caller settles a report it made itself).
    pub inbox_message_id: Option<i64>,
    /// Whether the message's signature verified: `None` for a channel without signatures.
    pub signature_valid: Option<bool>,
}

impl Report {
    /// The report of `provider` through `channel`, with its amount placed ([`Received`]).
    pub fn new(
        provider: &'static str,
        channel: Channel,
        report: PaymentReport,
        inbox_message_id: Option<i64>,
    ) -> Report {
        Report {
            provider,
            channel,
            transaction_id: report.transaction_id,
            provider_reference: report.provider_reference,
            received: Received::from_bank(report.amount),
            receiving_account_matches: true,
            paid_at: report.paid_at,
            inbox_message_id,
            signature_valid: None,
        }
    }
}

/// What a bank says was paid, as our books see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// An amount the books can hold; `reported` is the bank's spelling, for the records.
    Money { money: Money, reported: String },
    /// A currency we do not keep, more decimals than the currency has, an amount too large or
    /// no amount at all: never rounded or guessed, parked as `unsupported_currency` with the
    /// text as sent.
    Unplaceable { amount: String, currency: String },
}

impl Received {
    /// The one place a bank's amount becomes money.
    pub fn from_bank(amount: ReportedAmount) -> Received {
        match amount {
            ReportedAmount::Decimal { value, currency } => {
                let money = currency.parse::<Currency>().ok().and_then(|code| {
                    // More fraction digits than the currency has, even zeros (`1.0` riel), is
                    // a bug at the bank: refused, as Money::parse refuses it, never rounded.
                    (value.scale() <= code.scale())
                        .then(|| Money::from_decimal(value, code).ok())
                        .flatten()
                });
                match money {
                    Some(money) => Received::Money {
                        money,
                        reported: value.to_string(),
                    },
                    None => Received::Unplaceable {
                        amount: value.to_string(),
                        currency,
                    },
                }
            }
            ReportedAmount::Unreadable { amount, currency } => {
                Received::Unplaceable { amount, currency }
            }
        }
    }

    /// The money, when the books can hold it.
    pub fn money(&self) -> Option<Money> {
        match self {
            Received::Money { money, .. } => Some(*money),
            Received::Unplaceable { .. } => None,
        }
    }

    /// Amount and currency as the bank reported them, cut to what the records keep.
    pub(super) fn as_reported(&self) -> MoneyView {
        let (amount, currency) = match self {
            Received::Money { money, reported } => (reported.as_str(), money.currency().code()),
            Received::Unplaceable { amount, currency } => (amount.as_str(), currency.as_str()),
        };
        MoneyView {
            amount: truncate(amount, 64),
            currency: truncate(currency, 16),
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn decimal(value: Decimal, currency: &str) -> Received {
        Received::from_bank(ReportedAmount::Decimal {
            value,
            currency: currency.to_owned(),
        })
    }

    /// Money when the books can hold it, exactly as Money::parse would read the bank's text;
    /// otherwise the text as sent, for suspense.
    #[test]
    fn a_bank_amount_becomes_money_once_or_stays_text() {
        assert_eq!(
            decimal(Decimal::new(125, 1), "USD"),
            Received::Money {
                money: Money::from_minor(1250, Currency::Usd),
                reported: "12.5".to_owned()
            }
        );
        assert_eq!(
            decimal(Decimal::new(600_000, 0), "KHR").money(),
            Some(Money::from_minor(600_000, Currency::Khr))
        );
        // A decimal riel, even `.0`, is a bug at the bank: never rounded.
        assert_eq!(
            decimal(Decimal::new(6_000_000, 1), "KHR"),
            Received::Unplaceable {
                amount: "600000.0".to_owned(),
                currency: "KHR".to_owned()
            }
        );
        assert_eq!(
            decimal(Decimal::new(100, 0), "EUR"),
            Received::Unplaceable {
                amount: "100".to_owned(),
                currency: "EUR".to_owned()
            }
        );
        assert_eq!(
            Received::from_bank(ReportedAmount::Unreadable {
                amount: "-5".to_owned(),
                currency: "KHR".to_owned()
            })
            .money(),
            None
        );
        assert_eq!(
            Received::from_bank(ReportedAmount::Unreadable {
                amount: "x".repeat(100),
                currency: "KHR".to_owned()
            })
            .as_reported()
            .amount
            .len(),
            64
        );
    }
}
