//! API tests: the real router on a loopback socket, the bank simulator beside it, and a fresh
//! PostgreSQL database per test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

mod pages;
mod support;

mod audit_trail;
mod auth;
mod basics;
mod books;
mod callbacks;
mod cashier;
mod catalog;
mod console_closing;
mod console_counter;
mod delivery;
mod edge;
mod edge_props;
mod fee_props;
mod fee_rows;
mod fee_schedules;
mod fees;
mod intents;
mod khqr;
mod ledger_audit;
mod ledger_db;
mod ledger_periods;
mod ledger_proofs;
mod ledger_random;
mod ledger_trust;
mod money_guards;
mod openapi;
mod pay_page;
mod problems;
mod receipts;
mod receipts_page;
mod reconciliation;
mod recovery;
mod reports;
mod resolutions;
mod sandbox_accounts;
mod secrets;
mod serve;
mod services_page;
mod settle;
mod staff_sessions;
mod web;
mod webhook_isolation;
mod webhook_targets;
mod webhooks;
