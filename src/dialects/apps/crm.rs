//! `POST /apps/api/v1/crm/contact_data`: CRM contact data stored against a call. It is what
//! `ticket_id` look-ups of the calls endpoint resolve (by call_id, contact.crm_id,
//! contact.account_no or a ticket_id field).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::auth::AppsAuth;
use super::error::AppsError;
use super::wire::{json_object, text, ts};
use crate::domain::crm;
use crate::state::AppState;

/// The record's text fields: strings (a number is stored as its digits), never other types.
const STRING_FIELDS: [&str; 8] = [
    "call_id",
    "agent_id",
    "lcm_key",
    "dnis",
    "org_id",
    "pacing_mode",
    "call_type",
    "ticket_id",
];

/// `POST /apps/api/v1/crm/contact_data` → 201 with the stored record.
pub async fn create(State(st): State<AppState>, auth: AppsAuth, body: Bytes) -> Result<(StatusCode, Json<Value>), AppsError> {
    let mut m = json_object(&body)?;
    // A null field is an absent one (the record echoes strings, as the spec says).
    m.retain(|_, v| !v.is_null());
    for key in STRING_FIELDS {
        if let Some(Value::Number(n)) = m.get(key) {
            let text = n.to_string();
            m.insert(key.to_string(), Value::String(text));
        }
    }
    if m.is_empty() {
        return Err(AppsError::bad_request("contact data is required"));
    }
    for key in STRING_FIELDS {
        if !matches!(m.get(key), None | Some(Value::Null | Value::String(_) | Value::Number(_))) {
            return Err(AppsError::bad_request(format!("{key} must be a string")));
        }
    }
    if let Some(c) = m.get("contact") {
        if !c.is_object() && !c.is_null() {
            return Err(AppsError::bad_request("contact must be an object"));
        }
    }
    let call_ref = text(&m, "call_id");
    let now = st.now(&auth.tenant);
    let data = Value::Object(m);
    let seq = crm::record(&st.db, auth.tenant.id, call_ref.as_deref(), &data, now).await?;
    let mut out = json!({ "id": seq });
    if let (Value::Object(o), Value::Object(d)) = (&mut out, data) {
        o.extend(d);
        o.insert("created_at".into(), json!(ts(now)));
    }
    Ok((StatusCode::CREATED, Json(out)))
}
