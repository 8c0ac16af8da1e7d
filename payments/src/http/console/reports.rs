//! The ministry's dashboard (issue 16): counts of intents by state, revenue by office, sector, channel and day, the office ranking, online share, time to pay, open exceptions by age; server-rendered SVG charts, each with its table and CSV.

use axum::Router;

use crate::state::AppState;

/// The page's NAV href.
pub const REPORTS_HREF: &str = "/console/reports";

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
}
