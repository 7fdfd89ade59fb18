//! `/admin/v1/tenants/{slug}/clock`: the tenant's virtual clock, and
//! `/admin/v1/tenants/{slug}/reset`: emptying a tenant.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{load_tenant, AdminAuth, AdminError, AdminJson};
use crate::domain::tenant_ops::{self, ClockChange};
use crate::domain::tenants::Tenant;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants/{slug}/clock", get(show).post(change))
        .route("/admin/v1/tenants/{slug}/reset", post(reset))
}

/// `{now, offset_seconds, frozen, frozen_at}`.
pub fn render(state: &AppState, t: &Tenant) -> Value {
    json!({
        "now": state.now(t),
        "offset_seconds": t.clock.offset_seconds,
        "frozen": t.clock.frozen_at.is_some(),
        "frozen_at": t.clock.frozen_at,
    })
}

async fn show(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    Ok(Json(render(&st, &t)))
}

/// Exactly one of the fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    #[serde(default)]
    advance_seconds: Option<i64>,
    #[serde(default)]
    set: Option<String>,
    #[serde(default)]
    freeze: Option<bool>,
    #[serde(default)]
    reset: Option<bool>,
}

impl ClockRequest {
    fn change(self) -> Result<ClockChange, AdminError> {
        let given = [
            self.advance_seconds.is_some(),
            self.set.is_some(),
            self.freeze.is_some(),
            self.reset.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            return Err(AdminError::Unprocessable(
                "give exactly one of advance_seconds, set, freeze, reset".into(),
            ));
        }
        if let Some(n) = self.advance_seconds {
            return Ok(ClockChange::Advance(n));
        }
        if let Some(s) = self.set {
            let t = DateTime::parse_from_rfc3339(s.trim())
                .map_err(|_| AdminError::Unprocessable("set: must be an RFC 3339 date-time, e.g. 2030-01-01T09:00:00Z".into()))?;
            return Ok(ClockChange::Set(t.with_timezone(&Utc)));
        }
        if let Some(f) = self.freeze {
            return Ok(ClockChange::Freeze(f));
        }
        match self.reset {
            Some(true) => Ok(ClockChange::Reset),
            _ => Err(AdminError::Unprocessable("reset: must be true".into())),
        }
    }
}

async fn change(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(req): AdminJson<ClockRequest>,
) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let change = req.change()?;
    let t = tenant_ops::change_clock(&st.db, t.id, st.clock.as_ref(), change).await?;
    // Run everything that fell due up to the new time, in order, before answering.
    if let Err(e) = crate::engine::scheduler::tick_once(&st).await {
        tracing::warn!(error = %e, "scheduler pass after a clock change failed");
    }
    Ok(Json(render(&st, &t)))
}

/// `POST /admin/v1/tenants/{slug}/reset` body (may be empty).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    #[serde(default)]
    keep_directory: Option<bool>,
}

async fn reset(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, body: Bytes) -> Result<Json<Value>, AdminError> {
    let t = load_tenant(&st, &slug).await?;
    let req: ResetRequest = super::optional_json(&body)?;
    let keep = req.keep_directory.unwrap_or(true);
    let report = tenant_ops::reset(&st.db, t.id, keep).await?;
    st.faults.invalidate(Some(t.id));
    tracing::info!(tenant = %t.slug, keep_directory = keep, "tenant reset");
    Ok(Json(json!({
        "tenant": t.slug,
        "keep_directory": keep,
        "deleted": report.deleted,
        "epoch": report.epoch,
    })))
}
