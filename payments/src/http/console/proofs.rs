//! The proofs on the console (issue 16): chain verification run from the page with its progress, the signed daily digests and the bundle an outside auditor checks without the service.

use axum::Router;

use crate::state::AppState;

/// The page's NAV href.
pub const PROOFS_HREF: &str = "/console/proofs";

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new()
}
