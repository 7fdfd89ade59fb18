//! Faults and latency injected into a tenant's traffic: storage, the shared counters and
//! the per-process cache of each tenant's faults.
//!
//! A fault is data (what to match, what to do, how often); matching requests and acting
//! on them is the HTTP side's business (`crate::controls::faults`). The counters that must
//! agree between replicas live in Postgres: `matched` (the n of a seeded fault's n-th
//! matching request) and `remaining` (of a fault limited to `times`), each moved by one
//! atomic statement; a fault whose `remaining` reaches zero is deleted.
//!
//! [`FaultCache`] keeps every tenant's fault definitions per process, so a tenant without
//! faults costs no query. A trigger on `faults` sends `NOTIFY switchboard_faults '<tenant
//! id>'` from the very transaction that changes a definition; a listener task (started by
//! the first lookup) drops that tenant's entry. Until the listener is subscribed, and
//! whenever its connection was lost, the cache answers from the database only.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, PgPool, Row};
use uuid::Uuid;

use super::{DomainError, DomainResult, TenantId};

/// The channel of the invalidation notifications.
pub const CHANNEL: &str = "switchboard_faults";

/// What a fault does.
pub mod kind {
    pub const STATUS: &str = "status";
    pub const DELAY: &str = "delay";
    pub const RESET: &str = "reset";
    pub const TIMEOUT: &str = "timeout";
    pub const MALFORMED: &str = "malformed";
    /// Every kind, in the order counters and documents list them.
    pub const ALL: [&str; 5] = [STATUS, DELAY, RESET, TIMEOUT, MALFORMED];
}

/// Longest `delay_ms` a fault may ask for (10 minutes).
pub const MAX_DELAY_MS: i32 = 600_000;

/// One stored fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// Only requests to this front door (None: every one).
    pub dialect: Option<String>,
    /// Only this HTTP method (upper case; None: every one).
    pub method: Option<String>,
    /// Glob (`*` any run of characters, `?` one) on the request path or operation name.
    pub path: String,
    pub kind: String,
    pub status: Option<i32>,
    /// Replaces the answer's body (`status` faults).
    pub body: Option<Value>,
    pub retry_after: Option<i32>,
    pub delay_ms: Option<i32>,
    /// For front doors with two error shapes, which one a `status` fault uses.
    pub shape: Option<String>,
    pub probability: f64,
    pub seed: Option<i64>,
    pub times: Option<i32>,
    pub remaining: Option<i32>,
    pub matched: i64,
    pub created_at: DateTime<Utc>,
}

/// A new fault (validated by [`create`]).
#[derive(Debug, Clone, Default)]
pub struct NewFault {
    pub dialect: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub kind: String,
    pub status: Option<i32>,
    pub body: Option<Value>,
    pub retry_after: Option<i32>,
    pub delay_ms: Option<i32>,
    pub shape: Option<String>,
    pub probability: Option<f64>,
    pub seed: Option<i64>,
    pub times: Option<i32>,
}

const COLS: &str = "id, tenant_id, dialect, method, path, kind, status, body, retry_after, delay_ms, shape, \
                    probability, seed, times, remaining, matched, created_at";

fn from_row(r: &PgRow) -> Result<Fault, sqlx::Error> {
    Ok(Fault {
        id: r.try_get("id")?,
        tenant_id: TenantId(r.try_get("tenant_id")?),
        dialect: r.try_get("dialect")?,
        method: r.try_get("method")?,
        path: r.try_get("path")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        body: r.try_get("body")?,
        retry_after: r.try_get("retry_after")?,
        delay_ms: r.try_get("delay_ms")?,
        shape: r.try_get("shape")?,
        probability: r.try_get("probability")?,
        seed: r.try_get("seed")?,
        times: r.try_get("times")?,
        remaining: r.try_get("remaining")?,
        matched: r.try_get("matched")?,
        created_at: r.try_get("created_at")?,
    })
}

fn invalid(field: &str, message: impl Into<String>) -> DomainError {
    DomainError::Validation {
        field: field.into(),
        message: message.into(),
    }
}

fn validate(f: &NewFault) -> DomainResult<()> {
    if !kind::ALL.contains(&f.kind.as_str()) {
        return Err(invalid("kind", format!("must be one of {}", kind::ALL.join(", "))));
    }
    if let Some(p) = f.probability {
        if !(0.0..=1.0).contains(&p) || p.is_nan() {
            return Err(invalid("probability", "must be between 0 and 1"));
        }
    }
    if let Some(s) = f.status {
        if !(400..=599).contains(&s) {
            return Err(invalid("status", "must be an HTTP error status, 400 to 599"));
        }
    }
    if let Some(d) = f.delay_ms {
        if !(0..=MAX_DELAY_MS).contains(&d) {
            return Err(invalid("delay_ms", format!("must be between 0 and {MAX_DELAY_MS}")));
        }
    }
    if f.kind == kind::DELAY && f.delay_ms.is_none() {
        return Err(invalid("delay_ms", "is required for a delay fault"));
    }
    if let Some(r) = f.retry_after {
        if r < 0 {
            return Err(invalid("retry_after", "must not be negative"));
        }
    }
    if let Some(t) = f.times {
        if t < 1 {
            return Err(invalid("times", "must be at least 1"));
        }
    }
    if let Some(p) = &f.path {
        if p.trim().is_empty() || p.contains('\0') {
            return Err(invalid("path", "must be a non-empty glob"));
        }
    }
    if let Some(m) = &f.method {
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(invalid("method", "must be an HTTP method such as GET"));
        }
    }
    Ok(())
}

/// Creates a fault (its creation time is the tenant's `now`).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create<'e>(db: impl PgExecutor<'e>, tenant: TenantId, f: NewFault, now: DateTime<Utc>) -> DomainResult<Fault> {
    validate(&f)?;
    let sql = format!(
        "INSERT INTO faults (id, tenant_id, dialect, method, path, kind, status, body, retry_after, delay_ms, shape,
                             probability, seed, times, remaining, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)
         RETURNING {COLS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::new_v4())
        .bind(tenant.0)
        .bind(f.dialect)
        .bind(f.method.map(|m| m.to_ascii_uppercase()))
        .bind(f.path.map(|p| p.trim().to_string()).unwrap_or_else(|| "*".into()))
        .bind(f.kind)
        .bind(f.status)
        .bind(f.body)
        .bind(f.retry_after)
        .bind(f.delay_ms)
        .bind(f.shape)
        .bind(f.probability.unwrap_or(1.0))
        .bind(f.seed)
        .bind(f.times)
        .bind(now)
        .fetch_one(db)
        .await?;
    Ok(from_row(&row)?)
}

/// The tenant's faults in creation order.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<Fault>> {
    let sql = format!("SELECT {COLS} FROM faults WHERE tenant_id = $1 ORDER BY seq");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0).fetch_all(db).await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Removes one fault (another tenant's id: not found).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn delete<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<()> {
    let n = sqlx::query("DELETE FROM faults WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .execute(db)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(DomainError::NotFound("fault"));
    }
    Ok(())
}

/// Removes every fault of the tenant; returns how many there were.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn delete_all<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<u64> {
    Ok(sqlx::query("DELETE FROM faults WHERE tenant_id = $1")
        .bind(tenant.0)
        .execute(db)
        .await?
        .rows_affected())
}

/// Counts one more request matching a seeded fault; returns its n (1 for the first), or
/// None when the fault is gone.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn next_match<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE faults SET matched = matched + 1
          WHERE tenant_id = $1 AND id = $2 AND (remaining IS NULL OR remaining > 0)
          RETURNING matched",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Takes one firing of a fault limited to `times`: false when none is left (another
/// request, maybe on another replica, took the last). The fault is deleted with its last
/// firing, in the same transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn take_one(db: &PgPool, tenant: TenantId, id: Uuid) -> DomainResult<bool> {
    let mut tx = db.begin().await?;
    let left: Option<i32> = sqlx::query_scalar(
        "UPDATE faults SET remaining = remaining - 1
          WHERE tenant_id = $1 AND id = $2 AND remaining > 0
          RETURNING remaining",
    )
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if left == Some(0) {
        sqlx::query("DELETE FROM faults WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(left.is_some())
}

/// Every tenant's faults, per process, kept correct through `LISTEN/NOTIFY`.
#[derive(Debug, Default)]
pub struct FaultCache {
    map: DashMap<TenantId, Arc<[Fault]>>,
    /// Bumped by every invalidation, so a load that raced one is not stored.
    generation: AtomicU64,
    /// The listener is subscribed: entries may be stored and used.
    listening: AtomicBool,
    /// The listener task was started.
    started: AtomicBool,
}

impl FaultCache {
    /// The tenant's faults in creation order (empty for most tenants: no query then).
    pub async fn for_tenant(self: &Arc<Self>, db: &PgPool, tenant: TenantId) -> DomainResult<Arc<[Fault]>> {
        self.start(db);
        let listening = self.listening.load(Ordering::Acquire);
        if listening {
            if let Some(v) = self.map.get(&tenant) {
                return Ok(v.clone());
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let faults: Arc<[Fault]> = list(db, tenant).await?.into();
        if listening && self.generation.load(Ordering::Acquire) == generation {
            self.map.insert(tenant, faults.clone());
        }
        Ok(faults)
    }

    /// Whether the listener is subscribed (entries are kept only then).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Whether the tenant's faults are cached (its next lookup costs no query).
    pub fn is_cached(&self, tenant: TenantId) -> bool {
        self.map.contains_key(&tenant)
    }

    /// Forgets one tenant's faults (`None`: every tenant's).
    pub fn invalidate(&self, tenant: Option<TenantId>) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match tenant {
            Some(t) => {
                self.map.remove(&t);
            }
            None => self.map.clear(),
        }
    }

    fn start(self: &Arc<Self>, db: &PgPool) {
        if self.started.load(Ordering::Acquire) || self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.started.store(false, Ordering::Release);
            return;
        };
        rt.spawn(super::notify::listen(db.clone(), CHANNEL, Arc::downgrade(self)));
    }

    fn set_listening(&self, on: bool) {
        self.listening.store(on, Ordering::Release);
        self.invalidate(None);
    }
}

impl super::notify::Notified for FaultCache {
    const NAME: &'static str = "fault cache";

    fn set_listening(&self, on: bool) {
        FaultCache::set_listening(self, on)
    }

    fn heard(&self, payload: &str) {
        self.invalidate(Uuid::try_parse(payload).ok().map(TenantId))
    }

    fn lost(&self) {
        self.invalidate(None)
    }
}
