//! The audit trail (issue 16): catalog changes, staff actions, key and user management, period closes and resolutions on one page with filters.

use axum::Router;

use crate::state::AppState;

/// The page's NAV href.
pub const AUDIT_HREF: &str = "/console/audit";

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
}
