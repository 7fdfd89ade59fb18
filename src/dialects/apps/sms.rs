//! `POST /apps/api/v1/sms`: an outbound SMS session; the message goes to the outbox.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use chrono::Duration;
use serde_json::{json, Map, Value};

use super::auth::AppsAuth;
use super::error::AppsError;
use super::render;
use super::wire::{json_object, text};
use crate::domain::directory;
use crate::domain::interactions::{self, kind, Interaction, NewInteraction, SessionStart};
use crate::domain::outbox::NewDelivery;
use crate::domain::phone::{self, PhoneNumber};
use crate::state::AppState;

/// How long an SMS session stays active for the one-session-per-consumer rule.
pub const SESSION_HOURS: i64 = 24;

fn chat_type(s: &str) -> Option<&'static str> {
    match s {
        "Messaging (API)" => Some("Messaging (API)"),
        "Messaging (SMS)" => Some("Messaging (SMS)"),
        "SMS" => Some("Messaging (SMS)"),
        _ => None,
    }
}

/// Parses an SMS number; an unparsable number with a non-+1 country prefix is "Non-US".
fn sms_number(text: &str, field: &str) -> Result<PhoneNumber, AppsError> {
    PhoneNumber::parse(text).map_err(|_| {
        let t = text.trim();
        let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
        let plus = t.starts_with('+') || t.starts_with("00");
        let digits = digits.strip_prefix("00").filter(|_| t.starts_with("00")).unwrap_or(&digits);
        if plus && !digits.starts_with('1') && (7..=15).contains(&digits.len()) {
            AppsError::bad_request("Non-US phone number not allowed")
        } else {
            AppsError::bad_request(format!("{field} is invalid"))
        }
    })
}

/// `end_user_number` and `outbound_number`: both given, valid and North-American.
fn sms_numbers(m: &Map<String, Value>) -> Result<(PhoneNumber, PhoneNumber), AppsError> {
    let to_text = text(m, "end_user_number").ok_or_else(|| AppsError::bad_request("end_user_number is required"))?;
    if phone::is_emergency(&to_text) {
        return Err(AppsError::bad_request("end_user_number is invalid"));
    }
    let to = sms_number(&to_text, "end_user_number")?;
    let from_text = text(m, "outbound_number").ok_or_else(|| AppsError::bad_request("outbound_number is required"))?;
    let from = sms_number(&from_text, "outbound_number")?;
    if !to.is_nanp() || !from.is_nanp() {
        return Err(AppsError::bad_request("Non-US phone number not allowed"));
    }
    Ok((to, from))
}

/// `POST /apps/api/v1/sms`.
pub async fn create(State(st): State<AppState>, auth: AppsAuth, body: Bytes) -> Result<Json<Value>, AppsError> {
    let m = json_object(&body)?;
    let t = auth.tenant.id;
    let ct = text(&m, "chat_type").ok_or_else(|| AppsError::bad_request("chat_type needs to be provided"))?;
    let chat_type = chat_type(&ct).ok_or_else(|| AppsError::bad_request("valid chat type needs to be provided"))?;
    if super::tenant::AppsSettings::of(&auth.tenant).sms_enabled == Some(false) {
        return Err(AppsError::bad_request("SMS is not enabled"));
    }
    if super::tenant::AppsSettings::of(&auth.tenant).outbound_sms_enabled == Some(false) {
        return Err(AppsError::bad_request("Outbound SMS is not enabled"));
    }
    let (to, from) = sms_numbers(&m)?;
    let numbers = directory::list_numbers(&st.db, t).await?;
    if !numbers.iter().any(|n| n.number == from.e164 && n.sms) {
        return Err(AppsError::bad_request("outbound_number is not found"));
    }
    let message = match m.get("message") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err(AppsError::bad_request("message is required")),
    };
    let now = st.now(&auth.tenant);
    let session = NewInteraction {
        kind: kind::SMS.into(),
        direction: "outbound".into(),
        status: "selecting".into(),
        end_user_number: Some(to.e164.clone()),
        outbound_number: Some(from.e164.clone()),
        attrs: json!({
            "chat_type": chat_type,
            "lang": text(&m, "lang").unwrap_or_else(|| "en".into()),
            "ticket_id": text(&m, "ticket_id"),
            "end_user_number_text": to.original,
            "outbound_number_text": from.original,
        }),
        ..Default::default()
    };
    let first = |row: &Interaction| NewDelivery {
        channel: "sms".into(),
        to_address: to.e164.clone(),
        from_address: Some(from.e164.clone()),
        body: Some(message),
        status: "sent".into(),
        attrs: json!({"source": "apps", "chat_id": row.seq}),
        ..Default::default()
    };
    let window = Duration::hours(SESSION_HOURS);
    match interactions::start_session(&st.db, t, "sms", window, session, first, now).await? {
        SessionStart::Started(row) => Ok(Json(render::chat(&row))),
        SessionStart::Busy => Err(AppsError::bad_request(
            "Outbound SMS failed. Consumer is already in an active SMS session.",
        )),
    }
}
