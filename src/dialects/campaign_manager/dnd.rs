//! DND: the tenant's Opt-Out list and named Opt-In lists, stored in the shared suppression
//! lists (`opt_out`, `opt_in` + list name), so an opt-out made here blocks every dialect.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::campaigns::{drain, list_value, read_lines, read_text};
use super::wire::{clean, end_time_param, fmt_time, nested_page, ok, sort_param, time_param, Body, Cm, CmError, CmResult, Paging, Query};
use crate::domain::optlists::{self, list, Entry};
use crate::domain::phone::PhoneNumber;
use crate::domain::{parse_sid, sid, DomainError};
use crate::state::AppState;

/// The name of the one Opt-Out list.
pub const OPT_OUT_NAME: &str = "Opt-Out";
/// Default name of an Opt-In list.
pub const OPT_IN_DEFAULT: &str = "opt-in";

/// Which list an endpoint works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    OptOut,
    OptIn,
}

impl Which {
    fn list(self) -> &'static str {
        match self {
            Which::OptOut => list::OPT_OUT,
            Which::OptIn => list::OPT_IN,
        }
    }
    fn path(self) -> &'static str {
        match self {
            Which::OptOut => "/campaignmanager/dnd/optout/search",
            Which::OptIn => "/campaignmanager/dnd/optin/search",
        }
    }
    fn not_found(self, s: &str) -> CmError {
        let msg = match self {
            Which::OptOut => "OptOut Sid not found",
            Which::OptIn => "OptIn Sid not found",
        };
        CmError::vendor_ec(491, msg, json!(s))
    }
}

fn render(e: &Entry, cm: &Cm) -> Value {
    let name = if e.list == list::OPT_OUT {
        OPT_OUT_NAME.to_string()
    } else {
        e.list_name.clone()
    };
    let number = if e.original.trim().is_empty() {
        e.number.clone()
    } else {
        e.original.trim().to_string()
    };
    json!({
        "sid": sid("OT", e.id),
        "name": name,
        "number": number,
        "dateCreated": fmt_time(e.created_at),
        "enterpriseSid": cm.enterprise_sid,
    })
}

/// The number lines (`file`, or `numbers`/`number` in JSON) and the list `name` of an upload.
async fn read_upload(body: Body, limit: usize) -> CmResult<(Option<Vec<String>>, Option<String>)> {
    let mut lines: Option<Vec<String>> = None;
    let mut name: Option<String> = None;
    match body {
        Body::Json(v) => {
            for k in ["file", "numbers", "number"] {
                if let Some(l) = v.get(k).and_then(list_value) {
                    lines.get_or_insert_with(Vec::new).extend(l);
                }
            }
            name = v.get("name").and_then(Value::as_str).map(clean).filter(|s| !s.is_empty());
        }
        Body::Multipart(mut m) => {
            let mut budget = 0usize;
            while let Some(field) = m
                .next_field()
                .await
                .map_err(|e| CmError::bad_request(format!("invalid multipart body: {}", e.body_text())).ec())?
            {
                match field.name().unwrap_or("") {
                    "file" => {
                        let l = read_lines(field, &mut budget, limit).await.map_err(CmError::ec)?;
                        lines.get_or_insert_with(Vec::new).extend(l);
                    }
                    "name" => {
                        name = Some(read_text(field, &mut budget, limit).await.map_err(CmError::ec)?).filter(|s| !s.is_empty());
                    }
                    _ => drain(field, &mut budget, limit).await.map_err(CmError::ec)?,
                }
            }
        }
    }
    Ok((lines, name))
}

async fn upload(st: AppState, cm: Cm, body: Result<Body, CmError>, which: Which) -> CmResult<Response> {
    let (lines, name) = read_upload(body.map_err(CmError::ec)?, st.config.upload_limit).await?;
    let lines = lines.ok_or_else(|| CmError::missing("file").ec())?;
    let mut numbers: Vec<PhoneNumber> = Vec::new();
    let mut invalid = Vec::new();
    for l in &lines {
        match PhoneNumber::parse(l) {
            Ok(p) => numbers.push(p),
            Err(_) => invalid.push(l.clone()),
        }
    }
    if numbers.is_empty() || !invalid.is_empty() {
        return Err(CmError::vendor_ec(
            490,
            "Dnd File numbers is not valid",
            json!({"invalidNumbers": invalid}),
        ));
    }
    let list_name = match which {
        Which::OptOut => String::new(),
        Which::OptIn => name.clone().unwrap_or_else(|| OPT_IN_DEFAULT.to_string()),
    };
    let now = st.now(&cm.tenant);
    let count = optlists::upsert_many(&st.db, cm.tenant.id, which.list(), &list_name, &numbers, "campaign_manager", now).await?;
    tracing::info!(tenant = %cm.tenant.id, list = which.list(), count, "campaign manager DND list updated");
    let shown = match which {
        Which::OptOut => OPT_OUT_NAME.to_string(),
        Which::OptIn => list_name,
    };
    Ok(ok(json!({"name": shown, "enterpriseSid": cm.enterprise_sid})))
}

async fn find(st: &AppState, cm: &Cm, which: Which, s: &str) -> CmResult<Entry> {
    let id = parse_sid("OT", s.trim()).ok_or_else(|| which.not_found(s))?;
    optlists::get(&st.db, cm.tenant.id, which.list(), id).await.map_err(|e| match e {
        DomainError::NotFound(_) => which.not_found(s),
        other => other.into(),
    })
}

async fn remove(st: AppState, cm: Cm, s: String, which: Which) -> CmResult<Response> {
    let e = find(&st, &cm, which, &s).await?;
    match optlists::remove(&st.db, cm.tenant.id, which.list(), e.id).await {
        Ok(()) => Ok(ok(render(&e, &cm))),
        Err(DomainError::NotFound(_)) => Err(which.not_found(&s)),
        Err(other) => Err(other.into()),
    }
}

async fn get_one(st: AppState, cm: Cm, s: String, which: Which) -> CmResult<Response> {
    let e = find(&st, &cm, which, &s).await?;
    Ok(ok(render(&e, &cm)))
}

async fn search(st: AppState, cm: Cm, q: Query, which: Which) -> CmResult<Response> {
    let paging = Paging::from_query(&q).map_err(CmError::ec)?;
    let from = time_param(&q, "startTime").map_err(CmError::ec)?;
    let to = end_time_param(&q).map_err(CmError::ec)?;
    let sort = sort_param(&q, &["dateCreated"]).map_err(CmError::ec)?;
    let digits = q
        .text("phoneNumber")
        .map(|p| p.chars().filter(|c| c.is_ascii_digit()).collect::<String>())
        .filter(|d| !d.is_empty());
    let filter = optlists::EntryFilter {
        list: which.list().to_string(),
        list_name: if which == Which::OptIn { q.text("name") } else { None },
        digits,
        from,
        to,
        newest_first: matches!(sort, Some((_, true))),
        offset: paging.offset(),
        limit: paging.size,
    };
    let (total, rows) = optlists::search(&st.db, cm.tenant.id, &filter).await?;
    let result = rows.iter().map(|e| render(e, &cm)).collect();
    Ok(nested_page(which.path(), &q, paging, total, result))
}

pub async fn optout_upload(State(st): State<AppState>, cm: Cm, body: Result<Body, CmError>) -> CmResult<Response> {
    upload(st, cm, body, Which::OptOut).await
}
pub async fn optin_upload(State(st): State<AppState>, cm: Cm, body: Result<Body, CmError>) -> CmResult<Response> {
    upload(st, cm, body, Which::OptIn).await
}
pub async fn optout_delete(State(st): State<AppState>, cm: Cm, Path(s): Path<String>) -> CmResult<Response> {
    remove(st, cm, s, Which::OptOut).await
}
pub async fn optin_delete(State(st): State<AppState>, cm: Cm, Path(s): Path<String>) -> CmResult<Response> {
    remove(st, cm, s, Which::OptIn).await
}
pub async fn optout_get(State(st): State<AppState>, cm: Cm, Path(s): Path<String>) -> CmResult<Response> {
    get_one(st, cm, s, Which::OptOut).await
}
pub async fn optin_get(State(st): State<AppState>, cm: Cm, Path(s): Path<String>) -> CmResult<Response> {
    get_one(st, cm, s, Which::OptIn).await
}
pub async fn optout_search(State(st): State<AppState>, cm: Cm, q: Query) -> CmResult<Response> {
    search(st, cm, q, Which::OptOut).await
}
pub async fn optin_search(State(st): State<AppState>, cm: Cm, q: Query) -> CmResult<Response> {
    search(st, cm, q, Which::OptIn).await
}
