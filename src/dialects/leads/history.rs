//! `GET /api/v2/reports/campaigns/leads/history`: campaign activity from the shared events.

use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::auth::LeadsAuth;
use super::campaigns::page_size;
use super::error::{LeadsError, LeadsResult};
use super::{lead_status, parse_query, LEAD_STATUSES};
use crate::domain::campaign_contacts as cc;
use crate::domain::history::{self, AgentSnapshot, HistoryEntry, HistoryQuery};
use crate::domain::{dispositions, hex_id, parse_hex_id};
use crate::state::AppState;

/// Above this a timestamp is read as milliseconds (10^11 s is the year 5138).
const MS_THRESHOLD: f64 = 1e11;

/// Parses a Unix timestamp in seconds or milliseconds (by magnitude), naming the parameter.
pub fn parse_ts(v: &str, name: &str) -> LeadsResult<DateTime<Utc>> {
    let bad = || LeadsError::bad(format!("{name}: must be a Unix timestamp in seconds or milliseconds"));
    let n: f64 = v.trim().parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad());
    }
    let micros = if n > MS_THRESHOLD { n * 1_000.0 } else { n * 1_000_000.0 };
    if micros > 8.0e15 {
        return Err(bad());
    }
    Utc.timestamp_micros(micros as i64).single().ok_or_else(bad)
}

fn key(at: DateTime<Utc>, seq: i64) -> String {
    format!("{:016x}{:016x}", at.timestamp_micros() as u64, seq as u64)
}

fn parse_key(s: &str) -> Option<(DateTime<Utc>, i64)> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let micros = u64::from_str_radix(&s[..16], 16).ok()? as i64;
    let seq = u64::from_str_radix(&s[16..], 16).ok()? as i64;
    Some((Utc.timestamp_micros(micros).single()?, seq))
}

/// The kind of the events the delivery engine writes on each change of a contact's state
/// (data: `status`, `outcome`, `channel`, `attempts`, `max_retries`, `next_attempt_at`).
const ENGINE_STATUS_EVENT: &str = "contact_status";

/// What the portal calls each shared event kind: (event, type). The `lead_*` kinds are
/// the names earlier versions stored.
fn describe(kind: &str) -> (&str, &str) {
    match kind {
        // the doc's example: a campaign dial rings the agent first ("dial agent"); the
        // engine's state changes of a lead (dialing, connected, waiting for a redial,
        // final) are steps of its campaign dials
        "dial_attempt" | ENGINE_STATUS_EVENT => ("campaign dial", "dial agent"),
        cc::event::ADDED | "lead_created" => ("lead added", "lead created"),
        cc::event::STATUS_CHANGED | "lead_status_changed" => ("status change", "lead status"),
        cc::event::DELETED | "lead_deleted" => ("lead deleted", "lead deleted"),
        dispositions::EVENT => ("call disposition", "disposition"),
        other => (other, other),
    }
}

/// A status stored in an event as a Leads status: events store shared statuses (earlier
/// versions stored the Leads name, which is kept).
fn event_status(s: &str) -> &str {
    if LEAD_STATUSES.contains(&s) {
        s
    } else {
        lead_status(s)
    }
}

fn secs_f64(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1_000_000.0
}

/// A string field of an event's data, under its current name or the earlier one.
fn data_str<'a>(data: &'a Value, name: &str, earlier: &str) -> Option<&'a str> {
    data.get(name).or_else(|| data.get(earlier)).and_then(Value::as_str)
}

/// The `agent` object of a history entry.
fn render_agent(a: &AgentSnapshot) -> Value {
    let secs = |t: Option<DateTime<Utc>>| t.map(secs_f64).unwrap_or(0.0);
    json!({
        "delay": a.attrs.get("delay").and_then(Value::as_i64).unwrap_or(0),
        "device_endpoints": [],
        "email": a.email,
        "endpoint": hex_id(a.id),
        "ext": a.extension.clone().unwrap_or_default(),
        "first_name": a.first_name,
        "last_answered": secs(a.last_answered),
        "last_attempt": secs(a.last_attempt),
        "last_hangup": secs(a.last_hangup),
        "last_name": a.last_name,
        "status": if a.on_call { "busy" } else if a.status == "available" { "idle" } else { "paused" },
        "timeout": a.attrs.get("timeout").and_then(Value::as_i64).unwrap_or(15),
        "total_talk_time": a.talk_seconds.max(0.0).round() as i64,
        "type": "user",
    })
}

/// One history record (one event) in the portal's shape.
fn render_entry(e: &HistoryEntry) -> Value {
    let ev = &e.data;
    let lead_name = match (e.contact_id, &e.contact) {
        (Some(_), Some(c)) => format!(
            "{} {}",
            c.first_name.as_deref().unwrap_or_default(),
            c.last_name.as_deref().unwrap_or_default()
        )
        .trim()
        .to_string(),
        (Some(_), None) => String::new(),
        (None, _) => data_str(ev, "name", "lead_name").unwrap_or_default().to_string(),
    };
    let lead_number = e
        .contact
        .as_ref()
        .and_then(|c| c.number.clone())
        .or_else(|| data_str(ev, "number", "lead_number").map(str::to_string));
    let lead_id = e
        .contact_id
        .or_else(|| ev.get("contact_id").and_then(Value::as_str).and_then(parse_hex_id));
    let lead_id = lead_id
        .map(hex_id)
        .or_else(|| ev.get("lead_id").and_then(Value::as_str).map(str::to_string));
    let (agent_name, agent_ext) = match &e.agent {
        Some(a) => (
            format!("{} {}", a.first_name, a.last_name).trim().to_string(),
            a.extension.clone().unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    };
    let (event, typ) = describe(&e.kind);
    let mut entry = json!({
        "event": event,
        "type": typ,
        "ext": agent_ext,
        "last_attempt": secs_f64(e.at),
        "uuid": e.interaction_id.map(hex_id).unwrap_or_else(|| format!("event-{}", e.seq)),
    });
    if let Some(a) = &e.agent {
        entry["agent"] = render_agent(a);
    }
    if let Some(s) = ev.get("status").and_then(Value::as_str) {
        entry["status"] = json!(event_status(s));
    }
    if let Some(f) = ev.get("from").and_then(Value::as_str) {
        entry["previous_status"] = json!(event_status(f));
    }
    // the engine's changes: the dial's result (shared outcome name) and the attempt count
    if let Some(o) = ev.get("outcome").and_then(Value::as_str) {
        entry["outcome"] = json!(o);
    }
    if e.kind == ENGINE_STATUS_EVENT {
        if let Some(n) = ev.get("attempts").and_then(Value::as_i64) {
            entry["attempt"] = json!(n);
        }
    }
    if let Some(d) = ev.get("disposition") {
        entry["disposition"] = d.clone();
    }
    json!({
        "datetime": e.at.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
        "timestamp": e.at.timestamp(),
        "campaign_id": hex_id(e.campaign_id),
        "campaign_name": e.campaign_name,
        "lead_id": lead_id,
        "lead_name": lead_name,
        "lead_number": lead_number,
        "lead_status": e.contact.as_ref().map(|c| lead_status(&c.status)),
        "agent_name": agent_name,
        "agent_extension": agent_ext,
        "lead_history": [entry],
    })
}

/// `GET /api/v2/reports/campaigns/leads/history?startDate=&endDate=&pageSize=&startKey=`.
pub async fn history(State(st): State<AppState>, auth: LeadsAuth, RawQuery(q): RawQuery) -> LeadsResult<Json<Value>> {
    let q = parse_query(q.as_deref());
    let nonempty = |k: &str| q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let start = match nonempty("startDate")
        .map(|v| ("startDate", v))
        .or(nonempty("starDate").map(|v| ("starDate", v)))
    {
        Some((name, v)) => Some(parse_ts(v, name)?),
        None => None,
    };
    let end = nonempty("endDate").map(|v| parse_ts(v, "endDate")).transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(LeadsError::bad("startDate: must not be after endDate"));
        }
    }
    let size = page_size(q.get("pageSize"), "pageSize")?;
    let before = match nonempty("startKey") {
        Some(k) => Some(parse_key(k).ok_or_else(|| LeadsError::bad("startKey: not a key this API returned"))?),
        None => None,
    };
    let query = HistoryQuery {
        since: start,
        until: end,
        before,
        limit: size,
    };
    let page = history::page(&st.db, auth.tid(), query).await?;
    let mut out = json!({"data": page.entries.iter().map(render_entry).collect::<Vec<_>>(), "page_size": size});
    if page.more {
        out["next_start_key"] = json!(page.entries.last().map(|e| key(e.at, e.seq)));
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_by_magnitude() {
        let s = parse_ts("1652977920", "startDate").unwrap();
        let ms = parse_ts("1652978220220", "endDate").unwrap();
        assert_eq!(s.timestamp(), 1652977920);
        assert_eq!(ms.timestamp(), 1652978220);
        assert!(parse_ts("abc", "x").is_err());
        assert!(parse_ts("-1", "x").is_err());
        let k = key(s, 42);
        assert_eq!(parse_key(&k), Some((s, 42)));
        assert_eq!(parse_key("zz"), None);
    }

    #[test]
    fn stored_statuses_and_kinds_of_either_version() {
        // shared names (stored now) and Leads names (stored by earlier versions)
        assert_eq!(event_status("pending"), "new");
        assert_eq!(event_status("completed"), "success");
        assert_eq!(event_status("new"), "new");
        assert_eq!(event_status("success"), "success");
        assert_eq!(event_status("dnc"), "dnc");
        for l in LEAD_STATUSES {
            assert_eq!(event_status(l), *l);
        }
        assert_eq!(describe(cc::event::ADDED), describe("lead_created"));
        assert_eq!(describe(cc::event::STATUS_CHANGED), describe("lead_status_changed"));
        assert_eq!(describe(cc::event::DELETED), describe("lead_deleted"));
        assert_eq!(describe(ENGINE_STATUS_EVENT), ("campaign dial", "dial agent"));
    }
}
