//! `/admin/v1/tenants/{slug}/leads-api-keys`: API keys of the Leads dialect (`X-API-Key`).
//!
//! A key is 64 random hex characters, shown once at creation. It is stored as a
//! `leads_api_key` credential: `login_key` = SHA-256 hex of the key (the lookup index),
//! secret = the key (argon2id-hashed). Revoking sets `revoked_at`; authentication reads
//! the row on every request, so the key answers 401 from the next request on, on every
//! replica.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load_tenant, path_id, AdminAuth, AdminError, AdminJson};
use crate::domain::credentials::{self, kind, Credential, NewCredential};
use crate::domain::{secrets, DomainError};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants/{slug}/leads-api-keys", get(list).post(create))
        .route("/admin/v1/tenants/{slug}/leads-api-keys/{id}", delete(revoke))
}

fn render(c: &Credential) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "created_at": c.created_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
}

/// 32 random bytes as 64 lowercase hex characters.
fn new_key() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

async fn create(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(req): AdminJson<NewKey>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let name = req.name.trim();
    if name.is_empty() {
        return Err(AdminError::Unprocessable("name: must not be empty".into()));
    }
    if name.chars().count() > 200 {
        return Err(AdminError::Unprocessable("name: must be at most 200 characters".into()));
    }
    let key = new_key();
    let c = credentials::insert(
        &st.db,
        t.id,
        NewCredential {
            kind: kind::LEADS_API_KEY,
            login_key: secrets::digest(&key),
            username: None,
            account_id: None,
            secret: key.clone(),
            name: Some(name.to_string()),
        },
    )
    .await?;
    tracing::info!(tenant = %t.slug, key_id = %c.id, "leads api key created");
    let mut v = render(&c);
    v["key"] = json!(key);
    Ok((StatusCode::CREATED, Json(v)))
}

async fn list(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let all = credentials::list(&st.db, t.id, kind::LEADS_API_KEY).await?;
    Ok(Json(Value::Array(all.iter().map(render).collect())))
}

async fn revoke(State(st): State<AppState>, _: AdminAuth, Path((slug, id)): Path<(String, String)>) -> Result<StatusCode, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let id = path_id(&id, "leads api key")?;
    credentials::revoke(&st.db, t.id, kind::LEADS_API_KEY, id, st.now(&t))
        .await
        .map_err(|e| match e {
            DomainError::NotFound(_) => AdminError::NotFound("leads api key not found".into()),
            other => other.into(),
        })?;
    tracing::info!(tenant = %t.slug, key_id = %id, "leads api key revoked");
    Ok(StatusCode::NO_CONTENT)
}
