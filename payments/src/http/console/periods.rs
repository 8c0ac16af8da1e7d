//! Period close on the console (issue 16): the checklist of a month (drawers closed, reconciliation differences zero or explained, exceptions listed) and the admin's close; closed months are read-only.

use axum::Router;

use crate::state::AppState;

/// The page's NAV href.
pub const PERIODS_HREF: &str = "/console/periods";

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
}
