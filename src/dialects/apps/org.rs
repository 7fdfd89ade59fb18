//! Operator fixtures of the Apps dialect: the custom roles, teams and locations that bulk
//! user files may name (`apps_org_items`), under the admin API:
//! `GET|POST /admin/v1/tenants/{slug}/apps/org-items` with `{"kind": "role"|"team"|"location",
//! "name": "…"}`. The seven built-in roles need no row.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::admin::{AdminAuth, AdminError, AdminJson};
use crate::domain::tenants;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct NewItem {
    kind: String,
    name: String,
}

fn render(seq: i64, kind: &str, name: &str) -> Value {
    json!({"id": seq, "kind": kind, "name": name})
}

/// `POST /admin/v1/tenants/{slug}/apps/org-items`.
pub async fn create(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(item): AdminJson<NewItem>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let t = tenants::by_slug(&st.db, &slug).await?;
    if !matches!(item.kind.as_str(), "role" | "team" | "location") {
        return Err(AdminError::Unprocessable("kind: must be role, team or location".into()));
    }
    let name = item.name.trim();
    if name.is_empty() {
        return Err(AdminError::Unprocessable("name: must not be empty".into()));
    }
    let seq: Option<i64> = sqlx::query_scalar(
        "INSERT INTO apps_org_items (id, tenant_id, kind, name) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, kind, lower(name)) DO NOTHING RETURNING seq",
    )
    .bind(Uuid::new_v4())
    .bind(t.id.0)
    .bind(&item.kind)
    .bind(name)
    .fetch_optional(&st.db)
    .await
    .map_err(crate::domain::DomainError::from)?;
    let seq = seq.ok_or_else(|| AdminError::Conflict(format!("name: this {} already exists", item.kind)))?;
    Ok((StatusCode::CREATED, Json(render(seq, &item.kind, name))))
}

/// `GET /admin/v1/tenants/{slug}/apps/org-items`.
pub async fn list(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = tenants::by_slug(&st.db, &slug).await?;
    let rows: Vec<(i64, String, String)> = sqlx::query_as("SELECT seq, kind, name FROM apps_org_items WHERE tenant_id = $1 ORDER BY seq")
        .bind(t.id.0)
        .fetch_all(&st.db)
        .await
        .map_err(crate::domain::DomainError::from)?;
    Ok(Json(Value::Array(rows.iter().map(|(s, k, n)| render(*s, k, n)).collect())))
}
