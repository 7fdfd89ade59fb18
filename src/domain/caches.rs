//! Per-process read caches of what every request needs, kept correct through
//! `LISTEN/NOTIFY`, so a hot read costs no database round trip.
//!
//! What is cached ([`ReadCache`]):
//! - **verified credentials**, per SHA-256 digest of `(kind, login key, secret)`: the
//!   credential a secret was verified against (argon2 and the lookup query are skipped);
//! - **tenants** by id and slug, with their **parsed settings** ([`CachedTenant::parsed`]:
//!   each dialect's settings struct is parsed once per tenant version, not per request);
//! - per tenant: its active credentials by id (the Leads JWT check), the first account id
//!   of a credential kind, its **menus** (behind `wait_times`), **queues** with their
//!   agents (behind the Leads queue status), and its **waiting interactions** (the live part of
//!   `wait_times`; an answer for "queued since S" is reused for a later S' while no
//!   waiting interaction older than S' was in it);
//! - **sessions** (ONC), per token digest: the session's row and the expiry last written,
//!   so a touch writes only when the sliding expiry moved by more than
//!   [`SESSION_WRITE_SLACK_SECS`] (see `sessions::touch_cached`).
//!
//! Invalidation: triggers (migration `0790_read_caches.sql`) send `NOTIFY switchboard_cache
//! '<scope>:<tenant id>'` from the very transaction that changes a tenant row or its
//! credentials (`t`), its directory (`d`), its waiting interactions (`w`) or revokes or
//! removes a session (`s`); a TRUNCATE sends `*`. One listener task per process (started
//! by the first lookup) drops the entries of that scope and tenant; `t` drops everything of
//! the tenant. Until the listener is subscribed, and whenever its connection was lost,
//! nothing is stored and every lookup goes to the database; on reconnect everything is
//! dropped (what was said meanwhile is lost). A load that raced an invalidation is not
//! stored (a generation counter), so a replica never keeps an answer older than a change
//! it was told about. Writes made by this process drop the affected entries at once as
//! well (`invalidate`), so a client never races the notification on the replica it wrote to.

use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use sqlx::PgPool;
use uuid::Uuid;

use super::contacts::{self, AddTarget};
use super::credentials::{self, Credential, CredentialCache};
use super::directory::{self, Menus};
use super::interactions;
use super::reports::{self, QueueRoster};
use super::tenants::{self, Tenant};
use super::{DomainResult, TenantId};

/// The channel of the invalidation notifications.
pub const CHANNEL: &str = "switchboard_cache";

/// A session's stored expiry is rewritten only when the sliding expiry moved further than
/// this (so its idle expiry is right to within this many seconds on every replica).
pub const SESSION_WRITE_SLACK_SECS: i64 = 4;

/// Every cache of this process, for [`invalidate_local`].
static LOCAL: std::sync::Mutex<Vec<Weak<ReadCache>>> = std::sync::Mutex::new(Vec::new());

/// Drops the entries of `scope` of `tenant` in every cache of this process at once (domain
/// writes call it after their statement, so this process never waits for the NOTIFY of its
/// own change; other processes still learn it through the NOTIFY).
pub fn invalidate_local(tenant: TenantId, scope: Scope) {
    let all: Vec<Arc<ReadCache>> = LOCAL
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for c in all {
        c.invalidate(Some(tenant), scope);
    }
}

/// Entries kept per map at most (beyond, the map is emptied: a cache, not a store).
const MAX_ENTRIES: usize = 100_000;

/// What a notification invalidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The tenant row and its credentials: everything of the tenant.
    Tenant,
    /// Agents, menus, queues, phone numbers.
    Directory,
    /// Waiting interactions.
    Waiting,
    /// Sessions.
    Sessions,
    /// Campaigns (updated or deleted).
    Campaigns,
    /// A dialect request of the tenant that may have written something: its menus, queues
    /// and waiting interactions (a call or SMS queued in a menu, say). Campaign and phone
    /// number changes say so themselves ([`Scope::Campaigns`], [`Scope::Directory`]).
    Writes,
}

impl Scope {
    fn parse(s: &str) -> Option<Scope> {
        match s {
            "t" => Some(Scope::Tenant),
            "d" => Some(Scope::Directory),
            "w" => Some(Scope::Waiting),
            "s" => Some(Scope::Sessions),
            "c" => Some(Scope::Campaigns),
            _ => None,
        }
    }
}

/// A tenant as cached, with its settings parsed once per type.
pub struct CachedTenant {
    pub tenant: Arc<Tenant>,
    parsed: DashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for CachedTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTenant").field("tenant", &self.tenant).finish()
    }
}

impl CachedTenant {
    fn new(tenant: Tenant) -> Self {
        CachedTenant {
            tenant: Arc::new(tenant),
            parsed: DashMap::new(),
        }
    }

    /// `make(tenant)`, computed once per cached tenant (e.g. a dialect's parsed settings).
    pub fn parsed<T: Any + Send + Sync>(&self, make: impl FnOnce(&Tenant) -> T) -> Arc<T> {
        let key = TypeId::of::<T>();
        if let Some(v) = self.parsed.get(&key) {
            if let Ok(t) = v.value().clone().downcast::<T>() {
                return t;
            }
        }
        let v = Arc::new(make(&self.tenant));
        self.parsed.insert(key, v.clone());
        v
    }
}

/// The live waiting interactions of a tenant queued since `since`.
#[derive(Debug)]
struct Waiting {
    since: DateTime<Utc>,
    /// The answer holds for any later `since` up to this (the oldest time in it).
    until: Option<DateTime<Utc>>,
    rows: Arc<[(Uuid, String, DateTime<Utc>)]>,
}

/// A session as cached (see `sessions::touch_cached`).
#[derive(Debug, Clone)]
pub struct CachedSession {
    pub id: Uuid,
    pub tenant: TenantId,
    pub kind: String,
    pub credential_id: Option<Uuid>,
    /// The sliding expiry on the tenant's clock.
    pub expires: DateTime<Utc>,
    /// The expiry last written to the database.
    pub stored: DateTime<Utc>,
}

/// The SHA-256 of `kind NUL login NUL secret`: a verified credential's key (raw bytes, no
/// text form: it is only a map key).
fn credential_key(kind: &str, login_key: &str, secret: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    h.update([0u8]);
    h.update(login_key.as_bytes());
    h.update([0u8]);
    h.update(secret.as_bytes());
    h.finalize().into()
}

/// Every per-process read cache (see the module doc).
#[derive(Default)]
pub struct ReadCache {
    creds: DashMap<[u8; 32], Arc<Credential>>,
    tenants: DashMap<TenantId, Arc<CachedTenant>>,
    slugs: DashMap<String, TenantId>,
    active: DashMap<(TenantId, Uuid), Arc<Credential>>,
    account_ids: DashMap<(TenantId, &'static str), Option<String>>,
    menus: DashMap<TenantId, Arc<Menus>>,
    queues: DashMap<TenantId, Arc<[QueueRoster]>>,
    waiting: DashMap<TenantId, Waiting>,
    sessions: DashMap<String, CachedSession>,
    /// What an add to a campaign needs, per (tenant, campaign seq): the campaign and the
    /// tenant's phone numbers (`contacts::add_target`).
    targets: DashMap<(TenantId, i64), Arc<AddTarget>>,
    /// Per tenant: bumped by every invalidation of its campaigns or phone numbers.
    targets_generation: DashMap<TenantId, u64>,
    /// Bumped by every invalidation of credentials, tenants or sessions (and by a clear),
    /// so a load that raced one is not stored.
    generation: AtomicU64,
    /// Per tenant: bumped by every invalidation of its directory or waiting interactions
    /// (frequent under writes; loads of other tenants are not disturbed by them).
    tenant_generation: DashMap<TenantId, u64>,
    listening: AtomicBool,
    started: AtomicBool,
}

/// Stores `v` under `k` when `fresh()` (no invalidation since the load began), checked again
/// after the insert so an invalidation that ran in between removes it.
fn put<K: std::hash::Hash + Eq + Clone, V>(map: &DashMap<K, V>, k: K, v: V, fresh: impl Fn() -> bool) {
    if !fresh() {
        return;
    }
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(k.clone(), v);
    if !fresh() {
        map.remove(&k);
    }
}

impl ReadCache {
    /// A cache whose listener task runs on the pool's runtime from the first lookup on.
    pub fn new() -> Arc<Self> {
        let c = Arc::new(ReadCache::default());
        let mut all = LOCAL.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&c));
        c
    }

    /// Whether the listener is subscribed (entries are kept only then).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// The generation to compare with [`Self::storable`] after a load, or None when
    /// nothing may be stored.
    fn begin(self: &Arc<Self>, db: &PgPool) -> Option<u64> {
        self.start(db);
        self.listening
            .load(Ordering::Acquire)
            .then(|| self.generation.load(Ordering::Acquire))
    }

    /// [`Self::begin`] for a load of one tenant's entries whose invalidations bump `gens`
    /// (`tenant_generation`: directory and waiting interactions; `targets_generation`:
    /// add targets).
    fn begin_tenant(self: &Arc<Self>, db: &PgPool, gens: &DashMap<TenantId, u64>, tenant: TenantId) -> Option<(u64, u64)> {
        let g = self.begin(db)?;
        Some((g, gens.get(&tenant).map(|v| *v).unwrap_or(0)))
    }

    fn storable_tenant(&self, gens: &DashMap<TenantId, u64>, tenant: TenantId, generation: Option<(u64, u64)>) -> bool {
        generation.is_some_and(|(g, tg)| self.storable(Some(g)) && gens.get(&tenant).map(|v| *v).unwrap_or(0) == tg)
    }

    /// Bumps the tenant's counter in `gens` (a load that raced the invalidation is not
    /// stored).
    fn bump(&self, gens: &DashMap<TenantId, u64>, tenant: TenantId) {
        if gens.len() >= MAX_ENTRIES {
            // Forgetting the counters would let a racing load through: clear instead.
            self.clear();
        }
        *gens.entry(tenant).or_insert(0) += 1;
    }

    fn storable(&self, generation: Option<u64>) -> bool {
        generation.is_some_and(|g| self.listening.load(Ordering::Acquire) && self.generation.load(Ordering::Acquire) == g)
    }

    fn hit(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    // ------------------------------------------------------------------- credentials

    /// The credential `(kind, login_key)` if `secret` is its secret and it is active
    /// (`credentials::authenticate`, remembered per digest of the three).
    pub async fn authenticate(
        self: &Arc<Self>,
        db: &PgPool,
        verified: &CredentialCache,
        kind: &str,
        login_key: &str,
        secret: &str,
    ) -> DomainResult<Arc<Credential>> {
        let key = credential_key(kind, login_key, secret);
        if self.hit() {
            if let Some(c) = self.creds.get(&key) {
                return Ok(c.clone());
            }
        }
        let g = self.begin(db);
        let cred = Arc::new(credentials::authenticate(db, verified, kind, login_key, secret).await?);
        put(&self.creds, key, cred.clone(), || self.storable(g));
        Ok(cred)
    }

    /// The tenant's active credential `id` of `kind`; NotFound otherwise.
    pub async fn active_credential(self: &Arc<Self>, db: &PgPool, tenant: TenantId, kind: &str, id: Uuid) -> DomainResult<Arc<Credential>> {
        if self.hit() {
            if let Some(c) = self.active.get(&(tenant, id)).filter(|c| c.kind == kind) {
                return Ok(c.clone());
            }
        }
        let g = self.begin(db);
        let cred = Arc::new(credentials::get_active(db, tenant, kind, id).await?);
        put(&self.active, (tenant, id), cred.clone(), || self.storable(g));
        Ok(cred)
    }

    /// `credentials::first_account_id`, cached.
    pub async fn first_account_id(self: &Arc<Self>, db: &PgPool, tenant: TenantId, kind: &'static str) -> DomainResult<Option<String>> {
        if self.hit() {
            if let Some(a) = self.account_ids.get(&(tenant, kind)) {
                return Ok(a.clone());
            }
        }
        let g = self.begin(db);
        let a = credentials::first_account_id(db, tenant, kind).await?;
        put(&self.account_ids, (tenant, kind), a.clone(), || self.storable(g));
        Ok(a)
    }

    // ------------------------------------------------------------------- tenants

    fn keep_tenant(&self, g: Option<u64>, t: Tenant) -> Arc<CachedTenant> {
        let ct = Arc::new(CachedTenant::new(t));
        put(&self.slugs, ct.tenant.slug.clone(), ct.tenant.id, || self.storable(g));
        put(&self.tenants, ct.tenant.id, ct.clone(), || self.storable(g));
        ct
    }

    /// The tenant with `id` (NotFound when there is none).
    pub async fn tenant(self: &Arc<Self>, db: &PgPool, id: TenantId) -> DomainResult<Arc<CachedTenant>> {
        if self.hit() {
            if let Some(t) = self.tenants.get(&id) {
                return Ok(t.clone());
            }
        }
        let g = self.begin(db);
        let t = tenants::by_id(db, id).await?;
        Ok(self.keep_tenant(g, t))
    }

    /// The tenant with `slug` (NotFound when there is none).
    pub async fn tenant_by_slug(self: &Arc<Self>, db: &PgPool, slug: &str) -> DomainResult<Arc<CachedTenant>> {
        if self.hit() {
            let id = self.slugs.get(slug).map(|v| *v);
            if let Some(t) = id.and_then(|id| self.tenants.get(&id).map(|t| t.clone())) {
                if t.tenant.slug == slug {
                    return Ok(t);
                }
            }
        }
        let g = self.begin(db);
        let t = tenants::by_slug(db, slug).await?;
        Ok(self.keep_tenant(g, t))
    }

    // ------------------------------------------------------------------- directory

    /// The tenant's menus in creation order, indexed (`directory::list_menus`).
    pub async fn menus(self: &Arc<Self>, db: &PgPool, tenant: TenantId) -> DomainResult<Arc<Menus>> {
        if self.hit() {
            if let Some(m) = self.menus.get(&tenant) {
                return Ok(m.clone());
            }
        }
        let g = self.begin_tenant(db, &self.tenant_generation, tenant);
        let m = Arc::new(Menus::new(directory::list_menus(db, tenant).await?));
        put(&self.menus, tenant, m.clone(), || {
            self.storable_tenant(&self.tenant_generation, tenant, g)
        });
        Ok(m)
    }

    /// The tenant's queues in creation order with their agents (`reports::queue_rosters`).
    pub async fn queues(self: &Arc<Self>, db: &PgPool, tenant: TenantId) -> DomainResult<Arc<[QueueRoster]>> {
        if self.hit() {
            if let Some(q) = self.queues.get(&tenant) {
                return Ok(q.clone());
            }
        }
        let g = self.begin_tenant(db, &self.tenant_generation, tenant);
        let q: Arc<[QueueRoster]> = reports::queue_rosters(db, tenant).await?.into();
        put(&self.queues, tenant, q.clone(), || {
            self.storable_tenant(&self.tenant_generation, tenant, g)
        });
        Ok(q)
    }

    /// What an add to the tenant's campaign `seq` needs (`contacts::add_target`): the
    /// campaign (not deleted) and the tenant's phone numbers. Dropped when one of the
    /// tenant's campaigns or phone numbers changes.
    pub async fn add_target(self: &Arc<Self>, db: &PgPool, tenant: TenantId, seq: i64) -> DomainResult<Arc<AddTarget>> {
        if self.hit() {
            if let Some(t) = self.targets.get(&(tenant, seq)) {
                return Ok(t.clone());
            }
        }
        let g = self.begin_tenant(db, &self.targets_generation, tenant);
        let (campaign, numbers) = contacts::add_target(db, tenant, seq).await?;
        let t = Arc::new(AddTarget {
            campaign,
            numbers: numbers.into_iter().collect(),
        });
        put(&self.targets, (tenant, seq), t.clone(), || {
            self.storable_tenant(&self.targets_generation, tenant, g)
        });
        Ok(t)
    }

    /// `interactions::oldest_waiting(tenant, since)`: per (menu, kind), the oldest queued
    /// interaction created at or after `since`.
    pub async fn oldest_waiting(
        self: &Arc<Self>,
        db: &PgPool,
        tenant: TenantId,
        since: DateTime<Utc>,
    ) -> DomainResult<Arc<[(Uuid, String, DateTime<Utc>)]>> {
        if self.hit() {
            if let Some(w) = self.waiting.get(&tenant) {
                if w.since <= since && w.until.is_none_or(|u| since <= u) {
                    return Ok(w.rows.clone());
                }
            }
        }
        let g = self.begin_tenant(db, &self.tenant_generation, tenant);
        let rows: Arc<[(Uuid, String, DateTime<Utc>)]> = interactions::oldest_waiting(db, tenant, since).await?.into();
        let until = rows.iter().map(|r| r.2).min();
        let entry = Waiting {
            since,
            until,
            rows: rows.clone(),
        };
        put(&self.waiting, tenant, entry, || {
            self.storable_tenant(&self.tenant_generation, tenant, g)
        });
        Ok(rows)
    }

    // ------------------------------------------------------------------- sessions

    /// The cached session of a token digest.
    pub fn session(&self, digest: &str) -> Option<CachedSession> {
        if !self.hit() {
            return None;
        }
        self.sessions.get(digest).map(|s| s.clone())
    }

    /// The generation before a session load (None: do not store).
    pub fn session_load(self: &Arc<Self>, db: &PgPool) -> Option<u64> {
        self.begin(db)
    }

    /// Remembers a session loaded under `generation`.
    pub fn keep_session(&self, generation: Option<u64>, digest: String, s: CachedSession) {
        put(&self.sessions, digest, s, || self.storable(generation));
    }

    /// Records that `stored` was written as the session's expiry and `expires` is its
    /// sliding expiry.
    pub fn slide_session(&self, digest: &str, expires: DateTime<Utc>, stored: Option<DateTime<Utc>>) {
        if let Some(mut s) = self.sessions.get_mut(digest) {
            s.expires = expires;
            if let Some(st) = stored {
                s.stored = st;
            }
        }
    }

    /// Forgets one session (closed by this process).
    pub fn forget_session(&self, digest: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.sessions.remove(digest);
    }

    // ------------------------------------------------------------------- invalidation

    /// Drops the entries of `scope` of `tenant` (`None`: every entry of every tenant).
    pub fn invalidate(&self, tenant: Option<TenantId>, scope: Scope) {
        let Some(t) = tenant else {
            self.clear();
            return;
        };
        let all = scope == Scope::Tenant;
        if all || scope == Scope::Sessions {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        if all || scope == Scope::Directory || scope == Scope::Campaigns {
            self.bump(&self.targets_generation, t);
            self.targets.retain(|k, _| k.0 != t);
        }
        if scope == Scope::Campaigns {
            return;
        }
        if all || scope == Scope::Directory || scope == Scope::Waiting || scope == Scope::Writes {
            self.bump(&self.tenant_generation, t);
        }
        if all {
            self.creds.retain(|_, c| c.tenant_id != t);
            self.tenants.remove(&t);
            self.slugs.retain(|_, id| *id != t);
            self.active.retain(|k, _| k.0 != t);
            self.account_ids.retain(|k, _| k.0 != t);
        }
        if all || scope == Scope::Directory || scope == Scope::Writes {
            self.menus.remove(&t);
            self.queues.remove(&t);
        }
        if all || scope == Scope::Waiting || scope == Scope::Writes {
            self.waiting.remove(&t);
        }
        if all || scope == Scope::Sessions {
            self.sessions.retain(|_, s| s.tenant != t);
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tenant_generation.clear();
        self.creds.clear();
        self.tenants.clear();
        self.slugs.clear();
        self.active.clear();
        self.account_ids.clear();
        self.menus.clear();
        self.queues.clear();
        self.waiting.clear();
        self.sessions.clear();
        self.targets.clear();
        self.targets_generation.clear();
    }

    /// Applies one notification payload (`<scope>:<tenant id>` or `*`).
    fn apply(&self, payload: &str) {
        let parsed = payload
            .split_once(':')
            .and_then(|(s, t)| Some((Scope::parse(s)?, TenantId(Uuid::try_parse(t).ok()?))));
        match parsed {
            Some((scope, t)) => self.invalidate(Some(t), scope),
            None => self.clear(),
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
        self.clear();
    }
}

impl super::notify::Notified for ReadCache {
    const NAME: &'static str = "read cache";

    fn set_listening(&self, on: bool) {
        ReadCache::set_listening(self, on)
    }

    fn heard(&self, payload: &str) {
        self.apply(payload)
    }

    fn lost(&self) {
        self.clear()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        let c = ReadCache::default();
        let t = TenantId(Uuid::new_v4());
        c.menus.insert(t, Arc::default());
        c.waiting.insert(
            t,
            Waiting {
                since: Utc::now(),
                until: None,
                rows: Arc::from(Vec::new()),
            },
        );
        c.apply(&format!("w:{}", t.0));
        assert!(c.menus.contains_key(&t) && !c.waiting.contains_key(&t));
        c.apply(&format!("d:{}", t.0));
        assert!(!c.menus.contains_key(&t));
        c.menus.insert(t, Arc::default());
        c.apply("*");
        assert!(c.menus.is_empty());
    }
}
