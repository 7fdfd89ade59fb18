//! `POST /admin/v1/tenants/{slug}/calls`: a call interaction as a fixture, with its id in
//! the shapes the dialects show calls in (Leads cdr id = 32 hex of the uuid, Apps/Manager
//! call id = seq), so that a client can act on a call (e.g. the Leads voicemail
//! disposition) without dialling one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load_tenant, AdminAuth, AdminError, AdminJson};
use crate::domain::interactions::{self, Interaction, NewCallFixture};
use crate::domain::{hex_id, parse_hex_id, DomainError};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/v1/tenants/{slug}/calls", post(create_call))
}

/// The wire body; ids are uuids (hyphenated or 32 hex).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCall {
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    campaign: Option<String>,
    #[serde(default, alias = "contact")]
    lead: Option<String>,
}

fn uuid_field(v: Option<String>, field: &str) -> Result<Option<uuid::Uuid>, AdminError> {
    v.map(|s| parse_hex_id(s.trim()).ok_or_else(|| AdminError::Unprocessable(format!("{field}: must be a uuid"))))
        .transpose()
}

/// The domain's contact is this body's `lead`.
fn lead_named(e: DomainError) -> AdminError {
    match e {
        DomainError::NotFound("contact") => AdminError::NotFound("lead not found".into()),
        DomainError::Validation { field, message } if field == "contact" => AdminError::Unprocessable(format!("lead: {message}")),
        other => other.into(),
    }
}

/// A call fixture with its id in every shape a dialect shows it in.
pub fn render_call(c: &Interaction) -> Value {
    json!({
        "id": c.id,
        "kind": c.kind,
        "direction": c.direction,
        "status": c.status,
        "to": c.end_user_number,
        "from": c.outbound_number,
        "campaign": c.campaign_id,
        "lead": c.contact_id,
        "created_at": c.created_at,
        "ended_at": c.ended_at,
        "ids": {
            "leads": hex_id(c.id),
            "apps": c.seq,
        }
    })
}

async fn create_call(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(b): AdminJson<NewCall>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let fixture = NewCallFixture {
        to: b.to,
        from: b.from,
        direction: b.direction,
        status: b.status,
        campaign: uuid_field(b.campaign, "campaign")?,
        contact: uuid_field(b.lead, "lead")?,
    };
    let call = interactions::create_call_fixture(&st.db, t.id, fixture, st.now(&t))
        .await
        .map_err(lead_named)?;
    Ok((StatusCode::CREATED, Json(render_call(&call))))
}
