//! The tenant's webhooks (the `webhook` carrier, see `engine::carrier::webhook`):
//!
//! - `GET …/webhook-deliveries?limit=&cursor=`: every try of every webhook delivery,
//!   newest first (a bare array); `limit` 1–1000 (default 100). When the page is full, the
//!   `X-Next-Cursor` header carries the cursor of the next (older) page.
//! - `POST …/webhook-secret`: a new signing secret, returned once as `{"webhook_secret"}`
//!   (the old one stops signing at once).
//!
//! The first settings change that configures webhooks (`carrier` = `webhook`, or a
//! `webhook_url`) generates the secret and returns it once, as `webhook_secret` beside
//! the tenant in that `PATCH` answer.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load_tenant, page_query, page_response, AdminAuth, AdminError};
use crate::domain::webhooks;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants/{slug}/webhook-deliveries", get(list))
        .route("/admin/v1/tenants/{slug}/webhook-secret", post(rotate))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /admin/v1/tenants/{slug}/webhook-deliveries`: delivery tries, newest first.
async fn list(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    q: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let Query(p) = q.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let (limit, before) = page_query(p.limit.as_deref(), p.cursor.as_deref())?;
    let (rows, next) = webhooks::list(&st.db, t.id, limit, before).await?;
    Ok(page_response(json!(rows), next))
}

/// `POST /admin/v1/tenants/{slug}/webhook-secret`: rotates the signing secret.
async fn rotate(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let secret = webhooks::rotate_secret(&st.db, t.id).await?;
    Ok(Json(json!({"webhook_secret": secret})))
}
