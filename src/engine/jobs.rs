//! The job worker: claims due jobs of the kinds it was handed and runs them.
//!
//! The handlers (and their types, [`JobHandler`] and friends, from `domain::jobs`) come
//! from the entry point (`lib.rs` passes every dialect's); the engine imports no dialect.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use crate::domain::jobs as djobs;
use crate::state::AppState;

pub use crate::domain::jobs::{JobFuture, JobOutcome};
pub use crate::state::{JobCtx, JobHandler};

/// Lease of a claimed job, renewed every third of it while the handler runs.
pub const LEASE_SECS: i64 = 30;

/// Job handlers by kind, as the entry point hands them over (e.g. every dialect's).
pub fn registry(handlers: impl IntoIterator<Item = (&'static str, JobHandler)>) -> HashMap<String, JobHandler> {
    handlers.into_iter().map(|(k, h)| (k.to_string(), h)).collect()
}

/// The worker loop (at most 2 jobs at a time per process).
pub async fn run(state: AppState, handlers: HashMap<String, JobHandler>, mut shutdown: watch::Receiver<bool>) {
    if handlers.is_empty() {
        return;
    }
    let kinds: Vec<String> = handlers.keys().cloned().collect();
    let slots = Arc::new(Semaphore::new(2));
    let tick = Duration::from_millis(state.config.tick_ms);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.changed() => return,
        };
        match djobs::claim(&state.db, &state.worker_id, &kinds, LEASE_SECS).await {
            Ok(Some(job)) => {
                let Some(handler) = handlers.get(&job.kind).cloned() else {
                    continue;
                };
                let ctx = JobCtx {
                    state: state.clone(),
                    job,
                    worker: state.worker_id.clone(),
                };
                tokio::spawn(async move {
                    run_one(ctx, handler).await;
                    drop(permit);
                });
                continue; // look for more work at once
            }
            Ok(None) => drop(permit),
            Err(e) => {
                tracing::warn!(error = %e, "job claim failed");
                drop(permit);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn run_one(ctx: JobCtx, handler: JobHandler) {
    let id = ctx.job.id;
    let kind = ctx.job.kind.clone();
    let db = ctx.state.db.clone();
    let worker = ctx.worker.clone();
    let attempt = ctx.job.attempts;
    tracing::info!(job = %id, %kind, attempt, "job started");
    // Renew the lease while the handler runs.
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let renew = {
        let db = db.clone();
        let worker = worker.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs((LEASE_SECS / 3) as u64)) => {}
                    _ = stop_rx.changed() => return,
                }
                match djobs::renew(&db, id, &worker, LEASE_SECS).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(job = %id, error = %e, "lease renewal failed"),
                }
            }
        })
    };
    let outcome = match tokio::spawn(handler(ctx)).await {
        Ok(o) => o,
        Err(e) => JobOutcome::Failed {
            error: format!("internal error: {e}"),
            result: None,
            state: None,
        },
    };
    let _ = stop_tx.send(true);
    let _ = renew.await;
    let res = match &outcome {
        JobOutcome::Completed { result, state } => {
            djobs::finish(
                &db,
                id,
                &worker,
                djobs::status::COMPLETED,
                state.as_deref(),
                Some(result.clone()),
                None,
            )
            .await
        }
        JobOutcome::Failed { error, result, state } => {
            djobs::finish(
                &db,
                id,
                &worker,
                djobs::status::FAILED,
                state.as_deref(),
                result.clone(),
                Some(error),
            )
            .await
        }
        JobOutcome::Parked { state, result } => {
            djobs::finish(&db, id, &worker, djobs::status::COMPLETED, Some(state), result.clone(), None).await
        }
        JobOutcome::Abandoned => Ok(false),
        JobOutcome::Retry { error, .. } if attempt >= djobs::MAX_ATTEMPTS => {
            let error = format!("gave up after {attempt} attempts: {error}");
            djobs::finish(&db, id, &worker, djobs::status::FAILED, None, None, Some(&error)).await
        }
        JobOutcome::Retry { error, after } => djobs::retry_later(&db, id, &worker, error, *after).await,
    };
    match res {
        Ok(_) => tracing::info!(job = %id, %kind, outcome = ?std::mem::discriminant(&outcome), "job ended"),
        Err(e) => tracing::warn!(job = %id, error = %e, "could not record job outcome"),
    }
}
