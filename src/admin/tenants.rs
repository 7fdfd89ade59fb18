//! `/admin/v1/tenants`: provisioning, settings.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AdminAuth, AdminError, AdminJson};
use crate::domain::tenant_ops::{self, SettingsPatch};
use crate::domain::tenants::{self, NewTenant, Tenant};
use crate::domain::webhooks;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants", get(list).post(create))
        .route("/admin/v1/tenants/{slug}", get(show).patch(update).delete(remove))
}

/// The admin view of a tenant.
pub fn render(state: &AppState, t: &Tenant) -> Value {
    json!({
        "id": t.id.0,
        "slug": t.slug,
        "name": t.name,
        "settings": tenants::settings_view(&state.tenants.settings, &t.settings),
        "now": state.now(t),
        "clock": super::clock::render(state, t),
        "created_at": t.created_at,
    })
}

async fn create(
    State(st): State<AppState>,
    _: AdminAuth,
    AdminJson(mut req): AdminJson<NewTenant>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    if let Some(snapshot) = req.fields.remove("snapshot").filter(|v| !v.is_null()) {
        return super::snapshots::create_from(&st, req, snapshot).await;
    }
    let p = tenants::create(&st.db, &st.tenants.provisioners, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(p).map_err(|_| AdminError::Internal)?),
    ))
}

async fn list(State(st): State<AppState>, _: AdminAuth) -> Result<Json<Value>, AdminError> {
    let all = tenants::list(&st.db).await?;
    Ok(Json(Value::Array(all.iter().map(|t| render(&st, t)).collect())))
}

async fn show(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = tenants::by_slug(&st.db, &slug).await?;
    Ok(Json(render(&st, &t)))
}

/// `PATCH /admin/v1/tenants/{slug}` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    settings: Option<serde_json::Map<String, Value>>,
}

async fn update(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(p): AdminJson<TenantPatch>,
) -> Result<Json<Value>, AdminError> {
    let t = tenants::by_slug(&st.db, &slug).await?;
    let settings = SettingsPatch::new(&st.tenants.settings, &p.settings.unwrap_or_default())?;
    let t = tenant_ops::update(&st.db, t.id, p.name.as_deref(), &settings).await?;
    let mut out = render(&st, &t);
    // The first change that configures webhooks makes the signing secret, shown once.
    if webhooks::CarrierSettings::of(&t.settings).uses_webhook() {
        if let Some(secret) = webhooks::ensure_secret(&st.db, t.id).await? {
            out["webhook_secret"] = Value::String(secret);
        }
    }
    Ok(Json(out))
}

async fn remove(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<StatusCode, AdminError> {
    tenants::delete(&st.db, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}
