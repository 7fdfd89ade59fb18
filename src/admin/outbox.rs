//! `GET|DELETE /admin/v1/tenants/{slug}/outbox`: every delivery of the tenant, one row
//! per attempt (with its attempt number, outcome, sink and timestamps) plus the
//! deliveries suppressed at send time and those the dialects wrote directly.
//!
//! `GET` answers a bare JSON array, **newest first**, filtered by `channel`, `campaign`
//! (uuid), `to` (a phone number in any form, or an email address), `status`, `since`
//! (RFC 3339, on `created_at`), at most `limit` rows (1–1000, default 100). When the page
//! is full, the `X-Next-Cursor` header carries the `cursor` of the next (older) page.
//! Bad parameters → 422 naming the parameter. `DELETE` empties the outbox and answers
//! `{"deleted": n}`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{load_tenant, AdminAuth, AdminError};
use crate::domain::outbox::{self, OutboxFilter};
use crate::domain::phone::PhoneNumber;
use crate::state::AppState;

/// Rows per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest `limit`.
pub const MAX_LIMIT: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/v1/tenants/{slug}/outbox", get(list).delete(clear))
}

fn filter(q: &HashMap<String, String>) -> Result<OutboxFilter, AdminError> {
    let bad = |k: &str, m: &str| AdminError::Unprocessable(format!("{k}: {m}"));
    let text = |k: &str| q.get(k).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let campaign = match text("campaign") {
        Some(s) => Some(uuid::Uuid::try_parse(&s).map_err(|_| bad("campaign", "must be a campaign id (uuid)"))?),
        None => None,
    };
    let since = match text("since") {
        Some(s) => Some(
            DateTime::parse_from_rfc3339(&s)
                .map_err(|_| bad("since", "must be an RFC 3339 date-time"))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let limit = match text("limit") {
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad("limit", &format!("must be an integer from 1 to {MAX_LIMIT}")))?,
        None => DEFAULT_LIMIT,
    };
    let before_seq = match text("cursor") {
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| bad("cursor", "must be a cursor given by X-Next-Cursor"))?,
        ),
        None => None,
    };
    let to = text("to").map(|s| match s.contains('@') {
        true => s,
        false => PhoneNumber::parse(&s).map(|p| p.e164).unwrap_or(s),
    });
    Ok(OutboxFilter {
        channel: text("channel"),
        campaign,
        to,
        status: text("status"),
        since,
        before_seq,
        limit,
    })
}

/// `GET …/outbox`: a page, newest first.
async fn list(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<(HeaderMap, Json<Value>), AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let f = filter(&q)?;
    let rows = outbox::search(&st.db, t.id, &f).await?;
    let mut headers = HeaderMap::new();
    if rows.len() as i64 == f.limit {
        if let Some(last) = rows.last() {
            if let Ok(v) = HeaderValue::from_str(&last.seq.to_string()) {
                headers.insert("x-next-cursor", v);
            }
        }
    }
    let body = serde_json::to_value(rows).map_err(|_| AdminError::Internal)?;
    Ok((headers, Json(body)))
}

/// `DELETE …/outbox`: empties it.
async fn clear(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let n = outbox::clear(&st.db, t.id).await?;
    Ok(Json(json!({ "deleted": n })))
}
