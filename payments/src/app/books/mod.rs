//! The auditor's reads of the books and the controls around them, one module per noun:
//! the chart of [`accounts`] and their balances, account [`statements`], the
//! [`trial_balance`], the CSV [`journal`], closed [`periods`], chain verification
//! ([`verify`]), signed daily [`digests`] and the reconciliation [`exceptions`].

pub mod accounts;
pub mod digests;
pub mod exceptions;
pub mod export;
pub mod journal;
pub mod periods;
pub mod proofs;
pub mod statements;
pub mod trial_balance;
pub mod verify;

use chrono::{DateTime, Utc};
use ledger::LedgerError;

use super::auth::Role;
use crate::app::error::AppError;

/// Who reads the books of their offices.
const AUDIT_ROLES: [Role; 3] = [Role::Auditor, Role::Admin, Role::Supervisor];
/// Verification and digests cover every office's books: auditors and admins only.
const CHAIN_ROLES: [Role; 2] = [Role::Auditor, Role::Admin];

fn ledger_error(error: LedgerError) -> AppError {
    match error {
        LedgerError::AccountNotFound(_) => AppError::not_found("account"),
        LedgerError::PeriodNotClosable(detail) => {
            AppError::unprocessable("period_not_closable", "Period cannot be closed", detail)
        }
        LedgerError::RangeTooLarge(limit) => AppError::unprocessable(
            "range_too_large",
            "Range too large",
            format!(
                "more than {limit} postings in the range; narrow it or export the journal as CSV"
            ),
        ),
        LedgerError::InvalidEntry(detail) => AppError::validation("month", detail),
        other => AppError::from(other),
    }
}

/// `(from, to]` with `to` defaulting to now; `from` must come first.
fn range(
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let to = to.unwrap_or_else(Utc::now);
    if from >= to {
        return Err(AppError::validation("from", "from must be before to"));
    }
    Ok((from, to))
}
