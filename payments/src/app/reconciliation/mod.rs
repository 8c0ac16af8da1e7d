//! Reconciliation with the bank (issue 15): statements in, lines matched to ledger items,
//! the matches posted, and what stays unmatched worked to zero as exceptions.
//!
//! The matching itself is a pure function ([`matching::reconcile`]); the use cases around it
//! read the candidates, call it, and record its outcome in one transaction.

pub mod accounts;
pub mod matching;
pub mod postings;
pub mod report;
pub mod resolutions;
pub mod statements;
