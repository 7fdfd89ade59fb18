//! The operator API at `/admin/v1` (bearer `SWITCHBOARD_ADMIN_TOKEN`).
//!
//! Conventions (DESIGN.md): create → 201 with the object; list → a bare JSON array in
//! creation order; missing or wrong token → 401; unknown tenant or object → 404; bad body
//! → 400 (malformed JSON) or 422 (well-formed but invalid), each `{"error": "…"}` naming
//! the field where there is one.
//!
//! Choices where the issue leaves room (also in `openapi/admin.yaml`):
//! - Suppression (`/opt-outs`, `/dnc`): an invalid phone number or `expires_at` → 400
//!   naming the field; adding a number already on the list updates its expiry (and, for
//!   opt-outs, its channels) in the same row and answers **200** (a new entry: 201). An
//!   `expires_at` in the past is accepted (the entry is listed as expired), which lets a
//!   test create an expired entry without moving the clock. DNC entries take no
//!   `channels` (they block every channel). Entries added by dialects are listed with
//!   their own `source` and can be removed here. `GET …/{id}` shows one entry.
//! - Settings (`PATCH /tenants/{slug}`): keys left out are unchanged, `null` removes the
//!   key (global default), unknown keys → 422; `apps_rate_burst` ≥ 1, the two durations
//!   1 s … 10 years.
//! - Clock: exactly one of `advance_seconds`, `set`, `freeze`, `reset` per request.
//!   Advancing a frozen clock moves the frozen instant; `set` on a frozen clock keeps it
//!   frozen at the new instant; unfreezing rounds the offset up to whole seconds (time
//!   never goes backwards). Before the answer, the engine runs everything that fell due up
//!   to the new time, in order (`engine::attempts`).
//! - Reset: `keep_directory` defaults to true; the body may be empty. The tenant's
//!   settings, clock and credentials (Leads API keys too) stay. The table list is
//!   [`crate::domain::tenant_ops::RESET_TABLES`].
//! - Leads API keys: 64 lowercase hex characters; the list shows keys that are not revoked.
//! - Campaign events (`POST …/campaigns/{id}/events`): `{"event": "start"}` or
//!   `{"events": ["schedule", "start"]}` (in order, in one transaction) through the one
//!   campaign state machine; an illegal move → 409 and nothing changes.
//! - Calls (`POST …/calls`): a call interaction as a fixture with its Leads cdr id and
//!   Apps call id (`ids`); see `call_fixture.rs`.
//! - Carrier rules (`PUT|GET …/carrier-rules`): the body is the whole list (PUT
//!   replaces it, `[]` clears it); see `carrier_rules.rs`.
//! - Outbox (`GET|DELETE …/outbox`): newest first, paged by `X-Next-Cursor`; see
//!   `outbox.rs`.
//! - Snapshots (`GET|POST …/snapshot`, and `snapshot` in `POST /tenants`): see
//!   [`crate::domain::snapshots`]; the restore reads bodies up to the upload limit.

mod call_fixture;
mod campaign_events;
mod carrier_rules;
mod clock;
mod error;
mod faults;
mod fixtures;
mod journal;
mod leads_keys;
mod org_items;
mod outbox;
mod snapshots;
mod suppression;
mod tenants;
mod webhooks;

pub use error::{AdminError, AdminJson};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Router;

use crate::domain::tenants::{self as dtenants, Tenant};
use crate::state::AppState;

/// Proof that the request carried the admin token.
pub struct AdminAuth;

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        match given {
            Some(t) if constant_time_eq(t.as_bytes(), state.admin_token.as_bytes()) => Ok(AdminAuth),
            _ => Err(AdminError::Unauthorized),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Every admin route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(tenants::router())
        .merge(fixtures::router())
        .merge(call_fixture::router())
        .merge(suppression::router())
        .merge(leads_keys::router())
        .merge(org_items::router())
        .merge(clock::router())
        .merge(campaign_events::router())
        .merge(snapshots::router())
        .merge(faults::router())
        .merge(journal::router())
        .merge(carrier_rules::router())
        .merge(outbox::router())
        .merge(webhooks::router())
}

/// The tenant of a path's `{slug}` (404 when there is none).
pub(crate) async fn load_tenant(st: &AppState, slug: &str) -> Result<Tenant, AdminError> {
    Ok(dtenants::by_slug(&st.db, slug).await?)
}

/// An entry id of a path: a uuid; anything else names no entry (404).
pub(crate) fn path_id(raw: &str, what: &str) -> Result<uuid::Uuid, AdminError> {
    uuid::Uuid::try_parse(raw.trim()).map_err(|_| AdminError::NotFound(format!("{what} not found")))
}

/// A JSON body that may be absent: empty → `T::default()`; malformed → 400; not fitting
/// `T` → 422 (serde's message names the field).
pub(crate) fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, AdminError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    if let Some(field) = crate::http::nul_in_json(body) {
        return Err(AdminError::Unprocessable(crate::http::nul_message(&field)));
    }
    match axum::Json::<T>::from_bytes(body) {
        Ok(axum::Json(v)) => Ok(v),
        Err(axum::extract::rejection::JsonRejection::JsonDataError(e)) => Err(AdminError::Unprocessable(e.body_text())),
        Err(e) => Err(AdminError::BadRequest(e.body_text())),
    }
}

/// `limit` and `cursor` of a keyset-paged list (`?limit=&cursor=`): the limit 1–1000
/// (default 100), the cursor a `seq` as given by `X-Next-Cursor` (absent or empty: the
/// first page); anything else → 400.
pub(crate) fn page_query(limit: Option<&str>, cursor: Option<&str>) -> Result<(i64, Option<i64>), AdminError> {
    let limit = match limit {
        None => 100,
        Some(l) => match l.trim().parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(AdminError::BadRequest("limit: must be between 1 and 1000".into())),
        },
    };
    let before = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.trim()
                .parse::<i64>()
                .map_err(|_| AdminError::BadRequest("cursor: not a cursor of this list".into()))?,
        ),
    };
    Ok((limit, before))
}

/// A page of a list as a bare JSON array, with `X-Next-Cursor` when a next page follows.
pub(crate) fn page_response(rows: serde_json::Value, next: Option<i64>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut resp = axum::Json(rows).into_response();
    if let Some(n) = next.and_then(|n| axum::http::HeaderValue::from_str(&n.to_string()).ok()) {
        resp.headers_mut().insert("x-next-cursor", n);
    }
    resp
}
