//! `GET /callcenter/queues/status`: the tenant's queues, their agents and counts, computed
//! from the directory.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::auth::LeadsAuth;
use super::error::LeadsResult;
use crate::domain::directory::Agent;
use crate::domain::hex_id;
use crate::state::AppState;

/// Agent presence as the portal shows it (see the module doc).
fn agent_status(on_call: bool, status: &str) -> &'static str {
    if on_call {
        "busy"
    } else if status == "available" {
        "idle"
    } else {
        "paused"
    }
}

/// The portal's view of one queue member, counted into `n`.
fn render_agent(a: &Agent, n: &mut AgentCounts) -> Value {
    // The doc shows the agent's extension; an agent made with only an agent number shows that.
    let extension = a.extension.clone().filter(|e| !e.is_empty()).or_else(|| a.agent_number.clone());
    let ext_valid = extension
        .as_deref()
        .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()));
    let registered = a.attrs.get("registered").and_then(Value::as_bool).unwrap_or(a.logged_in);
    let name = format!("{} {}", a.first_name, a.last_name).trim().to_string();
    n.logged_in += a.logged_in as i64;
    n.on_call += a.on_call as i64;
    n.registered += registered as i64;
    n.misconfigured += (!ext_valid) as i64;
    n.idle += (a.logged_in && !a.on_call && a.status == "available") as i64;
    json!({
        "id": hex_id(a.id),
        "name": if name.is_empty() { a.email.clone() } else { name },
        "extension": extension.unwrap_or_default(),
        "extension_is_valid": ext_valid,
        "delay": a.attrs.get("delay").and_then(Value::as_i64).unwrap_or(0),
        "timeout": a.attrs.get("timeout").and_then(Value::as_i64).unwrap_or(15),
        "logged_in": a.logged_in,
        "status": agent_status(a.on_call, &a.status),
        "registered": registered,
        "tags": a.attrs.get("tags").filter(|v| v.is_array()).cloned().unwrap_or_else(|| json!([])),
    })
}

/// Per-queue agent counts.
#[derive(Default)]
struct AgentCounts {
    logged_in: i64,
    on_call: i64,
    registered: i64,
    misconfigured: i64,
    idle: i64,
}

/// `GET /callcenter/queues/status`.
pub async fn status(State(st): State<AppState>, auth: LeadsAuth) -> LeadsResult<Json<Value>> {
    let queues = st.reads.queues(&st.db, auth.tid()).await?;
    let mut out = Vec::with_capacity(queues.len());
    for q in queues.iter() {
        let mut n = AgentCounts::default();
        let agents: Vec<Value> = q.agents.iter().map(|a| render_agent(a, &mut n)).collect();
        let total = agents.len() as i64;
        out.push(json!({
            "id": q.id.to_string(),
            "name": q.name,
            "extension": q.extension.clone().unwrap_or_default(),
            "max_time_caller_in_queue": q.max_time_caller_in_queue,
            "strategy": q.strategy,
            "agents": agents,
            "calls": q.attrs.get("calls").filter(|v| v.is_object()).cloned().unwrap_or_else(|| json!({})),
            "total_agents": total,
            "logged_in_agents": n.logged_in,
            "logged_out_agents": total - n.logged_in,
            "idle_agents": n.idle,
            "misconfigured_agents": n.misconfigured,
            "agents_registered": n.registered,
            "agents_on_call": n.on_call,
        }));
    }
    Ok(Json(Value::Array(out)))
}
