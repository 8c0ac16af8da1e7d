//! API tests: the real router on a loopback socket, the bank simulator beside it, and a fresh
//! PostgreSQL database per test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod auth;
mod basics;
mod callbacks;
mod catalog;
mod intents;
mod khqr;
mod ledger_db;
mod webhooks;
