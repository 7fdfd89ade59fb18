//! The vendor's call and chat objects, rendered from an interaction row.

use serde_json::{json, Value};

use super::wire::{attr_ts, ts, ts_opt, MenuTree};
use super::STATUS_MAP;
use crate::domain::directory::{Agent, Menu};
use crate::domain::interactions::Interaction;

/// The vendor status of a shared interaction status (see [`STATUS_MAP`]).
pub fn vendor_status(domain: &str) -> &str {
    STATUS_MAP.iter().find(|(d, _)| *d == domain).map(|(_, v)| *v).unwrap_or(domain)
}

/// `agent_info`.
pub fn agent_info(a: &Agent) -> Value {
    let name = format!("{} {}", a.first_name, a.last_name).trim().to_string();
    json!({
        "id": a.seq,
        "agent_number": a.agent_number,
        "name": name,
        "last_name": a.last_name,
        "first_name": a.first_name,
        "avatar_url": a.attrs.get("avatar_url").cloned().unwrap_or(Value::Null),
    })
}

/// `selected_menu` and `menu_path` of a menu.
pub fn menu_parts(m: &Menu, tree: &MenuTree) -> (Value, Value) {
    let path = tree.path(m.id);
    let selected = json!({
        "id": m.seq,
        "name": m.name,
        "parent_id": m.parent_seq,
        "position": m.attrs.get("position").cloned().unwrap_or(json!(0)),
        "deleted": false,
        "menu_type": m.menu_type,
        "output_msg": m.attrs.get("output_msg").cloned().unwrap_or_else(|| json!(format!("You selected {}.", m.name))),
        "hidden": m.attrs.get("hidden").cloned().unwrap_or(json!(false)),
    });
    let menu_path = json!({
        "items_count": path.len().max(1),
        "name": m.name,
        "materialized_path": path.iter().map(|p| p.seq.to_string()).collect::<Vec<_>>().join("/"),
    });
    (selected, menu_path)
}

fn end_user(i: &Interaction) -> Value {
    match i.attrs.get("end_user_id").and_then(Value::as_i64) {
        Some(id) => json!({
            "id": id,
            "identifier": Value::Null,
            "out_contact_id": i.attrs.get("out_contact_id").cloned().unwrap_or(Value::Null),
        }),
        None => Value::Null,
    }
}

/// The call object of the doc, every field present.
pub fn call(i: &Interaction, agent: Option<&Agent>, menu: Option<&Menu>, tree: &MenuTree) -> Value {
    let a = &i.attrs;
    let (selected_menu, menu_path) = match menu {
        Some(m) => menu_parts(m, tree),
        None => (Value::Null, Value::Null),
    };
    let end_user_id = a.get("end_user_id").cloned().unwrap_or(Value::Null);
    let mut participants = Vec::new();
    if let Some(ag) = agent {
        participants.push(json!({
            "id": i.seq * 2 - 1,
            "type": "agent",
            "status": "waiting",
            "call_id": i.seq,
            "user_id": ag.seq,
            "end_user_id": Value::Null,
            "call_duration": Value::Null,
            "hold_duration": Value::Null,
            "connected_at": Value::Null,
            "ended_at": Value::Null,
            "fail_reason": "nothing",
        }));
    }
    // What the engine recorded of a placed call (`interaction_attempts::follow`).
    let call_duration = a.get("call_duration").and_then(Value::as_i64);
    let fail_reason = a.get("fail_reason").and_then(Value::as_str).unwrap_or("nothing");
    let end_user_status = match i.status.as_str() {
        "connecting" | "connected" | "finished" | "failed" => i.status.as_str(),
        _ => "waiting",
    };
    participants.push(json!({
        "id": i.seq * 2,
        "type": "end_user",
        "status": end_user_status,
        "call_id": i.seq,
        "user_id": Value::Null,
        "end_user_id": end_user_id,
        "call_duration": call_duration,
        "hold_duration": Value::Null,
        "connected_at": attr_ts(a, "connected_at"),
        "ended_at": if a.get("outcome").is_some() { ts_opt(i.ended_at) } else { Value::Null },
        "fail_reason": fail_reason,
    }));
    let inbound_like = i.direction != "outbound";
    let offer_type = if inbound_like { json!("cascade") } else { Value::Null };
    let offer_events = if inbound_like {
        json!([{"casting_time": ts(i.created_at), "group": "Group 1"}])
    } else {
        json!([])
    };
    let outbound_number = a
        .get("outbound_number_text")
        .cloned()
        .filter(|v| !v.is_null())
        .or_else(|| i.outbound_number.clone().map(Value::String))
        .unwrap_or(Value::Null);
    let mut head = json!({
        "id": i.seq,
        "parent_id": a.get("parent_id").cloned().unwrap_or(Value::Null),
        "lang": a.get("lang").cloned().unwrap_or(json!("en")),
        "call_type": a.get("call_type").cloned().filter(|v| v.is_string()).unwrap_or_else(|| json!(call_type_of(&i.direction))),
        "status": vendor_status(&i.status),
        "created_at": ts(i.created_at),
        "queued_at": attr_ts(a, "queued_at"),
        "assigned_at": attr_ts(a, "assigned_at"),
        "connected_at": attr_ts(a, "connected_at"),
        "ends_at": ts_opt(i.ended_at),
        "scheduled_at": ts_opt(i.scheduled_at),
        "wait_duration": 0,
        "call_duration": call_duration.unwrap_or(0),
        "hold_duration": 0,
        "rating": Value::Null,
        "has_feedback": false,
        "voip_provider": "voip_provider_twilio",
        "out_ticket_id": a.get("ticket_id").cloned().unwrap_or(Value::Null),
        "out_ticket_url": Value::Null,
        "verified": false,
        "recording_url": Value::Null,
        "recording_permission": a.get("recording_permission").cloned().unwrap_or(json!("not_asked")),
        "voicemail_reason": "not_voicemail",
        "deflection": "no_deflection",
        "disconnected_by": "disconnected_by_unknown",
        "fail_reason": fail_reason,
    });
    let tail = json!({
        "fail_details": Value::Null,
        "support_number": Value::Null,
        "selected_menu": selected_menu,
        "menu_path": menu_path,
        "agent_info": agent.map(agent_info).unwrap_or(Value::Null),
        "end_user": end_user(i),
        "photos": [],
        "videos": [],
        "transfers": [],
        "deflection_details": [],
        "participants": participants,
        "offer_type": offer_type,
        "offer_events": offer_events,
        "answer_type": "manual",
        "outbound_number": outbound_number,
    });
    if let (Value::Object(h), Value::Object(t)) = (&mut head, tail) {
        h.extend(t);
    }
    head
}

/// The chat object of the doc (SMS sessions).
pub fn chat(i: &Interaction) -> Value {
    let a = &i.attrs;
    let participants = json!([{
        "id": i.seq * 2,
        "type": "end_user",
        "status": "connected",
        "chat_id": i.seq,
        "user_id": Value::Null,
        "end_user_id": a.get("end_user_id").cloned().unwrap_or(Value::Null),
        "chat_duration": Value::Null,
        "connected_at": ts(i.created_at),
        "ended_at": Value::Null,
        "fail_reason": "nothing",
    }]);
    json!({
        "id": i.seq,
        "lang": a.get("lang").cloned().unwrap_or(json!("en")),
        "chat_type": a.get("chat_type").cloned().unwrap_or(Value::Null),
        "status": vendor_status(&i.status),
        "created_at": ts(i.created_at),
        "queued_at": attr_ts(a, "queued_at"),
        "assigned_at": attr_ts(a, "assigned_at"),
        "ends_at": ts_opt(i.ended_at),
        "wait_duration": 0,
        "chat_duration": 0,
        "rating": Value::Null,
        "has_feedback": false,
        "out_ticket_id": a.get("ticket_id").cloned().unwrap_or(Value::Null),
        "out_ticket_url": Value::Null,
        "verified": false,
        "disconnected_by": "disconnected_by_unknown",
        "fail_reason": a.get("fail_reason").cloned().unwrap_or(Value::Null),
        "selected_menu": Value::Null,
        "menu_path": Value::Null,
        "agent_info": Value::Null,
        "end_user": end_user(i),
        "photos": [],
        "videos": [],
        "transfers": [],
        "participants": participants,
        "offer_type": Value::Null,
        "offer_events": [],
        "answer_type": "manual",
        "outbound_number": i.outbound_number,
    })
}

/// The vendor's call type of a call made elsewhere than through `POST /calls` (an operator's
/// call fixture, another dialect), from its direction; the spec promises a string.
fn call_type_of(direction: &str) -> &'static str {
    match direction {
        "inbound" => "Voice Inbound (API)",
        "scheduled" => "Voice Scheduled (API)",
        _ => "Voice Outbound (API)",
    }
}
