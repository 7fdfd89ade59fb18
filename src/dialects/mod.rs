//! The five vendor dialects: thin adapters from each vendor's wire shape to the domain.

pub mod apps;
pub mod campaign_manager;
pub mod leads;
pub mod onc;
pub mod outbound_dialer;

use axum::Router;

use crate::domain::tenants::{Provisioner, Registry};
use crate::state::AppState;
use crate::state::JobHandler;

/// Every dialect's routes (their path prefixes do not collide).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(onc::router())
        .merge(leads::router())
        .merge(campaign_manager::router())
        .merge(apps::router())
        .merge(outbound_dialer::router())
}

/// Every dialect's job handlers, by job kind.
pub fn job_handlers() -> Vec<(&'static str, JobHandler)> {
    let mut all = Vec::new();
    all.extend(onc::job_handlers());
    all.extend(leads::job_handlers());
    all.extend(campaign_manager::job_handlers());
    all.extend(apps::job_handlers());
    all.extend(outbound_dialer::job_handlers());
    all
}

/// What the dialects add to a tenant: their credentials' provisioners (in the order of the
/// provisioning answer; the outbound dialer shares the Apps credential) and the settings
/// keys they own (in the order an operator sees them).
pub fn tenant_registry() -> Registry {
    let provisioners: Vec<&'static dyn Provisioner> = vec![
        &onc::tenant::OncProvisioner,
        &leads::tenant::LeadsProvisioner,
        &campaign_manager::tenant::CmProvisioner,
        &apps::tenant::AppsProvisioner,
    ];
    let mut settings = [apps::tenant::SETTINGS, leads::tenant::SETTINGS, onc::tenant::SETTINGS].concat();
    settings.extend_from_slice(crate::controls::journal::SETTINGS);
    settings.extend_from_slice(crate::engine::SETTINGS);
    settings.extend_from_slice(crate::domain::webhooks::SETTINGS);
    Registry { provisioners, settings }
}
