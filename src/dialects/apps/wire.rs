//! Small wire helpers of the Apps dialect: lenient JSON bodies, field access, time format
//! and menu paths.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::error::AppsError;
use crate::domain::directory::Menu;

/// Parses a JSON object body; anything else is a 400 in the vendor's shape.
pub fn json_object(body: &Bytes) -> Result<serde_json::Map<String, Value>, AppsError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(serde_json::Map::new());
    }
    if let Some(field) = crate::http::nul_in_json(body) {
        return Err(AppsError::bad_request(crate::http::nul_message(&field)));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(AppsError::bad_request("Request body must be a JSON object")),
        Err(_) => Err(AppsError::bad_request("Request body is not valid JSON")),
    }
}

/// A field as text: strings (trimmed) and numbers; empty strings and null count as absent.
pub fn text(m: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether a key is present with a non-null, non-empty value.
pub fn present(m: &serde_json::Map<String, Value>, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

/// An integer id given as a JSON number or a string of digits.
pub fn int_id(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().filter(|i| *i > 0),
        Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                s.parse::<i64>().ok().filter(|i| *i > 0)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The vendor's time stamps: `2019-06-07T01:27:30.406Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `ts` of an optional time, or null.
pub fn ts_opt(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| Value::String(ts(t))).unwrap_or(Value::Null)
}

/// A time stamp kept in attrs (RFC 3339) rendered the vendor's way, or null.
pub fn attr_ts(attrs: &Value, key: &str) -> Value {
    attrs
        .get(key)
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| Value::String(ts(t.with_timezone(&Utc))))
        .unwrap_or(Value::Null)
}

/// Parses ISO 8601 / RFC 3339 times, and the DNC list's `2022-10-29 00:00:00 UTC` form.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f %z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let bare = s.strip_suffix(" UTC").or_else(|| s.strip_suffix("Z")).unwrap_or(s);
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(bare, fmt) {
            return Some(t.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(bare, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    None
}

/// The menus of a tenant by uuid, to walk paths.
pub struct MenuTree {
    pub by_id: HashMap<Uuid, Menu>,
}

impl MenuTree {
    pub fn new(menus: Vec<Menu>) -> Self {
        MenuTree {
            by_id: menus.into_iter().map(|m| (m.id, m)).collect(),
        }
    }

    /// The menu and its ancestors, root first.
    pub fn path(&self, id: Uuid) -> Vec<&Menu> {
        let mut out = Vec::new();
        let mut cur = self.by_id.get(&id);
        while let Some(m) = cur {
            if out.len() > 64 {
                break;
            }
            out.push(m);
            cur = m.parent_id.and_then(|p| self.by_id.get(&p));
        }
        out.reverse();
        out
    }

    /// Whether `id` is `root` or below it.
    pub fn in_subtree(&self, id: Uuid, root: Uuid) -> bool {
        self.path(id).iter().any(|m| m.id == root)
    }
}

/// The base URL of this request as the client addressed it (for `link` fields).
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(axum::http::header::HOST))
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| {
            let name = host.split(':').next().unwrap_or("");
            if name == "localhost" || name.ends_with(".localhost") || name.parse::<std::net::IpAddr>().is_ok() {
                "http".into()
            } else {
                "https".into()
            }
        });
    format!("{proto}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert!(parse_time("2022-10-29 00:00:00 UTC").is_some());
        assert!(parse_time("2019-09-15T00:19:14.421Z").is_some());
        assert!(parse_time("2023-08-05 22:02:36.362009 +0000").is_some());
        assert!(parse_time("tomorrow").is_none());
        let t = parse_time("2019-09-15T00:19:14.421Z").unwrap();
        assert_eq!(ts(t), "2019-09-15T00:19:14.421Z");
    }

    #[test]
    fn ids() {
        assert_eq!(int_id(&serde_json::json!(9)), Some(9));
        assert_eq!(int_id(&serde_json::json!("9")), Some(9));
        assert_eq!(int_id(&serde_json::json!("menu_999")), None);
    }
}
