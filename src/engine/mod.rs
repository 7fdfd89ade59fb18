//! What makes time pass: the campaign scheduler and the job worker.
//!
//! Both are loops polling Postgres every `tick_ms`; any number of replicas may run them
//! (campaign rows are taken with `FOR UPDATE SKIP LOCKED`, jobs by lease).

pub mod carrier;
pub mod http_out;
pub mod jobs;
pub mod scheduler;

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
