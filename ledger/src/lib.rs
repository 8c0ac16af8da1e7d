//! Double-entry ledger of OWSO Pay: money, accounts, balanced entries and the database
//! invariants that keep them honest.
//!
//! # Money
//!
//! [`Money`] is a signed count of minor units plus its [`Currency`]: KHR in whole riel (scale
//! 0), USD in cents (scale 2). There are no floats, no `Add` and no `Default`; amounts come
//! from [`Money::parse`] (strict decimal strings), [`Money::from_decimal`] (refuses anything
//! that would need rounding) or [`Money::from_minor`], and combine through checked methods.
//! JSON carries `{"amount":"600000","currency":"KHR"}`.
//!
//! # Accounts
//!
//! Accounts are per office and currency. Their codes are public (auditors read them and
//! exports carry them), readable, and parsed back exactly by [`AccountCode::parse`]:
//!
//! | kind | code |
//! |---|---|
//! | bank clearing, per channel | `{office}:clearing:{channel}:{CUR}` |
//! | cash drawer | `{office}:cash:drawer:{CUR}` |
//! | settlement bank account | `{office}:bank:{account}:{CUR}` |
//! | fee revenue, per sector | `{office}:revenue:{sector}:{CUR}` |
//! | suspense | `{office}:suspense:{CUR}` |
//! | refunds payable | `{office}:refunds-payable:{CUR}` |
//! | bank fees | `{office}:bank-fees:{CUR}` |
//! | cash over/short | `{office}:cash-over-short:{CUR}` |
//!
//! `{office}` is 1 to 8 ASCII letters or digits; `{channel}`, `{account}` and `{sector}` are 1
//! to 40 characters of `a-z`, `0-9`, `_` and `-`; `{CUR}` is `KHR` or `USD`. Example:
//! `0320:revenue:construction:KHR`.
//!
//! # Entries
//!
//! An [`EntryBuilder`] collects debits and credits (positive amounts) and
//! [`EntryBuilder::build`] returns a [`BalancedEntry`] only if it has two or more postings, each
//! positive, in its account's currency and office, summing to zero per currency. Postings are
//! stored signed: debit positive, credit negative. [`store::post`] writes it (at most once per
//! idempotency key); corrections are reversals ([`store::reverse`]), never edits.
//!
//! The database holds the same rules on its own (migration `0001_ledger.sql`): a deferred
//! constraint trigger refuses at commit an entry with fewer than two postings or that does not
//! balance per currency, triggers refuse UPDATE, DELETE and TRUNCATE of entries and postings,
//! and an entry can be reversed once and a reversal not at all.
//!
//! ```
//! use ledger::{AccountCode, AccountKind, Currency, EntryBuilder, Money};
//!
//! # fn main() -> Result<(), ledger::LedgerError> {
//! let clearing = AccountCode::new("0320", AccountKind::Clearing { channel: "khqr".into() }, Currency::Khr)?;
//! let revenue = AccountCode::new("0320", AccountKind::Revenue { sector: "construction".into() }, Currency::Khr)?;
//! let fee = Money::parse("600000", Currency::Khr)?;
//! let entry = EntryBuilder::new("0320", "payment_confirmed", "case 0320018100 paid by KHQR")
//!     .idempotency_key("khqr:md5-of-the-payload:confirmed")
//!     .debit(clearing, fee)
//!     .credit(revenue, fee)
//!     .build()?;
//! assert_eq!(entry.postings().len(), 2);
//! // In a use case: ledger::store::post(&mut *tx, &entry).await?; then tx.commit().
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod account;
pub mod chain;
mod entry;
mod error;
mod money;
pub mod store;

pub use account::{AccountCode, AccountKind, NormalBalance};
pub use entry::{BalancedEntry, EntryBuilder, EntryId, Posting};
pub use error::{LedgerError, MoneyError};
pub use money::{Currency, Money};
pub use store::{AccountRow, PostOutcome, PostingRow, TrialBalanceLine, REVERSAL_KIND};
