//! What makes time pass: the campaign scheduler, the attempt runner and the job worker.
//!
//! Both are loops polling Postgres every `tick_ms`; any number of replicas may run them
//! (contacts and attempts are claimed with `FOR UPDATE SKIP LOCKED`, jobs by lease). The
//! attempt runner is documented in [`attempts`], the carriers in [`carrier`].

pub mod attempts;
pub mod carrier;
pub mod http_out;
pub mod jobs;
pub mod scheduler;
pub mod singles;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::state::JobHandler;

/// Starts the engine loops with the given job handlers (by kind); they stop when
/// `shutdown` turns true.
pub fn spawn(
    state: AppState,
    handlers: impl IntoIterator<Item = (&'static str, JobHandler)>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let handlers = jobs::registry(handlers);
    vec![
        tokio::spawn(scheduler::run(state.clone(), shutdown.clone())),
        tokio::spawn(jobs::run(state, handlers, shutdown)),
    ]
}

/// The settings keys the engine owns: `carrier` (`simulated` by default; see
/// [`carrier::NAMES`]; shown once set).
pub const SETTINGS: &[crate::domain::tenants::Setting] = &[crate::domain::tenants::Setting {
    key: "carrier",
    kind: crate::domain::tenants::SettingKind::OneOf(carrier::NAMES),
    listed: false,
}];
