//! `GET /apps/api/v1/wait_times`: per-menu expected wait by channel.
//!
//! A menu is listed when it offers `lang`; its keys are its channels (`voice_call`, `chat`),
//! only the asked `channel_type` when one is given. A channel's value is the live wait of
//! the menu's queue (seconds since its longest-waiting `queued` interaction — calls for
//! `voice_call`, SMS sessions for `chat`) or, with nobody waiting, the menu's configured
//! wait (0 when none). Nothing in switchboard answers queued calls, so only interactions
//! queued within the last [`LIVE_WINDOW_SECS`] count as waiting (older ones are treated as
//! abandoned). `wait[from]` / `wait[to]` keep menus whose every shown wait is
//! greater than `from` / less than `to`.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Map, Value};
use url::form_urlencoded;

use super::auth::AppsAuth;
use super::calls::menu_has_language;
use super::error::AppsError;
use crate::domain::directory::{Menu, Menus};
use crate::state::AppState;

/// How long a queued interaction counts as waiting.
pub const LIVE_WINDOW_SECS: i64 = 3600;

/// The query's parameters, decoded once (no map: a handful of pairs, the last of a name wins
/// as with a map).
struct Params<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Params<'a> {
    fn parse(query: Option<&'a str>) -> Self {
        Params(query.map(|q| form_urlencoded::parse(q.as_bytes()).collect()).unwrap_or_default())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }
}

fn int_param(q: &Params<'_>, key: &str) -> Result<Option<i64>, AppsError> {
    match q.get(key).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AppsError::bad_request(format!("{key} is not well formed"))),
    }
}

/// The query's filters.
struct Filters<'a> {
    lang: String,
    menu_type: Option<&'a str>,
    channel_type: Option<&'a str>,
    from: Option<i64>,
    to: Option<i64>,
}

fn filters<'q>(q: &'q Params<'_>) -> Result<Filters<'q>, AppsError> {
    let lang = q
        .get("lang")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppsError::bad_request("lang is required"))?;
    let menu_type = q.get("menu_type").map(|s| s.trim()).filter(|s| !s.is_empty());
    if let Some(mt) = menu_type {
        if !matches!(mt, "ivr_menu" | "mobile_menu" | "web_menu") {
            return Err(AppsError::bad_request("menu_type is invalid"));
        }
    }
    let channel_type = q.get("channel_type").map(|s| s.trim()).filter(|s| !s.is_empty());
    if let Some(ct) = channel_type {
        if !matches!(ct, "voice_call" | "chat") {
            return Err(AppsError::bad_request("channel_type is invalid"));
        }
    }
    Ok(Filters {
        lang,
        menu_type,
        channel_type,
        from: int_param(q, "wait[from]")?,
        to: int_param(q, "wait[to]")?,
    })
}

/// The menu the query names (`menu_id`, an integer id), if any.
fn root_menu(q: &Params<'_>, menus: &[Menu]) -> Result<Option<uuid::Uuid>, AppsError> {
    let Some(s) = q.get("menu_id").map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let id = s
        .parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| AppsError::bad_request("menu_id is not well formed"))?;
    let menu = menus.iter().find(|m| m.seq == id);
    menu.map(|m| Some(m.id))
        .ok_or_else(|| AppsError::bad_request(format!("menu_id {id} is not found")))
}

/// A menu's row, or None when the filters leave it out.
fn menu_row(m: &Menu, f: &Filters<'_>, waiting: &HashMap<(uuid::Uuid, &str), i64>, tree: &Menus) -> Option<Value> {
    if f.menu_type.is_some_and(|mt| mt != m.menu_type) || !menu_has_language(m, &f.lang) {
        return None;
    }
    let mut row = Map::new();
    row.insert("menu_id".into(), json!(m.seq));
    row.insert("menu_type".into(), json!(m.menu_type));
    let mut shown = Vec::new();
    for (channel, kind) in [("chat", "sms"), ("voice_call", "call")] {
        if !m.channels.iter().any(|c| c == channel) || f.channel_type.is_some_and(|c| c != channel) {
            continue;
        }
        let wait = waiting
            .get(&(m.id, kind))
            .copied()
            .unwrap_or_else(|| i64::from(m.wait_seconds.unwrap_or(0)));
        row.insert(channel.into(), json!(wait));
        shown.push(wait);
    }
    if shown.is_empty() || f.from.is_some_and(|x| shown.iter().any(|w| *w <= x)) || f.to.is_some_and(|x| shown.iter().any(|w| *w >= x)) {
        return None;
    }
    let path: Vec<String> = tree.path(m.id).iter().map(|p| p.name.clone()).collect();
    row.insert("materialized_path".into(), json!(path.join(" / ")));
    Some(Value::Object(row))
}

/// `GET /apps/api/v1/wait_times`. Menus and waiting interactions come from the read cache
/// (`domain::caches`), so a repeated read costs no query.
pub async fn list(State(st): State<AppState>, auth: AppsAuth, RawQuery(query): RawQuery) -> Result<Json<Value>, AppsError> {
    let q = Params::parse(query.as_deref());
    let f = filters(&q)?;
    let t = auth.tenant.id;
    let menus = st.reads.menus(&st.db, t).await?;
    let root = root_menu(&q, &menus.list)?;
    let now = st.now(&auth.tenant);
    let oldest = st
        .reads
        .oldest_waiting(&st.db, t, now - chrono::Duration::seconds(LIVE_WINDOW_SECS))
        .await?;
    let waiting: HashMap<(uuid::Uuid, &str), i64> = oldest
        .iter()
        .map(|(m, k, at)| ((*m, k.as_str()), (now - *at).num_seconds().max(0)))
        .collect();
    let out: Vec<Value> = menus
        .list
        .iter()
        .filter(|m| root.is_none_or(|r| menus.in_subtree(m.id, r)))
        .filter_map(|m| menu_row(m, &f, &waiting, &menus))
        .collect();
    Ok(Json(Value::Array(out)))
}
