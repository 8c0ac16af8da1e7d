//! End-to-end tests over the real `payments` and `bank-sim` binaries, one test binary: the
//! harness (`support`) compiles once and every test runs in parallel with the others, each on
//! its own fresh database and its own ports. Run one file's tests with
//! `cargo test -p e2e --test e2e -- <module>::`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod browser_books;
mod browser_citizen;
mod browser_closing;
mod browser_console;
mod browser_counter;
mod browser_pay;
mod browser_proofs;
mod browser_reconciliation;
mod browser_reports;
mod build_features;
mod crash_drill;
mod edge;
mod harness_smoke;
mod instances_and_logs;
mod khqr;
mod khqr_cli;
mod lost_callbacks;
mod profile;
mod reconciliation;
mod staff_cli;
mod walking_skeleton;
mod webhooks;
