//! The entry a matched statement line posts, whether the matcher found the pair or a person
//! did: one template (DESIGN.md "bank settlement on the statement"), written once.

use ledger::{AccountCode, AccountKind, Currency, EntryBuilder, Money};

use super::matching::Flow;
use crate::app::error::AppError;

/// What a matched line settles: the bank account it was booked on, which way the money went,
/// the line's amount, the fee the bank kept, and each item's account and amount (minor units).
pub struct Settled<'a> {
    pub office_code: &'a str,
    pub bank_segment: &'a str,
    pub currency: Currency,
    pub flow: Flow,
    pub line_minor: i64,
    pub fee_minor: i64,
    pub items: Vec<(AccountCode, i64)>,
}

/// The entry's postings, on a builder the caller names and keys. Money in: D bank (the line)
/// and D bank-fees (the fee) · C each item's account (clearing or cash in transit). Money
/// out: D each item's account (refunds payable) · C bank (the line) and C bank-fees (any fee).
/// Refuses a match whose items, line and fee do not add up, so an unbalanced entry never
/// reaches the database's own check.
pub fn entry(settled: &Settled<'_>, builder: EntryBuilder) -> Result<EntryBuilder, AppError> {
    let items_total = settled.items.iter().try_fold(0_i64, |sum, (_, amount)| {
        sum.checked_add(*amount)
            .ok_or_else(|| AppError::internal("items' total overflows"))
    })?;
    if items_total.checked_sub(settled.line_minor) != Some(settled.fee_minor) {
        return Err(AppError::internal(
            "a match's items, line and fee do not add up",
        ));
    }
    let currency = settled.currency;
    let bank = AccountCode::new(
        settled.office_code,
        AccountKind::Bank {
            account: settled.bank_segment.to_owned(),
        },
        currency,
    )?;
    let fees = AccountCode::new(settled.office_code, AccountKind::BankFees, currency)?;
    let line = Money::from_minor(settled.line_minor, currency);
    let fee = Money::from_minor(settled.fee_minor, currency);
    let mut builder = builder;
    match settled.flow {
        Flow::In => {
            builder = builder.debit(bank, line);
            if settled.fee_minor > 0 {
                builder = builder.debit(fees, fee);
            }
            for (account, amount) in &settled.items {
                builder = builder.credit(account.clone(), Money::from_minor(*amount, currency));
            }
        }
        Flow::Out => {
            for (account, amount) in &settled.items {
                builder = builder.debit(account.clone(), Money::from_minor(*amount, currency));
            }
            builder = builder.credit(bank, line);
            if settled.fee_minor > 0 {
                builder = builder.credit(fees, fee);
            }
        }
    }
    Ok(builder)
}
