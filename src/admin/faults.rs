//! `/admin/v1/tenants/{slug}/faults`: faults and latency injected into the tenant's
//! dialect traffic (see [`crate::controls::faults`] for how they fire).
//!
//! A fault: `{dialect?, method?, path? (glob, default "*"), kind, status?, body?,
//! retry_after?, delay_ms?, onc_as?, probability? (0–1, default 1), seed?, times?}`.
//! `kind` is `status`, `delay` (needs `delay_ms`), `reset`, `timeout` (`delay_ms`
//! default 30000) or `malformed`. `status` (400–599, default 500) is answered in the
//! dialect's error shape unless `body` replaces it; on ONC `onc_as` picks `soap_fault`
//! (default: a SOAP fault, or on the JSON binding `{"ErrorCode": 99, …}` with that HTTP
//! status) or `error_code` (a normal answer with ErrorCode 99 / a null result).
//! Create → 201; list → array in creation order (with `remaining` for faults limited by
//! `times`); `DELETE …/faults/{id}` and `DELETE …/faults` → 204.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load_tenant, path_id, AdminAuth, AdminError, AdminJson};
use crate::domain::faults::{self, Fault, NewFault};
use crate::state::AppState;

/// The front doors a fault may be limited to.
const DIALECTS: &[&str] = &["onc", "leads", "campaign_manager", "apps", "outbound_dialer"];
/// ONC's two error shapes.
const ONC_AS: &[&str] = &["soap_fault", "error_code"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants/{slug}/faults", get(list).post(create).delete(remove_all))
        .route("/admin/v1/tenants/{slug}/faults/{id}", get(get_one).delete(remove))
}

/// `POST` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultBody {
    #[serde(default)]
    dialect: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    kind: String,
    #[serde(default)]
    status: Option<i32>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    retry_after: Option<i32>,
    #[serde(default)]
    delay_ms: Option<i32>,
    #[serde(default)]
    onc_as: Option<String>,
    #[serde(default)]
    probability: Option<f64>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default)]
    times: Option<i32>,
}

fn one_of(field: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), AdminError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => {
            Err(AdminError::Unprocessable(format!("{field}: must be one of {}", allowed.join(", "))))
        }
        _ => Ok(()),
    }
}

fn render(f: &Fault) -> Value {
    json!({
        "id": f.id,
        "dialect": f.dialect,
        "method": f.method,
        "path": f.path,
        "kind": f.kind,
        "status": f.status,
        "body": f.body,
        "retry_after": f.retry_after,
        "delay_ms": f.delay_ms,
        "onc_as": f.shape,
        "probability": f.probability,
        "seed": f.seed,
        "times": f.times,
        "remaining": f.remaining,
        "created_at": f.created_at,
    })
}

/// `POST /admin/v1/tenants/{slug}/faults`
async fn create(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(b): AdminJson<FaultBody>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let t = load_tenant(&st, &slug).await?;
    one_of("dialect", &b.dialect, DIALECTS)?;
    one_of("onc_as", &b.onc_as, ONC_AS)?;
    let new = NewFault {
        dialect: b.dialect,
        method: b.method,
        path: b.path,
        kind: b.kind,
        status: b.status,
        body: b.body,
        retry_after: b.retry_after,
        delay_ms: b.delay_ms,
        shape: b.onc_as,
        probability: b.probability,
        seed: b.seed,
        times: b.times,
    };
    let f = faults::create(&st.db, t.id, new, st.now(&t)).await?;
    // This process sees the change at once; other replicas through the NOTIFY.
    st.faults.invalidate(Some(t.id));
    Ok((StatusCode::CREATED, Json(render(&f))))
}

/// `GET /admin/v1/tenants/{slug}/faults`
async fn list(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let all = faults::list(&st.db, t.id).await?;
    Ok(Json(Value::Array(all.iter().map(render).collect())))
}

/// `GET /admin/v1/tenants/{slug}/faults/{id}`
async fn get_one(State(st): State<AppState>, _: AdminAuth, Path((slug, id)): Path<(String, String)>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let id = path_id(&id, "fault")?;
    let all = faults::list(&st.db, t.id).await?;
    let f = all
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(|| AdminError::NotFound("fault not found".into()))?;
    Ok(Json(render(f)))
}

/// `DELETE /admin/v1/tenants/{slug}/faults/{id}`
async fn remove(State(st): State<AppState>, _: AdminAuth, Path((slug, id)): Path<(String, String)>) -> Result<StatusCode, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let id = path_id(&id, "fault")?;
    faults::delete(&st.db, t.id, id).await?;
    // This process sees the change at once; other replicas through the NOTIFY.
    st.faults.invalidate(Some(t.id));
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /admin/v1/tenants/{slug}/faults`
async fn remove_all(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<StatusCode, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    faults::delete_all(&st.db, t.id).await?;
    // This process sees the change at once; other replicas through the NOTIFY.
    st.faults.invalidate(Some(t.id));
    Ok(StatusCode::NO_CONTENT)
}
