//! The Apps API dialect (calls, SMS, wait times, CRM, bulk users, company DNC).
//!
//! `auth` and `error` are shared with the outbound-dialer dialect.

pub mod auth;
pub mod error;
pub mod paging;

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
