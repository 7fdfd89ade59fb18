//! `PUT|GET /admin/v1/tenants/{slug}/carrier-rules`: the tenant's own outcome rules of
//! the simulated carrier, checked before the built-in table.
//!
//! Body: `[{"match": "+1415*", "channel": "voice"|"sms"|"email"|"*", "outcomes": ["busy",
//! "busy", "answered"]}]` (`channel` defaults to `*`). PUT replaces the whole list and
//! answers it; an invalid rule → 422 naming the field (`[0].outcomes[1]: …`). Outcome
//! names: `answered`, `delivered`, `no_answer`, `busy`, `voicemail`, `invalid`,
//! `unreachable`, `undelivered`, `carrier_error`, `opt_out`, `abandoned`, `bounced`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::{load_tenant, AdminAuth, AdminError, AdminJson};
use crate::engine::carrier::rules;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/v1/tenants/{slug}/carrier-rules", get(show).put(replace))
}

/// `GET …/carrier-rules`: the rules in order.
async fn show(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    Ok(Json(rules::render(&rules::load(&st.db, t.id).await?)))
}

/// `PUT …/carrier-rules`: replaces the rules.
async fn replace(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(body): AdminJson<Value>,
) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let parsed = rules::parse(&body)?;
    rules::store(&st.db, t.id, &parsed, st.now(&t)).await?;
    Ok(Json(rules::render(&parsed)))
}
