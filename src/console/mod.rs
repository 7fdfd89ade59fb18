//! The web console at `/console`: server-rendered HTML (maud) with htmx for partial
//! updates and Server-Sent Events for the live views.
//!
//! It reads and changes the tenant through the same domain functions as the admin API
//! (`src/admin/*`) and holds no business logic and no SQL of its own: read-only views
//! that the admin API lacks live in [`crate::domain::console_views`].
//!
//! - **Auth** ([`auth`]): the admin token, typed once on `/console/login`, becomes an
//!   HMAC-signed, expiring session cookie keyed by a secret derived from the token, so any
//!   replica accepts it without shared state; every POST carries a CSRF token derived from
//!   the session. Failed logins are rate-limited per client address (per process).
//! - **Pages** work without JavaScript (plain links and forms, 303 after every POST);
//!   with it, htmx keeps the campaigns, outbox and journal tables live over SSE and loads
//!   a journal entry beside the list.
//! - **Assets** ([`assets`]): htmx and its SSE extension are vendored from npm (minified,
//!   with their 0BSD licences), served with a version or content hash in the path and
//!   a one-year immutable cache header.
//! - **Tables** are keyset-paged on `seq`, so they stay fast with a million rows behind.
//! - **Dialect words**: a campaign's id is shown in the shape of the dialect that owns
//!   it, and statuses in that dialect's words through each dialect's public mapping table
//!   ([`words`]); a Campaign Manager contact shows the key its campaign's `counts` give
//!   it (`delivered`, `carrierError`, …).
//! - **Attempts** come from the engine's `attempts` rows (number, outcome, sink, start and
//!   end); the outbox shows each row's attempt, and the overview charts attempts per
//!   minute by outcome.

mod assets;
mod auth;
mod campaigns;
mod controls;
mod highlight;
mod journal;
mod layout;
mod live;
mod overview;
mod tenants;
mod words;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::domain::tenants::{self as dtenants, Tenant};
use crate::domain::DomainError;
use crate::state::AppState;

pub use auth::{session_cookie_for_tests, SESSION_COOKIE};
pub use live::LiveStop;

/// Every console route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/tenants") }))
        .route("/console/", get(|| async { Redirect::to("/console/tenants") }))
        .merge(assets::router())
        .merge(auth::router())
        .merge(tenants::router())
        .merge(overview::router())
        .merge(campaigns::router())
        .merge(journal::router())
        .merge(controls::router())
        .layer(axum::middleware::from_fn(layout::security_headers))
}

/// What a console handler can fail with; rendered as a small HTML page.
#[derive(Debug)]
pub enum ConsoleError {
    NotFound(String),
    BadRequest(String),
    Forbidden(String),
    Unauthorized,
    TooMany(u64),
    Internal,
}

impl From<DomainError> for ConsoleError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => ConsoleError::NotFound(format!("{what} not found")),
            DomainError::Unauthorized => ConsoleError::Unauthorized,
            DomainError::Internal(_) => ConsoleError::Internal,
            other => ConsoleError::BadRequest(other.to_string()),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            ConsoleError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ConsoleError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ConsoleError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ConsoleError::Unauthorized => (StatusCode::UNAUTHORIZED, "Sign in to use the console.".to_string()),
            ConsoleError::TooMany(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed sign-ins from this address; try again in {secs} s."),
            ),
            ConsoleError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong; see the server log.".to_string(),
            ),
        };
        let body = layout::bare(
            status.canonical_reason().unwrap_or("Error"),
            maud::html! {
                h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                p role="alert" { (msg) }
                p { a href="/console/tenants" { "Back to the console" } }
            },
        );
        (status, body).into_response()
    }
}

/// Result of console handlers.
pub type PageResult = Result<Response, ConsoleError>;

/// The tenant of a path's `{slug}`.
async fn load_tenant(st: &AppState, slug: &str) -> Result<Tenant, ConsoleError> {
    Ok(dtenants::by_slug(&st.db, slug).await?)
}

/// A uuid of a path (anything else names nothing: 404).
fn path_id(raw: &str, what: &str) -> Result<uuid::Uuid, ConsoleError> {
    uuid::Uuid::try_parse(raw.trim()).map_err(|_| ConsoleError::NotFound(format!("{what} not found")))
}

/// 303 to `to` with a notice shown once on that page (`?notice=`).
fn see_other(to: &str, notice: &str) -> Response {
    see_other_with(to, "notice", notice)
}

/// 303 to `to` with an error notice (`?error=`), for a form whose input was refused.
fn see_other_error(to: &str, error: &str) -> Response {
    see_other_with(to, "error", error)
}

/// 303 to `to` with `text` in its query as `key`.
fn see_other_with(to: &str, key: &str, text: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    let enc = percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC);
    Redirect::to(&format!("{to}{sep}{key}={enc}")).into_response()
}
