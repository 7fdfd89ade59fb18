//! A campaign's delivery policy, neutral of every vendor: each dialect writes it into
//! `campaigns.attrs.policy` at creation and update, the engine reads it.
//!
//! `{"retry_interval_secs": int (default 300), "dial_timeout_secs": int (default 30),
//!   "window": {"from": "HH:MM:SS", "to": "HH:MM:SS"} | null, "progress_url": str | null,
//!   "until": RFC 3339 | null}`
//!
//! `until` is the campaign's end on the tenant clock: the engine starts no attempt at or
//! after it (attempts in flight finish). Once none is in flight, a running campaign past
//! its `until` ends like one whose every contact is final (`completed`, or `failed` when
//! attempts were made and none succeeded); the contacts still waiting (`pending`,
//! `retry_wait`) are left as they are, not cancelled.
//!
//! The window is a daily time-of-day range on the tenant clock, in UTC: `from` inclusive,
//! `to` exclusive; `to` before `from` spans midnight; `from == to` is the whole day.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default wait between two attempts of a contact.
pub const DEFAULT_RETRY_INTERVAL_SECS: i64 = 300;
/// Default time an unanswered call rings.
pub const DEFAULT_DIAL_TIMEOUT_SECS: i64 = 30;

/// A daily window on the tenant clock (UTC time of day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl Window {
    /// Whether `at` is inside the window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let t = at.time();
        match self.from.cmp(&self.to) {
            std::cmp::Ordering::Less => t >= self.from && t < self.to,
            std::cmp::Ordering::Greater => t >= self.from || t < self.to,
            std::cmp::Ordering::Equal => true,
        }
    }

    /// `at` when inside the window, else the next instant the window opens.
    pub fn next_open(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if self.contains(at) {
            return at;
        }
        let today = at.date_naive().and_time(self.from).and_utc();
        if today > at {
            today
        } else {
            today + Duration::days(1)
        }
    }
}

/// How a campaign's contacts are attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    #[serde(default = "default_retry")]
    pub retry_interval_secs: i64,
    #[serde(default = "default_dial")]
    pub dial_timeout_secs: i64,
    #[serde(default)]
    pub window: Option<Window>,
    #[serde(default)]
    pub progress_url: Option<String>,
    /// No attempt starts at or after this instant (tenant clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

fn default_retry() -> i64 {
    DEFAULT_RETRY_INTERVAL_SECS
}

fn default_dial() -> i64 {
    DEFAULT_DIAL_TIMEOUT_SECS
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            retry_interval_secs: DEFAULT_RETRY_INTERVAL_SECS,
            dial_timeout_secs: DEFAULT_DIAL_TIMEOUT_SECS,
            window: None,
            progress_url: None,
            until: None,
        }
    }
}

impl Policy {
    /// The policy of a campaign's `attrs` (`attrs.policy`); the defaults for what is absent
    /// or does not fit. Durations are kept at least 1 s (retry) and 1 s (dial timeout).
    pub fn of(attrs: &Value) -> Policy {
        let Some(p) = attrs.get("policy") else {
            return Policy::default();
        };
        let mut out = Policy::default();
        if let Some(n) = p.get("retry_interval_secs").and_then(Value::as_i64) {
            out.retry_interval_secs = n.max(1);
        }
        if let Some(n) = p.get("dial_timeout_secs").and_then(Value::as_i64) {
            out.dial_timeout_secs = n.max(1);
        }
        out.window = p.get("window").and_then(|w| {
            let t = |k: &str| w.get(k).and_then(Value::as_str).and_then(parse_time);
            Some(Window {
                from: t("from")?,
                to: t("to")?,
            })
        });
        out.progress_url = p
            .get("progress_url")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        out.until = p
            .get("until")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|t| t.with_timezone(&Utc));
        out
    }

    /// Whether attempts may no longer start at `at` (its `until` has come).
    pub fn ended(&self, at: DateTime<Utc>) -> bool {
        self.until.is_some_and(|u| at >= u)
    }

    /// `at` when attempts may start then, else the next window opening.
    pub fn next_open(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match &self.window {
            Some(w) => w.next_open(at),
            None => at,
        }
    }
}

/// `HH:MM:SS` or `HH:MM`.
fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
        .map(|t| t.with_nanosecond(0).unwrap_or(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(Policy::of(&json!({})), Policy::default());
        let p = Policy::of(&json!({"policy": {"retry_interval_secs": 60, "dial_timeout_secs": 20,
            "window": {"from": "09:00:00", "to": "17:00"}, "progress_url": "http://x/y"}}));
        assert_eq!(p.retry_interval_secs, 60);
        assert_eq!(p.dial_timeout_secs, 20);
        assert_eq!(p.progress_url.as_deref(), Some("http://x/y"));
        let w = p.window.unwrap_or(Window {
            from: NaiveTime::MIN,
            to: NaiveTime::MIN,
        });
        assert!(w.contains(at("2030-01-01T09:00:00Z")));
        assert!(!w.contains(at("2030-01-01T17:00:00Z")));
        assert_eq!(p.next_open(at("2030-01-01T18:00:00Z")), at("2030-01-02T09:00:00Z"));
        assert_eq!(p.next_open(at("2030-01-01T08:00:00Z")), at("2030-01-01T09:00:00Z"));
        assert_eq!(p.next_open(at("2030-01-01T10:00:00Z")), at("2030-01-01T10:00:00Z"));
        let p = Policy::of(&json!({"policy": {"window": null, "retry_interval_secs": "x"}}));
        assert_eq!(p, Policy::default());
        let p = Policy::of(&json!({"policy": {"until": "2030-01-01T17:00:00Z"}}));
        assert_eq!(p.until, Some(at("2030-01-01T17:00:00Z")));
        assert!(!p.ended(at("2030-01-01T16:59:59Z")));
        assert!(p.ended(at("2030-01-01T17:00:00Z")));
        assert_eq!(
            Policy::of(&serde_json::to_value(json!({"policy": p.clone()})).unwrap_or_default()),
            p
        );
    }

    #[test]
    fn windows_over_midnight() {
        let w = Window {
            from: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or(NaiveTime::MIN),
            to: NaiveTime::from_hms_opt(6, 0, 0).unwrap_or(NaiveTime::MIN),
        };
        assert!(w.contains(at("2030-01-01T23:00:00Z")));
        assert!(w.contains(at("2030-01-01T05:59:59Z")));
        assert!(!w.contains(at("2030-01-01T12:00:00Z")));
        assert_eq!(w.next_open(at("2030-01-01T12:00:00Z")), at("2030-01-01T22:00:00Z"));
    }
}
