//! Custom roles, teams and locations of a tenant (the names bulk user files of the Apps
//! API may give, beside the vendor's built-in roles):
//! `GET|POST /admin/v1/tenants/{slug}/apps/org-items` with `{"kind": "role"|"team"|"location",
//! "name": "…"}` → `{"id", "kind", "name"}`. A second item of one kind with the same name
//! (case-insensitively) → 409.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load_tenant, AdminAuth, AdminError, AdminJson};
use crate::domain::directory::{self, OrgItem};
use crate::state::AppState;

/// The routes of this file.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin/v1/tenants/{slug}/apps/org-items", get(list).post(create))
}

/// Body of a new item.
#[derive(Debug, Deserialize)]
pub struct NewItem {
    kind: String,
    name: String,
}

fn render(item: &OrgItem) -> Value {
    json!({"id": item.seq, "kind": item.kind, "name": item.name})
}

/// `POST /admin/v1/tenants/{slug}/apps/org-items`.
async fn create(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(item): AdminJson<NewItem>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let item = directory::add_org_item(&st.db, t.id, &item.kind, &item.name).await?;
    Ok((StatusCode::CREATED, Json(render(&item))))
}

/// `GET /admin/v1/tenants/{slug}/apps/org-items`.
async fn list(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let items = directory::list_org_items(&st.db, t.id).await?;
    Ok(Json(Value::Array(items.iter().map(render).collect())))
}
