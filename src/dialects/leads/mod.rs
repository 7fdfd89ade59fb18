//! The leads dialect (not built yet).

use axum::Router;

use crate::engine::jobs::JobHandler;
use crate::state::AppState;

/// The dialect's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}

/// The dialect's job handlers.
pub fn job_handlers() -> Vec<(&'static str, JobHandler)> {
    Vec::new()
}
