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
pub fn stream(st: AppState, tenant: TenantId, since: Option<String>, render: Render) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let s = futures::stream::unfold((st, since, true), move |(st, last, first)| {
        let render = render.clone();
        async move {
            let mut last = last;
            let mut first = first;
            loop {
                if !first {
                    tokio::time::sleep(POLL).await;
                }
                first = false;
                let marker = marker(&st, tenant).await.ok()?;
                if last.as_deref() == Some(marker.as_str()) {
                    continue;
                }
                let html = render().await.ok()?;
                last = Some(marker);
                return Some((Ok(Event::default().event("update").data(html)), (st, last, first)));
            }
        }
    });
    Sse::new(s).keep_alive(KeepAlive::default())
}
