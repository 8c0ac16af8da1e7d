//! Typed errors of the ledger crate.

use crate::entry::EntryId;
use crate::money::Currency;

/// Why an amount could not be read, built or combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currency code is not one the books hold (only `KHR` and `USD`, in capitals).
    #[error("unknown currency {0:?}: expected \"KHR\" or \"USD\"")]
    UnknownCurrency(String),
    /// The amount is not a plain decimal string such as `600000`, `12.50` or `-3`.
    #[error(
        "invalid amount {0:?}: expected digits with an optional '.' fraction and an optional \
         leading '-', at most 30 characters"
    )]
    InvalidAmount(String),
    /// The amount has more decimal places than the currency's minor unit allows.
    #[error("{currency} amounts have at most {scale} decimal place(s)")]
    TooManyDecimals {
        /// Currency of the refused amount.
        currency: Currency,
        /// Decimal places that currency allows.
        scale: u32,
    },
    /// Two amounts of different currencies were combined.
    #[error("cannot combine an amount in {left} with an amount in {right}")]
    CurrencyMismatch {
        /// Currency of the left-hand amount.
        left: Currency,
        /// Currency of the right-hand amount.
        right: Currency,
    },
    /// The result does not fit in a signed 64-bit count of minor units.
    #[error("amount out of range")]
    Overflow,
}

/// Why the ledger refused an entry, an account code or a database operation.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Debits and credits of the entry differ in this currency.
    #[error("entry does not balance in {currency}: debits and credits differ")]
    Unbalanced {
        /// The first currency (in code order) that does not balance.
        currency: Currency,
    },
    /// The entry has fewer than two postings.
    #[error("an entry needs at least two postings")]
    TooFewPostings,
    /// A debit or credit amount is zero or negative; the side carries the sign.
    #[error("posting amounts must be greater than zero")]
    NonPositiveAmount,
    /// A posting's amount is in another currency than its account.
    #[error("posting amount currency differs from the currency of account {account}")]
    CurrencyMismatch {
        /// Code of the account.
        account: String,
    },
    /// A posting's account belongs to another office than the entry.
    #[error("account {account} belongs to another office than the entry")]
    OfficeMismatch {
        /// Code of the account.
        account: String,
    },
    /// An account code or one of its parts is malformed.
    #[error("invalid account code: {0}")]
    InvalidAccountCode(String),
    /// The entry's office code, kind, description, idempotency key or metadata is malformed.
    #[error("invalid ledger entry: {0}")]
    InvalidEntry(String),
    /// The entry already has a reversal; an entry is reversed at most once.
    #[error("ledger entry {0} has already been reversed")]
    AlreadyReversed(EntryId),
    /// The entry is itself a reversal; correct it with a new entry instead.
    #[error("ledger entry {0} is a reversal and cannot be reversed; post a new entry instead")]
    ReversalNotReversible(EntryId),
    /// No entry has this id.
    #[error("ledger entry {0} not found")]
    EntryNotFound(EntryId),
    /// The entry would fall into a closed month; the message names the office and month.
    #[error("{0}")]
    PeriodClosed(String),
    /// No account has this code.
    #[error("ledger account {0} not found")]
    AccountNotFound(String),
    /// The month cannot be closed (not over yet, or the office is unknown); says why.
    #[error("cannot close the period: {0}")]
    PeriodNotClosable(String),
    /// A report would hold more rows than the given limit; narrow the range.
    #[error("more than {0} rows in the range; narrow it or use the journal export")]
    RangeTooLarge(i64),
    /// An amount could not be built or combined.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// A commit failed in a way that leaves unknown whether it took effect (the connection
    /// broke after the server may have committed). Retry with the same idempotency key.
    #[error("the ledger commit may or may not have taken effect: {0}")]
    CommitOutcomeUnknown(String),
    /// The [`crate::group::GroupCommitter`] tasks are gone (the runtime is shutting down).
    #[error("the ledger group committer has stopped")]
    GroupCommitterStopped,
    /// The database refused or failed the operation.
    #[error("ledger database error: {0}")]
    Database(#[from] sqlx::Error),
}
