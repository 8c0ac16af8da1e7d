//! The states and kinds the database keeps as text with a check constraint, as Rust enums:
//! read and written through sqlx as those texts, serialized in JSON as the same texts, so a
//! status is matched exhaustively and an unknown one is a decoding error, not a silent
//! default. (Text with a check constraint rather than database enum types: no migration, and
//! the constraint's list is the one a reader of the schema sees.)

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Writes `as_str` for an enum whose variants serialize in snake_case.
macro_rules! texts {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// The text the database and the JSON use.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value spelled `text`, if there is one.
            pub fn from_text(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// `payment_intents.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum IntentStatus {
    AwaitingPayment,
    Paid,
    Expired,
    Cancelled,
}

texts!(IntentStatus {
    AwaitingPayment => "awaiting_payment",
    Paid => "paid",
    Expired => "expired",
    Cancelled => "cancelled",
});

/// `payment_attempts.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AttemptStatus {
    Pending,
    Paid,
    Expired,
    Failed,
    Cancelled,
}

texts!(AttemptStatus {
    Pending => "pending",
    Paid => "paid",
    Expired => "expired",
    Failed => "failed",
    Cancelled => "cancelled",
});

/// How a payment reaches us (`payment_attempts.channel`, `payment_intents.paid_channel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Channel {
    Khqr,
    AbaPayway,
    AcledaXpay,
    Wing,
    Sandbox,
    Cash,
}

texts!(Channel {
    Khqr => "khqr",
    AbaPayway => "aba_payway",
    AcledaXpay => "acleda_xpay",
    Wing => "wing",
    Sandbox => "sandbox",
    Cash => "cash",
});

/// `inbox_messages.status`: what came of a stored bank message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum InboxStatus {
    /// Stored, not processed yet (or its processing died: workers::recovery).
    Received,
    Processed,
    /// Its bank transaction was recorded before.
    Duplicate,
    /// Its signature or its body was refused.
    Rejected,
    /// Processing failed; the recovery worker replays it (workers::recovery).
    Failed,
}

texts!(InboxStatus {
    Received => "received",
    Processed => "processed",
    Duplicate => "duplicate",
    Rejected => "rejected",
    Failed => "failed",
});

/// `reconciliation_exceptions.kind`: why money went to suspense.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ExceptionKind {
    AmountMismatch,
    CurrencyMismatch,
    AccountMismatch,
    AlreadyPaid,
    AfterCancel,
    AfterExpiry,
    UnknownReference,
    UnsupportedCurrency,
    /// A bank reported a payment for an attempt of another channel.
    ChannelMismatch,
    /// A bank statement line no ledger item matched (issue 15).
    UnmatchedStatementLine,
    /// A ledger item the bank's statements never showed (issue 15).
    UnmatchedLedgerItem,
}

texts!(ExceptionKind {
    AmountMismatch => "amount_mismatch",
    CurrencyMismatch => "currency_mismatch",
    AccountMismatch => "account_mismatch",
    AlreadyPaid => "already_paid",
    AfterCancel => "after_cancel",
    AfterExpiry => "after_expiry",
    UnknownReference => "unknown_reference",
    UnsupportedCurrency => "unsupported_currency",
    ChannelMismatch => "channel_mismatch",
    UnmatchedStatementLine => "unmatched_statement_line",
    UnmatchedLedgerItem => "unmatched_ledger_item",
});

/// `reconciliation_exceptions.status`: whether someone still has to look at the exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ExceptionStatus {
    Open,
    Resolved,
}

texts!(ExceptionStatus {
    Open => "open",
    Resolved => "resolved",
});

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// `as_str` and serde must agree, or the database and the JSON would spell a state
    /// differently.
    #[test]
    fn texts_match_serde() {
        fn check<T: Serialize + std::fmt::Display>(values: &[T]) {
            for value in values {
                assert_eq!(
                    serde_json::to_value(value).unwrap(),
                    serde_json::Value::String(value.to_string())
                );
            }
        }
        use IntentStatus as I;
        check(&[I::AwaitingPayment, I::Paid, I::Expired, I::Cancelled]);
        use AttemptStatus as A;
        check(&[A::Pending, A::Paid, A::Expired, A::Failed, A::Cancelled]);
        use Channel as C;
        check(&[
            C::Khqr,
            C::AbaPayway,
            C::AcledaXpay,
            C::Wing,
            C::Sandbox,
            C::Cash,
        ]);
        use InboxStatus as S;
        check(&[
            S::Received,
            S::Processed,
            S::Duplicate,
            S::Rejected,
            S::Failed,
        ]);
        use ExceptionKind as E;
        check(&[
            E::AmountMismatch,
            E::CurrencyMismatch,
            E::AccountMismatch,
            E::AlreadyPaid,
            E::AfterCancel,
            E::AfterExpiry,
            E::UnknownReference,
            E::UnsupportedCurrency,
            E::ChannelMismatch,
            E::UnmatchedStatementLine,
            E::UnmatchedLedgerItem,
        ]);
        use ExceptionStatus as X;
        check(&[X::Open, X::Resolved]);
    }
}
