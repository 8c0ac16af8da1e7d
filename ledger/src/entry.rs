//! Journal entries: built line by line, checked to balance before they reach the database.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::Value;

use crate::account::{check_office_code, AccountCode};
use crate::error::LedgerError;
use crate::money::{clip, Currency, Money};

/// Longest entry kind (template name); matches the `ledger_entries.kind` check.
const MAX_KIND_CHARS: usize = 64;
/// Longest description; matches the `ledger_entries.description` check.
const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Longest idempotency key; matches the `ledger_entries.idempotency_key` check.
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The database id of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EntryId(pub i64);

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One line of a balanced entry: an account and a signed amount (debit positive, credit negative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    account: AccountCode,
    amount: Money,
}

impl Posting {
    /// Returns the account the line posts to.
    pub fn account(&self) -> &AccountCode {
        &self.account
    }

    /// Returns the signed amount: positive for a debit, negative for a credit.
    pub fn amount(&self) -> Money {
        self.amount
    }

    /// Tells whether the line is a debit.
    pub fn is_debit(&self) -> bool {
        self.amount.is_positive()
    }
}

/// Which side a builder line is on; the sign is applied only once the entry is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Debit,
    Credit,
}

/// Collects the lines of one entry and checks them in [`EntryBuilder::build`].
///
/// Lines are given with positive amounts and a side, the way a bookkeeper writes them; the
/// builder never fails halfway, so a chain of calls reports the first problem at `build`.
#[derive(Debug, Clone)]
#[must_use = "an entry builder does nothing until it is built and posted"]
pub struct EntryBuilder {
    office_code: String,
    kind: String,
    description: String,
    idempotency_key: Option<String>,
    reverses: Option<EntryId>,
    corrects_period: Option<NaiveDate>,
    metadata: Value,
    lines: Vec<(Side, AccountCode, Money)>,
}

impl EntryBuilder {
    /// Starts an entry of `office_code` made from the template `kind` (e.g. `payment_confirmed`).
    pub fn new(office_code: &str, kind: &str, description: &str) -> EntryBuilder {
        EntryBuilder {
            office_code: office_code.to_owned(),
            kind: kind.to_owned(),
            description: description.to_owned(),
            idempotency_key: None,
            reverses: None,
            corrects_period: None,
            metadata: Value::Object(serde_json::Map::new()),
            lines: Vec::new(),
        }
    }

    /// Sets the key under which the entry is posted at most once, e.g. `sandbox:txn_123:confirmed`.
    ///
    /// Keys are unique across the whole ledger, not per office, so they should name their source.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Marks the entry as the reversal of `entry`; an entry can be reversed only once.
    pub fn reverses(mut self, entry: EntryId) -> Self {
        self.reverses = Some(entry);
        self
    }

    /// Marks the entry as a correction of the closed month starting on `month` (its first
    /// day); the entry itself posts into the open month, as closed months take no postings.
    ///
    /// The database refuses the entry unless that month of the entry's office is closed and
    /// earlier than the entry's own month. A reversal of an entry of a closed month gets this
    /// reference by itself.
    pub fn corrects_period(mut self, month: NaiveDate) -> Self {
        self.corrects_period = Some(month);
        self
    }

    /// Sets the entry's metadata, a JSON object such as `{"payment_intent_id": "…"}`.
    pub fn metadata(mut self, value: Value) -> Self {
        self.metadata = value;
        self
    }

    /// Adds a debit of the positive `amount` to `account`.
    pub fn debit(mut self, account: AccountCode, amount: Money) -> Self {
        self.lines.push((Side::Debit, account, amount));
        self
    }

    /// Adds a credit of the positive `amount` to `account`.
    pub fn credit(mut self, account: AccountCode, amount: Money) -> Self {
        self.lines.push((Side::Credit, account, amount));
        self
    }

    /// Checks the entry and returns it ready to post.
    ///
    /// # Errors
    ///
    /// [`LedgerError::InvalidEntry`] for a malformed office code, kind (1 to 64 of `a-z`,
    /// `0-9`, `_`, `.`, `-`), description (1 to 1000 characters, not blank), idempotency key
    /// (1 to 255 characters) or non-object metadata; [`LedgerError::TooFewPostings`] for fewer
    /// than two lines; [`LedgerError::NonPositiveAmount`], [`LedgerError::CurrencyMismatch`] or
    /// [`LedgerError::OfficeMismatch`] for the first bad line; [`LedgerError::Unbalanced`] when
    /// debits and credits differ in a currency; [`LedgerError::Money`] on overflow.
    pub fn build(self) -> Result<BalancedEntry, LedgerError> {
        self.check_header()?;
        if self.lines.len() < 2 {
            return Err(LedgerError::TooFewPostings);
        }
        let mut postings = Vec::with_capacity(self.lines.len());
        // A BTreeMap so that the currency reported as unbalanced does not depend on hashing.
        let mut sums: BTreeMap<Currency, Money> = BTreeMap::new();
        for (side, account, amount) in self.lines {
            if !amount.is_positive() {
                return Err(LedgerError::NonPositiveAmount);
            }
            if amount.currency() != account.currency() {
                return Err(LedgerError::CurrencyMismatch {
                    account: account.to_string(),
                });
            }
            if account.office_code() != self.office_code {
                return Err(LedgerError::OfficeMismatch {
                    account: account.to_string(),
                });
            }
            let signed = match side {
                Side::Debit => amount,
                Side::Credit => amount.negated()?,
            };
            let sum = sums
                .entry(amount.currency())
                .or_insert_with(|| Money::zero(amount.currency()));
            *sum = sum.checked_add(signed)?;
            postings.push(Posting {
                account,
                amount: signed,
            });
        }
        if let Some((currency, _)) = sums.iter().find(|(_, sum)| !sum.is_zero()) {
            return Err(LedgerError::Unbalanced {
                currency: *currency,
            });
        }
        Ok(BalancedEntry {
            office_code: self.office_code,
            kind: self.kind,
            description: self.description,
            idempotency_key: self.idempotency_key,
            reverses: self.reverses,
            corrects_period: self.corrects_period,
            metadata: self.metadata,
            postings,
        })
    }

    /// Mirrors the database checks on `ledger_entries` so that a bad field is a typed error
    /// here rather than a check violation that aborts the caller's transaction.
    fn check_header(&self) -> Result<(), LedgerError> {
        check_office_code(&self.office_code).map_err(|_| {
            invalid(format!(
                "office code {:?} is malformed",
                clip(&self.office_code)
            ))
        })?;
        let kind_ok = (1..=MAX_KIND_CHARS).contains(&self.kind.len())
            && self.kind.bytes().all(|byte| {
                byte.is_ascii_lowercase()
                    || byte.is_ascii_digit()
                    || matches!(byte, b'_' | b'.' | b'-')
            });
        if !kind_ok {
            return Err(invalid(format!(
                "kind {:?} must be 1 to {MAX_KIND_CHARS} characters of a-z, 0-9, '_', '.' or '-'",
                clip(&self.kind)
            )));
        }
        let description_chars = self.description.chars().count();
        if self.description.trim().is_empty() || description_chars > MAX_DESCRIPTION_CHARS {
            return Err(invalid(format!(
                "description must be 1 to {MAX_DESCRIPTION_CHARS} characters and not blank"
            )));
        }
        if let Some(key) = &self.idempotency_key {
            if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS {
                return Err(invalid(format!(
                    "idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
                )));
            }
        }
        if !self.metadata.is_object() {
            return Err(invalid("metadata must be a JSON object".to_owned()));
        }
        if self.corrects_period.is_some_and(|month| month.day() != 1) {
            return Err(invalid(
                "corrects_period must be the first day of a month".to_owned(),
            ));
        }
        Ok(())
    }
}

fn invalid(why: String) -> LedgerError {
    LedgerError::InvalidEntry(why)
}

/// An entry whose lines balance in every currency; only [`EntryBuilder::build`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct BalancedEntry {
    office_code: String,
    kind: String,
    description: String,
    idempotency_key: Option<String>,
    reverses: Option<EntryId>,
    corrects_period: Option<NaiveDate>,
    metadata: Value,
    postings: Vec<Posting>,
}

impl BalancedEntry {
    /// Returns the office every posting belongs to.
    pub fn office_code(&self) -> &str {
        &self.office_code
    }

    /// Returns the template name, e.g. `payment_confirmed`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Returns the human-readable description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Returns the idempotency key, if any.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// Returns the entry this one reverses, if any.
    pub fn reverses(&self) -> Option<EntryId> {
        self.reverses
    }

    /// Returns the first day of the closed month this entry corrects, if any.
    pub fn corrects_period(&self) -> Option<NaiveDate> {
        self.corrects_period
    }

    /// Returns the metadata object.
    pub fn metadata(&self) -> &Value {
        &self.metadata
    }

    /// Returns the lines in the order they were added, with signed amounts.
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;
    use crate::account::AccountKind;
    use proptest::prelude::*;

    fn account(office: &str, kind: AccountKind, currency: Currency) -> AccountCode {
        AccountCode::new(office, kind, currency).unwrap()
    }

    fn clearing(currency: Currency) -> AccountCode {
        account(
            "0320",
            AccountKind::Clearing {
                channel: "khqr".into(),
            },
            currency,
        )
    }

    fn revenue(sector: &str, currency: Currency) -> AccountCode {
        account(
            "0320",
            AccountKind::Revenue {
                sector: sector.into(),
            },
            currency,
        )
    }

    fn khr(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Khr)
    }

    fn payment() -> EntryBuilder {
        EntryBuilder::new("0320", "payment_confirmed", "case 0320018100 paid by khqr")
    }

    #[test]
    fn builds_a_balanced_entry_with_signed_postings() {
        let entry = payment()
            .idempotency_key("sandbox:txn_123:confirmed")
            .metadata(serde_json::json!({"case_reference": "0320018100"}))
            .debit(clearing(Currency::Khr), khr(600_000))
            .credit(revenue("construction", Currency::Khr), khr(400_000))
            .credit(revenue("land", Currency::Khr), khr(200_000))
            .build()
            .unwrap();
        let amounts: Vec<i64> = entry
            .postings()
            .iter()
            .map(|p| p.amount().amount_minor())
            .collect();
        assert_eq!(amounts, [600_000, -400_000, -200_000]);
        assert!(entry.postings()[0].is_debit() && !entry.postings()[1].is_debit());
        assert_eq!(entry.idempotency_key(), Some("sandbox:txn_123:confirmed"));
        assert_eq!(entry.office_code(), "0320");
        assert_eq!(entry.kind(), "payment_confirmed");
        assert_eq!(entry.reverses(), None);
        assert_eq!(entry.metadata()["case_reference"], "0320018100");
    }

    #[test]
    fn balances_each_currency_separately() {
        let usd = |minor| Money::from_minor(minor, Currency::Usd);
        let built = payment()
            .debit(clearing(Currency::Khr), khr(4000))
            .credit(revenue("land", Currency::Khr), khr(4000))
            .debit(clearing(Currency::Usd), usd(100))
            .credit(revenue("land", Currency::Usd), usd(100))
            .build();
        assert!(built.is_ok());
        let unbalanced = payment()
            .debit(clearing(Currency::Khr), khr(4000))
            .credit(revenue("land", Currency::Usd), usd(4000))
            .build();
        assert!(matches!(
            unbalanced,
            Err(LedgerError::Unbalanced {
                currency: Currency::Khr
            })
        ));
    }

    #[test]
    fn refuses_malformed_entries() {
        let one_line = payment().debit(clearing(Currency::Khr), khr(1)).build();
        assert!(matches!(one_line, Err(LedgerError::TooFewPostings)));
        assert!(matches!(
            payment().build(),
            Err(LedgerError::TooFewPostings)
        ));

        let unbalanced = payment()
            .debit(clearing(Currency::Khr), khr(600_000))
            .credit(revenue("land", Currency::Khr), khr(599_999))
            .build();
        assert!(matches!(
            unbalanced,
            Err(LedgerError::Unbalanced {
                currency: Currency::Khr
            })
        ));

        for amount in [khr(0), khr(-5)] {
            let built = payment()
                .debit(clearing(Currency::Khr), amount)
                .credit(revenue("land", Currency::Khr), amount)
                .build();
            assert!(
                matches!(built, Err(LedgerError::NonPositiveAmount)),
                "{amount}"
            );
        }

        let wrong_currency = payment()
            .debit(clearing(Currency::Usd), khr(5))
            .credit(revenue("land", Currency::Khr), khr(5))
            .build();
        assert!(
            matches!(wrong_currency, Err(LedgerError::CurrencyMismatch { account }) if account == "0320:clearing:khqr:USD")
        );

        let other_office = account("0999", AccountKind::Suspense, Currency::Khr);
        let wrong_office = payment()
            .debit(clearing(Currency::Khr), khr(5))
            .credit(other_office, khr(5))
            .build();
        assert!(
            matches!(wrong_office, Err(LedgerError::OfficeMismatch { account }) if account == "0999:suspense:KHR")
        );

        let overflow = payment()
            .debit(clearing(Currency::Khr), khr(i64::MAX))
            .debit(clearing(Currency::Khr), khr(1))
            .credit(revenue("land", Currency::Khr), khr(1))
            .build();
        assert!(matches!(
            overflow,
            Err(LedgerError::Money(crate::MoneyError::Overflow))
        ));
    }

    #[test]
    fn refuses_malformed_headers() {
        let lines = |builder: EntryBuilder| {
            builder
                .debit(clearing(Currency::Khr), khr(5))
                .credit(revenue("land", Currency::Khr), khr(5))
                .build()
        };
        let bad = [
            lines(EntryBuilder::new("0320", "", "x")),
            lines(EntryBuilder::new("0320", "Payment Confirmed", "x")),
            lines(EntryBuilder::new("0320", "payment_confirmed", "")),
            lines(EntryBuilder::new("0320", "payment_confirmed", "   ")),
            lines(EntryBuilder::new(
                "0320",
                "payment_confirmed",
                &"x".repeat(1001),
            )),
            lines(payment().idempotency_key("")),
            lines(payment().idempotency_key("k".repeat(256))),
            lines(payment().metadata(serde_json::json!(["not", "an", "object"]))),
            lines(EntryBuilder::new("03:20", "payment_confirmed", "x")),
        ];
        for result in bad {
            assert!(
                matches!(result, Err(LedgerError::InvalidEntry(_))),
                "{result:?}"
            );
        }
        assert!(lines(EntryBuilder::new("0320", "cash_receipt", "បង់ប្រាក់")).is_ok());
    }

    proptest! {
        #[test]
        fn debits_with_one_balancing_credit_always_build(
            amounts in prop::collection::vec(1_i64..=1_000_000_000_000, 1..20),
            usd in any::<bool>(),
        ) {
            let currency = if usd { Currency::Usd } else { Currency::Khr };
            let mut builder = payment();
            let mut total = Money::zero(currency);
            for (line, minor) in amounts.iter().enumerate() {
                let amount = Money::from_minor(*minor, currency);
                builder = builder.debit(revenue(&format!("sector-{line}"), currency), amount);
                total = total.checked_add(amount).unwrap();
            }
            let entry = builder.credit(clearing(currency), total).build().unwrap();
            prop_assert_eq!(entry.postings().len(), amounts.len() + 1);
            let sum = entry
                .postings()
                .iter()
                .try_fold(Money::zero(currency), |sum, posting| sum.checked_add(posting.amount()))
                .unwrap();
            prop_assert!(sum.is_zero());
            prop_assert!(entry.postings().iter().all(|posting| !posting.amount().is_zero()));
        }

        #[test]
        fn any_imbalance_is_refused(
            amounts in prop::collection::vec(1_i64..=1_000_000_000, 1..10),
            off_by in prop_oneof![-1_000_i64..=-1, 1_i64..=1_000],
        ) {
            let mut builder = payment();
            let mut total = 0_i64;
            for minor in &amounts {
                builder = builder.debit(clearing(Currency::Khr), khr(*minor));
                total += minor;
            }
            let credit = total + off_by;
            prop_assume!(credit > 0);
            let built = builder.credit(revenue("land", Currency::Khr), khr(credit)).build();
            let refused = matches!(built, Err(LedgerError::Unbalanced { currency: Currency::Khr }));
            prop_assert!(refused, "an entry off by {} was not refused", off_by);
        }
    }
}
