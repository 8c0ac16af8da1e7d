//! What happens when a bank says money moved: the checks and the postings of one [`Report`].
//! Every channel (sandbox callbacks, the sandbox status worker, the Bakong poller, inbox
//! recovery; cash and the gateways later) submits its report to app::settlement_batch, which
//! settles it with these functions, so the rules are the same whatever told us.
//!
//! One transaction holds: the provider-transaction claim (one effect per bank transaction id,
//! [`record`]), the state change ([`paid`]), the balanced ledger entry ([`entry`]) and the
//! outbox event; a report that cannot pay its attempt ([`checks`]) parks its money in suspense
//! ([`suspense`]).

pub mod checks;
pub mod entry;
pub mod group;
pub mod paid;
pub mod record;
pub mod report;
pub mod suspense;

use serde::Serialize;
use uuid::Uuid;

use crate::app::states::{ExceptionKind, InboxStatus};

pub use checks::{note_bank_clock, unexpected};
pub use entry::payment_entry;
pub use paid::{write_paid, PaidWrite};
pub use record::{claim, record, record_claimed};
pub use report::{Received, Report};

/// The office whose suspense account holds money for references we cannot place.
pub const UNALLOCATED_OFFICE: &str = "0000";

/// What the report led to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Settlement {
    /// The intent is now paid; its receipt number follows once this commits
    /// ([`crate::app::receipts::number_office`] for `office_code`).
    Paid {
        payment_intent_id: Uuid,
        office_code: String,
    },
    /// This bank transaction was already recorded; nothing changed.
    Duplicate,
    /// The money was parked in suspense and raised as a reconciliation exception.
    Suspense {
        kind: ExceptionKind,
        exception_id: Uuid,
    },
}

impl Settlement {
    /// The inbox status of the message that reported it.
    pub fn inbox_status(&self) -> InboxStatus {
        match self {
            Settlement::Duplicate => InboxStatus::Duplicate,
            Settlement::Paid { .. } | Settlement::Suspense { .. } => InboxStatus::Processed,
        }
    }

    pub fn verdict(&self) -> String {
        match self {
            Settlement::Paid { .. } => "paid".to_owned(),
            Settlement::Duplicate => "duplicate".to_owned(),
            Settlement::Suspense { kind, .. } => format!("suspense:{}", kind.as_str()),
        }
    }
}
