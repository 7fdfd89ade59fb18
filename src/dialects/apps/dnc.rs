//! The company DNC list: `POST /apps/api/v1/outbound_dialer/dnc`, `POST …/dnc/remove`,
//! `GET …/dnc/check`. It is the shared `dnc` suppression list every dialect honours.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::AppsAuth;
use super::error::AppsError;
use super::wire::{json_object, parse_time};
use crate::domain::optlists::{self, list, NewEntry};
use crate::domain::phone::{self, PhoneNumber};
use crate::state::AppState;

fn raw_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The spec's types, checked before anything is written: each contact an object whose
/// `phone_number` and `expires_at` are strings (a number is read as its digits; null as
/// absent). Another type is a 400 naming the element, never echoed back.
fn check_contacts(contacts: &[Value]) -> Result<(), AppsError> {
    for (i, c) in contacts.iter().enumerate() {
        let Some(c) = c.as_object() else {
            return Err(AppsError::bad_request(format!("contacts[{i}] must be an object")));
        };
        for key in ["phone_number", "expires_at"] {
            if !matches!(c.get(key), None | Some(Value::Null | Value::String(_) | Value::Number(_))) {
                return Err(AppsError::bad_request(format!("contacts[{i}].{key} must be a string")));
            }
        }
    }
    Ok(())
}

/// `POST /apps/api/v1/outbound_dialer/dnc`.
pub async fn add(State(st): State<AppState>, auth: AppsAuth, body: Bytes) -> Result<Json<Value>, AppsError> {
    let m = json_object(&body)?;
    let contacts = match m.get("contacts") {
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(AppsError::bad_request("contacts must be an array")),
        None => return Err(AppsError::bad_request("contacts is required")),
    };
    check_contacts(&contacts)?;
    let t = auth.tenant.id;
    let now = st.now(&auth.tenant);
    // Per contact: its answer row, and the number and expiry to store when it is valid.
    let parsed: Vec<(Map<String, Value>, Checked)> = contacts.iter().map(|c| parse_entry(c, now)).collect();
    let entries = parsed
        .iter()
        .filter_map(|(_, p)| p.as_ref().ok())
        .map(|(number, expires_at)| NewEntry {
            list: list::DNC,
            list_name: "",
            number,
            channels: Vec::new(),
            source: "apps",
            expires_at: *expires_at,
        })
        .collect();
    let mut created = optlists::upsert_entries(&st.db, t, entries, now).await?.into_iter();
    let out = parsed
        .into_iter()
        .map(|(mut row, p)| {
            let status = match p {
                Err(msg) => {
                    row.insert("error".into(), json!(msg));
                    "failed"
                }
                Ok(_) if created.next() == Some(true) => "created",
                Ok(_) => "updated",
            };
            row.insert("status".into(), json!(status));
            Value::Object(row)
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// A posted DNC contact's number and expiry, or why it fails.
type Checked = Result<(PhoneNumber, Option<DateTime<Utc>>), &'static str>;

/// One posted DNC contact: the answer row so far, and the number and expiry (or why not).
fn parse_entry(c: &Value, now: DateTime<Utc>) -> (Map<String, Value>, Checked) {
    let empty = Map::new();
    let c = c.as_object().unwrap_or(&empty);
    let number_text = raw_text(c.get("phone_number")).unwrap_or_default();
    let expires_text = raw_text(c.get("expires_at")).filter(|s| !s.trim().is_empty());
    let mut row = Map::new();
    // Echoed as the strings the spec promises (a number as its digits; null left out).
    if let Some(n) = raw_text(c.get("phone_number")) {
        row.insert("phone_number".into(), Value::String(n));
    }
    if let Some(e) = raw_text(c.get("expires_at")) {
        row.insert("expires_at".into(), Value::String(e));
    }
    if phone::is_emergency(&number_text) {
        return (row, Err("emergency phone number is not allowed"));
    }
    let Ok(number) = PhoneNumber::parse(&number_text) else {
        return (row, Err("phone_number is invalid"));
    };
    let expires_at = match expires_text.as_deref().map(parse_time) {
        None => None,
        Some(None) => return (row, Err("expires_at is invalid")),
        Some(Some(at)) if at <= now => return (row, Err("expires_at cannot be past date/time")),
        Some(at) => at,
    };
    (row, Ok((number, expires_at)))
}

/// `POST /apps/api/v1/outbound_dialer/dnc/remove`.
pub async fn remove(State(st): State<AppState>, auth: AppsAuth, body: Bytes) -> Result<Json<Value>, AppsError> {
    let m = json_object(&body)?;
    let numbers = match m.get("phone_numbers") {
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(AppsError::bad_request("phone_numbers must be an array")),
        None => return Err(AppsError::bad_request("phone_numbers is required")),
    };
    if let Some(i) = numbers.iter().position(|n| !matches!(n, Value::String(_) | Value::Number(_))) {
        return Err(AppsError::bad_request(format!("phone_numbers[{i}] must be a string")));
    }
    let parsed: Vec<Option<String>> = numbers
        .iter()
        .map(|n| PhoneNumber::parse(&raw_text(Some(n)).unwrap_or_default()).ok().map(|p| p.e164))
        .collect();
    let valid: Vec<String> = parsed.iter().flatten().cloned().collect();
    let mut removed = optlists::remove_numbers(&st.db, auth.tenant.id, list::DNC, &valid)
        .await?
        .into_iter();
    let out = numbers
        .iter()
        .zip(parsed)
        .map(|(n, p)| match p {
            None => json!({"phone_number": raw_text(Some(n)).unwrap_or_default(), "error": "phone_number is invalid", "status": "failed"}),
            Some(_) if removed.next() == Some(true) => json!({"phone_number": raw_text(Some(n)).unwrap_or_default(), "status": "removed"}),
            Some(_) => json!({"phone_number": raw_text(Some(n)).unwrap_or_default(), "status": "not_found"}),
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

#[derive(Debug, Deserialize)]
pub struct CheckQuery {
    phone_number: Option<String>,
}

/// `GET /apps/api/v1/outbound_dialer/dnc/check?phone_number=`.
pub async fn check(
    State(st): State<AppState>,
    auth: AppsAuth,
    q: Result<Query<CheckQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, AppsError> {
    let Query(q) = q.map_err(|_| AppsError::bad_request("phone_number is invalid"))?;
    let text = q
        .phone_number
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| AppsError::bad_request("phone_number is required"))?;
    let p = PhoneNumber::parse(&text).map_err(|_| AppsError::bad_request("phone_number is invalid"))?;
    let now = st.now(&auth.tenant);
    let entry = optlists::find(&st.db, auth.tenant.id, list::DNC, &p.e164).await?;
    let (dnc, expired_at) = match entry {
        Some(e) => (
            e.expires_at.is_none_or(|x| x > now),
            e.expires_at
                .map(|x| json!(x.format("%Y-%m-%d %H:%M:%S%.6f +0000").to_string()))
                .unwrap_or(Value::Null),
        ),
        None => (false, Value::Null),
    };
    Ok(Json(json!({"phone_number": text, "do_not_call": dnc, "expired_at": expired_at})))
}
