//! The books on the console (issue 16): the trial balance at any instant, account statements with opening and closing balances and cursor pages, the journal exports (CSV, XLSX).

use axum::Router;

use crate::state::AppState;

/// The page's NAV href.
pub const BOOKS_HREF: &str = "/console/books";

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
}
