//! `GET /callcenter/queues/status`: the tenant's queues, their agents and counts, computed
//! from the directory.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use sqlx::Row;
use uuid::Uuid;

use super::auth::LeadsAuth;
use super::error::LeadsResult;
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

/// `GET /callcenter/queues/status`.
pub async fn status(State(st): State<AppState>, auth: LeadsAuth) -> LeadsResult<Json<Value>> {
    let t = auth.tid();
    let queues =
        sqlx::query("SELECT id, name, extension, strategy, max_time_caller_in_queue, attrs FROM queues WHERE tenant_id = $1 ORDER BY seq")
            .bind(t.0)
            .fetch_all(&st.db)
            .await?;
    let members = sqlx::query(
        "SELECT qa.queue_id, a.id, a.first_name, a.last_name, a.email, COALESCE(NULLIF(a.extension, ''), a.agent_number) AS extension, a.status, a.logged_in, a.on_call, a.attrs
           FROM queue_agents qa JOIN agents a ON a.id = qa.agent_id AND a.tenant_id = qa.tenant_id
          WHERE qa.tenant_id = $1 ORDER BY a.seq",
    )
    .bind(t.0)
    .fetch_all(&st.db)
    .await?;
    let mut out = Vec::with_capacity(queues.len());
    for q in &queues {
        let qid: Uuid = q.try_get("id")?;
        let qattrs: Value = q.try_get("attrs")?;
        let mut agents = Vec::new();
        let (mut logged_in_n, mut idle_n, mut misconf_n, mut registered_n, mut on_call_n) = (0, 0, 0, 0, 0);
        for m in members.iter() {
            let in_queue: Uuid = m.try_get("queue_id")?;
            if in_queue != qid {
                continue;
            }
            let id: Uuid = m.try_get("id")?;
            let first: String = m.try_get("first_name")?;
            let last: String = m.try_get("last_name")?;
            let email: String = m.try_get("email")?;
            let ext: Option<String> = m.try_get("extension")?;
            let status: String = m.try_get("status")?;
            let logged_in: bool = m.try_get("logged_in")?;
            let on_call: bool = m.try_get("on_call")?;
            let attrs: Value = m.try_get("attrs")?;
            let ext_valid = ext
                .as_deref()
                .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()));
            let registered = attrs.get("registered").and_then(Value::as_bool).unwrap_or(logged_in);
            let name = format!("{first} {last}").trim().to_string();
            logged_in_n += logged_in as i64;
            on_call_n += on_call as i64;
            registered_n += registered as i64;
            misconf_n += (!ext_valid) as i64;
            idle_n += (logged_in && !on_call && status == "available") as i64;
            agents.push(json!({
                "id": hex_id(id),
                "name": if name.is_empty() { email } else { name },
                "extension": ext.unwrap_or_default(),
                "extension_is_valid": ext_valid,
                "delay": attrs.get("delay").and_then(Value::as_i64).unwrap_or(0),
                "timeout": attrs.get("timeout").and_then(Value::as_i64).unwrap_or(15),
                "logged_in": logged_in,
                "status": agent_status(on_call, &status),
                "registered": registered,
                "tags": attrs.get("tags").filter(|v| v.is_array()).cloned().unwrap_or_else(|| json!([])),
            }));
        }
        let total = agents.len() as i64;
        out.push(json!({
            "id": qid.to_string(),
            "name": q.try_get::<String, _>("name")?,
            "extension": q.try_get::<Option<String>, _>("extension")?.unwrap_or_default(),
            "max_time_caller_in_queue": q.try_get::<i32, _>("max_time_caller_in_queue")?,
            "strategy": q.try_get::<String, _>("strategy")?,
            "agents": agents,
            "calls": qattrs.get("calls").filter(|v| v.is_object()).cloned().unwrap_or_else(|| json!({})),
            "total_agents": total,
            "logged_in_agents": logged_in_n,
            "logged_out_agents": total - logged_in_n,
            "idle_agents": idle_n,
            "misconfigured_agents": misconf_n,
            "agents_registered": registered_n,
            "agents_on_call": on_call_n,
        }));
    }
    Ok(Json(Value::Array(out)))
}
