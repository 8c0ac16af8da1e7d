//! Use cases. Each function owns its transaction; handlers call exactly one of them.

pub mod attempts;
pub mod auth;
pub mod books;
pub mod callbacks;
pub mod catalog;
pub mod csv_cells;
pub mod fees;
pub mod idempotency;
pub mod inbox;
pub mod intents;
pub mod khqr;
pub mod ledger_audit;
pub mod money;
pub mod outbox;
pub mod public;
pub mod qr_image;
pub mod quotes;
pub mod receipts;
pub mod secrets;
pub mod seed;
pub mod settlement;
pub mod settlement_batch;
pub mod states;
pub mod webhooks;
