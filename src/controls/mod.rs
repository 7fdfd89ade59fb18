//! Emulator controls: what an operator or a test suite uses to steer and watch the emulated
//! vendors (faults and latency injected into a tenant's traffic; the request journal).

pub mod caches;
pub mod faults;
pub mod journal;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Every dialect request passes through one middleware (one service clone and one boxed
/// future per request, rather than one per concern), which nests, outside in: the fault
/// slot (`faults::around`: faults fire in the dialect's authentication and act on its
/// answer), the journal (`journal::around`: records the request and the dialect's answer),
/// and the cache drop after dialect writes (`caches::dialect_writes_around`).
pub async fn dialect_requests(State(st): State<AppState>, req: Request, next: Next) -> Response {
    faults::around(req, |req| {
        journal::around(&st, req, |req| caches::dialect_writes_around(&st, req, |req| next.run(req)))
    })
    .await
}
