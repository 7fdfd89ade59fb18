//! `POST /admin/v1/tenants/{slug}/campaigns/{id}/events`: moves a campaign through the one
//! state machine (`domain::campaigns::transition`), as the dialects and the scheduler do.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::fixtures::render_campaign;
use super::{load_tenant, path_id, AdminAuth, AdminError, AdminJson};
use crate::domain::campaigns::{self, Event};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/v1/tenants/{slug}/campaigns/{id}/events", post(apply))
}

/// The request body: one `event`, or several `events` applied in order in one transaction.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
}

/// An illegal move → 409 (nothing changes); an unknown event → 422.
async fn apply(
    State(st): State<AppState>,
    _: AdminAuth,
    Path((slug, id)): Path<(String, String)>,
    AdminJson(req): AdminJson<EventRequest>,
) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let id = path_id(&id, "campaign")?;
    let names = match (req.event, req.events) {
        (Some(e), None) => vec![e],
        (None, Some(list)) if !list.is_empty() => list,
        _ => {
            return Err(AdminError::Unprocessable(
                "event: give one event, or a non-empty list of events".into(),
            ))
        }
    };
    let events = names
        .iter()
        .map(|n| {
            Event::parse(n).ok_or_else(|| {
                AdminError::Unprocessable(format!(
                    "event: {n:?} is not one of schedule, start, pause, resume, complete, fail, cancel, reopen"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let c = campaigns::apply_events(&st.db, t.id, id, &events, st.now(&t)).await?;
    Ok(Json(render_campaign(&c)))
}
