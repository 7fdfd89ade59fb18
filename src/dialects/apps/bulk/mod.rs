//! Bulk user management: `/apps/api/v1/bulk/users/…`.
//!
//! One `jobs` row of kind [`JOB_KIND`] per uploaded file (the file is a blob). The vendor's
//! job status lives in `jobs.state`: `created` → `valid_scheme` | `invalid_scheme` →
//! `in_progress` → `finished`. The worker runs two phases (`payload.phase`): `validate`
//! (after an upload) and `apply` (after proceed); between them the job row is parked
//! (`jobs.status = completed`). Scheme errors are kept in `jobs.result`, apply progress
//! (next row, affected/failed counts, update errors) in `jobs.progress`, checkpointed in
//! the same transaction as each chunk of agents, so a restarted job resumes where it was.
//!
//! Users are the tenant's agents. Roles, teams and locations: the vendor's seven built-in
//! roles always exist; custom roles, teams and locations are rows of `apps_org_items`
//! (migration 0400). An agent's roles/teams/location/status/chat limits are kept in
//! `agents.attrs` (`roles`, `teams` as name lists, `location`, `user_status`,
//! `max_chat_limit`, `max_chat_limit_enabled`). The `max_chat_limit` upper bound X is the
//! tenant setting `apps_max_chat_limit` (default 10, set with the admin API PATCH of the tenant).
//!
//! Where the code lives: this file has the HTTP handlers (parse the request, one domain
//! call, render the vendor's job object); `file.rs` the vendor's file format (the scheme
//! check, the tenant's vocabulary, how a row maps to a user and its attrs); `job.rs` the
//! worker's two phases. Storing files and jobs, requeueing a job and applying rows
//! (with checkpoints) are domain use-cases (`domain::{blobs, jobs, bulk_users}`); the job
//! rows' `updated_at` follows the tenant clock.

mod file;
mod job;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::AppsAuth;
use super::error::AppsError;
use super::paging::{self, PageParams};
use super::wire::{base_url, ts};
use crate::domain::jobs::{self as djobs, Job, NewJob, Requeue};
use crate::domain::{blobs, DomainError, TenantId};
use crate::state::AppState;
use crate::state::JobHandler;
use file::Vocabulary;

pub use file::BUILTIN_ROLES;

/// Job kind of a bulk-user job.
pub const JOB_KIND: &str = "apps.bulk_users";

/// The job handler.
pub fn handler() -> JobHandler {
    Arc::new(|ctx| Box::pin(job::run(ctx)))
}

// ---------------------------------------------------------------------------------------
// Rendering.

fn job_link(headers: &HeaderMap, seq: i64) -> String {
    format!("{}/apps/api/v1/bulk/users/jobs/{seq}", base_url(headers))
}

fn messages(list: Option<&Value>) -> Value {
    let list = list.and_then(Value::as_array).cloned().unwrap_or_default();
    Value::Array(
        list.iter()
            .map(|e| {
                let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
                match e.get("row").and_then(Value::as_u64) {
                    Some(r) => json!(format!("Row {r}: {msg}")),
                    None => json!(msg),
                }
            })
            .collect(),
    )
}

/// The vendor's status of a job.
fn job_status(j: &Job) -> String {
    j.state.clone().unwrap_or_else(|| "created".into())
}

/// The job object of the doc.
fn render_job(j: &Job) -> Value {
    let p = &j.payload;
    let result = j.result.clone().unwrap_or(Value::Null);
    json!({
        "id": j.seq,
        "created_at": ts(j.created_at),
        "process_requested_at": p.get("process_requested_at").cloned().unwrap_or(Value::Null),
        "filename": p.get("filename").cloned().unwrap_or(Value::Null),
        "total_rows": result
            .get("total_rows")
            .or_else(|| p.get("total_rows"))
            .cloned()
            .unwrap_or(json!(0)),
        "affected_rows": j.progress.get("affected").cloned().unwrap_or(json!(0)),
        "failed_rows": j.progress.get("failed").cloned().unwrap_or(json!(0)),
        "status": job_status(j),
        "uploaded_user_name": Value::Null,
        "proceed_user_name": Value::Null,
        "uploaded_api_user_name": p.get("uploaded_api_user_name").cloned().unwrap_or(Value::Null),
        "proceed_api_user_name": p.get("proceed_api_user_name").cloned().unwrap_or(Value::Null),
        "scheme_errors": messages(result.get("scheme_errors")),
        "update_errors": messages(j.progress.get("update_errors")),
    })
}

/// A job of the tenant by its integer id; another kind's or unknown → 404.
async fn job_by_seq(st: &AppState, t: TenantId, raw: &str) -> Result<Job, AppsError> {
    let seq = raw.trim().parse::<i64>().map_err(|_| AppsError::not_found())?;
    let job = djobs::get_by_seq(&st.db, t, seq).await.map_err(|_| AppsError::not_found())?;
    if job.kind != JOB_KIND {
        return Err(AppsError::not_found());
    }
    Ok(job)
}

// ---------------------------------------------------------------------------------------
// HTTP.

/// `GET /apps/api/v1/bulk/users/template`.
pub async fn template(State(st): State<AppState>, auth: AppsAuth) -> Result<Json<Value>, AppsError> {
    let vocab = Vocabulary::load(&st, &auth.tenant).await?;
    let roles: Vec<Value> = vocab.roles.iter().map(|r| json!({"name": r, "value": 0})).collect();
    let teams: Vec<Value> = vocab.teams.iter().map(|r| json!({"name": r, "value": 0})).collect();
    let location = vocab.locations.first().cloned().unwrap_or_default();
    let sample = |email: &str, new_email: &str, num: &str, first: &str, last: &str, status: &str, loc: &str, lim: &str, en: &str| {
        json!({
            "email": email, "new_email": new_email, "agent_number": num, "first_name": first, "last_name": last,
            "status": status, "location": loc, "max_chat_limit": lim, "max_chat_limit_enabled": en,
            "roles": roles, "teams": teams,
        })
    };
    Ok(Json(json!([
        sample(
            "user1@somedomain.com",
            "user1@somedomain.com",
            "A-001",
            "James",
            "Bond",
            "Active",
            &location,
            "2",
            "0"
        ),
        sample(
            "user2@somedomain.com",
            "user3@somedomain.com",
            "A-002",
            "John",
            "Doe",
            "Inactive",
            "",
            "",
            "1"
        ),
        sample(
            "user3@somedomain.com",
            "user2@somedomain.com",
            "A-003",
            "Jane",
            "Doe",
            "",
            "null",
            "1",
            ""
        ),
    ])))
}

/// What a multipart upload carried.
struct Upload {
    id: Option<String>,
    file: Option<blobs::Blob>,
}

async fn read_upload(st: &AppState, t: TenantId, req: Request) -> Result<Upload, AppsError> {
    let mut mp = Multipart::from_request(req, st)
        .await
        .map_err(|_| AppsError::bad_request("Request must be multipart/form-data with a file"))?;
    let mut up = Upload { id: None, file: None };
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return Err(AppsError::bad_request("Malformed multipart body")),
        };
        match field.name() {
            Some("file") if up.file.is_none() => {
                let filename = field.file_name().map(str::to_string).unwrap_or_else(|| "upload.json".into());
                let ct = field.content_type().map(str::to_string);
                let blob = blobs::store(&st.db, t, Some(&filename), ct.as_deref(), Box::pin(field), st.config.upload_limit)
                    .await
                    .map_err(|e| match e {
                        DomainError::Validation { message, .. } => AppsError::bad_request(message),
                        other => AppsError::from(other),
                    })?;
                up.file = Some(blob);
            }
            Some("id") => up.id = field.text().await.ok().map(|s| s.trim().to_string()),
            _ => {}
        }
    }
    Ok(up)
}

/// The number of users in an uploaded file (the top-level array's length; 0 when the file
/// is not a JSON array — validation reports why), shown as `total_rows` from `created` on.
async fn count_rows(st: &AppState, t: TenantId, blob: &blobs::Blob) -> Result<usize, AppsError> {
    let bytes = blobs::read_all(&st.db, t, blob.id).await?;
    Ok(serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(&bytes).map_or(0, |v| v.len()))
}

async fn drop_blob(st: &AppState, t: TenantId, blob: Option<blobs::Blob>) {
    if let Some(b) = blob {
        let _ = blobs::delete(&st.db, t, b.id).await;
    }
}

fn cannot_update(status: &str) -> AppsError {
    AppsError::new(StatusCode::NOT_FOUND, format!("Can't update JSON. job status: {status}"))
}

/// `POST /apps/api/v1/bulk/users/upload` (multipart `file`).
pub async fn upload(State(st): State<AppState>, auth: AppsAuth, headers: HeaderMap, req: Request) -> Result<Json<Value>, AppsError> {
    let t = auth.tenant.id;
    let up = read_upload(&st, t, req).await?;
    let blob = up.file.ok_or_else(|| AppsError::bad_request("file is required"))?;
    let total_rows = count_rows(&st, t, &blob).await?;
    let new = NewJob {
        kind: JOB_KIND.into(),
        status: None,
        state: Some("created".into()),
        payload: json!({
            "phase": "validate",
            "filename": blob.filename,
            "total_rows": total_rows,
            "uploaded_api_user_name": auth.tenant.slug,
            "process_requested_at": Value::Null,
            "proceed_api_user_name": Value::Null,
        }),
        blob_id: Some(blob.id),
        campaign_id: None,
    };
    let job = djobs::enqueue(&st.db, t, new, st.now(&auth.tenant)).await?;
    Ok(Json(
        json!({"id": job.seq, "status": "created", "link": job_link(&headers, job.seq)}),
    ))
}

/// `PUT /apps/api/v1/bulk/users/upload` (multipart `id`, `file`): replaces the file.
pub async fn replace(State(st): State<AppState>, auth: AppsAuth, headers: HeaderMap, req: Request) -> Result<Json<Value>, AppsError> {
    let t = auth.tenant.id;
    let up = read_upload(&st, t, req).await?;
    let job = match &up.id {
        Some(id) => job_by_seq(&st, t, id).await,
        None => Err(AppsError::not_found()),
    };
    let job = match job {
        Ok(j) => j,
        Err(e) => {
            drop_blob(&st, t, up.file).await;
            return Err(e);
        }
    };
    let applying = job.payload.get("phase").and_then(Value::as_str) == Some("apply");
    let status = job_status(&job);
    if status == "finished" || status == "in_progress" || applying {
        drop_blob(&st, t, up.file).await;
        return Err(cannot_update(if applying && status != "finished" {
            "in_progress"
        } else {
            &status
        }));
    }
    let Some(blob) = up.file else {
        return Err(AppsError::bad_request("file is required"));
    };
    let total_rows = count_rows(&st, t, &blob).await? as i64;
    // Not while (or once) the job applies its rows; the old file goes with the change.
    let requeue = Requeue {
        unless_payload: Some(("phase", "apply")),
        blob_id: Some(blob.id),
        state: Some("created"),
        reset: true,
        payload: json!({"phase": "validate", "filename": blob.filename, "total_rows": total_rows}),
        ..Default::default()
    };
    if !djobs::requeue(&st.db, t, job.id, requeue, st.now(&auth.tenant)).await? {
        return Err(cannot_update("in_progress"));
    }
    Ok(Json(
        json!({"id": job.seq, "status": "created", "link": job_link(&headers, job.seq)}),
    ))
}

/// The `id` of a proceed request: form-data, urlencoded form or JSON.
async fn proceed_id(st: &AppState, req: Request) -> Result<Option<String>, AppsError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/") {
        let mut mp = Multipart::from_request(req, st)
            .await
            .map_err(|_| AppsError::bad_request("Malformed multipart body"))?;
        while let Ok(Some(f)) = mp.next_field().await {
            if f.name() == Some("id") {
                return Ok(f.text().await.ok().map(|s| s.trim().to_string()));
            }
        }
        return Ok(None);
    }
    let body = Bytes::from_request(req, st)
        .await
        .map_err(|_| AppsError::bad_request("Unreadable body"))?;
    if ct.starts_with("application/json") {
        if let Some(field) = crate::http::nul_in_json(&body) {
            return Err(AppsError::bad_request(crate::http::nul_message(&field)));
        }
        let v: Value = serde_json::from_slice(&body).map_err(|_| AppsError::bad_request("Request body is not valid JSON"))?;
        return Ok(match v.get("id") {
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::String(s)) => Some(s.trim().to_string()),
            _ => None,
        });
    }
    let text = String::from_utf8_lossy(&body);
    Ok(text.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "id").then(|| {
            let v = v.replace('+', " ");
            percent_encoding::percent_decode_str(&v).decode_utf8_lossy().trim().to_string()
        })
    }))
}

/// `POST /apps/api/v1/bulk/users/proceed` (`id`).
pub async fn proceed(State(st): State<AppState>, auth: AppsAuth, headers: HeaderMap, req: Request) -> Result<Json<Value>, AppsError> {
    let t = auth.tenant.id;
    let id = proceed_id(&st, req).await?.ok_or_else(AppsError::not_found)?;
    let job = job_by_seq(&st, t, &id).await?;
    let applying = job.payload.get("phase").and_then(Value::as_str) == Some("apply");
    let status = job_status(&job);
    if status == "in_progress" || (applying && status != "finished") {
        return Err(AppsError::bad_request("Update is already in progress."));
    }
    if status != "valid_scheme" || job.status != djobs::status::COMPLETED {
        return Err(AppsError::bad_request(format!("This job cannot proceed update. status: {status}")));
    }
    let now = st.now(&auth.tenant);
    let requeue = Requeue {
        unless_payload: Some(("phase", "apply")),
        when_status: Some(djobs::status::COMPLETED),
        when_state: Some("valid_scheme"),
        payload: json!({"phase": "apply", "process_requested_at": ts(now), "proceed_api_user_name": auth.tenant.slug}),
        ..Default::default()
    };
    if !djobs::requeue(&st.db, t, job.id, requeue, now).await? {
        return Err(AppsError::bad_request("Update is already in progress."));
    }
    Ok(Json(json!({"id": job.seq, "status": status, "link": job_link(&headers, job.seq)})))
}

/// `GET /apps/api/v1/bulk/users/jobs`: newest first, paged.
pub async fn jobs(
    State(st): State<AppState>,
    auth: AppsAuth,
    headers: HeaderMap,
    uri: Uri,
    q: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppsError> {
    let Query(q) = q.map_err(|_| AppsError::bad_request("page and per_page must be given once"))?;
    let page = q.resolve(25, 100)?;
    let t = auth.tenant.id;
    let total = djobs::count_of_kind(&st.db, t, JOB_KIND).await?;
    let rows = djobs::page_of_kind(&st.db, t, JOB_KIND, page.per_page, page.offset()).await?;
    let body: Vec<Value> = rows.iter().map(render_job).collect();
    Ok((
        paging::headers_absolute(&base_url(&headers), &uri, page, total),
        Json(Value::Array(body)),
    )
        .into_response())
}

/// `GET /apps/api/v1/bulk/users/jobs/{id}`.
pub async fn job(State(st): State<AppState>, auth: AppsAuth, Path(id): Path<String>) -> Result<Json<Value>, AppsError> {
    Ok(Json(render_job(&job_by_seq(&st, auth.tenant.id, &id).await?)))
}

/// `GET /apps/api/v1/bulk/users/errors/scheme/{id}`.
pub async fn scheme_errors(State(st): State<AppState>, auth: AppsAuth, Path(id): Path<String>) -> Result<Json<Value>, AppsError> {
    let j = job_by_seq(&st, auth.tenant.id, &id).await?;
    let list = j.result.as_ref().and_then(|r| r.get("scheme_errors")).cloned().unwrap_or(json!([]));
    Ok(Json(list))
}

/// `GET /apps/api/v1/bulk/users/errors/update/{id}`.
pub async fn update_errors(State(st): State<AppState>, auth: AppsAuth, Path(id): Path<String>) -> Result<Json<Value>, AppsError> {
    let j = job_by_seq(&st, auth.tenant.id, &id).await?;
    Ok(Json(j.progress.get("update_errors").cloned().unwrap_or(json!([]))))
}
