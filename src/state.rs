//! The application state every handler gets.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::config::Config;
use crate::domain::caches::ReadCache;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::credentials::CredentialCache;
use crate::domain::faults::FaultCache;
use crate::domain::ratelimit::RateLimiter;
use crate::domain::tenants::{Registry, Tenant};

/// Shared state: a cheap handle (one reference count per clone: handlers, extractors and
/// middlewares clone it on every request) to [`State`].
#[derive(Clone)]
pub struct AppState(Arc<State>);

impl std::ops::Deref for AppState {
    type Target = State;

    fn deref(&self) -> &State {
        &self.0
    }
}

/// The pool, config, clock and in-process caches. Nothing here must be shared between
/// replicas; everything that must lives in Postgres.
#[derive(Clone)]
pub struct State {
    pub db: PgPool,
    /// Connections beside the pool for single autocommit statements on the hottest write
    /// path (no ping per release; `db::lane`).
    pub lane: crate::db::lane::Lane,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub admin_token: Arc<str>,
    pub creds: Arc<CredentialCache>,
    pub limiter: Arc<RateLimiter>,
    /// HS256 key of Leads access tokens (from config, else generated once into the database).
    pub jwt_secret: Arc<[u8]>,
    /// Identifies this process as a job worker.
    pub worker_id: Arc<str>,
    /// Serialises scheduler passes of this process (the loop and passes driven by tests or
    /// the admin clock), so a pass never races another one of the same process.
    pub scheduler_lock: Arc<tokio::sync::Mutex<()>>,
    /// The dialects' credential provisioners and settings keys.
    pub tenants: Arc<Registry>,
    /// Verified credentials, tenants, directory read models and sessions (kept correct
    /// through LISTEN/NOTIFY; `domain::caches`).
    pub reads: Arc<ReadCache>,
    /// Every tenant's injected faults (kept correct through LISTEN/NOTIFY).
    pub faults: Arc<FaultCache>,
    /// The request journal's channel to this process's writer.
    pub journal: crate::controls::journal::Journal,
    /// This process's metrics (`GET /metrics`).
    pub metrics: Arc<crate::observability::Metrics>,
}

/// A job's context with this application's state.
pub type JobCtx = crate::domain::jobs::JobCtx<AppState>;
/// A job handler over this application's state.
pub type JobHandler = crate::domain::jobs::JobHandler<AppState>;

impl AppState {
    /// Builds the state; generates and stores the shared secrets on first use.
    pub async fn new(db: PgPool, config: Config, admin_token: String, tenants: Registry) -> Result<Self, sqlx::Error> {
        let jwt = match &config.jwt_secret {
            Some(s) => s.clone(),
            None => shared_secret(&db, "leads_jwt").await?,
        };
        Ok(AppState(Arc::new(State {
            lane: crate::db::lane::Lane::new(db.clone(), 16),
            db,
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
            admin_token: admin_token.into(),
            creds: Arc::new(CredentialCache::default()),
            limiter: Arc::new(RateLimiter::default()),
            jwt_secret: jwt.into_bytes().into(),
            scheduler_lock: Arc::new(tokio::sync::Mutex::new(())),
            tenants: Arc::new(tenants),
            reads: ReadCache::new(),
            faults: Arc::new(FaultCache::default()),
            journal: Default::default(),
            metrics: crate::observability::Metrics::new(crate::observability::sources()),
            worker_id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()).into(),
        })))
    }

    /// Replaces the base clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        Arc::make_mut(&mut self.0).clock = clock;
        self
    }

    /// The tenant's now (its virtual clock over the process clock).
    pub fn now(&self, tenant: &Tenant) -> DateTime<Utc> {
        tenant.clock.now(self.clock.as_ref())
    }
}

/// A secret generated once and shared through the database by every replica.
async fn shared_secret(db: &PgPool, name: &str) -> Result<String, sqlx::Error> {
    let fresh = crate::token::random_token(48);
    sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(&fresh)
        .execute(db)
        .await?;
    sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(db)
        .await
}
