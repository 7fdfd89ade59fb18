//! `/admin/v1/tenants/{slug}/requests`: the tenant's request journal (see
//! `controls::journal` for what is recorded and how it is redacted).
//!
//! - `GET …/requests?dialect=&method=&path=&status=&since=&until=&body_contains=&limit=&cursor=`:
//!   summaries, newest first (a bare array); `limit` 1–1000 (default 100). When the page is
//!   full, the `X-Next-Cursor` header carries the cursor of the next (older) page.
//!   `path` is a glob (`*`, `?`) on the path or the ONC operation; `status` a code or a
//!   class (`4xx`); `since`/`until` RFC 3339 instants on the tenant's clock, inclusive.
//! - `GET …/requests/{id}`: one record with headers and bodies.
//! - `POST …/requests/count` `{dialect?, method?, path?, status?, body_contains?, since?, until?}`
//!   → `{"count": N}`.
//! - `DELETE …/requests` → `{"deleted": N}`.
//!
//! Every call first waits until this process's pending records are written, so a client
//! reads its own requests.

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load_tenant, page_query, page_response, path_id, AdminAuth, AdminError, AdminJson};
use crate::domain::journal::{self, Filter, StatusMatch};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants/{slug}/requests", get(list).delete(clear))
        .route("/admin/v1/tenants/{slug}/requests/count", post(count))
        .route("/admin/v1/tenants/{slug}/requests/{id}", get(one))
}

/// The matcher of list (as query parameters) and count (as a JSON body).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Matcher {
    dialect: Option<String>,
    method: Option<String>,
    path: Option<String>,
    status: Option<Value>,
    body_contains: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

fn instant(field: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>, AdminError> {
    v.as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| AdminError::BadRequest(format!("{field}: must be an RFC 3339 instant")))
        })
        .transpose()
}

fn status(v: &Option<Value>) -> Result<Option<StatusMatch>, AdminError> {
    let bad = || AdminError::BadRequest("status: must be an HTTP status (e.g. 404) or a class (e.g. 4xx)".into());
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
        Some(_) => return Err(bad()),
    };
    if let Some(c) = text.strip_suffix("xx") {
        return match c.parse::<i32>() {
            Ok(c) if (1..=5).contains(&c) => Ok(Some(StatusMatch::Class(c))),
            _ => Err(bad()),
        };
    }
    match text.parse::<i32>() {
        Ok(s) if (100..=599).contains(&s) => Ok(Some(StatusMatch::Exact(s))),
        _ => Err(bad()),
    }
}

impl Matcher {
    fn filter(&self) -> Result<Filter, AdminError> {
        let some = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        Ok(Filter {
            dialect: some(&self.dialect),
            method: some(&self.method),
            path: some(&self.path),
            status: status(&self.status)?,
            body_contains: self.body_contains.clone().filter(|s| !s.is_empty()),
            since: instant("since", &self.since)?,
            until: instant("until", &self.until)?,
        })
    }
}

/// `GET /admin/v1/tenants/{slug}/requests`: summaries, newest first.
async fn list(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, uri: Uri) -> Result<Response, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let Query(m) = Query::<Matcher>::try_from_uri(&uri).map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let filter = m.filter()?;
    let (limit, before) = page_query(m.limit.as_deref(), m.cursor.as_deref())?;
    st.journal.flush().await;
    let rows = journal::list(&st.db, t.id, &filter, limit, before).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.seq)).flatten();
    Ok(page_response(json!(rows), next))
}

/// `GET /admin/v1/tenants/{slug}/requests/{id}`: one record with its bodies.
async fn one(State(st): State<AppState>, _: AdminAuth, Path((slug, id)): Path<(String, String)>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let id = path_id(&id, "request")?;
    st.journal.flush().await;
    Ok(Json(json!(journal::get(&st.db, t.id, id).await?)))
}

/// `POST /admin/v1/tenants/{slug}/requests/count`: `{"count": N}` of the matching records.
async fn count(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(m): AdminJson<Matcher>,
) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    if m.limit.is_some() || m.cursor.is_some() {
        return Err(AdminError::Unprocessable("limit/cursor: not part of a count".into()));
    }
    let filter = m.filter()?;
    st.journal.flush().await;
    Ok(Json(json!({ "count": journal::count(&st.db, t.id, &filter).await? })))
}

/// `DELETE /admin/v1/tenants/{slug}/requests`: clears the tenant's journal.
async fn clear(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    st.journal.flush().await;
    Ok(Json(json!({ "deleted": journal::clear(&st.db, t.id).await? })))
}
