//! Bank adapters for OWSO Pay: wire formats, signing, and the bank simulators.
//!
//! This crate never touches SQL and never depends on `payments`.
#![warn(missing_docs)]

pub mod bakong;
pub mod error;
mod http;
pub mod khqr;
pub mod report;
pub mod sandbox;
pub mod signing;
#[cfg(feature = "sim")]
pub mod sim;
pub mod statement;
mod text;
