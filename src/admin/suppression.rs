//! `/admin/v1/tenants/{slug}/opt-outs` and `/admin/v1/tenants/{slug}/dnc`: the tenant's
//! suppression list (the same rows every dialect reads and writes, see
//! [`crate::domain::optlists`]).
//!
//! Adding a number that is already on the list updates its expiry (and, for opt-outs, its
//! channels) and answers 200 with the entry; a new entry answers 201.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load_tenant, path_id, AdminAuth, AdminError, AdminJson};
use crate::domain::optlists::{self, list, Entry, NewEntry};
use crate::domain::phone::PhoneNumber;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants/{slug}/opt-outs", get(list_opt_outs).post(add_opt_out))
        .route("/admin/v1/tenants/{slug}/opt-outs/{id}", get(get_opt_out).delete(remove_opt_out))
        .route("/admin/v1/tenants/{slug}/dnc", get(list_dnc).post(add_dnc))
        .route("/admin/v1/tenants/{slug}/dnc/{id}", get(get_dnc).delete(remove_dnc))
}

/// The two lists of this API.
#[derive(Clone, Copy)]
enum Kind {
    OptOut,
    Dnc,
}

impl Kind {
    fn list(self) -> &'static str {
        match self {
            Kind::OptOut => list::OPT_OUT,
            Kind::Dnc => list::DNC,
        }
    }
    fn what(self) -> &'static str {
        match self {
            Kind::OptOut => "opt-out",
            Kind::Dnc => "dnc entry",
        }
    }
}

/// An entry as the admin API shows it; `expired` is computed on the tenant's clock.
fn render(kind: Kind, e: &Entry, now: DateTime<Utc>) -> Value {
    let mut v = json!({
        "id": e.id,
        "number": e.number,
        "original": e.original,
        "source": e.source,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "expires_at": e.expires_at,
        "expired": e.expires_at.is_some_and(|x| x <= now),
    });
    if let Kind::OptOut = kind {
        v["channels"] = json!(e.channels);
    }
    v
}

/// `POST` body of both lists (`channels` only for opt-outs).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewListEntry {
    number: String,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    expires_at: Option<String>,
}

fn parse_number(raw: &str) -> Result<PhoneNumber, AdminError> {
    PhoneNumber::parse(raw).map_err(|e| AdminError::BadRequest(format!("number: {e} (give an E.164 number such as +14155550100)")))
}

async fn add(st: AppState, kind: Kind, slug: String, req: NewListEntry) -> Result<(StatusCode, Json<Value>), AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let number = parse_number(&req.number)?;
    let expires_at = match req.expires_at.as_deref().map(str::trim) {
        None => None,
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| AdminError::BadRequest("expires_at: must be an RFC 3339 date-time, e.g. 2030-01-01T00:00:00Z".into()))?
                .with_timezone(&Utc),
        ),
    };
    let channels = match (kind, req.channels) {
        (Kind::Dnc, Some(_)) => {
            return Err(AdminError::Unprocessable(
                "channels: a DNC entry blocks every channel; use /opt-outs for channel opt-outs".into(),
            ))
        }
        (_, Some(c)) if c.is_empty() => {
            return Err(AdminError::Unprocessable(
                "channels: must name at least one of sms, voice, email (or be left out for all)".into(),
            ))
        }
        (_, Some(mut c)) => {
            c.sort();
            c.dedup();
            c
        }
        (_, None) => Vec::new(),
    };
    let now = st.now(&t);
    let (entry, created) = optlists::upsert(
        &st.db,
        t.id,
        NewEntry {
            list: kind.list(),
            list_name: "",
            number: &number,
            channels,
            source: "admin",
            expires_at,
        },
        now,
    )
    .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(render(kind, &entry, now))))
}

async fn list_entries(
    st: AppState,
    kind: Kind,
    slug: String,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let Query(q) = q.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let now = st.now(&t);
    // One number: an indexed lookup rather than the whole list.
    if let Some(n) = q.get("number") {
        let e164 = parse_number(n)?.e164;
        let found = optlists::find(&st.db, t.id, kind.list(), &e164).await?;
        return Ok(Json(Value::Array(found.iter().map(|e| render(kind, e, now)).collect())));
    }
    let all = optlists::list_entries(&st.db, t.id, kind.list()).await?;
    Ok(Json(Value::Array(all.iter().map(|e| render(kind, e, now)).collect())))
}

async fn get_entry(st: AppState, kind: Kind, slug: String, id: String) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let id = path_id(&id, kind.what())?;
    let now = st.now(&t);
    let all = optlists::list_entries(&st.db, t.id, kind.list()).await?;
    let e = all
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| AdminError::NotFound(format!("{} not found", kind.what())))?;
    Ok(Json(render(kind, e, now)))
}

async fn remove_entry(st: AppState, kind: Kind, slug: String, id: String) -> Result<StatusCode, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let id = path_id(&id, kind.what())?;
    optlists::remove(&st.db, t.id, kind.list(), id).await.map_err(|e| match e {
        crate::domain::DomainError::NotFound(_) => AdminError::NotFound(format!("{} not found", kind.what())),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

type Created = Result<(StatusCode, Json<Value>), AdminError>;
type Listed = Result<Json<Value>, AdminError>;
type Q = Result<Query<HashMap<String, String>>, QueryRejection>;

async fn add_opt_out(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, AdminJson(b): AdminJson<NewListEntry>) -> Created {
    add(st, Kind::OptOut, slug, b).await
}
async fn list_opt_outs(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, q: Q) -> Listed {
    list_entries(st, Kind::OptOut, slug, q).await
}
async fn get_opt_out(State(st): State<AppState>, _: AdminAuth, Path((slug, id)): Path<(String, String)>) -> Listed {
    get_entry(st, Kind::OptOut, slug, id).await
}
async fn remove_opt_out(
    State(st): State<AppState>,
    _: AdminAuth,
    Path((slug, id)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    remove_entry(st, Kind::OptOut, slug, id).await
}
async fn add_dnc(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, AdminJson(b): AdminJson<NewListEntry>) -> Created {
    add(st, Kind::Dnc, slug, b).await
}
async fn list_dnc(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, q: Q) -> Listed {
    list_entries(st, Kind::Dnc, slug, q).await
}
async fn get_dnc(State(st): State<AppState>, _: AdminAuth, Path((slug, id)): Path<(String, String)>) -> Listed {
    get_entry(st, Kind::Dnc, slug, id).await
}
async fn remove_dnc(State(st): State<AppState>, _: AdminAuth, Path((slug, id)): Path<(String, String)>) -> Result<StatusCode, AdminError> {
    remove_entry(st, Kind::Dnc, slug, id).await
}
