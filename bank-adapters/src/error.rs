//! The error type shared by every bank adapter.

/// What can go wrong when we talk to a bank or read a message from one.
///
/// Messages never carry secrets, signatures or full request bodies: they end up in logs and
/// in the inbox verdicts that auditors read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The bank did not answer within the configured timeout.
    #[error("the bank did not answer in time")]
    Timeout,
    /// The request never got a complete HTTP answer (connection refused, reset, TLS, ...).
    #[error("transport error talking to the bank: {0}")]
    Transport(String),
    /// The bank answered with an unexpected HTTP status.
    #[error("the bank answered HTTP {status}: {body_excerpt}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, shortened and stripped of control characters.
        body_excerpt: String,
    },
    /// The bank's answer or message could not be read as its documented wire format.
    #[error("could not decode the bank's message: {0}")]
    Decode(String),
    /// We were about to send something the bank would refuse (or that makes no sense).
    #[error("invalid input for the bank: {0}")]
    InvalidInput(String),
    /// A message's signature is missing or does not match.
    #[error("the message signature is missing or does not match")]
    InvalidSignature,
    /// The bank refused our credentials (HTTP 401 or 403).
    #[error("the bank refused our credentials")]
    Unauthorized,
    /// The bank asked us to slow down (HTTP 429).
    #[error("the bank is rate limiting us (retry after {retry_after_s:?} s)")]
    RateLimited {
        /// The bank's `Retry-After` in seconds, when it sent one we could read.
        retry_after_s: Option<u64>,
    },
}

impl AdapterError {
    /// Whether trying the same call again later can succeed (timeouts, outages, 5xx, 429).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout | Self::Transport(_) | Self::RateLimited { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            Self::Decode(_)
            | Self::InvalidInput(_)
            | Self::InvalidSignature
            | Self::Unauthorized => false,
        }
    }
}
