//! The scheduler loop: every `tick_ms`, each tenant with engine work is run up to its
//! clock's now by the attempt runner ([`super::attempts::run_tenant`], which documents
//! the steps). The admin clock calls [`tick_once`] after every change, so advancing a
//! tenant's clock runs everything that fell due, in order, before the call returns.
//!
//! Any number of replicas may run this loop on one database: the runner claims
//! campaigns, contacts and attempts with `SKIP LOCKED`, and campaign status changes only
//! through `domain::campaigns::transition`.

use std::time::Duration;

use tokio::sync::watch;

use crate::domain::{attempts, DomainResult, TenantId};
use crate::state::AppState;

/// SQL expression of a tenant's now, given the process now as `$1` and the tenant as `t`.
pub const TENANT_NOW: &str = "COALESCE(t.clock_frozen_at, $1::timestamptz + make_interval(secs => t.clock_offset_seconds))";

/// The scheduler loop.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let tick = Duration::from_millis(state.config.tick_ms);
    loop {
        if let Err(e) = tick_once(&state).await {
            tracing::warn!(error = %e, "scheduler tick failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One pass of the scheduler (public so tests and the admin clock can drive it): every
/// tenant with work is run up to its now. A tenant whose run fails is logged and the
/// others go on.
pub async fn tick_once(state: &AppState) -> DomainResult<()> {
    let _pass = state.scheduler_lock.lock().await;
    let base = state.clock.now();
    for (tenant, now) in attempts::busy_tenants(&state.db, base).await? {
        if let Err(e) = super::attempts::run_tenant(state, TenantId(tenant), now).await {
            tracing::warn!(tenant = %tenant, error = %e, "engine run failed");
        }
    }
    Ok(())
}
