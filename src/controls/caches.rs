//! Keeps this process's read caches (`domain::caches`) in step with its own writes.
//!
//! Every replica learns about a change through the NOTIFY its transaction sends; the
//! replica that made the change also drops the affected entries itself before it answers,
//! so a client that writes and then reads through the same replica never races the
//! notification:
//! - [`operator_writes`]: any admin or console request that is not a GET/HEAD (tenant,
//!   credential, settings, clock, fixture, reset, snapshot …) drops every entry;
//! - [`dialect_writes_around`] (in `controls::dialect_requests`): a dialect request that is not a GET/HEAD drops its tenant's
//!   menus, queues and waiting-interaction entries (a call or SMS queued in a menu, say);
//!   campaign changes drop what adds to the tenant's campaigns keep where they are made.
//!   Sessions closed by a dialect are forgotten where they are closed.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::controls::journal::RequestTenant;
use crate::domain::caches::Scope;
use crate::state::AppState;

fn reads_only(m: &Method) -> bool {
    *m == Method::GET || *m == Method::HEAD || *m == Method::OPTIONS
}

/// Admin and console writes drop every cached entry of this process once answered.
pub async fn operator_writes(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let operator = path.starts_with("/admin/") || path.starts_with("/console");
    if !operator || reads_only(req.method()) {
        return next.run(req).await;
    }
    let resp = next.run(req).await;
    st.reads.clear();
    resp
}

/// Dialect writes drop their tenant's directory and waiting entries once answered.
pub async fn dialect_writes_around<F, Fut>(st: &AppState, req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    if reads_only(req.method()) {
        return inner(req).await;
    }
    let slot = req.extensions().get::<RequestTenant>().cloned();
    let resp = inner(req).await;
    if let Some(t) = slot.and_then(|s| s.get()) {
        st.reads.invalidate(Some(t), Scope::Writes);
    }
    resp
}
