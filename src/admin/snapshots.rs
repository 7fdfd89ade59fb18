//! `/admin/v1/tenants/{slug}/snapshot`: export a tenant as one JSON document (streamed),
//! and replace its data with one. The format is [`crate::domain::snapshots`]'s (documented
//! in `openapi/admin.yaml`).

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load_tenant, AdminAuth, AdminError};
use crate::domain::snapshots::{self, ExportOptions, Snapshot};
use crate::domain::tenants::NewTenant;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/admin/v1/tenants/{slug}/snapshot",
        // The import reads up to the upload limit itself (see `restore`).
        get(export).post(restore).layer(DefaultBodyLimit::disable()),
    )
}

#[derive(Deserialize)]
struct ExportQuery {
    #[serde(default)]
    with_credentials: Option<String>,
}

impl ExportQuery {
    fn with_credentials(&self) -> Result<bool, AdminError> {
        match self.with_credentials.as_deref().map(str::trim) {
            None | Some("" | "false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(_) => Err(AdminError::BadRequest("with_credentials: must be true or false".into())),
        }
    }
}

/// `GET /admin/v1/tenants/{slug}/snapshot[?with_credentials=true]`: the document, streamed.
async fn export(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let opts = ExportOptions {
        with_credentials: q.with_credentials()?,
    };
    let stream = snapshots::export(st.db.clone(), t.id, st.now(&t), opts).map_err(|e| std::io::Error::other(e.to_string()));
    let disposition = format!("attachment; filename=\"{}.snapshot.json\"", t.slug);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `POST /admin/v1/tenants/{slug}/snapshot`: replaces the tenant's data with the body's.
async fn restore(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, body: Body) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let bytes = read_limited(body, st.config.upload_limit).await?;
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return Err(AdminError::BadRequest(format!("malformed JSON: {e}")));
    }
    let snap = Snapshot::from_slice(&bytes)?;
    let report = snapshots::restore(&st.db, t.id, &snap).await?;
    st.faults.invalidate(Some(t.id));
    Ok(Json(json!({"tenant": t.slug, "restored": report})))
}

/// The body, up to `limit` bytes (more → 413).
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, AdminError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AdminError::TooLarge(format!("snapshot larger than the upload limit ({limit} bytes)")))
}

/// `POST /admin/v1/tenants` with a `snapshot` (called by the tenants' create handler).
pub(super) async fn create_from(st: &AppState, req: NewTenant, snapshot: Value) -> Result<(StatusCode, Json<Value>), AdminError> {
    let snap = Snapshot::from_value(snapshot)?;
    let (provisioned, report) = snapshots::create_from(&st.db, &st.tenants.provisioners, req, &snap).await?;
    let mut answer = serde_json::to_value(provisioned).map_err(|_| AdminError::Internal)?;
    if let Value::Object(o) = &mut answer {
        o.insert("restored".into(), serde_json::to_value(report).map_err(|_| AdminError::Internal)?);
    }
    Ok((StatusCode::CREATED, Json(answer)))
}
