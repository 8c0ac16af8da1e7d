//! What a use case can refuse or fail with, in the use case's terms. `http::error` alone turns
//! an [`AppError`] into a status and an `application/problem+json` body; nothing here knows
//! HTTP.

use serde_json::{Map, Value};

/// A refusal the caller can act on: a stable machine-readable `code` (public API: problem
/// documents carry it), a short `title`, a `detail` for people, and extension members such as
/// the `parameter` that was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub details: Map<String, Value>,
}

impl Refusal {
    pub fn new(code: &'static str, title: &'static str, detail: impl Into<String>) -> Refusal {
        Refusal {
            code,
            title,
            detail: detail.into(),
            details: Map::new(),
        }
    }
}

/// `$on_refusal` for every variant that carries a [`Refusal`] (bound to `$refusal`), `$otherwise`
/// for the two that do not: one list of the variants for every accessor.
macro_rules! each_refusal {
    ($error:expr, $refusal:ident => $on_refusal:expr, $otherwise:expr) => {
        match $error {
            AppError::Malformed($refusal)
            | AppError::Unauthenticated($refusal)
            | AppError::Forbidden($refusal)
            | AppError::NotFound($refusal)
            | AppError::Conflict($refusal)
            | AppError::UnsupportedMedia($refusal)
            | AppError::Invalid($refusal)
            | AppError::TooMany($refusal)
            | AppError::BankUnavailable($refusal) => $on_refusal,
            AppError::Unavailable | AppError::Internal(_) => $otherwise,
        }
    };
}

/// Every error an `app::` or `workers::` function returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input cannot be read at all (a value out of range for its type, a malformed token).
    #[error("{}", .0.detail)]
    Malformed(Refusal),
    /// The caller is not who it must be (a bad signature, no key).
    #[error("{}", .0.detail)]
    Unauthenticated(Refusal),
    /// The caller is known but may not do this.
    #[error("{}", .0.detail)]
    Forbidden(Refusal),
    /// The thing named does not exist, or is not the caller's to see.
    #[error("{}", .0.detail)]
    NotFound(Refusal),
    /// The request conflicts with the state of what it names (`code` says how).
    #[error("{}", .0.detail)]
    Conflict(Refusal),
    /// The body is not of a kind this use case reads.
    #[error("{}", .0.detail)]
    UnsupportedMedia(Refusal),
    /// A value is wrong; `details["parameter"]` names the field when there is one.
    #[error("{}", .0.detail)]
    Invalid(Refusal),
    /// A limit was reached (attempts per intent).
    #[error("{}", .0.detail)]
    TooMany(Refusal),
    /// The bank did not take the request; nothing was changed.
    #[error("{}", .0.detail)]
    BankUnavailable(Refusal),
    /// The database could not be reached or answered in time; retrying shortly may work.
    #[error("the database is unreachable or busy")]
    Unavailable,
    /// A fault of ours. The cause is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A wrong value of `param` (a request field or query parameter): `validation_failed`.
    pub fn validation(param: &str, detail: impl Into<String>) -> AppError {
        AppError::Invalid(Refusal::new(
            "validation_failed",
            "Validation failed",
            detail,
        ))
        .with("parameter", param)
    }

    /// A wrong value with its own `code` (e.g. `quote_expired`).
    pub fn unprocessable(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> AppError {
        AppError::Invalid(Refusal::new(code, title, detail))
    }

    pub fn bad_request(detail: impl Into<String>) -> AppError {
        AppError::Malformed(Refusal::new("bad_request", "Bad request", detail))
    }

    pub fn forbidden(detail: impl Into<String>) -> AppError {
        AppError::Forbidden(Refusal::new("forbidden", "Forbidden", detail))
    }

    pub fn not_found(what: &str) -> AppError {
        AppError::NotFound(Refusal::new(
            "not_found",
            "Not found",
            format!("{what} not found"),
        ))
    }

    /// The object is not in a state that allows this (`invalid_state`).
    pub fn invalid_state(detail: impl Into<String>) -> AppError {
        AppError::conflict("invalid_state", "Invalid state", detail)
    }

    pub fn conflict(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> AppError {
        AppError::Conflict(Refusal::new(code, title, detail))
    }

    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        AppError::Internal(cause.to_string())
    }

    /// Adds an extension member to a refusal (ignored on `Unavailable` and `Internal`, whose
    /// bodies are fixed).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> AppError {
        if let Some(refusal) = self.refusal_mut() {
            refusal.details.insert(key.to_owned(), value.into());
        }
        self
    }

    /// The refusal, when this is one.
    pub fn refusal(&self) -> Option<&Refusal> {
        each_refusal!(self, refusal => Some(refusal), None)
    }

    fn refusal_mut(&mut self) -> Option<&mut Refusal> {
        each_refusal!(self, refusal => Some(refusal), None)
    }

    /// The refusal, taken out of the error (`None` for `Unavailable` and `Internal`).
    pub fn into_refusal(self) -> Option<Refusal> {
        each_refusal!(self, refusal => Some(refusal), None)
    }
}

/// Whether the error says the database is gone or overloaded rather than that the request was
/// wrong: no pool connection in time, a closed pool, a broken socket, a server shutting down or
/// refusing connections, a statement cancelled by `statement_timeout`.
pub fn is_database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now;
            // 57014: query cancelled (statement_timeout); 53300: too many connections.
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "57P01" | "57P02" | "57P03" | "57014" | "53300"
                )
        }),
        _ => false,
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> AppError {
        if is_database_unavailable(&error) {
            tracing::warn!(error.cause = %error, "database unavailable");
            return AppError::Unavailable;
        }
        // Class 22 (data exception: a value PostgreSQL cannot store or convert) means input the
        // edge checks let through; it is still the client's value, never a server fault.
        let data_exception = error
            .as_database_error()
            .and_then(|db| db.code())
            .is_some_and(|code| code.starts_with("22"));
        if data_exception {
            tracing::warn!(error.cause = %error, "input refused by the database");
            return AppError::Malformed(Refusal::new(
                "invalid_input",
                "Invalid input",
                "a value of the request is out of range or malformed",
            ));
        }
        AppError::Internal(format!("database: {error}"))
    }
}

impl From<ledger::LedgerError> for AppError {
    fn from(error: ledger::LedgerError) -> AppError {
        match error {
            ledger::LedgerError::Database(inner) => return AppError::from(inner),
            // An entry that would fall into a closed month (issue 16): the month is read-only,
            // a refusal the person can act on, not a fault of ours.
            ledger::LedgerError::PeriodClosed(detail) => {
                return AppError::conflict("period_closed", "Period closed", detail)
            }
            // The connection broke at commit, or the process is stopping: the same request
            // (same idempotency key) may be retried.
            ledger::LedgerError::CommitOutcomeUnknown(_)
            | ledger::LedgerError::GroupCommitterStopped => {
                tracing::warn!(error.cause = %error, "ledger commit unavailable");
                return AppError::Unavailable;
            }
            _ => {}
        }
        AppError::Internal(format!("ledger: {error}"))
    }
}

impl From<ledger::MoneyError> for AppError {
    fn from(error: ledger::MoneyError) -> AppError {
        AppError::validation("amount", error.to_string())
    }
}
