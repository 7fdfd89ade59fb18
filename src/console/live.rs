//! Live views over Server-Sent Events: a view's fragment is sent again (event `update`)
//! whenever the tenant's change marker moves (new outbox rows, campaign changes, journal
//! records), checked every [`POLL`]. htmx's SSE extension swaps it into the page.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use futures::Stream;
use maud::{html, Markup};
use sha2::{Digest, Sha256};

use super::auth::Session;
use super::layout::{self, Flash};
use super::{load_tenant, ConsoleError, PageResult};
use crate::domain::console_views;
use crate::domain::tenants::Tenant;
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

/// A live view's first page of rows and the cursor of the next page.
pub type Table = Result<(Markup, Option<i64>), ConsoleError>;

/// A request for a live view at `/console/t/{slug}/…/live`: a signed-in operator (the
/// [`Session`] extractor's answer otherwise), the query (`since`, the view's filters), the
/// server's shutdown signal and the `{slug}` of the path.
pub struct LiveRequest {
    st: AppState,
    pub flash: Flash,
    stop: Option<LiveStop>,
    slug: String,
}

impl FromRequestParts<AppState> for LiveRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        Session::from_request_parts(parts, st).await.map_err(IntoResponse::into_response)?;
        let Ok(flash) = Flash::from_request_parts(parts, st).await;
        let stop = parts.extensions.get::<LiveStop>().cloned();
        let Path(slug) = Path::<String>::from_request_parts(parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(LiveRequest {
            st: st.clone(),
            flash,
            stop,
            slug,
        })
    }
}

impl LiveRequest {
    /// The SSE answer: the tenant of the path, then [`stream`] of the first page that
    /// `table(state, tenant, filter)` renders (the filter parsed once from the query by
    /// the caller, `()` for none).
    pub async fn serve<F, R, Fut>(self, filter: F, table: R) -> PageResult
    where
        F: Send + Sync + 'static,
        R: Fn(AppState, Arc<Tenant>, Arc<F>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Table> + Send + 'static,
    {
        let LiveRequest { st, flash, stop, slug } = self;
        let t = Arc::new(load_tenant(&st, &slug).await?);
        let f = Arc::new(filter);
        let (st2, t2) = (st.clone(), t.clone());
        let render: Render = Arc::new(move || {
            let page = table(st2.clone(), t2.clone(), f.clone());
            Box::pin(async move { Ok(page.await?.0.into_string()) })
        });
        Ok(stream(st, t.id, flash.q("since"), stop, render).into_response())
    }
}

/// A live view's table on its page: on the first page (`before` is None) inside the SSE
/// region fed from `{base}/live` (the filters `q` and the marker `since` in its query),
/// otherwise as it is; then the pager (`Newest`, and `Older` from `next`).
pub fn paged(
    base: &str,
    q: &[(&'static str, Option<String>)],
    since: String,
    before: Option<i64>,
    next: Option<i64>,
    table: Markup,
) -> Markup {
    let with = |k: &'static str, v: String| layout::query(&[q, &[(k, Some(v))]].concat());
    html! {
        @if before.is_none() {
            p class="live muted" { "Live" }
            div hx-ext="sse" sse-connect=(format!("{base}/live{}", with("since", since))) sse-swap="update" { (table) }
        } @else { (table) }
        nav class="pager" aria-label="Pages" {
            @if before.is_some() { a href=(format!("{base}{}", layout::query(q))) { "Newest" } }
            @if let Some(n) = next { a href=(format!("{base}{}", with("before", n.to_string()))) { "Older" } }
        }
    }
}
