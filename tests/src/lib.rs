//! Test helpers shared by the end-to-end tests (`tests/`) and the service's API tests
//! (`payments/tests/api`, a dev-dependency): a webhook receiver and the signatures it checks.
//!
//! The end-to-end tests themselves live in `tests/`. This library depends on no workspace crate,
//! so the service's tests may use it without a cycle, and the helpers stay independent of the
//! service's own signing code.

#![warn(missing_docs)]
// A helper fails the test that called it by panicking, with what it saw.
#![allow(clippy::expect_used, clippy::panic)]

pub mod receiver;

pub use receiver::{standard_webhook_signature, ReceivedRequest, Replies, WebhookReceiver};
