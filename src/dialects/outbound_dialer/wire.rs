//! The vendor's wire shapes: a contact as posted (validated into a shared `NewContact`),
//! a contact as rendered, lenient JSON bodies.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::status;
use crate::domain::contacts::{Contact, NewContact};
use crate::domain::directory::valid_email;
use crate::domain::phone;

/// Keys of a posted contact that are not custom metadata (the documented fields, and
/// the rendered ones, so a contact read and sent back keeps its metadata clean).
pub const KNOWN_KEYS: &[&str] = &[
    "contact_id",
    "name",
    "email",
    "phone_number",
    "outbound_number",
    "external_unique_id",
    "priority",
    "status",
    "id",
    "campaign_id",
    "assigned_call_id",
    "assigned_participant_id",
    "created_at",
    "updated_at",
    "user_custom_metadata",
    "errors",
];

/// The rendered metadata keys that mirror fields.
pub const REQUIRED_META: &[&str] = &["NAME (REQUIRED)", "PHONE (REQUIRED)", "EMAIL (REQUIRED)"];

/// Where the dialect keeps its extras in `contacts.attrs`.
pub const ATTR_CUSTOM: &str = "user_custom_metadata";
pub const ATTR_OUTBOUND_TEXT: &str = "outbound_number_text";
pub const ATTR_PRIORITY: &str = "dialer_priority";

/// Why a posted contact is invalid. `class` is the vendor's error class
/// (`NativePowerDial::ContactService::<class>`), `message` what `errors` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactError {
    pub class: &'static str,
    pub message: String,
}

impl ContactError {
    pub fn new(class: &'static str, message: impl Into<String>) -> Self {
        ContactError {
            class,
            message: message.into(),
        }
    }
    pub fn duplicate() -> Self {
        Self::new("DuplicateContactPhoneOnCampaign", "DuplicateContactPhoneOnCampaign")
    }
}

/// A posted contact that passed the per-contact checks (duplicates and suppression are
/// checked against the database by the caller).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub contact: NewContact,
    pub e164: String,
}

fn opt_text(obj: &Map<String, Value>, key: &str, errors: &mut Vec<ContactError>) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            errors.push(ContactError::new("InvalidContact", format!("{key} must be a string")));
            None
        }
    }
}

/// Validates one posted contact. `numbers` are the tenant's phone numbers (E.164).
pub fn parse_contact(v: &Value, numbers: &HashSet<String>) -> Result<Parsed, Vec<ContactError>> {
    let Some(obj) = v.as_object() else {
        return Err(vec![ContactError::new("InvalidContact", "Contact must be a JSON object")]);
    };
    let mut errors = Vec::new();
    let name = opt_text(obj, "name", &mut errors);
    let email = opt_text(obj, "email", &mut errors).filter(|e| !e.trim().is_empty());
    let phone = opt_text(obj, "phone_number", &mut errors);
    let outbound = opt_text(obj, "outbound_number", &mut errors).filter(|o| !o.trim().is_empty());
    let external = opt_text(obj, "external_unique_id", &mut errors);
    let priority = match obj.get("priority") {
        None | Some(Value::Null) => None,
        Some(p) => match p.as_i64().and_then(|p| i32::try_from(p).ok()) {
            Some(p) => Some(p),
            None => {
                errors.push(ContactError::new("InvalidContact", "priority must be an integer"));
                None
            }
        },
    };
    let e164 = match phone.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(ContactError::new("InvalidPhoneNumber", "Phone number can't be blank"));
            None
        }
        Some(p) => match phone::e164(p) {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(ContactError::new("InvalidPhoneNumber", "Phone number is invalid"));
                None
            }
        },
    };
    if let Some(e) = &email {
        if !valid_email(e) {
            errors.push(ContactError::new("InvalidEmail", "Email is invalid"));
        }
    }
    let outbound_e164 = match &outbound {
        None => None,
        Some(o) => match phone::e164(o) {
            Ok(n) if numbers.contains(&n) => Some(n),
            _ => {
                errors.push(ContactError::new("InvalidOutboundNumber", "Outbound number is invalid"));
                None
            }
        },
    };
    let Some(e164) = e164 else { return Err(errors) };
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut custom: Map<String, Value> = Map::new();
    // metadata sent as `user_custom_metadata` (e.g. a contact read back), then extra keys
    if let Some(Value::Object(meta)) = obj.get("user_custom_metadata") {
        for (k, v) in meta {
            if !REQUIRED_META.contains(&k.as_str()) {
                custom.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in obj {
        if !KNOWN_KEYS.contains(&k.as_str()) {
            custom.insert(k.clone(), v.clone());
        }
    }
    let mut attrs = Map::new();
    attrs.insert(ATTR_CUSTOM.into(), Value::Object(custom));
    if let Some(o) = &outbound {
        attrs.insert(ATTR_OUTBOUND_TEXT.into(), Value::String(o.clone()));
    }
    if let Some(p) = priority {
        attrs.insert(ATTR_PRIORITY.into(), json!(p));
    }
    Ok(Parsed {
        contact: NewContact {
            number: Some(e164.clone()),
            original_number: phone,
            email,
            name,
            external_id: external,
            outbound_number: outbound_e164,
            priority: priority.unwrap_or(0),
            attrs: Value::Object(attrs),
            ..Default::default()
        },
        e164,
    })
}

/// The vendor's time stamps: `2024-08-05T14:51:49.000Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A contact as the doc's PATCH/DELETE examples show it, plus the posted fields the GET
/// example shows (`email`, `phone_number`, `external_unique_id`).
pub fn render_contact(c: &Contact, campaign_seq: i64) -> Value {
    let attr = |k: &str| c.attrs.get(k).cloned().unwrap_or(Value::Null);
    let outbound = match c.attrs.get(ATTR_OUTBOUND_TEXT) {
        Some(Value::String(s)) => Value::String(s.clone()),
        _ => json!(c.outbound_number),
    };
    let mut meta = Map::new();
    meta.insert("NAME (REQUIRED)".into(), json!(c.name));
    meta.insert("PHONE (REQUIRED)".into(), json!(c.original_number.as_ref().or(c.number.as_ref())));
    meta.insert("EMAIL (REQUIRED)".into(), json!(c.email));
    if let Some(Value::Object(custom)) = c.attrs.get(ATTR_CUSTOM) {
        for (k, v) in custom {
            meta.insert(k.clone(), v.clone());
        }
    }
    json!({
        "id": c.seq,
        "name": c.name,
        "campaign_id": campaign_seq,
        "assigned_call_id": attr("assigned_call_id"),
        "assigned_participant_id": attr("assigned_participant_id"),
        "outbound_number": outbound,
        "priority": attr(ATTR_PRIORITY),
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
        "status": status::contact_state(&c.status),
        "user_custom_metadata": meta,
        "email": c.email,
        "phone_number": c.original_number.as_ref().or(c.number.as_ref()),
        "external_unique_id": c.external_id,
    })
}

/// Parses a JSON body; accepts the doc's own trailing commas (`{"contact_id": 7,}`).
pub fn parse_lenient(body: &[u8]) -> Result<Value, String> {
    if let Some(field) = crate::http::nul_in_json(body) {
        return Err(crate::http::nul_message(&field));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) => {
            let fixed = strip_trailing_commas(body);
            serde_json::from_slice::<Value>(&fixed).map_err(|_| format!("Malformed JSON: {e}"))
        }
    }
}

/// Removes commas that are followed (after whitespace) by `}` or `]`, outside strings.
fn strip_trailing_commas(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let (mut in_str, mut esc) = (false, false);
    for (i, &b) in body.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else if b == b'"' {
            in_str = true;
        } else if b == b',' {
            let next = body[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
            if matches!(next, Some(b'}') | Some(b']')) {
                continue;
            }
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_bodies() {
        assert_eq!(parse_lenient(b"{\"contact_id\": 7,\n}").unwrap(), json!({"contact_id": 7}));
        assert_eq!(parse_lenient(b"{\"a\": \"x,}\"}").unwrap(), json!({"a": "x,}"}));
        assert!(parse_lenient(b"{\"a\": ").is_err());
    }

    #[test]
    fn validates_doc_contact() {
        let numbers: HashSet<String> = ["+17608675309".to_string()].into_iter().collect();
        let doc = json!({"name": "string", "email": "customer@somedomain.com", "phone_number": "+1 111-111-1111",
            "outbound_number": "+1 760-867-5309", "external_unique_id": "UID_123456", "Plan": "gold"});
        let p = parse_contact(&doc, &numbers).unwrap();
        assert_eq!(p.e164, "+11111111111");
        assert_eq!(p.contact.outbound_number.as_deref(), Some("+17608675309"));
        assert_eq!(p.contact.attrs[ATTR_CUSTOM], json!({"Plan": "gold"}));
        let errs = parse_contact(
            &json!({"phone_number": "abc", "email": "nope", "outbound_number": "+1 415 555 0100"}),
            &numbers,
        )
        .unwrap_err();
        let classes: Vec<&str> = errs.iter().map(|e| e.class).collect();
        assert_eq!(classes, vec!["InvalidPhoneNumber", "InvalidEmail", "InvalidOutboundNumber"]);
    }
}
