//! Live views over Server-Sent Events: a view's fragment is sent again (event `update`)
//! whenever the tenant's change marker moves (new outbox rows, campaign changes, journal
//! records), checked every [`POLL`]. htmx's SSE extension swaps it into the page.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::future::BoxFuture;
use futures::Stream;
use sha2::{Digest, Sha256};

use super::ConsoleError;
use crate::domain::console_views;
use crate::domain::TenantId;
use crate::state::AppState;

/// How often a live view checks for changes.
pub const POLL: Duration = Duration::from_millis(1000);
/// A stream ends after this long (the browser reconnects), so none outlives a deploy.
pub const MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// The server's shutdown signal, given to live views (by `launch`) so that open streams
/// end and a graceful shutdown does not wait for browsers to leave.
#[derive(Clone)]
pub struct LiveStop(pub tokio::sync::watch::Receiver<bool>);

/// Renders a view's fragment.
pub type Render = Arc<dyn Fn() -> BoxFuture<'static, Result<String, ConsoleError>> + Send + Sync>;

/// The tenant's change marker as a short opaque token (the page puts it in the stream's
/// URL as `since`, so the stream sends nothing until something changed).
pub async fn marker(st: &AppState, tenant: TenantId) -> Result<String, ConsoleError> {
    let m = console_views::change_marker(&st.db, tenant).await?;
    Ok(hex::encode(&Sha256::digest(m.as_bytes())[..8]))
}

/// The SSE answer of a live view: the fragment at once unless the marker is still
/// `since`, then on every change.
pub fn stream(
    st: AppState,
    tenant: TenantId,
    since: Option<String>,
    stop: Option<LiveStop>,
    render: Render,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let ends = tokio::time::Instant::now() + MAX_AGE;
    let stop = stop.map(|s| s.0);
    let s = futures::stream::unfold((st, since, true, stop), move |(st, last, first, stop)| {
        let render = render.clone();
        async move {
            let mut last = last;
            let mut first = first;
            let mut stop = stop;
            loop {
                if !first {
                    let stopping = async {
                        match stop.as_mut() {
                            Some(rx) => {
                                let _ = rx.wait_for(|v| *v).await;
                            }
                            None => futures::future::pending::<()>().await,
                        }
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(POLL) => {}
                        _ = stopping => return None,
                    }
                    if tokio::time::Instant::now() >= ends {
                        return None;
                    }
                }
                first = false;
                let marker = marker(&st, tenant).await.ok()?;
                if last.as_deref() == Some(marker.as_str()) {
                    continue;
                }
                let html = render().await.ok()?;
                last = Some(marker);
                return Some((Ok(Event::default().event("update").data(html)), (st, last, first, stop)));
            }
        }
    });
    Sse::new(s).keep_alive(KeepAlive::default())
}
