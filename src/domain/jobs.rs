//! Jobs: async work (imports, bulk user updates, …) stored in Postgres.
//!
//! Workers claim due rows with `FOR UPDATE SKIP LOCKED` and hold a lease
//! (`locked_by`, `locked_until`) they renew while working; a job whose worker died is
//! claimed again when its lease runs out, so jobs survive restarts. Handlers that write
//! data record their progress with [`checkpoint`] in the same transaction as the data, so
//! a resumed job continues where the last commit left it and never applies a row twice.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::{DomainError, DomainResult, TenantId};

/// Job statuses (`jobs.status`). Dialects keep their own finer state in `jobs.state`.
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const RUNNING: &str = "running";
    pub const COMPLETED: &str = "completed";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
}

/// A job row.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Job {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub kind: String,
    pub status: String,
    pub state: Option<String>,
    pub epoch: i64,
    pub payload: serde_json::Value,
    pub progress: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub blob_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Job {
    /// The tenant of the job.
    pub fn tenant(&self) -> TenantId {
        TenantId(self.tenant_id)
    }
}

/// Columns of [`Job`].
pub const COLS: &str = "id, seq, tenant_id, kind, status, state, epoch, payload, progress, result, error, blob_id, campaign_id, attempts, run_at, locked_by, locked_until, created_at, updated_at";

/// What a handler decides about its job.
#[derive(Debug)]
pub enum JobOutcome {
    /// Done: status `completed`, with a result and an optional dialect state.
    Completed { result: serde_json::Value, state: Option<String> },
    /// Failed for good: status `failed`.
    Failed {
        error: String,
        result: Option<serde_json::Value>,
        state: Option<String>,
    },
    /// Parked: the job waits for a user action (status `queued` would run it again, so it
    /// is set to `completed` at the worker level and the dialect state carries the meaning).
    Parked { state: String, result: Option<serde_json::Value> },
    /// The job is no longer ours (tenant reset, lease lost): write nothing more.
    Abandoned,
    /// Failed for now: the worker queues the job again to run `after` from now (real time:
    /// the job's schedule, as `run_at`), keeping its attempt count; after
    /// [`MAX_ATTEMPTS`] attempts it gives up and the job is `failed` with `error`.
    Retry { error: String, after: std::time::Duration },
}

/// A running job's context: the application state `S` (the entry point's, handed through
/// the engine), the job and this worker's id (for checkpoints).
#[derive(Clone)]
pub struct JobCtx<S> {
    pub state: S,
    pub job: Job,
    pub worker: Arc<str>,
}

/// What a job handler returns.
pub type JobFuture = Pin<Box<dyn Future<Output = JobOutcome> + Send>>;
/// A job handler function. Dialects register theirs by job kind; the entry point
/// (`lib.rs`) hands them to the engine, which imports no dialect.
pub type JobHandler<S> = Arc<dyn Fn(JobCtx<S>) -> JobFuture + Send + Sync>;

/// Fields of a new job.
#[derive(Debug, Clone, Default)]
pub struct NewJob {
    pub kind: String,
    /// `queued` (the worker runs it) unless given, e.g. a job that waits for a user action.
    pub status: Option<String>,
    pub state: Option<String>,
    pub payload: serde_json::Value,
    pub blob_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
}

/// Stores a new job.
pub async fn enqueue<'e>(db: impl PgExecutor<'e>, tenant: TenantId, j: NewJob, now: DateTime<Utc>) -> DomainResult<Job> {
    let sql = format!(
        "INSERT INTO jobs (id, tenant_id, kind, status, state, epoch, payload, blob_id, campaign_id, run_at, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, t.epoch, $6, $7, $8, now(), $9, $9 FROM tenants t WHERE t.id = $2
         RETURNING {COLS}"
    );
    let payload = if j.payload.is_null() { serde_json::json!({}) } else { j.payload };
    sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::new_v4())
        .bind(tenant.0)
        .bind(&j.kind)
        .bind(j.status.as_deref().unwrap_or(status::QUEUED))
        .bind(&j.state)
        .bind(payload)
        .bind(j.blob_id)
        .bind(j.campaign_id)
        .bind(now)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("tenant"))
}

/// One job of the tenant.
pub async fn get<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Job> {
    let sql = format!("SELECT {COLS} FROM jobs WHERE tenant_id = $1 AND id = $2");
    sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("job"))
}

/// One job of the tenant by integer id.
pub async fn get_by_seq<'e>(db: impl PgExecutor<'e>, tenant: TenantId, seq: i64) -> DomainResult<Job> {
    let sql = format!("SELECT {COLS} FROM jobs WHERE tenant_id = $1 AND seq = $2");
    sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(seq)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("job"))
}

/// Claims one due job of the given kinds for `worker`, with a lease of `lease_secs`.
pub async fn claim<'e>(db: impl PgExecutor<'e>, worker: &str, kinds: &[String], lease_secs: i64) -> DomainResult<Option<Job>> {
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = now() + make_interval(secs => $3),
                attempts = attempts + 1, updated_at = now()
          WHERE id = (
             SELECT j.id FROM jobs j JOIN tenants t ON t.id = j.tenant_id
              WHERE j.kind = ANY($2) AND j.run_at <= now() AND j.epoch = t.epoch
                AND (j.status = 'queued' OR (j.status = 'running' AND j.locked_until < now()))
              ORDER BY j.run_at, j.seq
              LIMIT 1 FOR UPDATE OF j SKIP LOCKED)
          RETURNING {COLS}"
    );
    Ok(sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
        .bind(worker)
        .bind(kinds)
        .bind(lease_secs as f64)
        .fetch_optional(db)
        .await?)
}

/// Renews the lease; false when the job is no longer this worker's (deleted by a tenant
/// reset, or taken over), in which case the handler must stop without writing.
pub async fn renew<'e>(db: impl PgExecutor<'e>, id: Uuid, worker: &str, lease_secs: i64) -> DomainResult<bool> {
    Ok(sqlx::query(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3)
          WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(lease_secs as f64)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Records progress inside the transaction that wrote the data it describes. Returns
/// false (and the caller must roll back) when the job is no longer this worker's.
pub async fn checkpoint(tx: &mut PgConnection, id: Uuid, worker: &str, progress: &serde_json::Value) -> DomainResult<bool> {
    Ok(sqlx::query(
        "UPDATE jobs SET progress = $3, updated_at = now()
          WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(progress)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

/// Locks the job row for this worker inside a transaction (use before writing data).
pub async fn lock_owned(tx: &mut PgConnection, id: Uuid, worker: &str) -> DomainResult<bool> {
    Ok(
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM jobs WHERE id = $1 AND locked_by = $2 AND status = 'running' FOR UPDATE")
            .bind(id)
            .bind(worker)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
    )
}

/// Ends a job: `status` completed/failed (or back to queued with a state for jobs that
/// wait for the user), with its result, error and dialect state.
pub async fn finish<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    worker: &str,
    status: &str,
    state: Option<&str>,
    result: Option<serde_json::Value>,
    error: Option<&str>,
) -> DomainResult<bool> {
    Ok(sqlx::query(
        "UPDATE jobs SET status = $3, state = COALESCE($4, state), result = COALESCE($5, result), error = $6,
                locked_by = NULL, locked_until = NULL, updated_at = now()
          WHERE id = $1 AND locked_by = $2",
    )
    .bind(id)
    .bind(worker)
    .bind(status)
    .bind(state)
    .bind(result)
    .bind(error)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// The job, if `worker` still holds it (it was not taken over or deleted meanwhile).
pub async fn get_owned<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid, worker: &str) -> DomainResult<Option<Job>> {
    let sql = format!("SELECT {COLS} FROM jobs WHERE tenant_id = $1 AND id = $2 AND locked_by = $3");
    Ok(sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .bind(worker)
        .fetch_optional(db)
        .await?)
}

/// Sets the dialect state of a job that `worker` holds; false when it holds it no more.
pub async fn set_state<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    id: Uuid,
    worker: &str,
    state: &str,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    Ok(
        sqlx::query("UPDATE jobs SET state = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND locked_by = $3")
            .bind(tenant.0)
            .bind(id)
            .bind(worker)
            .bind(state)
            .bind(now)
            .execute(db)
            .await?
            .rows_affected()
            == 1,
    )
}

/// How many jobs of `kind` the tenant has.
pub async fn count_of_kind<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str) -> DomainResult<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM jobs WHERE tenant_id = $1 AND kind = $2")
        .bind(tenant.0)
        .bind(kind)
        .fetch_one(db)
        .await?)
}

/// A page of the tenant's jobs of `kind`, newest first.
pub async fn page_of_kind<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str, limit: i64, offset: i64) -> DomainResult<Vec<Job>> {
    let sql = format!("SELECT {COLS} FROM jobs WHERE tenant_id = $1 AND kind = $2 ORDER BY seq DESC LIMIT $3 OFFSET $4");
    Ok(sqlx::query_as::<_, Job>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(kind)
        .bind(limit)
        .bind(offset)
        .fetch_all(db)
        .await?)
}

/// A parked job sent back to the worker (see [`requeue`]).
#[derive(Debug, Clone, Default)]
pub struct Requeue<'a> {
    /// Only if the job's payload does not have `key` = `value` (a step already requested
    /// by a concurrent call).
    pub unless_payload: Option<(&'a str, &'a str)>,
    /// Only if the job has this status and dialect state.
    pub when_status: Option<&'a str>,
    pub when_state: Option<&'a str>,
    /// A new input file: it replaces the old one, which is deleted with the change; when
    /// the job is not requeued, the new file is deleted instead.
    pub blob_id: Option<Uuid>,
    /// A new dialect state.
    pub state: Option<&'a str>,
    /// Start over: no result, error or lease.
    pub reset: bool,
    /// Merged into the payload.
    pub payload: serde_json::Value,
}

/// Queues a job of the tenant to run again from scratch (attempts 0, empty progress), in
/// one transaction with the file change of [`Requeue::blob_id`]. False when the job did
/// not meet the conditions (nothing changed).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn requeue(db: &sqlx::PgPool, tenant: TenantId, id: Uuid, r: Requeue<'_>, now: DateTime<Utc>) -> DomainResult<bool> {
    let mut tx = db.begin().await?;
    let old: Option<Option<Uuid>> = sqlx::query_scalar("SELECT blob_id FROM jobs WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let (unless_key, unless_value) = r.unless_payload.unzip();
    let payload = if r.payload.is_null() { serde_json::json!({}) } else { r.payload };
    // `run_at` is the worker's schedule (real time, as in `enqueue` and `claim`); the
    // row's `updated_at` is on the tenant clock.
    let n = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = 0, progress = '{}'::jsonb, run_at = now(), updated_at = $9,
                blob_id = COALESCE($6, blob_id), state = COALESCE($7, state), payload = payload || $8,
                result = CASE WHEN $10 THEN NULL ELSE result END, error = CASE WHEN $10 THEN NULL ELSE error END,
                locked_by = CASE WHEN $10 THEN NULL ELSE locked_by END,
                locked_until = CASE WHEN $10 THEN NULL ELSE locked_until END
          WHERE tenant_id = $1 AND id = $2
            AND ($3::text IS NULL OR payload->>$3 IS DISTINCT FROM $4)
            AND ($5::text IS NULL OR status = $5) AND ($11::text IS NULL OR state = $11)",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(unless_key)
    .bind(unless_value)
    .bind(r.when_status)
    .bind(r.blob_id)
    .bind(r.state)
    .bind(payload)
    .bind(now)
    .bind(r.reset)
    .bind(r.when_state)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let drop = match (n, r.blob_id) {
        (0, new) => new,
        (_, Some(new)) => old.flatten().filter(|o| *o != new),
        (_, None) => None,
    };
    if let Some(b) = drop {
        super::blobs::delete(&mut *tx, tenant, b).await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// Stores an uploaded file and the job that reads it, in one transaction (no file
/// without a job). `job` builds the job from the stored file.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn enqueue_with_file<S, E>(
    db: &sqlx::PgPool,
    tenant: TenantId,
    file: super::blobs::Upload<'_, S>,
    job: impl FnOnce(&super::blobs::Blob) -> NewJob,
    now: DateTime<Utc>,
) -> DomainResult<(super::blobs::Blob, Job)>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut tx = db.begin().await?;
    let blob = super::blobs::store_in(&mut tx, tenant, file.filename, file.content_type, file.stream, file.max).await?;
    let mut new = job(&blob);
    new.blob_id = Some(blob.id);
    let job = enqueue(&mut *tx, tenant, new, now).await?;
    tx.commit().await?;
    Ok((blob, job))
}

/// A job and the worker that holds it, for writes that checkpoint the job.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub id: Uuid,
    pub worker: &'a str,
}

/// Jobs by (kind, status) over all tenants: an operator's aggregate for the metrics
/// gauge (no tenant data leaves it; kinds and statuses are fixed vocabularies).
pub async fn count_by_kind_status<'e>(db: impl PgExecutor<'e>) -> DomainResult<Vec<(String, String, i64)>> {
    Ok(
        sqlx::query_as("SELECT kind, status, count(*) FROM jobs GROUP BY kind, status ORDER BY kind, status")
            .fetch_all(db)
            .await?,
    )
}

/// Attempts of a job whose handler answers [`JobOutcome::Retry`] before the worker gives up.
pub const MAX_ATTEMPTS: i32 = 5;

/// Exponential backoff: `base` before the second attempt, doubling after each failed
/// attempt (`attempt` = the attempt that just failed, 1-based), at most one hour.
pub fn backoff(base: std::time::Duration, attempt: i32) -> std::time::Duration {
    let doublings = attempt.saturating_sub(1).clamp(0, 20) as u32;
    base.saturating_mul(1u32 << doublings).min(std::time::Duration::from_secs(3600))
}

/// Queues a job that `worker` holds again, to run `after` from now (real time, like
/// `run_at` everywhere), with `error` as its last error; its attempt count is kept. False
/// when the worker no longer holds it.
pub async fn retry_later<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    worker: &str,
    error: &str,
    after: std::time::Duration,
) -> DomainResult<bool> {
    Ok(sqlx::query(
        "UPDATE jobs SET status = 'queued', error = $3, run_at = now() + make_interval(secs => $4),
                locked_by = NULL, locked_until = NULL, updated_at = now()
          WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(error)
    .bind(after.as_secs_f64())
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

#[cfg(test)]
mod retry_tests {
    use std::time::Duration;

    #[test]
    fn backoff_doubles_from_the_base() {
        let b = Duration::from_secs(1);
        assert_eq!(super::backoff(b, 1), Duration::from_secs(1));
        assert_eq!(super::backoff(b, 2), Duration::from_secs(2));
        assert_eq!(super::backoff(b, 4), Duration::from_secs(8));
        assert_eq!(super::backoff(b, 100), Duration::from_secs(3600));
        assert_eq!(super::backoff(Duration::from_millis(50), 3), Duration::from_millis(200));
    }
}
