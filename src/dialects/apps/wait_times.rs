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

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Map, Value};

use super::auth::AppsAuth;
use super::calls::menu_has_language;
use super::error::AppsError;
use super::wire::MenuTree;
use crate::domain::{directory, interactions};
use crate::state::AppState;

/// How long a queued interaction counts as waiting.
pub const LIVE_WINDOW_SECS: i64 = 3600;

fn int_param(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, AppsError> {
    match q.get(key).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AppsError::bad_request(format!("{key} is not well formed"))),
    }
}

/// `GET /apps/api/v1/wait_times`.
pub async fn list(State(st): State<AppState>, auth: AppsAuth, Query(q): Query<HashMap<String, String>>) -> Result<Json<Value>, AppsError> {
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
    let from = int_param(&q, "wait[from]")?;
    let to = int_param(&q, "wait[to]")?;
    let t = auth.tenant.id;
    let menus = directory::list_menus(&st.db, t).await?;
    let tree = MenuTree::new(menus.clone());
    let root = match q.get("menu_id").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let id = s
                .parse::<i64>()
                .ok()
                .filter(|i| *i > 0)
                .ok_or_else(|| AppsError::bad_request("menu_id is not well formed"))?;
            Some(
                menus
                    .iter()
                    .find(|m| m.seq == id)
                    .map(|m| m.id)
                    .ok_or_else(|| AppsError::bad_request(format!("menu_id {id} is not found")))?,
            )
        }
    };
    let now = st.now(&auth.tenant);
    let waiting: HashMap<(uuid::Uuid, String), i64> =
        interactions::oldest_waiting(&st.db, t, now - chrono::Duration::seconds(LIVE_WINDOW_SECS))
            .await?
            .into_iter()
            .map(|(m, k, at)| ((m, k), (now - at).num_seconds().max(0)))
            .collect();
    let mut out = Vec::new();
    for m in &menus {
        if root.is_some_and(|r| !tree.in_subtree(m.id, r)) {
            continue;
        }
        if menu_type.is_some_and(|mt| mt != m.menu_type) || !menu_has_language(m, &lang) {
            continue;
        }
        let mut row = Map::new();
        row.insert("menu_id".into(), json!(m.seq));
        row.insert("menu_type".into(), json!(m.menu_type));
        let mut shown = Vec::new();
        for (channel, kind) in [("chat", "sms"), ("voice_call", "call")] {
            if !m.channels.iter().any(|c| c == channel) || channel_type.is_some_and(|c| c != channel) {
                continue;
            }
            let wait = waiting
                .get(&(m.id, kind.to_string()))
                .copied()
                .unwrap_or_else(|| i64::from(m.wait_seconds.unwrap_or(0)));
            row.insert(channel.into(), json!(wait));
            shown.push(wait);
        }
        if shown.is_empty() {
            continue;
        }
        if from.is_some_and(|f| shown.iter().any(|w| *w <= f)) || to.is_some_and(|t| shown.iter().any(|w| *w >= t)) {
            continue;
        }
        let path: Vec<String> = tree.path(m.id).iter().map(|p| p.name.clone()).collect();
        row.insert("materialized_path".into(), json!(path.join(" / ")));
        out.push(Value::Object(row));
    }
    Ok(Json(Value::Array(out)))
}
