//! The operator API at `/admin/v1` (bearer `SWITCHBOARD_ADMIN_TOKEN`).
//!
//! Conventions (DESIGN.md): create → 201 with the object; list → a bare JSON array in
//! creation order; missing or wrong token → 401; unknown tenant or object → 404; bad body
//! → 400 (malformed JSON) or 422 (well-formed but invalid), each `{"error": "…"}` naming
//! the field where there is one.

mod clock;
mod error;
mod fixtures;
mod leads_keys;
mod suppression;
mod tenants;

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
        .merge(suppression::router())
        .merge(leads_keys::router())
        .merge(clock::router())
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
    match axum::Json::<T>::from_bytes(body) {
        Ok(axum::Json(v)) => Ok(v),
        Err(axum::extract::rejection::JsonRejection::JsonDataError(e)) => Err(AdminError::Unprocessable(e.body_text())),
        Err(e) => Err(AdminError::BadRequest(e.body_text())),
    }
}
