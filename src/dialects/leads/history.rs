//! `GET /api/v2/reports/campaigns/leads/history`: campaign activity from the shared events.

use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use sqlx::Row;
use uuid::Uuid;

use super::auth::LeadsAuth;
use super::campaigns::page_size;
use super::error::{LeadsError, LeadsResult};
use super::{lead_status, parse_query};
use crate::domain::hex_id;
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

/// What the portal calls each shared event kind: (event, type).
fn describe(kind: &str) -> (&str, &str) {
    match kind {
        // the doc's example: a campaign dial rings the agent first ("dial agent")
        "dial_attempt" => ("campaign dial", "dial agent"),
        "lead_created" => ("lead added", "lead created"),
        "lead_status_changed" => ("status change", "lead status"),
        "lead_deleted" => ("lead deleted", "lead deleted"),
        "disposition" => ("call disposition", "disposition"),
        other => (other, other),
    }
}

fn secs_f64(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1_000_000.0
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
    let after = match nonempty("startKey") {
        Some(k) => Some(parse_key(k).ok_or_else(|| LeadsError::bad("startKey: not a key this API returned"))?),
        None => None,
    };
    let rows = sqlx::query(
        "SELECT e.seq, e.kind, e.data, e.created_at, e.interaction_id, e.contact_id,
                c.id AS campaign_id, c.name AS campaign_name,
                k.first_name, k.last_name, k.number, k.status AS lead_status,
                a.id AS agent_id, a.first_name AS agent_first, a.last_name AS agent_last, a.email AS agent_email,
                a.extension AS agent_ext, a.status AS agent_status, a.on_call AS agent_on_call, a.attrs AS agent_attrs,
                ag.last_attempt AS agent_last_attempt, ag.last_answered AS agent_last_answered,
                ag.last_hangup AS agent_last_hangup, ag.talk_seconds AS agent_talk_seconds
           FROM events e
           JOIN campaigns c ON c.id = e.campaign_id AND c.tenant_id = e.tenant_id
           LEFT JOIN contacts k ON k.id = e.contact_id AND k.tenant_id = e.tenant_id
           LEFT JOIN interactions i ON i.id = e.interaction_id AND i.tenant_id = e.tenant_id
           LEFT JOIN agents a ON a.id = i.agent_id AND a.tenant_id = e.tenant_id
           -- the agent's calls up to the event, as the portal's agent snapshot shows them
           LEFT JOIN LATERAL (
                SELECT max(x.created_at) AS last_attempt,
                       max(x.created_at) FILTER (WHERE x.status IN ('connected', 'switching', 'finished', 'completed', 'transferred', 'voicemail')) AS last_answered,
                       max(x.ended_at) AS last_hangup,
                       coalesce(sum(extract(epoch FROM x.ended_at - x.created_at))
                           FILTER (WHERE x.ended_at IS NOT NULL AND x.status IN ('connected', 'switching', 'finished', 'completed', 'transferred', 'voicemail')), 0)::float8 AS talk_seconds
                  FROM interactions x
                 WHERE x.tenant_id = e.tenant_id AND x.agent_id = a.id AND x.kind = 'call' AND x.created_at <= e.created_at
           ) ag ON a.id IS NOT NULL
          WHERE e.tenant_id = $1
            AND ($2::timestamptz IS NULL OR e.created_at >= $2)
            AND ($3::timestamptz IS NULL OR e.created_at <= $3)
            AND ($4::timestamptz IS NULL OR (e.created_at, e.seq) < ($4, $5))
          ORDER BY e.created_at DESC, e.seq DESC
          LIMIT $6",
    )
    .bind(auth.tid().0)
    .bind(start)
    .bind(end)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1).unwrap_or(0))
    .bind(size + 1)
    .fetch_all(&st.db)
    .await?;
    let more = rows.len() as i64 > size;
    let mut data = Vec::new();
    let mut last_key = None;
    for r in rows.iter().take(size as usize) {
        let seq: i64 = r.try_get("seq")?;
        let kind: String = r.try_get("kind")?;
        let ev: Value = r.try_get("data")?;
        let at: DateTime<Utc> = r.try_get("created_at")?;
        let interaction: Option<Uuid> = r.try_get("interaction_id")?;
        let campaign_id: Uuid = r.try_get("campaign_id")?;
        let contact_id: Option<Uuid> = r.try_get("contact_id")?;
        let first: Option<String> = r.try_get("first_name")?;
        let last: Option<String> = r.try_get("last_name")?;
        let number: Option<String> = r.try_get("number")?;
        let lead_st: Option<String> = r.try_get("lead_status")?;
        let agent_id: Option<Uuid> = r.try_get("agent_id")?;
        let lead_name = match contact_id {
            Some(_) => format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default())
                .trim()
                .to_string(),
            None => ev.get("lead_name").and_then(Value::as_str).unwrap_or_default().to_string(),
        };
        let lead_number = number.or_else(|| ev.get("lead_number").and_then(Value::as_str).map(str::to_string));
        let lead_id = contact_id
            .map(hex_id)
            .or_else(|| ev.get("lead_id").and_then(Value::as_str).map(str::to_string));
        let (agent_name, agent_ext, agent) = match agent_id {
            Some(aid) => {
                let af: String = r.try_get("agent_first")?;
                let al: String = r.try_get("agent_last")?;
                let email: String = r.try_get("agent_email")?;
                let ext: Option<String> = r.try_get("agent_ext")?;
                let astatus: String = r.try_get("agent_status")?;
                let on_call: bool = r.try_get("agent_on_call")?;
                let aattrs: Value = r.try_get("agent_attrs")?;
                let at_secs = |col: &str| -> Result<f64, sqlx::Error> {
                    Ok(r.try_get::<Option<DateTime<Utc>>, _>(col)?.map(secs_f64).unwrap_or(0.0))
                };
                let talk: Option<f64> = r.try_get("agent_talk_seconds")?;
                let name = format!("{af} {al}").trim().to_string();
                let agent = json!({
                    "delay": aattrs.get("delay").and_then(Value::as_i64).unwrap_or(0),
                    "device_endpoints": [],
                    "email": email,
                    "endpoint": hex_id(aid),
                    "ext": ext.clone().unwrap_or_default(),
                    "first_name": af,
                    "last_answered": at_secs("agent_last_answered")?,
                    "last_attempt": at_secs("agent_last_attempt")?,
                    "last_hangup": at_secs("agent_last_hangup")?,
                    "last_name": al,
                    "status": if on_call { "busy" } else if astatus == "available" { "idle" } else { "paused" },
                    "timeout": aattrs.get("timeout").and_then(Value::as_i64).unwrap_or(15),
                    "total_talk_time": talk.unwrap_or(0.0).max(0.0).round() as i64,
                    "type": "user",
                });
                (name, ext.unwrap_or_default(), Some(agent))
            }
            None => (String::new(), String::new(), None),
        };
        let (event, typ) = describe(&kind);
        let mut entry = json!({
            "event": event,
            "type": typ,
            "ext": agent_ext,
            "last_attempt": secs_f64(at),
            "uuid": interaction.map(hex_id).unwrap_or_else(|| format!("event-{seq}")),
        });
        if let Some(a) = agent {
            entry["agent"] = a;
        }
        if let Some(s) = ev.get("status").and_then(Value::as_str) {
            // dial attempts store the shared status; the others store the Leads one already
            let s = if kind == "dial_attempt" { lead_status(s) } else { s };
            entry["status"] = json!(s);
        }
        if let Some(f) = ev.get("from").and_then(Value::as_str) {
            entry["previous_status"] = json!(f);
        }
        if let Some(d) = ev.get("disposition") {
            entry["disposition"] = d.clone();
        }
        data.push(json!({
            "datetime": at.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
            "timestamp": at.timestamp(),
            "campaign_id": hex_id(campaign_id),
            "campaign_name": r.try_get::<String, _>("campaign_name")?,
            "lead_id": lead_id,
            "lead_name": lead_name,
            "lead_number": lead_number,
            "lead_status": lead_st.map(|s| lead_status(&s)),
            "agent_name": agent_name,
            "agent_extension": agent_ext,
            "lead_history": [entry],
        }));
        last_key = Some(key(at, seq));
    }
    let mut out = json!({"data": data, "page_size": size});
    if more {
        out["next_start_key"] = json!(last_key);
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
}
