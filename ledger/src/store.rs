//! PostgreSQL persistence of accounts, entries and postings.
//!
//! Every function takes the caller's connection and never begins or commits a transaction:
//! the caller's use case owns it, so postings commit together with the state change that
//! caused them. The balance of an entry is checked again by the database at commit (a
//! deferred constraint trigger), so a caller that bypasses [`post`] still cannot commit an
//! unbalanced entry.

mod accounts;
mod balances;
mod batch;
mod entries;
mod periods;
mod seal;

pub use accounts::{ensure_account, list_accounts, AccountRow};
pub use balances::{
    account_balance, days_pending, find_account, journal, journal_page, roll_finished_days,
    rollup_once, rollup_pending, statement, trial_balance, AccountRef, DayRollup, JournalCursor,
    JournalRow, RollupOutcome, Statement, StatementLine, TrialBalanceLine,
};
pub use batch::post_batch;
pub use entries::{
    count_entries_with_key, entry_postings, find_entry_by_key, post, reversal_of, reverse,
    PostOutcome, PostingRow, REVERSAL_KIND,
};
pub use periods::{
    close_period, format_month, list_closed_periods, parse_month, CloseOutcome, ClosedPeriod,
};
pub use seal::{
    chain_head, chain_length, digest_payload, has_digest, insert_digest, list_digests,
    seal_pending, sealed_before, try_lock_sealer, verify_chain, verify_chain_against,
    verify_chain_against_with_progress, ChainHead, DigestPayload, DigestRow, VerifyReport,
    VERIFY_PROGRESS_EVERY,
};
