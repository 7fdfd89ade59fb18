//! The bulk user job: `validate` after an upload (the scheme check, parked as
//! `valid_scheme` / `invalid_scheme`), `apply` after proceed (rows applied in batches by
//! [`bulk_users::apply_batch`], each with its checkpoint, then parked as `finished`).

use std::collections::HashSet;

use serde_json::{json, Value};

use super::file::{merge_attrs, scheme_error, update_error, user_change, validate, Vocabulary};
use crate::domain::bulk_users::{self, UserOutcome};
use crate::domain::jobs::JobOutcome;
use crate::domain::jobs::{self as djobs, Lease};
use crate::domain::{blobs, tenants, DomainError, DomainResult};
use crate::state::JobCtx;

/// Rows applied per transaction.
const CHUNK_ROWS: usize = 500;

/// Runs one claim of a bulk user job.
pub async fn run(ctx: JobCtx) -> JobOutcome {
    let phase = ctx
        .job
        .payload
        .get("phase")
        .and_then(Value::as_str)
        .unwrap_or("validate")
        .to_string();
    let res = if phase == "apply" {
        apply(&ctx).await
    } else {
        validate_job(&ctx).await
    };
    match res {
        Ok(o) => o,
        // The file is gone: nothing to validate.
        Err(DomainError::NotFound(_)) if phase != "apply" => JobOutcome::Parked {
            state: "invalid_scheme".into(),
            result: Some(json!({"total_rows": 0, "scheme_errors": [{"message": "File could not be read", "column": null, "row": null}]})),
        },
        // Transient trouble: leave the lease to run out; the job is claimed again and resumes
        // from its last checkpoint. After 5 attempts it fails for good.
        Err(e) if ctx.job.attempts < 5 => {
            tracing::warn!(job = %ctx.job.id, error = %e, attempt = ctx.job.attempts, "bulk user job will be retried");
            JobOutcome::Abandoned
        }
        Err(e) => {
            tracing::warn!(job = %ctx.job.id, error = %e, "bulk user job failed");
            JobOutcome::Failed {
                error: e.to_string(),
                result: None,
                state: Some(if phase == "apply" { "finished" } else { "invalid_scheme" }.into()),
            }
        }
    }
}

async fn read_file(ctx: &JobCtx) -> DomainResult<Vec<u8>> {
    let blob = ctx.job.blob_id.ok_or(DomainError::NotFound("file"))?;
    blobs::read_all(&ctx.state.db, ctx.job.tenant(), blob).await
}

async fn validate_job(ctx: &JobCtx) -> DomainResult<JobOutcome> {
    let t = ctx.job.tenant();
    let file = read_file(ctx).await?;
    let tenant = tenants::by_id(&ctx.state.db, t).await?;
    let vocab = Vocabulary::load(&ctx.state, &tenant).await?;
    let (rows, mut errors) = validate(&file, &vocab);
    let state = if errors.is_empty() && !rows.is_empty() {
        "valid_scheme"
    } else {
        "invalid_scheme"
    };
    if rows.is_empty() && errors.is_empty() {
        scheme_error(&mut errors, None, "", "File has no users".into());
    }
    // The file may have been replaced (PUT upload) while we validated: then this run is stale.
    let current = djobs::get_owned(&ctx.state.db, t, ctx.job.id, &ctx.worker).await?;
    if current.map(|j| j.blob_id) != Some(ctx.job.blob_id) {
        return Ok(JobOutcome::Abandoned);
    }
    Ok(JobOutcome::Parked {
        state: state.into(),
        result: Some(json!({"total_rows": rows.len(), "scheme_errors": errors})),
    })
}

/// Counts of an apply run, as checkpointed in `jobs.progress`.
#[derive(Clone)]
struct Tally {
    affected: i64,
    failed: i64,
    errors: Vec<Value>,
}

impl Tally {
    /// The tally a checkpoint recorded (zero at the start).
    fn of(p: &Value) -> Tally {
        Tally {
            affected: p.get("affected").and_then(Value::as_i64).unwrap_or(0),
            failed: p.get("failed").and_then(Value::as_i64).unwrap_or(0),
            errors: p.get("update_errors").and_then(Value::as_array).cloned().unwrap_or_default(),
        }
    }
}

async fn apply(ctx: &JobCtx) -> DomainResult<JobOutcome> {
    let t = ctx.job.tenant();
    let db = &ctx.state.db;
    let lease = Lease {
        id: ctx.job.id,
        worker: &ctx.worker,
    };
    let tenant = tenants::by_id(db, t).await?;
    if !djobs::set_state(db, t, lease.id, lease.worker, "in_progress", ctx.state.now(&tenant)).await? {
        return Ok(JobOutcome::Abandoned);
    }
    let file = read_file(ctx).await?;
    let vocab = Vocabulary::load(&ctx.state, &tenant).await?;
    let (rows, scheme) = validate(&file, &vocab);
    let mut next = ctx.job.progress.get("next").and_then(Value::as_u64).unwrap_or(0) as usize;
    let mut tally = Tally::of(&ctx.job.progress);
    if !scheme.is_empty() && next == 0 {
        // Roles, teams or locations changed since validation: report, apply the valid rows.
        for e in &scheme {
            let r = e.get("row").and_then(Value::as_u64).unwrap_or(0) as usize;
            let msg = e.get("message").and_then(Value::as_str).unwrap_or("invalid row").to_string();
            update_error(&mut tally.errors, r, "", msg, "error");
        }
    }
    let bad_rows: HashSet<usize> = scheme
        .iter()
        .filter_map(|e| e.get("row").and_then(Value::as_u64))
        .map(|r| r as usize)
        .collect();
    while next < rows.len() {
        let end = (next + CHUNK_ROWS).min(rows.len());
        let changes = (next..end)
            .map(|i| (!bad_rows.contains(&(i + 1))).then(|| user_change(&rows[i])))
            .collect();
        let start = next;
        let attrs = |k: usize, current: Value| merge_attrs(current, &rows[start + k], &vocab);
        let mut after = None;
        let progress = |outcomes: &[UserOutcome]| {
            let t = count(&tally, start, outcomes, &rows);
            let v = json!({"next": end, "affected": t.affected, "failed": t.failed, "update_errors": t.errors});
            after = Some(t);
            v
        };
        let now = ctx.state.now(&tenant);
        if bulk_users::apply_batch(db, t, lease, changes, attrs, progress, now)
            .await?
            .is_none()
        {
            return Ok(JobOutcome::Abandoned);
        }
        tally = after.ok_or_else(|| DomainError::Internal("no checkpoint".into()))?;
        next = end;
    }
    Ok(JobOutcome::Parked {
        state: "finished".into(),
        result: Some(json!({"total_rows": rows.len(), "scheme_errors": []})),
    })
}

/// The tally after a batch whose first row is `rows[start]`.
fn count(before: &Tally, start: usize, outcomes: &[UserOutcome], rows: &[serde_json::Map<String, Value>]) -> Tally {
    let mut t = before.clone();
    for (k, o) in outcomes.iter().enumerate() {
        let r = start + k + 1;
        match o {
            UserOutcome::NewEmailTaken(ne) => update_error(
                &mut t.errors,
                r,
                "new_email",
                format!("new_email {ne} already belongs to another user"),
                "error",
            ),
            UserOutcome::CreatedIgnoringNewEmail(ne) => {
                let email = user_change(&rows[start + k]).email;
                update_error(
                    &mut t.errors,
                    r,
                    "new_email",
                    format!("no user with email {email}: created with that email, new_email {ne} ignored"),
                    "warning",
                );
            }
            _ => {}
        }
        if o.applied() {
            t.affected += 1;
        } else {
            t.failed += 1;
        }
    }
    t
}
