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

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

use super::auth::AppsAuth;
use super::error::AppsError;
use super::paging::{self, PageParams};
use super::wire::{base_url, ts};
use crate::domain::directory::{self, valid_email, NewAgent};
use crate::domain::jobs::{self as djobs, Job, NewJob};
use crate::domain::{blobs, DomainError, DomainResult, TenantId};
use crate::engine::jobs::{JobCtx, JobHandler, JobOutcome};
use crate::state::AppState;

/// Job kind of a bulk-user job.
pub const JOB_KIND: &str = "apps.bulk_users";
/// The vendor's built-in roles.
pub const BUILTIN_ROLES: &[&str] = &[
    "Admin",
    "Manager",
    "Agent",
    "Developer",
    "Manager Admin",
    "Manager Team",
    "Manager Data",
];
/// Rows applied per transaction.
const CHUNK_ROWS: usize = 500;
/// Columns, numbered from 1 as in the error logs.
const COLUMNS: &[&str] = &[
    "email",
    "new_email",
    "agent_number",
    "first_name",
    "last_name",
    "status",
    "location",
    "max_chat_limit",
    "max_chat_limit_enabled",
    "roles",
    "teams",
];

fn column(name: &str) -> Value {
    COLUMNS.iter().position(|c| *c == name).map(|i| json!(i + 1)).unwrap_or(Value::Null)
}

/// The job handler.
pub fn handler() -> JobHandler {
    Arc::new(|ctx| Box::pin(run(ctx)))
}

// ---------------------------------------------------------------------------------------
// Tenant vocabulary: roles, teams, locations, chat limit.

struct Vocabulary {
    roles: Vec<String>,
    teams: Vec<String>,
    locations: Vec<String>,
    max_chat: i64,
}

impl Vocabulary {
    async fn load(db: &sqlx::PgPool, t: TenantId) -> DomainResult<Vocabulary> {
        let items: Vec<(String, String)> = sqlx::query_as("SELECT kind, name FROM apps_org_items WHERE tenant_id = $1 ORDER BY seq")
            .bind(t.0)
            .fetch_all(db)
            .await?;
        let of = |k: &str| {
            items
                .iter()
                .filter(|(kind, _)| kind == k)
                .map(|(_, n)| n.clone())
                .collect::<Vec<_>>()
        };
        let mut roles: Vec<String> = BUILTIN_ROLES.iter().map(|s| s.to_string()).collect();
        for r in of("role") {
            if !roles.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
                roles.push(r);
            }
        }
        let max_chat = crate::domain::tenants::by_id(db, t)
            .await?
            .settings
            .apps_max_chat_limit
            .filter(|v| *v >= 1)
            .map_or(10, i64::from);
        Ok(Vocabulary {
            roles,
            teams: of("team"),
            locations: of("location"),
            max_chat,
        })
    }

    fn canonical<'a>(list: &'a [String], name: &str) -> Option<&'a String> {
        list.iter().find(|x| x.eq_ignore_ascii_case(name.trim()))
    }
}

// ---------------------------------------------------------------------------------------
// Validation.

/// A scalar as text: null → None, strings as they are, numbers and bools as text.
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1".into() } else { "0".into() }),
        _ => None,
    }
}

fn scheme_error(out: &mut Vec<Value>, row: Option<usize>, col: &str, message: String) {
    out.push(json!({"message": message, "column": if col.is_empty() { Value::Null } else { column(col) }, "row": row}));
}

/// Validates a parsed file; returns the rows and the scheme errors.
fn validate(file: &[u8], vocab: &Vocabulary) -> (Vec<Map<String, Value>>, Vec<Value>) {
    let mut errors = Vec::new();
    let parsed: Value = match serde_json::from_slice(file) {
        Ok(v) => v,
        Err(e) => {
            scheme_error(&mut errors, None, "", format!("File is not valid JSON: {e}"));
            return (Vec::new(), errors);
        }
    };
    let Value::Array(items) = parsed else {
        scheme_error(&mut errors, None, "", "File must be a JSON array of users".into());
        return (Vec::new(), errors);
    };
    let mut rows = Vec::with_capacity(items.len());
    let mut emails = HashSet::new();
    let mut new_emails = HashSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let r = i + 1;
        let Value::Object(m) = item else {
            scheme_error(&mut errors, Some(r), "", "Row must be a JSON object".into());
            rows.push(Map::new());
            continue;
        };
        match scalar(m.get("email")) {
            Some(e) if valid_email(&e) => {
                if !emails.insert(e.to_ascii_lowercase()) {
                    scheme_error(&mut errors, Some(r), "email", format!("email {e} is duplicated in the file"));
                }
            }
            Some(e) if !e.is_empty() => scheme_error(&mut errors, Some(r), "email", format!("email {e} is not a valid email")),
            _ => scheme_error(&mut errors, Some(r), "email", "email is required".into()),
        }
        if let Some(e) = scalar(m.get("new_email")).filter(|s| !s.is_empty()) {
            if !valid_email(&e) {
                scheme_error(&mut errors, Some(r), "new_email", format!("new_email {e} is not a valid email"));
            } else if !new_emails.insert(e.to_ascii_lowercase()) {
                scheme_error(
                    &mut errors,
                    Some(r),
                    "new_email",
                    format!("new_email {e} is duplicated in the file"),
                );
            }
        }
        if let Some(v) = m.get("agent_number") {
            if !matches!(v, Value::Null | Value::String(_) | Value::Number(_)) {
                scheme_error(&mut errors, Some(r), "agent_number", "agent_number must be a string".into());
            }
        }
        for f in ["first_name", "last_name"] {
            if scalar(m.get(f)).is_none_or(|s| s.is_empty()) {
                scheme_error(&mut errors, Some(r), f, format!("{f} must be a non-empty string"));
            }
        }
        if let Some(s) = scalar(m.get("status")) {
            if !matches!(s.as_str(), "" | "Active" | "Inactive") {
                scheme_error(
                    &mut errors,
                    Some(r),
                    "status",
                    format!("status must be \"Active\", \"Inactive\" or empty, not \"{s}\""),
                );
            }
        }
        if let Some(l) = scalar(m.get("location")) {
            if !l.is_empty() && !l.eq_ignore_ascii_case("null") && Vocabulary::canonical(&vocab.locations, &l).is_none() {
                scheme_error(&mut errors, Some(r), "location", format!("location \"{l}\" does not exist"));
            }
        }
        if let Some(s) = scalar(m.get("max_chat_limit")).filter(|s| !s.is_empty()) {
            if !s.parse::<i64>().is_ok_and(|n| (1..=vocab.max_chat).contains(&n)) {
                scheme_error(
                    &mut errors,
                    Some(r),
                    "max_chat_limit",
                    format!("max_chat_limit must be 1 to {} or empty, not \"{s}\"", vocab.max_chat),
                );
            }
        }
        if let Some(s) = scalar(m.get("max_chat_limit_enabled")) {
            if !matches!(s.as_str(), "" | "0" | "1") {
                scheme_error(
                    &mut errors,
                    Some(r),
                    "max_chat_limit_enabled",
                    format!("max_chat_limit_enabled must be 0, 1 or empty, not \"{s}\""),
                );
            }
        }
        for (field, known) in [("roles", &vocab.roles), ("teams", &vocab.teams)] {
            match m.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::Array(list)) => {
                    for entry in list {
                        let name = scalar(entry.get("name")).unwrap_or_default();
                        if name.is_empty() {
                            scheme_error(&mut errors, Some(r), field, format!("{field} entries need a name"));
                            continue;
                        }
                        if Vocabulary::canonical(known, &name).is_none() {
                            let what = if field == "roles" { "role" } else { "team" };
                            scheme_error(&mut errors, Some(r), field, format!("{what} \"{name}\" does not exist"));
                        }
                        let value = scalar(entry.get("value")).unwrap_or_default();
                        if !matches!(value.as_str(), "" | "0" | "1") {
                            scheme_error(
                                &mut errors,
                                Some(r),
                                field,
                                format!("{field} \"{name}\" value must be 0, 1 or empty"),
                            );
                        }
                    }
                }
                Some(_) => scheme_error(&mut errors, Some(r), field, format!("{field} must be a list of {{name, value}}")),
            }
        }
        rows.push(m);
    }
    (rows, errors)
}

// ---------------------------------------------------------------------------------------
// The worker.

async fn run(ctx: JobCtx) -> JobOutcome {
    let phase = ctx
        .job
        .payload
        .get("phase")
        .and_then(Value::as_str)
        .unwrap_or("validate")
        .to_string();
    let res = if phase == "apply" {
        apply(&ctx).await
    } else {
        validate_job(&ctx).await
    };
    match res {
        Ok(o) => o,
        // The file is gone: nothing to validate.
        Err(DomainError::NotFound(_)) if phase != "apply" => JobOutcome::Parked {
            state: "invalid_scheme".into(),
            result: Some(json!({"total_rows": 0, "scheme_errors": [{"message": "File could not be read", "column": null, "row": null}]})),
        },
        // Transient trouble: leave the lease to run out; the job is claimed again and resumes
        // from its last checkpoint. After 5 attempts it fails for good.
        Err(e) if ctx.job.attempts < 5 => {
            tracing::warn!(job = %ctx.job.id, error = %e, attempt = ctx.job.attempts, "bulk user job will be retried");
            JobOutcome::Abandoned
        }
        Err(e) => {
            tracing::warn!(job = %ctx.job.id, error = %e, "bulk user job failed");
            JobOutcome::Failed {
                error: e.to_string(),
                result: None,
                state: Some(if phase == "apply" { "finished" } else { "invalid_scheme" }.into()),
            }
        }
    }
}

async fn read_file(ctx: &JobCtx) -> DomainResult<Vec<u8>> {
    let blob = ctx.job.blob_id.ok_or(DomainError::NotFound("file"))?;
    blobs::read_all(&ctx.state.db, ctx.job.tenant(), blob).await
}

async fn validate_job(ctx: &JobCtx) -> DomainResult<JobOutcome> {
    let t = ctx.job.tenant();
    let file = read_file(ctx).await?;
    let vocab = Vocabulary::load(&ctx.state.db, t).await?;
    let (rows, errors) = validate(&file, &vocab);
    let state = if errors.is_empty() && !rows.is_empty() {
        "valid_scheme"
    } else {
        "invalid_scheme"
    };
    let mut errors = errors;
    if rows.is_empty() && errors.is_empty() {
        scheme_error(&mut errors, None, "", "File has no users".into());
    }
    // The file may have been replaced (PUT upload) while we validated: then this run is stale.
    let current: Option<Option<uuid::Uuid>> =
        sqlx::query_scalar("SELECT blob_id FROM jobs WHERE id = $1 AND tenant_id = $2 AND locked_by = $3")
            .bind(ctx.job.id)
            .bind(t.0)
            .bind(&*ctx.worker)
            .fetch_optional(&ctx.state.db)
            .await?;
    if current != Some(ctx.job.blob_id) {
        return Ok(JobOutcome::Abandoned);
    }
    Ok(JobOutcome::Parked {
        state: state.into(),
        result: Some(json!({"total_rows": rows.len(), "scheme_errors": errors})),
    })
}

fn list_names(attrs: &Value, key: &str) -> Vec<String> {
    attrs
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Merges one row's optional fields into an agent's attrs.
fn merge_attrs(mut attrs: Value, row: &Map<String, Value>, vocab: &Vocabulary) -> Value {
    if !attrs.is_object() {
        attrs = json!({});
    }
    if let Some(s) = scalar(row.get("status")).filter(|s| !s.is_empty()) {
        attrs["user_status"] = json!(s);
    }
    match scalar(row.get("location")) {
        Some(l) if l.eq_ignore_ascii_case("null") => attrs["location"] = Value::Null,
        Some(l) if !l.is_empty() => {
            attrs["location"] = json!(Vocabulary::canonical(&vocab.locations, &l).cloned().unwrap_or(l));
        }
        _ => {
            if row.get("location").is_some_and(Value::is_null) {
                attrs["location"] = Value::Null;
            }
        }
    }
    if let Some(s) = scalar(row.get("max_chat_limit")).filter(|s| !s.is_empty()) {
        if let Ok(n) = s.parse::<i64>() {
            attrs["max_chat_limit"] = json!(n);
        }
    }
    if let Some(s) = scalar(row.get("max_chat_limit_enabled")).filter(|s| !s.is_empty()) {
        attrs["max_chat_limit_enabled"] = json!(s == "1");
    }
    for (field, known) in [("roles", &vocab.roles), ("teams", &vocab.teams)] {
        let Some(Value::Array(list)) = row.get(field) else { continue };
        let mut names = list_names(&attrs, field);
        for entry in list {
            let name = scalar(entry.get("name")).unwrap_or_default();
            let Some(canon) = Vocabulary::canonical(known, &name) else {
                continue;
            };
            match scalar(entry.get("value")).as_deref() {
                Some("1") if !names.iter().any(|n| n == canon) => names.push(canon.clone()),
                Some("0") => names.retain(|n| n != canon),
                _ => {}
            }
        }
        attrs[field] = json!(names);
    }
    attrs
}

fn update_error(out: &mut Vec<Value>, row: usize, col: &str, message: String, kind: &str) {
    out.push(json!({"message": message, "column": if col.is_empty() { Value::Null } else { column(col) }, "row": row, "error_type": kind}));
}

/// Creates or updates one user; Ok(false) = the row failed (an error was recorded).
async fn apply_row(
    tx: &mut PgConnection,
    t: TenantId,
    r: usize,
    row: &Map<String, Value>,
    vocab: &Vocabulary,
    errors: &mut Vec<Value>,
) -> DomainResult<bool> {
    let email = scalar(row.get("email")).unwrap_or_default();
    let new_email = scalar(row.get("new_email")).filter(|s| !s.is_empty());
    let first = scalar(row.get("first_name")).unwrap_or_default();
    let last = scalar(row.get("last_name")).unwrap_or_default();
    let agent_number = scalar(row.get("agent_number")).filter(|s| !s.is_empty());
    match directory::agent_by_email(&mut *tx, t, &email).await? {
        Some(agent) => {
            let mut target = agent.email.clone();
            if let Some(ne) = new_email.filter(|ne| !ne.eq_ignore_ascii_case(&agent.email)) {
                if directory::agent_by_email(&mut *tx, t, &ne).await?.is_some() {
                    update_error(
                        errors,
                        r,
                        "new_email",
                        format!("new_email {ne} already belongs to another user"),
                        "error",
                    );
                    return Ok(false);
                }
                target = ne;
            }
            let attrs = merge_attrs(agent.attrs.clone(), row, vocab);
            sqlx::query(
                "UPDATE agents SET email = $3, first_name = $4, last_name = $5, agent_number = COALESCE($6, agent_number),
                        attrs = $7, updated_at = now()
                  WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t.0)
            .bind(agent.id)
            .bind(&target)
            .bind(&first)
            .bind(&last)
            .bind(&agent_number)
            .bind(attrs)
            .execute(&mut *tx)
            .await?;
        }
        None => {
            if let Some(ne) = new_email.filter(|ne| !ne.eq_ignore_ascii_case(&email)) {
                update_error(
                    errors,
                    r,
                    "new_email",
                    format!("no user with email {email}: created with that email, new_email {ne} ignored"),
                    "warning",
                );
            }
            let attrs = merge_attrs(json!({}), row, vocab);
            directory::create_agent(
                &mut *tx,
                t,
                NewAgent {
                    email,
                    first_name: first,
                    last_name: last,
                    agent_number,
                    extension: None,
                    status: "available".into(),
                    can_call: true,
                    attrs: Some(attrs),
                },
            )
            .await?;
        }
    }
    Ok(true)
}

async fn apply(ctx: &JobCtx) -> DomainResult<JobOutcome> {
    let t = ctx.job.tenant();
    let db = &ctx.state.db;
    let id = ctx.job.id;
    let w: &str = &ctx.worker;
    let moved = sqlx::query("UPDATE jobs SET state = 'in_progress' WHERE id = $1 AND tenant_id = $2 AND locked_by = $3")
        .bind(id)
        .bind(t.0)
        .bind(w)
        .execute(db)
        .await?
        .rows_affected();
    if moved == 0 {
        return Ok(JobOutcome::Abandoned);
    }
    let file = read_file(ctx).await?;
    let vocab = Vocabulary::load(db, t).await?;
    let (rows, scheme) = validate(&file, &vocab);
    let p = &ctx.job.progress;
    let mut next = p.get("next").and_then(Value::as_u64).unwrap_or(0) as usize;
    let mut affected = p.get("affected").and_then(Value::as_i64).unwrap_or(0);
    let mut failed = p.get("failed").and_then(Value::as_i64).unwrap_or(0);
    let mut errors: Vec<Value> = p.get("update_errors").and_then(Value::as_array).cloned().unwrap_or_default();
    if !scheme.is_empty() && next == 0 {
        // Roles, teams or locations changed since validation: report, apply the valid rows.
        for e in &scheme {
            let r = e.get("row").and_then(Value::as_u64).unwrap_or(0) as usize;
            let msg = e.get("message").and_then(Value::as_str).unwrap_or("invalid row").to_string();
            update_error(&mut errors, r, "", msg, "error");
        }
    }
    let bad_rows: HashSet<usize> = scheme
        .iter()
        .filter_map(|e| e.get("row").and_then(Value::as_u64))
        .map(|r| r as usize)
        .collect();
    while next < rows.len() {
        let end = (next + CHUNK_ROWS).min(rows.len());
        let mut tx = db.begin().await?;
        if !djobs::lock_owned(&mut tx, id, w).await? {
            return Ok(JobOutcome::Abandoned);
        }
        let mut chunk_errors = errors.clone();
        let (mut a, mut f) = (affected, failed);
        for (i, row) in rows.iter().enumerate().take(end).skip(next) {
            let r = i + 1;
            if bad_rows.contains(&r) {
                f += 1;
                continue;
            }
            if apply_row(&mut tx, t, r, row, &vocab, &mut chunk_errors).await? {
                a += 1;
            } else {
                f += 1;
            }
        }
        let progress = json!({"next": end, "affected": a, "failed": f, "update_errors": chunk_errors});
        if !djobs::checkpoint(&mut tx, id, w, &progress).await? {
            return Ok(JobOutcome::Abandoned);
        }
        tx.commit().await?;
        next = end;
        affected = a;
        failed = f;
        errors = chunk_errors;
    }
    Ok(JobOutcome::Parked {
        state: "finished".into(),
        result: Some(json!({"total_rows": rows.len(), "scheme_errors": []})),
    })
}

// ---------------------------------------------------------------------------------------
// HTTP.

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

async fn job_by_seq(st: &AppState, t: TenantId, raw: &str) -> Result<Job, AppsError> {
    let seq = raw.trim().parse::<i64>().map_err(|_| AppsError::not_found())?;
    let job = djobs::get_by_seq(&st.db, t, seq).await.map_err(|_| AppsError::not_found())?;
    if job.kind != JOB_KIND {
        return Err(AppsError::not_found());
    }
    Ok(job)
}

/// `GET /apps/api/v1/bulk/users/template`.
pub async fn template(State(st): State<AppState>, auth: AppsAuth) -> Result<Json<Value>, AppsError> {
    let vocab = Vocabulary::load(&st.db, auth.tenant.id).await?;
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
        let _ = sqlx::query("DELETE FROM blobs WHERE tenant_id = $1 AND id = $2")
            .bind(t.0)
            .bind(b.id)
            .execute(&st.db)
            .await;
    }
}

/// `POST /apps/api/v1/bulk/users/upload` (multipart `file`).
pub async fn upload(State(st): State<AppState>, auth: AppsAuth, headers: HeaderMap, req: Request) -> Result<Json<Value>, AppsError> {
    let t = auth.tenant.id;
    let up = read_upload(&st, t, req).await?;
    let blob = up.file.ok_or_else(|| AppsError::bad_request("file is required"))?;
    let total_rows = count_rows(&st, t, &blob).await?;
    let now = st.now(&auth.tenant);
    let job = djobs::enqueue(
        &st.db,
        t,
        NewJob {
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
        },
        now,
    )
    .await?;
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
        let shown = if applying && status != "finished" {
            "in_progress".to_string()
        } else {
            status
        };
        return Err(AppsError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("Can't update JSON. job status: {shown}"),
        ));
    }
    let Some(blob) = up.file else {
        return Err(AppsError::bad_request("file is required"));
    };
    let total_rows = count_rows(&st, t, &blob).await? as i64;
    let n = sqlx::query(
        "UPDATE jobs SET blob_id = $3, status = 'queued', attempts = 0, state = 'created', result = NULL, progress = '{}'::jsonb, error = NULL,
                payload = payload || jsonb_build_object('phase', 'validate', 'filename', $4::text, 'total_rows', $5::bigint),
                locked_by = NULL, locked_until = NULL, run_at = now(), updated_at = now()
          WHERE tenant_id = $1 AND id = $2 AND (payload->>'phase' IS DISTINCT FROM 'apply')",
    )
    .bind(t.0)
    .bind(job.id)
    .bind(blob.id)
    .bind(&blob.filename)
    .bind(total_rows)
    .execute(&st.db)
    .await
    .map_err(DomainError::from)?
    .rows_affected();
    if n == 0 {
        drop_blob(&st, t, Some(blob)).await;
        return Err(AppsError::new(
            axum::http::StatusCode::NOT_FOUND,
            "Can't update JSON. job status: in_progress",
        ));
    }
    if let Some(old) = job.blob_id {
        let _ = sqlx::query("DELETE FROM blobs WHERE tenant_id = $1 AND id = $2")
            .bind(t.0)
            .bind(old)
            .execute(&st.db)
            .await;
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
    let n = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = 0, progress = '{}'::jsonb, run_at = now(), updated_at = now(),
                payload = payload || jsonb_build_object('phase', 'apply', 'process_requested_at', $3::text, 'proceed_api_user_name', $4::text)
          WHERE tenant_id = $1 AND id = $2 AND status = 'completed' AND state = 'valid_scheme'
            AND (payload->>'phase' IS DISTINCT FROM 'apply')",
    )
    .bind(t.0)
    .bind(job.id)
    .bind(ts(now))
    .bind(&auth.tenant.slug)
    .execute(&st.db)
    .await
    .map_err(DomainError::from)?
    .rows_affected();
    if n == 0 {
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
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE tenant_id = $1 AND kind = $2")
        .bind(t.0)
        .bind(JOB_KIND)
        .fetch_one(&st.db)
        .await
        .map_err(DomainError::from)?;
    let sql = format!(
        "SELECT {} FROM jobs WHERE tenant_id = $1 AND kind = $2 ORDER BY seq DESC LIMIT $3 OFFSET $4",
        djobs::COLS
    );
    let rows: Vec<Job> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(t.0)
        .bind(JOB_KIND)
        .bind(page.per_page)
        .bind(page.offset())
        .fetch_all(&st.db)
        .await
        .map_err(DomainError::from)?;
    let body: Vec<Value> = rows.iter().map(render_job).collect();
    Ok((
        paging::headers_absolute(&super::wire::base_url(&headers), &uri, page, total),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary {
            roles: BUILTIN_ROLES.iter().map(|s| s.to_string()).collect(),
            teams: vec!["Blue".into()],
            locations: vec!["Mexico".into()],
            max_chat: 5,
        }
    }

    #[test]
    fn validates_rows() {
        let file = serde_json::to_vec(&json!([
            {"email": "a@x.com", "first_name": "A", "last_name": "B", "location": "mexico", "roles": [{"name": "agent", "value": 1}]},
            {"email": "a@x.com", "first_name": "", "last_name": "B", "status": "Gone", "max_chat_limit": "9",
             "max_chat_limit_enabled": "2", "teams": [{"name": "Red", "value": 1}], "location": "Mars"},
        ]))
        .unwrap();
        let (rows, errs) = validate(&file, &vocab());
        assert_eq!(rows.len(), 2);
        let msgs: Vec<String> = errs.iter().map(|e| e["message"].as_str().unwrap().to_string()).collect();
        assert!(errs.iter().all(|e| e["row"] == 2), "{msgs:?}");
        assert_eq!(errs.len(), 7, "{msgs:?}");
        let (_, errs) = validate(b"{}", &vocab());
        assert_eq!(errs.len(), 1);
    }
}
