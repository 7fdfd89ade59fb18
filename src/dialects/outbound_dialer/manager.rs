//! The read side of the vendor's Manager API for dialer campaigns:
//! `GET /manager/api/v1/outbound_dialer/campaigns` and `…/campaigns/{id}`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::status::{self, CONTACT_STATES};
use super::wire::ts;
use crate::dialects::apps::auth::AppsAuth;
use crate::dialects::apps::error::AppsError;
use crate::dialects::apps::paging::{self, ListParams};
use crate::domain::campaigns::{self, Campaign};
use crate::domain::listing::{ListFilter, SortColumn};
use crate::domain::TenantId;
use crate::state::AppState;

fn attr(c: &Campaign, k: &str, default: Value) -> Value {
    match c.attrs.get(k) {
        Some(v) if !v.is_null() => v.clone(),
        _ => default,
    }
}

/// A campaign in the Manager API's shape; `counts` are (shared contact status, count).
pub fn render_campaign(c: &Campaign, counts: &[(String, i64)]) -> Value {
    let mut stats = Map::new();
    for (_, v) in CONTACT_STATES {
        stats.entry(v.to_string()).or_insert(json!(0));
    }
    for (s, n) in counts {
        let k = status::contact_state(s).to_string();
        let prev = stats.get(&k).and_then(Value::as_i64).unwrap_or(0);
        stats.insert(k, json!(prev + n));
    }
    json!({
        "id": c.seq,
        "name": c.name,
        "campaign_type": attr(c, "campaign_type", json!(c.kind)),
        "mode": attr(c, "mode", json!("preview")),
        "status": status::campaign_status(&c.status),
        "external_campaign_id": attr(c, "external_campaign_id", Value::Null),
        "max_redial_count": attr(c, "max_redial_count", json!(0)),
        "redial_interval_minutes": attr(c, "redial_interval_minutes", Value::Null),
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
        "starts_at": c.starts_at.map(ts),
        "ends_at": c.ends_at.map(ts),
        "contact_stats": stats,
    })
}

async fn render(st: &AppState, tenant: TenantId, c: &Campaign) -> Result<Value, AppsError> {
    let counts = campaigns::contact_counts(&st.db, tenant, c.id).await?;
    Ok(render_campaign(c, &counts))
}

/// `GET /manager/api/v1/outbound_dialer/campaigns` (all, or a page with `page`/`per_page`
/// or `per`), oldest first unless `sort_column`/`sort_direction` say otherwise, windowed by
/// `created_at[from]`/`[to]`, `updated_at[from]`/`[to]` (see [`ListParams`]).
pub async fn list(
    State(st): State<AppState>,
    auth: AppsAuth,
    OriginalUri(uri): OriginalUri,
    lp: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, AppsError> {
    let lp = super::query_of(lp)?;
    let (pp, filter) = (lp.paging(), lp.filter(ListFilter::new(SortColumn::Id, false))?);
    let tenant = auth.tenant.id;
    let all = campaigns::list_filtered(&st.db, tenant, &filter).await?;
    let (rows, headers) = if pp.given() {
        let page = pp.resolve(25, 100)?;
        let h = paging::headers(&uri, page, all.len() as i64);
        let rows: Vec<Campaign> = all.into_iter().skip(page.offset() as usize).take(page.per_page as usize).collect();
        (rows, h)
    } else {
        (all, HeaderMap::new())
    };
    let mut out = Vec::with_capacity(rows.len());
    for c in &rows {
        out.push(render(&st, tenant, c).await?);
    }
    Ok((headers, Json(out)).into_response())
}

/// `GET /manager/api/v1/outbound_dialer/campaigns/{id}`.
pub async fn show(State(st): State<AppState>, auth: AppsAuth, id: Result<Path<String>, PathRejection>) -> Result<Response, AppsError> {
    let id = super::path_of(id)?;
    let tenant = auth.tenant.id;
    let c = super::campaign_of(&st, tenant, &id).await?;
    Ok(Json(render(&st, tenant, &c).await?).into_response())
}
